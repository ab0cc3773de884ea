/**
 * palisade.chatbot_settings: an organization's chatbot settings, at most one row
 * (chatbot_settings_org_key). No row means the defaults (bot disabled): the API answers them,
 * and the first change writes the row.
 *
 * Who may do what (as palisade_app, inside a tenant transaction): every role of the organization
 * reads its settings (agents see what the bot says); only owners and admins create or change
 * them (the bot speaks for the organization to its customers), as for IVR menus. The handler
 * refuses members with 403 first; these policies enforce it again, so a member's INSERT fails
 * with "new row violates row-level security policy" and a member's UPDATE or DELETE matches no
 * row. Nothing of another organization is visible or writable. No organization set: nothing.
 *
 * The bot itself (sql/V0142__create_chatbot.sql) reads this row with the rights of whoever
 * posts a message, members and provider webhooks included: hence SELECT for every role.
 */
ALTER TABLE palisade.chatbot_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.chatbot_settings FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.chatbot_settings
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.chatbot_settings FROM palisade_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON palisade.chatbot_settings TO palisade_app;

/** Every role of an organization reads its chatbot settings. */
DROP POLICY IF EXISTS chatbot_settings_select ON palisade.chatbot_settings;
CREATE POLICY chatbot_settings_select ON palisade.chatbot_settings FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Owners and admins write their own organization's settings row only. */
DROP POLICY IF EXISTS chatbot_settings_insert ON palisade.chatbot_settings;
CREATE POLICY chatbot_settings_insert ON palisade.chatbot_settings FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
        AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'));

/** Owners and admins change their own organization's settings and cannot hand them to another. */
DROP POLICY IF EXISTS chatbot_settings_update ON palisade.chatbot_settings;
CREATE POLICY chatbot_settings_update ON palisade.chatbot_settings FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
        AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
        AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'));

/** Owners and admins delete their own organization's settings (the API never does: defaults). */
DROP POLICY IF EXISTS chatbot_settings_delete ON palisade.chatbot_settings;
CREATE POLICY chatbot_settings_delete ON palisade.chatbot_settings FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
        AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'));

/**
 * The bot's functions (sql/V0142__create_chatbot.sql) run with the rights of the role that
 * posts a message, and POST /v1/chatbot/ask calls chatbot_reply directly: palisade_app may
 * execute them. None is SECURITY DEFINER: row-level security applies inside them.
 */
GRANT EXECUTE ON FUNCTION palisade_private.uuid_v7(timestamptz) TO palisade_app;
GRANT EXECUTE ON FUNCTION palisade_private.chatbot_query(text) TO palisade_app;
GRANT EXECUTE ON FUNCTION
    palisade_private.chatbot_reply(text, double precision, text, text) TO palisade_app;
