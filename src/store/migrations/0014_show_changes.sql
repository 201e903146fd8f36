-- Changing a show (issue 12, PATCH /shows/{id}). Portable SQL (SQLite 3.40 and PostgreSQL 15).
--
-- show_changes: one row per committed change of a show's time and/or prices, written in the
-- transaction of the change (catalog/show_change.c), never updated or deleted. previous_starts_at
-- and new_starts_at are equal for a price-only change; prices_changed says whether prices
-- changed too. The free-cancel rule reads it (booking/bookings.c, tix_booking_cancel): the start
-- a booking was bought for is the previous_starts_at of the first move after the booking was
-- created (none: the current start); a booking whose show now starts more than
-- RESCHEDULE_FREE_CANCEL_MINUTES away from that may be cancelled with a full refund until the
-- new start, whatever CANCEL_FULL_REFUND_HOURS says. Kept in the database, so the rule survives
-- restarts and holds on every server.
CREATE TABLE show_changes (
    id TEXT PRIMARY KEY,
    show_id TEXT NOT NULL REFERENCES shows (id),
    changed_by TEXT,
    previous_starts_at BIGINT NOT NULL,
    new_starts_at BIGINT NOT NULL,
    previous_ends_at BIGINT NOT NULL,
    new_ends_at BIGINT NOT NULL,
    prices_changed INTEGER NOT NULL DEFAULT 0,
    changed_at BIGINT NOT NULL
);
CREATE INDEX show_changes_show ON show_changes (show_id, changed_at);

-- The price a claim was given when its hold was placed (minor units; NULL for claims made
-- before this migration, which then cost the show's current price). A booking charges the sum
-- of its hold's claim prices, so a price change never touches a live hold's price, and
-- booking_seats keeps what was sold.
ALTER TABLE seat_claims ADD COLUMN price BIGINT;
