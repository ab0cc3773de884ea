/**
 * palisade.voice_campaigns: an organization's voice campaigns (name, optional script,
 * status, schedule).
 *
 * Who may do what (as palisade_app, inside a tenant transaction): every role of the
 * organization (owner, admin, member) reads and writes its own voice campaigns, like customers:
 * running campaigns and logging calls is the day-to-day work of members, and nothing here
 * configures the organization. Nothing of another organization is visible or writable, and a
 * row cannot be moved to another organization. organization_id defaults to the context, so
 * inserts never name it. No organization set: nothing visible, nothing writable.
 */
ALTER TABLE palisade.voice_campaigns ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.voice_campaigns FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.voice_campaigns
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.voice_campaigns FROM palisade_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON palisade.voice_campaigns TO palisade_app;

/** Every role of an organization reads its voice campaigns. */
DROP POLICY IF EXISTS voice_campaigns_select ON palisade.voice_campaigns;
CREATE POLICY voice_campaigns_select ON palisade.voice_campaigns FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role adds voice campaigns to its own organization only. */
DROP POLICY IF EXISTS voice_campaigns_insert ON palisade.voice_campaigns;
CREATE POLICY voice_campaigns_insert ON palisade.voice_campaigns FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role edits its own organization's voice campaigns and cannot hand them to another. */
DROP POLICY IF EXISTS voice_campaigns_update ON palisade.voice_campaigns;
CREATE POLICY voice_campaigns_update ON palisade.voice_campaigns FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role deletes its own organization's voice campaigns (the API adds status rules on top). */
DROP POLICY IF EXISTS voice_campaigns_delete ON palisade.voice_campaigns;
CREATE POLICY voice_campaigns_delete ON palisade.voice_campaigns FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));
