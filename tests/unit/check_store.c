/*
 * check_store.c - the store on a real temporary SQLite database: every
 * function of server/store.h with the errors its header promises, and
 * the failures a server meets (a full disk, a read-only file or mount, a
 * corrupt file), each injected for real (a small tmpfs, the immutable
 * attribute, a read-only remount, garbage bytes).  A failed write must
 * leave nothing of itself behind.  The fault cases mount and change file
 * attributes, so they need root (CI runs the suite as root); without it
 * they say so and check nothing.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "advisory.h"
#include "jsonutil.h"
#include "report.h"
#include "report_check.h"
#include "server.h"
#include "store.h"
#include "testutil.h"
#include "timeutil.h"

#define AGENT_A "6f1c9a52-3a47-4d0e-9a59-0a7f6e3b1c01"
#define AGENT_B "6f1c9a52-3a47-4d0e-9a59-0a7f6e3b1c02"
#define HASH_ADMIN                                                             \
	"a000000000000000000000000000000000000000000000000000000000000001"
#define HASH_VIEWER                                                            \
	"a000000000000000000000000000000000000000000000000000000000000002"
#define HASH_HOST_A                                                            \
	"b000000000000000000000000000000000000000000000000000000000000001"
#define HASH_HOST_A2                                                           \
	"b000000000000000000000000000000000000000000000000000000000000002"
#define HASH_HOST_B                                                            \
	"b000000000000000000000000000000000000000000000000000000000000003"

/* base: the test case's directory, made and removed by the parent
 * process; dir: the running test's, inside it. */
static char base[64], dir[96], db_path[160], mnt[128];
static struct server_config cfg;
static struct store *st;
static int64_t now;

static void open_store(void)
{
	char err[256] = "";
	int r = store_open(db_path, &cfg, &st, err);

	ck_assert_msg(r == 0, "store_open %s: %s (%d)", db_path, err, r);
}

static void close_store(void)
{
	store_close(st);
	st = NULL;
}

static void setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	ck_assert_int_eq(conf_defaults(server_conf_keys, &cfg), 0);
	ck_assert_int_eq(time_parse("2026-11-26T10:00:00Z", &now), 0);
	snprintf(dir, sizeof(dir), "%s/t-XXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/derelict.db", dir);
	mnt[0] = '\0';
	open_store();
}

static void teardown(void)
{
	close_store();
	if (mnt[0]) {
		umount2(mnt, MNT_DETACH);
		mnt[0] = '\0';
	}
	testutil_rmtree(dir);
	conf_free(server_conf_keys, &cfg);
}

static void setup_case(void)
{
	testutil_tmpdir(base, sizeof(base), "store");
}

/* A failed check ends its test's process before teardown(): what it
 * left, a mounted tmpfs above all, goes here, in the parent. */
static void teardown_case(void)
{
	DIR *d = opendir(base);
	struct dirent *e;
	char path[384];

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/mnt", base, e->d_name);
		umount2(path, MNT_DETACH);
	}
	closedir(d);
	testutil_rmtree(base);
}

/* --- reports ------------------------------------------------------------ */

/* A schema-1 report as an agent sends it (tests/integration/reports.py
 * builds the same), each section sealed with its hash; pkg_version is
 * lib3's version, so two reports differ by one package. */
static json_t *report_of(const char *agent_id, const char *hostname,
			 const char *pkg_version)
{
	char text[8192], items[4096];
	size_t n = 0;
	json_t *rep, *secs, *sec;
	const char *name;

	for (int i = 0; i < 20; i++) {
		char v[32];

		snprintf(v, sizeof(v), "1.%d-1", i);
		n +=
		    (size_t)snprintf(items + n, sizeof(items) - n,
				     "%s{\"name\":\"lib%d\",\"version\":\"%s\","
				     "\"arch\":\"amd64\",\"source\":\"lib%d\","
				     "\"source_version\":\"%s\"}",
				     i ? "," : "", i, i == 3 ? pkg_version : v,
				     i, i == 3 ? pkg_version : v);
		ck_assert_uint_lt(n, sizeof(items));
	}
	snprintf(
	    text, sizeof(text),
	    "{\"schema\":1,\"agent\":{\"id\":\"%s\",\"version\":\"test\"},"
	    "\"collected_at\":\"2026-11-26T10:00:00Z\","
	    "\"host\":{\"hostname\":\"%s\",\"fqdn\":\"%s.example\","
	    "\"machine_id\":\"0123456789abcdef0123456789abcdef\","
	    "\"os\":{\"id\":\"debian\",\"version_id\":\"12\","
	    "\"codename\":\"bookworm\","
	    "\"pretty_name\":\"Debian GNU/Linux 12 (bookworm)\"},"
	    "\"kernel\":\"6.1.0-13-amd64\",\"arch\":\"x86_64\","
	    "\"boot_time\":\"2026-11-20T08:00:00Z\","
	    "\"addresses\":[{\"ifname\":\"eth0\",\"address\":\"192.0.2.10\","
	    "\"prefix\":24}],\"project\":null,\"owner\":null},"
	    "\"sections\":{"
	    "\"ports\":{\"items\":[{\"proto\":\"tcp\",\"address\":\"0.0.0.0\","
	    "\"port\":22,\"pid\":100,\"process\":\"sshd\","
	    "\"exe\":\"/usr/sbin/sshd\",\"user\":\"root\"}]},"
	    "\"services\":{\"source\":\"procfs\",\"items\":[]},"
	    "\"processes\":{\"items\":[{\"name\":\"sshd\","
	    "\"exe\":\"/usr/sbin/sshd\",\"user\":\"root\",\"count\":1}]},"
	    "\"packages\":{\"manager\":\"dpkg\","
	    "\"changed_at\":\"2026-11-01T00:00:00Z\",\"items\":[%s]},"
	    "\"logins\":{\"source\":\"wtmp\",\"open_sessions\":0,"
	    "\"last\":null,\"items\":[]}}}",
	    agent_id, hostname, hostname, items);
	rep = testutil_parse(text);
	secs = json_object_get(rep, "sections");
	json_object_foreach(secs, name, sec)
	{
		char h[SHA256_HEX_LEN];

		ck_assert_int_eq(report_section_hash(sec, h), 0);
		ck_assert_int_eq(json_set_str(sec, "hash", h), 0);
	}
	return rep;
}

/* rep with every section cut to its hash: "unchanged since". */
static json_t *hashes_only(const json_t *rep)
{
	json_t *out = json_deep_copy(rep), *secs, *sec;
	const char *name;

	secs = json_object_get(out, "sections");
	json_object_foreach(secs, name, sec)
	{
		json_t *h = json_incref(json_object_get(sec, "hash"));

		json_object_clear(sec);
		json_object_set_new(sec, "hash", h);
	}
	return out;
}

/* Takes rep the way POST /reports does: validated, prepared outside the
 * writer, applied and committed in the writer's transaction (rolled back
 * on failure).  0 with the job's HTTP status in *ret_status, or the
 * store's error.  Validation takes the hashes out of the report it
 * checks: it checks a copy, and rep stays as it is. */
static int send_report(int64_t host_id, const char *agent_id, const json_t *rep,
		       int *ret_status, int *ret_resend)
{
	struct ingest_job job = {0};
	struct report_verdict v = {0};
	json_t *copy = json_deep_copy(rep);
	int r;

	job.host_id = host_id;
	job.report = copy;
	job.bytes = 4096;
	r = report_check(copy, agent_id, &job, &v);
	ck_assert_msg(r == 0, "report_check: %d %s", v.status, v.message);
	ck_assert_int_eq(store_prepare_report(st, &job), 0);
	r = store_write_begin(st);
	if (r == 0)
		r = store_apply_report(st, &job, now);
	if (r == 0)
		r = store_write_commit(st);
	if (r < 0)
		store_write_rollback(st);
	*ret_status = job.status;
	if (ret_resend)
		*ret_resend = job.resend_mask;
	ingest_job_free(&job);
	json_decref(copy);
	return r;
}

/* One pass of the writer's background work, in its own transaction, as
 * the ingest thread runs it: how many hosts or rows it took. */
static int evaluate_pass(int limit)
{
	int n = -1;

	ck_assert_int_eq(store_write_begin(st), 0);
	ck_assert_int_eq(store_evaluate_due(st, now, limit, &n), 0);
	ck_assert_int_eq(store_write_commit(st), 0);
	return n;
}

static int index_pass(int limit)
{
	int n = -1;

	ck_assert_int_eq(store_write_begin(st), 0);
	ck_assert_int_eq(store_index_packages(st, limit, &n), 0);
	ck_assert_int_eq(store_write_commit(st), 0);
	return n;
}

