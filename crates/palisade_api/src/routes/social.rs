//! `/v1/social`: connected accounts (access tokens are write-only: stored, never returned, never
//! logged; responses say `has_access_token`), their posts with engagement counters, and totals
//! per network and account. Accounts and posts are served by [`crate::resource`]'s handlers:
//! another organization's account or post answers 404 exactly like a missing one; a post
//! naming another organization's account answers exactly like a missing account.

use actix_web::{HttpResponse, web};
use palisade_db::social::{
    self as db, Account, AccountFilter, AccountPatch, NewAccount, NewPost, Post, PostFilter,
    PostPatch, PostState,
};
use palisade_domain::{
    AccessToken, PostBody, PostStatus, SocialAccountId, SocialHandle, SocialNetwork,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::query_params::{format_date, no_such};
use super::{Fields, not_null, nullable};
use crate::auth::Caller;
use crate::error::ErrorCode;
use crate::extract::Integer;
use crate::kinds::{Choice, Field, Instant, Text};
use crate::resource::{self, Created, PatchGuard, Patched, Violation};
use crate::{ApiError, AppState};

/// The social account family.
pub(crate) struct Accounts;

resource::family! {
    Accounts: Account => Account, "/v1/social/accounts", "social", "a social account", "social accounts";
    const VIOLATIONS: &'static [Violation] = &[Violation::on_write(db::HANDLE_KEY, || {
        resource::taken(
            ErrorCode::HandleTaken,
            "handle",
            "this organization already has this account on this network",
        )
    })];
}

/// The social post family.
pub(crate) struct Posts;

impl crate::changes::Synced for Posts {
    const CHANGES: &'static str = "/v1/social/posts/changes";
}

resource::family! {
    Posts: Post => Post, "/v1/social/posts", "social", "a social post", "social posts";
    const VIOLATIONS: &'static [Violation] = &[Violation::on_write(db::ACCOUNT_FKEY, || {
        no_such("account_id")
    })];
}

/// Declares this family's routes (see [`crate::resource`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    resource::list_route::<Accounts>(e);
    resource::create_route::<Accounts>(e)
        .summary("Connect a social account")
        .describe(
            "409 `handle_taken` when this organization already has that handle on that network",
        );
    resource::get_route::<Accounts>(e);
    resource::update_route::<Accounts>(e);
    resource::delete_route::<Accounts>(e)
        .summary("Disconnect a social account")
        .describe("Disconnects it and deletes its posts");
    crate::changes::changes_route::<Posts>(e);
    resource::list_route::<Posts>(e);
    resource::create_route::<Posts>(e).describe("`status` defaults to `draft`, counters to 0");
    resource::get_route::<Posts>(e);
    resource::update_route::<Posts>(e).describe("Edits, schedules, publishes, or updates the counters; the result is checked as a whole (see `POST`)");
    resource::delete_route::<Posts>(e);
    e.get("/v1/social/analytics", analytics)
        .tag("social")
        .summary("Post engagement per network and account")
        .describe("Posts published in the inclusive range of days in `tz` (default UTC; the 30 days ending today in `tz` by default; at most 366) and their engagement, per network and per account: `{\"from\", \"to\", \"tz\", \"networks\": [{network, posts, likes, shares, comments, impressions}], \"accounts\": [{account_id, network, handle, posts, likes, ...}]}`")
        .query::<AnalyticsQuery>()
        .ok::<AnalyticsJson>()
        .errors(&[422]);
}

crate::list::filters! {
    /// Account list query string.
    Accounts: AccountListQuery => AccountFilter {
        network: Choice<SocialNetwork>,
        /// Exact handle.
        handle: Text<SocialHandle>,
    }
}

resource::created! {
    /// Account create body.
    Accounts: AccountCreateBody as SocialAccountCreate => NewAccount {
        network: required Choice<SocialNetwork>,
        /// Unique per network within the organization (409 `handle_taken`).
        handle: required Text<SocialHandle>,
        /// Write-only: stored, never returned (see `has_access_token`).
        access_token: optional Text<AccessToken>,
    }
}

