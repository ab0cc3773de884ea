//! Campaigns, messages, calls and the dashboard: the email, SMS and voice channels.
//!
//! Every organization role (owner, admin, member) reads and writes all of these, like
//! customers: running campaigns and logging calls is members' everyday work, and nothing here
//! configures the organization. What a client may change is governed by statuses instead:
//! - a campaign's content (name, texts, schedule) and new recipients only while it is `draft`
//!   or `scheduled` (a recipient still queued may be removed at any time, see below); its
//!   status only along [`CampaignStatus::client_may_move_to`] (409 otherwise);
//!   `scheduled` needs a `scheduled_at` in the future; deletion only when
//!   [`CampaignStatus::is_deletable`];
//! - a message is deleted only while `queued`;
//! - a call's status only moves forward ([`CallStatus::may_move_to`]).
//!
//! Another organization's campaign, message or call answers 404 exactly like a missing one,
//! and another organization's customer or campaign named in a body answers exactly like a
//! missing one (422 on that field): RLS hides the row, and the composite foreign keys refuse
//! it with the same error as an absent row.
//!
//! [`CampaignStatus::client_may_move_to`]: palisade_domain::CampaignStatus::client_may_move_to
//! [`CampaignStatus::is_deletable`]: palisade_domain::CampaignStatus::is_deletable
//! [`CallStatus::may_move_to`]: palisade_domain::CallStatus::may_move_to

mod campaign;
mod dashboard;
mod email;
mod recipients;
mod sms;
mod voice;

use actix_web::http::StatusCode;
use palisade_db::messaging::CreatedRange;
use time::OffsetDateTime;

use super::Fields;
use crate::ApiError;

/// Declares this family's routes (see [`crate::resource`]), in actix's matching order.
pub(super) fn register(e: &mut crate::endpoints::Endpoints) {
    email::register(e);
    sms::register(e);
    voice::register(e);
    e.get("/v1/dashboard/stats", dashboard::stats)
        .tag("messaging")
        .summary("Dashboard figures")
        .describe("Campaigns, messages and calls counted by status, per channel, with delivery rates and call time")
        .query::<dashboard::StatsQuery>()
        .ok::<dashboard::StatsJson>()
        .errors(&[422]);
}

impl Fields {
    /// `created_after` and `created_before` query parameters.
    fn created_range(&mut self, after: Option<&str>, before: Option<&str>) -> CreatedRange {
        CreatedRange {
            after: self.time("created_after", after),
            before: self.time("created_before", before),
        }
    }

    /// A `scheduled_at` given in a body: absent, null (clears), or a future timestamp.
    fn scheduled_at(
        &mut self,
        raw: &Option<Option<String>>,
        now: OffsetDateTime,
    ) -> Option<Option<OffsetDateTime>> {
        match raw {
            None => None,
            Some(None) => Some(None),
            Some(Some(s)) => {
                let t = self.time("scheduled_at", Some(s))?;
                if t <= now {
                    self.invalid("scheduled_at", "must be in the future");
                    return None;
                }
                Some(Some(t))
            }
        }
    }
}

/// The delete rule of email and SMS messages ([`crate::resource::Resource::DELETE_GUARD`]):
/// only a message still `queued` (its status as stored) may go; 409 once it has gone out (or
/// came in).
fn queued_only(status: &str, queued: &str) -> Result<(), ApiError> {
    if status == queued {
        return Ok(());
    }
    Err(ApiError::Http {
        status: StatusCode::CONFLICT,
        code: crate::error::ErrorCode::MessageNotQueued,
        message: format!("a {status} message cannot be deleted; only queued ones can"),
    })
}

/// 409 for a recipient already on the campaign.
fn recipient_exists() -> ApiError {
    ApiError::Conflict {
        code: crate::error::ErrorCode::RecipientExists,
        message: "this recipient is already on the campaign",
    }
}

/// The answer for a customer id in a body that names no customer of this organization, whether
/// it is missing or another organization's (the two must be indistinguishable).
fn no_such_customer() -> ApiError {
    super::query_params::no_such("customer_id")
}
