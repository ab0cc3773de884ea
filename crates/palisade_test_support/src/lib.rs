//! Test harness: real PostgreSQL, connected as the app role. No mocks.
//!
//! - One throwaway cluster per test process ([`cluster`]), started from the installed server
//!   binaries with the same launcher as the embedded default, or an existing server named by
//!   `TEST_DATABASE_URL` (a superuser URL over TCP). The cluster stops and its files are
//!   removed when the test process exits, however it exits.
//! - Migrations and policies are applied once, to a template database; each test gets its own
//!   database copied from it ([`TestDb::new`], `CREATE DATABASE ... TEMPLATE`), dropped after.
//!   The template itself is never dropped ([`cluster`] is a static, and statics are not dropped):
//!   a throwaway cluster takes it along when it goes, but a `TEST_DATABASE_URL` server keeps one
//!   `palisade_tmpl_<uuid>` per test process that ran (docs/testing.md gives the SQL that drops
//!   them).
//! - [`spawn_app`] serves the real application on 127.0.0.1 port 0 over that database, with the
//!   Stripe webhook configured: a billing pool as `palisade_billing` and
//!   [`TEST_STRIPE_WEBHOOK_SECRET`]; [`stripe_signature_header`] signs a body as Stripe does.
//!   [`TestApp::spawn_instance`] and [`spawn_app_on`] start more instances over the same
//!   database, as a deployment of several servers (or a restarted one) would run.
//! - Each app sends its account mail through its real mailer over SMTP to a small real SMTP
//!   server of its own on 127.0.0.1 ([`smtp::SmtpServer`]); tests read the links out of the
//!   mail it received ([`TestApp::last_mail_to`]). Members join by invitation
//!   ([`TestApp::add_user`], [`TestApp::invite`], [`TestApp::accept_invitation`]).
//! - What the apps log goes to the failing test's output for humans, and is captured by request
//!   for tests: [`logs::of`] gives the lines one response's request left, formatted as
//!   `palisade serve` prints them.
//!
//! Roles are cluster-wide, so tests share `palisade_owner`, `palisade_app_a` (the app's login
//! role, a member of the group `palisade_app`) and `palisade_billing` (with the process's random
//! [`test_password`]) and must never alter them (the rotation test runs in a process of its own); a test that needs
//! a differently privileged role creates its own, uniquely named.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a harness failure should stop the test loudly

mod caller;
pub mod command;
mod http;
pub mod logs;
pub mod receiver;
mod server_db;
pub mod smtp;
pub mod sql;
mod unchanged;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use palisade_api::auth::TokenKeys;
use palisade_api::client_addr::TrustedProxies;
use palisade_api::throttle::RateLimits;
use palisade_api::webhooks::WebhookConfig;
use palisade_api::webhooks::signature::{SendgridDevSigner, SendgridKey, sign_twilio};
use palisade_api::webhooks::stripe::StripeSetup;
use palisade_db::schema::{self, RolePasswords};
use palisade_db::{AppPool, BillingPool, PoolSettings};
use palisade_domain::ManualClock;
use palisade_pg_embedded::{ClusterOptions, PgBinaries, RunningCluster, ephemeral_dir};
use palisade_server::startup::{AppConfig, Application, StartupError};
use tokio_postgres::Client;

pub use caller::{
    Anonymous, ApiKey, Credential, KeyHeader, RawKey, fields, id, ids, percent_encode,
};
pub use http::{TestResponse, assert_all_ok, assert_foreign_like_missing, request};
pub use smtp::{ReceivedMail, SmtpServer};
pub use unchanged::Unchanged;

/// The public base URL the test server believes it is reached at. Deliberately not the address
/// the tests connect to: a signature only verifies if the server rebuilt the URL from its
/// configuration, never from the Host header.
pub const TEST_PUBLIC_BASE_URL: &str = "https://palisade.test";
/// The test server's Twilio auth token.
pub const TEST_TWILIO_AUTH_TOKEN: &str = "0123456789abcdef0123456789abcdef";
/// The test server's Mailgun webhook signing key.
pub const TEST_MAILGUN_SIGNING_KEY: &str = "key-palisade-test-mailgun-signing";
/// The secret scalar of the SendGrid-style key pair the tests sign events with.
pub const TEST_SENDGRID_SCALAR: [u8; 32] = [7; 32];

/// Signs like SendGrid, with the key whose public half the test server trusts.
pub fn sendgrid_test_signer() -> SendgridDevSigner {
    SendgridDevSigner::from_scalar(&TEST_SENDGRID_SCALAR).expect("a valid P-256 scalar")
}

/// The webhook configuration every test server gets.
pub fn test_webhook_config() -> WebhookConfig {
    let mut config = WebhookConfig::new(TEST_PUBLIC_BASE_URL);
    config.twilio_auth_token = Some(palisade_domain::Secret::new(TEST_TWILIO_AUTH_TOKEN));
    config.mailgun_signing_key = Some(palisade_domain::Secret::new(TEST_MAILGUN_SIGNING_KEY));
    config.sendgrid_public_key = Some(
        SendgridKey::parse(&sendgrid_test_signer().public_key_b64().expect("public key"))
            .expect("parses"),
    );
    config
}

/// A fresh E.164 number (+1 555 and 7 random digits), unique enough within a test.
pub fn unique_number() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 10_000_000;
    format!("+1555{n:07}")
}

/// The phone number quarantine of test servers: the default, 30 days.
pub const TEST_NUMBER_QUARANTINE: time::Duration = time::Duration::days(30);

/// The password of the harness's login roles (`palisade_owner`, [`TEST_APP_LOGIN_ROLE`],
/// `palisade_billing`) and of its throwaway cluster's superuser: random, made once per test
/// process, never written down (any local user can reach the cluster's port, and the superuser
/// runs `COPY ... TO PROGRAM` as the developer's OS user). On a server named by
/// `TEST_DATABASE_URL`, which test processes share, it is derived from the superuser password that
/// URL gives, so that they all set the same one (`shared_server_role_password`).
pub fn test_password() -> &'static str {
    &cluster().role_password
}

