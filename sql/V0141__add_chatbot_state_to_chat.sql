-- Why: the chatbot (issue 11) answers customers from the knowledge base until a conversation is
-- handed to agents, and shows which article it answered from.
-- - chat_conversations.handed_off_at / handoff_reason: set once, when the bot hands the
--   conversation over (no article scored enough: 'low_confidence') or an agent replies
--   ('agent_reply'); from then on the bot stays silent in it. Both set or both NULL.
-- - chat_messages.article_id / score: on a bot answer, the knowledge-base article it quotes and
--   its 0-1 score (docs/chatbot.md). Composite foreign key: never another organization's
--   article; deleting the article keeps the message and clears only article_id (PG15 column
--   list). Only bot messages carry them. Existing messages, bot ones included, stay as they are.
ALTER TABLE palisade.chat_conversations
    ADD COLUMN handed_off_at timestamptz,
    ADD COLUMN handoff_reason text CHECK (handoff_reason IN ('low_confidence', 'agent_reply')),
    ADD CONSTRAINT chat_conversations_handoff_check
        CHECK ((handed_off_at IS NULL) = (handoff_reason IS NULL));

ALTER TABLE palisade.chat_messages
    ADD COLUMN article_id uuid,
    ADD COLUMN score double precision CHECK (score BETWEEN 0 AND 1),
    ADD CONSTRAINT chat_messages_article_fkey FOREIGN KEY (organization_id, article_id)
        REFERENCES palisade.kb_articles (organization_id, id) ON DELETE SET NULL (article_id),
    ADD CONSTRAINT chat_messages_bot_source_check
        CHECK (sender = 'bot' OR (article_id IS NULL AND score IS NULL));
-- The SET NULL when an article is deleted.
CREATE INDEX chat_messages_org_article_idx ON palisade.chat_messages (organization_id, article_id);
