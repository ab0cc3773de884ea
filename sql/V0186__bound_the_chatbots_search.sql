-- Why: the bot's search had no bound, and any member can make it run (POST /v1/chatbot/ask,
-- every role, no rate limit; and every customer message while the bot is active). Its query
-- ORed every lexeme of the question, and a question may be 4000 characters: about 650 distinct
-- words. ts_rank_cd's cost grows faster than the number of query terms, and it ran on every
-- published article that matched: measured on PostgreSQL 15 (helper 148), a 4000-character
-- question of 646 distinct lexemes against 500 published 2000-character articles took 16.5 s
-- (the match alone 6 ms), so about 900 such articles reach the app role's statement_timeout
-- (30 s): each request held a pooled connection and a database core for the whole of it,
-- and the other organizations' requests waited for connections (503).
--
-- Now the query keeps at most 32 lexemes (those that occur most often in the question, ties
-- to the first in byte order), and at most 50 articles are ranked: of the organization's
-- published articles that match, the 50 that ts_rank scores best (ties to the smallest id).
-- ts_rank reads each query term's positions once (0.04 ms for a 50,000-character article),
-- ts_rank_cd builds and walks covers (up to 10 ms for an article made of the question's 32 words,
-- whose matched positions are as many as a tsvector holds). Measured on PostgreSQL 15.18, V0169's
-- functions and these: the 4000-character question against the 500 articles above, 17 s and
-- 20-30 ms (the same article wins); against 200 such articles of 50,000 characters, 48 s and
-- 40-60 ms; a question of those 32 words against 100 articles of 50,000 characters made of them
-- (the worst case found), 1.3 s and 0.4-0.6 s, and every such article past 50 added 10 ms to
-- V0169's ranking and nothing to this one's. So the ranking costs at most 50 times one article's;
-- matching and ts_rank still read every published article of the organization, as the article
-- search of GET /v1/knowledge-base/articles?q= does (policies/330_kb_articles.sql).
--
-- What changes for a question: nothing for one of at most 32 lexemes when at most 50 published
-- articles match it (the query is the same text, and every match is ranked as before). A
-- longer question searches its 32 most frequent words only. When more than 50 articles match,
-- the best by ts_rank_cd among ts_rank's 50 best wins: the best of all matches unless ts_rank
-- puts it outside its 50 (both weigh title words 1.0 and body words 0.4, and count each match;
-- ts_rank_cd also rewards words near each other).
--
-- CREATE OR REPLACE keeps each function's owner, its grants (policies/305_chatbot_settings.sql),
-- the trigger that calls chatbot_reply, and what V0169 gave them: invoker's rights, no SET
-- clause (so that chatbot_reply is inlined), every function, type and collation named with its
-- schema. The new names are pg_catalog.cardinality, pg_catalog.ts_rank and pg_catalog."C"; the
-- new ORDER BYs (integer and text, real and uuid) sort by their types' default btree operator
-- classes, which no search_path changes (tests/api/chatbot.rs).

/**
 * The bot's search for a question: the question's lexemes (English stemming, stop words
 * dropped, as kb_articles.search is built) ORed, so that an article matching any word of a
 * natural-language question is a candidate and ranking decides. At most 32 of them: those the
 * question uses most often (the count of each lexeme's positions), ties to the first in byte
 * order; a question of 32 lexemes or fewer keeps them all. NULL when the question has no
 * searchable word ("hi!", "???"). Each lexeme is quoted for the tsquery parser and cast, not
 * normalised again.
 */
CREATE OR REPLACE FUNCTION palisade_private.chatbot_query(p_question text) RETURNS tsquery
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $fn$
        SELECT pg_catalog.string_agg(
                   '''' || pg_catalog.replace(pg_catalog.replace(t.lexeme, '\', '\\'), '''', '''''')
                        || '''',
                   ' | ' ORDER BY t.lexeme)::pg_catalog.tsquery
          FROM (SELECT l.lexeme
                  FROM pg_catalog.unnest(pg_catalog.to_tsvector(
                           'pg_catalog.english'::pg_catalog.regconfig, p_question)) AS l
                 ORDER BY pg_catalog.cardinality(l.positions) DESC,
                          l.lexeme COLLATE pg_catalog."C"
                 LIMIT 32) AS t
    $fn$;

/**
 * What the bot says to p_question, given the organization's settings: one row.
 *   outcome 'answer'    the best published article scores p_threshold or more: reply is its title,
 *                       a blank line and its body (cut to fit 4000 characters, ending in '...');
 *   outcome 'handoff'   no article scores that much (or none matches): reply is p_handoff;
 *   outcome 'fallback'  the question has no searchable word: reply is p_fallback.
 * article_id, article_title and score are the best-ranked article's whatever the outcome (NULL
 * when none matches). The candidates are the published articles that match chatbot_query's
 * query, at most 50 of them: those ts_rank(search, query) scores best, ties to the smallest id.
 * score is ts_rank_cd(search, query, 32) (normalisation 32: rank/(rank+1), in 0..1) rounded to 4
 * decimals; ties go to the smallest id (the oldest article). Invoker's rights: row-level
 * security keeps it to the acting organization's articles, and so does its own condition on the
 * context's organization.
 */
CREATE OR REPLACE FUNCTION palisade_private.chatbot_reply(
    p_question text, p_threshold double precision, p_fallback text, p_handoff text)
    RETURNS TABLE (outcome text, article_id uuid, article_title text, score double precision,
                   reply text)
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $fn$
        WITH q AS (SELECT palisade_private.chatbot_query(p_question) AS query),
        best AS (
            SELECT c.id, c.title, c.body,
                   pg_catalog.round(pg_catalog.ts_rank_cd(c.search, q.query, 32)::numeric, 4)
                       ::double precision AS score
              FROM (SELECT a.id, a.title, a.body, a.search
                      FROM palisade.kb_articles AS a, q
                     -- RLS keeps this to the acting organization; the explicit condition says
                     -- so again (a role that bypassed RLS would still get only the context's
                     -- articles, none without a context) and lets the organization's index lead.
                     WHERE a.organization_id
                           = (SELECT NULLIF(pg_catalog.current_setting('app.current_org', true),
                                            '')::pg_catalog.uuid)
                       AND a.published AND a.search @@ q.query
                     -- ts_rank is cheap: it keeps the articles ts_rank_cd ranks to 50.
                     ORDER BY pg_catalog.ts_rank(a.search, q.query) DESC, a.id
                     LIMIT 50) AS c, q
             ORDER BY 4 DESC, c.id
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
