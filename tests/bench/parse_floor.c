/*
 * parse_floor.c - what jansson alone costs for a report: the median time
 * of json_loadb() and json_decref() of each file given, over 50 runs,
 * the least work the server does with a first report's body before it
 * checks a byte of it (tests/bench/server_bench.py prints it beside the
 * server's CPU per first report).
 *
 *   parse_floor FILE...
 *
 * Prints one line per file: "FILE BYTES MS".
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define RUNS 50

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		static char body[16 << 20];
		double ms[RUNS];
		size_t n;

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		n = fread(body, 1, sizeof(body), f);
		fclose(f);
		for (int k = 0; k < RUNS; k++) {
			json_error_t e;
			double t0 = now_ms();
			json_t *v = json_loadb(body, n, 0, &e);

			if (!v) {
				fprintf(stderr, "%s: %s\n", argv[i], e.text);
				return 1;
			}
			json_decref(v);
			ms[k] = now_ms() - t0;
		}
		qsort(ms, RUNS, sizeof(ms[0]), cmp_double);
		printf("%s %zu %.3f\n", argv[i], n, ms[RUNS / 2]);
	}
	return 0;
}
