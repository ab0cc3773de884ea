//! `/v1/organization`: the acting organization itself. Every member reads it; owners and admins
//! rename it; only the owner deletes it, and with it every row it owns in every table (the
//! composite foreign keys cascade). `/v1/organization/export` returns all of its data as JSON
//! (owners and admins), generated from the catalog under RLS and without secrets: see
//! `palisade_db::organization`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use actix_web::http::Method;
use actix_web::http::header::{CACHE_CONTROL, ContentType, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use palisade_db::DbError;
use palisade_db::organization::{self as db, Organization};
use palisade_domain::OrganizationName;
use palisade_domain::stripe::SubscriptionStatus;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Fields, not_null};
use crate::auth::{Caller, UserSession};
use crate::endpoints::Auth;
use crate::etag::IfMatch;
use crate::places::{DELETIONS_AT_ONCE, EXPORTS_AT_ONCE};
use crate::{ApiError, AppState};

/// Declares this family's routes (see [`crate::endpoints`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    e.get("/v1/organization", get)
        .tag("organization")
        .summary("Get the organization")
        .ok::<OrganizationJson>()
        .errors(&[404]);
    e.patch("/v1/organization", update)
        .tag("organization")
        .summary("Rename the organization")
        .describe("Rename (owners and admins)")
        .body::<PatchBody>()
        .ok::<OrganizationJson>()
        .errors(&[403, 404, 413, 415, 422]);
    e.delete("/v1/organization", delete)
        .auth(Auth::User)
        .tag("organization")
        .summary("Delete the organization and everything in it")
        .describe("Irreversible: every row of the organization goes, and every token and key of it stops working (the owner only, with a user's session). One transaction, all or nothing, which may run for 3 minutes; 503 `deletion_timed_out` when it ran out of them (nothing deleted; the operators delete an organization that large), 429 while two deletions run on the server or one of this organization's")
        .no_content()
        .errors(&[403, 404, 429]);
    e.get("/v1/organization/export", export)
        .tag("organization")
        .summary("Export every row of the organization")
        .describe("`{\"organization_id\", \"exported_at\", \"tables\": {...}}` (owners and admins only: every row an owner or admin of the organization may read, invitations and every member's password resets and email verifications among them, but never a secret column). One snapshot; above 999 rows, streamed as it is read (chunked, no `Content-Length`): a body that does not parse as JSON is an export that failed after its answer began; ask again. A server instance runs two exports at once and one per organization; while they run, another is 429 with `Retry-After`. A client that reads nothing for 30 s loses its export, and none runs longer than 3 minutes")
        .ok::<ExportJson>()
        .errors(&[403, 429]);
}

