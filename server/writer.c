/* writer.c - see writer.h. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fastpath.h"
#include "log.h"
#include "metrics.h"
#include "timeutil.h"

#define BATCH_MAX 512
#define EVAL_CHUNK 500
#define REMATCH_CHUNK 2000	/* hosts re-matched per pass (store_rematch.c) */
#define INDEX_CHUNK 256		/* hosts' package names per pass */
#define PRUNE_AFTER (90 * 86400)	/* report metadata */
/* Rows deleted per pass: ~5,000 rows of changes take the writer some
 * 30 ms, so reports never wait long behind a pass. */
#define PRUNE_CHUNK 5000
/* The fast path's last_seen are written at most this often: one commit
 * (and fsync) for all the hosts that reported meanwhile, and still far
 * inside FASTPATH_DIRTY_MAX. */
#define SEEN_EVERY_MS 1000

struct pending {
	struct ingest_job *job;
	int result;
	int done;
	struct pending *next;
	pthread_cond_t done_cv;	/* its own: a batch wakes its reports only */
};

struct writer {
	struct store *st;
	struct fastpath *fp;	/* NULL: every report waits for its commit */
	atomic_int touched;	/* the fast path answered a report */
	int seen_failed;	/* writer only: the last run_seen() failed */
	pthread_t checkpointer;
	int64_t evaluate_every;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work;	/* queue or kick or stop */
	pthread_cond_t quit;	/* wakes the checkpointer to stop */
	struct pending *head, *tail;
	int stopping;
	int kicked;
	int index_more;		/* writer only: package names still waiting */
};

static void deadline_in(struct timespec *ts, int64_t seconds)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += seconds;
}

static const struct timespec *earlier(const struct timespec *a,
				     const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? a : b;
	return a->tv_nsec <= b->tv_nsec ? a : b;
}

/* A report in a transaction of its own.  On PostgreSQL -EBUSY is a
 * deadlock or a serialization failure (another node's writer adding the
 * same new package versions in another order), found within a second and
 * gone when tried again: up to three times in all, before the client gets
 * its 503.  SQLite's -EBUSY has already waited out the busy timeout. */
static int apply_alone(struct writer *in, struct pending *p, int64_t now)
{
	int r;

	for (int attempt = 0; attempt < 3; attempt++) {
		r = store_write_begin(in->st);
		if (r == 0)
			r = store_apply_report(in->st, p->job, now);
		if (r == 0)
			r = store_write_commit(in->st);
		if (r == 0)
			return 0;
		store_write_rollback(in->st);
		if (r != -EBUSY ||
		    strcmp(store_engine(in->st), "PostgreSQL") != 0)
			break;
	}
	log_warning("ingest: report of host %lld refused: %s",
		    (long long)p->job->host_id, store_errmsg());
	return r;
}

/* One transaction for the whole batch: one fsync for many reports.  Should
 * any report fail, the batch is rolled back and each report is applied
 * alone, so one bad report costs the others nothing. */
static void run_batch(struct writer *in, struct pending *batch)
{
	int64_t now = time_now();
	long epoch = store_epoch(in->st);
	struct timespec t0, t1;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* From here until the commit, these hosts' reports wait their turn
	 * here: the fast path never answers from a state being replaced. */
	for (struct pending *p = batch; p; p = p->next)
		fastpath_forget(in->fp, p->job->host_id);
	r = store_write_begin(in->st);
	for (struct pending *p = batch; p && r == 0; p = p->next)
		r = p->result = store_apply_report(in->st, p->job, now);
	if (r == 0)
		r = store_write_commit(in->st);
	if (r < 0) {
		store_write_rollback(in->st);
		/* A lone report that waited out SQLite's busy timeout is
		 * not made to wait it out again. */
		bool again = batch->next || r != -EBUSY ||
			     strcmp(store_engine(in->st), "PostgreSQL") == 0;

		for (struct pending *p = batch; p; p = p->next)
			p->result = again ? apply_alone(in, p, now) : r;
	}
	for (struct pending *p = batch; p; p = p->next)
		if (p->result == 0 && p->job->status == 200 &&
		    p->job->unchanged)
			fastpath_learn(in->fp, p->job, p->job->next_eval_at,
				       epoch);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_batch((t1.tv_sec - t0.tv_sec) * 1e3 +
		      (t1.tv_nsec - t0.tv_nsec) / 1e6);
}

/* Writes the last_seen of the reports the fast path answered.  Should it
 * fail, they keep waiting and are tried again each second; meanwhile
 * their hosts' reports go the whole way once they waited
 * FASTPATH_DIRTY_MAX (and meet the same failure). */
