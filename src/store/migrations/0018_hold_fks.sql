-- Holds at PostgreSQL's pace (issue 13). On PostgreSQL every foreign-key check of an INSERT
-- takes FOR KEY SHARE on the referenced row: all concurrent holds of one show locked the same
-- shows row (three times per 2-seat hold) and queued on it to build ever larger multixacts.
-- These three references guard nothing the code does not: a claim and a hold are written only
-- by the hold transaction, which reads the show (404 when missing, 409 when cancelled or past)
-- in the same transaction, and for a user the server has authenticated; shows and users are
-- never deleted (a show is cancelled, a user disabled), and a cancel is a non-key UPDATE that
-- FOR KEY SHARE never blocked anyway. seat_claims.seat_id -> seats stays: a hall's layout edit
-- deletes the seats no claim names, and that check is per seat (no two holds share one).
-- SQLite keeps them: one writer at a time, nothing to queue on.
-- dialect: postgres
ALTER TABLE seat_claims DROP CONSTRAINT IF EXISTS seat_claims_show_id_fkey;
ALTER TABLE holds DROP CONSTRAINT IF EXISTS holds_show_id_fkey;
ALTER TABLE holds DROP CONSTRAINT IF EXISTS holds_user_id_fkey;
-- dialect: all
