//! The application, built in one place, and the database steps it starts on.
//!
//! - [`serve`]: `palisade serve`. Resolves the database once from its mode (the embedded
//!   cluster, started here, or an existing server), prepares it ([`migrate`]'s work), assembles
//!   the [`AppConfig`] from the settings (pools, webhook secrets, the Stripe setup, the mailer),
//!   builds the [`Application`] and serves until a signal, then stops the cluster.
//! - [`Application::build`]: the HTTP server over an app-role pool, after refusing a dangerous
//!   app role (or, when Stripe is configured, a dangerous billing role). It binds the listener
//!   itself, so tests can ask for port 0; the test harness calls it with an [`AppConfig`] of
//!   its own. With a metrics address it binds a second listener for Prometheus
//!   ([`crate::metrics`]), never the API's address.
//! - [`migrate`], [`bootstrap`], [`install_definers`]: the installation steps of an existing
//!   server (docs/dba.md); embedded mode does all three on every start.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle, Service};
use actix_web::{App, HttpServer, middleware};
use palisade_api::AppState;
use palisade_api::auth::{PasswordHashing, TokenKeys};
use palisade_api::mail::Mailer;
use palisade_api::telemetry::{PalisadeRootSpan, add_request_id_header};
use palisade_api::webhooks::WebhookConfig;
use palisade_api::webhooks::signature::SendgridKey;
use palisade_api::webhooks::stripe::StripeSetup;
use palisade_db::schema::{
    self, APP_LOGIN_ROLES, RoleLimits, RolePasswords, SchemaError, check_app_role, check_definers,
};
use palisade_db::{AppPool, BillingPool, PoolSettings, UrlSource};
use tracing_actix_web::TracingLogger;

use crate::configuration::{
    BootstrapSettings, DatabaseMode, EmbeddedSettings, ExternalDatabase, InstallDefinersSettings,
    MigrateSettings, RotateSettings, Secret, ServeSettings, UrlSetting,
};
use crate::embedded::{self, EmbeddedDb, WebhookDevSecrets};

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
    /// A second HS256 secret that verifies tokens and signs none (a rotation's), at least 32
    /// bytes.
    pub jwt_verify_secret: Option<Vec<u8>>,
    /// Token lifetime.
    pub token_ttl: Duration,
    /// How long after a login its tokens may be renewed (at least `token_ttl`).
    pub session_max: Duration,
    /// HTTP worker threads; `None` means one per core.
    pub workers: Option<usize>,
    /// A request this slow is logged as a warning (`PALISADE_SLOW_REQUEST_MS`).
    pub slow_request: palisade_api::telemetry::SlowRequest,
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
    /// `PALISADE_CORS_ALLOWED_ORIGINS`: the origins browser apps may call `/v1` from; none by
    /// default (no CORS header on any answer).
    pub cors: palisade_api::cors::CorsOrigins,
    /// `PALISADE_METRICS_ADDR`: `host:port` of the Prometheus metrics (`GET /metrics`), never
    /// the API's own address; port 0 picks a free one. `None`: no metrics.
    pub metrics_addr: Option<String>,
    /// How long `DELETE /v1/organization` may run and wait for a lock (the defaults; not a
    /// setting: the tests shorten them).
    pub organization_deletion: palisade_api::DeletionLimits,
}

/// A bound, not yet running HTTP server (and its metrics server, when configured).
pub struct Application {
    port: u16,
    server: Server,
    metrics: Option<(u16, Server)>,
    background: palisade_api::background::Background,
}

/// Binds `addr`, or says which address could not be bound.
fn bind(addr: &str) -> Result<(TcpListener, u16), StartupError> {
    let failed = |source| StartupError::Bind {
        addr: addr.to_owned(),
        source,
    };
    let listener = TcpListener::bind(addr).map_err(failed)?;
    let port = listener.local_addr().map_err(failed)?.port();
    Ok((listener, port))
}

impl Application {
    /// Checks the app role (and the billing role, when Stripe is configured) and that the
    /// SECURITY DEFINER functions are this version's, binds the listener and prepares the server.
    /// A pool whose credential is re-read (a URL file, the embedded secrets) is watched for a
    /// rotation for as long as it is open ([`AppPool::watch_credential`]).
    pub async fn build(config: &AppConfig, pool: AppPool) -> Result<Self, StartupError> {
        if let Some(addr) = &config.metrics_addr
            && crate::metrics::shares_the_api_address(&config.http_addr, addr)
        {
            return Err(StartupError::Other(format!(
                "the metrics address {addr} is the API's ({}): metrics are never served on the \
                 public port",
                config.http_addr
            )));
        }
        check_app_role(&pool).await?;
        tracing::info!(db.role = %pool.login_role(), "the app pool logs in as this role");
        check_definers(&pool).await?;
        if let Some(stripe) = &config.stripe {
            // Through the app pool: no billing connection is opened before a Stripe event.
            stripe.pool().check_role(&pool).await?;
        }
        let stripe = config.stripe.clone();
        let tokens = TokenKeys::new(&config.jwt_secret, config.token_ttl)
            .and_then(|keys| keys.with_session_max(config.session_max))
            .and_then(|keys| match &config.jwt_verify_secret {
                Some(secret) => keys.with_verify_secret(secret),
                None => Ok(keys),
            })
            .map_err(|e| StartupError::Other(e.into()))?;
        if config.jwt_verify_secret.is_some() {
            tracing::info!(
                "bearer tokens signed with PALISADE_JWT_VERIFY_SECRET are accepted too (a \
                 rotation); every token issued is signed with PALISADE_JWT_SECRET"
            );
        }
        let passwords = tokio::task::spawn_blocking(|| {
            PasswordHashing::new(PasswordHashing::default_concurrency())
        })
        .await
        .map_err(|e| StartupError::Other(e.to_string()))?
        .map_err(|e| StartupError::Other(e.to_string()))?;
        let threads = passwords.load().threads;
        match passwords.slice() {
            Ok(Some(slice)) if slice == palisade_api::auth::HASHING_SLICE => tracing::info!(
                threads,
                slice_ms = slice.as_secs_f64() * 1000.0,
                "password hashing threads run in long time slices: a request's thread that wakes \
                 preempts a hash at once"
            ),
            Ok(Some(slice)) => tracing::warn!(
                threads,
                slice_ms = slice.as_secs_f64() * 1000.0,
                asked_ms = palisade_api::auth::HASHING_SLICE.as_secs_f64() * 1000.0,
                "password hashing threads asked the kernel for long time slices and run in \
                 others: a request's thread may wait for a hash's slice"
            ),
            Ok(None) => tracing::info!(
                threads,
                "password hashing threads run in the kernel's default time slices (it takes no \
                 slice request before Linux 6.12): a request's thread may wait for a hash's slice"
            ),
            Err(error) => tracing::warn!(
                threads,
                error,
                "password hashing threads could not ask for long time slices and run in the \
                 kernel's default ones: a request's thread may wait for a hash's slice"
            ),
        }
        let metrics = match &config.metrics_addr {
            Some(_) => palisade_api::metrics::Metrics::new(
                pool.clone(),
                stripe.as_ref().map(|s| s.pool().clone()),
                passwords.clone(),
            ),
            None => palisade_api::metrics::Metrics::off(),
        };
        let watched_pool = pool.clone();
        let background = palisade_api::background::Background::default();
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
            accounts: config.accounts.clone(),
            number_quarantine: config.number_quarantine,
            cors: config.cors.clone(),
            metrics: metrics.clone(),
            background: background.clone(),
            exports: std::sync::Arc::new(palisade_api::places::Places::new(
                palisade_api::places::EXPORTS_AT_ONCE,
            )),
            deletions: std::sync::Arc::new(palisade_api::places::Places::new(
                palisade_api::places::DELETIONS_AT_ONCE,
            )),
            organization_deletion: config.organization_deletion,
            time_zones: std::sync::Arc::default(),
        };

