//! [`Application`]: builds the HTTP server over an app-role pool, after refusing a dangerous
//! app role (or, when Stripe is configured, a dangerous billing role). `build` binds the listener itself, so tests can ask for port 0.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle, Service};
use actix_web::{App, HttpServer, middleware};
use palisade_api::AppState;
use palisade_api::auth::{PasswordHashing, TokenKeys};
use palisade_api::telemetry::{PalisadeRootSpan, add_request_id_header};
use palisade_api::webhooks::WebhookConfig;
use palisade_api::webhooks::stripe::StripeSetup;
use palisade_db::AppPool;
use palisade_db::schema::{SchemaError, check_app_role, check_definers};
use tracing_actix_web::TracingLogger;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The app role is unsafe, the server too old, or the database unreachable.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Anything else (bad JWT secret, ...).
    #[error("{0}")]
    Other(String),
}

/// What the HTTP server needs besides its pool.
#[derive(Clone)]
pub struct AppConfig {
    /// `host:port` to listen on; port 0 picks a free one.
    pub http_addr: String,
    /// HS256 secret, at least 32 bytes.
    pub jwt_secret: Vec<u8>,
    /// Token lifetime.
    pub token_ttl: Duration,
    /// HTTP worker threads; `None` means one per core.
    pub workers: Option<usize>,
    /// The carrier and email webhooks' public URL and secrets.
    pub webhooks: WebhookConfig,
    /// The Stripe webhook's billing pool and signing secret, handed to `POST /webhooks/stripe`
    /// alone. `None`: that route answers 503 `not_configured`.
    pub stripe: Option<StripeSetup>,
    /// "Now" for expiry, quarantine and throttling rules: [`palisade_domain::SystemClock`] in
    /// production, a [`palisade_domain::ManualClock`] in tests.
    pub clock: palisade_domain::SharedClock,
    /// Rate limits on login, signup, password reset and invitation acceptance.
    pub rate_limits: palisade_api::throttle::RateLimits,
    /// Proxies whose forwarding header names the client; none: the TCP peer is the client.
    pub trusted_proxies: palisade_api::client_addr::TrustedProxies,
    /// Sends account mail: SMTP, or an outbox directory (docs/accounts.md).
    pub mailer: palisade_api::mail::Mailer,
    /// How long invitation and password-reset links live.
    pub accounts: palisade_api::AccountSettings,
    /// How long a released phone number is quarantined (`PALISADE_NUMBER_QUARANTINE_DAYS`).
    pub number_quarantine: time::Duration,
}

/// A bound, not yet running HTTP server.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Checks the app role (and the billing role, when Stripe is configured) and that the
    /// SECURITY DEFINER functions are this version's, binds the listener and prepares the server.
    pub async fn build(config: &AppConfig, pool: AppPool) -> Result<Self, StartupError> {
        check_app_role(&pool).await?;
        check_definers(&pool).await?;
        if let Some(stripe) = &config.stripe {
            // Through the app pool: no billing connection is opened before a Stripe event.
            stripe.pool().check_role(&pool).await?;
        }
        let stripe = config.stripe.clone();
        let tokens = TokenKeys::new(&config.jwt_secret, config.token_ttl)
            .map_err(|e| StartupError::Other(e.into()))?;
        let cores = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(2);
        let passwords = tokio::task::spawn_blocking(move || PasswordHashing::new(cores))
            .await
            .map_err(|e| StartupError::Other(e.to_string()))?
            .map_err(|e| StartupError::Other(e.to_string()))?;
        let state = AppState {
            pool,
            tokens,
            passwords,
            webhooks: std::sync::Arc::new(config.webhooks.clone()),
            clock: config.clock.clone(),
            throttles: std::sync::Arc::new(palisade_api::throttle::Throttles::new(
                &config.rate_limits,
                config.clock.clone(),
            )),
            trusted_proxies: std::sync::Arc::new(config.trusted_proxies.clone()),
            mailer: config.mailer.clone(),
            accounts: config.accounts,
            number_quarantine: config.number_quarantine,
        };

        let listener =
            TcpListener::bind(&config.http_addr).map_err(|source| StartupError::Bind {
                addr: config.http_addr.clone(),
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                addr: config.http_addr.clone(),
                source,
            })?
            .port();
        let mut server = HttpServer::new(move || {
            App::new()
                // Innermost: a panicking handler's 500 still gets the request id and the log line.
                .wrap(middleware::from_fn(palisade_api::catch_panic::catch_panic))
                .wrap_fn(|req, srv| {
                    let fut = srv.call(req);
                    async move { fut.await.map(add_request_id_header) }
                })
                .wrap(actix_web::middleware::from_fn(palisade_api::etag::add_etag))
                .wrap(TracingLogger::<PalisadeRootSpan>::new())
                .configure(palisade_api::configure(state.clone(), stripe.clone()))
        })
        // On SIGINT/SIGTERM: stop accepting, let in-flight requests finish (up to 30 s).
        .shutdown_timeout(30);
        if let Some(w) = config.workers {
            server = server.workers(w);
        }
        let server = server
            .listen(listener)
            .map_err(|source| StartupError::Bind {
                addr: config.http_addr.clone(),
                source,
            })?
            .run();
        Ok(Self { port, server })
    }

    /// The bound port (useful when asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until a signal (or [`ServerHandle::stop`]) stops the server and in-flight
    /// requests have drained.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
