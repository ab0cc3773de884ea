//! `/v1/email-campaigns`, their recipients (`/v1/email-campaigns/{id}/messages`), and
//! `/v1/email-messages`. The handlers are [`crate::resource`]'s; this module declares what is
//! the channel's own: its JSON, bodies and their parsing, and its constraints.

use palisade_db::TenantTx;
use palisade_db::crud::Insert;
use palisade_db::messaging::campaign::{CampaignPatch, NewCampaign};
use palisade_db::messaging::email::{
    self as db, EmailCampaign, EmailContent, EmailEdit, EmailMessage, MessageFilter,
    NewEmailMessage,
};
use palisade_domain::{
    CampaignName, CampaignStatus, CustomerId, EmailAddress, EmailBody, EmailStatus, EmailSubject,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::campaign::{self, Campaigns};
use super::recipients::{Recipient, RecipientAddress, campaign_from_path};
use super::{no_such_customer, queued_only, recipient_exists};
use crate::ApiError;
use crate::endpoints::Endpoints;
use crate::kinds::{Field, Text};
use crate::resource::{
    self, Created, CreatedWithin, DeleteGuard, PatchGuard, Patched, Violation, Within,
};
use crate::routes::Fields;

/// Declares the email routes.
pub(super) fn register(e: &mut Endpoints) {
    campaign::routes::<EmailCampaign>(
        e,
        "Content while draft or scheduled; status along the allowed transitions (409 otherwise)",
        "With its recipients; 409 `campaign_not_deletable` while sending or once sent",
    );
    resource::list_within_route::<EmailMessages>(e)
        .summary("List the messages of an email campaign")
        .describe(
            "This campaign's recipients only; 404 when the campaign is not this organization's",
        );
    resource::create_within_route::<EmailMessages>(e)
        .summary("Add a recipient to an email campaign")
        .describe("Adds a queued recipient to a draft or scheduled campaign");
    crate::changes::changes_route::<EmailMessages>(e);
    resource::list_route::<EmailMessages>(e).describe("Every campaign's messages, newest first");
    resource::get_route::<EmailMessages>(e);
    resource::delete_route::<EmailMessages>(e)
        .describe("Only while queued (409 once it has gone out)")
        .errors(&[409]);
}

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
    status: String,
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
            status: c.status,
            scheduled_at: c.scheduled_at,
            counts: CountsJson {
                sent: c.sent_count,
                delivered: c.delivered_count,
                opened: c.opened_count,
                clicked: c.clicked_count,
                bounced: c.bounced_count,
                failed: c.failed_count,
            },
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

impl crate::changes::Synced for Campaigns<EmailCampaign> {
    const CHANGES: &'static str = "/v1/email-campaigns/changes";
}

resource::family! {
    Campaigns<EmailCampaign>: EmailCampaign => CampaignJson, "/v1/email-campaigns", "messaging", "an email campaign", "email campaigns";
    const DELETE_GUARD: Option<DeleteGuard<EmailCampaign>> = Some(campaign::deletable);
}

campaign::campaign_bodies! {
    /// Create body.
    #[schema(as = EmailCampaignCreate)]
    pub struct CreateCampaignBody {
        #[schema(required = true, value_type = String)]
        name,
        #[schema(required = true, value_type = String)]
        subject,
        #[schema(required = true, value_type = String)]
        body,
    }
    /// Patch body: absent fields stay; `null` clears `scheduled_at`.
    #[schema(as = EmailCampaignPatch)]
    pub struct PatchCampaignBody {
        #[schema(value_type = String)]
        name,
        #[schema(value_type = String)]
        subject,
        #[schema(value_type = String)]
        body,
    }
}

crate::rules::field_rules!(CreateCampaignBody {
    "name": Text<palisade_domain::CampaignName>,
    "subject": Text<palisade_domain::EmailSubject>,
    "body": Text<palisade_domain::EmailBody>,
    "status": crate::rules::NewCampaignStatus,
});
crate::rules::field_rules!(PatchCampaignBody {
    "name": Text<palisade_domain::CampaignName>,
    "subject": Text<palisade_domain::EmailSubject>,
    "body": Text<palisade_domain::EmailBody>,
});

impl Created for Campaigns<EmailCampaign> {
    type Body = CreateCampaignBody;
    type New = NewCampaign<EmailContent>;

    fn parse(body: &CreateCampaignBody, f: &mut Fields) -> Option<Self::New> {
        let name = f.required("name", body.name.as_deref(), CampaignName::parse);
        let subject = f.required("subject", body.subject.as_deref(), EmailSubject::parse);
        let text = f.required("body", body.body.as_deref(), EmailBody::parse);
        let (status, scheduled_at) = f.new_schedule(body.status.as_deref(), &body.scheduled_at);
        Some(NewCampaign {
            content: EmailContent {
                name: name?,
                subject: subject?,
                body: text?,
            },
            status,
            scheduled_at,
        })
    }
}

impl Patched for Campaigns<EmailCampaign> {
    type Body = PatchCampaignBody;
    type Patch = CampaignPatch<EmailEdit>;
    const GUARD: Option<PatchGuard<Self::Patch, EmailCampaign>> = Some(campaign::guard);

    fn parse(body: &PatchCampaignBody, f: &mut Fields) -> Self::Patch {
        let content = EmailEdit {
            name: Field::set::<Text<CampaignName>>(f, "name", &body.name),
            subject: Field::set::<Text<EmailSubject>>(f, "subject", &body.subject),
            body: Field::set::<Text<EmailBody>>(f, "body", &body.body),
        };
        f.campaign_patch(content, &body.status, &body.scheduled_at)
    }
}

/// Email messages: `/v1/email-messages`, each campaign's under its path, and their changes
/// feed ([`crate::changes`]).
pub(crate) struct EmailMessages;

impl crate::changes::Synced for EmailMessages {
    const CHANGES: &'static str = "/v1/email-messages/changes";
}

resource::family! {
    EmailMessages: EmailMessage => EmailMessage, "/v1/email-messages", "messaging", "an email message", "email messages";
    const VIOLATIONS: &'static [Violation] = &[
        Violation::on_write(db::CUSTOMER_FKEY, no_such_customer),
        Violation::on_write(db::RECIPIENT_KEY, recipient_exists),
    ];
    const DELETE_GUARD: Option<DeleteGuard<EmailMessage>> =
        Some(|m| queued_only(&m.status, EmailStatus::Queued.as_str()));
}

