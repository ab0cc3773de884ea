//! `/v1/voice-campaigns` and `/v1/calls`. The handlers are [`crate::resource`]'s; this module
//! declares what is the channel's own: bodies and their parsing, the call's status rule, and
//! its constraints.

use actix_web::http::StatusCode;
use palisade_db::messaging::campaign::{CampaignPatch, NewCampaign};
use palisade_db::messaging::voice::{
    self as db, Call, CallFilter, CallPatch, NewCall, VoiceCampaign, VoiceContent, VoiceEdit,
};
use palisade_domain::{
    CallDuration, CallNotes, CallStatus, CampaignName, CampaignStatus, Capability, CustomerId,
    Direction, PhoneNumber, ProviderId, VoiceCampaignId, VoiceScript,
};
use serde::Deserialize;

use super::campaign::{self, Campaigns};
use super::no_such_customer;
use crate::ApiError;
use crate::endpoints::Endpoints;
use crate::kinds::{Field, Text};
use crate::resource::{self, Created, DeleteGuard, PatchGuard, Patched, Violation};
use crate::routes::Fields;
use crate::routes::phone_numbers::from_number_not_owned;

/// Declares the voice routes.
pub(super) fn register(e: &mut Endpoints) {
    campaign::routes::<VoiceCampaign>(
        e,
        "Content while draft or scheduled; status along the allowed transitions (409 otherwise)",
        "Its calls stay, unlinked; 409 `campaign_not_deletable` while sending or once sent",
    );
    crate::changes::changes_route::<Calls>(e);
    resource::list_route::<Calls>(e);
    resource::create_route::<Calls>(e)
        .summary("Record a call")
        .describe("Records a call (placed, received, or to be placed)");
    resource::get_route::<Calls>(e);
    resource::update_route::<Calls>(e)
        .describe("Notes, customer, duration, and status (forward only: 409 `invalid_status_transition` otherwise)")
        .errors(&[409]);
    resource::delete_route::<Calls>(e);
}

impl crate::changes::Synced for Campaigns<VoiceCampaign> {
    const CHANGES: &'static str = "/v1/voice-campaigns/changes";
}

resource::family! {
    Campaigns<VoiceCampaign>: VoiceCampaign => VoiceCampaign, "/v1/voice-campaigns", "messaging", "a voice campaign", "voice campaigns";
    const DELETE_GUARD: Option<DeleteGuard<VoiceCampaign>> = Some(campaign::deletable);
}

campaign::campaign_bodies! {
    /// Create body.
    #[schema(as = VoiceCampaignCreate)]
    pub struct CreateCampaignBody {
        #[schema(required = true, value_type = String)]
        name,
        script,
    }
    /// Patch body: absent fields stay; `null` clears `script` and `scheduled_at`.
    #[schema(as = VoiceCampaignPatch)]
    pub struct PatchCampaignBody {
        #[schema(value_type = String)]
        name,
        #[schema(value_type = Option<String>)]
        script,
    }
}

crate::rules::field_rules!(CreateCampaignBody {
    "name": Text<palisade_domain::CampaignName>,
    "script": Text<palisade_domain::VoiceScript>,
    "status": crate::rules::NewCampaignStatus,
});
crate::rules::field_rules!(PatchCampaignBody {
    "name": Text<palisade_domain::CampaignName>,
    "script": Text<palisade_domain::VoiceScript>,
});

impl Created for Campaigns<VoiceCampaign> {
    type Body = CreateCampaignBody;
    type New = NewCampaign<VoiceContent>;

    fn parse(body: &CreateCampaignBody, f: &mut Fields) -> Option<Self::New> {
        let name = f.required("name", body.name.as_deref(), CampaignName::parse);
        let script = f.optional("script", body.script.as_deref(), VoiceScript::parse);
        let (status, scheduled_at) = f.new_schedule(body.status.as_deref(), &body.scheduled_at);
        Some(NewCampaign {
            content: VoiceContent {
                name: name?,
                script,
            },
            status,
            scheduled_at,
        })
    }
}

impl Patched for Campaigns<VoiceCampaign> {
    type Body = PatchCampaignBody;
    type Patch = CampaignPatch<VoiceEdit>;
    const GUARD: Option<PatchGuard<Self::Patch, VoiceCampaign>> = Some(campaign::guard);

    fn parse(body: &PatchCampaignBody, f: &mut Fields) -> Self::Patch {
        let content = VoiceEdit {
            name: Field::set::<Text<CampaignName>>(f, "name", &body.name),
            script: Field::clear::<Text<VoiceScript>>(f, "script", &body.script),
        };
        f.campaign_patch(content, &body.status, &body.scheduled_at)
    }
}

/// Calls: `/v1/calls`, and their changes feed ([`crate::changes`]).
pub(crate) struct Calls;

impl crate::changes::Synced for Calls {
    const CHANGES: &'static str = "/v1/calls/changes";
}

resource::family! {
    Calls: Call => Call, "/v1/calls", "messaging", "a call", "calls";
    // A composite foreign key failing means the referenced row is not this organization's,
    // answered exactly like a missing one.
    const VIOLATIONS: &'static [Violation] = &[
        Violation::on_write(db::CUSTOMER_FKEY, no_such_customer),
        Violation::on_write(db::CAMPAIGN_FKEY, || {
            crate::routes::query_params::no_such("voice_campaign_id")
        }),
        Violation::on_write(db::CALL_SID_KEY, || {
            resource::taken(
                crate::error::ErrorCode::CallSidTaken,
                "call_sid",
                "a call with this call_sid is already recorded in this organization",
            )
        }),
        Violation::on_write(db::FROM_NUMBER_OWNED, || {
            from_number_not_owned(Capability::Voice)
        }),
    ];
}

