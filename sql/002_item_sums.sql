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
