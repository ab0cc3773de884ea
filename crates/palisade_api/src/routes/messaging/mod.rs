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
use palisade_db::messaging::CreatedRange;
use palisade_db::messaging::email::EmailCampaign;
use palisade_db::messaging::sms::SmsCampaign;
use palisade_db::messaging::voice::VoiceCampaign;
use time::OffsetDateTime;

use super::Fields;
use crate::ApiError;

/// Declares this family's routes (see [`crate::endpoints`]).
pub(super) fn register(e: &mut crate::endpoints::Endpoints) {
    e.get(
        "/v1/email-campaigns",
        campaign::list_campaigns::<EmailCampaign>,
    )
    .tag("messaging")
    .summary("List email campaigns")
    .list_query::<campaign::CampaignListQuery>()
    .list::<email::CampaignJson>()
    .errors(&[422]);
    e.post("/v1/email-campaigns", email::create_campaign)
        .tag("messaging")
        .summary("Create an email campaign")
        .describe("A draft, or scheduled with a future `scheduled_at`")
        .body::<email::CreateCampaignBody>()
        .created::<email::CampaignJson>()
        .errors(&[413, 415, 422]);
    e.get(
        "/v1/email-campaigns/{id}",
        campaign::get_campaign::<EmailCampaign>,
    )
    .tag("messaging")
    .summary("Get an email campaign")
    .ok::<email::CampaignJson>()
    .errors(&[404]);
    e.patch("/v1/email-campaigns/{id}", email::update_campaign)
        .tag("messaging")
        .summary("Update an email campaign")
        .describe("Content while draft or scheduled; status along the allowed transitions (409 otherwise)")
        .body::<email::PatchCampaignBody>()
        .ok::<email::CampaignJson>()
        .errors(&[404, 409, 413, 415, 422]);
    e.delete(
        "/v1/email-campaigns/{id}",
        campaign::delete_campaign::<EmailCampaign>,
    )
    .tag("messaging")
    .summary("Delete an email campaign")
    .describe("With its recipients; 409 `campaign_not_deletable` while sending or once sent")
    .no_content()
    .errors(&[404, 409]);
    e.get(
        "/v1/email-campaigns/{id}/messages",
        email::list_campaign_messages,
    )
    .tag("messaging")
    .summary("List the messages of an email campaign")
    .describe("This campaign's recipients only; 404 when the campaign is not this organization's")
    .list_query::<email::MessageListQuery>()
    .list::<email::MessageJson>()
    .errors(&[404, 422]);
    e.post("/v1/email-campaigns/{id}/messages", email::create_message)
        .tag("messaging")
        .summary("Add a recipient to an email campaign")
        .describe("Adds a queued recipient to a draft or scheduled campaign")
        .body::<email::CreateMessageBody>()
        .created::<email::MessageJson>()
        .errors(&[404, 409, 413, 415, 422]);
    e.get("/v1/email-messages", email::list_messages)
        .tag("messaging")
        .summary("List email messages")
        .describe("Every campaign's messages, newest first")
        .list_query::<email::MessageListQuery>()
        .list::<email::MessageJson>()
        .errors(&[422]);
    e.get("/v1/email-messages/{id}", email::get_message)
        .tag("messaging")
        .summary("Get an email message")
        .ok::<email::MessageJson>()
        .errors(&[404]);
    e.delete("/v1/email-messages/{id}", email::delete_message)
        .tag("messaging")
        .summary("Delete an email message")
        .describe("Only while queued (409 once it has gone out)")
        .no_content()
        .errors(&[404, 409]);
    e.get("/v1/sms-campaigns", campaign::list_campaigns::<SmsCampaign>)
        .tag("messaging")
        .summary("List SMS campaigns")
        .list_query::<campaign::CampaignListQuery>()
        .list::<sms::CampaignJson>()
        .errors(&[422]);
    e.post("/v1/sms-campaigns", sms::create_campaign)
        .tag("messaging")
        .summary("Create an SMS campaign")
        .describe("A draft, or scheduled with a future `scheduled_at`")
        .body::<sms::CreateCampaignBody>()
        .created::<sms::CampaignJson>()
        .errors(&[413, 415, 422]);
    e.get(
        "/v1/sms-campaigns/{id}",
        campaign::get_campaign::<SmsCampaign>,
    )
    .tag("messaging")
    .summary("Get an SMS campaign")
    .ok::<sms::CampaignJson>()
    .errors(&[404]);
    e.patch("/v1/sms-campaigns/{id}", sms::update_campaign)
        .tag("messaging")
        .summary("Update an SMS campaign")
        .describe("Content while draft or scheduled (queued recipients follow the new text and number); status along the allowed transitions (409 otherwise)")
        .body::<sms::PatchCampaignBody>()
        .ok::<sms::CampaignJson>()
        .errors(&[404, 409, 413, 415, 422]);
    e.delete(
        "/v1/sms-campaigns/{id}",
        campaign::delete_campaign::<SmsCampaign>,
    )
    .tag("messaging")
    .summary("Delete an SMS campaign")
    .describe("With its recipients; 409 `campaign_not_deletable` while sending or once sent")
    .no_content()
    .errors(&[404, 409]);
    e.get(
        "/v1/sms-campaigns/{id}/messages",
        sms::list_campaign_messages,
    )
    .tag("messaging")
    .summary("List the messages of an SMS campaign")
    .describe("This campaign's recipients only; 404 when the campaign is not this organization's")
    .list_query::<sms::MessageListQuery>()
    .list::<sms::MessageJson>()
    .errors(&[404, 422]);
    e.post("/v1/sms-campaigns/{id}/messages", sms::create_message)
        .tag("messaging")
        .summary("Add a recipient to an SMS campaign")
        .describe("Adds a queued outbound message, from the campaign's number with its text, to a draft or scheduled campaign")
        .body::<sms::CreateMessageBody>()
        .created::<sms::MessageJson>()
        .errors(&[404, 409, 413, 415, 422]);
    e.get("/v1/sms-messages", sms::list_messages)
        .tag("messaging")
        .summary("List SMS messages")
        .describe("Every SMS, inbound and outbound, newest first")
        .list_query::<sms::MessageListQuery>()
        .list::<sms::MessageJson>()
        .errors(&[422]);
    e.get("/v1/sms-messages/{id}", sms::get_message)
        .tag("messaging")
        .summary("Get an SMS message")
        .ok::<sms::MessageJson>()
        .errors(&[404]);
    e.delete("/v1/sms-messages/{id}", sms::delete_message)
        .tag("messaging")
        .summary("Delete an SMS message")
        .describe("Only while queued (409 once it has gone out, and for inbound messages)")
        .no_content()
        .errors(&[404, 409]);
    e.get(
        "/v1/voice-campaigns",
        campaign::list_campaigns::<VoiceCampaign>,
    )
    .tag("messaging")
    .summary("List voice campaigns")
    .list_query::<campaign::CampaignListQuery>()
    .list::<voice::CampaignJson>()
    .errors(&[422]);
    e.post("/v1/voice-campaigns", voice::create_campaign)
        .tag("messaging")
        .summary("Create a voice campaign")
        .describe("A draft, or scheduled with a future `scheduled_at`")
        .body::<voice::CreateCampaignBody>()
        .created::<voice::CampaignJson>()
        .errors(&[413, 415, 422]);
    e.get(
        "/v1/voice-campaigns/{id}",
        campaign::get_campaign::<VoiceCampaign>,
    )
    .tag("messaging")
    .summary("Get a voice campaign")
    .ok::<voice::CampaignJson>()
    .errors(&[404]);
    e.patch("/v1/voice-campaigns/{id}", voice::update_campaign)
        .tag("messaging")
        .summary("Update a voice campaign")
        .describe("Content while draft or scheduled; status along the allowed transitions (409 otherwise)")
        .body::<voice::PatchCampaignBody>()
        .ok::<voice::CampaignJson>()
        .errors(&[404, 409, 413, 415, 422]);
    e.delete(
        "/v1/voice-campaigns/{id}",
        campaign::delete_campaign::<VoiceCampaign>,
    )
    .tag("messaging")
    .summary("Delete a voice campaign")
    .describe("Its calls stay, unlinked; 409 `campaign_not_deletable` while sending or once sent")
    .no_content()
    .errors(&[404, 409]);
    e.get("/v1/calls", voice::list_calls)
        .tag("messaging")
        .summary("List calls")
        .list_query::<voice::CallListQuery>()
        .list::<voice::CallJson>()
        .errors(&[422]);
    e.post("/v1/calls", voice::create_call)
        .tag("messaging")
        .summary("Record a call")
        .describe("Records a call (placed, received, or to be placed)")
        .body::<voice::CreateCallBody>()
        .created::<voice::CallJson>()
        .errors(&[409, 413, 415, 422]);
    e.get("/v1/calls/{id}", voice::get_call)
        .tag("messaging")
        .summary("Get a call")
        .ok::<voice::CallJson>()
        .errors(&[404]);
    e.patch("/v1/calls/{id}", voice::update_call)
        .tag("messaging")
        .summary("Update a call")
        .describe("Notes, customer, duration, and status (forward only: 409 `invalid_status_transition` otherwise)")
        .body::<voice::PatchCallBody>()
        .ok::<voice::CallJson>()
        .errors(&[404, 409, 413, 415, 422]);
    e.delete("/v1/calls/{id}", voice::delete_call)
        .tag("messaging")
        .summary("Delete a call")
        .no_content()
        .errors(&[404]);
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

fn message_not_queued(status: &str) -> ApiError {
    ApiError::Http {
        status: StatusCode::CONFLICT,
        code: crate::error::ErrorCode::MessageNotQueued,
        message: format!("a {status} message cannot be deleted; only queued ones can"),
    }
}

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
