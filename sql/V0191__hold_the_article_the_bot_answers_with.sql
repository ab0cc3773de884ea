-- Why: a customer message answered while its best article was being deleted failed with 500. The
-- bot's trigger read the article through chatbot_reply without a lock, then inserted its reply
-- pointing at it (chat_messages_article_fkey). A DELETE of the article that had not committed
-- when chatbot_reply read it left the article found; the insert's foreign key check then waited
-- for the deleting transaction and, once it committed, raised 23503: the customer's message was
-- not stored either (POST /v1/chat/conversations/{id}/messages answered 500).
--
-- Now the trigger holds the article it answers with (FOR KEY SHARE, as the foreign key's own
-- check would, but before the reply refers to it). An article deleted meanwhile is not found
-- once the deleting transaction commits, and the reply is computed again, by a statement that no
-- longer sees that article: the next best article, or the hand-off. At most three times; should
-- a third article vanish as well, the reply is the third one's text without its article_id and
-- score, as a reply whose article is deleted afterwards is kept (ON DELETE SET NULL). The lock
-- needs UPDATE privilege and passes kb_articles' UPDATE policy, which admit every role of the
-- organization (policies/330_kb_articles.sql), as its SELECT policy does. It holds off only a
-- DELETE of that article (or a change of its key) until the message's transaction ends, which
-- the insert's foreign key check did already.
--
-- Everything else is V0169's function as it was: invoker's rights, no SET clause, every
-- function and type named with its schema (the new statements use only uuid = uuid and
-- text <> text, pg_catalog's exact matches). CREATE OR REPLACE keeps its owner, its grants
-- (policies/305_chatbot_settings.sql) and the trigger (tests/api/chatbot.rs).

/**
 * The bot's trigger on chat_messages (AFTER INSERT, V0142): an agent's message hands the
 * conversation over; a customer's message, while the bot is active on the conversation, gets the
 * greeting (once) and one reply (docs/chatbot.md). The article an answer quotes is held until the
 * transaction ends; one deleted meanwhile is never quoted nor referred to.
 */
CREATE OR REPLACE FUNCTION palisade_private.chatbot_on_message() RETURNS trigger
    LANGUAGE plpgsql
    AS $fn$
    DECLARE
        v_settings palisade.chatbot_settings;
        v_conversation palisade.chat_conversations;
        v_reply record;
        v_article pg_catalog.uuid;
        v_score double precision;
        v_at pg_catalog.timestamptz := pg_catalog.clock_timestamp();
    BEGIN
        IF NEW.sender = 'agent' THEN
            UPDATE palisade.chat_conversations
               SET handed_off_at = pg_catalog.now(), handoff_reason = 'agent_reply'
             WHERE organization_id = NEW.organization_id AND id = NEW.conversation_id
               AND handed_off_at IS NULL;
            RETURN NULL;
        END IF;
        SELECT * INTO v_settings FROM palisade.chatbot_settings AS s
         WHERE s.organization_id = NEW.organization_id;
        IF NOT FOUND OR NOT v_settings.enabled THEN
            RETURN NULL;
        END IF;
        SELECT * INTO v_conversation FROM palisade.chat_conversations AS c
         WHERE c.organization_id = NEW.organization_id AND c.id = NEW.conversation_id
           FOR UPDATE;
        IF NOT FOUND OR v_conversation.status <> 'open'
           OR v_conversation.handed_off_at IS NOT NULL THEN
            RETURN NULL;
        END IF;
        IF v_settings.greeting IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM palisade.chat_messages AS m
             WHERE m.organization_id = NEW.organization_id
               AND m.conversation_id = NEW.conversation_id AND m.sender = 'bot') THEN
            INSERT INTO palisade.chat_messages
                (organization_id, id, conversation_id, sender, body, created_at, updated_at)
            VALUES (NEW.organization_id, palisade_private.uuid_v7(v_at), NEW.conversation_id,
                    'bot', v_settings.greeting, v_at, v_at);
            v_at := v_at + interval '1 microsecond';
        END IF;
        -- Each statement of this function sees what was committed when it started (READ
        -- COMMITTED): a reply computed again does not see an article whose deletion committed
        -- while the lock below waited for it.
        FOR v_try IN 1..3 LOOP
            SELECT * INTO v_reply
              FROM palisade_private.chatbot_reply(NEW.body, v_settings.confidence_threshold,
                                                  v_settings.fallback_text,
                                                  v_settings.handoff_message);
            v_article := NULL;
            v_score := NULL;
            EXIT WHEN v_reply.outcome <> 'answer';
            PERFORM 1 FROM palisade.kb_articles AS a
              WHERE a.organization_id = NEW.organization_id AND a.id = v_reply.article_id
                FOR KEY SHARE;
            IF FOUND THEN
                v_article := v_reply.article_id;
                v_score := v_reply.score;
                EXIT;
            END IF;
        END LOOP;
        INSERT INTO palisade.chat_messages
            (organization_id, id, conversation_id, sender, body, article_id, score, created_at,
             updated_at)
        VALUES (NEW.organization_id, palisade_private.uuid_v7(v_at), NEW.conversation_id, 'bot',
                v_reply.reply, v_article, v_score, v_at, v_at);
        IF v_reply.outcome = 'handoff' THEN
            UPDATE palisade.chat_conversations
               SET handed_off_at = pg_catalog.now(), handoff_reason = 'low_confidence'
             WHERE organization_id = NEW.organization_id AND id = NEW.conversation_id;
        END IF;
        RETURN NULL;
    END
    $fn$;
