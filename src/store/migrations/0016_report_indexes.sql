-- Sales reports (issue 12, store/reports.h): indexes that make GET /reports/sales fast on a
-- year of data for 100 theatres (bench/reports.py; the times and plans before and after are in
-- bench/results/2026-12-06-reports.txt). The report walks from a range of shows into:
--   bookings_show_sales: a show's bookings by status with everything the report reads of them
--     (the amounts, the payment id, the id), so the three booking branches read the index
--     alone (index-only on PostgreSQL once vacuumed, a covering index on SQLite);
--   refunds_booking_paid: a booking's processed refunds with payment id and amount, covering;
--   seats_hall_blocked: a hall's blocked seats, counted without reading its other seats.
-- Portable SQL (SQLite 3.40 and PostgreSQL 15).
CREATE INDEX bookings_show_sales ON bookings (show_id, status, amount_before_discount, amount, discount, payment_id, id);
CREATE INDEX refunds_booking_paid ON refunds (booking_id, status, payment_id, amount);
CREATE INDEX seats_hall_blocked ON seats (hall_id, blocked, active);
