/*
 * enroll.c - the enrollment that comes before the first report: the
 * secret for a token, which is kept in the state directory.
 */
#include "enroll.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "jsonutil.h"
#include "state.h"

enum send_result enroll_run(const struct agent_conf *conf,
			    const char *agent_id, const char *hostname,
			    char token[TOKEN_MAX], char *why, size_t why_size)
{
	char secret[1024];
	struct http_reply rep;
	json_t *body;
	const char *t;
	int r;

	r = state_read_secret(conf->enroll_secret_file, secret,
			      sizeof(secret));
	if (r < 0) {
		snprintf(why, why_size, "cannot read enroll secret %s: %s",
			 conf->enroll_secret_file,
			 r == -EINVAL ? "empty" : strerror(-r));
		return SEND_LOCAL;
	}
	body = json_object();
	if (!body || json_set_str(body, "enroll_secret", secret) < 0 ||
	    json_set_str(body, "agent_id", agent_id) < 0 ||
	    json_set_str(body, "hostname", hostname) < 0) {
		json_decref(body);
		snprintf(why, why_size, "out of memory");
		return SEND_LOCAL;
	}
	r = client_post(conf, "/api/v1/enroll", NULL, body, &rep);
	explicit_bzero(secret, sizeof(secret));
	json_decref(body);
	if (r < 0 || rep.status == 0) {
		client_reply_reason(&rep, why, why_size, "enroll");
		client_reply_free(&rep);
		return SEND_NETWORK;
	}
	t = json_get_str(rep.body, "token");
	if ((rep.status != 200 && rep.status != 201) || !t) {
		client_reply_reason(&rep, why, why_size, "enroll refused");
		client_reply_free(&rep);
		return rep.status >= 500 ? SEND_NETWORK : SEND_ENROLL;
	}
	if (strlen(t) >= TOKEN_MAX) {
		snprintf(why, why_size, "enroll: token too long");
		client_reply_free(&rep);
		return SEND_SERVER;
	}
	snprintf(token, TOKEN_MAX, "%s", t);
	client_reply_free(&rep);
	r = state_write_token(conf->state_dir, token);
	if (r < 0) {
		snprintf(why, why_size, "cannot store token in %s: %s",
			 conf->state_dir, strerror(-r));
		return SEND_LOCAL;
	}
	return SEND_OK;
}
