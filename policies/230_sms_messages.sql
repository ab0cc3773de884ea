/**
 * palisade.sms_messages: every SMS an organization sends (a campaign's recipients) or
 * receives (inbound, written by the Twilio webhook under this same policy once it has resolved
 * the organization). The carrier SID is unique per organization (sms_messages_carrier_sid_key
 * includes organization_id); campaign_id and customer_id are composite foreign keys.
 *
 * Who may do what (as palisade_app, inside a tenant transaction): every role of the
 * organization (owner, admin, member) reads and writes its own SMS messages, like customers:
 * running campaigns and logging calls is the day-to-day work of members, and nothing here
 * configures the organization. Nothing of another organization is visible or writable, and a
 * row cannot be moved to another organization. organization_id defaults to the context, so
 * inserts never name it. No organization set: nothing visible, nothing writable.
 */
ALTER TABLE palisade.sms_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.sms_messages FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.sms_messages
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.sms_messages FROM palisade_app, palisade_resolver;
GRANT SELECT, INSERT, UPDATE, DELETE ON palisade.sms_messages TO palisade_app;
-- The webhook resolver reads only the columns that route a delivery (021_webhook_resolvers.sql).
GRANT SELECT (organization_id, id, direction, carrier_sid) ON palisade.sms_messages TO palisade_resolver;

/** Every role of an organization reads its SMS messages. */
DROP POLICY IF EXISTS sms_messages_select ON palisade.sms_messages;
CREATE POLICY sms_messages_select ON palisade.sms_messages FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role adds SMS messages to its own organization only. */
DROP POLICY IF EXISTS sms_messages_insert ON palisade.sms_messages;
CREATE POLICY sms_messages_insert ON palisade.sms_messages FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role edits its own organization's SMS messages and cannot hand them to another. */
DROP POLICY IF EXISTS sms_messages_update ON palisade.sms_messages;
CREATE POLICY sms_messages_update ON palisade.sms_messages FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role deletes its own organization's SMS messages (the API adds status rules on top). */
DROP POLICY IF EXISTS sms_messages_delete ON palisade.sms_messages;
CREATE POLICY sms_messages_delete ON palisade.sms_messages FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/**
 * The webhook resolver finds a row before any tenant is known (webhook_org_for_sms_message: the
 * organization of the message a Twilio status callback is about). current_user is
 * palisade_resolver only while one of its SECURITY DEFINER functions runs, so this does not
 * extend to members of palisade_resolver (it has none: 000_roles.sql).
 */
DROP POLICY IF EXISTS sms_messages_select_resolver ON palisade.sms_messages;
CREATE POLICY sms_messages_select_resolver ON palisade.sms_messages FOR SELECT TO palisade_resolver
    USING (current_user = 'palisade_resolver');
