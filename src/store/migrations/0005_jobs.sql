-- Lifecycle jobs (src/jobs). A job runs on one server at a time: the server whose row in
-- job_leases names it as holder, until expires_at (ms), which the holder pushes forward every
-- tick. next_run_at lives here, not in memory, so a server taking a lease over knows when the
-- job is next due and a handover never runs a job twice in one interval. Stopping servers set
-- expires_at to 0 instead of deleting the row, for the same reason.
CREATE TABLE job_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,                 -- hostname:pid:random of the server holding it
    expires_at BIGINT NOT NULL,
    next_run_at BIGINT NOT NULL DEFAULT 0 -- due at or after this
);

-- One row per run, written when it starts and completed when it ends (finished_at NULL: the
-- run is going on, or its server died during it). counts is a JSON object of what it did.
CREATE TABLE job_runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    holder TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    counts TEXT,
    error TEXT
);
CREATE INDEX job_runs_name ON job_runs (name, started_at);
CREATE INDEX job_runs_started ON job_runs (started_at);

-- What the jobs look for: shows to move on, holds left active past their expiry, revoked
-- refresh tokens to purge.
CREATE INDEX shows_status_start ON shows (status, starts_at);
CREATE INDEX holds_active_expiry ON holds (expires_at) WHERE status = 'active';
CREATE INDEX bookings_status_expiry ON bookings (status, expires_at);
CREATE INDEX refresh_tokens_revoked ON refresh_tokens (revoked_at);
