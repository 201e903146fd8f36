-- Theatre onboarding (issue 12): a theatre is born 'pending' and is listed, and may get shows,
-- only once an admin approved it; a rejected one carries the admin's reason until its owner
-- submits it again (pending). submitted_at is the last (re)submission, reviewed_at/reviewed_by
-- the last decision. Theatres that existed before this migration were live: they become approved.
-- The column's default is the safe one ('pending'): a row inserted without a status is not public.
-- Portable SQL (SQLite 3.40 and PostgreSQL 15).
ALTER TABLE theatres ADD COLUMN status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'approved', 'rejected'));
ALTER TABLE theatres ADD COLUMN rejection_reason TEXT;
ALTER TABLE theatres ADD COLUMN submitted_at BIGINT;
ALTER TABLE theatres ADD COLUMN reviewed_at BIGINT;
ALTER TABLE theatres ADD COLUMN reviewed_by TEXT;
UPDATE theatres SET status = 'approved', submitted_at = created_at, reviewed_at = created_at;
-- The admin queue (GET /admin/theatres?status=) walks one status in id order.
CREATE INDEX theatres_status ON theatres (status, id);
