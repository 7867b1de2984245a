/*
 * collect_logins.c - who logged in and when: wtmp through the utmpx API,
 * wtmpdb through SQLite where it exists; open sessions from logind on the
 * running host, else from utmp, else from wtmpdb (Debian 13 has no utmp).
 *
 * SQLite is loaded with dlopen() only when a wtmpdb database is there
 * (not on Debian 12): every other run is spared mapping and relocating it.
 */
#define _GNU_SOURCE 1
#include "collect_logins.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-login.h>
#include <unistd.h>
#include <utmpx.h>

#include "jsonutil.h"
#include "procfs.h"
#include "report.h"
#include "sqlite_dl.h"

/* Hard cap on records kept while reading, before the newest are chosen:
 * a host that logs in by script every minute still reads in bounded
 * memory. */
#define LOGINS_READ_MAX 200000

void collect_logins_list_free(struct login_list *l)
{
	if (!l)
		return;
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static void copy_field(char *dst, size_t size, const char *src, size_t max)
{
	size_t len = strnlen(src, max);

	if (len >= size)
		len = size - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* in_order: records come oldest first (wtmp), so of two in the same second
 * the later one is the newer; wtmpdb's come newest first. */
static int add_rec(struct login_list *l, int64_t since, const char *user,
		   size_t user_max, const char *from, size_t from_max,
		   int64_t at, int in_order)
{
	struct login_rec rec;

	copy_field(rec.user, sizeof(rec.user), user, user_max);
	copy_field(rec.from, sizeof(rec.from), from ? from : "", from_max);
	rec.at = at;
	if (!rec.user[0])
		return 0;
	if (!l->have_last || at > l->last.at ||
	    (in_order && at == l->last.at)) {
		l->last = rec;
		l->have_last = 1;
	}
	if (at < since || l->n >= LOGINS_READ_MAX)
		return 0;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 64;
		struct login_rec *nv = realloc(l->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n++] = rec;
	return 0;
}

int collect_logins_read_wtmp(const char *path, int64_t since,
			     struct login_list *l)
{
	struct utmpx *u;
	struct stat st;
	int r = 0, records = 0;

	if (stat(path, &st) < 0)
		return -errno;
	/* utmpxname() keeps the name; glibc reads the file record by record
	 * under its own lock. */
	if (utmpxname(path) < 0)
		return -ENOMEM;
	setutxent();
	while ((u = getutxent())) {
		/* Debian 13's wtmp is empty, or holds only agetty's
		 * LOGIN_PROCESS records: no source of logins. */
		if (u->ut_type == BOOT_TIME)
			records++;
		if (u->ut_type != USER_PROCESS)
			continue;
		records++;
		r = add_rec(l, since, u->ut_user, sizeof(u->ut_user),
			    u->ut_host, sizeof(u->ut_host),
			    (int64_t)u->ut_tv.tv_sec, 1);
		if (r < 0)
			break;
	}
	endutxent();
	return r < 0 ? r : records;
}

/* SQLite, loaded the first time a database is there (sqlite_dl.h). */
static const struct sqlite_dl *sql;

int collect_logins_read_wtmpdb(const char *path, int64_t since,
			       struct login_list *l, int *ret_open)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct stat sb;
	int r = 0, rc, open = 0;

	if (stat(path, &sb) < 0)
		return -errno;
	if ((r = sqlite_dl_load(&sql)) < 0)
		return r;
	rc = sql->open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		r = -EIO;
		goto out;
	}
	sql->busy_timeout(db, 2000);
	/* Login is in microseconds; Type 3 is USER_PROCESS, Type 1 a boot.
	 * The newest row first, so the "last" login is right even outside
	 * the window.  A session is open when it has no logout and began
	 * after the last boot: wtmpdb last calls the others "crash". */
	rc = sql->prepare_v2(db,
		"SELECT User, Login, RemoteHost, Logout IS NULL AND Login >= "
		"COALESCE((SELECT MAX(Login) FROM wtmp WHERE Type = 1), 0) "
		"FROM wtmp WHERE Type = 3 "
		"AND (Login >= ?1 OR Logout IS NULL OR ID = (SELECT ID FROM "
		"wtmp WHERE Type = 3 ORDER BY Login DESC LIMIT 1)) "
		"ORDER BY Login DESC LIMIT ?2",
		-1, &st, NULL);
	if (rc != SQLITE_OK) {
		r = -EIO;
		goto out;
	}
	sql->bind_int64(st, 1, since * 1000000);
	sql->bind_int(st, 2, LOGINS_READ_MAX);
	while ((rc = sql->step(st)) == SQLITE_ROW) {
		const char *user = (const char *)sql->column_text(st, 0);
		const char *from = (const char *)sql->column_text(st, 2);
		int64_t at = sql->column_int64(st, 1) / 1000000;

		if (sql->column_int64(st, 3))
			open++;
		r = add_rec(l, since, user ? user : "", 256, from, 256, at, 0);
		if (r < 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		r = -EIO;
	else
		*ret_open = open;
out:
	sql->finalize(st);
	sql->close(db);
	return r;
}

/* root + rel with every symlink resolved inside root, as the host it was
 * taken from would resolve it: Debian 13's var/lib/wtmpdb/wtmp.db is a
 * link to ../../log/wtmp.db, and an absolute link must not lead to the
 * machine the agent runs on.  0, or negative errno (-ENOENT). */
static int path_in_root(const char *root, const char *rel, char *out,
			size_t size)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	char fdlink[64];
	struct stat st;
	ssize_t n;
	int dfd, fd, r;

	if (!root || !*root || strcmp(root, "/") == 0)
		return procfs_path(out, size, "/", rel);
	dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
	r = fd < 0 ? -errno : 0;
	close(dfd);
	if (r == -ENOSYS || r == -EPERM) {
		/* No openat2 (before Linux 5.6, or filtered): follow no
		 * link at all rather than the host's. */
		if ((r = procfs_path(out, size, root, rel)) < 0)
			return r;
		if (lstat(out, &st) < 0)
			return -errno;
		return S_ISREG(st.st_mode) ? 0 : -ENOENT;
	}
	if (r < 0)
		return r;
	snprintf(fdlink, sizeof(fdlink), "/proc/self/fd/%d", fd);
	n = readlink(fdlink, out, size);
	if (n < 0)
		r = -errno;
	else if ((size_t)n >= size)
		r = -ENAMETOOLONG;
	else
		out[n] = '\0';
	close(fd);
	return r;
}

int collect_logins_wtmpdb_path(const char *root, char *out, size_t size)
{
	/* Debian 13 keeps the database in /var/log and links wtmpdb's
	 * default place to it; elsewhere the default place holds it. */
	static const char *const rels[] = { "var/log/wtmp.db",
					    "var/lib/wtmpdb/wtmp.db" };
	struct stat st;
	int r = -ENOENT;

	for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
		r = path_in_root(root, rels[i], out, size);
		if (r == 0 && stat(out, &st) == 0 && S_ISREG(st.st_mode))
			return 0;
		if (r == 0)
			r = -ENOENT;
		else if (r != -ENOENT && r != -ENOTDIR && r != -ELOOP)
			return r;
	}
	return r;
}

