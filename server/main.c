/*
 * main.c - derelictd: flags and configuration, the maintenance commands
 * (token, backup, advisories), and the server's life from start to SIGTERM.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "advisory.h"
#include "embed.h"
#include "hash.h"
#include "http.h"
#include "ingest.h"
#include "log.h"
#include "server.h"
#include "store.h"
#include "version.h"

#define ADVISORY_FILE_MAX (512u << 20)
#define SECRET_MAX 4096

static void usage(FILE *f)
{
	fprintf(f,
		"usage: derelictd [--config FILE] [--listen ADDR:PORT] "
		"[--database FILE] [OPTIONS]\n"
		"       derelictd [--config FILE|--database FILE] token add NAME "
		"--role admin|viewer\n"
		"       derelictd [--config FILE|--database FILE] token list | "
		"token revoke NAME\n"
		"       derelictd [--config FILE|--database FILE] backup FILE\n"
		"       derelictd [--config FILE|--database FILE] advisories "
		"import FILE\n"
		"       derelictd --check-config | --version | --help\n\n"
		"The central daemon of derelict: it stores what the agents "
		"report and finds\nthe forgotten hosts of a fleet.\n\n"
		"Options (each is also a key of derelictd.conf):\n"
		"  --config FILE            configuration file (default: %s)\n",
		SERVER_DEFAULT_CONFIG);
	conf_print_flags(server_conf_keys, f);
	fprintf(f, "\nExit status: 0 success, 1 failure, 2 usage error.\n");
}

/* Loads defaults, then the file, then the flags; leaves the words that are
 * not options (the command) in cmd.  0, or 1/2 with a message printed. */
static int load_config(int argc, char **argv, struct server_config *cfg,
		       char **cmd, int *ncmd, int *check_only)
{
	const char *path = SERVER_DEFAULT_CONFIG;
	int explicit = 0, r;
	char err[CONF_ERR_LEN];

	*ncmd = 0;
	*check_only = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			path = argv[++i];
			explicit = 1;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			path = argv[i] + 9;
			explicit = 1;
		}
	}
	if (conf_defaults(server_conf_keys, cfg) < 0) {
		log_error("out of memory");
		return 1;
	}
	r = conf_load_file(server_conf_keys, cfg, path, err);
	if (r < 0 && !(r == -ENOENT && !explicit)) {
		log_error("%s", err);
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *value, *eq;
		const struct conf_key *k;
		char name[64];

		if (strcmp(a, "--config") == 0) {
			i++;
			continue;
		}
		if (strncmp(a, "--config=", 9) == 0)
			continue;
		if (strcmp(a, "--check-config") == 0) {
			*check_only = 1;
			continue;
		}
		if (strcmp(a, "--role") == 0 && i + 1 < argc) {
			cmd[(*ncmd)++] = argv[i];
			cmd[(*ncmd)++] = argv[++i];
			continue;
		}
		if (strncmp(a, "--", 2) != 0) {
			cmd[(*ncmd)++] = argv[i];
			continue;
		}
		k = conf_find_flag(server_conf_keys, a);
		if (!k) {
			log_error("unknown option %s (see --help)", a);
			return 2;
		}
		eq = strchr(a, '=');
		if (eq) {
			value = eq + 1;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			log_error("%s needs a value", a);
			return 2;
		}
		snprintf(name, sizeof(name), "%s", k->name);
		if (conf_set(server_conf_keys, cfg, name, value, err) < 0) {
			log_error("%s", err);
			return 1;
		}
	}
	if ((cfg->tls_cert[0] != 0) != (cfg->tls_key[0] != 0)) {
		log_error("%s: tls_cert and tls_key go together", path);
		return 1;
	}
	return 0;
}

/* Reads the enroll secret; refuses one that others may read. */
static int read_secret(const char *path, char **ret)
{
	struct buf b = BUF_INIT(SECRET_MAX);
	struct stat st;
	int r;

	if (stat(path, &st) < 0)
		return -errno;
	if (st.st_mode & S_IROTH) {
		log_error("%s is readable by others (mode %04o); chmod o-r it",
			  path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	r = buf_read_file(&b, path);
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' ||
			 b.data[b.len - 1] == ' '))
		b.data[--b.len] = '\0';
	if (b.len < 16) {
		log_error("%s: the enroll secret is shorter than 16 bytes", path);
		buf_free(&b);
		return -EINVAL;
	}
	*ret = buf_take(&b, NULL);
	return 0;
}

static int load_into(const char *body, size_t len, void *ud)
{
	size_t skipped = 0;

	return advisory_db_load(ud, body, len, &skipped);
}

extern const struct embedded_file embedded_data[];

/*
 * One shipped data file: the file a config key names, else the copy of
 * data/NAME compiled in.  The compiled-in copy is used when the key is
 * empty, when it names the default path and nothing is installed there (a
 * binary run from the build tree or a container), and, with a warning,
 * when the named file cannot be read or is invalid: the server never
 * starts with less than it was built with.  Returns what parse() returned
 * for the data used.
 */
