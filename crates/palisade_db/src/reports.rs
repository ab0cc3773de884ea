//! Saved report definitions: the row, its filters, its insert and its update; listing,
//! reading, locking and deleting are [`crate::crud`]'s. No query filters by organization: the
//! policies of `policies/340_reports.sql` do, and `organization_id` defaults to the context on
//! insert.

use palisade_domain::{ReportKind, ReportName, ReportParameters, ReportSchedule};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// The CHECK on `parameters` (sql/V0025): an object of at most 16384 bytes as stored
/// (`pg_column_size`).
pub const PARAMETERS_CHECK: &str = "reports_parameters_check";

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
        /// The schedule stored with the definition (`null`: none). Stored only: nothing runs
        /// reports yet.
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

crate::insert_type! {
    /// A report definition to save.
    pub struct NewReport into Report {
        /// Name.
        name: ReportName,
        /// Kind.
        kind: ReportKind,
        /// Parameters.
        parameters: ReportParameters,
        /// Schedule.
        schedule: Option<ReportSchedule>,
    }
}

crate::patch_type! {
    /// A partial update: `None` leaves a field alone; `Some(None)` clears the schedule.
    pub struct ReportPatch for Report {
        /// New name.
        name: set ReportName,
        /// New kind.
        kind: set ReportKind,
        /// New parameters (replacing the old ones).
        parameters: set ReportParameters,
        /// New or cleared schedule.
        schedule: clear ReportSchedule,
    }
}

crate::filter_type! {
    /// List filters.
    pub struct ReportFilter for Report {
        /// Only this kind.
        kind: ReportKind => "kind = $",
        /// Only this schedule.
        schedule: ReportSchedule => "schedule = $",
    }
}
