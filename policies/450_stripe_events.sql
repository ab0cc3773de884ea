/**
 * palisade_platform.stripe_events: the ids of the Stripe events the Stripe path applied, its
 * idempotency record (sql/V0060__create_stripe_events.sql). Not a tenant table: it lives outside
 * schema palisade and has no tenant policies.
 *
 * Who may do what:
 *   palisade_billing  USAGE on the schema; SELECT and INSERT on the table: it inserts each event id
 *                     with ON CONFLICT DO NOTHING in the transaction that applies the event, and
 *                     reads them. No UPDATE or DELETE: a recorded event stays recorded until
 *                     retention removes it (palisade_resolver, below).
 *   palisade_app      nothing on this table: tenant requests and carrier/email webhooks never touch
 *                     Stripe events. (It has USAGE on the schema, for its one platform table
 *                     palisade_platform.mailgun_tokens: granted and explained in
 *                     460_mailgun_tokens.sql. USAGE alone reaches no table: this file revokes
 *                     every privilege on stripe_events from it, and without a policy for it, RLS
 *                     would show it no row anyway.)
 *   palisade_resolver SELECT (event_id, received_at) and DELETE, with a policy for each that
 *                     admits only itself: retention removes the ids past their window, only inside
 *                     palisade_private.purge_expired_records (below).
 *   PUBLIC            nothing.
 *
 * Row-level security is enabled and forced, with the resolver's two retention policies only:
 * besides the resolver, only a BYPASSRLS role (palisade_billing) or a superuser sees rows, so a
 * stray grant to another role exposes nothing.
 * ON DELETE SET NULL from palisade.organizations runs as the table owner and is unaffected.
 */
-- Schema privileges of PUBLIC and palisade_billing; palisade_app's are 460_mailgun_tokens.sql's.
REVOKE ALL ON SCHEMA palisade_platform FROM PUBLIC, palisade_billing;
GRANT USAGE ON SCHEMA palisade_platform TO palisade_billing;

ALTER TABLE palisade_platform.stripe_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade_platform.stripe_events FORCE ROW LEVEL SECURITY;

REVOKE ALL ON palisade_platform.stripe_events FROM PUBLIC, palisade_app, palisade_billing, palisade_resolver;
GRANT SELECT, INSERT ON palisade_platform.stripe_events TO palisade_billing;
GRANT SELECT (event_id, received_at), DELETE ON palisade_platform.stripe_events TO palisade_resolver;

/**
 * Retention (029_retention.sql): the resolver reads and deletes event ids past their window, only
 * inside palisade_private.purge_expired_records, which `palisade retention` and the server's
 * scheduled run call as palisade_owner.
 */
DROP POLICY IF EXISTS stripe_events_select_resolver ON palisade_platform.stripe_events;
CREATE POLICY stripe_events_select_resolver ON palisade_platform.stripe_events FOR SELECT TO palisade_resolver
    USING (current_user = 'palisade_resolver');
DROP POLICY IF EXISTS stripe_events_delete_resolver ON palisade_platform.stripe_events;
CREATE POLICY stripe_events_delete_resolver ON palisade_platform.stripe_events FOR DELETE TO palisade_resolver
    USING (current_user = 'palisade_resolver');
