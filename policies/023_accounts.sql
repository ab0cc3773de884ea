/**
 * Account functions: what must find a user, an invitation or a reset link before the tenant is
 * known, or change a credential (or a user's own name) that the app role may not write (see
 * docs/accounts.md).
 * Like 020_resolvers.sql: each is SECURITY DEFINER, owned by the NOLOGIN role palisade_resolver
 * (which reads and writes exactly the columns it needs, through its own policies in the tables'
 * files: 110_users.sql, 470_invitations.sql, 480_password_resets.sql,
 * 485_email_verifications.sql), has `search_path = ''`,
 * fully qualified names, and is executable by palisade_app only, never by PUBLIC. Every lookup by
 * a token hash happens in here: palisade_app cannot read a token_hash column.
 */
SET LOCAL ROLE palisade_resolver;

-- Replaced by member_session (which also returns the credential version); it lived in the
-- former policies/430_members.sql.
DROP FUNCTION IF EXISTS palisade_private.member_role(uuid, uuid);

/**
 * member_session(organization, user): the user's current role in that organization and their
 * credential version, or no row when the user no longer exists there (removed, or the
 * organization deleted). The Tenant extractor calls it for every bearer token (one statement):
 * a removed user's tokens stop working at once, a role change takes effect at once, and a token
 * whose `ver` claim is not the current credential_version (issued before a password change or
 * reset, or before end_sessions) is refused. It reveals nothing a valid token does not already say.
 */
