-- Sessions that end now (issue 10, item 5). Portable SQL (SQLite 3.40 and PostgreSQL 15).
-- token_epoch: carried by every access token as "ep"; bumped when the user's role changes, the
-- user is disabled or deletes the account, so every access token issued before is refused on
-- the next request (401 token_revoked). disabled_at: set while an admin has disabled the user
-- (no login, no refresh); deleted_at: when the user deleted the account (DELETE /me), which is
-- then anonymised and disabled for good. A session is live while its refresh-token family has
-- a token that is not revoked: refresh_tokens_live finds that by family without the spent rows.
ALTER TABLE users ADD COLUMN token_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
ALTER TABLE users ADD COLUMN deleted_at BIGINT;
CREATE INDEX refresh_tokens_live ON refresh_tokens (family_id, user_id) WHERE revoked_at IS NULL;
