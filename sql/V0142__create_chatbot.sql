-- Why: the chatbot of issue 11 runs in the database, in the transaction of the customer message
-- it answers, whatever path wrote that message: an AFTER INSERT trigger on chat_messages. It runs
-- with the inserting role's rights (palisade_app, under row-level security), so the only
-- articles it can rank are the acting organization's; the policies of policies/300_chat.sql
-- let palisade_app write a bot message only from inside a trigger, so this trigger is the only
-- writer of bot messages. docs/chatbot.md describes the behaviour; the functions are below.

/**
 * A version-7 UUID (RFC 9562) whose timestamp is p_at's millisecond: the ids the API makes
 * (Uuid::now_v7) for rows written by the database itself. The random part comes from
 * gen_random_uuid() (a v4), whose version bits 0100 become 0111.
 */
CREATE FUNCTION palisade_private.uuid_v7(p_at timestamptz) RETURNS uuid
    LANGUAGE sql VOLATILE PARALLEL SAFE
    SET search_path = ''
    AS $fn$
        SELECT encode(
                   set_bit(set_bit(
                       overlay(uuid_send(gen_random_uuid())
                               PLACING substring(int8send(floor(extract(epoch FROM p_at) * 1000)::bigint) FROM 3)
                               FROM 1 FOR 6),
                       52, 1), 53, 1),
                   'hex')::uuid
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.uuid_v7(timestamptz) FROM PUBLIC;

/**
 * The bot's search for a question: every lexeme of the question (English stemming, stop words
 * dropped, as kb_articles.search is built) ORed, so that an article matching any word of a
 * natural-language question is a candidate and ranking decides. NULL when the question has no
 * searchable word ("hi!", "???"). Each lexeme is quoted for the tsquery parser and cast, not
 * normalised again.
 */
CREATE FUNCTION palisade_private.chatbot_query(p_question text) RETURNS tsquery
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = ''
    AS $fn$
        SELECT string_agg('''' || replace(replace(l.lexeme, '\', '\\'), '''', '''''') || '''',
                          ' | ' ORDER BY l.lexeme)::tsquery
          FROM unnest(to_tsvector('english'::regconfig, p_question)) AS l
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.chatbot_query(text) FROM PUBLIC;

/**
 * What the bot says to p_question, given the organization's settings: one row.
 *   outcome 'answer'    the best published article scores p_threshold or more: reply is its title,
 *                       a blank line and its body (cut to fit 4000 characters, ending in '...');
 *   outcome 'handoff'   no article scores that much (or none matches): reply is p_handoff;
 *   outcome 'fallback'  the question has no searchable word: reply is p_fallback.
 * article_id, article_title and score are the best-ranked article's whatever the outcome (NULL
 * when none matches). score is ts_rank_cd(search, query, 32) (normalisation 32: rank/(rank+1),
 * in 0..1) rounded to 4 decimals; ties go to the smallest id (the oldest article). Invoker's
 * rights: row-level security keeps it to the acting organization's articles, and so does its
 * own condition on the context's organization.
 */
CREATE FUNCTION palisade_private.chatbot_reply(
    p_question text, p_threshold double precision, p_fallback text, p_handoff text)
    RETURNS TABLE (outcome text, article_id uuid, article_title text, score double precision,
                   reply text)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = ''
    AS $fn$
        WITH q AS (SELECT palisade_private.chatbot_query(p_question) AS query),
        best AS (
            SELECT a.id, a.title, a.body,
                   round(ts_rank_cd(a.search, q.query, 32)::numeric, 4)::double precision AS score
              FROM palisade.kb_articles AS a, q
             -- RLS keeps this to the acting organization; the explicit condition says so
             -- again (a role that bypassed RLS would still get only the context's articles,
             -- none without a context) and lets the organization's index lead.
             WHERE a.organization_id
                   = (SELECT NULLIF(pg_catalog.current_setting('app.current_org', true), '')::uuid)
               AND a.published AND a.search @@ q.query
             ORDER BY 4 DESC, a.id
             LIMIT 1)
        SELECT CASE WHEN q.query IS NULL THEN 'fallback'
                    WHEN b.score >= p_threshold THEN 'answer'
                    ELSE 'handoff' END,
               b.id, b.title, b.score,
               CASE WHEN q.query IS NULL THEN p_fallback
                    WHEN b.score >= p_threshold THEN
                        CASE WHEN char_length(b.title) + 2 + char_length(b.body) <= 4000
                             THEN b.title || E'\n\n' || b.body
                             ELSE b.title || E'\n\n'
                                  || left(b.body, 3995 - char_length(b.title)) || '...' END
                    ELSE p_handoff END
          FROM q LEFT JOIN best AS b ON true
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.chatbot_reply(text, double precision, text, text) FROM PUBLIC;

/**
 * The trigger. An agent's message hands the conversation over ('agent_reply'). A customer's
 * message, when the organization's bot is enabled and the conversation is open and not handed
 * over, gets the greeting (if one is set and the bot has not written in this conversation yet)
 * then chatbot_reply's reply; a 'handoff' also hands the conversation over ('low_confidence').
 * Bot messages are stamped clock_timestamp() (after the customer's, which carries the
 * transaction's start), the greeting one microsecond before the reply, so newest-first lists
 * order them after the question.
 */
CREATE FUNCTION palisade_private.chatbot_on_message() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    DECLARE
        v_settings palisade.chatbot_settings;
        v_conversation palisade.chat_conversations;
        v_reply record;
        v_at timestamptz := clock_timestamp();
    BEGIN
        IF NEW.sender = 'agent' THEN
            UPDATE palisade.chat_conversations
               SET handed_off_at = now(), handoff_reason = 'agent_reply'
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
        SELECT * INTO v_reply
          FROM palisade_private.chatbot_reply(NEW.body, v_settings.confidence_threshold,
                                              v_settings.fallback_text, v_settings.handoff_message);
        INSERT INTO palisade.chat_messages
            (organization_id, id, conversation_id, sender, body, article_id, score, created_at,
             updated_at)
        VALUES (NEW.organization_id, palisade_private.uuid_v7(v_at), NEW.conversation_id, 'bot',
                v_reply.reply,
                CASE WHEN v_reply.outcome = 'answer' THEN v_reply.article_id END,
                CASE WHEN v_reply.outcome = 'answer' THEN v_reply.score END,
                v_at, v_at);
        IF v_reply.outcome = 'handoff' THEN
            UPDATE palisade.chat_conversations
               SET handed_off_at = now(), handoff_reason = 'low_confidence'
             WHERE organization_id = NEW.organization_id AND id = NEW.conversation_id;
        END IF;
        RETURN NULL;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.chatbot_on_message() FROM PUBLIC;

CREATE TRIGGER chat_messages_chatbot
    AFTER INSERT ON palisade.chat_messages
    FOR EACH ROW WHEN (NEW.sender IN ('customer', 'agent'))
    EXECUTE FUNCTION palisade_private.chatbot_on_message();
