//! `/v1/social`: connected accounts (access tokens are write-only: stored, never returned, never
//! logged; responses say `has_access_token`), their posts with engagement counters, and totals
//! per network and account. Another organization's account or post answers 404 exactly like a
//! missing one; a post naming another organization's account answers exactly like a missing
//! account.

use actix_web::{HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::social::{
    self as db, Account, AccountFilter, AccountPatch, Post, PostFilter, PostState,
};
use palisade_domain::{
    AccessToken, PostBody, PostStatus, SocialAccountId, SocialHandle, SocialNetwork, SocialPostId,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::query_params::{format_date, no_such};
use super::{Fields, not_null, nullable, parse_id};
use crate::auth::Tenant;
use crate::etag::IfMatch;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::list::List;
use crate::{ApiError, AppState};

/// Declares this family's routes (see [`crate::endpoints`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    e.get("/v1/social/accounts", list_accounts)
        .tag("social")
        .summary("List social accounts")
        .list_query::<AccountListQuery>()
        .list::<AccountJson>()
        .errors(&[422]);
    e.post("/v1/social/accounts", create_account)
        .tag("social")
        .summary("Connect a social account")
        .describe(
            "409 `handle_taken` when this organization already has that handle on that network",
        )
        .body::<AccountCreateBody>()
        .created::<AccountJson>()
        .errors(&[409, 413, 415, 422]);
    e.get("/v1/social/accounts/{id}", get_account)
        .tag("social")
        .summary("Get a social account")
        .ok::<AccountJson>()
        .errors(&[404]);
    e.patch("/v1/social/accounts/{id}", update_account)
        .tag("social")
        .summary("Update a social account")
        .body::<AccountPatchBody>()
        .ok::<AccountJson>()
        .errors(&[404, 409, 413, 415, 422]);
    e.delete("/v1/social/accounts/{id}", delete_account)
        .tag("social")
        .summary("Disconnect a social account")
        .describe("Disconnects it and deletes its posts")
        .no_content()
        .errors(&[404]);
    e.get("/v1/social/posts", list_posts)
        .tag("social")
        .summary("List social posts")
        .list_query::<PostListQuery>()
        .list::<PostJson>()
        .errors(&[422]);
    e.post("/v1/social/posts", create_post)
        .tag("social")
        .summary("Create a social post")
        .describe("`status` defaults to `draft`, counters to 0")
        .body::<PostCreateBody>()
        .created::<PostJson>()
        .errors(&[413, 415, 422]);
    e.get("/v1/social/posts/{id}", get_post)
        .tag("social")
        .summary("Get a social post")
        .ok::<PostJson>()
        .errors(&[404]);
    e.patch("/v1/social/posts/{id}", update_post)
        .tag("social")
        .summary("Update a social post")
        .describe("Edits, schedules, publishes, or updates the counters; the result is checked as a whole (see `POST`)")
        .body::<PostPatchBody>()
        .ok::<PostJson>()
        .errors(&[404, 413, 415, 422]);
    e.delete("/v1/social/posts/{id}", delete_post)
        .tag("social")
        .summary("Delete a social post")
        .no_content()
        .errors(&[404]);
    e.get("/v1/social/analytics", analytics)
        .tag("social")
        .summary("Post engagement per network and account")
        .describe("Posts published in the inclusive range of UTC days (default: the 30 days ending today; at most 366) and their engagement, per network and per account: `{\"from\", \"to\", \"networks\": [{network, posts, likes, shares, comments, impressions}], \"accounts\": [{account_id, network, handle, posts, likes, ...}]}`")
        .query::<AnalyticsQuery>()
        .ok::<AnalyticsJson>()
        .errors(&[422]);
}

/// An account as clients see it (never its token).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SocialAccount)]
pub struct AccountJson {
    id: Uuid,
    #[schema(value_type = SocialNetwork)]
    network: String,
    handle: String,
    /// Whether an access token is stored (it is never returned).
    has_access_token: bool,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<Account> for AccountJson {
    fn from(a: Account) -> Self {
        Self {
            id: a.id,
            network: a.network,
            handle: a.handle,
            has_access_token: a.has_access_token,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

fn handle_taken() -> ApiError {
    ApiError::Conflict {
        code: crate::error::ErrorCode::HandleTaken,
        message: "this organization already has this account on this network",
    }
}

/// Account list query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AccountListQuery {
    #[param(value_type = Option<SocialNetwork>, inline)]
    network: Option<String>,
    /// Exact handle.
    handle: Option<String>,
}

/// `GET /v1/social/accounts?network=&handle=&created_after=&created_before=`: newest first.
pub async fn list_accounts(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: List<AccountListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let filter = AccountFilter {
        network: f.optional("network", q.filter.network.as_deref(), SocialNetwork::parse),
        handle: f.optional("handle", q.filter.handle.as_deref(), SocialHandle::parse),
    };
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list_accounts(tx, &filter, q.page).await?;
    Ok(q.respond(page, AccountJson::from))
}

/// Account create body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SocialAccountCreate)]
pub struct AccountCreateBody {
    #[schema(required = true, value_type = SocialNetwork)]
    network: Option<String>,
    /// Unique per network within the organization (409 `handle_taken`).
    #[schema(required = true)]
    handle: Option<String>,
    /// Write-only: stored, never returned (see `has_access_token`).
    access_token: Option<String>,
}

/// `POST /v1/social/accounts` (201); 409 `handle_taken` when this organization already has
/// that handle on that network.
pub async fn create_account(
    state: web::Data<AppState>,
    tenant: Tenant,
    idem: Idempotency,
    body: crate::extract::Json<AccountCreateBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let network = f.required("network", body.network.as_deref(), SocialNetwork::parse);
    let handle = f.required("handle", body.handle.as_deref(), SocialHandle::parse);
    let token = f.optional(
        "access_token",
        body.access_token.as_deref(),
        AccessToken::parse,
    );
    f.finish()?;
    let (Some(network), Some(handle)) = (network, handle) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    let account = match db::create_account(&mut tx, network, &handle, token.as_ref()).await {
        Err(e) if e.is_unique_violation_of(db::HANDLE_KEY) => return Err(handle_taken()),
        other => other?,
    };
    tx.commit(super::created(
        "/v1/social/accounts",
        account.id,
        AccountJson::from(account),
    ))
    .await
}

/// `GET /v1/social/accounts/{id}`.
pub async fn get_account(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, SocialAccountId::parse)?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let a = db::get_account(tx, id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(AccountJson::from(a)))
}

/// Account patch body: absent fields stay; `access_token: null` removes the token.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SocialAccountPatch)]
pub struct AccountPatchBody {
    #[serde(default, deserialize_with = "not_null")]
    handle: Option<String>,
    /// Write-only; `null` removes the stored token.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    access_token: Option<Option<String>>,
}

/// `PATCH /v1/social/accounts/{id}`.
pub async fn update_account(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
    body: crate::extract::Json<AccountPatchBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, SocialAccountId::parse)?;
    let mut f = Fields::default();
    let patch = AccountPatch {
        handle: f.optional("handle", body.handle.as_deref(), SocialHandle::parse),
        access_token: f.clearable("access_token", &body.access_token, AccessToken::parse),
    };
    f.finish()?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock_account(&mut tx, id), AccountJson::from)
        .await?;
    let a = match db::update_account(&mut tx, id, &patch).await {
        Err(e) if e.is_unique_violation_of(db::HANDLE_KEY) => return Err(handle_taken()),
        other => other?.ok_or(ApiError::NotFound)?,
    };
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(AccountJson::from(a)))
}

