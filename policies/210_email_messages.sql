/**
 * palisade.email_messages: one row per recipient of an email campaign, with its delivery
 * status. The provider's message id is unique per organization
 * (email_messages_provider_message_id_key includes organization_id), so no tenant can probe
 * another's ids; campaign_id and customer_id are composite foreign keys, so a row can only
 * point at its own organization's campaign and customer.
 *
 * Who may do what (as palisade_app, inside a tenant transaction): every role of the
 * organization (owner, admin, member) reads and writes its own email messages, like customers:
 * running campaigns and logging calls is the day-to-day work of members, and nothing here
 * configures the organization. Nothing of another organization is visible or writable, and a
 * row cannot be moved to another organization. organization_id defaults to the context, so
 * inserts never name it. No organization set: nothing visible, nothing writable.
 */
ALTER TABLE palisade.email_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.email_messages FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.email_messages
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.email_messages FROM palisade_app, palisade_resolver;
GRANT SELECT, INSERT, UPDATE, DELETE ON palisade.email_messages TO palisade_app;
-- The webhook resolver reads only the columns that route a delivery (021_webhook_resolvers.sql).
GRANT SELECT (organization_id, id, provider_message_id) ON palisade.email_messages TO palisade_resolver;

/** Every role of an organization reads its email messages. */
DROP POLICY IF EXISTS email_messages_select ON palisade.email_messages;
CREATE POLICY email_messages_select ON palisade.email_messages FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role adds email messages to its own organization only. */
DROP POLICY IF EXISTS email_messages_insert ON palisade.email_messages;
CREATE POLICY email_messages_insert ON palisade.email_messages FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role edits its own organization's email messages and cannot hand them to another. */
DROP POLICY IF EXISTS email_messages_update ON palisade.email_messages;
CREATE POLICY email_messages_update ON palisade.email_messages FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role deletes its own organization's email messages (the API adds status rules on top). */
DROP POLICY IF EXISTS email_messages_delete ON palisade.email_messages;
CREATE POLICY email_messages_delete ON palisade.email_messages FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/**
 * The webhook resolver finds a row before any tenant is known (webhook_org_for_email_message:
 * the organization of the email an email provider event is about). current_user is
 * palisade_resolver only while one of its SECURITY DEFINER functions runs, so this does not
 * extend to members of palisade_resolver (it has none: 000_roles.sql).
 */
DROP POLICY IF EXISTS email_messages_select_resolver ON palisade.email_messages;
CREATE POLICY email_messages_select_resolver ON palisade.email_messages FOR SELECT TO palisade_resolver
    USING (current_user = 'palisade_resolver');