static int prune_pass(int64_t reports_before, int64_t at, int limit)
{
	int n = -1;

	ck_assert_int_eq(store_write_begin(st), 0);
	ck_assert_int_eq(store_prune(st, reports_before, at, limit, &n), 0);
	ck_assert_int_eq(store_write_commit(st), 0);
	return n;
}

static int64_t enroll(const char *agent_id, const char *hostname,
		      const char *token_hash)
{
	int64_t id = 0;

	ck_assert_int_eq(
	    store_enroll(st, agent_id, hostname, token_hash, now, &id), 0);
	ck_assert_int_gt(id, 0);
	return id;
}

/* An enrolled host that has sent one full report; its id. */
static int64_t reported_host(const char *agent_id, const char *hostname,
			     const char *token_hash)
{
	int64_t id = enroll(agent_id, hostname, token_hash);
	json_t *rep = report_of(agent_id, hostname, "1.3-1");
	int status = 0;

	ck_assert_int_eq(send_report(id, agent_id, rep, &status, NULL), 0);
	ck_assert_int_eq(status, 200);
	json_decref(rep);
	return id;
}

/* The version of lib3 stored for host id, in a static buffer. */
static const char *lib3_version(int64_t id)
{
	static char v[32];
	json_t *sec = NULL, *it;
	size_t i;

	v[0] = '\0';
	ck_assert_int_eq(
	    store_host_section(st, id, SECTION_PACKAGES, 100, 0, &sec), 0);
	json_array_foreach(json_object_get(sec, "items"), i,
			   it) if (strcmp(json_get_str(it, "name"), "lib3") ==
				   0)
	    snprintf(v, sizeof(v), "%s", json_get_str(it, "version"));
	json_decref(sec);
	return v;
}

static int64_t total_of(const json_t *page)
{
	return json_integer_value(json_object_get(page, "total"));
}

static int64_t hosts_total(void)
{
	struct host_filter f = {.abandoned = -1, .mail = -1, .limit = 100};
	json_t *page = NULL;
	int64_t n;

	ck_assert_int_eq(store_hosts_list(st, &f, &page), 0);
	n = total_of(page);
	json_decref(page);
	return n;
}

/* --- opening ------------------------------------------------------------ */

