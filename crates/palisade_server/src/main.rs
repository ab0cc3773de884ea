//! `palisade`: the Palisade server and its operational subcommands.
//!
//! ```text
//! palisade [serve]   serve HTTP (embedded PostgreSQL unless DATABASE_URL is set)
//! palisade migrate   apply migrations and policies, then exit
//! palisade bootstrap create roles and the database on an existing server (superuser URL)
//! palisade install-definers
//!                    after every migrate on an existing server (superuser URL): the roles, the
//!                    DDL guard and the SECURITY DEFINER functions
//! palisade audit     the DBA audit: violations and drift; exit 0 healthy, 1 findings, 2 error
//! palisade numbers   the platform's phone number inventory, as the owner role
//! ```

use std::process::ExitCode;

use palisade_api::mail::Mailer;
use palisade_api::webhooks::WebhookConfig;
use palisade_api::webhooks::signature::SendgridKey;
use palisade_api::webhooks::stripe::StripeSetup;
use palisade_db::PoolSettings;
use palisade_db::audit::AuditError;
use palisade_db::schema::{self, RolePasswords};
use palisade_db::{AppPool, BillingPool};
use palisade_server::audit::{self, AuditArgs, EXIT_ERROR};
use palisade_server::configuration::{
    AuditDatabase, AuditSettings, DatabaseMode, EmbeddedSettings, Settings,
    number_quarantine_from_lookup,
};
use palisade_server::embedded::{self, AttachedDb, EmbeddedDb};
use palisade_server::numbers::{self, NumbersCommand};
use palisade_server::startup::{AppConfig, Application};
use palisade_server::telemetry;

const USAGE: &str = "usage: palisade [serve|migrate|bootstrap|install-definers|audit|numbers|help]

  serve      Serve the HTTP API (the default). Without DATABASE_URL, runs its own PostgreSQL
             cluster under PALISADE_DATA_DIR (default ./.palisade).
  migrate    Apply migrations (sql/) and policies (policies/), then exit.
  bootstrap  On an existing server: create the roles and the database, as a superuser.
             Needs PALISADE_SUPERUSER_URL, PALISADE_OWNER_PASSWORD, PALISADE_APP_PASSWORD,
             PALISADE_BILLING_PASSWORD; PALISADE_DATABASE_NAME defaults to palisade.
             Then run `migrate`, then `install-definers`.
  install-definers
             On an existing server, after every `migrate` (a new installation and every
             upgrade), as a superuser: re-applies the roles (not their passwords) and the DDL
             guard, and installs the SECURITY DEFINER functions (policies/02N_*.sql) as
             palisade_resolver, which the owner cannot do. The server refuses to start until
             they match its version. Needs PALISADE_SUPERUSER_URL; PALISADE_DATABASE_NAME
             defaults to palisade. (Embedded mode does all of this on every start.)
  audit [--json] [--no-drift]
             The DBA audit: every tenant table's protection, roles that can bypass row-level
             security, SECURITY DEFINER functions, views over tenant tables (the
             palisade_audit views), and drift of the live database from sql/ and policies/.
             Reads the embedded cluster, or DATABASE_URL (a role that can read palisade_audit);
             the drift check needs a superuser: PALISADE_SUPERUSER_URL, or DATABASE_URL's role.
             Exit status: 0 healthy, 1 violations or drift, 2 the audit could not run.
  numbers add NUMBER --capabilities sms,voice
  numbers import FILE
  numbers list
  numbers remove NUMBER
             The platform's phone number inventory (docs/phone-numbers.md): the numbers the
             carrier account holds, which organizations claim from. Connects as the owner role
             (DATABASE_URL, or the embedded cluster), never as the app role. FILE: one number
             per line, then its capabilities, e.g. `+15550001111 sms,voice`; `#` comments.
             `list` shows each number available, assigned (to which organization) or
             quarantined (until when: PALISADE_NUMBER_QUARANTINE_DAYS, default 30).

