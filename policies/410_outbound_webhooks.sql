/**
 * palisade.outbound_webhooks: endpoints an organization registers to receive its events.
 *
 * Who may do what (as palisade_app, inside a tenant transaction):
 *   SELECT  every role of the organization, its own webhooks, every column except
 *           `signing_secret` (column grant): the secret is shown once, in the response that
 *           generated it, and cannot be read back through the app role afterwards.
 *   INSERT  owners and admins, into their own organization, as a user (never a context with no
 *           user), once their own email address is verified (an API key's: its creator's;
 *           485_email_verifications.sql): an address taken by someone else sends the
 *           organization's events nowhere after its mailbox's holder takes the account back
 *           with a password reset.
 *   UPDATE  owners and admins, their own organization's webhooks (including rotating the
 *           secret, which writes a new one without reading the old); cannot move them.
 *   enabled_by (who created the webhook, last set its URL or last enabled it: sql/V0172, V0174,
 *           V0175) is written by the trigger outbound_webhooks_enabled_by from app.current_user,
 *           never by palisade_app itself: no UPDATE grant on it, and the trigger overwrites an
 *           INSERT's. The trigger also holds that user's row (FOR SHARE, through
 *           palisade_private.hold_acting_user, 027_outbound_webhook_delivery.sql) and requires
 *           them to be an owner or admin still, and writes disabled_reason 'enabler_removed' or
 *           'enabler_demoted' when an enabled webhook whose enabled_by is gone or a member is
 *           disabled in a transaction of its organization (removing a member or making one a
 *           member does that). palisade_app writes no disabled_reason: no UPDATE grant on it,
 *           and the trigger clears an INSERT's.
 *   DELETE  owners and admins, their own organization's webhooks.
 * The delivery worker (its transaction: the organization, no user, role delivery_worker) changes
 * nothing here itself: it disables a persistently failing endpoint through
 * palisade_private.disable_failing_outbound_webhook (027_outbound_webhook_delivery.sql), which
 * sets enabled = false and disabled_reason/disabled_at; enabling it again clears the reason
 * (trigger outbound_webhooks_reenabled, sql/V0150).
 * palisade_resolver's functions read a signing secret for one due delivery, disable a failing
 * endpoint, and find the endpoints an invoice.paid of the Stripe path goes to
 * (027_outbound_webhook_delivery.sql).
 * No organization set: nothing visible, nothing writable.
 */
ALTER TABLE palisade.outbound_webhooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.outbound_webhooks FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.outbound_webhooks
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.outbound_webhooks FROM palisade_app, palisade_billing, palisade_resolver;
GRANT SELECT (organization_id, id, url, description, event_types, enabled, has_signing_secret,
               disabled_reason, disabled_at, enabled_by, created_at, updated_at)
    ON palisade.outbound_webhooks TO palisade_app;
GRANT INSERT, DELETE ON palisade.outbound_webhooks TO palisade_app;
GRANT UPDATE (url, description, event_types, enabled, signing_secret, updated_at)
    ON palisade.outbound_webhooks TO palisade_app;

/** Every member of an organization sees its webhooks (without their signing secrets). */
DROP POLICY IF EXISTS outbound_webhooks_select ON palisade.outbound_webhooks;
CREATE POLICY outbound_webhooks_select ON palisade.outbound_webhooks FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Owners and admins whose address is verified register webhooks for their own organization. */
DROP POLICY IF EXISTS outbound_webhooks_insert ON palisade.outbound_webhooks;
CREATE POLICY outbound_webhooks_insert ON palisade.outbound_webhooks FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
                AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin')
                -- A user (an API key's creator), who sees their own pending verification: a
                -- context with a role and no user, which the app never sets, would find none.
                AND (SELECT palisade_private.current_user_id()) IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM palisade.email_verifications AS v
                                 WHERE v.organization_id = (SELECT palisade_private.current_org_id())
                                   AND v.user_id = (SELECT palisade_private.current_user_id())));

/** Owners and admins change their own organization's webhooks and keep them there. */
DROP POLICY IF EXISTS outbound_webhooks_update ON palisade.outbound_webhooks;
CREATE POLICY outbound_webhooks_update ON palisade.outbound_webhooks FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
           AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Owners and admins remove their own organization's webhooks. */
DROP POLICY IF EXISTS outbound_webhooks_delete ON palisade.outbound_webhooks;
CREATE POLICY outbound_webhooks_delete ON palisade.outbound_webhooks FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
           AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'));

GRANT SELECT (organization_id, id, enabled, event_types, signing_secret) ON palisade.outbound_webhooks
    TO palisade_resolver;
GRANT UPDATE (enabled, disabled_reason, disabled_at, updated_at) ON palisade.outbound_webhooks
    TO palisade_resolver;

/** The resolver's functions, and only they, read a secret or disable an endpoint (027_*.sql). */
DROP POLICY IF EXISTS outbound_webhooks_select_resolver ON palisade.outbound_webhooks;
CREATE POLICY outbound_webhooks_select_resolver ON palisade.outbound_webhooks
    FOR SELECT TO palisade_resolver
    USING (current_user = 'palisade_resolver');
DROP POLICY IF EXISTS outbound_webhooks_update_resolver ON palisade.outbound_webhooks;
CREATE POLICY outbound_webhooks_update_resolver ON palisade.outbound_webhooks
    FOR UPDATE TO palisade_resolver
    USING (current_user = 'palisade_resolver')
    WITH CHECK (current_user = 'palisade_resolver');
