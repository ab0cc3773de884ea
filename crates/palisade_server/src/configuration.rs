//! Settings, read from the environment. Every variable the `palisade` binary reads is read here,
//! once, per subcommand: each subcommand has its own settings type holding what it uses and
//! nothing more ([`ServeSettings`], [`MigrateSettings`], [`BootstrapSettings`],
//! [`InstallDefinersSettings`], [`AuditSettings`], [`NumbersSettings`], [`RetentionSettings`]),
//! and its own list of variables ([`Var`]) that `palisade <subcommand> --help` prints. docs/configuration.md says
//! the same in prose; `tests/cli.rs` checks that the two name the same variables.
//!
//! Rules: a variable set to the empty string counts as unset; a malformed value is a
//! [`ConfigError`] naming the variable, never its value; secrets (URLs with passwords, the JWT
//! secret, role passwords, provider secrets, the SMTP URL) are held as [`Secret`], whose `Debug`
//! is redacted and which has no `Display`.
//!
//! Two database modes. With `DATABASE_URL` unset, the **embedded default**: Palisade runs its
//! own PostgreSQL cluster under `PALISADE_DATA_DIR` and generates every password and the JWT
//! secret there. With `DATABASE_URL` set (the owner role's URL), it uses that server; `serve`
//! then needs `PALISADE_APP_DATABASE_URL` and `PALISADE_JWT_SECRET` too, `migrate` nothing more.
//!
//! Stripe webhooks: the embedded default serves them with a generated signing secret (kept in
//! `webhook-secrets.json`, overridden by `STRIPE_WEBHOOK_SECRET`, e.g. the one `stripe listen`
//! prints). On an existing server they need `PALISADE_BILLING_DATABASE_URL` and
//! `STRIPE_WEBHOOK_SECRET` together; with neither, `POST /webhooks/stripe` answers 503.

use std::path::PathBuf;
use std::time::Duration;

use palisade_api::client_addr::{ForwardedHeader, TrustedProxies};
use palisade_api::cors::CorsOrigins;
use palisade_api::throttle::{ActionLimits, Limit, RateLimits};

use crate::telemetry::LogFormat;
use palisade_db::retention::Windows;

use palisade_db::schema::RoleLimits;

pub use palisade_domain::Secret;

/// A setting that could not be used. The message names the variable, never its value.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

/// One environment variable as `palisade <subcommand> --help` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var {
    /// Its name.
    pub name: &'static str,
    /// Its default, or whether it is required, as `--help` shows it in brackets:
    /// `default: 16`, `required`, `unset: embedded mode`.
    pub note: &'static str,
    /// What it sets, in a few words (docs/configuration.md has the rest).
    pub meaning: &'static str,
}

const fn var(name: &'static str, note: &'static str, meaning: &'static str) -> Var {
    Var {
        name,
        note,
        meaning,
    }
}

/// Variables that the PostgreSQL launcher (`palisade_pg_embedded`) reads itself, since the
/// tests and the benchmark find PostgreSQL the same way. Listed for every command that may run
/// the embedded cluster; read nowhere in this crate.
pub const LAUNCHER_VARS: [&str; 1] = ["PALISADE_PG_BIN"];

// The variables, grouped as docs/configuration.md groups them; each subcommand's `vars()`
// lists its groups. One line each: `var(name, note, meaning)`.
#[rustfmt::skip]
const SERVER_VARS: &[Var] = &[
    var("PALISADE_HTTP_ADDR", "default: 127.0.0.1:8080", "where the API listens"),
    var("PALISADE_METRICS_ADDR", "unset: no metrics", "where Prometheus metrics are served (GET /metrics); never the API's address"),
    var("PALISADE_HTTP_WORKERS", "default: one per core", "HTTP worker threads"),
    var("PALISADE_TOKEN_TTL_SECS", "default: 86400", "lifetime of the bearer tokens the server issues"),
    var("PALISADE_SESSION_MAX_SECS", "default: 2592000, or the token lifetime when longer", "no renewed token (POST /v1/me/token) expires later than this after the login; at least PALISADE_TOKEN_TTL_SECS"),
    var("PALISADE_SLOW_REQUEST_MS", "default: 5000", "a request this slow is logged as a warning (request finished slowly)"),
    var("PALISADE_DB_POOL_SIZE", "default: 16", "most palisade_app connections"),
    NUMBER_QUARANTINE_VAR,
];
#[rustfmt::skip]
const NUMBER_QUARANTINE_VAR: Var = var("PALISADE_NUMBER_QUARANTINE_DAYS", "default: 30", "days a released phone number stays reserved for its last organization (0 to 3650)");
#[rustfmt::skip]
const RETENTION_VARS: &[Var] = &[
    var("PALISADE_RETAIN_WEBHOOK_DELIVERIES_DAYS", "default: 30", "days a carrier or email-provider webhook delivery is kept (at least 2)"),
    var("PALISADE_RETAIN_STRIPE_EVENTS_DAYS", "default: 30", "days the id of an applied Stripe event is kept (at least 4)"),
    var("PALISADE_RETAIN_OUTBOUND_WEBHOOK_EVENTS_DAYS", "default: 30", "days an outbound webhook event and its deliveries are kept, once none is pending (at least 2)"),
    var("PALISADE_RETAIN_EXPIRED_LINKS_DAYS", "default: 7", "days an expired invitation or password reset is kept after its expiry"),
    var("PALISADE_RETAIN_IDEMPOTENCY_KEYS_DAYS", "default: 2", "days a stored Idempotency-Key response is kept (at least 1)"),
    var("PALISADE_RETAIN_DELETION_RECORDS_DAYS", "default: 90", "days the incremental sync's record of a deleted row is kept (at least 90: a sync token is good for 89 days)"),
];
#[rustfmt::skip]
const RETENTION_SCHEDULE_VAR: Var = var("PALISADE_RETENTION_EVERY_MINUTES", "default: 60", "how often the server runs retention (0: never, run `palisade retention` instead)");
#[rustfmt::skip]
const SERVE_DATABASE_VARS: &[Var] = &[
    var("DATABASE_URL", "unset: embedded mode", "the owner role's URL (palisade_owner): migrations and policies"),
    var("DATABASE_URL_FILE", "instead of the variable above", "a file holding the owner's URL, read at start and again for each scheduled retention run"),
    var("PALISADE_APP_DATABASE_URL", "with DATABASE_URL or its file: this or the _FILE variant", "the app's URL, as palisade_app_a or palisade_app_b: every request"),
    var("PALISADE_APP_DATABASE_URL_FILE", "with DATABASE_URL or its file: this or the variable above", "a file holding the app's URL, re-read for each new connection and every second (rotation)"),
    var("PALISADE_JWT_SECRET", "required with DATABASE_URL or its file; generated in embedded mode", "the bearer tokens' HS256 secret, at least 32 bytes"),
    var("PALISADE_JWT_SECRET_FILE", "instead of the variable above", "a file holding that secret, read at start"),
    var("PALISADE_JWT_VERIFY_SECRET", "unset; with DATABASE_URL or its file", "a second secret that verifies tokens and signs none: a rotation's next or previous secret"),
    var("PALISADE_JWT_VERIFY_SECRET_FILE", "instead of the variable above", "a file holding that secret, read at start"),
    var("PALISADE_BILLING_DATABASE_URL", "with STRIPE_WEBHOOK_SECRET, or neither", "the billing role's URL (palisade_billing): the Stripe webhook only"),
    var("PALISADE_BILLING_DATABASE_URL_FILE", "instead of the variable above", "a file holding the billing role's URL, re-read for each new connection"),
];
#[rustfmt::skip]
const OWNER_DATABASE_URL_VARS: &[Var] = &[
    var("DATABASE_URL", "unset: embedded mode", "the owner role's URL (palisade_owner)"),
    var("DATABASE_URL_FILE", "instead of the variable above", "a file holding the owner's URL"),
];
#[rustfmt::skip]
const AUDIT_DATABASE_VARS: &[Var] = &[
    var("DATABASE_URL", "unset: embedded mode", "a role that can read palisade_audit (the owner, a superuser, palisade_auditor)"),
    var("DATABASE_URL_FILE", "instead of the variable above", "a file holding that URL"),
    var("PALISADE_SUPERUSER_URL", "default: DATABASE_URL, if a superuser", "a superuser's URL, for the drift check"),
    var("PALISADE_SUPERUSER_URL_FILE", "instead of the variable above", "a file holding that URL, read once"),
];
#[rustfmt::skip]
const EMBEDDED_VARS: &[Var] = &[
    var("PALISADE_DATA_DIR", "default: ./.palisade", "embedded mode: the cluster, its secrets, the mail outbox"),
    var("PALISADE_PG_PORT", "default: the last start's while free, else a free one", "embedded mode: PostgreSQL's port on 127.0.0.1"),
    var("PALISADE_PG_BIN", "default: searched: PATH, pg_config, /usr/lib/postgresql", "embedded mode: the directory of initdb, postgres, pg_isready"),
];
#[rustfmt::skip]
const WEBHOOK_VARS: &[Var] = &[
    var("PALISADE_PUBLIC_BASE_URL", "default: http://<PALISADE_HTTP_ADDR>", "what precedes /webhooks/... in the URLs providers call (and mailed links, without PALISADE_APP_BASE_URL)"),
    var("TWILIO_AUTH_TOKEN", "embedded: generated; otherwise unset", "verifies X-Twilio-Signature"),
    var("TWILIO_AUTH_TOKEN_FILE", "instead of the variable above", "a file holding it, read at start"),
    var("TWILIO_SECONDARY_AUTH_TOKEN", "unset; only with TWILIO_AUTH_TOKEN", "the account's secondary auth token, accepted too while the token is rotated"),
    var("TWILIO_SECONDARY_AUTH_TOKEN_FILE", "instead of the variable above", "a file holding it, read at start"),
    var("SENDGRID_WEBHOOK_PUBLIC_KEY", "embedded: generated; otherwise unset", "SendGrid's event webhook verification key (base64)"),
    var("MAILGUN_WEBHOOK_SIGNING_KEY", "embedded: generated; otherwise unset", "Mailgun's webhook signing key"),
    var("MAILGUN_WEBHOOK_SIGNING_KEY_FILE", "instead of the variable above", "a file holding it, read at start"),
    var("STRIPE_WEBHOOK_SECRET", "embedded: generated; otherwise unset", "the Stripe endpoint's signing secret (whsec_...)"),
    var("STRIPE_WEBHOOK_SECRET_FILE", "instead of the variable above", "a file holding it, read at start"),
];
#[rustfmt::skip]
const MAIL_VARS: &[Var] = &[
    var("PALISADE_SMTP_URL", "unset: written to PALISADE_DATA_DIR/outbox/", "smtps://[user:password@]host[:port], or smtp://..."),
    var("PALISADE_SMTP_URL_FILE", "instead of the variable above", "a file holding it, read at start"),
    var("PALISADE_MAIL_FROM", "default: Palisade <palisade@localhost>", "the From address of account mail"),
    var("PALISADE_APP_BASE_URL", "default: PALISADE_PUBLIC_BASE_URL", "what mailed links start with: the front end that serves /accept-invitation, /reset-password, /verify-email"),
    var("PALISADE_INVITATION_TTL_SECS", "default: 604800", "how long an invitation link works"),
    var("PALISADE_PASSWORD_RESET_TTL_SECS", "default: 3600", "how long a password reset link works"),
    var("PALISADE_EMAIL_VERIFICATION_TTL_SECS", "default: 259200", "how long an email verification link works"),
];
/// A limit is `N/UNIT[,burst=B]`, `UNIT` one of `s`, `min`, `h`.
#[rustfmt::skip]
const RATE_LIMIT_AND_PROXY_VARS: &[Var] = &[
    var("PALISADE_RATE_LIMIT_LOGIN_PER_ADDRESS", "default: 30/min", "login attempts per client address"),
    var("PALISADE_RATE_LIMIT_LOGIN_PER_ACCOUNT", "default: 10/min", "login attempts per email"),
    var("PALISADE_RATE_LIMIT_SIGNUP_PER_ADDRESS", "default: 10/h", "signups per client address"),
    var("PALISADE_RATE_LIMIT_SIGNUP_PER_ACCOUNT", "default: 5/h", "signups per email"),
    var("PALISADE_RATE_LIMIT_PASSWORD_RESET_PER_ADDRESS", "default: 30/h", "password reset requests and confirmations per client address"),
    var("PALISADE_RATE_LIMIT_PASSWORD_RESET_PER_ACCOUNT", "default: 5/h", "password reset attempts per email or token"),
    var("PALISADE_RATE_LIMIT_INVITATION_PER_ADDRESS", "default: 30/h", "invitation acceptances per client address"),
    var("PALISADE_RATE_LIMIT_INVITATION_PER_ACCOUNT", "default: 10/h", "acceptance attempts per invitation"),
    var("PALISADE_RATE_LIMIT_CHATBOT_ASK_PER_ORGANIZATION", "default: 30/min", "POST /v1/chatbot/ask calls per organization"),
    var("PALISADE_RATE_LIMIT_MAX_KEYS", "default: 100000", "most addresses, accounts or organizations one limiter remembers"),
    var("PALISADE_TRUSTED_PROXIES", "default: none (the TCP peer is the client)", "proxies (addresses, CIDR networks) whose forwarding header names the client"),
    var("PALISADE_TRUSTED_PROXY_HEADER", "default: x-forwarded-for", "the header they write: x-forwarded-for or forwarded"),
    var("PALISADE_CORS_ALLOWED_ORIGINS", "default: none (no CORS header)", "origins (https://app.example.com, comma-separated) browser apps may call /v1 from"),
];
#[rustfmt::skip]
const SUPERUSER_VARS: &[Var] = &[
    var("PALISADE_SUPERUSER_URL", "required: this or its file", "a superuser's URL"),
    var("PALISADE_SUPERUSER_URL_FILE", "instead of the variable above", "a file holding that URL, read once"),
    var("PALISADE_DATABASE_NAME", "default: palisade", "the Palisade database's name"),
];
#[rustfmt::skip]
const PASSWORD_VARS: &[Var] = &[
    var("PALISADE_OWNER_PASSWORD", "required: this or its file", "the password bootstrap sets on palisade_owner"),
    var("PALISADE_OWNER_PASSWORD_FILE", "instead of the variable above", "a file holding that password"),
    var("PALISADE_APP_PASSWORD", "required: this or its file", "the password bootstrap sets on palisade_app_a (and LOGIN)"),
    var("PALISADE_APP_PASSWORD_FILE", "instead of the variable above", "a file holding that password"),
    var("PALISADE_BILLING_PASSWORD", "required: this or its file", "the password bootstrap sets on palisade_billing"),
    var("PALISADE_BILLING_PASSWORD_FILE", "instead of the variable above", "a file holding that password"),
];
#[rustfmt::skip]
const ROLE_LIMIT_VARS: &[Var] = &[
    var("PALISADE_APP_STATEMENT_TIMEOUT_SECS", "default: 30", "statement_timeout of the app's login roles and palisade_billing"),
    var("PALISADE_APP_IDLE_IN_TRANSACTION_TIMEOUT_SECS", "default: 60", "idle_in_transaction_session_timeout of the same roles"),
    var("PALISADE_APP_CONNECTION_LIMIT", "default: 100", "CONNECTION LIMIT of each of them (pool size x instances must fit)"),
];
#[rustfmt::skip]
const ROTATE_VARS: &[Var] = &[
    var("PALISADE_APP_DATABASE_URL_FILE", "unset: embedded mode", "the file the servers read the app's URL from; rewritten with the new credential"),
    var("PALISADE_SUPERUSER_URL", "required with the file: this or its own file", "a superuser's URL"),
    var("PALISADE_SUPERUSER_URL_FILE", "instead of the variable above", "a file holding that URL, read once"),
    var("PALISADE_ROTATE_DRAIN_TIMEOUT_SECS", "default: 300", "how long to wait for the old role's sessions to end before giving up"),
];
#[rustfmt::skip]
const DB_TLS_VARS: &[Var] = &[
    var("PALISADE_DB_SSLROOTCERT", "unset: none", "a PEM file of the CA that signs the database server's certificate, for URLs without sslrootcert"),
];
#[rustfmt::skip]
const LOG_VARS_INFO: &[Var] = &[
    var("PALISADE_LOG_FORMAT", "default: text", "json for one JSON object per log line"),
    var("RUST_LOG", "default: info", "the log filter"),
];
#[rustfmt::skip]
const LOG_VARS_WARN: &[Var] = &[
    var("PALISADE_LOG_FORMAT", "default: text", "json for one JSON object per log line"),
    var("RUST_LOG", "default: warn", "the log filter"),
];

