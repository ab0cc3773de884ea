/**
 * Members: the users of an organization (table palisade.users; its policies are in
 * 110_users.sql). This file holds the resolver the request path uses to check, on every
 * authenticated request, that a token's user still exists and what its role is now. Same rules
 * as 020_resolvers.sql; installed by a superuser after migrations, like every 02N file.
 */
SET LOCAL ROLE palisade_resolver;

/**
 * member_role(organization, user): the user's current role in that organization, or NULL when
 * the user no longer exists there (removed, or the organization deleted). The Tenant extractor
 * calls it for every bearer token, so a removed user's tokens stop working at once and a role
 * change takes effect at once, instead of when the token expires. It reveals nothing a valid
 * token does not already say; the pair of UUIDs is the token's own.
 */
CREATE OR REPLACE FUNCTION palisade_private.member_role(p_organization_id uuid, p_user_id uuid)
    RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
        SELECT u.role FROM palisade.users AS u
         WHERE u.organization_id = p_organization_id AND u.id = p_user_id
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.member_role(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.member_role(uuid, uuid) TO palisade_app;

RESET ROLE;
