-- Why: incremental sync for the families a mobile client keeps a copy of besides its customers
-- (V0177): knowledge base articles (read offline), chat conversations, calls and SMS messages
-- (GET /v1/<collection>/changes; docs/api.md "Incremental sync"). Each table gets what V0177
-- gave palisade.customers: a change stamp (change_xid, added with a constant default so that
-- existing rows read 0 without a rewrite of the table, then defaulting to the writing
-- transaction, and stamped on every insert and update by palisade_private.stamp_change_xid()),
-- an index serving the feed, and a delete trigger that records the deletion in
-- palisade.deleted_rows under the table's name.
--
-- The indexes are plain CREATE INDEX: each blocks writes to its table while it builds. On a
-- database with many calls or SMS messages, build them first with CREATE INDEX CONCURRENTLY IF
-- NOT EXISTS and the same definitions (the changelog's Operators section says so).

ALTER TABLE palisade.kb_articles ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE palisade.kb_articles ALTER COLUMN change_xid SET DEFAULT pg_catalog.pg_current_xact_id();
ALTER TABLE palisade.chat_conversations ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE palisade.chat_conversations ALTER COLUMN change_xid SET DEFAULT pg_catalog.pg_current_xact_id();
ALTER TABLE palisade.calls ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE palisade.calls ALTER COLUMN change_xid SET DEFAULT pg_catalog.pg_current_xact_id();
ALTER TABLE palisade.sms_messages ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE palisade.sms_messages ALTER COLUMN change_xid SET DEFAULT pg_catalog.pg_current_xact_id();

CREATE TRIGGER kb_articles_change_xid
    BEFORE INSERT OR UPDATE ON palisade.kb_articles
    FOR EACH ROW EXECUTE FUNCTION palisade_private.stamp_change_xid();
CREATE TRIGGER chat_conversations_change_xid
    BEFORE INSERT OR UPDATE ON palisade.chat_conversations
    FOR EACH ROW EXECUTE FUNCTION palisade_private.stamp_change_xid();
CREATE TRIGGER calls_change_xid
    BEFORE INSERT OR UPDATE ON palisade.calls
    FOR EACH ROW EXECUTE FUNCTION palisade_private.stamp_change_xid();
CREATE TRIGGER sms_messages_change_xid
    BEFORE INSERT OR UPDATE ON palisade.sms_messages
    FOR EACH ROW EXECUTE FUNCTION palisade_private.stamp_change_xid();

CREATE INDEX IF NOT EXISTS kb_articles_org_change_idx
    ON palisade.kb_articles (organization_id, change_xid, id);
CREATE INDEX IF NOT EXISTS chat_conversations_org_change_idx
    ON palisade.chat_conversations (organization_id, change_xid, id);
CREATE INDEX IF NOT EXISTS calls_org_change_idx
    ON palisade.calls (organization_id, change_xid, id);
CREATE INDEX IF NOT EXISTS sms_messages_org_change_idx
    ON palisade.sms_messages (organization_id, change_xid, id);

-- The deletion records of these tables, each under its table's name (customers record theirs
-- in palisade_private.customer_changed, with their webhook events).
ALTER TABLE palisade.deleted_rows DROP CONSTRAINT deleted_rows_resource_check;
ALTER TABLE palisade.deleted_rows ADD CONSTRAINT deleted_rows_resource_check
    CHECK (resource IN ('customers', 'kb_articles', 'chat_conversations', 'calls', 'sms_messages'));

-- A synced table's deletion records, written as the deleting role in the deleting transaction
-- (policies/125_deleted_rows.sql lets it insert into its own organization only): once per
-- statement, from the rows it deleted (a transition table), so that deleting an organization's
-- calls and SMS messages with it costs one check, not a PL/pgSQL call per row (measured on a
-- million rows: a row trigger took the cascade from 0.9 s to 5.9 s, this one to 2.2 s). Rows
-- deleted with their organization record nothing: the organization's rows go with it (and the
-- record's foreign key would refuse a row for an organization already deleted). Rows deleted by
-- a cascade (an SMS campaign's messages) are recorded like the others: a client's copy held them.
CREATE FUNCTION palisade_private.record_deletions() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    BEGIN
        INSERT INTO palisade.deleted_rows (organization_id, resource, row_id)
             SELECT g.organization_id, TG_TABLE_NAME::text, g.id
               FROM deleted AS g
              WHERE EXISTS (SELECT FROM palisade.organizations AS o
                             WHERE o.id = g.organization_id);
        RETURN NULL;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.record_deletions() FROM PUBLIC;
CREATE TRIGGER kb_articles_deleted
    AFTER DELETE ON palisade.kb_articles REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_private.record_deletions();
CREATE TRIGGER chat_conversations_deleted
    AFTER DELETE ON palisade.chat_conversations REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_private.record_deletions();
CREATE TRIGGER calls_deleted
    AFTER DELETE ON palisade.calls REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_private.record_deletions();
CREATE TRIGGER sms_messages_deleted
    AFTER DELETE ON palisade.sms_messages REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_private.record_deletions();
