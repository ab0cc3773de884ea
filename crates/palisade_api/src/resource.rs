//! The shared code of every tenant resource: one declaration per family ([`Resource`] and, for
//! what it supports, [`Listed`], [`Created`], [`Patched`]) gives its list, create, get, patch
//! and delete handlers *and* their OpenAPI operations, registered from the same place.
//!
//! What the handlers do, for every family alike:
//! - **list**: the route's filters parsed into domain types (422 with every bad field), then
//!   one round trip reading a page newest first ([`crate::list::List`] has the page rules);
//! - **create**: the body parsed (422 with every bad field) before any transaction; then the
//!   transaction of its `Idempotency-Key`, the insert, and a 201 with `Location`;
//! - **get**: another organization's id answers 404 like a missing one (RLS hides the row);
//! - **patch**/**delete**: `If-Match` checked against the locked row, then the write, in one
//!   transaction;
//! - writes of families declared [`Resource::ADMIN_WRITES`] answer 403 to a member before
//!   reading anything (a malformed path id is 400 first, as everywhere); those declared
//!   [`Resource::USER_SESSION_WRITES`] answer 403 `requires_user_session` to an API key;
//! - a constraint violation becomes the error [`crate::constraints`] lists for it (409 for a
//!   taken unique key, 422 `not_found` for a reference outside the organization).
//!
//! What some families need beyond that is a hook with a default, not a handler of their own:
//! [`Created::prepare`] (a check on the caller, a write-only secret shown once in the 201),
//! [`Created::created`] (a log line), [`Patched::merge`] (changes checked against the whole
//! current row), [`Nested`] (a collection inside another family's row).
//!
//! A family's module keeps what is its own: its stored row (`palisade_db::table!`), its
//! filters, bodies and their parsing, and its SQL.

use actix_web::{HttpResponse, web};
use palisade_db::crud::{self, Table};
use palisade_db::{DbError, TenantTx};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::auth::{Tenant, UserSession};
use crate::endpoints::{Doc, Endpoints};
use crate::etag::IfMatch;
use crate::extract::Json;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::list::List;
use crate::routes::Fields;
use crate::{ApiError, AppState};

/// A tenant resource family served at [`Resource::COLLECTION`] and [`Resource::ITEM`].
pub(crate) trait Resource: 'static {
    /// The stored row.
    type Row: Table;
    /// What clients see of a row (often the row itself).
    type Json: From<Self::Row> + Serialize + utoipa::ToSchema + 'static;
    /// `/v1/<family>`.
    const COLLECTION: &'static str;
    /// `/v1/<family>/{id}`.
    const ITEM: &'static str;
    /// The OpenAPI tag.
    const TAG: &'static str;
    /// One item, with its article, for summaries: `a report`.
    const ONE: &'static str;
    /// Several, for summaries: `reports`.
    const MANY: &'static str;
    /// Whether creating, changing and deleting need the owner or admin role.
    const ADMIN_WRITES: bool = false;
    /// Whether creating, changing and deleting need a user's session, never an API key (403
    /// `requires_user_session`, see [`crate::auth::UserSession`]): families that manage
    /// credentials or people.
    const USER_SESSION_WRITES: bool = false;
    /// The constraints whose violation by a write is the client's mistake, and what it is.
    const VIOLATIONS: &'static [Violation] = &[];
}

/// A constraint the database enforces (a unique key, a composite foreign key) and the error a
/// client gets when a write violates it. The same constraint can mean different things to
/// different families (an SMS campaign naming a number it does not hold; releasing a number a
/// campaign still uses), so each family lists its own.
pub(crate) struct Violation {
    constraint: &'static str,
    /// Whether deleting a row can violate it (a row of another table still refers to this
    /// one); otherwise only creating and changing one can.
    on_delete: bool,
    error: fn() -> ApiError,
}

impl Violation {
    /// A unique key (409 when taken) or a reference to another row (422 `not_found` when it is
    /// not this organization's), violated by a create or a patch.
    pub(crate) const fn on_write(constraint: &'static str, error: fn() -> ApiError) -> Self {
        Self {
            constraint,
            on_delete: false,
            error,
        }
    }

    // Used by the families converted next (phone numbers: a number an SMS campaign uses).
    #[allow(dead_code)]
    /// A reference *to* this family's row from another table, violated by deleting (or
    /// changing) the row while it is in use.
    pub(crate) const fn in_use(constraint: &'static str, error: fn() -> ApiError) -> Self {
        Self {
            constraint,
            on_delete: true,
            error,
        }
    }
}

