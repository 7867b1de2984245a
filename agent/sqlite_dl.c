/* sqlite_dl.c - see sqlite_dl.h. */
#include "sqlite_dl.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

static struct sqlite_dl fns;
static void *handle;

int sqlite_dl_load(const struct sqlite_dl **ret)
{
	void *dl;

	if (handle) {
		*ret = &fns;
		return 0;
	}
	dl = dlopen(SQLITE_DL_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		return -ELIBACC;
#define SYM(field, name)                                                      \
	if (!(*(void **)&fns.field = dlsym(dl, name)))                         \
		goto missing
	SYM(open_v2, "sqlite3_open_v2");
	SYM(busy_timeout, "sqlite3_busy_timeout");
	SYM(prepare_v2, "sqlite3_prepare_v2");
	SYM(bind_int64, "sqlite3_bind_int64");
	SYM(bind_int, "sqlite3_bind_int");
	SYM(step, "sqlite3_step");
	SYM(column_text, "sqlite3_column_text");
	SYM(column_int64, "sqlite3_column_int64");
	SYM(column_blob, "sqlite3_column_blob");
	SYM(column_bytes, "sqlite3_column_bytes");
	SYM(finalize, "sqlite3_finalize");
	SYM(close, "sqlite3_close");
#undef SYM
	handle = dl;
	*ret = &fns;
	return 0;
missing:
	dlclose(dl);
	memset(&fns, 0, sizeof(fns));
	return -ELIBACC;
}