START_TEST(open_migrates_and_reopens)
{
	struct store *other = NULL;
	struct store_health h;
	char err[256] = "", path[160];
	sqlite3 *db;
	sqlite3_stmt *s;
	int version = 0;

	ck_assert_int_eq(store_check_writable(st, err), 0);
	store_health(st, &h);
	ck_assert_int_eq(h.error, 0);
	/* Every migration ran: the schema version is the newest one's. */
	close_store();
	ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	ck_assert_int_eq(
	    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	ck_assert_int_ge(version, 5);
	sqlite3_close(db);
	/* Opened again, nothing to migrate; the data stays. */
	open_store();
	ck_assert_int_eq(store_check_writable(st, err), 0);

	/* A file in a directory that does not exist: a message naming it. */
	snprintf(path, sizeof(path), "%s/no-such-dir/x.db", dir);
	err[0] = '\0';
	ck_assert_int_eq(store_open(path, &cfg, &other, err), -EIO);
	ck_assert_ptr_null(other);
	ck_assert_ptr_nonnull(strstr(err, path));
}
END_TEST

START_TEST(open_refuses_a_newer_schema)
{
	struct store *other = NULL;
	char err[256] = "", sql[64];
	sqlite3_stmt *q;
	sqlite3 *db;
	int version;

	close_store();
	ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1,
					    &q, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	ck_assert_int_gt(version, 0);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = 999");
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(store_open(db_path, &cfg, &other, err), -EPROTO);
	ck_assert_ptr_null(other);
	ck_assert_ptr_nonnull(strstr(err, "999"));
	/* teardown closes the store: open one that works again. */
	ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	open_store();
}
END_TEST

/* --- tokens, auth, enrollment ------------------------------------------- */

START_TEST(tokens_and_auth)
{
	struct principal p;
	json_t *list = NULL;

	ck_assert_int_eq(store_token_add(st, "ops", "admin", HASH_ADMIN), 0);
	ck_assert_int_eq(store_token_add(st, "dash", "viewer", HASH_VIEWER), 0);
	/* A name is taken once; the first token stays. */
	ck_assert_int_eq(store_token_add(st, "ops", "viewer", HASH_HOST_B),
			 -EEXIST);
	ck_assert_int_eq(store_token_list(st, &list), 0);
	ck_assert_uint_eq(json_array_size(list), 2);
	ck_assert_str_eq(json_get_str(json_array_get(list, 0), "name"), "dash");
	ck_assert_str_eq(json_get_str(json_array_get(list, 1), "role"),
			 "admin");
	json_decref(list);

	ck_assert_int_eq(store_auth(st, HASH_ADMIN, &p), 0);
	ck_assert_int_eq(p.role, ROLE_ADMIN);
	ck_assert_str_eq(p.name, "ops");
	ck_assert_int_eq(store_auth(st, HASH_VIEWER, &p), 0);
	ck_assert_int_eq(p.role, ROLE_VIEWER);
	ck_assert_int_eq(store_auth(st, HASH_HOST_B, &p), -ENOENT);

	ck_assert_int_eq(store_token_revoke(st, "ops"), 0);
	ck_assert_int_eq(store_token_revoke(st, "ops"), -ENOENT);
	ck_assert_int_eq(store_auth(st, HASH_ADMIN, &p), -ENOENT);
}
END_TEST

START_TEST(enroll_and_reenroll)
{
	struct principal p;
	int64_t id, again = 0;

	id = enroll(AGENT_A, "alpha", HASH_HOST_A);
	ck_assert_int_eq(store_auth(st, HASH_HOST_A, &p), 0);
	ck_assert_int_eq(p.role, ROLE_HOST);
	ck_assert_int_eq(p.host_id, id);
	ck_assert_str_eq(p.name, AGENT_A);
	ck_assert_str_eq(p.pending, "");

	/* The same agent id again: the same host, the old token still
	 * works and the new one waits beside it. */
	ck_assert_int_eq(
	    store_enroll(st, AGENT_A, "alpha", HASH_HOST_A2, now, &again), 0);
	ck_assert_int_eq(again, id);
	ck_assert_int_eq(store_auth(st, HASH_HOST_A, &p), 0);
	ck_assert_str_eq(p.pending, "");
	ck_assert_int_eq(store_auth(st, HASH_HOST_A2, &p), 0);
	ck_assert_int_eq(p.host_id, id);
	ck_assert_str_eq(p.pending, HASH_HOST_A2);

	ck_assert_int_gt(enroll(AGENT_B, "beta", HASH_HOST_B), id);
	ck_assert_int_eq(hosts_total(), 2);
}
END_TEST

/* --- reports and the host's reads ---------------------------------------- */

START_TEST(report_full_then_unchanged_then_changed)
{
	int64_t id = enroll(AGENT_A, "alpha", HASH_HOST_A);
	json_t *rep = report_of(AGENT_A, "alpha", "1.3-1"), *bare, *h = NULL;
	json_t *sec = NULL, *ch = NULL, *it;
	int status = 0, resend = 0;
	size_t i;
	int seen = 0;

	/* Hashes of sections the server never had: 409, all of them. */
	bare = hashes_only(rep);
	ck_assert_int_eq(send_report(id, AGENT_A, bare, &status, &resend), 0);
	ck_assert_int_eq(status, 409);
	ck_assert_int_eq(resend & (1 << SECTION_PORTS), 1 << SECTION_PORTS);
	ck_assert_int_eq(resend & (1 << SECTION_PACKAGES),
			 1 << SECTION_PACKAGES);
	/* ... and nothing of it was kept. */
	ck_assert_int_eq(store_host_section(st, id, SECTION_PORTS, 10, 0, &sec),
			 0);
	ck_assert_uint_eq(json_array_size(json_object_get(sec, "items")), 0);
	json_decref(sec);

	ck_assert_int_eq(send_report(id, AGENT_A, rep, &status, NULL), 0);
	ck_assert_int_eq(status, 200);
	/* The same state as hashes alone is taken now. */
	ck_assert_int_eq(send_report(id, AGENT_A, bare, &status, NULL), 0);
	ck_assert_int_eq(status, 200);
	json_decref(bare);
	json_decref(rep);

	ck_assert_int_eq(store_host_get(st, id, &h), 0);
	ck_assert_str_eq(json_get_str(h, "hostname"), "alpha");
	ck_assert_str_eq(json_get_str(h, "kernel"), "6.1.0-13-amd64");
	ck_assert_str_eq(json_get_str(json_object_get(h, "os"), "codename"),
			 "bookworm");
	json_decref(h);

	/* A page of a section, in the stored order, with its cursor. */
	ck_assert_int_eq(
	    store_host_section(st, id, SECTION_PACKAGES, 5, 5, &sec), 0);
	ck_assert_int_eq(total_of(sec), 20);
	ck_assert_uint_eq(json_array_size(json_object_get(sec, "items")), 5);
	ck_assert_str_eq(json_get_str(sec, "next_cursor"), "10");
	ck_assert_uint_eq(strlen(json_get_str(sec, "hash")), 64);
	json_decref(sec);
	ck_assert_int_eq(
	    store_host_section(st, id, SECTION_PACKAGES, 5, 15, &sec), 0);
	ck_assert(json_is_null(json_object_get(sec, "next_cursor")));
	json_decref(sec);

	/* One package upgraded: one change in the history. */
	rep = report_of(AGENT_A, "alpha", "1.3-2");
	ck_assert_int_eq(send_report(id, AGENT_A, rep, &status, NULL), 0);
	ck_assert_int_eq(status, 200);
	json_decref(rep);
	ck_assert_int_eq(store_host_changes(st, id, 50, 0, &ch), 0);
	json_array_foreach(json_object_get(ch, "items"), i, it)
	{
		if (strcmp(json_get_str(it, "section"), "packages") == 0) {
			ck_assert_str_eq(json_get_str(it, "action"), "changed");
			ck_assert_str_eq(
			    json_get_str(json_object_get(it, "new"), "version"),
			    "1.3-2");
			ck_assert_str_eq(
			    json_get_str(json_object_get(it, "old"), "version"),
			    "1.3-1");
			seen++;
		}
	}
	ck_assert_int_eq(seen, 1);
	json_decref(ch);
}
END_TEST

/* The packages of new as a delta from old (SPEC section 3): what is new
 * or changed, and the identities gone; new's other sections whole. */
static json_t *packages_delta(const json_t *old, json_t *new)
{
	json_t *out = json_deep_copy(new),
	       *secs = json_object_get(out, "sections");
	json_t *o =
	    json_object_get(json_object_get(old, "sections"), "packages");
	json_t *n = json_object_get(secs, "packages"), *d, *added, *removed;
	size_t i, j;
	json_t *it, *ot;

	d = json_pack("{s:s,s:s,s:O,s:O}", "manager", "dpkg", "changed_at",
		      "2026-11-01T00:00:00Z", "hash",
		      json_object_get(n, "hash"), "base",
		      json_object_get(o, "hash"));
	added = json_array();
	removed = json_array();
	json_array_foreach(json_object_get(n, "items"), i, it)
	{
		int same = 0;

		json_array_foreach(json_object_get(o, "items"), j, ot) same |=
		    json_equal(it, ot);
		if (!same)
			json_array_append(added, it);
	}
	json_array_foreach(json_object_get(o, "items"), i, ot)
	{
		int kept = 0;

		json_array_foreach(json_object_get(n, "items"), j, it) kept |=
		    strcmp(json_get_str(it, "name"),
			   json_get_str(ot, "name")) == 0;
		if (!kept)
			json_array_append_new(
			    removed, json_pack("{s:s,s:s}", "name",
					       json_get_str(ot, "name"), "arch",
					       json_get_str(ot, "arch")));
	}
	json_object_set_new(d, "added", added);
	json_object_set_new(d, "removed", removed);
	json_object_set_new(secs, "packages", d);
	return out;
}

START_TEST(report_packages_as_delta)
{
	int64_t id = reported_host(AGENT_A, "alpha", HASH_HOST_A);
	json_t *old = report_of(AGENT_A, "alpha", "1.3-1");
	json_t *new = report_of(AGENT_A, "alpha", "1.3-2"), *delta, *sec;
	json_t *pk;
	int status = 0, resend = 0;

	/* lib7 removed as well: the delta carries lib3 and lib7's name. */
	pk = json_object_get(json_object_get(new, "sections"), "packages");
	json_array_remove(json_object_get(pk, "items"), 7);
	{
		char h[SHA256_HEX_LEN];

		json_object_del(pk, "hash");
		ck_assert_int_eq(report_section_hash(pk, h), 0);
		json_set_str(pk, "hash", h);
	}
	delta = packages_delta(old, new);
	sec = json_object_get(json_object_get(delta, "sections"), "packages");
	ck_assert_uint_eq(json_array_size(json_object_get(sec, "added")), 1);
	ck_assert_uint_eq(json_array_size(json_object_get(sec, "removed")), 1);
	ck_assert_int_eq(send_report(id, AGENT_A, delta, &status, NULL), 0);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(lib3_version(id), "1.3-2");
	ck_assert_int_eq(
	    store_host_section(st, id, SECTION_PACKAGES, 100, 0, &sec), 0);
	ck_assert_int_eq(total_of(sec), 19);
	ck_assert_str_eq(json_get_str(sec, "hash"), json_get_str(pk, "hash"));
	json_decref(sec);

	/* The same delta again: its base is no longer what is stored, so
	 * the packages are asked for in full and nothing changes. */
	ck_assert_int_eq(send_report(id, AGENT_A, delta, &status, &resend), 0);
	ck_assert_int_eq(status, 409);
	ck_assert_int_eq(resend, 1 << SECTION_PACKAGES);
	ck_assert_int_eq(
	    store_host_section(st, id, SECTION_PACKAGES, 100, 0, &sec), 0);
	ck_assert_int_eq(total_of(sec), 19);
	json_decref(sec);
	json_decref(delta);
	json_decref(old);
	json_decref(new);
}
END_TEST

START_TEST(report_for_a_deleted_host_is_404)
{
	int64_t id = enroll(AGENT_A, "alpha", HASH_HOST_A);
	json_t *rep = report_of(AGENT_A, "alpha", "1.3-1"), *h = NULL;
	int status = 0;

	ck_assert_int_eq(store_host_delete(st, id), 0);
	ck_assert_int_eq(send_report(id, AGENT_A, rep, &status, NULL), 0);
	ck_assert_int_eq(status, 404);
	ck_assert_int_eq(store_host_get(st, id, &h), -ENOENT);
	ck_assert_int_eq(hosts_total(), 0);
	json_decref(rep);
}
END_TEST

START_TEST(hosts_list_filters_and_caps)
{
	struct host_filter f = {.abandoned = -1, .mail = -1, .limit = 1};
	char q[STORE_SEARCH_MAX + 2];
	json_t *page = NULL;

	reported_host(AGENT_A, "alpha", HASH_HOST_A);
	reported_host(AGENT_B, "beta", HASH_HOST_B);
	ck_assert_int_eq(store_hosts_list(st, &f, &page), 0);
	ck_assert_int_eq(total_of(page), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(page, "items")), 1);
	ck_assert(!json_is_null(json_object_get(page, "next_cursor")));
	json_decref(page);

	f.limit = 10;
	f.q = "beta";
	ck_assert_int_eq(store_hosts_list(st, &f, &page), 0);
	ck_assert_int_eq(total_of(page), 1);
	ck_assert_str_eq(
	    json_get_str(json_array_get(json_object_get(page, "items"), 0),
			 "hostname"),
	    "beta");
	json_decref(page);
	f.q = "gamma";
	ck_assert_int_eq(store_hosts_list(st, &f, &page), 0);
	ck_assert_int_eq(total_of(page), 0);
	json_decref(page);

	/* Longer than STORE_SEARCH_MAX: refused before any work. */
	memset(q, 'x', sizeof(q) - 1);
	q[sizeof(q) - 1] = '\0';
	f.q = q;
	page = NULL;
	ck_assert_int_eq(store_hosts_list(st, &f, &page), -E2BIG);
	ck_assert_ptr_null(page);
	q[STORE_SEARCH_MAX] = '\0';
	ck_assert_int_eq(store_hosts_list(st, &f, &page), 0);
	json_decref(page);
}
END_TEST

