/*
 * send.c - one run: enroll if need be, assemble the report, send it with
 * deltas and retries (a 409 answered with the named sections in full), and
 * only once the server acknowledged it, commit the acknowledged state.
 */
#include "send.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "assemble.h"
#include "client.h"
#include "delta.h"
#include "enroll.h"
#include "jsonutil.h"
#include "state.h"

/* The bits of the sections a 409 names. */
static unsigned resend_mask(const json_t *body)
{
	json_t *names = json_object_get(json_object_get(body, "error"),
					"sections");
	unsigned mask = 0;
	size_t i;
	json_t *v;

	json_array_foreach(names, i, v) {
		int s = section_from_name(json_string_value(v));

		if (s >= 0)
			mask |= 1u << s;
	}
	return mask;
}

enum send_result send_run_once(const char *root,
			       const struct agent_conf *conf,
			       int64_t *ret_next_s, char *why,
			       size_t why_size)
{
	char agent_id[AGENT_ID_LEN], token[TOKEN_MAX];
	char acked[SECTION_COUNT][SHA256_HEX_LEN];
	char sent[SECTION_COUNT][SHA256_HEX_LEN];
	struct http_reply rep = { 0 };
	json_t *report = NULL, *delta = NULL, *pkdelta = NULL, *pk;
	enum send_result res = SEND_LOCAL;
	const char *hn;
	unsigned full = 0;
	int r, carried, enrolled = 0;

	*ret_next_s = 0;
	why[0] = '\0';
	r = state_agent_id(conf->state_dir, 1, agent_id);
	if (r < 0) {
		snprintf(why, why_size, "cannot keep agent id in %s: %s",
			 conf->state_dir, strerror(-r));
		return SEND_LOCAL;
	}
	r = assemble_report(root, agent_id, conf, &report);
	if (r < 0) {
		snprintf(why, why_size, "cannot build report: %s",
			 strerror(-r));
		return SEND_LOCAL;
	}
	hn = json_get_str(json_object_get(report, "host"), "hostname");
	r = state_read_token(conf->state_dir, token);
	if (r == -ENOENT) {
		res = enroll_run(conf, agent_id, hn ? hn : "", token, why,
			     why_size);
		if (res != SEND_OK)
			goto out;
		enrolled = 1;
	} else if (r < 0) {
		snprintf(why, why_size, "cannot read token in %s: %s",
			 conf->state_dir, strerror(-r));
		goto out;
	}
	state_read_hashes(conf->state_dir, acked);
	assemble_hashes(report, sent);
	/* The server keeps its state of a section whose collector failed:
	 * what was acknowledged for it still is, once this report is. */
	for (int s = 0; s < SECTION_COUNT; s++)
		if (assemble_section_failed(report, s))
			memcpy(sent[s], acked[s], SHA256_HEX_LEN);
	pk = json_object_get(json_object_get(report, "sections"),
			     section_names[SECTION_PACKAGES]);
	/* Changed packages go as their added and removed items when the
	 * acknowledged section is at hand and the change is small; any
	 * failure here only means the full section. */
	if (!assemble_section_failed(report, SECTION_PACKAGES))
		(void)delta_packages(conf->state_dir,
					    acked[SECTION_PACKAGES], pk,
					    &pkdelta);
	/* Up to three tries: the deltas; the sections a 409 names in full;
	 * everything in full if the server still disagrees.  An item delta
	 * goes in the first try only: a 409 is never answered with one. */
again:
	for (int attempt = 0; attempt < 3; attempt++) {
		json_decref(delta);
		delta = delta_sections(report, acked, full);
		if (!delta) {
			snprintf(why, why_size, "out of memory");
			res = SEND_LOCAL;
			goto out;
		}
		if (attempt == 0 && pkdelta &&
		    json_object_set(json_object_get(delta, "sections"),
				    section_names[SECTION_PACKAGES],
				    pkdelta) < 0) {
			snprintf(why, why_size, "out of memory");
			res = SEND_LOCAL;
			goto out;
		}
		client_reply_free(&rep);
		r = client_post(conf, "/api/v1/reports", token, delta, &rep);
		if (r < 0 || rep.status == 0) {
			client_reply_reason(&rep, why, why_size, "report");
			res = SEND_NETWORK;
			goto out;
		}
		if (rep.status == 409) {
			unsigned m = resend_mask(rep.body);

			full |= attempt == 0 && m ? m : (1u << SECTION_COUNT) - 1;
			continue;
		}
		break;
	}
	if ((rep.status == 401 || rep.status == 403) &&
	    !state_token_confirmed(conf->state_dir, token)) {
		/* No report was ever taken under this token: the enrollment
		 * that gave it was not kept (a server that answered 201 for
		 * what its full disk lost).  It is dropped, and the agent
		 * enrolls again, once per run. */
		r = state_drop_token(conf->state_dir);
		if (r == 0 && !enrolled) {
			res = enroll_run(conf, agent_id, hn ? hn : "", token, why,
				     why_size);
			if (res != SEND_OK)
				goto out;
			enrolled = 1;
			full = 0;
			goto again;
		}
		snprintf(why, why_size,
			 "token rejected right after enrolling: server "
			 "answered %ld%s",
			 rep.status, r == 0 ? "; enrolling again next run"
					    : "; cannot remove the token");
		res = SEND_REJECTED;
		goto out;
	}
	if (rep.status == 401 || rep.status == 403) {
		snprintf(why, why_size,
			 "token rejected (revoked?): server answered %ld; "
			 "remove %s/token to enroll again",
			 rep.status, conf->state_dir);
		res = SEND_REJECTED;
		goto out;
	}
	if (rep.status < 200 || rep.status > 299) {
		client_reply_reason(&rep, why, why_size, "report");
		res = rep.status >= 500 || rep.status == 409 ? SEND_NETWORK :
			SEND_SERVER;
		goto out;
	}
	/* A 2xx is an acknowledgement only with the answer SPEC 3 gives:
	 * anything else (a proxy's page, a cut body) may not have come from
	 * a server that committed the report, so nothing is taken as
	 * acknowledged and the next run sends the same again. */
	if (!json_is_integer(json_object_get(rep.body, "host_id")) ||
	    json_integer_value(json_object_get(rep.body, "host_id")) <= 0 ||
	    !json_is_integer(json_object_get(rep.body, "next_report_s")) ||
	    json_integer_value(json_object_get(rep.body, "next_report_s")) < 0) {
		snprintf(why, why_size,
			 "report: server answered %ld without host_id and "
			 "next_report_s; not taken as acknowledged",
			 rep.status);
		res = SEND_NETWORK;
		goto out;
	}
	*ret_next_s = json_get_int(rep.body, "next_report_s", 0);
	/* A refusal of this token from now on means it was revoked. */
	if (!state_token_confirmed(conf->state_dir, token) &&
	    (r = state_confirm_token(conf->state_dir, token)) < 0)
		snprintf(why, why_size, "cannot note the token in %s: %s",
			 conf->state_dir, strerror(-r));
	/* Only now is every section of this report the server's. */
	r = state_write_hashes(conf->state_dir, sent);
	if (r < 0) {
		/* The report is in; the next one is merely sent in full. */
		snprintf(why, why_size, "cannot store hashes in %s: %s",
			 conf->state_dir, strerror(-r));
	}
	/* The packages the server now holds, for the next delta, when this
	 * report carried them (in full or as a delta; a bare hash changes
	 * nothing).  Should this fail, the file left behind no longer
	 * matches the hashes and the next change is sent in full. */
	carried = !assemble_section_failed(report, SECTION_PACKAGES) &&
		  json_object_size(json_object_get(
			  json_object_get(delta, "sections"),
			  section_names[SECTION_PACKAGES])) > 1;
	if (carried && (r = state_write_packages(conf->state_dir, pk)) < 0 &&
	    !why[0])
		snprintf(why, why_size, "cannot store packages in %s: %s",
			 conf->state_dir, strerror(-r));
	res = SEND_OK;
out:
	client_reply_free(&rep);
	json_decref(pkdelta);
	json_decref(delta);
	json_decref(report);
	explicit_bzero(token, sizeof(token));
	return res;
}
