-- Why: an organization's Stripe subscriptions, written only by the Stripe path (palisade_billing)
-- and read-only for tenants (policies/440_billing.sql). stripe_updated_at is the created time of
-- the Stripe event that last wrote the row, so an older event arriving late can be ignored.
CREATE TABLE palisade.subscriptions (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    stripe_subscription_id text NOT NULL CHECK (stripe_subscription_id ~ '^sub_[A-Za-z0-9]+$'),
    status text NOT NULL CHECK (status IN ('incomplete', 'incomplete_expired', 'trialing', 'active',
                                           'past_due', 'canceled', 'unpaid', 'paused')),
    plan text NOT NULL CHECK (char_length(plan) BETWEEN 1 AND 100),
    stripe_price_id text CHECK (stripe_price_id ~ '^price_[A-Za-z0-9]+$'),
    quantity integer NOT NULL DEFAULT 1 CHECK (quantity >= 0),
    unit_amount_cents bigint NOT NULL CHECK (unit_amount_cents >= 0),
    currency text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    current_period_start timestamptz,
    current_period_end timestamptz,
    cancel_at_period_end boolean NOT NULL DEFAULT false,
    canceled_at timestamptz,
    stripe_updated_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT subscriptions_stripe_subscription_id_key UNIQUE (organization_id, stripe_subscription_id),
    CHECK (current_period_end IS NULL OR current_period_start IS NULL
           OR current_period_end >= current_period_start)
);
-- Serves the newest-first listing and GET /v1/billing/subscription.
CREATE INDEX subscriptions_org_created_idx ON palisade.subscriptions (organization_id, created_at, id);
ALTER TABLE palisade.subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.subscriptions FORCE ROW LEVEL SECURITY;
