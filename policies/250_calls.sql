/**
 * palisade.calls: every phone call an organization places or receives. The call SID is
 * unique per organization (calls_call_sid_key includes organization_id); voice_campaign_id and
 * customer_id are composite foreign keys.
 *
 * Who may do what (as palisade_app, inside a tenant transaction): every role of the
 * organization (owner, admin, member) reads and writes its own calls, like customers:
 * running campaigns and logging calls is the day-to-day work of members, and nothing here
 * configures the organization. Nothing of another organization is visible or writable, and a
 * row cannot be moved to another organization. organization_id defaults to the context, so
 * inserts never name it. No organization set: nothing visible, nothing writable.
 */
ALTER TABLE palisade.calls ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.calls FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.calls
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.calls FROM palisade_app, palisade_resolver;
GRANT SELECT, INSERT, UPDATE, DELETE ON palisade.calls TO palisade_app;
-- The webhook resolver reads only the columns that route a delivery (021_webhook_resolvers.sql).
GRANT SELECT (organization_id, id, call_sid) ON palisade.calls TO palisade_resolver;

/** Every role of an organization reads its calls. */
DROP POLICY IF EXISTS calls_select ON palisade.calls;
CREATE POLICY calls_select ON palisade.calls FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role adds calls to its own organization only. */
DROP POLICY IF EXISTS calls_insert ON palisade.calls;
CREATE POLICY calls_insert ON palisade.calls FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role edits its own organization's calls and cannot hand them to another. */
DROP POLICY IF EXISTS calls_update ON palisade.calls;
CREATE POLICY calls_update ON palisade.calls FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role deletes its own organization's calls, whatever their status (no status rule in the API either). */
DROP POLICY IF EXISTS calls_delete ON palisade.calls;
CREATE POLICY calls_delete ON palisade.calls FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/**
 * The webhook resolver finds a row before any tenant is known (webhook_org_for_call: the
 * organization of the call a Twilio voice status callback is about). current_user is
 * palisade_resolver only while one of its SECURITY DEFINER functions runs, so this does not
 * extend to members of palisade_resolver (it has none: 000_roles.sql).
 */
DROP POLICY IF EXISTS calls_select_resolver ON palisade.calls;
CREATE POLICY calls_select_resolver ON palisade.calls FOR SELECT TO palisade_resolver
    USING (current_user = 'palisade_resolver');
