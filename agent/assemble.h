/*
 * assemble.h - the full report (SPEC 3) from the collectors, and what the
 * send needs to know of one: which sections failed, and their hashes.
 */
#ifndef DERELICT_AGENT_ASSEMBLE_H
#define DERELICT_AGENT_ASSEMBLE_H

#include <jansson.h>

#include "agent.h"
#include "hash.h"
#include "report.h"

/* Runs every collector under root and assembles a full report (SPEC 3):
 * every section complete with its hash; a collector's failure becomes
 * {"error", "items": []}.  agent_id may be NULL.  0 and *ret (caller owns)
 * or -ENOMEM. */
int assemble_report(const char *root, const char *agent_id,
		    const struct agent_conf *conf, json_t **ret);

/* Whether the collector of section s failed in report: the section is
 * {"error": "...", "items": []} with no hash, never acknowledged. */
int assemble_section_failed(const json_t *report, enum section s);

/* Stores each section's hash of report into out ("" for a failed one). */
void assemble_hashes(const json_t *report,
		     char out[SECTION_COUNT][SHA256_HEX_LEN]);

#endif