/// A new random password (32 random bytes, hex: nothing to quote or percent-encode), for a
/// cluster or a role a test creates itself. Never a fixed one: a test cluster listens on
/// 127.0.0.1, where every local user can try it.
pub fn random_password() -> String {
    palisade_db::rotation::random_password()
        .expect("randomness for a password")
        .expose()
        .to_owned()
}

/// The password the harness gives the shared roles on a server named by `TEST_DATABASE_URL`: a
/// digest of the superuser password it was given, the same in every test process that shares the
/// server (each bootstraps the roles, which sets their password) and known to no one without that
/// password. A server whose superuser needs none gives them one anyone can compute; such a server
/// lets anyone in anyway.
fn shared_server_role_password(superuser_password: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(format!("palisade test roles\n{superuser_password}"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
/// The app's login role in test clusters (the active one of the two, a member of `palisade_app`).
pub const TEST_APP_LOGIN_ROLE: &str = schema::APP_LOGIN_ROLES[0];
/// The guardrails test clusters bootstrap the app's login roles with: the defaults, but a
/// connection limit for many tests' pools at once (the cluster allows 400 connections).
pub const TEST_ROLE_LIMITS: schema::RoleLimits = schema::RoleLimits {
    statement_timeout: Duration::from_secs(30),
    idle_in_transaction_session_timeout: Duration::from_secs(60),
    connection_limit: 300,
};
/// The JWT secret test apps use.
pub const TEST_JWT_SECRET: &[u8] = b"palisade-test-jwt-secret-32-bytes-long!!";
/// The Stripe webhook signing secret test apps use.
pub const TEST_STRIPE_WEBHOOK_SECRET: &str = "whsec_palisade_test_stripe_secret";

/// For a superuser: makes the database's SECURITY DEFINER functions look installed by another
/// version (their digest function answers another digest), as after an upgrade whose
/// `policies/02N_*.sql` changed and before `palisade install-definers`.
pub const DEFINERS_OF_AN_OLDER_VERSION: &str = "BEGIN; SET LOCAL ROLE palisade_resolver;
     CREATE OR REPLACE FUNCTION palisade_private.definer_files_digest() RETURNS text
         LANGUAGE sql IMMUTABLE SET search_path = '' AS $$ SELECT 'an older version'::text $$;
     COMMIT;";

/// A `Stripe-Signature` header for `body` as Stripe builds it: `t=<timestamp>,v1=<hex
/// HMAC-SHA256 of "{t}.{body}" keyed with the whole whsec_ string>`.
pub fn stripe_signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp},v1={hex}")
}

/// The current Unix time, as Stripe stamps its signatures.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Where the test server is, and the connection parameters the URL naming it gave: every role's
/// URL is built from it ([`ServerAddress::url`]), the parts that change percent-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ServerAddress {
    /// The hosts and ports, as the URL wrote them (`127.0.0.1:5432`, `[::1]:5433`, `a,b:6432`).
    hosts: String,
    /// The parameters (`sslmode=require&sslrootcert=...`), as the URL wrote them, less any
    /// `user`, `password` or `dbname` (they would override what [`ServerAddress::url`] sets);
    /// empty when none.
    params: String,
}

impl ServerAddress {
    /// From a `postgresql://` (or `postgres://`) URL, split as tokio-postgres splits it: the
    /// credentials end at the first `@`, the hosts at `/` or `?`, the database name at `?`.
    fn parse(url: &str) -> Option<Self> {
        let rest = url
            .strip_prefix("postgresql://")
            .or_else(|| url.strip_prefix("postgres://"))?;
        let rest = rest
            .split_once('@')
            .map_or(rest, |(_credentials, rest)| rest);
        let hosts_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (hosts, rest) = rest.split_at(hosts_end);
        let params = rest.split_once('?').map_or("", |(_path, query)| query);
        let params = params
            .split('&')
            .filter(|param| {
                let key = param.split_once('=').map_or(*param, |(key, _)| key);
                !param.is_empty() && !["user", "password", "dbname"].contains(&key)
            })
            .collect::<Vec<_>>()
            .join("&");
        Some(Self {
            hosts: hosts.to_owned(),
            params,
        })
    }

    /// A URL for `user`, with `password` if any, to `db` on this server, with its parameters.
    fn url(&self, user: &str, password: Option<&str>, db: &str) -> String {
        let password = password.map_or(String::new(), |p| format!(":{}", percent_encode(p)));
        let params = if self.params.is_empty() {
            String::new()
        } else {
            format!("?{}", self.params)
        };
        format!(
            "postgresql://{}{password}@{}/{}{params}",
            percent_encode(user),
            self.hosts,
            percent_encode(db)
        )
    }
}

/// The process-wide test server.
pub struct TestCluster {
    address: ServerAddress,
    superuser: String,
    superuser_password: String,
    role_password: String,
    template: String,
    // Keeps the embedded cluster alive for the whole process (statics are never dropped; the
    // launcher stops the server when the process exits).
    _cluster: Option<RunningCluster>,
}

impl TestCluster {
    /// A URL for `user` (with `password`) to `db` on the test server: user, password and database
    /// percent-encoded, with the parameters `TEST_DATABASE_URL` gave (`sslmode`...).
    pub fn url(&self, user: &str, password: &str, db: &str) -> String {
        self.address.url(user, Some(password), db)
    }

    /// The superuser's URL to `db`.
    pub fn superuser_url(&self, db: &str) -> String {
        self.url(&self.superuser, &self.superuser_password, db)
    }

    /// The superuser's URL to `db` without its password, for a command such as `psql`, which is
    /// given the password in `PGPASSWORD` ([`TestCluster::superuser_password`]): a command's
    /// arguments are readable by every local user (`/proc/<pid>/cmdline`).
    pub fn superuser_url_without_password(&self, db: &str) -> String {
        self.address.url(&self.superuser, None, db)
    }

    /// The superuser's password, for `PGPASSWORD`.
    pub fn superuser_password(&self) -> &str {
        &self.superuser_password
    }
}

static CLUSTER: OnceLock<TestCluster> = OnceLock::new();

/// The test server, started (and the template migrated) on first use.
pub fn cluster() -> &'static TestCluster {
    // Initialise on a plain thread with its own runtime: callers are inside a test's runtime,
    // which cannot be blocked on.
    CLUSTER.get_or_init(|| {
        std::thread::spawn(init_cluster)
            .join()
            .expect("test cluster init panicked")
    })
}