/// The organization as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Organization)]
pub struct OrganizationJson {
    id: Uuid,
    name: String,
    /// The billing plan (`free` until a subscription says otherwise).
    plan: String,
    /// The subscription's status, once there is one.
    #[schema(value_type = Option<SubscriptionStatus>)]
    plan_status: Option<String>,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<Organization> for OrganizationJson {
    fn from(o: Organization) -> Self {
        Self {
            id: o.id,
            name: o.name,
            plan: o.plan,
            plan_status: o.plan_status,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// `GET /v1/organization`.
pub async fn get(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let tx = caller.begin(&state).await?;
    let org = db::get(tx).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(OrganizationJson::from(org)))
}

/// Patch body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OrganizationPatch)]
pub struct PatchBody {
    /// 1 to 200 characters.
    #[schema(value_type = String, required = true)]
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
}

crate::rules::field_rules!(PatchBody {
    "name": Text<palisade_domain::OrganizationName>,
});

/// `GET /v1/organization/export`'s answer.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OrganizationExport)]
pub struct ExportJson {
    organization_id: Uuid,
    #[serde(with = "palisade_domain::timestamp")]
    exported_at: OffsetDateTime,
    /// Every table of the organization's data by name, each an array of its rows (objects,
    /// column names as keys), with only the columns the app role may read: no password hash,
    /// integration secret, webhook signing secret, social access token or key hash.
    #[schema(value_type = HashMap<String, Vec<Object>>)]
    tables: serde_json::Value,
}

/// `PATCH /v1/organization`: rename (owners and admins).
#[tracing::instrument(name = "rename_organization", skip_all)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    if_match: IfMatch,
    body: crate::extract::Json<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let name = f.required("name", body.name.as_deref(), OrganizationName::parse);
    let name = f.finish_with(name)?;
    let mut tx = caller
        .begin_as(&state, palisade_domain::Role::Admin)
        .await?;
    if_match
        .check(db::lock(&mut tx), OrganizationJson::from)
        .await?;
    // One statement, the last: its COMMIT goes with it (and BEGIN and the check, without
    // If-Match).
    tx.commit_with_next_statement();
    let org = db::rename(&mut tx, &name)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(OrganizationJson::from(org)))
}

/// `DELETE /v1/organization` (204; the owner only, with a user's session, never an API key). Irreversible: every row of the
/// organization goes, and every token and key of it stops working.
///
/// The cascade is one statement, which may run for [`crate::DeletionLimits`]'s `longest`
/// ([`db::limit_deletion`]) and holds a pooled connection meanwhile: an instance runs
/// [`DELETIONS_AT_ONCE`] at once and one per organization (429 otherwise, after the credential's
/// check), each held to its end. One that runs out of its time
/// is 503 `deletion_timed_out` (no `Retry-After`: it would run out again); one that waited too
/// long for a row another transaction holds (the `If-Match` lock too), or that an operator
/// cancelled, is the ordinary 503 `unavailable` with `Retry-After`.
#[tracing::instrument(name = "delete_organization", skip_all)]
pub async fn delete(
    state: web::Data<AppState>,
    UserSession(tenant): UserSession,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    tenant.require_owner()?;
    let limits = state.organization_deletion;
    let mut tx = tenant.begin(&state).await?;
    // The transaction's first statement: the credential is checked with it, so a refused one is
    // 401 or 403, never 429.
    db::limit_deletion(&mut tx, limits.longest, limits.lock_wait).await?;
    let org = tenant.0.org_id;
    // Held to the deletion's end: actix-web keeps running a handler whose client went away
    // (`deletions_are_two_at_once_...` closes one), as PostgreSQL keeps running the DELETE.
    let Some(_place) = state.deletions.try_start(org) else {
        tracing::info!(
            "deletion refused: {DELETIONS_AT_ONCE} already running on this instance, or one of this organization's"
        );
        return Err(ApiError::rate_limited(DELETION_RETRY_AFTER));
    };
    if_match
        .check(db::lock(&mut tx), OrganizationJson::from)
        .await?;
    let began = std::time::Instant::now();
    let deleted = match db::delete(&mut tx).await {
        // 57014 is also a cancel (`pg_cancel_backend`): only one at the end of the time
        // allowed is the deletion running out of it. (A lock waited for past the lock wait,
        // 55P03, is an ordinary 503 with `Retry-After`.)
        Err(DbError::Server { code, .. })
            if code == "57014" && began.elapsed() >= limits.longest =>
        {
            let secs = limits.longest.as_secs();
            tracing::warn!(org.id = %org, timeout_secs = secs, "organization not deleted: its deletion ran out of time (the operators can delete it: docs/dba.md)");
            return Err(ApiError::Http {
                status: actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                code: crate::error::ErrorCode::DeletionTimedOut,
                message: format!(
                    "the organization was not deleted: its deletion did not finish within \
                     {secs} s, so nothing was deleted; the operators delete an organization \
                     this large (docs/dba.md, \"Deleting a large organization\")"
                ),
            });
        }
        other => other?,
    };
    if !deleted {
        return Err(ApiError::NotFound);
    }
    // Its phone numbers went back to the inventory with it (the cascade): quarantined from
    // now, by the application's clock, so nobody else takes over its customers' replies at
    // once.
    palisade_db::phone_numbers::quarantine_deleted_organization_numbers(&mut tx, state.clock.now())
        .await?;
    tx.commit().await?;
    tracing::warn!(org.id = %org, "organization deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// The `Retry-After` of a deletion refused for want of a place ([`crate::places`]).
const DELETION_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// `GET /v1/organization/export`: `{"organization_id", "exported_at", "tables": {...}}`
/// (owners and admins only: every row an owner or admin of the organization may read,
/// invitations and every member's password resets and email verifications among them, but never
/// a secret column: [`db`]'s module doc).
///
/// The rows are read from a cursor ([`db::ExportCursor`]), [`db::EXPORT_BATCH_ROWS`] at a time.
/// An export of one batch (most organizations) is committed and answered whole. A larger one
/// is streamed: each batch is written as soon as it is read and given to actix in slices of
/// [`EXPORT_SLICE`] bytes, so the server holds one batch of an export at once, however large the
/// organization. Its transaction (and pooled connection) lasts until the last row is written:
/// an instance runs [`EXPORTS_AT_ONCE`] at once and one per organization (429 otherwise, after
/// the credential's check); the watchdog ([`ExportStream::watch`]) ends one whose client reads
/// nothing for [`EXPORT_STALL`] or that runs longer than [`EXPORT_LONGEST`]. The credential is
/// checked, the cursor declared and the first batch read before the answer begins, so those
/// failures are answered as errors; a failure after that can only cut the body short, and is
/// logged: a body that is not whole JSON is an export that failed. A `HEAD` is answered after
/// the credential's check, without reading a row or taking a place.
#[tracing::instrument(name = "export_organization", skip_all)]
pub async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    // What [`EXPORT_LONGEST`] counts from.
    let began = state.clock.now();
    // Long: revoking the key meanwhile must not wait for it (`Caller::begin_long_as`).
    let mut tx = caller
        .begin_long_as(&state, palisade_domain::Role::Admin)
        .await?;
    let statement = db::ExportStatement::build(&mut tx, EXPORT_IDLE_TIMEOUT).await?;
    let organization_id = tx
        .org_id()
        .ok_or_else(|| ApiError::internal("an answered check left no organization"))?;
    let mut answer = HttpResponse::Ok();
    answer
        .content_type(ContentType::json())
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")));
    if req.method() == Method::HEAD {
        tx.commit().await?;
        // Framed as a streamed GET is (chunked, no length, no `ETag`), whatever the size of the
        // export a GET would send; actix sends no body to a HEAD.
        return Ok(answer.streaming(futures_util::stream::empty::<Result<web::Bytes, ExportCut>>()));
    }
    // After the credential's check (a refused credential is 401 or 403, never 429), before the
    // cursor is planned. A refusal rolls the transaction back.
    let Some(place) = state.exports.try_start(organization_id) else {
        tracing::info!(
            "export refused: {EXPORTS_AT_ONCE} already running on this instance, or one of this organization's"
        );
        return Err(ApiError::rate_limited(EXPORT_RETRY_AFTER));
    };
    let exported_at = statement.began_at();
    let mut cursor = statement.declare(&mut tx).await?;
    let first = cursor.fetch(&mut tx).await?;
    let mut writer = ExportWriter::new(cursor.tables().to_vec());
    let mut head = writer.head(organization_id.as_uuid(), exported_at)?;
    writer.rows(&first, &mut head).map_err(ApiError::internal)?;
    if first.len() < db::EXPORT_BATCH_ROWS {
        // Every row in one batch: committed, and the place given back, before the answer.
        tx.commit().await?;
        drop(place);
        writer.finish(&mut head).map_err(ApiError::internal)?;
        tracing::info!(rows = first.len(), "organization exported");
        return Ok(answer.body(head));
    }
    let stream = ExportStream {
        shared: Rc::new(Shared {
            held: RefCell::new(Some(Held { tx, _place: place })),
            pending: RefCell::new(head.into()),
            progress: Cell::new(state.clock.now()),
            finished: Cell::new(false),
            ended_early: Cell::new(false),
        }),
        clock: state.clock.clone(),
        began,
        cursor,
        writer,
        rows: first.len(),
        ended: false,
        closed: false,
        span: tracing::Span::current(),
    };
    actix_web::rt::spawn(stream.watch());
    Ok(answer.streaming(futures_util::stream::unfold(stream, ExportStream::next)))
}

/// The `Retry-After` of an export refused for want of a place ([`crate::places`]).
const EXPORT_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// The most of an export given to actix at once. actix-http asks a body for more only once its
/// write buffer is under 32 KiB, so a slice this size goes out soon after the client reads, and
/// each one is progress the watchdog sees. Once the watchdog ended an export (and dropped what
/// was left of its batch), a stalled client's connection holds only what actix and the kernel
/// had buffered for it.
pub const EXPORT_SLICE: usize = 16 * 1024;

/// How long an export's client may read nothing (no slice asked for, by the application's clock)
/// before the watchdog ends the export: its transaction rolled back, its connection back to the
/// pool, its place free. The database's `idle_in_transaction_session_timeout` could not do it:
/// it would end the session but neither the place nor the pooled connection, since actix-http
/// has no timeout on writing an answer, and does not poll a body its client does not read (and
/// the export's transaction sets its own, [`EXPORT_IDLE_TIMEOUT`], longer than this).
pub const EXPORT_STALL: time::Duration = time::Duration::seconds(30);

/// The export's transaction's `idle_in_transaction_session_timeout`, in place of the app role's
/// (60 s by default): longer than [`EXPORT_LONGEST`], so that the watchdog ends an export, and
/// a client that reads one batch slowly (the session idle meanwhile) is not cut short by the
/// database first. A backstop still, should the server lose the connection's other end.
const EXPORT_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(200);

/// The longest an export may run, however steadily its client reads, counted from the request's
/// start: its transaction holds ACCESS SHARE on every table and keeps its snapshot, so it
/// delays a server start's `migrate` (which gives up after about 3.5 minutes: docs/dba.md) and
/// vacuum. Checked by the watchdog and before every FETCH; a FETCH or the COMMIT already running
/// is not interrupted.
pub const EXPORT_LONGEST: time::Duration = time::Duration::minutes(3);

/// Why an export that ran for [`EXPORT_LONGEST`] is ended (its log line).
const RAN_TOO_LONG: &str = "it ran for 3 minutes, the longest an export may";

/// Whether the watchdog ends an export begun at `began`, whose body last gave out a slice at
/// `progress`, at `now`; and why, for its log line.
fn watchdog_verdict(
    now: OffsetDateTime,
    began: OffsetDateTime,
    progress: OffsetDateTime,
) -> Option<&'static str> {
    if now - progress >= EXPORT_STALL {
        Some("its client read nothing for 30 s")
    } else if now - began >= EXPORT_LONGEST {
        Some(RAN_TOO_LONG)
    } else {
        None
    }
}

/// What an export holds while it is sent: taken by whichever ends it, the body at its end (or on
/// a failure), or the watchdog.
struct Held {
    /// The export's transaction, with its cursor; committed once the last row is written,
    /// rolled back by its drop otherwise.
    tx: palisade_db::TenantTx,
    /// The export's place ([`crate::places`]), given back when the stream is dropped (for one
    /// ended early, with its ROLLBACK only begun).
    _place: crate::places::Place,
}

/// What an export's body and its watchdog share, on the worker's thread (the watchdog is
/// spawned there with `actix_web::rt::spawn`, and the body is polled there).
struct Shared {
    /// The transaction and the place; `None` while a FETCH or the COMMIT runs (the body holds
    /// them then), and once the export ended.
    held: RefCell<Option<Held>>,
    /// What is left to give out of the text written last (the head and first batch, then one
    /// batch's), in slices of at most [`EXPORT_SLICE`]; emptied by the watchdog when it ends the
    /// export.
    pending: RefCell<web::Bytes>,
    /// When the body last gave out a slice (the application's clock).
    progress: Cell<OffsetDateTime>,
    /// Every row was written and committed, or the body ended: the watchdog has nothing left to
    /// do.
    finished: Cell<bool>,
    /// The export was ended before its end for running too long or stalling (and said so).
    ended_early: Cell<bool>,
}

impl Shared {
    /// Ends the export before its end, `why` (from [`watchdog_verdict`]): what it holds is
    /// dropped (the transaction rolls back; the connection and the place are free), and so is
    /// what was left of its batch. `false`, doing nothing, while a FETCH or the COMMIT runs.
    fn end_early(&self, why: &str, span: &tracing::Span) -> bool {
        let taken = self.held.borrow_mut().take();
        let Some(held) = taken else {
            return false;
        };
        self.ended_early.set(true);
        drop(held);
        *self.pending.borrow_mut() = web::Bytes::new();
        span.in_scope(|| {
            tracing::warn!(
                why,
                "the export is ended before its last row: its connection and place are given back"
            );
        });
        true
    }
}

/// A streamed export: what [`export`]'s body reads from.
struct ExportStream {
    shared: Rc<Shared>,
    clock: palisade_domain::SharedClock,
    /// When the request began (the application's clock), for [`EXPORT_LONGEST`].
    began: OffsetDateTime,
    cursor: db::ExportCursor,
    writer: ExportWriter,
    /// Rows written so far.
    rows: usize,
    /// Every row was read (a FETCH returned fewer than a batch): the JSON is closed.
    ended: bool,
    /// The body ended: its last slice given out, or cut short (an `Err`).
    closed: bool,
    /// The request's span, for the lines logged while the body is sent.
    span: tracing::Span,
}

/// Why an export's body was cut short (logged; the client sees the connection end early).
#[derive(Debug, thiserror::Error)]
#[error("the export failed after its answer began")]
struct ExportCut;

type Chunk = Option<(Result<web::Bytes, ExportCut>, ExportStream)>;

impl ExportStream {
    /// The body's next slice: of the text written last while some is left; then, after the next
    /// FETCH, of its batch (the last one with the JSON's end, once the transaction committed);
    /// `None` after the end, or after a failure (an `Err`, which ends the answer early). Never
    /// an empty slice, which chunked encoding would read as the body's end.
    async fn next(mut self) -> Chunk {
        if self.closed {
            return None;
        }
        if self.shared.pending.borrow().is_empty() {
            if self.ended {
                self.closed = true;
                self.span.in_scope(|| {
                    tracing::info!(rows = self.rows, "organization exported");
                });
                return None;
            }
            if let Err(error) = self.write_next_batch().await {
                return self.cut(error);
            }
        }
        let slice = {
            let mut pending = self.shared.pending.borrow_mut();
            let len = pending.len().min(EXPORT_SLICE);
            pending.split_to(len)
        };
        if slice.is_empty() {
            // Not reached: a write leaves text to give out, and the watchdog, which empties it,
            // runs on this thread and cannot between the write and here. Never an empty chunk.
            return self.cut(Some("nothing to send after a batch was written".to_owned()));
        }
        self.shared.progress.set(self.clock.now());
        Some((Ok(slice), self))
    }

