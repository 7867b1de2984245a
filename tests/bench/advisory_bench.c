/*
 * advisory_bench.c - the load of a Debian Security Tracker export the size
 * of the real one, for "make bench".
 *
 *   advisory_bench gen FILE MB     writes a synthetic export of about MB
 *                                  megabytes in the tracker's shape
 *   advisory_bench load FILE       advisory_db_load(), as derelictd does
 *   advisory_bench whole FILE      the baseline: json_loadb() of the whole
 *                                  document, as the loader did before
 *
 * Each load prints its time and the process's peak RSS, so each runs in a
 * process of its own.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "advisory.h"
#include "buf.h"

static const char *const releases[] = { "bullseye", "bookworm", "trixie",
					"forky", "sid" };

static int gen(const char *path, long mb)
{
	FILE *f = fopen(path, "w");
	long target = mb * 1024 * 1024, cve = 0;
	int pkg = 0;

	if (!f)
		return 1;
	fputc('{', f);
	while (ftell(f) < target) {
		int n = 1 + (pkg * 7919) % 13;

		fprintf(f, "%s\"srcpkg-%d\": {", pkg ? ", " : "", pkg);
		for (int c = 0; c < n; c++, cve++) {
			fprintf(f,
				"%s\"CVE-20%02ld-%05ld\": {\"description\": "
				"\"In the synthetic package %d, a crafted "
				"input of a plausible kind allows a remote "
				"attacker to cause a denial of service or "
				"possibly execute code (entry %ld).\", "
				"\"scope\": \"%s\", \"debianbug\": %ld, "
				"\"releases\": {",
				c ? ", " : "", 10 + cve % 16, cve % 100000, pkg,
				cve, cve % 3 ? "remote" : "local",
				1000000 + cve);
			for (int r = 0; r < 5; r++) {
				const char *rel = releases[r];
				long k = cve + r;

				fprintf(f,
					"%s\"%s\": {\"status\": \"%s\", "
					"\"repositories\": {\"%s\": "
					"\"1.%d-%d\", \"%s-security\": "
					"\"1.%d-%d+deb%du1\"}, ",
					r ? ", " : "", rel,
					k % 9 == 0   ? "open" :
					k % 17 == 0 ? "undetermined" :
						      "resolved",
					rel, c, r + 1, rel, c, r + 1, 11 + r);
				if (k % 9 && k % 17)
					fprintf(f, "\"fixed_version\": \"%s\", ",
						k % 5 == 0 ? "0" : "1.9-1");
				if (k % 9 == 0 && k % 2)
					fprintf(f, "\"nodsa\": \"Minor "
						   "issue\", \"nodsa_reason\": "
						   "\"postponed\", ");
				fprintf(f, "\"urgency\": \"%s\"}",
					k % 4 ? "not yet assigned" :
						"unimportant");
			}
			fputs("}}", f);
		}
		fputc('}', f);
		pkg++;
	}
	fputs("}\n", f);
	fprintf(stderr, "advisory_bench: %s: %ld bytes, %d packages, %ld "
			"(package, CVE) pairs\n",
		path, ftell(f), pkg, cve);
	return fclose(f) ? 1 : 0;
}

static double since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static long peak_mib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024;
}

int main(int argc, char **argv)
{
	struct buf b = BUF_INIT(512u << 20);
	struct timespec t0;
	double secs;
	int r;

	if (argc == 4 && strcmp(argv[1], "gen") == 0)
		return gen(argv[2], strtol(argv[3], NULL, 10));
	if (argc != 3 || (strcmp(argv[1], "load") != 0 &&
			  strcmp(argv[1], "whole") != 0)) {
		fprintf(stderr, "usage: advisory_bench gen FILE MB | load FILE "
				"| whole FILE\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = buf_read_file(&b, argv[2]);
	if (r < 0) {
		fprintf(stderr, "advisory_bench: %s: %s\n", argv[2],
			strerror(-r));
		return 1;
	}
	if (strcmp(argv[1], "load") == 0) {
		struct advisory_db *db = NULL;

		r = advisory_load(b.data, b.len, &db);
		secs = since(&t0);
		if (r < 0) {
			fprintf(stderr, "advisory_bench: load: %s\n",
				strerror(-r));
			return 1;
		}
		printf("tracker export load (derelictd, one package at a "
		       "time): %.1f s, peak RSS %ld MiB, %zu entries, %s\n",
		       secs, peak_mib(), advisory_db_count(db),
		       secs < 30 && peak_mib() < 200 ?
			       "meets the target (< 30 s, < 200 MiB)" :
			       "MISSES the target (< 30 s, < 200 MiB)");
		advisory_db_free(db);
	} else {
		json_error_t err;
		json_t *root = json_loadb(b.data, b.len, 0, &err);

		secs = since(&t0);
		if (!root) {
			fprintf(stderr, "advisory_bench: json: %s\n", err.text);
			return 1;
		}
		printf("baseline, the whole document as one json_loadb(): "
		       "%.1f s, peak RSS %ld MiB (the tree alone, nothing "
		       "kept yet)\n",
		       secs, peak_mib());
		json_decref(root);
	}
	buf_free(&b);
	return 0;
}