/// The process environment, where an empty value counts as unset.
fn from_process_env(name: &str) -> Option<String> {
    non_empty(std::env::var(name))
}

/// A variable's value, `None` when unset, empty or not UTF-8.
fn non_empty(value: Result<String, std::env::VarError>) -> Option<String> {
    value.ok().filter(|v| !v.is_empty())
}

/// Where a command's database is: the embedded cluster, or an existing server described by
/// `E` (each subcommand's own: `serve` needs three roles' URLs and the JWT secret, `migrate`
/// only the owner's URL).
#[derive(Debug, Clone)]
pub enum DatabaseMode<E> {
    /// `DATABASE_URL` unset: Palisade runs its own cluster.
    Embedded(EmbeddedSettings),
    /// `DATABASE_URL` set: an existing server.
    External(E),
}

/// The embedded default's settings (`PALISADE_DATA_DIR`, `PALISADE_PG_PORT`).
#[derive(Debug, Clone)]
pub struct EmbeddedSettings {
    /// Holds `pgdata/` (the cluster), `secrets.json` and the server log.
    pub data_dir: PathBuf,
    /// `PALISADE_DATA_DIR` unset: `data_dir` is the default, `./.palisade`, which
    /// [`crate::embedded::reachable_data_dir`] moves when the server's OS user cannot reach it.
    pub data_dir_is_default: bool,
    /// PostgreSQL's TCP port on 127.0.0.1; `None` picks a free one at each start.
    pub pg_port: Option<u16>,
}

impl EmbeddedSettings {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            data_dir: data_dir(get),
            data_dir_is_default: get("PALISADE_DATA_DIR").is_none(),
            pg_port: match get("PALISADE_PG_PORT") {
                None => None,
                Some(p) => {
                    Some(p.parse().map_err(|_| {
                        ConfigError("PALISADE_PG_PORT must be a port number".into())
                    })?)
                }
            },
        })
    }
}

fn data_dir(get: &impl Fn(&str) -> Option<String>) -> PathBuf {
    PathBuf::from(get("PALISADE_DATA_DIR").unwrap_or_else(|| ".palisade".into()))
}

/// Where log lines go and which: `PALISADE_LOG_FORMAT`, `RUST_LOG`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// `PALISADE_LOG_FORMAT`: `text` (default) or `json`.
    pub format: LogFormat,
    /// `RUST_LOG`: the log filter.
    pub filter: Option<String>,
    /// The filter without `RUST_LOG`: `info`; `warn` for `audit` and `numbers`.
    pub default_filter: &'static str,
}

impl LogSettings {
    fn from_lookup(
        get: &impl Fn(&str) -> Option<String>,
        default_filter: &'static str,
    ) -> Result<Self, ConfigError> {
        let format = match get("PALISADE_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(_) => {
                return Err(ConfigError(
                    "PALISADE_LOG_FORMAT must be text or json".into(),
                ));
            }
        };
        Ok(Self {
            format,
            filter: get("RUST_LOG"),
            default_filter,
        })
    }
}

/// TLS to PostgreSQL beyond what each URL says (`sslmode`, `sslrootcert`: docs/configuration.md).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbTlsSettings {
    /// `PALISADE_DB_SSLROOTCERT`: the CA file (PEM) of every database URL that names no
    /// `sslrootcert` of its own, as libpq's `PGSSLROOTCERT`.
    pub root_cert: Option<PathBuf>,
}

impl DbTlsSettings {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Self {
        Self {
            root_cert: get("PALISADE_DB_SSLROOTCERT").map(PathBuf::from),
        }
    }

    /// Makes the CA file the default of every database URL this process opens
    /// ([`palisade_db::tls::set_default_root_cert`]), reading and checking it now: an
    /// unreadable file, or one without a PEM certificate, is an error naming the variable.
    pub fn install(&self) -> Result<(), ConfigError> {
        match &self.root_cert {
            None => Ok(()),
            Some(path) => palisade_db::tls::set_default_root_cert(path, "PALISADE_DB_SSLROOTCERT")
                .map_err(|e| ConfigError(e.to_string())),
        }
    }
}

/// What every subcommand's settings have: how to log, the database's TLS defaults, and (for the
/// commands with a database) the embedded cluster's settings. `main` installs the first two and
/// settles the embedded data directory ([`crate::embedded::reachable_data_dir`]) before the
/// command runs.
pub trait CommandSettings {
    /// Log format and filter.
    fn log(&self) -> &LogSettings;
    /// `PALISADE_DB_SSLROOTCERT`.
    fn db_tls(&self) -> &DbTlsSettings;
    /// The embedded cluster's settings, when the command has a database and `DATABASE_URL` is
    /// unset.
    fn embedded_mut(&mut self) -> Option<&mut EmbeddedSettings> {
        None
    }
}

/// `Type` or `Type: field`, the field holding its `DatabaseMode` (for [`embedded_mut`]).
///
/// [`embedded_mut`]: CommandSettings::embedded_mut
macro_rules! command_settings {
    ($($t:ty $(: $database:ident)?),* $(,)?) => {$(
        impl CommandSettings for $t {
            fn log(&self) -> &LogSettings {
                &self.log
            }
            fn db_tls(&self) -> &DbTlsSettings {
                &self.db_tls
            }
            $(fn embedded_mut(&mut self) -> Option<&mut EmbeddedSettings> {
                match &mut self.$database {
                    DatabaseMode::Embedded(e) => Some(e),
                    DatabaseMode::External(_) => None,
                }
            })?
        }
    )*};
}

// Bootstrap and install-definers work on an existing server only.
command_settings!(
    ServeSettings: database,
    MigrateSettings: database,
    BootstrapSettings,
    InstallDefinersSettings,
    AuditSettings: database,
    NumbersSettings: database,
    RetentionSettings: database,
    AnalystSettings: database,
    RotateSettings: database,
);

/// An existing server, as `serve` uses it. URLs hold passwords: [`Secret`]s.
#[derive(Debug, Clone)]
pub struct ExternalDatabase {
    /// `DATABASE_URL` or `DATABASE_URL_FILE`: the owner role (`palisade_owner`), for migrations
    /// and policies at start and for the scheduled retention (a file is read again for each run,
    /// so a changed owner password needs no restart).
    pub owner_url: UrlSetting,
    /// `PALISADE_APP_DATABASE_URL` or `PALISADE_APP_DATABASE_URL_FILE`: the app's login role
    /// (`palisade_app_a` or `palisade_app_b`), for every request.
    pub app_url: UrlSetting,
    /// `PALISADE_BILLING_DATABASE_URL` or `..._FILE`: the billing role (`palisade_billing`), used
    /// by the Stripe webhook only. Set exactly when [`ServeSettings::stripe_webhook_secret`] is.
    pub billing_url: Option<UrlSetting>,
    /// `PALISADE_JWT_SECRET`: at least 32 bytes (checked at startup).
    pub jwt_secret: Secret,
    /// `PALISADE_JWT_VERIFY_SECRET`: a second secret, at least 32 bytes, whose tokens are
    /// accepted and which signs none (a rotation's next or previous secret); never the same as
    /// `jwt_secret`.
    pub jwt_verify_secret: Option<Secret>,
}

/// A database URL, given directly or as a file the server re-reads (so a rotated credential is
/// picked up without a restart: docs/dba.md, "Rotating passwords").
#[derive(Debug, Clone)]
pub enum UrlSetting {
    /// The URL itself (`PALISADE_*_DATABASE_URL`).
    Url(Secret),
    /// A file holding it (`PALISADE_*_DATABASE_URL_FILE`), read when a connection is opened.
    File(PathBuf),
}

impl UrlSetting {
    /// The URL now: the file read again (surrounding whitespace ignored). `variable` names the
    /// file in errors; neither the URL nor the file's contents ever appear in one.
    pub fn read(&self, variable: &str) -> Result<Secret, String> {
        match self {
            UrlSetting::Url(url) => Ok(url.clone()),
            UrlSetting::File(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {variable} {}: {e}", path.display()))?;
                match text.trim() {
                    "" => Err(format!("{variable} {} is empty", path.display())),
                    url => Ok(Secret::new(url)),
                }
            }
        }
    }
}

/// A secret the server holds for its lifetime, given as `<name>` or as `<name>_FILE`, a file
/// holding it (read now, trailing whitespace left out), not both; `None` when neither is set.
/// Errors name the variables, never a value, nor the file's path: a secret put in the `_FILE`
/// variable by mistake would be that path.
fn secret_setting(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<Secret>, ConfigError> {
    let file_var = format!("{name}_FILE");
    match (get(name), get(&file_var)) {
        (Some(_), Some(_)) => Err(ConfigError(format!(
            "{name} and {file_var} are both set: set one"
        ))),
        (Some(value), None) => Ok(Some(Secret::new(value))),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| ConfigError(format!("cannot read the file {file_var} names: {e}")))?;
            // Trailing whitespace (a line break, a stray space) left out: a Stripe or Twilio
            // secret with a space after it would fail every signature, with nothing to say why.
            match text.trim_end() {
                "" => Err(ConfigError(format!("the file {file_var} names is empty"))),
                value => Ok(Some(Secret::new(value))),
            }
        }
        (None, None) => Ok(None),
    }
}

