//! `/v1/sms-campaigns`, their recipients (`/v1/sms-campaigns/{id}/messages`), and
//! `/v1/sms-messages` (every SMS sent or received; inbound ones arrive through the Twilio
//! webhook, `POST /webhooks/twilio/sms`, and belong to no campaign). The handlers are
//! [`crate::resource`]'s; this module declares what is the channel's own.

use palisade_db::TenantTx;
use palisade_db::crud::Insert;
use palisade_db::messaging::campaign::{CampaignPatch, NewCampaign};
use palisade_db::messaging::sms::{
    self as db, MessageFilter, NewCampaignRecipient, SmsCampaign, SmsContent, SmsEdit, SmsMessage,
};
use palisade_domain::{
    CampaignName, CampaignStatus, Capability, CustomerId, Direction, PhoneNumber, SmsBody,
    SmsStatus,
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
use crate::routes::phone_numbers::from_number_not_owned;

/// Declares the SMS routes.
pub(super) fn register(e: &mut Endpoints) {
    campaign::routes::<SmsCampaign>(
        e,
        "Content while draft or scheduled (queued recipients follow the new text and number); status along the allowed transitions (409 otherwise)",
        "With its recipients; 409 `campaign_not_deletable` while sending or once sent",
    );
    resource::list_within_route::<SmsMessages>(e)
        .summary("List the messages of an SMS campaign")
        .describe(
            "This campaign's recipients only; 404 when the campaign is not this organization's",
        );
    resource::create_within_route::<SmsMessages>(e)
        .summary("Add a recipient to an SMS campaign")
        .describe("Adds a queued outbound message, from the campaign's number with its text, to a draft or scheduled campaign");
    crate::changes::changes_route::<SmsMessages>(e);
    resource::list_route::<SmsMessages>(e)
        .describe("Every SMS, inbound and outbound, newest first");
    resource::get_route::<SmsMessages>(e);
    resource::delete_route::<SmsMessages>(e)
        .describe("Only while queued (409 once it has gone out, and for inbound messages)")
        .errors(&[409]);
}

/// 422 `from_number_not_owned` when a campaign or its messages would send from a number that
/// is not one of this organization's SMS numbers (the database refuses it: sql/V0070).
fn sms_number_not_owned() -> ApiError {
    from_number_not_owned(Capability::Sms)
}

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
    status: String,
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
            status: c.status,
            scheduled_at: c.scheduled_at,
            counts: CountsJson {
                sent: c.sent_count,
                delivered: c.delivered_count,
                undelivered: c.undelivered_count,
                failed: c.failed_count,
            },
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

impl crate::changes::Synced for Campaigns<SmsCampaign> {
    const CHANGES: &'static str = "/v1/sms-campaigns/changes";
}

resource::family! {
    Campaigns<SmsCampaign>: SmsCampaign => CampaignJson, "/v1/sms-campaigns", "messaging", "an SMS campaign", "SMS campaigns";
    const VIOLATIONS: &'static [Violation] = &[
        Violation::on_write(db::CAMPAIGN_FROM_FKEY, sms_number_not_owned),
        Violation::on_write(db::FROM_NUMBER_OWNED, sms_number_not_owned),
    ];
    const DELETE_GUARD: Option<DeleteGuard<SmsCampaign>> = Some(campaign::deletable);
}

campaign::campaign_bodies! {
    /// Create body.
    #[schema(as = SmsCampaignCreate)]
    pub struct CreateCampaignBody {
        #[schema(required = true, value_type = String)]
        name,
        #[schema(required = true, value_type = String)]
        body,
        /// One of this organization's phone numbers with the `sms` capability (422
        /// `from_number_not_owned` otherwise).
        #[schema(required = true, value_type = String)]
        from_number,
    }
    /// Patch body: absent fields stay; `null` clears `scheduled_at`.
    #[schema(as = SmsCampaignPatch)]
    pub struct PatchCampaignBody {
        #[schema(value_type = String)]
        name,
        #[schema(value_type = String)]
        body,
        #[schema(value_type = String)]
        from_number,
    }
}

crate::rules::field_rules!(CreateCampaignBody {
    "name": Text<palisade_domain::CampaignName>,
    "body": Text<palisade_domain::SmsBody>,
    "from_number": Text<palisade_domain::PhoneNumber>,
    "status": crate::rules::NewCampaignStatus,
});
crate::rules::field_rules!(PatchCampaignBody {
    "name": Text<palisade_domain::CampaignName>,
    "body": Text<palisade_domain::SmsBody>,
    "from_number": Text<palisade_domain::PhoneNumber>,
});

