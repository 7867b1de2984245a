/* collect_rpm.c - see collect_rpm.h. */
#include "collect_rpm.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonutil.h"
#include "procfs.h"
#include "report.h"
#include "rpmdb_bdb.h"
#include "rpmhdr.h"
#include "sqlite_dl.h"

#define EVR_MAX 600

/* Fedora >= 36 keeps the database in usr/lib/sysimage/rpm and makes
 * var/lib/rpm a link to it: the real place first, so that a link under
 * another root is never followed out of it. */
static const char *const sqlite_paths[] = {
	"usr/lib/sysimage/rpm/rpmdb.sqlite",
	"var/lib/rpm/rpmdb.sqlite",
};
static const char *const bdb_path = "var/lib/rpm/Packages";

/* "name-version-release.arch.rpm" (arch "src" or "nosrc"): the name and
 * "version-release" into the buffers.  0, or -EINVAL when it is not one. */
static int split_srpm(const char *s, char *name, size_t name_size, char *vr,
		      size_t vr_size)
{
	const char *end = s + strlen(s), *r, *v;

	if (end - s > 4 && strcmp(end - 4, ".rpm") == 0)
		end -= 4;
	if (end - s > 4 && strncmp(end - 4, ".src", 4) == 0)
		end -= 4;
	else if (end - s > 6 && strncmp(end - 6, ".nosrc", 6) == 0)
		end -= 6;
	for (r = end; r > s && r[-1] != '-'; r--)
		;
	if (r <= s + 1)
		return -EINVAL;
	for (v = r - 1; v > s && v[-1] != '-'; v--)
		;
	if (v <= s + 1 || (size_t)(v - 1 - s) >= name_size ||
	    (size_t)(end - v) >= vr_size)
		return -EINVAL;
	memcpy(name, s, (size_t)(v - 1 - s));
	name[v - 1 - s] = '\0';
	memcpy(vr, v, (size_t)(end - v));
	vr[end - v] = '\0';
	return 0;
}

int collect_rpm_add_header(const uint8_t *blob, size_t len, json_t *items)
{
	char evr[EVR_MAX], src_name[RPMHDR_MAX_STRING + 1];
	char src_vr[RPMHDR_MAX_STRING + 1], src_evr[EVR_MAX];
	const char *source, *source_version;
	struct rpmhdr_pkg p;
	long long epoch;
	json_t *it;

	if (rpmhdr_parse(blob, len, &p) < 0)
		return 0;
	if (json_array_size(items) >= REPORT_MAX_ITEMS)
		return 0;
	epoch = p.epoch < 0 ? 0 : p.epoch;
	snprintf(evr, sizeof(evr), "%lld:%s-%s", epoch, p.version, p.release);
	source = p.name;
	source_version = evr;
	if (p.sourcerpm && split_srpm(p.sourcerpm, src_name, sizeof(src_name),
				      src_vr, sizeof(src_vr)) == 0) {
		snprintf(src_evr, sizeof(src_evr), "%lld:%s", epoch, src_vr);
		source = src_name;
		source_version = src_evr;
	}
	it = json_object();
	if (!it || json_set_str(it, "name", p.name) < 0 ||
	    json_set_str(it, "version", evr) < 0 ||
	    json_set_str(it, "arch", p.arch) < 0 ||
	    json_set_str(it, "source", source) < 0 ||
	    json_set_str(it, "source_version", source_version) < 0) {
		json_decref(it);
		return -ENOMEM;
	}
	return json_array_append_new(items, it) == 0 ? 0 : -ENOMEM;
}

static int add_record(const uint8_t *data, size_t len, void *ctx)
{
	return collect_rpm_add_header(data, len, ctx);
}

int collect_rpm_parse_bdb(const uint8_t *buf, size_t len, json_t *items)
{
	return rpmdb_bdb_foreach(buf, len, add_record, items, NULL);
}

/* SQLite, loaded the first time a database is there (sqlite_dl.h). */
static const struct sqlite_dl *sql;

/* One pass over the Packages table of db (a path, or a file: URI with
 * SQLITE_OPEN_URI in flags).  0, -EAGAIN when SQLite could not open or
 * lock it (worth another way in), -EBADMSG when it is no RPM database,
 * -EIO, -ENOMEM. */
static int read_sqlite_as(const char *db_name, int flags, json_t *items)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int r = 0, rc;

	rc = sql->open_v2(db_name, &db, SQLITE_OPEN_READONLY | flags, NULL);
	if (rc != SQLITE_OK) {
		r = -EAGAIN;
		goto out;
	}
	sql->busy_timeout(db, 2000);
	rc = sql->prepare_v2(db, "SELECT blob FROM Packages ORDER BY hnum", -1,
			    &st, NULL);
	if (rc != SQLITE_OK) {
		r = (rc & 0xff) == SQLITE_ERROR ? -EBADMSG : -EAGAIN;
		goto out;
	}
	while ((rc = sql->step(st)) == SQLITE_ROW) {
		const void *blob = sql->column_blob(st, 0);
		int n = sql->column_bytes(st, 0);

		if (!blob || n <= 0)
			continue;
		if ((r = collect_rpm_add_header(blob, (size_t)n, items)) < 0)
			goto out;
		if (json_array_size(items) >= REPORT_MAX_ITEMS)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = json_array_size(items) ? -EIO : -EAGAIN;
out:
	if (st)
		sql->finalize(st);
	if (db)
		sql->close(db);
	return r;
}