START_TEST(host_patch_and_delete)
{
	int64_t id = reported_host(AGENT_A, "alpha", HASH_HOST_A);
	json_t *patch, *h = NULL, *sec = NULL, *ch = NULL;

	patch = testutil_parse("{\"note\":\"web01, ask Bob\"}");
	ck_assert_int_eq(store_host_patch(st, id, patch, now), 0);
	ck_assert_int_eq(store_host_patch(st, id + 100, patch, now), -ENOENT);
	json_decref(patch);
	/* An unknown project: nothing of the patch is kept. */
	patch = testutil_parse("{\"note\":\"changed\",\"project\":\"nope\"}");
	ck_assert_int_eq(store_host_patch(st, id, patch, now), -ENOENT);
	json_decref(patch);
	ck_assert_int_eq(store_host_get(st, id, &h), 0);
	ck_assert_str_eq(json_get_str(h, "note"), "web01, ask Bob");
	ck_assert(json_is_null(json_object_get(h, "project")));
	json_decref(h);

	patch = testutil_parse("{\"name\":\"shop\",\"owner\":\"bob\"}");
	ck_assert_int_eq(store_project_create(st, patch, now), 0);
	json_decref(patch);
	patch = testutil_parse("{\"project\":\"shop\",\"retired\":true}");
	ck_assert_int_eq(store_host_patch(st, id, patch, now), 0);
	json_decref(patch);
	ck_assert_int_eq(store_host_get(st, id, &h), 0);
	ck_assert_str_eq(json_get_str(h, "project"), "shop");
	ck_assert(json_is_true(json_object_get(h, "retired")));
	ck_assert(json_is_true(json_object_get(h, "project_pinned")));
	json_decref(h);

	ck_assert_int_eq(store_host_delete(st, id), 0);
	ck_assert_int_eq(store_host_delete(st, id), -ENOENT);
	ck_assert_int_eq(store_host_get(st, id, &h), -ENOENT);
	ck_assert_int_eq(store_host_section(st, id, SECTION_PORTS, 10, 0, &sec),
			 -ENOENT);
	ck_assert_int_eq(store_host_changes(st, id, 10, 0, &ch), -ENOENT);
	ck_assert_int_eq(hosts_total(), 0);
}
END_TEST

START_TEST(projects)
{
	json_t *p, *got = NULL, *page = NULL;

	p = testutil_parse("{\"name\":\"shop\",\"owner\":\"bob\","
			   "\"ends_on\":\"2026-12-31\"}");
	ck_assert_int_eq(store_project_create(st, p, now), 0);
	ck_assert_int_eq(store_project_create(st, p, now), -EEXIST);
	json_decref(p);
	p = testutil_parse("{\"name\":\"blog\"}");
	ck_assert_int_eq(store_project_create(st, p, now), 0);
	json_decref(p);

	ck_assert_int_eq(store_project_get(st, "shop", &got), 0);
	ck_assert_str_eq(json_get_str(got, "owner"), "bob");
	ck_assert_str_eq(json_get_str(got, "ends_on"), "2026-12-31");
	json_decref(got);
	ck_assert_int_eq(store_project_get(st, "nope", &got), -ENOENT);

	ck_assert_int_eq(store_projects_list(st, 1, NULL, &page), 0);
	ck_assert_int_eq(total_of(page), 2);
	ck_assert_str_eq(
	    json_get_str(json_array_get(json_object_get(page, "items"), 0),
			 "name"),
	    "blog");
	json_decref(page);
	ck_assert_int_eq(store_projects_list(st, 10, "blog", &page), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(page, "items")), 1);
	json_decref(page);

	p = testutil_parse("{\"owner\":\"carol\",\"contact\":\"c@example\"}");
	ck_assert_int_eq(store_project_patch(st, "shop", p), 0);
	ck_assert_int_eq(store_project_patch(st, "nope", p), -ENOENT);
	json_decref(p);
	ck_assert_int_eq(store_project_get(st, "shop", &got), 0);
	ck_assert_str_eq(json_get_str(got, "owner"), "carol");
	ck_assert_str_eq(json_get_str(got, "contact"), "c@example");
	json_decref(got);

	ck_assert_int_eq(store_project_delete(st, "shop"), 0);
	ck_assert_int_eq(store_project_delete(st, "shop"), -ENOENT);
	ck_assert_int_eq(store_project_get(st, "shop", &got), -ENOENT);
}
END_TEST

/* --- findings, evaluation, the fleet ------------------------------------- */

START_TEST(findings_list_and_ack)
{
	struct finding_filter f = {.limit = 50};
	int64_t id = reported_host(AGENT_A, "alpha", HASH_HOST_A), fid;
	json_t *page = NULL, *it;

	/* No project and no owner, past the grace: an unowned host. */
	ck_assert_int_eq(store_all_hosts_due(st), 0);
	now += cfg.unowned_grace + 86400;
	ck_assert_int_eq(evaluate_pass(10), 1);
	/* Nothing is due right after. */
	ck_assert_int_eq(evaluate_pass(10), 0);

	f.rule = "unowned-host";
	f.host_id = id;
	ck_assert_int_eq(store_findings_list(st, &f, &page), 0);
	ck_assert_int_eq(total_of(page), 1);
	it = json_array_get(json_object_get(page, "items"), 0);
	ck_assert_str_eq(json_get_str(it, "status"), "open");
	fid = json_integer_value(json_object_get(it, "id"));
	json_decref(page);

	ck_assert_int_eq(store_finding_ack(st, fid, "known", NULL, "ops", now),
			 0);
	ck_assert_int_eq(
	    store_finding_ack(st, fid + 1000, "x", NULL, "ops", now), -ENOENT);
	f.status = "acknowledged";
	ck_assert_int_eq(store_findings_list(st, &f, &page), 0);
	ck_assert_int_eq(total_of(page), 1);
	it = json_array_get(json_object_get(page, "items"), 0);
	ck_assert_str_eq(json_get_str(it, "ack_reason"), "known");
	json_decref(page);
	f.status = "open";
	ck_assert_int_eq(store_findings_list(st, &f, &page), 0);
	ck_assert_int_eq(total_of(page), 0);
	json_decref(page);
}
END_TEST

START_TEST(packages_summary_metrics)
{
	json_t *page = NULL, *sum = NULL, *m = NULL;

	reported_host(AGENT_A, "alpha", HASH_HOST_A);
	reported_host(AGENT_B, "beta", HASH_HOST_B);
	/* Found before and after the index takes the hosts. */
	ck_assert_int_eq(store_packages_find(st, "lib3", 1, 0, NULL, &page), 0);
	ck_assert_int_eq(total_of(page), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(page, "items")), 1);
	ck_assert_str_eq(
	    json_get_str(json_array_get(json_object_get(page, "items"), 0),
			 "version"),
	    "1.3-1");
	json_decref(page);
	ck_assert_int_eq(index_pass(10), 2);
	ck_assert_int_eq(index_pass(10), 0);
	ck_assert_int_eq(store_packages_find(st, "lib3", 10, 0, NULL, &page),
			 0);
	ck_assert_int_eq(total_of(page), 2);
	json_decref(page);
	ck_assert_int_eq(store_packages_find(st, "nothing", 10, 0, NULL, &page),
			 0);
	ck_assert_int_eq(total_of(page), 0);
	json_decref(page);

	ck_assert_int_eq(store_summary(st, now, &sum), 0);
	ck_assert_int_eq(json_get_int(sum, "hosts", -1), 2);
	ck_assert_uint_eq(
	    json_array_size(json_object_get(sum, "findings_over_time")), 30);
	ck_assert_ptr_nonnull(json_object_get(sum, "advisories"));
	json_decref(sum);

	ck_assert_int_eq(store_metrics(st, &m), 0);
	ck_assert_int_eq(json_get_int(m, "active", -1), 2);
	json_decref(m);
}
END_TEST

START_TEST(prune_old_history)
{
	int64_t id = reported_host(AGENT_A, "alpha", HASH_HOST_A);
	json_t *rep = report_of(AGENT_A, "alpha", "1.3-2"), *ch = NULL;
	int status = 0;

	ck_assert_int_eq(send_report(id, AGENT_A, rep, &status, NULL), 0);
	json_decref(rep);
	ck_assert_int_eq(store_host_changes(st, id, 50, 0, &ch), 0);
	ck_assert_int_gt(total_of(ch), 0);
	json_decref(ch);

	/* Within history_keep nothing of the history goes. */
	ck_assert_int_eq(prune_pass(0, now + 60, 1000), 0);
	/* Past it, all of it, at most limit rows a pass. */
	ck_assert_int_eq(prune_pass(0, now + cfg.history_keep + 60, 1), 1);
	ck_assert_int_gt(
	    prune_pass(now + 1, now + cfg.history_keep + 60, 100000), 0);
	ck_assert_int_eq(store_host_changes(st, id, 50, 0, &ch), 0);
	ck_assert_int_eq(total_of(ch), 0);
	json_decref(ch);
}
END_TEST

/* --- advisories ----------------------------------------------------------- */

struct seen {
	int n;
	char names[4][32];
	size_t lens[4];
	int stop_at;
};

static int each_import(const char *name, int64_t imported_at, const char *body,
		       size_t len, void *ud)
{
	struct seen *s = ud;

	ck_assert_int_gt(imported_at, 0);
	ck_assert_ptr_nonnull(body);
	if (s->n < 4) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
		s->lens[s->n] = len;
	}
	if (++s->n == s->stop_at)
		return -ECANCELED;
	return 0;
}

