/*
 * client.h - the agent's HTTP client: libcurl, loaded on first use, POSTing
 * gzip-compressed JSON to the server.
 */
#ifndef DERELICT_AGENT_CLIENT_H
#define DERELICT_AGENT_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "agent.h"
#include "state.h"

/* The library client_init() loads (Debian's libcurl3-gnutls). */
#define CLIENT_LIBCURL "libcurl-gnutls.so.4"

struct http_reply {
	long status;		/* 0 when no reply came */
	json_t *body;		/* parsed JSON or NULL; owned by the reply */
	char error[256];	/* transport error text when status is 0 */
};

/* Process-wide set-up and tear-down of libcurl.  client_init() loads
 * CLIENT_LIBCURL the first time: 0, -ENOENT when it cannot be loaded,
 * -ELIBBAD when it lacks a function, -EIO when libcurl fails to start.
 * client_post_json() needs it to have succeeded. */
int client_init(void);
void client_cleanup(void);

/* POSTs body (serialised compact) to server + path, gzip-compressed
 * unless plain is set.  token (may be NULL) goes in "Authorization:
 * Bearer"; ca_file (may be NULL or "") verifies https.  Connect timeout
 * 10 s, total 60 s.  0 with *reply filled whatever the status (the caller
 * frees it with client_reply_free), or negative errno when the request
 * could not be made at all (reply->error says why). */
int client_post_json(const char *server, const char *path, const char *token,
		     const char *ca_file, const json_t *body, int plain,
		     struct http_reply *reply);
void client_reply_free(struct http_reply *reply);

/* gzip-compresses in into a malloc'd buffer.  0 or -ENOMEM/-EIO. */
int client_gzip(const void *in, size_t len, unsigned char **ret,
		size_t *ret_len);

/* conf's `server` may list several URLs (separated by spaces or commas,
 * CLIENT_SERVERS_MAX at most): nodes of one derelict in front of one
 * database.  client_servers() splits the list into urls (each at most
 * STATE_URL_MAX - 1 long): their count, or -EINVAL with err filled when
 * the list is empty, too long, or holds something not http(s)://. */
#define CLIENT_SERVERS_MAX 8
int client_servers(const char *list, char urls[][STATE_URL_MAX], int max,
		   char *err, size_t size);

/* client_post_json() to conf's server with conf's CA file, falling back
 * once to an uncompressed body if the server does not take gzip (415).
 * With several servers it starts from the one that last answered (kept in
 * the state directory) and goes on to the next while one gives no answer
 * or answers 502, 503 or 504; the first other answer is the outcome, and
 * that server is remembered.  Answers as client_post_json(), for the last
 * server tried when none answered. */
int client_post(const struct agent_conf *conf, const char *path,
		const char *token, const json_t *body, struct http_reply *rep);

/* One line for why: the server's {"error": {"message"}} (else its code,
 * else the status), or the transport error when no reply came, after
 * what and a colon. */
void client_reply_reason(const struct http_reply *rep, char *why,
			 size_t size, const char *what);

#endif