    /// Reads the next batch into [`Shared::pending`], with the JSON's end (after the COMMIT) when
    /// it is the last. `Err` with what to log (`None` when the watchdog ended the export and
    /// said so).
    async fn write_next_batch(&mut self) -> Result<(), Option<String>> {
        if self.clock.now() - self.began >= EXPORT_LONGEST {
            // A client fast enough that the watchdog's ticks keep finding a FETCH running.
            self.shared.end_early(RAN_TOO_LONG, &self.span);
            return Err(None);
        }
        let taken = self.shared.held.borrow_mut().take();
        let Some(mut held) = taken else {
            return Err(None);
        };
        let batch = self
            .cursor
            .fetch(&mut held.tx)
            .await
            .map_err(|e| Some(e.to_string()))?;
        self.rows += batch.len();
        // A short batch is the last: no FETCH to learn that none is left.
        self.ended = batch.len() < db::EXPORT_BATCH_ROWS;
        let mut text = Vec::new();
        self.writer
            .rows(&batch, &mut text)
            .map_err(|e| Some(e.to_string()))?;
        if !self.ended {
            *self.shared.held.borrow_mut() = Some(held);
        } else {
            let Held { tx, _place } = held;
            tx.commit().await.map_err(|e| Some(e.to_string()))?;
            drop(_place);
            // Nothing is held any more: the watchdog stops.
            self.shared.finished.set(true);
            self.writer
                .finish(&mut text)
                .map_err(|e| Some(e.to_string()))?;
        }
        *self.shared.pending.borrow_mut() = text.into();
        Ok(())
    }

