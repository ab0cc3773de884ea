/**
 * palisade.api_keys: keys that servers send instead of a user's token.
 *
 * Allow-listed global unique key: api_keys_key_hash_key UNIQUE (key_hash). A request presents
 * its key before its organization is known, so the key must name one row platform-wide; the
 * lookup goes through palisade_private.api_key_lookup or api_key_find (028_api_key_resolvers.sql), never through a tenant's view.
 * What it reveals: nothing. The hash is SHA-256 of `pk_` + 32 random bytes, so a collision with
 * another tenant's key cannot be provoked, and palisade_app cannot even read the hash column.
 *
 * Who may do what (as palisade_app, inside a tenant transaction):
 *   SELECT  every role of the organization, its own keys, every column except key_hash.
 *   INSERT  owners and admins, into their own organization, as themselves (created_by is the
 *           acting user), once their own email address is verified
 *           (485_email_verifications.sql): a key made with an address taken by someone else
 *           would outlive the password reset with which its mailbox's holder takes the account
 *           back. The key's role is admin or member (CHECK), never owner, so nobody mints
 *           beyond their own role. An expiry (expires_at), if any, is set here and only here.
 *   UPDATE  owners and admins: rename and revoke (revoked_at) their own organization's keys; no
 *           UPDATE of expires_at, so nobody extends a key's lifetime.
 *   DELETE  nobody: keys are revoked, not deleted, so the record of a key (name, prefix, last
 *           use) stays until its organization is deleted. No DELETE grant either.
 * palisade_resolver reads the lookup columns of every key, only inside
 * palisade_private.api_key_lookup, which also stamps last_used_at, and api_key_find, which does
 * not (028_api_key_resolvers.sql, installed by a superuser).
 */
ALTER TABLE palisade.api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.api_keys FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.api_keys
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.api_keys FROM palisade_app, palisade_resolver;
GRANT SELECT (organization_id, id, name, role, prefix, created_by, last_used_at, revoked_at,
              expires_at, created_at, updated_at)
    ON palisade.api_keys TO palisade_app;
GRANT INSERT ON palisade.api_keys TO palisade_app;
GRANT UPDATE (name, revoked_at, updated_at) ON palisade.api_keys TO palisade_app;
GRANT SELECT (organization_id, id, key_hash, created_by, role, revoked_at, expires_at,
              last_used_at)
    ON palisade.api_keys TO palisade_resolver;
GRANT UPDATE (last_used_at) ON palisade.api_keys TO palisade_resolver;

/** Every member of an organization sees its keys (names, prefixes, roles; never hashes). */
DROP POLICY IF EXISTS api_keys_select ON palisade.api_keys;
CREATE POLICY api_keys_select ON palisade.api_keys FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/**
 * Owners and admins whose address is verified mint keys for their own organization, recorded as
 * created by themselves.
 */
DROP POLICY IF EXISTS api_keys_insert ON palisade.api_keys;
CREATE POLICY api_keys_insert ON palisade.api_keys FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
                AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin')
                AND created_by = (SELECT palisade_private.current_user_id())
                -- The minter sees their own pending verification (485_email_verifications.sql).
                AND NOT EXISTS (SELECT 1 FROM palisade.email_verifications AS v
                                 WHERE v.organization_id = (SELECT palisade_private.current_org_id())
                                   AND v.user_id = (SELECT palisade_private.current_user_id())));

/**
 * Owners and admins rename and revoke their own organization's keys, and keep them there. A
 * revoked key stays revoked: the trigger api_keys_stay_revoked (V0084) refuses setting
 * revoked_at back, which no policy can see (a policy has no OLD row).
 */
DROP POLICY IF EXISTS api_keys_update ON palisade.api_keys;
CREATE POLICY api_keys_update ON palisade.api_keys FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
           AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Keys are never deleted by tenants: revoking keeps the record (see above). */
DROP POLICY IF EXISTS api_keys_delete ON palisade.api_keys;
CREATE POLICY api_keys_delete ON palisade.api_keys FOR DELETE TO palisade_app
    USING (false);

/**
 * The resolver reads keys by hash before any tenant is known, and stamps their last use.
 * current_user is palisade_resolver only while one of its SECURITY DEFINER functions runs, so
 * this would not extend to a role that became a member of palisade_resolver (none may be: the
 * audit reports member_of_owner_role, and the server refuses such an app role).
 */
DROP POLICY IF EXISTS api_keys_select_resolver ON palisade.api_keys;
CREATE POLICY api_keys_select_resolver ON palisade.api_keys FOR SELECT TO palisade_resolver
    USING (current_user = 'palisade_resolver');

DROP POLICY IF EXISTS api_keys_update_resolver ON palisade.api_keys;
CREATE POLICY api_keys_update_resolver ON palisade.api_keys FOR UPDATE TO palisade_resolver
    USING (current_user = 'palisade_resolver')
    WITH CHECK (current_user = 'palisade_resolver');