Configuration is read from the environment: see README.md.";

type BoxError = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().cloned().unwrap_or_else(|| "serve".into());
    if matches!(command.as_str(), "help" | "-h" | "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if command == "audit" {
        // Its own settings: the audit needs neither the app role nor a JWT secret.
        return ExitCode::from(audit_command(&args[1..]));
    }
    if command == "numbers" {
        // Like the audit: the owner's database only, no app role, no JWT secret.
        return ExitCode::from(numbers_command(&args[1..]));
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("palisade: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_format);
    let result = match command.as_str() {
        "serve" => serve(&settings),
        "migrate" => migrate(&settings),
        "bootstrap" => bootstrap(),
        "install-definers" => install_definers(),
        other => {
            eprintln!("palisade: unknown command {other:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One clear line; the cause chain is already in it.
            eprintln!("palisade: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Starts the embedded cluster (when configured), runs `body` on an actix system, and stops
/// the cluster afterwards whatever `body` returned.
fn with_database(
    settings: &Settings,
    body: impl AsyncFnOnce(Option<&EmbeddedDb>) -> Result<(), BoxError>,
) -> Result<(), BoxError> {
    let embedded = match &settings.database {
        DatabaseMode::Embedded(e) => {
            let db = EmbeddedDb::start(e)?;
            tracing::info!("{}", db.describe());
            Some(db)
        }
        DatabaseMode::External(_) => None,
    };
    let result = actix_web::rt::System::new().block_on(body(embedded.as_ref()));
    if let Some(db) = embedded {
        if let Err(e) = db.stop() {
            tracing::error!(error = %e, "could not stop the embedded PostgreSQL cleanly");
        } else {
            tracing::info!("embedded PostgreSQL stopped");
        }
    }
    result
}

/// Bootstraps, migrates and installs the SECURITY DEFINER functions (embedded: we hold the
/// superuser there); on an existing server only migrates (as the owner): `palisade
/// install-definers` is the superuser's step, and the server refuses to start without it.
async fn prepare_database(
    settings: &Settings,
    embedded: Option<&EmbeddedDb>,
) -> Result<(), BoxError> {
    match (embedded, &settings.database) {
        (Some(db), _) => {
            schema::bootstrap(
                &db.superuser_url(),
                embedded::DATABASE,
                &db.secrets().role_passwords(),
            )
            .await?;
            schema::migrate(&db.owner_url()).await?;
            schema::install_definers(&db.superuser_url(), embedded::DATABASE).await?;
        }
        (None, DatabaseMode::External(ext)) => schema::migrate(&ext.owner_url).await?,
        (None, DatabaseMode::Embedded(_)) => return Err("embedded database not started".into()),
    }
    Ok(())
}

/// Connections the Stripe webhook's billing pool may open (Stripe sends a few events at a time).
const BILLING_POOL_SIZE: usize = 4;

/// The Stripe webhook's setup: in embedded mode always (the signing secret from
/// `STRIPE_WEBHOOK_SECRET`, else the generated one in webhook-secrets.json); on an existing server when
/// `PALISADE_BILLING_DATABASE_URL` and `STRIPE_WEBHOOK_SECRET` are set. Logs where the secret
/// comes from, never the secret.
fn stripe_setup(
    settings: &Settings,
    embedded: Option<&EmbeddedDb>,
) -> Result<Option<StripeSetup>, BoxError> {
    let pool = |url: String| {
        BillingPool::new(&PoolSettings {
            url,
            max_size: BILLING_POOL_SIZE,
            wait_timeout: std::time::Duration::from_secs(5),
        })
    };
    let (billing_url, secret) = match (embedded, &settings.database) {
        (Some(db), _) => match &settings.stripe_webhook_secret {
            Some(secret) => {
                tracing::info!("Stripe webhook signing secret: from STRIPE_WEBHOOK_SECRET");
                (db.billing_url(), secret.clone())
            }
            None => {
                tracing::info!(
                    "Stripe webhook signing secret: key stripe_webhook_secret in {} \
                     (set STRIPE_WEBHOOK_SECRET to use Stripe's, e.g. from `stripe listen`)",
                    db.webhook_secrets_path().display()
                );
                (
                    db.billing_url(),
                    db.webhook_secrets().stripe_webhook_secret.clone(),
                )
            }
        },
        (None, DatabaseMode::External(ext)) => {
            match (&ext.billing_url, &settings.stripe_webhook_secret) {
                (Some(url), Some(secret)) => {
                    tracing::info!("Stripe webhook signing secret: from STRIPE_WEBHOOK_SECRET");
                    (url.clone(), secret.clone())
                }
                // Configuration guarantees both or neither.
                _ => {
                    tracing::info!(
                        "Stripe webhooks are not configured (PALISADE_BILLING_DATABASE_URL and \
                         STRIPE_WEBHOOK_SECRET): POST /webhooks/stripe answers 503"
                    );
                    return Ok(None);
                }
            }
        }
        (None, DatabaseMode::Embedded(_)) => return Err("embedded database not started".into()),
    };
    Ok(Some(StripeSetup::new(pool(billing_url)?, secret)))
}

fn serve(settings: &Settings) -> Result<(), BoxError> {
    with_database(settings, async move |embedded| {
        prepare_database(settings, embedded).await?;
        let (app_url, jwt_secret) = match (embedded, &settings.database) {
            (Some(db), _) => (db.app_url(), db.secrets().jwt_secret.clone()),
            (None, DatabaseMode::External(ext)) => (ext.app_url.clone(), ext.jwt_secret.clone()),
            (None, DatabaseMode::Embedded(_)) => return Err("embedded database not started".into()),
        };
        let pool = AppPool::new(&PoolSettings {
            url: app_url,
            max_size: settings.pool_size,
            wait_timeout: std::time::Duration::from_secs(5),
        })?;
        let stripe = stripe_setup(settings, embedded)?;
        let config = AppConfig {
            http_addr: settings.http_addr.clone(),
            jwt_secret: jwt_secret.into_bytes(),
            token_ttl: settings.token_ttl,
            workers: settings.workers,
            webhooks: webhook_config(settings, embedded)?,
            stripe: stripe.clone(),
            clock: std::sync::Arc::new(palisade_domain::SystemClock),
            rate_limits: settings.rate_limits.clone(),
            trusted_proxies: settings.trusted_proxies.clone(),
            mailer: mailer(settings)?,
            accounts: palisade_api::AccountSettings {
                invitation_ttl: time_duration(settings.mail.invitation_ttl),
                password_reset_ttl: time_duration(settings.mail.password_reset_ttl),
            },
            number_quarantine: settings.number_quarantine,
        };
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
        tracing::info!(
            port = app.port(),
            "listening on http://{}",
            settings.http_addr
        );
        app.run_until_stopped().await?;
        tracing::info!("HTTP server stopped; in-flight requests drained");
        pool.close();
        if let Some(stripe) = stripe {
            stripe.pool().close();
        }
        Ok(())
    })
}

/// The account mailer: SMTP when `PALISADE_SMTP_URL` is set, else the outbox directory under
/// the data dir (the embedded default needs no mail server). Logs which, never the URL.
fn mailer(settings: &Settings) -> Result<Mailer, BoxError> {
    let mail = &settings.mail;
    match &mail.smtp_url {
        Some(url) => {
            let mailer = Mailer::smtp(url, &mail.from)?;
            tracing::info!("account mail goes out over SMTP (PALISADE_SMTP_URL)");
            Ok(mailer)
        }
        None => {
            let dir = std::path::absolute(&mail.outbox_dir)?;
            let mailer = Mailer::outbox(dir.clone(), &mail.from)?;
            if matches!(settings.database, DatabaseMode::External(_)) {
                tracing::warn!(
                    outbox = %dir.display(),
                    "PALISADE_SMTP_URL is not set: account mail (invitations, password resets) \
                     is written to this directory, not sent"
                );
            } else {
                tracing::info!(
                    outbox = %dir.display(),
                    "account mail (invitations, password resets) is written to this directory, \
                     one .eml file per message (set PALISADE_SMTP_URL to send it)"
                );
            }
            Ok(mailer)
        }
    }
}

fn time_duration(d: std::time::Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}

/// The webhooks' public URL and secrets: each from its environment variable, else (embedded
/// default only) from the generated development secrets. A provider left without a secret
/// answers 503 until configured.
fn webhook_config(
    settings: &Settings,
    embedded: Option<&EmbeddedDb>,
) -> Result<WebhookConfig, BoxError> {
    let env = &settings.webhooks;
    let base = env
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", settings.http_addr));
    let mut config = WebhookConfig::new(&base);
    let dev = embedded.map(EmbeddedDb::webhook_secrets);
    config.twilio_auth_token = env
        .twilio_auth_token
        .clone()
        .or_else(|| dev.map(|d| d.twilio_auth_token.clone()));
    config.mailgun_signing_key = env
        .mailgun_signing_key
        .clone()
        .or_else(|| dev.map(|d| d.mailgun_signing_key.clone()));
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
    if let Some(db) = embedded {
        tracing::info!(
            path = %db.webhook_secrets_path().display(),
            "development webhook secrets (Twilio, SendGrid, Mailgun, Stripe) are in this file; \
             the environment variables of README \"Webhooks\" override them"
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

fn migrate(settings: &Settings) -> Result<(), BoxError> {
    with_database(settings, async move |embedded| {
        prepare_database(settings, embedded).await?;
        tracing::info!("migrations and policies are up to date");
        Ok(())
    })
}

fn bootstrap() -> Result<(), BoxError> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("bootstrap needs {name}"));
    let superuser_url = var("PALISADE_SUPERUSER_URL")?;
    let passwords = RolePasswords {
        owner: var("PALISADE_OWNER_PASSWORD")?,
        app: var("PALISADE_APP_PASSWORD")?,
        billing: var("PALISADE_BILLING_PASSWORD")?,
    };
    let database =
        std::env::var("PALISADE_DATABASE_NAME").unwrap_or_else(|_| embedded::DATABASE.into());
    actix_web::rt::System::new().block_on(async move {
        schema::bootstrap(&superuser_url, &database, &passwords).await?;
        tracing::info!(db.name = %database, "roles and database are in place; now run `palisade migrate` with DATABASE_URL, then `palisade install-definers`");
        Ok(())
    })
}

/// `palisade install-definers`: the superuser's step after every `migrate` on an existing server.
fn install_definers() -> Result<(), BoxError> {
    let superuser_url = std::env::var("PALISADE_SUPERUSER_URL").map_err(|_| {
        "install-definers needs PALISADE_SUPERUSER_URL (a superuser's URL); in embedded mode \
         every start (and `palisade migrate`) already installs them"
    })?;
    let database =
        std::env::var("PALISADE_DATABASE_NAME").unwrap_or_else(|_| embedded::DATABASE.into());
    actix_web::rt::System::new().block_on(async move {
        schema::superuser_after_migrate(&superuser_url, &database).await?;
        tracing::info!(db.name = %database, "roles, DDL guard and SECURITY DEFINER functions are in place");
        Ok(())
    })
}

/// `palisade audit`: prints the report on stdout (logs go to stderr) and returns the exit code.
fn audit_command(args: &[String]) -> u8 {
    let parsed = match AuditArgs::parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("palisade: {e}\n\n{USAGE}");
            return EXIT_ERROR;
        }
    };
    let settings = match AuditSettings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("palisade: {e}");
            return EXIT_ERROR;
        }
    };
    telemetry::init_with(settings.log_format, telemetry::Output::Stderr, "warn");
    let result = match &settings.database {
        AuditDatabase::External { url, superuser_url } => actix_web::rt::System::new()
            .block_on(audit::audit_database(
                url,
                superuser_url.as_deref(),
                parsed.drift,
            ))
            .map_err(|e| e.to_string()),
        AuditDatabase::Embedded(e) => audit_embedded(e, parsed.drift),
    };
    match result {
        Ok(report) => {
            print!("{}", audit::render(&report, parsed));
            audit::exit_code(&report)
        }
        Err(e) => {
            eprintln!("palisade audit: {e}");
            EXIT_ERROR
        }
    }
}

/// Audits the embedded cluster as its owner, building the drift reference as its superuser.
/// Never migrates first: that would repair the very drift it must report.
fn audit_embedded(
    settings: &EmbeddedSettings,
    drift: bool,
) -> Result<palisade_db::audit::AuditReport, String> {
    on_embedded_cluster(settings, |owner: String, superuser: String| {
        actix_web::rt::System::new()
            .block_on(audit::audit_database(
                &owner,
                drift.then_some(superuser.as_str()),
                drift,
            ))
            .map_err(|e: AuditError| e.to_string())
    })
}

/// Runs `body` with the embedded cluster's owner and superuser URLs, for the operator commands
/// (`audit`, `numbers`): where a running `palisade` serves the cluster, on it; otherwise the
/// cluster is started for `body` and stopped afterwards. Never creates or migrates one.
fn on_embedded_cluster<T>(
    settings: &EmbeddedSettings,
    body: impl FnOnce(String, String) -> Result<T, String>,
) -> Result<T, String> {
    if !settings
        .data_dir
        .join("pgdata")
        .join("PG_VERSION")
        .is_file()
    {
        return Err(format!(
            "no embedded database under {} (run `palisade migrate` first, or set DATABASE_URL)",
            settings.data_dir.display()
        ));
    }
    if let Some(attached) = AttachedDb::find(settings).map_err(|e| e.to_string())? {
        return body(attached.owner_url(), attached.superuser_url());
    }
    let db = EmbeddedDb::start(settings).map_err(|e| e.to_string())?;
    let result = body(db.owner_url(), db.superuser_url());
    if let Err(e) = db.stop() {
        tracing::error!(error = %e, "could not stop the embedded PostgreSQL cleanly");
    }
    result
}

/// `palisade numbers ...`: the phone number inventory, as the owner role (the audit's database
/// settings: `DATABASE_URL` is the owner's URL, else the embedded cluster). Prints the result on
/// stdout; exit 0 done, 1 refused or failed, 2 usage or configuration.
fn numbers_command(args: &[String]) -> u8 {
    let command = match NumbersCommand::parse(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("palisade: {e}\n\n{USAGE}");
            return EXIT_ERROR;
        }
    };
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (settings, quarantine) = match (
        AuditSettings::from_env(),
        number_quarantine_from_lookup(&env),
    ) {
        (Ok(s), Ok(q)) => (s, q),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("palisade: {e}");
            return EXIT_ERROR;
        }
    };
    telemetry::init_with(settings.log_format, telemetry::Output::Stderr, "warn");
    let run = |owner_url: String| {
        actix_web::rt::System::new().block_on(numbers::run(
            &owner_url,
            &command,
            quarantine,
            time::OffsetDateTime::now_utc(),
        ))
    };
    let result = match &settings.database {
        AuditDatabase::External { url, .. } => run(url.clone()),
        AuditDatabase::Embedded(e) => on_embedded_cluster(e, |owner, _| run(owner)),
    };
    match result {
        Ok(out) => {
            print!("{out}");
            0
        }
        Err(e) => {
            eprintln!("palisade numbers: {e}");
            1
        }
    }
}
