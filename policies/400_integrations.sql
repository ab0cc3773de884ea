/**
 * palisade.integrations: an organization's connections to outside services.
 *
 * Who may do what (as palisade_app, inside a tenant transaction):
 *   SELECT  every role of the organization, its own integrations, every column except
 *           `secrets` (column grant): credentials are write-only. A client sees `has_secrets`
 *           and `secret_keys`, the names of the secrets that are set, never their values.
 *   INSERT  owners and admins, into their own organization.
 *   UPDATE  owners and admins, their own organization's integrations; cannot move them.
 *   DELETE  owners and admins, their own organization's integrations.
 * No organization set: nothing visible, nothing writable.
 */
ALTER TABLE palisade.integrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.integrations FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.integrations
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.integrations FROM palisade_app;
GRANT SELECT (organization_id, id, provider, name, config, secret_keys, has_secrets, enabled,
               created_at, updated_at)
    ON palisade.integrations TO palisade_app;
GRANT INSERT, DELETE ON palisade.integrations TO palisade_app;
GRANT UPDATE (name, config, secrets, secret_keys, enabled, updated_at)
    ON palisade.integrations TO palisade_app;

/** Every member of an organization sees its integrations (without their secrets). */
DROP POLICY IF EXISTS integrations_select ON palisade.integrations;
CREATE POLICY integrations_select ON palisade.integrations FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Owners and admins connect services for their own organization. */
DROP POLICY IF EXISTS integrations_insert ON palisade.integrations;
CREATE POLICY integrations_insert ON palisade.integrations FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
                AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'));

/** Owners and admins reconfigure their own organization's integrations and keep them there. */
DROP POLICY IF EXISTS integrations_update ON palisade.integrations;
CREATE POLICY integrations_update ON palisade.integrations FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
           AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Owners and admins disconnect their own organization's integrations. */
DROP POLICY IF EXISTS integrations_delete ON palisade.integrations;
CREATE POLICY integrations_delete ON palisade.integrations FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
           AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'));