/// The error for a failed write of family `R`: the one [`Resource::VIOLATIONS`] gives for the
/// violated constraint, or the database error's own.
pub(crate) fn write_error<R: Resource>(e: DbError) -> ApiError {
    R::VIOLATIONS
        .iter()
        .find(|v| {
            e.is_unique_violation_of(v.constraint) || e.is_foreign_key_violation_of(v.constraint)
        })
        .map_or_else(|| e.into(), |v| (v.error)())
}

/// A 409 for a unique key another row of the organization holds.
pub(crate) fn taken(code: crate::error::ErrorCode, message: &'static str) -> ApiError {
    ApiError::Conflict { code, message }
}

/// A family with a list route.
pub(crate) trait Listed: Resource {
    /// The route's own query parameters (`Option<String>` fields, `deny_unknown_fields`).
    type Query: DeserializeOwned + utoipa::IntoParams + 'static;
    /// The parsed filters.
    type Filter: crud::Filter<Row = Self::Row>;
    /// Parses the filters, recording each bad one in `f`.
    fn filter(query: &Self::Query, f: &mut Fields) -> Self::Filter;
}

/// A family listed inside a row of another ([`Resource::COLLECTION`] is
/// `<parent item>/<name>`, like a conversation's messages): 404 when the parent is not this
/// organization's.
pub(crate) trait Nested: Resource {
    /// The parent's stored row.
    type Parent: Table;
    /// The route's own query parameters (`Option<String>` fields, `deny_unknown_fields`).
    type Query: DeserializeOwned + utoipa::IntoParams + 'static;
    /// The parsed filters, the parent's id among them.
    type Filter: crud::Filter<Row = Self::Row>;
    /// Parses the filters of the rows of `parent`, recording each bad one in `f`.
    fn filter(parent: Uuid, query: &Self::Query, f: &mut Fields) -> Self::Filter;
}

/// A family with a create route.
pub(crate) trait Created: Resource {
    /// The request body.
    type Body: DeserializeOwned + utoipa::ToSchema + 'static;
    /// The parsed body.
    type New: crud::Insert<Row = Self::Row>;
    /// Parses the body, recording each bad field in `f`; `None` only when `f` has errors.
    fn parse(body: &Self::Body, f: &mut Fields) -> Option<Self::New>;

    /// Runs once the body is valid, before the transaction: checks what depends on the caller
    /// (`tenant`), and generates the write-only secret of families that have one (a webhook's
    /// signing secret, an API key), storing what is kept of it in `new`. The returned
    /// [`Secret`] is shown in the 201 only. Default: nothing to check, no secret.
    fn prepare(_new: &mut Self::New, _tenant: &Tenant) -> Result<Option<Secret>, ApiError> {
        Ok(None)
    }

    /// Runs after the create of row `id` committed (a log line). Default: nothing.
    fn created(_id: Uuid, _new: &Self::New) {}
}

/// A write-only secret generated by a create (see [`Created::prepare`]): the 201 carries it
/// after the row's fields, with `Cache-Control: no-store`, and the idempotency record keeps the
/// answer without it (a replay answers the row alone).
pub(crate) struct Secret {
    /// Its field in the answer.
    pub(crate) field: &'static str,
    /// The secret.
    pub(crate) value: String,
}

/// An answer showing a [`Secret`]: the row's fields, then the secret's.
#[derive(Serialize)]
struct WithSecret<'a, J: Serialize> {
    #[serde(flatten)]
    item: J,
    #[serde(flatten)]
    secret: &'a Secret,
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(self.field, &self.value)?;
        map.end()
    }
}

/// An answer showing `secret` once: `item`'s fields then the secret's, and
/// `Cache-Control: no-store`. Commit it with `commit_without(response, &[secret.field])`.
pub(crate) fn with_secret(
    mut response: actix_web::HttpResponseBuilder,
    item: impl Serialize,
    secret: &Secret,
) -> HttpResponse {
    response
        .insert_header((
            actix_web::http::header::CACHE_CONTROL,
            actix_web::http::header::HeaderValue::from_static("no-store"),
        ))
        .json(WithSecret { item, secret })
}

/// A family with a patch route.
pub(crate) trait Patched: Resource {
    /// The request body: absent fields stay (see [`crate::routes::nullable`]).
    type Body: DeserializeOwned + utoipa::ToSchema + 'static;
    /// The parsed changes.
    type Patch: crud::Update<Row = Self::Row>;
    /// Parses the body, recording each bad field in `f`.
    fn parse(body: &Self::Body, f: &mut Fields) -> Self::Patch;

