//! `POST /webhooks/stripe`: Stripe's billing events, the one platform-level path.
//!
//! Order of work: read the raw body (at most [`MAX_STRIPE_BODY`]), verify `Stripe-Signature`
//! over it ([`verify_stripe`], 300 s tolerance) before anything is parsed, parse the event
//! ([`StripeEvent::parse`]), then apply it through the [`BillingPool`] in one transaction.
//!
//! | case | answer |
//! |---|---|
//! | Stripe not configured | 503 `not_configured` |
//! | signature missing, malformed, stale or wrong | 401 `invalid_signature`, nothing written |
//! | signed, but not an event we can read | 400 `invalid_event` (Stripe retries) |
//! | applied, stale, duplicate, unhandled type, unknown customer or organization | 200 `{"received": true}` |
//! | customer matching several organizations, or already another's | 500 (logged; Stripe retries) |
//! | database error | 500 / 503 (Stripe retries for up to 3 days) |
//!
//! Logs name the event id, type and outcome, and the reason of a refusal; never the body, the
//! signature header or the secret.
//!
//! The billing pool and the signing secret reach this handler alone: [`register`] attaches them
//! to this one resource (`app_data` on the resource, not the application's shared state).

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use palisade_db::{BillingPool, StripeOutcome};
use palisade_domain::stripe::{StripeEvent, StripeEventError};

use super::signature::verify_stripe;
use super::{invalid_signature, not_configured};
use crate::ApiError;
use crate::metrics::{Metrics, WebhookOutcome, WebhookProvider};

/// The path Stripe posts to.
pub const PATH: &str = "/webhooks/stripe";

/// Largest body accepted, in bytes (Stripe's events are a few KiB; a subscription with many
/// items or an invoice with many lines stays far below this).
pub const MAX_STRIPE_BODY: usize = 256 * 1024;

/// The header Stripe signs with.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// What the Stripe route needs, and nothing else gets: the billing-role pool and the endpoint's
/// signing secret (`whsec_...`). Cheap to clone.
#[derive(Clone, Debug)]
pub struct StripeSetup {
    pool: BillingPool,
    webhook_secret: palisade_domain::Secret,
}

impl StripeSetup {
    /// Pairs the billing pool with the endpoint's signing secret.
    pub fn new(pool: BillingPool, webhook_secret: palisade_domain::Secret) -> Self {
        Self {
            pool,
            webhook_secret,
        }
    }

    /// The billing pool (the server checks its role at startup, settles it before stopping the
    /// HTTP workers, and closes it on shutdown).
    pub fn pool(&self) -> &BillingPool {
        &self.pool
    }
}

/// Registers `POST /webhooks/stripe` (other methods 405), with `stripe` attached to this resource
/// only. With `None` the route answers 503 `not_configured`.
pub fn register(e: &mut crate::endpoints::Endpoints, stripe: Option<StripeSetup>) {
    let mut doc = e.post(PATH, receive);
    doc.auth(crate::endpoints::Auth::Signature)
        .tag("provider-webhooks")
        .summary("Stripe: one event (the platform's billing path)")
        .describe("Signed with `Stripe-Signature`; the only route that uses the billing role.")
        .raw_body("application/json", "Stripe's signed event")
        .plain(200, "application/json", "Acknowledged");
    if let Some(stripe) = stripe {
        doc.resource(move |r| r.app_data(web::Data::new(stripe)));
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn too_large() -> ApiError {
    ApiError::Http {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: crate::error::ErrorCode::PayloadTooLarge,
        message: format!("Stripe webhook bodies are limited to {MAX_STRIPE_BODY} bytes"),
    }
}

/// Reads the raw body, refusing more than [`MAX_STRIPE_BODY`] bytes.
async fn read_body(req: &HttpRequest, mut payload: web::Payload) -> Result<Vec<u8>, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_STRIPE_BODY) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::BadRequest {
            code: crate::error::ErrorCode::InvalidBody,
            message: "the request body could not be read".into(),
        })?;
        if body.len() + chunk.len() > MAX_STRIPE_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// What an applied event counts as ([`Metrics::webhook`]): an event for no known organization
