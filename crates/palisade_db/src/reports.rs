//! Saved report definitions: the row, its filters, its insert and its update; listing,
//! reading, locking and deleting are [`crate::crud`]'s. No query filters by organization: the
//! policies of `policies/340_reports.sql` do, and `organization_id` defaults to the context on
//! insert.

use palisade_domain::{ReportId, ReportKind, ReportName, ReportParameters, ReportSchedule};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crud;
use crate::list::ListQuery;
use crate::{DbError, TenantTx};

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

impl crud::Filter for ReportFilter {
    type Row = Report;
    fn narrow<'a>(&'a self, query: ListQuery<'a>) -> ListQuery<'a> {
        query
            .and_opt_value("kind = $", self.kind.map(ReportKind::as_str))
            .and_opt_value("schedule = $", self.schedule.map(ReportSchedule::as_str))
    }
}

impl crud::Insert for NewReport {
    type Row = Report;
    async fn insert(&self, tx: &mut TenantTx) -> Result<Report, DbError> {
        crud::returning(
            tx,
            "INSERT INTO palisade.reports (id, name, kind, parameters, schedule) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &ReportId::new().as_uuid(),
                &self.name.as_str(),
                &self.kind.as_str(),
                &self.parameters.to_value(),
                &self.schedule.map(ReportSchedule::as_str),
            ],
        )
        .await
    }
}

impl crud::Update for ReportPatch {
    type Row = Report;
    async fn update(&self, tx: &mut TenantTx, id: Uuid) -> Result<Option<Report>, DbError> {
        crud::returning_opt(
            tx,
            "UPDATE palisade.reports SET name = coalesce($2, name), kind = coalesce($3, kind), \
                 parameters = coalesce($4, parameters), \
                 schedule = CASE WHEN $5 THEN $6 ELSE schedule END, updated_at = now() \
             WHERE id = $1",
            &[
                &id,
                &self.name.as_ref().map(ReportName::as_str),
                &self.kind.map(ReportKind::as_str),
                &self.parameters.as_ref().map(ReportParameters::to_value),
                &self.schedule.is_some(),
                &self.schedule.flatten().map(ReportSchedule::as_str),
            ],
        )
        .await
    }
}
