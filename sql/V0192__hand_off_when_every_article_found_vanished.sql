-- Why: V0191's bot, should a third article vanish while it answers (each one's deletion
-- committing while the bot waited on its lock), stored the third article's text without its
-- article_id and score: it quoted an article deleted meanwhile, which the function's own doc says
-- it never does (stop 64's review r3). Now it hands the conversation over then, with the hand-off
-- message, as when no article answers well enough. (The change was first made by editing V0191
-- after it had reached main; restored as it landed, per the rule that a migration on main is
-- never edited: review r5.)
--
-- Everything else is V0191's function as it was. CREATE OR REPLACE keeps its owner, its grants
-- (policies/305_chatbot_settings.sql) and the trigger.

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
        v_body text;
        v_outcome text;
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
        v_body := v_reply.reply;
        v_outcome := v_reply.outcome;
        IF v_outcome = 'answer' AND v_article IS NULL THEN
            -- Each of the three articles found was deleted meanwhile: the conversation is handed
            -- over, as when no article answers well enough, rather than quote a deleted one.
            v_body := v_settings.handoff_message;
            v_outcome := 'handoff';
        END IF;
        INSERT INTO palisade.chat_messages
            (organization_id, id, conversation_id, sender, body, article_id, score, created_at,
             updated_at)
        VALUES (NEW.organization_id, palisade_private.uuid_v7(v_at), NEW.conversation_id, 'bot',
                v_body, v_article, v_score, v_at, v_at);
        IF v_outcome = 'handoff' THEN
            UPDATE palisade.chat_conversations
               SET handed_off_at = pg_catalog.now(), handoff_reason = 'low_confidence'
             WHERE organization_id = NEW.organization_id AND id = NEW.conversation_id;
        END IF;
        RETURN NULL;
    END
    $fn$;