int collect_logins_logind_sessions(const char *root)
{
	char **ids = NULL;
	struct stat st;
	int n, open = 0;

	/* logind speaks for the host the agent runs on only. */
	if (root && *root && strcmp(root, "/") != 0)
		return -ENXIO;
	if (sd_booted() <= 0 || stat("/run/systemd/sessions", &st) < 0 ||
	    !S_ISDIR(st.st_mode))
		return -ENXIO;
	n = sd_get_sessions(&ids);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		char *class = NULL, *state = NULL;

		/* Sessions of people ("user", "user-early", ...), not a
		 * user's service manager or a cron job; a "closing" one has
		 * logged out and left processes behind. */
		if (sd_session_get_class(ids[i], &class) >= 0 &&
		    sd_session_get_state(ids[i], &state) >= 0 &&
		    strncmp(class, "user", 4) == 0 &&
		    (class[4] == '\0' || class[4] == '-') &&
		    strcmp(state, "closing") != 0)
			open++;
		free(class);
		free(state);
		free(ids[i]);
	}
	free(ids);
	return open;
}

int collect_logins_open_sessions(const char *root, const char *utmp_path)
{
	struct utmpx *u;
	struct stat st;
	int n = 0;

	if (stat(utmp_path, &st) < 0)
		return -errno;
	if (utmpxname(utmp_path) < 0)
		return -ENOMEM;
	setutxent();
	while ((u = getutxent())) {
		char path[4096], rel[64];

		if (u->ut_type != USER_PROCESS || !u->ut_user[0])
			continue;
		/* A crashed session leaves its record behind: count only
		 * those whose process still runs. */
		snprintf(rel, sizeof(rel), "proc/%d", (int)u->ut_pid);
		if (procfs_path(path, sizeof(path), root, rel) == 0 &&
		    access(path, F_OK) == 0)
			n++;
	}
	endutxent();
	return n;
}