/// `<name>` or `<name>_FILE`, not both; `None` when neither is set.
fn url_setting(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<UrlSetting>, ConfigError> {
    let file_var = format!("{name}_FILE");
    match (get(name), get(&file_var)) {
        (Some(_), Some(_)) => Err(ConfigError(format!(
            "{name} and {file_var} are both set: set one"
        ))),
        (Some(url), None) => Ok(Some(UrlSetting::Url(Secret::new(url)))),
        (None, Some(path)) => Ok(Some(UrlSetting::File(url_file_path(&file_var, path)?))),
        (None, None) => Ok(None),
    }
}

/// The path a URL file variable (`file_var`) holds. A URL or connection string given as the
/// file's name would be printed as a path by every error about the file: refused, naming only
/// the variable.
fn url_file_path(file_var: &str, path: String) -> Result<PathBuf, ConfigError> {
    if path.contains("://") || path.contains('=') {
        return Err(ConfigError(format!(
            "{file_var} must be the path of a file holding the URL, not a URL or connection string"
        )));
    }
    Ok(PathBuf::from(path))
}

/// Everything `palisade serve` needs.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// `PALISADE_HTTP_ADDR`, default `127.0.0.1:8080`.
    pub http_addr: String,
    /// `PALISADE_METRICS_ADDR`: where Prometheus metrics are served; `None` (the default): no
    /// metrics. Never the API's address ([`crate::metrics::shares_the_api_address`]).
    pub metrics_addr: Option<String>,
    /// Embedded or external database.
    pub database: DatabaseMode<ExternalDatabase>,
    /// `PALISADE_DB_POOL_SIZE`, default 16.
    pub pool_size: usize,
    /// `PALISADE_TOKEN_TTL_SECS`, default 86400.
    pub token_ttl: Duration,
    /// `PALISADE_SESSION_MAX_SECS`, default 2592000 (30 days), at least `token_ttl`: no renewed
    /// token expires later than this after the login.
    pub session_max: Duration,
    /// `PALISADE_SLOW_REQUEST_MS`, default 5000 (at least 1): a request that takes this long
    /// is logged as a warning.
    pub slow_request: Duration,
    /// `PALISADE_HTTP_WORKERS`, default: one per core.
    pub workers: Option<usize>,
    /// The carrier and email webhooks' public URL and secrets.
    pub webhooks: WebhookSettings,
    /// `STRIPE_WEBHOOK_SECRET`: the Stripe endpoint's signing secret (`whsec_...`). Embedded
    /// mode: overrides the generated one. External mode: required with the billing URL.
    pub stripe_webhook_secret: Option<Secret>,
    /// `PALISADE_NUMBER_QUARANTINE_DAYS`, default 30: how long a released phone number stays
    /// reserved for the organization that released it before anyone else may claim it.
    pub number_quarantine: time::Duration,
    /// `PALISADE_RATE_LIMIT_*`: limits on login, signup, password reset, invitation
    /// acceptance and the chatbot's test route (defaults: [`RateLimits::default`], listed in docs/configuration.md).
    pub rate_limits: RateLimits,
    /// `PALISADE_TRUSTED_PROXIES` and `PALISADE_TRUSTED_PROXY_HEADER`: whose forwarding header
    /// names the client. Default: none, the TCP peer is the client.
    pub trusted_proxies: TrustedProxies,
    /// `PALISADE_CORS_ALLOWED_ORIGINS`: the origins browser apps may call `/v1` from. Default:
    /// none.
    pub cors: CorsOrigins,
    /// Account mail and the lifetimes of emailed links.
    pub mail: MailSettings,
    /// `PALISADE_RETAIN_*`: how long each append-only record is kept.
    pub retention: Windows,
    /// `PALISADE_RETENTION_EVERY_MINUTES`, default 60: how often the server runs retention;
    /// `None` (0) never.
    pub retention_every: Option<Duration>,
    /// Log format and filter.
    pub log: LogSettings,
    /// `PALISADE_DB_SSLROOTCERT`: the CA file of the database URLs without an `sslrootcert`.
    pub db_tls: DbTlsSettings,
}

/// Account mail (invitations, password resets; docs/accounts.md).
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `PALISADE_SMTP_URL`: `smtp://[user:password@]host[:port]`. Unset: messages are written to
    /// [`MailSettings::outbox_dir`] instead. May hold a password: a [`Secret`].
    pub smtp_url: Option<Secret>,
    /// `PALISADE_MAIL_FROM`, default `Palisade <palisade@localhost>`.
    pub from: String,
    /// `PALISADE_DATA_DIR/outbox`: where messages go without an SMTP URL.
    pub outbox_dir: PathBuf,
    /// `PALISADE_INVITATION_TTL_SECS`, default 7 days.
    pub invitation_ttl: Duration,
    /// `PALISADE_PASSWORD_RESET_TTL_SECS`, default 1 hour.
    pub password_reset_ttl: Duration,
    /// `PALISADE_EMAIL_VERIFICATION_TTL_SECS`, default 3 days.
    pub email_verification_ttl: Duration,
    /// `PALISADE_APP_BASE_URL`: what the links of account mail start with (the front end's
    /// pages), when the front end is not at `PALISADE_PUBLIC_BASE_URL`; unset: that URL.
    pub app_base_url: Option<String>,
}

/// The carrier and email webhooks' settings. In the embedded default, each secret left unset
/// is taken from the generated `webhook-secrets.json`.
#[derive(Debug, Clone, Default)]
pub struct WebhookSettings {
    /// `PALISADE_PUBLIC_BASE_URL`: what precedes `/webhooks/...` in the URLs pasted into the
    /// providers' consoles, e.g. `https://api.example.com`. Default `http://<PALISADE_HTTP_ADDR>`.
    pub public_base_url: Option<String>,
    /// `TWILIO_AUTH_TOKEN` (or `_FILE`).
    pub twilio_auth_token: Option<Secret>,
    /// `TWILIO_SECONDARY_AUTH_TOKEN` (or `_FILE`): accepted too, during a rotation; never the
    /// same as `twilio_auth_token`.
    pub twilio_secondary_auth_token: Option<Secret>,
    /// `SENDGRID_WEBHOOK_PUBLIC_KEY`: the event webhook's verification key (base64, as
    /// SendGrid's console shows it). A public key: not a secret.
    pub sendgrid_public_key: Option<String>,
    /// `MAILGUN_WEBHOOK_SIGNING_KEY` (or `_FILE`).
    pub mailgun_signing_key: Option<Secret>,
}

impl WebhookSettings {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let public_base_url = get("PALISADE_PUBLIC_BASE_URL");
        if let Some(url) = &public_base_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ConfigError(
                "PALISADE_PUBLIC_BASE_URL must start with https:// (or http://)".into(),
            ));
        }
        let sendgrid_public_key = get("SENDGRID_WEBHOOK_PUBLIC_KEY");
        if let Some(key) = &sendgrid_public_key
            && palisade_api::webhooks::signature::SendgridKey::parse(key).is_none()
        {
            return Err(ConfigError(
                "SENDGRID_WEBHOOK_PUBLIC_KEY must be the base64 P-256 public key SendGrid shows"
                    .into(),
            ));
        }
        let twilio_auth_token = secret_setting(get, "TWILIO_AUTH_TOKEN")?;
        let twilio_secondary_auth_token = secret_setting(get, "TWILIO_SECONDARY_AUTH_TOKEN")?;
        if twilio_secondary_auth_token.is_some() && twilio_auth_token.is_none() {
            return Err(ConfigError(
                "TWILIO_SECONDARY_AUTH_TOKEN is set without TWILIO_AUTH_TOKEN (each or its _FILE): \
                 the secondary token is accepted besides the primary one, never alone"
                    .into(),
            ));
        }
        if let (Some(primary), Some(secondary)) = (&twilio_auth_token, &twilio_secondary_auth_token)
            && primary.expose() == secondary.expose()
        {
            return Err(ConfigError(
                "TWILIO_SECONDARY_AUTH_TOKEN is TWILIO_AUTH_TOKEN (each or its _FILE): it is the \
                 account's other token during a rotation; unset it once the rotation is over"
                    .into(),
            ));
        }
        Ok(Self {
            public_base_url,
            twilio_auth_token,
            twilio_secondary_auth_token,
            sendgrid_public_key,
            mailgun_signing_key: secret_setting(get, "MAILGUN_WEBHOOK_SIGNING_KEY")?,
        })
    }
}

/// A whole number, or `default` when unset.
fn number(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
) -> Result<u64, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| ConfigError(format!("{name} must be a whole number"))),
    }
}

impl ServeSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(from_process_env)
    }

    /// Reads settings through `get` (tests pass a map instead of the process environment).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let database = match url_setting(&get, "DATABASE_URL")? {
            None => DatabaseMode::Embedded(EmbeddedSettings::from_lookup(&get)?),
            Some(owner_url) => DatabaseMode::External(ExternalDatabase {
                owner_url,
                app_url: url_setting(&get, "PALISADE_APP_DATABASE_URL")?.ok_or_else(|| {
                    ConfigError("DATABASE_URL (or DATABASE_URL_FILE) is set, so PALISADE_APP_DATABASE_URL (palisade_app_a or palisade_app_b) or PALISADE_APP_DATABASE_URL_FILE must be too".into())
                })?,
                billing_url: url_setting(&get, "PALISADE_BILLING_DATABASE_URL")?,
                jwt_secret: secret_setting(&get, "PALISADE_JWT_SECRET")?
                    .ok_or_else(|| ConfigError("DATABASE_URL (or DATABASE_URL_FILE) is set, so PALISADE_JWT_SECRET (or PALISADE_JWT_SECRET_FILE) must be too".into()))?,
                jwt_verify_secret: secret_setting(&get, "PALISADE_JWT_VERIFY_SECRET")?,
            }),
        };
        if let DatabaseMode::External(ext) = &database
            && ext
                .jwt_verify_secret
                .as_ref()
                .is_some_and(|v| v.expose() == ext.jwt_secret.expose())
        {
            return Err(ConfigError(
                "PALISADE_JWT_VERIFY_SECRET is PALISADE_JWT_SECRET (each or its _FILE): during a \
                 rotation it is the other secret, the next one or the previous one; unset it \
                 once the rotation is over"
                    .into(),
            ));
        }
        let stripe_webhook_secret = secret_setting(&get, "STRIPE_WEBHOOK_SECRET")?;
        if stripe_webhook_secret.as_ref().is_some_and(|s| {
            s.expose().len() <= "whsec_".len() || !s.expose().starts_with("whsec_")
        }) {
            return Err(ConfigError(
                "STRIPE_WEBHOOK_SECRET (or the file STRIPE_WEBHOOK_SECRET_FILE names) must be the endpoint's signing secret, which starts with whsec_".into(),
            ));
        }
        if let DatabaseMode::External(ext) = &database
            && ext.billing_url.is_some() != stripe_webhook_secret.is_some()
        {
            return Err(ConfigError(
                "PALISADE_BILLING_DATABASE_URL and STRIPE_WEBHOOK_SECRET (each or its _FILE) go together: set both to \
                 serve POST /webhooks/stripe, or neither"
                    .into(),
            ));
        }
        let log = LogSettings::from_lookup(&get, "info")?;
        let pool_size = number(&get, "PALISADE_DB_POOL_SIZE", 16)?;
        if pool_size == 0 {
            return Err(ConfigError(
                "PALISADE_DB_POOL_SIZE must be at least 1".into(),
            ));
        }
        let webhooks = WebhookSettings::from_lookup(&get)?;
        let rate_limits = rate_limits_from_lookup(&get)?;
        let trusted_proxies = trusted_proxies_from_lookup(&get)?;
        let cors = match get("PALISADE_CORS_ALLOWED_ORIGINS") {
            None => CorsOrigins::none(),
            Some(list) => CorsOrigins::parse(&list)
                .map_err(|e| ConfigError(format!("PALISADE_CORS_ALLOWED_ORIGINS: {e}")))?,
        };
        let ttl = |name: &str, default: u64| -> Result<Duration, ConfigError> {
            match number(&get, name, default)? {
                0 => Err(ConfigError(format!("{name} must be at least 1"))),
                secs => Ok(Duration::from_secs(secs)),
            }
        };
        let mail = MailSettings {
            smtp_url: secret_setting(&get, "PALISADE_SMTP_URL")?,
            from: get("PALISADE_MAIL_FROM")
                .unwrap_or_else(|| "Palisade <palisade@localhost>".into()),
            outbox_dir: data_dir(&get).join("outbox"),
            invitation_ttl: ttl("PALISADE_INVITATION_TTL_SECS", 7 * 86_400)?,
            password_reset_ttl: ttl("PALISADE_PASSWORD_RESET_TTL_SECS", 3_600)?,
            email_verification_ttl: ttl("PALISADE_EMAIL_VERIFICATION_TTL_SECS", 3 * 86_400)?,
            app_base_url: match get("PALISADE_APP_BASE_URL") {
                Some(url) if !(url.starts_with("https://") || url.starts_with("http://")) => {
                    return Err(ConfigError(
                        "PALISADE_APP_BASE_URL must start with https:// (or http://)".into(),
                    ));
                }
                url => url.map(|u| u.trim_end_matches('/').to_owned()),
            },
        };
        let number_quarantine = number_quarantine_from_lookup(&get)?;
        let retention = retention_from_lookup(&get)?;
        let retention_every = match number(&get, "PALISADE_RETENTION_EVERY_MINUTES", 60)? {
            0 => None,
            minutes => Some(Duration::from_secs(minutes.saturating_mul(60))),
        };
        let token_ttl = ttl("PALISADE_TOKEN_TTL_SECS", 86_400)?;
        // Unset: 30 days, or the token lifetime when that is longer (a longer lifetime alone
        // still starts).
        let session_max = match get("PALISADE_SESSION_MAX_SECS") {
            None => Duration::from_secs(2_592_000).max(token_ttl),
            Some(_) => ttl("PALISADE_SESSION_MAX_SECS", 2_592_000)?,
        };
        if session_max < token_ttl {
            return Err(ConfigError(format!(
                "PALISADE_SESSION_MAX_SECS ({}) must be at least PALISADE_TOKEN_TTL_SECS ({}): \
                 a login's first token already lives that long",
                session_max.as_secs(),
                token_ttl.as_secs()
            )));
        }
        let http_addr = get("PALISADE_HTTP_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into());
        let metrics_addr = get("PALISADE_METRICS_ADDR");
        if metrics_addr
            .as_deref()
            .is_some_and(|m| crate::metrics::shares_the_api_address(&http_addr, m))
        {
            return Err(ConfigError(
                "PALISADE_METRICS_ADDR must not listen where PALISADE_HTTP_ADDR does (the same \
                 address, or the same port on 0.0.0.0 or [::]): metrics are never served on the \
                 public port"
                    .into(),
            ));
        }
        Ok(Self {
            http_addr,
            metrics_addr,
            database,
            pool_size: usize::try_from(pool_size).unwrap_or(16),
            token_ttl,
            session_max,
            slow_request: match number(&get, "PALISADE_SLOW_REQUEST_MS", 5_000)? {
                0 => {
                    return Err(ConfigError(
                        "PALISADE_SLOW_REQUEST_MS must be at least 1".into(),
                    ));
                }
                ms => Duration::from_millis(ms),
            },
            workers: match get("PALISADE_HTTP_WORKERS") {
                None => None,
                Some(_) => match number(&get, "PALISADE_HTTP_WORKERS", 1)? {
                    0 => {
                        return Err(ConfigError(
                            "PALISADE_HTTP_WORKERS must be at least 1".into(),
                        ));
                    }
                    n => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                },
            },
            webhooks,
            stripe_webhook_secret,
            rate_limits,
            trusted_proxies,
            cors,
            mail,
            number_quarantine,
            retention,
            retention_every,
            log,
            db_tls: DbTlsSettings::from_lookup(&get),
        })
    }

    /// The variables `serve` reads, as `palisade serve --help` lists them.
    pub fn vars() -> Vec<Var> {
        [
            SERVER_VARS,
            SERVE_DATABASE_VARS,
            EMBEDDED_VARS,
            WEBHOOK_VARS,
            MAIL_VARS,
            RATE_LIMIT_AND_PROXY_VARS,
            &[RETENTION_SCHEDULE_VAR],
            RETENTION_VARS,
            DB_TLS_VARS,
            LOG_VARS_INFO,
        ]
        .concat()
    }
}

