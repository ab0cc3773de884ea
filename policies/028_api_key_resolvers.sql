/**
 * The API key resolver: how a request that presents an API key finds the key's organization
 * before any tenant is known. Same rules as 020_resolvers.sql: SECURITY DEFINER, owned by the
 * NOLOGIN role palisade_resolver, `search_path = ''`, EXECUTE for palisade_app only. Installed by
 * a superuser after migrations (`palisade install-definers`, or every embedded start), like every
 * 02N file; the columns and policies it relies on (api_keys_select_resolver,
 * api_keys_update_resolver) are in 420_api_keys.sql.
 */
SET LOCAL ROLE palisade_resolver;

/**
 * api_key_lookup(sha256 of a presented key): the key's organization, id, the user it acts as
 * (its creator), the role it acts with, whether it is revoked and whether it has expired (its
 * expires_at is past, by the database's clock). No row when no key has this hash or its creator
 * no longer exists. The role is the key's, capped by the creator's current role: an admin's key
 * demoted with its creator acts as a member. Stamps last_used_at at most once a minute per
 * working key (so a busy key costs one small write a minute, not one per request); a revoked or
 * expired key is not stamped.
 */
-- The result gained `expired` (December 2026): a changed result type needs DROP, done only while
-- the installed function lacks it. enter_api_key (below) calls it from PL/pgSQL, which records no
-- dependency, and is replaced in this file too.
DO $do$
BEGIN
    IF NOT (SELECT 'expired' = ANY (p.proargnames) FROM pg_catalog.pg_proc AS p
             WHERE p.oid = pg_catalog.to_regprocedure('palisade_private.api_key_lookup(bytea)')) THEN
        DROP FUNCTION palisade_private.api_key_lookup(bytea);
    END IF;