        let (listener, port) = bind(&config.http_addr)?;
        let metrics = match &config.metrics_addr {
            Some(addr) => {
                let (listener, port) = bind(addr)?;
                let server = crate::metrics::server(listener, metrics).map_err(|source| {
                    StartupError::Bind {
                        addr: addr.clone(),
                        source,
                    }
                })?;
                Some((port, server))
            }
            None => None,
        };
        let slow_request = config.slow_request;
        let mut server = HttpServer::new(move || {
            // Called on each worker's thread as it starts: the worker's database connections are
            // its own shard's, driven on this thread (AppPool::sharded).
            state.pool.claim_shard();
            App::new()
                .app_data(slow_request)
                // Innermost: a panicking handler's 500 still gets the request id and the log line.
                .wrap(middleware::from_fn(palisade_api::catch_panic::catch_panic))
                .wrap(actix_web::middleware::from_fn(palisade_api::etag::add_etag))
                // Inside the logger: a preflight answered here still has its log line.
                .wrap(actix_web::middleware::from_fn(palisade_api::cors::cors))
                // Outside CORS: a preflight it answers (204 or 403) has its request id too.
                .wrap_fn(|req, srv| {
                    let fut = srv.call(req);
                    async move { fut.await.map(add_request_id_header) }
                })
                .wrap(TracingLogger::<PalisadeRootSpan>::new())
                // Outermost: the time and the status of the whole answer, as the client gets it.
                .wrap(middleware::from_fn(palisade_api::metrics::record_requests))
                .configure(palisade_api::configure(state.clone(), stripe.clone()))
        })
        // A graceful stop lets in-flight requests finish for up to 30 s. Signals are
        // `palisade serve`'s ([`StopSignals`]): actix-server's own handling would force a stop
        // on SIGINT (Ctrl-C), dropping in-flight requests, and every in-process app (tests)
        // would take the process's signals.
        .shutdown_timeout(30)
        .disable_signals();
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
        actix_web::rt::spawn(watched_pool.watch_credential());
        if let Some(stripe) = &config.stripe {
            actix_web::rt::spawn(stripe.pool().clone().watch_credential());
        }
        Ok(Self {
            port,
            server,
            metrics,
            background,
        })
    }

    /// The bound port (useful when asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The metrics server's bound port, when metrics are on.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// The work its requests leave to run after their answers (a password reset's mail), for
    /// the caller to wait for once the server has stopped ([`Background::finished`]).
    ///
    /// [`Background::finished`]: palisade_api::background::Background::finished
    pub fn background(&self) -> palisade_api::background::Background {
        self.background.clone()
    }

    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until [`ServerHandle::stop`] stops the server and in-flight requests have drained
    /// (it does not listen for signals: `palisade serve` does, `StopSignals`); then stops the
    /// metrics server (scrapes go on while the API drains). Dropped before, it stops the server
    /// at once, cutting off the requests in flight.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics.map(|(_, server)| {
            let handle = server.handle();
            (handle, actix_web::rt::spawn(server))
        });
        let served = self.server.await;
        if let Some((handle, running)) = metrics {
            handle.stop(true).await;
            if let Ok(Err(e)) = running.await {
                tracing::warn!(error = %e, "the metrics server stopped with an error");
            }
        }
        served
    }
}

/// A command's failure: one line, with its cause chain in it.
pub type BoxError = Box<dyn std::error::Error>;

/// Connections the Stripe webhook's billing pool may open (Stripe sends a few events at a time).
const BILLING_POOL_SIZE: usize = 4;

/// How long a request waits for a pooled connection.
const POOL_WAIT: Duration = Duration::from_secs(5);

/// The HTTP worker threads the server runs: `configured`, or actix-web's default of one per
/// core.
pub fn http_workers(configured: Option<usize>) -> usize {
    configured.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
}

fn pool_settings(url: &UrlSource, max_size: usize) -> PoolSettings {
    PoolSettings {
        url: url.clone(),
        max_size,
        wait_timeout: POOL_WAIT,
    }
}

