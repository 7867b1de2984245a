-- 005_advisory_state.sql for PostgreSQL (see sql/005_advisory_state.sql):
-- the advisory data's state and the tracker feed's.  One row.
CREATE TABLE advisory_state (
	id bigint PRIMARY KEY CHECK (id = 1),
	data_version bigint NOT NULL DEFAULT 0,
	matched_digest text NOT NULL DEFAULT '',
	matched_at bigint NOT NULL DEFAULT 0,
	feed_url text NOT NULL DEFAULT '',
	feed_etag text NOT NULL DEFAULT '',
	feed_last_modified text NOT NULL DEFAULT '',
	feed_fetched_at bigint NOT NULL DEFAULT 0,
	feed_checked_at bigint NOT NULL DEFAULT 0,
	feed_data_date bigint NOT NULL DEFAULT 0,
	feed_entries bigint NOT NULL DEFAULT 0
);
INSERT INTO advisory_state (id) VALUES (1);