    /// Whether the changes are completed and checked against the current row
    /// ([`Patched::merge`]) before they are written.
    const MERGES: bool = false;

    /// For families whose rows are checked as a whole (a social post's status and its times):
    /// the changes completed with `current` (the row, locked), recording each problem of the
    /// result in `f`. Called only when [`Patched::MERGES`]. Default: the changes as parsed.
    fn merge(
        patch: Self::Patch,
        _current: Self::Row,
        _f: &mut Fields,
    ) -> Result<Self::Patch, ApiError> {
        Ok(patch)
    }
}

/// The caller of a write of family `R`: any tenant, or only a user's session when
/// [`Resource::USER_SESSION_WRITES`].
pub(crate) struct Writer<R>(Tenant, std::marker::PhantomData<R>);

impl<R: Resource> actix_web::FromRequest for Writer<R> {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        if R::USER_SESSION_WRITES {
            let user = UserSession::from_request(req, payload);
            Box::pin(async move { Ok(Writer(user.await?.0, std::marker::PhantomData)) })
        } else {
            let tenant = Tenant::from_request(req, payload);
            Box::pin(async move { Ok(Writer(tenant.await?, std::marker::PhantomData)) })
        }
    }
}

fn may_write<R: Resource>(tenant: &Tenant) -> Result<(), ApiError> {
    if R::ADMIN_WRITES {
        tenant.require_admin()
    } else {
        Ok(())
    }
}

/// Parses a path id; a malformed one answers 400 (it cannot name any row).
pub(crate) fn path_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(raw).map_err(|_| ApiError::BadRequest {
        code: crate::error::ErrorCode::InvalidId,
        message: "ids are UUIDs".into(),
    })
}

/// What every write route documents beyond its own: 403 for families with admin writes, 409
/// when a violation it can meet answers it.
fn write_errors<R: Resource>(doc: &mut Doc<'_>, deletes: bool) {
    if R::USER_SESSION_WRITES {
        doc.auth(crate::endpoints::Auth::User);
    }
    if R::ADMIN_WRITES {
        doc.describe("Owners and admins").errors(&[403]);
    }
    if R::VIOLATIONS.iter().any(|v| {
        (v.on_delete || !deletes) && actix_web::ResponseError::status_code(&(v.error)()) == 409
    }) {
        doc.errors(&[409]);
    }
}

/// `GET <collection>`: newest first, with the family's filters.
pub(crate) async fn list<R: Listed>(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: List<R::Query>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let filter = R::filter(&q.filter, &mut f);
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = crud::list_page(tx, &filter, &q.page).await?;
    Ok(q.respond(page, R::Json::from))
}

/// `GET <parent item>/<name>`: newest first, with the family's filters.
pub(crate) async fn list_in<R: Nested>(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    q: List<R::Query>,
) -> Result<HttpResponse, ApiError> {
    let parent = path_id(&path)?;
    let mut f = Fields::default();
    let filter = R::filter(parent, &q.filter, &mut f);
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = crud::list_page_in::<R::Parent, _>(tx, parent, &filter, &q.page)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(q.respond(page, R::Json::from))
}

/// `POST <collection>` (201 with `Location`).
pub(crate) async fn create<R: Created>(
    state: web::Data<AppState>,
    Writer(tenant, _): Writer<R>,
    idem: Idempotency,
    body: Json<R::Body>,
) -> Result<HttpResponse, ApiError> {
    may_write::<R>(&tenant)?;
    let mut f = Fields::default();
    let new = R::parse(&body, &mut f);
    f.finish()?;
    let mut new = new.ok_or_else(|| ApiError::internal("validated fields missing"))?;
    let secret = R::prepare(&mut new, &tenant)?;
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    let row = crud::Insert::insert(&new, &mut tx)
        .await
        .map_err(write_error::<R>)?;
    let id = Table::cursor(&row).id;
    let item = R::Json::from(row);
    let response = match &secret {
        None => {
            tx.commit(crate::routes::created(R::COLLECTION, id, item))
                .await?
        }
        Some(secret) => {
            let mut created = HttpResponse::Created();
            created.insert_header((
                actix_web::http::header::LOCATION,
                format!("{}/{id}", R::COLLECTION),
            ));
            tx.commit_without(with_secret(created, item, secret), &[secret.field])
                .await?
        }
    };
    R::created(id, &new);
    Ok(response)
}

