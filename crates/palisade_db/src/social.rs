//! Social accounts, their posts, and engagement totals. No query filters by organization: the
//! policies of `policies/360_social.sql` do, and `organization_id` defaults to the context on
//! insert. An account's access token is written here and never selected: the app role has no
//! SELECT on `access_token` (`policies/360_social.sql`), so no statement here may even refer to
//! it outside a SET list or VALUES; `has_access_token` is a generated column that says whether
//! one is set.

use palisade_domain::{
    AccessToken, PostBody, PostStatus, SocialAccountId, SocialHandle, SocialNetwork, SocialPostId,
};
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::list::{Cursor, ListQuery};
use crate::{DbError, Page, PageRequest, TenantTx};

/// The unique key on (organization, network, handle).
pub const HANDLE_KEY: &str = "social_accounts_handle_key";

/// The composite foreign key from a post to its account: violated when the account does not
/// exist in this organization (missing, or another organization's).
pub const ACCOUNT_FKEY: &str = "social_posts_account_fkey";

/// An account as the API sees it: the token itself is never read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Its id.
    pub id: Uuid,
    /// `twitter`, `facebook`, `instagram` or `linkedin`.
    pub network: String,
    /// Handle, lower-case, without `@`.
    pub handle: String,
    /// Whether an access token is stored.
    pub has_access_token: bool,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// A partial update: `None` leaves a field alone; `Some(None)` removes the token.
#[derive(Debug, Clone, Default)]
pub struct AccountPatch {
    /// New handle.
    pub handle: Option<SocialHandle>,
    /// New or removed access token.
    pub access_token: Option<Option<AccessToken>>,
}

/// Account list filters.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    /// Only this network.
    pub network: Option<SocialNetwork>,
    /// Only this exact handle.
    pub handle: Option<SocialHandle>,
}

/// The columns every account query returns, in the order [`account`] decodes.
macro_rules! account_columns {
    () => {
        "id, network, handle, has_access_token, created_at, updated_at"
    };
}