crate::list::filters! {
    /// Message list query string.
    EmailMessages: MessageListQuery => MessageFilter {
        /// On a campaign's own list, only that campaign (anything else is 422).
        campaign_id: Id<Uuid>,
        status: Choice<EmailStatus>,
        customer_id: Id<CustomerId>,
    }
}

impl Within for EmailMessages {
    type Parent = EmailCampaign;
    const NESTED: &'static str = "/v1/email-campaigns/{id}/messages";

    fn within(filter: &mut MessageFilter, campaign: Uuid) -> Result<(), ApiError> {
        campaign_from_path(&mut filter.campaign_id, campaign)
    }
}

/// A recipient's address: `to_email`, else the customer's email.
const TO_EMAIL: RecipientAddress<EmailAddress> = RecipientAddress {
    field: "to_email",
    parse: EmailAddress::parse,
    stored: EmailAddress::parse_existing,
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

crate::rules::field_rules!(CreateMessageBody {
    "customer_id": Id<palisade_domain::CustomerId>,
    "to_email": Text<palisade_domain::EmailAddress>,
});

impl CreatedWithin for EmailMessages {
    type Body = CreateMessageBody;
    type New = Recipient<EmailAddress>;

    fn parse(body: &CreateMessageBody, f: &mut Fields) -> Option<Self::New> {
        TO_EMAIL.parse(f, body.customer_id.as_deref(), body.to_email.as_deref())
    }

    /// A queued recipient of a draft or scheduled campaign.
    async fn insert(
        tx: &mut TenantTx,
        campaign: Uuid,
        new: Self::New,
    ) -> Result<EmailMessage, ApiError> {
        let (customer_id, to_email) = TO_EMAIL.resolve::<EmailCampaign>(tx, campaign, new).await?;
        NewEmailMessage {
            campaign_id: campaign,
            customer_id,
            to_email,
        }
        .insert(tx)
        .await
        .map_err(resource::write_error::<Self>)
    }
}
