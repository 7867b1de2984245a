/*
 * advisory_feed.h - the advisories derelictd matches against, kept true:
 * loaded at start (the shipped file, the EOL table, every import and the
 * kept copy of the Debian Security Tracker's export), loaded again whenever
 * the stored data changes (an import or an update from the command line,
 * seen through the database's data_version, or SIGHUP), the tracker's
 * export fetched every advisories_refresh, and every host matched again,
 * in the background, whenever the data's digest differs from the one the
 * hosts were last matched against.  This is a top layer: it logs.
 */
#ifndef DERELICT_ADVISORY_FEED_H
#define DERELICT_ADVISORY_FEED_H

#include <stddef.h>

#include "server.h"
#include "store.h"

struct writer;
struct advisory_feed;

/* The largest export taken, fetched or read. */
#define ADVISORY_FEED_MAX_BYTES (256u << 20)

/*
 * Loads the advisories into st (store_set_advisories()), marks every host
 * for evaluation when the data differs from what they were matched
 * against, and returns the feed, not yet running.  A missing or broken
 * file is logged and left out; only -ENOMEM fails.
 */
int advisory_feed_new(const struct server_config *cfg, struct store *st,
		      struct advisory_feed **ret);
/* Starts the background thread: it watches data_version every second,
 * fetches on schedule and kicks in's evaluation after a change. */
int advisory_feed_run(struct advisory_feed *f, struct writer *in);
/* Asks the thread to load the data again (SIGHUP). */
void advisory_feed_reload(struct advisory_feed *f);
/* Stops the thread (a fetch in flight is abandoned); accepts NULL. */
void advisory_feed_stop(struct advisory_feed *f);
/* Stops the thread, takes the advisories back from the store and frees
 * them; accepts NULL.  Call it once nothing evaluates any more. */
void advisory_feed_free(struct advisory_feed *f);

/*
 * One fetch-and-keep of the tracker's export: from source (an http(s) URL
 * or a file; NULL: cfg's advisories_url), validated (the tracker's format,
 * not fewer than half the entries of the kept copy), kept in the state
 * directory next to the database and noted in the database, which a
 * running derelictd notices.  0 when a new copy is kept, 1 when the
 * server answered 304 (the copy is current), or a negative errno with msg
 * saying why; the kept copy is untouched then.  *ret_entries (if not NULL)
 * receives the new copy's entries.
 */
int advisory_feed_update(const struct server_config *cfg, struct store *st,
			 const char *source, char msg[256],
			 size_t *ret_entries);

#endif
