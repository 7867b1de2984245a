-- 002_item_sums.sql for PostgreSQL (see sql/002_item_sums.sql): item-level
-- deltas, and the deferred fleet index of package names.
ALTER TABLE sections ADD COLUMN items_sum bytea;
ALTER TABLE packages ADD COLUMN digest bytea;
UPDATE sections SET hash = '';

DROP INDEX packages_name;
CREATE TABLE package_hosts (
	name text NOT NULL,
	host_id bigint NOT NULL,
	arch text NOT NULL,
	PRIMARY KEY (name, host_id, arch)
);
INSERT INTO package_hosts (name, host_id, arch)
	SELECT name, host_id, arch FROM packages ORDER BY 1, 2, 3;
CREATE TABLE package_hosts_pending (
	host_id bigint PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE
);
-- Removals follow packages at once, as SQLite's trigger does.
CREATE FUNCTION packages_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM package_hosts WHERE name = old.name
		AND host_id = old.host_id AND arch = old.arch;
	RETURN NULL;
END
$$;
CREATE TRIGGER packages_gone AFTER DELETE ON packages
	FOR EACH ROW EXECUTE FUNCTION packages_gone();
