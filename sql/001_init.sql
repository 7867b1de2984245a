-- 001_init.sql - the first schema.  Times are seconds since the epoch (UTC),
-- dates are 'YYYY-MM-DD' text; JSON columns hold what the API renders.

CREATE TABLE projects (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	owner TEXT,
	contact TEXT,
	ends_on TEXT,
	description TEXT,
	created_at INTEGER NOT NULL
);

CREATE TABLE hosts (
	id INTEGER PRIMARY KEY,
	agent_id TEXT NOT NULL UNIQUE,
	token_hash TEXT UNIQUE,
	hostname TEXT NOT NULL,
	fqdn TEXT,
	machine_id TEXT,
	os_id TEXT,
	os_version_id TEXT,
	os_codename TEXT,
	os_pretty TEXT,
	kernel TEXT,
	arch TEXT,
	boot_time INTEGER,
	addresses TEXT,
	agent_version TEXT,
	-- SHA-256 of the last report's host object, to skip unchanged rewrites.
	identity_hash TEXT,
	tag_project TEXT,
	tag_owner TEXT,
	-- An operator's assignment (project_pinned = 1) wins over the tag.
	project_id INTEGER REFERENCES projects(id) ON DELETE SET NULL,
	project_pinned INTEGER NOT NULL DEFAULT 0,
	retired_at INTEGER,
	note TEXT,
	first_seen INTEGER NOT NULL,
	last_seen INTEGER,
	collected_at INTEGER,
	-- Facts kept from the last report so time-based rules need no JSON.
	last_login_at INTEGER,
	last_login_user TEXT,
	last_login_from TEXT,
	packages_changed_at INTEGER,
	-- Derived by the rules; stored so lists filter on indexed columns.
	status TEXT NOT NULL DEFAULT 'active',
	abandoned INTEGER NOT NULL DEFAULT 0,
	mail_running INTEGER NOT NULL DEFAULT 0,
	mail_exposed INTEGER NOT NULL DEFAULT 0,
	severity INTEGER NOT NULL DEFAULT 0,
	next_eval_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX hosts_hostname ON hosts(hostname);
CREATE INDEX hosts_project ON hosts(project_id);
CREATE INDEX hosts_next_eval ON hosts(next_eval_at);
-- Covers every flag filter of GET /hosts, so counting scans it alone.
CREATE INDEX hosts_filters ON hosts(abandoned, mail_running, status,
	severity, project_id);

-- Substring search over hostnames, agent ids and addresses (GET /hosts?q=):
-- trigrams, kept in step with hosts by the triggers below.
CREATE VIRTUAL TABLE host_search USING fts5(hostname, agent_id, addresses,
	content = 'hosts', content_rowid = 'id', tokenize = 'trigram');
CREATE TRIGGER hosts_search_insert AFTER INSERT ON hosts BEGIN
	INSERT INTO host_search (rowid, hostname, agent_id, addresses)
		VALUES (new.id, new.hostname, new.agent_id, new.addresses);
END;
CREATE TRIGGER hosts_search_delete AFTER DELETE ON hosts BEGIN
	INSERT INTO host_search (host_search, rowid, hostname, agent_id,
		addresses) VALUES ('delete', old.id, old.hostname, old.agent_id,
		old.addresses);
END;
CREATE TRIGGER hosts_search_update AFTER UPDATE OF hostname, agent_id,
	addresses ON hosts WHEN old.hostname IS NOT new.hostname
	OR old.agent_id IS NOT new.agent_id
	OR old.addresses IS NOT new.addresses BEGIN
	INSERT INTO host_search (host_search, rowid, hostname, agent_id,
		addresses) VALUES ('delete', old.id, old.hostname, old.agent_id,
		old.addresses);
	INSERT INTO host_search (rowid, hostname, agent_id, addresses)
		VALUES (new.id, new.hostname, new.agent_id, new.addresses);
END;

-- What the rules rendered for a host, kept out of the hosts table so the
-- rows lists scan stay small.
CREATE TABLE host_state (
	host_id INTEGER PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
	signals TEXT NOT NULL DEFAULT '[]',
	mail TEXT NOT NULL DEFAULT '{}',
	vulns TEXT NOT NULL DEFAULT '{}'
);

-- The current state of each section: its canonical JSON without the hash,
-- deflated (see body_pack() in server/store.c).
-- A rowid table: bodies are large, and SQLite keeps large rows far better
-- in rowid tables than in WITHOUT ROWID ones.
CREATE TABLE sections (
	id INTEGER PRIMARY KEY,
	host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	hash TEXT NOT NULL,
	body TEXT NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (host_id, name)
);

-- Installed packages again, one row each, for fleet-wide questions.
CREATE TABLE packages (
	host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	arch TEXT NOT NULL,
	version TEXT NOT NULL,
	source TEXT NOT NULL,
	source_version TEXT NOT NULL,
	PRIMARY KEY (host_id, name, arch)
) WITHOUT ROWID;
CREATE INDEX packages_name ON packages(name);

CREATE TABLE changes (
	id INTEGER PRIMARY KEY,
	host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
	at INTEGER NOT NULL,
	section TEXT NOT NULL,
	key TEXT NOT NULL,
	action TEXT NOT NULL CHECK (action IN ('added', 'removed', 'changed')),
	old TEXT,
	new TEXT
);
CREATE INDEX changes_host ON changes(host_id, id);

CREATE TABLE reports (
	id INTEGER PRIMARY KEY,
	host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
	received_at INTEGER NOT NULL,
	collected_at INTEGER,
	bytes INTEGER NOT NULL,
	full_sections INTEGER NOT NULL
);
CREATE INDEX reports_host ON reports(host_id, id);

CREATE TABLE tokens (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
	hash TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	last_used INTEGER
);

CREATE TABLE findings (
	id INTEGER PRIMARY KEY,
	host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
	rule TEXT NOT NULL,
	key TEXT NOT NULL,
	severity INTEGER NOT NULL,
	status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
	summary TEXT NOT NULL,
	details TEXT NOT NULL DEFAULT '{}',
	first_seen INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,
	resolved_at INTEGER,
	ack_reason TEXT,
	ack_until TEXT,
	ack_by TEXT,
	ack_at INTEGER,
	ack_severity INTEGER
);
-- At most one live finding per host and key; resolved ones are history.
CREATE UNIQUE INDEX findings_live ON findings(host_id, key)
	WHERE status != 'resolved';
CREATE INDEX findings_status ON findings(status, severity);
CREATE INDEX findings_host ON findings(host_id);

-- Advisory files loaded with "derelictd advisories import", kept whole and
-- read at start together with the shipped file.  Only the newest of each
-- name is kept.
CREATE TABLE advisory_imports (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	imported_at INTEGER NOT NULL,
	entries INTEGER NOT NULL,
	body BLOB NOT NULL
);
