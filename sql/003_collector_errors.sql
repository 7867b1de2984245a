-- 003_collector_errors.sql - sections the agent could not read (SPEC
-- section 2).  A failed section is never "all gone": its stored state stays
-- as it was, and the failure is kept here, with the time the section began
-- to fail, until a report reads the section again.  The rules raise
-- collector-failing from it.
CREATE TABLE collector_errors (
	host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
	section TEXT NOT NULL,
	error TEXT NOT NULL,
	since INTEGER NOT NULL,
	PRIMARY KEY (host_id, section)
) WITHOUT ROWID;
