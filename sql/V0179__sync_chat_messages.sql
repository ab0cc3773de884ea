-- Why: incremental sync of chat messages (GET /v1/chat/messages/changes; docs/api.md
-- "Incremental sync"): a chat client keeps every conversation's messages, and the conversations'
-- feed (V0178) says nothing of a new message. As V0178 did for its tables: the change stamp
-- (added with a constant default, a catalog change only; existing rows read 0), its trigger, the
-- feed's index, and the deletion records' statement trigger (messages go with their
-- conversation, by ON DELETE CASCADE: each is recorded).
--
-- The index is a plain CREATE INDEX, which blocks writes to chat_messages while it builds. On a
-- database with many messages, build it first with CREATE INDEX CONCURRENTLY IF NOT EXISTS and
-- the same definition (the changelog's Operators section says so).

ALTER TABLE palisade.chat_messages ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE palisade.chat_messages ALTER COLUMN change_xid SET DEFAULT pg_catalog.pg_current_xact_id();

CREATE TRIGGER chat_messages_change_xid
    BEFORE INSERT OR UPDATE ON palisade.chat_messages
    FOR EACH ROW EXECUTE FUNCTION palisade_private.stamp_change_xid();

CREATE INDEX IF NOT EXISTS chat_messages_org_change_idx
    ON palisade.chat_messages (organization_id, change_xid, id);

ALTER TABLE palisade.deleted_rows DROP CONSTRAINT deleted_rows_resource_check;
ALTER TABLE palisade.deleted_rows ADD CONSTRAINT deleted_rows_resource_check
    CHECK (resource IN ('customers', 'kb_articles', 'chat_conversations', 'chat_messages', 'calls',
                        'sms_messages'));

CREATE TRIGGER chat_messages_deleted
    AFTER DELETE ON palisade.chat_messages REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_private.record_deletions();
