-- The user channel's hold notices (issue 15, http/ws.h): hold_expiring (in the last minute of a
-- hold, or of the unpaid booking made from it) and hold_expired (a hold never booked ran out).
-- Each is sent once per hold, whichever server runs the expire job: the job claims the holds it
-- notifies by setting the column in the same UPDATE that selects them (... IS NULL ... RETURNING),
-- so of two runs that overlap only one gets a hold back. NULL: not sent (yet). ms since the epoch.
-- The existing holds_active_expiry index (0005) serves both selections.
ALTER TABLE holds ADD COLUMN expiring_sent_at BIGINT;
ALTER TABLE holds ADD COLUMN expired_sent_at BIGINT;
