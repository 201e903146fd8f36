-- Learned seat preference (issue 16), written by the `reco` lifecycle job, read by a
-- best-available hold in a hall whose seat_pick is 'learned'.
--
-- seat_prefs: one row per active seat of every hall with confirmed sales. score_e6 is 1e6 times
-- the smoothed sell-order score in [0, 1] (booking/reco.h: 1 = sold first in every show, 0 =
-- never sold); shows = the hall's shows with sales that it was learned from. seat_id has no
-- foreign key on purpose: a new layout deletes the seats no claim ever named (store/venues.c),
-- unsold ones with a score among them; a score of a seat that is gone is never read (holds
-- match scores to the hall's seats by id) and the next run drops it.
CREATE TABLE seat_prefs (
    seat_id TEXT PRIMARY KEY,
    hall_id TEXT NOT NULL REFERENCES halls (id),
    score_e6 BIGINT NOT NULL,
    shows INTEGER NOT NULL
);
CREATE INDEX seat_prefs_hall ON seat_prefs (hall_id);
-- How best-available picks seats in the hall: 'geometric' (the default: booking/best.h's rule
-- alone) or 'learned' (the same rules, candidates ranked by a blend of the geometric distance and
-- the seats' learned score). Set by the owner with PATCH /halls/{id}.
ALTER TABLE halls ADD COLUMN seat_pick TEXT NOT NULL DEFAULT 'geometric'
    CHECK (seat_pick IN ('geometric', 'learned'));
