/**
 * palisade.deleted_rows: what an organization deleted from a synced table (customers,
 * kb_articles, chat_conversations, chat_messages, calls, sms_messages, email_campaigns,
 * email_messages, sms_campaigns, voice_campaigns, social_posts, ivr_menus), so that the next
 * incremental sync (GET <collection>/changes) tells its clients (V0177 to V0181; docs/api.md
 * "Incremental sync"). A row says which row went (`resource`, the table's name, and `row_id`),
 * in which transaction (`change_xid`) and when; never what it held. Kept for a window of 90 days
 * or more (retention, below).
 *
 * Who may do what (as palisade_app, inside a tenant transaction):
 *   SELECT  every role of the organization: the ids it deleted, which its clients had seen.
 *   INSERT  the synced table's delete trigger (palisade_private.customer_changed for customers,
 *           palisade_private.record_deletions for the others), running as the deleting role:
 *           into its own organization only, and only the three columns it names (the
 *           transaction id and the time are the defaults, never the writer's).
 *   UPDATE  nobody: a record of a deletion does not change. No UPDATE grant either.
 *   DELETE  nobody through the app: the records go with their organization (ON DELETE CASCADE,
 *           run as the table's owner), and once past their window with retention
 *           (029_retention.sql, as palisade_resolver: the resolver policies below). No DELETE
 *           grant either.
 * palisade_resolver (retention's owner) reads and deletes records past their window, in every
 * organization; nothing else. How far it went, per organization, is
 * palisade.pruned_deletion_records (126_pruned_deletion_records.sql).
 * No organization set: nothing visible, nothing writable.
 */
ALTER TABLE palisade.deleted_rows ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.deleted_rows FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.deleted_rows
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.deleted_rows FROM palisade_app, palisade_resolver;
-- Table-wide: no column here is secret (each is classified readable in
-- 920_column_classification.sql); change_xid never reaches a client as it is (docs/dba.md).
GRANT SELECT ON palisade.deleted_rows TO palisade_app;
GRANT INSERT (organization_id, resource, row_id) ON palisade.deleted_rows TO palisade_app;
GRANT SELECT (organization_id, resource, change_xid, row_id, deleted_at), DELETE
    ON palisade.deleted_rows TO palisade_resolver;

/** Every role of an organization reads what it deleted. */
DROP POLICY IF EXISTS deleted_rows_select ON palisade.deleted_rows;
CREATE POLICY deleted_rows_select ON palisade.deleted_rows FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** A deletion is recorded in the deleting organization only. */
DROP POLICY IF EXISTS deleted_rows_insert ON palisade.deleted_rows;
CREATE POLICY deleted_rows_insert ON palisade.deleted_rows FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Records are never changed (see above). */
DROP POLICY IF EXISTS deleted_rows_update ON palisade.deleted_rows;
CREATE POLICY deleted_rows_update ON palisade.deleted_rows FOR UPDATE TO palisade_app
    USING (false)
    WITH CHECK (false);

/** Records are never deleted by the app (see above). */
DROP POLICY IF EXISTS deleted_rows_delete ON palisade.deleted_rows;
CREATE POLICY deleted_rows_delete ON palisade.deleted_rows FOR DELETE TO palisade_app
    USING (false);

/**
 * Retention (029_retention.sql): the resolver reads and deletes records past their window,
 * inside palisade_private.purge_expired_records, which only palisade_owner may execute
 * (`palisade retention` and the server's scheduled run).
 */
DROP POLICY IF EXISTS deleted_rows_select_resolver ON palisade.deleted_rows;
CREATE POLICY deleted_rows_select_resolver ON palisade.deleted_rows FOR SELECT TO palisade_resolver
    USING (current_user = 'palisade_resolver');
DROP POLICY IF EXISTS deleted_rows_delete_resolver ON palisade.deleted_rows;
CREATE POLICY deleted_rows_delete_resolver ON palisade.deleted_rows FOR DELETE TO palisade_resolver
    USING (current_user = 'palisade_resolver');
