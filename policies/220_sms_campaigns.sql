/**
 * palisade.sms_campaigns: an organization's SMS campaigns (name, body, sender number,
 * status, schedule, and the send counters kept by the sender and the Twilio callbacks).
 *
 * Who may do what (as palisade_app, inside a tenant transaction): every role of the
 * organization (owner, admin, member) reads and writes its own SMS campaigns, like customers:
 * running campaigns and logging calls is the day-to-day work of members, and nothing here
 * configures the organization. Nothing of another organization is visible or writable, and a
 * row cannot be moved to another organization. organization_id defaults to the context, so
 * inserts never name it. No organization set: nothing visible, nothing writable.
 */
ALTER TABLE palisade.sms_campaigns ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.sms_campaigns FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.sms_campaigns
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.sms_campaigns FROM palisade_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON palisade.sms_campaigns TO palisade_app;

/** Every role of an organization reads its SMS campaigns. */
DROP POLICY IF EXISTS sms_campaigns_select ON palisade.sms_campaigns;
CREATE POLICY sms_campaigns_select ON palisade.sms_campaigns FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role adds SMS campaigns to its own organization only. */
DROP POLICY IF EXISTS sms_campaigns_insert ON palisade.sms_campaigns;
CREATE POLICY sms_campaigns_insert ON palisade.sms_campaigns FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role edits its own organization's SMS campaigns and cannot hand them to another. */
DROP POLICY IF EXISTS sms_campaigns_update ON palisade.sms_campaigns;
CREATE POLICY sms_campaigns_update ON palisade.sms_campaigns FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role deletes its own organization's SMS campaigns (the API adds status rules on top). */
DROP POLICY IF EXISTS sms_campaigns_delete ON palisade.sms_campaigns;
CREATE POLICY sms_campaigns_delete ON palisade.sms_campaigns FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));
