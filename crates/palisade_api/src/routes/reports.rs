//! `/v1/reports`: saved report definitions (name, kind, parameters as a bounded JSON object,
//! optional schedule). Another organization's definition answers 404 exactly like a missing one.

use actix_web::{HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::reports::{self as db, NewReport, Report, ReportFilter, ReportPatch};
use palisade_domain::{ReportId, ReportKind, ReportName, ReportParameters, ReportSchedule};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Fields, not_null, nullable, parse_id};
use crate::auth::Tenant;
use crate::etag::IfMatch;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::list::List;
use crate::{ApiError, AppState};

/// Declares this family's routes (see [`crate::endpoints`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    e.get("/v1/reports", list)
        .tag("reports")
        .summary("List reports")
        .list_query::<ListQuery>()
        .list::<ReportJson>()
        .errors(&[422]);
    e.post("/v1/reports", create)
        .tag("reports")
        .summary("Create a report")
        .describe("`parameters` defaults to `{}`, `schedule` to none")
        .body::<CreateBody>()
        .created::<ReportJson>()
        .errors(&[413, 415, 422]);
    e.get("/v1/reports/{id}", get)
        .tag("reports")
        .summary("Get a report")
        .ok::<ReportJson>()
        .errors(&[404]);
    e.patch("/v1/reports/{id}", update)
        .tag("reports")
        .summary("Update a report")
        .body::<PatchBody>()
        .ok::<ReportJson>()
        .errors(&[404, 413, 415, 422]);
    e.delete("/v1/reports/{id}", delete)
        .tag("reports")
        .summary("Delete a report")
        .no_content()
        .errors(&[404]);
}

/// A report definition as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Report)]
pub struct ReportJson {
    id: Uuid,
    name: String,
    #[schema(value_type = ReportKind)]
    kind: String,
    /// The object given, as given.
    #[schema(value_type = Object)]
    parameters: Value,
    /// How often it runs for its subscribers; `null`: not scheduled.
    #[schema(value_type = Option<ReportSchedule>)]
    schedule: Option<String>,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<Report> for ReportJson {
    fn from(r: Report) -> Self {
        Self {
            id: r.id,
            name: r.name,
            kind: r.kind,
            parameters: r.parameters,
            schedule: r.schedule,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn parse_parameters(f: &mut Fields, raw: Option<&Value>) -> Option<ReportParameters> {
    match ReportParameters::parse(raw?) {
        Ok(p) => Some(p),
        Err(e) => {
            f.invalid("parameters", e.reason());
            None
        }
    }
}

/// List query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[param(value_type = Option<ReportKind>, inline)]
    kind: Option<String>,
    #[param(value_type = Option<ReportSchedule>, inline)]
    schedule: Option<String>,
}

/// `GET /v1/reports?kind=&schedule=&created_after=&created_before=`: newest first.
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: List<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let filter = ReportFilter {
        kind: f.optional("kind", q.filter.kind.as_deref(), ReportKind::parse),
        schedule: f.optional(
            "schedule",
            q.filter.schedule.as_deref(),
            ReportSchedule::parse,
        ),
    };
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list(tx, &filter, q.page).await?;
    Ok(q.respond(page, ReportJson::from))
}

/// Create body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReportCreate)]
pub struct CreateBody {
    #[schema(required = true)]
    name: Option<String>,
    #[schema(required = true, value_type = ReportKind)]
    kind: Option<String>,
    /// A JSON object (default `{}`): bounded in size, key count and nesting; top-level keys
    /// are identifiers.
    #[schema(value_type = Option<Object>)]
    parameters: Option<Value>,
    #[schema(value_type = Option<ReportSchedule>)]
    schedule: Option<String>,
}

/// `POST /v1/reports` (201). `parameters` defaults to `{}`, `schedule` to none.
pub async fn create(
    state: web::Data<AppState>,
    tenant: Tenant,
    idem: Idempotency,
    body: crate::extract::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let name = f.required("name", body.name.as_deref(), ReportName::parse);
    let kind = f.required("kind", body.kind.as_deref(), ReportKind::parse);
    let parameters = match &body.parameters {
        None => Some(ReportParameters::default()),
        Some(p) => parse_parameters(&mut f, Some(p)),
    };
    let schedule = f.optional("schedule", body.schedule.as_deref(), ReportSchedule::parse);
    f.finish()?;
    let (Some(name), Some(kind), Some(parameters)) = (name, kind, parameters) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let new = NewReport {
        name,
        kind,
        parameters,
        schedule,
    };
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    let report = db::create(&mut tx, &new).await?;
    tx.commit(super::created(
        "/v1/reports",
        report.id,
        ReportJson::from(report),
    ))
    .await
}

/// `GET /v1/reports/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, ReportId::parse)?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let report = db::get(tx, id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(ReportJson::from(report)))
}

/// Patch body: absent fields stay; `parameters` replaces the object; `schedule: null`
/// unschedules.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReportPatch)]
pub struct PatchBody {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[schema(value_type = Option<ReportKind>)]
    #[serde(default, deserialize_with = "not_null")]
    kind: Option<String>,
    #[schema(value_type = Option<Object>)]
    #[serde(default, deserialize_with = "not_null")]
    parameters: Option<Value>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<ReportSchedule>)]
    schedule: Option<Option<String>>,
}

/// `PATCH /v1/reports/{id}`.
pub async fn update(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
    body: crate::extract::Json<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, ReportId::parse)?;
    let mut f = Fields::default();
    let patch = ReportPatch {
        name: f.optional("name", body.name.as_deref(), ReportName::parse),
        kind: f.optional("kind", body.kind.as_deref(), ReportKind::parse),
        parameters: parse_parameters(&mut f, body.parameters.as_ref()),
        schedule: f.clearable("schedule", &body.schedule, ReportSchedule::parse),
    };
    f.finish()?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock(&mut tx, id), ReportJson::from)
        .await?;
    let report = db::update(&mut tx, id, &patch)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(ReportJson::from(report)))
}

/// `DELETE /v1/reports/{id}` (204).
pub async fn delete(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, ReportId::parse)?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock(&mut tx, id), ReportJson::from)
        .await?;
    if !db::delete(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
