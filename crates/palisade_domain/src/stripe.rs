//! Stripe webhook events, parsed into values the billing tables accept.
//!
//! [`StripeEvent::parse`] reads the raw body of a delivery whose signature has already been
//! verified. Only the envelope (`id`, `type`, `created`) is read for event types Palisade does not
//! handle; for the handled ones (`checkout.session.completed`,
//! `customer.subscription.created|updated|deleted`, `invoice.paid`, `invoice.payment_failed`)
//! `data.object` is read too, and every id, status, currency and amount is checked against the
//! CHECK constraints of `sql/V0033`, `V0034`, `V0035` and `V0060`, so a parsed event never fails a
//! constraint when it is written.
//!
//! Object shapes accepted (Stripe moved fields between API versions; both places are read):
//! - subscription: the billing period is on `items.data[0]` since API version 2025-03-31.basil,
//!   on the subscription itself before; the first item is the one recorded (Palisade sells one
//!   price per subscription). Its price is `items.data[0].price`, or the legacy `plan` object.
//! - invoice: its subscription is `parent.subscription_details.subscription` since 2025-03-31.basil,
//!   `subscription` before.
//! - expandable references (`customer`, `subscription`) may be an id or an expanded object.
//!
//! The plan name of a subscription is the price's `lookup_key`, else its `metadata.plan`, else the
//! subscription's `metadata.plan`, whichever first is a valid [`PlanName`]; failing all three it is
//! [`PlanName::UNKNOWN`] (the subscription is still recorded, so its status is never lost).
//!
//! Errors never quote the body (it can hold customer names and emails): only the field that was
//! wrong, or where the JSON broke.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::OrgId;

/// The largest Stripe id accepted, in bytes (Stripe's are far shorter).
const MAX_STRIPE_ID_LEN: usize = 255;

/// Why a Stripe event body was refused. Safe to log: names a field or a position, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeEventError {
    /// Not JSON, or not an object with `id`, `type`, `created` (and `data.object`).
    #[error("the body is not a Stripe event: {0}")]
    Malformed(String),
    /// A field of a handled event is missing or has a value Palisade cannot store.
    #[error("field {0} is missing or invalid")]
    Invalid(&'static str),
}

macro_rules! stripe_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $underscores:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The prefix Stripe gives these ids.
            pub const PREFIX: &'static str = $prefix;

            /// The prefix followed by one or more ASCII letters or digits (and underscores where
            /// the table's CHECK allows them).
            pub fn parse(s: &str) -> Result<Self, crate::ParseError> {
                let rest = s
                    .strip_prefix($prefix)
                    .ok_or(crate::ParseError::new(concat!("must start with ", $prefix)))?;
                let ok = !rest.is_empty()
                    && s.len() <= MAX_STRIPE_ID_LEN
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || ($underscores && b == b'_'));
                if ok {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(crate::ParseError::new("is not a valid Stripe id"))
                }
            }

            /// The id as Stripe spells it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

stripe_id!(
    /// A Stripe event id (`evt_...`; test fixtures use underscores, e.g. `evt_test_webhook`).
    StripeEventId,
    "evt_",
    true
);
stripe_id!(
    /// A Stripe customer id (`cus_...`).
    StripeCustomerId,
    "cus_",
    false
);
stripe_id!(
    /// A Stripe subscription id (`sub_...`).
    StripeSubscriptionId,
    "sub_",
    false
);
stripe_id!(
    /// A Stripe price id (`price_...`).
    StripePriceId,
    "price_",
    false
);
stripe_id!(
    /// A Stripe invoice id (`in_...`).
    StripeInvoiceId,
    "in_",
    false
);

/// A point in time as Stripe sends it: whole seconds since the Unix epoch, between 1970 and the
/// end of year 9999 (so it always converts to a timestamp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StripeTimestamp(i64);

impl StripeTimestamp {
    /// 9999-12-31T23:59:59Z.
    const MAX: i64 = 253_402_300_799;

    /// Accepts 0..=9999-12-31T23:59:59Z.
    pub fn from_unix(secs: i64) -> Result<Self, crate::ParseError> {
        if (0..=Self::MAX).contains(&secs) {
            Ok(Self(secs))
        } else {
            Err(crate::ParseError::new(
                "is not a timestamp between 1970 and 9999",
            ))
        }
    }

    /// Seconds since the Unix epoch.
    pub fn unix(self) -> i64 {
        self.0
    }
}

/// An ISO 4217 currency code in lower case, as Stripe writes it (`usd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency(String);

