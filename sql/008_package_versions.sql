-- Package versions stored once for the fleet (issue 18).
--
-- Most hosts of a fleet run the same few hundred versions of the same few
-- releases, yet every host kept its own copy of each (name, arch, version,
-- source, source_version, digest) row: 156 KiB of a host's 206.  Now each
-- distinct row is one row of package_versions, and a host holds only
-- references to it.  A version is kept when its last host drops it: no
-- index finds a version's hosts (a sweep would scan package_hosts), and a
-- kept version costs one row for the fleet, not one per host.
--
-- name_id is the name's id in package_names, so the fleet index and a
-- host's rows order by name through a small integer instead of the name's
-- text, and a name is looked up in a table of a few thousand rows, not in
-- an index of every version.  digest is the item's
-- digest as received, NULL for a row stored before digests were kept (such
-- a row still counts as "not found" for a delta, as before).  A digest
-- names one item, so (name, digest) is the key: an index of the six
-- members would hold a second copy of every version's text, and one of the
-- digest alone would put each new version at a random place of it, where
-- the name puts a batch's new versions of one package together.
CREATE TABLE package_names (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE
);
INSERT INTO package_names (name) SELECT DISTINCT name FROM packages ORDER BY 1;
CREATE TABLE package_versions (
	id INTEGER PRIMARY KEY,
	name_id INTEGER NOT NULL,
	name TEXT NOT NULL,
	arch TEXT NOT NULL,
	version TEXT NOT NULL,
	source TEXT NOT NULL,
	source_version TEXT NOT NULL,
	digest BLOB
);
INSERT INTO package_versions (name_id, name, arch, version, source,
	source_version, digest)
	SELECT DISTINCT n.id, p.name, p.arch, p.version, p.source,
		p.source_version, p.digest FROM packages p
	JOIN package_names n ON n.name = p.name ORDER BY 2, 3, 4, 5, 6, 7;
CREATE UNIQUE INDEX package_versions_key ON package_versions(name_id, digest);

-- A host's packages: (host, name, version) triples, one per installed
-- package as before (a multi-arch package has a row per architecture).
-- digest says whether the row's digest is known: 1 (stored as a type, in
-- no byte of data) when it is the version's, NULL for a row stored before
-- digests were kept, which a delta counts as not found.
CREATE TABLE packages_008 (
	host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
	name_id INTEGER NOT NULL,
	version_id INTEGER NOT NULL,
	digest INTEGER DEFAULT 1,
	PRIMARY KEY (host_id, name_id, version_id)
) WITHOUT ROWID;
INSERT INTO packages_008 (host_id, name_id, version_id, digest)
	SELECT p.host_id, v.name_id, v.id, 1 FROM packages p
	JOIN package_names n ON n.name = p.name
	JOIN package_versions v ON v.name_id = n.id AND v.digest = p.digest
	WHERE p.digest IS NOT NULL ORDER BY 1, 2, 3;
INSERT INTO packages_008 (host_id, name_id, version_id, digest)
	SELECT p.host_id, v.name_id, v.id, NULL FROM packages p
	JOIN package_names n ON n.name = p.name
	JOIN package_versions v ON v.name_id = n.id AND v.arch = p.arch
		AND v.version = p.version AND v.source = p.source
		AND v.source_version = p.source_version AND v.digest IS NULL
	WHERE p.digest IS NULL ORDER BY 1, 2, 3;

-- The fleet index keeps its role and its deferred filling (002): the
-- hosts in package_hosts_pending have no entries yet.
CREATE TABLE package_hosts_008 (
	name_id INTEGER NOT NULL,
	host_id INTEGER NOT NULL,
	version_id INTEGER NOT NULL,
	PRIMARY KEY (name_id, host_id, version_id)
) WITHOUT ROWID;
INSERT INTO package_hosts_008 (name_id, host_id, version_id)
	SELECT name_id, host_id, version_id FROM packages_008
	WHERE host_id NOT IN (SELECT host_id FROM package_hosts_pending)
	ORDER BY 1, 2, 3;

DROP TRIGGER packages_gone;
DROP TABLE package_hosts;
DROP TABLE packages;
ALTER TABLE packages_008 RENAME TO packages;
ALTER TABLE package_hosts_008 RENAME TO package_hosts;
CREATE TRIGGER packages_gone AFTER DELETE ON packages BEGIN
	DELETE FROM package_hosts WHERE name_id = old.name_id
		AND host_id = old.host_id AND version_id = old.version_id;
END;
