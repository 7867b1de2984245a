-- A host's packages as one packed value (issue 18).
--
-- 008 left a host's packages as rows of (host, name, version), 1,500 a
-- host: 23 KiB of its 76 on the bench's realistic fleet, and 1,500 rows
-- written for each first report.  Now a host has one row of host_packages:
-- refs holds its references to package_versions, sorted by (name_id,
-- version_id), each a varint of its steps from the references before it,
-- deflated (store_packages.c's "packed references" says the bytes, the
-- same on both engines): about a byte a package, 1.5 KB a host, two hosts
-- to a page, where the rows took 23 KiB.  Sorted by name, a delta finds a
-- package's reference by a binary search in memory, reads one value and
-- writes it back; a first report writes one value instead of 1,500 rows.
-- A reference keeps the old "digest NULL" (a row stored before digests
-- were kept, which a delta counts as not found) as a flag bit.  n is the
-- number of references, so counting a fleet's packages needs no decoding.
-- No view keeps the old name "packages": SQL cannot read the values.
--
-- The fleet index package_hosts and its deferred filling stay as 002 and
-- 008 made them; its entries are now taken by the store (the old trigger
-- followed rows that are gone), and by host_packages_gone when a host and
-- so its row go.  That trigger probes the index once per known name: the
-- index is ordered by name, and a host has most of the fleet's names.
--
-- SQL cannot write the varints, so the rows are carried in two steps: this
-- file keeps them as packages_unpacked, and the store, when it opens the
-- database, packs them host by host in one transaction that ends by
-- dropping packages_unpacked (packages_convert() in store_packages.c); a
-- crash before that commit leaves the table for the next start.
CREATE TABLE host_packages (
	host_id INTEGER PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
	n INTEGER NOT NULL,
	refs BLOB NOT NULL
);
DROP TRIGGER packages_gone;
ALTER TABLE packages RENAME TO packages_unpacked;
CREATE TRIGGER host_packages_gone AFTER DELETE ON host_packages BEGIN
	DELETE FROM package_hosts WHERE name_id IN
		(SELECT id FROM package_names) AND host_id = old.host_id;
END;

-- package_versions slimmed: the name is package_names' (name_id), and a
-- source (source_version) equal to the name (version), as most are, is
-- NULL, read back with coalesce().  dkey is the digest's first 8 bytes,
-- NULL for a version stored before digests were kept (which a delta counts
-- as not found); digest the whole digest, NULL when the row's own item
-- (row_item() in store_packages.c) hashes to it, as a plain item's does:
-- the store then computes it again (an item with members the row does not
-- keep has its digest stored).  The key is (name_id, dkey): the store looks
-- a version up by it and compares the whole digest, so the index holds 8
-- bytes a version instead of 32; the writer is the only one that adds
-- versions (no unique key is needed to settle a race).  The rows carried
-- here keep their whole digests.
CREATE TABLE package_versions_012 (
	id INTEGER PRIMARY KEY,
	name_id INTEGER NOT NULL,
	arch TEXT NOT NULL,
	version TEXT NOT NULL,
	source TEXT,
	source_version TEXT,
	dkey BLOB,
	digest BLOB
);
INSERT INTO package_versions_012 (id, name_id, arch, version, source,
	source_version, dkey, digest)
	SELECT id, name_id, arch, version, nullif(source, name),
		nullif(source_version, version), substr(digest, 1, 8), digest
	FROM package_versions ORDER BY id;
DROP TABLE package_versions;
ALTER TABLE package_versions_012 RENAME TO package_versions;
CREATE INDEX package_versions_key ON package_versions(name_id, dkey);