/* "file:" and path, with the characters a URI gives meaning escaped, and
 * "?immutable=1".  0 or -ENAMETOOLONG. */
static int immutable_uri(const char *path, char *out, size_t size)
{
	size_t n = 0;

	if (size < 32)
		return -ENAMETOOLONG;
	memcpy(out, "file:", 5);
	n = 5;
	for (const char *p = path; *p; p++) {
		if (n + 4 + sizeof("?immutable=1") > size)
			return -ENAMETOOLONG;
		if (*p == '%' || *p == '?' || *p == '#') {
			snprintf(out + n, 4, "%%%02x", (unsigned char)*p);
			n += 3;
		} else {
			out[n++] = *p;
		}
	}
	snprintf(out + n, size - n, "?immutable=1");
	return 0;
}

/*
 * rpm keeps rpmdb.sqlite in WAL mode.  A read-only reader of a WAL
 * database needs its -shm file, which it may not create where /var is
 * read-only (the agent's unit has ProtectSystem=strict) and rpm removes
 * when it closes.  With no write-ahead log on disk the main file holds
 * everything: it is then read as immutable, without locks or -shm.  With
 * one, the ordinary way first; if that cannot open or lock it, immutable
 * as well (missing only a transaction rpm has not yet checkpointed).
 */
static int read_sqlite(const char *path, json_t *items)
{
	char wal[4200], uri[3 * 4096 + 32];
	struct stat st;
	size_t before = json_array_size(items);
	int r;

	if ((r = sqlite_dl_load(&sql)) < 0)
		return r;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	if (stat(wal, &st) == 0 && st.st_size > 0) {
		r = read_sqlite_as(path, 0, items);
		if (r != -EAGAIN)
			return r;
		/* Nothing half-read stays behind. */
		while (json_array_size(items) > before)
			json_array_remove(items, json_array_size(items) - 1);
	}
	if ((r = immutable_uri(path, uri, sizeof(uri))) < 0)
		return r;
	r = read_sqlite_as(uri, SQLITE_OPEN_URI, items);
	return r == -EAGAIN ? -EIO : r;
}

static int read_bdb(const char *path, json_t *items)
{
	struct stat st;
	void *map;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		return -EBADMSG;
	}
	if ((unsigned long long)st.st_size > COLLECT_RPM_MAX_DB) {
		close(fd);
		return -EFBIG;
	}
	/* Mapped, not read: a Packages file is tens of megabytes, of which
	 * the walk touches each page once. */
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -errno;
	r = collect_rpm_parse_bdb(map, (size_t)st.st_size, items);
	munmap(map, (size_t)st.st_size);
	return r;
}

/* The first database found: 1 SQLite, 2 Berkeley DB, 0 none. */
static int find_db(const char *root, char *path, size_t size)
{
	struct stat st;

	for (size_t i = 0; i < sizeof(sqlite_paths) / sizeof(*sqlite_paths);
	     i++)
		if (procfs_path(path, size, root, sqlite_paths[i]) == 0 &&
		    stat(path, &st) == 0 && S_ISREG(st.st_mode))
			return 1;
	if (procfs_path(path, size, root, bdb_path) == 0 &&
	    stat(path, &st) == 0 && S_ISREG(st.st_mode))
		return 2;
	return 0;
}

int collect_rpm_present(const char *root)
{
	char path[4096];

	return find_db(root, path, sizeof(path)) != 0;
}

/* The newest of the file and, for SQLite, its write-ahead log. */
static int64_t db_changed_at(const char *path)
{
	char wal[4200];
	struct stat st;
	int64_t t = 0;

	if (stat(path, &st) == 0)
		t = st.st_mtime;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	if (stat(wal, &st) == 0 && st.st_mtime > t)
		t = st.st_mtime;
	return t;
}

int collect_rpm(const char *root, json_t **ret)
{
	char path[4096];
	json_t *section, *items;
	struct stat st;
	int kind, r;

	kind = find_db(root, path, sizeof(path));
	if (kind == 0)
		return -ENOENT;
	if (stat(path, &st) == 0 &&
	    (unsigned long long)st.st_size > COLLECT_RPM_MAX_DB)
		return -EFBIG;
	section = json_object();
	items = json_array();
	if (!section || !items ||
	    json_object_set_new(section, "items", items) < 0) {
		/* A failed set_new has dropped items already. */
		if (!section)
			json_decref(items);
		json_decref(section);
		return -ENOMEM;
	}
	r = kind == 1 ? read_sqlite(path, items) : read_bdb(path, items);
	if (r == 0 && (json_set_str(section, "manager", "rpm") < 0 ||
		       json_set_time(section, "changed_at",
				     db_changed_at(path)) < 0))
		r = -ENOMEM;
	if (r < 0) {
		json_decref(section);
		return r;
	}
	*ret = section;
	return 0;
}
