//! `/v1/reports`: saved report definitions (name, kind, parameters as a bounded JSON object,
//! optional schedule). The handlers are [`crate::resource`]'s; this module declares what is the
//! family's own: filters, bodies and their parsing.

use palisade_db::reports::{NewReport, Report, ReportFilter, ReportPatch};
use palisade_domain::{ReportKind, ReportName, ReportParameters, ReportSchedule};
use serde::Deserialize;
use serde_json::Value;

use super::Fields;
use crate::resource::{self, Created};

/// The report family.
pub(crate) struct Reports;

resource::family! {
    Reports: Report => Report, "/v1/reports", "reports", "a report", "reports";
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

fn parse_parameters(f: &mut Fields, raw: Option<&Value>) -> Option<ReportParameters> {
    match ReportParameters::parse(raw?) {
        Ok(p) => Some(p),
        Err(e) => {
            f.refused("parameters", &e);
            None
        }
    }
}

crate::list::filters! {
    /// List query string.
    Reports: ListQuery => ReportFilter {
        kind: Choice<ReportKind>,
        schedule: Choice<ReportSchedule>,
    }
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

impl Created for Reports {
    type Body = CreateBody;
    type New = NewReport;

    fn parse(body: &CreateBody, f: &mut Fields) -> Option<NewReport> {
        let name = f.required("name", body.name.as_deref(), ReportName::parse);
        let kind = f.required("kind", body.kind.as_deref(), ReportKind::parse);
        let parameters = match &body.parameters {
            None => Some(ReportParameters::default()),
            Some(p) => parse_parameters(f, Some(p)),
        };
        let schedule = f.optional("schedule", body.schedule.as_deref(), ReportSchedule::parse);
        Some(NewReport {
            name: name?,
            kind: kind?,
            parameters: parameters?,
            schedule,
        })
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
