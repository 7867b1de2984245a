-- 011_secrets.sql for PostgreSQL (see sql/011_secrets.sql): the secrets
-- every node of the database shares.
CREATE TABLE server_secrets (
    name text PRIMARY KEY,
    value bytea NOT NULL,
    created_at bigint NOT NULL
);
