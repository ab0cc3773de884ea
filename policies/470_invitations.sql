/**
 * palisade.invitations: pending invitations to join an organization (see docs/accounts.md).
 *
 * Who may do what (as palisade_app, inside a tenant transaction):
 *   SELECT  owners and admins of the organization, every column except token_hash (column
 *           grant): who is invited, with which role, by whom, until when. Members see nothing:
 *           an invitation names someone who is not a member yet.
 *   INSERT  owners and admins, into their own organization, as themselves (invited_by is the
 *           acting user), once their own email address is verified
 *           (485_email_verifications.sql); only an owner invites an owner.
 *   UPDATE  nobody: inviting the same email again deletes the old invitation and inserts a new
 *           one (a new token). No UPDATE grant either.
 *   DELETE  owners and admins (revoking; only an owner revokes an owner's invitation). Accepting
 *           an invitation deletes it too, in a transaction acting as its inviter with the
 *           inviter's current role: an invitation is worth no more than its inviter's authority
 *           at the time it is accepted, and it dies with them (ON DELETE CASCADE).
 * palisade_resolver reads the lookup columns of every invitation, and only inside
 * palisade_private.invitation_by_token (023_accounts.sql), which finds an invitation by the hash
 * of the token its link carries, before any tenant is known.
 */
ALTER TABLE palisade.invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.invitations FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.invitations
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.invitations FROM palisade_app, palisade_resolver;
-- token_hash is write-only for the app role: every lookup by hash runs inside a resolver function.
GRANT SELECT (organization_id, id, email, role, invited_by, created_at, expires_at)
    ON palisade.invitations TO palisade_app;
GRANT INSERT, DELETE ON palisade.invitations TO palisade_app;
GRANT SELECT (organization_id, id, token_hash, invited_by, expires_at)
    ON palisade.invitations TO palisade_resolver;
-- Retention (029_retention.sql) deletes invitations some days after they expired.
GRANT DELETE ON palisade.invitations TO palisade_resolver;

/** Owners and admins see their organization's pending invitations (never the token hash). */
DROP POLICY IF EXISTS invitations_select ON palisade.invitations;
CREATE POLICY invitations_select ON palisade.invitations FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
           AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'));

/** Owners and admins invite into their own organization, as themselves; only an owner invites an owner. */
DROP POLICY IF EXISTS invitations_insert ON palisade.invitations;
CREATE POLICY invitations_insert ON palisade.invitations FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
                AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin')
                AND invited_by = (SELECT palisade_private.current_user_id())
                AND (role <> 'owner' OR (SELECT palisade_private.current_app_role()) = 'owner')
                -- An inviter whose own address is not verified yet sends no mail to others
                -- (485_email_verifications.sql: they see their own row).
                AND NOT EXISTS (SELECT 1 FROM palisade.email_verifications AS v
                                 WHERE v.organization_id = (SELECT palisade_private.current_org_id())
                                   AND v.user_id = (SELECT palisade_private.current_user_id())));

/** Invitations are never changed in place (see above). */
DROP POLICY IF EXISTS invitations_update ON palisade.invitations;
CREATE POLICY invitations_update ON palisade.invitations FOR UPDATE TO palisade_app
    USING (false)
    WITH CHECK (false);

/** Owners and admins revoke (and, acting as the inviter, accept) their organization's invitations. */
DROP POLICY IF EXISTS invitations_delete ON palisade.invitations;
CREATE POLICY invitations_delete ON palisade.invitations FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
           AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin')
           AND (role <> 'owner' OR (SELECT palisade_private.current_app_role()) = 'owner'));

/**
 * The resolver finds an invitation by its token hash before any tenant is known. current_user
 * is palisade_resolver only while one of its SECURITY DEFINER functions runs.
 */
DROP POLICY IF EXISTS invitations_select_resolver ON palisade.invitations;
CREATE POLICY invitations_select_resolver ON palisade.invitations FOR SELECT TO palisade_resolver
    USING (current_user = 'palisade_resolver');

/** Retention (029_retention.sql): expired invitations go, only inside purge_expired_records. */
DROP POLICY IF EXISTS invitations_delete_resolver ON palisade.invitations;
CREATE POLICY invitations_delete_resolver ON palisade.invitations FOR DELETE TO palisade_resolver
    USING (current_user = 'palisade_resolver');