resource::patch! {
    /// Account patch body: absent fields stay; `access_token: null` removes the token.
    Accounts: AccountPatchBody as SocialAccountPatch => AccountPatch {
        handle: set Text<SocialHandle>,
        /// Write-only; `null` removes the stored token.
        access_token: clear Text<AccessToken>,
    }
}

crate::list::filters! {
    /// Post list query string.
    Posts: PostListQuery => PostFilter {
        account_id: Id<SocialAccountId>,
        status: Choice<PostStatus>,
    }
}

/// Post create body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SocialPostCreate)]
pub struct PostCreateBody {
    /// A social account of this organization.
    #[schema(required = true, value_type = String, format = Uuid)]
    account_id: Option<String>,
    #[schema(required = true, value_type = String)]
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
    #[schema(value_type = Option<i64>)]
    likes: Option<Integer>,
    #[schema(value_type = Option<i64>)]
    shares: Option<Integer>,
    #[schema(value_type = Option<i64>)]
    comments: Option<Integer>,
    #[schema(value_type = Option<i64>)]
    impressions: Option<Integer>,
}

crate::rules::field_rules!(PostCreateBody {
    "body": Text<PostBody>,
    "likes": crate::rules::Count,
    "shares": crate::rules::Count,
    "comments": crate::rules::Count,
    "impressions": crate::rules::Count,
});

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

impl Created for Posts {
    type Body = PostCreateBody;
    type New = NewPost;

    /// `status` defaults to `draft`, counters to 0; the state is checked as a whole.
    fn parse(body: &PostCreateBody, f: &mut Fields) -> Option<NewPost> {
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
        let counters = [body.likes, body.shares, body.comments, body.impressions]
            .map(|c| c.map_or(0, |c| c.0));
        let state = PostState {
            body: text?,
            status: status?,
            scheduled_at,
            published_at,
            counters,
        };
        Some(NewPost {
            account_id: account_id?,
            state: check_state(f, state),
        })
    }
}

/// Post patch body: absent fields stay; `null` clears `scheduled_at` or `published_at`, except
/// the one the resulting status needs (`scheduled`, `published`): 422 `required`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SocialPostPatch)]
pub struct PostPatchBody {
    #[schema(value_type = String)]
    #[serde(default, deserialize_with = "nullable")]
    body: Option<Option<String>>,
    #[schema(value_type = PostStatus)]
    #[serde(default, deserialize_with = "nullable")]
    status: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    scheduled_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    published_at: Option<Option<String>>,
    #[schema(value_type = i64)]
    #[serde(default, deserialize_with = "not_null")]
    likes: Option<Integer>,
    #[schema(value_type = i64)]
    #[serde(default, deserialize_with = "not_null")]
    shares: Option<Integer>,
    #[schema(value_type = i64)]
    #[serde(default, deserialize_with = "not_null")]
    comments: Option<Integer>,
    #[schema(value_type = i64)]
    #[serde(default, deserialize_with = "not_null")]
    impressions: Option<Integer>,
}

crate::rules::field_rules!(PostPatchBody {
    "body": Text<PostBody>,
    "likes": crate::rules::Count,
    "shares": crate::rules::Count,
    "comments": crate::rules::Count,
    "impressions": crate::rules::Count,
});

impl Patched for Posts {
    type Body = PostPatchBody;
    type Patch = PostPatch;
    const GUARD: Option<PatchGuard<PostPatch, Post>> = Some(merge);

