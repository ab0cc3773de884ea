-- Why: the messages of a chat conversation. A message carries organization_id itself (no policy
-- joins to its conversation), and its conversation reference is composite, so a message can only
-- belong to a conversation of the same organization; deleting the conversation deletes them.
CREATE TABLE palisade.chat_messages (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    sender text NOT NULL CHECK (sender IN ('agent', 'customer', 'bot')),
    body text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 4000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT chat_messages_conversation_fkey FOREIGN KEY (organization_id, conversation_id)
        REFERENCES palisade.chat_conversations (organization_id, id) ON DELETE CASCADE
);
-- The tenant-wide newest-first order (and the rule that every table has it).
CREATE INDEX chat_messages_org_created_idx
    ON palisade.chat_messages (organization_id, created_at, id);
-- GET /v1/chat/conversations/{id}/messages pages one conversation newest first; also serves the
-- cascade from the conversation.
CREATE INDEX chat_messages_org_conversation_created_idx
    ON palisade.chat_messages (organization_id, conversation_id, created_at, id);
ALTER TABLE palisade.chat_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.chat_messages FORCE ROW LEVEL SECURITY;
