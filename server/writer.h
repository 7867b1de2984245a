/*
 * writer.h - the one writer thread: reports from many connections are applied in
 * batches, one transaction (and one fsync) per batch, and each submitter is
 * answered only after its batch committed.  The same thread re-evaluates
 * time-based rules every evaluate_every seconds.
 */
#ifndef DERELICT_WRITER_H
#define DERELICT_WRITER_H

#include <stdint.h>

#include "store.h"

struct writer;
struct fastpath;

/* fp (may be NULL) is the fast path whose last_seen the writer writes and
 * which learns from its commits (fastpath.h). */
int writer_start(struct store *st, struct fastpath *fp, int64_t evaluate_every,
		 struct writer **ret);
/* Queues job and waits until its batch is committed; then job->status
 * holds the answer.  -ENOSPC when the disk is full, -EIO on a database
 * error, -ESHUTDOWN once stopping. */
int writer_submit(struct writer *in, struct ingest_job *job);
/* The fast path answered a report: its last_seen waits to be written. */
void writer_touch(struct writer *in);
/* Asks for a rule evaluation of the hosts that are due, soon. */
void writer_kick(struct writer *in);
/* Refuses new jobs, finishes and commits the queued ones, joins. */
void writer_stop(struct writer *in);

#endif
