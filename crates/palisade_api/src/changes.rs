//! The changes feed of every synced family, `GET <collection>/changes?since=&limit=` (docs/api.md,
//! "Incremental sync"): a page of the organization's rows of the family in the order they were
//! last written, and the ids of those deleted, with the token of what follows
//! ([`crate::sync_token`]). One round trip, the credential's check included. The database side
//! is `palisade_db::sync`; which tables are synced, the migrations' (V0177 to V0181).

use actix_web::{HttpResponse, web};
use palisade_db::crud::Table;
use palisade_db::sync::Change;

use crate::auth::Caller;
use crate::endpoints::{Doc, Endpoints};
use crate::error::ErrorCode;
use crate::resource::Resource;
use crate::sync_token::{Moment, SyncState, SyncToken};
use crate::{ApiError, AppState};

/// A family with a changes feed: its table has a change stamp, its index and a delete trigger
/// recording deletions under the table's name (docs/adding-a-resource.md, "Incremental sync").
pub(crate) trait Synced: Resource {
    /// `<collection>/changes`, declared before the item routes, whose `{id}` would take it.
    /// Also what a token is sealed for: a token of another family's feed does not open here.
    const CHANGES: &'static str;
}

/// The name the table's delete trigger records its deletions under in `palisade.deleted_rows`:
/// the table's (`TG_TABLE_NAME`).
fn resource<R: Synced>() -> &'static str {
    let table = <R::Row as Table>::TABLE;
    table.rsplit_once('.').map_or(table, |(_, name)| name)
}

/// The changes feed's query string.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangesQuery {
    /// The `next_since` of the previous page, or of the last page of the previous sync; absent
    /// to sync from the start.
    since: Option<String>,
    /// Changes per page, 1 to 100 (default 100).
    #[param(value_type = Option<u16>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

crate::rules::field_rules!(ChangesQuery {});

/// A page of the changes feed (its schema is [`Doc::changes`]'s).
#[derive(serde::Serialize)]
struct ChangesJson<J> {
    changed: Vec<J>,
    deleted: Vec<DeletedRow>,
    next_since: String,
    has_more: bool,
}

/// A deleted row, in a changes feed.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct DeletedRow {
    /// Its id.
    id: uuid::Uuid,
    /// When it was deleted.
    #[serde(with = "palisade_domain::timestamp")]
    deleted_at: time::OffsetDateTime,
}

/// Declares `GET <collection>/changes`; the returned [`Doc`] takes what is the family's own.
pub(crate) fn changes_route<R: Synced>(e: &mut Endpoints) -> Doc<'_> {
    let mut doc = e.get(R::CHANGES, changes::<R>);
    doc.tag(R::TAG)
        .summary(&format!(
            "Sync {}: what changed since the last sync",
            R::MANY
        ))
        .describe(&format!(
            "Incremental sync (docs/api.md, \"Incremental sync\"). Without `since`: the \
             organization's {many} as of the first page, a page at a time (one changed while \
             the sync pages, before the sync reached it, comes in the next sync instead). With the `next_since` of the last page \
             of a sync: the {many} created or changed since, as they are now, and the ids of \
             those deleted. Page on with each page's `next_since` while `has_more`; keep the \
             last page's. A change is never missed, and may be sent again. A token that is not \
             good here (another organization's or another feed's, altered, of an earlier format, \
             sealed before the server's JWT secret was rotated away, of a sync begun more than \
             89 days ago or needing deletion records retention has removed, or from before a \
             restore, a point-in-time recovery or a failover) answers 410 \
             `sync_token_expired`: replace the copy with a sync from the start.",
            many = R::MANY
        ))
        .query::<ChangesQuery>()
        .changes::<R::Json, DeletedRow>()
        .errors(&[410, 422]);
    doc
}

