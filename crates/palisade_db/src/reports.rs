//! Saved report definitions. No query filters by organization: the policies of
//! `policies/340_reports.sql` do, and `organization_id` defaults to the context on insert.

use palisade_domain::{ReportId, ReportKind, ReportName, ReportParameters, ReportSchedule};
use serde_json::Value;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::list::{Cursor, ListQuery};
use crate::{DbError, Page, PageRequest, TenantTx};

/// A report definition as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Its id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// What it computes.
    pub kind: String,
    /// Its parameters (a JSON object).
    pub parameters: Value,
    /// How often it runs, if scheduled.
    pub schedule: Option<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// A report definition to save.
#[derive(Debug, Clone)]
pub struct NewReport {
    /// Name.
    pub name: ReportName,
    /// Kind.
    pub kind: ReportKind,
    /// Parameters.
    pub parameters: ReportParameters,
    /// Schedule.
    pub schedule: Option<ReportSchedule>,
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears the schedule.
#[derive(Debug, Clone, Default)]
pub struct ReportPatch {
    /// New name.
    pub name: Option<ReportName>,
    /// New kind.
    pub kind: Option<ReportKind>,
    /// New parameters (replacing the old ones).
    pub parameters: Option<ReportParameters>,
    /// New or cleared schedule.
    pub schedule: Option<Option<ReportSchedule>>,
}

/// List filters.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    /// Only this kind.
    pub kind: Option<ReportKind>,
    /// Only this schedule.
    pub schedule: Option<ReportSchedule>,
}

const COLUMNS: &str = "id, name, kind, parameters, schedule, created_at, updated_at";

fn from_row(r: &Row) -> Result<Report, DbError> {
    Ok(Report {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        parameters: r.try_get("parameters")?,
        schedule: r.try_get("schedule")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// One page of report definitions, newest first. Ends the transaction (one round trip).
pub async fn list(
    tx: TenantTx,
    filter: &ReportFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<Report, Cursor>, DbError> {
    let kind = filter.kind.map(ReportKind::as_str);
    let schedule = filter.schedule.map(ReportSchedule::as_str);
    ListQuery::new(
        "SELECT id, name, kind, parameters, schedule, created_at, updated_at \
         FROM palisade.reports WHERE true",
    )
    .and_opt("kind = $", kind.as_ref())
    .and_opt("schedule = $", schedule.as_ref())
    .page(&page)
    .fetch(tx, page.limit, from_row, |r| Cursor {
        created_at: r.created_at,
        id: r.id,
    })
    .await
}

/// The statement of [`get`] (and, `FOR UPDATE`, of [`lock`]).
const GET_SQL: &str = "SELECT id, name, kind, parameters, schedule, created_at, updated_at \
             FROM palisade.reports WHERE id = $1";

/// One report definition, or `None` when it does not exist in this organization.
pub async fn get(tx: TenantTx, id: ReportId) -> Result<Option<Report>, DbError> {
    let rows = tx.query_once(GET_SQL, &[&id.as_uuid()]).await?;
    rows.first().map(from_row).transpose()
}

/// [`get`] inside a write transaction, the row locked until it ends (for `If-Match`).
pub async fn lock(tx: &mut TenantTx, id: ReportId) -> Result<Option<Report>, DbError> {
    crate::lock::for_update(tx, GET_SQL, id.as_uuid(), from_row).await
}

/// Saves a report definition in the acting organization.
pub async fn create(tx: &mut TenantTx, new: &NewReport) -> Result<Report, DbError> {
    let sql = format!(
        "INSERT INTO palisade.reports (id, name, kind, parameters, schedule) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &ReportId::new().as_uuid(),
                &new.name.as_str(),
                &new.kind.as_str(),
                &new.parameters.to_value(),
                &new.schedule.map(ReportSchedule::as_str),
            ],
        )
        .await?;
    from_row(&row)
}

/// Applies `patch`; `None` when the definition does not exist in this organization.
pub async fn update(
    tx: &mut TenantTx,
    id: ReportId,
    patch: &ReportPatch,
) -> Result<Option<Report>, DbError> {
    let sql = format!(
        "UPDATE palisade.reports SET name = coalesce($2, name), kind = coalesce($3, kind), \
             parameters = coalesce($4, parameters), \
             schedule = CASE WHEN $5 THEN $6 ELSE schedule END, updated_at = now() \
         WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row = tx
        .query_opt(
            &sql,
            &[
                &id.as_uuid(),
                &patch.name.as_ref().map(ReportName::as_str),
                &patch.kind.map(ReportKind::as_str),
                &patch.parameters.as_ref().map(ReportParameters::to_value),
                &patch.schedule.is_some(),
                &patch.schedule.flatten().map(ReportSchedule::as_str),
            ],
        )
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

/// Deletes a report definition; `false` when it does not exist in this organization.
pub async fn delete(tx: &mut TenantTx, id: ReportId) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "DELETE FROM palisade.reports WHERE id = $1",
            &[&id.as_uuid()],
        )
        .await?
        == 1)
}
