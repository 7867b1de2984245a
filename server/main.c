/*
 * main.c - derelictd: flags and configuration, the maintenance commands
 * (token, backup, migrate-to, advisories), and the server's life from
 * start to SIGTERM.
 */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "advisory.h"
#include "advisory_feed.h"
#include "advisory_fetch.h"
#include "advisory_osv.h"
#include "alerts.h"
#include "answer.h"
#include "digest.h"
#include "hash.h"
#include "http.h"
#include "links.h"
#include "writer.h"
#include "log.h"
#include "notify.h"
#include "probe.h"
#include "server.h"
#include "fastpath.h"
#include "store.h"
#include "store_mail.h"
#include "store_probe.h"
#include "timeutil.h"
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
		"       derelictd [--config FILE|--database FILE] migrate-to "
		"postgresql://USER@HOST/DB\n"
		"       derelictd [--config FILE|--database FILE] advisories "
		"import [--format osv] FILE|DIR\n"
		"       derelictd [--config FILE|--database FILE] advisories "
		"update [URL|FILE]\n"
		"       derelictd --check-config | --version | --help\n\n"
		"The central daemon of derelict: it stores what the agents "
		"report and finds\nthe forgotten hosts of a fleet.\n\n"
		"Options (each is also a key of derelictd.conf):\n"
		"  --config FILE            configuration file (default: %s)\n",
		SERVER_DEFAULT_CONFIG);
	conf_print_flags(server_conf_keys, f);
	fprintf(f, "\nExit status: 0 success, 1 failure, 2 usage error.\n");
}

static int is_http_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* The URLs of the configuration: refused when they are no http(s) URL
 * or too long. */
static int check_urls(const struct server_config *cfg, const char *path)
{
	char base[LINKS_URL_MAX];

	if (cfg->public_url[0] && !is_http_url(cfg->public_url)) {
		log_error("%s: public_url must be an http:// or https:// URL",
			  path);
		return 1;
	}
	if (cfg->alertmanager_url[0] &&
	    (!is_http_url(cfg->alertmanager_url) ||
	     strlen(cfg->alertmanager_url) > LINKS_URL_MAX)) {
		log_error("%s: alertmanager_url must be an http:// or https:// "
			  "URL of at most %d bytes",
			  path, LINKS_URL_MAX);
		return 1;
	}
	/* Room is left for the paths links add. */
	if (strlen(cfg->public_url) > LINKS_URL_MAX - 64 ||
	    links_public_url(cfg, base, sizeof(base)) < 0) {
		log_error("%s: public_url is longer than %d bytes", path,
			  LINKS_URL_MAX - 64);
		return 1;
	}
	return 0;
}

