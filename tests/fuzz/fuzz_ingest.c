/*
 * fuzz_ingest.c - the whole ingest path without HTTP: a report checked by
 * report_check() and, when accepted, prepared and applied as the server
 * does (store_prepare_report, then the writer's store_write_begin,
 * store_apply_report and store_write_commit) to a real database in a
 * temporary file, then read back through the API's queries.
 * One enrolled host receives every input, so deltas, history and rules
 * run against what earlier inputs stored.
 */
#include <errno.h>
#include <string.h>

#include "advisory.h"
#include "fuzz_util.h"
#include "jsonutil.h"
#include "report_check.h"
#include "server.h"
#include "store.h"

#define NOW 1800000000LL	/* fixed, so a crash replays the same way */

static struct server_config cfg;
static struct store *st;
static struct advisory_db *adv;
static int64_t host_id;
static char dir[64];
static char dbpath[sizeof(dir) + 16];

static void cleanup(void)
{
	char p[sizeof(dbpath) + 8];

	store_close(st);
	advisory_db_free(adv);
	conf_free(server_conf_keys, &cfg);
	unlink(dbpath);
	snprintf(p, sizeof(p), "%s-wal", dbpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", dbpath);
	unlink(p);
	rmdir(dir);
}

static void load_advisories(void)
{
	const char *path = getenv("DERELICT_ADVISORIES");
	char *text;
	long len;
	FILE *f;

	f = fopen(path ? path : "data/advisories.json", "r");
	if (!f)
		return;		/* matching is then skipped, not fatal */
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = malloc((size_t)len + 1);
	if (text && fread(text, 1, (size_t)len, f) == (size_t)len &&
	    advisory_load(text, (size_t)len, &adv) == 0)
		store_set_advisories(st, adv);
	free(text);
	fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	/* /dev/shm when there is one: FULL synchronous commits stay cheap. */
	snprintf(dir, sizeof(dir), "%s/derelict-fuzz-ingest-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(dbpath, sizeof(dbpath), "%s/fuzz.db", dir);
	if (conf_defaults(server_conf_keys, &cfg) < 0 ||
	    store_open(dbpath, &cfg, &st, err) < 0) {
		fprintf(stderr, "fuzz_ingest: %s\n", err);
		abort();
	}
	load_advisories();
	if (store_enroll(st, "00000000-0000-4000-8000-000000000001", "fuzz",
			 "0000000000000000000000000000000000000000000000000000"
			 "000000000000",
			 NOW, &host_id) < 0)
		abort();
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_job job = { 0 };
	struct report_verdict v = { 0 };
	json_error_t jerr;
	const char *id;
	char kept[SECTION_COUNT][SHA256_HEX_LEN];
	json_t *rep, *out;
	int r;

	rep = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
			 &jerr);
	if (!rep)
		return 0;
	if (!json_is_object(rep))
		goto out;
	id = json_get_str(json_object_get(rep, "agent"), "id");
	if (report_check(rep, id ? id : "", &job, &v) < 0)
		goto out;
	/* Now and then a host deleted while it was reporting. */
	job.host_id = size % 13 == 0 ? host_id + 1000 : host_id;
	job.report = rep;
	job.bytes = size;
	/* A failed section leaves the stored one as it was. */
	for (int s = 0; s < SECTION_COUNT; s++) {
		if (!job.sec[s].failed)
			continue;
		if (store_host_section(st, host_id, s, 1, 0, &out) < 0)
			abort();
		snprintf(kept[s], sizeof(kept[s]), "%s",
			 json_get_str(out, "hash") ?: "");
		json_decref(out);
	}
	/* As api_reports(): the diff on a reader, then the writer.  Every
	 * other input skips it, so the writer's own diff runs too. */
	if (size & 1)
		store_prepare_report(st, &job);
	r = store_write_begin(st);
	if (r == 0)
		r = store_apply_report(st, &job, NOW);
	if (r == 0)
		r = store_write_commit(st);
	if (r < 0) {
		/* A valid report must never be a database error. */
		fprintf(stderr, "fuzz_ingest: %s\n", store_errmsg());
		abort();
	}
	if (job.status != 200 && job.status != 409 && job.status != 404)
		abort();
	if (job.status == 200) {
		if (store_host_get(st, host_id, &out) < 0)
			abort();
		/* Each failed section is listed with its error. */
		for (int s = 0; s < SECTION_COUNT; s++) {
			json_t *e;
			size_t i;
			int listed = 0;

			json_array_foreach(json_object_get(out,
							   "collector_errors"),
					   i, e)
				listed |= strcmp(json_get_str(e, "section") ?: "",
						 section_names[s]) == 0 &&
					  strcmp(json_get_str(e, "error") ?: "",
						 job.sec[s].error) == 0;
			if (job.sec[s].failed && !listed)
				abort();
		}
		json_decref(out);
		for (int s = 0; s < SECTION_COUNT; s++) {
			if (!job.sec[s].present)
				continue;
			if (store_host_section(st, host_id, s, 1, 0, &out) < 0)
				abort();
			/* What is stored is what the server hashed, or for a
			 * failed section what was stored before. */
			if (strcmp(json_get_str(out, "hash") ?: "",
				   job.sec[s].failed ? kept[s]
						     : job.sec[s].hash) != 0)
				abort();
			json_decref(out);
		}
	}
out:
	ingest_job_free(&job);
	json_decref(rep);
	return 0;
}
