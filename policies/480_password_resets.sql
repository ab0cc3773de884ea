/**
 * palisade.password_resets: pending password-reset links (see docs/accounts.md).
 *
 * Who may do what (as palisade_app, inside a tenant transaction):
 *   SELECT  the user the reset is for, and the organization's owners and admins (that a reset is
 *           pending, never its token: no SELECT on token_hash).
 *   INSERT  a user, for themselves only: a reset request opens a transaction acting as the user
 *           the email belongs to (found through palisade_private.login_lookup).
 *   UPDATE  nobody (no UPDATE grant either).
 *   DELETE  a user, their own pending resets (a new request replaces the previous link).
 * Consuming a link is not the app role's: palisade_private.reset_password (023_accounts.sql)
 * finds the row by the hash of the presented token, deletes every pending reset of that user and
 * sets the password, in one statement, as palisade_resolver.
 */
ALTER TABLE palisade.password_resets ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.password_resets FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.password_resets
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.password_resets FROM palisade_app, palisade_resolver;
-- token_hash is write-only for the app role.
GRANT SELECT (organization_id, id, user_id, created_at, expires_at)
    ON palisade.password_resets TO palisade_app;
GRANT INSERT, DELETE ON palisade.password_resets TO palisade_app;
GRANT SELECT (organization_id, id, user_id, token_hash, expires_at)
    ON palisade.password_resets TO palisade_resolver;
GRANT DELETE ON palisade.password_resets TO palisade_resolver;

/** A user sees their own pending resets; owners and admins see the organization's. */
DROP POLICY IF EXISTS password_resets_select ON palisade.password_resets;
CREATE POLICY password_resets_select ON palisade.password_resets FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
           AND (user_id = (SELECT palisade_private.current_user_id())
                OR (SELECT palisade_private.current_app_role()) IN ('owner', 'admin')));

/** A user opens a reset for themselves only. */
DROP POLICY IF EXISTS password_resets_insert ON palisade.password_resets;
CREATE POLICY password_resets_insert ON palisade.password_resets FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
                AND user_id = (SELECT palisade_private.current_user_id()));

/** Resets are never changed in place. */
DROP POLICY IF EXISTS password_resets_update ON palisade.password_resets;
CREATE POLICY password_resets_update ON palisade.password_resets FOR UPDATE TO palisade_app
    USING (false)
    WITH CHECK (false);

/** A user withdraws their own pending resets (a new request replaces the old link). */
DROP POLICY IF EXISTS password_resets_delete ON palisade.password_resets;
CREATE POLICY password_resets_delete ON palisade.password_resets FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
           AND user_id = (SELECT palisade_private.current_user_id()));

/** The resolver consumes a reset by its token hash, only inside reset_password. */
DROP POLICY IF EXISTS password_resets_select_resolver ON palisade.password_resets;
CREATE POLICY password_resets_select_resolver ON palisade.password_resets FOR SELECT
    TO palisade_resolver
    USING (current_user = 'palisade_resolver');

DROP POLICY IF EXISTS password_resets_delete_resolver ON palisade.password_resets;
CREATE POLICY password_resets_delete_resolver ON palisade.password_resets FOR DELETE
    TO palisade_resolver
    USING (current_user = 'palisade_resolver');