/* For the server and --check-config, not for every command. */
static void warn_links(const struct server_config *cfg)
{
	char base[LINKS_URL_MAX];

	if (!links_needed(cfg) || cfg->public_url[0] ||
	    links_public_url(cfg, base, sizeof(base)) < 0)
		return;
	log_warning("notifications are on but [server] public_url is not "
		    "set: their links use %s, which people may not reach",
		    base);
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
	r = conf_load_file_with(server_conf_keys, cfg, path, config_section,
				cfg, err);
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
		if ((strcmp(a, "--role") == 0 || strcmp(a, "--format") == 0) &&
		    i + 1 < argc) {
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
	if (config_finish(cfg, err) < 0 || digest_check_config(cfg, err) < 0) {
		log_error("%s: %s", path, err);
		return 1;
	}
	return check_urls(cfg, path);
}

/* Reads a file of secrets (at most b's cap) into b; refuses one that
 * others may read, which it logs.  Any other error is the caller's to log. */
static int read_private_file(const char *path, struct buf *b)
{
	struct stat st;
	int r;

	if (stat(path, &st) < 0)
		return -errno;
	if (st.st_mode & S_IROTH) {
		log_error("%s is readable by others (mode %04o); chmod o-r it",
			  path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if ((r = buf_read_file(b, path)) < 0)
		buf_free(b);
	return r;
}

/* Reads the enroll secret, without the line's end. */
static int read_secret(const char *path, char **ret)
{
	struct buf b = BUF_INIT(SECRET_MAX);
	int r = read_private_file(path, &b);

	if (r < 0)
		return r;
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

#define DB_PASSWORD_MAX 1024

/* Reads database_password_file once, at start (the reconnections use what
 * it held): its first line, as the man page says. */
static int read_db_password(struct server_config *cfg)
{
	const char *path = cfg->database_password_file;
	struct buf b = BUF_INIT(DB_PASSWORD_MAX);
	int r;

	if (!path[0])
		return 0;
	r = read_private_file(path, &b);
	if (r < 0 && r != -EPERM)
		log_error_errno(r, "cannot read database_password_file %s%s",
				path, r == -E2BIG ? " (over 1 KiB)" : "");
	if (r < 0)
		return r;
	if (b.data)
		b.data[b.len = strcspn(b.data, "\r\n")] = '\0';
	if (!b.data || !b.len) {
		log_error("%s: the first line, the password, is empty", path);
		buf_free(&b);
		return -EINVAL;
	}
	cfg->database_password = buf_take(&b, NULL);
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

static int cmd_advisories_update(const struct server_config *cfg,
				 struct store *st, const char *source)
{
	char msg[256];
	size_t entries = 0;
	int r = advisory_feed_update(cfg, st, source, msg, &entries);

	if (r < 0) {
		log_error("advisories update: %s; the kept data is unchanged",
			  msg);
		return 1;
	}
	if (r == 1)
		printf("%s; the kept copy is current\n", msg);
	else
		printf("%s; a running derelictd matches every host against "
		       "it within seconds\n",
		       msg);
	return 0;
}

#define OSV_MAX_FILES 200000
#define OSV_MAX_DEPTH 4

struct osv_walk {
	struct advisory_osv *osv;
	size_t files, skipped, bad;
};

/* Adds every *.json file under path (a file or a directory, a few levels
 * deep) to w->osv.  0, or a negative errno that stops the import. */
static int osv_walk(struct osv_walk *w, const char *path, int depth)
{
	struct stat sb;
	struct buf b = BUF_INIT(ADVISORY_OSV_MAX_RECORD);
	DIR *d;
	struct dirent *e;
	int r = 0;

	if (stat(path, &sb) < 0) {
		log_error_errno(-errno, "advisories import: %s", path);
		return -errno;
	}
	if (S_ISDIR(sb.st_mode)) {
		if (depth > OSV_MAX_DEPTH)
			return 0;
		d = opendir(path);
		if (!d) {
			log_error_errno(-errno, "advisories import: %s", path);
			return -errno;
		}
		while (r == 0 && (e = readdir(d))) {
			char sub[4096];
			size_t n = strlen(e->d_name);

			if (e->d_name[0] == '.')
				continue;
			if (snprintf(sub, sizeof(sub), "%s/%s", path,
				     e->d_name) >= (int)sizeof(sub))
				continue;
			if (e->d_type == DT_DIR ||
			    (n > 5 && strcmp(e->d_name + n - 5, ".json") == 0))
				r = osv_walk(w, sub, depth + 1);
		}
		closedir(d);
		return r;
	}
	if (++w->files > OSV_MAX_FILES) {
		log_error("advisories import: more than %d files under the "
			  "directory",
			  OSV_MAX_FILES);
		return -E2BIG;
	}
	r = buf_read_file(&b, path);
	if (r == 0)
		r = advisory_osv_add(w->osv, b.data, b.len);
	buf_free(&b);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		log_warning_errno(r, "advisories import: %s is not an OSV "
				     "record; left out",
				  path);
		w->bad++;
	} else if (r == 1) {
		w->skipped++;
	}
	return 0;
}

static int cmd_import_osv(const struct server_config *cfg, struct store *st,
			  const char *path)
{
	struct buf b = BUF_INIT(ADVISORY_FILE_MAX);
	struct advisory_db *eol = NULL, *check = NULL;
	struct osv_walk w = { 0 };
	char name[128], *doc = NULL;
	const char *base;
	size_t len = 0, entries = 0;
	int r;

	/* Ubuntu's versions ("22.04") name releases; hosts report
	 * codenames ("jammy"): the EOL table maps one to the other. */
	r = advisory_db_new(&eol);
	if (r == 0)
		r = buf_read_file(&b, cfg->eol_file);
	if (r == 0)
		r = advisory_db_load_eol(eol, b.data, b.len);
	buf_free(&b);
	if (r < 0) {
		log_error_errno(r, "advisories import: cannot read the EOL "
				   "table %s, which names Ubuntu's releases",
				cfg->eol_file);
		advisory_db_free(eol);
		return 1;
	}
	r = advisory_osv_new(eol, &w.osv);
	if (r == 0)
		r = osv_walk(&w, path, 0);
	if (r == 0)
		r = advisory_osv_finish(w.osv, &doc, &len, &entries);
	advisory_osv_free(w.osv);
	advisory_db_free(eol);
	if (r == 0 && entries == 0) {
		log_error("advisories import: %s holds no Ubuntu OSV record "
			  "for a known release (%zu files read)",
			  path, w.files);
		r = -ENOENT;
	}
	if (r == 0)
		r = advisory_load(doc, len, &check);
	advisory_db_free(check);
	if (r < 0) {
		free(doc);
		if (r != -ENOENT)
			log_error_errno(r, "advisories import: %s", path);
		return 1;
	}
	{
		char trimmed[4096];
		size_t tl;

		snprintf(trimmed, sizeof(trimmed), "%s", path);
		tl = strlen(trimmed);
		while (tl > 1 && trimmed[tl - 1] == '/')
			trimmed[--tl] = '\0';
		base = strrchr(trimmed, '/');
		snprintf(name, sizeof(name), "osv:%s",
			 base && base[1] ? base + 1 : trimmed);
	}
	r = store_advisory_import(st, name, doc, len, (int)entries);
	free(doc);
	if (r < 0) {
		log_error("advisories import: %s", store_errmsg());
		return 1;
	}
	printf("imported %zu advisories from %zu OSV records of %s (%zu "
	       "without a known Ubuntu release, %zu invalid); a running "
	       "derelictd matches every host against them within seconds\n",
	       entries, w.files - w.skipped - w.bad, path, w.skipped, w.bad);
	return 0;
}

static int cmd_advisories(const struct server_config *cfg, struct store *st,
			  char **cmd, int n)
{
	struct buf b = BUF_INIT(ADVISORY_FILE_MAX);
	struct advisory_db *db = NULL;
	const char *base;
	int r;

	if ((n == 2 || n == 3) && strcmp(cmd[1], "update") == 0)
		return cmd_advisories_update(cfg, st, n == 3 ? cmd[2] : NULL);
	if (n == 5 && strcmp(cmd[1], "import") == 0 &&
	    strcmp(cmd[2], "--format") == 0 && strcmp(cmd[3], "osv") == 0)
		return cmd_import_osv(cfg, st, cmd[4]);
	if (n != 3 || strcmp(cmd[1], "import") != 0) {
		log_error("usage: derelictd advisories import [--format osv] "
			  "FILE|DIR | advisories update [URL|FILE]");
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
		       "matches every host against them within seconds\n",
		       advisory_db_count(db), cmd[2]);
	advisory_db_free(db);
	buf_free(&b);
	return r < 0 ? 1 : 0;
}

static bool is_pg_uri(const char *s)
{
	return strncmp(s, "postgresql://", 13) == 0 ||
	       strncmp(s, "postgres://", 11) == 0;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* derelictd migrate-to URI: the configured SQLite database, opened (and
 * migrated) as the server opens it, copied into an empty PostgreSQL
 * database opened the same way, with a count of every table. */
static int cmd_migrate_to(const struct server_config *cfg, char **cmd, int n)
{
	struct store *from = NULL, *to = NULL;
	struct timespec t0;
	json_t *done = NULL, *t;
	char err[256];
	double took;
	size_t i;
	int rc = 1;

	if (n != 2 || !is_pg_uri(cmd[1])) {
		log_error("usage: derelictd migrate-to postgresql://USER@HOST/DB"
			  " (the destination, an empty database)");
		return 2;
	}
	if (is_pg_uri(cfg->database)) {
		log_error("migrate-to: the configured database is PostgreSQL "
			  "already; migrate-to copies a SQLite database (for "
			  "PostgreSQL to PostgreSQL use pg_dump)");
		return 1;
	}
	/* Opening a path that is not there would make an empty database,
	 * and copy nothing. */
	if (access(cfg->database, F_OK) < 0) {
		log_error_errno(-errno, "migrate-to: the source %s",
				cfg->database);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (store_open(cfg->database, cfg, &from, err) < 0) {
		log_error("migrate-to: the source: %s", err);
		goto out;
	}
	if (store_open(cmd[1], cfg, &to, err) < 0) {
		log_error("migrate-to: the destination: %s", err);
		goto out;
	}
	if (store_migrate_to(from, to, &done, err) < 0) {
		log_error("migrate-to: %s; nothing was committed", err);
		goto out;
	}
	took = seconds_since(&t0);
	if (json_object_get(done, "digests_filled"))
		printf("package versions given the digest SQLite left out: "
		       "%lld\n", (long long)json_integer_value(json_object_get(
					  done, "digests_filled")));
	json_array_foreach(json_object_get(done, "tables"), i, t)
		printf("%s: %lld rows\n",
		       json_string_value(json_object_get(t, "name")),
		       (long long)json_integer_value(json_object_get(t, "rows")));
	printf("total: %lld rows in %zu tables, every count equal on both "
	       "sides, in %.1f s (%.0f rows/s)\n",
	       (long long)json_integer_value(json_object_get(done, "rows")),
	       json_array_size(json_object_get(done, "tables")), took,
	       took > 0 ? (double)json_integer_value(
				  json_object_get(done, "rows")) / took
			: 0.0);
	rc = 0;
out:
	json_decref(done);
	store_close(to);
	store_close(from);
	return rc;
}

/* Every connection is a descriptor, and the soft limit is often 1024:
 * take what the hard limit allows (LimitNOFILE= in the unit sets it), up
 * to far more than the 2048 connections need. */
static void raise_nofile(void)
{
	const rlim_t enough = 65536;
	struct rlimit rl;
	rlim_t want;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	want = rl.rlim_max < enough ? rl.rlim_max : enough;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warning_errno(-errno, "cannot raise the limit of open "
					  "files to %llu",
				  (unsigned long long)want);
}

static int serve(struct server_config *cfg, struct store *st)
{
	struct app app = { .cfg = cfg, .store = st };
	struct http_server *http = NULL;
	struct digest *mail = NULL;
	unsigned char answer_key[ANSWER_KEY_LEN];
	struct notify *notify = NULL;
	struct alerts *alerts = NULL;
	struct probe *probe = NULL;
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
	r = notify_new(cfg, st, &notify, err, sizeof(err));
	if (r < 0) {
		log_error("notifications: %s", err[0] ? err : strerror(-r));
		free(app.enroll_secret);
		return 1;
	}
	r = advisory_feed_new(cfg, st, &app.feed);
	if (r < 0) {
		log_error_errno(r, "cannot load the advisories");
		notify_free(notify);
		free(app.enroll_secret);
		return 1;
	}

	/* Signals are taken synchronously below, by this thread alone. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* For tests/bench only: every report waits for its commit, as before
	 * the fast path (the bench's "committed before the 200" line).
	 * Not on PostgreSQL: what the fast path holds is thrown away when
	 * this node writes (store_epoch()), never when another node of the
	 * same database does, so it would take a token another node revoked
	 * or a host another node deleted.  The store's other memories are
	 * right across nodes: the versions' ids (a version is never deleted)
	 * and the verdicts (emptied when the advisory data changes, which
	 * every node sees through advisory_feed.c's data_version). */
	if (!getenv("DERELICTD_BENCH_DURABLE_UNCHANGED") &&
	    strcmp(store_engine(st), "PostgreSQL") != 0 &&
	    fastpath_new(st, &app.fastpath) < 0)
		log_warning("no memory for the fast path: every report waits "
			    "for its commit");
	r = writer_start(st, app.fastpath, cfg->evaluate_every, &app.writer);
	if (r < 0) {
		log_error_errno(r, "cannot start the ingest thread");
		goto out;
	}
	raise_nofile();
	r = advisory_feed_run(app.feed, app.writer);
	if (r < 0) {
		log_error_errno(r, "cannot start the advisory thread");
		goto out;
	}
	r = notify_start(notify);
	if (r < 0) {
		log_error_errno(r, "cannot start the notification thread");
		goto out;
	}
	r = alerts_start(cfg, st, &alerts);
	if (r < 0) {
		log_error_errno(r, "cannot start the alert thread");
		goto out;
	}
	r = probe_start(cfg, st, &probe);
	if (r < 0) {
		log_error_errno(r, "cannot start the probe thread");
		goto out;
	}
	if (!probe && (r = store_probe_off(st, time_now())) < 0)
		log_warning_errno(r, "probe: cannot drop the results of the "
				     "probe, now off: %s", store_errmsg());
	if (probe)
		log_notice("probe: SMTP to %d network(s), every %llds, %lld "
			   "connections a second at most%s",
			   cfg->probe.n_nets, (long long)cfg->probe.every,
			   (long long)cfg->probe.rate,
			   cfg->probe.relay_test ? ", with the relay test" : "");
	if (cfg->smtp_url[0]) {
		unsigned char offer[ANSWER_KEY_LEN];

		r = answer_key_candidate(cfg->beside, offer);
		if (r == -EPERM) {
			log_error("answer.key beside %s may be read by others; "
				  "chmod 600 it", cfg->beside);
			goto out;
		}
		if (r < 0) {
			log_error_errno(r, "cannot read the mail links' old key "
					   "beside %s", cfg->beside);
			goto out;
		}
		r = store_mail_link_key(st, offer, answer_key);
		explicit_bzero(offer, sizeof(offer));
		if (r < 0) {
			log_error_errno(r, "cannot read or store the mail links' "
					   "key: %s", store_errmsg());
			goto out;
		}
		app.answer_key = answer_key;
		r = digest_start(cfg, st, answer_key, &mail);
		if (r < 0) {
			log_error_errno(r, "cannot start the mail thread");
			goto out;
		}
		log_notice("mail: digests to the projects' contacts through "
			   "%s%s%s", cfg->smtp_url,
			   cfg->escalate_to[0] ? ", escalations to " : "",
			   cfg->escalate_to);
	}
	r = http_start(&app, &http, err);
	if (r < 0) {
		log_error("%s", err);
		goto out;
	}
	log_notice("derelictd %s listening on %s%s", DERELICT_VERSION,
		   cfg->listen, cfg->tls_cert[0] ? " (TLS)" : "");
	notify_describe(notify, err, sizeof(err));
	log_notice("notifications: %s", err[0] ? err : "none configured");
	sd_notify(0, "READY=1\nSTATUS=serving");
	for (;;) {
		if (sigwait(&set, &sig) != 0 || sig != SIGHUP)
			break;
		/* In the background: the advisories and imports are read
		 * again, and every host is matched again if they changed. */
		advisory_feed_reload(app.feed);
		probe_kick(probe);
		log_notice("SIGHUP: reloading the advisories%s; other "
			   "configuration changes need a restart",
			   probe ? " and starting a probe round" : "");
	}
	sd_notify(0, "STOPPING=1");
	log_notice("stopping: finishing reports in flight");
	http_stop(http);
	r = 0;
out:
	/* The alert pusher and the mail thread only read and may be stopped
	 * at any time.  Then the advisory thread: it may kick the ingest
	 * thread, whose last evaluations still need the advisories. */
	alerts_stop(alerts);
	probe_stop(probe);
	digest_stop(mail);
	advisory_feed_stop(app.feed);
	writer_stop(app.writer);
	fastpath_free(app.fastpath);
	/* After the writer: its last commits may queue events, which wait
	 * in the outbox for the next start. */
	notify_free(notify);
	advisory_feed_free(app.feed);
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

	/* No fastbins: a request frees its JSON's many small blocks, and the
	 * next one's first large block made glibc consolidate them each
	 * time, 6% of an unchanged report's time (issue 18). */
	mallopt(M_MXFAST, 0);
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
	if (ncmd == 0)
		warn_links(&cfg);
	if (read_db_password(&cfg) < 0) {
		rc = 1;
		goto out;
	}
	if (check_only) {
		char what[256];
		bool in_uri = false;

		if (ncmd) {
			log_error("--check-config takes no command");
			rc = 2;
		} else if (notify_check_config(&cfg, err, sizeof(err)) < 0) {
			log_error("notifications: %s", err);
			rc = 1;
		} else if (store_describe(&cfg, what, sizeof(what), &in_uri,
					  err) < 0) {
			log_error("database: %s", err);
			rc = 1;
		} else {
			if (in_uri)
				log_warning("database: the URI holds a "
					    "password; put it in "
					    "database_password_file instead");
			printf("database: %s\n", what);
		}
		goto out;
	}
	if (ncmd > 0 && strcmp(cmd[0], "token") != 0 &&
	    strcmp(cmd[0], "backup") != 0 &&
	    strcmp(cmd[0], "migrate-to") != 0 &&
	    strcmp(cmd[0], "advisories") != 0) {
		log_error("unknown command %s (see --help)", cmd[0]);
		rc = 2;
		goto out;
	}
	if (ncmd > 0 && strcmp(cmd[0], "migrate-to") == 0) {
		rc = cmd_migrate_to(&cfg, cmd, ncmd);
		goto out;
	}
	if (advisory_fetch_global_init() < 0) {
		log_error("cannot initialise libcurl");
		rc = 1;
		goto out;
	}
	if (store_open(cfg.database, &cfg, &st, err) < 0) {
		log_error("%s%s", err, ncmd == 0 ? "; refusing to start" : "");
		rc = 1;
		goto out;
	}
	if (ncmd == 0) {
		/* A server that cannot write would take reports and keep
		 * none: better not to start, and say why. */
		if (store_check_writable(st, err) < 0) {
			log_error("%s; refusing to start", err);
			rc = 1;
			goto out;
		}
		rc = serve(&cfg, st);
	} else if (strcmp(cmd[0], "token") == 0)
		rc = cmd_token(st, cmd, ncmd);
	else if (strcmp(cmd[0], "advisories") == 0)
		rc = cmd_advisories(&cfg, st, cmd, ncmd);
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
	config_free(&cfg);
	conf_free(server_conf_keys, &cfg);
	return rc;
}