    /// Ends the body early: after `error` (a [`palisade_db::DbError`]'s text, which holds no
    /// secret and no row), logged here; or, with `None`, after the watchdog ended the export
    /// (and logged it). The transaction, if still held, rolls back with its drop.
    fn cut(mut self, error: Option<String>) -> Chunk {
        self.closed = true;
        self.shared.finished.set(true);
        if let Some(error) = error {
            self.span.in_scope(|| {
                tracing::error!(
                    error,
                    rows = self.rows,
                    "the export failed after its answer began; its body is cut short"
                );
            });
        }
        Some((Err(ExportCut), self))
    }

    /// The watchdog, spawned on the worker beside the body: once a second, it asks
    /// [`watchdog_verdict`] whether the export has stalled or run too long, and if so takes what
    /// the export holds and drops it (the transaction rolls back, and the connection and the
    /// place are free); while a FETCH or the COMMIT runs, it asks again a second later. It ends
    /// with the body, or once it ended the export; a body polled again afterwards is cut short.
    fn watch(&self) -> impl std::future::Future<Output = ()> + 'static {
        let shared = Rc::downgrade(&self.shared);
        let clock = self.clock.clone();
        let began = self.began;
        let span = self.span.clone();
        async move {
            loop {
                actix_web::rt::time::sleep(std::time::Duration::from_secs(1)).await;
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                if shared.finished.get() {
                    return;
                }
                let Some(why) = watchdog_verdict(clock.now(), began, shared.progress.get()) else {
                    continue;
                };
                if shared.end_early(why, &span) {
                    return;
                }
            }
        }
    }
}