static int load_data_file(const char *path, const char *dflt,
			  const char *name, struct advisory_db *db,
			  int (*parse)(struct advisory_db *, const char *,
				       size_t))
{
	const struct embedded_file *e = embedded_data;
	struct buf b = BUF_INIT(ADVISORY_FILE_MAX);
	int r = -ENOENT;

	if (*path) {
		r = buf_read_file(&b, path);
		if (r >= 0 && (r = parse(db, b.data, b.len)) < 0)
			log_warning_errno(r, "%s: %s is invalid", name, path);
		else if (r < 0 && !(r == -ENOENT && strcmp(path, dflt) == 0))
			log_warning_errno(r, "%s: cannot read %s", name, path);
		buf_free(&b);
		if (r >= 0)
			return r;
	}
	while (e->name && strcmp(e->name, name) != 0)
		e++;
	if (!e->name)
		return r;
	log_info("%s: using the copy built into derelictd", name);
	return parse(db, (const char *)e->data, e->len);
}

static int parse_advisories(struct advisory_db *db, const char *json,
			    size_t len)
{
	return advisory_db_load(db, json, len, NULL);
}

/* The shipped advisories and EOL dates, then every import. */
static int load_advisories(const struct server_config *cfg, struct store *st,
			   struct advisory_db **ret)
{
	struct advisory_db *db;
	int r;

	r = advisory_db_new(&db);
	if (r < 0)
		return r;
	r = load_data_file(cfg->advisories_file, DATADIR "/advisories.json",
			   "advisories.json", db, parse_advisories);
	if (r < 0)
		log_warning_errno(r, "advisories: none loaded; MTA "
				     "vulnerabilities will not be found");
	r = load_data_file(cfg->eol_file, DATADIR "/eol.json", "eol.json", db,
			   advisory_db_load_eol);
	if (r < 0)
		log_warning_errno(r, "eol: none loaded; eol-os will not be "
				     "found");
	r = store_advisory_each(st, load_into, db);
	if (r < 0)
		log_warning_errno(r, "advisories: an imported file is invalid");
	log_info("advisories: %zu entries loaded",
		 advisory_db_count(db));
	*ret = db;
	return 0;
}

static int cmd_token(struct store *st, char **cmd, int n)
{
	if (n >= 2 && strcmp(cmd[1], "list") == 0) {
		json_t *items, *t;
		size_t i;

		if (store_token_list(st, &items) < 0) {
			log_error("token list: %s", store_errmsg());
			return 1;
		}
		json_array_foreach(items, i, t) {
			const char *used = json_string_value(
				json_object_get(t, "last_used_at"));

			printf("%-24s %-7s %s %s\n",
			       json_string_value(json_object_get(t, "name")),
			       json_string_value(json_object_get(t, "role")),
			       json_string_value(json_object_get(t, "created_at")),
			       used ? used : "-");
		}
		json_decref(items);
		return 0;
	}
	if (n == 3 && strcmp(cmd[1], "revoke") == 0) {
		int r = store_token_revoke(st, cmd[2]);

		if (r == -ENOENT) {
			log_error("token revoke: no token named %s", cmd[2]);
			return 1;
		}
		if (r < 0) {
			log_error("token revoke: %s", store_errmsg());
			return 1;
		}
		return 0;
	}
	if (n == 5 && strcmp(cmd[1], "add") == 0 &&
	    strcmp(cmd[3], "--role") == 0) {
		char token[65], hash[SHA256_HEX_LEN];
		int r;

		if (strcmp(cmd[4], "admin") != 0 && strcmp(cmd[4], "viewer") != 0) {
			log_error("token add: --role is admin or viewer");
			return 2;
		}
		if (strlen(cmd[2]) == 0 || strlen(cmd[2]) > 63) {
			log_error("token add: the name takes 1 to 63 bytes");
			return 2;
		}
		if (random_hex(token, 32) < 0 ||
		    sha256_hex(token, strlen(token), hash) < 0) {
			log_error("token add: no randomness");
			return 1;
		}
		r = store_token_add(st, cmd[2], cmd[4], hash);
		if (r == -EEXIST) {
			log_error("token add: a token named %s exists; revoke "
				  "it first",
				  cmd[2]);
			return 1;
		}
		if (r < 0) {
			log_error("token add: %s", store_errmsg());
			return 1;
		}
		printf("%s\n", token);
		return 0;
	}
	log_error("usage: derelictd token add NAME --role admin|viewer | "
		  "token list | token revoke NAME");
	return 2;
}