/// Where a pool reads its URL: the URL itself, or a file read again for each new connection and
/// on every reload (docs/dba.md, "Rotating passwords"). `variable` names the file in errors;
/// neither the URL nor the file's contents ever appear in one.
pub fn url_source(setting: &UrlSetting, variable: &'static str) -> UrlSource {
    match setting {
        UrlSetting::Url(url) => UrlSource::Fixed(url.clone()),
        UrlSetting::File(_) => {
            let setting = setting.clone();
            UrlSource::Reloading(std::sync::Arc::new(move || setting.read(variable)))
        }
    }
}

/// Starts the embedded cluster and says where it listens (blocking: before the async runtime).
fn start_cluster(settings: &EmbeddedSettings) -> Result<EmbeddedDb, BoxError> {
    let cluster = EmbeddedDb::start(settings)?;
    tracing::info!("{}", cluster.describe());
    Ok(cluster)
}

/// A command's database, started: the owner's URL, and the embedded cluster when Palisade runs
/// its own (held until [`Database::stop`]).
struct Database {
    /// The embedded cluster, whose superuser we hold.
    cluster: Option<EmbeddedDb>,
    /// `palisade_owner`'s URL: migrations and policies, and the server's scheduled retention,
    /// which reads it again for each run (`DATABASE_URL_FILE`).
    owner_url: UrlSource,
}

impl Database {
    /// Starts the embedded cluster (blocking: before the async runtime).
    fn start_embedded(settings: &EmbeddedSettings) -> Result<Self, BoxError> {
        Ok(Self::embedded(start_cluster(settings)?))
    }

    fn embedded(cluster: EmbeddedDb) -> Self {
        Self {
            owner_url: UrlSource::Fixed(Secret::new(cluster.owner_url())),
            cluster: Some(cluster),
        }
    }

    fn external(owner_url: UrlSource) -> Self {
        Self {
            cluster: None,
            owner_url,
        }
    }

    /// Bootstraps, migrates and installs the SECURITY DEFINER functions in the embedded cluster
    /// (we hold its superuser); on an existing server only migrates, as the owner: `palisade
    /// install-definers` is the superuser's step, and the server refuses to start without it.
    async fn prepare(&self) -> Result<(), BoxError> {
        if let Some(cluster) = &self.cluster {
            // `secrets.json` as it is now, not as the cluster's start read it: a rotation run
            // before the cluster was ready rewrote it for this start, and the pool logs in with
            // what the file says. Held until the roles are set (a rotation refuses meanwhile).
            let data_dir = cluster.data_dir().to_owned();
            let (passwords, held) =
                tokio::task::spawn_blocking(move || embedded::role_passwords_held(&data_dir))
                    .await
                    .map_err(|e| format!("reading secrets.json: {e}"))??;
            schema::bootstrap(
                &cluster.superuser_url(),
                embedded::DATABASE,
                &passwords,
                &RoleLimits::default(),
            )
            .await?;
            // Only the active login role can log in (a rotation that stopped half way left
            // the other one enabled; no server uses this cluster yet).
            if let Some(idle) = schema::other_app_login_role(passwords.app_role) {
                let su = schema::connect(&cluster.superuser_url()).await?;
                schema::disable_login(&su, idle).await?;
            }
            // Only now: the roles are as the passwords read say.
            drop(held);
        }
        let owner_url = self.owner_url.read()?;
        if let Some(cluster) = &self.cluster {
            schema::migrate_before_installing_definers(owner_url.expose()).await?;
            schema::install_definers(&cluster.superuser_url(), embedded::DATABASE).await?;
        } else {
            schema::migrate(owner_url.expose()).await?;
        }
        Ok(())
    }

    /// Stops the embedded cluster, if any, and waits for it.
    fn stop(self) {
        if let Some(cluster) = self.cluster {
            match cluster.stop() {
                Ok(()) => tracing::info!("embedded PostgreSQL stopped"),
                Err(e) => {
                    tracing::error!(error = %e, "could not stop the embedded PostgreSQL cleanly");
                }
            }
        }
    }
}

/// Everything `serve` needs of its database, resolved once from the mode.
struct ServeDatabase {
    /// The cluster (embedded mode) and the owner's URL.
    database: Database,
    /// The app's URL (its active login role): every request.
    app_url: UrlSource,
    /// The HS256 secret of bearer tokens.
    jwt_secret: Secret,
    /// A second secret that verifies tokens and signs none (an existing server only).
    jwt_verify_secret: Option<Secret>,
    /// `palisade_billing`'s URL: always in embedded mode; on an existing server when Stripe is
    /// configured.
    billing_url: Option<UrlSource>,
    /// Embedded mode: the generated webhook secrets that stand in for unset variables, and
    /// their file (for the log).
    dev_webhooks: Option<(WebhookDevSecrets, PathBuf)>,
}

impl ServeDatabase {
    fn start(mode: &DatabaseMode<ExternalDatabase>) -> Result<Self, BoxError> {
        Ok(match mode {
            DatabaseMode::Embedded(settings) => {
                let cluster = start_cluster(settings)?;
                Self {
                    app_url: cluster.app_url_source(),
                    jwt_secret: Secret::new(cluster.secrets().jwt_secret.clone()),
                    jwt_verify_secret: None,
                    billing_url: Some(UrlSource::Fixed(Secret::new(cluster.billing_url()))),
                    dev_webhooks: Some((
                        cluster.webhook_secrets().clone(),
                        cluster.webhook_secrets_path(),
                    )),
                    database: Database::embedded(cluster),
                }
            }
            DatabaseMode::External(ext) => Self {
                database: Database::external(url_source(&ext.owner_url, "DATABASE_URL_FILE")),
                app_url: url_source(&ext.app_url, "PALISADE_APP_DATABASE_URL_FILE"),
                jwt_secret: ext.jwt_secret.clone(),
                jwt_verify_secret: ext.jwt_verify_secret.clone(),
                billing_url: ext
                    .billing_url
                    .as_ref()
                    .map(|b| url_source(b, "PALISADE_BILLING_DATABASE_URL_FILE")),
                dev_webhooks: None,
            },
        })
    }

