/**
 * The Amazon Connect credential resolver: how a contact event POSTed by an EventBridge API
 * destination finds its organization before any tenant is known. Same rules as
 * 021_webhook_resolvers.sql: SECURITY DEFINER, owned by the NOLOGIN role palisade_resolver,
 * `search_path = ''`, EXECUTE for palisade_app only, installed by a superuser after migrations.
 * The columns and policies it relies on are in 260_aws_connect_credentials.sql.
 *
 * Only the credential routes: the event's instance ARN is then looked up inside the tenant
 * transaction of that organization, under RLS, so no organization's registrations are ever read
 * on another's behalf.
 */
SET LOCAL ROLE palisade_resolver;

/**
 * aws_connect_credential_lookup(sha256 of a presented credential): the organization of the
 * credential with this hash, when it is not revoked; NULL otherwise (unknown or revoked: the
 * caller answers both with the same 401). Stamps last_used_at at most once a minute, so an
 * organization can see that an old credential is no longer used before revoking it.
 */
CREATE OR REPLACE FUNCTION palisade_private.aws_connect_credential_lookup(p_key_hash bytea)
    RETURNS uuid
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
        WITH k AS (
            SELECT k.organization_id, k.id, k.last_used_at
              FROM palisade.aws_connect_credentials AS k
             WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL
        ), touched AS (
            UPDATE palisade.aws_connect_credentials AS a
               SET last_used_at = pg_catalog.now()
              FROM k
             WHERE a.organization_id = k.organization_id AND a.id = k.id
               AND (k.last_used_at IS NULL
                    OR k.last_used_at < pg_catalog.now() - pg_catalog.make_interval(mins => 1))
        )
        SELECT k.organization_id FROM k
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.aws_connect_credential_lookup(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.aws_connect_credential_lookup(bytea) TO palisade_app;

RESET ROLE;