END
$do$;
CREATE OR REPLACE FUNCTION palisade_private.api_key_lookup(p_key_hash bytea)
    RETURNS TABLE (organization_id uuid, key_id uuid, user_id uuid, role text, revoked boolean,
                   expired boolean)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
        WITH k AS (
            SELECT k.organization_id, k.id, k.created_by,
                   CASE WHEN u.role = 'member' THEN 'member' ELSE k.role END AS role,
                   k.revoked_at IS NOT NULL AS revoked,
                   coalesce(k.expires_at <= pg_catalog.now(), false) AS expired,
                   k.last_used_at
              FROM palisade.api_keys AS k
              JOIN palisade.users AS u
                ON u.organization_id = k.organization_id AND u.id = k.created_by
             WHERE k.key_hash = p_key_hash
        ), free AS (
            -- The key's row unless another transaction holds it: the stamp runs inside the
            -- request's transaction (enter_api_key), so its lock lasts until the request ends,
            -- and a concurrent request of the same key skips the stamp rather than wait.
            SELECT l.organization_id, l.id FROM palisade.api_keys AS l, k
             WHERE l.organization_id = k.organization_id AND l.id = k.id AND NOT k.revoked
               AND NOT k.expired
               AND (k.last_used_at IS NULL
                    OR k.last_used_at < pg_catalog.now() - pg_catalog.make_interval(mins => 1))
               FOR UPDATE OF l SKIP LOCKED
        ), touched AS (
            UPDATE palisade.api_keys AS a
               SET last_used_at = pg_catalog.now()
              FROM free
             WHERE a.organization_id = free.organization_id AND a.id = free.id
               AND (a.last_used_at IS NULL
                    OR a.last_used_at < pg_catalog.now() - pg_catalog.make_interval(mins => 1))
        )
        SELECT k.organization_id, k.id, k.created_by, k.role, k.revoked, k.expired FROM k
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.api_key_lookup(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.api_key_lookup(bytea) TO palisade_app;

/**
 * api_key_find(sha256 of a presented key): api_key_lookup's answer without its stamp, so without
 * a lock on the key's row. For enter_api_key_long: a transaction that holds the stamp's lock
 * until it ends would make the key's revocation (and its creator's removal, which revokes it)
 * wait for it.
 */
CREATE OR REPLACE FUNCTION palisade_private.api_key_find(p_key_hash bytea)
    RETURNS TABLE (organization_id uuid, key_id uuid, user_id uuid, role text, revoked boolean,
                   expired boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
        SELECT k.organization_id, k.id, k.created_by,
               CASE WHEN u.role = 'member' THEN 'member' ELSE k.role END,
               k.revoked_at IS NOT NULL,
               coalesce(k.expires_at <= pg_catalog.now(), false)
          FROM palisade.api_keys AS k
          JOIN palisade.users AS u
            ON u.organization_id = k.organization_id AND u.id = k.created_by
         WHERE k.key_hash = p_key_hash
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.api_key_find(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.api_key_find(bytea) TO palisade_app;

/**
 * enter_api_key(sha256 of a presented key, least role): the first statement of a tenant
 * transaction opened with an API key, in the same round trip as BEGIN and the request's query,
 * like enter_session (023_accounts.sql) for a user's token. It makes api_key_lookup's check
 * and sets the context in one step. The last_used_at stamp is then part of the request's
 * transaction: a request that fails and rolls back does not stamp, and concurrent requests of
 * the same key skip the stamp (SKIP LOCKED) instead of waiting for each other:
 * - no key with this hash, or its creator no longer exists: raises SQLSTATE PA401 'key_unknown';
 * - a revoked key: PA401 'key_revoked';
 * - an expired key (not revoked): PA401 'key_expired';
 * - an acting role (the key's, capped by its creator's current role) below `p_least_role`:
 *   PA403 with the least role as the message;
 * - otherwise sets app.current_org (the key's organization), app.current_user (its creator) and
 *   app.current_role transaction-locally, and returns them.
 * The exception aborts the transaction, so nothing pipelined after it runs. Like enter_session,
 * it returns one row through OUT parameters, not a set.
 */
-- The return type changed (a set until December 2026): CREATE OR REPLACE cannot change it.
DO $do$
BEGIN
    IF (SELECT p.proretset FROM pg_catalog.pg_proc AS p
         WHERE p.oid = pg_catalog.to_regprocedure('palisade_private.enter_api_key(bytea, text)')) THEN
        DROP FUNCTION palisade_private.enter_api_key(bytea, text);
    END IF;
END
$do$;
CREATE OR REPLACE FUNCTION palisade_private.enter_api_key(p_key_hash bytea, p_least_role text,
                                                         OUT organization_id uuid,
                                                         OUT user_id uuid, OUT role text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
    DECLARE
        v_key record;
    BEGIN
        SELECT k.organization_id, k.user_id, k.role, k.revoked, k.expired INTO v_key
          FROM palisade_private.api_key_lookup(p_key_hash) AS k;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'PA401', MESSAGE = 'key_unknown';
        END IF;
        IF v_key.revoked THEN
            RAISE EXCEPTION USING ERRCODE = 'PA401', MESSAGE = 'key_revoked';
        END IF;
        IF v_key.expired THEN
            RAISE EXCEPTION USING ERRCODE = 'PA401', MESSAGE = 'key_expired';
        END IF;
        IF (CASE v_key.role WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 WHEN 'member' THEN 1 ELSE 0 END)
           < (CASE p_least_role WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 WHEN 'member' THEN 1 ELSE 4 END) THEN
            RAISE EXCEPTION USING ERRCODE = 'PA403', MESSAGE = p_least_role;
        END IF;
        PERFORM pg_catalog.set_config('app.current_org', v_key.organization_id::text, true),
                pg_catalog.set_config('app.current_user', v_key.user_id::text, true),
                pg_catalog.set_config('app.current_role', v_key.role, true);
        organization_id := v_key.organization_id;
        user_id := v_key.user_id;
        role := v_key.role;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.enter_api_key(bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.enter_api_key(bytea, text) TO palisade_app;

/**
 * enter_api_key_long(sha256 of a presented key, least role): enter_api_key for a transaction
 * that may last minutes (the organization's export streams for up to 3): the same checks,
 * refusals and context, through api_key_find, which stamps nothing and locks no row. The
 * stamp's lock would last as long as the transaction: the key's revocation, and its creator's
 * removal, would wait for it (and answer 503 after their own statement timeout). The caller
 * stamps the key beforehand, with api_key_lookup in a statement of its own
 * (`palisade_db::TenantTx::begin_checked_long`). Kept beside enter_api_key rather than a flag of
 * it: every other request's opening statement stays one PL/pgSQL call.
 */
CREATE OR REPLACE FUNCTION palisade_private.enter_api_key_long(p_key_hash bytea, p_least_role text,
                                                              OUT organization_id uuid,
                                                              OUT user_id uuid, OUT role text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
    DECLARE
        v_key record;
    BEGIN
        SELECT k.organization_id, k.user_id, k.role, k.revoked, k.expired INTO v_key
          FROM palisade_private.api_key_find(p_key_hash) AS k;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'PA401', MESSAGE = 'key_unknown';
        END IF;
        IF v_key.revoked THEN
            RAISE EXCEPTION USING ERRCODE = 'PA401', MESSAGE = 'key_revoked';
        END IF;
        IF v_key.expired THEN
            RAISE EXCEPTION USING ERRCODE = 'PA401', MESSAGE = 'key_expired';
        END IF;
        IF (CASE v_key.role WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 WHEN 'member' THEN 1 ELSE 0 END)
           < (CASE p_least_role WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 WHEN 'member' THEN 1 ELSE 4 END) THEN
            RAISE EXCEPTION USING ERRCODE = 'PA403', MESSAGE = p_least_role;
        END IF;
        PERFORM pg_catalog.set_config('app.current_org', v_key.organization_id::text, true),
                pg_catalog.set_config('app.current_user', v_key.user_id::text, true),
                pg_catalog.set_config('app.current_role', v_key.role, true);
        organization_id := v_key.organization_id;
        user_id := v_key.user_id;
        role := v_key.role;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.enter_api_key_long(bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.enter_api_key_long(bytea, text) TO palisade_app;

RESET ROLE;
