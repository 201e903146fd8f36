-- Promo codes (issue 12). Portable SQL (SQLite 3.40 and PostgreSQL 15).
--
-- promo_codes.uses counts the bookings that hold a use of the code now. A use is claimed in the
-- booking's own transaction by a conditional update ("uses = uses + 1 WHERE uses < max_uses",
-- store/promo.h), never by reading and then writing, and the CHECK below makes the database
-- itself refuse an N+1th use. promo_code_users counts the same per user (an upsert that only
-- increments below max_uses_per_user). code is stored normalised (upper case), so UNIQUE makes
-- codes case-insensitively unique. kind 'percent': value 1..100; kind 'amount': value in minor
-- units of currency (required then). valid_from/valid_until: ms, NULL = open.
CREATE TABLE promo_codes (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('percent', 'amount')),
    value BIGINT NOT NULL CHECK (value > 0),
    currency TEXT,
    max_uses BIGINT,
    max_uses_per_user BIGINT,
    uses BIGINT NOT NULL DEFAULT 0,
    valid_from BIGINT,
    valid_until BIGINT,
    theatre_id TEXT REFERENCES theatres (id),
    min_amount BIGINT NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (uses >= 0 AND (max_uses IS NULL OR uses <= max_uses))
);
CREATE INDEX promo_codes_theatre ON promo_codes (theatre_id, id);

CREATE TABLE promo_code_users (
    promo_code_id TEXT NOT NULL REFERENCES promo_codes (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    uses BIGINT NOT NULL DEFAULT 0 CHECK (uses >= 0),
    PRIMARY KEY (promo_code_id, user_id)
);

-- The code a booking used, and whether the booking holds its use now (1 from the booking's
-- creation until it is cancelled, expires or fails; back to 1 if a late payment confirms it).
-- The flag is what makes giving a use back happen exactly once: it is cleared by a conditional
-- update in the transaction of the status change.
ALTER TABLE bookings ADD COLUMN promo_code_id TEXT REFERENCES promo_codes (id);
ALTER TABLE bookings ADD COLUMN promo_held INTEGER NOT NULL DEFAULT 0;
