-- Refund attempts: every idempotency key a refund went to the provider with. A refund starts
-- with one attempt whose key is the refund's own id. A network error or a 5xx re-sends the same
-- key (the provider answers a repeat with the refund it already made, so money never goes out
-- twice); only a refund the provider itself marked failed (its answer, or a refund.failed
-- webhook) is re-sent under a new key, `<refund id>-<n>`, as attempt n. refunds.idem_key names
-- the current attempt (NULL on refunds from before: their key is their id); an answer or a
-- webhook about an older attempt changes only that attempt's row.
ALTER TABLE refunds ADD COLUMN idem_key TEXT;

CREATE TABLE refund_attempts (
    idem_key TEXT PRIMARY KEY,
    refund_id TEXT NOT NULL REFERENCES refunds (id),
    n INTEGER NOT NULL, -- 1, 2, ... within the refund
    -- pending: sent or about to be, not settled; failed: the provider failed the refund;
    -- error: no refund came back (unreachable, 5xx, 4xx); processed: the money went out
    status TEXT NOT NULL CHECK (status IN ('pending', 'processed', 'failed', 'error')),
    provider_refund_id TEXT,
    calls INTEGER NOT NULL DEFAULT 0, -- provider calls made with this key
    detail TEXT,                      -- what the last call or event said (a word, for admins)
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (refund_id, n)
);
CREATE INDEX refund_attempts_provider ON refund_attempts (provider_refund_id);

-- Refunds from before: their one attempt, under their own id.
INSERT INTO refund_attempts (idem_key, refund_id, n, status, provider_refund_id, calls, detail,
                             created_at, updated_at)
SELECT id, id, 1, CASE status WHEN 'failed' THEN 'error' ELSE status END, provider_refund_id,
       attempts, 'before attempts were recorded', created_at, updated_at
FROM refunds;
UPDATE refunds SET idem_key = id;
