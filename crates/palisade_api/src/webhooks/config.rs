//! [`WebhookConfig`]: the public URL and the provider secrets the carrier and email webhooks
//! verify against. (The Stripe secret travels with the billing pool, to the Stripe route only.)

use palisade_domain::Secret;

use super::signature::SendgridKey;

/// How the webhook routes check what reaches them. A provider whose secret is not configured
/// answers 503 `not_configured` (and logs why): it can never be verified, so nothing is written.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// What precedes the request path in the URL the provider calls, e.g.
    /// `https://api.example.com` (no trailing slash). Twilio signs the full URL it called, and
    /// behind a proxy the Host header is not that URL: we rebuild it from this, never from the
    /// request's Host.
    pub public_base_url: String,
    /// Twilio's auth token (HMAC-SHA1 key of `X-Twilio-Signature`).
    pub twilio_auth_token: Option<Secret>,
    /// Twilio's secondary auth token, accepted too while the account's token is rotated (Twilio
    /// signs with its primary token, and promoting the secondary one makes it the primary).
    pub twilio_secondary_auth_token: Option<Secret>,
    /// SendGrid's event-webhook verification key (P-256, from base64 SPKI).
    pub sendgrid_public_key: Option<SendgridKey>,
    /// Mailgun's webhook signing key (HMAC-SHA256).
    pub mailgun_signing_key: Option<Secret>,
}

impl WebhookConfig {
    /// `public_base_url` without its trailing slashes.
    pub fn new(public_base_url: &str) -> Self {
        Self {
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
            twilio_auth_token: None,
            twilio_secondary_auth_token: None,
            sendgrid_public_key: None,
            mailgun_signing_key: None,
        }
    }

    /// The public URL of a request with this path and query (`/webhooks/...?...`).
    pub fn public_url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.public_base_url)
    }
}
