//! Social accounts, their posts, and engagement totals: the rows, their filters, inserts and
//! updates; listing, reading, locking and deleting are [`crate::crud`]'s. No query filters by
//! organization: the policies of `policies/360_social.sql` do, and `organization_id` defaults
//! to the context on insert. An account's access token is written here and never selected: the
//! app role has no SELECT on `access_token` (`policies/360_social.sql`), so no statement here
//! may even refer to it outside a SET list or VALUES; `has_access_token` is a generated column
//! that says whether one is set.

use palisade_domain::{
    AccessToken, PostBody, PostStatus, SocialAccountId, SocialHandle, SocialNetwork, SocialPostId,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crud;
use crate::{DbError, TenantTx};

/// The unique key on (organization, network, handle).
pub const HANDLE_KEY: &str = "social_accounts_handle_key";

/// The composite foreign key from a post to its account: violated when the account does not
/// exist in this organization (missing, or another organization's).
pub const ACCOUNT_FKEY: &str = "social_posts_account_fkey";

crate::table! {
    /// An account as stored and as clients see it: the token itself is never read back.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    #[schema(as = SocialAccount)]
    pub struct Account in "palisade.social_accounts" {
        /// Its id.
        id: Uuid,
        /// `twitter`, `facebook`, `instagram` or `linkedin`.
        #[schema(value_type = SocialNetwork)]
        network: String,
        /// Handle, lower-case, without `@`.
        handle: String,
        /// Whether an access token is stored (it is never returned).
        has_access_token: bool,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
}

crate::insert_type! {
    /// An account to connect.
    pub struct NewAccount into Account {
        /// Its network.
        network: SocialNetwork,
        /// Its handle.
        handle: SocialHandle,
        /// Its access token, if given (write-only).
        access_token: Option<AccessToken>,
    }
}

/// A partial update: `None` leaves a field alone; `Some(None)` removes the token.
#[derive(Debug, Clone, Default)]
pub struct AccountPatch {
    /// New handle.
    pub handle: Option<SocialHandle>,
    /// New or removed access token.
    pub access_token: Option<Option<AccessToken>>,
}

crate::filter_type! {
    /// Account list filters.
    pub struct AccountFilter for Account {
        /// Only this network.
        network: SocialNetwork => "network = $",
        /// Only this exact handle.
        handle: SocialHandle => "handle = $",
    }
}

impl crud::Update for AccountPatch {
    type Row = Account;
    async fn update(&self, tx: &mut TenantTx, id: Uuid) -> Result<Option<Account>, DbError> {
        let handle = self.handle.as_ref().map(SocialHandle::as_str);
        // Two statements, not one with `CASE WHEN $3 THEN $4 ELSE access_token END`: reading
        // `access_token` in the SET list needs a SELECT grant the app role does not have.
        match &self.access_token {
            None => {
                crud::returning_opt(
                    tx,
                    "UPDATE palisade.social_accounts SET handle = coalesce($2, handle), \
                         updated_at = now() \
                     WHERE id = $1",
                    &[&id, &handle],
                )
                .await
            }
            Some(token) => {
                crud::returning_opt(
                    tx,
                    "UPDATE palisade.social_accounts SET handle = coalesce($2, handle), \
                         access_token = $3, updated_at = now() \
                     WHERE id = $1",
                    &[&id, &handle, &token.as_ref().map(AccessToken::expose)],
                )
                .await
            }
        }
    }
}

crate::table! {
    /// A post as stored, and as clients see it.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    #[schema(as = SocialPost)]
    pub struct Post in "palisade.social_posts" {
        /// Its id.
        id: Uuid,
        /// Its account.
        account_id: Uuid,
        /// Text.
        body: String,
        /// `draft`, `scheduled`, `published` or `failed`.
        #[schema(value_type = PostStatus)]
        status: String,
        /// When it is to go out.
        #[serde(with = "palisade_domain::timestamp::option")]
        scheduled_at: Option<OffsetDateTime>,
        /// When it went out.
        #[serde(with = "palisade_domain::timestamp::option")]
        published_at: Option<OffsetDateTime>,
        /// Likes.
        likes: i64,
        /// Shares.
        shares: i64,
        /// Comments.
        comments: i64,
        /// Impressions.
        impressions: i64,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
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

/// A post to create, its state checked.
#[derive(Debug, Clone)]
pub struct NewPost {
    /// Its account.
    pub account_id: SocialAccountId,
    /// What it says and where it stands.
    pub state: PostState,
}

/// Changes to a post: `None` fields stay, `Some(None)` clears a time. The API completes them
/// with the current post into a whole [`PostState`] and checks it before writing.
#[derive(Debug, Clone, Default)]
pub struct PostPatch {
    /// New text.
    pub body: Option<PostBody>,
    /// New status.
    pub status: Option<PostStatus>,
    /// New or cleared schedule.
    pub scheduled_at: Option<Option<OffsetDateTime>>,
    /// New or cleared publication time.
    pub published_at: Option<Option<OffsetDateTime>>,
    /// New likes, shares, comments, impressions.
    pub counters: [Option<i64>; 4],
}

impl From<PostState> for PostPatch {
    fn from(s: PostState) -> Self {
        Self {
            body: Some(s.body),
            status: Some(s.status),
            scheduled_at: Some(s.scheduled_at),
            published_at: Some(s.published_at),
            counters: s.counters.map(Some),
        }
    }
}

crate::filter_type! {
    /// Post list filters.
    pub struct PostFilter for Post {
        /// Only posts of this account.
        account_id: SocialAccountId => "account_id = $",
        /// Only this status.
        status: PostStatus => "status = $",
    }
}

impl crud::Insert for NewPost {
    type Row = Post;
    async fn insert(&self, tx: &mut TenantTx) -> Result<Post, DbError> {
        let state = &self.state;
        let [likes, shares, comments, impressions] = state.counters;
        crud::returning(
            tx,
            "INSERT INTO palisade.social_posts (id, account_id, body, status, scheduled_at, \
                 published_at, likes, shares, comments, impressions) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &SocialPostId::new().as_uuid(),
                &self.account_id.as_uuid(),
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
        .await
    }
}

impl crud::Update for PostPatch {
    type Row = Post;
    async fn update(&self, tx: &mut TenantTx, id: Uuid) -> Result<Option<Post>, DbError> {
        let [likes, shares, comments, impressions] = self.counters;
        crud::returning_opt(
            tx,
            "UPDATE palisade.social_posts SET body = coalesce($2, body), \
                 status = coalesce($3, status), \
                 scheduled_at = CASE WHEN $4 THEN $5 ELSE scheduled_at END, \
                 published_at = CASE WHEN $6 THEN $7 ELSE published_at END, \
                 likes = coalesce($8, likes), shares = coalesce($9, shares), \
                 comments = coalesce($10, comments), impressions = coalesce($11, impressions), \
                 updated_at = now() \
             WHERE id = $1",
            &[
                &id,
                &self.body.as_ref().map(PostBody::as_str),
                &self.status.map(PostStatus::as_str),
                &self.scheduled_at.is_some(),
                &self.scheduled_at.flatten(),
                &self.published_at.is_some(),
                &self.published_at.flatten(),
                &likes,
                &shares,
                &comments,
                &impressions,
            ],
        )
        .await
    }
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

/// Totals per account of posts published on `days` (see [`crate::days::Days`]),
/// optionally for one network or one account, ordered by network then handle, with the days the
/// database resolved and whether they form a range a summary reads (nothing is counted when they
/// do not). Counters are client-set up to i64::MAX each, so their totals saturate at i64::MAX.
/// Ends the transaction.
pub async fn engagement(
    tx: TenantTx,
    days: crate::days::Days<'_>,
    network: Option<SocialNetwork>,
    account_id: Option<SocialAccountId>,
) -> Result<(crate::days::Window, bool, Vec<AccountTotals>), DbError> {
    // The window is one row; the totals are joined to it, so that an empty range still answers
    // its days. The join of posts and accounts follows the composite foreign key (both sides
    // already filtered by RLS).
    let sql = format!(
        "WITH {window}
         SELECT w.from_day, w.to_day, w.valid, t.*
           FROM w
           LEFT JOIN LATERAL (
               SELECT a.id, a.network, a.handle, count(*) AS posts,
                      least(sum(p.likes), 9223372036854775807)::bigint AS likes,
                      least(sum(p.shares), 9223372036854775807)::bigint AS shares,
                      least(sum(p.comments), 9223372036854775807)::bigint AS comments,
                      least(sum(p.impressions), 9223372036854775807)::bigint AS impressions
                 FROM palisade.social_posts p
                 JOIN palisade.social_accounts a
                   ON a.organization_id = p.organization_id AND a.id = p.account_id
                WHERE w.valid AND p.status = 'published' AND {in_days}
                  AND a.network = coalesce($4, a.network) AND a.id = coalesce($5, a.id)
                GROUP BY a.id, a.network, a.handle) AS t ON true
          ORDER BY t.network, t.handle",
        window = crate::days::WINDOW,
        in_days = crate::days::in_days("p.published_at"),
    );
    let network = network.map(SocialNetwork::as_str);
    let account = account_id.map(|a| a.as_uuid());
    let rows = tx
        .query_once(
            &sql,
            &[&days.from, &days.to, &days.zone, &network, &account],
        )
        .await?;
    let first = rows
        .first()
        .ok_or_else(|| DbError::Client("the engagement summary returned no row".into()))?;
    let (window, valid) = crate::days::window(first)?;
    let mut totals = Vec::with_capacity(rows.len());
    for r in &rows {
        // The one row of an empty range has no account.
        let Some(account_id) = r.try_get::<_, Option<Uuid>>("id")? else {
            continue;
        };
        totals.push(AccountTotals {
            account_id,
            network: r.try_get("network")?,
            handle: r.try_get("handle")?,
            posts: r.try_get("posts")?,
            counters: [
                r.try_get("likes")?,
                r.try_get("shares")?,
                r.try_get("comments")?,
                r.try_get("impressions")?,
            ],
        });
    }
    Ok((window, valid, totals))
}