fn init_cluster() -> TestCluster {
    // Never dropped: on a TEST_DATABASE_URL server it outlives the process (module doc).
    let template = format!("palisade_tmpl_{}", uuid::Uuid::new_v4().simple());
    let (address, superuser, superuser_password, role_password, cluster) =
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => {
                // Parsed as the server parses a URL (DbConfig: libpq's sslmode verify-ca and
                // verify-full, sslrootcert), which tokio-postgres's own parser refuses.
                let parsed = palisade_db::DbConfig::parse(&url)
                    .expect("TEST_DATABASE_URL is not a PostgreSQL URL");
                let cfg = parsed.pg();
                if !matches!(
                    cfg.get_hosts().first(),
                    Some(tokio_postgres::config::Host::Tcp(_))
                ) {
                    panic!("TEST_DATABASE_URL must name a TCP host");
                }
                let address = ServerAddress::parse(&url)
                    .expect("TEST_DATABASE_URL must be a postgresql:// URL");
                let user = cfg
                    .get_user()
                    .expect("TEST_DATABASE_URL must name a superuser")
                    .to_owned();
                let password = cfg
                    .get_password()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .unwrap_or_default();
                let role_password = shared_server_role_password(&password);
                (address, user, password, role_password, None)
            }
            _ => {
                let password = random_password();
                let bins = PgBinaries::locate().unwrap_or_else(|e| panic!("{e}"));
                let cluster = RunningCluster::start(
                    &bins,
                    ClusterOptions {
                        data_dir: ephemeral_dir("palisade-test").expect("temp dir"),
                        port: None,
                        superuser: "postgres".into(),
                        superuser_password: password.clone(),
                        ephemeral: true,
                        settings: vec![("max_connections".into(), "400".into())],
                    },
                )
                .unwrap_or_else(|e| panic!("{e}"));
                (
                    ServerAddress {
                        hosts: format!("{}:{}", cluster.host(), cluster.port()),
                        params: String::new(),
                    },
                    "postgres".to_owned(),
                    password.clone(),
                    password,
                    Some(cluster),
                )
            }
        };
    let c = TestCluster {
        address,
        superuser,
        superuser_password,
        role_password,
        template,
        _cluster: cluster,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let passwords = RolePasswords {
            owner: c.role_password.clone(),
            app: c.role_password.clone(),
            app_role: TEST_APP_LOGIN_ROLE,
            billing: c.role_password.clone(),
        };
        schema::bootstrap(
            &c.superuser_url("postgres"),
            &c.template,
            &passwords,
            &TEST_ROLE_LIMITS,
        )
        .await
        .unwrap_or_else(|e| panic!("bootstrap: {e}"));
        schema::migrate(&c.url(schema::OWNER_ROLE, &c.role_password, &c.template))
            .await
            .unwrap_or_else(|e| panic!("migrate: {e}"));
        // As in production: the SECURITY DEFINER files, by the superuser, after migrations.
        schema::install_definers(&c.superuser_url("postgres"), &c.template)
            .await
            .unwrap_or_else(|e| panic!("install definers: {e}"));
    });
    c
}

/// A database of its own for one test, copied from the migrated template; dropped afterwards.
pub struct TestDb {
    /// The database name.
    pub name: String,
    /// Roles the test created, dropped after the database ([`TestDb::drop_role_with_it`]).
    roles: std::sync::Mutex<Vec<String>>,
}

