/* metrics.c - see metrics.h.  Plain atomics: no lock on the hot path. */
#include "metrics.h"

#include <stdatomic.h>
#include <string.h>

#include "ratelimit.h"
#include "timeutil.h"

static const double bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				 0.1, 0.25, 0.5, 1, 2.5, 5 };
#define NB (sizeof(bounds) / sizeof(bounds[0]))

static atomic_ulong reports_ok;
static atomic_ulong reports_fast;
static atomic_ulong reports_unparsed;
static atomic_ulong rejected[REJECT_COUNT];
static atomic_ulong latency_bucket[NB];
static atomic_ulong latency_us_sum;
static atomic_ulong batches;
static atomic_ulong batch_us_sum;
static atomic_ulong advisory_fetches, advisory_fetch_errors;
static _Atomic int64_t advisory_newest;
static atomic_ulong am_pushes, am_push_errors, am_alerts;
static _Atomic int64_t am_last_ok;

static atomic_ulong auth_failures[AUTH_KIND_COUNT];
static atomic_ulong auth_refused;
static atomic_ulong cuts[CUT_REASON_COUNT];
static atomic_long connections;
static atomic_long unauth_bytes;

static const char *const auth_names[AUTH_KIND_COUNT] = {
	"token", "enroll_secret",
};

static const char *const cut_names[CUT_REASON_COUNT] = {
	"headers", "body_rate",
};

static const char *const reason_names[REJECT_COUNT] = {
	"auth", "malformed", "too_large", "media_type", "invalid", "resend",
	"unavailable",
};

void metrics_report_ok(double seconds)
{
	atomic_fetch_add(&reports_ok, 1);
	atomic_fetch_add(&latency_us_sum, (unsigned long)(seconds * 1e6));
	for (unsigned i = 0; i < NB; i++)
		if (seconds <= bounds[i])
			atomic_fetch_add(&latency_bucket[i], 1);
}

void metrics_report_fast(void)
{
	atomic_fetch_add(&reports_fast, 1);
}

void metrics_report_unparsed(void)
{
	atomic_fetch_add(&reports_unparsed, 1);
}

void metrics_reject(enum reject_reason why)
{
	if (why < REJECT_COUNT)
		atomic_fetch_add(&rejected[why], 1);
}

void metrics_batch(double ms)
{
	atomic_fetch_add(&batches, 1);
	atomic_fetch_add(&batch_us_sum, (unsigned long)(ms * 1e3));
}

void metrics_auth_failure(enum auth_kind kind)
{
	if (kind < AUTH_KIND_COUNT)
		atomic_fetch_add(&auth_failures[kind], 1);
}

void metrics_auth_refused(void)
{
	atomic_fetch_add(&auth_refused, 1);
}

void metrics_connection_cut(enum cut_reason why)
{
	if (why < CUT_REASON_COUNT)
		atomic_fetch_add(&cuts[why], 1);
}

void metrics_connections(int delta)
{
	atomic_fetch_add(&connections, delta);
}

void metrics_unauth_bytes(long delta)
{
	atomic_fetch_add(&unauth_bytes, delta);
}

/* One family: its "# HELP" and "# TYPE" lines, then a sample per value,
 * name{label="labels[i]"} values[i], or with label NULL the one sample
 * "name values[0]".  The counters stay far below 2^63, so printing them
 * signed changes no figure. */
static int render_family(struct buf *out, const char *name, const char *type,
			 const char *help, const char *label,
			 const char *const labels[], const long long values[],
			 size_t n)
{
	int r = buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
			   name, type);

	if (!label)
		return r | buf_printf(out, "%s %lld\n", name, values[0]);
	for (size_t i = 0; i < n; i++)
		r |= buf_printf(out, "%s{%s=\"%s\"} %lld\n", name, label,
				labels[i], values[i]);
	return r;
}

/* A family of one unlabelled sample. */
static int render_one(struct buf *out, const char *name, const char *type,
		      const char *help, long long value)
{
	return render_family(out, name, type, help, NULL, NULL, &value, 1);
}

static int render_http(struct buf *out)
{
	long long failures[AUTH_KIND_COUNT], minute[AUTH_KIND_COUNT];
	long long cut[CUT_REASON_COUNT];
	int r = 0;

	for (int i = 0; i < AUTH_KIND_COUNT; i++) {
		failures[i] = (long long)atomic_load(&auth_failures[i]);
		minute[i] = ratelimit_global_failures(
			i == AUTH_TOKEN ? RATELIMIT_TOKEN : RATELIMIT_ENROLL);
	}
	for (int i = 0; i < CUT_REASON_COUNT; i++)
		cut[i] = (long long)atomic_load(&cuts[i]);
	r |= render_family(out, "derelict_auth_failures_total", "counter",
			   "Failed logins, by what was presented.", "kind",
			   auth_names, failures, AUTH_KIND_COUNT);
	r |= render_one(out, "derelict_auth_refused_total", "counter",
			"Failed logins answered 429 (rate limited).",
			(long long)atomic_load(&auth_refused));
	r |= render_family(out, "derelict_auth_failures_minute", "gauge",
			   "Failed logins over the whole server in this "
			   "minute.", "kind", auth_names, minute,
			   AUTH_KIND_COUNT);
	r |= render_one(out, "derelict_auth_failures_minute_limit", "gauge",
			"Failed logins of one kind per minute after which "
			"every failing login of that kind is answered 429.",
			RATELIMIT_GLOBAL_FAILURES);
	r |= render_one(out, "derelict_http_connections", "gauge",
			"Connections open now.", atomic_load(&connections));
	r |= render_family(out, "derelict_http_connections_cut_total",
			   "counter",
			   "Connections closed for being too slow, by why.",
			   "reason", cut_names, cut, CUT_REASON_COUNT);
	r |= render_one(out, "derelict_http_unauthenticated_bytes", "gauge",
			"Body bytes held for requests not authenticated yet.",
			atomic_load(&unauth_bytes));
	return r;
}

