//! Email campaigns and their messages (one row per recipient): the rows, filters, inserts and
//! updates; reading, locking, listing and deleting are [`crate::crud`]'s.

use palisade_domain::{
    CampaignName, CustomerId, EmailAddress, EmailBody, EmailMessageId, EmailStatus, EmailSubject,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::campaign::impl_campaign;
use crate::crud;
use crate::{DbError, TenantTx};

/// The key that keeps one row per recipient of a campaign.
pub const RECIPIENT_KEY: &str = "email_messages_recipient_key";
/// The composite foreign key from a message to its customer.
pub const CUSTOMER_FKEY: &str = "email_messages_customer_fkey";

crate::table! {
    /// An email campaign as stored.
    pub struct EmailCampaign in "palisade.email_campaigns" {
        /// Its id.
        id: Uuid,
        /// Name (internal).
        name: String,
        /// Subject line.
        subject: String,
        /// Body.
        body: String,
        /// Status ([`CampaignStatus`](palisade_domain::CampaignStatus)).
        status: String,
        /// When it goes (or went) out, if scheduled.
        scheduled_at: Option<OffsetDateTime>,
        /// Handed to the provider.
        sent_count: i32,
        /// Accepted by recipients' servers.
        delivered_count: i32,
        /// Opened.
        opened_count: i32,
        /// Clicked.
        clicked_count: i32,
        /// Bounced.
        bounced_count: i32,
        /// Failed or dropped.
        failed_count: i32,
        /// Creation time.
        created_at: OffsetDateTime,
        /// Last change.
        updated_at: OffsetDateTime,
    }
}

impl_campaign!(EmailCampaign, "palisade.email_campaigns");

super::campaign::content_types! {
    /// An email campaign's content.
    EmailCampaign: EmailContent, EmailEdit {
        /// Name.
        name: set CampaignName,
        /// Subject line.
        subject: set EmailSubject,
        /// Body.
        body: set EmailBody,
    }
}

crate::table! {
    /// One recipient of a campaign, as stored and as clients see it.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct EmailMessage in "palisade.email_messages" {
        /// Its id.
        id: Uuid,
        /// The campaign.
        campaign_id: Uuid,
        /// The customer it was addressed to, if any (cleared when the customer is deleted).
        customer_id: Option<Uuid>,
        /// The address.
        #[schema(format = Email)]
        to_email: String,
        /// Delivery status.
        #[schema(value_type = EmailStatus)]
        status: String,
        /// The provider's message id, once handed over.
        provider_message_id: Option<String>,
        /// When the provider accepted it.
        #[serde(with = "palisade_domain::timestamp::option")]
        sent_at: Option<OffsetDateTime>,
        /// When it was delivered.
        #[serde(with = "palisade_domain::timestamp::option")]
        delivered_at: Option<OffsetDateTime>,
        /// When it was first opened.
        #[serde(with = "palisade_domain::timestamp::option")]
        opened_at: Option<OffsetDateTime>,
        /// When a link was first clicked.
        #[serde(with = "palisade_domain::timestamp::option")]
        clicked_at: Option<OffsetDateTime>,
        /// When it failed, bounced or was dropped.
        #[serde(with = "palisade_domain::timestamp::option")]
        failed_at: Option<OffsetDateTime>,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
}

/// A recipient to add.
#[derive(Debug, Clone)]
pub struct NewEmailMessage {
    /// The campaign (already checked to be editable).
    pub campaign_id: Uuid,
    /// The customer, if the recipient is one.
    pub customer_id: Option<CustomerId>,
    /// The address.
    pub to_email: EmailAddress,
}

crate::filter_type! {
    /// Message list filters.
    pub struct MessageFilter for EmailMessage {
        /// Only this campaign's messages.
        campaign_id: Uuid => "campaign_id = $",
        /// Only this status.
        status: EmailStatus => "status = $",
        /// Only messages to this customer.
        customer_id: CustomerId => "customer_id = $",
    }
}

impl crud::Insert for NewEmailMessage {
    type Row = EmailMessage;
    /// Fails with [`RECIPIENT_KEY`] when the address is already a recipient of the campaign,
    /// and with [`CUSTOMER_FKEY`] when the customer is not this organization's.
    async fn insert(&self, tx: &mut TenantTx) -> Result<EmailMessage, DbError> {
        crud::returning(
            tx,
            "INSERT INTO palisade.email_messages (id, campaign_id, customer_id, to_email, status) \
             VALUES ($1, $2, $3, $4, 'queued')",
            &[
                &EmailMessageId::new().as_uuid(),
                &self.campaign_id,
                &self.customer_id.map(|c| c.as_uuid()),
                &self.to_email.as_str(),
            ],
        )
        .await
    }
}
