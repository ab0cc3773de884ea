//! SMS campaigns, and every SMS sent or received. Outbound messages are a campaign's
//! recipients (their status moved forward by Twilio's status callbacks,
//! [`crate::carrier_status`]); inbound ones (written by the Twilio webhook) belong to no campaign.

use palisade_domain::{
    CampaignName, CampaignStatus, CustomerId, Direction, PhoneNumber, SmsBody, SmsCampaignId,
    SmsMessageId, SmsStatus,
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
pub const RECIPIENT_KEY: &str = "sms_messages_recipient_key";
/// The composite foreign key from a message to its customer.
pub const CUSTOMER_FKEY: &str = "sms_messages_customer_fkey";
/// An outbound message's from_number is one of the organization's numbers with the `sms`
/// capability (a trigger, sql/V0070, raising a foreign key violation by this name).
pub const FROM_NUMBER_OWNED: &str = "sms_messages_from_number_owned";
/// A campaign that may still send names one of the organization's numbers with the `sms`
/// capability (composite foreign key, sql/V0070).
pub const CAMPAIGN_FROM_FKEY: &str = "sms_campaigns_from_number_fkey";

macro_rules! campaign_columns {
    () => {
        "id, name, body, from_number, status, scheduled_at, sent_count, delivered_count, \
         undelivered_count, failed_count, created_at, updated_at"
    };
}

macro_rules! message_columns {
    () => {
        "id, campaign_id, customer_id, direction, from_number, to_number, body, status, \
         carrier_sid, error_code, sent_at, delivered_at, failed_at, received_at, created_at, updated_at"
    };
}

/// A campaign's messages by status, kept by [`crate::carrier_status::apply_sms_status`] in
/// the statement that changes a message's status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SmsCounts {
    /// Accepted by the carrier: messages now `sent`, `delivered` or `undelivered`.
    pub sent: i32,
    /// Delivered to handsets (`delivered`).
    pub delivered: i32,
    /// Sent but not delivered (`undelivered`).
    pub undelivered: i32,
    /// Could not be sent (`failed`).
    pub failed: i32,
}

/// An SMS campaign as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SmsCampaign {
    /// Its id.
    pub id: Uuid,
    /// Name (internal).
    pub name: String,
    /// The text sent.
    pub body: String,
    /// The E.164 number it is sent from.
    pub from_number: String,
    /// Status.
    pub status: CampaignStatus,
    /// When it goes (or went) out, if scheduled.
    pub scheduled_at: Option<OffsetDateTime>,
    /// Send counters.
    pub counts: SmsCounts,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// An SMS campaign to create.
