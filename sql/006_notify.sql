-- The notification outbox (SPEC section 1, [notify]): one row per event
-- and configured destination, written in the transaction of the finding
-- change that causes it, so a crash neither loses an event nor sends one
-- for a change that was rolled back.  The sender (server/notify.c) reads
-- the pending rows, oldest first, one destination at a time.
--
-- event_id is the event's stable id (the webhook-id of Standard Webhooks),
-- the same for every destination and every attempt: receivers drop
-- duplicates by it.  destination names a configured channel, as
-- "webhook:NAME" or "mail"; kind is the event type ("finding.opened", ...);
-- payload is the event's JSON as it will be sent, fixed when queued.
CREATE TABLE notify_deliveries (
	id INTEGER PRIMARY KEY,
	event_id TEXT NOT NULL,
	destination TEXT NOT NULL,
	kind TEXT NOT NULL,
	payload TEXT NOT NULL,
	status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending',
		'delivered', 'failed', 'disabled')),
	attempts INTEGER NOT NULL DEFAULT 0,
	last_error TEXT,
	next_try_at INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	delivered_at INTEGER,
	retried_at INTEGER,	-- an admin's retry: the retry window restarts
	UNIQUE (event_id, destination)
);
-- The sender's query: the oldest pending row of a destination.
CREATE INDEX notify_pending ON notify_deliveries(destination, id)
	WHERE status = 'pending';

-- Destinations a receiver switched off (a webhook answering 410 Gone):
-- no rows are queued for them until an admin retries one of their
-- deliveries (POST /api/v1/notifications/{id}/retry).
CREATE TABLE notify_disabled (
	destination TEXT PRIMARY KEY,
	disabled_at INTEGER NOT NULL,
	reason TEXT NOT NULL DEFAULT ''
);
