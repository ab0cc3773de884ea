/**
 * palisade.aws_connect_credentials: the credentials an organization's EventBridge connection
 * sends as the header X-Palisade-Connect-Key with each Amazon Connect contact event
 * (docs/aws-connect.md). A credential names its organization: it is the only thing that routes
 * an event, so no instance ARN is ever looked up across organizations.
 *
 * Allow-listed global unique key: aws_connect_credentials_key_hash_key UNIQUE (key_hash). An
 * event presents its credential before its organization is known, so the credential must name
 * one row platform-wide; the lookup goes through
 * palisade_private.aws_connect_credential_lookup (026_aws_connect_resolvers.sql), never through a
 * tenant's view. What it reveals: nothing. The hash is SHA-256 of `pcc_` + 32 random bytes, so a
 * collision with another tenant's credential cannot be provoked, and palisade_app cannot even
 * read the hash column.
 *
 * Who may do what (as palisade_app, inside a tenant transaction):
 *   SELECT  every role of the organization, its own credentials, every column except key_hash.
 *   INSERT  owners and admins, into their own organization, as themselves (created_by is the
 *           acting user), once their own email address is verified
 *           (485_email_verifications.sql): a credential made with an address taken by someone
 *           else would outlive the password reset with which its mailbox's holder takes the
 *           account back.
 *   UPDATE  owners and admins: relabel and revoke (revoked_at) their own organization's
 *           credentials; a revoked one stays revoked (trigger aws_connect_credentials_stay_revoked,
 *           V0146, which no policy can express: a policy has no OLD row).
 *   DELETE  nobody: credentials are revoked, not deleted, so their record (label, prefix, last
 *           use) stays until the organization is deleted. No DELETE grant either.
 * Removing a member, or making an owner or admin a member, revokes the credentials they created
 * (the API does it in the same transaction, through the UPDATE above), and the lookup refuses a
 * credential whose creator is gone or a member (026_aws_connect_resolvers.sql).
 * palisade_resolver reads the lookup columns of every credential (with created_by, whose user
 * must still be an owner or admin) and stamps last_used_at, only inside
 * palisade_private.aws_connect_credential_lookup (installed by a superuser).
 */
ALTER TABLE palisade.aws_connect_credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.aws_connect_credentials FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.aws_connect_credentials
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.aws_connect_credentials FROM palisade_app, palisade_resolver;
GRANT SELECT (organization_id, id, label, prefix, created_by, last_used_at, revoked_at,
              created_at, updated_at)
    ON palisade.aws_connect_credentials TO palisade_app;
GRANT INSERT ON palisade.aws_connect_credentials TO palisade_app;
GRANT UPDATE (label, revoked_at, updated_at) ON palisade.aws_connect_credentials TO palisade_app;
GRANT SELECT (organization_id, id, key_hash, created_by, revoked_at, last_used_at)
    ON palisade.aws_connect_credentials TO palisade_resolver;
GRANT UPDATE (last_used_at) ON palisade.aws_connect_credentials TO palisade_resolver;

/** Every role of an organization sees its credentials (labels, prefixes, last use; never hashes). */
DROP POLICY IF EXISTS aws_connect_credentials_select ON palisade.aws_connect_credentials;
CREATE POLICY aws_connect_credentials_select ON palisade.aws_connect_credentials FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Owners and admins create credentials for their own organization, recorded as created by themselves. */
DROP POLICY IF EXISTS aws_connect_credentials_insert ON palisade.aws_connect_credentials;
CREATE POLICY aws_connect_credentials_insert ON palisade.aws_connect_credentials FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
                AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin')
                AND created_by = (SELECT palisade_private.current_user_id())
                -- The minter sees their own pending verification (485_email_verifications.sql).
                AND NOT EXISTS (SELECT 1 FROM palisade.email_verifications AS v
                                 WHERE v.organization_id = (SELECT palisade_private.current_org_id())
                                   AND v.user_id = (SELECT palisade_private.current_user_id())));

/** Owners and admins relabel and revoke their own organization's credentials, and keep them there. */
DROP POLICY IF EXISTS aws_connect_credentials_update ON palisade.aws_connect_credentials;
CREATE POLICY aws_connect_credentials_update ON palisade.aws_connect_credentials FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
           AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Credentials are never deleted by tenants: revoking keeps the record (see above). */
DROP POLICY IF EXISTS aws_connect_credentials_delete ON palisade.aws_connect_credentials;
CREATE POLICY aws_connect_credentials_delete ON palisade.aws_connect_credentials FOR DELETE TO palisade_app
    USING (false);

/**
 * The resolver reads credentials by hash before any tenant is known, and stamps their last use.
 * current_user is palisade_resolver only while one of its SECURITY DEFINER functions runs (it
 * has no members: 000_roles.sql).
 */
DROP POLICY IF EXISTS aws_connect_credentials_select_resolver ON palisade.aws_connect_credentials;
CREATE POLICY aws_connect_credentials_select_resolver ON palisade.aws_connect_credentials
    FOR SELECT TO palisade_resolver
    USING (current_user = 'palisade_resolver');

DROP POLICY IF EXISTS aws_connect_credentials_update_resolver ON palisade.aws_connect_credentials;
CREATE POLICY aws_connect_credentials_update_resolver ON palisade.aws_connect_credentials
    FOR UPDATE TO palisade_resolver
    USING (current_user = 'palisade_resolver')
    WITH CHECK (current_user = 'palisade_resolver');