    fn is_embedded(&self) -> bool {
        self.database.cluster.is_some()
    }
}

/// `palisade serve`: starts the database (the embedded cluster, or nothing to start), prepares
/// it, builds the application and serves until SIGINT/SIGTERM (a graceful stop: see
/// `StopSignals`), then stops the cluster whatever happened. Blocking: runs its own actix
/// system.
pub fn serve(settings: &ServeSettings) -> Result<(), BoxError> {
    let db = ServeDatabase::start(&settings.database)?;
    let result = actix_web::rt::System::new().block_on(serve_on(settings, &db));
    db.database.stop();
    result
}

async fn serve_on(settings: &ServeSettings, db: &ServeDatabase) -> Result<(), BoxError> {
    db.database.prepare().await?;
    let pool = AppPool::sharded(
        &pool_settings(&db.app_url, settings.pool_size),
        http_workers(settings.workers),
    )?;
    let stripe = stripe_setup(settings, db)?;
    let config = app_config(settings, db, stripe.clone())?;
    // Listened for before the server listens, so that none finds the process unprepared.
    let signals = StopSignals::listen()
        .map_err(|e| format!("cannot listen for SIGINT, SIGTERM and SIGQUIT: {e}"))?;
    let app = Application::build(&config, pool.clone()).await?;
    let limits = &settings.rate_limits;
    tracing::info!(
        login.per_address = %limits.login.per_address,
        login.per_account = %limits.login.per_account,
        signup.per_address = %limits.signup.per_address,
        signup.per_account = %limits.signup.per_account,
        trusted_proxies = !settings.trusted_proxies.is_empty(),
        "rate limits (per server instance; see docs/security.md)"
    );
    if !settings.cors.is_empty() {
        tracing::info!(
            origins = %settings.cors.as_slice().join(", "),
            "browser apps of these origins may call /v1 (CORS)"
        );
    }
    tracing::info!(
        port = app.port(),
        "listening on http://{}",
        settings.http_addr
    );
    if let (Some(addr), Some(port)) = (&settings.metrics_addr, app.metrics_port()) {
        tracing::info!(
            port,
            "Prometheus metrics on http://{addr}{} (docs/metrics.md)",
            crate::metrics::PATH
        );
    }
    // The outbound webhook delivery worker, on this (the main) thread's runtime, until the
    // HTTP server has stopped: one per server instance (claims skip each other's rows).
    let targets = palisade_api::delivery::Targets::public()
        .map_err(|e| StartupError::Other(format!("outbound webhook TLS setup: {e}")))?;
    let worker =
        palisade_api::delivery::DeliveryWorker::new(pool.clone(), config.clock.clone(), targets);
    let (stop_worker, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = actix_web::rt::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    // Retention (docs/dba.md#retention), over the owner's URL, on the same runtime.
    let (stop_retention, retention_stopped) = tokio::sync::oneshot::channel::<()>();
    let retention = settings.retention_every.map(|every| {
        actix_web::rt::spawn(crate::retention::run_periodically(
            db.database.owner_url.clone(),
            settings.retention.clone(),
            every,
            async {
                let _ = retention_stopped.await;
            },
        ))
    });
    let server = app.handle();
    let background = app.background();
    let stop = signals.stop(
        server,
        pool.clone(),
        stripe.as_ref().map(|s| s.pool().clone()),
    );
    let mut stop = std::pin::pin!(stop);
    let mut served = tokio::select! {
        // A stop that has ended wins over a second signal that comes with it.
        biased;
        served = app.run_until_stopped() => served,
        // Dropping the server (the other branch) tells its workers to stop at once.
        () = &mut stop => {
            tracing::warn!("stopped at once: the requests in flight were cut off");
            Err(std::io::Error::other(
                "stopped at once by a signal: the requests in flight were cut off",
            ))
        }
    };
    if served.is_ok() {
        // A second signal still stops at once.
        tokio::select! {
            biased;
            () = finish_background(&background) => {}
            () = &mut stop => {
                tracing::warn!("stopped at once: the requests' background work was cut off");
                served = Err(std::io::Error::other(
                    "stopped at once by a signal: the requests' background work was cut off",
                ));
            }
        }
    }
    let _ = stop_worker.send(());
    let _ = worker.await;
    let _ = stop_retention.send(());
    if let Some(retention) = retention {
        let _ = retention.await;
    }
    served?;
    tracing::info!("HTTP server stopped; in-flight requests drained");
    pool.close();
    if let Some(stripe) = stripe {
        stripe.pool().close();
    }
    Ok(())
}

/// How long a graceful stop waits, once the HTTP server has stopped, for the work its requests
/// left to run after their answers ([`Application::background`]).
const FINISH_BACKGROUND: Duration = Duration::from_secs(30);

/// Waits for `background` work (at most [`FINISH_BACKGROUND`]), saying so when there is any.
async fn finish_background(background: &palisade_api::background::Background) {
    let running = background.running();
    if running == 0 {
        return;
    }
    tracing::info!(
        running,
        within_s = FINISH_BACKGROUND.as_secs(),
        "waiting for the work requests left to run after their answers (password reset and signup mail)"
    );
    if background.finished(FINISH_BACKGROUND).await {
        tracing::info!("the requests' background work is done");
    } else {
        tracing::warn!(
            running = background.running(),
            "the requests' background work did not finish in time; stopping without it"
        );
    }
}

/// How long a graceful stop waits for the database pools to settle (the app's and the Stripe
/// webhook's together: [`AppPool::settle_for_stop`], [`BillingPool::settle_for_stop`]) before it
/// stops the HTTP workers: as long as the workers then get to drain.
const SETTLE_FOR_STOP: Duration = Duration::from_secs(30);

/// The signals that stop `palisade serve`. SIGINT (Ctrl-C) and SIGTERM alike stop it
/// gracefully: no new connections, and the requests in flight finish (up to 30 s). Before that,
/// when a request is on a database connection another worker's thread drives, the server waits
/// for the pools to settle (up to 30 s, still serving); after it, for the work requests left to
/// run after their answers (up to 30 s). A second one of them, or SIGQUIT, stops it at once: the
/// requests in flight, or that work, are cut off (answers dropped; a request that had already
/// written may have taken effect), and the command exits 1.
struct StopSignals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Takes the three signals from now on (their default actions end the process at once).
    fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            quit: signal(SignalKind::quit())?,
        })
    }

    /// Stops `server` gracefully at SIGINT or SIGTERM, once `pool` and `billing` have settled
    /// ([`AppPool::settle_for_stop`]: a worker that ends ends the database connections it
    /// drives, so none may be in use on another worker's thread then); returns at a second
    /// signal, or at SIGQUIT, for the caller to stop it at once (by dropping it). Pending forever
    /// after a graceful stop has been asked for and no second signal comes.
    async fn stop(mut self, server: ServerHandle, pool: AppPool, billing: Option<BillingPool>) {
        let signal = tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
            _ = self.quit.recv() => return,
        };
        tracing::info!(
            signal,
            "stopping: in-flight requests finish (up to 30 s); a second signal stops at once"
        );
        // actix-server acts on one stop at a time: a second `stop(false)` would wait for this
        // one to end. The caller drops the server instead.
        actix_web::rt::spawn(async move {
            let crossing = || {
                pool.in_use_across_threads()
                    + billing
                        .as_ref()
                        .map_or(0, BillingPool::in_use_across_threads)
            };
            let crossing_at_first = crossing();
            if crossing_at_first > 0 {
                tracing::info!(
                    connections = crossing_at_first,
                    within_s = SETTLE_FOR_STOP.as_secs(),
                    "waiting for the database connections in use on a thread other than the \
                     one that drives them before stopping the workers (a worker that stops \
                     ends the connections it drives); new connections are served meanwhile"
                );
            }
            let started = std::time::Instant::now();
            let settled = tokio::join!(pool.settle_for_stop(SETTLE_FOR_STOP), async {
                match &billing {
                    Some(billing) => billing.settle_for_stop(SETTLE_FOR_STOP).await,
                    None => true,
                }
            });
            if settled == (true, true) {
                if crossing_at_first > 0 {
                    tracing::info!(
                        waited_ms = started.elapsed().as_millis(),
                        "database connections settled; stopping the workers"
                    );
                }
            } else {
                tracing::warn!(
                    connections = crossing(),
                    within_s = SETTLE_FOR_STOP.as_secs(),
                    "database connections still in use on a thread other than the one that \
                     drives them; stopping the workers anyway (those requests may fail)"
                );
            }
            server.stop(true).await;
        });
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
            _ = self.quit.recv() => {}
        }
        tracing::warn!("second signal: stopping at once");
    }
}

