/**
 * palisade.email_verifications: one row per user whose email address is not verified yet, with
 * the current verification link (see docs/accounts.md, "Verifying an email address"). No row:
 * verified.
 *
 * Who may do what (as palisade_app, inside a tenant transaction):
 *   SELECT  the user it is for, and the organization's owners and admins (that an address is
 *           unverified, and since when the link works; never its token: no SELECT on
 *           token_hash).
 *   INSERT  a user, for themselves only: signup, acting as the new owner.
 *   UPDATE  a user, their own row only, and only its link (token_hash, created_at, expires_at):
 *           a new link replaces the previous one. The row stays: the address is still
 *           unverified.
 *   DELETE  nobody: only the link's owner verifies (palisade_private.verify_email, or a password
 *           reset: palisade_private.reset_password, 023_accounts.sql), as palisade_resolver. The
 *           row also goes with its user (ON DELETE CASCADE, run as the table's owner). No DELETE
 *           grant either.
 * Read by the INSERT policies of invitations (470), outbound webhooks (410), API keys (420) and
 * Amazon Connect credentials (260): a user with a row invites nobody and makes no webhook, key
 * or credential, in their own transaction or an API key's they made (it names them as
 * app.current_user). The API checks first through palisade_private.hold_verified_self
 * (023_accounts.sql), which holds the user's row so that a password reset, which deletes the
 * row, cannot commit between a request's check of its token and its write.
 */
ALTER TABLE palisade.email_verifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.email_verifications FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.email_verifications
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.email_verifications FROM palisade_app, palisade_resolver;
-- token_hash is write-only for the app role.
GRANT SELECT (organization_id, id, user_id, created_at, expires_at)
    ON palisade.email_verifications TO palisade_app;
GRANT INSERT (organization_id, id, user_id, token_hash, created_at, expires_at)
    ON palisade.email_verifications TO palisade_app;
GRANT UPDATE (token_hash, created_at, expires_at) ON palisade.email_verifications TO palisade_app;
GRANT SELECT (organization_id, user_id, token_hash, expires_at)
    ON palisade.email_verifications TO palisade_resolver;
GRANT DELETE ON palisade.email_verifications TO palisade_resolver;

/** A user sees their own row; owners and admins see the organization's. */
DROP POLICY IF EXISTS email_verifications_select ON palisade.email_verifications;
CREATE POLICY email_verifications_select ON palisade.email_verifications FOR SELECT
    TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
           AND (user_id = (SELECT palisade_private.current_user_id())
                OR (SELECT palisade_private.current_app_role()) IN ('owner', 'admin')));

/** A user opens their own verification only (signup, as the new owner). */
DROP POLICY IF EXISTS email_verifications_insert ON palisade.email_verifications;
CREATE POLICY email_verifications_insert ON palisade.email_verifications FOR INSERT
    TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
                AND user_id = (SELECT palisade_private.current_user_id()));

/** A user replaces their own link, and it stays theirs. */
DROP POLICY IF EXISTS email_verifications_update ON palisade.email_verifications;
CREATE POLICY email_verifications_update ON palisade.email_verifications FOR UPDATE
    TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
           AND user_id = (SELECT palisade_private.current_user_id()))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
                AND user_id = (SELECT palisade_private.current_user_id()));

/** Nobody verifies through the app (see above). */
DROP POLICY IF EXISTS email_verifications_delete ON palisade.email_verifications;
CREATE POLICY email_verifications_delete ON palisade.email_verifications FOR DELETE
    TO palisade_app
    USING (false);

/**
 * The resolver consumes the acting user's verification by its token hash, inside verify_email,
 * and a user's verification with their password reset, inside reset_password; it reads whether
 * the acting user has one inside hold_verified_self (023_accounts.sql).
 */
DROP POLICY IF EXISTS email_verifications_select_resolver ON palisade.email_verifications;
CREATE POLICY email_verifications_select_resolver ON palisade.email_verifications FOR SELECT
    TO palisade_resolver
    USING (current_user = 'palisade_resolver');
DROP POLICY IF EXISTS email_verifications_delete_resolver ON palisade.email_verifications;
CREATE POLICY email_verifications_delete_resolver ON palisade.email_verifications FOR DELETE
    TO palisade_resolver
    USING (current_user = 'palisade_resolver');
