-- The server's own secrets, kept in the database so that every node of
-- one database shares them and a backup carries them: the key that signs
-- the links of the owners' mails (name 'answer-key', 32 random bytes;
-- store_mail_link_key()).  Written once, by the first node that needs it.
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