impl TestDb {
    /// Creates the database.
    pub async fn new() -> Self {
        let c = cluster();
        let name = format!("palisade_test_{}", uuid::Uuid::new_v4().simple());
        let su = schema::connect(&c.superuser_url("postgres"))
            .await
            .expect("superuser connection");
        // The template's last migration connection may still be closing: retry while it is
        // "being accessed by other users".
        let mut attempts = 0;
        loop {
            let sql = format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{}\" OWNER palisade_owner",
                c.template
            );
            match su.batch_execute(&sql).await {
                Ok(()) => break,
                Err(e)
                    if e.code() == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE)
                        && attempts < 100 =>
                {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("create test database: {e}"),
            }
        }
        // Privileges on a database are not copied from its template
        // (policies/002_no_temporary_objects.sql).
        su.batch_execute(&format!(
            "REVOKE TEMPORARY ON DATABASE \"{name}\" FROM PUBLIC"
        ))
        .await
        .expect("revoke temporary");
        Self {
            name,
            roles: Default::default(),
        }
    }

    /// A new database migrated only up to migration `version` (the superuser's files first,
    /// as bootstrap does), to test an upgrade from there: write what an older version would have
    /// written (as the superuser), then [`TestDb::upgrade`], and look at what the upgrade made of
    /// it.
    pub async fn at_version(version: i32) -> Self {
        let name = format!("palisade_upgrade_{}", uuid::Uuid::new_v4().simple());
        let su_url = cluster().superuser_url("postgres");
        let su = schema::connect(&su_url)
            .await
            .expect("superuser connection");
        su.batch_execute(&format!(
            "CREATE DATABASE \"{name}\" OWNER {}",
            schema::OWNER_ROLE
        ))
        .await
        .unwrap_or_else(|e| panic!("create upgrade database: {e}"));
        let db = Self {
            name,
            roles: Default::default(),
        };
        schema::install_superuser_database_files(&su_url, &db.name)
            .await
            .unwrap_or_else(|e| panic!("superuser files: {e}"));
        let mut owner = schema::connect(&db.url_as(schema::OWNER_ROLE))
            .await
            .expect("owner connection");
        // As `palisade migrate` does on its own connection: the migrations pass the DDL guard.
        owner
            .batch_execute("SET palisade.ddl_guard_override = 'upgrade test'")
            .await
            .expect("override");
        schema::migrate_up_to(&mut owner, version)
            .await
            .unwrap_or_else(|e| panic!("migrate up to V{version}: {e}"));
        db
    }

    /// The rest of the upgrade of a database made by [`TestDb::at_version`], as `palisade migrate`
    /// runs it: every later migration as the owner, then the definer functions.
    pub async fn upgrade(&self) {
        schema::migrate(&self.url_as(schema::OWNER_ROLE))
            .await
            .unwrap_or_else(|e| panic!("migrate: {e}"));
        schema::install_definers(&cluster().superuser_url("postgres"), &self.name)
            .await
            .unwrap_or_else(|e| panic!("definers: {e}"));
    }

    /// For an upgrade test on a database made by [`TestDb::at_version`]: inserts, as the
    /// superuser and in one transaction (as a signup writes them: the same `created_at`), an
    /// organization named `Old` and its owner named `Owner`, whose password is `password`.
    /// Returns the organization's id, the owner's id and the owner's email.
    pub async fn insert_old_owner(&self, password: &str) -> (uuid::Uuid, uuid::Uuid, String) {
        let hash = palisade_api::auth::PasswordHashing::new(1)
            .expect("password hashing")
            .hash(&palisade_domain::Password::parse_new(password).expect("a valid password"))
            .await
            .expect("hash the password");
        let (org, owner) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let email = format!("owner-{}@example.com", owner.simple());
        let su = self.superuser_client().await;
        su.batch_execute("BEGIN").await.expect("BEGIN");
        su.execute(
            "INSERT INTO palisade.organizations (id, name) VALUES ($1, 'Old')",
            &[&org],
        )
        .await
        .expect("insert the organization");
        su.execute(
            "INSERT INTO palisade.users (organization_id, id, email, name, role, password_hash) \
             VALUES ($1, $2, $3, 'Owner', 'owner', $4)",
            &[&org, &owner, &email, &hash],
        )
        .await
        .expect("insert the owner");
        su.batch_execute("COMMIT").await.expect("COMMIT");
        (org, owner, email)
    }

    /// Drops `role` (a role the test created) when this database is dropped, right after it (a
    /// role with privileges in a database cannot be dropped before it), even when the test fails:
    /// roles are cluster-wide, and a probe role left behind (a superuser, a BYPASSRLS member of
    /// `palisade_app`) would outlive the test on a shared server (`TEST_DATABASE_URL`).
    pub fn drop_role_with_it(&self, role: &str) {
        self.roles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(role.to_owned());
    }

    /// URL for a role of ours with the test password ([`test_password`]).
    pub fn url_as(&self, role: &str) -> String {
        cluster().url(role, test_password(), &self.name)
    }

    /// URL for the superuser.
    pub fn superuser_url(&self) -> String {
        cluster().superuser_url(&self.name)
    }

    /// A raw client as the app's login role ([`TEST_APP_LOGIN_ROLE`], a member of
    /// `palisade_app`), for SQL-level isolation tests.
    pub async fn app_client(&self) -> Client {
        schema::connect(&self.url_as(TEST_APP_LOGIN_ROLE))
            .await
            .expect("app connection")
    }

    /// A raw client as `palisade_owner`.
    pub async fn owner_client(&self) -> Client {
        schema::connect(&self.url_as(schema::OWNER_ROLE))
            .await
            .expect("owner connection")
    }

    /// A raw client as the superuser (to arrange what a DBA would, never to assert isolation).
    pub async fn superuser_client(&self) -> Client {
        schema::connect(&self.superuser_url())
            .await
            .expect("superuser connection")
    }

    /// Until exactly one session of this database waits on a lock, whoever it is (a raw client's
    /// or the server's). Bounded, so that a statement that never waits fails the test instead of
    /// hanging it.
    pub async fn until_one_session_waits_on_a_lock(&self) {
        self.until_sessions_wait_on_a_lock(1).await;
    }

    /// Until exactly `n` sessions of this database wait on a lock ([`Self::until_one_session_waits_on_a_lock`]).
    pub async fn until_sessions_wait_on_a_lock(&self, n: i64) {
        let su = self.superuser_client().await;
        for attempt in 0.. {
            assert!(
                attempt < 3000,
                "{n} sessions never waited on a lock at once"
            );
            let waiting: i64 = su
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity \
                      WHERE datname = $1 AND wait_event_type = 'Lock'",
                    &[&self.name],
                )
                .await
                .expect("count the waiting sessions")
                .get(0);
            if waiting == n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// A billing-role pool (`palisade_billing`), as the server builds it for the Stripe webhook.
    pub fn billing_pool(&self) -> BillingPool {
        BillingPool::new(&PoolSettings {
            url: palisade_domain::Secret::new(self.url_as(schema::BILLING_ROLE)).into(),
            max_size: 4,
            wait_timeout: Duration::from_secs(10),
        })
        .expect("billing pool")
    }

    /// An app-role pool of `size` connections.
    pub fn app_pool(&self, size: usize) -> AppPool {
        AppPool::new(&PoolSettings {
            url: palisade_domain::Secret::new(self.url_as(TEST_APP_LOGIN_ROLE)).into(),
            max_size: size,
            wait_timeout: Duration::from_secs(10),
        })
        .expect("pool")
    }

    /// An app-role pool of `size` connections split into shards for `workers` threads and one
    /// for every other thread, as the server builds it ([`AppPool::sharded`]).
    pub fn app_pool_sharded(&self, size: usize, workers: usize) -> AppPool {
        AppPool::sharded(
            &PoolSettings {
                url: palisade_domain::Secret::new(self.url_as(TEST_APP_LOGIN_ROLE)).into(),
                max_size: size,
                wait_timeout: Duration::from_secs(10),
            },
            workers,
        )
        .expect("pool")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let roles = std::mem::take(self.roles.get_mut().unwrap_or_else(|e| e.into_inner()));
        let url = cluster().superuser_url("postgres");
        // Drop from a plain thread: the test's runtime may be shutting down.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let su = schema::connect(&url).await.ok()?;
                // End its sessions first: a failed test may leave one idle in a transaction
                // that holds a lock on the database itself (ALTER DATABASE ... SET), which DROP
                // DATABASE waits for before FORCE ends anything, forever (its client's runtime
                // is gone with the test).
                su.execute(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
                      WHERE datname = $1 AND pid <> pg_backend_pid()",
                    &[&name],
                )
                .await
                .ok()?;
                su.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .ok()?;
                for role in &roles {
                    let _ = su
                        .batch_execute(&format!("DROP ROLE IF EXISTS \"{role}\""))
                        .await;
                }
                Some(())
            })
        })
        .join();
    }
}

