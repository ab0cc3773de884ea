/**
 * palisade.idempotency_keys: the first response to each Idempotency-Key of an organization's
 * POST requests (sql/V0130__create_idempotency_keys.sql; crates/palisade_db/src/idempotency.rs).
 * The key is claimed by the first statement of the request's own transaction and the response
 * stored just before its COMMIT, so a key row exists exactly when the request's effect does.
 *
 * Who may do what (as palisade_app):
 *   - a signed-in user's transaction (any role: every role may POST somewhere) claims a key of
 *     its own organization, reads it back to replay or refuse a retry, and writes the response
 *     into it, or takes over a row older than 24 hours; provider webhook transactions (an
 *     organization and no user) never use keys, so the policies refuse them;
 *   - nobody deletes a key one by one: the organization's deletion cascades, and removing rows
 *     older than 24 hours is the retention command's job (issue 12).
 * Responses that carried a secret (an API key, a webhook signing secret) are stored without
 * it. No organization set: nothing visible, nothing writable.
 * The request's fingerprint, `request_hash`, is written by palisade_app but never read by it: a
 * retry's is compared through palisade_private.idempotency_request_matches (024_idempotency.sql),
 * since a SHA-256 of a body that carried a write-only secret (an integration's `secrets`) would
 * let whoever reads it test guesses of that secret offline.
 */
ALTER TABLE palisade.idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.idempotency_keys FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.idempotency_keys
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.idempotency_keys FROM palisade_app, palisade_resolver;
GRANT SELECT (organization_id, key, response_status, response_body, response_location, created_at),
      INSERT, UPDATE
   ON palisade.idempotency_keys TO palisade_app;
GRANT SELECT (organization_id, key, request_hash, created_at), DELETE
   ON palisade.idempotency_keys TO palisade_resolver;

/** A user's transaction reads its organization's keys (to replay or refuse a retry). */
DROP POLICY IF EXISTS idempotency_keys_select ON palisade.idempotency_keys;
CREATE POLICY idempotency_keys_select ON palisade.idempotency_keys FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
           AND (SELECT palisade_private.current_user_id()) IS NOT NULL);

/** A user's transaction claims keys in its own organization only. */
DROP POLICY IF EXISTS idempotency_keys_insert ON palisade.idempotency_keys;
CREATE POLICY idempotency_keys_insert ON palisade.idempotency_keys FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
                AND (SELECT palisade_private.current_user_id()) IS NOT NULL);

/**
 * A user's transaction stores the response in its organization's key, or takes over a key
 * older than 24 hours; a key never moves to another organization.
 */
DROP POLICY IF EXISTS idempotency_keys_update ON palisade.idempotency_keys;
CREATE POLICY idempotency_keys_update ON palisade.idempotency_keys FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
           AND (SELECT palisade_private.current_user_id()) IS NOT NULL)
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
                AND (SELECT palisade_private.current_user_id()) IS NOT NULL);

/** Keys are never deleted one by one (the organization's deletion cascades; retention: issue 12). */
DROP POLICY IF EXISTS idempotency_keys_delete ON palisade.idempotency_keys;
CREATE POLICY idempotency_keys_delete ON palisade.idempotency_keys FOR DELETE TO palisade_app
    USING (false);

/**
 * Retention (029_retention.sql): the resolver reads and deletes keys past their window, only
 * inside palisade_private.purge_expired_records, which `palisade retention` and the server's
 * scheduled run call as palisade_owner. And it reads one key's fingerprint of the caller's own
 * organization inside palisade_private.idempotency_request_matches (024_idempotency.sql).
 */
DROP POLICY IF EXISTS idempotency_keys_select_resolver ON palisade.idempotency_keys;
CREATE POLICY idempotency_keys_select_resolver ON palisade.idempotency_keys FOR SELECT TO palisade_resolver
    USING (current_user = 'palisade_resolver');
DROP POLICY IF EXISTS idempotency_keys_delete_resolver ON palisade.idempotency_keys;
CREATE POLICY idempotency_keys_delete_resolver ON palisade.idempotency_keys FOR DELETE TO palisade_resolver
    USING (current_user = 'palisade_resolver');

/**
 * store_idempotent_response(key, status, body, location): stores the response of the request
 * whose transaction claimed `key` (crates/palisade_db/src/idempotency.rs, `complete`) in the
 * key's row, which that claim left without a response; raises when no such row is found (never
 * overwrites a stored response). SECURITY INVOKER: it runs as the caller, palisade_app, under
 * this table's policies above, and adds no privilege. It exists for its check: the request's
 * COMMIT is sent in the same pipeline as this statement, so a row count checked in Rust would be
 * read after that COMMIT had run; a statement that raises makes PostgreSQL skip the COMMIT, and
 * the request's effect rolls back with it. The claim earlier in the same transaction holds the
 * row, so the check should never fire; if it does, the request answers 500 and the server logs
 * "database error P0002" (no_data_found), counted in palisade_db_errors_total as class P0.
 * No `SET search_path` clause, like the context functions (010_context_functions.sql): the
 * operator is qualified instead, and the function runs as its caller, so a search_path could
 * only mislead the caller itself. A SET clause costs more than its GUC save and restore here:
 * the UPDATE fires the foreign key's check (a row this transaction inserted), and PostgreSQL
 * parses and plans that check's cached plan again whenever the search_path differs from the one
 * it was planned under: run under another search_path than the claim's INSERT, which checks the
 * same key, it was planned twice a request (measured on 6 December 2026, docs/benchmarks.md).
 */
CREATE OR REPLACE FUNCTION palisade_private.store_idempotent_response(
    p_key text, p_status smallint, p_body text, p_location text)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY INVOKER
    AS $fn$
BEGIN
    UPDATE palisade.idempotency_keys
       SET response_status = p_status, response_body = p_body, response_location = p_location
     WHERE key OPERATOR(pg_catalog.=) p_key AND response_status IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'no_data_found',
            MESSAGE = 'no claimed idempotency key without a response to store this one in';
    END IF;
END
$fn$;
REVOKE ALL ON FUNCTION palisade_private.store_idempotent_response(text, smallint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.store_idempotent_response(text, smallint, text, text) TO palisade_app;
