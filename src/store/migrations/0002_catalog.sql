-- The catalogue: movies, theatres, halls with generated seats, shows with a price per seat
-- category. Deletions of movies, theatres and halls are soft (deleted_at) so that past shows
-- and bookings keep their history.
CREATE TABLE movies (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    title_search TEXT NOT NULL, -- lower-case title for portable case-insensitive search
    description TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL CHECK (duration_minutes BETWEEN 1 AND 600),
    release_date TEXT NOT NULL, -- YYYY-MM-DD
    languages TEXT NOT NULL,    -- JSON array of lower-case names: ["hindi","english"]
    genres TEXT NOT NULL,       -- JSON array of lower-case names
    certificate TEXT NOT NULL CHECK (certificate IN ('U', 'UA', 'A', 'S')),
    poster_url TEXT,
    poster_public_id TEXT,
    trailer_url TEXT,
    trailer_public_id TEXT,
    status TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX movies_release ON movies (release_date);

CREATE TABLE theatres (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    city TEXT NOT NULL,
    city_search TEXT NOT NULL, -- lower-case city
    address TEXT NOT NULL,
    latitude_e6 BIGINT,        -- micro-degrees (portable integers, no floating point in SQL)
    longitude_e6 BIGINT,
    utc_offset_minutes INTEGER NOT NULL, -- the theatre's local time, for "shows on a date"
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX theatres_city ON theatres (city_search);
CREATE INDEX theatres_owner ON theatres (owner_id);

CREATE TABLE halls (
    id TEXT PRIMARY KEY,
    theatre_id TEXT NOT NULL REFERENCES theatres (id),
    name TEXT NOT NULL,
    layout TEXT NOT NULL, -- the canonical layout JSON
    seat_count INTEGER NOT NULL,
    lock_version BIGINT NOT NULL DEFAULT 0, -- bumped to lock the hall (show overlap check)
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX halls_theatre ON halls (theatre_id);

CREATE TABLE seats (
    id TEXT PRIMARY KEY, -- <hall id>_<label>: stable across layout edits that keep the label
    hall_id TEXT NOT NULL REFERENCES halls (id),
    label TEXT NOT NULL,
    row_label TEXT NOT NULL,
    number INTEGER NOT NULL,
    x INTEGER NOT NULL,
    y INTEGER NOT NULL,
    category TEXT NOT NULL,
    blocked INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 1, -- 0: removed from the layout, kept for past claims
    UNIQUE (hall_id, label)
);
CREATE INDEX seats_hall ON seats (hall_id, y, x);

CREATE TABLE shows (
    id TEXT PRIMARY KEY,
    movie_id TEXT NOT NULL REFERENCES movies (id),
    hall_id TEXT NOT NULL REFERENCES halls (id),
    theatre_id TEXT NOT NULL REFERENCES theatres (id),
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL, -- start + duration + cleaning buffer
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('scheduled', 'running', 'completed', 'cancelled')),
    cancelled_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX shows_hall_time ON shows (hall_id, starts_at);
CREATE INDEX shows_movie_time ON shows (movie_id, starts_at);
CREATE INDEX shows_theatre_time ON shows (theatre_id, starts_at);

CREATE TABLE show_prices (
    show_id TEXT NOT NULL REFERENCES shows (id),
    category TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (show_id, category)
);

-- The one source of truth about a seat's occupancy in a show (DESIGN.md). A claim with an
-- expiry is a hold; one without is sold. The primary key makes a double sale impossible.
CREATE TABLE seat_claims (
    show_id TEXT NOT NULL REFERENCES shows (id),
    seat_id TEXT NOT NULL REFERENCES seats (id),
    user_id TEXT NOT NULL,
    hold_id TEXT,
    booking_id TEXT,
    expires_at BIGINT, -- NULL = permanent (paid)
    created_at BIGINT NOT NULL,
    PRIMARY KEY (show_id, seat_id)
);
CREATE INDEX seat_claims_hold ON seat_claims (hold_id);