/// is `ignored` like an unhandled type; one refused for an ambiguous customer `failed` (its
/// answer, a 500, counts as `error` too).
fn counted_as(outcome: StripeOutcome) -> WebhookOutcome {
    match outcome {
        StripeOutcome::Applied => WebhookOutcome::Applied,
        StripeOutcome::Stale => WebhookOutcome::Stale,
        StripeOutcome::Duplicate => WebhookOutcome::Duplicate,
        StripeOutcome::Ignored
        | StripeOutcome::UnknownCustomer
        | StripeOutcome::UnknownOrganization
        | StripeOutcome::UnconfirmedOrganization => WebhookOutcome::Ignored,
        StripeOutcome::AmbiguousCustomer | StripeOutcome::CustomerConflict => {
            WebhookOutcome::Failed
        }
    }
}

/// `POST /webhooks/stripe` (see the module docs).
pub async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    stripe: Option<web::Data<StripeSetup>>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, ApiError> {
    // Not configured: set PALISADE_BILLING_DATABASE_URL and STRIPE_WEBHOOK_SECRET, or use the
    // embedded default.
    let Some(stripe) = stripe else {
        return Err(not_configured("stripe"));
    };
    let body = read_body(&req, payload).await?;
    // A header that is not visible ASCII cannot be a Stripe signature: treat it as malformed.
    let header = req
        .headers()
        .get(SIGNATURE_HEADER)
        .map(|v| v.to_str().unwrap_or(""));
    verify_stripe(stripe.webhook_secret.expose(), header, &body, now_unix())
        .map_err(|reason| invalid_signature("stripe", reason))?;
    let event = StripeEvent::parse(&body).map_err(|e| {
        tracing::warn!(error = %e, "Stripe webhook refused: signed, but not a readable event");
        ApiError::BadRequest {
            code: crate::error::ErrorCode::InvalidEvent,
            message: match e {
                StripeEventError::Malformed(_) => "the body is not a Stripe event".into(),
                StripeEventError::Invalid(field) => {
                    format!("the event's {field} is missing or invalid")
                }
            },
        }
    })?;
    let event_id = event.id.as_str();
    let event_type = event.kind.event_type();
    // ApiError logs the cause once, on the request's span; the message names the event.
    let outcome = stripe
        .pool
        .apply_stripe_event(&event)
        .await
        .map_err(|e| match e {
            e if e.is_transient() => ApiError::Unavailable(e),
            other => ApiError::internal(format!(
                "Stripe event {event_id} ({event_type}) not applied (Stripe will retry): {other}"
            )),
        })?;
    metrics.webhook(WebhookProvider::Stripe, counted_as(outcome));
    match outcome {
        StripeOutcome::Applied | StripeOutcome::Stale | StripeOutcome::Duplicate => {
            tracing::info!(stripe.event_id = %event_id, stripe.event_type = %event_type,
                outcome = outcome.as_str(), "Stripe event received");
        }
        StripeOutcome::Ignored => {
            tracing::info!(stripe.event_id = %event_id, stripe.event_type = %event_type,
                outcome = outcome.as_str(), "Stripe event acknowledged, not handled");
        }
        StripeOutcome::UnknownCustomer | StripeOutcome::UnknownOrganization => {
            tracing::warn!(stripe.event_id = %event_id, stripe.event_type = %event_type,
                outcome = outcome.as_str(), "Stripe event for no known organization: acknowledged, nothing written");
        }
        StripeOutcome::UnconfirmedOrganization => {
            tracing::warn!(stripe.event_id = %event_id, stripe.event_type = %event_type,
                outcome = outcome.as_str(), "Stripe checkout whose client_reference_id its metadata.organization_id does not confirm (a Payment Link's visitor may set it; create sessions with both): acknowledged, nothing written");
        }
        StripeOutcome::AmbiguousCustomer | StripeOutcome::CustomerConflict => {
            return Err(ApiError::internal(format!(
                "Stripe event {event_id} ({event_type}) not applied: {} (the Stripe customer id \
                 must belong to exactly one organization; fix palisade.organizations.stripe_customer_id)",
                outcome.as_str()
            )));
        }
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({"received": true})))
}
