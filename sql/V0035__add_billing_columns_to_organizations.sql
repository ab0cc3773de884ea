-- Why: the organization's Stripe customer and its current plan, kept by the Stripe path
-- (palisade_billing may update these three columns and no other; tenants only read them).
-- stripe_customer_id is not a unique key: a global unique key outside the allow-list would let
-- one tenant learn about another (RLS pitfall 2), and tenants cannot write it anyway. Stripe
-- issues each customer id once; the Stripe path finds the organization through the plain index
-- below and treats more than one match as an error.
ALTER TABLE palisade.organizations
    ADD COLUMN stripe_customer_id text CHECK (stripe_customer_id ~ '^cus_[A-Za-z0-9]+$'),
    ADD COLUMN plan text NOT NULL DEFAULT 'free' CHECK (plan ~ '^[a-z0-9_-]{1,64}$'),
    ADD COLUMN plan_status text CHECK (plan_status IN ('incomplete', 'incomplete_expired', 'trialing',
                                                       'active', 'past_due', 'canceled', 'unpaid', 'paused'));
CREATE INDEX organizations_stripe_customer_idx ON palisade.organizations (stripe_customer_id)
    WHERE stripe_customer_id IS NOT NULL;