/// `DELETE /v1/social/accounts/{id}` (204): disconnects it and deletes its posts.
pub async fn delete_account(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, SocialAccountId::parse)?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock_account(&mut tx, id), AccountJson::from)
        .await?;
    if !db::delete_account(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A post as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SocialPost)]
pub struct PostJson {
    id: Uuid,
    account_id: Uuid,
    body: String,
    #[schema(value_type = PostStatus)]
    status: String,
    #[serde(with = "palisade_domain::timestamp::option")]
    scheduled_at: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp::option")]
    published_at: Option<OffsetDateTime>,
    likes: i64,
    shares: i64,
    comments: i64,
    impressions: i64,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<Post> for PostJson {
    fn from(p: Post) -> Self {
        Self {
            id: p.id,
            account_id: p.account_id,
            body: p.body,
            status: p.status,
            scheduled_at: p.scheduled_at,
            published_at: p.published_at,
            likes: p.likes,
            shares: p.shares,
            comments: p.comments,
            impressions: p.impressions,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// Post list query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PostListQuery {
    #[param(format = Uuid)]
    account_id: Option<String>,
    #[param(value_type = Option<PostStatus>, inline)]
    status: Option<String>,
}

/// `GET /v1/social/posts?account_id=&status=&created_after=&created_before=`: newest first.
pub async fn list_posts(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: List<PostListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let filter = PostFilter {
        account_id: f.optional(
            "account_id",
            q.filter.account_id.as_deref(),
            SocialAccountId::parse,
        ),
        status: f.optional("status", q.filter.status.as_deref(), PostStatus::parse),
    };
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list_posts(tx, &filter, q.page).await?;
    Ok(q.respond(page, PostJson::from))
}

/// Post create body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SocialPostCreate)]
pub struct PostCreateBody {
    /// A social account of this organization.
    #[schema(required = true, format = Uuid)]
    account_id: Option<String>,
    #[schema(required = true)]
    body: Option<String>,
    /// Default `draft`.
    #[schema(value_type = Option<PostStatus>)]
    status: Option<String>,
    /// Required when `status` is `scheduled`.
    #[schema(format = DateTime)]
    scheduled_at: Option<String>,
    /// Default: now, when `status` is `published`.
    #[schema(format = DateTime)]
    published_at: Option<String>,
    #[schema(minimum = 0)]
    likes: Option<i64>,
    #[schema(minimum = 0)]
    shares: Option<i64>,
    #[schema(minimum = 0)]
    comments: Option<i64>,
    #[schema(minimum = 0)]
    impressions: Option<i64>,
}

/// Checks a post's state as a whole: counters are not negative, a scheduled post has
/// `scheduled_at`, and a published one gets `published_at` (now, when not given).
fn check_state(f: &mut Fields, mut state: PostState) -> PostState {
    for (name, value) in ["likes", "shares", "comments", "impressions"]
        .into_iter()
        .zip(state.counters)
    {
        if value < 0 {
            f.invalid(name, "must not be negative");
        }
    }
    if state.status == PostStatus::Scheduled && state.scheduled_at.is_none() {
        f.required_because("scheduled_at", "is required when status is scheduled");
    }
    if state.status == PostStatus::Published && state.published_at.is_none() {
        state.published_at = Some(OffsetDateTime::now_utc());
    }
    state
}

/// `POST /v1/social/posts` (201). `status` defaults to `draft`, counters to 0. An
/// `account_id` that is not this organization's answers 422 like a missing one.
pub async fn create_post(
    state: web::Data<AppState>,
    tenant: Tenant,
    idem: Idempotency,
    body: crate::extract::Json<PostCreateBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let account_id = f.required(
        "account_id",
        body.account_id.as_deref(),
        SocialAccountId::parse,
    );
    let text = f.required("body", body.body.as_deref(), PostBody::parse);
    let status = match body.status.as_deref() {
        None => Some(PostStatus::Draft),
        Some(s) => f.optional("status", Some(s), PostStatus::parse),
    };
    let scheduled_at = f.time("scheduled_at", body.scheduled_at.as_deref());
    let published_at = f.time("published_at", body.published_at.as_deref());
    let counters =
        [body.likes, body.shares, body.comments, body.impressions].map(|c| c.unwrap_or(0));
    let (Some(account_id), Some(text), Some(status)) = (account_id, text, status) else {
        f.finish()?;
        return Err(ApiError::internal("validated fields missing"));
    };
    let post_state = check_state(
        &mut f,
        PostState {
            body: text,
            status,
            scheduled_at,
            published_at,
            counters,
        },
    );
    f.finish()?;
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    let p = match db::create_post(&mut tx, account_id, &post_state).await {
        Err(e) if e.is_foreign_key_violation_of(db::ACCOUNT_FKEY) => {
            return Err(no_such("account_id"));
        }
        other => other?,
    };
    tx.commit(super::created("/v1/social/posts", p.id, PostJson::from(p)))
        .await
}

/// `GET /v1/social/posts/{id}`.
pub async fn get_post(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, SocialPostId::parse)?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let p = db::get_post(tx, id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(PostJson::from(p)))
}

/// Post patch body: absent fields stay; `null` clears `scheduled_at` or `published_at`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SocialPostPatch)]
pub struct PostPatchBody {
    #[serde(default, deserialize_with = "not_null")]
    body: Option<String>,
    #[schema(value_type = Option<PostStatus>)]
    #[serde(default, deserialize_with = "not_null")]
    status: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    scheduled_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    published_at: Option<Option<String>>,
    #[schema(minimum = 0)]
    #[serde(default, deserialize_with = "not_null")]
    likes: Option<i64>,
    #[schema(minimum = 0)]
    #[serde(default, deserialize_with = "not_null")]
    shares: Option<i64>,
    #[schema(minimum = 0)]
    #[serde(default, deserialize_with = "not_null")]
    comments: Option<i64>,
    #[schema(minimum = 0)]
    #[serde(default, deserialize_with = "not_null")]
    impressions: Option<i64>,
}

/// `PATCH /v1/social/posts/{id}`: edits, schedules, publishes, or updates the counters; the
/// result is checked as a whole (see `POST`).
pub async fn update_post(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
    body: crate::extract::Json<PostPatchBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, SocialPostId::parse)?;
    let mut f = Fields::default();
    let text = f.optional("body", body.body.as_deref(), PostBody::parse);
    let status = f.optional("status", body.status.as_deref(), PostStatus::parse);
    let scheduled_at = match &body.scheduled_at {
        None => None,
        Some(None) => Some(None),
        Some(Some(s)) => f.time("scheduled_at", Some(s)).map(Some),
    };
    let published_at = match &body.published_at {
        None => None,
        Some(None) => Some(None),
        Some(Some(s)) => f.time("published_at", Some(s)).map(Some),
    };
    f.finish()?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock_post(&mut tx, id), PostJson::from)
        .await?;
    let current = db::lock_post(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let (Ok(current_body), Ok(current_status)) = (
        PostBody::parse(&current.body),
        PostStatus::parse(&current.status),
    ) else {
        return Err(ApiError::internal("a stored post does not parse"));
    };
    let mut f = Fields::default();
    let merged = check_state(
        &mut f,
        PostState {
            body: text.unwrap_or(current_body),
            status: status.unwrap_or(current_status),
            scheduled_at: scheduled_at.unwrap_or(current.scheduled_at),
            published_at: published_at.unwrap_or(current.published_at),
            counters: [
                body.likes.unwrap_or(current.likes),
                body.shares.unwrap_or(current.shares),
                body.comments.unwrap_or(current.comments),
                body.impressions.unwrap_or(current.impressions),
            ],
        },
    );
    f.finish()?;
    let p = db::update_post(&mut tx, id, &merged)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(PostJson::from(p)))
}