/// The Stripe webhook's setup: in embedded mode always (the signing secret from
/// `STRIPE_WEBHOOK_SECRET`, else the generated one); on an existing server when
/// `PALISADE_BILLING_DATABASE_URL` and `STRIPE_WEBHOOK_SECRET` are set (configuration allows
/// both or neither). Logs where the secret comes from, never the secret.
fn stripe_setup(
    settings: &ServeSettings,
    db: &ServeDatabase,
) -> Result<Option<StripeSetup>, BoxError> {
    let secret = match (&settings.stripe_webhook_secret, &db.dev_webhooks) {
        (Some(secret), _) => {
            tracing::info!("Stripe webhook signing secret: from STRIPE_WEBHOOK_SECRET");
            Some(secret.clone())
        }
        (None, Some((dev, path))) => {
            tracing::info!(
                "Stripe webhook signing secret: key stripe_webhook_secret in {} \
                 (set STRIPE_WEBHOOK_SECRET to use Stripe's, e.g. from `stripe listen`)",
                path.display()
            );
            Some(Secret::new(dev.stripe_webhook_secret.clone()))
        }
        (None, None) => None,
    };
    match (&db.billing_url, secret) {
        (Some(url), Some(secret)) => Ok(Some(StripeSetup::new(
            BillingPool::new(&pool_settings(url, BILLING_POOL_SIZE))?,
            secret,
        ))),
        _ => {
            tracing::info!(
                "Stripe webhooks are not configured (PALISADE_BILLING_DATABASE_URL and \
                 STRIPE_WEBHOOK_SECRET): POST /webhooks/stripe answers 503"
            );
            Ok(None)
        }
    }
}

/// What the HTTP server is built with, from the settings and the database `serve` resolved.
fn app_config(
    settings: &ServeSettings,
    db: &ServeDatabase,
    stripe: Option<StripeSetup>,
) -> Result<AppConfig, BoxError> {
    Ok(AppConfig {
        http_addr: settings.http_addr.clone(),
        jwt_secret: db.jwt_secret.expose().as_bytes().to_vec(),
        jwt_verify_secret: db
            .jwt_verify_secret
            .as_ref()
            .map(|s| s.expose().as_bytes().to_vec()),
        token_ttl: settings.token_ttl,
        session_max: settings.session_max,
        workers: settings.workers,
        slow_request: palisade_api::telemetry::SlowRequest(settings.slow_request),
        webhooks: webhook_config(settings, db)?,
        stripe,
        clock: std::sync::Arc::new(palisade_domain::SystemClock),
        rate_limits: settings.rate_limits.clone(),
        trusted_proxies: settings.trusted_proxies.clone(),
        mailer: mailer(settings, db.is_embedded())?,
        accounts: palisade_api::AccountSettings {
            invitation_ttl: time_duration(settings.mail.invitation_ttl),
            password_reset_ttl: time_duration(settings.mail.password_reset_ttl),
            email_verification_ttl: time_duration(settings.mail.email_verification_ttl),
            app_base_url: settings.mail.app_base_url.clone(),
        },
        number_quarantine: settings.number_quarantine,
        cors: settings.cors.clone(),
        metrics_addr: settings.metrics_addr.clone(),
        organization_deletion: palisade_api::DeletionLimits::default(),
    })
}

