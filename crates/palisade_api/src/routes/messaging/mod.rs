//! Campaigns, messages, calls and the dashboard: the email, SMS and voice channels.
//!
//! Every organization role (owner, admin, member) reads and writes all of these, like
//! customers: running campaigns and logging calls is members' everyday work, and nothing here
//! configures the organization. What a client may change is governed by statuses instead:
//! - a campaign's content (name, texts, schedule, recipients) only while it is `draft` or
//!   `scheduled`; its status only along [`CampaignStatus::client_may_move_to`] (409 otherwise);
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
//! [`CallStatus::may_move_to`]: palisade_domain::CallStatus::may_move_to

mod dashboard;
mod email;
mod sms;
mod voice;

use actix_web::http::StatusCode;
use actix_web::web;
use palisade_db::messaging::CreatedRange;
use palisade_domain::CampaignStatus;
use time::OffsetDateTime;

use super::{Fields, method_not_allowed};
use crate::ApiError;

/// Registers the routes of this module (inside `/v1`).
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    let nope = || web::to(method_not_allowed);
    cfg.service(
        web::resource("/email-campaigns")
            .route(web::get().to(email::list_campaigns))
            .route(web::post().to(email::create_campaign))
            .default_service(nope()),
    )
    .service(
        web::resource("/email-campaigns/{id}")
            .route(web::get().to(email::get_campaign))
            .route(web::patch().to(email::update_campaign))
            .route(web::delete().to(email::delete_campaign))
            .default_service(nope()),
    )
    .service(
        web::resource("/email-campaigns/{id}/messages")
            .route(web::get().to(email::list_campaign_messages))
            .route(web::post().to(email::create_message))
            .default_service(nope()),
    )
    .service(
        web::resource("/email-messages")
            .route(web::get().to(email::list_messages))
            .default_service(nope()),
    )
    .service(
        web::resource("/email-messages/{id}")
            .route(web::get().to(email::get_message))
            .route(web::delete().to(email::delete_message))
            .default_service(nope()),
    )
    .service(
        web::resource("/sms-campaigns")
            .route(web::get().to(sms::list_campaigns))
            .route(web::post().to(sms::create_campaign))
            .default_service(nope()),
    )
    .service(
        web::resource("/sms-campaigns/{id}")
            .route(web::get().to(sms::get_campaign))
            .route(web::patch().to(sms::update_campaign))
            .route(web::delete().to(sms::delete_campaign))
            .default_service(nope()),
    )
    .service(
        web::resource("/sms-campaigns/{id}/messages")
            .route(web::get().to(sms::list_campaign_messages))
            .route(web::post().to(sms::create_message))
            .default_service(nope()),
    )
    .service(
        web::resource("/sms-messages")
            .route(web::get().to(sms::list_messages))
            .default_service(nope()),
    )
    .service(
        web::resource("/sms-messages/{id}")
            .route(web::get().to(sms::get_message))
            .route(web::delete().to(sms::delete_message))
            .default_service(nope()),
    )
    .service(
        web::resource("/voice-campaigns")
            .route(web::get().to(voice::list_campaigns))
            .route(web::post().to(voice::create_campaign))
            .default_service(nope()),
    )
    .service(
        web::resource("/voice-campaigns/{id}")
            .route(web::get().to(voice::get_campaign))
            .route(web::patch().to(voice::update_campaign))
            .route(web::delete().to(voice::delete_campaign))
            .default_service(nope()),
    )
    .service(
        web::resource("/calls")
            .route(web::get().to(voice::list_calls))
            .route(web::post().to(voice::create_call))
            .default_service(nope()),
    )
    .service(
        web::resource("/calls/{id}")
            .route(web::get().to(voice::get_call))
            .route(web::patch().to(voice::update_call))
            .route(web::delete().to(voice::delete_call))
            .default_service(nope()),
    )
    .service(
        web::resource("/dashboard/stats")
            .route(web::get().to(dashboard::stats))
            .default_service(nope()),
    );
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

/// The status of a new campaign: draft (default) or scheduled, which needs `scheduled_at`.
fn new_campaign_status(
    f: &mut Fields,
    raw: Option<&str>,
    scheduled_at: Option<OffsetDateTime>,
) -> CampaignStatus {
    let status = f
        .optional("status", raw, CampaignStatus::parse)
        .unwrap_or(CampaignStatus::Draft);
    match status {
        CampaignStatus::Draft => {}
        CampaignStatus::Scheduled => {
            if scheduled_at.is_none() && !f.0.iter().any(|e| e.field == "scheduled_at") {
                f.invalid("scheduled_at", "is required to schedule a campaign");
            }
        }
        // Parsed, but not a status a campaign can start in.
        _ => f.invalid("status", "a new campaign is draft or scheduled"),
    }
    status
}

/// What a PATCH asks of a campaign's lifecycle.
struct CampaignChange {
    /// The requested status, if any.
    status: Option<CampaignStatus>,
    /// The requested schedule (already checked to be in the future), if any.
    scheduled_at: Option<Option<OffsetDateTime>>,
    /// Whether the PATCH touches the content (name, texts, schedule).
    edits_content: bool,
}

