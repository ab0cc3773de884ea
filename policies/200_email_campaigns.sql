/**
 * palisade.email_campaigns: an organization's email campaigns (name, subject, body, status,
 * schedule, and the send counters kept by the sender and the provider webhooks).
 *
 * Who may do what (as palisade_app, inside a tenant transaction): every role of the
 * organization (owner, admin, member) reads and writes its own email campaigns, like customers:
 * running campaigns and logging calls is the day-to-day work of members, and nothing here
 * configures the organization. Nothing of another organization is visible or writable, and a
 * row cannot be moved to another organization. organization_id defaults to the context, so
 * inserts never name it. No organization set: nothing visible, nothing writable.
 */
ALTER TABLE palisade.email_campaigns ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.email_campaigns FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.email_campaigns
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.email_campaigns FROM palisade_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON palisade.email_campaigns TO palisade_app;

/** Every role of an organization reads its email campaigns. */
DROP POLICY IF EXISTS email_campaigns_select ON palisade.email_campaigns;
CREATE POLICY email_campaigns_select ON palisade.email_campaigns FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role adds email campaigns to its own organization only. */
DROP POLICY IF EXISTS email_campaigns_insert ON palisade.email_campaigns;
CREATE POLICY email_campaigns_insert ON palisade.email_campaigns FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role edits its own organization's email campaigns and cannot hand them to another. */
DROP POLICY IF EXISTS email_campaigns_update ON palisade.email_campaigns;
CREATE POLICY email_campaigns_update ON palisade.email_campaigns FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role deletes its own organization's email campaigns (the API adds status rules on top). */
DROP POLICY IF EXISTS email_campaigns_delete ON palisade.email_campaigns;
CREATE POLICY email_campaigns_delete ON palisade.email_campaigns FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));
