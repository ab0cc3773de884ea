/**
 * palisade.users: people who log in; each belongs to exactly one organization.
 *
 * Allow-listed global unique key: users_email_key UNIQUE (email). The product logs people in by
 * email before it knows their organization, so one email must name one user platform-wide.
 * What it reveals: signup answers "email already registered" for an email used in any
 * organization. That is inherent to email login; nothing else about the other tenant is exposed.
 * It is read before a tenant is known only through palisade_private.login_lookup (020_resolvers.sql).
 *
 * Who may do what (as palisade_app, inside a tenant transaction):
 *   SELECT  users of its own organization, every column except password_hash (column grant).
 *   INSERT  into its own organization, owners and admins only (signup acts as the new owner).
 *   UPDATE  users of its own organization, owners and admins only; cannot move them elsewhere.
 *           Names and roles only: no endpoint sets someone else's password, and the app role
 *           has no UPDATE on password_hash, credential_version or email at all (an email
 *           rewritten by an admin would redirect that member's password-reset mail).
 *   DELETE  users of its own organization, owners and admins only.
 * Only an owner may create an owner, change an owner, or make someone an owner: an admin's
 * writes never touch an owner row, before or after the change. (That an organization keeps at
 * least one owner is checked by the members routes, under a lock on the owner rows.)
 * palisade_resolver reads the login columns of every user, and only through login_lookup, the
 * account functions of 023_accounts.sql, the API key lookups of 028_api_key_resolvers.sql, the
 * Amazon Connect credential lookup of 026_aws_connect_resolvers.sql (its creator's role) and
 * hold_acting_user (027_outbound_webhook_delivery.sql: the transaction's own user's role, under
 * a FOR SHARE lock, for the trigger that records who a webhook answers to); it changes a password (and bumps
 * credential_version, which ends every token issued before) only inside change_password (the
 * transaction's own user, whose current hash the caller must present) and reset_password (which
 * needs a valid reset token), bumps credential_version alone only inside end_sessions (the
 * transaction's own user: signing out everywhere), and changes a name only inside rename_self
 * (the transaction's own user: PATCH /v1/me).
 * Limits, honestly: login_lookup hands the password hash to the app role (argon2 runs in the
 * server), so change_password's "current hash" check binds the app's code, not a compromised
 * app role; and INSERT lets an owner or admin context create a user with a hash of its choosing,
 * which only signup (as the new organization's owner, crates/palisade_db/src/auth.rs) and the
 * invitation acceptance path (as the inviter, routes/accounts.rs) do.
 */
ALTER TABLE palisade.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.users FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.users
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

-- password_hash is not readable through the table: login reads it through the resolver.
REVOKE ALL ON palisade.users FROM palisade_app, palisade_resolver;
GRANT SELECT (organization_id, id, email, name, role, credential_version, created_at, updated_at)
    ON palisade.users TO palisade_app;
GRANT INSERT, DELETE ON palisade.users TO palisade_app;
GRANT UPDATE (name, role, updated_at) ON palisade.users TO palisade_app;
GRANT SELECT (organization_id, id, email, role, password_hash, credential_version)
    ON palisade.users TO palisade_resolver;
-- name: palisade_private.rename_self (023_accounts.sql), a user's own name only.
GRANT UPDATE (password_hash, credential_version, name, updated_at) ON palisade.users TO palisade_resolver;

/** Everyone in the organization sees its members. */
DROP POLICY IF EXISTS users_select ON palisade.users;
CREATE POLICY users_select ON palisade.users FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Owners and admins add users to their own organization; only an owner adds an owner. */
DROP POLICY IF EXISTS users_insert ON palisade.users;
CREATE POLICY users_insert ON palisade.users FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
                AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin')
                AND (role <> 'owner' OR (SELECT palisade_private.current_app_role()) = 'owner'));

/**
 * Owners and admins change users of their own organization, and keep them there. Only an owner
 * changes an owner row (USING) or makes a row an owner (WITH CHECK).
 */
DROP POLICY IF EXISTS users_update ON palisade.users;
CREATE POLICY users_update ON palisade.users FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
           AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin')
           AND (role <> 'owner' OR (SELECT palisade_private.current_app_role()) = 'owner'))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
                AND (role <> 'owner' OR (SELECT palisade_private.current_app_role()) = 'owner'));

/** Owners and admins remove users of their own organization; only an owner removes an owner. */
DROP POLICY IF EXISTS users_delete ON palisade.users;
CREATE POLICY users_delete ON palisade.users FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
           AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin')
           AND (role <> 'owner' OR (SELECT palisade_private.current_app_role()) = 'owner'));

/**
 * The resolver finds a login email's user before any tenant is known. current_user is
 * palisade_resolver only while one of its SECURITY DEFINER functions runs (login_lookup), so
 * this does not extend to members of palisade_resolver (it has none: 000_roles.sql).
 */
DROP POLICY IF EXISTS users_select_resolver ON palisade.users;
CREATE POLICY users_select_resolver ON palisade.users FOR SELECT TO palisade_resolver
    USING (current_user = 'palisade_resolver');

/**
 * The resolver sets a password and bumps credential_version, only inside change_password,
 * reset_password and end_sessions, and sets a user's own name inside rename_self
 * (023_accounts.sql); current_user is palisade_resolver only while they run. This policy also
 * admits the FOR SHARE lock hold_acting_user (027_outbound_webhook_delivery.sql) and
 * hold_verified_self (023_accounts.sql) take on the transaction's own user row, which changes
 * nothing, and the FOR NO KEY UPDATE lock reset_password takes on the link's user row before
 * it consumes the link (the row its UPDATE then changes).
 */
DROP POLICY IF EXISTS users_update_resolver ON palisade.users;
CREATE POLICY users_update_resolver ON palisade.users FOR UPDATE TO palisade_resolver
    USING (current_user = 'palisade_resolver')
    WITH CHECK (current_user = 'palisade_resolver');