/// Checks a PATCH against the campaign's current status (read `FOR UPDATE`): 409 for a
/// transition clients may not make or an edit of a campaign that has gone out, 422 when the
/// result would be scheduled without a future `scheduled_at`. Returns the status to store:
/// `None` when it does not change.
fn check_campaign_change(
    current: CampaignStatus,
    current_scheduled_at: Option<OffsetDateTime>,
    change: &CampaignChange,
    now: OffsetDateTime,
) -> Result<Option<CampaignStatus>, ApiError> {
    let target = change.status.unwrap_or(current);
    if !current.client_may_move_to(target) {
        return Err(ApiError::Http {
            status: StatusCode::CONFLICT,
            code: "invalid_status_transition",
            message: format!(
                "a {} campaign cannot become {}",
                current.as_str(),
                target.as_str()
            ),
        });
    }
    if change.edits_content && !current.is_editable() {
        return Err(ApiError::Http {
            status: StatusCode::CONFLICT,
            code: "campaign_not_editable",
            message: format!(
                "a {} campaign cannot be edited; only draft and scheduled ones can",
                current.as_str()
            ),
        });
    }
    if target == CampaignStatus::Scheduled && (target != current || change.scheduled_at.is_some()) {
        match change.scheduled_at.unwrap_or(current_scheduled_at) {
            None => {
                return Err(ApiError::invalid(
                    "scheduled_at",
                    "is required to schedule a campaign",
                ));
            }
            Some(t) if t <= now => {
                return Err(ApiError::invalid("scheduled_at", "must be in the future"));
            }
            Some(_) => {}
        }
    }
    Ok((target != current).then_some(target))
}

fn not_deletable(status: CampaignStatus) -> ApiError {
    ApiError::Http {
        status: StatusCode::CONFLICT,
        code: "campaign_not_deletable",
        message: format!(
            "a {} campaign cannot be deleted; only draft, scheduled and cancelled ones can",
            status.as_str()
        ),
    }
}

fn not_editable_for_recipients(status: CampaignStatus) -> ApiError {
    ApiError::Http {
        status: StatusCode::CONFLICT,
        code: "campaign_not_editable",
        message: format!(
            "recipients cannot be added to a {} campaign; only to draft and scheduled ones",
            status.as_str()
        ),
    }
}

fn message_not_queued(status: &str) -> ApiError {
    ApiError::Http {
        status: StatusCode::CONFLICT,
        code: "message_not_queued",
        message: format!("a {status} message cannot be deleted; only queued ones can"),
    }
}

fn recipient_exists() -> ApiError {
    ApiError::Conflict {
        code: "recipient_exists",
        message: "this recipient is already on the campaign",
    }
}

/// The answer for a customer id in a body that names no customer of this organization, whether
/// it is missing or another organization's (the two must be indistinguishable).
fn no_such_customer() -> ApiError {
    ApiError::invalid("customer_id", "no such customer")
}

#[cfg(test)]
mod tests {
    use super::*;
    use CampaignStatus::*;

    fn change(
        status: Option<CampaignStatus>,
        scheduled_at: Option<Option<OffsetDateTime>>,
        edits_content: bool,
    ) -> CampaignChange {
        CampaignChange {
            status,
            scheduled_at,
            edits_content,
        }
    }

    fn code(r: Result<Option<CampaignStatus>, ApiError>) -> String {
        match r {
            Ok(s) => format!("ok {s:?}"),
            Err(ApiError::Http { code, .. }) => code.to_owned(),
            Err(ApiError::Validation(f)) => format!("422 {}: {}", f[0].field, f[0].reason),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn campaign_changes() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(10_000);
        let later = now + time::Duration::hours(1);
        let earlier = now - time::Duration::hours(1);
        let cases = [
            (
                Draft,
                None,
                change(Some(Scheduled), Some(Some(later)), false),
                "ok Some(Scheduled)",
            ),
            (
                Draft,
                None,
                change(Some(Scheduled), None, false),
                "422 scheduled_at: is required to schedule a campaign",
            ),
            (
                Draft,
                Some(earlier),
                change(Some(Scheduled), None, false),
                "422 scheduled_at: must be in the future",
            ),
            (
                Draft,
                Some(later),
                change(Some(Scheduled), None, false),
                "ok Some(Scheduled)",
            ),
            (
                Scheduled,
                Some(later),
                change(None, Some(None), true),
                "422 scheduled_at: is required to schedule a campaign",
            ),
            (
                Scheduled,
                Some(earlier),
                change(Some(Scheduled), None, false),
                "ok None",
            ),
            (
                Scheduled,
                Some(later),
                change(Some(Draft), None, true),
                "ok Some(Draft)",
            ),
            (
                Draft,
                None,
                change(Some(Sending), None, true),
                "ok Some(Sending)",
            ),
            (
                Sending,
                None,
                change(Some(Cancelled), None, false),
                "ok Some(Cancelled)",
            ),
            (
                Sending,
                None,
                change(Some(Sent), None, false),
                "invalid_status_transition",
            ),
            (
                Sending,
                None,
                change(None, None, true),
                "campaign_not_editable",
            ),
            (
                Sent,
                None,
                change(Some(Draft), None, false),
                "invalid_status_transition",
            ),
            (
                Sent,
                None,
                change(None, None, true),
                "campaign_not_editable",
            ),
            (Sent, None, change(Some(Sent), None, false), "ok None"),
            (
                Cancelled,
                None,
                change(Some(Cancelled), None, true),
                "campaign_not_editable",
            ),
        ];
        for (current, scheduled, ch, expected) in cases {
            assert_eq!(
                code(check_campaign_change(current, scheduled, &ch, now)),
                expected,
                "{current:?} {:?}",
                ch.status
            );
        }
    }
}
