//! Email campaigns and their messages (one row per recipient).

use palisade_domain::{
    CampaignName, CampaignStatus, CustomerId, EmailAddress, EmailBody, EmailCampaignId,
    EmailMessageId, EmailStatus, EmailSubject,
};
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

pub use super::campaign::CampaignFilter;
use super::campaign::impl_campaign;
use super::{Guarded, decode};
use crate::list::{Cursor, ListQuery};
use crate::{DbError, Page, PageRequest, TenantTx};

/// The key that keeps one row per recipient of a campaign.
pub const RECIPIENT_KEY: &str = "email_messages_recipient_key";
/// The composite foreign key from a message to its customer.
pub const CUSTOMER_FKEY: &str = "email_messages_customer_fkey";

macro_rules! campaign_columns {
    () => {
        "id, name, subject, body, status, scheduled_at, sent_count, delivered_count, opened_count, \
         clicked_count, bounced_count, failed_count, created_at, updated_at"
    };
}

macro_rules! message_columns {
    () => {
        "id, campaign_id, customer_id, to_email, status, provider_message_id, sent_at, \
         delivered_at, opened_at, clicked_at, failed_at, created_at, updated_at"
    };
}

/// What the sender and the provider webhooks counted for a campaign.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmailCounts {
    /// Handed to the provider.
    pub sent: i32,
    /// Accepted by recipients' servers.
    pub delivered: i32,
    /// Opened.
    pub opened: i32,
    /// Clicked.
    pub clicked: i32,
    /// Bounced.
    pub bounced: i32,
    /// Failed or dropped.
    pub failed: i32,
}

/// An email campaign as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailCampaign {
    /// Its id.
    pub id: Uuid,
    /// Name (internal).
    pub name: String,
    /// Subject line.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Status.
    pub status: CampaignStatus,
    /// When it goes (or went) out, if scheduled.
    pub scheduled_at: Option<OffsetDateTime>,
    /// Send counters.
    pub counts: EmailCounts,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// An email campaign to create.
