/*
 * ingest_job.h - one received report on its way through the server:
 *
 *   POST /reports (api_agent.c) -> validate (report_check.c)
 *     -> prepare (store_prepare_report(), store_reports.c, on a reader)
 *     -> writer queue (writer.c) -> apply (store_apply_report())
 *     -> evaluate (store_eval.c) -> rules (rules.c)
 *
 * Each member says which stage writes it; a later stage only reads what
 * an earlier one wrote, except where said.  ingest_job_free() frees what
 * the stages attached.
 */
#ifndef DERELICT_INGEST_JOB_H
#define DERELICT_INGEST_JOB_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "changes.h"
#include "hash.h"
#include "report.h"

/* One section of a received report: absent, hash only, in full, as a
 * packages delta, or failed. */
struct ingest_section {
	/* --- validate (report_check()): the section as received ------- */
	int present;
	int full;		/* in full, or a delta (then delta is set too) */
	/* The agent's collector failed: error says why (cut to its cap) and
	 * the stored section is kept as it is; nothing else is set. */
	int failed;
	char error[REPORT_MAX_ERROR + 1];
	char hash[SHA256_HEX_LEN];	/* the server's hash of the new state */
	int delta;		/* packages: "base", "added", "removed" */
	/* delta only: the stored hash the agent says its delta starts from. */
	char delta_base[SHA256_HEX_LEN];
	json_t *body;		/* full: the section without "hash" */
	char *text;		/* full, not packages: body's canonical text */
	/* full or delta: the items' sum; a delta's is replaced by prepare
	 * with the sum the delta leads to. */
	unsigned char sum[REPORT_SUM_LEN];
	/* packages: each item's digest, in body's "items" order (full) or
	 * "added" order (delta). */
	unsigned char *digests;

	/* --- prepare (store_prepare_report(), outside the writer), or apply
	 * again when the stored state moved in between -------------------- */
	unsigned char *packed;	/* full: text as stored, deflated */
	size_t packed_len;
	/* changes holds the differences from the stored state whose hash is
	 * diffed_hash ("": none was stored).  The writer uses them only if
	 * that is still what it holds; otherwise it works them out again. */
	int prepared;
	char diffed_hash[SHA256_HEX_LEN];
	struct changes changes;
	int incremental;	/* packages, full: rows updated by the changes */
	int eval;		/* delta: it touches a package the rules see */
	/* packages, delta: the host's stored value (host_packages.refs) the
	 * delta was prepared on, and its references decoded (an array of
	 * store_packages.c's own), which the writer takes instead of
	 * decoding it again when it reads the same bytes. */
	unsigned char *base_value;
	size_t base_value_len;
	void *base_refs;
	size_t base_refs_n;
	/* ... and, when the fleet had every version it refers to, the value
	 * the delta makes of it (base_refs edited, packed) and its count. */
	unsigned char *new_value;
	size_t new_value_len, new_value_n;
};

struct ingest_job {
	/* --- POST /reports (api_agent.c) --------------------------------- */
	int64_t host_id;
	json_t *report;		/* borrowed: the validated report */
	size_t bytes;
	char identity[SHA256_HEX_LEN];	/* hash of "host" and agent version */
	/* The hash of the re-enrollment token the report came with, when it
	 * is not yet the host's (struct principal's pending); else "". */
	char pending[SHA256_HEX_LEN];
	/* The hash of the token it came with (the fast path's key). */
	char token_hash[SHA256_HEX_LEN];
	/* A hash-only report's body as the fast path's template
	 * (fastpath_template()): the SHA-256 of its bytes around the value
	 * of its top-level collected_at, where that value starts, and the
	 * body's length; tmpl_len 0 when it has none. */
	unsigned char tmpl_hash[32];
	size_t tmpl_at, tmpl_len;
	/* --- validate, then prepare (see above) -------------------------- */
	struct ingest_section sec[SECTION_COUNT];
	/* --- apply (store_apply_report()): the writer's answer ----------- */
	int status;		/* HTTP status to answer */
	int resend_mask;	/* sections to resend, when status is 409 */
	/* 200, and it changed nothing of a host that is neither silent nor
	 * retired: the fast path may learn it (fastpath_learn()), with the
	 * host's next_eval_at after it (INT64_MAX: never due). */
	int unchanged;
	int64_t next_eval_at;
};

/* Frees what validation and preparation attached to the job. */
void ingest_job_free(struct ingest_job *job);
/* Frees a section's base_value, base_refs and new_value (a delta
 * prepared again starts without them). */
void ingest_section_drop_base(struct ingest_section *in);

#endif
