/* alerts.c - see alerts.h.  Alertmanager's API v2: POST /api/v2/alerts
 * with a JSON array of {labels, annotations, startsAt, endsAt,
 * generatorURL}; the labels are an alert's identity. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "alerts.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "links.h"
#include "log.h"
#include "metrics.h"
#include "rules.h"
#include "server.h"
#include "store.h"
#include "store_alerts.h"
#include "timeutil.h"
#include "version.h"

/* Alerts per POST: a few hundred kilobytes of JSON. */
#define ALERTS_PAGE 500
/* Pages per push and status: 100,000 alerts, far over any fleet's
 * findings; the rest wait for the next push (and a warning says so). */
#define ALERTS_MAX_PAGES 200
/* The longest a push waits between two: Alertmanager's alerts stay
 * active for ALERTS_HOLD after each. */
#define ALERTS_PERIOD_MAX 60
/* endsAt of an open finding's alert: 4 resend periods ahead, as
 * Prometheus does (4 x max(evaluation interval, 1 min)). */
#define ALERTS_HOLD (4 * ALERTS_PERIOD_MAX)
/* How long a closed finding is pushed with its end: Prometheus keeps
 * sending resolved alerts for 15 minutes too. */
#define ALERTS_RESOLVED_KEEP (15 * 60)
#define ALERTS_TIMEOUT_S 10L
/* While pushes fail, a warning at most this often. */
#define ALERTS_WARN_EVERY (10 * 60)

struct alerts {
	const struct server_config *cfg;
	struct store *st;
	char url[LINKS_URL_MAX + 32];
	CURL *curl;		/* kept: one connection, reused */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	int cancel;		/* stops a POST in flight */
	int64_t period;
	/* The failure being logged: since when, and its last warning. */
	int64_t failing_since, warned_at;
};

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		       curl_off_t un)
{
	const int *cancel = ud;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return __atomic_load_n(cancel, __ATOMIC_RELAXED);
}

/* Alertmanager answers a few bytes; nothing of it is kept. */
static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	(void)data;
	(void)ud;
	return size * n;
}

/* POSTs body; 0, or a negative errno with why in err. */
static int post(struct alerts *a, const char *body, size_t len,
		char err[CURL_ERROR_SIZE])
{
	struct curl_slist *hdrs;
	long status = 0;
	CURLcode cc;

	if (!a->curl) {
		a->curl = curl_easy_init();
		if (!a->curl) {
			snprintf(err, CURL_ERROR_SIZE, "curl_easy_init failed");
			return -ENOMEM;
		}
	}
	hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (!hdrs) {
		snprintf(err, CURL_ERROR_SIZE, "out of memory");
		return -ENOMEM;
	}
	curl_easy_reset(a->curl);
	curl_easy_setopt(a->curl, CURLOPT_URL, a->url);
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)len);
	curl_easy_setopt(a->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT, ALERTS_TIMEOUT_S);
	curl_easy_setopt(a->curl, CURLOPT_TIMEOUT, ALERTS_TIMEOUT_S);
	curl_easy_setopt(a->curl, CURLOPT_USERAGENT,
			 "derelictd/" DERELICT_VERSION);
	curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(a->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(a->curl, CURLOPT_XFERINFODATA, &a->cancel);
	curl_easy_setopt(a->curl, CURLOPT_NOPROGRESS, 0L);
	cc = curl_easy_perform(a->curl);
	curl_slist_free_all(hdrs);
	if (cc != CURLE_OK) {
		snprintf(err, CURL_ERROR_SIZE, "%s", curl_easy_strerror(cc));
		return cc == CURLE_ABORTED_BY_CALLBACK ? -ECANCELED : -EIO;
	}
	curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		snprintf(err, CURL_ERROR_SIZE, "HTTP status %ld", status);
		return -EPROTO;
	}
	return 0;
}

/* "derelict_" and the rule with '-' as '_': alert names are
 * metric-name-like by Prometheus's convention (Alertmanager itself would
 * take any UTF-8); the rule label keeps the name as the API writes it. */
static void alert_name(const char *rule, char *out, size_t size)
{
	size_t n;

	snprintf(out, size, "derelict_%s", rule);
	for (n = 9; out[n]; n++)
		if (!((out[n] >= 'a' && out[n] <= 'z') ||
		      (out[n] >= 'A' && out[n] <= 'Z') ||
		      (out[n] >= '0' && out[n] <= '9')))
			out[n] = '_';
}

