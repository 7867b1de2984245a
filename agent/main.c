/*
 * main.c - derelict-agent: flags and config, then one of three modes:
 * --print (collect to stdout), --once (enroll, collect, send) and --daemon
 * (--once on a timer with jitter and backoff).
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "assemble.h"
#include "client.h"
#include "conf.h"
#include "jsonutil.h"
#include "log.h"
#include "send.h"
#include "state.h"
#include "version.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

#define DEFAULT_CONFIG SYSCONFDIR "/derelict/agent.conf"

enum exit_code {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* config invalid, nothing sent, ... */
	EXIT_USAGE = 2,
	EXIT_REJECTED = 3,	/* the server refused our token */
};

#define OFF(f) offsetof(struct agent_conf, f)
static const struct conf_key agent_keys[] = {
	{ "agent", "server", CONF_STRING, OFF(server), "http://127.0.0.1:8470",
	  0, 0, "server URL, or several separated by spaces" },
	{ "agent", "enroll_secret_file", CONF_STRING, OFF(enroll_secret_file),
	  SYSCONFDIR "/derelict/enroll-secret", 0, 0,
	  "file holding the enrollment secret" },
	{ "agent", "state_dir", CONF_STRING, OFF(state_dir),
	  "/var/lib/derelict-agent", 0, 0, "agent id, token, last acknowledged hashes and packages" },
	{ "agent", "project", CONF_STRING, OFF(project), "", 0, 0,
	  "project tag sent with the host" },
	{ "agent", "owner", CONF_STRING, OFF(owner), "", 0, 0,
	  "owner tag sent with the host" },
	{ "agent", "ca_file", CONF_STRING, OFF(ca_file), "", 0, 0,
	  "CA certificates to verify an https server" },
	{ "agent", "interval", CONF_SPAN, OFF(interval), "3600", 1,
	  7 * 86400, "seconds between reports with --daemon" },
	{ 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: derelict-agent [--config FILE] [--root DIR] [--print] "
		"[--once] [--daemon]\n"
		"                      [--server URL] [--interval SECONDS] "
		"[--check-config]\n"
		"                      [--version] [--help]\n"
		"\n"
		"Reports this host's ports, services, processes, packages "
		"and logins to derelictd.\n"
		"\n"
		"  --config FILE          config file (default: %s)\n"
		"  --root DIR             read host files under DIR instead "
		"of /\n"
		"  --print                write the report to stdout; no "
		"network, no state\n"
		"  --once                 enroll if needed, send one report "
		"(the default)\n"
		"  --daemon               send a report every interval, with "
		"jitter and backoff\n"
		"  --check-config         validate the configuration and exit\n"
		"  --version              print the version\n"
		"  --help                 this text\n",
		DEFAULT_CONFIG);
	conf_print_flags(agent_keys, f);
	fprintf(f, "\nexit codes: 0 success, 1 failure (reason on stderr), "
		   "2 bad usage, 3 token rejected\n");
}

enum mode { MODE_ONCE, MODE_PRINT, MODE_DAEMON, MODE_CHECK };

struct opts {
	const char *config;
	int config_explicit;
	const char *root;
	enum mode mode;
};

static int is_flag(const char *arg, const char *name, const char **val)
{
	size_t n = strlen(name);

	if (strncmp(arg, name, n) != 0)
		return 0;
	if (arg[n] == '\0') {
		*val = NULL;
		return 1;
	}
	if (arg[n] == '=') {
		*val = arg + n + 1;
		return 1;
	}
	return 0;
}

/* Two passes over argv: the first (apply == 0) finds --config, the mode
 * and --root; the second applies config-key flags over the file. */
static int parse_args(int argc, char **argv, struct opts *o,
		      struct agent_conf *conf, int apply)
{
	char err[CONF_ERR_LEN];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val;