/// The account mailer: SMTP when `PALISADE_SMTP_URL` is set, else the outbox directory under
/// the data dir (the embedded default needs no mail server). Logs which, never the URL.
fn mailer(settings: &ServeSettings, embedded: bool) -> Result<Mailer, BoxError> {
    let mail = &settings.mail;
    match &mail.smtp_url {
        Some(url) => {
            let mailer = Mailer::smtp(url.expose(), &mail.from)?;
            tracing::info!("account mail goes out over SMTP (PALISADE_SMTP_URL)");
            Ok(mailer)
        }
        None => {
            let dir = std::path::absolute(&mail.outbox_dir)?;
            let mailer = Mailer::outbox(dir.clone(), &mail.from)?;
            if embedded {
                tracing::info!(
                    outbox = %dir.display(),
                    "account mail (invitations, password resets, email verifications) is written \
                     to this directory, one .eml file per message (set PALISADE_SMTP_URL to send it)"
                );
            } else {
                tracing::warn!(
                    outbox = %dir.display(),
                    "PALISADE_SMTP_URL is not set: account mail (invitations, password resets, \
                     email verifications) is written to this directory, not sent"
                );
            }
            Ok(mailer)
        }
    }
}

fn time_duration(d: Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}

/// The webhooks' public URL and secrets: each from its environment variable, else (embedded
/// default only) from the generated development secrets. A provider left without a secret
/// answers 503 until configured.
fn webhook_config(settings: &ServeSettings, db: &ServeDatabase) -> Result<WebhookConfig, BoxError> {
    let env = &settings.webhooks;
    let base = env
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", settings.http_addr));
    let mut config = WebhookConfig::new(&base);
    let dev = db.dev_webhooks.as_ref().map(|(secrets, _)| secrets);
    config.twilio_auth_token = env
        .twilio_auth_token
        .clone()
        .or_else(|| dev.map(|d| Secret::new(d.twilio_auth_token.clone())));
    config.twilio_secondary_auth_token = env.twilio_secondary_auth_token.clone();
    if config.twilio_secondary_auth_token.is_some() {
        tracing::info!(
            "Twilio deliveries signed with TWILIO_SECONDARY_AUTH_TOKEN are accepted too (a \
             rotation)"
        );
    }
    config.mailgun_signing_key = env
        .mailgun_signing_key
        .clone()
        .or_else(|| dev.map(|d| Secret::new(d.mailgun_signing_key.clone())));
    let sendgrid = env
        .sendgrid_public_key
        .clone()
        .or_else(|| dev.map(|d| d.sendgrid_public_key.clone()));
    config.sendgrid_public_key = match sendgrid {
        None => None,
        Some(key) => Some(
            SendgridKey::parse(&key).ok_or("the SendGrid webhook public key cannot be parsed")?,
        ),
    };
    if let Some((_, path)) = &db.dev_webhooks {
        tracing::info!(
            path = %path.display(),
            "development webhook secrets (Twilio, SendGrid, Mailgun, Stripe) are in this file; \
             the environment variables of docs/configuration.md (Webhooks) override them"
        );
    }
    for (provider, configured) in [
        ("twilio", config.twilio_auth_token.is_some()),
        ("sendgrid", config.sendgrid_public_key.is_some()),
        ("mailgun", config.mailgun_signing_key.is_some()),
    ] {
        if !configured {
            tracing::warn!(
                provider,
                "webhook secret not configured: its route answers 503"
            );
        }
    }
    tracing::info!(
        public_base_url = %config.public_base_url,
        "webhook URLs start with this (set PALISADE_PUBLIC_BASE_URL to the URL providers call)"
    );
    Ok(config)
}

/// `palisade migrate`: migrations and the owner's policies, as the owner (`DATABASE_URL`); in
/// embedded mode the whole preparation of a start (bootstrap, migrate, install-definers).
pub fn migrate(settings: &MigrateSettings) -> Result<(), BoxError> {
    let db = match &settings.database {
        DatabaseMode::Embedded(e) => Database::start_embedded(e)?,
        DatabaseMode::External(owner_url) => Database::external(owner_url.clone().into()),
    };
    let result = actix_web::rt::System::new().block_on(async {
        db.prepare().await?;
        tracing::info!("migrations and policies are up to date");
        Ok(())
    });
    db.stop();
    result
}

/// `palisade bootstrap`: the roles, their passwords, the database and the DDL guard, as a
/// superuser on an existing server.
pub fn bootstrap(settings: &BootstrapSettings) -> Result<(), BoxError> {
    let superuser = &settings.superuser;
    let passwords = RolePasswords {
        owner: settings.owner_password.expose().to_owned(),
        app: settings.app_password.expose().to_owned(),
        app_role: APP_LOGIN_ROLES[0],
        billing: settings.billing_password.expose().to_owned(),
    };
    actix_web::rt::System::new().block_on(async {
        schema::bootstrap(
            superuser.url.expose(),
            &superuser.database_name,
            &passwords,
            &settings.role_limits,
        )
        .await?;
        tracing::info!(db.name = %superuser.database_name, "roles and database are in place; now run `palisade migrate` with DATABASE_URL, then `palisade install-definers`");
        Ok(())
    })
}

/// `palisade install-definers`: the superuser's step after every `migrate` on an existing
/// server (the roles again, the DDL guard, the SECURITY DEFINER functions).
pub fn install_definers(settings: &InstallDefinersSettings) -> Result<(), BoxError> {
    let superuser = &settings.superuser;
    actix_web::rt::System::new().block_on(async {
        schema::superuser_after_migrate(superuser.url.expose(), &superuser.database_name).await?;
        tracing::info!(db.name = %superuser.database_name, "roles, DDL guard and SECURITY DEFINER functions are in place");
        Ok(())
    })
}

