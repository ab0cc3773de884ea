/**
 * palisade.webhook_deliveries: one row per carrier or email-provider webhook delivery, written by
 * the webhook handler in the same transaction as the delivery's effect, after a resolver
 * function has routed it to this organization (021_webhook_resolvers.sql; an Amazon Connect
 * event, by its credential: 026_aws_connect_resolvers.sql). The unique key
 * (organization_id, provider, kind, event_key) turns a retried or concurrent duplicate into a
 * no-op. event_key per kind:
 *
 *   sms.inbound   Twilio MessageSid of the inbound message
 *   sms.status    MessageSid ":" MessageStatus       (Twilio's own dedupe advice)
 *   voice.status  CallSid ":" SequenceNumber          (CallSid ":" CallStatus without one)
 *   email.event   SendGrid sg_event_id, Mailgun event-data id
 *   connect.contact  the EventBridge event id of an Amazon Connect contact event
 *
 * Who may do what (as palisade_app):
 *   - every role of the organization reads its deliveries (GET /v1/webhook-deliveries): the
 *     provider ids and outcomes help answer "did Twilio tell us?", and hold no message content;
 *   - only a provider's webhook transaction inserts: the tenant transaction it opens sets the
 *     organization and NO user (TenantTx::begin_for_provider), so a signed-in user's
 *     transaction, which always carries its user id, cannot forge or pre-empt a delivery;
 *   - nobody updates or deletes a delivery: it is a record. Deleting the organization removes
 *     its deliveries by cascade; retention (029_retention.sql) deletes those older than its
 *     window, as palisade_resolver (policies at the end).
 * No organization set: nothing visible, nothing writable.
 */
ALTER TABLE palisade.webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.webhook_deliveries FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.webhook_deliveries
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.webhook_deliveries FROM palisade_app, palisade_resolver;
GRANT SELECT, INSERT ON palisade.webhook_deliveries TO palisade_app;
GRANT SELECT (organization_id, id, created_at), DELETE ON palisade.webhook_deliveries TO palisade_resolver;

/** Every role of an organization reads its deliveries; a provider's webhook transaction too. */
DROP POLICY IF EXISTS webhook_deliveries_select ON palisade.webhook_deliveries;
CREATE POLICY webhook_deliveries_select ON palisade.webhook_deliveries FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Only a provider's webhook transaction (an organization and no user) records a delivery. */
DROP POLICY IF EXISTS webhook_deliveries_insert ON palisade.webhook_deliveries;
CREATE POLICY webhook_deliveries_insert ON palisade.webhook_deliveries FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
                AND (SELECT palisade_private.current_user_id()) IS NULL);

/** Deliveries are never changed. */
DROP POLICY IF EXISTS webhook_deliveries_update ON palisade.webhook_deliveries;
CREATE POLICY webhook_deliveries_update ON palisade.webhook_deliveries FOR UPDATE TO palisade_app
    USING (false)
    WITH CHECK (false);

/** Deliveries are never deleted one by one (the organization's deletion cascades). */
DROP POLICY IF EXISTS webhook_deliveries_delete ON palisade.webhook_deliveries;
CREATE POLICY webhook_deliveries_delete ON palisade.webhook_deliveries FOR DELETE TO palisade_app
    USING (false);

/**
 * Retention (029_retention.sql): the resolver reads and deletes deliveries past their window, only
 * inside palisade_private.purge_expired_records, which `palisade retention` and the server's
 * scheduled run call as palisade_owner.
 */
DROP POLICY IF EXISTS webhook_deliveries_select_resolver ON palisade.webhook_deliveries;
CREATE POLICY webhook_deliveries_select_resolver ON palisade.webhook_deliveries FOR SELECT TO palisade_resolver
    USING (current_user = 'palisade_resolver');
DROP POLICY IF EXISTS webhook_deliveries_delete_resolver ON palisade.webhook_deliveries;
CREATE POLICY webhook_deliveries_delete_resolver ON palisade.webhook_deliveries FOR DELETE TO palisade_resolver
    USING (current_user = 'palisade_resolver');
