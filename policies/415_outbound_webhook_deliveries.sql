/**
 * palisade.outbound_webhook_events and palisade.outbound_webhook_deliveries: the outbox of
 * outbound webhooks and the state of each send (sql/V0150__create_outbound_webhook_outbox.sql).
 *
 * How rows get here: triggers on customers, sms_messages, email_messages, calls, chat_messages
 * and invoices call palisade_private.emit_webhook_event in the transaction of the change, as
 * whoever made it; it writes an event and one pending delivery per enabled endpoint of that
 * organization subscribed to the type (nothing when there is none). The delivery worker finds
 * due deliveries across organizations only through the resolver
 * palisade_private.due_outbound_webhook_deliveries (027_outbound_webhook_delivery.sql: it returns
 * organization and delivery ids, nothing else), then opens its own tenant transaction for that
 * organization (TenantTx::begin_for_delivery_worker: no user, app.current_role
 * 'delivery_worker') and does every read and write under these policies; it reads the one
 * endpoint's signing secret through palisade_private.outbound_webhook_secret, never through a
 * column grant.
 *
 * Who may do what (as palisade_app):
 *   events      SELECT          own organization;
 *               INSERT          own organization, only while a trigger runs (any role's change
 *                               emits events through the triggers; no statement of any role
 *                               writes one itself, so no context can forge an `invoice.paid`
 *                               that the worker would sign);
 *               never updated, never deleted one by one (the organization's deletion cascades).
 *   deliveries  SELECT          every role of the organization (GET /v1/webhooks/{id}/deliveries);
 *               INSERT          own organization, pending and untried only, with its event's own
 *                               type, and either while a trigger runs (emitted) or by an owner or
 *                               admin (a redelivery, which the API also lets only them ask for): a
 *                               member's or a provider webhook's transaction cannot queue a send,
 *                               and none can relabel an event;
 *               UPDATE          only the worker's transaction (an organization, NO user, the
 *                               role 'delivery_worker'): neither a signed-in user's nor a
 *                               provider webhook's transaction can mark a delivery sent or push
 *                               its retries; nobody can move it to another endpoint;
 *               DELETE          never (deleting the endpoint or organization cascades; retention,
 *                               029_retention.sql, deletes finished events as palisade_resolver).
 * palisade_billing (BYPASSRLS, the Stripe path) has no privilege here: the invoice.paid its
 * transaction causes is written by palisade_private.emit_invoice_paid (027_*.sql), through the
 * `*_resolver` policies below.
 * No organization set: nothing visible, nothing writable.
 */
ALTER TABLE palisade.outbound_webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.outbound_webhook_events FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.outbound_webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.outbound_webhook_deliveries FORCE ROW LEVEL SECURITY;

REVOKE ALL ON palisade.outbound_webhook_events FROM palisade_app, palisade_billing, palisade_resolver;
GRANT SELECT, INSERT ON palisade.outbound_webhook_events TO palisade_app;
REVOKE ALL ON palisade.outbound_webhook_deliveries FROM palisade_app, palisade_billing, palisade_resolver;
GRANT SELECT, INSERT ON palisade.outbound_webhook_deliveries TO palisade_app;
GRANT UPDATE (status, attempt_count, next_attempt_at, leased_until, last_attempt_at,
              last_response_status, last_latency_ms, last_error, updated_at)
    ON palisade.outbound_webhook_deliveries TO palisade_app;

GRANT EXECUTE ON FUNCTION palisade_private.emit_webhook_event(uuid, text, jsonb)
    TO palisade_app, palisade_resolver;

-- The resolver (027_outbound_webhook_delivery.sql) reads what finds due work and signs a send,
-- and writes the Stripe path's invoice.paid.
GRANT SELECT (organization_id, id, webhook_id, event_id, status, attempt_count, next_attempt_at,
               leased_until, created_at, updated_at)
    ON palisade.outbound_webhook_deliveries TO palisade_resolver;
GRANT INSERT ON palisade.outbound_webhook_deliveries TO palisade_resolver;
GRANT SELECT (organization_id, id, occurred_at), INSERT ON palisade.outbound_webhook_events TO palisade_resolver;
-- Retention (029_retention.sql) deletes an event once it is older than its window and none of
-- its deliveries is pending; its deliveries go with it (ON DELETE CASCADE). It locks the events
-- first (SELECT ... FOR UPDATE, which PostgreSQL grants to UPDATE privilege only): UPDATE of one
-- column, whose policy lets no new row through, so nothing is ever changed.
GRANT DELETE, UPDATE (occurred_at) ON palisade.outbound_webhook_events TO palisade_resolver;

ALTER TABLE palisade.outbound_webhook_events
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();
ALTER TABLE palisade.outbound_webhook_deliveries
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

/** Every role of an organization reads its events (through its deliveries). */
DROP POLICY IF EXISTS outbound_webhook_events_select ON palisade.outbound_webhook_events;
CREATE POLICY outbound_webhook_events_select ON palisade.outbound_webhook_events
    FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/**
 * Any change of an organization may emit its events, into that organization only, and only
 * through the triggers (pg_trigger_depth() > 0, as chat_messages' bot rows in 300_chat.sql):
 * palisade_app owns nothing and can create no trigger, and no statement of it writes an event.
 */
