-- pgbench: the bare SQL of a 2-seat hold, the limit bench/holds.sh compares ticketd with. One
-- transaction: the hold row and the claims upsert (ticketd's own statement text: one INSERT, the
-- seats' prices read by subquery, an expired claim taken over, a live one left alone). Same
-- spread as bench/holds.lua: a pair of a 100 x 100 hall, one of the bench's 20 shows, one of its
-- 256 users. The show and user ids come from two small lookup tables holds.sh fills
-- (bench_shows, bench_users) by primary key in the same transaction. Holds are written as
-- 'released': ticketd retires a user's previous hold first, which this bare SQL leaves out, so an
-- 'active' row would trip the one-active-hold index; everything else about the row is the same.
\set pair random(0, 4999)
\set row :pair / 50
\set seat (:pair % 50) * 2 + 1
\set s random(1, 20)
\set u random(1, 256)
BEGIN;
SELECT s.id AS show_id, u.id AS user_id, 'hld_pgb_' || :client_id::text || '_' || txid_current() AS hold_id,
       (extract(epoch FROM now()) * 1000)::bigint AS now_ms,
       h.hall || '_R' || lpad(:row::text, 2, '0') || :seat::text AS seat_a,
       h.hall || '_R' || lpad(:row::text, 2, '0') || (:seat::int + 1)::text AS seat_b
  FROM bench_shows s, bench_users u, bench_hall h WHERE s.n = :s::int AND u.n = :u::int \gset
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
COMMIT;