/* Newest first; equal records next to each other for dropping. */
static int cmp_rec(const void *a, const void *b)
{
	const struct login_rec *x = a, *y = b;
	int c;

	if (x->at != y->at)
		return x->at > y->at ? -1 : 1;
	if ((c = strcmp(x->user, y->user)))
		return c;
	return strcmp(x->from, y->from);
}

static json_t *rec_json(const struct login_rec *rec)
{
	json_t *it = json_object();

	if (!it || json_set_str(it, "user", rec->user) < 0 ||
	    json_set_time(it, "at", rec->at) < 0 ||
	    json_set_str(it, "from", rec->from[0] ? rec->from : NULL) < 0) {
		json_decref(it);
		return NULL;
	}
	return it;
}

int collect_logins(const char *root, int64_t now, json_t **ret)
{
	struct login_list l = { 0 };
	char path[4096];
	const char *source = "none";
	json_t *section = NULL, *items, *last;
	int64_t since = now - LOGINS_WINDOW_S;
	int r, have_wtmp = 0, have_db = 0, open, db_open = 0;
	size_t i, kept = 0;

	if ((r = procfs_path(path, sizeof(path), root, "var/log/wtmp")) < 0)
		return r;
	r = collect_logins_read_wtmp(path, since, &l);
	if (r > 0)
		have_wtmp = 1;
	else if (r < 0 && r != -ENOENT)
		goto out;
	r = collect_logins_wtmpdb_path(root, path, sizeof(path));
	if (r == 0)
		r = collect_logins_read_wtmpdb(path, since, &l, &db_open);
	if (r == 0)
		have_db = 1;
	else if (r != -ENOENT)
		goto out;
	if (have_wtmp && have_db)
		source = "wtmp+wtmpdb";
	else if (have_db)
		source = "wtmpdb";
	else if (have_wtmp)
		source = "wtmp";
	open = collect_logins_logind_sessions(root);
	if (open < 0) {
		if ((r = procfs_path(path, sizeof(path), root, "run/utmp")) < 0)
			goto out;
		open = collect_logins_open_sessions(root, path);
	}
	if (open < 0)
		open = have_db ? db_open : 0;

	r = -ENOMEM;
	section = json_object();
	items = json_array();
	if (!section || !items ||
	    json_object_set_new(section, "items", items) < 0 ||
	    json_set_str(section, "source", source) < 0 ||
	    json_object_set_new(section, "open_sessions",
				json_integer(open)) < 0)
		goto out;
	last = l.have_last ? rec_json(&l.last) : json_null();
	if (!last || json_object_set_new(section, "last", last) < 0)
		goto out;
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_rec);
	for (i = 0; i < l.n && kept < LOGINS_MAX_ITEMS; i++) {
		/* wtmp and wtmpdb record the same login twice. */
		if (i > 0 && cmp_rec(&l.v[i], &l.v[i - 1]) == 0)
			continue;
		if (json_array_append_new(items, rec_json(&l.v[i])) < 0)
			goto out;
		kept++;
	}
	*ret = section;
	section = NULL;
	r = 0;
out:
	json_decref(section);
	collect_logins_list_free(&l);
	return r;
}
