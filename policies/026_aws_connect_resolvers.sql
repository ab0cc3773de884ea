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
 * credential with this hash, when it is not revoked and its creator is still an owner or admin
 * of that organization; NULL otherwise (unknown, revoked, or its creator removed or made a
 * member: the caller answers all with the same 401). Removing a member, or making one a member,
 * also revokes their credentials (DELETE and PATCH /v1/members/{id}); the creator check here is
 * the second line, and covers credentials of members removed or demoted before that existed.
 * Stamps last_used_at at most once a minute, so an organization can see that an old credential
 * is no longer used before revoking it.
 */
CREATE OR REPLACE FUNCTION palisade_private.aws_connect_credential_lookup(p_key_hash bytea)
    RETURNS uuid
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
        WITH k AS (
            SELECT k.organization_id, k.id, k.last_used_at
              FROM palisade.aws_connect_credentials AS k
              JOIN palisade.users AS u
                ON u.organization_id = k.organization_id AND u.id = k.created_by
             WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL
               AND u.role IN ('owner', 'admin')
        ), touched AS (
            UPDATE palisade.aws_connect_credentials AS a
               SET last_used_at = pg_catalog.now()
              FROM k
             WHERE a.organization_id = k.organization_id AND a.id = k.id AND a.revoked_at IS NULL
               AND (k.last_used_at IS NULL
                    OR k.last_used_at < pg_catalog.now() - pg_catalog.make_interval(mins => 1))
        )
        SELECT k.organization_id FROM k
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.aws_connect_credential_lookup(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.aws_connect_credential_lookup(bytea) TO palisade_app;

RESET ROLE;