CREATE OR REPLACE FUNCTION palisade_private.member_session(p_organization_id uuid, p_user_id uuid)
    RETURNS TABLE (role text, credential_version integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
        SELECT u.role, u.credential_version FROM palisade.users AS u
         WHERE u.organization_id = p_organization_id AND u.id = p_user_id
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.member_session(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.member_session(uuid, uuid) TO palisade_app;

-- enter_context was a non-definer helper of enter_session and enter_api_key: inlined into both,
-- since the owner of palisade_private could replace a non-definer that the definers call (and
-- no audit view watches non-definers).
DROP FUNCTION IF EXISTS palisade_private.enter_context(uuid, uuid, text, text);

/**
 * enter_session(organization, user, credential version, least role): the first statement of a
 * signed-in user's tenant transaction, sent in the same round trip as BEGIN and the request's
 * query (crates/palisade_db/src/tenant_tx.rs). It makes member_session's check and sets the
 * context in one step:
 * - no such user in that organization (removed, or the organization deleted): raises SQLSTATE
 *   PA401 with the message 'user_gone';
 * - a credential version other than the token's `ver` (a password changed or reset since):
 *   PA401 'credentials_changed';
 * - a current role below `p_least_role` ('member', 'admin' or 'owner'; any other value refuses
 *   every role): PA403 with the least role as the message;
 * - otherwise sets app.current_org, app.current_user and app.current_role (the user's role now,
 *   never the token's) transaction-locally, and returns them.
 * An exception aborts the transaction: PostgreSQL skips every statement pipelined after it up to
 * the pipeline's Sync, the COMMIT included, and TenantTx rolls the transaction back, so a
 * refused credential reads and writes nothing. The settings it makes
 * outlive the call (only the settings named in a function's SET clause are restored when it
 * returns), for the rest of the transaction only. It gives palisade_app nothing it lacked: the
 * app may set any context with set_config itself; this is the check that it sets the right one.
 *
 * It returns one row through OUT parameters (a set, `RETURNS TABLE` with `RETURN QUERY`, until
 * December 2026). The change was made for a speed gain that later measurements did not show
 * (docs/benchmarks.md, 5 December); a function in FROM goes through a tuple store either way.
 * `SELECT organization_id, user_id, role FROM enter_session(...)` reads both forms alike.
 */
-- The return type changed (a set until December 2026): CREATE OR REPLACE cannot change it.
DO $do$
BEGIN
    IF (SELECT p.proretset FROM pg_catalog.pg_proc AS p
         WHERE p.oid = pg_catalog.to_regprocedure(
                   'palisade_private.enter_session(uuid, uuid, integer, text)')) THEN
        DROP FUNCTION palisade_private.enter_session(uuid, uuid, integer, text);
    END IF;
END
$do$;
CREATE OR REPLACE FUNCTION palisade_private.enter_session(p_organization_id uuid, p_user_id uuid,
                                                         p_credential_version integer,
                                                         p_least_role text,
                                                         OUT organization_id uuid,
                                                         OUT user_id uuid, OUT role text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
    DECLARE
        v_role text;
        v_version integer;
    BEGIN
        SELECT u.role, u.credential_version INTO v_role, v_version
          FROM palisade.users AS u
         WHERE u.organization_id = p_organization_id AND u.id = p_user_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'PA401', MESSAGE = 'user_gone';
        END IF;
        IF v_version IS DISTINCT FROM p_credential_version THEN
            RAISE EXCEPTION USING ERRCODE = 'PA401', MESSAGE = 'credentials_changed';
        END IF;
        IF (CASE v_role WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 WHEN 'member' THEN 1 ELSE 0 END)
           < (CASE p_least_role WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 WHEN 'member' THEN 1 ELSE 4 END) THEN
            RAISE EXCEPTION USING ERRCODE = 'PA403', MESSAGE = p_least_role;
        END IF;
        PERFORM pg_catalog.set_config('app.current_org', p_organization_id::text, true),
                pg_catalog.set_config('app.current_user', p_user_id::text, true),
                pg_catalog.set_config('app.current_role', v_role, true);
        organization_id := p_organization_id;
        user_id := p_user_id;
        role := v_role;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.enter_session(uuid, uuid, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.enter_session(uuid, uuid, integer, text) TO palisade_app;

/**
 * invitation_by_token(sha256 of the link's token, now): the invitation's organization and id,
 * and its inviter with the inviter's current role, when the invitation exists and has not
 * expired at `now` (the application's clock). No row otherwise: unknown, expired, revoked and
 * already accepted look the same. The caller then accepts it in a tenant transaction acting as
 * the inviter (the policies of 110_users.sql and 470_invitations.sql decide), so this function
 * writes nothing. The token is 256 random bits: the hash names at most one row in practice.
 */
CREATE OR REPLACE FUNCTION palisade_private.invitation_by_token(p_token_hash bytea,
                                                                p_now timestamptz)
    RETURNS TABLE (organization_id uuid, invitation_id uuid, inviter_id uuid, inviter_role text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
        SELECT i.organization_id, i.id, u.id, u.role
          FROM palisade.invitations AS i
          JOIN palisade.users AS u
            ON u.organization_id = i.organization_id AND u.id = i.invited_by
         WHERE i.token_hash = p_token_hash AND i.expires_at > p_now
         LIMIT 1
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.invitation_by_token(bytea, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.invitation_by_token(bytea, timestamptz) TO palisade_app;

/**
 * reset_password(sha256 of the link's token, now, new password hash): consumes a password-reset
 * link and sets the password. When a reset with this token hash exists and
 * has not expired at `now`, every pending reset of that user is deleted (the link is single-use,
 * and older links die with it), the password hash replaced and credential_version bumped (every
 * token issued before stops working), and the user's email address counts as verified (the link
 * went to it: their pending verification is deleted); returns the user's organization and id. No
 * row otherwise (unknown, expired or already used, alike, or the user removed), and nothing
 * changes.
 * The user's row is locked (FOR NO KEY UPDATE) before any link is deleted, as the removal of the
 * user (DELETE of their row, then its cascade to their links and verification) and a reset
 * request (crates/palisade_db/src/accounts.rs, create_password_reset) lock theirs first: deleting
 * the link first, then updating the row, deadlocked (40P01) with a removal that had deleted the
 * row between the two and waited for the link. The link is found first without a lock (its row
 * names the user); the statement that consumes it runs after the lock, with a snapshot of its own.
 */
CREATE OR REPLACE FUNCTION palisade_private.reset_password(p_token_hash bytea, p_now timestamptz,
                                                           p_password_hash text)
    RETURNS TABLE (organization_id uuid, user_id uuid)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
    DECLARE
        v_org uuid;
        v_user uuid;
    BEGIN
        SELECT r.organization_id, r.user_id INTO v_org, v_user
          FROM palisade.password_resets AS r
         WHERE r.token_hash = p_token_hash AND r.expires_at > p_now
         LIMIT 1;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        -- Waits for a removal, a password change or another use of a link of this user; a
        -- removal committed meanwhile leaves no row (and no link) to act on.
        PERFORM 1 FROM palisade.users AS u
          WHERE u.organization_id = v_org AND u.id = v_user
            FOR NO KEY UPDATE;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        -- The DELETE of the link's own row decides: of two concurrent uses of one link, the
        -- second waits for the first (on the user's row), finds the link gone, consumes nothing
        -- and changes nothing.
        RETURN QUERY
        WITH consumed AS (
            DELETE FROM palisade.password_resets AS r
             WHERE r.token_hash = p_token_hash AND r.expires_at > p_now
               AND r.organization_id = v_org AND r.user_id = v_user
            RETURNING r.organization_id, r.user_id
        ), older AS (
            DELETE FROM palisade.password_resets AS r
             USING consumed AS c
             WHERE r.organization_id = c.organization_id AND r.user_id = c.user_id
               AND r.token_hash <> p_token_hash
        ), verified AS (
            DELETE FROM palisade.email_verifications AS v
             USING consumed AS c
             WHERE v.organization_id = c.organization_id AND v.user_id = c.user_id
        )
        UPDATE palisade.users AS u
           SET password_hash = p_password_hash,
               credential_version = u.credential_version + 1,
               updated_at = p_now
          FROM consumed AS c
         WHERE u.organization_id = c.organization_id AND u.id = c.user_id
        RETURNING u.organization_id, u.id;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.reset_password(bytea, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.reset_password(bytea, timestamptz, text) TO palisade_app;

/**
 * verify_email(sha256 of the link's token, now): consumes the acting user's email verification
 * link (app.current_org and app.current_user: a signed-in user's transaction, whose token its
 * opening statement checked). When that user's verification has this token hash and its link has
 * not expired at `now`, it is deleted (the address is verified from then on) and the user's
 * organization and id returned. No row otherwise (unknown, expired, replaced by a newer link,
 * already used, or another user's, alike), and nothing changes. Of two concurrent uses of one
 * link, the second waits for the first's delete and finds nothing.
 * Why the user's session as well as the link: verifying says that whoever knows the account's
 * password also holds the mailbox. With the link alone, the mailbox's holder opening it would
 * confirm an account someone else made with their address, the squatter's password and
 * sessions included, who could then make what outlives a password reset
 * (485_email_verifications.sql).
 */
CREATE OR REPLACE FUNCTION palisade_private.verify_email(p_token_hash bytea, p_now timestamptz)
    RETURNS TABLE (organization_id uuid, user_id uuid)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
        DELETE FROM palisade.email_verifications AS v
         WHERE v.token_hash = p_token_hash AND v.expires_at > p_now
           AND v.organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org', true), '')::uuid)
           AND v.user_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_user', true), '')::uuid)
        RETURNING v.organization_id, v.user_id
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.verify_email(bytea, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.verify_email(bytea, timestamptz) TO palisade_app;

/**
 * hold_verified_self(credential version, least role): whether the acting user's email address is
 * verified (app.current_org and app.current_user), after locking their row FOR SHARE until the
 * transaction ends. For the writes an unverified user may not make (an invitation, an API key,
 * an outbound webhook, an Amazon Connect credential: 485_email_verifications.sql), before them.
 * - `p_credential_version`: the version of the token the transaction's opening statement
 *   checked (enter_session), NULL for an API key's transaction. A version other than the row's
 *   raises PA401 'credentials_changed', and no such user PA401 'user_gone', as enter_session
 *   does.
 * - `p_least_role`: the least role the request was decided for (the one its opening statement
 *   checked; NULL: none). A user whose role is now below it raises PA409 with it as the
 *   message: the role was lowered during the request (the API's 409 `role_changed`), so
 *   nothing decided for the higher role is carried out for the lower one. (One thing that closes: an Amazon Connect credential minted in that
 *   window escaped the revocation that a demotion to member makes.)
 * The lock is why: a password reset (reset_password) or change, signing out everywhere, a role
 *   change or a removal updates or deletes the row, so it cannot commit between this check and
 *   the write that relies on it, and one that committed after the opening statement's check is
 *   seen here (the lock reads the row's newest version). Without it, a reset committing between
 *   the opening statement and the write let a token issued before it write as a verified user:
 *   a squatter's session, ended by the reset with which the mailbox's holder took the account
 *   back, could still mint a key that outlived it. The verification is read by a statement
 *   after the lock, which sees what committed before it.
 * It gives palisade_app nothing it lacked: it reads the caller's own row and pending
 * verification, which the app reads under its policies, and locks only that row, as
 * hold_acting_user does (027_outbound_webhook_delivery.sql; a definer for the same reason: an
 * owner's API key acts as an admin, whose locking read the users update policy filters).
 */
DROP FUNCTION IF EXISTS palisade_private.hold_verified_self(integer);
CREATE OR REPLACE FUNCTION palisade_private.hold_verified_self(p_credential_version integer,
                                                               p_least_role text)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
    DECLARE
        v_org uuid := NULLIF(pg_catalog.current_setting('app.current_org', true), '')::uuid;
        v_user uuid := NULLIF(pg_catalog.current_setting('app.current_user', true), '')::uuid;
        v_version integer;
        v_role text;
    BEGIN
        SELECT u.credential_version, u.role INTO v_version, v_role
          FROM palisade.users AS u
         WHERE u.organization_id = v_org AND u.id = v_user
           FOR SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'PA401', MESSAGE = 'user_gone';
        END IF;
        IF p_credential_version IS NOT NULL AND v_version <> p_credential_version THEN
            RAISE EXCEPTION USING ERRCODE = 'PA401', MESSAGE = 'credentials_changed';
        END IF;
        IF p_least_role IS NOT NULL
           AND (CASE v_role WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 WHEN 'member' THEN 1 ELSE 0 END)
               < (CASE p_least_role WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 WHEN 'member' THEN 1 ELSE 4 END) THEN
            RAISE EXCEPTION USING ERRCODE = 'PA409', MESSAGE = p_least_role;
        END IF;
        RETURN NOT EXISTS (SELECT 1 FROM palisade.email_verifications AS v
                            WHERE v.organization_id = v_org AND v.user_id = v_user);
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.hold_verified_self(integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.hold_verified_self(integer, text) TO palisade_app;

/**
 * change_password(current hash, new hash, now): replaces the password of the acting user (the
 * transaction's app.current_org and app.current_user, set by the request's TenantTx from its
 * verified token; never a parameter) if their stored hash is still `current hash` (the caller
 * verified the current password against it, as login does; a concurrent change makes this a
 * no-op), bumps credential_version (every token issued before stops working), deletes the
 * user's pending password-reset links, and returns the new version. No row when nothing changed
 * or no user is set. The app role has no UPDATE on password_hash, so this and reset_password are
 * the only ways a password changes.
 */
DROP FUNCTION IF EXISTS palisade_private.change_password(uuid, uuid, text, text, timestamptz);
CREATE OR REPLACE FUNCTION palisade_private.change_password(p_current_hash text,
                                                            p_new_hash text,
                                                            p_now timestamptz)
    RETURNS TABLE (credential_version integer)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
        WITH me AS (
            SELECT NULLIF(pg_catalog.current_setting('app.current_org', true), '')::uuid AS org,
                   NULLIF(pg_catalog.current_setting('app.current_user', true), '')::uuid AS usr
        ), changed AS (
            UPDATE palisade.users AS u
               SET password_hash = p_new_hash,
                   credential_version = u.credential_version + 1,
                   updated_at = p_now
              FROM me
             WHERE u.organization_id = me.org AND u.id = me.usr
               AND u.password_hash = p_current_hash
            RETURNING u.organization_id, u.id, u.credential_version
        ), links AS (
            DELETE FROM palisade.password_resets AS r
             USING changed AS c
             WHERE r.organization_id = c.organization_id AND r.user_id = c.id
        )
        SELECT c.credential_version FROM changed AS c
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.change_password(text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.change_password(text, text, timestamptz)
    TO palisade_app;

/**
 * end_sessions(credential version, now): ends every bearer token of the acting user (the
 * transaction's app.current_org and app.current_user; never a parameter) by bumping their
 * credential_version, if it is still `credential version` (the one the caller's token carries: a
 * token a concurrent password change has just ended cannot end the change's new token), and
 * returns the new version. No row when no user is set, the user is gone or the version moved.
 * Nothing else changes: the password, pending reset links and the user's API keys stay
 * (docs/accounts.md, "How tokens end"). The app role has no UPDATE on credential_version, so
 * this, change_password and reset_password are the only ways it changes.
 * Limits, honestly: the context does not say whether a user's token or an API key set it (a
 * key's transaction names its creator as app.current_user), so that an API key cannot sign its
 * creator out is the route's rule (it takes a user's session only), not this function's; and a
 * compromised app role could set any user of an organization as the context and end their tokens
 * (as it could remove them).
 */
DROP FUNCTION IF EXISTS palisade_private.end_sessions(timestamptz);
CREATE OR REPLACE FUNCTION palisade_private.end_sessions(p_credential_version integer,
                                                         p_now timestamptz)
    RETURNS TABLE (credential_version integer)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
        WITH me AS (
            SELECT NULLIF(pg_catalog.current_setting('app.current_org', true), '')::uuid AS org,
                   NULLIF(pg_catalog.current_setting('app.current_user', true), '')::uuid AS usr
        )
        UPDATE palisade.users AS u
           SET credential_version = u.credential_version + 1,
               updated_at = p_now
          FROM me
         WHERE u.organization_id = me.org AND u.id = me.usr
           AND u.credential_version = p_credential_version
        RETURNING u.credential_version
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.end_sessions(integer, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.end_sessions(integer, timestamptz) TO palisade_app;

/**
 * rename_self(name, now): sets the acting user's own name (the transaction's app.current_org and
 * app.current_user; never a parameter), whatever their role: PATCH /v1/me, so that a member can
 * correct their name without an admin. True when the user was found. Only the name: the app
 * role's UPDATE of users is for owners and admins, and its grant (name, role) would let a
 * member promote themselves through any policy that let them update their own row.
 * Limits, honestly: as for end_sessions, the context does not say whether a user's token or an
 * API key set it, so that a key cannot rename its creator is the route's rule (a user's session
 * only).
 */
CREATE OR REPLACE FUNCTION palisade_private.rename_self(p_name text, p_now timestamptz)
    RETURNS boolean
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
        WITH me AS (
            SELECT NULLIF(pg_catalog.current_setting('app.current_org', true), '')::uuid AS org,
                   NULLIF(pg_catalog.current_setting('app.current_user', true), '')::uuid AS usr
        ), renamed AS (
            UPDATE palisade.users AS u
               SET name = p_name, updated_at = p_now
              FROM me
             WHERE u.organization_id = me.org AND u.id = me.usr
            RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM renamed)
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.rename_self(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.rename_self(text, timestamptz) TO palisade_app;

RESET ROLE;
