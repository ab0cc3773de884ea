//! Palisade's HTTP edge: routes, extractors, authentication and the one error type clients see.
//!
//! - [`error`]: [`ApiError`], the only error a handler returns; it maps to a status and a JSON
//!   body `{"error": "snake_case_code", "message": "..."}` and logs internal causes once.
//! - [`auth`]: JWT issuing and checking, password hashing, and the credential extractors:
//!   [`auth::Caller`], a bearer token or an API key that the handler's transaction checks in the
//!   round trip of its first statement, [`auth::UserSession`], a user's token only, looked up
//!   before (routes that manage credentials and members, delete the organization or change the
//!   user's password), and [`auth::UserCaller`], a user's token only, checked by the transaction
//!   (`PATCH /v1/me`).
//! - [`throttle`]: rate limits on login, signup, password reset and invitation acceptance, per
//!   [`client_addr::ClientAddr`] (the peer, or behind trusted proxies the forwarded client).
//! - [`credentials`]: API keys, webhook signing secrets and link tokens, generated and shown once.
//! - [`mail`]: the [`mail::Mailer`] that sends account mail (invitations, password resets,
//!   email verifications).
//! - [`endpoints`]: the route table. Every route is declared once there, with its OpenAPI
//!   operation; actix's routes and `/openapi.json` are both built from it.
//! - [`routes`]: the handlers, one module per family with its `register`. Each opens a
//!   [`palisade_db::TenantTx`] for its tenant and never filters by organization itself.
//! - [`extract`] and [`list`]: request bodies and list queries, one rule for every route
//!   (400 for what cannot be read, 422 with a code per field for the rest; cursors bound to
//!   their list).
//! - [`idempotency`]: `Idempotency-Key` on tenant POSTs, stored with the request's effect.
//! - [`etag`]: `ETag` on GET and PATCH answers, `If-Match` checked inside the write transaction.
//! - [`telemetry`]: the request span (request id, route, organization once known).
//! - [`catch_panic`]: a panicking handler answers 500 JSON instead of dropping the connection.
//! - [`metrics`]: the Prometheus metrics a server counts and serves on its own address.

pub mod auth;
pub mod background;
pub mod catch_panic;
pub(crate) mod changes;
pub mod client_addr;
pub mod cors;
pub mod credentials;
pub mod delivery;
pub mod endpoints;
pub mod error;
pub mod etag;
pub mod extract;
pub mod idempotency;
pub(crate) mod kinds;
pub mod list;
pub mod mail;
pub mod metrics;
pub mod places;
pub(crate) mod resource;
pub mod routes;
pub mod rules;
pub mod sync_token;
pub mod telemetry;
pub mod throttle;
pub mod time_zones;
pub mod webhooks;

pub use error::ApiError;

use actix_web::web;
use palisade_db::AppPool;

/// Largest JSON body accepted, in bytes. Larger bodies answer 413.
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// Everything handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The app-role pool; reachable only through TenantTx and the pre-tenant functions.
    pub pool: AppPool,
    /// Issues and verifies bearer tokens.
    pub tokens: auth::TokenKeys,
    /// Hashes and verifies passwords off the async workers.
    pub passwords: auth::PasswordHashing,
    /// The public URL and provider secrets of the carrier and email webhooks.
    pub webhooks: std::sync::Arc<webhooks::WebhookConfig>,
    /// "Now" for every time-dependent rule (expiry, quarantine, throttling): the system clock
    /// in the server, a [`palisade_domain::ManualClock`] in tests.
    pub clock: palisade_domain::SharedClock,
    /// Rate limits on guessable routes (login, signup, reset, invitations), on [`Self::clock`].
    pub throttles: std::sync::Arc<throttle::Throttles>,
    /// Whose forwarding header names the client (see [`client_addr`]); none by default.
    pub trusted_proxies: std::sync::Arc<client_addr::TrustedProxies>,
    /// Sends account mail (invitations, password resets, email verifications).
    pub mailer: mail::Mailer,
    /// How long emailed links live.
    pub accounts: AccountSettings,
    /// How long a released phone number stays reserved for the organization that released it
    /// (`PALISADE_NUMBER_QUARANTINE_DAYS`, default 30): see docs/phone-numbers.md.
    pub number_quarantine: time::Duration,
    /// The origins browser apps may call `/v1` from ([`cors`]); none by default.
    pub cors: cors::CorsOrigins,
    /// What the server counts for Prometheus ([`metrics`]); off unless the server has a
    /// metrics address.
    pub metrics: metrics::Metrics,
    /// Work requests leave to run after their answer, which a graceful stop lets finish.
    pub background: background::Background,
    /// The organization exports running on this instance ([`places`]).
    pub exports: std::sync::Arc<places::Places>,
    /// The organization deletions running on this instance ([`places`]).
    pub deletions: std::sync::Arc<places::Places>,
    /// How long `DELETE /v1/organization` may run and wait for a lock
    /// ([`DeletionLimits::default`] in a server; the tests shorten them).
    pub organization_deletion: DeletionLimits,
    /// The time zones a summary's days may be counted in, read from the database once.
    pub time_zones: std::sync::Arc<time_zones::TimeZones>,
}

