//! `/v1/billing`: the organization's subscription and invoices, read-only for every member.
//! They are written only by the Stripe path (palisade_billing); the app role may not write them
//! at all (policies/440_billing.sql), so there are no write routes here.

use actix_web::{HttpResponse, web};
use palisade_db::billing::{self as db, Invoice, InvoiceFilter, Subscription};
use palisade_domain::InvoiceId;
use palisade_domain::stripe::InvoiceStatus;
use serde::Deserialize;

use super::{Fields, parse_id};
use crate::auth::Caller;
use crate::list::List;
use crate::{ApiError, AppState};

/// Declares this family's routes (see [`crate::endpoints`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    e.get("/v1/billing/subscription", subscription)
        .tag("billing")
        .summary("Get the current subscription")
        .describe("The current (newest not ended) subscription, or 404")
        .ok::<Subscription>()
        .errors(&[404]);
    e.get("/v1/billing/invoices", list_invoices)
        .tag("billing")
        .summary("List invoices")
        .describe(
            "Newest first; `created_after` is inclusive, `created_before` exclusive (RFC 3339)",
        )
        .list_query::<ListQuery>()
        .list::<Invoice>()
        .errors(&[422]);
    e.get("/v1/billing/invoices/{id}", get_invoice)
        .tag("billing")
        .summary("Get an invoice")
        .ok::<Invoice>()
        .errors(&[404]);
}

/// `GET /v1/billing/subscription`: the current (newest not ended) subscription, or 404.
pub async fn subscription(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let tx = caller.begin(&state).await?;
    let sub = db::current_subscription(tx)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(sub))
}

/// List query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[param(value_type = Option<InvoiceStatus>, inline)]
    status: Option<String>,
}

crate::rules::field_rules!(ListQuery {});

/// `GET /v1/billing/invoices?limit=&cursor=&status=&created_after=&created_before=`: newest
/// first; `created_after` is inclusive, `created_before` exclusive (RFC 3339).
pub async fn list_invoices(
    state: web::Data<AppState>,
    caller: Caller,
    q: List<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let status = f
        .optional("status", q.filter.status.as_deref(), InvoiceStatus::parse)
        .map(|s| s.as_str().to_owned());
    f.finish()?;
    let tx = caller.begin(&state).await?;
    let page = db::list_invoices(tx, &InvoiceFilter { status }, q.page).await?;
    Ok(q.respond(page, |i| i))
}

/// `GET /v1/billing/invoices/{id}`.
pub async fn get_invoice(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, InvoiceId::parse)?;
    let tx = caller.begin(&state).await?;
    let invoice = db::get_invoice(tx, id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(invoice))
}
