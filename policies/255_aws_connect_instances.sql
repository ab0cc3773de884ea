/**
 * palisade.aws_connect_instances: the Amazon Connect instances an organization registered (the
 * instance ARN, unique per organization: aws_connect_instances_instance_arn_key includes
 * organization_id, so two organizations may register one ARN and neither learns of the other).
 *
 * Who may do what (as palisade_app, inside a tenant transaction): every role of the
 * organization reads its instances; only owners and admins register, relabel or remove them (a
 * registered instance decides which contact events become this organization's calls and chats,
 * so it configures the organization, like phone numbers and IVR menus). The handler refuses
 * members with 403 first; these policies refuse them again. The contact-event webhook reads the
 * instances inside its provider transaction (an organization, no user): the SELECT policy
 * admits it like any reader of the organization. It reads without a lock: a row lock (FOR KEY
 * SHARE) passes the UPDATE policy too, which that transaction does not, so an instance deleted
 * while an event is applied is caught at the event's insert instead (its foreign key fails). Nothing of another organization is visible or
 * writable. No organization set: nothing visible, nothing writable.
 */
ALTER TABLE palisade.aws_connect_instances ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.aws_connect_instances FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.aws_connect_instances
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.aws_connect_instances FROM palisade_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON palisade.aws_connect_instances TO palisade_app;

/** Every role of an organization reads its Connect instances; so does its contact-event webhook. */
DROP POLICY IF EXISTS aws_connect_instances_select ON palisade.aws_connect_instances;
CREATE POLICY aws_connect_instances_select ON palisade.aws_connect_instances FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Owners and admins register instances in their own organization only. */
DROP POLICY IF EXISTS aws_connect_instances_insert ON palisade.aws_connect_instances;
CREATE POLICY aws_connect_instances_insert ON palisade.aws_connect_instances FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
        AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'));

/** Owners and admins relabel their own organization's instances and cannot hand them to another. */
DROP POLICY IF EXISTS aws_connect_instances_update ON palisade.aws_connect_instances;
CREATE POLICY aws_connect_instances_update ON palisade.aws_connect_instances FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
        AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
        AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'));

/** Owners and admins remove their own organization's instances (its calls and chats stay, unlinked). */
DROP POLICY IF EXISTS aws_connect_instances_delete ON palisade.aws_connect_instances;
CREATE POLICY aws_connect_instances_delete ON palisade.aws_connect_instances FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
        AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'));
