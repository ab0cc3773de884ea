-- Why: an organization's Stripe invoices, written only by the Stripe path (palisade_billing) and
-- read-only for tenants (policies/440_billing.sql). stripe_subscription_id is a plain column, not
-- a foreign key to subscriptions: Stripe does not order its events, so an invoice can arrive
-- before the subscription it belongs to. stripe_updated_at is the created time of the Stripe
-- event that last wrote the row (out-of-order protection).
CREATE TABLE palisade.invoices (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    stripe_invoice_id text NOT NULL CHECK (stripe_invoice_id ~ '^in_[A-Za-z0-9]+$'),
    stripe_subscription_id text CHECK (stripe_subscription_id ~ '^sub_[A-Za-z0-9]+$'),
    number text CHECK (char_length(number) BETWEEN 1 AND 100),
    status text NOT NULL CHECK (status IN ('draft', 'open', 'paid', 'uncollectible', 'void')),
    currency text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    subtotal_cents bigint NOT NULL,
    total_cents bigint NOT NULL,
    amount_due_cents bigint NOT NULL CHECK (amount_due_cents >= 0),
    amount_paid_cents bigint NOT NULL DEFAULT 0 CHECK (amount_paid_cents >= 0),
    period_start timestamptz,
    period_end timestamptz,
    due_at timestamptz,
    paid_at timestamptz,
    hosted_invoice_url text CHECK (hosted_invoice_url LIKE 'https://%' AND char_length(hosted_invoice_url) <= 2048),
    stripe_updated_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT invoices_stripe_invoice_id_key UNIQUE (organization_id, stripe_invoice_id),
    CHECK (period_end IS NULL OR period_start IS NULL OR period_end >= period_start)
);
-- Serves the newest-first keyset pagination of GET /v1/billing/invoices.
CREATE INDEX invoices_org_created_idx ON palisade.invoices (organization_id, created_at, id);
ALTER TABLE palisade.invoices ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.invoices FORCE ROW LEVEL SECURITY;
