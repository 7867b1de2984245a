/* mail.c - the owners' digests: composition and SMTP (see mail.h). */
#include "mail.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <nettle/base64.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "html.h"
#include "jsonutil.h"
#include "timeutil.h"

#define SMTP_TIMEOUT 60		/* seconds for a whole delivery */
#define SMTP_CONNECT_TIMEOUT 10

static const char *const sev_names[] = { "info", "low", "medium", "high",
					 "critical" };

int mail_address_ok(const char *s)
{
	const char *at = NULL;
	size_t n = 0;

	if (!s)
		return 0;
	for (const char *p = s; *p; p++, n++) {
		unsigned char ch = (unsigned char)*p;

		if (ch <= 0x20 || ch >= 0x7f || strchr("<>()[]\\,;:\"|", ch))
			return 0;
		if (ch == '@') {
			if (at)
				return 0;
			at = p;
		}
	}
	return n <= ANSWER_RECIPIENT_MAX && at && at != s && at[1];
}

static const char *sev_name(json_int_t s)
{
	return s >= 0 && s < 5 ? sev_names[s] : "?";
}

/* Plain text: an agent's string with its control characters (CR and LF
 * among them) as '?'. */
static int text_put(struct buf *b, const char *s)
{
	int r = 0;

	for (; s && *s && r == 0; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch == 0x7f)
			ch = '?';
		r = buf_append(b, &ch, 1);
	}
	return r;
}

static void fmt_date(int64_t t, char out[TIME_DATE_LEN])
{
	if (t <= 0 || date_format(t, out) < 0)
		snprintf(out, TIME_DATE_LEN, "-");
}

/* Both parts are written by one walk over the hosts; each call appends
 * the same content to text (as text) and to html (escaped). */
struct two {
	struct buf *t, *h;
	int r;
};

static void both_lit(struct two *w, const char *text, const char *html)
{
	if (w->r == 0 && text)
		w->r = buf_puts(w->t, text);
	if (w->r == 0 && html)
		w->r = buf_puts(w->h, html);
}

/* An untrusted string into both parts. */
static void both_str(struct two *w, const char *s)
{
	if (w->r == 0)
		w->r = text_put(w->t, s);
	if (w->r == 0)
		w->r = html_escape(w->h, s);
}

