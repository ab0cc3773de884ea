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
use actix_web::web;
use palisade_db::messaging::CreatedRange;
use palisade_db::messaging::email::EmailCampaign;
use palisade_db::messaging::sms::SmsCampaign;
use palisade_db::messaging::voice::VoiceCampaign;
use time::OffsetDateTime;

use super::{Fields, method_not_allowed};
use crate::ApiError;

/// Registers the routes of this module (inside `/v1`).
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    let nope = || web::to(method_not_allowed);
    cfg.service(
        web::resource("/email-campaigns")
            .route(web::get().to(campaign::list_campaigns::<EmailCampaign>))
            .route(web::post().to(email::create_campaign))
            .default_service(nope()),
    )
    .service(
        web::resource("/email-campaigns/{id}")
            .route(web::get().to(campaign::get_campaign::<EmailCampaign>))
            .route(web::patch().to(email::update_campaign))
            .route(web::delete().to(campaign::delete_campaign::<EmailCampaign>))
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
            .route(web::get().to(campaign::list_campaigns::<SmsCampaign>))
            .route(web::post().to(sms::create_campaign))
            .default_service(nope()),
    )
    .service(
        web::resource("/sms-campaigns/{id}")
            .route(web::get().to(campaign::get_campaign::<SmsCampaign>))
            .route(web::patch().to(sms::update_campaign))
            .route(web::delete().to(campaign::delete_campaign::<SmsCampaign>))
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
            .route(web::get().to(campaign::list_campaigns::<VoiceCampaign>))
            .route(web::post().to(voice::create_campaign))
            .default_service(nope()),
    )
    .service(
        web::resource("/voice-campaigns/{id}")
            .route(web::get().to(campaign::get_campaign::<VoiceCampaign>))
            .route(web::patch().to(voice::update_campaign))
            .route(web::delete().to(campaign::delete_campaign::<VoiceCampaign>))
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
    super::query_params::no_such("customer_id")
}