/// `GET <item>`.
pub(crate) async fn get<R: Resource>(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let row = crud::get::<R::Row>(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(R::Json::from(row)))
}

/// `PATCH <item>`.
pub(crate) async fn update<R: Patched>(
    state: web::Data<AppState>,
    Writer(tenant, _): Writer<R>,
    path: web::Path<String>,
    if_match: IfMatch,
    body: Json<R::Body>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    may_write::<R>(&tenant)?;
    let mut f = Fields::default();
    let patch = R::parse(&body, &mut f);
    f.finish()?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(crud::lock::<R::Row>(&mut tx, id), R::Json::from)
        .await?;
    let patch = if R::MERGES {
        let current = crud::lock::<R::Row>(&mut tx, id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let mut f = Fields::default();
        let merged = R::merge(patch, current, &mut f)?;
        f.finish()?;
        merged
    } else {
        patch
    };
    let row = crud::Update::update(&patch, &mut tx, id)
        .await
        .map_err(write_error::<R>)?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(R::Json::from(row)))
}

/// `DELETE <item>` (204).
pub(crate) async fn delete<R: Resource>(
    state: web::Data<AppState>,
    Writer(tenant, _): Writer<R>,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    may_write::<R>(&tenant)?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(crud::lock::<R::Row>(&mut tx, id), R::Json::from)
        .await?;
    if !crud::delete::<R::Row>(&mut tx, id)
        .await
        .map_err(write_error::<R>)?
    {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Declares `GET <collection>`; the returned [`Doc`] takes what is the family's own.
pub(crate) fn list_route<R: Listed>(e: &mut Endpoints) -> Doc<'_> {
    let mut doc = e.get(R::COLLECTION, list::<R>);
    doc.tag(R::TAG)
        .summary(&format!("List {}", R::MANY))
        .list_query::<R::Query>()
        .list::<R::Json>()
        .errors(&[422]);
    doc
}

/// Declares `GET <parent item>/<name>` (see [`Nested`]).
pub(crate) fn list_in_route<R: Nested>(e: &mut Endpoints) -> Doc<'_> {
    let mut doc = e.get(R::COLLECTION, list_in::<R>);
    doc.tag(R::TAG)
        .summary(&format!("List {}", R::MANY))
        .list_query::<R::Query>()
        .list::<R::Json>()
        .errors(&[404, 422]);
    doc
}

/// Declares `POST <collection>`.
pub(crate) fn create_route<R: Created>(e: &mut Endpoints) -> Doc<'_> {
    let mut doc = e.post(R::COLLECTION, create::<R>);
    doc.tag(R::TAG)
        .summary(&format!("Create {}", R::ONE))
        .body::<R::Body>()
        .created::<R::Json>()
        .errors(&[413, 415, 422]);
    write_errors::<R>(&mut doc, false);
    doc
}

/// Declares `GET <item>`.
pub(crate) fn get_route<R: Resource>(e: &mut Endpoints) -> Doc<'_> {
    let mut doc = e.get(R::ITEM, get::<R>);
    doc.tag(R::TAG)
        .summary(&format!("Get {}", R::ONE))
        .ok::<R::Json>()
        .errors(&[404]);
    doc
}

/// Declares `PATCH <item>`.
pub(crate) fn update_route<R: Patched>(e: &mut Endpoints) -> Doc<'_> {
    let mut doc = e.patch(R::ITEM, update::<R>);
    doc.tag(R::TAG)
        .summary(&format!("Update {}", R::ONE))
        .body::<R::Body>()
        .ok::<R::Json>()
        .errors(&[404, 413, 415, 422]);
    write_errors::<R>(&mut doc, false);
    doc
}

/// Declares `DELETE <item>`.
pub(crate) fn delete_route<R: Resource>(e: &mut Endpoints) -> Doc<'_> {
    let mut doc = e.delete(R::ITEM, delete::<R>);
    doc.tag(R::TAG)
        .summary(&format!("Delete {}", R::ONE))
        .no_content()
        .errors(&[404]);
    write_errors::<R>(&mut doc, true);
    doc
}

/// Declares all five routes of a family that has them all, in the usual order.
pub(crate) fn all_routes<R: Listed + Created + Patched>(e: &mut Endpoints) {
    list_route::<R>(e);
    create_route::<R>(e);
    get_route::<R>(e);
    update_route::<R>(e);
    delete_route::<R>(e);
}
