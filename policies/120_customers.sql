/**
 * palisade.customers: an organization's customers. Email is unique per organization
 * (customers_email_key includes organization_id), so one tenant cannot probe another's.
 *
 * Who may do what (as palisade_app, inside a tenant transaction): every role of the
 * organization reads and writes its own customers; nothing of another organization is visible
 * or writable, and a row cannot be moved to another organization. organization_id defaults to
 * the context, so inserts never name it. No organization set: nothing visible, nothing writable.
 */
ALTER TABLE palisade.customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.customers FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.customers
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.customers FROM palisade_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON palisade.customers TO palisade_app;

/** Members of an organization read its customers. */
DROP POLICY IF EXISTS customers_select ON palisade.customers;
CREATE POLICY customers_select ON palisade.customers FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Members add customers to their own organization only. */
DROP POLICY IF EXISTS customers_insert ON palisade.customers;
CREATE POLICY customers_insert ON palisade.customers FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Members edit their own organization's customers and cannot hand them to another. */
DROP POLICY IF EXISTS customers_update ON palisade.customers;
CREATE POLICY customers_update ON palisade.customers FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Members delete their own organization's customers. */
DROP POLICY IF EXISTS customers_delete ON palisade.customers;
CREATE POLICY customers_delete ON palisade.customers FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));
