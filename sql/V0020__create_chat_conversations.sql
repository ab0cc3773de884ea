-- Why: an organization's chat conversations, each optionally about one of its customers. The
-- customer reference is composite (organization_id, customer_id), so it cannot point at another
-- organization's customer (RLS pitfall 1); deleting the customer keeps the conversation and
-- clears only customer_id (PG15 column list), never organization_id.
CREATE TABLE palisade.chat_conversations (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    customer_id uuid,
    subject text CHECK (char_length(subject) BETWEEN 1 AND 200),
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT chat_conversations_customer_fkey FOREIGN KEY (organization_id, customer_id)
        REFERENCES palisade.customers (organization_id, id) ON DELETE SET NULL (customer_id)
);
-- Newest-first keyset pagination of GET /v1/chat/conversations.
CREATE INDEX chat_conversations_org_created_idx
    ON palisade.chat_conversations (organization_id, created_at, id);
-- The customer filter, and the SET NULL when a customer is deleted.
CREATE INDEX chat_conversations_org_customer_idx
    ON palisade.chat_conversations (organization_id, customer_id);
ALTER TABLE palisade.chat_conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.chat_conversations FORCE ROW LEVEL SECURITY;