#[derive(Debug, Clone)]
pub struct NewSmsCampaign {
    /// Name.
    pub name: CampaignName,
    /// Text.
    pub body: SmsBody,
    /// Sender number.
    pub from_number: PhoneNumber,
    /// Initial status (the API allows draft or scheduled).
    pub status: CampaignStatus,
    /// When it goes out.
    pub scheduled_at: Option<OffsetDateTime>,
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears `scheduled_at`.
#[derive(Debug, Clone, Default)]
pub struct SmsCampaignPatch {
    /// New name.
    pub name: Option<CampaignName>,
    /// New text.
    pub body: Option<SmsBody>,
    /// New sender number.
    pub from_number: Option<PhoneNumber>,
    /// New status (already checked against the current one).
    pub status: Option<CampaignStatus>,
    /// New or cleared schedule.
    pub scheduled_at: Option<Option<OffsetDateTime>>,
}

impl_campaign!(
    SmsCampaign,
    SmsCampaignId,
    "sms_campaigns",
    campaign_columns!()
);

fn campaign_from_row(r: &Row) -> Result<SmsCampaign, DbError> {
    Ok(SmsCampaign {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        body: r.try_get("body")?,
        from_number: r.try_get("from_number")?,
        status: decode(r, "status", CampaignStatus::parse)?,
        scheduled_at: r.try_get("scheduled_at")?,
        counts: SmsCounts {
            sent: r.try_get("sent_count")?,
            delivered: r.try_get("delivered_count")?,
            undelivered: r.try_get("undelivered_count")?,
            failed: r.try_get("failed_count")?,
        },
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Creates a campaign in the acting organization.
pub async fn create_campaign(
    tx: &mut TenantTx,
    new: &NewSmsCampaign,
) -> Result<SmsCampaign, DbError> {
    let id = SmsCampaignId::new();
    let row = tx
        .query_one(
            concat!(
                "INSERT INTO palisade.sms_campaigns (id, name, body, from_number, status, scheduled_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
                campaign_columns!()
            ),
            &[
                &id.as_uuid(),
                &new.name.as_str(),
                &new.body.as_str(),
                &new.from_number.as_str(),
                &new.status.as_str(),
                &new.scheduled_at,
            ],
        )
        .await?;
    campaign_from_row(&row)
}

/// Applies `patch` (checked by the caller against the row it locked); `None` when the campaign
/// does not exist in this organization. Its queued messages get the new body and sender number
/// in the same statement, so a message always shows what it will send.
pub async fn update_campaign(
    tx: &mut TenantTx,
    id: SmsCampaignId,
    patch: &SmsCampaignPatch,
) -> Result<Option<SmsCampaign>, DbError> {
    let set_scheduled = patch.scheduled_at.is_some();
    let scheduled_at = patch.scheduled_at.flatten();
    let row = tx
        .query_opt(
            concat!(
                "WITH c AS ( \
                     UPDATE palisade.sms_campaigns SET \
                         name = coalesce($2, name), \
                         body = coalesce($3, body), \
                         from_number = coalesce($4, from_number), \
                         status = coalesce($5, status), \
                         scheduled_at = CASE WHEN $6 THEN $7 ELSE scheduled_at END, \
                         updated_at = now() \
                     WHERE id = $1 RETURNING *), \
                 m AS ( \
                     UPDATE palisade.sms_messages m \
                        SET body = c.body, from_number = c.from_number, updated_at = now() \
                       FROM c \
                      WHERE m.campaign_id = c.id AND m.status = 'queued' \
                        AND (m.body IS DISTINCT FROM c.body OR m.from_number <> c.from_number)) \
                 SELECT ",
                campaign_columns!(),
                " FROM c"
            ),
            &[
                &id.as_uuid(),
                &patch.name.as_ref().map(CampaignName::as_str),
                &patch.body.as_ref().map(SmsBody::as_str),
                &patch.from_number.as_ref().map(PhoneNumber::as_str),
                &patch.status.map(CampaignStatus::as_str),
                &set_scheduled,
                &scheduled_at,
            ],
        )
        .await?;
    row.map(|r| campaign_from_row(&r)).transpose()
}

/// An SMS as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SmsMessage {
    /// Its id.
    pub id: Uuid,
    /// The campaign (outbound campaign messages only).
    pub campaign_id: Option<Uuid>,
    /// The customer on the other end, if known.
    pub customer_id: Option<Uuid>,
    /// Inbound or outbound.
    pub direction: Direction,
    /// Sender (E.164).
    pub from_number: String,
    /// Recipient (E.164).
    pub to_number: String,
    /// The text (for queued outbound messages: the campaign's current text).
    pub body: Option<String>,
    /// Status.
    pub status: SmsStatus,
    /// The carrier's message SID (Twilio MessageSid), once known.
    pub carrier_sid: Option<String>,
    /// The carrier's error code, when it failed.
    pub error_code: Option<i32>,
    /// When the carrier accepted it.
    pub sent_at: Option<OffsetDateTime>,
    /// When it was delivered.
    pub delivered_at: Option<OffsetDateTime>,
    /// When it failed or was reported undelivered.
    pub failed_at: Option<OffsetDateTime>,
    /// When it arrived (inbound).
    pub received_at: Option<OffsetDateTime>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// A recipient to add to a campaign (an outbound, queued message).
#[derive(Debug, Clone)]
pub struct NewCampaignRecipient {
    /// The campaign (already checked to be editable).
    pub campaign_id: SmsCampaignId,
    /// The customer, if the recipient is one.
    pub customer_id: Option<CustomerId>,
    /// The number.
    pub to_number: PhoneNumber,
}

/// Message list filters.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageFilter {
    /// Only this campaign's messages.
    pub campaign_id: Option<SmsCampaignId>,
    /// Only this direction.
    pub direction: Option<Direction>,
    /// Only this status.
    pub status: Option<SmsStatus>,
    /// Only messages with this customer.
    pub customer_id: Option<CustomerId>,
}

fn message_from_row(r: &Row) -> Result<SmsMessage, DbError> {
    Ok(SmsMessage {
        id: r.try_get("id")?,
        campaign_id: r.try_get("campaign_id")?,
        customer_id: r.try_get("customer_id")?,
        direction: decode(r, "direction", Direction::parse)?,
        from_number: r.try_get("from_number")?,
        to_number: r.try_get("to_number")?,
        body: r.try_get("body")?,
        status: decode(r, "status", SmsStatus::parse)?,
        carrier_sid: r.try_get("carrier_sid")?,
        error_code: r.try_get("error_code")?,
        sent_at: r.try_get("sent_at")?,
        delivered_at: r.try_get("delivered_at")?,
        failed_at: r.try_get("failed_at")?,
        received_at: r.try_get("received_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn cursor_of_message(m: &SmsMessage) -> Cursor {
    Cursor {
        created_at: m.created_at,
        id: m.id,
    }
}

/// One page of SMS messages, newest first. Ends the transaction.
pub async fn list_messages(
    tx: TenantTx,
    filter: &MessageFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<SmsMessage, Cursor>, DbError> {
    let campaign = filter.campaign_id.map(|c| c.as_uuid());
    let customer = filter.customer_id.map(|c| c.as_uuid());
    let direction = filter.direction.map(Direction::as_str);
    let status = filter.status.map(SmsStatus::as_str);
    ListQuery::new(concat!(
        "SELECT ",
        message_columns!(),
        " FROM palisade.sms_messages WHERE true"
    ))
    .and_opt("campaign_id = $", campaign.as_ref())
    .and_opt("direction = $", direction.as_ref())
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
    " FROM palisade.sms_messages WHERE id = $1"
);

/// One message, or `None` when it does not exist in this organization.
pub async fn get_message(tx: TenantTx, id: SmsMessageId) -> Result<Option<SmsMessage>, DbError> {
    let rows = tx.query_once(GET_MESSAGE_SQL, &[&id.as_uuid()]).await?;
    rows.first().map(message_from_row).transpose()
}

/// [`get_message`] inside a write transaction, the row locked until it ends (for `If-Match`).
pub async fn lock_message(
    tx: &mut TenantTx,
    id: SmsMessageId,
) -> Result<Option<SmsMessage>, DbError> {
    crate::lock::for_update(tx, GET_MESSAGE_SQL, id.as_uuid(), message_from_row).await
}

/// Adds a recipient to a campaign: an outbound, queued message from the campaign's number with
/// the campaign's text. `None` when the campaign does not exist in this organization. Fails with
/// [`RECIPIENT_KEY`] when the number is already a recipient, and with [`CUSTOMER_FKEY`] when the
/// customer is not this organization's.
pub async fn create_recipient(
    tx: &mut TenantTx,
    new: &NewCampaignRecipient,
) -> Result<Option<SmsMessage>, DbError> {
    let id = SmsMessageId::new();
    let row = tx
        .query_opt(
            concat!(
                "INSERT INTO palisade.sms_messages \
                     (id, campaign_id, customer_id, direction, from_number, to_number, body, status) \
                 SELECT $1, c.id, $3, 'outbound', c.from_number, $4, c.body, 'queued' \
                   FROM palisade.sms_campaigns c WHERE c.id = $2 \
                 RETURNING ",
                message_columns!()
            ),
            &[
                &id.as_uuid(),
                &new.campaign_id.as_uuid(),
                &new.customer_id.map(|c| c.as_uuid()),
                &new.to_number.as_str(),
            ],
        )
        .await?;
    row.map(|r| message_from_row(&r)).transpose()
}

/// Deletes a message that is still queued; any other status refuses (it has gone out, or it
/// is inbound).
pub async fn delete_message(
    tx: &mut TenantTx,
    id: SmsMessageId,
) -> Result<Guarded<(), SmsStatus>, DbError> {
    let row = tx
        .query_opt(
            "SELECT status FROM palisade.sms_messages WHERE id = $1 FOR UPDATE",
            &[&id.as_uuid()],
        )
        .await?;
    let Some(row) = row else {
        return Ok(Guarded::NotFound);
    };
    let status = decode(&row, "status", SmsStatus::parse)?;
    if status != SmsStatus::Queued {
        return Ok(Guarded::Refused(status));
    }
    tx.execute(
        "DELETE FROM palisade.sms_messages WHERE id = $1",
        &[&id.as_uuid()],
    )
    .await?;
    Ok(Guarded::Done(()))
}