    fn parse(body: &PostPatchBody, f: &mut Fields) -> PostPatch {
        PostPatch {
            body: Field::set::<Text<PostBody>>(f, "body", &body.body),
            status: Field::set::<Choice<PostStatus>>(f, "status", &body.status),
            scheduled_at: Field::clear::<Instant>(f, "scheduled_at", &body.scheduled_at),
            published_at: Field::clear::<Instant>(f, "published_at", &body.published_at),
            counters: [body.likes, body.shares, body.comments, body.impressions]
                .map(|c| c.map(|c| c.0)),
        }
    }
}

/// Edits, schedules, publishes, or updates the counters: the result is checked as a whole (see
/// [`check_state`]), completed from the current post (locked). A time the resulting status needs
/// cannot be cleared: `published_at: null` on a post that is (or becomes) published is 422
/// `required`, as `scheduled_at: null` is on a scheduled one; only a post that *becomes*
/// published without a time given or kept is stamped with now.
fn merge(patch: &mut PostPatch, current: &Post) -> Result<(), ApiError> {
    let (Ok(body), Ok(status)) = (
        PostBody::parse(&current.body),
        PostStatus::parse(&current.status),
    ) else {
        return Err(ApiError::internal("a stored post does not parse"));
    };
    let [likes, shares, comments, impressions] = patch.counters;
    let state = PostState {
        body: patch.body.take().unwrap_or(body),
        status: patch.status.unwrap_or(status),
        scheduled_at: patch.scheduled_at.unwrap_or(current.scheduled_at),
        published_at: patch.published_at.unwrap_or(current.published_at),
        counters: [
            likes.unwrap_or(current.likes),
            shares.unwrap_or(current.shares),
            comments.unwrap_or(current.comments),
            impressions.unwrap_or(current.impressions),
        ],
    };
    let mut f = Fields::default();
    if state.status == PostStatus::Published && patch.published_at == Some(None) {
        f.required_because(
            "published_at",
            "is required when status is published (leave it out to keep it)",
        );
    }
    let merged = check_state(&mut f, state);
    f.finish()?;
    *patch = merged.into();
    Ok(())
}

/// Analytics query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsQuery {
    /// First day (inclusive) in `tz`; default: 29 days before `to`.
    #[param(format = Date)]
    from: Option<String>,
    /// Last day (inclusive) in `tz`; default: today in `tz`. At most 365 days after `from` (366
    /// days in all).
    #[param(format = Date)]
    to: Option<String>,
    #[param(value_type = Option<SocialNetwork>, inline)]
    network: Option<String>,
    #[param(format = Uuid)]
    account_id: Option<String>,
    /// The time zone the days are in, by its name in the database's time zone database
    /// (`Europe/Paris`, `America/New_York`; any case); default `UTC`. Not an abbreviation
    /// (`CET`, `PST`) nor a POSIX specification (`UTC+3`).
    #[param(max_length = 64)]
    tz: Option<String>,
}

crate::rules::field_rules!(AnalyticsQuery {});

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
    /// The time zone of the days, as the database spells it.
    tz: String,
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

/// `GET /v1/social/analytics?from=YYYY-MM-DD&to=YYYY-MM-DD&network=&account_id=&tz=`: posts
/// published in the inclusive range of days in `tz` (default UTC; the 30 days ending today
/// there by default; at most 366) and their engagement, per network and per account:
/// `{"from", "to", "tz", "networks": [{network, posts, likes, shares, comments, impressions}],
///   "accounts": [{account_id, network, handle, posts, likes, ...}]}`.
pub async fn analytics(
    state: web::Data<AppState>,
    caller: Caller,
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
    let zone = f.time_zone(&state, q.tz.as_deref()).await?;
    let (range, zone) = f.finish_with((range, zone))?;
    let tx = caller.begin(&state).await?;
    let (days, valid, accounts) =
        db::engagement(tx, range.in_zone(&zone), network, account_id).await?;
    if !valid {
        return Err(crate::routes::fields::day_range_refused(days.from, days.to));
    }
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
        from: format_date(days.from),
        to: format_date(days.to),
        tz: zone,
        networks,
        accounts,
    }))
}
