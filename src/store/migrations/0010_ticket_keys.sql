-- The ticket signing key of a PostgreSQL deployment without TICKET_SIGNING_KEY: made by the
-- first server to start (INSERT ... ON CONFLICT DO NOTHING, then every server reads the one row),
-- so all servers sign with the same key. A base64url Ed25519 seed; SQLite deployments keep theirs
-- in a file beside the database instead (docs/tickets.md).
CREATE TABLE ticket_signing_keys (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seed TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
