-- Mail activity (issue 20): the frozen counts the rules compare between
-- reports.  {"<source package>": {"frozen": N, "before": M, "at": T}}:
-- the frozen count of the MTA's queue as last evaluated, the count before
-- it last changed (absent until it has), and when that change was seen.
-- mail-queue-backlog holds while frozen > before.  Kept apart from the
-- rendered "mail" column: this is the rules' memory, not what is shown.
ALTER TABLE host_state ADD COLUMN mail_queue TEXT NOT NULL DEFAULT '{}';
