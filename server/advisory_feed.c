/* advisory_feed.c - see advisory_feed.h. */
#define _GNU_SOURCE
#include "advisory_feed.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "advisory.h"
#include "advisory_fetch.h"
#include "buf.h"
#include "embed.h"
#include "writer.h"
#include "log.h"
#include "metrics.h"
#include "timeutil.h"

#define TRACKER_COPY "advisories-tracker.json"
#define FETCH_TIMEOUT_S 600
/* A failed fetch (the network not up yet at boot, the tracker away) is
 * tried again sooner than a whole period later. */
#define RETRY_AFTER 900

struct advisory_feed {
	const struct server_config *cfg;
	struct store *st;
	struct writer *writer;
	struct advisory_db *db;		/* in use by the store */
	int64_t loaded_version;		/* data_version db was loaded at */
	pthread_t thread;
	bool running, stopping, reload;
	int cancel;			/* stops a fetch in flight */
	pthread_mutex_t lock;
	pthread_cond_t wake;
};

/* The kept copy's path: next to the database (cfg->beside). */
static int copy_path(const struct server_config *cfg, char *out, size_t size)
{
	const char *db = cfg->beside ? cfg->beside : cfg->database;
	const char *slash = strrchr(db, '/');
	int n;

	if (!slash)
		n = snprintf(out, size, "%s", TRACKER_COPY);
	else
		n = snprintf(out, size, "%.*s/%s", (int)(slash - db), db,
			     TRACKER_COPY);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static bool is_url(const char *s)
{
	return s && (strncmp(s, "http://", 7) == 0 ||
		     strncmp(s, "https://", 8) == 0);
}

static int64_t file_mtime(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (int64_t)sb.st_mtime : 0;
}

struct import_ctx {
	struct advisory_db *db;
	size_t failed;
};

static int load_import(const char *name, int64_t imported_at,
		       const char *body, size_t len, void *ud)
{
	struct import_ctx *x = ud;
	/* The data's date is the file's own ("data_date") where it has one,
	 * else the time of the import. */
	struct advisory_source info = { .origin = ADVISORY_ORIGIN_FILE,
					.fetched_at = imported_at };
	int r;

	snprintf(info.name, sizeof(info.name), "%s", name ? name : "import");
	snprintf(info.location, sizeof(info.location), "%s",
		 name ? name : "");
	r = advisory_db_load_source(x->db, body, len, &info, NULL);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		log_warning_errno(r, "advisories: the import %s is invalid; "
				     "left out",
				  info.name);
		x->failed++;
	}
	return 0;
}

extern const struct embedded_file embedded_data[];

/*
 * One shipped data file into *b: the file path names, else the copy of
 * data/NAME compiled in.  The compiled-in copy is used when path is empty,
 * when it is the default path and nothing is installed there (a binary run
 * from the build tree or a container), and, with a warning, when the file
 * named cannot be read or is not JSON: the server never starts with less
 * than it was built with.  0 with *ret_builtin set, or what reading the
 * file returned when there is no copy either.
 */
static int data_file(const char *path, const char *dflt, const char *name,
		     struct buf *b, bool *ret_builtin)
{
	const struct embedded_file *e = embedded_data;
	int r = -ENOENT;

	*ret_builtin = false;
	if (*path) {
		r = buf_read_file(b, path);
		if (r == 0) {
			json_error_t err;
			json_t *j = json_loadb(b->data, b->len, 0, &err);

			json_decref(j);
			if (j)
				return 0;
			r = -EBADMSG;
			log_warning("%s: %s is not JSON (line %d: %s)", name,
				    path, err.line, err.text);
		} else if (!(r == -ENOENT && strcmp(path, dflt) == 0)) {
			log_warning_errno(r, "%s: cannot read %s", name, path);
		}
		buf_free(b);
	}
	while (e->name && strcmp(e->name, name) != 0)
		e++;
	if (!e->name)
		return r;
	buf_free(b);
	r = buf_append(b, e->data, e->len);
	if (r < 0)
		return r;
	log_info("%s: using the copy built into derelictd", name);
	*ret_builtin = true;
	return 0;
}

/* Everything the data consists of, in a new database. */
static int load_all(const struct server_config *cfg, struct store *st,
		    const struct store_advisory_state *state,
		    struct advisory_db **ret)
{
	struct advisory_db *db;
	struct buf b = BUF_INIT(ADVISORY_FEED_MAX_BYTES);
	struct import_ctx x;
	char path[4096];
	bool builtin;
	int r;

