-- The report's grouping columns in the per-show summary (issue 12, store/reports.h), so that
-- GET /reports/sales reads ONE table by a range scan of a covering index instead of a range scan
-- of shows per theatre plus one show_sales probe per show (8.1 s for an admin's year over 100
-- theatres on PostgreSQL before this; bench/results/2026-12-06-reports.txt).
--
-- What each show's row now also holds (copies of the show's own columns):
--   theatre_id, movie_id, hall_id, currency   fixed when the show is created (nothing changes them);
--   starts_at   the show's start (UTC ms), moved with the show by PATCH /shows (tix_show_move);
--   live        1, or 0 once the show is cancelled (tix_show_cancel, tix_catalog_cancel_future_shows).
-- The local day and the sellable seats are not copied: the day needs the theatre's offset (joined
-- from theatres, 100 rows, hashed once) and the sellable seats the hall's layout (joined once per
-- group of the report, not per show), so a theatre or hall edit never has to touch this table.
--
-- Who keeps it: store/shows.c tix_show_insert creates the row with the show; tix_show_move,
-- tix_show_cancel and tix_catalog_cancel_future_shows update it in the same statement's
-- transaction (the caller's). Every show has a row from now on; the money columns are kept as
-- 0019 says. Portable SQL (SQLite 3.40 and PostgreSQL 15).
ALTER TABLE show_sales ADD COLUMN theatre_id TEXT NOT NULL DEFAULT '';
ALTER TABLE show_sales ADD COLUMN movie_id TEXT NOT NULL DEFAULT '';
ALTER TABLE show_sales ADD COLUMN hall_id TEXT NOT NULL DEFAULT '';
ALTER TABLE show_sales ADD COLUMN currency TEXT NOT NULL DEFAULT '';
ALTER TABLE show_sales ADD COLUMN starts_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE show_sales ADD COLUMN live SMALLINT NOT NULL DEFAULT 1;

-- The backfill: a row for every show, its columns from shows (bench/reports.py runs this
-- statement again after loading its data). "WHERE 1 = 1" is SQLite's way to tell an upsert's
-- SELECT from a join.
INSERT INTO show_sales (show_id, theatre_id, movie_id, hall_id, currency, starts_at, live)
SELECT id, theatre_id, movie_id, hall_id, currency, starts_at,
       CASE WHEN status = 'cancelled' THEN 0 ELSE 1 END
FROM shows WHERE 1 = 1
ON CONFLICT (show_id) DO UPDATE SET theatre_id = excluded.theatre_id,
    movie_id = excluded.movie_id, hall_id = excluded.hall_id, currency = excluded.currency,
    starts_at = excluded.starts_at, live = excluded.live;

-- The report's range scan: by start, every column it reads in the index (an index-only scan on
-- PostgreSQL after vacuum, a covering index on SQLite). Plain key columns rather than INCLUDE,
-- which SQLite lacks.
CREATE INDEX show_sales_time ON show_sales (starts_at, theatre_id, movie_id, hall_id, currency,
    live, gross, discounts, refunds, tickets, show_id);
