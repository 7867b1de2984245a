/*
 * floor.c - the benchmark's floor: a bare libmicrohttpd server with the
 * threading model and limits derelictd's http.c starts it with (a thread
 * per connection, poll(), the same connection limits, memory pool,
 * timeout and stack), which reads each POST body into a buffer and
 * answers 200 with a reply of the size derelictd gives.  Whatever
 * derelictd does above its HTTP library is the difference between the
 * two rates (tests/bench/unchanged_bench.py).
 *
 *   floor PORT
 *
 * Runs until SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* As in server/http.c and derelictd's default max_body_bytes. */
#define CONNECTION_LIMIT 2048
#define CONNECTION_TIMEOUT 60
#define CONNECTION_MEMORY (32 << 10)
#define BODY_MAX (16 << 20)

static const char REPLY[] = "{\"host_id\":1,\"next_report_s\":3600}";

struct body {
	char *data;
	size_t len, cap;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct body *b = *con_cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	if (!b) {
		b = calloc(1, sizeof(*b));
		*con_cls = b;
		return b ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		if (b->len + *upload_size > BODY_MAX)
			return MHD_NO;
		if (b->len + *upload_size > b->cap) {
			size_t cap = b->cap ? b->cap : 4096;
			char *p;

			while (cap < b->len + *upload_size)
				cap *= 2;
			p = realloc(b->data, cap);
			if (!p)
				return MHD_NO;
			b->data = p;
			b->cap = cap;
		}
		memcpy(b->data + b->len, upload, *upload_size);
		b->len += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
	resp = MHD_create_response_from_buffer(sizeof(REPLY) - 1,
					       (void *)REPLY,
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct body *b = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (b)
		free(b->data);
	free(b);
	*con_cls = NULL;
}

int main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sigset_t set;
	int sig;
	long port = argc == 2 ? strtol(argv[1], NULL, 10) : 0;

	if (port < 1 || port > 65535) {
		fprintf(stderr, "usage: floor PORT\n");
		return 2;
	}
	/* Loopback only, as the bench's derelictd. */
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD |
			MHD_USE_ERROR_LOG | MHD_USE_ITC,
		(uint16_t)port, NULL, NULL, on_request, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1 << 20),
		MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "floor: cannot listen on port %ld\n", port);
		return 1;
	}
	printf("listening on %ld\n", port);
	fflush(stdout);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
