//! Settings, read from the environment (every variable: docs/configuration.md).
//!
//! Two database modes. With `DATABASE_URL` unset, the **embedded default**: Palisade runs its
//! own PostgreSQL cluster under `PALISADE_DATA_DIR` and generates every password and the JWT
//! secret there. With `DATABASE_URL` set (the owner role's URL), it uses that server and needs
//! `PALISADE_APP_DATABASE_URL` and `PALISADE_JWT_SECRET` too.
//!
//! Stripe webhooks: the embedded default serves them with a generated signing secret (kept in
//! `webhook-secrets.json`, overridden by `STRIPE_WEBHOOK_SECRET`, e.g. the one `stripe listen` prints).
//! On an existing server they need `PALISADE_BILLING_DATABASE_URL` and `STRIPE_WEBHOOK_SECRET`
//! together; with neither, `POST /webhooks/stripe` answers 503.

use std::path::PathBuf;
use std::time::Duration;

use palisade_api::client_addr::{ForwardedHeader, TrustedProxies};
use palisade_api::throttle::{ActionLimits, Limit, RateLimits};

use crate::telemetry::LogFormat;

/// A setting that could not be used. The message names the variable, never its value.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

/// Where the database comes from.
#[derive(Clone)]
pub enum DatabaseMode {
    /// Palisade starts its own cluster.
    Embedded(EmbeddedSettings),
    /// An existing server.
    External(ExternalSettings),
}

/// The embedded default's settings.
#[derive(Debug, Clone)]
pub struct EmbeddedSettings {
    /// Holds `pgdata/` (the cluster), `secrets.json` and the server log.
    pub data_dir: PathBuf,
    /// PostgreSQL's TCP port on 127.0.0.1; `None` picks a free one at each start.
    pub pg_port: Option<u16>,
}

/// An existing server's settings. URLs hold passwords: never logged.
#[derive(Clone)]
pub struct ExternalSettings {
    /// `DATABASE_URL`: the owner role (`palisade_owner`), for migrations and policies.
    pub owner_url: String,
    /// `PALISADE_APP_DATABASE_URL`: the app role (`palisade_app`), for every request.
    pub app_url: String,
    /// `PALISADE_BILLING_DATABASE_URL`: the billing role (`palisade_billing`), used by the
    /// Stripe webhook only. Set exactly when [`Settings::stripe_webhook_secret`] is.
    pub billing_url: Option<String>,
    /// `PALISADE_JWT_SECRET`: at least 32 bytes.
    pub jwt_secret: String,
}

/// Everything `palisade serve` needs.
#[derive(Clone)]
pub struct Settings {
    /// `PALISADE_HTTP_ADDR`, default `127.0.0.1:8080`.
    pub http_addr: String,
    /// Embedded or external database.
    pub database: DatabaseMode,
    /// `PALISADE_DB_POOL_SIZE`, default 16.
    pub pool_size: usize,
    /// `PALISADE_TOKEN_TTL_SECS`, default 86400.
    pub token_ttl: Duration,
    /// `PALISADE_LOG_FORMAT`: `text` (default) or `json`.
    pub log_format: LogFormat,
    /// `PALISADE_HTTP_WORKERS`, default: one per core.
    pub workers: Option<usize>,
    /// The carrier and email webhooks' public URL and secrets.
    pub webhooks: WebhookSettings,
    /// `STRIPE_WEBHOOK_SECRET`: the Stripe endpoint's signing secret (`whsec_...`). Embedded
    /// mode: overrides the generated one. External mode: required with the billing URL.
    pub stripe_webhook_secret: Option<String>,
    /// `PALISADE_NUMBER_QUARANTINE_DAYS`, default 30: how long a released phone number stays
    /// reserved for the organization that released it before anyone else may claim it.
    pub number_quarantine: time::Duration,
    /// `PALISADE_RATE_LIMIT_*`: limits on login, signup, password reset and invitation
    /// acceptance (defaults: [`RateLimits::default`], listed in docs/security.md).
    pub rate_limits: RateLimits,
    /// `PALISADE_TRUSTED_PROXIES` and `PALISADE_TRUSTED_PROXY_HEADER`: whose forwarding header
    /// names the client. Default: none, the TCP peer is the client.
    pub trusted_proxies: TrustedProxies,
    /// Account mail and the lifetimes of emailed links.
    pub mail: MailSettings,
}