DROP POLICY IF EXISTS outbound_webhook_events_insert ON palisade.outbound_webhook_events;
CREATE POLICY outbound_webhook_events_insert ON palisade.outbound_webhook_events
    FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
                AND pg_catalog.pg_trigger_depth() > 0);

/** Events are never changed. */
DROP POLICY IF EXISTS outbound_webhook_events_update ON palisade.outbound_webhook_events;
CREATE POLICY outbound_webhook_events_update ON palisade.outbound_webhook_events
    FOR UPDATE TO palisade_app
    USING (false)
    WITH CHECK (false);

/** Events are never deleted one by one. */
DROP POLICY IF EXISTS outbound_webhook_events_delete ON palisade.outbound_webhook_events;
CREATE POLICY outbound_webhook_events_delete ON palisade.outbound_webhook_events
    FOR DELETE TO palisade_app
    USING (false);

/** Every role of an organization reads its deliveries. */
DROP POLICY IF EXISTS outbound_webhook_deliveries_select ON palisade.outbound_webhook_deliveries;
CREATE POLICY outbound_webhook_deliveries_select ON palisade.outbound_webhook_deliveries
    FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/**
 * Deliveries are queued pending and untried, in the organization's own name: emitted by the
 * triggers, or a redelivery an owner or admin asked for; and with their event's own type (the
 * copy the list shows), so that no delivery calls a customer.created event an invoice.paid.
 */
DROP POLICY IF EXISTS outbound_webhook_deliveries_insert ON palisade.outbound_webhook_deliveries;
CREATE POLICY outbound_webhook_deliveries_insert ON palisade.outbound_webhook_deliveries
    FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
                AND status = 'pending' AND attempt_count = 0
                AND (pg_catalog.pg_trigger_depth() > 0
                     OR (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'))
                AND event_type = (SELECT e.type FROM palisade.outbound_webhook_events AS e
                                   WHERE e.organization_id = outbound_webhook_deliveries.organization_id
                                     AND e.id = outbound_webhook_deliveries.event_id));

/** Only the worker's transaction (an organization, no user, role 'delivery_worker') records attempts. */
DROP POLICY IF EXISTS outbound_webhook_deliveries_update ON palisade.outbound_webhook_deliveries;
CREATE POLICY outbound_webhook_deliveries_update ON palisade.outbound_webhook_deliveries
    FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
           AND (SELECT palisade_private.current_user_id()) IS NULL
           AND (SELECT palisade_private.current_app_role()) = 'delivery_worker')
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Deliveries are never deleted one by one. */
DROP POLICY IF EXISTS outbound_webhook_deliveries_delete ON palisade.outbound_webhook_deliveries;
CREATE POLICY outbound_webhook_deliveries_delete ON palisade.outbound_webhook_deliveries
    FOR DELETE TO palisade_app
    USING (false);

/** The resolver's functions, and only they, look across organizations (027_*.sql). */
DROP POLICY IF EXISTS outbound_webhook_deliveries_select_resolver ON palisade.outbound_webhook_deliveries;
CREATE POLICY outbound_webhook_deliveries_select_resolver ON palisade.outbound_webhook_deliveries
    FOR SELECT TO palisade_resolver
    USING (current_user = 'palisade_resolver');

/** The resolver's emit_invoice_paid writes events and deliveries of any organization (027_*.sql). */
DROP POLICY IF EXISTS outbound_webhook_events_select_resolver ON palisade.outbound_webhook_events;
CREATE POLICY outbound_webhook_events_select_resolver ON palisade.outbound_webhook_events
    FOR SELECT TO palisade_resolver
    USING (current_user = 'palisade_resolver');
DROP POLICY IF EXISTS outbound_webhook_events_insert_resolver ON palisade.outbound_webhook_events;
CREATE POLICY outbound_webhook_events_insert_resolver ON palisade.outbound_webhook_events
    FOR INSERT TO palisade_resolver
    WITH CHECK (current_user = 'palisade_resolver' AND type = 'invoice.paid');
DROP POLICY IF EXISTS outbound_webhook_deliveries_insert_resolver ON palisade.outbound_webhook_deliveries;
CREATE POLICY outbound_webhook_deliveries_insert_resolver ON palisade.outbound_webhook_deliveries
    FOR INSERT TO palisade_resolver
    WITH CHECK (current_user = 'palisade_resolver' AND event_type = 'invoice.paid'
                AND status = 'pending' AND attempt_count = 0);

/** Retention (029_retention.sql): finished events go, only inside purge_expired_records. */
DROP POLICY IF EXISTS outbound_webhook_events_delete_resolver ON palisade.outbound_webhook_events;
CREATE POLICY outbound_webhook_events_delete_resolver ON palisade.outbound_webhook_events
    FOR DELETE TO palisade_resolver
    USING (current_user = 'palisade_resolver');

/** Retention only locks events (FOR UPDATE) before deleting them: no row passes WITH CHECK. */
DROP POLICY IF EXISTS outbound_webhook_events_update_resolver ON palisade.outbound_webhook_events;
CREATE POLICY outbound_webhook_events_update_resolver ON palisade.outbound_webhook_events
    FOR UPDATE TO palisade_resolver
    USING (current_user = 'palisade_resolver')
    WITH CHECK (current_user = 'palisade_resolver' AND false);
