-- pgbench: row 5's limit (bench/burst.py), the burst of 100 2-seat holds as bare SQL, pipelined:
-- the transaction of bench/burst_pgbench.sql (BEGIN, the hold row, ticketd's claims upsert
-- statement text, COMMIT) sent between \startpipeline and \endpipeline, one round trip per
-- transaction (ticketd's own holds take about 2). \gset is not allowed in a pipeline, so nothing
-- is looked up first: the show, the hold ids' prefix and the time are pgbench variables, the hold
-- id is that prefix and the lookup row's number, and the user and the two seats are scalar
-- subqueries on the lookup table bench_burst (n PRIMARY KEY) keyed by the row (seven probes of a
-- 400-row table per transaction, a cost ticketd does not have: the limit is if anything high).
-- burst.py fills bench_burst as for burst_pgbench.sql and passes, with -M prepared,
--   -D clients=<-c> -D total=100 -D base=<first n of this run> -D k=0 -D t0=<epoch seconds>
--   -D show=<show id> -D hold_prefix=<hold ids' prefix> -D now_ms=<t0 in epoch ms>
-- (ticketd passes its clock as a parameter too; t0 is the burst's start). The warm-up, the common
-- start at t0 (bench_burst_late) and which row a client's run takes are those of
-- burst_pgbench.sql: the warm-up runs the same pipeline (the same prepared statements) and rolls
-- it back. Holds are written as 'released' (see burst_pgbench.sql).
\set k :k + 1
\if :k = 1
\set i :client_id % :total
\else
\set i :client_id + :clients * (:k - 2)
\endif
\set row :base + :i
\if :i < :total
\startpipeline
BEGIN;
INSERT INTO holds (id, show_id, user_id, status, seat_count, amount, currency, expires_at,
  created_at, updated_at) VALUES (:hold_prefix::text || :row::text, :show::text,
  (SELECT user_id FROM bench_burst WHERE n = :row), 'released', 2, 40000, 'INR',
  :now_ms::bigint + 480000, :now_ms::bigint, :now_ms::bigint);
INSERT INTO seat_claims (show_id, seat_id, user_id, hold_id, booking_id, expires_at, created_at,
  price) VALUES
  (:show::text, (SELECT seat_a FROM bench_burst WHERE n = :row),
   (SELECT user_id FROM bench_burst WHERE n = :row), :hold_prefix::text || :row::text, NULL,
   :now_ms::bigint + 480000, :now_ms::bigint,
   (SELECT p.amount FROM seats s JOIN show_prices p ON p.category = s.category
     WHERE p.show_id = :show::text AND s.id = (SELECT seat_a FROM bench_burst WHERE n = :row))),
  (:show::text, (SELECT seat_b FROM bench_burst WHERE n = :row),
   (SELECT user_id FROM bench_burst WHERE n = :row), :hold_prefix::text || :row::text, NULL,
   :now_ms::bigint + 480000, :now_ms::bigint,
   (SELECT p.amount FROM seats s JOIN show_prices p ON p.category = s.category
     WHERE p.show_id = :show::text AND s.id = (SELECT seat_b FROM bench_burst WHERE n = :row)))
  ON CONFLICT (show_id, seat_id) DO UPDATE SET user_id = excluded.user_id,
  hold_id = excluded.hold_id, booking_id = NULL, expires_at = excluded.expires_at,
  created_at = excluded.created_at, price = excluded.price
  WHERE seat_claims.expires_at IS NOT NULL AND seat_claims.expires_at <= :now_ms::bigint
  RETURNING seat_id, price;
\if :k = 1
ROLLBACK;
\else
COMMIT;
\endif
\endpipeline
\if :k = 1
SELECT greatest(0, (:t0::float8 - extract(epoch FROM clock_timestamp())) * 1000000)::bigint AS wait_us \gset
\if :wait_us = 0
INSERT INTO bench_burst_late VALUES (:client_id);
\endif
\sleep :wait_us us
\endif
\endif
