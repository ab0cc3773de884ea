//! Inbound webhooks from carriers, email providers and Stripe.
//!
//! - [`signature`] verifies each provider's signature over the raw request bytes, in constant
//!   time, before anything is parsed.
//! - [`config`]: the public base URL and the carrier/email providers' secrets.
//! - [`twilio`]: Twilio's signature check and inbound SMS; [`twilio_status`]: its SMS and
//!   voice status callbacks.
//! - [`stripe`]: `POST /webhooks/stripe`, the only user of the billing pool.
//! - [`email`]: SendGrid's and Mailgun's email events (Mailgun's signature tokens are admitted
//!   for one body only, in the database: [`palisade_db::webhooks::admit_mailgun_token`]).
//!
//! Carrier and email deliveries are routed to an organization by a resolver function and
//! applied under RLS as the app role, recorded by their provider id in the same transaction
//! ([`palisade_db::webhooks`]). Only the Stripe route reaches the billing role.

pub mod config;
pub mod email;
pub mod signature;
pub mod stripe;
pub mod twilio;
pub mod twilio_status;

pub use config::WebhookConfig;

use actix_web::web;

/// Largest Twilio request body accepted, in bytes (Twilio's own are a few KiB).
const MAX_TWILIO_BODY: usize = 64 * 1024;

/// Largest email-provider request body accepted, in bytes: SendGrid batches events into posts
/// of up to a few hundred KiB; Mailgun sends one event per request.
const MAX_EMAIL_BODY: usize = 1024 * 1024;

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
    cfg.service(
        web::scope("/webhooks/email")
            .app_data(web::PayloadConfig::new(MAX_EMAIL_BODY))
            .route("/sendgrid", web::post().to(email::sendgrid))
            .route("/mailgun", web::post().to(email::mailgun)),
    );
}
