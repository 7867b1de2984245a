/* api_misc.c - summary, OpenAPI, health, metrics, whoami and the web page
 * compiled into the binary. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "embed.h"
#include "hash.h"
#include "jsonutil.h"
#include "metrics.h"
#include "rules.h"
#include "store_alerts.h"
#include "timeutil.h"

extern const struct embedded_file embedded_web[];

HANDLER(api_summary)
{
	json_t *out;
	int r = store_summary(app->store, time_now(), &out);

	(void)rq;
	if (r < 0)
		return reply_store_error(rp, r, "summary");
	return reply_json(rp, 200, out);
}

/* 503 while the store cannot commit: a balancer or a monitor sees the
 * server that takes reports but cannot keep them. */
HANDLER(api_healthz)
{
	static const struct {
		int error;
		const char *code;
	} codes[] = {
		{ -ENOSPC, "disk_full" }, { -EROFS, "read_only" },
		{ -EIO, "storage_error" }, { -EUCLEAN, "database_corrupt" },
	};
	struct store_health h;
	char since[TIME_RFC3339_LEN];
	const char *code = "storage_error";
	int leader;

	(void)rq;
	store_health(app->store, &h);
	leader = store_leader(app->store) == 1;
	if (!h.error)
		return reply_json(rp, 200,
				  json_pack("{s:s,s:s,s:b}", "status", "ok",
					    "engine", store_engine(app->store),
					    "leader", leader));
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].error == h.error)
			code = codes[i].code;
	time_format(h.since, since);
	rp->retry_after = 30;
	return reply_json(rp, 503,
			  json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "status",
				    "failing", "reason", code, "failed", h.what,
				    "message", h.message, "since", since,
				    "engine", store_engine(app->store), "leader",
				    leader));
}

HANDLER(api_whoami)
{
	static const char *const roles[] = { "none", "host", "viewer", "admin" };

	(void)app;
	return reply_json(rp, 200,
			  json_pack("{s:s,s:s}", "name", rq->who.name, "role",
				    roles[rq->who.role]));
}

/* Open findings by rule and severity, every pair (0 too: a series that
 * vanishes cannot be alerted on), and abandoned hosts with mail. */
static void render_findings(const struct app *app, struct buf *b)
{
	long long open[RULES_RULE_COUNT][RULES_SEV_COUNT] = { { 0 } };
	/* The SMTP servers nobody enrolled: no host's rule, a finding all
	 * the same (GET /discovered). */
	long long unenrolled[RULES_SEV_COUNT] = { 0 };
	json_t *m = NULL, *f;
	size_t i;

	if (store_findings_metrics(app->store, &m) < 0)
		return;
	json_array_foreach(json_object_get(m, "open"), i, f) {
		int rule = rules_rule_parse(
			json_string_value(json_object_get(f, "rule")));
		int sev = (int)json_integer_value(json_object_get(f, "severity"));
		long long n = json_integer_value(json_object_get(f, "count"));

		if (sev < 0 || sev >= RULES_SEV_COUNT)
			continue;
		if (rule >= 0)
			open[rule][sev] += n;
		else if (strcmp(json_get_str(f, "rule") ?: "",
				STORE_RULE_UNENROLLED) == 0)
			unenrolled[sev] += n;
	}
	buf_puts(b, "# HELP derelict_findings_open Open findings (neither "
		    "acknowledged nor resolved), by rule and severity.\n"
		    "# TYPE derelict_findings_open gauge\n");
	for (int r = 0; r < RULES_RULE_COUNT; r++)
		for (int s = 0; s < RULES_SEV_COUNT; s++)
			buf_printf(b,
				   "derelict_findings_open{rule=\"%s\","
				   "severity=\"%s\"} %lld\n",
				   rules_rule_name(r), rules_severity_name(s),
				   open[r][s]);
	for (int s = 0; s < RULES_SEV_COUNT; s++)
		buf_printf(b,
			   "derelict_findings_open{rule=\"" STORE_RULE_UNENROLLED
			   "\",severity=\"%s\"} %lld\n",
			   rules_severity_name(s), unenrolled[s]);
	buf_puts(b, "# HELP derelict_hosts_abandoned_mail Abandoned hosts "
		    "running a mail service, by whether other hosts can "
		    "reach it.\n"
		    "# TYPE derelict_hosts_abandoned_mail gauge\n");
	f = json_object_get(m, "abandoned_mail");
	buf_printf(b,
		   "derelict_hosts_abandoned_mail{exposed=\"true\"} %lld\n"
		   "derelict_hosts_abandoned_mail{exposed=\"false\"} %lld\n",
		   (long long)json_integer_value(json_object_get(f, "exposed")),
		   (long long)json_integer_value(json_object_get(f, "local")));
	json_decref(m);
}

