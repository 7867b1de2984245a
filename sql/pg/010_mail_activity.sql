-- 010_mail_activity.sql for PostgreSQL (see sql/010_mail_activity.sql): the
-- frozen counts the rules compare between reports.
ALTER TABLE host_state ADD COLUMN mail_queue text NOT NULL DEFAULT '{}';
