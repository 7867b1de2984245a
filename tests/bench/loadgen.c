/*
 * loadgen.c - the benchmark's load: POSTs prepared reports to derelictd
 * from its own process, many at once over keep-alive connections, and
 * prints throughput, latency percentiles and the count of each status.
 *
 *   loadgen URL JOBS CONCURRENCY ROUNDS
 *
 * JOBS is a file of lines "TOKEN BODYFILE"; every job is sent ROUNDS times
 * (round after round), each request with its own host's token.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct job {
	char auth[128];
	char *body;
	long len;
};

struct slot {
	CURL *h;
	struct curl_slist *hdr;
	double started;
	int busy;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t sink(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

static char *slurp(const char *path, long *len)
{
	FILE *f = fopen(path, "rb");
	char *b;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	rewind(f);
	b = malloc((size_t)*len + 1);
	if (b && fread(b, 1, (size_t)*len, f) != (size_t)*len) {
		free(b);
		b = NULL;
	}
	fclose(f);
	return b;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct job *jobs = NULL;
	struct slot *slots;
	char line[4096], url[512];
	int njobs = 0, cap = 0, conc, rounds, status[600] = { 0 };
	long total, next = 0, done = 0;
	double *lat, t0, elapsed;
	CURLM *m;
	FILE *f;

	if (argc != 5) {
		fprintf(stderr, "usage: loadgen URL JOBS CONCURRENCY ROUNDS\n");
		return 2;
	}
	snprintf(url, sizeof(url), "%s/api/v1/reports", argv[1]);
	conc = (int)strtol(argv[3], NULL, 10);
	rounds = (int)strtol(argv[4], NULL, 10);
	f = fopen(argv[2], "r");
	if (!f || conc < 1 || rounds < 1) {
		fprintf(stderr, "loadgen: bad arguments\n");
		return 2;
	}
	while (fgets(line, sizeof(line), f)) {
		char token[100], path[3000];

		if (sscanf(line, "%99s %2999s", token, path) != 2)
			continue;
		if (njobs == cap) {
			cap = cap ? 2 * cap : 256;
			jobs = realloc(jobs, (size_t)cap * sizeof(*jobs));
		}
		snprintf(jobs[njobs].auth, sizeof(jobs[njobs].auth),
			 "Authorization: Bearer %s", token);
		jobs[njobs].body = slurp(path, &jobs[njobs].len);
		if (!jobs[njobs].body) {
			fprintf(stderr, "loadgen: cannot read %s\n", path);
			return 1;
		}
		njobs++;
	}
	fclose(f);
	total = (long)njobs * rounds;
	lat = calloc((size_t)total, sizeof(*lat));
	slots = calloc((size_t)conc, sizeof(*slots));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)conc);
	for (int i = 0; i < conc; i++) {
		slots[i].h = curl_easy_init();
		curl_easy_setopt(slots[i].h, CURLOPT_URL, url);
		curl_easy_setopt(slots[i].h, CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(slots[i].h, CURLOPT_PRIVATE, &slots[i]);
		curl_easy_setopt(slots[i].h, CURLOPT_TIMEOUT, 120L);
	}
	t0 = now();
	while (done < total) {
		int running, left;
		CURLMsg *msg;

		for (int i = 0; i < conc && next < total; i++) {
			struct job *j;

			if (slots[i].busy)
				continue;
			j = &jobs[next % njobs];
			curl_slist_free_all(slots[i].hdr);
			slots[i].hdr = curl_slist_append(NULL, j->auth);
			slots[i].hdr = curl_slist_append(
				slots[i].hdr, "Content-Type: application/json");
			slots[i].hdr = curl_slist_append(slots[i].hdr, "Expect:");
			curl_easy_setopt(slots[i].h, CURLOPT_HTTPHEADER, slots[i].hdr);
			curl_easy_setopt(slots[i].h, CURLOPT_POSTFIELDS, j->body);
			curl_easy_setopt(slots[i].h, CURLOPT_POSTFIELDSIZE, j->len);
			slots[i].started = now();
			slots[i].busy = 1;
			curl_multi_add_handle(m, slots[i].h);
			next++;
		}
		curl_multi_perform(m, &running);
		/* Wait only when none finished: a fast server's answers may
		 * all come in within perform, and then nothing would wake
		 * the poll before its timeout (100 ms stalls, the floor's). */
		if (running >= next - done)
			curl_multi_poll(m, NULL, 0, 100, NULL);
		while ((msg = curl_multi_info_read(m, &left))) {
			struct slot *s;
			long code = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
					  (char **)&s);
			curl_easy_getinfo(msg->easy_handle,
					  CURLINFO_RESPONSE_CODE, &code);
			status[code >= 0 && code < 600 ? code : 0]++;
			lat[done++] = now() - s->started;
			curl_multi_remove_handle(m, msg->easy_handle);
			s->busy = 0;
		}
	}
	elapsed = now() - t0;
	qsort(lat, (size_t)total, sizeof(*lat), cmp_double);
	printf("requests %ld in %.2f s: %.0f/s; latency p50 %.1f ms, p95 %.1f ms, "
	       "p99 %.1f ms; statuses",
	       total, elapsed, total / elapsed, lat[total / 2] * 1e3,
	       lat[(long)(total * 0.95)] * 1e3, lat[(long)(total * 0.99)] * 1e3);
	for (int i = 0; i < 600; i++)
		if (status[i])
			printf(" %d:%d", i, status[i]);
	printf("\n");
	return status[200] == total ? 0 : 1;
}
