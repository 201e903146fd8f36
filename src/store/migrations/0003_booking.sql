-- Holds, bookings, tickets, refunds, the booking audit trail and idempotency keys.
-- seat_claims (0002) stays the one source of truth about who has a seat.
CREATE TABLE holds (
    id TEXT PRIMARY KEY,
    show_id TEXT NOT NULL REFERENCES shows (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    status TEXT NOT NULL CHECK (status IN ('active', 'released', 'replaced', 'booked')),
    seat_count INTEGER NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX holds_user_show ON holds (user_id, show_id, status);
-- At most one active hold per user and show, even when two requests of one user race.
CREATE UNIQUE INDEX holds_one_active ON holds (user_id, show_id) WHERE status = 'active';

CREATE TABLE bookings (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    show_id TEXT NOT NULL REFERENCES shows (id),
    hold_id TEXT NOT NULL UNIQUE REFERENCES holds (id),
    status TEXT NOT NULL CHECK (status IN ('pending_payment', 'confirmed', 'expired', 'failed',
                                           'cancelled_refunded', 'expired_refunded')),
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    provider TEXT NOT NULL,
    order_id TEXT UNIQUE,
    payment_id TEXT,
    expires_at BIGINT NOT NULL, -- pay by then (the hold's expiry)
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    cancelled_at BIGINT
);
CREATE INDEX bookings_user ON bookings (user_id, id);
CREATE INDEX bookings_show ON bookings (show_id, status);

-- The seats and prices of a booking as sold (prices may change later; this does not).
CREATE TABLE booking_seats (
    booking_id TEXT NOT NULL REFERENCES bookings (id),
    seat_id TEXT NOT NULL REFERENCES seats (id),
    label TEXT NOT NULL,
    category TEXT NOT NULL,
    price BIGINT NOT NULL,
    PRIMARY KEY (booking_id, seat_id)
);

CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    booking_id TEXT NOT NULL REFERENCES bookings (id),
    seat_id TEXT NOT NULL REFERENCES seats (id),
    code TEXT NOT NULL UNIQUE, -- 128 random bits: what a QR code carries
    status TEXT NOT NULL CHECK (status IN ('valid', 'void')),
    created_at BIGINT NOT NULL,
    UNIQUE (booking_id, seat_id)
);

CREATE TABLE refunds (
    id TEXT PRIMARY KEY,
    booking_id TEXT NOT NULL REFERENCES bookings (id),
    payment_id TEXT NOT NULL,
    amount BIGINT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'processed', 'failed')),
    provider_refund_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX refunds_booking ON refunds (booking_id);
CREATE INDEX refunds_status ON refunds (status);

-- Every change of a booking's state, with why.
CREATE TABLE booking_events (
    id TEXT PRIMARY KEY,
    booking_id TEXT NOT NULL REFERENCES bookings (id),
    from_status TEXT,
    to_status TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX booking_events_booking ON booking_events (booking_id, created_at);

-- Idempotency-Key: the first response to (user, key) is replayed for the same request.
CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL, -- 0 while the first request is still running
    response TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