/// The application, serving on 127.0.0.1 over a database of its own.
pub struct TestApp {
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// Its database, shared with any other instance started over it (dropped with the last).
    pub db: Arc<TestDb>,
    /// The app pool it serves from (tests inspect it; handlers only reach it via TenantTx).
    pub pool: AppPool,
    /// The keys it signs tokens with, to mint odd tokens in tests.
    pub tokens: TokenKeys,
    /// The application's clock: it stands at the time the app started until a test moves it
    /// (`app.clock.advance(..)`), so expiry, quarantine and throttling are tested without sleeping.
    pub clock: ManualClock,
    /// The SMTP server the app's mailer delivers to: every mail it sent is here.
    pub smtp: SmtpServer,
    /// `127.0.0.1:<port>` of its Prometheus metrics, when the test configured a metrics address
    /// (`spawn_app_configured(|c| c.metrics_addr = Some("127.0.0.1:0".into()))`).
    pub metrics_addr: Option<String>,
    handle: actix_web::dev::ServerHandle,
}

/// The sender address of test apps' mail.
pub const TEST_MAIL_FROM: &str = "Palisade Test <palisade@palisade.test>";
/// The password [`TestApp::add_user`] gives the people it adds.
pub const MEMBER_PASSWORD: &str = "another correct horse battery";

/// Starts the application with a pool of `pool_size` connections and the Stripe webhook
/// configured. Call from `#[actix_web::test]`.
pub async fn spawn_app_with_pool(pool_size: usize) -> TestApp {
    started(try_spawn_app(pool_size, test_stripe_setup).await)
}

/// The Stripe webhook of test servers: a billing pool over `db` and
/// [`TEST_STRIPE_WEBHOOK_SECRET`].
fn test_stripe_setup(db: &TestDb) -> Option<StripeSetup> {
    Some(StripeSetup::new(
        db.billing_pool(),
        palisade_domain::Secret::new(TEST_STRIPE_WEBHOOK_SECRET),
    ))
}

/// Installs the test process's subscriber, once: the server's lines go to the output of the
/// test that logged them (as `RUST_LOG` filters, warnings and errors by default) and into the
/// capture [`logs::of`] reads (see [`logs`]).
fn log_to_test_output() {
    logs::install();
}

/// The application that started, or the test stops saying why it did not.
fn started(app: Result<TestApp, StartupError>) -> TestApp {
    app.unwrap_or_else(|e| panic!("startup: {e}"))
}

/// Starts the application with the Stripe setup `stripe` builds for the test database (`None`:
/// Stripe not configured), or says why it refused to start.
pub async fn try_spawn_app(
    pool_size: usize,
    stripe: impl FnOnce(&TestDb) -> Option<StripeSetup>,
) -> Result<TestApp, StartupError> {
    let db = Arc::new(TestDb::new().await);
    try_spawn_app_on_configured(db, pool_size, stripe, |_| {}).await
}

/// Starts an instance of the application over an existing database `db` (another server of the
/// same deployment, or a restarted one): its own pool, listener and process state, the same
/// configuration as [`spawn_app`] (Stripe configured), 4 connections.
pub async fn spawn_app_on(db: Arc<TestDb>) -> TestApp {
    started(try_spawn_app_on_configured(db, 4, test_stripe_setup, |_| {}).await)
}

/// Starts the application like [`spawn_app`], after `configure` has changed its configuration
/// (e.g. tight rate limits, trusted proxies). Test apps otherwise run with
/// [`RateLimits::generous`], which no test reaches, and no trusted proxy.
pub async fn spawn_app_configured(configure: impl FnOnce(&mut AppConfig)) -> TestApp {
    let db = Arc::new(TestDb::new().await);
    started(try_spawn_app_on_configured(db, 4, test_stripe_setup, configure).await)
}

/// [`try_spawn_app`] over an existing database, after `configure` has changed the
/// configuration.
pub async fn try_spawn_app_on_configured(
    db: Arc<TestDb>,
    pool_size: usize,
    stripe: impl FnOnce(&TestDb) -> Option<StripeSetup>,
    configure: impl FnOnce(&mut AppConfig),
) -> Result<TestApp, StartupError> {
    let pool = db.app_pool(pool_size);
    try_spawn_app_with_pool(db, pool, stripe, configure).await
}

/// [`try_spawn_app_on_configured`] with an app pool of the test's own (e.g. one that re-reads
/// its credential from a file, as a server with `PALISADE_APP_DATABASE_URL_FILE` does).
pub async fn try_spawn_app_with_pool(
    db: Arc<TestDb>,
    pool: AppPool,
    stripe: impl FnOnce(&TestDb) -> Option<StripeSetup>,
    configure: impl FnOnce(&mut AppConfig),
) -> Result<TestApp, StartupError> {
    log_to_test_output();
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let smtp = SmtpServer::start().await;
    let mut config = AppConfig {
        http_addr: "127.0.0.1:0".into(),
        jwt_secret: TEST_JWT_SECRET.to_vec(),
        jwt_verify_secret: None,
        token_ttl: Duration::from_secs(3600),
        session_max: TokenKeys::DEFAULT_SESSION_MAX,
        workers: Some(1),
        slow_request: palisade_api::telemetry::SlowRequest::default(),
        webhooks: test_webhook_config(),
        stripe: stripe(&db),
        clock: Arc::new(clock.clone()),
        rate_limits: RateLimits::generous(),
        trusted_proxies: TrustedProxies::none(),
        mailer: palisade_api::mail::Mailer::smtp(&smtp.url(), TEST_MAIL_FROM)
            .expect("the test SMTP URL"),
        accounts: palisade_api::AccountSettings::default(),
        number_quarantine: TEST_NUMBER_QUARANTINE,
        cors: palisade_api::cors::CorsOrigins::none(),
        metrics_addr: None,
        organization_deletion: palisade_api::DeletionLimits::default(),
    };
    configure(&mut config);
    let app = Application::build(&config, pool.clone()).await?;
    let addr = format!("127.0.0.1:{}", app.port());
    let metrics_addr = app.metrics_port().map(|port| format!("127.0.0.1:{port}"));
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    Ok(TestApp {
        addr,
        db,
        pool,
        tokens: TokenKeys::new(TEST_JWT_SECRET, Duration::from_secs(3600)).expect("keys"),
        clock,
        smtp,
        metrics_addr,
        handle,
    })
}