impl Created for Campaigns<SmsCampaign> {
    type Body = CreateCampaignBody;
    type New = NewCampaign<SmsContent>;

    fn parse(body: &CreateCampaignBody, f: &mut Fields) -> Option<Self::New> {
        let name = f.required("name", body.name.as_deref(), CampaignName::parse);
        let text = f.required("body", body.body.as_deref(), SmsBody::parse);
        let from = f.required(
            "from_number",
            body.from_number.as_deref(),
            PhoneNumber::parse,
        );
        let (status, scheduled_at) = f.new_schedule(body.status.as_deref(), &body.scheduled_at);
        Some(NewCampaign {
            content: SmsContent {
                name: name?,
                body: text?,
                from_number: from?,
            },
            status,
            scheduled_at,
        })
    }
}

impl Patched for Campaigns<SmsCampaign> {
    type Body = PatchCampaignBody;
    type Patch = CampaignPatch<SmsEdit>;
    const GUARD: Option<PatchGuard<Self::Patch, SmsCampaign>> = Some(campaign::guard);

    fn parse(body: &PatchCampaignBody, f: &mut Fields) -> Self::Patch {
        let content = SmsEdit {
            name: Field::set::<Text<CampaignName>>(f, "name", &body.name),
            body: Field::set::<Text<SmsBody>>(f, "body", &body.body),
            from_number: Field::set::<Text<PhoneNumber>>(f, "from_number", &body.from_number),
        };
        f.campaign_patch(content, &body.status, &body.scheduled_at)
    }
}

/// SMS messages: `/v1/sms-messages`, each campaign's under its path, and their changes feed
/// ([`crate::changes`]).
pub(crate) struct SmsMessages;

impl crate::changes::Synced for SmsMessages {
    const CHANGES: &'static str = "/v1/sms-messages/changes";
}

resource::family! {
    SmsMessages: SmsMessage => SmsMessage, "/v1/sms-messages", "messaging", "an SMS message", "SMS messages";
    const VIOLATIONS: &'static [Violation] = &[
        Violation::on_write(db::CUSTOMER_FKEY, no_such_customer),
        Violation::on_write(db::RECIPIENT_KEY, recipient_exists),
        // A campaign from before the ownership rule may name a number this organization
        // does not hold: it cannot queue messages from it.
        Violation::on_write(db::FROM_NUMBER_OWNED, sms_number_not_owned),
    ];
    const DELETE_GUARD: Option<DeleteGuard<SmsMessage>> =
        Some(|m| queued_only(&m.status, SmsStatus::Queued.as_str()));
}

crate::list::filters! {
    /// Message list query string.
    SmsMessages: MessageListQuery => MessageFilter {
        /// On a campaign's own list, only that campaign (anything else is 422).
        campaign_id: Id<Uuid>,
        direction: Choice<Direction>,
        status: Choice<SmsStatus>,
        customer_id: Id<CustomerId>,
    }
}

impl Within for SmsMessages {
    type Parent = SmsCampaign;
    const NESTED: &'static str = "/v1/sms-campaigns/{id}/messages";

    fn within(filter: &mut MessageFilter, campaign: Uuid) -> Result<(), ApiError> {
        campaign_from_path(&mut filter.campaign_id, campaign)
    }
}

/// A recipient's address: `to_number`, else the customer's phone.
const TO_NUMBER: RecipientAddress<PhoneNumber> = RecipientAddress {
    field: "to_number",
    parse: PhoneNumber::parse,
    stored: PhoneNumber::parse,
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

crate::rules::field_rules!(CreateMessageBody {
    "customer_id": Id<palisade_domain::CustomerId>,
    "to_number": Text<palisade_domain::PhoneNumber>,
});

impl CreatedWithin for SmsMessages {
    type Body = CreateMessageBody;
    type New = Recipient<PhoneNumber>;

    fn parse(body: &CreateMessageBody, f: &mut Fields) -> Option<Self::New> {
        TO_NUMBER.parse(f, body.customer_id.as_deref(), body.to_number.as_deref())
    }

    /// A queued outbound message, from the campaign's number with its text, in a draft or
    /// scheduled campaign.
    async fn insert(
        tx: &mut TenantTx,
        campaign: Uuid,
        new: Self::New,
    ) -> Result<SmsMessage, ApiError> {
        let (customer_id, to_number) = TO_NUMBER.resolve::<SmsCampaign>(tx, campaign, new).await?;
        NewCampaignRecipient {
            campaign_id: campaign,
            customer_id,
            to_number,
        }
        .insert(tx)
        .await
        .map_err(resource::write_error::<Self>)
    }
}