/// `PALISADE_RETAIN_*_DAYS` and `PALISADE_NUMBER_QUARANTINE_DAYS`: the retention windows, read by
/// `serve` (its scheduled run) and `retention`. A window below its floor is refused here, with
/// the floor, rather than by the database at the first run.
fn retention_from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Windows, ConfigError> {
    let defaults = Windows::default();
    let days = |name: &str, default: Duration| -> Result<Duration, ConfigError> {
        let d = number(get, name, default.as_secs() / 86_400)?;
        Ok(Duration::from_secs(d.min(36_500) * 86_400))
    };
    let quarantine = number_quarantine_from_lookup(get)?;
    let windows = Windows {
        webhook_deliveries: days(
            "PALISADE_RETAIN_WEBHOOK_DELIVERIES_DAYS",
            defaults.webhook_deliveries,
        )?,
        mailgun_tokens: defaults.mailgun_tokens,
        stripe_events: days("PALISADE_RETAIN_STRIPE_EVENTS_DAYS", defaults.stripe_events)?,
        outbound_webhook_events: days(
            "PALISADE_RETAIN_OUTBOUND_WEBHOOK_EVENTS_DAYS",
            defaults.outbound_webhook_events,
        )?,
        expired_links: days("PALISADE_RETAIN_EXPIRED_LINKS_DAYS", defaults.expired_links)?,
        idempotency_keys: days(
            "PALISADE_RETAIN_IDEMPOTENCY_KEYS_DAYS",
            defaults.idempotency_keys,
        )?,
        number_quarantine: Duration::from_secs(
            u64::try_from(quarantine.whole_seconds()).unwrap_or(0),
        ),
        deletion_records: days(
            "PALISADE_RETAIN_DELETION_RECORDS_DAYS",
            defaults.deletion_records,
        )?,
    };
    windows
        .check()
        .map_err(|e| ConfigError(format!("PALISADE_RETAIN_*: {e}")))?;
    Ok(windows)
}

/// `palisade retention`'s settings: the owner's database and the windows.
#[derive(Debug, Clone)]
pub struct RetentionSettings {
    /// The embedded cluster, or `DATABASE_URL`: the owner role's URL.
    pub database: DatabaseMode<Secret>,
    /// How long each record is kept.
    pub windows: Windows,
    /// Log format and filter (logs go to stderr; the result to stdout).
    pub log: LogSettings,
    /// `PALISADE_DB_SSLROOTCERT`: the CA file of the database URLs without an `sslrootcert`.
    pub db_tls: DbTlsSettings,
}

impl RetentionSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(from_process_env)
    }

    /// Reads settings through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            database: owner_database_from_lookup(&get)?,
            windows: retention_from_lookup(&get)?,
            log: LogSettings::from_lookup(&get, "warn")?,
            db_tls: DbTlsSettings::from_lookup(&get),
        })
    }

    /// The variables `retention` reads.
    pub fn vars() -> Vec<Var> {
        [
            OWNER_DATABASE_URL_VARS,
            &[NUMBER_QUARANTINE_VAR],
            RETENTION_VARS,
            EMBEDDED_VARS,
            DB_TLS_VARS,
            LOG_VARS_WARN,
        ]
        .concat()
    }
}

/// `PALISADE_RATE_LIMIT_<ACTION>_PER_<ADDRESS|ACCOUNT>` (`10/min`, `30/min,burst=10`, `5/h`),
/// `PALISADE_RATE_LIMIT_CHATBOT_ASK_PER_ORGANIZATION` and `PALISADE_RATE_LIMIT_MAX_KEYS`; each
/// one unset keeps its default.
fn rate_limits_from_lookup(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<RateLimits, ConfigError> {
    let defaults = RateLimits::default();
    let action = |name: &str, default: ActionLimits| -> Result<ActionLimits, ConfigError> {
        let one = |scope: &str, default: Limit| -> Result<Limit, ConfigError> {
            let var = format!("PALISADE_RATE_LIMIT_{name}_PER_{scope}");
            match get(&var) {
                None => Ok(default),
                Some(v) => Limit::parse(&v).map_err(|e| ConfigError(format!("{var}: {e}"))),
            }
        };
        Ok(ActionLimits {
            per_address: one("ADDRESS", default.per_address)?,
            per_account: one("ACCOUNT", default.per_account)?,
        })
    };
    let max_keys = match get("PALISADE_RATE_LIMIT_MAX_KEYS") {
        None => defaults.max_keys,
        Some(v) => v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
            ConfigError("PALISADE_RATE_LIMIT_MAX_KEYS must be a whole number above 0".into())
        })?,
    };
    let chatbot_ask = match get("PALISADE_RATE_LIMIT_CHATBOT_ASK_PER_ORGANIZATION") {
        None => defaults.chatbot_ask,
        Some(v) => Limit::parse(&v).map_err(|e| {
            ConfigError(format!(
                "PALISADE_RATE_LIMIT_CHATBOT_ASK_PER_ORGANIZATION: {e}"
            ))
        })?,
    };
    Ok(RateLimits {
        login: action("LOGIN", defaults.login)?,
        signup: action("SIGNUP", defaults.signup)?,
        password_reset: action("PASSWORD_RESET", defaults.password_reset)?,
        invitation: action("INVITATION", defaults.invitation)?,
        chatbot_ask,
        max_keys,
    })
}

/// `PALISADE_TRUSTED_PROXIES` (a comma list of addresses and CIDR networks) and
/// `PALISADE_TRUSTED_PROXY_HEADER` (`x-forwarded-for`, the default, or `forwarded`).
fn trusted_proxies_from_lookup(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<TrustedProxies, ConfigError> {
    let header = match get("PALISADE_TRUSTED_PROXY_HEADER") {
        None => ForwardedHeader::default(),
        Some(v) => ForwardedHeader::parse(&v).ok_or_else(|| {
            ConfigError("PALISADE_TRUSTED_PROXY_HEADER must be x-forwarded-for or forwarded".into())
        })?,
    };
    match get("PALISADE_TRUSTED_PROXIES") {
        None => Ok(TrustedProxies::none()),
        Some(list) => TrustedProxies::parse(&list, header)
            .map_err(|e| ConfigError(format!("PALISADE_TRUSTED_PROXIES: {e}"))),
    }
}

/// Default of `PALISADE_NUMBER_QUARANTINE_DAYS`.
pub const DEFAULT_NUMBER_QUARANTINE_DAYS: i64 = 30;

/// `PALISADE_NUMBER_QUARANTINE_DAYS` (0 to 3650, default 30), read by `serve`, `numbers` and
/// `retention`.
fn number_quarantine_from_lookup(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<time::Duration, ConfigError> {
    match get("PALISADE_NUMBER_QUARANTINE_DAYS") {
        None => Ok(time::Duration::days(DEFAULT_NUMBER_QUARANTINE_DAYS)),
        Some(v) => match v.parse::<i64>() {
            Ok(days) if (0..=3650).contains(&days) => Ok(time::Duration::days(days)),
            _ => Err(ConfigError(
                "PALISADE_NUMBER_QUARANTINE_DAYS must be a whole number of days from 0 to 3650"
                    .into(),
            )),
        },
    }
}

/// `PALISADE_SUPERUSER_URL` or `PALISADE_SUPERUSER_URL_FILE` (read once, now), not both.
fn superuser_url_from_lookup(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<Secret>, ConfigError> {
    url_setting(get, "PALISADE_SUPERUSER_URL")?
        .map(|setting| {
            setting
                .read("PALISADE_SUPERUSER_URL_FILE")
                .map_err(ConfigError)
        })
        .transpose()
}

/// `DATABASE_URL` or `DATABASE_URL_FILE` (read now: these commands connect once), else the
/// embedded cluster.
fn database_url_from_lookup(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<Secret>, ConfigError> {
    url_setting(get, "DATABASE_URL")?
        .map(|setting| setting.read("DATABASE_URL_FILE").map_err(ConfigError))
        .transpose()
}

/// The owner's URL (`DATABASE_URL` or `DATABASE_URL_FILE`), else the embedded cluster: what
/// `migrate`, `numbers` and `retention` connect to.
fn owner_database_from_lookup(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<DatabaseMode<Secret>, ConfigError> {
    Ok(match database_url_from_lookup(get)? {
        None => DatabaseMode::Embedded(EmbeddedSettings::from_lookup(get)?),
        Some(url) => DatabaseMode::External(url),
    })
}

/// `palisade migrate`'s settings: the owner's database and the logs, nothing of the server.
#[derive(Debug, Clone)]
pub struct MigrateSettings {
    /// The embedded cluster, or `DATABASE_URL`: the owner role's URL.
    pub database: DatabaseMode<Secret>,
    /// Log format and filter.
    pub log: LogSettings,
    /// `PALISADE_DB_SSLROOTCERT`: the CA file of the database URLs without an `sslrootcert`.
    pub db_tls: DbTlsSettings,
}

impl MigrateSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(from_process_env)
    }

    /// Reads settings through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            database: owner_database_from_lookup(&get)?,
            log: LogSettings::from_lookup(&get, "info")?,
            db_tls: DbTlsSettings::from_lookup(&get),
        })
    }

    /// The variables `migrate` reads.
    pub fn vars() -> Vec<Var> {
        [
            OWNER_DATABASE_URL_VARS,
            EMBEDDED_VARS,
            DB_TLS_VARS,
            LOG_VARS_INFO,
        ]
        .concat()
    }
}

/// A superuser's connection, for `bootstrap` and `install-definers`.
#[derive(Debug, Clone)]
pub struct SuperuserSettings {
    /// `PALISADE_SUPERUSER_URL` (required).
    pub url: Secret,
    /// `PALISADE_DATABASE_NAME`, default `palisade`.
    pub database_name: String,
}

impl SuperuserSettings {
    fn from_lookup(
        get: &impl Fn(&str) -> Option<String>,
        missing: &str,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            url: superuser_url_from_lookup(get)?.ok_or_else(|| ConfigError(missing.into()))?,
            database_name: get("PALISADE_DATABASE_NAME")
                .unwrap_or_else(|| crate::embedded::DATABASE.into()),
        })
    }
}

/// `palisade bootstrap`'s settings: a superuser and the three login roles' passwords.
#[derive(Debug, Clone)]
pub struct BootstrapSettings {
    /// The superuser and the database to create.
    pub superuser: SuperuserSettings,
    /// `PALISADE_OWNER_PASSWORD`, for `palisade_owner`.
    pub owner_password: Secret,
    /// `PALISADE_APP_PASSWORD`, for `palisade_app`.
    pub app_password: Secret,
    /// `PALISADE_BILLING_PASSWORD`, for `palisade_billing`.
    pub billing_password: Secret,
    /// `PALISADE_APP_STATEMENT_TIMEOUT_SECS`, `PALISADE_APP_IDLE_IN_TRANSACTION_TIMEOUT_SECS`,
    /// `PALISADE_APP_CONNECTION_LIMIT`: the guardrails on the app's login roles.
    pub role_limits: RoleLimits,
    /// Log format and filter.
    pub log: LogSettings,
    /// `PALISADE_DB_SSLROOTCERT`: the CA file of the database URLs without an `sslrootcert`.
    pub db_tls: DbTlsSettings,
}

/// The guardrails of the app's login roles (`bootstrap`); each unset keeps its default
/// ([`RoleLimits::default`] says why each).
fn role_limits_from_lookup(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<RoleLimits, ConfigError> {
    let defaults = RoleLimits::default();
    let positive = |name: &str, default: u64| -> Result<u64, ConfigError> {
        match number(get, name, default)? {
            0 => Err(ConfigError(format!("{name} must be at least 1"))),
            n => Ok(n),
        }
    };
    let limit = positive(
        "PALISADE_APP_CONNECTION_LIMIT",
        u64::from(defaults.connection_limit),
    )?;
    Ok(RoleLimits {
        statement_timeout: Duration::from_secs(positive(
            "PALISADE_APP_STATEMENT_TIMEOUT_SECS",
            defaults.statement_timeout.as_secs(),
        )?),
        idle_in_transaction_session_timeout: Duration::from_secs(positive(
            "PALISADE_APP_IDLE_IN_TRANSACTION_TIMEOUT_SECS",
            defaults.idle_in_transaction_session_timeout.as_secs(),
        )?),
        connection_limit: u32::try_from(limit)
            .map_err(|_| ConfigError("PALISADE_APP_CONNECTION_LIMIT is too large".into()))?,
    })
}

impl BootstrapSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(from_process_env)
    }

    /// Reads settings through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &str| {
            secret_setting(&get, name)?
                .ok_or_else(|| ConfigError(format!("bootstrap needs {name} (or {name}_FILE)")))
        };
        Ok(Self {
            superuser: SuperuserSettings::from_lookup(
                &get,
                "bootstrap needs PALISADE_SUPERUSER_URL (or PALISADE_SUPERUSER_URL_FILE)",
            )?,
            owner_password: required("PALISADE_OWNER_PASSWORD")?,
            app_password: required("PALISADE_APP_PASSWORD")?,
            billing_password: required("PALISADE_BILLING_PASSWORD")?,
            role_limits: role_limits_from_lookup(&get)?,
            log: LogSettings::from_lookup(&get, "info")?,
            db_tls: DbTlsSettings::from_lookup(&get),
        })
    }

    /// The variables `bootstrap` reads.
    pub fn vars() -> Vec<Var> {
        [
            SUPERUSER_VARS,
            PASSWORD_VARS,
            ROLE_LIMIT_VARS,
            DB_TLS_VARS,
            LOG_VARS_INFO,
        ]
        .concat()
    }
}