	r = advisory_db_new(&db);
	if (r < 0)
		return r;
	r = data_file(cfg->advisories_file, DATADIR "/advisories.json",
		      "advisories.json", &b, &builtin);
	if (r < 0) {
		log_warning_errno(r, "advisories: none to load; MTA "
				     "vulnerabilities will not be found");
	} else {
		struct advisory_source info = {
			.name = "shipped", .origin = ADVISORY_ORIGIN_SHIPPED
		};

		snprintf(info.location, sizeof(info.location), "%s",
			 builtin ? "built into derelictd"
				 : cfg->advisories_file);
		info.fetched_at = builtin ? 0 : file_mtime(cfg->advisories_file);
		r = advisory_db_load_source(db, b.data, b.len, &info, NULL);
		if (r < 0)
			log_warning_errno(r, "advisories: %s is invalid",
					  info.location);
	}
	buf_free(&b);
	r = data_file(cfg->eol_file, DATADIR "/eol.json", "eol.json", &b,
		      &builtin);
	if (r < 0)
		log_warning_errno(r, "eol: none to load; eol-os will not be "
				     "found");
	else if ((r = advisory_db_load_eol(db, b.data, b.len)) < 0)
		log_warning_errno(r, "eol: %s is invalid",
				  builtin ? "the built-in copy" : cfg->eol_file);
	buf_free(&b);

	x.db = db;
	x.failed = 0;
	r = store_advisory_each(st, load_import, &x);
	if (r < 0) {
		log_warning_errno(r, "advisories: cannot read the imports");
		if (r == -ENOMEM)
			goto fail;
	}

	if (state->feed_fetched_at > 0 &&
	    copy_path(cfg, path, sizeof(path)) == 0 &&
	    (r = buf_read_file(&b, path)) == 0) {
		struct advisory_source info = {
			.name = "tracker", .origin = ADVISORY_ORIGIN_TRACKER,
			.fetched_at = state->feed_fetched_at,
			.data_date = state->feed_data_date,
		};

		snprintf(info.location, sizeof(info.location), "%s",
			 state->feed_url);
		r = advisory_db_load_source(db, b.data, b.len, &info, NULL);
		if (r == -ENOMEM)
			goto fail;
		if (r < 0)
			log_warning_errno(r, "advisories: the kept tracker copy "
					     "%s is invalid",
					  path);
		buf_free(&b);
	} else if (state->feed_fetched_at > 0) {
		log_warning_errno(r, "advisories: cannot read the kept "
				     "tracker copy %s",
				  path);
	}
	*ret = db;
	return 0;
fail:
	buf_free(&b);
	advisory_db_free(db);
	return -ENOMEM;
}

static int64_t newest_date(const struct advisory_db *db)
{
	int64_t newest = 0;

	for (size_t i = 0; i < advisory_db_source_count(db); i++) {
		const struct advisory_source *s = advisory_db_source(db, i);
		int64_t t = s->data_date ? s->data_date : s->fetched_at;

		if (t > newest)
			newest = t;
	}
	return newest;
}

/* Loads the data again, puts it in use, and has every host matched again
 * when it differs from what they were matched against. */
static int reload(struct advisory_feed *f)
{
	struct store_advisory_state state;
	struct advisory_db *db = NULL, *old;
	char digest[65];
	int r;

	r = store_advisory_state(f->st, &state);
	if (r < 0) {
		log_warning("advisories: cannot read their state: %s",
			    store_errmsg());
		return r;
	}
	r = load_all(f->cfg, f->st, &state, &db);
	if (r < 0) {
		log_error_errno(r, "advisories: cannot load; the data in use "
				   "stays");
		return r;
	}
	r = advisory_db_digest(db, digest);
	if (r < 0) {
		advisory_db_free(db);
		return r;
	}
	old = (struct advisory_db *)store_set_advisories(f->st, db);
	f->db = db;
	f->loaded_version = state.data_version;
	metrics_advisory_newest(newest_date(db));
	log_info("advisories: %zu entries from %zu sources loaded",
		 advisory_db_count(db), advisory_db_source_count(db));
	if (strcmp(digest, state.matched_digest) == 0 &&
	    !store_rematch_busy(f->st)) {
		advisory_db_free(old);
		return 0;
	}
	/* The hosts were matched against old (when it is what was loaded
	 * before): only the versions whose verdicts changed are looked at
	 * again, and their hosts. */
	if (old) {
		char was[65];

		/* Not what the hosts were matched against (a start that
		 * failed): then every host, the full way. */
		if (advisory_db_digest(old, was) < 0 ||
		    strcmp(was, state.matched_digest) != 0) {
			advisory_db_free(old);
			old = NULL;
		}
	}
	r = store_rematch_start(f->st, old, digest, time_now());
	if (r < 0) {
		log_warning("advisories: cannot mark the hosts for matching: "
			    "%s",
			    store_errmsg());
		return r;
	}
	log_notice("advisories: the data changed; the hosts are matched "
		   "again");
	if (f->writer)
		writer_kick(f->writer);
	return 0;
}