/// Account mail (invitations, password resets; docs/accounts.md).
#[derive(Clone)]
pub struct MailSettings {
    /// `PALISADE_SMTP_URL`: `smtp://[user:password@]host[:port]`. Unset: messages are written to
    /// [`MailSettings::outbox_dir`] instead. Holds a password: never logged.
    pub smtp_url: Option<String>,
    /// `PALISADE_MAIL_FROM`, default `Palisade <palisade@localhost>`.
    pub from: String,
    /// `PALISADE_DATA_DIR/outbox`: where messages go without an SMTP URL.
    pub outbox_dir: PathBuf,
    /// `PALISADE_INVITATION_TTL_SECS`, default 7 days.
    pub invitation_ttl: Duration,
    /// `PALISADE_PASSWORD_RESET_TTL_SECS`, default 1 hour.
    pub password_reset_ttl: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("http_addr", &self.http_addr)
            .field("pool_size", &self.pool_size)
            .field(
                "stripe_webhook_secret",
                &self.stripe_webhook_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// The carrier and email webhooks' settings. Secrets: never logged. In the embedded default,
/// each one left unset is taken from the generated `webhook-secrets.json`.
#[derive(Clone, Default)]
pub struct WebhookSettings {
    /// `PALISADE_PUBLIC_BASE_URL`: what precedes `/webhooks/...` in the URLs pasted into the
    /// providers' consoles, e.g. `https://api.example.com`. Default `http://<PALISADE_HTTP_ADDR>`.
    pub public_base_url: Option<String>,
    /// `TWILIO_AUTH_TOKEN`.
    pub twilio_auth_token: Option<String>,
    /// `SENDGRID_WEBHOOK_PUBLIC_KEY`: the event webhook's verification key (base64, as
    /// SendGrid's console shows it).
    pub sendgrid_public_key: Option<String>,
    /// `MAILGUN_WEBHOOK_SIGNING_KEY`.
    pub mailgun_signing_key: Option<String>,
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
        Ok(Self {
            public_base_url,
            twilio_auth_token: get("TWILIO_AUTH_TOKEN"),
            sendgrid_public_key,
            mailgun_signing_key: get("MAILGUN_WEBHOOK_SIGNING_KEY"),
        })
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Reads settings through `get` (tests pass a map instead of the process environment).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let number = |name: &str, default: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .parse()
                    .map_err(|_| ConfigError(format!("{name} must be a whole number"))),
            }
        };
        let database = match get("DATABASE_URL") {
            None => DatabaseMode::Embedded(embedded_from_lookup(&get)?),
            Some(owner_url) => DatabaseMode::External(ExternalSettings {
                owner_url,
                app_url: get("PALISADE_APP_DATABASE_URL").ok_or_else(|| {
                    ConfigError("DATABASE_URL is set, so PALISADE_APP_DATABASE_URL (the palisade_app role) must be too".into())
                })?,
                billing_url: get("PALISADE_BILLING_DATABASE_URL"),
                jwt_secret: get("PALISADE_JWT_SECRET")
                    .ok_or_else(|| ConfigError("DATABASE_URL is set, so PALISADE_JWT_SECRET must be too".into()))?,
            }),
        };
        let stripe_webhook_secret = get("STRIPE_WEBHOOK_SECRET");
        if stripe_webhook_secret
            .as_deref()
            .is_some_and(|s| s.len() <= "whsec_".len() || !s.starts_with("whsec_"))
        {
            return Err(ConfigError(
                "STRIPE_WEBHOOK_SECRET must be the endpoint's signing secret, which starts with whsec_".into(),
            ));
        }
        if let DatabaseMode::External(ext) = &database
            && ext.billing_url.is_some() != stripe_webhook_secret.is_some()
        {
            return Err(ConfigError(
                "PALISADE_BILLING_DATABASE_URL and STRIPE_WEBHOOK_SECRET go together: set both to \
                 serve POST /webhooks/stripe, or neither"
                    .into(),
            ));
        }
        let log_format = log_format_from_lookup(&get)?;
        let pool_size = number("PALISADE_DB_POOL_SIZE", 16)?;
        if pool_size == 0 {
            return Err(ConfigError(
                "PALISADE_DB_POOL_SIZE must be at least 1".into(),
            ));
        }
        let webhooks = WebhookSettings::from_lookup(&get)?;
        let rate_limits = rate_limits_from_lookup(&get)?;
        let trusted_proxies = trusted_proxies_from_lookup(&get)?;
        let ttl = |name: &str, default: u64| -> Result<Duration, ConfigError> {
            match number(name, default)? {
                0 => Err(ConfigError(format!("{name} must be at least 1"))),
                secs => Ok(Duration::from_secs(secs)),
            }
        };
        let mail = MailSettings {
            smtp_url: get("PALISADE_SMTP_URL"),
            from: get("PALISADE_MAIL_FROM")
                .unwrap_or_else(|| "Palisade <palisade@localhost>".into()),
            outbox_dir: PathBuf::from(
                get("PALISADE_DATA_DIR").unwrap_or_else(|| ".palisade".into()),
            )
            .join("outbox"),
            invitation_ttl: ttl("PALISADE_INVITATION_TTL_SECS", 7 * 86_400)?,
            password_reset_ttl: ttl("PALISADE_PASSWORD_RESET_TTL_SECS", 3_600)?,
        };
        let number_quarantine = number_quarantine_from_lookup(&get)?;
        Ok(Self {
            http_addr: get("PALISADE_HTTP_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into()),
            database,
            pool_size: usize::try_from(pool_size).unwrap_or(16),
            token_ttl: Duration::from_secs(number("PALISADE_TOKEN_TTL_SECS", 86_400)?),
            log_format,
            workers: match get("PALISADE_HTTP_WORKERS") {
                None => None,
                Some(_) => Some(
                    usize::try_from(number("PALISADE_HTTP_WORKERS", 1)?)
                        .unwrap_or(1)
                        .max(1),
                ),
            },
            webhooks,
            stripe_webhook_secret,
            rate_limits,
            trusted_proxies,
            mail,
            number_quarantine,
        })
    }
}

