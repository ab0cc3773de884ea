//! SMS campaigns, and every SMS sent or received: the rows, filters, inserts and updates;
//! reading, locking, listing and deleting are [`crate::crud`]'s. Outbound messages are a
//! campaign's recipients (their status moved forward by Twilio's status callbacks,
//! [`crate::twilio_status`]); inbound ones (written by the Twilio webhook) belong to no campaign.

use palisade_domain::{
    CampaignName, CustomerId, Direction, PhoneNumber, SmsBody, SmsMessageId, SmsStatus,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::campaign::impl_campaign;
use crate::crud;
use crate::{DbError, TenantTx};

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

crate::table! {
    /// An SMS campaign as stored. Its counters count its messages by status, kept by
    /// [`crate::twilio_status::apply_sms_status`] in the statement that changes a message's
    /// status.
    pub struct SmsCampaign in "palisade.sms_campaigns" {
        /// Its id.
        id: Uuid,
        /// Name (internal).
        name: String,
        /// The text sent.
        body: String,
        /// The E.164 number it is sent from.
        from_number: String,
        /// Status ([`CampaignStatus`](palisade_domain::CampaignStatus)).
        status: String,
        /// When it goes (or went) out, if scheduled.
        scheduled_at: Option<OffsetDateTime>,
        /// Accepted by the carrier: messages now `sent`, `delivered` or `undelivered`.
        sent_count: i32,
        /// Delivered to handsets (`delivered`).
        delivered_count: i32,
        /// Sent but not delivered (`undelivered`).
        undelivered_count: i32,
        /// Could not be sent (`failed`).
        failed_count: i32,
        /// Creation time.
        created_at: OffsetDateTime,
        /// Last change.
        updated_at: OffsetDateTime,
    }
}

impl_campaign!(SmsCampaign, "palisade.sms_campaigns");

super::campaign::content_types! {
    /// An SMS campaign's content.
    SmsCampaign: SmsContent, SmsEdit {
        /// Name.
        name: set CampaignName,
        /// Text.
        body: set SmsBody,
        /// Sender number.
        from_number: set PhoneNumber,
    }
    before: QUEUED_FOLLOW;
}

/// An SMS campaign's queued messages get its new body and sender number in the same statement
/// as the campaign, so a message always shows what it will send (`$3` the body, `$4` the
/// number, in the order [`SmsEdit`] declares them).
const QUEUED_FOLLOW: &str = "WITH m AS ( \
     UPDATE palisade.sms_messages m \
        SET body = coalesce($3, c.body), \
            from_number = coalesce($4, c.from_number), updated_at = now() \
       FROM palisade.sms_campaigns c \
      WHERE c.id = $1 AND m.campaign_id = c.id AND m.status = 'queued' \
        AND (m.body IS DISTINCT FROM coalesce($3, c.body) \
             OR m.from_number <> coalesce($4, c.from_number))) ";

crate::table! {
    /// An SMS as stored, and as clients see it.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct SmsMessage in "palisade.sms_messages" {
        /// Its id.
        id: Uuid,
        /// The campaign (outbound campaign messages only; `null` for inbound messages).
        campaign_id: Option<Uuid>,
        /// The customer on the other end, if known.
        customer_id: Option<Uuid>,
        /// Inbound or outbound.
        #[schema(value_type = Direction)]
        direction: String,
        /// Sender (E.164).
        from_number: String,
        /// Recipient (E.164).
        to_number: String,
        /// The text (for queued outbound messages: the campaign's current text).
        body: Option<String>,
        /// Status.
        #[schema(value_type = SmsStatus)]
        status: String,
        /// The carrier's message SID (Twilio MessageSid), once known.
        carrier_sid: Option<String>,
        /// The carrier's error code, when it failed.
        error_code: Option<i32>,
        /// When the carrier accepted it.
        #[serde(with = "palisade_domain::timestamp::option")]
        sent_at: Option<OffsetDateTime>,
        /// When it was delivered.
        #[serde(with = "palisade_domain::timestamp::option")]
        delivered_at: Option<OffsetDateTime>,
        /// When it failed or was reported undelivered.
        #[serde(with = "palisade_domain::timestamp::option")]
        failed_at: Option<OffsetDateTime>,
        /// When it arrived (inbound).
        #[serde(with = "palisade_domain::timestamp::option")]
        received_at: Option<OffsetDateTime>,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
}

/// A recipient to add to a campaign (an outbound, queued message).
#[derive(Debug, Clone)]
pub struct NewCampaignRecipient {
    /// The campaign (already checked to be editable).
    pub campaign_id: Uuid,
    /// The customer, if the recipient is one.
    pub customer_id: Option<CustomerId>,
    /// The number.
    pub to_number: PhoneNumber,
}

crate::filter_type! {
    /// Message list filters.
    pub struct MessageFilter for SmsMessage {
        /// Only this campaign's messages.
        campaign_id: Uuid => "campaign_id = $",
        /// Only this direction.
        direction: Direction => "direction = $",
        /// Only this status.
        status: SmsStatus => "status = $",
        /// Only messages with this customer.
        customer_id: CustomerId => "customer_id = $",
    }
}

impl crud::Insert for NewCampaignRecipient {
    type Row = SmsMessage;
    /// An outbound, queued message from the campaign's number with the campaign's text (the
    /// caller has checked that the campaign exists). Fails with [`RECIPIENT_KEY`] when the
    /// number is already a recipient, and with [`CUSTOMER_FKEY`] when the customer is not
    /// this organization's.
    async fn insert(&self, tx: &mut TenantTx) -> Result<SmsMessage, DbError> {
        crud::returning(
            tx,
            "INSERT INTO palisade.sms_messages \
                 (id, campaign_id, customer_id, direction, from_number, to_number, body, status) \
             SELECT $1, c.id, $3, 'outbound', c.from_number, $4, c.body, 'queued' \
               FROM palisade.sms_campaigns c WHERE c.id = $2",
            &[
                &SmsMessageId::new().as_uuid(),
                &self.campaign_id,
                &self.customer_id.map(|c| c.as_uuid()),
                &self.to_number.as_str(),
            ],
        )
        .await
    }
}
