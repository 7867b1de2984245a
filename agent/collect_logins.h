/*
 * collect_logins.h - the logins section of the report (SPEC section 3): the
 * people's logins, from wtmp, wtmpdb and logind.
 *
 * collect_logins() reads the host's own files under a root directory ("/" or
 * a fixture tree) and returns 0 with a new reference in *ret (owned by the
 * caller), or a negative errno with *ret untouched.  The section comes
 * without its "hash"; assemble.c adds that.
 */
#ifndef DERELICT_AGENT_COLLECT_LOGINS_H
#define DERELICT_AGENT_COLLECT_LOGINS_H

#include <jansson.h>
#include <stdint.h>

/* Logins kept in a report (newest first) and the window they cover. */
#define LOGINS_MAX_ITEMS 1000
#define LOGINS_WINDOW_S (90 * 86400)

/* logins: {"source": "wtmp"|"wtmpdb"|"wtmp+wtmpdb"|"none", "last": {user,
 * at, from} | null, "open_sessions": N, "items": [...]} with the logins
 * since now - LOGINS_WINDOW_S, newest LOGINS_MAX_ITEMS of them. */
int collect_logins(const char *root, int64_t now, json_t **ret);

/* Login records as the readers below gather them. */
struct login_rec {
	int64_t at;
	char user[64];
	char from[257];
};

struct login_list {
	struct login_rec *v;	/* those at or after the window's start */
	size_t n, cap;
	struct login_rec last;	/* the newest of all, when have_last */
	int have_last;
};

void collect_logins_list_free(struct login_list *l);

/* The USER_PROCESS records of a wtmp file, read through the utmpx API:
 * those at or after since are appended to l, the newest overall goes to
 * l->last.  The number of login and boot records in the file (0: the file
 * is no source of logins), -ENOENT when it does not exist, or negative
 * errno. */
int collect_logins_read_wtmp(const char *path, int64_t since,
			     struct login_list *l);
/* The same from a wtmpdb SQLite database (Type 3 rows, read-only),
 * loading libsqlite3.so.0 the first time a database is there: -ELIBACC
 * when it cannot.  *ret_open is set to the sessions without a logout since
 * the last boot. */
int collect_logins_read_wtmpdb(const char *path, int64_t since,
			       struct login_list *l, int *ret_open);
/* Where root's wtmpdb database is: var/log/wtmp.db (Debian 13), else
 * var/lib/wtmpdb/wtmp.db, symlinks resolved inside root.  Writes the host
 * path of the regular file into out.  0, -ENOENT, or negative errno. */
int collect_logins_wtmpdb_path(const char *root, char *out, size_t size);
/* The people's sessions logind knows (sd-login), for root "/" on a host
 * booted with systemd.  The count, or -ENXIO where logind cannot tell. */
int collect_logins_logind_sessions(const char *root);
/* Counts the USER_PROCESS records of a utmp file whose process is still
 * there under root's /proc.  The count, or negative errno. */
int collect_logins_open_sessions(const char *root, const char *utmp_path);

#endif