START_TEST(advisory_imports_and_state)
{
	struct store_advisory_state a, b;
	struct seen s = {0};
	json_t *j = NULL;

	ck_assert_int_eq(store_advisory_state(st, &a), 0);
	ck_assert_int_eq(
	    store_advisory_import(st, "tracker", "{\"a\":1}", 7, 1), 0);
	ck_assert_int_eq(store_advisory_import(st, "local", "{}", 2, 0), 0);
	/* The same name again replaces the first import. */
	ck_assert_int_eq(
	    store_advisory_import(st, "tracker", "{\"a\":12}", 8, 1), 0);
	ck_assert_int_eq(store_advisory_each(st, each_import, &s), 0);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.names[0], "local");
	ck_assert_str_eq(s.names[1], "tracker");
	ck_assert_uint_eq(s.lens[1], 8);
	/* fn's first negative answer stops the walk and is the answer. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 1;
	ck_assert_int_eq(store_advisory_each(st, each_import, &s), -ECANCELED);
	ck_assert_int_eq(s.n, 1);

	ck_assert_int_eq(store_advisory_state(st, &b), 0);
	ck_assert_int_eq(b.data_version, a.data_version + 3);

	snprintf(b.feed_url, sizeof(b.feed_url), "https://example.org/t.json");
	snprintf(b.feed_etag, sizeof(b.feed_etag), "\"e1\"");
	b.feed_fetched_at = now;
	b.feed_entries = 42;
	ck_assert_int_eq(store_advisory_feed_save(st, &b, 1), 0);
	ck_assert_int_eq(store_advisory_state(st, &a), 0);
	ck_assert_str_eq(a.feed_etag, "\"e1\"");
	ck_assert_int_eq(a.feed_entries, 42);
	ck_assert_int_eq(a.data_version, b.data_version + 1);
	ck_assert_int_eq(store_advisory_feed_save(st, &a, 0), 0);
	ck_assert_int_eq(store_advisory_state(st, &b), 0);
	ck_assert_int_eq(b.data_version, a.data_version);

	ck_assert_int_eq(store_advisory_matched(st, "d1gest", now), 0);
	ck_assert_int_eq(store_advisory_state(st, &a), 0);
	ck_assert_str_eq(a.matched_digest, "d1gest");
	ck_assert_int_eq(a.matched_at, now);
	ck_assert_int_eq(store_advisories_json(st, &j), 0);
	ck_assert(json_is_object(j));
	json_decref(j);
	j = store_advisories_age_json(st, now);
	ck_assert_ptr_nonnull(j);
	json_decref(j);
}
END_TEST

START_TEST(advisories_in_use)
{
	struct advisory_db *db = NULL;
	struct buf b;
	json_t *age;
	int64_t newest;

	/* None yet: no date, and stale. */
	ck_assert_int_eq(store_advisories_newest(st), 0);
	age = store_advisories_age_json(st, now);
	ck_assert(json_is_true(json_object_get(age, "stale")));
	ck_assert(json_is_null(json_object_get(age, "data_date")));
	json_decref(age);

	testutil_read(testutil_repo("data/advisories.json"), &b);
	ck_assert_int_eq(advisory_load(b.data, b.len, &db), 0);
	buf_free(&b);
	ck_assert_ptr_null(store_set_advisories(st, db));
	newest = store_advisories_newest(st);
	ck_assert_int_gt(newest, 0);
	age = store_advisories_age_json(st, newest + 60);
	ck_assert(json_is_false(json_object_get(age, "stale")));
	ck_assert_int_eq(json_get_int(age, "age_seconds", -1), 60);
	json_decref(age);
	age =
	    store_advisories_age_json(st, newest + STORE_ADVISORIES_STALE + 1);
	ck_assert(json_is_true(json_object_get(age, "stale")));
	json_decref(age);
	/* Evaluating with them, then taking them back. */
	reported_host(AGENT_A, "alpha", HASH_HOST_A);
	ck_assert_int_eq(store_all_hosts_due(st), 0);
	ck_assert_int_eq(evaluate_pass(10), 1);
	ck_assert_ptr_eq(store_set_advisories(st, NULL), db);
	advisory_db_free(db);
	ck_assert_int_eq(store_checkpoint(st), 0);
}
END_TEST

/* --- backup ----------------------------------------------------------------
 */

START_TEST(backup_is_a_whole_copy)
{
	int64_t id = reported_host(AGENT_A, "alpha", HASH_HOST_A);
	struct store *copy = NULL;
	char dest[160], err[256] = "";
	json_t *h = NULL;

	snprintf(dest, sizeof(dest), "%s/backup.db", dir);
	ck_assert_int_eq(store_backup(st, dest), 0);
	ck_assert_int_eq(store_open(dest, &cfg, &copy, err), 0);
	ck_assert_int_eq(store_host_get(copy, id, &h), 0);
	ck_assert_str_eq(json_get_str(h, "hostname"), "alpha");
	json_decref(h);
	store_close(copy);

	snprintf(dest, sizeof(dest), "%s/no-such-dir/backup.db", dir);
	ck_assert_int_eq(store_backup(st, dest), -EIO);
	ck_assert_int_ne(access(dest, F_OK), 0);
}
END_TEST

/* --- injected failures -----------------------------------------------------
 */

static int is_root(void)
{
	if (geteuid() == 0)
		return 1;
	fprintf(stderr, "check_store: not root, fault case not run\n");
	return 0;
}

/* Moves the store onto a tmpfs of size bytes mounted at dir/mnt; 0 (and
 * a note) where this machine lets nobody mount, as in a container
 * without CAP_SYS_ADMIN. */
static int store_on_tmpfs(const char *size)
{
	char opts[32];

	if (!is_root())
		return 0;
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	ck_assert_int_eq(mkdir(mnt, 0700), 0);
	snprintf(opts, sizeof(opts), "size=%s", size);
	if (mount("tmpfs", mnt, "tmpfs", 0, opts) < 0) {
		ck_assert_int_eq(errno, EPERM);
		fprintf(stderr,
			"check_store: cannot mount a tmpfs here (%s), "
			"fault case not run\n",
			strerror(errno));
		mnt[0] = '\0';
		return 0;
	}
	close_store();
	snprintf(db_path, sizeof(db_path), "%s/derelict.db", mnt);
	open_store();
	return 1;
}

/* Fills the file system under the store.  The store is opened again
 * first: closing folds the WAL back and cuts it to nothing, so from then
 * on every commit needs blocks of its own, and there are none. */
static void fill_disk(char filler[160])
{
	static char zeros[4096];
	int fd;

	close_store();
	open_store();
	snprintf(filler, 160, "%s/filler", mnt);
	fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	while (write(fd, zeros, sizeof(zeros)) > 0)
		;
	ck_assert_int_eq(errno, ENOSPC);
	close(fd);
}

START_TEST(full_disk_writes_fail_and_leave_nothing)
{
	struct store_health h;
	struct principal p;
	char filler[160], err[256] = "";
	json_t *patch, *rep, *got = NULL;
	int64_t id, other = 0;
	int status = 0;

	if (!store_on_tmpfs("4m"))
		return;
	id = reported_host(AGENT_A, "alpha", HASH_HOST_A);
	fill_disk(filler);

	ck_assert_int_eq(store_token_add(st, "ops", "admin", HASH_ADMIN),
			 -ENOSPC);
	patch = testutil_parse("{\"name\":\"shop\"}");
	ck_assert_int_eq(store_project_create(st, patch, now), -ENOSPC);
	json_decref(patch);
	ck_assert_int_eq(
	    store_enroll(st, AGENT_B, "beta", HASH_HOST_B, now, &other),
	    -ENOSPC);
	ck_assert_int_eq(other, 0);
	patch = testutil_parse("{\"note\":\"lost\"}");
	ck_assert_int_eq(store_host_patch(st, id, patch, now), -ENOSPC);
	json_decref(patch);
	ck_assert_int_eq(store_host_delete(st, id), -ENOSPC);
	ck_assert_int_eq(store_advisory_import(st, "x", "{}", 2, 0), -ENOSPC);
	rep = report_of(AGENT_A, "alpha", "1.3-2");
	ck_assert_int_eq(send_report(id, AGENT_A, rep, &status, NULL), -ENOSPC);
	ck_assert_int_eq(store_check_writable(st, err), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(err, "full"));
	ck_assert_ptr_nonnull(strstr(store_errmsg(), "full"));
	store_health(st, &h);
	ck_assert_int_eq(h.error, -ENOSPC);
	ck_assert_str_eq(h.what, "commit");
	ck_assert_ptr_nonnull(strstr(h.message, "full"));
	ck_assert_int_gt(h.since, 0);

	/* Space again: none of the failed writes is there. */
	ck_assert_int_eq(unlink(filler), 0);
	ck_assert_int_eq(store_auth(st, HASH_ADMIN, &p), -ENOENT);
	ck_assert_int_eq(store_auth(st, HASH_HOST_B, &p), -ENOENT);
	ck_assert_int_eq(store_project_get(st, "shop", &got), -ENOENT);
	ck_assert_int_eq(store_host_get(st, id, &got), 0);
	ck_assert(json_is_null(json_object_get(got, "note")));
	json_decref(got);
	ck_assert_str_eq(lib3_version(id), "1.3-1");
	ck_assert_int_eq(store_host_changes(st, id, 10, 0, &got), 0);
	ck_assert_int_eq(total_of(got), 0);
	json_decref(got);
	ck_assert_int_eq(hosts_total(), 1);
	/* The next write succeeds and the store is healthy again. */
	ck_assert_int_eq(send_report(id, AGENT_A, rep, &status, NULL), 0);
	ck_assert_int_eq(status, 200);
	json_decref(rep);
	ck_assert_str_eq(lib3_version(id), "1.3-2");
	store_health(st, &h);
	ck_assert_int_eq(h.error, 0);
	ck_assert_int_eq(store_token_add(st, "ops", "admin", HASH_ADMIN), 0);
}
END_TEST

