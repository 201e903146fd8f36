-- Sales reports (issue 12, store/reports.h): indexes that make GET /reports/sales fast on a
-- year of data for 100 theatres (bench/reports.py; the times and plans before and after are in
-- bench/results/2026-12-06-reports.txt).
--   bookings_show_sales: the paid bookings of a show with the amounts summed, read from the
--     index alone (an index-only scan on PostgreSQL, a covering index on SQLite);
--   seats_hall_blocked: a hall's blocked seats, counted without reading its other seats.
-- Portable SQL (SQLite 3.40 and PostgreSQL 15).
CREATE INDEX bookings_show_sales ON bookings (show_id, status, amount, amount_before_discount, discount);
CREATE INDEX seats_hall_blocked ON seats (hall_id, blocked, active);
