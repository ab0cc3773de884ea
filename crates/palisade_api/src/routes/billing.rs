//! `/v1/billing`: the organization's subscription and invoices, read-only for every member.
//! They are written only by the Stripe path (palisade_billing); the app role may not write them
//! at all (policies/440_billing.sql), so there are no write routes here.

use actix_web::{HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::billing::{self as db, Invoice, InvoiceFilter, Subscription};
use palisade_domain::InvoiceId;
use palisade_domain::stripe::{InvoiceStatus, SubscriptionStatus};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Fields, parse_id};
use crate::auth::Tenant;
use crate::list::List;
use crate::{ApiError, AppState};

/// Declares this family's routes (see [`crate::endpoints`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    e.get("/v1/billing/subscription", subscription)
        .tag("billing")
        .summary("Get the current subscription")
        .describe("The current (newest not ended) subscription, or 404")
        .ok::<SubscriptionJson>()
        .errors(&[404]);
    e.get("/v1/billing/invoices", list_invoices)
        .tag("billing")
        .summary("List invoices")
        .describe(
            "Newest first; `created_after` is inclusive, `created_before` exclusive (RFC 3339)",
        )
        .list_query::<ListQuery>()
        .list::<InvoiceJson>()
        .errors(&[422]);
    e.get("/v1/billing/invoices/{id}", get_invoice)
        .tag("billing")
        .summary("Get an invoice")
        .ok::<InvoiceJson>()
        .errors(&[404]);
}

/// A subscription as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Subscription)]
pub struct SubscriptionJson {
    id: Uuid,
    stripe_subscription_id: String,
    #[schema(value_type = SubscriptionStatus)]
    status: String,
    plan: String,
    stripe_price_id: Option<String>,
    quantity: i32,
    /// In the currency's smallest unit.
    unit_amount_cents: i64,
    /// ISO 4217, lower case (`usd`).
    currency: String,
    #[serde(with = "palisade_domain::timestamp::option")]
    current_period_start: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp::option")]
    current_period_end: Option<OffsetDateTime>,
    cancel_at_period_end: bool,
    #[serde(with = "palisade_domain::timestamp::option")]
    cancelled_at: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<Subscription> for SubscriptionJson {
    fn from(s: Subscription) -> Self {
        Self {
            id: s.id,
            stripe_subscription_id: s.stripe_subscription_id,
            status: s.status,
            plan: s.plan,
            stripe_price_id: s.stripe_price_id,
            quantity: s.quantity,
            unit_amount_cents: s.unit_amount_cents,
            currency: s.currency,
            current_period_start: s.current_period_start,
            current_period_end: s.current_period_end,
            cancel_at_period_end: s.cancel_at_period_end,
            cancelled_at: s.cancelled_at,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// An invoice as clients see it. Amounts are in the currency's smallest unit.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Invoice)]
pub struct InvoiceJson {
    id: Uuid,
    stripe_invoice_id: String,
    stripe_subscription_id: Option<String>,
    number: Option<String>,
    #[schema(value_type = InvoiceStatus)]
    status: String,
    /// ISO 4217, lower case (`usd`).
    currency: String,
    subtotal_cents: i64,
    total_cents: i64,
    amount_due_cents: i64,
    amount_paid_cents: i64,
    #[serde(with = "palisade_domain::timestamp::option")]
    period_start: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp::option")]
    period_end: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp::option")]
    due_at: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp::option")]
    paid_at: Option<OffsetDateTime>,
    hosted_invoice_url: Option<String>,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<Invoice> for InvoiceJson {
    fn from(i: Invoice) -> Self {
        Self {
            id: i.id,
            stripe_invoice_id: i.stripe_invoice_id,
            stripe_subscription_id: i.stripe_subscription_id,
            number: i.number,
            status: i.status,
            currency: i.currency,
            subtotal_cents: i.subtotal_cents,
            total_cents: i.total_cents,
            amount_due_cents: i.amount_due_cents,
            amount_paid_cents: i.amount_paid_cents,
            period_start: i.period_start,
            period_end: i.period_end,
            due_at: i.due_at,
            paid_at: i.paid_at,
            hosted_invoice_url: i.hosted_invoice_url,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

/// `GET /v1/billing/subscription`: the current (newest not ended) subscription, or 404.
pub async fn subscription(
    state: web::Data<AppState>,
    tenant: Tenant,
) -> Result<HttpResponse, ApiError> {
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let sub = db::current_subscription(tx)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(SubscriptionJson::from(sub)))
}

/// List query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[param(value_type = Option<InvoiceStatus>, inline)]
    status: Option<String>,
}

/// `GET /v1/billing/invoices?limit=&cursor=&status=&created_after=&created_before=`: newest
/// first; `created_after` is inclusive, `created_before` exclusive (RFC 3339).
pub async fn list_invoices(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: List<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let status = f
        .optional("status", q.filter.status.as_deref(), InvoiceStatus::parse)
        .map(|s| s.as_str().to_owned());
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list_invoices(tx, &InvoiceFilter { status }, q.page).await?;
    Ok(q.respond(page, InvoiceJson::from))
}

/// `GET /v1/billing/invoices/{id}`.
pub async fn get_invoice(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, InvoiceId::parse)?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let invoice = db::get_invoice(tx, id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(InvoiceJson::from(invoice)))
}
