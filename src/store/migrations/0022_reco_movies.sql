-- Movie recommendations (issue 16), written by the `reco` lifecycle job (src/jobs), read by
-- GET /me/recommendations. Both tables are replaced as a whole by each run, in one transaction,
-- so a reader sees one run's answer or the previous one's, never a mix.
--
-- reco_pairs: item-to-item similarity over confirmed bookings. For movies X and Y booked by the
-- user sets U(X) and U(Y), score_e6 = 1e6 * |U(X) n U(Y)| / sqrt(|U(X)| * |U(Y)|) (cosine of
-- the two user vectors, an integer so both databases compare it exactly); together =
-- |U(X) n U(Y)|. Both directions are stored, and at most the RECO_NEIGHBOURS best per movie.
CREATE TABLE reco_pairs (
    movie_id TEXT NOT NULL REFERENCES movies (id),
    other_id TEXT NOT NULL REFERENCES movies (id),
    score_e6 BIGINT NOT NULL,
    together INTEGER NOT NULL,
    PRIMARY KEY (movie_id, other_id)
);
-- reco_movies: popularity, the fallback for users with no bookings: bookers = |U(X)|.
CREATE TABLE reco_movies (
    movie_id TEXT PRIMARY KEY REFERENCES movies (id),
    bookers INTEGER NOT NULL,
    computed_at BIGINT NOT NULL
);