static void run_seen(struct writer *in)
{
	struct store_seen *seen;
	int64_t taken_at;
	size_t n;
	int r;

	if (fastpath_dirty(in->fp, &seen, &n, &taken_at) < 0 || n == 0)
		return;
	r = store_write_begin(in->st);
	if (r == 0)
		r = store_put_seen(in->st, seen, n);
	if (r == 0)
		r = store_write_commit(in->st);
	if (r < 0) {
		if (!in->seen_failed)
			log_warning("ingest: last_seen of %zu hosts not "
				    "written: %s", n, store_errmsg());
		store_write_rollback(in->st);
		in->seen_failed = 1;
	} else {
		fastpath_written(in->fp, seen, n, taken_at);
		in->seen_failed = 0;
	}
	free(seen);
}

/* The package names of hosts stored in full since the last pass, many
 * hosts at once: each name's place in the index is visited once for all
 * of them.  Returns 1 when more hosts are waiting. */
static int run_index(struct writer *in)
{
	int n = 0, r = store_write_begin(in->st);

	if (r == 0)
		r = store_index_packages(in->st, INDEX_CHUNK, &n);
	if (r == 0)
		r = store_write_commit(in->st);
	if (r < 0) {
		log_warning("packages: indexing failed: %s", store_errmsg());
		store_write_rollback(in->st);
		return 0;
	}
	return n == INDEX_CHUNK;
}

static void run_evaluation(struct writer *in)
{
	int64_t now = time_now();
	struct store_rematch_figures rm;
	int n = 0, pruned = 0, more = 0, r;

	r = store_write_begin(in->st);
	if (r == 0)
		r = store_rematch_step(in->st, now, REMATCH_CHUNK, &more, &rm);
	if (r == 0)
		r = store_evaluate_due(in->st, now, EVAL_CHUNK, &n);
	if (r == 0 && n < EVAL_CHUNK)
		r = store_prune(in->st, now - PRUNE_AFTER, now, PRUNE_CHUNK,
				&pruned);
	if (r == 0)
		r = store_write_commit(in->st);
	if (r < 0) {
		log_warning("rules: evaluation failed: %s", store_errmsg());
		store_write_rollback(in->st);
		return;
	}
	if (rm.finished && rm.every_host)
		log_notice("advisories: the hosts could not be matched again "
			   "by version; every host is evaluated");
	else if (rm.finished)
		log_notice("advisories: matched again in %.1f s (%.1f s to "
			   "find the hosts): %zu source packages changed, %zu "
			   "hosts of them (%zu evaluated in full)",
			   rm.seconds, rm.found_seconds, rm.sources, rm.hosts,
			   rm.full);
	/* More hosts are due, or more history is past its time: come back
	 * at once, after any queued reports. */
	if (n == EVAL_CHUNK || pruned == PRUNE_CHUNK || more)
		in->kicked = 1;
}

/* The fast path's last_seen wait to be written and their turn came. */
static int seen_due(struct writer *in, const struct timespec *next_seen)
{
	struct timespec now;

	if (!atomic_load(&in->touched) || in->seen_failed)
		return 0;
	clock_gettime(CLOCK_REALTIME, &now);
	return earlier(next_seen, &now) == next_seen;
}

static void *writer(void *arg)
{
	struct writer *in = arg;
	struct timespec next_eval, next_index, next_seen;

	deadline_in(&next_eval, 0);
	deadline_in(&next_index, 1);
	deadline_in(&next_seen, 0);
	pthread_mutex_lock(&in->lock);
	for (;;) {
		struct pending *batch, *p;
		struct timespec now;
		int n = 0, eval, index, seen;

		while (!in->head && !in->stopping && !in->kicked &&
		       !in->index_more && !seen_due(in, &next_seen)) {
			const struct timespec *until =
				earlier(&next_eval, &next_index);

			if (atomic_load(&in->touched) && !in->seen_failed)
				until = earlier(until, &next_seen);
			if (pthread_cond_timedwait(&in->work, &in->lock,
						   until) == ETIMEDOUT)
				break;
		}
		if (!in->head && in->stopping)
			break;
		/* Take the whole queue, up to BATCH_MAX, as one batch. */
		batch = in->head;
		for (p = batch; p && ++n < BATCH_MAX; p = p->next)
			;
		if (p) {
			in->head = p->next;
			p->next = NULL;
			if (!in->head)
				in->tail = NULL;
		} else {
			in->head = in->tail = NULL;
		}
		clock_gettime(CLOCK_REALTIME, &now);
		eval = in->kicked || earlier(&next_eval, &now) == &next_eval;
		in->kicked = 0;
		index = in->index_more || earlier(&next_index, &now) == &next_index;
		seen = seen_due(in, &next_seen) &&
		       atomic_exchange(&in->touched, 0);
		pthread_mutex_unlock(&in->lock);

		/* First: what the rules read next sees every last_seen. */
		if (seen || (index && fastpath_pending(in->fp)) ||
		    (eval && fastpath_pending(in->fp))) {
			run_seen(in);
			clock_gettime(CLOCK_REALTIME, &next_seen);
			next_seen.tv_nsec += SEEN_EVERY_MS * 1000000L;
			if (next_seen.tv_nsec >= 1000000000L) {
				next_seen.tv_sec++;
				next_seen.tv_nsec -= 1000000000L;
			}
		}
		if (batch)
			run_batch(in, batch);
		/* After the batch: its reports are not kept waiting for it. */
		/* The index, evaluation and pruning passes are the leader's
		 * (one node of several on one PostgreSQL): a follower asks
		 * again at the next index tick, every second. */
		if ((index || eval) && store_leader(in->st) != 1) {
			in->index_more = 0;
			index = eval = 0;
			deadline_in(&next_index, 1);
			deadline_in(&next_eval, 1);
		}
		if (index) {
			in->index_more = run_index(in);
			deadline_in(&next_index, 1);
		}
		if (eval && !in->stopping) {
			run_evaluation(in);
			deadline_in(&next_eval, in->evaluate_every);
		}

		/* Under the lock: a waiter cannot see done, return and take
		 * its pending off its stack before we are through the list. */
		pthread_mutex_lock(&in->lock);
		for (p = batch; p; p = p->next) {
			p->done = 1;
			pthread_cond_signal(&p->done_cv);
		}
	}
	pthread_mutex_unlock(&in->lock);
	/* Stopping: the HTTP server is gone, nothing more is answered. */
	run_seen(in);
	return NULL;
}

