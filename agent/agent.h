/*
 * agent.h - the agent's state, HTTP client and report assembly, under the
 * collectors (collect.h) and above common/.
 */
#ifndef DERELICT_AGENT_H
#define DERELICT_AGENT_H

#include <jansson.h>
#include <stdint.h>

#include "hash.h"
#include "report.h"

/* agent.conf [agent]; every key is also a flag (see main.c). */
struct agent_conf {
	char *server;
	char *enroll_secret_file;
	char *state_dir;
	char *project;
	char *owner;
	char *ca_file;
	int64_t interval;
};

/* ---- state.c: files in the state directory ---- */

#define AGENT_ID_LEN 37		/* UUID text and NUL */
#define TOKEN_MAX 512

/* Reads <dir>/agent-id, or makes a new UUID and stores it (creating dir,
 * mode 0700) when create is set.  0, -ENOENT without the file and create,
 * or negative errno. */
int state_agent_id(const char *dir, int create, char out[AGENT_ID_LEN]);

/* Reads <dir>/token into out.  0, -ENOENT, -EINVAL when empty or too long,
 * or negative errno. */
int state_read_token(const char *dir, char out[TOKEN_MAX]);
/* Replaces <dir>/token atomically, mode 0600.  0 or negative errno. */
int state_write_token(const char *dir, const char *token);
/* Whether the server ever accepted a report under token: <dir>/token-ok
 * holds the token's SHA-256 once it did (state_confirm_token()).  A token
 * refused before that was never the server's (an enrollment it did not
 * keep), and the agent enrolls again; one refused after it was revoked. */
int state_token_confirmed(const char *dir, const char *token);
/* Notes that the server accepted a report under token.  0 or negative
 * errno. */
int state_confirm_token(const char *dir, const char *token);
/* Removes <dir>/token and <dir>/token-ok.  0 (also when they were not
 * there) or negative errno. */
int state_drop_token(const char *dir);

/* The acknowledged hash of each section ("" when none), from
 * <dir>/hashes.  A missing or unreadable file means none: 0 always but for
 * bad arguments. */
int state_read_hashes(const char *dir,
		      char out[SECTION_COUNT][SHA256_HEX_LEN]);
/* Replaces <dir>/hashes atomically.  0 or negative errno. */
int state_write_hashes(const char *dir,
		       char hashes[SECTION_COUNT][SHA256_HEX_LEN]);

/* Reads a secret file: its first line, trimmed.  0, or negative errno
 * (-EINVAL when empty). */
int state_read_secret(const char *path, char *out, size_t size);

/* ---- client.c: HTTP with libcurl, loaded on first use ---- */

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

/* ---- report.c: assembling and sending reports ---- */

/* Runs every collector under root and assembles a full report (SPEC 3):
 * every section complete with its hash; a collector's failure becomes
 * {"error", "items": []}.  agent_id may be NULL.  0 and *ret (caller owns)
 * or -ENOMEM. */
int report_build(const char *root, const char *agent_id,
		 const struct agent_conf *conf, json_t **ret);

/* A copy of report where each section whose hash equals acked[s] (and
 * whose bit is not set in full_mask) is only {"hash": ...}.  NULL on
 * ENOMEM. */
json_t *report_delta(const json_t *report,
		     char acked[SECTION_COUNT][SHA256_HEX_LEN],
		     unsigned full_mask);

/* Whether the collector of section s failed in report: the section is
 * {"error": "...", "items": []} with no hash, never acknowledged. */
int report_section_failed(const json_t *report, enum section s);

/* Stores each section's hash of report into out ("" for a failed one). */
void report_hashes(const json_t *report,
		   char out[SECTION_COUNT][SHA256_HEX_LEN]);

/* Outcome of one send, for the caller's message and exit code. */
enum send_result {
	SEND_OK = 0,
	SEND_NETWORK,		/* no answer: retry later */
	SEND_SERVER,		/* an unexpected status */
	SEND_REJECTED,		/* 401/403: the token is not accepted */
	SEND_ENROLL,		/* enrollment refused */
	SEND_LOCAL,		/* state or memory trouble here */
};

/* Enrolls if there is no token, collects, and sends the report with
 * deltas, answering a 409 by resending the named sections in full.  On
 * success stores the acknowledged hashes and sets *ret_next_s to the
 * server's next_report_s (0 if absent).  why receives a one-line reason
 * on failure. */
enum send_result report_run_once(const char *root,
				 const struct agent_conf *conf,
				 int64_t *ret_next_s, char *why,
				 size_t why_size);

#endif
