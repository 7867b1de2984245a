/*
 * ingest.h - the one writer: reports from many connections are applied in
 * batches, one transaction (and one fsync) per batch, and each submitter is
 * answered only after its batch committed.  The same thread re-evaluates
 * time-based rules every evaluate_every seconds.
 */
#ifndef DERELICT_INGEST_H
#define DERELICT_INGEST_H

#include <stdint.h>

#include "store.h"

struct ingest;

int ingest_start(struct store *st, int64_t evaluate_every,
		 struct ingest **ret);
/* Queues job and waits until its batch is committed; then job->status
 * holds the answer.  -ENOSPC when the disk is full, -EIO on a database
 * error, -ESHUTDOWN once stopping. */
int ingest_submit(struct ingest *in, struct ingest_job *job);
/* Asks for a rule evaluation of the hosts that are due, soon. */
void ingest_kick(struct ingest *in);
/* Refuses new jobs, finishes and commits the queued ones, joins. */
void ingest_stop(struct ingest *in);

#endif