impl Currency {
    /// Three lower-case ASCII letters.
    pub fn parse(s: &str) -> Result<Self, crate::ParseError> {
        if s.len() == 3 && s.bytes().all(|b| b.is_ascii_lowercase()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(crate::ParseError::new("must be three lower-case letters"))
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An organization's plan name (`palisade.organizations.plan`): 1 to 64 of `a-z`, `0-9`, `_`, `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanName(String);

impl PlanName {
    /// The plan of an organization without a current subscription (the column's default).
    pub const FREE: &'static str = "free";
    /// The plan recorded for a subscription whose price names none (see the module docs).
    pub const UNKNOWN: &'static str = "unknown";

    /// Checks the spelling.
    pub fn parse(s: &str) -> Result<Self, crate::ParseError> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(crate::ParseError::new(
                "must be 1 to 64 of a-z, 0-9, underscore and hyphen",
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::str_enum! {
    /// A Stripe subscription's status, spelled as Palisade spells its enums (`cancelled`);
    /// [`SubscriptionStatus::from_wire`] reads Stripe's spelling (`canceled`).
    pub enum SubscriptionStatus {
        /// Created, first payment not yet made.
        Incomplete = "incomplete",
        /// The first payment never came (final).
        IncompleteExpired = "incomplete_expired",
        /// In its trial.
        Trialing = "trialing",
        /// Paid up.
        Active = "active",
        /// The latest payment failed; Stripe is retrying.
        PastDue = "past_due",
        /// Ended (final).
        Cancelled = "cancelled",
        /// Retries exhausted, left open.
        Unpaid = "unpaid",
        /// Trial ended without a payment method.
        Paused = "paused",
    }
    wire { Cancelled = "canceled" }
}

impl SubscriptionStatus {
    /// Stripe never moves a subscription out of these: a late event with another status is stale.
    pub const FINAL: [SubscriptionStatus; 2] = [
        SubscriptionStatus::Cancelled,
        SubscriptionStatus::IncompleteExpired,
    ];
}

crate::str_enum! {
    /// A Stripe invoice's status.
    pub enum InvoiceStatus {
        /// Being prepared.
        Draft = "draft",
        /// Finalized, awaiting payment.
        Open = "open",
        /// Paid (final).
        Paid = "paid",
        /// Written off; can still be paid or voided.
        Uncollectible = "uncollectible",
        /// Voided (final).
        Void = "void",
    }
}

impl InvoiceStatus {
    /// Stripe never moves an invoice out of these.
    pub const FINAL: [InvoiceStatus; 2] = [InvoiceStatus::Paid, InvoiceStatus::Void];
}

/// A Stripe event that passed its signature check and parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct StripeEvent {
    /// `evt_...`: the idempotency key of the delivery.
    pub id: StripeEventId,
    /// When Stripe created the event: orders events about the same object.
    pub created: StripeTimestamp,
    /// What happened.
    pub kind: StripeEventKind,
}

/// The event types Palisade acts on, with their objects; every other type is [`Self::Other`].
#[derive(Debug, Clone, PartialEq)]
pub enum StripeEventKind {
    /// `checkout.session.completed`: links the organization to its Stripe customer.
    CheckoutSessionCompleted(CheckoutSession),
    /// `customer.subscription.created`.
    SubscriptionCreated(Subscription),
    /// `customer.subscription.updated`.
    SubscriptionUpdated(Subscription),
    /// `customer.subscription.deleted` (the subscription has ended; status `cancelled`).
    SubscriptionDeleted(Subscription),
    /// `invoice.paid`.
    InvoicePaid(Invoice),
    /// `invoice.payment_failed`.
    InvoicePaymentFailed(Invoice),
    /// Any other type: acknowledged, never stored.
    Other {
        /// The event's `type`, e.g. `charge.succeeded`.
        event_type: String,
    },
}

impl StripeEventKind {
    /// The event's `type` as Stripe spells it.
    pub fn event_type(&self) -> &str {
        match self {
            StripeEventKind::CheckoutSessionCompleted(_) => "checkout.session.completed",
            StripeEventKind::SubscriptionCreated(_) => "customer.subscription.created",
            StripeEventKind::SubscriptionUpdated(_) => "customer.subscription.updated",
            StripeEventKind::SubscriptionDeleted(_) => "customer.subscription.deleted",
            StripeEventKind::InvoicePaid(_) => "invoice.paid",
            StripeEventKind::InvoicePaymentFailed(_) => "invoice.payment_failed",
            StripeEventKind::Other { event_type } => event_type,
        }
    }
}

/// The part of a completed Checkout Session that Palisade uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    /// `client_reference_id`, which the platform's server (not Palisade: it has no Stripe client)
    /// sets to the organization's id when it creates the session. `None` when absent or not a
    /// UUID (a session created otherwise). Alone it
    /// proves nothing: whoever opens a Payment Link or a pricing table may set it
    /// (`?client_reference_id=`).
    pub organization_id: Option<OrgId>,
    /// The session's own `metadata.organization_id` when it is an organization id. Only the
    /// session's creator sets a session's metadata (the platform's server, with its secret key),
    /// so this is what confirms [`Self::organization_id`].
    pub metadata_organization_id: Option<OrgId>,
    /// The Stripe customer the session created or used; `None` for sessions without one.
    pub customer: Option<StripeCustomerId>,
}

/// A subscription as `palisade.subscriptions` stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// `sub_...`.
    pub id: StripeSubscriptionId,
    /// Whose subscription: routes the event to an organization.
    pub customer: StripeCustomerId,
    /// `metadata.organization_id`, which the platform's server sets on the subscription it
    /// creates through Checkout (`subscription_data.metadata`): routes an event that arrives before
    /// `checkout.session.completed` has linked the customer. `None` when absent or not a UUID.
    pub organization_id: Option<OrgId>,
    /// Its status (Stripe's `canceled` is [`SubscriptionStatus::Cancelled`]).
    pub status: SubscriptionStatus,
    /// See the module docs for where it comes from.
    pub plan: PlanName,
    /// The first item's price, when it is a `price_...` id (legacy plan ids are not).
    pub price_id: Option<StripePriceId>,
    /// Units of the first item (1 when Stripe gives none).
    pub quantity: i32,
    /// The first item's unit amount in the currency's smallest unit, as given (0 for prices
    /// without a unit amount, e.g. tiered).
    pub unit_amount_cents: i64,
    /// The price's currency.
    pub currency: Currency,
    /// Current billing period start (item-level or subscription-level, whichever is present).
    pub current_period_start: Option<StripeTimestamp>,
    /// Current billing period end; never before the start.
    pub current_period_end: Option<StripeTimestamp>,
    /// Ends at the end of the period.
    pub cancel_at_period_end: bool,
    /// When it was cancelled (Stripe's `canceled_at`).
    pub cancelled_at: Option<StripeTimestamp>,
}

/// An invoice as `palisade.invoices` stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoice {
    /// `in_...`.
    pub id: StripeInvoiceId,
    /// Whose invoice: routes the event. `None` when Stripe sent none (never routed).
    pub customer: Option<StripeCustomerId>,
    /// The subscription's `metadata.organization_id` as the invoice carries it
    /// (`parent.subscription_details.metadata`, or `subscription_details.metadata` in older API
    /// versions): like [`Subscription::organization_id`].
    pub organization_id: Option<OrgId>,
    /// The subscription it bills, if any.
    pub subscription: Option<StripeSubscriptionId>,
    /// Invoice number (1-100 characters, no control characters; dropped otherwise: display
    /// only).
    pub number: Option<String>,
    /// Stripe's status.
    pub status: InvoiceStatus,
    /// Currency.
    pub currency: Currency,
    /// Before discounts and taxes, smallest unit, as given (may be negative).
    pub subtotal_cents: i64,
    /// After discounts and taxes, as given.
    pub total_cents: i64,
    /// Still to pay; never negative.
    pub amount_due_cents: i64,
    /// Paid; never negative.
    pub amount_paid_cents: i64,
    /// Billed period start.
    pub period_start: Option<StripeTimestamp>,
    /// Billed period end; never before the start.
    pub period_end: Option<StripeTimestamp>,
    /// `due_date`.
    pub due_at: Option<StripeTimestamp>,
    /// `status_transitions.paid_at`.
    pub paid_at: Option<StripeTimestamp>,
    /// Stripe's hosted page (`https://`, at most 2048 bytes, no control characters; dropped
    /// otherwise: display only).
    pub hosted_invoice_url: Option<String>,
}

// --- the wire format -------------------------------------------------------------------------

#[derive(Deserialize)]
struct RawEvent {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: i64,
    #[serde(default)]
    data: Option<RawData>,
}

#[derive(Deserialize)]
struct RawData {
    object: Value,
}

/// An expandable reference: an id, or the expanded object (which carries its id).
#[derive(Deserialize)]
#[serde(untagged)]
enum Expandable {
    Id(String),
    Object { id: String },
}

impl Expandable {
    fn id(&self) -> &str {
        match self {
            Expandable::Id(id) | Expandable::Object { id } => id,
        }
    }
}

type Metadata = HashMap<String, Value>;

fn metadata_plan(m: Option<&Metadata>) -> Option<PlanName> {
    m?.get("plan")?
        .as_str()
        .and_then(|p| PlanName::parse(p).ok())
}

#[derive(Deserialize)]
struct RawCheckoutSession {
    #[serde(default)]
    client_reference_id: Option<String>,
    #[serde(default)]
    customer: Option<Expandable>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct RawPrice {
    id: String,
    #[serde(default)]
    unit_amount: Option<i64>,
    /// The legacy plan object's name for `unit_amount`.
    #[serde(default)]
    amount: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    lookup_key: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct RawItem {
    #[serde(default)]
    price: Option<RawPrice>,
    #[serde(default)]
    plan: Option<RawPrice>,
    #[serde(default)]
    quantity: Option<i64>,
    #[serde(default)]
    current_period_start: Option<i64>,
    #[serde(default)]
    current_period_end: Option<i64>,
}

#[derive(Deserialize)]
struct RawList<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
}

#[derive(Deserialize)]
struct RawSubscription {
    id: String,
    customer: Expandable,
    status: String,
    #[serde(default)]
    items: Option<RawList<RawItem>>,
    #[serde(default)]
    plan: Option<RawPrice>,
    #[serde(default)]
    quantity: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    current_period_start: Option<i64>,
    #[serde(default)]
    current_period_end: Option<i64>,
    #[serde(default)]
    cancel_at_period_end: Option<bool>,
    #[serde(default)]
    canceled_at: Option<i64>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct RawSubscriptionDetails {
    #[serde(default)]
    subscription: Option<Expandable>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

/// `metadata.organization_id` when it is an organization id.
fn metadata_org(m: Option<&Metadata>) -> Option<OrgId> {
    m?.get("organization_id")?
        .as_str()
        .and_then(|o| OrgId::parse(o).ok())
}

#[derive(Deserialize)]
struct RawInvoiceParent {
    #[serde(default)]
    subscription_details: Option<RawSubscriptionDetails>,
}

#[derive(Deserialize)]
struct RawStatusTransitions {
    #[serde(default)]
    paid_at: Option<i64>,
}

#[derive(Deserialize)]
struct RawInvoice {
    id: String,
    #[serde(default)]
    customer: Option<Expandable>,
    #[serde(default)]
    subscription: Option<Expandable>,
    #[serde(default)]
    parent: Option<RawInvoiceParent>,
    /// Older API versions: the subscription's details at the top level.
    #[serde(default)]
    subscription_details: Option<RawSubscriptionDetails>,
    #[serde(default)]
    number: Option<String>,
    #[serde(default)]
    status: Option<String>,
    currency: String,
    subtotal: i64,
    total: i64,
    amount_due: i64,
    amount_paid: i64,
    #[serde(default)]
    period_start: Option<i64>,
    #[serde(default)]
    period_end: Option<i64>,
    #[serde(default)]
    due_date: Option<i64>,
    #[serde(default)]
    status_transitions: Option<RawStatusTransitions>,
    #[serde(default)]
    hosted_invoice_url: Option<String>,
}

/// serde's error without its message, which can quote the offending value.
fn shape_error(what: &str, e: &serde_json::Error) -> StripeEventError {
    StripeEventError::Malformed(format!(
        "{what} ({:?} error at line {}, column {})",
        e.classify(),
        e.line(),
        e.column()
    ))
}

fn time(
    secs: Option<i64>,
    field: &'static str,
) -> Result<Option<StripeTimestamp>, StripeEventError> {
    secs.map(StripeTimestamp::from_unix)
        .transpose()
        .map_err(|_| StripeEventError::Invalid(field))
}

fn period(
    start: Option<i64>,
    end: Option<i64>,
    start_field: &'static str,
    end_field: &'static str,
) -> Result<(Option<StripeTimestamp>, Option<StripeTimestamp>), StripeEventError> {
    let (start, end) = (time(start, start_field)?, time(end, end_field)?);
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        return Err(StripeEventError::Invalid(end_field));
    }
    Ok((start, end))
}

fn object<T: for<'de> Deserialize<'de>>(
    data: Option<RawData>,
    what: &str,
) -> Result<T, StripeEventError> {
    let data = data.ok_or_else(|| StripeEventError::Malformed("no data.object".into()))?;
    serde_json::from_value(data.object).map_err(|e| shape_error(what, &e))
}

impl StripeEvent {
    /// Parses a delivery's raw body (see the module docs for what is read and checked).
    pub fn parse(body: &[u8]) -> Result<Self, StripeEventError> {
        let raw: RawEvent =
            serde_json::from_slice(body).map_err(|e| shape_error("event envelope", &e))?;
        let id = StripeEventId::parse(&raw.id).map_err(|_| StripeEventError::Invalid("id"))?;
        let created = StripeTimestamp::from_unix(raw.created)
            .map_err(|_| StripeEventError::Invalid("created"))?;
        let kind = match raw.event_type.as_str() {
            "checkout.session.completed" => StripeEventKind::CheckoutSessionCompleted(
                checkout_session(object(raw.data, "checkout session")?)?,
            ),
            "customer.subscription.created" => StripeEventKind::SubscriptionCreated(subscription(
                object(raw.data, "subscription")?,
            )?),
            "customer.subscription.updated" => StripeEventKind::SubscriptionUpdated(subscription(
                object(raw.data, "subscription")?,
            )?),
            "customer.subscription.deleted" => StripeEventKind::SubscriptionDeleted(subscription(
                object(raw.data, "subscription")?,
            )?),
            "invoice.paid" => StripeEventKind::InvoicePaid(invoice(object(raw.data, "invoice")?)?),
            "invoice.payment_failed" => {
                StripeEventKind::InvoicePaymentFailed(invoice(object(raw.data, "invoice")?)?)
            }
            other => {
                // Logged, so keep it to what an event type can look like.
                let plausible = !other.is_empty()
                    && other.len() <= 100
                    && other.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    });
                if !plausible {
                    return Err(StripeEventError::Invalid("type"));
                }
                StripeEventKind::Other {
                    event_type: other.to_owned(),
                }
            }
        };
        Ok(Self { id, created, kind })
    }
}

fn checkout_session(raw: RawCheckoutSession) -> Result<CheckoutSession, StripeEventError> {
    Ok(CheckoutSession {
        organization_id: raw
            .client_reference_id
            .as_deref()
            .and_then(|r| OrgId::parse(r).ok()),
        metadata_organization_id: metadata_org(raw.metadata.as_ref()),
        customer: raw
            .customer
            .map(|c| StripeCustomerId::parse(c.id()))
            .transpose()
            .map_err(|_| StripeEventError::Invalid("data.object.customer"))?,
    })
}

fn subscription(raw: RawSubscription) -> Result<Subscription, StripeEventError> {
    let invalid = StripeEventError::Invalid;
    let id = StripeSubscriptionId::parse(&raw.id).map_err(|_| invalid("data.object.id"))?;
    let customer =
        StripeCustomerId::parse(raw.customer.id()).map_err(|_| invalid("data.object.customer"))?;
    let status =
        SubscriptionStatus::from_wire(&raw.status).map_err(|_| invalid("data.object.status"))?;
    let item = raw.items.and_then(|l| l.data.into_iter().next());
    let (item_price, item_quantity, item_start, item_end) = match item {
        Some(i) => (
            i.price.or(i.plan),
            i.quantity,
            i.current_period_start,
            i.current_period_end,
        ),
        None => (None, None, None, None),
    };
    let price = item_price.or(raw.plan);
    let plan = price
        .as_ref()
        .and_then(|p| {
            p.lookup_key
                .as_deref()
                .and_then(|k| PlanName::parse(k).ok())
        })
        .or_else(|| {
            price
                .as_ref()
                .and_then(|p| metadata_plan(p.metadata.as_ref()))
        })
        .or_else(|| metadata_plan(raw.metadata.as_ref()))
        .unwrap_or_else(|| PlanName(PlanName::UNKNOWN.to_owned()));
    let currency = price
        .as_ref()
        .and_then(|p| p.currency.clone())
        .or(raw.currency)
        .ok_or(invalid("data.object.currency"))?;
    let currency = Currency::parse(&currency).map_err(|_| invalid("data.object.currency"))?;
    let unit_amount_cents = price
        .as_ref()
        .and_then(|p| p.unit_amount.or(p.amount))
        .unwrap_or(0);
    if unit_amount_cents < 0 {
        return Err(invalid("data.object.items.data.price.unit_amount"));
    }
    let quantity = i32::try_from(item_quantity.or(raw.quantity).unwrap_or(1))
        .ok()
        .filter(|q| *q >= 0)
        .ok_or(invalid("data.object.items.data.quantity"))?;
    let (current_period_start, current_period_end) = period(
        item_start.or(raw.current_period_start),
        item_end.or(raw.current_period_end),
        "data.object.current_period_start",
        "data.object.current_period_end",
    )?;
    Ok(Subscription {
        id,
        customer,
        organization_id: metadata_org(raw.metadata.as_ref()),
        status,
        plan,
        price_id: price.and_then(|p| StripePriceId::parse(&p.id).ok()),
        quantity,
        unit_amount_cents,
        currency,
        current_period_start,
        current_period_end,
        cancel_at_period_end: raw.cancel_at_period_end.unwrap_or(false),
        cancelled_at: time(raw.canceled_at, "data.object.canceled_at")?,
    })
}

fn invoice(raw: RawInvoice) -> Result<Invoice, StripeEventError> {
    let invalid = StripeEventError::Invalid;
    let details = raw
        .parent
        .and_then(|p| p.subscription_details)
        .or(raw.subscription_details);
    let organization_id = details
        .as_ref()
        .and_then(|d| metadata_org(d.metadata.as_ref()));
    let subscription = raw
        .subscription
        .or_else(|| details.and_then(|d| d.subscription));
    let (period_start, period_end) = period(
        raw.period_start,
        raw.period_end,
        "data.object.period_start",
        "data.object.period_end",
    )?;
    if raw.amount_due < 0 {
        return Err(invalid("data.object.amount_due"));
    }
    if raw.amount_paid < 0 {
        return Err(invalid("data.object.amount_paid"));
    }
    Ok(Invoice {
        id: StripeInvoiceId::parse(&raw.id).map_err(|_| invalid("data.object.id"))?,
        customer: raw
            .customer
            .map(|c| StripeCustomerId::parse(c.id()))
            .transpose()
            .map_err(|_| invalid("data.object.customer"))?,
        organization_id,
        subscription: subscription
            .map(|s| StripeSubscriptionId::parse(s.id()))
            .transpose()
            .map_err(|_| invalid("data.object.subscription"))?,
        number: raw
            .number
            .filter(|n| (1..=100).contains(&n.chars().count()) && !n.chars().any(char::is_control)),
        status: raw
            .status
            .as_deref()
            .map(InvoiceStatus::parse)
            .ok_or(invalid("data.object.status"))?
            .map_err(|_| invalid("data.object.status"))?,
        currency: Currency::parse(&raw.currency).map_err(|_| invalid("data.object.currency"))?,
        subtotal_cents: raw.subtotal,
        total_cents: raw.total,
        amount_due_cents: raw.amount_due,
        amount_paid_cents: raw.amount_paid,
        period_start,
        period_end,
        due_at: time(raw.due_date, "data.object.due_date")?,
        paid_at: time(
            raw.status_transitions.and_then(|t| t.paid_at),
            "data.object.status_transitions.paid_at",
        )?,
        hosted_invoice_url: raw.hosted_invoice_url.filter(|u| {
            u.starts_with("https://") && u.len() <= 2048 && !u.chars().any(char::is_control)
        }),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(event_type: &str, object: Value) -> Vec<u8> {
        json!({"id": "evt_1Abc", "object": "event", "type": event_type, "created": 1_700_000_000,
               "api_version": "2025-03-31.basil", "data": {"object": object}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn ids_follow_the_table_checks() {
        assert!(StripeCustomerId::parse("cus_NffrFeUfNV2Hib").is_ok());
        for bad in ["cus_", "cus_a_b", "cus_a b", "sub_abc", "CUS_abc", ""] {
            assert!(StripeCustomerId::parse(bad).is_err(), "{bad}");
        }
        assert!(StripeEventId::parse("evt_test_webhook").is_ok());
        assert!(StripeEventId::parse("evt_1NG8Du2eZvKYlo2CUI79vXWy").is_ok());
        assert!(StripeEventId::parse("evt_x-y").is_err());
        assert!(StripeEventId::parse(&format!("evt_{}", "a".repeat(300))).is_err());
        assert!(StripePriceId::parse("price_1Mr6rdLkdIwHu7ixwPmiybbR").is_ok());
        assert!(StripeInvoiceId::parse("in_1MtHbELkdIwHu7ixl4OzzPMv").is_ok());
        assert!(StripeSubscriptionId::parse("sub_1MowQVLkdIwHu7ixeRlqHVzs").is_ok());
    }

    #[test]
    fn values_follow_the_table_checks() {
        assert!(Currency::parse("usd").is_ok());
        assert!(Currency::parse("USD").is_err());
        assert!(Currency::parse("us").is_err());
        assert!(PlanName::parse("pro-annual_2").is_ok());
        assert!(PlanName::parse("Pro").is_err());
        assert!(PlanName::parse("").is_err());
        assert!(PlanName::parse(&"a".repeat(65)).is_err());
        assert!(StripeTimestamp::from_unix(-1).is_err());
        assert!(StripeTimestamp::from_unix(253_402_300_800).is_err());
        for s in [
            "incomplete",
            "incomplete_expired",
            "trialing",
            "active",
            "past_due",
            "canceled",
            "unpaid",
            "paused",
        ] {
            assert_eq!(SubscriptionStatus::from_wire(s).unwrap().as_wire(), s);
        }
        // Stripe's `canceled` is stored and served as `cancelled`; the wire never says that.
        let cancelled = SubscriptionStatus::from_wire("canceled").unwrap();
        assert_eq!(cancelled, SubscriptionStatus::Cancelled);
        assert_eq!(cancelled.as_str(), "cancelled");
        assert!(SubscriptionStatus::from_wire("cancelled").is_err());
        assert!(SubscriptionStatus::parse("canceled").is_err());
        assert_eq!(
            SubscriptionStatus::from_wire("past_due").unwrap().as_str(),
            "past_due"
        );
        assert!(SubscriptionStatus::from_wire("ended").is_err());
        for s in ["draft", "open", "paid", "uncollectible", "void"] {
            assert_eq!(InvoiceStatus::parse(s).unwrap().as_str(), s);
        }
    }

    #[test]
    fn a_basil_subscription_reads_its_period_from_the_item() {
        let body = event(
            "customer.subscription.updated",
            json!({
                "id": "sub_1MowQVLkdIwHu7ixeRlqHVzs", "object": "subscription",
                "customer": "cus_NffrFeUfNV2Hib", "status": "active",
                "cancel_at_period_end": true, "canceled_at": null, "currency": "usd",
                "metadata": {},
                "items": {"object": "list", "data": [{
                    "id": "si_1", "quantity": 3,
                    "current_period_start": 1_700_000_000, "current_period_end": 1_702_592_000,
                    "price": {"id": "price_1Mr6rdLkdIwHu7ixwPmiybbR", "unit_amount": 2900,
                              "currency": "usd", "lookup_key": "pro", "metadata": {}}
                }]}
            }),
        );
        let e = StripeEvent::parse(&body).unwrap();
        assert_eq!(e.id.as_str(), "evt_1Abc");
        assert_eq!(e.created.unix(), 1_700_000_000);
        let StripeEventKind::SubscriptionUpdated(s) = e.kind else {
            panic!("not a subscription update")
        };
        assert_eq!(s.id.as_str(), "sub_1MowQVLkdIwHu7ixeRlqHVzs");
        assert_eq!(s.customer.as_str(), "cus_NffrFeUfNV2Hib");
        assert_eq!(s.status, SubscriptionStatus::Active);
        assert_eq!(s.plan.as_str(), "pro");
        assert_eq!(
            s.price_id.unwrap().as_str(),
            "price_1Mr6rdLkdIwHu7ixwPmiybbR"
        );
        assert_eq!((s.quantity, s.unit_amount_cents), (3, 2900));
        assert_eq!(s.current_period_start.unwrap().unix(), 1_700_000_000);
        assert_eq!(s.current_period_end.unwrap().unix(), 1_702_592_000);
        assert!(s.cancel_at_period_end);
    }

    #[test]
    fn an_older_subscription_reads_its_period_and_legacy_plan_from_the_top() {
        let body = event(
            "customer.subscription.created",
            json!({
                "id": "sub_Old1", "customer": {"id": "cus_Old1", "object": "customer"},
                "status": "trialing", "current_period_start": 1_600_000_000,
                "current_period_end": 1_602_592_000, "quantity": 2,
                "metadata": {"plan": "team"},
                "plan": {"id": "gold", "amount": 1500, "currency": "eur"},
                "items": {"object": "list", "data": []}
            }),
        );
        let StripeEventKind::SubscriptionCreated(s) = StripeEvent::parse(&body).unwrap().kind
        else {
            panic!()
        };
        assert_eq!(s.customer.as_str(), "cus_Old1");
        assert_eq!(
            s.plan.as_str(),
            "team",
            "falls back to the subscription's metadata"
        );
        assert_eq!(s.price_id, None, "a legacy plan id is not a price id");
        assert_eq!(
            (s.quantity, s.unit_amount_cents, s.currency.as_str()),
            (2, 1500, "eur")
        );
        assert_eq!(s.current_period_end.unwrap().unix(), 1_602_592_000);
    }

    #[test]
    fn a_subscription_without_a_plan_name_is_unknown_not_refused() {
        let body = event(
            "customer.subscription.deleted",
            json!({"id": "sub_X", "customer": "cus_X", "status": "canceled", "currency": "usd",
                   "items": {"data": [{"price": {"id": "price_X", "unit_amount": null}}]}}),
        );
        let StripeEventKind::SubscriptionDeleted(s) = StripeEvent::parse(&body).unwrap().kind
        else {
            panic!()
        };
        assert_eq!(s.plan.as_str(), PlanName::UNKNOWN);
        assert_eq!((s.quantity, s.unit_amount_cents), (1, 0));
        assert_eq!(
            s.status,
            SubscriptionStatus::Cancelled,
            "Stripe's `canceled`"
        );
    }

    #[test]
    fn invoices_read_the_subscription_from_either_place() {
        let basil = event(
            "invoice.paid",
            json!({"id": "in_1", "customer": "cus_1", "status": "paid", "currency": "usd",
                   "subtotal": 1000, "total": 1100, "amount_due": 1100, "amount_paid": 1100,
                   "period_start": 1_700_000_000, "period_end": 1_700_000_000, "number": "ABC-0001",
                   "status_transitions": {"paid_at": 1_700_000_100},
                   "hosted_invoice_url": "https://invoice.stripe.com/i/acct/x",
                   "parent": {"type": "subscription_details",
                              "subscription_details": {"subscription": "sub_1", "metadata": {}}}}),
        );
        let StripeEventKind::InvoicePaid(i) = StripeEvent::parse(&basil).unwrap().kind else {
            panic!()
        };
        assert_eq!(i.subscription.unwrap().as_str(), "sub_1");
        assert_eq!(i.paid_at.unwrap().unix(), 1_700_000_100);
        assert_eq!(i.number.as_deref(), Some("ABC-0001"));
        assert_eq!(
            (i.subtotal_cents, i.total_cents, i.amount_paid_cents),
            (1000, 1100, 1100)
        );
        let older = event(
            "invoice.payment_failed",
            json!({"id": "in_2", "customer": "cus_1", "subscription": "sub_2", "status": "open",
                   "currency": "usd", "subtotal": 1, "total": 1, "amount_due": 1, "amount_paid": 0,
                   "hosted_invoice_url": "http://not-https.example"}),
        );
        let StripeEventKind::InvoicePaymentFailed(i) = StripeEvent::parse(&older).unwrap().kind
        else {
            panic!()
        };
        assert_eq!(i.subscription.unwrap().as_str(), "sub_2");
        assert_eq!(i.status, InvoiceStatus::Open);
        assert_eq!(
            i.hosted_invoice_url, None,
            "display-only field dropped, not refused"
        );
        // NUL cannot be stored (PostgreSQL text): dropped like any other unusable display text.
        let nul = event(
            "invoice.paid",
            json!({"id": "in_3", "customer": "cus_1", "status": "paid", "currency": "usd",
                   "subtotal": 1, "total": 1, "amount_due": 0, "amount_paid": 1,
                   "number": "A\u{0}1", "hosted_invoice_url": "https://invoice.stripe.com/\u{0}"}),
        );
        let StripeEventKind::InvoicePaid(i) = StripeEvent::parse(&nul).unwrap().kind else {
            panic!()
        };
        assert_eq!((i.number, i.hosted_invoice_url), (None, None));
    }

    #[test]
    fn checkout_sessions_name_the_organization_by_client_reference_id() {
        let org = OrgId::new();
        let body = event(
            "checkout.session.completed",
            json!({"id": "cs_test_1", "object": "checkout.session", "mode": "subscription",
                   "client_reference_id": org.to_string(), "customer": "cus_New1",
                   "subscription": "sub_New1", "metadata": {"organization_id": org.to_string()}}),
        );
        let StripeEventKind::CheckoutSessionCompleted(c) = StripeEvent::parse(&body).unwrap().kind
        else {
            panic!()
        };
        assert_eq!(c.organization_id, Some(org));
        assert_eq!(c.metadata_organization_id, Some(org));
        assert_eq!(c.customer.unwrap().as_str(), "cus_New1");
        let foreign = event(
            "checkout.session.completed",
            json!({"id": "cs_2", "client_reference_id": "order-17", "customer": null}),
        );
        let StripeEventKind::CheckoutSessionCompleted(c) =
            StripeEvent::parse(&foreign).unwrap().kind
        else {
            panic!()
        };
        assert_eq!(
            (c.organization_id, c.metadata_organization_id, c.customer),
            (None, None, None)
        );
    }

    #[test]
    fn other_types_need_only_the_envelope() {
        let body = br#"{"id":"evt_test_webhook","object":"event","type":"charge.succeeded","created":1795756800}"#;
        let e = StripeEvent::parse(body).unwrap();
        assert_eq!(e.kind.event_type(), "charge.succeeded");
        assert!(matches!(e.kind, StripeEventKind::Other { .. }));
    }

    #[test]
    fn refusals_name_the_field_never_the_value() {
        assert!(matches!(
            StripeEvent::parse(b"not json"),
            Err(StripeEventError::Malformed(_))
        ));
        let secret_email = "grace@example.com";
        let body = event(
            "customer.subscription.updated",
            json!({"id": "sub_1", "customer": secret_email, "status": "active", "currency": "usd"}),
        );
        let err = StripeEvent::parse(&body).unwrap_err();
        assert_eq!(err, StripeEventError::Invalid("data.object.customer"));
        let body = event(
            "invoice.paid",
            json!({"id": "in_1", "currency": secret_email}),
        );
        let err = StripeEvent::parse(&body).unwrap_err().to_string();
        assert!(!err.contains(secret_email), "{err}");
        let body = event(
            "customer.subscription.updated",
            json!({"id": "sub_1", "customer": "cus_1", "status": "active", "currency": "usd",
                   "current_period_start": 20, "current_period_end": 10}),
        );
        assert_eq!(
            StripeEvent::parse(&body).unwrap_err(),
            StripeEventError::Invalid("data.object.current_period_end")
        );
        assert_eq!(
            StripeEvent::parse(br#"{"id":"evt_1","type":"x y","created":1}"#).unwrap_err(),
            StripeEventError::Invalid("type")
        );
        assert_eq!(
            StripeEvent::parse(br#"{"id":"nope","type":"a.b","created":1}"#).unwrap_err(),
            StripeEventError::Invalid("id")
        );
    }
}
