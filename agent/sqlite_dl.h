/*
 * sqlite_dl.h - SQLite for the agent's readers of other programs'
 * databases (wtmpdb's logins, RPM's rpmdb.sqlite), loaded with dlopen()
 * the first time one of them is found, so a host without them never maps
 * the library and the package does not depend on it.
 */
#ifndef DERELICT_AGENT_SQLITE_DL_H
#define DERELICT_AGENT_SQLITE_DL_H

#include <sqlite3.h>

/* The library sqlite_dl_load() loads (Debian's libsqlite3-0). */
#define SQLITE_DL_LIBRARY "libsqlite3.so.0"

/* The functions the readers call, resolved once. */
struct sqlite_dl {
	typeof(sqlite3_open_v2) *open_v2;
	typeof(sqlite3_busy_timeout) *busy_timeout;
	typeof(sqlite3_prepare_v2) *prepare_v2;
	typeof(sqlite3_bind_int64) *bind_int64;
	typeof(sqlite3_bind_int) *bind_int;
	typeof(sqlite3_step) *step;
	typeof(sqlite3_column_text) *column_text;
	typeof(sqlite3_column_int64) *column_int64;
	typeof(sqlite3_column_blob) *column_blob;
	typeof(sqlite3_column_bytes) *column_bytes;
	typeof(sqlite3_finalize) *finalize;
	typeof(sqlite3_close) *close;
};

/* Loads SQLITE_DL_LIBRARY the first time and points *ret at its
 * functions (process-wide, never unloaded).  0, or -ELIBACC when the
 * library or one of the functions is missing; a later call tries again. */
int sqlite_dl_load(const struct sqlite_dl **ret);

#endif
