-- 009_probe.sql: the SMTP probe's outside view ([probe], server/probe.c).
--
-- probe_ports: the last probe of each (host, address, port) the host's
-- ports section lists on an SMTP port.  A row the last round did not
-- reach again is dropped at the round's end (store_probe_prune()).
-- capabilities is EHLO's keywords; open_relay is NULL when not tested.
CREATE TABLE probe_ports (
	host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
	address TEXT NOT NULL,
	port INTEGER NOT NULL,
	reachable INTEGER NOT NULL,
	banner TEXT,
	capabilities TEXT,
	starttls INTEGER NOT NULL DEFAULT 0,
	auth TEXT,
	open_relay INTEGER,
	error TEXT,
	probed_at INTEGER NOT NULL,
	PRIMARY KEY (host_id, address, port)
);

-- discovered: SMTP servers on the probed networks at an address no host
-- reports, one row per address and sighting; the open row is the
-- "unenrolled-mail-server" finding.  It is resolved when the address
-- stops answering or an enrolled host reports it (resolved_reason), and
-- a later answer opens a new row.  version is parsed from the banner:
-- unconfirmed.  ports is a JSON array of what each SMTP port answered.
CREATE TABLE discovered (
	id INTEGER PRIMARY KEY,
	address TEXT NOT NULL,
	ports TEXT NOT NULL DEFAULT '[]',
	banner TEXT NOT NULL,
	version TEXT,
	open_relay INTEGER,
	severity INTEGER NOT NULL,
	status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
	resolved_reason TEXT,
	first_seen INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,
	resolved_at INTEGER
);
CREATE UNIQUE INDEX discovered_live ON discovered(address)
	WHERE status = 'open';