/* Sets or clears the immutable attribute (chattr +i) of path; 0 (and a
 * note) where this process may not (no CAP_LINUX_IMMUTABLE). */
static int set_immutable(const char *path, int on)
{
	int fd = open(path, O_RDONLY), flags = 0, r;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ioctl(fd, FS_IOC_GETFLAGS, &flags), 0);
	flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
	r = ioctl(fd, FS_IOC_SETFLAGS, &flags);
	close(fd);
	if (r < 0 && errno == EPERM && on) {
		fprintf(stderr, "check_store: cannot make a file immutable "
				"here, fault case not run\n");
		return 0;
	}
	ck_assert_msg(r == 0, "FS_IOC_SETFLAGS: %s", strerror(errno));
	return 1;
}

START_TEST(read_only_file_is_refused_and_kept)
{
	char err[256] = "";
	struct principal p;
	json_t *patch, *got = NULL;
	int64_t id, other = 0;

	if (!store_on_tmpfs("16m"))
		return;
	id = reported_host(AGENT_A, "alpha", HASH_HOST_A);
	close_store();
	if (!set_immutable(db_path, 1)) {
		open_store();
		return;
	}
	/* SQLite opens a file it may not write read-only, silently: the
	 * check before serving says so, and every write is -EROFS. */
	open_store();
	ck_assert_int_eq(store_check_writable(st, err), -EROFS);
	ck_assert_ptr_nonnull(strstr(err, "read-only"));
	ck_assert_int_eq(store_token_add(st, "ops", "admin", HASH_ADMIN),
			 -EROFS);
	ck_assert_int_eq(
	    store_enroll(st, AGENT_B, "beta", HASH_HOST_B, now, &other),
	    -EROFS);
	patch = testutil_parse("{\"note\":\"lost\"}");
	ck_assert_int_eq(store_host_patch(st, id, patch, now), -EROFS);
	json_decref(patch);
	ck_assert_int_eq(store_host_delete(st, id), -EROFS);
	/* Reads still answer, with the data as it was. */
	ck_assert_int_eq(store_host_get(st, id, &got), 0);
	ck_assert(json_is_null(json_object_get(got, "note")));
	json_decref(got);
	ck_assert_int_eq(store_auth(st, HASH_ADMIN, &p), -ENOENT);
	ck_assert_int_eq(hosts_total(), 1);
	close_store();
	set_immutable(db_path, 0);
	open_store();
	ck_assert_int_eq(store_check_writable(st, err), 0);
}
END_TEST

START_TEST(read_only_mount_is_refused)
{
	struct store *other = NULL;
	char err[256] = "";
	int r;

	if (!store_on_tmpfs("16m"))
		return;
	reported_host(AGENT_A, "alpha", HASH_HOST_A);
	close_store();
	ck_assert_int_eq(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL),
			 0);
	/* The WAL's files cannot be made next to the database: refused at
	 * opening, or by the check before serving. */
	r = store_open(db_path, &cfg, &other, err);
	ck_assert_ptr_null(other);
	ck_assert_ptr_nonnull(strstr(err, "writable"));
	ck_assert_msg(r == -EIO, "got %d: %s", r, err);
	ck_assert_int_eq(mount(NULL, mnt, NULL, MS_REMOUNT, NULL), 0);
	open_store();
	ck_assert_int_eq(hosts_total(), 1);
}
END_TEST

START_TEST(corrupt_file_is_refused)
{
	static const char magic[16] = "SQLite format 3";
	struct store *other = NULL;
	char err[256] = "", path[160], junk[4096];
	int fd, r;

	snprintf(path, sizeof(path), "%s/corrupt.db", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, magic, sizeof(magic)), sizeof(magic));
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7919 % 251 + 1);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(write(fd, junk, sizeof(junk)), sizeof(junk));
	close(fd);
	r = store_open(path, &cfg, &other, err);
	ck_assert_msg(r == -EUCLEAN, "got %d: %s", r, err);
	ck_assert_ptr_null(other);
	ck_assert_str_ne(err, "");
}
END_TEST

/* Overwrites the root page of each of tables with garbage, through
 * SQLite's own map of the file. */
static void corrupt_tables(const char *const *tables)
{
	char junk[4096];
	sqlite3 *db;
	sqlite3_stmt *s;
	int fd;

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7919 % 251 + 1);
	ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	ck_assert_int_eq(
	    sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &s, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(s, 0), (int)sizeof(junk));
	sqlite3_finalize(s);
	fd = open(db_path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	for (int i = 0; tables[i]; i++) {
		ck_assert_int_eq(sqlite3_prepare_v2(db,
						    "SELECT rootpage FROM "
						    "sqlite_schema WHERE "
						    "name = ?",
						    -1, &s, NULL),
				 SQLITE_OK);
		sqlite3_bind_text(s, 1, tables[i], -1, SQLITE_STATIC);
		ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
		ck_assert_int_eq(
		    pwrite(fd, junk, sizeof(junk),
			   (off_t)(sqlite3_column_int64(s, 0) - 1) *
			       (off_t)sizeof(junk)),
		    sizeof(junk));
		sqlite3_finalize(s);
	}
	close(fd);
	sqlite3_close(db);
}

/* A database whose tables are garbage but whose header and schema are
 * whole: it opens, and a read of a broken table is an error, never "no
 * such row" (a 404 for a host that is there, a 401 for a good token). */
START_TEST(corrupt_tables_are_errors_not_absence)
{
	static const char *const tables[] = {
		"hosts", "tokens", "sections", "changes", "findings",
		"host_packages", "package_hosts", "advisory_imports",
		"advisory_state", "projects", NULL
	};
	struct host_filter f = {.abandoned = -1, .mail = -1, .limit = 10};
	struct finding_filter ff = {.limit = 10};
	struct store_advisory_state a;
	struct principal p;
	struct seen seen = {0};
	json_t *got = NULL;
	int64_t id = reported_host(AGENT_A, "alpha", HASH_HOST_A);

	ck_assert_int_eq(store_token_add(st, "ops", "admin", HASH_ADMIN), 0);
	got = testutil_parse("{\"name\":\"shop\"}");
	ck_assert_int_eq(store_project_create(st, got, now), 0);
	json_decref(got);
	got = NULL;
	close_store();
	corrupt_tables(tables);
	open_store();

	ck_assert_int_eq(store_host_get(st, id, &got), -EUCLEAN);
	ck_assert_int_eq(store_project_get(st, "shop", &got), -EUCLEAN);
	ck_assert_int_eq(store_host_section(st, id, SECTION_PORTS, 10, 0, &got),
			 -EUCLEAN);
	ck_assert_int_eq(store_host_changes(st, id, 10, 0, &got), -EUCLEAN);
	ck_assert_int_eq(store_hosts_list(st, &f, &got), -EUCLEAN);
	ck_assert_int_eq(store_findings_list(st, &ff, &got), -EUCLEAN);
	ck_assert_int_eq(store_packages_find(st, "lib3", 10, 0, NULL, &got),
			 -EUCLEAN);
	ck_assert_int_eq(store_advisory_each(st, each_import, &seen), -EUCLEAN);
	ck_assert_int_eq(seen.n, 0);
	ck_assert_int_eq(store_token_add(st, "dash", "viewer", HASH_VIEWER),
			 -EUCLEAN);
	/* As their headers say: any database error is -EIO. */
	ck_assert_int_eq(store_auth(st, HASH_ADMIN, &p), -EIO);
	ck_assert_int_eq(store_auth(st, HASH_HOST_A, &p), -EIO);
	/* As store.h promises for a corrupt file (through the database
	 * layer; they answered -EIO before it). */
	ck_assert_int_eq(store_token_list(st, &got), -EUCLEAN);
	ck_assert_int_eq(store_summary(st, now, &got), -EUCLEAN);
	ck_assert_int_eq(store_advisory_state(st, &a), -EUCLEAN);
}
END_TEST