/// Starts the application with a pool of 4 connections.
pub async fn spawn_app() -> TestApp {
    spawn_app_with_pool(4).await
}

/// [`spawn_app`] and the owner of an organization signed up on it as `org`: most tests' opening.
pub async fn spawn_app_with_owner(org: &str) -> (TestApp, Account) {
    let app = spawn_app().await;
    let owner = app.signup(org).await;
    (app, owner)
}

/// [`spawn_app_with_owner`] and an admin and a member of the same organization (added by
/// invitation): the opening of the tests of who may do what.
pub async fn spawn_app_with_team(org: &str) -> (TestApp, Account, Account, Account) {
    let (app, owner) = spawn_app_with_owner(org).await;
    let admin = app.add_user(&owner, palisade_domain::Role::Admin).await;
    let member = app.add_user(&owner, palisade_domain::Role::Member).await;
    (app, owner, admin, member)
}

/// A signed-up organization with its owner's credentials.
#[derive(Debug, Clone)]
pub struct Account {
    /// Bearer token of the owner.
    pub token: String,
    /// The organization.
    pub org_id: String,
    /// The owner.
    pub user_id: String,
    /// Login email.
    pub email: String,
    /// Login password.
    pub password: String,
    /// Their role in the organization.
    pub role: palisade_domain::Role,
}

impl TestApp {
    /// Another instance of the application over this one's database, as a second server of the
    /// same deployment: nothing shared with this one but the database. (For a restarted server:
    /// keep `Arc::clone(&app.db)`, drop `app`, then [`spawn_app_on`].)
    pub async fn spawn_instance(&self) -> TestApp {
        spawn_app_on(Arc::clone(&self.db)).await
    }

