//! `/v1/email-campaigns`, their recipients (`/v1/email-campaigns/{id}/messages`), and
//! `/v1/email-messages`.

use actix_web::{HttpResponse, web};
use palisade_db::messaging::Guarded;
use palisade_db::messaging::email::{
    self as db, EmailCampaign, EmailCampaignPatch, EmailMessage, MessageFilter, NewEmailCampaign,
    NewEmailMessage,
};
use palisade_db::{PageRequest, TenantTx};
use palisade_domain::{
    CampaignName, CampaignStatus, CustomerId, EmailAddress, EmailBody, EmailCampaignId,
    EmailMessageId, EmailStatus, EmailSubject, ParseError,
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
use crate::routes::{Fields, nullable, parse_id};
use crate::{ApiError, AppState};

/// Send counters as clients see them.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = EmailCampaignCounts)]
pub struct CountsJson {
    sent: i32,
    delivered: i32,
    opened: i32,
    clicked: i32,
    bounced: i32,
    failed: i32,
}

/// An email campaign as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = EmailCampaign)]
pub struct CampaignJson {
    id: Uuid,
    name: String,
    subject: String,
    body: String,
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

impl From<EmailCampaign> for CampaignJson {
    fn from(c: EmailCampaign) -> Self {
        Self {
            id: c.id,
            name: c.name,
            subject: c.subject,
            body: c.body,
            status: c.status.as_str(),
            scheduled_at: c.scheduled_at,
            counts: CountsJson {
                sent: c.counts.sent,
                delivered: c.counts.delivered,
                opened: c.counts.opened,
                clicked: c.counts.clicked,
                bounced: c.counts.bounced,
                failed: c.counts.failed,
            },
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

impl CampaignRoute for EmailCampaign {
    type Json = CampaignJson;
    const PARSE_ID: fn(&str) -> Result<EmailCampaignId, ParseError> = EmailCampaignId::parse;
}

/// An email message (one recipient) as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = EmailMessage)]
pub struct MessageJson {
    id: Uuid,
    campaign_id: Uuid,
    customer_id: Option<Uuid>,
    #[schema(format = Email)]
    to_email: String,
    #[schema(value_type = EmailStatus)]
    status: &'static str,
    provider_message_id: Option<String>,
    #[serde(with = "palisade_domain::timestamp::option")]
    sent_at: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp::option")]
    delivered_at: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp::option")]
    opened_at: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp::option")]
    clicked_at: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp::option")]
    failed_at: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<EmailMessage> for MessageJson {
    fn from(m: EmailMessage) -> Self {
        Self {
            id: m.id,
            campaign_id: m.campaign_id,
            customer_id: m.customer_id,
            to_email: m.to_email,
            status: m.status.as_str(),
            provider_message_id: m.provider_message_id,
            sent_at: m.sent_at,
            delivered_at: m.delivered_at,
            opened_at: m.opened_at,
            clicked_at: m.clicked_at,
            failed_at: m.failed_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// Create body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EmailCampaignCreate)]
pub struct CreateCampaignBody {
    #[schema(required = true)]
    name: Option<String>,
    #[schema(required = true)]
    subject: Option<String>,
    #[schema(required = true)]
    body: Option<String>,
    /// `draft` (default) or `scheduled`.
    #[schema(value_type = Option<CampaignStatus>)]
    status: Option<String>,
    /// In the future; required to schedule.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    scheduled_at: Option<Option<String>>,
}

/// `POST /v1/email-campaigns` (201): a draft, or scheduled with a future `scheduled_at`.
pub async fn create_campaign(
    state: web::Data<AppState>,
    tenant: Tenant,
    idem: Idempotency,
    body: crate::extract::Json<CreateCampaignBody>,
) -> Result<HttpResponse, ApiError> {
    let now = OffsetDateTime::now_utc();
    let mut f = Fields::default();
    let name = f.required("name", body.name.as_deref(), CampaignName::parse);
    let subject = f.required("subject", body.subject.as_deref(), EmailSubject::parse);
    let text = f.required("body", body.body.as_deref(), EmailBody::parse);
    let scheduled_at = f.scheduled_at(&body.scheduled_at, now).flatten();
    let status = new_campaign_status(&mut f, body.status.as_deref(), scheduled_at);
    f.finish()?;
    let (Some(name), Some(subject), Some(body)) = (name, subject, text) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    let campaign = db::create_campaign(
        &mut tx,
        &NewEmailCampaign {
            name,
            subject,
            body,
            status,
            scheduled_at,
        },
    )
    .await?;
    tx.commit(crate::routes::created(
        "/v1/email-campaigns",
        campaign.id,
        CampaignJson::from(campaign),
    ))
    .await
}

/// Patch body: absent fields stay; `null` clears `scheduled_at`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EmailCampaignPatch)]
pub struct PatchCampaignBody {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String)]
    subject: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String)]
    body: Option<Option<String>>,
    /// Along the transitions clients may make (409 `invalid_status_transition` otherwise).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = CampaignStatus)]
    status: Option<Option<String>>,
    /// In the future.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    scheduled_at: Option<Option<String>>,
}

/// `PATCH /v1/email-campaigns/{id}`: content while draft or scheduled; status along the allowed
/// transitions (409 otherwise).
pub async fn update_campaign(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
    body: crate::extract::Json<PatchCampaignBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, EmailCampaignId::parse)?;
    let now = OffsetDateTime::now_utc();
    let mut f = Fields::default();
    let name = f.not_null("name", &body.name, CampaignName::parse);
    let subject = f.not_null("subject", &body.subject, EmailSubject::parse);
    let text = f.not_null("body", &body.body, EmailBody::parse);
    let status = f.not_null("status", &body.status, CampaignStatus::parse);
    let scheduled_at = f.scheduled_at(&body.scheduled_at, now);
    f.finish()?;
    let change = CampaignChange {
        status,
        scheduled_at,
        edits_content: body.name.is_some()
            || body.subject.is_some()
            || body.body.is_some()
            || body.scheduled_at.is_some(),
    };
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    campaign::check_if_match::<EmailCampaign>(&mut tx, id, &if_match).await?;
    let status = campaign::lock_and_check::<EmailCampaign>(&mut tx, id, &change, now).await?;
    let patch = EmailCampaignPatch {
        name,
        subject,
        body: text,
        status,
        scheduled_at,
    };
    let campaign = db::update_campaign(&mut tx, id, &patch)
        .await?
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
    #[param(value_type = Option<EmailStatus>, inline)]
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
        EmailCampaignId::parse,
    );
    let status = f.optional("status", q.filter.status.as_deref(), EmailStatus::parse);
    let customer_id = f.optional(
        "customer_id",
        q.filter.customer_id.as_deref(),
        CustomerId::parse,
    );
    f.finish()?;
    Ok((
        MessageFilter {
            campaign_id,
            status,
            customer_id,
        },
        q.page,
    ))
}

/// `GET /v1/email-messages?campaign_id=&status=&customer_id=&created_after=&created_before=`:
/// every campaign's messages, newest first.
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

/// `GET /v1/email-campaigns/{id}/messages?status=&customer_id=&created_after=&created_before=`:
/// this campaign's recipients only; 404 when the campaign is not this organization's.
pub async fn list_campaign_messages(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    q: List<MessageListQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, EmailCampaignId::parse)?;
    let (mut filter, page) = message_filter(&q)?;
    campaign_from_path(&mut filter.campaign_id, id)?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    campaign::require_campaign::<EmailCampaign>(&mut tx, id).await?;
    Ok(q.respond(
        db::list_messages(tx, &filter, page).await?,
        MessageJson::from,
    ))
}

/// A recipient's address: `to_email`, else the customer's email.
const TO_EMAIL: RecipientAddress<EmailAddress> = RecipientAddress {
    field: "to_email",
    parse: EmailAddress::parse,
    contact: |c| c.email,
    missing: "is required: the customer has no email",
};

/// Add-recipient body: a customer (whose email is used unless `to_email` is given), an
/// address, or both.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EmailRecipientCreate)]
pub struct CreateMessageBody {
    /// A customer of this organization.
    #[schema(format = Uuid)]
    customer_id: Option<String>,
    /// Required unless `customer_id` is given (default: the customer's email).
    #[schema(format = Email)]
    to_email: Option<String>,
}

/// `POST /v1/email-campaigns/{id}/messages` (201): adds a queued recipient to a draft or
/// scheduled campaign.
pub async fn create_message(
    state: web::Data<AppState>,
    tenant: Tenant,
    idem: Idempotency,
    path: web::Path<String>,
    body: crate::extract::Json<CreateMessageBody>,
) -> Result<HttpResponse, ApiError> {
    let campaign_id = parse_id(&path, EmailCampaignId::parse)?;
    let (customer_id, to_email) =
        TO_EMAIL.fields(body.customer_id.as_deref(), body.to_email.as_deref())?;
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    campaign::takes_recipients::<EmailCampaign>(&mut tx, campaign_id).await?;
    let to_email = TO_EMAIL.resolve(&mut tx, to_email, customer_id).await?;
    let created = db::create_message(
        &mut tx,
        &NewEmailMessage {
            campaign_id,
            customer_id,
            to_email,
        },
    )
    .await;
    let message = recipient_created(created, db::CUSTOMER_FKEY, db::RECIPIENT_KEY)?;
    tx.commit(crate::routes::created(
        "/v1/email-messages",
        message.id,
        MessageJson::from(message),
    ))
    .await
}

/// `GET /v1/email-messages/{id}`.
pub async fn get_message(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, EmailMessageId::parse)?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let message = db::get_message(tx, id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(MessageJson::from(message)))
}

/// `DELETE /v1/email-messages/{id}` (204): only while queued (409 once it has gone out).
pub async fn delete_message(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, EmailMessageId::parse)?;
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