/// `palisade install-definers`'s settings: a superuser, nothing else.
#[derive(Debug, Clone)]
pub struct InstallDefinersSettings {
    /// The superuser and the database to install into.
    pub superuser: SuperuserSettings,
    /// Log format and filter.
    pub log: LogSettings,
    /// `PALISADE_DB_SSLROOTCERT`: the CA file of the database URLs without an `sslrootcert`.
    pub db_tls: DbTlsSettings,
}

impl InstallDefinersSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(from_process_env)
    }

    /// Reads settings through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            superuser: SuperuserSettings::from_lookup(
                &get,
                "install-definers needs PALISADE_SUPERUSER_URL (a superuser's URL, or \
                 PALISADE_SUPERUSER_URL_FILE); in embedded \
                 mode every start (and `palisade migrate`) already installs them",
            )?,
            log: LogSettings::from_lookup(&get, "info")?,
            db_tls: DbTlsSettings::from_lookup(&get),
        })
    }

    /// The variables `install-definers` reads.
    pub fn vars() -> Vec<Var> {
        [SUPERUSER_VARS, DB_TLS_VARS, LOG_VARS_INFO].concat()
    }
}

/// The variables of `analyst`: a superuser, or the embedded cluster.
#[rustfmt::skip]
const ANALYST_VARS: &[Var] = &[
    var("PALISADE_SUPERUSER_URL", "unset: embedded mode", "a superuser's URL (creating a role needs CREATEROLE)"),
    var("PALISADE_SUPERUSER_URL_FILE", "instead of the variable above", "a file holding that URL, read once"),
    var("PALISADE_DATABASE_NAME", "default: palisade", "the Palisade database's name"),
];

/// `palisade analyst`'s settings: a superuser's connection (creating a role needs CREATEROLE),
/// or, with `PALISADE_SUPERUSER_URL` unset, the embedded cluster, whose superuser it uses.
#[derive(Debug, Clone)]
pub struct AnalystSettings {
    /// The embedded cluster, or an existing server through its superuser.
    pub database: DatabaseMode<SuperuserSettings>,
    /// Log format and filter (logs go to stderr; the result to stdout).
    pub log: LogSettings,
    /// `PALISADE_DB_SSLROOTCERT`: the CA file of the database URLs without an `sslrootcert`.
    pub db_tls: DbTlsSettings,
}

impl AnalystSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(from_process_env)
    }

    /// Reads settings through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            database: match superuser_url_from_lookup(&get)? {
                None => DatabaseMode::Embedded(EmbeddedSettings::from_lookup(&get)?),
                Some(url) => DatabaseMode::External(SuperuserSettings {
                    url,
                    database_name: get("PALISADE_DATABASE_NAME")
                        .unwrap_or_else(|| crate::embedded::DATABASE.into()),
                }),
            },
            log: LogSettings::from_lookup(&get, "warn")?,
            db_tls: DbTlsSettings::from_lookup(&get),
        })
    }

    /// The variables `analyst` reads.
    pub fn vars() -> Vec<Var> {
        [ANALYST_VARS, EMBEDDED_VARS, DB_TLS_VARS, LOG_VARS_WARN].concat()
    }
}

/// The existing server `palisade audit` reads. It needs neither the app role nor a JWT secret.
#[derive(Debug, Clone)]
pub struct AuditServer {
    /// `DATABASE_URL` or `DATABASE_URL_FILE`: a role that can read schema palisade_audit (the
    /// owner, a superuser, or a member of palisade_auditor).
    pub url: Secret,
    /// `PALISADE_SUPERUSER_URL`, for the drift check's scratch database; when unset, the drift
    /// check uses `DATABASE_URL` if its role is a superuser.
    pub superuser_url: Option<Secret>,
}

/// `palisade audit`'s settings.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// The embedded cluster under `PALISADE_DATA_DIR` (it holds the superuser's password), or
    /// an existing server.
    pub database: DatabaseMode<AuditServer>,
    /// Log format and filter (logs go to stderr; the report to stdout).
    pub log: LogSettings,
    /// `PALISADE_DB_SSLROOTCERT`: the CA file of the database URLs without an `sslrootcert`.
    pub db_tls: DbTlsSettings,
}

impl AuditSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(from_process_env)
    }

    /// Reads settings through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            database: match database_url_from_lookup(&get)? {
                None => DatabaseMode::Embedded(EmbeddedSettings::from_lookup(&get)?),
                Some(url) => DatabaseMode::External(AuditServer {
                    url,
                    superuser_url: superuser_url_from_lookup(&get)?,
                }),
            },
            log: LogSettings::from_lookup(&get, "warn")?,
            db_tls: DbTlsSettings::from_lookup(&get),
        })
    }

    /// The variables `audit` reads.
    pub fn vars() -> Vec<Var> {
        [
            AUDIT_DATABASE_VARS,
            EMBEDDED_VARS,
            DB_TLS_VARS,
            LOG_VARS_WARN,
        ]
        .concat()
    }
}

/// `palisade numbers`'s settings: the owner's database and the quarantine, nothing of the
/// server (no app role, no JWT secret).
#[derive(Debug, Clone)]
pub struct NumbersSettings {
    /// The embedded cluster, or `DATABASE_URL`: the owner role's URL.
    pub database: DatabaseMode<Secret>,
    /// `PALISADE_NUMBER_QUARANTINE_DAYS`, default 30 (`numbers list` shows quarantine ends).
    pub number_quarantine: time::Duration,
    /// Log format and filter (logs go to stderr; the result to stdout).
    pub log: LogSettings,
    /// `PALISADE_DB_SSLROOTCERT`: the CA file of the database URLs without an `sslrootcert`.
    pub db_tls: DbTlsSettings,
}

impl NumbersSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(from_process_env)
    }

    /// Reads settings through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            database: owner_database_from_lookup(&get)?,
            number_quarantine: number_quarantine_from_lookup(&get)?,
            log: LogSettings::from_lookup(&get, "warn")?,
            db_tls: DbTlsSettings::from_lookup(&get),
        })
    }

    /// The variables `numbers` reads.
    pub fn vars() -> Vec<Var> {
        [
            OWNER_DATABASE_URL_VARS,
            &[NUMBER_QUARANTINE_VAR],
            EMBEDDED_VARS,
            DB_TLS_VARS,
            LOG_VARS_WARN,
        ]
        .concat()
    }
}

/// The existing server `palisade rotate-app-credential` rotates on.
#[derive(Debug, Clone)]
pub struct RotateServer {
    /// `PALISADE_APP_DATABASE_URL_FILE`: the file every server reads the app's URL from.
    pub url_file: PathBuf,
    /// `PALISADE_SUPERUSER_URL`: sets the new password, watches the sessions, disables the old
    /// role.
    pub superuser_url: Secret,
}

/// `palisade rotate-app-credential`'s settings.
#[derive(Debug, Clone)]
pub struct RotateSettings {
    /// The embedded cluster (its superuser and the active role are in `secrets.json`), or an
    /// existing server.
    pub database: DatabaseMode<RotateServer>,
    /// `PALISADE_ROTATE_DRAIN_TIMEOUT_SECS`, default 300: how long to wait for the old role's
    /// sessions to end.
    pub drain_timeout: Duration,
    /// Log format and filter.
    pub log: LogSettings,
    /// `PALISADE_DB_SSLROOTCERT`: the CA file of the database URLs without an `sslrootcert`.
    pub db_tls: DbTlsSettings,
}

