-- Item-level deltas (SPEC section 3 as amended in 0.2.0).  A section keeps
-- the sum of its items' digests, and a package row its own digest, so a
-- delta is applied without reading the whole section.  The packages
-- section's body now holds its header alone: its items are the rows of
-- packages.
--
-- The section hash changed its definition with this migration: every
-- stored hash is forgotten, so each agent's next report is answered 409
-- and sends its sections in full once, which re-baselines them (no history
-- rows are lost: the old bodies are still there to diff against).
ALTER TABLE sections ADD COLUMN items_sum BLOB;
ALTER TABLE packages ADD COLUMN digest BLOB;
UPDATE sections SET hash = '';

-- Which hosts have a package, for GET /packages?name=: a table of its own
-- instead of an index on packages, so a host's first report does not
-- insert 1,500 entries at 1,500 places of it inside the report's
-- transaction.  The writer adds the names of the hosts in
-- package_hosts_pending in bulk, in name order, every second or so;
-- readers take those hosts' rows from packages directly.  A pending host
-- has no entries here, and removals follow packages at once (trigger).
DROP INDEX packages_name;
CREATE TABLE package_hosts (
	name TEXT NOT NULL,
	host_id INTEGER NOT NULL,
	arch TEXT NOT NULL,
	PRIMARY KEY (name, host_id, arch)
) WITHOUT ROWID;
INSERT INTO package_hosts (name, host_id, arch)
	SELECT name, host_id, arch FROM packages ORDER BY 1, 2, 3;
CREATE TABLE package_hosts_pending (
	host_id INTEGER PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE
);
CREATE TRIGGER packages_gone AFTER DELETE ON packages BEGIN
	DELETE FROM package_hosts WHERE name = old.name
		AND host_id = old.host_id AND arch = old.arch;
END;