/// `palisade rotate-app-credential`: switches the servers to the app's other login role with a
/// new password, waits for the old role's sessions to end, then disables it (docs/dba.md,
/// "Rotating passwords"). Embedded mode: through `secrets.json` ([`embedded::rotate`]); on an
/// existing server: through the URL file every server reads, as `PALISADE_SUPERUSER_URL`.
pub fn rotate_app_credential(settings: &RotateSettings) -> Result<(), BoxError> {
    match &settings.database {
        DatabaseMode::Embedded(embedded) => {
            match embedded::rotate(embedded, settings.drain_timeout)? {
                embedded::EmbeddedRotation::Live(done) => tracing::info!(
                    db.old_role = done.old_role,
                    db.new_role = done.new_role,
                    "the running server now logs in as the new role; the old one cannot log in"
                ),
                embedded::EmbeddedRotation::AtNextStart { new_role } => tracing::info!(
                    db.new_role = new_role,
                    "no server is running on this data directory: secrets.json names the new \
                     role and password, which the next start applies (and disables the old role)"
                ),
            }
            Ok(())
        }
        DatabaseMode::External(server) => {
            let done = actix_web::rt::System::new().block_on(rotate_url_file(
                server.superuser_url.expose(),
                &server.url_file,
                settings.drain_timeout,
            ))?;
            tracing::info!(
                db.old_role = done.old_role,
                db.new_role = done.new_role,
                "rotated: the servers log in as the new role; the old one cannot log in"
            );
            Ok(())
        }
    }
}

/// The rotation of an existing server whose servers read their app URL from `url_file`
/// (`PALISADE_APP_DATABASE_URL_FILE`): the file is rewritten atomically (mode 0600) with the new
/// credential. What `palisade rotate-app-credential` runs, and the load test.
pub async fn rotate_url_file(
    superuser_url: &str,
    url_file: &std::path::Path,
    drain_timeout: Duration,
) -> Result<palisade_db::rotation::Rotated, BoxError> {
    let read = url_source(
        &UrlSetting::File(url_file.to_owned()),
        "PALISADE_APP_DATABASE_URL_FILE",
    );
    let current = read.read()?;
    let database = palisade_db::rotation::url_database(&current)?;
    Ok(palisade_db::rotation::rotate_app_login(
        superuser_url,
        &database,
        &current,
        |new| write_url_file(url_file, &new.url).map_err(|e| e.to_string()),
        drain_timeout,
    )
    .await?)
}

