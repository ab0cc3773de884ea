//! `/v1/voice-campaigns` and `/v1/calls`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use palisade_db::messaging as shared;
use palisade_db::messaging::voice::{
    self as db, Call, CallFilter, CallPatch, NewCall, NewVoiceCampaign, VoiceCampaign,
    VoiceCampaignPatch,
};
use palisade_db::{DbError, TenantTx};
use palisade_domain::{
    CallId, CallNotes, CallStatus, CampaignName, CampaignStatus, Capability, CustomerId, Direction,
    ParseError, PhoneNumber, ProviderId, VoiceCampaignId, VoiceScript,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::campaign::{self, CampaignChange, CampaignRoute, new_campaign_status};
use super::no_such_customer;
use crate::auth::Tenant;
use crate::etag::IfMatch;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::list::List;
use crate::routes::phone_numbers::from_number_not_owned;
use crate::routes::{Fields, nullable, parse_id};
use crate::{ApiError, AppState};

/// The longest call duration accepted, in seconds (Twilio ends calls after 24 hours).
const MAX_CALL_SECONDS: i64 = 86_400;

/// A voice campaign as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = VoiceCampaign)]
pub struct CampaignJson {
    id: Uuid,
    name: String,
    script: Option<String>,
    #[schema(value_type = CampaignStatus)]
    status: &'static str,
    #[serde(with = "palisade_domain::timestamp::option")]
    scheduled_at: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<VoiceCampaign> for CampaignJson {
    fn from(c: VoiceCampaign) -> Self {
        Self {
            id: c.id,
            name: c.name,
            script: c.script,
            status: c.status.as_str(),
            scheduled_at: c.scheduled_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

impl CampaignRoute for VoiceCampaign {
    type Json = CampaignJson;
    const PARSE_ID: fn(&str) -> Result<VoiceCampaignId, ParseError> = VoiceCampaignId::parse;
}

/// A call as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Call)]
pub struct CallJson {
    id: Uuid,
    voice_campaign_id: Option<Uuid>,
    customer_id: Option<Uuid>,
    #[schema(value_type = Direction)]
    direction: &'static str,
    from_number: String,
    to_number: String,
    /// The carrier's id of the call.
    call_sid: Option<String>,
    #[schema(value_type = CallStatus)]
    status: &'static str,
    duration_seconds: Option<i32>,
    #[serde(with = "palisade_domain::timestamp::option")]
    started_at: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp::option")]
    ended_at: Option<OffsetDateTime>,
    last_sequence_number: Option<i64>,
    notes: Option<String>,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<Call> for CallJson {
    fn from(c: Call) -> Self {
        Self {
            id: c.id,
            voice_campaign_id: c.voice_campaign_id,
            customer_id: c.customer_id,
            direction: c.direction.as_str(),
            from_number: c.from_number,
            to_number: c.to_number,
            call_sid: c.call_sid,
            status: c.status.as_str(),
            duration_seconds: c.duration_seconds,
            started_at: c.started_at,
            ended_at: c.ended_at,
            last_sequence_number: c.last_sequence_number,
            notes: c.notes,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// Create body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = VoiceCampaignCreate)]
pub struct CreateCampaignBody {
    #[schema(required = true)]
    name: Option<String>,
    script: Option<String>,
    /// `draft` (default) or `scheduled`.
    #[schema(value_type = Option<CampaignStatus>)]
    status: Option<String>,
    /// In the future; required to schedule.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    scheduled_at: Option<Option<String>>,
}

/// `POST /v1/voice-campaigns` (201): a draft, or scheduled with a future `scheduled_at`.
pub async fn create_campaign(
    state: web::Data<AppState>,
    tenant: Tenant,
    idem: Idempotency,
    body: crate::extract::Json<CreateCampaignBody>,
) -> Result<HttpResponse, ApiError> {
    let now = OffsetDateTime::now_utc();
    let mut f = Fields::default();
    let name = f.required("name", body.name.as_deref(), CampaignName::parse);
    let script = f.optional("script", body.script.as_deref(), VoiceScript::parse);
    let scheduled_at = f.scheduled_at(&body.scheduled_at, now).flatten();
    let status = new_campaign_status(&mut f, body.status.as_deref(), scheduled_at);
    f.finish()?;
    let Some(name) = name else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    let campaign = db::create_campaign(
        &mut tx,
        &NewVoiceCampaign {
            name,
            script,
            status,
            scheduled_at,
        },
    )
    .await?;
    tx.commit(crate::routes::created(
        "/v1/voice-campaigns",
        campaign.id,
        CampaignJson::from(campaign),
    ))
    .await
}

/// Patch body: absent fields stay; `null` clears `script` and `scheduled_at`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = VoiceCampaignPatch)]
pub struct PatchCampaignBody {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    script: Option<Option<String>>,
    /// Along the transitions clients may make (409 `invalid_status_transition` otherwise).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = CampaignStatus)]
    status: Option<Option<String>>,
    /// In the future.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    scheduled_at: Option<Option<String>>,
}

/// `PATCH /v1/voice-campaigns/{id}`: content while draft or scheduled; status along the
/// allowed transitions (409 otherwise).
pub async fn update_campaign(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
    body: crate::extract::Json<PatchCampaignBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, VoiceCampaignId::parse)?;
    let now = OffsetDateTime::now_utc();
    let mut f = Fields::default();
    let name = f.not_null("name", &body.name, CampaignName::parse);
    let script = match &body.script {
        None => None,
        Some(None) => Some(None),
        Some(Some(s)) => f.optional("script", Some(s), VoiceScript::parse).map(Some),
    };
    let status = f.not_null("status", &body.status, CampaignStatus::parse);
    let scheduled_at = f.scheduled_at(&body.scheduled_at, now);
    f.finish()?;
    let change = CampaignChange {
        status,
        scheduled_at,
        edits_content: body.name.is_some() || body.script.is_some() || body.scheduled_at.is_some(),
    };
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    campaign::check_if_match::<VoiceCampaign>(&mut tx, id, &if_match).await?;
    let status = campaign::lock_and_check::<VoiceCampaign>(&mut tx, id, &change, now).await?;
    let patch = VoiceCampaignPatch {
        name,
        script,
        status,
        scheduled_at,
    };
    let campaign = db::update_campaign(&mut tx, id, &patch)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(CampaignJson::from(campaign)))
}

/// Call list query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CallListQuery {
    #[param(value_type = Option<CallStatus>, inline)]
    status: Option<String>,
    #[param(value_type = Option<Direction>, inline)]
    direction: Option<String>,
    #[param(format = Uuid)]
    voice_campaign_id: Option<String>,
    #[param(format = Uuid)]
    customer_id: Option<String>,
}

/// `GET /v1/calls?status=&direction=&voice_campaign_id=&customer_id=&created_after=&created_before=`.
pub async fn list_calls(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: List<CallListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let status = f.optional("status", q.filter.status.as_deref(), CallStatus::parse);
    let direction = f.optional("direction", q.filter.direction.as_deref(), Direction::parse);
    let voice_campaign_id = f.optional(
        "voice_campaign_id",
        q.filter.voice_campaign_id.as_deref(),
        VoiceCampaignId::parse,
    );
    let customer_id = f.optional(
        "customer_id",
        q.filter.customer_id.as_deref(),
        CustomerId::parse,
    );
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list_calls(
        tx,
        &CallFilter {
            status,
            direction,
            voice_campaign_id,
            customer_id,
        },
        q.page,
    )
    .await?;
    Ok(q.respond(page, CallJson::from))
}

impl Fields {
    /// A call duration in seconds: 0 to [`MAX_CALL_SECONDS`].
    fn duration(&mut self, raw: Option<i64>) -> Option<i32> {
        let secs = raw?;
        match i32::try_from(secs) {
            Ok(s) if (0..=MAX_CALL_SECONDS).contains(&secs) => Some(s),
            _ => {
                self.invalid("duration_seconds", "must be an integer from 0 to 86400");
                None
            }
        }
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
    #[schema(required = true)]
    from_number: Option<String>,
    /// E.164.
    #[schema(required = true)]
    to_number: Option<String>,
    /// The carrier's id; unique within the organization (409 `call_sid_taken`).
    call_sid: Option<String>,
    /// Default `queued`.
    #[schema(value_type = Option<CallStatus>)]
    status: Option<String>,
    #[schema(minimum = 0, maximum = 86400)]
    duration_seconds: Option<i64>,
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

fn call_sid_taken() -> ApiError {
    ApiError::Conflict {
        code: crate::error::ErrorCode::CallSidTaken,
        message: "a call with this call_sid is already recorded in this organization",
    }
}

/// `POST /v1/calls` (201): records a call (placed, received, or to be placed). Status defaults
/// to `queued`; a campaign or customer that is not this organization's answers exactly like a
/// missing one (422 on that field).
pub async fn create_call(
    state: web::Data<AppState>,
    tenant: Tenant,
    idem: Idempotency,
    body: crate::extract::Json<CreateCallBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
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
    let duration_seconds = f.duration(body.duration_seconds);
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
    f.finish()?;
    let (Some(direction), Some(from_number), Some(to_number)) = (direction, from_number, to_number)
    else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    let created = db::create_call(
        &mut tx,
        &NewCall {
            direction,
            from_number,
            to_number,
            call_sid,
            status,
            duration_seconds,
            started_at,
            ended_at,
            voice_campaign_id,
            customer_id,
            notes,
        },
    )
    .await;
    let call = match created {
        Err(e) => return Err(call_write_error(e)),
        Ok(call) => call,
    };
    tx.commit(crate::routes::created(
        "/v1/calls",
        call.id,
        CallJson::from(call),
    ))
    .await
}

/// Maps the constraint errors a call write can meet; a composite foreign key failing means the
/// referenced row is not this organization's, answered exactly like a missing one.
fn call_write_error(e: DbError) -> ApiError {
    if shared::is_fk_violation_of(&e, db::CUSTOMER_FKEY) {
        no_such_customer()
    } else if shared::is_fk_violation_of(&e, db::CAMPAIGN_FKEY) {
        crate::routes::query_params::no_such("voice_campaign_id")
    } else if e.is_unique_violation_of(db::CALL_SID_KEY) {
        call_sid_taken()
    } else if e.is_foreign_key_violation_of(db::FROM_NUMBER_OWNED) {
        from_number_not_owned(Capability::Voice)
    } else {
        e.into()
    }
}

/// `GET /v1/calls/{id}`.
pub async fn get_call(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, CallId::parse)?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let call = db::get_call(tx, id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(CallJson::from(call)))
}

/// Patch body: absent fields stay; `null` clears `notes` and `customer_id`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CallPatch)]
pub struct PatchCallBody {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    notes: Option<Option<String>>,
    /// Forward only (409 `invalid_status_transition` otherwise).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = CallStatus)]
    status: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = i64, minimum = 0, maximum = 86400)]
    duration_seconds: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Uuid)]
    customer_id: Option<Option<String>>,
}

/// `PATCH /v1/calls/{id}`: notes, customer, duration, and status (forward only: 409
/// `invalid_status_transition` otherwise). Moving to `in_progress` records `started_at`;
/// moving to a final status records `ended_at` and, for an answered call without one, the
/// duration.
pub async fn update_call(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
    body: crate::extract::Json<PatchCallBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, CallId::parse)?;
    let mut f = Fields::default();
    let notes = match &body.notes {
        None => None,
        Some(None) => Some(None),
        Some(Some(s)) => f.optional("notes", Some(s), CallNotes::parse).map(Some),
    };
    let customer_id = match &body.customer_id {
        None => None,
        Some(None) => Some(None),
        Some(Some(s)) => f
            .optional("customer_id", Some(s), CustomerId::parse)
            .map(Some),
    };
    let status = f.not_null("status", &body.status, CallStatus::parse);
    let duration_seconds = match body.duration_seconds {
        None => None,
        Some(None) => {
            f.invalid("duration_seconds", "cannot be null");
            None
        }
        Some(Some(secs)) => f.duration(Some(secs)),
    };
    f.finish()?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock_call(&mut tx, id), CallJson::from)
        .await?;
    let current = db::lock_call(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if let Some(to) = status
        && !current.status.may_move_to(to)
    {
        return Err(ApiError::Http {
            status: StatusCode::CONFLICT,
            code: crate::error::ErrorCode::InvalidStatusTransition,
            message: format!(
                "a {} call cannot become {}",
                current.status.as_str(),
                to.as_str()
            ),
        });
    }
    let patch = CallPatch {
        notes,
        customer_id,
        status: status.filter(|s| *s != current.status),
        duration_seconds,
    };
    let call = match db::update_call(&mut tx, id, &patch).await {
        Err(e) => return Err(call_write_error(e)),
        Ok(call) => call.ok_or(ApiError::NotFound)?,
    };
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(CallJson::from(call)))
}

/// `DELETE /v1/calls/{id}` (204).
pub async fn delete_call(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, CallId::parse)?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock_call(&mut tx, id), CallJson::from)
        .await?;
    if !db::delete_call(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
