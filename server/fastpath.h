/*
 * fastpath.h - unchanged reports answered without the writer.
 *
 * Most reports of a fleet change nothing: every section goes as the hash
 * the server already holds.  Today such a report costs a token lookup on
 * a reader, a hand-off to the one writer and a wait for its commit and
 * fsync, all to move the host's last_seen.  The fast path keeps, for each
 * host it has seen report unchanged, what such a report must match (its
 * token, which sections it sends and their hashes, its identity hash) and
 * when the host is next due for a time-based rule.  A report that matches
 * all of it while the host is not due is answered 200 at once: its
 * last_seen (and collected_at, and one row of report history) is kept
 * here and written by the writer right after, not before the answer.
 *
 * What a 200 then promises (README, "the report protocol"; derelictd(8)):
 * every section is as durable as before, since nothing of them changed;
 * the last_seen of an unchanged report is on disk within
 * FASTPATH_DIRTY_MAX seconds of its 200, and normally milliseconds after,
 * because a host whose last_seen has waited longer than that to be written
 * goes the slow way again (and is refused 503 with the others when the
 * disk cannot commit).  A crash forgets at most those reports' last_seen.
 *
 * What is kept is only ever learned by the writer, from a committed report
 * that itself changed nothing, in commit order; it is thrown away whole
 * whenever anything else writes to the database or a report takes over a
 * host's token (store_epoch()), so a deleted, retired or re-enrolled host,
 * a revoked token or a project's new end date is seen by the next report.
 *
 * Measured (tests/bench/unchanged_bench.py, perf record, 64 connections,
 * 1 KiB hash-only reports, a shared 2-core machine): before, an unchanged
 * report cost the server 150 us of CPU - its JSON parse 20%, the writer's
 * SQL 16%, the token lookup on a reader 10%, the canonical JSON of the
 * identity and of the reply 7%, hand-off and wake-ups 8%, commit and
 * fsync 5% - and 6,700 a second went through, 21% of the floor (a bare
 * libmicrohttpd server, 11 us).  On the fast path it costs 59 us, 44% of
 * it jansson's parse, and 12,500 a second go through, 39% of the floor.
 * Taken unparsed when its body is the learned one's but for collected_at
 * (fastpath_raw()), it costs 18 us, and 25,000 a second go through, 62%
 * of the floor (72 us and 28% for the parsed fast path, same run).
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef DERELICT_FASTPATH_H
#define DERELICT_FASTPATH_H

#include <stddef.h>
#include <stdint.h>

#include "ingest_job.h"
#include "store.h"

/* Seconds a fast-path last_seen may wait to be written; past it the host's
 * reports wait for their commit again. */
#define FASTPATH_DIRTY_MAX 5
/* Hosts kept at most (about 250 bytes each). */
#define FASTPATH_MAX_HOSTS (1 << 20)

struct fastpath;

/* Errors: -ENOMEM. */
int fastpath_new(struct store *st, struct fastpath **ret);
/* Frees everything; the caller flushed what was dirty (fastpath_dirty()). */
void fastpath_free(struct fastpath *fp);

/* The host whose token's SHA-256 is token_hash, when the fast path knows
 * it: 0 with *ret filled as store_auth() fills it, -ENOENT otherwise (ask
 * the store). */
int fastpath_auth(struct fastpath *fp, const char *token_hash,
		  struct principal *ret);

/* Takes job (validated, its identity set) on the fast path: 0 when it
 * changes nothing and its host is known and not due, and then its
 * last_seen is now and waits for the writer; -EAGAIN when it must go the
 * whole way (writer_submit()). */
int fastpath_report(struct fastpath *fp, const struct ingest_job *job,
		    const char *token_hash, int64_t now);

/* Where the value of body's top-level "collected_at" starts, when body
 * (len bytes, a JSON object jansson accepted) writes it as a string of
 * the form "2026-11-26T10:00:00Z"; -1 otherwise. */
long fastpath_collected_at(const char *body, size_t len);
/* Makes the body of job, a validated hash-only report, its template: a
 * later body of the same bytes but another such collected_at is the same
 * report, sent again (fastpath_raw()).  Sets job->tmpl_len to 0 when it
 * cannot be one. */
void fastpath_template(struct ingest_job *job, const char *body, size_t len);
/* Takes the body of a report of host host_id, sent with the token whose
 * SHA-256 is token_hash, before it is parsed: 0 when it is the template
 * of the host's learned report with only a collected_at changed, one that
 * report_check() takes as it is, and the host is not due (then as
 * fastpath_report()); -EAGAIN when it must be parsed. */
int fastpath_raw(struct fastpath *fp, int64_t host_id, const char *token_hash,
		 const char *body, size_t len, int64_t now);

/* --- the writer's side ---------------------------------------------------- */

/* Learns job, a report the writer committed with status 200 in a batch
 * begun at epoch (store_epoch() before its transaction), when it changed
 * nothing; next_eval_at is the host's after the commit.  Ignores anything
 * else. */
void fastpath_learn(struct fastpath *fp, const struct ingest_job *job,
		    int64_t next_eval_at, long epoch);
/* Makes the host's reports go the whole way until it is learned again;
 * the writer calls it for each report of a batch before the commit.  What
 * waits to be written of it still is. */
void fastpath_forget(struct fastpath *fp, int64_t host_id);
/* Whether a last_seen is waiting to be written. */
int fastpath_pending(struct fastpath *fp);
/* Copies what waits into a new array (*ret, the caller's to free; NULL
 * when nothing waits).  It keeps waiting until fastpath_written() says the
 * copy was committed.  Errors: -ENOMEM. */
int fastpath_dirty(struct fastpath *fp, struct store_seen **ret,
		   size_t *ret_n, int64_t *ret_taken_at);
/* The copy fastpath_dirty() made at taken_at is on disk. */
void fastpath_written(struct fastpath *fp, const struct store_seen *seen,
		      size_t n, int64_t taken_at);

#endif