impl Drop for ExportStream {
    /// A body dropped before its end (its client went away, or the server is stopping): the
    /// transaction, wherever it is, rolls back with its drop; said once, as the request's own
    /// line is long written.
    fn drop(&mut self) {
        if !self.closed && !self.shared.ended_early.get() {
            self.shared.finished.set(true);
            self.span.in_scope(|| {
                tracing::info!(
                    rows = self.rows,
                    "the export's answer was dropped before its end (its client went away, or the server is stopping)"
                );
            });
        }
    }
}

/// Writes an export's JSON from its cursor's rows: `{"organization_id": .., "exported_at": ..,
/// "tables": {"<table>": [<row>, ...], ...}}`, every table of the cursor in its order, those
/// without a row as `[]`. The rows are PostgreSQL's own JSON text (`row_to_json`), written as
/// they are.
#[derive(Debug)]
struct ExportWriter {
    tables: Vec<String>,
    /// How many tables' arrays were opened (`"<table>": [`): the one being written is the last.
    opened: usize,
    /// The open array has a row (the next one needs a comma).
    has_row: bool,
}

impl ExportWriter {
    fn new(tables: Vec<String>) -> Self {
        Self {
            tables,
            opened: 0,
            has_row: false,
        }
    }

    /// The answer up to its first table: `{"organization_id":..,"exported_at":..,"tables":{`.
    fn head(
        &self,
        organization_id: Uuid,
        exported_at: OffsetDateTime,
    ) -> Result<Vec<u8>, ApiError> {
        let mut head = serde_json::to_vec(&ExportJson {
            organization_id,
            exported_at,
            tables: serde_json::Value::Object(serde_json::Map::new()),
        })
        .map_err(ApiError::internal)?;
        // `..."tables":{}}` without its last two bytes: the tables' object left open.
        if !head.ends_with(b"{}}") {
            return Err(ApiError::internal(
                "the export's head does not end with its tables",
            ));
        }
        head.truncate(head.len() - 2);
        Ok(head)
    }

