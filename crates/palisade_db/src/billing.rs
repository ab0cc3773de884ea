//! Billing as tenants see it: read-only. Subscriptions and invoices are written by the Stripe
//! path (palisade_billing, its own pool); the app role may only SELECT them
//! (policies/440_billing.sql).

use palisade_domain::InvoiceId;
use palisade_domain::stripe::SubscriptionStatus;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::list::{Cursor, ListQuery};
use crate::{DbError, Page, PageRequest, TenantTx};

/// A Stripe subscription of the organization.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// Our id.
    pub id: Uuid,
    /// Stripe's id (`sub_...`).
    pub stripe_subscription_id: String,
    /// Stripe status (`active`, `past_due`, ...).
    pub status: String,
    /// Plan name.
    pub plan: String,
    /// Stripe price id.
    pub stripe_price_id: Option<String>,
    /// Seats or units.
    pub quantity: i32,
    /// Price per unit, in the currency's smallest unit.
    pub unit_amount_cents: i64,
    /// ISO 4217, lower case.
    pub currency: String,
    /// Current billing period start.
    pub current_period_start: Option<OffsetDateTime>,
    /// Current billing period end.
    pub current_period_end: Option<OffsetDateTime>,
    /// Whether it ends with the current period.
    pub cancel_at_period_end: bool,
    /// When it was cancelled.
    pub cancelled_at: Option<OffsetDateTime>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// A Stripe invoice of the organization.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoice {
    /// Our id.
    pub id: Uuid,
    /// Stripe's id (`in_...`).
    pub stripe_invoice_id: String,
    /// The Stripe subscription it bills, if any.
    pub stripe_subscription_id: Option<String>,
    /// Invoice number.
    pub number: Option<String>,
    /// `draft`, `open`, `paid`, `uncollectible`, `void`.
    pub status: String,
    /// ISO 4217, lower case.
    pub currency: String,
    /// Before discounts and taxes, in the smallest unit.
    pub subtotal_cents: i64,
    /// After discounts and taxes.
    pub total_cents: i64,
    /// Still to pay.
    pub amount_due_cents: i64,
    /// Paid so far.
    pub amount_paid_cents: i64,
    /// Billed period start.
    pub period_start: Option<OffsetDateTime>,
    /// Billed period end.
    pub period_end: Option<OffsetDateTime>,
    /// Due date.
    pub due_at: Option<OffsetDateTime>,
    /// When it was paid.
    pub paid_at: Option<OffsetDateTime>,
    /// Stripe's hosted page for it.
    pub hosted_invoice_url: Option<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// Invoice list filters.
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    /// Only this status.
    pub status: Option<String>,
}

/// The statuses of a subscription that no longer bills (not "current"): Stripe's final ones.
pub const ENDED_SUBSCRIPTION_STATUSES: [&str; 2] = [
    SubscriptionStatus::FINAL[0].as_str(),
    SubscriptionStatus::FINAL[1].as_str(),
];

macro_rules! subscription_columns {
    () => {
        "id, stripe_subscription_id, status, plan, stripe_price_id, quantity, unit_amount_cents, \
         currency, current_period_start, current_period_end, cancel_at_period_end, cancelled_at, \
         created_at, updated_at"
    };
}

macro_rules! invoice_columns {
    () => {
        "id, stripe_invoice_id, stripe_subscription_id, number, status, currency, subtotal_cents, \
         total_cents, amount_due_cents, amount_paid_cents, period_start, period_end, due_at, \
         paid_at, hosted_invoice_url, created_at, updated_at"
    };
}

fn subscription_from_row(r: &Row) -> Result<Subscription, DbError> {
    Ok(Subscription {
        id: r.try_get("id")?,
        stripe_subscription_id: r.try_get("stripe_subscription_id")?,
        status: r.try_get("status")?,
        plan: r.try_get("plan")?,
        stripe_price_id: r.try_get("stripe_price_id")?,
        quantity: r.try_get("quantity")?,
        unit_amount_cents: r.try_get("unit_amount_cents")?,
        currency: r.try_get("currency")?,
        current_period_start: r.try_get("current_period_start")?,
        current_period_end: r.try_get("current_period_end")?,
        cancel_at_period_end: r.try_get("cancel_at_period_end")?,
        cancelled_at: r.try_get("cancelled_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn invoice_from_row(r: &Row) -> Result<Invoice, DbError> {
    Ok(Invoice {
        id: r.try_get("id")?,
        stripe_invoice_id: r.try_get("stripe_invoice_id")?,
        stripe_subscription_id: r.try_get("stripe_subscription_id")?,
        number: r.try_get("number")?,
        status: r.try_get("status")?,
        currency: r.try_get("currency")?,
        subtotal_cents: r.try_get("subtotal_cents")?,
        total_cents: r.try_get("total_cents")?,
        amount_due_cents: r.try_get("amount_due_cents")?,
        amount_paid_cents: r.try_get("amount_paid_cents")?,
        period_start: r.try_get("period_start")?,
        period_end: r.try_get("period_end")?,
        due_at: r.try_get("due_at")?,
        paid_at: r.try_get("paid_at")?,
        hosted_invoice_url: r.try_get("hosted_invoice_url")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// The organization's current subscription: the newest one that has not ended (cancelled or
/// expired before it started). `None` when there is none. Ends the transaction.
pub async fn current_subscription(tx: TenantTx) -> Result<Option<Subscription>, DbError> {
    let rows = tx
        .query_once(
            concat!(
                "SELECT ",
                subscription_columns!(),
                " FROM palisade.subscriptions WHERE status <> ALL ($1) \
                 ORDER BY created_at DESC, id DESC LIMIT 1"
            ),
            &[&ENDED_SUBSCRIPTION_STATUSES.as_slice()],
        )
        .await?;
    rows.first().map(subscription_from_row).transpose()
}

/// One page of invoices, newest first. Ends the transaction (one round trip).
pub async fn list_invoices(
    tx: TenantTx,
    filter: &InvoiceFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<Invoice, Cursor>, DbError> {
    ListQuery::new(concat!(
        "SELECT ",
        invoice_columns!(),
        " FROM palisade.invoices WHERE true"
    ))
    .and_opt("status = $", filter.status.as_ref())
    .page(&page)
    .fetch(tx, page.limit, invoice_from_row, |i| Cursor {
        created_at: i.created_at,
        id: i.id,
    })
    .await
}

/// One invoice, or `None` when it does not exist in this organization. Ends the transaction.
pub async fn get_invoice(tx: TenantTx, id: InvoiceId) -> Result<Option<Invoice>, DbError> {
    let rows = tx
        .query_once(
            concat!(
                "SELECT ",
                invoice_columns!(),
                " FROM palisade.invoices WHERE id = $1"
            ),
            &[&id.as_uuid()],
        )
        .await?;
    rows.first().map(invoice_from_row).transpose()
}