impl AppState {
    /// What the links of account mail start with: [`AccountSettings::app_base_url`], else the
    /// public base URL.
    pub fn link_base(&self) -> &str {
        self.accounts
            .app_base_url
            .as_deref()
            .unwrap_or(&self.webhooks.public_base_url)
    }
}

/// How long `DELETE /v1/organization`'s statements may run, and wait for one lock: its
/// transaction's own `statement_timeout` and `lock_timeout`, in place of the app role's
/// (`palisade_db::organization::limit_deletion`).
#[derive(Debug, Clone, Copy)]
pub struct DeletionLimits {
    /// The cascade that deletes a large organization is one statement: 3 minutes by default,
    /// like an export's longest, since the transaction holds locks that a server start's
    /// `migrate` waits behind (docs/dba.md, "Deleting a large organization", which gives the
    /// measure: 30 to 37 s per million customers with two rows each).
    pub longest: std::time::Duration,
    /// A row another transaction is writing is waited for this long (5 s by default), then the
    /// deletion gives up, nothing deleted, answered 503 `unavailable` with `Retry-After`.
    pub lock_wait: std::time::Duration,
}

impl Default for DeletionLimits {
    fn default() -> Self {
        Self {
            longest: std::time::Duration::from_secs(180),
            lock_wait: std::time::Duration::from_secs(5),
        }
    }
}

/// The lifetimes of emailed links, and where they point (see docs/accounts.md).
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// How long an invitation link works (`PALISADE_INVITATION_TTL_SECS`, default 7 days).
    pub invitation_ttl: time::Duration,
    /// How long a password-reset link works (`PALISADE_PASSWORD_RESET_TTL_SECS`, default 1 hour).
    pub password_reset_ttl: time::Duration,
    /// How long an email verification link works (`PALISADE_EMAIL_VERIFICATION_TTL_SECS`,
    /// default 3 days).
    pub email_verification_ttl: time::Duration,
    /// What the links of account mail start with (`PALISADE_APP_BASE_URL`: the front end's
    /// pages); `None`: the public base URL ([`webhooks::WebhookConfig::public_base_url`]).
    pub app_base_url: Option<String>,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            invitation_ttl: time::Duration::days(7),
            password_reset_ttl: time::Duration::hours(1),
            email_verification_ttl: time::Duration::days(3),
            app_base_url: None,
        }
    }
}

/// Registers every route and the extractor configurations (JSON, path and query errors as
/// JSON 4xx). The server and the tests build their `App` with this, so they serve the same API;
/// the `App` wraps it in [`catch_panic::catch_panic`] (middleware cannot be registered here).
/// `stripe` (the billing pool and the Stripe signing secret) is attached to `POST
/// /webhooks/stripe` alone, never to the shared [`AppState`].
pub fn configure(
    state: AppState,
    stripe: Option<webhooks::stripe::StripeSetup>,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        let mut endpoints = endpoints::Endpoints::default();
        routes::register(&mut endpoints, stripe);
        let document = routes::OpenApiJson(endpoints::document_json(&endpoints));
        cfg.app_data(web::Data::new(state.cors.clone()))
            .app_data(web::Data::new(state.metrics.clone()))
            .app_data(web::Data::new(state))
            .app_data(web::Data::new(document))
            .app_data(error::path_config())
            .app_data(error::query_config());
        endpoints.configure(cfg);
        cfg.default_service(web::to(routes::not_found));
    }
}
