//! Saved report definitions: the row, its filters, its insert and its update; reading,
//! locking and deleting by id are [`crate::crud`]'s. No query filters by organization: the
//! policies of `policies/340_reports.sql` do, and `organization_id` defaults to the context on
//! insert.

use palisade_domain::{ReportId, ReportKind, ReportName, ReportParameters, ReportSchedule};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crud;
use crate::list::Cursor;
use crate::{DbError, Page, PageRequest, TenantTx};

crate::table! {
    /// A report definition as stored, and as clients see it.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct Report in "palisade.reports" {
        /// Its id.
        id: Uuid,
        /// Name.
        name: String,
        /// What it computes.
        #[schema(value_type = ReportKind)]
        kind: String,
        /// Its parameters: the object given, as given.
        #[schema(value_type = Object)]
        parameters: Value,
        /// How often it runs for its subscribers; `null`: not scheduled.
        #[schema(value_type = Option<ReportSchedule>)]
        schedule: Option<String>,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
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

/// One page of report definitions, newest first. Ends the transaction (one round trip).
pub async fn list(
    tx: TenantTx,
    filter: &ReportFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<Report, Cursor>, DbError> {
    let kind = filter.kind.map(ReportKind::as_str);
    let schedule = filter.schedule.map(ReportSchedule::as_str);
    let query = crud::list::<Report>()
        .and_opt("kind = $", kind.as_ref())
        .and_opt("schedule = $", schedule.as_ref());
    crud::fetch(query, tx, &page).await
}

/// Saves a report definition in the acting organization.
pub async fn create(tx: &mut TenantTx, new: &NewReport) -> Result<Report, DbError> {
    crud::returning(
        tx,
        "INSERT INTO palisade.reports (id, name, kind, parameters, schedule) \
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &ReportId::new().as_uuid(),
            &new.name.as_str(),
            &new.kind.as_str(),
            &new.parameters.to_value(),
            &new.schedule.map(ReportSchedule::as_str),
        ],
    )
    .await
}

/// Applies `patch`; `None` when the definition does not exist in this organization.
pub async fn update(
    tx: &mut TenantTx,
    id: ReportId,
    patch: &ReportPatch,
) -> Result<Option<Report>, DbError> {
    crud::returning_opt(
        tx,
        "UPDATE palisade.reports SET name = coalesce($2, name), kind = coalesce($3, kind), \
             parameters = coalesce($4, parameters), \
             schedule = CASE WHEN $5 THEN $6 ELSE schedule END, updated_at = now() \
         WHERE id = $1",
        &[
            &id.as_uuid(),
            &patch.name.as_ref().map(ReportName::as_str),
            &patch.kind.map(ReportKind::as_str),
            &patch.parameters.as_ref().map(ReportParameters::to_value),
            &patch.schedule.is_some(),
            &patch.schedule.flatten().map(ReportSchedule::as_str),
        ],
    )
    .await
}
