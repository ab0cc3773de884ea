/**
 * palisade.reports: an organization's saved report definitions (name, kind, parameters as a
 * bounded JSON object, optional schedule).
 *
 * Who may do what: every role of the organization reads and writes its own report
 * definitions; nothing of another organization is visible or writable.
 */
ALTER TABLE palisade.reports ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.reports FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.reports
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.reports FROM palisade_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON palisade.reports TO palisade_app;

/** Every role of an organization reads its report definitions. */
DROP POLICY IF EXISTS reports_select ON palisade.reports;
CREATE POLICY reports_select ON palisade.reports FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role adds report definitions to its own organization only. */
DROP POLICY IF EXISTS reports_insert ON palisade.reports;
CREATE POLICY reports_insert ON palisade.reports FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role edits its own organization's report definitions and cannot hand them to another. */
DROP POLICY IF EXISTS reports_update ON palisade.reports;
CREATE POLICY reports_update ON palisade.reports FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role deletes its own organization's report definitions. */
DROP POLICY IF EXISTS reports_delete ON palisade.reports;
CREATE POLICY reports_delete ON palisade.reports FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));
