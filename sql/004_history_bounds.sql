-- Bounded history and re-enrollment (issue 13, points 8 and 9).
--
-- changes: a report may itemise at most so many changes per host, and a
-- host at most so many a day ([server] changes_per_report, changes_per_day);
-- beyond that one row with action 'changes_truncated' says how many were
-- not itemised.  The table is rebuilt for the new action (a CHECK cannot be
-- altered in place), and indexed by time for the retention pass
-- (history_keep).
CREATE TABLE changes_new (
	id INTEGER PRIMARY KEY,
	host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
	at INTEGER NOT NULL,
	section TEXT NOT NULL,
	key TEXT NOT NULL,
	action TEXT NOT NULL CHECK (action IN ('added', 'removed', 'changed',
		'changes_truncated')),
	old TEXT,
	new TEXT
);
INSERT INTO changes_new (id, host_id, at, section, key, action, old, new)
	SELECT id, host_id, at, section, key, action, old, new FROM changes
	ORDER BY id;
DROP TABLE changes;
ALTER TABLE changes_new RENAME TO changes;
CREATE INDEX changes_host ON changes(host_id, id);
CREATE INDEX changes_at ON changes(at);

-- The day (days since the epoch, UTC) and how many change rows the host
-- wrote on it: the per-day budget without counting rows.
ALTER TABLE hosts ADD COLUMN changes_day INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN changes_today INTEGER NOT NULL DEFAULT 0;

-- Re-enrollment of an existing agent id: the new token waits here, and the
-- old one keeps working, until the new identity reports.  The report under
-- the new token then promotes it; when its machine_id differs from the
-- host's, the host's inventory is kept in host_snapshots and starts afresh
-- (no removal rows), and the rules raise host-identity-changed.
ALTER TABLE hosts ADD COLUMN pending_token_hash TEXT;
ALTER TABLE hosts ADD COLUMN pending_since INTEGER;
ALTER TABLE hosts ADD COLUMN identity_changed_at INTEGER;
ALTER TABLE hosts ADD COLUMN previous_machine_id TEXT;
CREATE UNIQUE INDEX hosts_pending_token ON hosts(pending_token_hash)
	WHERE pending_token_hash IS NOT NULL;

-- The inventory a host held when another machine took over its agent id:
-- {"machine_id": ..., "sections": {"ports": {...}, ...}} deflated as
-- section bodies are (packages with their items).
CREATE TABLE host_snapshots (
	id INTEGER PRIMARY KEY,
	host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
	at INTEGER NOT NULL,
	machine_id TEXT,
	body BLOB NOT NULL
);
CREATE INDEX host_snapshots_host ON host_snapshots(host_id, id);
