//! [`WebhookConfig`]: the public URL and the provider secrets the carrier and email webhooks
//! verify against. (The Stripe secret travels with the billing pool, to the Stripe route only.)

use super::signature::SendgridKey;

/// How the webhook routes check what reaches them. A provider whose secret is not configured
/// answers 503 `not_configured` (and logs why): it can never be verified, so nothing is written.
#[derive(Clone)]
pub struct WebhookConfig {
    /// What precedes the request path in the URL the provider calls, e.g.
    /// `https://api.example.com` (no trailing slash). Twilio signs the full URL it called, and
    /// behind a proxy the Host header is not that URL: we rebuild it from this, never from the
    /// request's Host.
    pub public_base_url: String,
    /// Twilio's auth token (HMAC-SHA1 key of `X-Twilio-Signature`).
    pub twilio_auth_token: Option<String>,
    /// SendGrid's event-webhook verification key (P-256, from base64 SPKI).
    pub sendgrid_public_key: Option<SendgridKey>,
    /// Mailgun's webhook signing key (HMAC-SHA256).
    pub mailgun_signing_key: Option<String>,
}

impl WebhookConfig {
    /// `public_base_url` without its trailing slashes.
    pub fn new(public_base_url: &str) -> Self {
        Self {
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
            twilio_auth_token: None,
            sendgrid_public_key: None,
            mailgun_signing_key: None,
        }
    }

    /// The public URL of a request with this path and query (`/webhooks/...?...`).
    pub fn public_url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.public_base_url)
    }
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("public_base_url", &self.public_base_url)
            .field(
                "twilio_auth_token",
                &self.twilio_auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("sendgrid_public_key", &self.sendgrid_public_key.is_some())
            .field(
                "mailgun_signing_key",
                &self.mailgun_signing_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}
