/* probe.c - see probe.h: the schedule, the walk over [probe] networks
 * and the rate every connection keeps. */
#define _GNU_SOURCE /* pthread_setname_np, pipe2 */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsonutil.h"
#include "log.h"
#include "store.h"
#include "store_probe.h"
#include "timeutil.h"

/* Connections a round holds open at once, at most: rate x timeout keeps
 * the rate busy; more would only wait for it. */
#define PROBE_WORKERS_MAX 32
/* Implicit TLS: no greeting is read in the clear, so only the connection
 * is tested. */
#define PROBE_TLS_PORT 465

/* Zeroes the bits of a past the first prefix. */
static void mask_to(struct probe_addr *a, int prefix)
{
	for (int i = 0; i < 16; i++) {
		int keep = prefix - 8 * i;

		if (keep <= 0)
			a->b[i] = 0;
		else if (keep < 8)
			a->b[i] &= (uint8_t)(0xff << (8 - keep));
	}
}

int probe_cidr_parse(const char *s, struct server_probe_net *ret)
{
	char ip[PROBE_ADDR_TEXT_MAX];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	struct probe_addr a;
	bool v4;
	long prefix, max;

	if (n == 0 || n >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (probe_addr_parse(ip, &a) < 0)
		return -EINVAL;
	/* The prefix counts in the family the range is written in:
	 * "::ffff:10.0.0.0/120" is the IPv4 "10.0.0.0/24". */
	v4 = !strchr(ip, ':');
	max = prefix = v4 ? 32 : 128;
	if (slash) {
		char *end;

		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		prefix = strtol(slash + 1, &end, 10);
		if (errno || *end || prefix < 0 || prefix > max)
			return -EINVAL;
	}
	if (v4)
		prefix += 96;
	mask_to(&a, (int)prefix);
	ret->base = a;
	ret->prefix = (int)prefix;
	return 0;
}

uint64_t probe_cidr_size(const struct server_probe_net *n)
{
	int bits = 128 - n->prefix;

	return bits >= 64 ? UINT64_MAX : 1ull << bits;
}

bool probe_cidr_is_ipv4(const struct server_probe_net *n)
{
	return n->prefix >= 96 && probe_addr_is_ipv4(&n->base);
}

bool probe_cidr_contains(const struct server_probe_net *n,
			 const struct probe_addr *addr)
{
	struct probe_addr a = *addr;

	mask_to(&a, n->prefix);
	return probe_addr_cmp(&a, &n->base) == 0;
}

bool probe_allowed(const struct server_probe *cfg,
		   const struct probe_addr *addr)
{
	for (int i = 0; i < cfg->n_nets; i++)
		if (probe_cidr_contains(&cfg->nets[i], addr))
			return true;
	return false;
}

uint64_t probe_walk_end(const struct server_probe *cfg)
{
	uint64_t total = 0;

	for (int i = 0; i < cfg->n_nets; i++) {
		uint64_t size = probe_cidr_size(&cfg->nets[i]);

		total = size > UINT64_MAX - total ? UINT64_MAX : total + size;
	}
	return total;
}

/* a + i, carried across the bytes: i is below the range's size, so the
 * sum stays inside it. */
static void addr_add(struct probe_addr *a, uint64_t i)
{
	unsigned carry = 0;

	for (int k = 15; k >= 0 && (i || carry); k--) {
		unsigned sum = a->b[k] + (unsigned)(i & 0xff) + carry;

		a->b[k] = (uint8_t)sum;
		carry = sum >> 8;
		i >>= 8;
	}
}

/* Whether the walk leaves out index i of a range of size addresses. */
static bool walk_skips(const struct server_probe_net *n, uint64_t i,
		       uint64_t size)
{
	if (n->prefix > 126)
		return false;
	if (probe_cidr_is_ipv4(n))
		return i == 0 || i == size - 1;
	return i == 0;
}

int probe_walk_nth(const struct server_probe *cfg, uint64_t i,
		   struct probe_addr *ret)
{
	for (int k = 0; k < cfg->n_nets; k++) {
		const struct server_probe_net *n = &cfg->nets[k];
		uint64_t size = probe_cidr_size(n);
		struct probe_addr a = n->base;

		if (i >= size) {
			i -= size;
			continue;
		}
		if (walk_skips(n, i, size))
			return -ENOENT;
		addr_add(&a, i);
		for (int j = 0; j < k; j++)
			if (probe_cidr_contains(&cfg->nets[j], &a))
				return -ENOENT;
		*ret = a;
		return 0;
	}
	return -ENOENT;
}

/* A set of addresses, sorted for bsearch. */
struct addr_set {
	struct probe_addr *v;
	size_t n;
};

static int cmp_addr(const void *a, const void *b)
{
	return probe_addr_cmp(a, b);
}

static bool set_has(const struct addr_set *s, const struct probe_addr *a)
{
	return s->n && bsearch(a, s->v, s->n, sizeof(*a), cmp_addr);
}

/* From a JSON array of address strings, plus the targets' addresses. */
static int set_from(struct addr_set *s, const json_t *list,
		    const struct store_probe_target *extra, size_t n_extra)
{
	size_t i, n = json_array_size(list);
	json_t *v;

	s->n = 0;
	s->v = malloc((n + n_extra + 1) * sizeof(*s->v));
	if (!s->v)
		return -ENOMEM;
	json_array_foreach(list, i, v)
		if (probe_addr_parse(json_string_value(v), &s->v[s->n]) == 0)
			s->n++;
	for (i = 0; i < n_extra; i++)
		s->v[s->n++] = extra[i].addr;
	qsort(s->v, s->n, sizeof(*s->v), cmp_addr);
	return 0;
}

struct probe {
	const struct server_config *cfg;
	struct store *st;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;	/* CLOCK_MONOTONIC */
	/* The workers write one at a time: each write holds one of the
	 * store's few connections, which the API needs too. */
	pthread_mutex_t write_lock;
	bool stopping, again;
	int cancel[2];		/* written once at stop: every poll wakes */
	char helo[256];
	int64_t next_slot;	/* ns: the next connection may start then */

	/* The round's work, handed out under lock. */
	struct store_probe_target *targets;	/* sorted by address */
	size_t n_targets, next_target;
	uint64_t next_walk, walk_end;
	struct addr_set enrolled;	/* host addresses: not walked */
	struct addr_set open;		/* open discovered rows */
	/* What the round found, for its log line. */
	unsigned n_reachable, n_answered, n_connections, n_errors;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Waits with the lock held until ns (CLOCK_MONOTONIC) or a wake-up,
 * whichever comes first; callers loop on their condition. */
static void wait_until(struct probe *p, int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000,
			       .tv_nsec = ns % 1000000000 };

	pthread_cond_timedwait(&p->wake, &p->lock, &ts);
}

/* Sleeps until ns or stop; with the lock held.  true once stopping. */
static bool sleep_until(struct probe *p, int64_t ns)
{
	while (!p->stopping && mono_ns() < ns)
		wait_until(p, ns);
	return p->stopping;
}

/* Waits for the next connection's turn: starts are 1/rate seconds apart
 * across every worker.  0, or -ECANCELED once stopping. */
static int rate_wait(struct probe *p)
{
	int64_t slot;
	bool stop;

	pthread_mutex_lock(&p->lock);
	slot = mono_ns();
	if (slot < p->next_slot)
		slot = p->next_slot;
	p->next_slot = slot + 1000000000 / p->cfg->probe.rate;
	stop = sleep_until(p, slot);
	if (!stop)
		p->n_connections++;
	pthread_mutex_unlock(&p->lock);
	return stop ? -ECANCELED : 0;
}

/* One connection to addr:port, when addr is inside networks. */
static int talk(struct probe *p, const struct probe_addr *addr, int port,
		struct probe_smtp_result *res)
{
	const struct server_probe *pc = &p->cfg->probe;
	struct probe_smtp_opts o = {
		.timeout_ms = pc->timeout * 1000,
		.helo_name = p->helo,
		.relay_domain = pc->relay_test ? pc->relay_domain : NULL,
		.banner_only = port == PROBE_TLS_PORT,
		.cancel_fd = p->cancel[0],
	};
	struct sockaddr_storage ss;
	socklen_t len = probe_addr_sockaddr(addr, port, &ss);
	int r;

	if (!probe_allowed(pc, addr))
		return -EPERM;
	if ((r = rate_wait(p)) < 0)
		return r;
	return probe_smtp_run((struct sockaddr *)&ss, len, &o, res);
}

static void count(struct probe *p, unsigned *counter, int r)
{
	pthread_mutex_lock(&p->lock);
	if (r < 0 && r != -ECANCELED)
		p->n_errors++;
	else if (counter)
		(*counter)++;
	pthread_mutex_unlock(&p->lock);
}

/* The enrolled ports at one address, one after the other. */
static int probe_targets_at(struct probe *p, size_t first, size_t end)
{
	for (size_t i = first; i < end; i++) {
		const struct store_probe_target *t = &p->targets[i];
		struct probe_smtp_result res;
		int r = talk(p, &t->addr, t->port, &res);

		if (r == -ECANCELED)
			return r;
		if (r == 0) {
			pthread_mutex_lock(&p->write_lock);
			r = store_probe_record(p->st, t, &res, time_now());
			pthread_mutex_unlock(&p->write_lock);
		}
		count(p, r == 0 && res.reachable ? &p->n_reachable : NULL, r);
	}
	return 0;
}

/* Every SMTP port of an address no host reports. */
static int probe_walk_at(struct probe *p, const struct probe_addr *a)
{
	const struct conf_ports *ports = &p->cfg->smtp_ports;
	char ip[PROBE_ADDR_TEXT_MAX];
	json_t *seen = json_array();
	char banner[PROBE_SMTP_BANNER_MAX] = "";
	int relay = -1, r = 0, answered = 0;

	if (!seen)
		return -ENOMEM;
	probe_addr_format(a, ip);
	for (int i = 0; i < ports->n && i < CONF_MAX_PORTS; i++) {
		struct probe_smtp_result res;
		json_t *o;

		r = talk(p, a, ports->port[i], &res);
		if (r < 0)
			break;
		if (!res.reachable)
			continue;
		o = json_pack("{s:i,s:b}", "port", ports->port[i], "smtp",
			      res.smtp);
		if (!o) {
			r = -ENOMEM;
			break;
		}
		if (res.smtp) {
			json_set_str(o, "banner", res.banner);
			json_set_str(o, "capabilities",
				     res.ehlo ? res.capabilities : NULL);
			json_object_set_new(o, "starttls",
					    json_boolean(res.starttls));
			json_set_str(o, "auth", res.auth[0] ? res.auth : NULL);
			if (res.relay >= 0)
				json_object_set_new(o, "open_relay",
						    json_boolean(res.relay));
			if (!answered++)
				snprintf(banner, sizeof(banner), "%s",
					 res.banner);
			if (res.relay > relay)
				relay = res.relay;
		}
		json_array_append_new(seen, o);
	}
	pthread_mutex_lock(&p->write_lock);
	if (r == 0 && answered)
		r = store_probe_discovered_seen(p->st, ip, seen, banner, relay,
						time_now());
	else if (r == 0 && set_has(&p->open, a))
		r = store_probe_discovered_gone(p->st, ip, "stopped answering",
						time_now());
	pthread_mutex_unlock(&p->write_lock);
	json_decref(seen);
	if (r != -ECANCELED)
		count(p, answered ? &p->n_answered : NULL, r);
	return r == -ECANCELED ? r : 0;
}

/* Takes the next piece of work: the enrolled ports of one address
 * [*first, *end), else one address of the walk.  false when none is
 * left. */
static bool next_work(struct probe *p, size_t *first, size_t *end,
		      struct probe_addr *addr, bool *walk)
{
	bool got = false;

	pthread_mutex_lock(&p->lock);
	if (!p->stopping && p->next_target < p->n_targets) {
		size_t i = p->next_target, j = i + 1;

		while (j < p->n_targets &&
		       strcmp(p->targets[j].address, p->targets[i].address) ==
			       0)
			j++;
		*first = i;
		*end = j;
		p->next_target = j;
		*walk = false;
		got = true;
	}
	while (!got && !p->stopping && p->next_walk < p->walk_end) {
		if (probe_walk_nth(&p->cfg->probe, p->next_walk++, addr) == 0) {
			*walk = true;
			got = true;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return got;
}

/* An address of the walk that a host reports: not probed as a stranger,
 * and its discovered row, if any, resolves. */
static int walk_enrolled(struct probe *p, const struct probe_addr *a)
{
	char ip[PROBE_ADDR_TEXT_MAX];
	int r;

	if (!set_has(&p->open, a))
		return 0;
	probe_addr_format(a, ip);
	pthread_mutex_lock(&p->write_lock);
	r = store_probe_discovered_gone(p->st, ip, "enrolled", time_now());
	pthread_mutex_unlock(&p->write_lock);
	count(p, NULL, r);
	return r;
}

static void *worker(void *arg)
{
	struct probe *p = arg;
	struct probe_addr a;
	size_t first, end;
	bool walk;

	while (next_work(p, &first, &end, &a, &walk)) {
		int r;

		if (!walk)
			r = probe_targets_at(p, first, end);
		else if (set_has(&p->enrolled, &a))
			r = walk_enrolled(p, &a);
		else
			r = probe_walk_at(p, &a);
		if (r == -ECANCELED)
			break;
	}
	return NULL;
}

static int cmp_target(const void *a, const void *b)
{
	const struct store_probe_target *x = a, *y = b;
	int c = strcmp(x->address, y->address);

	return c ? c : x->port - y->port;
}

/* The round's targets: only those inside networks are kept. */
static int load_round(struct probe *p)
{
	struct store_probe_target *t = NULL;
	json_t *hosts = NULL, *open = NULL;
	size_t n = 0, kept = 0;
	int r;

	if ((r = store_probe_targets(p->st, &t, &n)) < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (probe_allowed(&p->cfg->probe, &t[i].addr))
			t[kept++] = t[i];
	if (kept)
		qsort(t, kept, sizeof(*t), cmp_target);
	p->targets = t;
	p->n_targets = kept;
	p->next_target = 0;
	p->next_walk = 0;
	p->walk_end = probe_walk_end(&p->cfg->probe);
	r = store_probe_host_addresses(p->st, &hosts);
	if (r == 0)
		r = set_from(&p->enrolled, hosts, t, kept);
	if (r == 0)
		r = store_probe_discovered_open(p->st, &open);
	if (r == 0)
		r = set_from(&p->open, open, NULL, 0);
	json_decref(hosts);
	json_decref(open);
	return r;
}

static void end_round(struct probe *p)
{
	free(p->targets);
	p->targets = NULL;
	p->n_targets = 0;
	free(p->enrolled.v);
	p->enrolled = (struct addr_set){ 0 };
	free(p->open.v);
	p->open = (struct addr_set){ 0 };
}

static int run_round(struct probe *p)
{
	pthread_t workers[PROBE_WORKERS_MAX];
	int64_t started = time_now();
	int64_t want = p->cfg->probe.rate * p->cfg->probe.timeout;
	int n = 0, r;

	p->n_reachable = p->n_answered = p->n_connections = p->n_errors = 0;
	if ((r = load_round(p)) < 0) {
		end_round(p);
		return log_warning_errno(r, "probe: cannot read the targets: "
					    "%s", store_errmsg());
	}
	if (want > PROBE_WORKERS_MAX)
		want = PROBE_WORKERS_MAX;
	for (; n < want; n++)
		if (pthread_create(&workers[n], NULL, worker, p) != 0)
			break;
	if (n == 0)
		worker(p);
	for (int i = 0; i < n; i++)
		pthread_join(workers[i], NULL);
	if (!p->stopping &&
	    (r = store_probe_prune(p->st, started, time_now())) < 0)
		log_warning_errno(r, "probe: cannot drop old results: %s",
				  store_errmsg());
	log_notice("probe: round done in %llds: %zu enrolled ports (%u "
		 "reachable), %u unenrolled SMTP servers, %u connections, %u "
		 "errors",
		 (long long)(time_now() - started), p->n_targets,
		 p->n_reachable, p->n_answered, p->n_connections, p->n_errors);
	if (p->n_errors)
		log_warning("probe: %u results could not be kept: %s",
			    p->n_errors, store_errmsg());
	end_round(p);
	return 0;
}

static void *run(void *arg)
{
	struct probe *p = arg;

	pthread_setname_np(pthread_self(), "probe");
	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		int64_t next = mono_ns() + p->cfg->probe.every * 1000000000;

		p->again = false;
		pthread_mutex_unlock(&p->lock);
		/* One node probes; a follower asks again within evaluate_every
		 * rather than a whole probe period. */
		if (store_leader(p->st) == 1) {
			run_round(p);
		} else if (p->cfg->evaluate_every < p->cfg->probe.every) {
			next = mono_ns() + p->cfg->evaluate_every * 1000000000;
		}
		pthread_mutex_lock(&p->lock);
		while (!p->stopping && !p->again && mono_ns() < next)
			wait_until(p, next);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int probe_start(const struct server_config *cfg, struct store *st,
		struct probe **ret)
{
	pthread_condattr_t ca;
	struct probe *p;
	int r;

	*ret = NULL;
	if (!cfg->probe.enabled)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = cfg;
	p->st = st;
	if (gethostname(p->helo, sizeof(p->helo) - 1) < 0 || !p->helo[0])
		snprintf(p->helo, sizeof(p->helo), "derelictd");
	if (pipe2(p->cancel, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		free(p);
		return r;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->write_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&p->thread, NULL, run, p);
	if (r != 0) {
		close(p->cancel[0]);
		close(p->cancel[1]);
		pthread_mutex_destroy(&p->lock);
		pthread_mutex_destroy(&p->write_lock);
		pthread_cond_destroy(&p->wake);
		free(p);
		return -r;
	}
	*ret = p;
	return 0;
}

void probe_kick(struct probe *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->again = true;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

void probe_stop(struct probe *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	if (write(p->cancel[1], "x", 1) < 0) {
		/* The flag alone stops it, at the next timeout. */
	}
	pthread_join(p->thread, NULL);
	close(p->cancel[0]);
	close(p->cancel[1]);
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->write_lock);
	pthread_cond_destroy(&p->wake);
	free(p);
}
