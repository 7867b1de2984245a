-- Mail to the owners (issue 17): the digest schedule and the one-click
-- answers.
--
-- mail_contacts: one row per address a digest went to.  last_digest_at is
-- when the last digest to it was handed to delivery; a contact is due
-- again after [notify] digest_every, or at once for a critical finding that
-- opened since (at most once an hour).  escalated_at is when the same
-- digest last went to escalate_to as well, waited the age of the oldest
-- unanswered finding it listed then.  The schedule lives here rather than
-- in memory so a restart neither re-sends nor forgets one.
CREATE TABLE mail_contacts (
	address TEXT PRIMARY KEY,
	last_digest_at INTEGER NOT NULL DEFAULT 0,
	last_hosts INTEGER NOT NULL DEFAULT 0,
	escalated_at INTEGER NOT NULL DEFAULT 0,
	waited INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- The signed links of the mails are usable once: the id (a random nonce
-- the link carries) of every link that was followed through to its POST.
-- A link expires after 30 days, so older rows can go.
CREATE TABLE mail_links_used (
	id TEXT PRIMARY KEY,
	used_at INTEGER NOT NULL,
	host_id INTEGER,
	action TEXT NOT NULL,
	by TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX mail_links_used_at ON mail_links_used(used_at);

-- Hosts whose contact answered "not mine": their project is cleared and
-- they go to escalate_to in its next mail (sent_at set then).
CREATE TABLE mail_handoffs (
	id INTEGER PRIMARY KEY,
	host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
	project TEXT,
	by TEXT NOT NULL,
	at INTEGER NOT NULL,
	sent_at INTEGER
);
CREATE INDEX mail_handoffs_pending ON mail_handoffs(sent_at);