		if (is_flag(a, "--print", &val) && !val) {
			o->mode = MODE_PRINT;
		} else if (is_flag(a, "--once", &val) && !val) {
			o->mode = MODE_ONCE;
		} else if (is_flag(a, "--daemon", &val) && !val) {
			o->mode = MODE_DAEMON;
		} else if (is_flag(a, "--check-config", &val) && !val) {
			o->mode = MODE_CHECK;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			if (!apply) {
				usage(stdout);
				exit(EXIT_OK);
			}
		} else if (strcmp(a, "--version") == 0) {
			if (!apply) {
				printf("derelict-agent %s\n", DERELICT_VERSION);
				exit(EXIT_OK);
			}
		} else if (is_flag(a, "--config", &val) ||
			   is_flag(a, "--root", &val) ||
			   conf_find_flag(agent_keys, a)) {
			const char *name = a;
			size_t nlen = strcspn(a, "=");

			if (!strchr(a, '=')) {
				if (i + 1 >= argc) {
					fprintf(stderr, "derelict-agent: %s "
						"needs a value\n", a);
					return -EINVAL;
				}
				val = argv[++i];
			} else {
				val = a + nlen + 1;
			}
			if (strncmp(name, "--config", nlen) == 0 && nlen == 8) {
				o->config = val;
				o->config_explicit = 1;
			} else if (strncmp(name, "--root", nlen) == 0 &&
				   nlen == 6) {
				o->root = val;
			} else if (apply) {
				char key[64];

				snprintf(key, sizeof(key), "%.*s",
					 (int)(nlen - 2), name + 2);
				if (conf_set(agent_keys, conf, key, val,
					     err) < 0) {
					fprintf(stderr, "derelict-agent: %s\n",
						err);
					return -EINVAL;
				}
			}
		} else {
			fprintf(stderr, "derelict-agent: unknown argument %s "
				"(see --help)\n", a);
			return -EINVAL;
		}
	}
	return 0;
}

/* Checks that go beyond one key's syntax. */
static int validate(const struct agent_conf *conf, const char *origin,
		    char *err, size_t size)
{
	char urls[CLIENT_SERVERS_MAX][STATE_URL_MAX], why[256];

	if (client_servers(conf->server, urls, CLIENT_SERVERS_MAX, why,
			   sizeof(why)) < 0) {
		snprintf(err, size, "%s: server: %s", origin, why);
		return -EINVAL;
	}
	if (!conf->state_dir[0]) {
		snprintf(err, size, "%s: state_dir: must not be empty", origin);
		return -EINVAL;
	}
	return 0;
}