/// `GET <collection>/changes?since=&limit=` (every role, API keys too).
async fn changes<R: Synced>(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<ChangesQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = crate::routes::Fields::default();
    let limit = f.limit(q.limit.as_deref());
    f.finish()?;
    let limit = limit.unwrap_or(crate::list::MAX_LIMIT);
    let token = match q.since.as_deref() {
        None => None,
        Some(raw) => Some(
            state
                .tokens
                .sync()
                .open(R::CHANGES, raw)
                .ok_or_else(sync_token_expired)?,
        ),
    };
    // A token whose sync began before the deletion records' window may need records that are
    // gone: refused before any read. The age is fixed, and the window may not be shorter than
    // it and a day (`palisade_db::retention::SYNC_TOKEN_AGE`), so no setting can make the
    // feed accept a token whose records retention may have removed.
    let now = state.clock.now().unix_timestamp();
    let oldest = i64::try_from(palisade_db::retention::SYNC_TOKEN_AGE.as_secs())
        .map_or(i64::MIN, |age| now - age);
    if let Some(t) = &token
        && t.too_old(oldest)
    {
        return Err(sync_token_expired());
    }
    let before = token.map_or(SyncState::START, |t| t.state);
    let (since, after, ceiling) = before.reads();
    let tx = caller.begin(&state).await?;
    let page =
        palisade_db::sync::changes::<R::Row>(tx, resource::<R>(), after, since > 0, ceiling, limit)
            .await?;
    let organization = page
        .organization
        .ok_or_else(|| ApiError::internal("a checked read left no organization"))?
        .as_uuid();
    let moment = Moment {
        horizon: page.horizon,
        ceiling: page.ceiling,
    };
    // The read was this organization's under RLS whatever the token said; a token issued to
    // another one is refused all the same, so that a client never mixes two organizations' feeds.
    // One of another history, or holding ids this database has not given out yet, is refused
    // before the client trusts a page read past changes it would then never see.
    if let Some(t) = token
        && (t.organization != organization || t.epoch != page.epoch || !before.fits(moment))
    {
        if t.organization == organization {
            tracing::info!(
                resource = R::COLLECTION,
                epoch_matches = t.epoch == page.epoch,
                "a sync token of another database history refused"
            );
        }
        return Err(sync_token_expired());
    }
    // Retention removed deletion records up to `pruned`: a sync that reads deletions after a
    // position at or before it may miss some. The age check above cannot see this when a
    // deleting transaction stayed open longer than its margin, or when this server's clock is
    // behind the database's; the transaction ids do.
    if since > 0
        && let Some(pruned) = page.pruned
        && after.xid <= pruned
    {
        tracing::info!(
            resource = R::COLLECTION,
            "a sync token older than the deletion records retention removed refused"
        );
        return Err(sync_token_expired());
    }
    // A row the snapshot sees was written below its ceiling, unless it came from another
    // cluster's history as it was (a logical restore keeps the old ids, and the new cluster
    // counts from its own start): its position would be beyond what every later page may read.
    if let Some((at, _)) = page.changes.iter().find(|(at, _)| at.xid >= page.ceiling) {
        return Err(ApiError::internal(format!(
            "row {} of {} holds a transaction id ({}) this database has not given out: restored \
             from another cluster without the sync reset of docs/dba.md (\"Restoring into a new \
             server\", step 4)",
            at.id,
            resource::<R>(),
            at.xid
        )));
    }
    let next = before.after_page(moment, page.changes.last().map(|(at, _)| *at), page.more);
    let (since_at, horizon_at) = SyncToken::times_after(token.as_ref(), now, next);
    let next_since = state.tokens.sync().seal(
        R::CHANGES,
        &SyncToken {
            organization,
            epoch: page.epoch,
            state: next,
            since_at,
            horizon_at,
        },
    )?;
    let mut changed = Vec::with_capacity(page.changes.len());
    let mut deleted = Vec::new();
    for (_, change) in page.changes {
        match change {
            Change::Changed(row) => changed.push(R::Json::from(row)),
            Change::Deleted { id, deleted_at } => deleted.push(DeletedRow { id, deleted_at }),
        }
    }
    Ok(HttpResponse::Ok().json(ChangesJson {
        changed,
        deleted,
        next_since,
        has_more: page.more,
    }))
}

fn sync_token_expired() -> ApiError {
    ApiError::Http {
        status: actix_web::http::StatusCode::GONE,
        code: ErrorCode::SyncTokenExpired,
        message: "this sync token is not good here (another organization's or another feed's, \
                  altered, of an earlier format, sealed under a JWT secret since rotated away, \
                  from a sync older than the deletion records it needs, or from before a \
                  restore or failover of the database): replace the copy with a sync from the \
                  start, without since"
            .into(),
    }
}