HANDLER(api_metrics)
{
	struct buf b = BUF_INIT(1 << 20);
	json_t *hosts = NULL, *v;
	const char *k;

	(void)rq;
	metrics_render(&b);
	buf_printf(&b, "# HELP derelict_leader 1 when this node does the "
		       "periodic work (one of several on one database).\n"
		       "# TYPE derelict_leader gauge\n"
		       "derelict_leader %d\n",
		   store_leader(app->store) == 1);
	if (store_metrics(app->store, &hosts) == 0) {
		buf_puts(&b, "# HELP derelict_hosts Hosts by status.\n"
			     "# TYPE derelict_hosts gauge\n");
		json_object_foreach(hosts, k, v)
			buf_printf(&b, "derelict_hosts{status=\"%s\"} %lld\n", k,
				   (long long)json_integer_value(v));
		json_decref(hosts);
	}
	render_findings(app, &b);
	rp->status = 200;
	rp->content_type = "text/plain; version=0.0.4";
	rp->owned = buf_take(&b, &rp->raw_len);
	return 0;
}

/* ETags of the embedded files, computed once. */
static char etags[64][24];
static pthread_once_t etags_once = PTHREAD_ONCE_INIT;

static void compute_etags(void)
{
	char hex[SHA256_HEX_LEN];

	for (int i = 0; embedded_web[i].name && i < 64; i++) {
		sha256_hex(embedded_web[i].data, embedded_web[i].len, hex);
		snprintf(etags[i], sizeof(etags[i]), "\"%.16s\"", hex);
	}
}

static const char *content_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (!dot)
		return "application/octet-stream";
	if (strcmp(dot, ".html") == 0)
		return "text/html; charset=utf-8";
	if (strcmp(dot, ".js") == 0)
		return "text/javascript; charset=utf-8";
	if (strcmp(dot, ".css") == 0)
		return "text/css; charset=utf-8";
	if (strcmp(dot, ".svg") == 0)
		return "image/svg+xml";
	if (strcmp(dot, ".json") == 0)
		return "application/json";
	return "application/octet-stream";
}

static int serve_file(struct request *rq, struct reply *rp, const char *name)
{
	pthread_once(&etags_once, compute_etags);
	for (int i = 0; embedded_web[i].name && i < 64; i++) {
		const char *inm;

		if (strcmp(embedded_web[i].name, name) != 0)
			continue;
		rp->etag = etags[i];
		rp->content_type = content_type(name);
		inm = rq->if_none_match;
		if (inm && strcmp(inm, etags[i]) == 0) {
			rp->status = 304;
			return 0;
		}
		rp->status = 200;
		rp->raw = embedded_web[i].data;
		rp->raw_len = embedded_web[i].len;
		return 0;
	}
	return reply_error(rp, 404, "not_found", "no such file: %s", name);
}

HANDLER(web_index)
{
	(void)app;
	return serve_file(rq, rp, "index.html");
}

HANDLER(web_static)
{
	(void)app;
	return serve_file(rq, rp, rq->params[0]);
}

HANDLER(api_openapi)
{
	(void)app;
	return serve_file(rq, rp, "openapi.json");
}
