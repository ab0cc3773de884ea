/**
 * The Idempotency-Key check's definer (policies/490_idempotency_keys.sql). Same rules as
 * 020_resolvers.sql: SECURITY DEFINER, owned by the NOLOGIN role palisade_resolver,
 * `search_path = ''`, EXECUTE for palisade_app only; installed by a superuser after migrations.
 */
SET LOCAL ROLE palisade_resolver;

/**
 * idempotency_request_matches(key, request, body digest): whether the acting user's request is
 * the one this organization's `key` was first used for. The fingerprint is SHA-256 over
 * `request` (its method and path, each followed by a NUL byte), the context's user id
 * (app.current_user), a NUL byte and `body digest` (the SHA-256 of its body), as the claim
 * stores it (crates/palisade_db/src/idempotency.rs); it is compared here, with the row of the
 * context's organization (app.current_org). NULL when the organization has no such key, or no
 * user is set.
 * Why a definer: the stored fingerprint, `request_hash`, is a SHA-256 of a request body, and some
 * bodies carry a secret that is written once and never shown (an integration's `secrets`, a
 * social account's `access_token`). Readable, it let whoever reads the table (an admin's export,
 * an analyst) test guesses of such a secret offline. palisade_app has no SELECT on it; this
 * function reads it for one key of the caller's own organization, and answers only whether the
 * caller's own request matches (a fingerprint that holds the caller's user id: another user's
 * request never matches).
 */
CREATE OR REPLACE FUNCTION palisade_private.idempotency_request_matches(p_key text,
                                                                       p_request bytea,
                                                                       p_body bytea)
    RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
        SELECT k.request_hash = pg_catalog.sha256(
                   p_request
                   || pg_catalog.convert_to(me.usr, 'UTF8')
                   || pg_catalog.decode('00', 'hex') || p_body)
          FROM (SELECT NULLIF(pg_catalog.current_setting('app.current_org', true), '')::uuid AS org,
                       NULLIF(pg_catalog.current_setting('app.current_user', true), '') AS usr) AS me
          JOIN palisade.idempotency_keys AS k ON k.organization_id = me.org AND k.key = p_key
         WHERE me.usr IS NOT NULL
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.idempotency_request_matches(text, bytea, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.idempotency_request_matches(text, bytea, bytea) TO palisade_app;

RESET ROLE;
