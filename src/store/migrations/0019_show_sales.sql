-- Sales summary (issue 12, store/reports.h): one row per show with everything GET /reports/sales
-- sums, so that the report reads one row per show (joined to shows, theatres and movies for the
-- grouping) instead of every booking, seat and refund of the range. Before this table an admin's
-- year over 100 theatres took 28-114 s (bench/results/2026-12-06-reports.txt).
--
-- What a row holds, per show (in the show's currency, which is the report's: a show sells in one
-- currency, so the show id alone is the key):
--   paid_bookings  bookings now in a paid status (confirmed, cancelled_refunded,
--                  expired_refunded: every one of them was paid);
--   gross          their amount before discount (amount_before_discount, or amount + discount on
--                  a row where it is 0);
--   discounts      their promo discounts;
--   refunds        processed refunds of those bookings under the booking's own payment id
--                  (refunds.payment_id = bookings.payment_id; a stray second payment or one of
--                  the wrong amount is refunded under its own id and was never in gross);
--   tickets        seats of the bookings confirmed now.
-- A show with no paid booking may have no row (the report reads a missing row as zeros).
--
-- Who keeps it: the statements that move money or tickets add their difference in their own
-- transaction, as an upsert with increments (never read, then written): store/booking.c
-- tix_booking_transition (confirm, late payment, cancel, show cancellation, expiry) and
-- store/payments.c tix_refund_mark / tix_refund_settle (a refund becoming processed). A
-- booking's amounts and seats are fixed when it is created (pending_payment, not counted), so a
-- promo discount arrives with the booking's first paid status. Portable SQL (SQLite 3.40 and
-- PostgreSQL 15).
CREATE TABLE show_sales (
    show_id TEXT PRIMARY KEY REFERENCES shows (id),
    paid_bookings BIGINT NOT NULL DEFAULT 0,
    gross BIGINT NOT NULL DEFAULT 0,
    discounts BIGINT NOT NULL DEFAULT 0,
    refunds BIGINT NOT NULL DEFAULT 0,
    tickets BIGINT NOT NULL DEFAULT 0
);

-- The backfill: the same sums from the ledger as it stands (bench/reports.py runs this statement
-- again after loading its data).
INSERT INTO show_sales (show_id, paid_bookings, gross, discounts, refunds, tickets)
SELECT b.show_id, COUNT(*),
       SUM(CASE WHEN b.amount_before_discount > 0 THEN b.amount_before_discount
                ELSE b.amount + b.discount END),
       SUM(b.discount),
       SUM((SELECT COALESCE(SUM(r.amount), 0) FROM refunds r WHERE r.booking_id = b.id
            AND r.status = 'processed' AND r.payment_id = b.payment_id)),
       SUM(CASE WHEN b.status = 'confirmed'
                THEN (SELECT COUNT(*) FROM booking_seats bs WHERE bs.booking_id = b.id)
                ELSE 0 END)
FROM bookings b
WHERE b.status IN ('confirmed', 'cancelled_refunded', 'expired_refunded')
GROUP BY b.show_id;
