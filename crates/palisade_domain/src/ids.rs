//! Typed UUID identifiers, so an organization id cannot be passed where a user id is meant.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered (v7) id: consecutive inserts land close together in indexes.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an id read from a trusted source (the database, a verified token).
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// Parses the textual form of a UUID.
            pub fn parse(s: &str) -> Result<Self, crate::ParseError> {
                <Uuid as crate::Parse>::parse(s).map(Self)
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        $crate::parse_with_inherent!($name);

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// An organization (tenant) id.
    OrgId
);
id_type!(
    /// A user id; a user belongs to exactly one organization.
    UserId
);
id_type!(
    /// A customer id (unique within its organization; UUIDs make it unique everywhere).
    CustomerId
);
id_type!(
    /// An email campaign id.
    EmailCampaignId
);
id_type!(
    /// An email message id (one recipient of an email campaign).
    EmailMessageId
);
id_type!(
    /// An SMS campaign id.
    SmsCampaignId
);
id_type!(
    /// An SMS message id (inbound or outbound).
    SmsMessageId
);
id_type!(
    /// A voice campaign id.
    VoiceCampaignId
);
id_type!(
    /// A call id.
    CallId
);

id_type!(
    /// A chat conversation id.
    ConversationId
);
id_type!(
    /// A registered Amazon Connect instance id.
    ConnectInstanceId
);
id_type!(
    /// An Amazon Connect event credential id.
    ConnectCredentialId
);
id_type!(
    /// A chat message id.
    MessageId
);
id_type!(
    /// An IVR menu id.
    IvrMenuId
);
id_type!(
    /// A phone number id (the number itself is the platform-wide key; this is the row's id).
    PhoneNumberId
);
id_type!(
    /// A knowledge-base article id.
    ArticleId
);
id_type!(
    /// A saved report definition id.
    ReportId
);
id_type!(
    /// An analytics event id.
    AnalyticsEventId
);
id_type!(
    /// A connected social account id.
    SocialAccountId
);
id_type!(
    /// A social post id.
    SocialPostId
);
id_type!(
    /// An integration (a connection to an outside service) id.
    IntegrationId
);
id_type!(
    /// An outbound webhook endpoint id.
    WebhookId
);
id_type!(
    /// An API key id (the row, not the secret key).
    ApiKeyId
);
id_type!(
    /// An invoice id (ours; Stripe's is `stripe_invoice_id`).
    InvoiceId
);
id_type!(
    /// A recorded carrier or email-provider webhook delivery.
    WebhookDeliveryId
);
id_type!(
    /// A pending invitation to join an organization.
    InvitationId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_uuids_only() {
        let id = OrgId::new();
        assert_eq!(OrgId::parse(&id.to_string()), Ok(id));
        assert!(OrgId::parse("42").is_err());
        assert!(OrgId::parse("").is_err());
    }

    #[test]
    fn new_ids_are_v7_and_ordered() {
        let a = UserId::new();
        let b = UserId::new();
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a < b);
    }
}
