/**
 * palisade.social_accounts: the social network accounts an organization connects. A handle is
 * unique per (organization, network): social_accounts_handle_key includes organization_id.
 * access_token is write-only: palisade_app may write it (INSERT, UPDATE) but has no SELECT on it
 * (column grants), so no query, export or `RETURNING` can hand it back; responses say only
 * whether one is set (has_access_token, a generated column). It is never logged. Because the app
 * role cannot read it, an UPDATE may set it but not refer to it (`SET access_token =
 * coalesce($1, access_token)` needs SELECT): palisade_db::social writes it in its own statement.
 *
 * Who may do what: every role of the organization reads and writes its own accounts (the issue
 * reserves no social write to admins); nothing of another organization is visible or writable.
 * Every column is classified in 920_column_classification.sql; a new column gets no SELECT here
 * until it is listed both there and in the grant below.
 */
ALTER TABLE palisade.social_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.social_accounts FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.social_accounts
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

-- REVOKE ALL also revokes every column grant, so this block is the whole truth on each apply.
REVOKE ALL ON palisade.social_accounts FROM palisade_app;
GRANT SELECT (organization_id, id, network, handle, has_access_token, created_at, updated_at)
    ON palisade.social_accounts TO palisade_app;
GRANT INSERT, UPDATE, DELETE ON palisade.social_accounts TO palisade_app;

/** Every role of an organization reads its accounts. */
DROP POLICY IF EXISTS social_accounts_select ON palisade.social_accounts;
CREATE POLICY social_accounts_select ON palisade.social_accounts FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role adds accounts to its own organization only. */
DROP POLICY IF EXISTS social_accounts_insert ON palisade.social_accounts;
CREATE POLICY social_accounts_insert ON palisade.social_accounts FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role edits its own organization's accounts and cannot hand them to another. */
DROP POLICY IF EXISTS social_accounts_update ON palisade.social_accounts;
CREATE POLICY social_accounts_update ON palisade.social_accounts FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role deletes its own organization's accounts. */
DROP POLICY IF EXISTS social_accounts_delete ON palisade.social_accounts;
CREATE POLICY social_accounts_delete ON palisade.social_accounts FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/**
 * palisade.social_posts: posts of an organization's social accounts and their engagement
 * counters. Each row carries its own organization_id (no policy joins to the account); the
 * composite foreign key (organization_id, account_id) keeps a post on an account of the same
 * organization.
 *
 * Who may do what: every role of the organization reads and writes its own posts; nothing of
 * another organization is visible or writable.
 */
ALTER TABLE palisade.social_posts ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.social_posts FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.social_posts
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.social_posts FROM palisade_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON palisade.social_posts TO palisade_app;

/** Every role of an organization reads its posts. */
DROP POLICY IF EXISTS social_posts_select ON palisade.social_posts;
CREATE POLICY social_posts_select ON palisade.social_posts FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role adds posts to its own organization only. */
DROP POLICY IF EXISTS social_posts_insert ON palisade.social_posts;
CREATE POLICY social_posts_insert ON palisade.social_posts FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role edits its own organization's posts and cannot hand them to another. */
DROP POLICY IF EXISTS social_posts_update ON palisade.social_posts;
CREATE POLICY social_posts_update ON palisade.social_posts FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role deletes its own organization's posts. */
DROP POLICY IF EXISTS social_posts_delete ON palisade.social_posts;
CREATE POLICY social_posts_delete ON palisade.social_posts FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));