impl RotateSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(from_process_env)
    }

    /// Reads settings through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let database = match get("PALISADE_APP_DATABASE_URL_FILE") {
            None => DatabaseMode::Embedded(EmbeddedSettings::from_lookup(&get)?),
            Some(path) => DatabaseMode::External(RotateServer {
                url_file: url_file_path("PALISADE_APP_DATABASE_URL_FILE", path)?,
                superuser_url: superuser_url_from_lookup(&get)?.ok_or_else(|| {
                    ConfigError(
                        "rotate-app-credential with PALISADE_APP_DATABASE_URL_FILE needs \
                         PALISADE_SUPERUSER_URL (or PALISADE_SUPERUSER_URL_FILE)"
                            .into(),
                    )
                })?,
            }),
        };
        let drain = number(&get, "PALISADE_ROTATE_DRAIN_TIMEOUT_SECS", 300)?;
        Ok(Self {
            database,
            drain_timeout: Duration::from_secs(drain),
            log: LogSettings::from_lookup(&get, "info")?,
            db_tls: DbTlsSettings::from_lookup(&get),
        })
    }

    /// The variables `rotate-app-credential` reads.
    pub fn vars() -> Vec<Var> {
        [ROTATE_VARS, EMBEDDED_VARS, DB_TLS_VARS, LOG_VARS_INFO].concat()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::{BTreeSet, HashMap};
    use std::path::Path;

    fn map(vars: &[(&str, &str)]) -> HashMap<String, String> {
        vars.iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn settings(vars: &[(&str, &str)]) -> Result<ServeSettings, ConfigError> {
        let map = map(vars);
        ServeSettings::from_lookup(|k| map.get(k).cloned())
    }

    fn external(owner: &DatabaseMode<ExternalDatabase>) -> &ExternalDatabase {
        match owner {
            DatabaseMode::External(ext) => ext,
            DatabaseMode::Embedded(_) => panic!("embedded"),
        }
    }

    #[test]
    fn defaults_to_embedded() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.http_addr, "127.0.0.1:8080");
        assert!(
            matches!(s.database, DatabaseMode::Embedded(ref e) if e.data_dir == Path::new(".palisade"))
        );
        assert_eq!(s.log.format, LogFormat::Text);
        assert_eq!((s.log.filter, s.log.default_filter), (None, "info"));
    }

    #[test]
    fn account_mail_defaults_to_the_outbox_under_the_data_dir() {
        let s = settings(&[("PALISADE_DATA_DIR", "/var/tmp/p")]).unwrap();
        assert!(s.mail.smtp_url.is_none());
        assert_eq!(s.mail.outbox_dir, Path::new("/var/tmp/p/outbox"));
        assert_eq!(s.mail.invitation_ttl, Duration::from_secs(7 * 86_400));
        assert_eq!(s.mail.password_reset_ttl, Duration::from_secs(3_600));
        assert_eq!(
            s.mail.email_verification_ttl,
            Duration::from_secs(3 * 86_400)
        );
        let s = settings(&[
            ("PALISADE_SMTP_URL", "smtp://relay:2525"),
            ("PALISADE_PASSWORD_RESET_TTL_SECS", "600"),
        ])
        .unwrap();
        assert_eq!(
            s.mail.smtp_url.as_ref().map(Secret::expose),
            Some("smtp://relay:2525")
        );
        assert_eq!(s.mail.password_reset_ttl, Duration::from_secs(600));
        assert!(settings(&[("PALISADE_INVITATION_TTL_SECS", "0")]).is_err());
        assert!(settings(&[("PALISADE_INVITATION_TTL_SECS", "a week")]).is_err());
        assert!(settings(&[("PALISADE_EMAIL_VERIFICATION_TTL_SECS", "0")]).is_err());
        assert!(settings(&[("PALISADE_APP_BASE_URL", "app.example.com")]).is_err());
        let s = settings(&[("PALISADE_APP_BASE_URL", "https://app.example.com/")]).unwrap();
        assert_eq!(
            s.mail.app_base_url.as_deref(),
            Some("https://app.example.com")
        );
    }

    #[test]
    fn external_needs_app_url_and_secret_and_never_echoes_values() {
        let err = settings(&[("DATABASE_URL", "postgresql://o:hunter2@h/db")])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("PALISADE_APP_DATABASE_URL"));
        assert!(!err.contains("hunter2"));
        let ok = settings(&[
            ("DATABASE_URL", "postgresql://o:p@h/db"),
            ("PALISADE_APP_DATABASE_URL", "postgresql://a:p@h/db"),
            ("PALISADE_JWT_SECRET", "x"),
        ])
        .unwrap();
        let ext = external(&ok.database);
        assert!(
            matches!(&ext.owner_url, UrlSetting::Url(url) if url.expose() == "postgresql://o:p@h/db")
        );
        assert!(
            matches!(&ext.app_url, UrlSetting::Url(url) if url.expose() == "postgresql://a:p@h/db")
        );
        assert_eq!(ext.jwt_secret.expose(), "x");
        // The URL from a file instead (re-read by the server: rotation), never both.
        let from_file = settings(&[
            ("DATABASE_URL", "postgresql://o:p@h/db"),
            ("PALISADE_APP_DATABASE_URL_FILE", "/run/palisade/app-url"),
            ("PALISADE_JWT_SECRET", "x"),
        ])
        .unwrap();
        assert!(
            matches!(&external(&from_file.database).app_url, UrlSetting::File(p) if p == Path::new("/run/palisade/app-url"))
        );
        let err = settings(&[
            ("DATABASE_URL", "postgresql://o:p@h/db"),
            ("PALISADE_APP_DATABASE_URL", "postgresql://a:hunter2@h/db"),
            ("PALISADE_APP_DATABASE_URL_FILE", "/run/palisade/app-url"),
            ("PALISADE_JWT_SECRET", "x"),
        ])
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains("both set") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    fn bootstrap_sets_guardrails_with_defaults_and_rotate_needs_a_superuser_with_the_file() {
        let su = map(&[
            (
                "PALISADE_SUPERUSER_URL",
                "postgresql://postgres:pw@h/postgres",
            ),
            ("PALISADE_OWNER_PASSWORD", "o"),
            ("PALISADE_APP_PASSWORD", "a"),
            ("PALISADE_BILLING_PASSWORD", "b"),
        ]);
        let s = BootstrapSettings::from_lookup(|k| su.get(k).cloned()).unwrap();
        assert_eq!(s.role_limits, RoleLimits::default());
        let mut tuned = su.clone();
        tuned.insert("PALISADE_APP_CONNECTION_LIMIT".into(), "250".into());
        tuned.insert("PALISADE_APP_STATEMENT_TIMEOUT_SECS".into(), "5".into());
        let s = BootstrapSettings::from_lookup(|k| tuned.get(k).cloned()).unwrap();
        assert_eq!(s.role_limits.connection_limit, 250);
        assert_eq!(s.role_limits.statement_timeout, Duration::from_secs(5));
        tuned.insert(
            "PALISADE_APP_IDLE_IN_TRANSACTION_TIMEOUT_SECS".into(),
            "0".into(),
        );
        let err = BootstrapSettings::from_lookup(|k| tuned.get(k).cloned())
            .err()
            .unwrap();
        assert!(err.to_string().contains("IDLE_IN_TRANSACTION"), "{err}");

        let s = RotateSettings::from_lookup(|_| None).unwrap();
        assert!(matches!(s.database, DatabaseMode::Embedded(_)));
        assert_eq!(s.drain_timeout, Duration::from_secs(300));
        let file = map(&[("PALISADE_APP_DATABASE_URL_FILE", "/run/app-url")]);
        let err = RotateSettings::from_lookup(|k| file.get(k).cloned())
            .err()
            .unwrap();
        assert!(err.to_string().contains("PALISADE_SUPERUSER_URL"), "{err}");
    }

    #[test]
    fn the_owner_url_may_come_from_a_file_read_again_each_time() {
        // serve keeps the file, to read it at start and for each scheduled retention run.
        let from_file = settings(&[
            ("DATABASE_URL_FILE", "/run/palisade/owner-url"),
            ("PALISADE_APP_DATABASE_URL_FILE", "/run/palisade/app-url"),
            ("PALISADE_JWT_SECRET", "x"),
        ])
        .unwrap();
        assert!(
            matches!(&external(&from_file.database).owner_url, UrlSetting::File(p) if p == Path::new("/run/palisade/owner-url"))
        );
        let err = settings(&[
            ("DATABASE_URL", "postgresql://o:hunter2@h/db"),
            ("DATABASE_URL_FILE", "/run/palisade/owner-url"),
            ("PALISADE_APP_DATABASE_URL_FILE", "/run/palisade/app-url"),
            ("PALISADE_JWT_SECRET", "x"),
        ])
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains("DATABASE_URL and DATABASE_URL_FILE are both set")
                && !err.contains("hunter2"),
            "{err}"
        );
        // The file alone is not embedded mode: serve still needs the app's URL and the secret.
        let err = settings(&[("DATABASE_URL_FILE", "/run/palisade/owner-url")])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("PALISADE_APP_DATABASE_URL"), "{err}");

        let dir = std::env::temp_dir().join(format!("palisade-owner-url-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("owner-url");
        let setting = UrlSetting::File(path.clone());
        // Missing, then empty: errors name the variable and the file, never a URL.
        let err = setting.read("DATABASE_URL_FILE").err().unwrap();
        assert!(err.starts_with("cannot read DATABASE_URL_FILE "), "{err}");
        std::fs::write(&path, " \n").unwrap();
        let err = setting.read("DATABASE_URL_FILE").err().unwrap();
        assert!(err.ends_with("is empty"), "{err}");
        // Read again each time: a rewritten file (a changed password) is the next read's URL.
        std::fs::write(&path, "postgresql://o:old@h/db\n").unwrap();
        assert_eq!(
            setting.read("DATABASE_URL_FILE").unwrap().expose(),
            "postgresql://o:old@h/db"
        );
        std::fs::write(&path, "postgresql://o:new@h/db").unwrap();
        assert_eq!(
            setting.read("DATABASE_URL_FILE").unwrap().expose(),
            "postgresql://o:new@h/db"
        );
        // The one-shot commands read it once, when their settings are read.
        let file = map(&[("DATABASE_URL_FILE", path.to_str().unwrap())]);
        let s = MigrateSettings::from_lookup(|k| file.get(k).cloned()).unwrap();
        assert!(
            matches!(s.database, DatabaseMode::External(ref url) if url.expose() == "postgresql://o:new@h/db")
        );
        let s = AuditSettings::from_lookup(|k| file.get(k).cloned()).unwrap();
        assert!(
            matches!(s.database, DatabaseMode::External(ref a) if a.url.expose() == "postgresql://o:new@h/db")
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let err = RetentionSettings::from_lookup(|k| file.get(k).cloned())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("cannot read DATABASE_URL_FILE"), "{err}");
    }

    #[test]
    fn the_servers_secrets_may_come_from_files() {
        let dir = std::env::temp_dir().join(format!("palisade-secrets-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).unwrap();
        let file = |name: &str, content: &str| {
            let path = dir.join(name);
            std::fs::write(&path, content).unwrap();
            path.to_str().unwrap().to_owned()
        };
        let jwt = file("jwt", "secret-jwt-file-0123456789abcdef0123456789\n");
        let stripe = file("stripe", "whsec_secret-stripe-file\r\n");
        let twilio = file("twilio", "secret-twilio-file");
        let twilio_secondary = file("twilio-secondary", "secret-twilio-secondary-file\n");
        let jwt_verify = file("jwt-verify", "secret-jwt-verify-file-0123456789abcdef01\n");
        let mailgun = file("mailgun", "secret-mailgun-file\n");
        let smtp = file("smtp", "smtps://u:secret-smtp-file@mail.example.com\n");
        let env = map(&[
            ("DATABASE_URL", "postgresql://o:p@h/db"),
            ("PALISADE_APP_DATABASE_URL", "postgresql://a:p@h/db"),
            ("PALISADE_BILLING_DATABASE_URL", "postgresql://b:p@h/db"),
            ("PALISADE_JWT_SECRET_FILE", &jwt),
            ("STRIPE_WEBHOOK_SECRET_FILE", &stripe),
            ("TWILIO_AUTH_TOKEN_FILE", &twilio),
            ("TWILIO_SECONDARY_AUTH_TOKEN_FILE", &twilio_secondary),
            ("PALISADE_JWT_VERIFY_SECRET_FILE", &jwt_verify),
            ("MAILGUN_WEBHOOK_SIGNING_KEY_FILE", &mailgun),
            ("PALISADE_SMTP_URL_FILE", &smtp),
        ]);
        let s = ServeSettings::from_lookup(|k| env.get(k).cloned()).unwrap();
        // Read at start, the trailing newline left out.
        assert_eq!(
            external(&s.database).jwt_secret.expose(),
            "secret-jwt-file-0123456789abcdef0123456789"
        );
        assert_eq!(
            s.stripe_webhook_secret.as_ref().map(Secret::expose),
            Some("whsec_secret-stripe-file")
        );
        assert_eq!(
            s.webhooks.twilio_auth_token.as_ref().map(Secret::expose),
            Some("secret-twilio-file")
        );
        assert_eq!(
            s.webhooks
                .twilio_secondary_auth_token
                .as_ref()
                .map(Secret::expose),
            Some("secret-twilio-secondary-file")
        );
        assert_eq!(
            external(&s.database)
                .jwt_verify_secret
                .as_ref()
                .map(Secret::expose),
            Some("secret-jwt-verify-file-0123456789abcdef01")
        );
        assert_eq!(
            s.webhooks.mailgun_signing_key.as_ref().map(Secret::expose),
            Some("secret-mailgun-file")
        );
        assert_eq!(
            s.mail.smtp_url.as_ref().map(Secret::expose),
            Some("smtps://u:secret-smtp-file@mail.example.com")
        );
        // Never printed.
        let printed = format!("{s:?}");
        assert!(!printed.contains("-file"), "{printed}");
        // Both, a missing file, an empty one: refused, naming the variables and neither a value
        // nor the path (a secret put in the _FILE variable by mistake would be the path).
        let with = |extra: &[(&str, &str)]| {
            let mut env = map(&[
                ("DATABASE_URL", "postgresql://o:p@h/db"),
                ("PALISADE_APP_DATABASE_URL", "postgresql://a:p@h/db"),
            ]);
            for (k, v) in extra {
                env.insert((*k).into(), (*v).into());
            }
            ServeSettings::from_lookup(|k| env.get(k).cloned())
                .err()
                .unwrap()
                .to_string()
        };
        let err = with(&[
            (
                "PALISADE_JWT_SECRET",
                "secret-jwt-both-0123456789abcdef0123",
            ),
            ("PALISADE_JWT_SECRET_FILE", &jwt),
        ]);
        assert!(
            err.contains("PALISADE_JWT_SECRET and PALISADE_JWT_SECRET_FILE are both set")
                && !err.contains("secret-")
                && !err.contains(&jwt),
            "{err}"
        );
        let err = with(&[(
            "PALISADE_JWT_SECRET_FILE",
            "secret-jwt-misplaced-0123456789abcdef",
        )]);
        assert!(
            err.contains("cannot read the file PALISADE_JWT_SECRET_FILE names: ")
                && !err.contains("secret-"),
            "{err}"
        );
        // Only whitespace counts as empty.
        let empty = file("empty", " \n\t\r\n");
        let err = with(&[("PALISADE_JWT_SECRET_FILE", &empty)]);
        assert!(
            err.ends_with("the file PALISADE_JWT_SECRET_FILE names is empty")
                && !err.contains(&empty),
            "{err}"
        );
        // The other secrets are refused the same way.
        for name in [
            "STRIPE_WEBHOOK_SECRET",
            "TWILIO_AUTH_TOKEN",
            "TWILIO_SECONDARY_AUTH_TOKEN",
            "PALISADE_JWT_VERIFY_SECRET",
            "MAILGUN_WEBHOOK_SIGNING_KEY",
            "PALISADE_SMTP_URL",
        ] {
            let file_var = format!("{name}_FILE");
            let err = with(&[
                (
                    "PALISADE_JWT_SECRET",
                    "jwt-0123456789abcdef0123456789abcdef",
                ),
                (file_var.as_str(), "secret-misplaced"),
            ]);
            assert!(
                err.contains(&format!("cannot read the file {file_var} names: "))
                    && !err.contains("secret-"),
                "{err}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn migrate_needs_only_the_owner_url() {
        let owner = map(&[("DATABASE_URL", "postgresql://o:p@h/db")]);
        let s = MigrateSettings::from_lookup(|k| owner.get(k).cloned()).unwrap();
        assert!(
            matches!(s.database, DatabaseMode::External(ref url) if url.expose() == "postgresql://o:p@h/db")
        );
        let s = MigrateSettings::from_lookup(|_| None).unwrap();
        assert!(matches!(s.database, DatabaseMode::Embedded(_)));
        // What only the server uses is not checked here.
        let server_only = map(&[
            ("PALISADE_DB_POOL_SIZE", "0"),
            ("STRIPE_WEBHOOK_SECRET", "x"),
        ]);
        assert!(MigrateSettings::from_lookup(|k| server_only.get(k).cloned()).is_ok());
    }

    #[test]
    fn the_superuser_url_and_bootstraps_passwords_may_come_from_files() {
        let dir = std::env::temp_dir().join(format!("palisade-su-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).unwrap();
        let file = |name: &str, content: &str| {
            let path = dir.join(name);
            std::fs::write(&path, content).unwrap();
            path.to_str().unwrap().to_owned()
        };
        let su = file("su", "postgresql://postgres:secret-su@h/postgres\n");
        let owner = file("owner", "secret-owner\n");
        let app = file("app", "secret-app");
        let billing = file("billing", "secret-billing \n");
        let env = map(&[
            ("PALISADE_SUPERUSER_URL_FILE", &su),
            ("PALISADE_OWNER_PASSWORD_FILE", &owner),
            ("PALISADE_APP_PASSWORD_FILE", &app),
            ("PALISADE_BILLING_PASSWORD_FILE", &billing),
            ("PALISADE_APP_DATABASE_URL_FILE", "/run/palisade/app-url"),
            ("DATABASE_URL", "postgresql://o:p@h/db"),
        ]);
        let get = |k: &str| env.get(k).cloned();
        let url = "postgresql://postgres:secret-su@h/postgres";
        let b = BootstrapSettings::from_lookup(get).unwrap();
        assert_eq!(b.superuser.url.expose(), url);
        assert_eq!(
            [&b.owner_password, &b.app_password, &b.billing_password].map(Secret::expose),
            ["secret-owner", "secret-app", "secret-billing"]
        );
        assert!(!format!("{b:?}").contains("secret-"));
        let i = InstallDefinersSettings::from_lookup(get).unwrap();
        assert_eq!(i.superuser.url.expose(), url);
        match AnalystSettings::from_lookup(get).unwrap().database {
            DatabaseMode::External(s) => assert_eq!(s.url.expose(), url),
            DatabaseMode::Embedded(_) => panic!("the file names a superuser: not embedded"),
        }
        match AuditSettings::from_lookup(get).unwrap().database {
            DatabaseMode::External(a) => {
                assert_eq!(a.superuser_url.as_ref().map(Secret::expose), Some(url));
            }
            DatabaseMode::Embedded(_) => panic!("DATABASE_URL is set"),
        }
        match RotateSettings::from_lookup(get).unwrap().database {
            DatabaseMode::External(r) => assert_eq!(r.superuser_url.expose(), url),
            DatabaseMode::Embedded(_) => panic!("the app's URL file is set"),
        }
        // Both forms, a URL where the file's path belongs, a password file of whitespace: refused,
        // naming the variable, never the value or the path.
        let refused = |extra: &[(&str, &str)]| {
            let mut env = env.clone();
            for (k, v) in extra {
                env.insert((*k).into(), (*v).into());
            }
            BootstrapSettings::from_lookup(|k| env.get(k).cloned())
                .err()
                .unwrap()
                .to_string()
        };
        let err = refused(&[("PALISADE_SUPERUSER_URL", url)]);
        assert!(
            err.contains("are both set") && !err.contains("secret-"),
            "{err}"
        );
        let err = refused(&[("PALISADE_SUPERUSER_URL_FILE", url)]);
        assert!(
            err.contains("PALISADE_SUPERUSER_URL_FILE must be the path")
                && !err.contains("secret-"),
            "{err}"
        );
        let blank = file("blank", " \n");
        let err = refused(&[("PALISADE_APP_PASSWORD_FILE", &blank)]);
        assert!(
            err.contains("PALISADE_APP_PASSWORD_FILE names is empty") && !err.contains(&blank),
            "{err}"
        );
        let err = refused(&[("PALISADE_OWNER_PASSWORD", "secret-both")]);
        assert!(
            err.contains("are both set") && !err.contains("secret-"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bootstrap_and_install_definers_need_the_superuser() {
        let err = BootstrapSettings::from_lookup(|_| None).err().unwrap();
        assert!(err.to_string().contains("PALISADE_SUPERUSER_URL"), "{err}");
        let su = [(
            "PALISADE_SUPERUSER_URL",
            "postgresql://postgres:pw@h/postgres",
        )];
        let map1 = map(&su);
        let err = BootstrapSettings::from_lookup(|k| map1.get(k).cloned())
            .err()
            .unwrap();
        assert!(err.to_string().contains("PALISADE_OWNER_PASSWORD"), "{err}");
        let s = InstallDefinersSettings::from_lookup(|k| map1.get(k).cloned()).unwrap();
        assert_eq!(s.superuser.database_name, "palisade");
        let err = InstallDefinersSettings::from_lookup(|_| None)
            .err()
            .unwrap();
        assert!(err.to_string().contains("PALISADE_SUPERUSER_URL"), "{err}");
        let map2 = map(&[
            su[0],
            ("PALISADE_OWNER_PASSWORD", "o"),
            ("PALISADE_APP_PASSWORD", "a"),
            ("PALISADE_BILLING_PASSWORD", "b"),
            ("PALISADE_DATABASE_NAME", "tenants"),
        ]);
        let s = BootstrapSettings::from_lookup(|k| map2.get(k).cloned()).unwrap();
        assert_eq!(s.superuser.database_name, "tenants");
        assert_eq!(
            [&s.owner_password, &s.app_password, &s.billing_password].map(Secret::expose),
            ["o", "a", "b"]
        );
    }

    #[test]
    fn stripe_needs_the_billing_url_and_the_secret_together() {
        let external = [
            ("DATABASE_URL", "postgresql://o:p@h/db"),
            ("PALISADE_APP_DATABASE_URL", "postgresql://a:p@h/db"),
            ("PALISADE_JWT_SECRET", "x"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut vars = external.to_vec();
            vars.extend_from_slice(extra);
            settings(&vars)
        };
        let none = with(&[]).unwrap();
        assert!(none.stripe_webhook_secret.is_none());
        let both = with(&[
            ("PALISADE_BILLING_DATABASE_URL", "postgresql://b:p@h/db"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_hunter2"),
        ])
        .unwrap();
        assert_eq!(
            both.stripe_webhook_secret.as_ref().map(Secret::expose),
            Some("whsec_hunter2")
        );
        assert!(!format!("{both:?}").contains("hunter2"));
        for half in [
            [(
                "PALISADE_BILLING_DATABASE_URL",
                "postgresql://b:hunter2@h/db",
            )],
            [("STRIPE_WEBHOOK_SECRET", "whsec_hunter2")],
        ] {
            let err = with(&half).err().unwrap().to_string();
            assert!(err.contains("go together"), "{err}");
            assert!(!err.contains("hunter2"));
        }
        let err = with(&[
            ("PALISADE_BILLING_DATABASE_URL", "postgresql://b:p@h/db"),
            ("STRIPE_WEBHOOK_SECRET", "sk_live_hunter2"),
        ])
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("whsec_") && !err.contains("hunter2"), "{err}");
        // Embedded mode: the secret alone overrides the generated one.
        let embedded = settings(&[("STRIPE_WEBHOOK_SECRET", "whsec_from_stripe_cli")]).unwrap();
        assert!(matches!(embedded.database, DatabaseMode::Embedded(_)));
        assert_eq!(
            embedded.stripe_webhook_secret.as_ref().map(Secret::expose),
            Some("whsec_from_stripe_cli")
        );
    }

    #[test]
    fn audit_and_numbers_need_no_app_url_or_secret() {
        let owner = map(&[("DATABASE_URL", "postgresql://o:p@h/db")]);
        let s = AuditSettings::from_lookup(|k| owner.get(k).cloned()).unwrap();
        assert!(matches!(
            s.database,
            DatabaseMode::External(AuditServer {
                superuser_url: None,
                ..
            })
        ));
        assert_eq!(s.log.default_filter, "warn");
        let s = AuditSettings::from_lookup(|_| None).unwrap();
        assert!(matches!(s.database, DatabaseMode::Embedded(_)));
        let s = NumbersSettings::from_lookup(|k| owner.get(k).cloned()).unwrap();
        assert!(matches!(s.database, DatabaseMode::External(_)));
        assert_eq!(s.number_quarantine, time::Duration::days(30));
        let bad = map(&[("PALISADE_NUMBER_QUARANTINE_DAYS", "3651")]);
        assert!(NumbersSettings::from_lookup(|k| bad.get(k).cloned()).is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(settings(&[("PALISADE_PUBLIC_BASE_URL", "api.example.com")]).is_err());
        let err = settings(&[("SENDGRID_WEBHOOK_PUBLIC_KEY", "not-a-key")])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("SENDGRID_WEBHOOK_PUBLIC_KEY") && !err.contains("not-a-key"));
        assert!(settings(&[("PALISADE_LOG_FORMAT", "xml")]).is_err());
        assert!(settings(&[("PALISADE_DB_POOL_SIZE", "0")]).is_err());
        assert!(settings(&[("PALISADE_PG_PORT", "http")]).is_err());
        assert!(settings(&[("PALISADE_NUMBER_QUARANTINE_DAYS", "-1")]).is_err());
        assert!(settings(&[("PALISADE_NUMBER_QUARANTINE_DAYS", "a month")]).is_err());
        assert_eq!(
            settings(&[("PALISADE_NUMBER_QUARANTINE_DAYS", "7")])
                .unwrap()
                .number_quarantine,
            time::Duration::days(7)
        );
        assert_eq!(
            settings(&[]).unwrap().number_quarantine,
            time::Duration::days(30)
        );
        for (var, value) in [
            ("PALISADE_RATE_LIMIT_LOGIN_PER_ACCOUNT", "10/fortnight"),
            ("PALISADE_RATE_LIMIT_SIGNUP_PER_ADDRESS", "0/min"),
            ("PALISADE_RATE_LIMIT_MAX_KEYS", "0"),
            ("PALISADE_TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal"),
            ("PALISADE_TRUSTED_PROXY_HEADER", "x-real-ip"),
        ] {
            let err = settings(&[(var, value)]).err().unwrap().to_string();
            assert!(err.contains(var), "{err}");
        }
    }

    #[test]
    fn metrics_are_off_by_default_and_never_on_the_api_address() {
        assert_eq!(settings(&[]).unwrap().metrics_addr, None);
        let on = settings(&[("PALISADE_METRICS_ADDR", "127.0.0.1:9464")]).unwrap();
        assert_eq!(on.metrics_addr.as_deref(), Some("127.0.0.1:9464"));
        for vars in [
            &[("PALISADE_METRICS_ADDR", "127.0.0.1:8080")][..],
            &[
                ("PALISADE_HTTP_ADDR", "0.0.0.0:8443"),
                ("PALISADE_METRICS_ADDR", "127.0.0.1:8443"),
            ],
        ] {
            let err = settings(vars).err().unwrap().to_string();
            assert!(
                err.contains("PALISADE_METRICS_ADDR") && err.contains("public port"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_slow_request_threshold_defaults_to_five_seconds_and_refuses_zero() {
        assert_eq!(settings(&[]).unwrap().slow_request, Duration::from_secs(5));
        let set = settings(&[("PALISADE_SLOW_REQUEST_MS", "250")]).unwrap();
        assert_eq!(set.slow_request, Duration::from_millis(250));
        for bad in ["0", "-1", "soon"] {
            let err = settings(&[("PALISADE_SLOW_REQUEST_MS", bad)])
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains("PALISADE_SLOW_REQUEST_MS"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_twilio_secondary_token_needs_the_primary_and_is_not_it() {
        let s = settings(&[
            ("TWILIO_AUTH_TOKEN", "secret-primary"),
            ("TWILIO_SECONDARY_AUTH_TOKEN", "secret-secondary"),
        ])
        .unwrap();
        assert_eq!(
            s.webhooks
                .twilio_secondary_auth_token
                .as_ref()
                .map(Secret::expose),
            Some("secret-secondary")
        );
        assert!(!format!("{s:?}").contains("secret-"));
        for (vars, says) in [
            (
                &[("TWILIO_SECONDARY_AUTH_TOKEN", "secret-secondary")][..],
                "without TWILIO_AUTH_TOKEN",
            ),
            (
                &[
                    ("TWILIO_AUTH_TOKEN", "secret-same"),
                    ("TWILIO_SECONDARY_AUTH_TOKEN", "secret-same"),
                ][..],
                "TWILIO_SECONDARY_AUTH_TOKEN is TWILIO_AUTH_TOKEN",
            ),
        ] {
            let err = settings(vars).err().unwrap().to_string();
            assert!(err.contains(says) && !err.contains("secret-"), "{err}");
        }
    }

    #[test]
    fn a_jwt_verify_secret_is_read_and_never_the_main_secret() {
        let base = [
            ("DATABASE_URL", "postgresql://o:p@h/db"),
            ("PALISADE_APP_DATABASE_URL", "postgresql://a:p@h/db"),
            (
                "PALISADE_JWT_SECRET",
                "secret-main-0123456789abcdef0123456789",
            ),
        ];
        let s = settings(&base).unwrap();
        assert!(external(&s.database).jwt_verify_secret.is_none());
        let next = [
            &base[..],
            &[(
                "PALISADE_JWT_VERIFY_SECRET",
                "secret-next-0123456789abcdef0123456789",
            )],
        ]
        .concat();
        let s = settings(&next).unwrap();
        assert_eq!(
            external(&s.database)
                .jwt_verify_secret
                .as_ref()
                .map(Secret::expose),
            Some("secret-next-0123456789abcdef0123456789")
        );
        assert!(!format!("{s:?}").contains("secret-next"));
        let same = [
            &base[..],
            &[(
                "PALISADE_JWT_VERIFY_SECRET",
                "secret-main-0123456789abcdef0123456789",
            )],
        ]
        .concat();
        let err = settings(&same).err().unwrap().to_string();
        assert!(
            err.contains("PALISADE_JWT_VERIFY_SECRET is PALISADE_JWT_SECRET")
                && !err.contains("secret-"),
            "{err}"
        );
        let both = [
            &next[..],
            &[("PALISADE_JWT_VERIFY_SECRET_FILE", "/nonexistent/verify")],
        ]
        .concat();
        let err = settings(&both).err().unwrap().to_string();
        assert!(
            err.contains("are both set") && !err.contains("/nonexistent"),
            "{err}"
        );
    }

    #[test]
    fn a_session_lasts_thirty_days_and_never_less_than_a_token() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.session_max, Duration::from_secs(30 * 86_400));
        assert_eq!(s.token_ttl, Duration::from_secs(86_400));
        let s = settings(&[
            ("PALISADE_TOKEN_TTL_SECS", "600"),
            ("PALISADE_SESSION_MAX_SECS", "600"),
        ])
        .unwrap();
        assert_eq!(
            (s.token_ttl, s.session_max),
            (Duration::from_secs(600), Duration::from_secs(600))
        );
        for vars in [
            &[("PALISADE_SESSION_MAX_SECS", "86399")][..],
            &[
                ("PALISADE_TOKEN_TTL_SECS", "3600"),
                ("PALISADE_SESSION_MAX_SECS", "60"),
            ][..],
        ] {
            let err = settings(vars).err().unwrap().to_string();
            assert!(
                err.contains("PALISADE_SESSION_MAX_SECS")
                    && err.contains("PALISADE_TOKEN_TTL_SECS"),
                "{vars:?}: {err}"
            );
        }
        let err = settings(&[("PALISADE_SESSION_MAX_SECS", "a month")])
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("PALISADE_SESSION_MAX_SECS"),
            "{err}"
        );
        // A token lifetime over 30 days alone: the session lasts as long as a token.
        let s = settings(&[("PALISADE_TOKEN_TTL_SECS", "5184000")]).unwrap();
        assert_eq!(s.session_max, Duration::from_secs(5_184_000));
        for (name, value) in [
            ("PALISADE_TOKEN_TTL_SECS", "0"),
            ("PALISADE_SESSION_MAX_SECS", "0"),
            ("PALISADE_HTTP_WORKERS", "0"),
        ] {
            let err = settings(&[(name, value)]).err().unwrap().to_string();
            assert!(err.contains(&format!("{name} must be at least 1")), "{err}");
        }
    }

    #[test]
    fn rate_limits_and_trusted_proxies_default_and_override() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.rate_limits, RateLimits::default());
        assert_eq!(
            s.rate_limits.login.per_account.to_string(),
            "10/min,burst=10"
        );
        assert_eq!(
            s.rate_limits.login.per_address.to_string(),
            "30/min,burst=30"
        );
        assert_eq!(s.rate_limits.chatbot_ask.to_string(), "30/min,burst=30");
        assert!(s.trusted_proxies.is_empty());
        let s = settings(&[
            ("PALISADE_RATE_LIMIT_LOGIN_PER_ACCOUNT", "3/min,burst=2"),
            ("PALISADE_RATE_LIMIT_CHATBOT_ASK_PER_ORGANIZATION", "5/s"),
            ("PALISADE_RATE_LIMIT_INVITATION_PER_ADDRESS", "100/h"),
            ("PALISADE_RATE_LIMIT_MAX_KEYS", "5000"),
            ("PALISADE_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"),
            ("PALISADE_TRUSTED_PROXY_HEADER", "Forwarded"),
        ])
        .unwrap();
        assert_eq!(s.rate_limits.login.per_account.to_string(), "3/min,burst=2");
        assert_eq!(
            s.rate_limits.login.per_address,
            RateLimits::default().login.per_address
        );
        assert_eq!(
            s.rate_limits.invitation.per_address.to_string(),
            "100/h,burst=100"
        );
        assert_eq!(s.rate_limits.max_keys, 5000);
        assert_eq!(s.rate_limits.chatbot_ask.to_string(), "5/s,burst=5");
        assert_eq!(
            s.trusted_proxies,
            TrustedProxies::parse("10.0.0.0/8,127.0.0.1", ForwardedHeader::Forwarded).unwrap()
        );
    }

    /// Every secret a subcommand reads, each with a value that appears nowhere else.
    const SECRETS: [(&str, &str); 14] = [
        ("DATABASE_URL", "postgresql://o:secret-owner@h/db"),
        (
            "PALISADE_APP_DATABASE_URL",
            "postgresql://a:secret-app@h/db",
        ),
        (
            "PALISADE_BILLING_DATABASE_URL",
            "postgresql://b:secret-billing@h/db",
        ),
        (
            "PALISADE_JWT_SECRET",
            "secret-jwt-0123456789abcdef0123456789",
        ),
        ("STRIPE_WEBHOOK_SECRET", "whsec_secret-stripe"),
        (
            "PALISADE_JWT_VERIFY_SECRET",
            "secret-jwt-verify-0123456789abcdef0123",
        ),
        ("TWILIO_AUTH_TOKEN", "secret-twilio"),
        ("TWILIO_SECONDARY_AUTH_TOKEN", "secret-twilio-secondary"),
        ("MAILGUN_WEBHOOK_SIGNING_KEY", "secret-mailgun"),
        (
            "PALISADE_SMTP_URL",
            "smtps://u:secret-smtp@mail.example.com",
        ),
        (
            "PALISADE_SUPERUSER_URL",
            "postgresql://postgres:secret-superuser@h/postgres",
        ),
        ("PALISADE_OWNER_PASSWORD", "secret-owner-password"),
        ("PALISADE_APP_PASSWORD", "secret-app-password"),
        ("PALISADE_BILLING_PASSWORD", "secret-billing-password"),
    ];

    #[test]
    fn debug_of_every_settings_type_shows_no_secret() {
        let env = map(&SECRETS);
        let get = |k: &str| env.get(k).cloned();
        let printed = [
            format!("{:?}", ServeSettings::from_lookup(get).unwrap()),
            format!("{:#?}", ServeSettings::from_lookup(get).unwrap()),
            format!("{:?}", MigrateSettings::from_lookup(get).unwrap()),
            format!("{:?}", BootstrapSettings::from_lookup(get).unwrap()),
            format!("{:?}", InstallDefinersSettings::from_lookup(get).unwrap()),
            format!("{:?}", AuditSettings::from_lookup(get).unwrap()),
            format!("{:?}", NumbersSettings::from_lookup(get).unwrap()),
            format!("{:?}", RetentionSettings::from_lookup(get).unwrap()),
            format!(
                "{:?}",
                RotateSettings::from_lookup(|k| match k {
                    "PALISADE_APP_DATABASE_URL_FILE" => Some("/run/app-url".into()),
                    _ => get(k),
                })
                .unwrap()
            ),
        ];
        for text in &printed {
            assert!(text.contains("<redacted>"), "{text}");
            for (name, value) in SECRETS {
                assert!(!text.contains(value), "{name} printed: {text}");
            }
            assert!(!text.contains("secret-"), "{text}");
        }
        // What is not secret still prints, so the redaction is not a blanket one.
        assert!(printed[0].contains("127.0.0.1:8080"), "{}", printed[0]);

        // The owner's URL from a file: read by the one-shot commands, never printed by them.
        let dir = std::env::temp_dir().join(format!("palisade-debug-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).unwrap();
        let file = dir.join("owner-url");
        std::fs::write(&file, "postgresql://o:secret-owner-file@h/db\n").unwrap();
        let env = map(&[("DATABASE_URL_FILE", file.to_str().unwrap())]);
        let get = |k: &str| env.get(k).cloned();
        for text in [
            format!("{:?}", MigrateSettings::from_lookup(get).unwrap()),
            format!("{:?}", AuditSettings::from_lookup(get).unwrap()),
            format!("{:?}", NumbersSettings::from_lookup(get).unwrap()),
            format!("{:?}", RetentionSettings::from_lookup(get).unwrap()),
        ] {
            assert!(text.contains("<redacted>"), "{text}");
            assert!(!text.contains("secret-owner-file"), "{text}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
        // A URL given as the file's name is refused without being echoed.
        for (variable, value) in [
            ("DATABASE_URL_FILE", "postgresql://o:secret-misplaced@h/db"),
            (
                "PALISADE_APP_DATABASE_URL_FILE",
                "host=h user=a password=secret-misplaced",
            ),
        ] {
            let env = map(&[
                ("DATABASE_URL", "postgresql://o:p@h/db"),
                ("PALISADE_JWT_SECRET", "x"),
                (variable, value),
            ]);
            let env = if variable == "DATABASE_URL_FILE" {
                let mut env = env;
                env.remove("DATABASE_URL");
                env.insert(
                    "PALISADE_APP_DATABASE_URL".into(),
                    "postgresql://a:p@h/db".into(),
                );
                env
            } else {
                env
            };
            let err = ServeSettings::from_lookup(|k| env.get(k).cloned())
                .err()
                .unwrap()
                .to_string();
            assert!(
                err.contains(variable)
                    && err.contains("not a URL")
                    && !err.contains("secret-misplaced"),
                "{err}"
            );
        }
        let env = map(&[("DATABASE_URL_FILE", "postgresql://o:secret-misplaced@h/db")]);
        let err = MigrateSettings::from_lookup(|k| env.get(k).cloned())
            .err()
            .unwrap()
            .to_string();
        assert!(!err.contains("secret-misplaced"), "{err}");
        // rotate-app-credential reads the app's URL file too (it printed the URL as the path of
        // a file it could not read).
        for value in [
            "postgresql://a:secret-misplaced@h/db",
            "host=h user=a password=secret-misplaced",
        ] {
            let env = map(&[
                (
                    "PALISADE_SUPERUSER_URL",
                    "postgresql://postgres:p@h/postgres",
                ),
                ("PALISADE_APP_DATABASE_URL_FILE", value),
            ]);
            let err = RotateSettings::from_lookup(|k| env.get(k).cloned())
                .err()
                .unwrap()
                .to_string();
            assert!(
                err.contains("PALISADE_APP_DATABASE_URL_FILE")
                    && err.contains("not a URL")
                    && !err.contains("secret-misplaced"),
                "{err}"
            );
        }
    }

    /// The names `read` asks for, over each environment of `envs` (so the branches of both
    /// database modes are taken).
    fn names_read<T>(
        envs: &[&[(&str, &str)]],
        read: impl Fn(&dyn Fn(&str) -> Option<String>) -> Result<T, ConfigError>,
    ) -> BTreeSet<String> {
        let asked = RefCell::new(BTreeSet::new());
        for vars in envs {
            let env = map(vars);
            let get = |k: &str| {
                asked.borrow_mut().insert(k.to_owned());
                env.get(k).cloned()
            };
            read(&get).unwrap();
        }
        asked.into_inner()
    }

    /// The names of `vars`, less those the launcher reads; each listed once.
    fn listed(vars: &[Var]) -> BTreeSet<String> {
        let names: BTreeSet<&str> = vars.iter().map(|v| v.name).collect();
        assert_eq!(names.len(), vars.len(), "a name listed twice: {vars:?}");
        names
            .into_iter()
            .filter(|n| !LAUNCHER_VARS.contains(n))
            .map(str::to_owned)
            .collect()
    }

    /// What `--help` lists for a subcommand is exactly what its settings read (plus what the
    /// launcher reads for the embedded cluster), so the two cannot drift apart.
    #[test]
    fn every_subcommand_lists_exactly_the_variables_it_reads() {
        let both_modes: &[&[(&str, &str)]] = &[&[], &SECRETS];
        assert_eq!(
            names_read(both_modes, |g| ServeSettings::from_lookup(g)),
            listed(&ServeSettings::vars())
        );
        assert_eq!(
            names_read(both_modes, |g| MigrateSettings::from_lookup(g)),
            listed(&MigrateSettings::vars())
        );
        assert_eq!(
            names_read(both_modes, |g| AuditSettings::from_lookup(g)),
            listed(&AuditSettings::vars())
        );
        assert_eq!(
            names_read(both_modes, |g| NumbersSettings::from_lookup(g)),
            listed(&NumbersSettings::vars())
        );
        assert_eq!(
            names_read(both_modes, |g| RetentionSettings::from_lookup(g)),
            listed(&RetentionSettings::vars())
        );
        assert_eq!(
            names_read(both_modes, |g| AnalystSettings::from_lookup(g)),
            listed(&AnalystSettings::vars())
        );
        // Their required variables are all set here: an empty environment is refused.
        assert_eq!(
            names_read(&[&SECRETS], |g| BootstrapSettings::from_lookup(g)),
            listed(&BootstrapSettings::vars())
        );
        assert_eq!(
            names_read(&[&SECRETS], |g| InstallDefinersSettings::from_lookup(g)),
            listed(&InstallDefinersSettings::vars())
        );
        let rotate_file: &[(&str, &str)] = &[
            ("PALISADE_APP_DATABASE_URL_FILE", "/run/app-url"),
            (
                "PALISADE_SUPERUSER_URL",
                "postgresql://postgres:secret-superuser@h/postgres",
            ),
        ];
        assert_eq!(
            names_read(&[&[], rotate_file], |g| RotateSettings::from_lookup(g)),
            listed(&RotateSettings::vars())
        );
    }

    #[test]
    fn retention_windows_default_and_refuse_values_below_their_floor() {
        let day = Duration::from_secs(86_400);
        let settings = |vars: &[(&str, &str)]| {
            let env = map(vars);
            RetentionSettings::from_lookup(|k| env.get(k).cloned())
        };
        let defaults = settings(&[]).unwrap().windows;
        assert_eq!(defaults, Windows::default());
        assert_eq!(defaults.webhook_deliveries, day * 30);
        let set = settings(&[
            ("PALISADE_RETAIN_WEBHOOK_DELIVERIES_DAYS", "2"),
            ("PALISADE_RETAIN_EXPIRED_LINKS_DAYS", "0"),
            ("PALISADE_NUMBER_QUARANTINE_DAYS", "5"),
        ])
        .unwrap()
        .windows;
        assert_eq!(set.webhook_deliveries, day * 2);
        assert_eq!(set.expired_links, Duration::ZERO);
        assert_eq!(set.number_quarantine, day * 5);
        let refused = settings(&[("PALISADE_RETAIN_STRIPE_EVENTS_DAYS", "3")])
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("Stripe events") && refused.contains("4 day"),
            "{refused}"
        );
        assert!(settings(&[("PALISADE_RETAIN_IDEMPOTENCY_KEYS_DAYS", "0")]).is_err());
        assert_eq!(defaults.deletion_records, day * 90);
        assert_eq!(
            defaults.deletion_records,
            palisade_db::retention::SYNC_TOKEN_AGE + day
        );
        let set = settings(&[("PALISADE_RETAIN_DELETION_RECORDS_DAYS", "365")])
            .unwrap()
            .windows;
        assert_eq!(set.deletion_records, day * 365);
        let refused = settings(&[("PALISADE_RETAIN_DELETION_RECORDS_DAYS", "89")])
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("deletion records") && refused.contains("90 day"),
            "{refused}"
        );
        assert!(settings(&[("PALISADE_RETAIN_WEBHOOK_DELIVERIES_DAYS", "a month")]).is_err());

        let serve = |vars: &[(&str, &str)]| {
            let env = map(vars);
            ServeSettings::from_lookup(|k| env.get(k).cloned()).unwrap()
        };
        assert_eq!(serve(&[]).retention_every, Some(Duration::from_secs(3_600)));
        assert_eq!(
            serve(&[("PALISADE_RETENTION_EVERY_MINUTES", "0")]).retention_every,
            None
        );
    }

    #[test]
    fn an_empty_value_counts_as_unset() {
        assert_eq!(non_empty(Ok(String::new())), None);
        assert_eq!(non_empty(Err(std::env::VarError::NotPresent)), None);
        assert_eq!(non_empty(Ok("x".into())).as_deref(), Some("x"));
    }
}