crate::list::filters! {
    /// Call list query string.
    Calls: CallListQuery => CallFilter {
        status: Choice<CallStatus>,
        direction: Choice<Direction>,
        voice_campaign_id: Id<VoiceCampaignId>,
        customer_id: Id<CustomerId>,
    }
}

/// Create body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CallCreate)]
pub struct CreateCallBody {
    #[schema(required = true, value_type = Direction)]
    direction: Option<String>,
    /// E.164; for an outbound call, one of this organization's numbers with the `voice`
    /// capability (422 `from_number_not_owned` otherwise).
    #[schema(required = true, value_type = String)]
    from_number: Option<String>,
    /// E.164.
    #[schema(required = true, value_type = String)]
    to_number: Option<String>,
    /// The carrier's id; unique within the organization (409 `call_sid_taken`).
    call_sid: Option<String>,
    /// Default `queued`.
    #[schema(value_type = Option<CallStatus>)]
    status: Option<String>,
    #[schema(value_type = Option<i64>)]
    duration_seconds: Option<crate::extract::Integer>,
    #[schema(format = DateTime)]
    started_at: Option<String>,
    /// Not before `started_at`.
    #[schema(format = DateTime)]
    ended_at: Option<String>,
    /// A voice campaign of this organization.
    #[schema(format = Uuid)]
    voice_campaign_id: Option<String>,
    /// A customer of this organization.
    #[schema(format = Uuid)]
    customer_id: Option<String>,
    notes: Option<String>,
}

crate::rules::field_rules!(CreateCallBody {
    "from_number": Text<palisade_domain::PhoneNumber>,
    "to_number": Text<palisade_domain::PhoneNumber>,
    "call_sid": Text<palisade_domain::ProviderId>,
    "duration_seconds": Number<palisade_domain::CallDuration>,
    "notes": Text<palisade_domain::CallNotes>,
});

impl Created for Calls {
    type Body = CreateCallBody;
    type New = NewCall;

    /// Status defaults to `queued`.
    fn parse(body: &CreateCallBody, f: &mut Fields) -> Option<NewCall> {
        let direction = f.required("direction", body.direction.as_deref(), Direction::parse);
        let from_number = f.required(
            "from_number",
            body.from_number.as_deref(),
            PhoneNumber::parse,
        );
        let to_number = f.required("to_number", body.to_number.as_deref(), PhoneNumber::parse);
        let call_sid = f.optional("call_sid", body.call_sid.as_deref(), ProviderId::parse);
        let status = f
            .optional("status", body.status.as_deref(), CallStatus::parse)
            .unwrap_or(CallStatus::Queued);
        let duration_seconds = f
            .optional_value(
                "duration_seconds",
                body.duration_seconds.map(|d| d.0).as_ref(),
                CallDuration::parse,
            )
            .map(CallDuration::seconds);
        let started_at = f.time("started_at", body.started_at.as_deref());
        let ended_at = f.time("ended_at", body.ended_at.as_deref());
        if let (Some(s), Some(e)) = (started_at, ended_at)
            && e < s
        {
            f.invalid("ended_at", "must not be before started_at");
        }
        let voice_campaign_id = f.optional(
            "voice_campaign_id",
            body.voice_campaign_id.as_deref(),
            VoiceCampaignId::parse,
        );
        let customer_id = f.optional(
            "customer_id",
            body.customer_id.as_deref(),
            CustomerId::parse,
        );
        let notes = f.optional("notes", body.notes.as_deref(), CallNotes::parse);
        Some(NewCall {
            direction: direction?,
            from_number: from_number?,
            to_number: to_number?,
            call_sid,
            status,
            duration_seconds,
            started_at,
            ended_at,
            voice_campaign_id,
            customer_id,
            notes,
        })
    }
}

resource::patch! {
    /// Patch body: absent fields stay; `null` clears `notes` and `customer_id`.
    Calls: PatchCallBody as CallPatch => CallPatch {
        notes: clear Text<CallNotes>,
        /// Forward only (409 `invalid_status_transition` otherwise).
        status: set Choice<CallStatus>,
        #[schema(minimum = 0, maximum = 86400)]
        duration_seconds: set Number<CallDuration>,
        customer_id: clear Id<CustomerId>,
    }
    const GUARD: Option<PatchGuard<CallPatch, Call>> = Some(forward_only);
}

/// A call's status only moves forward (409 `invalid_status_transition` otherwise); staying put
/// changes nothing. Moving to `in_progress` records `started_at`; moving to a final status
/// records `ended_at` and, for an answered call without one, the duration ([`CallPatch`]).
fn forward_only(patch: &mut CallPatch, current: &Call) -> Result<(), ApiError> {
    let current = CallStatus::parse(&current.status).map_err(ApiError::internal)?;
    if let Some(to) = patch.status
        && !current.may_move_to(to)
    {
        return Err(ApiError::Http {
            status: StatusCode::CONFLICT,
            code: crate::error::ErrorCode::InvalidStatusTransition,
            message: format!("a {} call cannot become {}", current.as_str(), to.as_str()),
        });
    }
    patch.status = patch.status.filter(|s| *s != current);
    Ok(())
}
