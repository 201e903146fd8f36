-- A version of each hall's seats (issue 13): tix_hall_insert gives a new hall one, and
-- tix_hall_update a new one in the transaction that rewrites the seats (random, never 0, so no
-- two layouts share one: store/venues.c); nothing else changes a hall's seat rows. The
-- seat map (store/seatmap.c) reads this one number instead of the hall's seats when its process
-- already holds the seats of that version, so a best-available hold, a booking and a seat-map
-- build stop reading the whole hall (500 rows for the opening-night hall) on every call.
ALTER TABLE halls ADD COLUMN seats_version BIGINT NOT NULL DEFAULT 0;