/* Moves the WAL into the database file every second, off the writer's
 * path.  The writer starts the WAL afresh (store_write_commit). */
static void *checkpointer(void *arg)
{
	struct writer *in = arg;
	struct timespec next;

	pthread_mutex_lock(&in->lock);
	while (!in->stopping) {
		deadline_in(&next, 1);
		pthread_cond_timedwait(&in->quit, &in->lock, &next);
		if (in->stopping)
			break;
		pthread_mutex_unlock(&in->lock);
		store_checkpoint(in->st);
		pthread_mutex_lock(&in->lock);
	}
	pthread_mutex_unlock(&in->lock);
	return NULL;
}

int writer_start(struct store *st, struct fastpath *fp, int64_t evaluate_every,
		 struct writer **ret)
{
	struct writer *in = calloc(1, sizeof(*in));
	int r;

	if (!in)
		return -ENOMEM;
	in->st = st;
	in->fp = fp;
	in->evaluate_every = evaluate_every > 0 ? evaluate_every : 60;
	pthread_mutex_init(&in->lock, NULL);
	pthread_cond_init(&in->work, NULL);
	pthread_cond_init(&in->quit, NULL);
	r = pthread_create(&in->thread, NULL, writer, in);
	if (r != 0) {
		free(in);
		return -r;
	}
	r = pthread_create(&in->checkpointer, NULL, checkpointer, in);
	if (r != 0) {
		writer_stop(in);
		return -r;
	}
	/* Named for top -H and perf: the writer is the one to watch. */
	pthread_setname_np(in->thread, "derelictd-write");
	pthread_setname_np(in->checkpointer, "derelictd-ckpt");
	*ret = in;
	return 0;
}

int writer_submit(struct writer *in, struct ingest_job *job)
{
	struct pending p = { job, 0, 0, NULL, PTHREAD_COND_INITIALIZER };

	pthread_mutex_lock(&in->lock);
	if (in->stopping) {
		pthread_mutex_unlock(&in->lock);
		return -ESHUTDOWN;
	}
	if (in->tail)
		in->tail->next = &p;
	else
		in->head = &p;
	in->tail = &p;
	pthread_cond_signal(&in->work);
	while (!p.done)
		pthread_cond_wait(&p.done_cv, &in->lock);
	pthread_mutex_unlock(&in->lock);
	pthread_cond_destroy(&p.done_cv);
	return p.result;
}

void writer_touch(struct writer *in)
{
	if (atomic_exchange(&in->touched, 1))
		return;	/* already told */
	pthread_mutex_lock(&in->lock);
	pthread_cond_signal(&in->work);
	pthread_mutex_unlock(&in->lock);
}

void writer_kick(struct writer *in)
{
	pthread_mutex_lock(&in->lock);
	in->kicked = 1;
	pthread_cond_signal(&in->work);
	pthread_mutex_unlock(&in->lock);
}

void writer_stop(struct writer *in)
{
	if (!in)
		return;
	pthread_mutex_lock(&in->lock);
	in->stopping = 1;
	pthread_cond_signal(&in->work);
	pthread_cond_broadcast(&in->quit);
	pthread_mutex_unlock(&in->lock);
	pthread_join(in->thread, NULL);
	if (in->checkpointer)
		pthread_join(in->checkpointer, NULL);
	pthread_mutex_destroy(&in->lock);
	pthread_cond_destroy(&in->work);
	pthread_cond_destroy(&in->quit);
	free(in);
}
