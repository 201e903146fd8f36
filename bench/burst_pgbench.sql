-- pgbench: row 5's limit (bench/burst.py), the burst of 100 2-seat holds as bare SQL. The same
-- transaction as bench/holds_pgbench.sql (the hold row, then ticketd's own claims upsert statement
-- text: one INSERT, the seats' prices read by subquery, an expired claim taken over, a live one
-- left alone), but on the burst's own show, users and fresh seat pairs: burst.py fills the lookup
-- table bench_burst (n, show_id, user_id, hold_id, seat_a, seat_b) before every run and passes
--   -D clients=<-c> -D total=100 -D base=<first n of this run> -D k=0 -D t0=<epoch seconds>
-- A client's first run of the script is a warm-up, as ticketd's pool connections are warm: the
-- same statements on the row its first transaction will take, rolled back (the new backend loads
-- its catalog caches, -M prepared prepares), then it sleeps until t0, when every client starts
-- at once (one that finds t0 past notes itself in bench_burst_late, an unlogged table: burst.py
-- reports it). After it, transaction i = client_id + clients * (k - 2) (k: this client's runs of the
-- script so far, counting this one) takes row base + i; a client's runs past the total are empty
-- (no SQL; burst.py leaves them out of the log's figures, as the warm-ups). So -c100 -t2 runs one
-- hold per connection, and -c16 -t8 the same 100 through 16.
-- Holds are written as 'released', as in holds_pgbench.sql: ticketd retires a user's previous hold
-- first, which this bare SQL leaves out, and the burst's users hold ticketd's active hold of the
-- same show, so an 'active' row would trip the one-active-hold index.
\set k :k + 1
\if :k = 1
\set i :client_id % :total
\else
\set i :client_id + :clients * (:k - 2)
\endif
\set row :base + :i
\if :i < :total
BEGIN;
SELECT show_id, user_id, hold_id, seat_a, seat_b, (extract(epoch FROM now()) * 1000)::bigint AS now_ms
  FROM bench_burst WHERE n = :row \gset
INSERT INTO holds (id, show_id, user_id, status, seat_count, amount, currency, expires_at,
  created_at, updated_at) VALUES (:hold_id::text, :show_id::text, :user_id::text, 'released', 2, 40000, 'INR',
  :now_ms::bigint + 480000, :now_ms::bigint, :now_ms::bigint);
INSERT INTO seat_claims (show_id, seat_id, user_id, hold_id, booking_id, expires_at, created_at,
  price) VALUES
  (:show_id::text, :seat_a::text, :user_id::text, :hold_id::text, NULL, :now_ms::bigint + 480000, :now_ms::bigint,
   (SELECT p.amount FROM seats s JOIN show_prices p ON p.category = s.category
     WHERE p.show_id = :show_id::text AND s.id = :seat_a::text)),
  (:show_id::text, :seat_b::text, :user_id::text, :hold_id::text, NULL, :now_ms::bigint + 480000, :now_ms::bigint,
   (SELECT p.amount FROM seats s JOIN show_prices p ON p.category = s.category
     WHERE p.show_id = :show_id::text AND s.id = :seat_b::text))
  ON CONFLICT (show_id, seat_id) DO UPDATE SET user_id = excluded.user_id,
  hold_id = excluded.hold_id, booking_id = NULL, expires_at = excluded.expires_at,
  created_at = excluded.created_at, price = excluded.price
  WHERE seat_claims.expires_at IS NOT NULL AND seat_claims.expires_at <= :now_ms::bigint
  RETURNING seat_id, price;
\if :k = 1
ROLLBACK;
SELECT greatest(0, (:t0::float8 - extract(epoch FROM clock_timestamp())) * 1000000)::bigint AS wait_us \gset
\if :wait_us = 0
INSERT INTO bench_burst_late VALUES (:client_id);
\endif
\sleep :wait_us us
\else
COMMIT;
\endif
\endif