static int do_print(const char *root, const struct agent_conf *conf)
{
	char id[AGENT_ID_LEN];
	json_t *report;
	char *text;
	int r;

	/* No state is written, but a kept id is shown as the server would
	 * see it. */
	r = state_agent_id(conf->state_dir, 0, id);
	r = assemble_report(root, r == 0 ? id : NULL, conf, &report);
	if (r < 0) {
		fprintf(stderr, "derelict-agent: cannot build report: %s\n",
			strerror(-r));
		return EXIT_FAIL;
	}
	/* One string and one write: json_dumpf() calls fwrite() per token,
	 * which costs more than the whole serialisation. */
	text = json_dumps(report, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(report);
	r = text ? 0 : -ENOMEM;
	if (text) {
		size_t len = strlen(text);

		if (fwrite(text, 1, len, stdout) != len)
			r = -EIO;
		free(text);
	}
	if (r < 0 || fputc('\n', stdout) == EOF || fflush(stdout) == EOF) {
		fprintf(stderr, "derelict-agent: cannot write report\n");
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* One line for a client_init() failure. */
static const char *client_init_error(int r)
{
	switch (r) {
	case -ENOENT:
		return "cannot load " CLIENT_LIBCURL
		       " (is libcurl3-gnutls installed?)";
	case -ELIBBAD:
		return CLIENT_LIBCURL " lacks a function the agent needs";
	default:
		return "cannot initialise libcurl";
	}
}

static int do_once(const char *root, const struct agent_conf *conf)
{
	char why[512];
	int64_t next;
	enum send_result res;
	int r;

	if ((r = client_init()) < 0) {
		fprintf(stderr, "derelict-agent: %s\n",
			client_init_error(r));
		return EXIT_FAIL;
	}
	res = send_run_once(root, conf, &next, why, sizeof(why));
	client_cleanup();
	if (res == SEND_OK) {
		if (why[0])
			fprintf(stderr, "derelict-agent: warning: %s\n", why);
		return EXIT_OK;
	}
	fprintf(stderr, "derelict-agent: %s\n", why);
	return res == SEND_REJECTED ? EXIT_REJECTED : EXIT_FAIL;
}

static uint64_t random_u64(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	return v;
}

/* Sleeps up to secs, returning 1 early when SIGTERM or SIGINT arrives
 * (both are blocked and waited for here, so they never interrupt a report
 * half sent). */
static int wait_or_stop(const sigset_t *stop, int64_t secs)
{
	struct timespec ts = { .tv_sec = secs, .tv_nsec = 0 };
	int sig;

	for (;;) {
		struct timespec start, now;

		clock_gettime(CLOCK_MONOTONIC, &start);
		sig = sigtimedwait(stop, NULL, &ts);
		if (sig > 0)
			return 1;
		if (errno != EINTR)
			return 0;	/* EAGAIN: the time is up */
		clock_gettime(CLOCK_MONOTONIC, &now);
		ts.tv_sec -= now.tv_sec - start.tv_sec;
		if (ts.tv_sec <= 0)
			return 0;
	}
}

static int do_daemon(const char *root, const struct agent_conf *conf)
{
	sigset_t stop;
	int failures = 0, r;

	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	if ((r = client_init()) < 0) {
		log_error("%s", client_init_error(r));
		return EXIT_FAIL;
	}
	log_info("derelict-agent %s reporting to %s every %llds",
		 DERELICT_VERSION, conf->server, (long long)conf->interval);
	/* A fleet started at once should not report at once. */
	if (wait_or_stop(&stop, (int64_t)(random_u64() %
				  (uint64_t)(conf->interval / 10 + 1))))
		goto stopped;
	for (;;) {
		char why[512];
		int64_t next = 0, delay;
		enum send_result res;

		res = send_run_once(root, conf, &next, why, sizeof(why));
		if (res == SEND_OK) {
			if (why[0])
				log_warning("%s", why);
			failures = 0;
			delay = next > 0 ? next : conf->interval;
			if (delay < 10)
				delay = 10;
			if (delay > 7 * 86400)
				delay = 7 * 86400;
			/* Up to a tenth more, so reports spread out. */
			delay += (int64_t)(random_u64() %
					   (uint64_t)(delay / 10 + 1));
			log_debug("report sent; next in %llds",
				  (long long)delay);
		} else {
			int64_t cap = conf->interval, base;

			log_warning("%s", why);
			/* Exponential backoff with full jitter: 30 s, 60 s, ...
			 * up to the interval, each a random share of that. */
			if (failures < 20)
				failures++;
			base = 30;
			for (int i = 1; i < failures && base < cap; i++)
				base *= 2;
			if (base > cap)
				base = cap;
			delay = base / 2 + (int64_t)(random_u64() %
					(uint64_t)(base / 2 + 1));
			if (delay < 1)
				delay = 1;
			log_info("retrying in %llds", (long long)delay);
		}
		if (wait_or_stop(&stop, delay))
			break;
	}
stopped:
	log_info("stopping");
	client_cleanup();
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct opts o = { .config = DEFAULT_CONFIG, .root = "/",
			  .mode = MODE_ONCE };
	struct agent_conf conf = { 0 };
	char err[CONF_ERR_LEN], verr[CONF_ERR_LEN + 64];
	int r, rc;

	if (parse_args(argc, argv, &o, &conf, 0) < 0)
		return EXIT_USAGE;
	if (conf_defaults(agent_keys, &conf) < 0) {
		fprintf(stderr, "derelict-agent: out of memory\n");
		return EXIT_FAIL;
	}
	r = conf_load_file(agent_keys, &conf, o.config, err);
	if (r < 0 && !(r == -ENOENT && !o.config_explicit)) {
		fprintf(stderr, "%s\n", err);
		conf_free(agent_keys, &conf);
		return EXIT_FAIL;
	}
	if (parse_args(argc, argv, &o, &conf, 1) < 0) {
		conf_free(agent_keys, &conf);
		return o.mode == MODE_CHECK ? EXIT_FAIL : EXIT_USAGE;
	}
	if (validate(&conf, o.config, verr, sizeof(verr)) < 0) {
		fprintf(stderr, "%s\n", verr);
		conf_free(agent_keys, &conf);
		return EXIT_FAIL;
	}
	switch (o.mode) {
	case MODE_CHECK:
		printf("%s: ok\n", o.config);
		rc = EXIT_OK;
		break;
	case MODE_PRINT:
		rc = do_print(o.root, &conf);
		break;
	case MODE_DAEMON:
		rc = do_daemon(o.root, &conf);
		break;
	default:
		rc = do_once(o.root, &conf);
		break;
	}
	conf_free(agent_keys, &conf);
	return rc;
}
