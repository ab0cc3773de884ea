//! Inbound webhooks from carriers, email providers and Stripe.
//!
//! - [`signature`] verifies each provider's signature over the raw request bytes, in constant
//!   time, before anything is parsed.
//! - [`config`]: the public base URL and the carrier/email providers' secrets.
//! - [`twilio`]: Twilio's signature check and inbound SMS; [`twilio_status`]: its SMS and
//!   voice status callbacks.
//! - [`stripe`]: `POST /webhooks/stripe`, the only user of the billing pool.
//! - [`aws_connect`]: Amazon Connect contact events from an EventBridge API destination,
//!   authenticated by an organization's credential header instead of a signature.
//! - [`email_events`]: SendGrid's and Mailgun's email events (Mailgun's signature tokens are admitted
//!   for one body only, in the database: [`palisade_db::webhooks::admit_mailgun_token`]).
//!
//! Each handler counts what every delivery it acknowledges came to ([`crate::metrics::Metrics::webhook`]:
//! applied, stale, duplicate, ignored, failed); a refused one is counted from its answer.
//!
//! Carrier and email deliveries are routed to an organization by a resolver function and
//! applied under RLS as the app role, recorded by their provider id in the same transaction
//! ([`palisade_db::webhooks`]). Only the Stripe route reaches the billing role.

pub mod aws_connect;
pub mod config;
pub mod email_events;
pub mod signature;
pub mod stripe;
pub mod twilio;
pub mod twilio_status;

pub use config::WebhookConfig;

use crate::endpoints::{Auth, Endpoints};
use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, web};
use palisade_db::TenantTx;
use palisade_db::webhooks::Delivery;
use palisade_domain::OrgId;

use crate::ApiError;
use crate::metrics::{Metrics, WebhookOutcome};

/// Largest Twilio request body accepted, in bytes (Twilio's own are a few KiB).
const MAX_TWILIO_BODY: usize = 64 * 1024;

/// Largest Amazon Connect event accepted, in bytes: an EventBridge event is at most 256 KiB.
const MAX_CONNECT_BODY: usize = 256 * 1024;

/// Largest email-provider request body accepted, in bytes: SendGrid batches events into posts
/// of up to a few hundred KiB; Mailgun sends one event per request.
const MAX_EMAIL_BODY: usize = 1024 * 1024;

/// One provider route: signed, not a tenant's, the raw body of `content_type` up to
/// `max_body` bytes, acknowledged by a 200 as `ack` says.
struct ProviderRoute {
    path: &'static str,
    summary: &'static str,
    content_type: &'static str,
    body: &'static str,
    max_body: usize,
    ack: Ack,
}

/// How a provider route acknowledges what it accepted (the provider reads the status only).
#[derive(Clone, Copy)]
enum Ack {
    /// A 200 with no body and no `Content-Type` (`HttpResponse::Ok().finish()`).
    Empty,
    /// A 200 with an empty TwiML document, `text/xml` (Twilio reads a reply in it).
    Twiml,
}

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

fn provider_route<F, Args>(
    e: &mut Endpoints,
    r: ProviderRoute,
    handler: F,
) -> crate::endpoints::Doc<'_>
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    let mut doc = e.post(r.path, handler);
    doc.auth(Auth::Signature)
        .tag("provider-webhooks")
        .summary(r.summary)
        .raw_body(r.content_type, r.body)
        .resource(move |res| res.app_data(web::PayloadConfig::new(r.max_body)));
    match r.ack {
        Ack::Empty => doc.empty(200, "Acknowledged (no body)"),
        Ack::Twiml => doc.plain(200, "text/xml", "Empty TwiML"),
    };
    doc
}

