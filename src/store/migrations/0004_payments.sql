-- Payment provider webhooks, recorded before they are acted on: the event id (Razorpay's
-- X-Razorpay-Event-Id) is the key that makes a redelivered event harmless. processed_at stays
-- NULL until the event has been applied; a redelivery of an unprocessed event applies it again
-- (every action it takes is idempotent).
CREATE TABLE webhook_events (
    event_id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL, -- the raw body as signed
    received_at BIGINT NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 1,
    processed_at BIGINT,
    outcome TEXT -- what applying it did: confirmed, ignored_state, unknown_order, ...
);
CREATE INDEX webhook_events_received ON webhook_events (received_at);

-- Refund webhooks find their row by the provider's refund id.
CREATE INDEX refunds_provider_refund ON refunds (provider_refund_id);
-- Reconciliation looks for unpaid bookings of recent days.
CREATE INDEX bookings_unsettled ON bookings (status, created_at);