static void both_printf(struct two *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Our own text (no agent strings) into both parts. */
static void both_printf(struct two *w, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	both_str(w, tmp);
}

static int link_for(const struct mail_digest *d, const json_t *host,
		    int64_t finding, enum answer_action act, const char *until,
		    char *url, size_t size)
{
	struct answer a = { 0 };
	char tok[ANSWER_TOKEN_MAX];
	int r;

	a.host_id = json_get_int(host, "id", 0);
	a.finding_id = finding;
	a.action = act;
	snprintf(a.until, sizeof(a.until), "%s", until ? until : "");
	a.expires = d->now + ANSWER_LIFETIME;
	snprintf(a.recipient, sizeof(a.recipient), "%s", d->to);
	if ((r = answer_new_id(&a)) < 0 || (r = answer_sign(d->key, &a, tok)) < 0)
		return r;
	if (snprintf(url, size, "%s/answer?t=%s", d->base_url, tok) >=
	    (int)size)
		return -E2BIG;
	return 0;
}

static void put_link(struct two *w, const char *label, const char *url)
{
	both_lit(w, "  ", "<li><a href=\"");
	if (w->r == 0)
		w->r = html_escape(w->h, url);
	both_lit(w, NULL, "\">");
	both_str(w, label);
	both_lit(w, ": ", "</a></li>\n");
	both_lit(w, url, NULL);
	both_lit(w, "\n", NULL);
}

/* The evidence of the vulnerable-mta finding: the CVEs with their fixed
 * versions and advisories, and the fix. */
static void put_cves(struct two *w, const json_t *det)
{
	const json_t *advs = json_object_get(det, "advisories"), *a;
	const char *fix = json_get_str(det, "fixed_version");
	const char *pkg = json_get_str(det, "upgrade_package");
	size_t i;

	json_array_foreach(advs, i, a) {
		if (i >= 50)
			break;
		both_lit(w, "      ", "<li>");
		both_str(w, json_get_str(a, "cve"));
		if (json_get_str(a, "fixed_version")) {
			both_lit(w, " fixed in ", " fixed in ");
			both_str(w, json_get_str(a, "fixed_version"));
		}
		if (json_get_str(a, "advisory")) {
			both_lit(w, " (", " (");
			both_str(w, json_get_str(a, "advisory"));
			both_lit(w, ")", ")");
		}
		both_lit(w, "\n", "</li>\n");
	}
	if (fix && pkg) {
		both_lit(w, "    Fix: upgrade ", "<li><b>Fix:</b> upgrade ");
		both_str(w, pkg);
		both_lit(w, " to ", " to ");
		both_str(w, fix);
		both_lit(w, " or later\n", " or later</li>\n");
	} else if (json_get_str(det, "remedy")) {
		both_lit(w, "    Fix: ", "<li><b>Fix:</b> ");
		both_str(w, json_get_str(det, "remedy"));
		both_lit(w, "\n", "</li>\n");
	}
}

static void put_ports(struct two *w, const json_t *det)
{
	const json_t *ports = json_object_get(det, "ports"), *p;
	size_t i;
	int any = 0;

	json_array_foreach(ports, i, p) {
		char port[16];

		if (i >= 16)
			break;
		const char *addr = json_get_str(p, "address");
		int v6 = addr && strchr(addr, ':');

		/* The mail ports bound to a public address (rules.c). */
		if (!json_is_true(json_object_get(p, "public")) ||
		    !json_is_true(json_object_get(p, "smtp")))
			continue;
		both_lit(w, any ? ", " : "  Exposed: ",
			 any ? ", " : "<li>Exposed: ");
		any = 1;
		both_lit(w, v6 ? "[" : "", v6 ? "[" : "");
		both_str(w, addr);
		snprintf(port, sizeof(port), "%s:%" PRId64, v6 ? "]" : "",
			 json_get_int(p, "port", 0));
		both_str(w, port);
		if (json_get_str(p, "mta")) {
			both_lit(w, " (", " (");
			both_str(w, json_get_str(p, "mta"));
			both_lit(w, ")", ")");
		}
	}
	if (any)
		both_lit(w, "\n", "</li>\n");
}

static void put_host(struct two *w, const struct mail_digest *d,
		     const json_t *host)
{
	const json_t *fs = json_object_get(host, "findings"), *f;
	const json_t *ports_det = NULL;
	char date[TIME_DATE_LEN], url[ANSWER_TOKEN_MAX + 512];
	char until[TIME_DATE_LEN];
	int64_t first = 0;
	size_t i;

	both_lit(w, "\n== ", "<h3>");
	both_str(w, json_get_str(host, "hostname"));
	if (json_get_str(host, "project")) {
		both_lit(w, " (project ", " <small>(project ");
		both_str(w, json_get_str(host, "project"));
		if (json_get_str(host, "ends_on")) {
			both_lit(w, ", ends ", ", ends ");
			both_str(w, json_get_str(host, "ends_on"));
		}
		both_lit(w, ")", ")</small>");
	}
	both_lit(w, " ==\n", "</h3>\n");
	if (json_get_str(host, "handed_by")) {
		both_lit(w, "  Not theirs, says ", "<p>Not theirs, says ");
		both_str(w, json_get_str(host, "handed_by"));
		both_lit(w, "\n", "</p>\n");
	}
	both_lit(w, NULL, "<ul>\n");
	json_array_foreach(fs, i, f) {
		const json_t *det = json_object_get(f, "details");
		const char *rule = json_get_str(f, "rule");

		if (!first)
			first = json_get_int(f, "id", 0);
		both_lit(w, "  - ", "<li><b>");
		both_printf(w, "%s", sev_name(json_get_int(f, "severity", 0)));
		both_lit(w, " ", "</b> ");
		both_str(w, rule);
		both_lit(w, ": ", ": ");
		both_str(w, json_get_str(f, "summary"));
		both_lit(w, "\n", NULL);
		if (rule && strcmp(rule, "vulnerable-mta") == 0) {
			both_lit(w, NULL, "<ul>\n");
			put_cves(w, det);
			both_lit(w, NULL, "</ul>\n");
		}
		if (json_object_get(det, "ports"))
			ports_det = det;
		both_lit(w, NULL, "</li>\n");
	}
	if (ports_det)
		put_ports(w, ports_det);
	fmt_date(json_get_int(host, "last_login_at", 0), date);
	both_lit(w, "  Last login: ", "<li>Last login: ");
	if (date[0] == '-') {
		both_lit(w, "none recorded", "none recorded");
	} else {
		both_str(w, date);
		if (json_get_str(host, "last_login_user")) {
			both_lit(w, " (", " (");
			both_str(w, json_get_str(host, "last_login_user"));
			both_lit(w, ")", ")");
		}
	}
	fmt_date(json_get_int(host, "packages_changed_at", 0), date);
	both_lit(w, "\n  Last package change: ",
		 "</li>\n<li>Last package change: ");
	both_str(w, date[0] == '-' ? "unknown" : date);
	both_lit(w, "\n", "</li>\n</ul>\n<ul>\n");

	fmt_date(d->now + ANSWER_KEEP_DAYS * 86400LL, until);
	if (w->r == 0)
		w->r = link_for(d, host, first, ANSWER_KEEP, until, url,
				sizeof(url));
	if (w->r == 0) {
		char label[64];

		snprintf(label, sizeof(label), "Still needed: keep until %s",
			 until);
		put_link(w, label, url);
	}
	if (w->r == 0)
		w->r = link_for(d, host, first, ANSWER_RETIRE, NULL, url,
				sizeof(url));
	if (w->r == 0)
		put_link(w, "No longer needed: retire it", url);
	if (w->r == 0)
		w->r = link_for(d, host, first, ANSWER_NOTMINE, NULL, url,
				sizeof(url));
	if (w->r == 0)
		put_link(w, "Not mine", url);
	both_lit(w, NULL, "</ul>\n");
}

/* Appends text as base64 in lines of 76 characters. */
static int put_base64(struct buf *out, const char *data, size_t len)
{
	char line[80];
	int r = 0;

	for (size_t off = 0; off < len && r == 0; off += 57) {
		size_t n = len - off < 57 ? len - off : 57;

		base64_encode_raw(line, n, (const uint8_t *)data + off);
		r = buf_append(out, line, BASE64_ENCODE_RAW_LENGTH(n));
		if (r == 0)
			r = buf_puts(out, "\r\n");
	}
	return r;
}

static size_t count_hosts(const json_t *hosts)
{
	return json_array_size(hosts);
}

int mail_compose(const struct mail_digest *d, struct buf *out)
{
	struct buf t = BUF_INIT(MAIL_MAX_BYTES / 2), h = BUF_INIT(MAIL_MAX_BYTES / 2);
	struct two w = { &t, &h, 0 };
	char date[64], boundary[40], msgid[40], when[TIME_DATE_LEN];
	const char *domain = strchr(d->from, '@');
	size_t n = count_hosts(d->hosts) + (size_t)d->more, i;
	const json_t *host;
	time_t now = (time_t)d->now;
	struct tm tm;
	int r;

	if (!mail_address_ok(d->from) || !mail_address_ok(d->to) ||
	    (d->contact && !mail_address_ok(d->contact)))
		return -EINVAL;
	if (random_hex(boundary, 12) < 0 || random_hex(msgid, 16) < 0)
		return -EIO;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);

	both_lit(&w, NULL,
		 "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
		 "<title>derelict</title></head><body>\n<p>");
	if (d->handoff) {
		both_printf(&w, "%zu host%s %s no project any more: "
			    "whoever it belonged to answered that %s not "
			    "theirs. Please find its owner, or retire it.",
			    n, n == 1 ? "" : "s", n == 1 ? "has" : "have",
			    n == 1 ? "it is" : "they are");
	} else {
		both_printf(&w, "derelict watches the servers of the "
			    "projects you are the contact of. %zu host%s "
			    "of yours need%s an answer: each still runs, "
			    "and each has the problems listed below. If a "
			    "host is still needed, keep it; if not, retire "
			    "it; if it is not yours, say so. Each link "
			    "asks you to confirm.",
			    n, n == 1 ? "" : "s", n == 1 ? "s" : "");
	}
	both_lit(&w, "\n", "</p>\n");
	if (d->waited > 0) {
		both_lit(&w, "\n", "<p><b>");
		both_printf(&w, "Escalated: this digest went to %s, and the "
			    "oldest of its findings has waited %" PRId64
			    " days without an answer.",
			    d->contact, d->waited / 86400);
		both_lit(&w, "\n", "</b></p>\n");
	}
	json_array_foreach(d->hosts, i, host)
		put_host(&w, d, host);
	if (d->more > 0) {
		both_lit(&w, "\n", "<p>");
		both_printf(&w, "... and %" PRId64 " more host%s, on the "
			    "web page: ", d->more, d->more == 1 ? "" : "s");
		both_str(&w, d->base_url);
		both_lit(&w, "/\n", "/</p>\n");
	}
	fmt_date(d->now, when);
	both_lit(&w, "\n-- \nderelict, ", "<p><small>derelict, ");
	both_str(&w, when);
	both_lit(&w, "; the links expire after 30 days and work once.\n",
		 "; the links expire after 30 days and work once.</small>"
		 "</p>\n</body></html>\n");
	if ((r = w.r) < 0)
		goto out;

	buf_reset(out);
	r = buf_printf(out,
		       "Date: %s\r\n"
		       "From: derelict <%s>\r\n"
		       "To: <%s>\r\n"
		       "Message-ID: <%s.%" PRId64 "@%s>\r\n"
		       "Subject: %sderelict: %zu host%s %s\r\n"
		       "MIME-Version: 1.0\r\n"
		       "Auto-Submitted: auto-generated\r\n"
		       "X-Auto-Response-Suppress: All\r\n"
		       "Content-Type: multipart/alternative; "
		       "boundary=\"=_derelict_%s\"\r\n"
		       "\r\n"
		       "This is a multi-part message in MIME format.\r\n"
		       "\r\n--=_derelict_%s\r\n"
		       "Content-Type: text/plain; charset=utf-8\r\n"
		       "Content-Transfer-Encoding: base64\r\n\r\n",
		       date, d->from, d->to, msgid, d->now,
		       domain ? domain + 1 : "localhost",
		       d->waited > 0 ? "[escalated] " : "", n,
		       n == 1 ? "" : "s",
		       d->handoff ? "without an owner: whose?" :
		       n == 1	  ? "needs your answer" :
				    "need your answer",
		       boundary, boundary);
	if (r == 0)
		r = put_base64(out, t.data ? t.data : "", t.len);
	if (r == 0)
		r = buf_printf(out,
			       "\r\n--=_derelict_%s\r\n"
			       "Content-Type: text/html; charset=utf-8\r\n"
			       "Content-Transfer-Encoding: base64\r\n\r\n",
			       boundary);
	if (r == 0)
		r = put_base64(out, h.data ? h.data : "", h.len);
	if (r == 0)
		r = buf_printf(out, "\r\n--=_derelict_%s--\r\n", boundary);
out:
	buf_free(&t);
	buf_free(&h);
	return r;
}

