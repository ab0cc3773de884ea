/**
 * palisade.organizations: the root of tenancy. Its `id` is the organization id, so its
 * policies compare `id` (every other tenant table compares `organization_id`).
 *
 * Who may do what (as palisade_app, inside a tenant transaction):
 *   SELECT  its own organization only.
 *   INSERT  only the organization named by the context: signup opens a tenant transaction for a
 *           freshly generated id and inserts it. Any other id is refused by WITH CHECK.
 *   UPDATE  its own organization's name, owners and admins only; cannot move to another id.
 *   DELETE  its own organization, the owner only. ON DELETE CASCADE removes every row it owns.
 * With no organization set, every command sees and touches nothing.
 */
ALTER TABLE palisade.organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.organizations FORCE ROW LEVEL SECURITY;

-- Tenants read every column (including the billing columns) but write only the name: the
-- billing columns (stripe_customer_id, plan, plan_status) belong to the Stripe path, whose grants
-- are in 440_billing.sql.
REVOKE ALL ON palisade.organizations FROM palisade_app;
GRANT SELECT, DELETE ON palisade.organizations TO palisade_app;
GRANT INSERT (id, name) ON palisade.organizations TO palisade_app;
GRANT UPDATE (name, updated_at) ON palisade.organizations TO palisade_app;

/** Members of an organization read it. */
DROP POLICY IF EXISTS organizations_select ON palisade.organizations;
CREATE POLICY organizations_select ON palisade.organizations FOR SELECT TO palisade_app
    USING (id = (SELECT palisade_private.current_org_id()));

/** Signup creates the organization the context names, and no other. */
DROP POLICY IF EXISTS organizations_insert ON palisade.organizations;
CREATE POLICY organizations_insert ON palisade.organizations FOR INSERT TO palisade_app
    WITH CHECK (id = (SELECT palisade_private.current_org_id()));

/** Owners and admins rename their organization; the id cannot change. */
DROP POLICY IF EXISTS organizations_update ON palisade.organizations;
CREATE POLICY organizations_update ON palisade.organizations FOR UPDATE TO palisade_app
    USING (id = (SELECT palisade_private.current_org_id())
           AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'))
    WITH CHECK (id = (SELECT palisade_private.current_org_id()));

/** Only the owner deletes the organization (and, by cascade, everything it owns). */
DROP POLICY IF EXISTS organizations_delete ON palisade.organizations;
CREATE POLICY organizations_delete ON palisade.organizations FOR DELETE TO palisade_app
    USING (id = (SELECT palisade_private.current_org_id())
           AND (SELECT palisade_private.current_app_role()) = 'owner');
