//! `/v1/reports`: saved report definitions (name, kind, parameters as a bounded JSON object,
//! optional schedule). The handlers are [`crate::resource`]'s; this module declares what is the
//! family's own: filters, bodies and their parsing.

use palisade_db::reports::{NewReport, Report, ReportFilter, ReportPatch};
use palisade_domain::{ReportKind, ReportName, ReportParameters, ReportSchedule};

use crate::resource::{self};

/// The report family.
pub(crate) struct Reports;

resource::family! {
    Reports: Report => Report, "/v1/reports", "reports", "a report", "reports";
    // A backstop: ReportParameters bounds the stored size as the CHECK does.
    const VIOLATIONS: &'static [resource::Violation] = &[resource::Violation::on_write(
        palisade_db::reports::PARAMETERS_CHECK,
        || resource::too_large_as_stored("parameters"),
    )];
}

/// Declares this family's routes (see [`crate::resource`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    resource::list_route::<Reports>(e);
    resource::create_route::<Reports>(e)
        .describe("`parameters` defaults to `{}`, `schedule` to none");
    resource::get_route::<Reports>(e);
    resource::update_route::<Reports>(e);
    resource::delete_route::<Reports>(e);
}

crate::list::filters! {
    /// List query string.
    Reports: ListQuery => ReportFilter {
        kind: Choice<ReportKind>,
        schedule: Choice<ReportSchedule>,
    }
}

resource::created! {
    /// Create body.
    Reports: CreateBody as ReportCreate => NewReport {
        name: required Text<ReportName>,
        kind: required Choice<ReportKind>,
        /// A JSON object (default `{}`): bounded in size, key count and nesting; top-level keys
        /// are identifiers.
        parameters: default(ReportParameters::default()) Object<ReportParameters>,
        schedule: optional Choice<ReportSchedule>,
    }
}

resource::patch! {
    /// Patch body: absent fields stay; `parameters` replaces the object; `schedule: null`
    /// unschedules.
    Reports: PatchBody as ReportPatch => ReportPatch {
        name: set Text<ReportName>,
        kind: set Choice<ReportKind>,
        parameters: set Object<ReportParameters>,
        schedule: clear Choice<ReportSchedule>,
    }
}
