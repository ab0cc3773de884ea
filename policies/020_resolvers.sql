/**
 * Resolver functions: the only ways to find a row before the tenant is known.
 * Each is SECURITY DEFINER, owned by the NOLOGIN role palisade_resolver (which reads exactly the
 * columns it needs, through its own policy in the table's file), has `search_path = ''`, and is
 * executable by palisade_app only, never by PUBLIC. Each returns the least the caller needs.
 *
 * Like every policies/02N_*.sql file, this one is applied by a superuser after migrations, in one
 * transaction with the other 02N files (`palisade install-definers`; embedded mode and the test
 * harness do it after `migrate`), never by palisade_owner: no login role is a member of
 * palisade_resolver. It becomes palisade_resolver for its duration (SET LOCAL ROLE, which the
 * superuser may do), so the functions are created, replaced and granted by their owner.
 */
SET LOCAL ROLE palisade_resolver;

/**
 * login_lookup(email): the user that logs in with this (normalised) email, with the password
 * hash to verify, the organization and role to put in the token, and the credential version the
 * token must carry (a password change or reset, or end_sessions, bumps it, ending every earlier
 * token). At most one row: the login email is unique platform-wide (see 110_users.sql). Also
 * used, by email, to find whom a password-reset request is for and to check a current password
 * before a change.
 */
-- The result gained credential_version: a changed result type needs DROP, not CREATE OR REPLACE.
DROP FUNCTION IF EXISTS palisade_private.login_lookup(text);
CREATE FUNCTION palisade_private.login_lookup(p_email text)
    RETURNS TABLE (organization_id uuid, user_id uuid, role text, password_hash text,
                   credential_version integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
        SELECT u.organization_id, u.id, u.role, u.password_hash, u.credential_version
        FROM palisade.users AS u
        WHERE u.email = p_email
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.login_lookup(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.login_lookup(text) TO palisade_app;

RESET ROLE;
