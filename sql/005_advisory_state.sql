-- What the advisory data was when the hosts were last matched against it,
-- and the Debian Security Tracker feed's state.  One row.
--
-- data_version counts every change of the stored data (an import, a fetch,
-- "derelictd advisories update"): a running derelictd that sees it change
-- loads the data again, so a command-line update needs no signal.
-- matched_digest is advisory_db_digest() of the data the hosts were last
-- matched against: a start with other data matches every host again.
CREATE TABLE advisory_state (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	data_version INTEGER NOT NULL DEFAULT 0,
	matched_digest TEXT NOT NULL DEFAULT '',
	matched_at INTEGER NOT NULL DEFAULT 0,
	feed_url TEXT NOT NULL DEFAULT '',
	feed_etag TEXT NOT NULL DEFAULT '',
	feed_last_modified TEXT NOT NULL DEFAULT '',
	feed_fetched_at INTEGER NOT NULL DEFAULT 0,
	feed_checked_at INTEGER NOT NULL DEFAULT 0,
	feed_data_date INTEGER NOT NULL DEFAULT 0,
	feed_entries INTEGER NOT NULL DEFAULT 0
);
INSERT INTO advisory_state (id) VALUES (1);