static int set_str(json_t *o, const char *k, const char *v)
{
	json_t *s = json_string(v);

	/* Stored text is valid UTF-8; a value that is not is left out
	 * rather than losing the alert. */
	return s ? json_object_set_new(o, k, s) : 0;
}

static int set_time(json_t *o, const char *k, int64_t t)
{
	char s[TIME_RFC3339_LEN];

	if (time_format(t, s) < 0)
		return -ERANGE;
	return json_object_set_new(o, k, json_string(s));
}

/* The alert for one finding of store_alert_page(). */
static json_t *alert(const struct alerts *a, const json_t *f, int64_t now)
{
	const char *rule = json_string_value(json_object_get(f, "rule"));
	const char *key = json_string_value(json_object_get(f, "key"));
	const char *host = json_string_value(json_object_get(f, "hostname"));
	const char *project = json_string_value(json_object_get(f, "project"));
	const char *summary = json_string_value(json_object_get(f, "summary"));
	const char *sev = rules_severity_name(
		(int)json_integer_value(json_object_get(f, "severity")));
	const char *address = json_string_value(json_object_get(f, "address"));
	int64_t host_id = json_integer_value(json_object_get(f, "host_id"));
	int64_t start = json_integer_value(json_object_get(f, "first_seen"));
	json_t *ended = json_object_get(f, "ended_at");
	json_t *o = json_object(), *labels = json_object(),
	       *notes = json_object();
	char name[96], id[24], link[LINKS_URL_MAX];
	int64_t end = json_is_integer(ended) ? json_integer_value(ended) :
					       now + ALERTS_HOLD;
	int r = 0;

	if (!o || !labels || !notes) {
		json_decref(o);
		json_decref(labels);
		json_decref(notes);
		return NULL;
	}
	json_object_set_new(o, "labels", labels);
	json_object_set_new(o, "annotations", notes);
	alert_name(rule ? rule : "unknown", name, sizeof(name));
	snprintf(id, sizeof(id), "%" PRId64, host_id);
	r |= set_str(labels, "alertname", name);
	r |= set_str(labels, "rule", rule ? rule : "");
	r |= set_str(labels, "severity", sev ? sev : "info");
	r |= set_str(notes, "summary", summary ? summary : "");
	if (address) {
		/* A server no host reports (unenrolled-mail-server): its
		 * address is its identity. */
		r |= set_str(labels, "address", address);
		if (links_public_url(a->cfg, link, sizeof(link)) == 0)
			r |= set_str(o, "generatorURL", link);
		goto times;
	}
	r |= set_str(labels, "host", host && host[0] ? host : id);
	r |= set_str(labels, "host_id", id);
	/* A rule may hold several findings on one host (vulnerable-mta,
	 * one per source package): the key tells them apart. */
	if (key && rule && strcmp(key, rule) != 0)
		r |= set_str(labels, "key", key);
	if (project && project[0])
		r |= set_str(labels, "project", project);
	if (links_host(a->cfg, host_id, link, sizeof(link)) == 0) {
		r |= set_str(notes, "host_url", link);
		r |= set_str(o, "generatorURL", link);
	}
times:
	if (end < start)
		end = start;
	r |= set_time(o, "startsAt", start);
	r |= set_time(o, "endsAt", end);
	if (r == 0)
		return o;
	json_decref(o);
	return NULL;
}

/* What push_status() pages through: the findings of hosts, or the SMTP
 * servers nobody enrolled. */
typedef int page_fn(struct store *st, const char *status, int64_t since,
		    int limit, struct store_alert_cursor *cursor,
		    json_t **ret);

/* Pushes every finding of one status, a page a POST; *ret_sent counts the
 * alerts Alertmanager took.  Stops at the first failure. */
