-- Why: an organization's chatbot settings (issue 11): whether the bot answers customers from the
-- knowledge base, what it says when it greets, cannot read a question or hands over, and the
-- 0-1 score an article must reach. One row per organization at most (chatbot_settings_org_key,
-- which includes organization_id like every unique key); no row means the documented defaults
-- (the column defaults here, which docs/chatbot.md lists and the API answers), bot disabled.
CREATE TABLE palisade.chatbot_settings (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    enabled boolean NOT NULL DEFAULT false,
    greeting text CHECK (char_length(greeting) BETWEEN 1 AND 1000),
    fallback_text text NOT NULL
        DEFAULT 'Sorry, I did not understand. Could you ask your question in other words?'
        CHECK (char_length(fallback_text) BETWEEN 1 AND 1000),
    confidence_threshold double precision NOT NULL DEFAULT 0.3
        CHECK (confidence_threshold BETWEEN 0 AND 1),
    handoff_message text NOT NULL
        DEFAULT 'Let me pass you to a member of our team.'
        CHECK (char_length(handoff_message) BETWEEN 1 AND 1000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT chatbot_settings_org_key UNIQUE (organization_id)
);
-- The rule that every tenant table has its newest-first index (a singleton is never listed).
CREATE INDEX chatbot_settings_org_created_idx
    ON palisade.chatbot_settings (organization_id, created_at, id);
ALTER TABLE palisade.chatbot_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.chatbot_settings FORCE ROW LEVEL SECURITY;
