-- Why: a customer message the bot answers took PostgreSQL more than twice as long as one it does
-- not (1.24 ms a transaction against 0.57), and about half of the difference went to three
-- things the `SET search_path = ''` of V0142's functions caused:
--   * chatbot_reply could not be inlined (PostgreSQL inlines a SQL function only without a SET
--     clause), so its query was parsed and planned again for every message and every
--     POST /v1/chatbot/ask; inlined, it is planned once with the statement that calls it (the
--     trigger's cached plan, the route's prepared statement);
--   * the trigger's own insert of the bot's reply checked the foreign keys of chat_messages under
--     search_path '' while the customer's message, inserted at top level, checked them under the
--     session's: PostgreSQL keeps one cached plan per foreign key and backend, and re-plans it
--     whenever the search_path differs from the one it was planned under, so each of the two
--     checks was planned twice for every message the bot answered (as store_idempotent_response
--     did before 4ec80bb, docs/benchmarks.md);
--   * every call of the four saved and restored the setting.
-- Measured on 6 December 2026 with pgbench (one client, a customer message whose bot reply is
-- the fallback), V0142's functions and these alternately over seven rounds: about 800
-- transactions a second before, 1,000 to 1,200 after (a median ratio of 1.39), 1,760 with the bot
-- disabled (docs/benchmarks.md, "the chatbot's functions inlined").
--
-- The four run with their caller's rights and never were SECURITY DEFINER (row-level security
-- applies inside them; policies/305_chatbot_settings.sql), so without the clause they resolve
-- names under their caller's search_path, as the context functions of
-- policies/010_context_functions.sql do, for the same reason. Every function and type in their
-- bodies is schema-qualified (SQL's own forms, such as extract, overlay, substring and the types
-- spelled as keywords, are pg_catalog's by construction), and so is the one operator whose
-- operands match no pg_catalog operator exactly (numeric * integer, in uuid_v7:
-- OPERATOR(pg_catalog.*)). The other operators are pg_catalog's, which a search_path that does not
-- name pg_catalog searches first (no Palisade role's search_path names it), so an operator of
-- another schema could be chosen over them only for operands it matched better, and every one here
-- matches pg_catalog's exactly (text, integer, double precision, uuid, tsvector @@ tsquery,
-- timestamptz + interval). Who could plant one: not the app's roles, which have only USAGE on the
-- schemas (policies/010_context_functions.sql), no TEMPORARY (002_no_temporary_objects.sql), and
-- are checked at every start (palisade_db::schema::check_app_role); palisade_owner, which owns
-- these functions anyway. As with any function, a session that names pg_catalog after a schema
-- another role can write gives that role its operators. CREATE OR REPLACE keeps their owner, their
-- grants (policies/305_chatbot_settings.sql) and the trigger; their behaviour is V0142's
-- (tests/api/chatbot.rs).

CREATE OR REPLACE FUNCTION palisade_private.uuid_v7(p_at timestamptz) RETURNS uuid
    LANGUAGE sql VOLATILE PARALLEL SAFE
    AS $fn$
        SELECT pg_catalog.encode(
                   pg_catalog.set_bit(pg_catalog.set_bit(
                       overlay(pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
                               PLACING substring(pg_catalog.int8send(pg_catalog.floor(
                                   extract(epoch FROM p_at) OPERATOR(pg_catalog.*) 1000)::bigint)
                                   FROM 3)
                               FROM 1 FOR 6),
                       52, 1), 53, 1),
                   'hex')::pg_catalog.uuid
    $fn$;

CREATE OR REPLACE FUNCTION palisade_private.chatbot_query(p_question text) RETURNS tsquery
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $fn$
        SELECT pg_catalog.string_agg(
                   '''' || pg_catalog.replace(pg_catalog.replace(l.lexeme, '\', '\\'), '''', '''''')
                        || '''',
                   ' | ' ORDER BY l.lexeme)::pg_catalog.tsquery
          FROM pg_catalog.unnest(pg_catalog.to_tsvector('pg_catalog.english'::pg_catalog.regconfig,
                                                 p_question)) AS l
    $fn$;

CREATE OR REPLACE FUNCTION palisade_private.chatbot_reply(
    p_question text, p_threshold double precision, p_fallback text, p_handoff text)
    RETURNS TABLE (outcome text, article_id uuid, article_title text, score double precision,
                   reply text)
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $fn$
        WITH q AS (SELECT palisade_private.chatbot_query(p_question) AS query),
        best AS (
            SELECT a.id, a.title, a.body,
                   pg_catalog.round(pg_catalog.ts_rank_cd(a.search, q.query, 32)::numeric, 4)
                       ::double precision AS score
              FROM palisade.kb_articles AS a, q
             -- RLS keeps this to the acting organization; the explicit condition says so
             -- again (a role that bypassed RLS would still get only the context's articles,
             -- none without a context) and lets the organization's index lead.
             WHERE a.organization_id
                   = (SELECT NULLIF(pg_catalog.current_setting('app.current_org', true), '')
                                 ::pg_catalog.uuid)
               AND a.published AND a.search @@ q.query
             ORDER BY 4 DESC, a.id
             LIMIT 1)
        SELECT CASE WHEN q.query IS NULL THEN 'fallback'
                    WHEN b.score >= p_threshold THEN 'answer'
                    ELSE 'handoff' END,
               b.id, b.title, b.score,
               CASE WHEN q.query IS NULL THEN p_fallback
                    WHEN b.score >= p_threshold THEN
                        CASE WHEN pg_catalog.char_length(b.title) + 2
                                  + pg_catalog.char_length(b.body) <= 4000
                             THEN b.title || E'\n\n' || b.body
                             ELSE b.title || E'\n\n'
                                  || pg_catalog.left(b.body, 3995 - pg_catalog.char_length(b.title))
                                  || '...' END
                    ELSE p_handoff END
          FROM q LEFT JOIN best AS b ON true
    $fn$;

CREATE OR REPLACE FUNCTION palisade_private.chatbot_on_message() RETURNS trigger
    LANGUAGE plpgsql
    AS $fn$
    DECLARE
        v_settings palisade.chatbot_settings;
        v_conversation palisade.chat_conversations;
        v_reply record;
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
               SET handed_off_at = pg_catalog.now(), handoff_reason = 'low_confidence'
             WHERE organization_id = NEW.organization_id AND id = NEW.conversation_id;
        END IF;
        RETURN NULL;
    END
    $fn$;
