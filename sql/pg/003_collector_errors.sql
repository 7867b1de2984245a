-- 003_collector_errors.sql for PostgreSQL (see sql/003_collector_errors.sql):
-- sections the agent could not read.
CREATE TABLE collector_errors (
	host_id bigint NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
	section text NOT NULL,
	error text NOT NULL,
	since bigint NOT NULL,
	PRIMARY KEY (host_id, section)
);
