-- Discounts (issue 12): a booking records what its seats cost before a promo code and the
-- discount taken, so that amount = amount_before_discount - discount is what the buyer pays (and
-- the most a refund may return). Bookings made before this migration had no discount.
-- Portable SQL (SQLite 3.40 and PostgreSQL 15).
ALTER TABLE bookings ADD COLUMN amount_before_discount BIGINT NOT NULL DEFAULT 0;
ALTER TABLE bookings ADD COLUMN discount BIGINT NOT NULL DEFAULT 0;
UPDATE bookings SET amount_before_discount = amount;
