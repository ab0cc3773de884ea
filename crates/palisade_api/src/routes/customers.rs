//! `/v1/customers`: the model every resource follows (docs/adding-a-resource.md). The handlers
//! are [`crate::resource`]'s (list with filters, create, read, update, delete; another
//! organization's id answers 404 exactly like a missing one); this module declares what is the
//! family's own: its filters, its bodies and their parsing, and its one constraint.

use palisade_db::customers::{self as db, Customer, CustomerFilter, CustomerPatch, NewCustomer};
use palisade_domain::{CustomerName, EmailAddress, EmailLookup, PhoneNumber};

use crate::error::ErrorCode;
use crate::resource::{self, Violation};

/// The customer family.
pub(crate) struct Customers;

resource::family! {
    Customers: Customer => Customer, "/v1/customers", "customers", "a customer", "customers";
    const VIOLATIONS: &'static [Violation] = &[Violation::on_write(db::EMAIL_KEY, || {
        resource::taken(
            ErrorCode::EmailTaken,
            "email",
            "another customer of this organization has this email",
        )
    })];
}

/// Declares the customer routes: the changes feed first, before the item routes' `{id}`
/// would take its path.
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    e.get(CHANGES_PATH, changes)
        .tag("customers")
        .summary("Sync customers: what changed since the last sync")
        .describe(
            "Incremental sync (docs/api.md, \"Incremental sync\"). Without `since`: every \
             customer, a page at a time. With the `next_since` of the last page of a sync: the \
             customers created or changed since, and the ids of those deleted. Page on with \
             each page's `next_since` while `has_more`; keep the last page's. A change is never \
             missed, and may be sent again. A token that is not good here (another \
             organization's, altered, sealed before the server's JWT secret was rotated away, or \
             from before a restore, a point-in-time recovery or a failover) answers 410 \
             `sync_token_expired`: replace the copy with a sync from the start.",
        )
        .query::<ChangesQuery>()
        .ok::<ChangesJson>()
        .errors(&[410, 422]);
    resource::all_routes::<Customers>(e);
}

/// The changes feed's path.
const CHANGES_PATH: &str = "/v1/customers/changes";

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

/// A page of the changes feed.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = CustomerChanges)]
pub(crate) struct ChangesJson {
    /// Customers created or changed since `since` (every customer in a sync from the start),
    /// as they are now.
    changed: Vec<Customer>,
    /// Customers deleted since `since` (none in a sync from the start).
    deleted: Vec<DeletedJson>,
    /// Pass as `since` for the next page while `has_more`; after the last page, keep it for the
    /// next sync. Opaque.
    next_since: String,
    /// Whether another page follows.
    has_more: bool,
}

/// A deleted customer.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = DeletedCustomer)]
pub(crate) struct DeletedJson {
    /// Its id.
    id: uuid::Uuid,
    /// When it was deleted.
    #[serde(with = "palisade_domain::timestamp")]
    deleted_at: time::OffsetDateTime,
}

/// `GET /v1/customers/changes?since=&limit=` (every role): a page of the organization's
/// customer changes in the order they were made (`palisade_db::customers::changes`), with the
/// token of what follows ([`crate::sync_token`]). One round trip, the credential's check
/// included.
pub(crate) async fn changes(
    state: actix_web::web::Data<crate::AppState>,
    caller: crate::auth::Caller,
    q: actix_web::web::Query<ChangesQuery>,
) -> Result<actix_web::HttpResponse, crate::ApiError> {
    use crate::sync_token::{Moment, SyncState, SyncToken};

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
                .open(CHANGES_PATH, raw)
                .ok_or_else(sync_token_expired)?,
        ),
    };
    let before = token.map_or(SyncState::START, |t| t.state);
    let (since, after, ceiling) = before.reads();
    let tx = caller.begin(&state).await?;
    let page = db::changes(tx, after, since > 0, ceiling, limit).await?;
    let organization = page
        .organization
        .ok_or_else(|| crate::ApiError::internal("a checked read left no organization"))?
        .as_uuid();
    let now = Moment {
        horizon: page.horizon,
        ceiling: page.ceiling,
    };
    // The read was this organization's under RLS whatever the token said; a token issued to
    // another one is refused all the same, so that a client never mixes two organizations' feeds.
    // One of another history, or holding ids this database has not given out yet, is refused
    // before the client trusts a page read past changes it would then never see.
    if let Some(t) = token
        && (t.organization != organization || t.epoch != page.epoch || !before.fits(now))
    {
        if t.organization == organization {
            tracing::info!(
                epoch_matches = t.epoch == page.epoch,
                "a sync token of another database history refused"
            );
        }
        return Err(sync_token_expired());
    }
    // A row the snapshot sees was written below its ceiling, unless it came from another
    // cluster's history as it was (a logical restore keeps the old ids, and the new cluster
    // counts from its own start): its position would be beyond what every later page may read.
    if let Some((at, _)) = page.changes.iter().find(|(at, _)| at.xid >= page.ceiling) {
        return Err(crate::ApiError::internal(format!(
            "customer {} holds a transaction id ({}) this database has not given out: restored \
             from another cluster without the sync reset of docs/dba.md (\"Restoring into a new \
             server\", step 4)",
            at.id, at.xid
        )));
    }
    let next = before.after_page(now, page.changes.last().map(|(at, _)| *at), page.more);
    let next_since = state.tokens.sync().seal(
        CHANGES_PATH,
        &SyncToken {
            organization,
            epoch: page.epoch,
            state: next,
        },
    )?;
    let mut changed = Vec::with_capacity(page.changes.len());
    let mut deleted = Vec::new();
    for (_, change) in page.changes {
        match change {
            db::CustomerChange::Changed(c) => changed.push(c),
            db::CustomerChange::Deleted { id, deleted_at } => {
                deleted.push(DeletedJson { id, deleted_at })
            }
        }
    }
    Ok(actix_web::HttpResponse::Ok().json(ChangesJson {
        changed,
        deleted,
        next_since,
        has_more: page.more,
    }))
}

fn sync_token_expired() -> crate::ApiError {
    crate::ApiError::Http {
        status: actix_web::http::StatusCode::GONE,
        code: ErrorCode::SyncTokenExpired,
        message: "this sync token is not good here (another organization's, altered, sealed \
                  under a JWT secret since rotated away, or from before a restore or failover of \
                  the database): replace the copy with a sync from the start, without since"
            .into(),
    }
}

crate::list::filters! {
    /// List filters.
    Customers: ListQuery => CustomerFilter {
        /// Exact email (normalised).
        #[param(format = Email)]
        email: Text<EmailLookup>,
        /// Case-insensitive substring of the name.
        name: Text<CustomerName>,
        /// Exact E.164 phone number, like `+14155550123` (in a query string the `+` is `%2B`):
        /// who is calling or texting.
        phone: Text<PhoneNumber>,
    }
}

resource::created! {
    /// Create body.
    Customers: CreateBody as CustomerCreate => NewCustomer {
        /// 1 to 200 characters.
        name: required Text<CustomerName>,
        /// Unique within the organization (409 `email_taken`).
        #[schema(format = Email)]
        email: optional Text<EmailAddress>,
        /// E.164, like `+14155550123`.
        phone: optional Text<PhoneNumber>,
    }
}

resource::patch! {
    /// Patch body: absent fields stay, `null` clears `email` or `phone` (and is 422 on `name`).
    Customers: PatchBody as CustomerPatch => CustomerPatch {
        name: set Text<CustomerName>,
        #[schema(format = Email)]
        email: clear Text<EmailAddress>,
        phone: clear Text<PhoneNumber>,
    }
}