void metrics_advisory_fetch(int ok)
{
	atomic_fetch_add(ok ? &advisory_fetches : &advisory_fetch_errors, 1);
}

void metrics_advisory_newest(int64_t t)
{
	atomic_store(&advisory_newest, t);
}

static const char *const result_names[] = { "ok", "error" };

static int render_advisories(struct buf *out)
{
	int64_t newest = atomic_load(&advisory_newest);
	long long fetches[] = {
		(long long)atomic_load(&advisory_fetches),
		(long long)atomic_load(&advisory_fetch_errors),
	};
	int r = 0;

	r |= render_family(out, "derelict_advisory_fetches_total", "counter",
			   "Fetches of advisories_url, by result (error: the "
			   "previous data is kept).", "result", result_names,
			   fetches, 2);
	if (newest > 0)
		r |= render_one(out, "derelict_advisories_age_seconds", "gauge",
				"Age of the freshest advisory data in use.",
				(long long)(time_now() - newest));
	return r;
}

void metrics_alertmanager_push(int ok, int alerts)
{
	atomic_fetch_add(ok ? &am_pushes : &am_push_errors, 1);
	if (ok) {
		atomic_fetch_add(&am_alerts, (unsigned long)alerts);
		atomic_store(&am_last_ok, time_now());
	}
}

static const char *const attempt_names[] = { "delivered", "retry", "failed",
					      "disabled" };
static atomic_ulong attempts[4];

void metrics_notify_attempt(const char *outcome)
{
	for (size_t i = 0; i < 4; i++)
		if (strcmp(outcome, attempt_names[i]) == 0)
			atomic_fetch_add(&attempts[i], 1);
}

/* Notifications by outcome: the outbox's delivery attempts (webhooks, mail)
 * and the Alertmanager pushes. */
static int render_notify(struct buf *out)
{
	long long tries[4], pushes[] = {
		(long long)atomic_load(&am_pushes),
		(long long)atomic_load(&am_push_errors),
	};
	int r = 0;

	for (size_t i = 0; i < 4; i++)
		tries[i] = (long long)atomic_load(&attempts[i]);
	r |= render_family(out, "derelict_notify_attempts_total", "counter",
			   "Delivery attempts of the notification outbox, by "
			   "outcome.", "outcome", attempt_names, tries, 4);
	r |= render_family(out, "derelict_alertmanager_pushes_total",
			   "counter",
			   "Pushes of the findings to alertmanager_url, by "
			   "result (error: tried again at the next push).",
			   "result", result_names, pushes, 2);
	r |= render_one(out, "derelict_alertmanager_alerts_total", "counter",
			"Alerts Alertmanager took, over all pushes.",
			(long long)atomic_load(&am_alerts));
	r |= render_one(out,
			"derelict_alertmanager_last_success_timestamp_seconds",
			"gauge", "When a push last worked (0 never).",
			(long long)atomic_load(&am_last_ok));
	return r;
}

int metrics_render(struct buf *out)
{
	unsigned long ok = atomic_load(&reports_ok);
	long long rejects[REJECT_COUNT];
	int r = 0;

	for (int i = 0; i < REJECT_COUNT; i++)
		rejects[i] = (long long)atomic_load(&rejected[i]);
	r |= render_one(out, "derelict_reports_ingested_total", "counter",
			"Reports committed and answered 200.", (long long)ok);
	r |= render_one(out, "derelict_reports_fast_total", "counter",
			"Reports that changed nothing, answered 200 before "
			"their last_seen was written.",
			(long long)atomic_load(&reports_fast));
	r |= render_one(out, "derelict_reports_fast_unparsed_total",
			"counter",
			"Of those, reports taken as the learned one with a "
			"new collected_at, without parsing them.",
			(long long)atomic_load(&reports_unparsed));
	r |= render_family(out, "derelict_reports_rejected_total", "counter",
			   "Reports refused, by reason.", "reason",
			   reason_names, rejects, REJECT_COUNT);
	/* A histogram's and a summary's samples are not one per label. */
	r |= buf_puts(out, "# HELP derelict_ingest_seconds Time from a "
			   "report's arrival to its commit.\n"
			   "# TYPE derelict_ingest_seconds histogram\n");
	for (unsigned i = 0; i < NB; i++)
		r |= buf_printf(out,
				"derelict_ingest_seconds_bucket{le=\"%g\"} %lu\n",
				bounds[i], atomic_load(&latency_bucket[i]));
	r |= buf_printf(out, "derelict_ingest_seconds_bucket{le=\"+Inf\"} %lu\n",
			ok);
	r |= buf_printf(out, "derelict_ingest_seconds_sum %.6f\n",
			atomic_load(&latency_us_sum) / 1e6);
	r |= buf_printf(out, "derelict_ingest_seconds_count %lu\n", ok);
	r |= render_one(out, "derelict_ingest_batches_total", "counter",
			"Write transactions of the ingest writer.",
			(long long)atomic_load(&batches));
	r |= buf_puts(out, "# HELP derelict_ingest_batch_seconds Time the "
			   "ingest writer's transactions took.\n"
			   "# TYPE derelict_ingest_batch_seconds summary\n");
	r |= buf_printf(out, "derelict_ingest_batch_seconds_sum %.6f\n",
			atomic_load(&batch_us_sum) / 1e6);
	r |= buf_printf(out, "derelict_ingest_batch_seconds_count %lu\n",
			atomic_load(&batches));
	r |= render_http(out);
	r |= render_advisories(out);
	r |= render_notify(out);
	return r < 0 ? -1 : 0;
}
