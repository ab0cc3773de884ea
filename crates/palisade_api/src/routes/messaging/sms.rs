//! `/v1/sms-campaigns`, their recipients (`/v1/sms-campaigns/{id}/messages`), and
//! `/v1/sms-messages` (every SMS sent or received; inbound ones arrive through the Twilio
//! webhook, `POST /webhooks/twilio/sms`, and belong to no campaign).

use actix_web::{HttpResponse, web};
use palisade_db::messaging::Guarded;
use palisade_db::messaging::sms::{
    self as db, MessageFilter, NewCampaignRecipient, NewSmsCampaign, SmsCampaign, SmsCampaignPatch,
    SmsMessage,
};
use palisade_db::{DbError, PageRequest, TenantTx};
use palisade_domain::{
    CampaignName, CampaignStatus, Capability, CustomerId, Direction, ParseError, PhoneNumber,
    SmsBody, SmsCampaignId, SmsMessageId, SmsStatus,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::campaign::{self, CampaignChange, CampaignRoute, new_campaign_status};
use super::message_not_queued;
use super::recipients::{RecipientAddress, campaign_from_path, recipient_created};
use crate::auth::Tenant;
use crate::etag::IfMatch;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::list::List;
use crate::routes::phone_numbers::from_number_not_owned;
use crate::routes::{Fields, nullable, parse_id};
use crate::{ApiError, AppState};

/// Send counters as clients see them.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SmsCampaignCounts)]
pub struct CountsJson {
    sent: i32,
    delivered: i32,
    undelivered: i32,
    failed: i32,
}

/// An SMS campaign as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SmsCampaign)]
pub struct CampaignJson {
    id: Uuid,
    name: String,
    body: String,
    /// One of this organization's phone numbers with the `sms` capability.
    from_number: String,
    #[schema(value_type = CampaignStatus)]
    status: &'static str,
    #[serde(with = "palisade_domain::timestamp::option")]
    scheduled_at: Option<OffsetDateTime>,
    counts: CountsJson,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<SmsCampaign> for CampaignJson {
    fn from(c: SmsCampaign) -> Self {
        Self {
            id: c.id,
            name: c.name,
            body: c.body,
            from_number: c.from_number,
            status: c.status.as_str(),
            scheduled_at: c.scheduled_at,
            counts: CountsJson {
                sent: c.counts.sent,
                delivered: c.counts.delivered,
                undelivered: c.counts.undelivered,
                failed: c.counts.failed,
            },
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

impl CampaignRoute for SmsCampaign {
    type Json = CampaignJson;
    const PARSE_ID: fn(&str) -> Result<SmsCampaignId, ParseError> = SmsCampaignId::parse;
}

/// An SMS as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SmsMessage)]
pub struct MessageJson {
    id: Uuid,
    /// `null` for inbound messages.
    campaign_id: Option<Uuid>,
    customer_id: Option<Uuid>,
    #[schema(value_type = Direction)]
    direction: &'static str,
    from_number: String,
    to_number: String,
    body: Option<String>,
    #[schema(value_type = SmsStatus)]
    status: &'static str,
    carrier_sid: Option<String>,
    error_code: Option<i32>,
    #[serde(with = "palisade_domain::timestamp::option")]
    sent_at: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp::option")]
    delivered_at: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp::option")]
    failed_at: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp::option")]
    received_at: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<SmsMessage> for MessageJson {
    fn from(m: SmsMessage) -> Self {
        Self {
            id: m.id,
            campaign_id: m.campaign_id,
            customer_id: m.customer_id,
            direction: m.direction.as_str(),
            from_number: m.from_number,
            to_number: m.to_number,
            body: m.body,
            status: m.status.as_str(),
            carrier_sid: m.carrier_sid,
            error_code: m.error_code,
            sent_at: m.sent_at,
            delivered_at: m.delivered_at,
            failed_at: m.failed_at,
            received_at: m.received_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// Create body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SmsCampaignCreate)]
pub struct CreateCampaignBody {
    #[schema(required = true)]
    name: Option<String>,
    #[schema(required = true)]
    body: Option<String>,
    /// One of this organization's phone numbers with the `sms` capability (422
    /// `from_number_not_owned` otherwise).
    #[schema(required = true)]
    from_number: Option<String>,
    /// `draft` (default) or `scheduled`.
    #[schema(value_type = Option<CampaignStatus>)]
    status: Option<String>,
    /// In the future; required to schedule.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    scheduled_at: Option<Option<String>>,
}

/// `POST /v1/sms-campaigns` (201): a draft, or scheduled with a future `scheduled_at`.
pub async fn create_campaign(
    state: web::Data<AppState>,
    tenant: Tenant,
    idem: Idempotency,
    body: crate::extract::Json<CreateCampaignBody>,
) -> Result<HttpResponse, ApiError> {
    let now = OffsetDateTime::now_utc();
    let mut f = Fields::default();
    let name = f.required("name", body.name.as_deref(), CampaignName::parse);
    let text = f.required("body", body.body.as_deref(), SmsBody::parse);
    let from_number = f.required(
        "from_number",
        body.from_number.as_deref(),
        PhoneNumber::parse,
    );
    let scheduled_at = f.scheduled_at(&body.scheduled_at, now).flatten();
    let status = new_campaign_status(&mut f, body.status.as_deref(), scheduled_at);
    f.finish()?;
    let (Some(name), Some(body), Some(from_number)) = (name, text, from_number) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    let campaign = db::create_campaign(
        &mut tx,
        &NewSmsCampaign {
            name,
            body,
            from_number,
            status,
            scheduled_at,
        },
    )
    .await
    .map_err(sms_write_error)?;
    tx.commit(crate::routes::created(
        "/v1/sms-campaigns",
        campaign.id,
        CampaignJson::from(campaign),
    ))
    .await
}

/// 422 `from_number_not_owned` when a campaign or its messages would send from a number that
/// is not one of this organization's SMS numbers (the database refuses it: sql/V0070).
fn sms_write_error(e: DbError) -> ApiError {
    if e.is_foreign_key_violation_of(db::CAMPAIGN_FROM_FKEY)
        || e.is_foreign_key_violation_of(db::FROM_NUMBER_OWNED)
    {
        from_number_not_owned(Capability::Sms)
    } else {
        e.into()
    }
}

/// Patch body: absent fields stay; `null` clears `scheduled_at`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SmsCampaignPatch)]
pub struct PatchCampaignBody {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String)]
    body: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String)]
    from_number: Option<Option<String>>,
    /// Along the transitions clients may make (409 `invalid_status_transition` otherwise).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = CampaignStatus)]
    status: Option<Option<String>>,
    /// In the future.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    scheduled_at: Option<Option<String>>,
}

/// `PATCH /v1/sms-campaigns/{id}`: content while draft or scheduled (queued recipients follow
/// the new text and number); status along the allowed transitions (409 otherwise).
pub async fn update_campaign(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
    body: crate::extract::Json<PatchCampaignBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, SmsCampaignId::parse)?;
    let now = OffsetDateTime::now_utc();
    let mut f = Fields::default();
    let name = f.not_null("name", &body.name, CampaignName::parse);
    let text = f.not_null("body", &body.body, SmsBody::parse);
    let from_number = f.not_null("from_number", &body.from_number, PhoneNumber::parse);
    let status = f.not_null("status", &body.status, CampaignStatus::parse);
    let scheduled_at = f.scheduled_at(&body.scheduled_at, now);
    f.finish()?;
    let change = CampaignChange {
        status,
        scheduled_at,
        edits_content: body.name.is_some()
            || body.body.is_some()
            || body.from_number.is_some()
            || body.scheduled_at.is_some(),
    };
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    campaign::check_if_match::<SmsCampaign>(&mut tx, id, &if_match).await?;
    let status = campaign::lock_and_check::<SmsCampaign>(&mut tx, id, &change, now).await?;
    let patch = SmsCampaignPatch {
        name,
        body: text,
        from_number,
        status,
        scheduled_at,
    };
    let campaign = db::update_campaign(&mut tx, id, &patch)
        .await
        .map_err(sms_write_error)?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(CampaignJson::from(campaign)))
}

/// Message list query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MessageListQuery {
    /// On a campaign's own list, only that campaign (anything else is 422).
    #[param(format = Uuid)]
    campaign_id: Option<String>,
    #[param(value_type = Option<Direction>, inline)]
    direction: Option<String>,
    #[param(value_type = Option<SmsStatus>, inline)]
    status: Option<String>,
    #[param(format = Uuid)]
    customer_id: Option<String>,
}

fn message_filter(
    q: &List<MessageListQuery>,
) -> Result<(MessageFilter, PageRequest<palisade_db::list::Cursor>), ApiError> {
    let mut f = Fields::default();
    let campaign_id = f.optional(
        "campaign_id",
        q.filter.campaign_id.as_deref(),
        SmsCampaignId::parse,
    );
    let direction = f.optional("direction", q.filter.direction.as_deref(), Direction::parse);
    let status = f.optional("status", q.filter.status.as_deref(), SmsStatus::parse);
    let customer_id = f.optional(
        "customer_id",
        q.filter.customer_id.as_deref(),
        CustomerId::parse,
    );
    f.finish()?;
    Ok((
        MessageFilter {
            campaign_id,
            direction,
            status,
            customer_id,
        },
        q.page,
    ))
}

/// `GET /v1/sms-messages?campaign_id=&direction=&status=&customer_id=&created_after=&created_before=`:
/// every SMS, inbound and outbound, newest first.
pub async fn list_messages(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: List<MessageListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (filter, page) = message_filter(&q)?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    Ok(q.respond(
        db::list_messages(tx, &filter, page).await?,
        MessageJson::from,
    ))
}

/// `GET /v1/sms-campaigns/{id}/messages?status=&customer_id=&created_after=&created_before=`:
/// this campaign's recipients only; 404 when the campaign is not this organization's.
pub async fn list_campaign_messages(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    q: List<MessageListQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, SmsCampaignId::parse)?;
    let (mut filter, page) = message_filter(&q)?;
    campaign_from_path(&mut filter.campaign_id, id)?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    campaign::require_campaign::<SmsCampaign>(&mut tx, id).await?;
    Ok(q.respond(
        db::list_messages(tx, &filter, page).await?,
        MessageJson::from,
    ))
}

/// A recipient's address: `to_number`, else the customer's phone.
const TO_NUMBER: RecipientAddress<PhoneNumber> = RecipientAddress {
    field: "to_number",
    parse: PhoneNumber::parse,
    contact: |c| c.phone,
    missing: "is required: the customer has no phone",
};

/// Add-recipient body: a customer (whose phone is used unless `to_number` is given), a
/// number, or both.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SmsRecipientCreate)]
pub struct CreateMessageBody {
    /// A customer of this organization.
    #[schema(format = Uuid)]
    customer_id: Option<String>,
    /// E.164; required unless `customer_id` is given (default: the customer's phone).
    to_number: Option<String>,
}

/// `POST /v1/sms-campaigns/{id}/messages` (201): adds a queued outbound message, from the
/// campaign's number with its text, to a draft or scheduled campaign.
pub async fn create_message(
    state: web::Data<AppState>,
    tenant: Tenant,
    idem: Idempotency,
    path: web::Path<String>,
    body: crate::extract::Json<CreateMessageBody>,
) -> Result<HttpResponse, ApiError> {
    let campaign_id = parse_id(&path, SmsCampaignId::parse)?;
    let (customer_id, to_number) =
        TO_NUMBER.fields(body.customer_id.as_deref(), body.to_number.as_deref())?;
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    campaign::takes_recipients::<SmsCampaign>(&mut tx, campaign_id).await?;
    let to_number = TO_NUMBER.resolve(&mut tx, to_number, customer_id).await?;
    let created = db::create_recipient(
        &mut tx,
        &NewCampaignRecipient {
            campaign_id,
            customer_id,
            to_number,
        },
    )
    .await;
    let created = match created {
        // A campaign from before the ownership rule may name a number this organization
        // does not hold: it cannot queue messages from it.
        Err(e) if e.is_foreign_key_violation_of(db::FROM_NUMBER_OWNED) => {
            return Err(from_number_not_owned(Capability::Sms));
        }
        other => other,
    };
    let message = recipient_created(created, db::CUSTOMER_FKEY, db::RECIPIENT_KEY)?
        .ok_or(ApiError::NotFound)?;
    tx.commit(crate::routes::created(
        "/v1/sms-messages",
        message.id,
        MessageJson::from(message),
    ))
    .await
}

/// `GET /v1/sms-messages/{id}`.
pub async fn get_message(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, SmsMessageId::parse)?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let message = db::get_message(tx, id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(MessageJson::from(message)))
}

/// `DELETE /v1/sms-messages/{id}` (204): only while queued (409 once it has gone out, and for
/// inbound messages).
pub async fn delete_message(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, SmsMessageId::parse)?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock_message(&mut tx, id), MessageJson::from)
        .await?;
    match db::delete_message(&mut tx, id).await? {
        Guarded::Done(()) => {}
        Guarded::NotFound => return Err(ApiError::NotFound),
        Guarded::Refused(status) => return Err(message_not_queued(status.as_str())),
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