#[derive(Debug, Clone)]
pub struct NewEmailCampaign {
    /// Name.
    pub name: CampaignName,
    /// Subject line.
    pub subject: EmailSubject,
    /// Body.
    pub body: EmailBody,
    /// Initial status (the API allows draft or scheduled).
    pub status: CampaignStatus,
    /// When it goes out.
    pub scheduled_at: Option<OffsetDateTime>,
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears `scheduled_at`.
#[derive(Debug, Clone, Default)]
pub struct EmailCampaignPatch {
    /// New name.
    pub name: Option<CampaignName>,
    /// New subject.
    pub subject: Option<EmailSubject>,
    /// New body.
    pub body: Option<EmailBody>,
    /// New status (already checked against the current one).
    pub status: Option<CampaignStatus>,
    /// New or cleared schedule.
    pub scheduled_at: Option<Option<OffsetDateTime>>,
}

impl_campaign!(
    EmailCampaign,
    EmailCampaignId,
    "email_campaigns",
    campaign_columns!()
);

fn campaign_from_row(r: &Row) -> Result<EmailCampaign, DbError> {
    Ok(EmailCampaign {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        status: decode(r, "status", CampaignStatus::parse)?,
        scheduled_at: r.try_get("scheduled_at")?,
        counts: EmailCounts {
            sent: r.try_get("sent_count")?,
            delivered: r.try_get("delivered_count")?,
            opened: r.try_get("opened_count")?,
            clicked: r.try_get("clicked_count")?,
            bounced: r.try_get("bounced_count")?,
            failed: r.try_get("failed_count")?,
        },
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Creates a campaign in the acting organization.
pub async fn create_campaign(
    tx: &mut TenantTx,
    new: &NewEmailCampaign,
) -> Result<EmailCampaign, DbError> {
    let id = EmailCampaignId::new();
    let row = tx
        .query_one(
            concat!(
                "INSERT INTO palisade.email_campaigns (id, name, subject, body, status, scheduled_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
                campaign_columns!()
            ),
            &[
                &id.as_uuid(),
                &new.name.as_str(),
                &new.subject.as_str(),
                &new.body.as_str(),
                &new.status.as_str(),
                &new.scheduled_at,
            ],
        )
        .await?;
    campaign_from_row(&row)
}

/// Applies `patch` (checked by the caller against the row it locked); `None` when the campaign
/// does not exist in this organization.
pub async fn update_campaign(
    tx: &mut TenantTx,
    id: EmailCampaignId,
    patch: &EmailCampaignPatch,
) -> Result<Option<EmailCampaign>, DbError> {
    let set_scheduled = patch.scheduled_at.is_some();
    let scheduled_at = patch.scheduled_at.flatten();
    let row = tx
        .query_opt(
            concat!(
                "UPDATE palisade.email_campaigns SET \
                     name = coalesce($2, name), \
                     subject = coalesce($3, subject), \
                     body = coalesce($4, body), \
                     status = coalesce($5, status), \
                     scheduled_at = CASE WHEN $6 THEN $7 ELSE scheduled_at END, \
                     updated_at = now() \
                 WHERE id = $1 RETURNING ",
                campaign_columns!()
            ),
            &[
                &id.as_uuid(),
                &patch.name.as_ref().map(CampaignName::as_str),
                &patch.subject.as_ref().map(EmailSubject::as_str),
                &patch.body.as_ref().map(EmailBody::as_str),
                &patch.status.map(CampaignStatus::as_str),
                &set_scheduled,
                &scheduled_at,
            ],
        )
        .await?;
    row.map(|r| campaign_from_row(&r)).transpose()
}

/// One recipient of a campaign, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailMessage {
    /// Its id.
    pub id: Uuid,
    /// The campaign.
    pub campaign_id: Uuid,
    /// The customer it was addressed to, if any (cleared when the customer is deleted).
    pub customer_id: Option<Uuid>,
    /// The address.
    pub to_email: String,
    /// Delivery status.
    pub status: EmailStatus,
    /// The provider's message id, once handed over.
    pub provider_message_id: Option<String>,
    /// When the provider accepted it.
    pub sent_at: Option<OffsetDateTime>,
    /// When it was delivered.
    pub delivered_at: Option<OffsetDateTime>,
    /// When it was first opened.
    pub opened_at: Option<OffsetDateTime>,
    /// When a link was first clicked.
    pub clicked_at: Option<OffsetDateTime>,
    /// When it failed, bounced or was dropped.
    pub failed_at: Option<OffsetDateTime>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// A recipient to add.
#[derive(Debug, Clone)]
pub struct NewEmailMessage {
    /// The campaign (already checked to be editable).
    pub campaign_id: EmailCampaignId,
    /// The customer, if the recipient is one.
    pub customer_id: Option<CustomerId>,
    /// The address.
    pub to_email: EmailAddress,
}

/// Message list filters.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageFilter {
    /// Only this campaign's messages.
    pub campaign_id: Option<EmailCampaignId>,
    /// Only this status.
    pub status: Option<EmailStatus>,
    /// Only messages to this customer.
    pub customer_id: Option<CustomerId>,
}

fn message_from_row(r: &Row) -> Result<EmailMessage, DbError> {
    Ok(EmailMessage {
        id: r.try_get("id")?,
        campaign_id: r.try_get("campaign_id")?,
        customer_id: r.try_get("customer_id")?,
        to_email: r.try_get("to_email")?,
        status: decode(r, "status", EmailStatus::parse)?,
        provider_message_id: r.try_get("provider_message_id")?,
        sent_at: r.try_get("sent_at")?,
        delivered_at: r.try_get("delivered_at")?,
        opened_at: r.try_get("opened_at")?,
        clicked_at: r.try_get("clicked_at")?,
        failed_at: r.try_get("failed_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn cursor_of_message(m: &EmailMessage) -> Cursor {
    Cursor {
        created_at: m.created_at,
        id: m.id,
    }
}

/// One page of email messages, newest first. Ends the transaction.
pub async fn list_messages(
    tx: TenantTx,
    filter: &MessageFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<EmailMessage, Cursor>, DbError> {
    let campaign = filter.campaign_id.map(|c| c.as_uuid());
    let customer = filter.customer_id.map(|c| c.as_uuid());
    let status = filter.status.map(EmailStatus::as_str);
    ListQuery::new(concat!(
        "SELECT ",
        message_columns!(),
        " FROM palisade.email_messages WHERE true"
    ))
    .and_opt("campaign_id = $", campaign.as_ref())
    .and_opt("status = $", status.as_ref())
    .and_opt("customer_id = $", customer.as_ref())
    .page(&page)
    .fetch(tx, page.limit, message_from_row, cursor_of_message)
    .await
}

/// The statement of [`get_message`] (and, `FOR UPDATE`, of [`lock_message`]).
const GET_MESSAGE_SQL: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM palisade.email_messages WHERE id = $1"
);

/// One message, or `None` when it does not exist in this organization.
pub async fn get_message(
    tx: TenantTx,
    id: EmailMessageId,
) -> Result<Option<EmailMessage>, DbError> {
    let rows = tx.query_once(GET_MESSAGE_SQL, &[&id.as_uuid()]).await?;
    rows.first().map(message_from_row).transpose()
}

/// [`get_message`] inside a write transaction, the row locked until it ends (for `If-Match`).
pub async fn lock_message(
    tx: &mut TenantTx,
    id: EmailMessageId,
) -> Result<Option<EmailMessage>, DbError> {
    crate::lock::for_update(tx, GET_MESSAGE_SQL, id.as_uuid(), message_from_row).await
}

/// Adds a recipient. Fails with [`RECIPIENT_KEY`] when the address is already a recipient of
/// the campaign, and with [`CUSTOMER_FKEY`] when the customer is not this organization's.
pub async fn create_message(
    tx: &mut TenantTx,
    new: &NewEmailMessage,
) -> Result<EmailMessage, DbError> {
    let id = EmailMessageId::new();
    let row = tx
        .query_one(
            concat!(
                "INSERT INTO palisade.email_messages (id, campaign_id, customer_id, to_email, status) \
                 VALUES ($1, $2, $3, $4, 'queued') RETURNING ",
                message_columns!()
            ),
            &[
                &id.as_uuid(),
                &new.campaign_id.as_uuid(),
                &new.customer_id.map(|c| c.as_uuid()),
                &new.to_email.as_str(),
            ],
        )
        .await?;
    message_from_row(&row)
}

/// Deletes a message that is still queued; any other status refuses (it has gone out).
pub async fn delete_message(
    tx: &mut TenantTx,
    id: EmailMessageId,
) -> Result<Guarded<(), EmailStatus>, DbError> {
    let row = tx
        .query_opt(
            "SELECT status FROM palisade.email_messages WHERE id = $1 FOR UPDATE",
            &[&id.as_uuid()],
        )
        .await?;
    let Some(row) = row else {
        return Ok(Guarded::NotFound);
    };
    let status = decode(&row, "status", EmailStatus::parse)?;
    if status != EmailStatus::Queued {
        return Ok(Guarded::Refused(status));
    }
    tx.execute(
        "DELETE FROM palisade.email_messages WHERE id = $1",
        &[&id.as_uuid()],
    )
    .await?;
    Ok(Guarded::Done(()))
}
