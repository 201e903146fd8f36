-- Display exchange rates (issue 15): one row per currency, set by an admin with
-- PUT /admin/fx-rates/{currency}. Shows are priced and charged in their own currency; these rates
-- only convert amounts for display (GET /shows/{id}/seats?display_currency=). INR is the base and
-- has no row (its rate is 1).
--
-- rate_per_inr: units of the currency per one INR as an exact decimal string, canonical form of
-- core/currency.h (at most 9 decimals, no trailing zeros: "0.012034"), never a float; as_of: ms
-- since the epoch of the quote (a rate older than FX_MAX_AGE is refused, never used); set_by:
-- the admin's user id; set_at: ms when it was written.
CREATE TABLE fx_rates (
    currency TEXT PRIMARY KEY,
    rate_per_inr TEXT NOT NULL,
    as_of BIGINT NOT NULL,
    set_by TEXT NOT NULL,
    set_at BIGINT NOT NULL
);