static int push_status(struct alerts *a, page_fn *page_of, const char *status,
		       int64_t now, int *ret_sent, char err[CURL_ERROR_SIZE])
{
	struct store_alert_cursor cur = { 0 };
	int r = 0, pages;

	for (pages = 0; pages < ALERTS_MAX_PAGES; pages++) {
		json_t *page = NULL, *batch, *f;
		size_t i, n;
		char *text;

		if (__atomic_load_n(&a->cancel, __ATOMIC_RELAXED))
			return -ECANCELED;
		r = page_of(a->st, status, now - ALERTS_RESOLVED_KEEP,
			    ALERTS_PAGE, &cur, &page);
		if (r < 0) {
			snprintf(err, CURL_ERROR_SIZE,
				 "reading the findings: %s", store_errmsg());
			return r;
		}
		n = json_array_size(page);
		batch = json_array();
		json_array_foreach(page, i, f) {
			json_t *one = alert(a, f, now);

			if (one)
				json_array_append_new(batch, one);
		}
		json_decref(page);
		text = json_array_size(batch) ?
			       json_dumps(batch, JSON_COMPACT) : NULL;
		if (!batch || (json_array_size(batch) && !text)) {
			json_decref(batch);
			snprintf(err, CURL_ERROR_SIZE, "out of memory");
			return -ENOMEM;
		}
		json_decref(batch);
		r = text ? post(a, text, strlen(text), err) : 0;
		free(text);
		if (r < 0)
			return r;
		*ret_sent += (int)n;
		if (n < ALERTS_PAGE)
			return 0;
	}
	log_warning("alertmanager: more than %d %s findings; the rest wait "
		    "for the next push",
		    ALERTS_PAGE * ALERTS_MAX_PAGES, status);
	return 0;
}

static void push(struct alerts *a)
{
	static const struct {
		page_fn *page_of;
		const char *status;
	} passes[] = {
		{ store_alert_page, "open" },
		{ store_alert_page, "acknowledged" },
		{ store_alert_page, "resolved" },
		{ store_alert_discovered_page, "open" },
		{ store_alert_discovered_page, "resolved" },
	};
	char err[CURL_ERROR_SIZE] = "";
	int64_t now = time_now();
	int sent = 0, r = 0;

	for (size_t i = 0; i < sizeof(passes) / sizeof(passes[0]) && r == 0;
	     i++)
		r = push_status(a, passes[i].page_of, passes[i].status, now,
				&sent, err);
	/* Nothing to say is said too: the counters then tell whether
	 * Alertmanager would hear a finding. */
	if (r == 0 && sent == 0)
		r = post(a, "[]", 2, err);
	if (r == -ECANCELED)
		return;
	metrics_alertmanager_push(r == 0, sent);
	if (r == 0) {
		if (a->failing_since)
			log_notice("alertmanager: pushes to %s work again "
				   "(%d alerts)",
				   a->url, sent);
		a->failing_since = 0;
		return;
	}
	if (!a->failing_since)
		a->failing_since = now;
	if (now - a->warned_at >= ALERTS_WARN_EVERY ||
	    a->warned_at < a->failing_since) {
		log_warning("alertmanager: push to %s failed (%s); trying "
			    "again every %" PRId64 "s",
			    a->url, err, a->period);
		a->warned_at = now;
	}
}

static void *alerts_thread(void *arg)
{
	struct alerts *a = arg;
	struct timespec ts;

	pthread_mutex_lock(&a->lock);
	while (!a->stopping) {
		pthread_mutex_unlock(&a->lock);
		/* One node pushes; its period is at most evaluate_every, so
		 * a follower asks that often. */
		if (store_leader(a->st) == 1)
			push(a);
		pthread_mutex_lock(&a->lock);
		if (a->stopping)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += a->period;
		pthread_cond_timedwait(&a->wake, &a->lock, &ts);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

int alerts_start(const struct server_config *cfg, struct store *st,
		 struct alerts **ret)
{
	const char *base = cfg->alertmanager_url;
	struct alerts *a;
	size_t n;
	int r;

	*ret = NULL;
	if (!base || !base[0])
		return 0;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->cfg = cfg;
	a->st = st;
	/* Pushed with each evaluation, so a finding shows within one. */
	a->period = cfg->evaluate_every < ALERTS_PERIOD_MAX ?
			    cfg->evaluate_every :
			    ALERTS_PERIOD_MAX;
	if (a->period < 1)
		a->period = 1;
	n = strlen(base);
	while (n && base[n - 1] == '/')
		n--;
	if ((size_t)snprintf(a->url, sizeof(a->url), "%.*s/api/v2/alerts",
			     (int)n, base) >= sizeof(a->url)) {
		free(a);
		return -ENAMETOOLONG;
	}
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	r = pthread_create(&a->thread, NULL, alerts_thread, a);
	if (r) {
		pthread_mutex_destroy(&a->lock);
		pthread_cond_destroy(&a->wake);
		free(a);
		return -r;
	}
	pthread_setname_np(a->thread, "derelictd-alert");
	*ret = a;
	return 0;
}

void alerts_stop(struct alerts *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stopping = true;
	__atomic_store_n(&a->cancel, 1, __ATOMIC_RELAXED);
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	if (a->curl)
		curl_easy_cleanup(a->curl);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->wake);
	free(a);
}
