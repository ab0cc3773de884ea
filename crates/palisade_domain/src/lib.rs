//! Palisade's domain types: values that are valid by construction ("parse, don't validate").
//!
//! Every type here has a private field and a fallible `parse`; a handler that holds one
//! never re-checks it. This crate does no I/O and knows nothing of HTTP or SQL.

mod aws_connect;
pub mod calendar;
mod chatbot;
pub mod clock;
mod contact;
mod email_events;
pub mod enums;
mod ids;
mod integration;
mod ivr;
mod json;
mod kinds;
mod messaging;
mod names;
mod outbound_webhooks;
mod secret;
pub mod stripe;
mod text;
pub mod timestamp;

pub use aws_connect::{AwsRegion, ConnectInstanceArn, ConnectLabel};
pub use chatbot::{BotOutcome, BotText, ConfidenceThreshold, HandoffReason};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use contact::{EmailAddress, EmailLookup, PhoneNumber};
pub use email_events::{EmailEvent, EmailTracking, StagesReached, email_status_rank};
pub use ids::{
    AnalyticsEventId, ApiKeyId, ArticleId, CallId, ConnectCredentialId, ConnectInstanceId,
    ConversationId, CustomerId, EmailCampaignId, EmailMessageId, IntegrationId, InvitationId,
    InvoiceId, IvrMenuId, MessageId, OrgId, PhoneNumberId, ReportId, SmsCampaignId, SmsMessageId,
    SocialAccountId, SocialPostId, UserId, VoiceCampaignId, WebhookDeliveryId, WebhookId,
};
pub use integration::{IntegrationConfig, IntegrationProvider, IntegrationSecrets};
pub use ivr::IvrMenuTree;
pub use json::{EventProperties, ReportParameters, jsonb_size};
pub use kinds::{
    Capabilities, Capability, ConversationStatus, MessageSender, PostStatus, ReportKind,
    ReportSchedule, SocialNetwork,
};
pub use messaging::{
    CallDuration, CallNotes, CallStatus, CampaignName, CampaignStatus, Direction, EmailBody,
    EmailStatus, EmailSubject, InboundSmsBody, ProviderId, SmsBody, SmsStatus, VoiceScript,
};
pub use names::{
    ApiKeyName, CustomerName, IntegrationName, OrganizationName, PersonName, WebhookDescription,
};
pub use outbound_webhooks::{
    WebhookEvent, WebhookEvents, WebhookUrl, is_public_ipv4, is_public_ipv6,
};
pub use secret::{Password, Secret};
pub use text::{
    AccessToken, ArticleBody, ArticleTitle, ConversationSubject, EventType, IvrMenuName,
    MessageBody, PhoneLabel, PostBody, ReportName, SearchText, SocialHandle, Tag, Tags,
};

use serde::{Deserialize, Serialize};

/// A value that a client's input `In` becomes, or a [`ParseError`] saying why not: text (`str`,
/// the default) for every id, enum and text type here, a JSON value for the bounded objects
/// (`serde_json::Value`), a list of names (`[String]`) for tags, capabilities and event types,
/// an integer (`i64`) for bounded numbers. Each implements it through its inherent `parse`, so
/// generic code can parse any of them: the API's query parameters and PATCH fields do.
pub trait Parse<In: ?Sized = str>: Sized {
    /// Parses `input`.
    fn parse(input: &In) -> Result<Self, ParseError>;
}

/// Implements [`Parse`] with each type's inherent `parse`: `parse_with_inherent!(Name, Other)`
/// for text, `parse_with_inherent!(serde_json::Value => Object)` for another input.
macro_rules! parse_with_inherent {
    ($in:ty => $($name:ty),+ $(,)?) => {
        $(impl $crate::Parse<$in> for $name {
            fn parse(input: &$in) -> Result<Self, $crate::ParseError> {
                <$name>::parse(input)
            }
        })+
    };
    ($($name:ty),+ $(,)?) => {
        $crate::parse_with_inherent!(str => $($name),+);
    };
}
pub(crate) use parse_with_inherent;

