-- Why: one word for cancelled in what clients see. A subscription's status reads `cancelled`
-- (V0120); the time it ended was `canceled_at`, Stripe's spelling, in GET
-- /v1/billing/subscription and in the export. Stripe's field keeps its name only in the Stripe
-- wire parser (crates/palisade_domain/src/stripe.rs). A rename keeps the values and the column's
-- grants; its classification follows in policies/920_column_classification.sql.
ALTER TABLE palisade.subscriptions RENAME COLUMN canceled_at TO cancelled_at;
