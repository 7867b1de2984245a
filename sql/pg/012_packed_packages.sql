-- 012_packed_packages.sql for PostgreSQL (see sql/012_packed_packages.sql):
-- a host's packages as one packed value, bytea here, the same bytes as
-- SQLite's blob; the old rows are packed by the store when it opens.
CREATE TABLE host_packages (
	host_id bigint PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
	n bigint NOT NULL,
	refs bytea NOT NULL
);
DROP TRIGGER packages_gone ON packages;
DROP FUNCTION packages_gone();
ALTER TABLE packages RENAME TO packages_unpacked;
ALTER TABLE packages_unpacked RENAME CONSTRAINT packages_pkey
	TO packages_unpacked_pkey;
ALTER TABLE packages_unpacked RENAME CONSTRAINT packages_host_id_fkey
	TO packages_unpacked_host_id_fkey;
-- An array of the names' ids, not IN (SELECT ...): the planner then probes
-- the index (name_id, host_id, ...) once per name instead of scanning it.
CREATE FUNCTION host_packages_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM package_hosts WHERE name_id = ANY(ARRAY(SELECT id FROM
		package_names)) AND host_id = old.host_id;
	RETURN NULL;
END
$$;
CREATE TRIGGER host_packages_gone AFTER DELETE ON host_packages
	FOR EACH ROW EXECUTE FUNCTION host_packages_gone();

-- package_versions slimmed as SQLite's: no name, NULL for a source
-- (source_version) equal to the name (version), dkey the digest's first
-- 8 bytes.  The whole digest is always stored here and its key stays
-- unique: several nodes may add the same version at once, and the
-- INSERT ... ON CONFLICT DO NOTHING of store_packages.c settles it.
ALTER TABLE package_versions ALTER COLUMN source DROP NOT NULL;
ALTER TABLE package_versions ALTER COLUMN source_version DROP NOT NULL;
UPDATE package_versions SET source = NULL WHERE source = name;
UPDATE package_versions SET source_version = NULL
	WHERE source_version = version;
ALTER TABLE package_versions DROP COLUMN name;
ALTER TABLE package_versions ADD COLUMN dkey bytea;
UPDATE package_versions SET dkey = substr(digest, 1, 8);
CREATE INDEX package_versions_dkey ON package_versions(name_id, dkey);