parse_with_inherent!(
    EmailAddress,
    EmailLookup,
    PhoneNumber,
    SocialHandle,
    EventType,
    AccessToken,
    WebhookUrl
);
parse_with_inherent!(serde_json::Value => IvrMenuTree, IntegrationConfig, IntegrationSecrets);
parse_with_inherent!([String] => Tags, Capabilities, WebhookEvents);
parse_with_inherent!(i64 => CallDuration);

impl Parse for bool {
    fn parse(s: &str) -> Result<Self, ParseError> {
        match s {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(ParseError::new("must be true or false")),
        }
    }
}

impl Parse for uuid::Uuid {
    fn parse(s: &str) -> Result<Self, ParseError> {
        uuid::Uuid::try_parse(s).map_err(|_| ParseError::new("must be a UUID"))
    }
}

/// Why a value was refused: a kind for programs and a reason for people. The reason is safe to
/// show to the client that sent the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ParseError {
    reason: &'static str,
    kind: ParseKind,
}

/// What kind of refusal a [`ParseError`] is (the API's 422 field codes, docs/api.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseKind {
    /// Not acceptable: format, range, choice.
    Invalid,
    /// Longer or larger than allowed: text, a list, an object's size or keys.
    TooLong,
    /// Shorter than allowed: empty text, a password under its minimum.
    TooShort,
}

impl ParseError {
    /// A refusal for this reason, which clients read: say what is wanted, in the API's words.
    pub const fn new(reason: &'static str) -> Self {
        Self {
            reason,
            kind: ParseKind::Invalid,
        }
    }

    /// A value longer or larger than allowed.
    pub const fn too_long(reason: &'static str) -> Self {
        Self {
            reason,
            kind: ParseKind::TooLong,
        }
    }

    /// A value shorter than allowed (empty text included).
    pub const fn too_short(reason: &'static str) -> Self {
        Self {
            reason,
            kind: ParseKind::TooShort,
        }
    }

    /// The human-readable reason.
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// The kind of refusal.
    pub fn kind(&self) -> ParseKind {
        self.kind
    }
}

crate::str_enum! {
    /// A user's role inside their organization. Ordered by privilege.
    #[derive(PartialOrd, Ord, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Role {
        /// Reads the organization's data.
        Member = "member",
        /// Also manages keys, integrations, webhooks, phone numbers and members.
        Admin = "admin",
        /// Also deletes the organization. Exactly who signed it up, unless ownership moves.
        Owner = "owner",
    }
    refusal = "must be one of owner, admin, member";
}

impl Role {
    /// Parses a role an API key may act with: `admin` or `member`. No key is an owner.
    pub fn parse_for_api_key(s: &str) -> Result<Self, ParseError> {
        match Self::parse(s) {
            Ok(Role::Owner) | Err(_) => Err(ParseError::new("must be admin or member")),
            Ok(r) => Ok(r),
        }
    }

    /// Whether this role may change the organization's configuration (keys, members...).
    pub fn can_administer(self) -> bool {
        self >= Role::Admin
    }
}

/// Who is acting, for which organization: the input of every tenant transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantContext {
    /// The organization whose rows are visible; RLS filters on it.
    pub org_id: OrgId,
    /// The acting user (for API keys: the key's creator).
    pub user_id: UserId,
    /// The acting role inside the organization.
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_order() {
        for r in [Role::Member, Role::Admin, Role::Owner] {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
        assert!(Role::parse("root").is_err());
        assert!(Role::Owner.can_administer());
        assert!(Role::Admin.can_administer());
        assert!(!Role::Member.can_administer());
        assert_eq!(Role::parse_for_api_key("admin"), Ok(Role::Admin));
        assert_eq!(Role::parse_for_api_key("member"), Ok(Role::Member));
        assert!(Role::parse_for_api_key("owner").is_err());
        assert!(Role::parse_for_api_key("root").is_err());
    }
}
