/**
 * palisade.pruned_deletion_records: per organization, the newest transaction id among the
 * deletion records (125_deleted_rows.sql) that retention has removed (V0182). A changes feed
 * refuses (410 sync_token_expired) a token whose position is at or before it: the records the
 * token would need after its position may be gone. Never what was deleted, nor when.
 *
 * Who may do what (as palisade_app, inside a tenant transaction):
 *   SELECT  every role of the organization: the feeds read it, in the same statement as the page.
 *   INSERT  nobody: only retention records how far it went. No INSERT grant either.
 *   UPDATE  nobody. No UPDATE grant either.
 *   DELETE  nobody: the row goes with its organization (ON DELETE CASCADE, run as the table's
 *           owner). No DELETE grant either.
 * palisade_resolver (retention's owner) inserts and moves forward any organization's row, inside
 * palisade_private.purge_expired_records (029_retention.sql), which only palisade_owner may
 * execute; nothing else.
 * No organization set: nothing visible, nothing writable.
 */
ALTER TABLE palisade.pruned_deletion_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.pruned_deletion_records FORCE ROW LEVEL SECURITY;

REVOKE ALL ON palisade.pruned_deletion_records FROM palisade_app, palisade_resolver;
-- Table-wide: no column here is secret (each is classified readable in
-- 920_column_classification.sql); pruned_xid never reaches a client as it is (docs/dba.md).
GRANT SELECT ON palisade.pruned_deletion_records TO palisade_app;
-- INSERT ... ON CONFLICT DO UPDATE reads the row it updates: SELECT on the columns it names.
GRANT SELECT (organization_id, pruned_xid), INSERT (organization_id, pruned_xid),
      UPDATE (pruned_xid, pruned_at)
    ON palisade.pruned_deletion_records TO palisade_resolver;

/** Every role of an organization reads how far retention went in it. */
DROP POLICY IF EXISTS pruned_deletion_records_select ON palisade.pruned_deletion_records;
CREATE POLICY pruned_deletion_records_select ON palisade.pruned_deletion_records
    FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Only retention writes it (see above). */
DROP POLICY IF EXISTS pruned_deletion_records_insert ON palisade.pruned_deletion_records;
CREATE POLICY pruned_deletion_records_insert ON palisade.pruned_deletion_records
    FOR INSERT TO palisade_app
    WITH CHECK (false);
DROP POLICY IF EXISTS pruned_deletion_records_update ON palisade.pruned_deletion_records;
CREATE POLICY pruned_deletion_records_update ON palisade.pruned_deletion_records
    FOR UPDATE TO palisade_app
    USING (false)
    WITH CHECK (false);
DROP POLICY IF EXISTS pruned_deletion_records_delete ON palisade.pruned_deletion_records;
CREATE POLICY pruned_deletion_records_delete ON palisade.pruned_deletion_records
    FOR DELETE TO palisade_app
    USING (false);

/**
 * Retention (029_retention.sql): the resolver reads, inserts and moves forward any
 * organization's row, inside palisade_private.purge_expired_records only.
 */
DROP POLICY IF EXISTS pruned_deletion_records_select_resolver ON palisade.pruned_deletion_records;
CREATE POLICY pruned_deletion_records_select_resolver ON palisade.pruned_deletion_records
    FOR SELECT TO palisade_resolver
    USING (current_user = 'palisade_resolver');
DROP POLICY IF EXISTS pruned_deletion_records_insert_resolver ON palisade.pruned_deletion_records;
CREATE POLICY pruned_deletion_records_insert_resolver ON palisade.pruned_deletion_records
    FOR INSERT TO palisade_resolver
    WITH CHECK (current_user = 'palisade_resolver');
DROP POLICY IF EXISTS pruned_deletion_records_update_resolver ON palisade.pruned_deletion_records;
CREATE POLICY pruned_deletion_records_update_resolver ON palisade.pruned_deletion_records
    FOR UPDATE TO palisade_resolver
    USING (current_user = 'palisade_resolver')
    WITH CHECK (current_user = 'palisade_resolver');
