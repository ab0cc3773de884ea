/**
 * Billing: palisade.subscriptions and palisade.invoices, and the billing columns of
 * palisade.organizations (stripe_customer_id, plan, plan_status).
 *
 * Written only by the Stripe path, which connects as palisade_billing (BYPASSRLS, its own pool):
 * it finds the organization by its Stripe customer id and upserts what Stripe sends. Tenants
 * read their own billing rows and cannot write any of them.
 *
 * Who may do what:
 *   palisade_app      SELECT its own organization's subscriptions and invoices. INSERT,
 *                     UPDATE and DELETE: no grant, and policies that are explicitly false.
 *   palisade_billing  SELECT and INSERT on subscriptions and invoices, and UPDATE of the
 *                     columns its upserts set (crates/palisade_db/src/stripe.rs, the ON CONFLICT
 *                     ... DO UPDATE SET lists), never of organization_id, id, the Stripe id the
 *                     row is upserted by (stripe_subscription_id, stripe_invoice_id) or
 *                     created_at: with BYPASSRLS, a table-wide UPDATE would let a bug or an
 *                     injected statement on the Stripe path move a subscription or an invoice to
 *                     another organization. No DELETE, TRUNCATE, REFERENCES or TRIGGER (Stripe
 *                     voids, it does not delete). On organizations, SELECT of the id and the
 *                     billing columns (to find an organization by customer id) and UPDATE of the
 *                     billing columns only. Nothing on any other tenant table: its BYPASSRLS is
 *                     confined by grants, so it cannot read a tenant's customers, users or keys.
 *                     (Outside the tenant schema it also records the Stripe event ids it applied
 *                     in palisade_platform.stripe_events: 450_stripe_events.sql.)
 *                     BillingPool::check_role refuses to start, and the audit reports
 *                     billing_role_beyond_billing, when it holds more than this.
 *
 * INSERT ... ON CONFLICT DO UPDATE needs UPDATE only on the columns its SET names, and SELECT on
 * the columns it reads: the conflict target (and the arbiter constraint's columns), those read
 * in SET and WHERE, and RETURNING's (PostgreSQL's INSERT page). The SELECT is table-wide: the
 * billing role reads every billing row anyway.
 */
GRANT USAGE ON SCHEMA palisade TO palisade_billing;

REVOKE ALL ON palisade.organizations FROM palisade_billing;
GRANT SELECT (id, stripe_customer_id, plan, plan_status) ON palisade.organizations TO palisade_billing;
GRANT UPDATE (stripe_customer_id, plan, plan_status) ON palisade.organizations TO palisade_billing;

-- palisade.subscriptions -------------------------------------------------------------------

ALTER TABLE palisade.subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.subscriptions FORCE ROW LEVEL SECURITY;

REVOKE ALL ON palisade.subscriptions FROM palisade_app, palisade_billing;
GRANT SELECT ON palisade.subscriptions TO palisade_app;
GRANT SELECT, INSERT ON palisade.subscriptions TO palisade_billing;
-- The upsert's SET list, SUBSCRIPTION_UPDATED_COLUMNS in crates/palisade_db/src/stripe.rs: a
-- test there holds the upsert to that list, and tests/api/stripe_webhooks.rs these grants.
GRANT UPDATE (status, plan, stripe_price_id, quantity, unit_amount_cents, currency,
              current_period_start, current_period_end, cancel_at_period_end, cancelled_at,
              stripe_updated_at, updated_at)
    ON palisade.subscriptions TO palisade_billing;

/** Every member of an organization sees its subscriptions. */
DROP POLICY IF EXISTS subscriptions_select ON palisade.subscriptions;
CREATE POLICY subscriptions_select ON palisade.subscriptions FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Tenants never create subscriptions: written only by the Stripe path. */
DROP POLICY IF EXISTS subscriptions_insert ON palisade.subscriptions;
CREATE POLICY subscriptions_insert ON palisade.subscriptions FOR INSERT TO palisade_app
    WITH CHECK (false);

/** Tenants never change subscriptions: written only by the Stripe path. */
DROP POLICY IF EXISTS subscriptions_update ON palisade.subscriptions;
CREATE POLICY subscriptions_update ON palisade.subscriptions FOR UPDATE TO palisade_app
    USING (false)
    WITH CHECK (false);

/** Tenants never delete subscriptions: written only by the Stripe path. */
DROP POLICY IF EXISTS subscriptions_delete ON palisade.subscriptions;
CREATE POLICY subscriptions_delete ON palisade.subscriptions FOR DELETE TO palisade_app
    USING (false);

-- palisade.invoices ------------------------------------------------------------------------

ALTER TABLE palisade.invoices ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.invoices FORCE ROW LEVEL SECURITY;

REVOKE ALL ON palisade.invoices FROM palisade_app, palisade_billing, palisade_resolver;
GRANT SELECT ON palisade.invoices TO palisade_app;
GRANT SELECT, INSERT ON palisade.invoices TO palisade_billing;
-- The upsert's SET list, INVOICE_UPDATED_COLUMNS in crates/palisade_db/src/stripe.rs (as above).
GRANT UPDATE (stripe_subscription_id, number, status, currency, subtotal_cents, total_cents,
              amount_due_cents, amount_paid_cents, period_start, period_end, due_at, paid_at,
              hosted_invoice_url, stripe_updated_at, updated_at)
    ON palisade.invoices TO palisade_billing;

/** Every member of an organization sees its invoices. */
DROP POLICY IF EXISTS invoices_select ON palisade.invoices;
CREATE POLICY invoices_select ON palisade.invoices FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Tenants never create invoices: written only by the Stripe path. */
DROP POLICY IF EXISTS invoices_insert ON palisade.invoices;
CREATE POLICY invoices_insert ON palisade.invoices FOR INSERT TO palisade_app
    WITH CHECK (false);

/** Tenants never change invoices: written only by the Stripe path. */
DROP POLICY IF EXISTS invoices_update ON palisade.invoices;
CREATE POLICY invoices_update ON palisade.invoices FOR UPDATE TO palisade_app
    USING (false)
    WITH CHECK (false);

/** Tenants never delete invoices: written only by the Stripe path. */
DROP POLICY IF EXISTS invoices_delete ON palisade.invoices;
CREATE POLICY invoices_delete ON palisade.invoices FOR DELETE TO palisade_app
    USING (false);

/**
 * invoice.paid: the invoices trigger (sql/V0150) calls palisade_private.emit_invoice_paid
 * (027_outbound_webhook_delivery.sql), which reads the paid invoice as palisade_resolver. The
 * billing role needs the schema to call it, and nothing else there.
 */
GRANT USAGE ON SCHEMA palisade_private TO palisade_billing;
GRANT SELECT (organization_id, id, status, currency, amount_paid_cents)
    ON palisade.invoices TO palisade_resolver;
DROP POLICY IF EXISTS invoices_select_resolver ON palisade.invoices;
CREATE POLICY invoices_select_resolver ON palisade.invoices FOR SELECT TO palisade_resolver
    USING (current_user = 'palisade_resolver');