/* --- package versions stored once for the fleet (issue 18) ------------- */

/* One number from the database file, read beside the store. */
static int64_t db_count(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t n;

	ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY,
					 NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

/* The hosts' references to the versions versions_sql selects (at most
 * 16), read from their packed values (store_packages.c: a format byte 3,
 * then per token a varint of the version's zigzag step from one of the
 * two previous versions and four flags, bit 1 saying a varint of the
 * name's step follows, bit 3 a varint k of a run: k + 1 more references,
 * each of the next version): what "SELECT count(*) FROM packages" counted
 * when they were rows; with distinct, how many of those versions are
 * referred to. */
static uint64_t refs_varint(const unsigned char *p, size_t len, size_t *i)
{
	uint64_t v = 0;

	for (int shift = 0; *i < len; shift += 7) {
		v |= (uint64_t)(p[*i] & 0x7f) << shift;
		if (!(p[(*i)++] & 0x80))
			break;
	}
	return v;
}

static int64_t db_refs(const char *versions_sql, int distinct)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t want[16], n = 0;
	int used[16] = { 0 };
	size_t nw = 0;

	ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY,
					 NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, versions_sql, -1, &s, NULL),
			 SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW && nw < 16)
		want[nw++] = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT refs FROM "
					    "host_packages", -1, &s, NULL),
			 SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		const unsigned char *p = sqlite3_column_blob(s, 0);
		size_t len = (size_t)sqlite3_column_bytes(s, 0), i = 1;
		uint64_t last[2] = { 0, 0 };

		ck_assert(len >= 1 && p[0] == 3);
		while (i < len) {
			uint64_t a = refs_varint(p, len, &i), z = a >> 4, more = 0;
			uint64_t version = last[(a >> 2) & 1] + 1 +
					   ((z >> 1) ^ (0 - (z & 1)));

			if (a & 2)
				(void)refs_varint(p, len, &i);
			if (a & 8)
				more = refs_varint(p, len, &i) + 1;
			for (uint64_t j = 0; j <= more; j++, version++) {
				last[1] = last[0];
				last[0] = version;
				for (size_t k = 0; k < nw; k++)
					if ((int64_t)version == want[k]) {
						n += !distinct || !used[k];
						used[k] = 1;
					}
			}
		}
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

static int64_t lib3_versions(const char *version)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM package_versions v JOIN package_names "
		 "n ON n.id = v.name_id WHERE n.name = 'lib3' "
		 "AND version = '%s'",
		 version);
	return db_count(sql);
}

/* GET /packages?name=lib3 as "host:version,..." in its order. */
static const char *lib3_fleet(void)
{
	static char out[256];
	json_t *page = NULL, *it;
	size_t i, n = 0;

	out[0] = '\0';
	ck_assert_int_eq(store_packages_find(st, "lib3", 10, 0, NULL, &page),
			 0);
	json_array_foreach(json_object_get(page, "items"), i, it)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%lld:%s",
				      i ? "," : "",
				      (long long)json_integer_value(
					  json_object_get(it, "host_id")),
				      json_get_str(it, "version"));
	ck_assert_int_eq(total_of(page), (int64_t)i);
	json_decref(page);
	return out;
}

static void send_ok(int64_t id, const char *agent, const char *host,
		    const char *lib3)
{
	json_t *rep = report_of(agent, host, lib3);
	int status = 0;

	ck_assert_int_eq(send_report(id, agent, rep, &status, NULL), 0);
	ck_assert_int_eq(status, 200);
	json_decref(rep);
}

/* The host's value as an older derelictd packed it, from its refs in this
 * form (format 3, as db_refs() reads it): the same references as
 * format 1's tokens (a version's step shifted by 3, no runs), deflated
 * with zlib as format 2 when deflate is set. */
static size_t refs_put(unsigned char *t, uint64_t v)
{
	size_t n = 0;

	do {
		t[n] = (unsigned char)((v & 0x7f) | (v >> 7 ? 0x80 : 0));
		v >>= 7;
		n++;
	} while (v);
	return n;
}

static size_t refs_older(const unsigned char *p, size_t len, int deflate,
			 unsigned char *out, size_t cap)
{
	unsigned char tok[8192];
	uint64_t last[2] = { 0, 0 }, name = 0;
	size_t i = 1, n = 0, o;

	ck_assert(len >= 1 && p[0] == 3);
	while (i < len) {
		uint64_t a = refs_varint(p, len, &i), z = a >> 4, more = 0;
		uint64_t step = a & 2 ? refs_varint(p, len, &i) : 1;
		uint64_t v = last[(a >> 2) & 1] + 1 + ((z >> 1) ^ (0 - (z & 1)));

		if (a & 8)
			more = refs_varint(p, len, &i) + 1;
		for (uint64_t j = 0; j <= more; j++, v++, step = 1) {
			/* format 1 steps from the previous version only */
			uint64_t d = v - (last[0] + 1);
			uint64_t zz = (int64_t)d < 0 ? ~(d << 1) : d << 1;

			ck_assert_uint_lt(n + 30, sizeof(tok));
			n += refs_put(tok + n, zz << 3 | (uint64_t)(step != 1) << 1 |
						       (a & 1));
			if (step != 1)
				n += refs_put(tok + n, step);
			name += step;
			last[1] = last[0];
			last[0] = v;
		}
	}
	ck_assert_uint_gt(name, 0);
	if (!deflate) {
		ck_assert_uint_le(n + 1, cap);
		out[0] = 1;
		memcpy(out + 1, tok, n);
		return n + 1;
	}
	out[0] = 2;
	o = 1 + refs_put(out + 1, n);
	{
		uLongf got = (uLongf)(cap - o);

		ck_assert_int_eq(compress(out + o, &got, tok, (uLong)n), Z_OK);
		return o + got;
	}
}

static void refs_write(int64_t host, const unsigned char *v, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *s;

	ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "UPDATE host_packages SET refs "
					    "= ? WHERE host_id = ?", -1, &s,
					    NULL),
			 SQLITE_OK);
	sqlite3_bind_blob(s, 1, v, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, host);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
	ck_assert_int_eq(sqlite3_changes(db), 1);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* The host's packed value and its first byte (its form). */
static size_t refs_read(int64_t host, unsigned char *out, size_t cap)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	size_t len;

	ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY,
					 NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT refs FROM host_packages "
					    "WHERE host_id = ?", -1, &s, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(s, 1, host);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	len = (size_t)sqlite3_column_bytes(s, 0);
	ck_assert_uint_le(len, cap);
	memcpy(out, sqlite3_column_blob(s, 0), len);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return len;
}

