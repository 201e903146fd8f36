-- The refund poll job (jobs "refund_poll") asks the provider about refunds that stay pending
-- there, because their refund.processed / refund.failed webhook may have been lost.
-- checked_at: when it last asked (NULL: never), so each pending refund is asked at most once
-- per REFUND_POLL_AGE and a run's batch goes to the least recently asked first (refunds_status,
-- from 0003, finds the pending ones).
ALTER TABLE refunds ADD COLUMN checked_at BIGINT;
