/*
 * api_answers.c - the page the owners' mail links open (GET /answer?t=…)
 * and its button (POST /answer?t=…).  No login: the signed token is the
 * authority (answer.h).  A GET only shows what the link would do, since
 * mail gateways fetch links to scan them; the POST, from the page's plain
 * form, does it.  The page is rendered here with every string escaped and
 * no script, under the server's usual CSP.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "answer.h"
#include "html.h"
#include "jsonutil.h"
#include "store_mail.h"
#include "timeutil.h"

#define PAGE_MAX (64u << 10)

static int page_reply(struct reply *rp, int status, struct buf *b)
{
	if (buf_puts(b, "</body></html>\n") < 0) {
		buf_free(b);
		return reply_error(rp, 500, "internal", "page too large");
	}
	rp->status = status;
	rp->owned = buf_take(b, &rp->raw_len);
	rp->content_type = "text/html; charset=utf-8";
	return 0;
}

static void page_start(struct buf *b, const char *title)
{
	buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
		    "charset=\"utf-8\"><meta name=\"viewport\" "
		    "content=\"width=device-width\"><meta name=\"referrer\" "
		    "content=\"no-referrer\"><title>derelict: ");
	html_escape(b, title);
	buf_puts(b, "</title></head><body>\n<h1>");
	html_escape(b, title);
	buf_puts(b, "</h1>\n");
}

static int page_message(struct reply *rp, int status, const char *title,
			const char *text)
{
	struct buf b = BUF_INIT(PAGE_MAX);

	page_start(&b, title);
	buf_puts(&b, "<p>");
	html_escape(&b, text);
	buf_puts(&b, "</p>\n");
	return page_reply(rp, status, &b);
}

/* The token of the request, checked.  0 with *a filled, or the reply
 * page filled and a negative errno. */
static int token(struct app *app, struct request *rq, struct reply *rp,
		 struct answer *a)
{
	const char *t = request_arg(rq, "t");
	int r;

	if (!app->answer_key) {
		page_message(rp, 404, "Mail answers are off",
			     "This derelictd sends no mail, so it takes no "
			     "answers from mail links.");
		return -ENOENT;
	}
	if (!t || strlen(t) >= ANSWER_TOKEN_MAX) {
		page_message(rp, 400, "Not a valid link",
			     "This link is incomplete or damaged. Open the "
			     "one in the mail again, whole.");
		return -EINVAL;
	}
	r = answer_verify(app->answer_key, t, time_now(), a);
	if (r == -ETIME) {
		page_message(rp, 410, "This link has expired",
			     "Links in derelict's mails work for 30 days. "
			     "The next digest carries fresh ones.");
		return r;
	}
	if (r < 0) {
		page_message(rp, 403, "Not a valid link",
			     "This link was not made by this derelictd, or it "
			     "was changed. Open the one in the mail again, "
			     "whole.");
		return r;
	}
	return 0;
}

static const char *describe(const struct answer *a, char *out, size_t size)
{
	switch (a->action) {
	case ANSWER_KEEP:
		snprintf(out, size, "Keep it: it is still needed. Its findings "
			 "are acknowledged until %s (and an ended project's "
			 "end moves there, when you are its contact).",
			 a->until);
		break;
	case ANSWER_RETIRE:
		snprintf(out, size, "Retire it: it is no longer needed. It is "
			 "marked retired, and derelict tracks it until it "
			 "goes silent for good.");
		break;
	default:
		snprintf(out, size, "Not mine: it does not belong to your "
			 "project. It leaves the project and goes to the "
			 "security team.");
	}
	return out;
}

static const char *button(enum answer_action a)
{
	return a == ANSWER_KEEP ? "Keep it" :
	       a == ANSWER_RETIRE ? "Retire it" : "It is not mine";
}

HANDLER(api_answer_get)
{
	struct answer a;
	struct buf b = BUF_INIT(PAGE_MAX);
	json_t *info = NULL;
	char what[400];
	int r;

	if (token(app, rq, rp, &a) < 0)
		return 0;
	r = store_mail_link_info(app->store, &a, &info);
	if (r == -ENOENT)
		return page_message(rp, 404, "No such host",
				    "The host this link names is no longer "
				    "in derelict's inventory.");
	if (r < 0)
		return page_message(rp, 503, "Try again later",
				    "derelict cannot read its database right "
				    "now.");
	if (json_is_true(json_object_get(info, "used"))) {
		json_decref(info);
		return page_message(rp, 409, "This link was used",
				    "Each link works once, and this one has "
				    "been answered already.");
	}
	page_start(&b, "Confirm your answer");
	buf_puts(&b, "<p>Host <strong>");
	html_escape(&b, json_get_str(info, "hostname"));
	buf_puts(&b, "</strong>");
	if (json_get_str(info, "project")) {
		buf_puts(&b, " of project <strong>");
		html_escape(&b, json_get_str(info, "project"));
		buf_puts(&b, "</strong>");
	}
	buf_puts(&b, "</p>\n");
	if (json_get_str(info, "summary")) {
		buf_puts(&b, "<p>");
		html_escape(&b, json_get_str(info, "summary"));
		buf_puts(&b, "</p>\n");
	}
	buf_puts(&b, "<p>Your answer, as ");
	html_escape(&b, a.recipient);
	buf_puts(&b, ": ");
	html_escape(&b, describe(&a, what, sizeof(what)));
	buf_puts(&b, "</p>\n<p>Nothing changes until you press the "
		    "button.</p>\n<form method=\"post\" "
		    "action=\"/answer?t=");
	html_escape(&b, request_arg(rq, "t"));
	buf_puts(&b, "\"><button type=\"submit\">");
	html_escape(&b, button(a.action));
	buf_puts(&b, "</button></form>\n");
	json_decref(info);
	return page_reply(rp, 200, &b);
}

HANDLER(api_answer_post)
{
	struct answer a;
	char what[400];
	int r;

	if (token(app, rq, rp, &a) < 0)
		return 0;
	r = store_mail_answer(app->store, &a, time_now());
	if (r == -EALREADY)
		return page_message(rp, 409, "This link was used",
				    "Each link works once, and this one has "
				    "been answered already.");
	if (r == -ENOENT)
		return page_message(rp, 404, "No such host",
				    "The host this link names is no longer "
				    "in derelict's inventory.");
	if (r < 0)
		return page_message(rp, 503, "Try again later",
				    "derelict could not record the answer; "
				    "nothing changed. Press the button again "
				    "in a moment.");
	return page_message(rp, 200, "Thank you: answer recorded",
			    describe(&a, what, sizeof(what)));
}