/// Registers the carrier and email-provider routes under `/webhooks` (no bearer token: each
/// request carries its provider's signature instead). One line a route: a table.
#[rustfmt::skip]
pub fn register(e: &mut Endpoints) {
    let twilio = |path, summary, ack| ProviderRoute { path, summary, content_type: FORM, body: "Twilio's form fields", max_body: MAX_TWILIO_BODY, ack };
    let email = |path, summary, body| ProviderRoute { path, summary, content_type: JSON, body, max_body: MAX_EMAIL_BODY, ack: Ack::Empty };
    provider_route(e, twilio("/webhooks/twilio/sms", "Twilio: an inbound SMS", Ack::Twiml), twilio::sms_inbound)
        .describe("Signed with `X-Twilio-Signature`; routed by the `To` number (docs/webhooks.md).");
    provider_route(e, twilio("/webhooks/twilio/sms/status", "Twilio: an SMS status callback", Ack::Twiml), twilio_status::sms_status);
    provider_route(e, twilio("/webhooks/twilio/voice/status", "Twilio: a voice call status callback", Ack::Twiml), twilio_status::voice_status);
    provider_route(e, email("/webhooks/email/sendgrid", "SendGrid: a batch of event webhook events", "SendGrid's signed event array"), email_events::sendgrid);
    provider_route(e, email("/webhooks/email/mailgun", "Mailgun: one event", "Mailgun's signed event"), email_events::mailgun)
        .errors(&[406])
        .describe("A signed event that cannot be used as it is answers 406 `invalid_payload`, which Mailgun does not retry (docs/webhooks.md).");
    provider_route(e, ProviderRoute { path: "/webhooks/aws-connect/events", summary: "Amazon Connect: one contact event from an EventBridge API destination", content_type: JSON, body: "The EventBridge event, as AWS sends it", max_body: MAX_CONNECT_BODY, ack: Ack::Empty }, aws_connect::events)
        .describe("Authenticated by the organization's credential in `X-Palisade-Connect-Key` (401 `invalid_credentials` otherwise, before the body is parsed; a body over the size limit is 413 first); see docs/aws-connect.md.");
}

// --- shared by the provider handlers ------------------------------------------------------

/// 503 for a provider whose secret this server was not given.
pub(crate) fn not_configured(what: &'static str) -> ApiError {
    tracing::warn!(
        provider = what,
        "webhook refused: its secret is not configured on this server"
    );
    ApiError::Http {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: crate::error::ErrorCode::NotConfigured,
        message: "this webhook is not configured on this server".into(),
    }
}

/// 401 for a missing, malformed or wrong signature; the reason is logged, not returned.
pub(crate) fn invalid_signature(
    provider: &'static str,
    reason: signature::SignatureError,
) -> ApiError {
    tracing::warn!(provider, %reason, "webhook refused: invalid signature");
    signature_refused()
}

/// The 401 `invalid_signature` answer itself, for a refusal the caller has logged. Not
/// `ApiError::Unauthorized`: that one invites a bearer token (`WWW-Authenticate: Bearer`),
/// which would not help; the provider's signature is the credential here.
pub(crate) fn signature_refused() -> ApiError {
    ApiError::Http {
        status: StatusCode::UNAUTHORIZED,
        code: crate::error::ErrorCode::InvalidSignature,
        message: "the webhook signature is missing or does not match".into(),
    }
}

/// Puts the organization a delivery was routed to on the request's log span.
pub(crate) fn record_org(req: &HttpRequest, org: OrgId) {
    if let Some(span) = req.extensions().get::<tracing_actix_web::RootSpan>() {
        span.record("org.id", tracing::field::display(org));
    }
}

/// Commits when the delivery is new; rolls back (drops the transaction) when it was already
/// recorded. Either way the provider gets its 2xx; the delivery is counted once committed or
/// found a duplicate ([`Metrics::webhook`]).
pub(crate) async fn finish(
    metrics: &Metrics,
    mut tx: TenantTx,
    delivery: &Delivery<'_>,
) -> Result<bool, ApiError> {
    if palisade_db::webhooks::record(&mut tx, delivery).await? {
        tx.commit().await?;
        metrics.webhook(delivery.provider, delivery.outcome.into());
        Ok(true)
    } else {
        drop(tx);
        metrics.webhook(delivery.provider, WebhookOutcome::Duplicate);
        tracing::info!(
            provider = delivery.provider.as_str(),
            kind = delivery.kind.as_str(),
            event = delivery.event_key,
            "duplicate webhook delivery ignored"
        );
        Ok(false)
    }
}
