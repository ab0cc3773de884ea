//! Billing as tenants see it: read-only. Subscriptions and invoices are written by the Stripe
//! path (palisade_billing, its own pool); the app role may only SELECT them
//! (policies/440_billing.sql).

use palisade_domain::InvoiceId;
use palisade_domain::stripe::{InvoiceStatus, SubscriptionStatus};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crud::{self, Table};
use crate::list::Cursor;
use crate::{DbError, Page, PageRequest, TenantTx};

crate::table! {
    /// A Stripe subscription of the organization, as stored and as clients see it.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct Subscription in "palisade.subscriptions" {
        /// Our id.
        id: Uuid,
        /// Stripe's id (`sub_...`).
        stripe_subscription_id: String,
        /// Stripe status (`active`, `past_due`, ...).
        #[schema(value_type = SubscriptionStatus)]
        status: String,
        /// Plan name.
        plan: String,
        /// Stripe price id.
        stripe_price_id: Option<String>,
        /// Seats or units.
        quantity: i32,
        /// Price per unit, in the currency's smallest unit.
        unit_amount_cents: i64,
        /// ISO 4217, lower case (`usd`).
        currency: String,
        /// Current billing period start.
        #[serde(with = "palisade_domain::timestamp::option")]
        current_period_start: Option<OffsetDateTime>,
        /// Current billing period end.
        #[serde(with = "palisade_domain::timestamp::option")]
        current_period_end: Option<OffsetDateTime>,
        /// Whether it ends with the current period.
        cancel_at_period_end: bool,
        /// When it was cancelled.
        #[serde(with = "palisade_domain::timestamp::option")]
        cancelled_at: Option<OffsetDateTime>,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
}

crate::table! {
    /// A Stripe invoice of the organization, as stored and as clients see it. Amounts are in the
    /// currency's smallest unit.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct Invoice in "palisade.invoices" {
        /// Our id.
        id: Uuid,
        /// Stripe's id (`in_...`).
        stripe_invoice_id: String,
        /// The Stripe subscription it bills, if any.
        stripe_subscription_id: Option<String>,
        /// Invoice number.
        number: Option<String>,
        /// `draft`, `open`, `paid`, `uncollectible`, `void`.
        #[schema(value_type = InvoiceStatus)]
        status: String,
        /// ISO 4217, lower case (`usd`).
        currency: String,
        /// Before discounts and taxes, in the smallest unit.
        subtotal_cents: i64,
        /// After discounts and taxes.
        total_cents: i64,
        /// Still to pay.
        amount_due_cents: i64,
        /// Paid so far.
        amount_paid_cents: i64,
        /// Billed period start.
        #[serde(with = "palisade_domain::timestamp::option")]
        period_start: Option<OffsetDateTime>,
        /// Billed period end.
        #[serde(with = "palisade_domain::timestamp::option")]
        period_end: Option<OffsetDateTime>,
        /// Due date.
        #[serde(with = "palisade_domain::timestamp::option")]
        due_at: Option<OffsetDateTime>,
        /// When it was paid.
        #[serde(with = "palisade_domain::timestamp::option")]
        paid_at: Option<OffsetDateTime>,
        /// Stripe's hosted page for it.
        hosted_invoice_url: Option<String>,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
}

crate::filter_type! {
    /// Invoice list filters.
    pub struct InvoiceFilter for Invoice {
        /// Only this status.
        status: String => "status = $",
    }
}

/// The statuses of a subscription that no longer bills (not "current"): Stripe's final ones.
pub const ENDED_SUBSCRIPTION_STATUSES: [&str; 2] = [
    SubscriptionStatus::FINAL[0].as_str(),
    SubscriptionStatus::FINAL[1].as_str(),
];

/// The organization's current subscription: the newest one that has not ended (cancelled or
/// expired before it started). `None` when there is none. Ends the transaction.
pub async fn current_subscription(tx: TenantTx) -> Result<Option<Subscription>, DbError> {
    let sql = [
        Subscription::LIST,
        " AND status <> ALL ($1) ORDER BY created_at DESC, id DESC LIMIT 1",
    ]
    .concat();
    let rows = tx
        .query_once(&sql, &[&ENDED_SUBSCRIPTION_STATUSES.as_slice()])
        .await?;
    rows.first().map(Subscription::from_row).transpose()
}

/// One page of invoices, newest first. Ends the transaction (one round trip).
pub async fn list_invoices(
    tx: TenantTx,
    filter: &InvoiceFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<Invoice, Cursor>, DbError> {
    crud::list_page(tx, filter, &page).await
}

/// One invoice, or `None` when it does not exist in this organization. Ends the transaction.
pub async fn get_invoice(tx: TenantTx, id: InvoiceId) -> Result<Option<Invoice>, DbError> {
    crud::get(tx, id.as_uuid()).await
}
