/**
 * palisade.chat_conversations: an organization's chat conversations, optionally about one of
 * its customers (composite foreign key: never another organization's customer).
 *
 * Who may do what (as palisade_app, inside a tenant transaction): every role of the
 * organization (owner, admin, member: agents are members) reads, opens, closes, edits and
 * deletes its own conversations; nothing of another organization is visible or writable, and a
 * row cannot be moved to another organization. organization_id defaults to the context, so
 * inserts never name it. No organization set: nothing visible, nothing writable.
 */
ALTER TABLE palisade.chat_conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.chat_conversations FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.chat_conversations
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.chat_conversations FROM palisade_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON palisade.chat_conversations TO palisade_app;

/** Every role of an organization reads its conversations. */
DROP POLICY IF EXISTS chat_conversations_select ON palisade.chat_conversations;
CREATE POLICY chat_conversations_select ON palisade.chat_conversations FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role adds conversations to its own organization only. */
DROP POLICY IF EXISTS chat_conversations_insert ON palisade.chat_conversations;
CREATE POLICY chat_conversations_insert ON palisade.chat_conversations FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role edits its own organization's conversations and cannot hand them to another. */
DROP POLICY IF EXISTS chat_conversations_update ON palisade.chat_conversations;
CREATE POLICY chat_conversations_update ON palisade.chat_conversations FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role deletes its own organization's conversations. */
DROP POLICY IF EXISTS chat_conversations_delete ON palisade.chat_conversations;
CREATE POLICY chat_conversations_delete ON palisade.chat_conversations FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/**
 * palisade.chat_messages: the messages of a conversation. Each row carries its own
 * organization_id, so these policies compare it directly and never join to the conversation;
 * the composite foreign key (organization_id, conversation_id) is what ties a message to a
 * conversation of the same organization.
 *
 * Who may do what: every role of the organization reads and posts messages in its own
 * conversations. The API offers no edit or delete of a single message (they go with their
 * conversation), but the UPDATE and DELETE policies are still scoped to the organization so
 * that no path could reach another tenant's rows.
 *
 * Only the chatbot writes `sender = 'bot'` (issue 11): palisade_app may insert (or turn a row
 * into) a bot message only while a trigger runs (pg_trigger_depth() > 0). palisade_app owns
 * nothing and cannot create triggers: not in Palisade's schemas, and not on a temporary table
 * either (002_no_temporary_objects.sql revokes TEMPORARY, and the server refuses to start when
 * its app role has it); the one trigger that writes chat_messages is
 * chat_messages_chatbot (sql/V0142__create_chatbot.sql), which writes only the organization's
 * own settings texts and knowledge-base articles. A client's `sender: bot` is refused by the API
 * first (422), and by these policies if any path forgot. Bot messages written before this rule
 * stay as they were.
 */
ALTER TABLE palisade.chat_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.chat_messages FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.chat_messages
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.chat_messages FROM palisade_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON palisade.chat_messages TO palisade_app;

/** Every role of an organization reads its messages. */
DROP POLICY IF EXISTS chat_messages_select ON palisade.chat_messages;
CREATE POLICY chat_messages_select ON palisade.chat_messages FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role adds messages to its own organization only; bot messages only from the bot. */
DROP POLICY IF EXISTS chat_messages_insert ON palisade.chat_messages;
CREATE POLICY chat_messages_insert ON palisade.chat_messages FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
        AND (sender <> 'bot' OR pg_catalog.pg_trigger_depth() > 0));

/** Every role edits its own organization's messages and cannot hand them to another, nor make
 * one a bot message. */
DROP POLICY IF EXISTS chat_messages_update ON palisade.chat_messages;
CREATE POLICY chat_messages_update ON palisade.chat_messages FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
        AND (sender <> 'bot' OR pg_catalog.pg_trigger_depth() > 0));

/** Every role deletes its own organization's messages. */
DROP POLICY IF EXISTS chat_messages_delete ON palisade.chat_messages;
CREATE POLICY chat_messages_delete ON palisade.chat_messages FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));