int advisory_feed_new(const struct server_config *cfg, struct store *st,
		      struct advisory_feed **ret)
{
	struct advisory_feed *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return -ENOMEM;
	f->cfg = cfg;
	f->st = st;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	r = reload(f);
	if (r == -ENOMEM) {
		advisory_feed_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

/* Writes the copy next to the database, whole or not at all. */
static int keep_copy(const struct server_config *cfg, const char *data,
		     size_t len)
{
	char path[4096], tmp[4200];
	size_t off = 0;
	int fd, r = 0;

	if ((r = copy_path(cfg, path, sizeof(path))) < 0)
		return r;
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

static int update(const struct server_config *cfg, struct store *st,
		  const char *source, const int *cancel, char msg[256],
		  size_t *ret_entries)
{
	struct store_advisory_state state;
	struct advisory_fetch_res res = { 0 };
	struct advisory_db *check = NULL;
	struct advisory_source info = { .name = "tracker",
					.origin = ADVISORY_ORIGIN_TRACKER };
	const char *from = source ? source : cfg->advisories_url;
	size_t entries;
	int64_t now = time_now();
	int r;

	msg[0] = '\0';
	if (!from || !from[0]) {
		snprintf(msg, 256, "no source: advisories_url is empty");
		return -EINVAL;
	}
	if ((r = store_advisory_state(st, &state)) < 0) {
		snprintf(msg, 256, "%s", store_errmsg());
		return r;
	}
	if (is_url(from)) {
		/* The validators belong to the copy fetched from this URL. */
		bool same = strcmp(from, state.feed_url) == 0 &&
			    state.feed_fetched_at > 0;
		struct advisory_fetch_req req = {
			.url = from,
			.etag = same ? state.feed_etag : NULL,
			.last_modified = same ? state.feed_last_modified : NULL,
			.max_bytes = ADVISORY_FEED_MAX_BYTES,
			.timeout_s = FETCH_TIMEOUT_S,
			.cancel = cancel,
		};

		r = advisory_fetch(&req, &res);
		if (r < 0) {
			snprintf(msg, 256, "%.100s: %.140s", from, res.error);
			return r;
		}
		if (res.status == 304) {
			state.feed_checked_at = now;
			store_advisory_feed_save(st, &state, 0);
			snprintf(msg, 256, "%s: not modified", from);
			return 1;
		}
	} else {
		buf_init(&res.body, ADVISORY_FEED_MAX_BYTES);
		r = buf_read_file(&res.body, from);
		if (r < 0) {
			snprintf(msg, 256, "cannot read %s: %s", from,
				 strerror(-r));
			buf_free(&res.body);
			return r;
		}
	}

	/* Validated before anything is kept: the whole export parses, in
	 * the tracker's format, and is not a sudden fraction of the last. */
	info.fetched_at = now;
	info.data_date = res.last_modified_at ? res.last_modified_at : now;
	snprintf(info.location, sizeof(info.location), "%s", from);
	r = advisory_db_new(&check);
	if (r == 0)
		r = advisory_db_load_source(check, res.body.data, res.body.len,
					    &info, NULL);
	entries = advisory_db_count(check);
	if (r == 0 && (advisory_db_source_count(check) != 1 ||
		       advisory_db_source(check, 0)->origin !=
			       ADVISORY_ORIGIN_TRACKER)) {
		snprintf(msg, 256, "%s: not the tracker's JSON export", from);
		r = -EINVAL;
	} else if (r == 0 && entries == 0) {
		snprintf(msg, 256, "%s: the export has no entries", from);
		r = -EINVAL;
	} else if (r == 0 && state.feed_fetched_at > 0 &&
		   (int64_t)entries < state.feed_entries / 2) {
		snprintf(msg, 256,
			 "%s: %zu entries, fewer than half the kept copy's "
			 "%lld",
			 from, entries, (long long)state.feed_entries);
		r = -EINVAL;
	} else if (r < 0) {
		snprintf(msg, 256, "%s: %s", from,
			 r == -E2BIG ? "too large" : "not valid JSON in the "
						     "tracker's format");
	}
	advisory_db_free(check);
	if (r == 0) {
		r = keep_copy(cfg, res.body.data, res.body.len);
		if (r < 0)
			snprintf(msg, 256, "cannot keep the copy: %s",
				 strerror(-r));
	}
	buf_free(&res.body);
	if (r < 0)
		return r;
	snprintf(state.feed_url, sizeof(state.feed_url), "%s", from);
	snprintf(state.feed_etag, sizeof(state.feed_etag), "%s", res.etag);
	snprintf(state.feed_last_modified, sizeof(state.feed_last_modified),
		 "%s", res.last_modified);
	state.feed_fetched_at = now;
	state.feed_checked_at = now;
	state.feed_data_date = info.data_date;
	state.feed_entries = (int64_t)entries;
	r = store_advisory_feed_save(st, &state, 1);
	if (r < 0) {
		snprintf(msg, 256, "%s", store_errmsg());
		return r;
	}
	snprintf(msg, 256, "%s: %zu entries kept", from, entries);
	if (ret_entries)
		*ret_entries = entries;
	return 0;
}

int advisory_feed_update(const struct server_config *cfg, struct store *st,
			 const char *source, char msg[256],
			 size_t *ret_entries)
{
	return update(cfg, st, source, NULL, msg, ret_entries);
}

/* The first fetch: at once when the kept copy is older than the period. */
static int64_t first_fetch(const struct advisory_feed *f)
{
	struct store_advisory_state state;
	int64_t last;

	if (store_advisory_state(f->st, &state) < 0)
		return time_now();
	last = state.feed_checked_at > state.feed_fetched_at ?
		       state.feed_checked_at :
		       state.feed_fetched_at;
	if (strcmp(state.feed_url, f->cfg->advisories_url) != 0)
		return time_now();
	return last + f->cfg->advisories_refresh;
}

static int64_t fetch(struct advisory_feed *f)
{
	int64_t period = f->cfg->advisories_refresh;
	char msg[256];
	int r = update(f->cfg, f->st, NULL, &f->cancel, msg, NULL);

	metrics_advisory_fetch(r >= 0);
	if (r < 0) {
		log_warning("advisories: fetch failed, the previous data is "
			    "kept: %s",
			    msg);
		return time_now() + (period < RETRY_AFTER ? period :
							    RETRY_AFTER);
	}
	log_info("advisories: %s", msg);
	return time_now() + period;
}

static void *feed_thread(void *arg)
{
	struct advisory_feed *f = arg;
	bool fetching = f->cfg->advisories_url && f->cfg->advisories_url[0];
	int64_t next_fetch = fetching ? first_fetch(f) : 0;

	pthread_mutex_lock(&f->lock);
	while (!f->stopping) {
		struct store_advisory_state state;
		struct timespec ts;
		bool again = f->reload;

		f->reload = false;
		pthread_mutex_unlock(&f->lock);
		/* The fetch is the leader's (one download for every node);
		 * every node loads what it stored, seen by data_version. */
		if (fetching && time_now() >= next_fetch &&
		    store_leader(f->st) == 1)
			next_fetch = fetch(f);
		if (store_advisory_state(f->st, &state) == 0 &&
		    state.data_version != f->loaded_version)
			again = true;
		if (again)
			reload(f);
		pthread_mutex_lock(&f->lock);
		if (f->stopping || f->reload)
			continue;
		/* Once a second: a command-line update shows within seconds,
		 * for the price of reading one row. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&f->wake, &f->lock, &ts);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int advisory_feed_run(struct advisory_feed *f, struct writer *in)
{
	int r;

	f->writer = in;
	r = pthread_create(&f->thread, NULL, feed_thread, f);
	if (r)
		return -r;
	pthread_setname_np(f->thread, "derelictd-adv");
	f->running = true;
	return 0;
}

void advisory_feed_reload(struct advisory_feed *f)
{
	pthread_mutex_lock(&f->lock);
	f->reload = true;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
}

void advisory_feed_stop(struct advisory_feed *f)
{
	if (!f || !f->running)
		return;
	pthread_mutex_lock(&f->lock);
	f->stopping = true;
	__atomic_store_n(&f->cancel, 1, __ATOMIC_RELAXED);
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	f->running = false;
}

void advisory_feed_free(struct advisory_feed *f)
{
	if (!f)
		return;
	advisory_feed_stop(f);
	store_set_advisories(f->st, NULL);
	advisory_db_free(f->db);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->wake);
	free(f);
}