/// Replaces `path` with `url` atomically: a temporary file beside it (with the mode, owner and
/// group of the file it replaces; 0600 and the caller's if that cannot be read), then a rename,
/// so a server never reads half a URL. Only root may give the file to another owner, and a user
/// only to a group of its own: run as the file's owner in a group it is not in, the new file
/// keeps the owner and takes that user's group (docs/dba.md).
fn write_url_file(path: &std::path::Path, url: &Secret) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
    let old = std::fs::metadata(path).ok();
    let mode = old
        .as_ref()
        .map_or(0o600, |m| m.permissions().mode() & 0o777);
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".rotating");
    let tmp = path.with_file_name(name);
    // A new file, never one found there: whoever may write to the directory (the servers' own
    // user, in the layout of docs/dba.md) could have left a symlink at that name, which opening
    // it would follow (and chown and fill the file it names, as root). `remove_file` removes a
    // link, not its target; `create_new` (O_EXCL) refuses one planted after it.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    if let Some(old) = &old {
        // The servers may read the file through its group (root:palisade 0640): a new file of
        // the caller's group would lock them out, and the rotation's drain would never end.
        // What the caller may not change stays the caller's (EPERM), as before.
        if std::os::unix::fs::fchown(&file, Some(old.uid()), Some(old.gid())).is_err() {
            let _ = std::os::unix::fs::fchown(&file, None, Some(old.gid()));
        }
    }
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    file.write_all(url.expose().as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// `serve` hands the rotation secrets it read to the server it builds: the JWT verify secret
    /// to the token keys, Twilio's secondary token to the webhooks (and the main ones beside).
    #[test]
    fn serve_builds_the_server_with_the_rotation_secrets() {
        let env: std::collections::HashMap<&str, &str> = [
            ("DATABASE_URL", "postgresql://o:p@h/db"),
            ("PALISADE_APP_DATABASE_URL", "postgresql://a:p@h/db"),
            (
                "PALISADE_JWT_SECRET",
                "jwt-main-0123456789abcdef0123456789ab",
            ),
            (
                "PALISADE_JWT_VERIFY_SECRET",
                "jwt-next-0123456789abcdef0123456789ab",
            ),
            ("TWILIO_AUTH_TOKEN", "twilio-primary"),
            ("TWILIO_SECONDARY_AUTH_TOKEN", "twilio-secondary"),
            ("PALISADE_SMTP_URL", "smtp://127.0.0.1:2525"),
        ]
        .into_iter()
        .collect();
        let settings = ServeSettings::from_lookup(|k| env.get(k).map(|v| (*v).to_owned())).unwrap();
        let db = ServeDatabase::start(&settings.database).unwrap();
        let config = app_config(&settings, &db, None).unwrap();
        assert_eq!(config.jwt_secret, b"jwt-main-0123456789abcdef0123456789ab");
        assert_eq!(
            config.jwt_verify_secret.as_deref(),
            Some(&b"jwt-next-0123456789abcdef0123456789ab"[..])
        );
        let secret = |s: &Option<Secret>| s.as_ref().map(|s| s.expose().to_owned());
        assert_eq!(
            secret(&config.webhooks.twilio_auth_token).as_deref(),
            Some("twilio-primary")
        );
        assert_eq!(
            secret(&config.webhooks.twilio_secondary_auth_token).as_deref(),
            Some("twilio-secondary")
        );
    }

    /// A server given `DATABASE_URL_FILE` keeps the file, not the URL it held at start: its
    /// scheduled retention (which reads `owner_url` for each run, tests/api/retention.rs) sees a
    /// rewritten file.
    #[test]
    fn a_server_reads_the_owner_url_file_again_each_time() {
        let dir =
            std::env::temp_dir().join(format!("palisade-serve-owner-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).unwrap();
        let file = dir.join("owner-url");
        std::fs::write(&file, "postgresql://o:old@h/db").unwrap();
        let db = ServeDatabase::start(&DatabaseMode::External(ExternalDatabase {
            owner_url: UrlSetting::File(file.clone()),
            app_url: UrlSetting::Url(Secret::new("postgresql://a:p@h/db")),
            billing_url: None,
            jwt_secret: Secret::new("x"),
            jwt_verify_secret: None,
        }))
        .unwrap();
        assert_eq!(
            db.database.owner_url.read().unwrap().expose(),
            "postgresql://o:old@h/db"
        );
        std::fs::write(&file, "postgresql://o:new@h/db").unwrap();
        assert_eq!(
            db.database.owner_url.read().unwrap().expose(),
            "postgresql://o:new@h/db"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A start applies `secrets.json` as it is when it bootstraps, not as its cluster's start
    /// read it: a rotation in between (here live, the cluster being ready; one run before it
    /// was ready rewrites the file the same way) left the pool reading a role the bootstrap had
    /// just disabled, and `serve` exited. While a start holds the file's lock, a rotation
    /// refuses and changes nothing.
    #[test]
    fn a_start_applies_a_rotation_made_after_its_cluster_read_the_secrets() {
        let dir =
            std::env::temp_dir().join(format!("palisade-start-rotate-{}", uuid::Uuid::new_v4()));
        let settings = EmbeddedSettings {
            data_dir: dir.clone(),
            data_dir_is_default: false,
            pg_port: None,
        };
        let rotate = |settings: &EmbeddedSettings| {
            let settings = settings.clone();
            std::thread::spawn(move || embedded::rotate(&settings, Duration::from_secs(30)))
                .join()
                .unwrap()
        };
        let secrets = || -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(dir.join("secrets.json")).unwrap()).unwrap()
        };
        let rt = actix_web::rt::System::new();
        // The first start: the roles and the database.
        let db = Database::start_embedded(&settings).unwrap();
        rt.block_on(db.prepare()).unwrap();
        db.stop();

        let db = Database::start_embedded(&settings).unwrap();
        let before = secrets();
        let held = embedded::role_passwords_held(&dir).unwrap();
        let refused = rotate(&settings).err().unwrap();
        assert!(
            refused.contains("another palisade process holds"),
            "{refused}"
        );
        assert_eq!(secrets(), before, "a refused rotation changed secrets.json");
        drop(held);
        let rotated = rotate(&settings).unwrap();
        assert!(matches!(rotated, embedded::EmbeddedRotation::Live(_)));
        let after = secrets();
        assert_ne!(after["app_role"], before["app_role"]);

        rt.block_on(db.prepare()).unwrap();
        let cluster = db.cluster.as_ref().unwrap();
        let app_url = cluster.app_url_source().read().unwrap();
        let role: String = rt
            .block_on(async {
                let client = schema::connect(app_url.expose())
                    .await
                    .map_err(|e| e.to_string())?;
                let row = client
                    .query_one("SELECT current_user::text", &[])
                    .await
                    .map_err(|e| e.to_string())?;
                row.try_get::<_, String>(0).map_err(|e| e.to_string())
            })
            .expect("the pool's credential logs in after the start");
        assert_eq!(role, after["app_role"].as_str().unwrap());
        db.stop();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The rotation's new URL file keeps the replaced file's mode, owner and group: servers
    /// reading it through its group (root:palisade 0640) still can. Run as root (as here and in
    /// CI), the file is given to another owner and group than the caller's first; run as another
    /// user, it keeps that user's own, which is still what the assertion compares.
    #[test]
    fn a_rotated_url_file_keeps_its_mode_owner_and_group() {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        let dir =
            std::env::temp_dir().join(format!("palisade-rotate-file-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).unwrap();
        let file = dir.join("app-url");
        std::fs::write(&file, "postgresql://a:old@h/db\n").unwrap();
        if std::fs::metadata("/proc/self").unwrap().uid() == 0 {
            std::os::unix::fs::chown(&file, Some(1), Some(1)).unwrap();
        }
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let before = std::fs::metadata(&file).unwrap();
        write_url_file(&file, &Secret::new("postgresql://b:new@h/db")).unwrap();
        let after = std::fs::metadata(&file).unwrap();
        assert_eq!(
            (after.uid(), after.gid(), after.permissions().mode() & 0o777),
            (before.uid(), before.gid(), 0o640)
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "postgresql://b:new@h/db\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A symlink left at the temporary file's name (by whoever may write to the directory) is
    /// not followed: the file it names keeps its content, owner and mode, and the URL file is a
    /// regular file of its own.
    #[test]
    fn a_rotation_follows_no_link_left_at_its_temporary_name() {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        let dir =
            std::env::temp_dir().join(format!("palisade-rotate-link-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).unwrap();
        let file = dir.join("app-url");
        std::fs::write(&file, "postgresql://a:old@h/db\n").unwrap();
        let other = dir.join("other");
        std::fs::write(&other, "keep").unwrap();
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o644)).unwrap();
        let before = std::fs::metadata(&other).unwrap();
        std::os::unix::fs::symlink(&other, dir.join("app-url.rotating")).unwrap();
        write_url_file(&file, &Secret::new("postgresql://b:new@h/db")).unwrap();
        let after = std::fs::metadata(&other).unwrap();
        assert_eq!(std::fs::read_to_string(&other).unwrap(), "keep");
        assert_eq!(
            (after.uid(), after.gid(), after.permissions().mode() & 0o777),
            (before.uid(), before.gid(), 0o644)
        );
        assert!(
            std::fs::symlink_metadata(&file)
                .unwrap()
                .file_type()
                .is_file()
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "postgresql://b:new@h/db\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