    /// Writes `rows` (each its table's index and its JSON text, tables in order, as
    /// [`db::ExportCursor::fetch`] returns them) to `out`, opening each table's array in turn.
    fn rows(
        &mut self,
        rows: &[(usize, String)],
        out: &mut Vec<u8>,
    ) -> Result<(), serde_json::Error> {
        for (table, row) in rows {
            while self.opened <= *table {
                self.open_next(out)?;
            }
            if self.has_row {
                out.push(b',');
            }
            out.extend_from_slice(row.as_bytes());
            self.has_row = true;
        }
        Ok(())
    }

    /// Closes the open array, writes the remaining tables as `[]`, and closes the answer.
    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        while self.opened < self.tables.len() {
            self.open_next(out)?;
        }
        if self.opened > 0 {
            out.push(b']');
        }
        out.extend_from_slice(b"}}");
        Ok(())
    }

    /// Closes the open array (if any) and opens the next table's.
    fn open_next(&mut self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        if self.opened > 0 {
            out.extend_from_slice(b"],");
        }
        let name = &self.tables[self.opened];
        // A table's name is an identifier of the catalog; serde escapes it as any string.
        serde_json::to_writer(&mut *out, name)?;
        out.extend_from_slice(b":[");
        self.opened += 1;
        self.has_row = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the writer writes for `tables` and the fetched `batches`, parsed; and its text.
    fn written(tables: &[&str], batches: &[&[(usize, &str)]]) -> (serde_json::Value, String) {
        let mut writer = ExportWriter::new(tables.iter().map(|t| (*t).to_owned()).collect());
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let mut out = writer.head(Uuid::nil(), at).unwrap_or_default();
        for batch in batches {
            let batch: Vec<(usize, String)> =
                batch.iter().map(|(t, r)| (*t, (*r).to_owned())).collect();
            assert!(writer.rows(&batch, &mut out).is_ok());
        }
        assert!(writer.finish(&mut out).is_ok());
        let text = String::from_utf8_lossy(&out).into_owned();
        let json =
            serde_json::from_slice(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        (json, text)
    }

    #[test]
    fn every_table_is_written_in_order_those_without_rows_as_empty_arrays() {
        let (json, text) = written(
            &["a", "b", "c", "d\"e", "f"],
            &[
                &[(1, r#"{"id":1}"#), (1, r#"{"id":2}"#)],
                &[(1, r#"{"id":3}"#), (3, r#"{"x":"y"}"#)],
                &[],
            ],
        );
        assert_eq!(
            json,
            serde_json::json!({
                "organization_id": "00000000-0000-0000-0000-000000000000",
                "exported_at": "2023-11-14T22:13:20.000000Z",
                "tables": {
                    "a": [],
                    "b": [{"id": 1}, {"id": 2}, {"id": 3}],
                    "c": [],
                    "d\"e": [{"x": "y"}],
                    "f": [],
                }
            })
        );
        // Each table once, in the cursor's order (a parsed object would hide a repeated key).
        let at = |name: &str| {
            assert_eq!(text.matches(name).count(), 1, "{name} in {text}");
            text.find(name)
        };
        let places: Vec<_> = [
            r#""a":["#,
            r#""b":["#,
            r#""c":["#,
            r#""d\"e":["#,
            r#""f":["#,
        ]
        .into_iter()
        .map(at)
        .collect();
        assert!(places.is_sorted(), "{text}");
        assert!(text.ends_with("]}}"), "{text}");
    }

    #[test]
    fn the_watchdog_ends_an_export_stalled_for_30_s_or_running_for_3_minutes() {
        let began = OffsetDateTime::UNIX_EPOCH;
        let at = |secs: i64| began + time::Duration::seconds(secs);
        // Read steadily: kept until 3 minutes, however recent the progress.
        assert_eq!(watchdog_verdict(at(179), began, at(179)), None);
        assert!(
            watchdog_verdict(at(180), began, at(180)).is_some_and(|why| why.contains("3 minutes"))
        );
        // Stalled: kept for 29 s, ended at 30.
        assert_eq!(watchdog_verdict(at(60 + 29), began, at(60)), None);
        assert!(
            watchdog_verdict(at(60 + 30), began, at(60)).is_some_and(|why| why.contains("30 s"))
        );
    }

    #[test]
    fn an_organization_without_rows_is_every_table_empty() {
        let (json, _) = written(&["a", "b"], &[]);
        assert_eq!(json["tables"], serde_json::json!({"a": [], "b": []}));
        let (json, _) = written(&["a", "b"], &[&[(0, "{}")]]);
        assert_eq!(json["tables"], serde_json::json!({"a": [{}], "b": []}));
        let (json, _) = written(&["a", "b"], &[&[(1, "{}")]]);
        assert_eq!(json["tables"], serde_json::json!({"a": [], "b": [{}]}));
    }
}