fn account(r: &Row) -> Result<Account, DbError> {
    Ok(Account {
        id: r.try_get("id")?,
        network: r.try_get("network")?,
        handle: r.try_get("handle")?,
        has_access_token: r.try_get("has_access_token")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// One page of accounts, newest first. Ends the transaction (one round trip).
pub async fn list_accounts(
    tx: TenantTx,
    filter: &AccountFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<Account, Cursor>, DbError> {
    let network = filter.network.map(SocialNetwork::as_str);
    let handle = filter.handle.as_ref().map(SocialHandle::as_str);
    ListQuery::new(
        "SELECT id, network, handle, has_access_token, created_at, updated_at \
         FROM palisade.social_accounts WHERE true",
    )
    .and_opt("network = $", network.as_ref())
    .and_opt("handle = $", handle.as_ref())
    .page(&page)
    .fetch(tx, page.limit, account, |a| Cursor {
        created_at: a.created_at,
        id: a.id,
    })
    .await
}

/// One account, or `None` when it does not exist in this organization.
pub async fn get_account(tx: TenantTx, id: SocialAccountId) -> Result<Option<Account>, DbError> {
    let sql: &str = concat!(
        "SELECT ",
        account_columns!(),
        " FROM palisade.social_accounts WHERE id = $1"
    );
    let rows = tx.query_once(sql, &[&id.as_uuid()]).await?;
    rows.first().map(account).transpose()
}

/// [`get_account`] inside a write transaction, the row locked until it ends (for `If-Match`).
pub async fn lock_account(
    tx: &mut TenantTx,
    id: SocialAccountId,
) -> Result<Option<Account>, DbError> {
    let sql: &str = concat!(
        "SELECT ",
        account_columns!(),
        " FROM palisade.social_accounts WHERE id = $1"
    );
    crate::lock::for_update(tx, sql, id.as_uuid(), account).await
}

/// Connects an account to the acting organization.
pub async fn create_account(
    tx: &mut TenantTx,
    network: SocialNetwork,
    handle: &SocialHandle,
    access_token: Option<&AccessToken>,
) -> Result<Account, DbError> {
    let sql: &str = concat!(
        "INSERT INTO palisade.social_accounts (id, network, handle, access_token) \
         VALUES ($1, $2, $3, $4) RETURNING ",
        account_columns!()
    );
    let row = tx
        .query_one(
            sql,
            &[
                &SocialAccountId::new().as_uuid(),
                &network.as_str(),
                &handle.as_str(),
                &access_token.map(AccessToken::expose),
            ],
        )
        .await?;
    account(&row)
}

/// Applies `patch`; `None` when the account does not exist in this organization.
pub async fn update_account(
    tx: &mut TenantTx,
    id: SocialAccountId,
    patch: &AccountPatch,
) -> Result<Option<Account>, DbError> {
    let handle = patch.handle.as_ref().map(SocialHandle::as_str);
    // Two statements, not one with `CASE WHEN $3 THEN $4 ELSE access_token END`: reading
    // `access_token` in the SET list needs a SELECT grant the app role does not have.
    let row = match &patch.access_token {
        None => {
            let sql: &str = concat!(
                "UPDATE palisade.social_accounts SET handle = coalesce($2, handle), \
                     updated_at = now() \
                 WHERE id = $1 RETURNING ",
                account_columns!()
            );
            tx.query_opt(sql, &[&id.as_uuid(), &handle]).await?
        }
        Some(token) => {
            let sql: &str = concat!(
                "UPDATE palisade.social_accounts SET handle = coalesce($2, handle), \
                     access_token = $3, updated_at = now() \
                 WHERE id = $1 RETURNING ",
                account_columns!()
            );
            tx.query_opt(
                sql,
                &[
                    &id.as_uuid(),
                    &handle,
                    &token.as_ref().map(AccessToken::expose),
                ],
            )
            .await?
        }
    };
    row.map(|r| account(&r)).transpose()
}

/// Disconnects an account and deletes its posts; `false` when it does not exist here.
pub async fn delete_account(tx: &mut TenantTx, id: SocialAccountId) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "DELETE FROM palisade.social_accounts WHERE id = $1",
            &[&id.as_uuid()],
        )
        .await?
        == 1)
}

/// A post as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    /// Its id.
    pub id: Uuid,
    /// Its account.
    pub account_id: Uuid,
    /// Text.
    pub body: String,
    /// `draft`, `scheduled`, `published` or `failed`.
    pub status: String,
    /// When it is to go out.
    pub scheduled_at: Option<OffsetDateTime>,
    /// When it went out.
    pub published_at: Option<OffsetDateTime>,
    /// Likes.
    pub likes: i64,
    /// Shares.
    pub shares: i64,
    /// Comments.
    pub comments: i64,
    /// Impressions.
    pub impressions: i64,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// The writable state of a post: everything the client sets, checked together (a scheduled
/// post has `scheduled_at`, a published one `published_at`).
#[derive(Debug, Clone)]
pub struct PostState {
    /// Text.
    pub body: PostBody,
    /// Status.
    pub status: PostStatus,
    /// When it is to go out.
    pub scheduled_at: Option<OffsetDateTime>,
    /// When it went out.
    pub published_at: Option<OffsetDateTime>,
    /// Engagement counters: likes, shares, comments, impressions (each >= 0).
    pub counters: [i64; 4],
}

/// Post list filters.
#[derive(Debug, Clone, Default)]
pub struct PostFilter {
    /// Only posts of this account.
    pub account_id: Option<SocialAccountId>,
    /// Only this status.
    pub status: Option<PostStatus>,
}

/// The columns every post query returns, in the order [`post`] decodes.
macro_rules! post_columns {
    () => {
        "id, account_id, body, status, scheduled_at, published_at, likes, shares, comments, \
         impressions, created_at, updated_at"
    };
}

fn post(r: &Row) -> Result<Post, DbError> {
    Ok(Post {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        body: r.try_get("body")?,
        status: r.try_get("status")?,
        scheduled_at: r.try_get("scheduled_at")?,
        published_at: r.try_get("published_at")?,
        likes: r.try_get("likes")?,
        shares: r.try_get("shares")?,
        comments: r.try_get("comments")?,
        impressions: r.try_get("impressions")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// One page of posts, newest first. Ends the transaction (one round trip).
pub async fn list_posts(
    tx: TenantTx,
    filter: &PostFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<Post, Cursor>, DbError> {
    let account_id = filter.account_id.map(|a| a.as_uuid());
    let status = filter.status.map(PostStatus::as_str);
    ListQuery::new(
        "SELECT id, account_id, body, status, scheduled_at, published_at, likes, shares, \
         comments, impressions, created_at, updated_at FROM palisade.social_posts WHERE true",
    )
    .and_opt("account_id = $", account_id.as_ref())
    .and_opt("status = $", status.as_ref())
    .page(&page)
    .fetch(tx, page.limit, post, |p| Cursor {
        created_at: p.created_at,
        id: p.id,
    })
    .await
}

/// One post, or `None` when it does not exist in this organization. Ends the transaction.
pub async fn get_post(tx: TenantTx, id: SocialPostId) -> Result<Option<Post>, DbError> {
    let sql: &str = concat!(
        "SELECT ",
        post_columns!(),
        " FROM palisade.social_posts WHERE id = $1"
    );
    let rows = tx.query_once(sql, &[&id.as_uuid()]).await?;
    rows.first().map(post).transpose()
}

/// One post, locked for the rest of the transaction (a PATCH reads, merges and writes it; a
/// DELETE checks `If-Match` on it).
pub async fn lock_post(tx: &mut TenantTx, id: SocialPostId) -> Result<Option<Post>, DbError> {
    let sql: &str = concat!(
        "SELECT ",
        post_columns!(),
        " FROM palisade.social_posts WHERE id = $1"
    );
    crate::lock::for_update(tx, sql, id.as_uuid(), post).await
}

/// Creates a post on an account of the acting organization.
pub async fn create_post(
    tx: &mut TenantTx,
    account_id: SocialAccountId,
    state: &PostState,
) -> Result<Post, DbError> {
    let sql: &str = concat!(
        "INSERT INTO palisade.social_posts (id, account_id, body, status, scheduled_at, \
             published_at, likes, shares, comments, impressions) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ",
        post_columns!()
    );
    let [likes, shares, comments, impressions] = state.counters;
    let row = tx
        .query_one(
            sql,
            &[
                &SocialPostId::new().as_uuid(),
                &account_id.as_uuid(),
                &state.body.as_str(),
                &state.status.as_str(),
                &state.scheduled_at,
                &state.published_at,
                &likes,
                &shares,
                &comments,
                &impressions,
            ],
        )
        .await?;
    post(&row)
}

/// Replaces a post's writable state; `None` when it does not exist in this organization.
pub async fn update_post(
    tx: &mut TenantTx,
    id: SocialPostId,
    state: &PostState,
) -> Result<Option<Post>, DbError> {
    let sql: &str = concat!(
        "UPDATE palisade.social_posts SET body = $2, status = $3, scheduled_at = $4, \
             published_at = $5, likes = $6, shares = $7, comments = $8, impressions = $9, \
             updated_at = now() \
         WHERE id = $1 RETURNING ",
        post_columns!()
    );
    let [likes, shares, comments, impressions] = state.counters;
    let row = tx
        .query_opt(
            sql,
            &[
                &id.as_uuid(),
                &state.body.as_str(),
                &state.status.as_str(),
                &state.scheduled_at,
                &state.published_at,
                &likes,
                &shares,
                &comments,
                &impressions,
            ],
        )
        .await?;
    row.map(|r| post(&r)).transpose()
}

/// Deletes a post; `false` when it does not exist in this organization.
pub async fn delete_post(tx: &mut TenantTx, id: SocialPostId) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "DELETE FROM palisade.social_posts WHERE id = $1",
            &[&id.as_uuid()],
        )
        .await?
        == 1)
}

/// Engagement of one account's posts published in a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountTotals {
    /// The account.
    pub account_id: Uuid,
    /// Its network.
    pub network: String,
    /// Its handle.
    pub handle: String,
    /// Posts published in the range.
    pub posts: i64,
    /// Likes, shares, comments, impressions of those posts.
    pub counters: [i64; 4],
}

/// Totals per account of posts published with `from <= published_at < until` (no upper bound
/// when `until` is `None`), optionally for one network or one account, ordered by network then
/// handle. Counters are client-set up to i64::MAX each, so their totals saturate at i64::MAX.
/// Ends the transaction.
pub async fn engagement(
    tx: TenantTx,
    from: OffsetDateTime,
    until: Option<OffsetDateTime>,
    network: Option<SocialNetwork>,
    account_id: Option<SocialAccountId>,
) -> Result<Vec<AccountTotals>, DbError> {
    // The join follows the composite foreign key (both sides already filtered by RLS).
    const SQL: &str = "SELECT a.id, a.network, a.handle, count(*) AS posts, \
             least(sum(p.likes), 9223372036854775807)::bigint AS likes, \
             least(sum(p.shares), 9223372036854775807)::bigint AS shares, \
             least(sum(p.comments), 9223372036854775807)::bigint AS comments, \
             least(sum(p.impressions), 9223372036854775807)::bigint AS impressions \
         FROM palisade.social_posts p \
         JOIN palisade.social_accounts a \
           ON a.organization_id = p.organization_id AND a.id = p.account_id \
         WHERE p.status = 'published' AND p.published_at >= $1 AND p.published_at < coalesce($2::timestamptz, 'infinity') \
           AND a.network = coalesce($3, a.network) AND a.id = coalesce($4, a.id) \
         GROUP BY a.id, a.network, a.handle ORDER BY a.network, a.handle";
    let network = network.map(SocialNetwork::as_str);
    let account = account_id.map(|a| a.as_uuid());
    let rows = tx
        .query_once(SQL, &[&from, &until, &network, &account])
        .await?;
    rows.iter()
        .map(|r| {
            Ok(AccountTotals {
                account_id: r.try_get("id")?,
                network: r.try_get("network")?,
                handle: r.try_get("handle")?,
                posts: r.try_get("posts")?,
                counters: [
                    r.try_get("likes")?,
                    r.try_get("shares")?,
                    r.try_get("comments")?,
                    r.try_get("impressions")?,
                ],
            })
        })
        .collect()
}
