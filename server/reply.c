/* reply.c - building a handler's answer: JSON, errors, store errors. */
#include "reply.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "store.h"
#include "timeutil.h"

int reply_json(struct reply *rp, int status, json_t *json)
{
	rp->status = status;
	json_decref(rp->json);
	rp->json = json;
	return 0;
}

int reply_error(struct reply *rp, int status, const char *code,
		const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return reply_json(rp, status,
			  json_pack("{s:{s:s,s:s}}", "error", "code", code,
				    "message", msg));
}

/* Logs a store failure, at most one line a second: while the database is
 * away (a full disk, PostgreSQL restarting) every request fails alike,
 * thousands a second, and one line says it, with how many more there
 * were since the last. */
static void warn_store(const char *what, const char *why)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static int64_t last;
	static unsigned long more;
	int64_t now = time_now();
	unsigned long also = 0;
	bool say = false;

	pthread_mutex_lock(&lock);
	if (now != last) {
		say = true;
		also = more;
		more = 0;
		last = now;
	} else {
		more++;
	}
	pthread_mutex_unlock(&lock);
	if (!say)
		return;
	if (also)
		log_warning("store: %s: %s (and %lu more failures since the "
			    "last such line)", what, why, also);
	else
		log_warning("store: %s: %s", what, why);
}

/* A store that cannot commit now may later (space freed, the file system
 * writable again, the lock released): 503 with a Retry-After, so clients
 * try again; only a corrupt file or a bug is a 500. */
int reply_store_error(struct reply *rp, int r, const char *what)
{
	switch (r) {
	case -ENOENT:
		return reply_error(rp, 404, "not_found", "%s not found", what);
	case -EEXIST:
		return reply_error(rp, 409, "conflict", "%s already exists",
				   what);
	case -ENOSPC:
		warn_store(what, store_errmsg());
		rp->retry_after = 60;
		return reply_error(rp, 503, "disk_full",
				   "the server's disk is full; try again later");
	case -EROFS:
		warn_store(what, store_errmsg());
		rp->retry_after = 60;
		return reply_error(rp, 503, "read_only",
				   "the server cannot write its database; "
				   "try again later");
	case -EIO:
		warn_store(what, store_errmsg());
		rp->retry_after = 30;
		return reply_error(rp, 503, "storage_error",
				   "the server's database failed (an I/O "
				   "error); try again later");
	case -EBUSY:
		rp->retry_after = 5;
		return reply_error(rp, 503, "busy", "the database is busy");
	case -ENOMEM:
		warn_store(what, "out of memory");
		rp->retry_after = 5;
		return reply_error(rp, 503, "out_of_memory",
				   "the server is out of memory; try again");
	default:
		warn_store(what, store_errmsg());
		return reply_error(rp, 500, "internal", "database error");
	}
}