struct upload {
	const char *p;
	size_t left;
};

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *ud)
{
	struct upload *u = ud;
	size_t n = size * nmemb;

	if (n > u->left)
		n = u->left;
	memcpy(dst, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

int mail_send(const char *smtp_url, const char *from, const char *to,
	      const char *msg, size_t len, char err[256])
{
	char cerr[CURL_ERROR_SIZE] = "", addr[ANSWER_RECIPIENT_MAX + 3];
	struct upload u = { msg, len };
	struct curl_slist *rcpt = NULL;
	CURL *h;
	CURLcode rc;

	err[0] = '\0';
	if (!mail_address_ok(from) || !mail_address_ok(to)) {
		snprintf(err, 256, "not a plain address");
		return -EINVAL;
	}
	h = curl_easy_init();
	snprintf(addr, sizeof(addr), "<%s>", to);
	rcpt = curl_slist_append(NULL, addr);
	if (!h || !rcpt) {
		curl_easy_cleanup(h);
		curl_slist_free_all(rcpt);
		snprintf(err, 256, "out of memory");
		return -ENOMEM;
	}
	snprintf(addr, sizeof(addr), "<%s>", from);
	curl_easy_setopt(h, CURLOPT_URL, smtp_url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, addr);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	/* STARTTLS when the server offers it; smtps:// is TLS anyway. */
	curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_READDATA, &u);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)SMTP_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)SMTP_CONNECT_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	rc = curl_easy_perform(h);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK) {
		snprintf(err, 256, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
		return -EIO;
	}
	return 0;
}