static char *packages_text(int64_t host)
{
	json_t *sec = NULL;
	char *t;

	ck_assert_int_eq(store_host_section(st, host, SECTION_PACKAGES, 100, 0,
					    &sec),
			 0);
	t = json_dumps(sec, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(sec);
	return t;
}

/* A value an older derelictd packed (format 1, or 2 deflated) is read as
 * it is, and written in this form at its next change. */
START_TEST(packed_values_of_older_forms_are_read)
{
	/* b's versions but one are a's: its value steps back and forth. */
	int64_t a = reported_host(AGENT_A, "alpha", HASH_HOST_A);
	int64_t b = enroll(AGENT_B, "beta", HASH_HOST_B);
	unsigned char cur[8192], old[8192];
	size_t len;
	char *want, *got;

	send_ok(b, AGENT_B, "beta", "1.3-9");
	len = refs_read(b, cur, sizeof(cur));
	want = packages_text(b);

	ck_assert_uint_eq(cur[0], 3);
	ck_assert_uint_lt(len, 1 + 20);	/* runs: fewer bytes than references */
	for (int deflate = 0; deflate < 2; deflate++) {
		size_t n = refs_older(cur, len, deflate, old, sizeof(old));

		refs_write(b, old, n);
		ck_assert_uint_eq(refs_read(b, old, sizeof(old)), n);
		ck_assert_uint_eq(old[0], deflate ? 2 : 1);
		got = packages_text(b);
		ck_assert_str_eq(got, want);
		free(got);
	}
	ck_assert_str_eq(lib3_version(b), "1.3-9");
	send_ok(b, AGENT_B, "beta", "1.3-1");
	ck_assert_str_eq(lib3_version(b), "1.3-1");
	ck_assert_str_eq(lib3_version(a), "1.3-1");
	ck_assert_uint_eq(refs_read(b, old, sizeof(old)) >= 1 && old[0] == 3, 1);
	ck_assert_int_eq(db_count("SELECT sum(n) FROM host_packages"), 40);
	free(want);
}
END_TEST

/* A version two hosts run is one row; when the last host drops it the
 * row stays (nothing finds a version's hosts but a scan, and a kept row
 * costs the fleet one row), and a host that installs it again refers to
 * the same row. */
START_TEST(package_version_shared_dropped_and_kept)
{
	int64_t a = reported_host(AGENT_A, "alpha", HASH_HOST_A);
	int64_t b = reported_host(AGENT_B, "beta", HASH_HOST_B);
	char want[64];

	ck_assert_int_eq(lib3_versions("1.3-1"), 1);
	ck_assert_int_eq(db_count("SELECT sum(n) FROM host_packages"), 40);
	ck_assert_int_eq(db_refs("SELECT id FROM package_versions WHERE "
				 "version = '1.3-1'", 0),
			 2);
	ck_assert_int_eq(db_count("SELECT count(*) FROM package_versions"), 20);
	snprintf(want, sizeof(want), "%lld:1.3-1,%lld:1.3-1", (long long)a,
		 (long long)b);
	ck_assert_str_eq(lib3_fleet(), want);
	ck_assert_int_eq(index_pass(10), 2);
	ck_assert_str_eq(lib3_fleet(), want);

	/* Dropped by one host: the other still runs it. */
	send_ok(a, AGENT_A, "alpha", "1.3-2");
	ck_assert_str_eq(lib3_version(a), "1.3-2");
	ck_assert_str_eq(lib3_version(b), "1.3-1");
	snprintf(want, sizeof(want), "%lld:1.3-2,%lld:1.3-1", (long long)a,
		 (long long)b);
	ck_assert_str_eq(lib3_fleet(), want);
	/* A full section of plain items is applied change by change: the
	 * host stays in the index, nothing is pending. */
	ck_assert_int_eq(index_pass(10), 0);

	/* Dropped by the last: no host refers to it, the row is kept. */
	send_ok(b, AGENT_B, "beta", "1.3-2");
	snprintf(want, sizeof(want), "%lld:1.3-2,%lld:1.3-2", (long long)a,
		 (long long)b);
	ck_assert_str_eq(lib3_fleet(), want);
	ck_assert_int_eq(lib3_versions("1.3-1"), 1);
	ck_assert_int_eq(lib3_versions("1.3-2"), 1);
	ck_assert_int_eq(db_refs("SELECT id FROM package_versions WHERE "
				 "version = '1.3-1'", 0),
			 0);
	ck_assert_int_eq(db_count("SELECT count(*) FROM package_hosts x JOIN "
				  "package_versions v ON v.id = x.version_id "
				  "WHERE v.version = '1.3-1'"),
			 0);

	/* Back on a: the same row again. */
	send_ok(a, AGENT_A, "alpha", "1.3-1");
	ck_assert_int_eq(lib3_versions("1.3-1"), 1);
	ck_assert_int_eq(db_count("SELECT count(*) FROM package_versions"), 21);
	ck_assert_str_eq(lib3_version(a), "1.3-1");

	/* A deleted host takes its references, not the versions. */
	ck_assert_int_eq(store_host_delete(st, a), 0);
	ck_assert_int_eq(db_count("SELECT sum(n) FROM host_packages"), 20);
	ck_assert_int_eq(db_count("SELECT count(*) FROM package_versions"), 21);
	snprintf(want, sizeof(want), "%lld:1.3-2", (long long)b);
	ck_assert_str_eq(lib3_fleet(), want);
}
END_TEST

/* Prepared outside the writer, as POST /reports does. */
static void prepare(struct ingest_job *job, json_t **copy, int64_t id,
		    const char *agent, const char *host, const char *lib3)
{
	json_t *rep = report_of(agent, host, lib3);
	struct report_verdict v = {0};

	memset(job, 0, sizeof(*job));
	*copy = json_deep_copy(rep);
	json_decref(rep);
	job->host_id = id;
	job->report = *copy;
	job->bytes = 4096;
	ck_assert_int_eq(report_check(*copy, agent, job, &v), 0);
	ck_assert_int_eq(store_prepare_report(st, job), 0);
}

/* Two hosts bring the same new version in one batch: one row, both refer
 * to it.  A batch rolled back takes its new version with it, and the
 * writer's memory of ids forgets it too: the next report that brings it
 * gets a row that is there. */
START_TEST(package_version_new_twice_in_one_batch)
{
	int64_t a = reported_host(AGENT_A, "alpha", HASH_HOST_A);
	int64_t b = reported_host(AGENT_B, "beta", HASH_HOST_B);
	struct ingest_job ja, jb;
	json_t *ca, *cb;
	char want[64];

	prepare(&ja, &ca, a, AGENT_A, "alpha", "9.9-1");
	prepare(&jb, &cb, b, AGENT_B, "beta", "9.9-1");
	ck_assert_int_eq(store_write_begin(st), 0);
	ck_assert_int_eq(store_apply_report(st, &ja, now), 0);
	ck_assert_int_eq(store_apply_report(st, &jb, now), 0);
	ck_assert_int_eq(store_write_commit(st), 0);
	ck_assert_int_eq(ja.status, 200);
	ck_assert_int_eq(jb.status, 200);
	ingest_job_free(&ja);
	ingest_job_free(&jb);
	json_decref(ca);
	json_decref(cb);
	ck_assert_int_eq(lib3_versions("9.9-1"), 1);
	ck_assert_int_eq(db_refs("SELECT v.id FROM package_versions v JOIN "
				 "package_names n ON n.id = v.name_id WHERE "
				 "n.name = 'lib3'", 1),
			 1);
	snprintf(want, sizeof(want), "%lld:9.9-1,%lld:9.9-1", (long long)a,
		 (long long)b);
	ck_assert_str_eq(lib3_fleet(), want);

	/* Rolled back: neither the row nor the remembered id stays. */
	prepare(&ja, &ca, a, AGENT_A, "alpha", "7.7-1");
	ck_assert_int_eq(store_write_begin(st), 0);
	ck_assert_int_eq(store_apply_report(st, &ja, now), 0);
	store_write_rollback(st);
	ingest_job_free(&ja);
	json_decref(ca);
	ck_assert_int_eq(lib3_versions("7.7-1"), 0);
	ck_assert_str_eq(lib3_version(a), "9.9-1");
	/* Another version takes the rolled-back row's id... */
	send_ok(b, AGENT_B, "beta", "8.8-1");
	/* ...and the one rolled back gets a row of its own. */
	send_ok(a, AGENT_A, "alpha", "7.7-1");
	ck_assert_str_eq(lib3_version(a), "7.7-1");
	ck_assert_str_eq(lib3_version(b), "8.8-1");
	ck_assert_int_eq(lib3_versions("7.7-1"), 1);
	snprintf(want, sizeof(want), "%lld:7.7-1,%lld:8.8-1", (long long)a,
		 (long long)b);
	ck_assert_str_eq(lib3_fleet(), want);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	TCase *faults = tcase_create("faults");

	tcase_add_unchecked_fixture(tc, setup_case, teardown_case);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, open_migrates_and_reopens);
	tcase_add_test(tc, open_refuses_a_newer_schema);
	tcase_add_test(tc, tokens_and_auth);
	tcase_add_test(tc, enroll_and_reenroll);
	tcase_add_test(tc, report_full_then_unchanged_then_changed);
	tcase_add_test(tc, report_packages_as_delta);
	tcase_add_test(tc, package_version_shared_dropped_and_kept);
	tcase_add_test(tc, package_version_new_twice_in_one_batch);
	tcase_add_test(tc, packed_values_of_older_forms_are_read);
	tcase_add_test(tc, report_for_a_deleted_host_is_404);
	tcase_add_test(tc, hosts_list_filters_and_caps);
	tcase_add_test(tc, host_patch_and_delete);
	tcase_add_test(tc, projects);
	tcase_add_test(tc, findings_list_and_ack);
	tcase_add_test(tc, packages_summary_metrics);
	tcase_add_test(tc, prune_old_history);
	tcase_add_test(tc, advisory_imports_and_state);
	tcase_add_test(tc, advisories_in_use);
	tcase_add_test(tc, backup_is_a_whole_copy);
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(faults, setup_case, teardown_case);
	tcase_add_checked_fixture(faults, setup, teardown);
	tcase_add_test(faults, full_disk_writes_fail_and_leave_nothing);
	tcase_add_test(faults, read_only_file_is_refused_and_kept);
	tcase_add_test(faults, read_only_mount_is_refused);
	tcase_add_test(faults, corrupt_file_is_refused);
	tcase_add_test(faults, corrupt_tables_are_errors_not_absence);
	suite_add_tcase(s, faults);
	return s;
}

int main(void)
{
	return testutil_run(store_suite());
}