/// `DELETE /v1/social/posts/{id}` (204).
pub async fn delete_post(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, SocialPostId::parse)?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock_post(&mut tx, id), PostJson::from)
        .await?;
    if !db::delete_post(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Analytics query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsQuery {
    /// First UTC day (inclusive); default: 29 days before `to`.
    #[param(format = Date)]
    from: Option<String>,
    /// Last UTC day (inclusive); default: today. At most 366 days after `from`.
    #[param(format = Date)]
    to: Option<String>,
    #[param(value_type = Option<SocialNetwork>, inline)]
    network: Option<String>,
    #[param(format = Uuid)]
    account_id: Option<String>,
}

/// Engagement of the posts published in a range of days.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SocialAnalytics)]
pub struct AnalyticsJson {
    /// First day counted.
    #[schema(format = Date)]
    from: String,
    /// Last day counted (inclusive).
    #[schema(format = Date)]
    to: String,
    /// Per network, networks with published posts only.
    networks: Vec<NetworkEngagementJson>,
    /// Per account with published posts, by network then handle.
    accounts: Vec<AccountEngagementJson>,
}

/// Posts published and their counters, summed.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SocialEngagement)]
pub struct EngagementJson {
    posts: i64,
    likes: i64,
    shares: i64,
    comments: i64,
    impressions: i64,
}

impl EngagementJson {
    fn new(posts: i64, [likes, shares, comments, impressions]: [i64; 4]) -> Self {
        Self {
            posts,
            likes,
            shares,
            comments,
            impressions,
        }
    }
}

/// One network's engagement.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SocialNetworkEngagement)]
pub struct NetworkEngagementJson {
    #[schema(value_type = SocialNetwork)]
    network: String,
    #[serde(flatten)]
    engagement: EngagementJson,
}

/// One account's engagement.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SocialAccountEngagement)]
pub struct AccountEngagementJson {
    account_id: Uuid,
    #[schema(value_type = SocialNetwork)]
    network: String,
    handle: String,
    #[serde(flatten)]
    engagement: EngagementJson,
}

/// `GET /v1/social/analytics?from=YYYY-MM-DD&to=YYYY-MM-DD&network=&account_id=`: posts
/// published in the inclusive range of UTC days (default: the 30 days ending today; at most
/// 366) and their engagement, per network and per account:
/// `{"from", "to", "networks": [{network, posts, likes, shares, comments, impressions}],
///   "accounts": [{account_id, network, handle, posts, likes, ...}]}`.
pub async fn analytics(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: web::Query<AnalyticsQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let range = f.day_range(q.from.as_deref(), q.to.as_deref());
    let network = f.optional("network", q.network.as_deref(), SocialNetwork::parse);
    let account_id = f.optional(
        "account_id",
        q.account_id.as_deref(),
        SocialAccountId::parse,
    );
    f.finish()?;
    let Some(range) = range else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let accounts = db::engagement(tx, range.start, range.end, network, account_id).await?;
    let mut networks: Vec<(String, i64, [i64; 4])> = Vec::new();
    for a in &accounts {
        let i = match networks.iter().position(|(n, _, _)| *n == a.network) {
            Some(i) => i,
            None => {
                networks.push((a.network.clone(), 0, [0; 4]));
                networks.len() - 1
            }
        };
        let entry = &mut networks[i];
        entry.1 += a.posts;
        // Counters are client-set, up to i64::MAX each: their totals saturate, never overflow.
        for (total, v) in entry.2.iter_mut().zip(a.counters) {
            *total = total.saturating_add(v);
        }
    }
    let networks = networks
        .into_iter()
        .map(|(network, posts, c)| NetworkEngagementJson {
            network,
            engagement: EngagementJson::new(posts, c),
        })
        .collect();
    let accounts = accounts
        .into_iter()
        .map(|a| AccountEngagementJson {
            account_id: a.account_id,
            network: a.network,
            handle: a.handle,
            engagement: EngagementJson::new(a.posts, a.counters),
        })
        .collect();
    Ok(HttpResponse::Ok().json(AnalyticsJson {
        from: format_date(range.from),
        to: format_date(range.to),
        networks,
        accounts,
    }))
}