/// `PALISADE_RATE_LIMIT_<ACTION>_PER_<ADDRESS|ACCOUNT>` (`10/min`, `30/min,burst=10`, `5/h`)
/// and `PALISADE_RATE_LIMIT_MAX_KEYS`; each one unset keeps its default.
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
    Ok(RateLimits {
        login: action("LOGIN", defaults.login)?,
        signup: action("SIGNUP", defaults.signup)?,
        password_reset: action("PASSWORD_RESET", defaults.password_reset)?,
        invitation: action("INVITATION", defaults.invitation)?,
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

/// `PALISADE_NUMBER_QUARANTINE_DAYS` (0 to 3650, default 30). `palisade serve` and `palisade
/// numbers list` read it.
pub fn number_quarantine_from_lookup(
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

/// The embedded default's settings (`PALISADE_DATA_DIR`, `PALISADE_PG_PORT`).
fn embedded_from_lookup(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<EmbeddedSettings, ConfigError> {
    Ok(EmbeddedSettings {
        data_dir: PathBuf::from(get("PALISADE_DATA_DIR").unwrap_or_else(|| ".palisade".into())),
        pg_port: match get("PALISADE_PG_PORT") {
            None => None,
            Some(p) => Some(
                p.parse()
                    .map_err(|_| ConfigError("PALISADE_PG_PORT must be a port number".into()))?,
            ),
        },
    })
}

fn log_format_from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<LogFormat, ConfigError> {
    match get("PALISADE_LOG_FORMAT").as_deref() {
        None | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(_) => Err(ConfigError(
            "PALISADE_LOG_FORMAT must be text or json".into(),
        )),
    }
}

/// Which database `palisade audit` reads, and how it may build its reference for the drift
/// check. It needs neither the app role nor a JWT secret.
#[derive(Clone)]
pub enum AuditDatabase {
    /// The embedded cluster under `PALISADE_DATA_DIR` (it holds the superuser's password).
    Embedded(EmbeddedSettings),
    /// An existing server.
    External {
        /// `DATABASE_URL`: a role that can read schema palisade_audit (the owner, a superuser,
        /// or a member of palisade_auditor).
        url: String,
        /// `PALISADE_SUPERUSER_URL`, for the drift check's scratch database; when unset, the
        /// drift check uses `DATABASE_URL` if its role is a superuser.
        superuser_url: Option<String>,
    },
}

/// `palisade audit`'s settings.
#[derive(Clone)]
pub struct AuditSettings {
    /// Where the audited database is.
    pub database: AuditDatabase,
    /// `PALISADE_LOG_FORMAT` (logs go to stderr; the report to stdout).
    pub log_format: LogFormat,
}

impl AuditSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Reads settings through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            database: match get("DATABASE_URL") {
                None => AuditDatabase::Embedded(embedded_from_lookup(&get)?),
                Some(url) => AuditDatabase::External {
                    url,
                    superuser_url: get("PALISADE_SUPERUSER_URL"),
                },
            },
            log_format: log_format_from_lookup(&get)?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::Path;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_to_embedded() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.http_addr, "127.0.0.1:8080");
        assert!(
            matches!(s.database, DatabaseMode::Embedded(ref e) if e.data_dir == Path::new(".palisade"))
        );
        assert_eq!(s.log_format, LogFormat::Text);
    }

    #[test]
    fn account_mail_defaults_to_the_outbox_under_the_data_dir() {
        let s = settings(&[("PALISADE_DATA_DIR", "/var/tmp/p")]).unwrap();
        assert_eq!(s.mail.smtp_url, None);
        assert_eq!(s.mail.outbox_dir, Path::new("/var/tmp/p/outbox"));
        assert_eq!(s.mail.invitation_ttl, Duration::from_secs(7 * 86_400));
        assert_eq!(s.mail.password_reset_ttl, Duration::from_secs(3_600));
        let s = settings(&[
            ("PALISADE_SMTP_URL", "smtp://relay:2525"),
            ("PALISADE_PASSWORD_RESET_TTL_SECS", "600"),
        ])
        .unwrap();
        assert_eq!(s.mail.smtp_url.as_deref(), Some("smtp://relay:2525"));
        assert_eq!(s.mail.password_reset_ttl, Duration::from_secs(600));
        assert!(settings(&[("PALISADE_INVITATION_TTL_SECS", "0")]).is_err());
        assert!(settings(&[("PALISADE_INVITATION_TTL_SECS", "a week")]).is_err());
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
        ]);
        assert!(matches!(ok.unwrap().database, DatabaseMode::External(_)));
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
        assert_eq!(both.stripe_webhook_secret.as_deref(), Some("whsec_hunter2"));
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
            embedded.stripe_webhook_secret.as_deref(),
            Some("whsec_from_stripe_cli")
        );
    }

    #[test]
    fn audit_needs_no_app_url_or_secret() {
        let map: HashMap<String, String> = [("DATABASE_URL", "postgresql://o:p@h/db")]
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        let s = AuditSettings::from_lookup(|k| map.get(k).cloned()).unwrap();
        assert!(matches!(
            s.database,
            AuditDatabase::External {
                superuser_url: None,
                ..
            }
        ));
        let s = AuditSettings::from_lookup(|_| None).unwrap();
        assert!(matches!(s.database, AuditDatabase::Embedded(_)));
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
        assert!(s.trusted_proxies.is_empty());
        let s = settings(&[
            ("PALISADE_RATE_LIMIT_LOGIN_PER_ACCOUNT", "3/min,burst=2"),
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
        assert_eq!(
            s.trusted_proxies,
            TrustedProxies::parse("10.0.0.0/8,127.0.0.1", ForwardedHeader::Forwarded).unwrap()
        );
    }
}