    /// Sends a request; `body` is sent as JSON when given.
    ///
    /// Every 201 that comes back through here is checked against the API's contract
    /// (docs/api.md): it carries a `Location` that, read with the same credential, answers 200
    /// with the created resource's id. The exceptions are the creates with no URL of their own
    /// (chat messages and analytics events are read through their lists; a signup's Location is
    /// the organization).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> TestResponse {
        self.call_with(method, path, token, body, &[]).await
    }

    /// [`TestApp::call`] with more request headers (`Idempotency-Key`, `If-Match`, ...).
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
        extra: &[(&str, &str)],
    ) -> TestResponse {
        let auth = token.map(|t| t.auth_headers()).unwrap_or_default();
        self.call_authenticated(method, path, &auth, body, extra)
            .await
    }

    /// Sends a request with the authentication headers `auth`; checks every 201 as
    /// [`TestApp::call`] says.
    async fn call_authenticated(
        &self,
        method: &str,
        path: &str,
        auth: &[(&'static str, String)],
        body: Option<&serde_json::Value>,
        extra: &[(&str, &str)],
    ) -> TestResponse {
        let response = self.send(method, path, auth, body, extra).await;
        if method == "POST" && response.status == 201 {
            Box::pin(self.check_location(path, auth, &response)).await;
        }
        response
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        auth: &[(&'static str, String)],
        body: Option<&serde_json::Value>,
        extra: &[(&str, &str)],
    ) -> TestResponse {
        let body = body.map(|b| b.to_string());
        let mut headers: Vec<(&str, String)> = extra
            .iter()
            .map(|(name, value)| (*name, (*value).to_owned()))
            .collect();
        headers.extend(auth.iter().cloned());
        if body.is_some() {
            headers.push(("Content-Type", "application/json".into()));
        }
        request(
            &self.addr,
            method,
            path,
            &headers,
            body.as_deref().map(str::as_bytes),
        )
        .await
    }

    async fn check_location(
        &self,
        path: &str,
        auth: &[(&'static str, String)],
        created: &TestResponse,
    ) {
        let without_location = (path.starts_with("/v1/chat/conversations/")
            && path.ends_with("/messages"))
            || path.starts_with("/v1/analytics/events");
        let location = created.header("location");
        if without_location {
            assert_eq!(location, None, "POST {path}: unexpected Location");
            return;
        }
        let Some(location) = location else {
            panic!(
                "POST {path} answered 201 without a Location: {}",
                created.text
            );
        };
        if path == "/v1/auth/signup" {
            assert_eq!(location, "/v1/organization");
            return;
        }
        // Accepting an invitation creates the caller's membership; read it with the new token.
        let auth = match created.json["token"].as_str() {
            Some(token) => token.auth_headers(),
            None => auth.to_vec(),
        };
        let id = created.json["id"]
            .as_str()
            .or(created.json["api_key"]["id"].as_str())
            .or(created.json["webhook"]["id"].as_str())
            .or(created.json["user_id"].as_str())
            .unwrap_or_else(|| panic!("POST {path}: a 201 body without an id: {}", created.text));
        assert!(
            location.ends_with(&format!("/{id}")),
            "POST {path}: Location {location} is not the created resource {id}"
        );
        let read = self.send("GET", location, &auth, None, &[]).await;
        assert_eq!(
            read.status, 200,
            "GET {location} (from POST {path}): {}",
            read.text
        );
        let read_id = read.json["id"]
            .as_str()
            .or(read.json["user_id"].as_str())
            .or(read.json["api_key"]["id"].as_str());
        assert_eq!(read_id, Some(id), "GET {location}: {}", read.text);
    }

    /// Posts a Twilio webhook: `params` form-encoded, signed with [`TEST_TWILIO_AUTH_TOKEN`]
    /// over [`TEST_PUBLIC_BASE_URL`] + `path_and_query`, as Twilio would.
    pub async fn twilio(&self, path_and_query: &str, params: &[(&str, &str)]) -> TestResponse {
        let url = format!("{TEST_PUBLIC_BASE_URL}{path_and_query}");
        self.twilio_signed_as(path_and_query, params, TEST_TWILIO_AUTH_TOKEN, &url)
            .await
    }

    /// [`TestApp::twilio`] with a chosen token and signed URL (to test refusals).
    pub async fn twilio_signed_as(
        &self,
        path_and_query: &str,
        params: &[(&str, &str)],
        token: &str,
        signed_url: &str,
    ) -> TestResponse {
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let signature = sign_twilio(token, signed_url, &owned);
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        request(
            &self.addr,
            "POST",
            path_and_query,
            &[
                (
                    "Content-Type",
                    "application/x-www-form-urlencoded".to_owned(),
                ),
                ("X-Twilio-Signature", signature),
            ],
            Some(body.as_bytes()),
        )
        .await
    }

    /// Signs up a new organization named `org`, with a unique owner email, and verifies that
    /// email as its owner would: with the link of the mail signup sent.
    pub async fn signup(&self, org: &str) -> Account {
        let account = self.signup_unverified(org).await;
        self.verify_signup_email(&account.token, &account.email)
            .await;
        account
    }

    /// Verifies `email` as its owner would after signing up, signed in with `session`: with the
    /// link of the last mail sent to it, which must be signup's (or a newer verification link).
    pub async fn verify_signup_email(&self, session: &str, email: &str) {
        let token = self
            .last_mail_to(email)
            .await
            .link_token("/verify-email")
            .expect("a verification link in the signup mail");
        let body = serde_json::json!({ "token": token });
        let r = self
            .call("POST", "/v1/me/confirm-email", Some(session), Some(&body))
            .await;
        assert_eq!(
            r.status, 204,
            "verifying the owner's email failed: {}",
            r.text
        );
    }

    /// Signs up a new organization named `org`, with a unique owner email left unverified (the
    /// verification mail is sent; nobody opens it).
    pub async fn signup_unverified(&self, org: &str) -> Account {
        let email = format!("owner-{}@example.com", uuid::Uuid::new_v4().simple());
        let password = "correct horse battery staple".to_owned();
        let body = serde_json::json!({"organization_name": org, "name": "Owner", "email": email, "password": password});
        let r = self
            .call("POST", "/v1/auth/signup", None, Some(&body))
            .await;
        assert_eq!(r.status, 201, "signup failed: {}", r.text);
        Account {
            token: r.json["token"].as_str().expect("token").to_owned(),
            org_id: r.json["organization_id"].as_str().expect("org").to_owned(),
            user_id: r.json["user_id"].as_str().expect("user").to_owned(),
            email,
            password,
            role: palisade_domain::Role::Owner,
        }
    }

    /// Adds a person with `role` to `account`'s organization as a client would: `account` (an
    /// owner or admin) invites a fresh email, the invitee takes the token from the mail and
    /// accepts with their own password ([`MEMBER_PASSWORD`]). Returns their logged-in account.
    pub async fn add_user(&self, account: &Account, role: palisade_domain::Role) -> Account {
        let email = format!(
            "{}-{}@example.com",
            role.as_str(),
            uuid::Uuid::new_v4().simple()
        );
        let r = self.invite(account, &email, role.as_str()).await;
        assert_eq!(r.status, 201, "invitation failed: {}", r.text);
        let token = self.invitation_token(&email).await;
        let r = self
            .accept_invitation(&token, "Added", MEMBER_PASSWORD)
            .await;
        assert_eq!(r.status, 201, "accepting the invitation failed: {}", r.text);
        Account {
            token: r.json["token"].as_str().expect("token").to_owned(),
            org_id: r.json["organization_id"].as_str().expect("org").to_owned(),
            user_id: r.json["user_id"].as_str().expect("user").to_owned(),
            email,
            password: MEMBER_PASSWORD.to_owned(),
            role,
        }
    }

    /// `POST /v1/invitations` as `by`.
    pub async fn invite(&self, by: &Account, email: &str, role: &str) -> TestResponse {
        let body = serde_json::json!({"email": email, "role": role});
        self.call("POST", "/v1/invitations", Some(&by.token), Some(&body))
            .await
    }

    /// The newest mail the app sent to `email`, waiting for the first one if none has arrived.
    pub async fn last_mail_to(&self, email: &str) -> ReceivedMail {
        self.smtp
            .wait_for(email, 1)
            .await
            .pop()
            .expect("at least one mail")
    }

    /// The token of the newest invitation link mailed to `email`.
    pub async fn invitation_token(&self, email: &str) -> String {
        self.last_mail_to(email)
            .await
            .link_token("/accept-invitation")
            .expect("an invitation link in the mail")
    }

    /// `POST /v1/auth/accept-invitation`.
    pub async fn accept_invitation(&self, token: &str, name: &str, password: &str) -> TestResponse {
        let body = serde_json::json!({"token": token, "name": name, "password": password});
        self.call("POST", "/v1/auth/accept-invitation", None, Some(&body))
            .await
    }

    /// `POST /v1/auth/login`.
    pub async fn login(&self, email: &str, password: &str) -> TestResponse {
        let body = serde_json::json!({"email": email, "password": password});
        self.call("POST", "/v1/auth/login", None, Some(&body)).await
    }

    /// `POST /v1/auth/request-password-reset`.
    pub async fn request_password_reset(&self, email: &str) -> TestResponse {
        let body = serde_json::json!({"email": email});
        self.call("POST", "/v1/auth/request-password-reset", None, Some(&body))
            .await
    }

    /// The token of the reset link in the `nth` (1-based) mail to `email` that holds one,
    /// waiting for it (a signup's verification mail may have come first).
    pub async fn reset_token(&self, email: &str, nth: usize) -> String {
        self.nth_mail_with_link(email, "/reset-password", nth)
            .await
            .link_token("/reset-password")
            .expect("a reset link in the mail")
    }

    /// The `nth` (1-based) mail to `email` holding a link to `path`, waiting for it.
    pub async fn nth_mail_with_link(&self, email: &str, path: &str, nth: usize) -> ReceivedMail {
        let mut count = nth;
        loop {
            let all = self.smtp.wait_for(email, count).await;
            let mut with: Vec<ReceivedMail> = all
                .iter()
                .filter(|m| m.link_token(path).is_some())
                .cloned()
                .collect();
            if with.len() >= nth {
                return with.swap_remove(nth - 1);
            }
            count = all.len() + 1;
        }
    }

    /// `POST /v1/auth/reset-password`.
    pub async fn reset_password(&self, token: &str, new_password: &str) -> TestResponse {
        let body = serde_json::json!({"token": token, "new_password": new_password});
        self.call("POST", "/v1/auth/reset-password", None, Some(&body))
            .await
    }

    /// Posts `body` to `POST /webhooks/stripe` with `signature` as the `Stripe-Signature` header
    /// (`None`: no header).
    pub async fn post_stripe(&self, body: &[u8], signature: Option<String>) -> TestResponse {
        let mut headers = vec![("Content-Type", "application/json; charset=utf-8".to_owned())];
        if let Some(s) = signature {
            headers.push(("Stripe-Signature", s));
        }
        request(&self.addr, "POST", "/webhooks/stripe", &headers, Some(body)).await
    }

    /// Posts `body` to `POST /webhooks/stripe` signed as Stripe would, now, with
    /// [`TEST_STRIPE_WEBHOOK_SECRET`].
    pub async fn stripe_webhook(&self, body: &[u8]) -> TestResponse {
        let header = stripe_signature_header(TEST_STRIPE_WEBHOOK_SECRET, unix_now(), body);
        self.post_stripe(body, Some(header)).await
    }

    /// As the operator would (`palisade numbers add`, as the owner role, never the app role):
    /// puts `numbers` into the platform's inventory, each with its capabilities.
    pub async fn stock_numbers(&self, numbers: &[(&str, &[&str])]) {
        let mut owner = self.db.owner_client().await;
        let entries: Vec<palisade_db::phone_inventory::InventoryEntry> = numbers
            .iter()
            .map(|(n, caps)| palisade_db::phone_inventory::InventoryEntry {
                number: palisade_domain::PhoneNumber::parse(n).expect("an E.164 number"),
                capabilities: palisade_domain::Capabilities::parse(
                    &caps.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>(),
                )
                .expect("capabilities"),
            })
            .collect();
        palisade_db::phone_inventory::load(&mut owner, &entries)
            .await
            .expect("stock the inventory");
    }

    /// `POST /v1/phone-numbers` for `account`: claims `number` from the inventory (with all the
    /// capabilities it has there) and returns the answer, whatever it is.
    pub async fn claim(&self, account: &Account, number: &str) -> TestResponse {
        self.call(
            "POST",
            "/v1/phone-numbers",
            Some(&account.token),
            Some(&serde_json::json!({ "number": number })),
        )
        .await
    }

    /// The usual way a test organization gets a number: the operator stocks a fresh one with
    /// `capabilities`, and `account` claims it over HTTP. Returns the number.
    pub async fn claim_number(&self, account: &Account, capabilities: &[&str]) -> String {
        let number = unique_number();
        self.stock_numbers(&[(&number, capabilities)]).await;
        let r = self.claim(account, &number).await;
        assert_eq!(r.status, 201, "claim {number}: {}", r.text);
        number
    }

    /// [`TestApp::claim_number`] for a number the test chose (e.g. one it writes in bodies).
    pub async fn claim_this_number(&self, account: &Account, number: &str, capabilities: &[&str]) {
        self.stock_numbers(&[(number, capabilities)]).await;
        let r = self.claim(account, number).await;
        assert_eq!(r.status, 201, "claim {number}: {}", r.text);
    }

    /// Creates a customer for `account` and returns its JSON.
    pub async fn create_customer(
        &self,
        account: &Account,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let r = self
            .call("POST", "/v1/customers", Some(&account.token), Some(&body))
            .await;
        assert_eq!(r.status, 201, "create customer failed: {}", r.text);
        r.json
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sends the stop command; the workers drain and exit on their own.
        drop(self.handle.stop(false));
        self.pool.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::config::{Host, SslMode};

    #[test]
    fn a_password_that_needs_encoding_and_the_given_parameters_survive_a_role_url() {
        let given = "postgresql://su:p%40ss%2F%23%3F%3A@db.test:6543/postgres\
                     ?sslmode=require&user=other&application_name=tests&dbname=other";
        let cfg: tokio_postgres::Config = given.parse().unwrap();
        let password = String::from_utf8_lossy(cfg.get_password().unwrap()).into_owned();
        assert_eq!(password, "p@ss/#?:");
        let address = ServerAddress::parse(given).unwrap();
        let url = address.url("palisade_app_a", Some(&password), "palisade_test_1");
        let built: tokio_postgres::Config = url.parse().unwrap();
        assert_eq!(built.get_user(), Some("palisade_app_a"));
        assert_eq!(built.get_password(), Some(&b"p@ss/#?:"[..]));
        assert_eq!(built.get_dbname(), Some("palisade_test_1"));
        assert_eq!(built.get_hosts(), [Host::Tcp("db.test".into())]);
        assert_eq!(built.get_ports(), [6543]);
        assert_eq!(built.get_ssl_mode(), SslMode::Require);
        assert_eq!(built.get_application_name(), Some("tests"));
        // And palisade's own parser, which every harness connection goes through.
        palisade_db::DbConfig::parse(&url).unwrap();

        let without = address.url("postgres", None, "postgres");
        assert_eq!(
            without,
            "postgresql://postgres@db.test:6543/postgres?sslmode=require&application_name=tests"
        );
        let built: tokio_postgres::Config = without.parse().unwrap();
        assert_eq!(built.get_password(), None);
    }

    #[test]
    fn an_address_keeps_the_hosts_as_written_and_may_have_no_parameters() {
        for (given, hosts, params) in [
            ("postgres://u:p@127.0.0.1:5432/db", "127.0.0.1:5432", ""),
            ("postgresql://u@[::1]:5433", "[::1]:5433", ""),
            (
                "postgresql://a,b:6432?sslmode=disable",
                "a,b:6432",
                "sslmode=disable",
            ),
        ] {
            assert_eq!(
                ServerAddress::parse(given),
                Some(ServerAddress {
                    hosts: hosts.into(),
                    params: params.into()
                }),
                "{given}"
            );
        }
        assert_eq!(ServerAddress::parse("host=h user=u"), None);
    }
}
