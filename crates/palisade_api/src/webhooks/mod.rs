//! Inbound webhooks from carriers, email providers and Stripe.
//!
//! - [`signature`] verifies each provider's signature over the raw request bytes, in constant
//!   time, before anything is parsed.
//! - [`config`]: the public base URL and the carrier/email providers' secrets.
//! - [`twilio`]: Twilio's signature check and inbound SMS; [`twilio_status`]: its SMS and
//!   voice status callbacks.
//!
//! Carrier and email deliveries are routed to an organization by a resolver function and
//! applied under RLS as the app role, recorded by their provider id in the same transaction
//! ([`palisade_db::webhooks`]). Only the Stripe route reaches the billing role.

pub mod config;
pub mod signature;
pub mod twilio;
pub mod twilio_status;

pub use config::WebhookConfig;

use actix_web::web;

/// Largest Twilio request body accepted, in bytes (Twilio's own are a few KiB).
const MAX_TWILIO_BODY: usize = 64 * 1024;

/// Registers the carrier and email-provider routes under `/webhooks` (no bearer token: each
/// request carries its provider's signature instead).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/webhooks/twilio")
            .app_data(web::PayloadConfig::new(MAX_TWILIO_BODY))
            .route("/sms", web::post().to(twilio::sms_inbound))
            .route("/sms/status", web::post().to(twilio_status::sms_status))
            .route("/voice/status", web::post().to(twilio_status::voice_status)),
    );
}