static int cmd_advisories(struct store *st, char **cmd, int n)
{
	struct buf b = BUF_INIT(ADVISORY_FILE_MAX);
	struct advisory_db *db = NULL;
	const char *base;
	int r;

	if (n != 3 || strcmp(cmd[1], "import") != 0) {
		log_error("usage: derelictd advisories import FILE");
		return 2;
	}
	r = buf_read_file(&b, cmd[2]);
	if (r < 0) {
		log_error_errno(r, "advisories import: cannot read %s", cmd[2]);
		buf_free(&b);
		return 1;
	}
	r = advisory_load(b.data, b.len, &db);
	if (r < 0) {
		log_error_errno(r, "advisories import: %s is neither the "
				   "shipped format nor the Debian Security "
				   "Tracker's JSON",
				cmd[2]);
		buf_free(&b);
		return 1;
	}
	base = strrchr(cmd[2], '/');
	base = base ? base + 1 : cmd[2];
	r = store_advisory_import(st, base, b.data, b.len,
				  (int)advisory_db_count(db));
	if (r < 0)
		log_error("advisories import: %s", store_errmsg());
	else
		printf("imported %zu advisories from %s; a running derelictd "
		       "uses them after a reload (SIGHUP)\n",
		       advisory_db_count(db), cmd[2]);
	advisory_db_free(db);
	buf_free(&b);
	return r < 0 ? 1 : 0;
}

static int serve(struct server_config *cfg, struct store *st)
{
	struct app app = { .cfg = cfg, .store = st };
	struct http_server *http = NULL;
	char err[256];
	sigset_t set;
	int sig, r;

	r = read_secret(cfg->enroll_secret_file, &app.enroll_secret);
	if (r == -EPERM || r == -EINVAL)
		return 1;
	if (r < 0)
		log_warning_errno(r, "cannot read the enroll secret %s; "
				     "enrollment is off",
				  cfg->enroll_secret_file);
	load_advisories(cfg, st, &app.advisories);
	store_set_advisories(st, app.advisories);

	/* Signals are taken synchronously below, by this thread alone. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = ingest_start(st, cfg->evaluate_every, &app.ingest);
	if (r < 0) {
		log_error_errno(r, "cannot start the ingest thread");
		goto out;
	}
	r = http_start(&app, &http, err);
	if (r < 0) {
		log_error("%s", err);
		goto out;
	}
	log_notice("derelictd %s listening on %s%s", DERELICT_VERSION,
		   cfg->listen, cfg->tls_cert[0] ? " (TLS)" : "");
	sd_notify(0, "READY=1\nSTATUS=serving");
	for (;;) {
		struct advisory_db *fresh = NULL;

		if (sigwait(&set, &sig) != 0 || sig != SIGHUP)
			break;
		/* Reload: the advisories and imports, then every host is
		 * matched against them again. */
		if (load_advisories(cfg, st, &fresh) < 0)
			continue;
		advisory_db_free((struct advisory_db *)store_set_advisories(st, fresh));
		app.advisories = fresh;
		store_all_hosts_due(st);
		ingest_kick(app.ingest);
		log_notice("SIGHUP: advisories reloaded; other configuration "
			   "changes need a restart");
	}
	sd_notify(0, "STOPPING=1");
	log_notice("stopping: finishing reports in flight");
	http_stop(http);
	r = 0;
out:
	ingest_stop(app.ingest);
	store_set_advisories(st, NULL);
	advisory_db_free(app.advisories);
	free(app.enroll_secret);
	if (r == 0)
		log_notice("stopped");
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct server_config cfg = { 0 };
	struct store *st = NULL;
	char *cmd[16];
	char err[256];
	int ncmd, check_only, rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("derelictd %s\n", DERELICT_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
	}
	if (argc > 16) {
		usage(stderr);
		return 2;
	}
	rc = load_config(argc, argv, &cfg, cmd, &ncmd, &check_only);
	if (rc != 0)
		goto out;
	if (check_only) {
		if (ncmd) {
			log_error("--check-config takes no command");
			rc = 2;
		}
		goto out;
	}
	if (ncmd > 0 && strcmp(cmd[0], "token") != 0 &&
	    strcmp(cmd[0], "backup") != 0 &&
	    strcmp(cmd[0], "advisories") != 0) {
		log_error("unknown command %s (see --help)", cmd[0]);
		rc = 2;
		goto out;
	}
	if (store_open(cfg.database, &cfg, &st, err) < 0) {
		log_error("%s", err);
		rc = 1;
		goto out;
	}
	if (ncmd == 0)
		rc = serve(&cfg, st);
	else if (strcmp(cmd[0], "token") == 0)
		rc = cmd_token(st, cmd, ncmd);
	else if (strcmp(cmd[0], "advisories") == 0)
		rc = cmd_advisories(st, cmd, ncmd);
	else if (ncmd == 2) {
		rc = store_backup(st, cmd[1]) < 0 ? 1 : 0;
		if (rc)
			log_error("backup to %s failed: %s", cmd[1],
				  store_errmsg());
	} else {
		log_error("usage: derelictd backup FILE");
		rc = 2;
	}
out:
	store_close(st);
	conf_free(server_conf_keys, &cfg);
	return rc;
}
