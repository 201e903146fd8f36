-- Mail (issue 11): the transactional outbox and password-reset tokens. Portable SQL (SQLite 3.40
-- and PostgreSQL 15).
--
-- mail_outbox: one row per message, inserted in the same transaction as the state change it
-- tells of (store/outbox.h), sent later by the `mail` job. status: pending (due at
-- next_attempt_at) -> sending (claimed until lease_until; a sender that dies leaves the row to
-- be claimed again once that passes) -> sent | failed (given up; an admin may retry it), or
-- back to pending with a later next_attempt_at. data is a JSON object of the template's
-- references (a booking id, a reset token); ref_id names the row it tells of. The message's
-- Message-ID is <id@ticketd>, the same on every attempt.
CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    to_addr TEXT NOT NULL,
    template TEXT NOT NULL,
    ref_id TEXT,
    data TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_error TEXT,
    subject TEXT,
    message_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
CREATE INDEX mail_outbox_ref ON mail_outbox (ref_id);

-- A password-reset token is stored only as the SHA-256 of its text (hex), like refresh tokens.
-- used_at is set once it is spent (or another reset of that user succeeded). A request for an
-- address without an account writes a row too, with user_id NULL (never usable): both kinds
-- of request then do the same write and commit, and take the same time.
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX password_resets_user ON password_resets (user_id);
