//! The embedded default: with neither `DATABASE_URL` nor `DATABASE_URL_FILE`, Palisade runs a
//! private PostgreSQL cluster from the installed server binaries.
//!
//! Layout of `PALISADE_DATA_DIR` (default `./.palisade`):
//! - `pgdata/`: the cluster (owned by the `postgres` OS user when Palisade runs as root);
//! - `secrets.json` (mode 0600): generated passwords of the superuser, the owner, the billing
//!   role and the app's active login role (`app_role`: `palisade_app_a` or `palisade_app_b`), and
//!   the JWT secret. Kept across runs, so tokens and data survive restarts. The server reads the
//!   app's role and password from it again for every new connection, so `palisade
//!   rotate-app-credential` switches a running server over ([`rotate`]). A file written before
//!   `app_role` existed gets `palisade_app_a`.
//! - `secrets.lock`: empty; its lock ([`SecretsLock`]) keeps a rotation from changing the app's
//!   credential while a start applies `secrets.json` to the cluster.
//! - `pg-port`: the cluster's port, kept across restarts (docs/configuration.md, "Embedded
//!   mode").
//! - `webhook-secrets.json` (mode 0600): development secrets of the webhook providers
//!   ([`WebhookDevSecrets`]: Twilio, SendGrid, Mailgun, Stripe), so a developer can sign
//!   requests exactly as the providers do. A key missing from an older file is generated and
//!   the file rewritten (atomically, still 0600).
//!
//! Every start bootstraps (idempotently) and migrates, exactly as on an external server.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use palisade_api::webhooks::signature::SendgridDevSigner;
use palisade_db::UrlSource;
use palisade_db::schema::{APP_LOGIN_ROLES, RolePasswords};
use palisade_pg_embedded::{ClusterOptions, LaunchError, PgBinaries, RunningCluster, local_url};
use serde::{Deserialize, Serialize};

use crate::configuration::{EmbeddedSettings, Secret};

/// The database name inside the embedded cluster.
pub const DATABASE: &str = "palisade";
const SUPERUSER: &str = "postgres";

/// Why the embedded database could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// Finding, initialising or starting PostgreSQL failed.
    #[error(transparent)]
    Launch(#[from] LaunchError),
    /// The data directory or secrets file could not be used.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Where the default data directory goes when the server's OS user cannot reach it: root's own,
/// searchable by everyone, writable by root alone (so no other user can claim a project's name
/// in it first, as one could under /tmp or /var/tmp).
pub const FALLBACK_BASE: &str = "/var/lib/palisade";

/// The embedded data directory to use. `PALISADE_DATA_DIR`, when set, is used as it is (the
/// cluster refuses it with an explanation if the `postgres` OS user cannot reach it). The
/// default `./.palisade` too, unless Palisade runs as root and the `postgres` OS user cannot
/// search a directory above it (a checkout under `/root`): then the cluster and its secrets go to
/// [`fallback_data_dir`], a per-project directory under [`FALLBACK_BASE`], and a warning says
/// where. A default directory that already holds a cluster is never moved away from.
pub fn reachable_data_dir(settings: &mut EmbeddedSettings) -> Result<(), EmbeddedError> {
    if !settings.data_dir_is_default || settings.data_dir.join("pgdata").exists() {
        return Ok(());
    }
    let default = std::path::absolute(&settings.data_dir).map_err(|source| EmbeddedError::Io {
        what: "cannot resolve",
        path: settings.data_dir.clone(),
        source,
    })?;
    // The data directory itself is made searchable (0711) when it is used: what matters is
    // the way to it.
    let holder = default.parent().unwrap_or(Path::new("/"));
    let Some((user, blocked_at)) = palisade_pg_embedded::blocked_for_server_user(holder)? else {
        return Ok(());
    };
    let fallback = fallback_data_dir(&default);
    let base = Path::new(FALLBACK_BASE);
    if !base.exists() {
        fs::create_dir_all(base).map_err(|source| EmbeddedError::Io {
            what: "cannot create",
            path: base.to_path_buf(),
            source,
        })?;
        // Whatever the umask: the server's OS user must search it.
        fs::set_permissions(base, fs::Permissions::from_mode(0o755)).map_err(|source| {
            EmbeddedError::Io {
                what: "cannot set permissions on",
                path: base.to_path_buf(),
                source,
            }
        })?;
    }
    tracing::warn!(
        default = %default.display(),
        %user,
        blocked_at = %blocked_at.display(),
        data_dir = %fallback.display(),
        "the {user} OS user that runs PostgreSQL cannot reach the default data directory: using \
         one it can reach (set PALISADE_DATA_DIR to choose another)"
    );
    settings.data_dir = fallback;
    Ok(())
}

/// `FALLBACK_BASE/<project>-<hash>`: one directory per project directory (the default data
/// directory's parent), named after it so an operator can tell them apart, with a hash of its
/// full path (FNV-1a, stable across builds) so two checkouts of the same name never share one.
pub fn fallback_data_dir(default: &Path) -> PathBuf {
    let project = default.parent().unwrap_or(Path::new("/"));
    let name: String = project
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let hash = fnv1a(project.as_os_str().as_encoded_bytes());
    Path::new(FALLBACK_BASE).join(format!("{name}-{hash:016x}"))
}

/// 64-bit FNV-1a: a hash whose value no compiler or crate version changes.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Generated secrets, kept in `secrets.json`.
#[derive(Clone, Serialize, Deserialize)]
pub struct Secrets {
    /// The cluster superuser's password (bootstrap only).
    pub superuser_password: String,
    /// `palisade_owner`'s password.
    pub owner_password: String,
    /// The app's active login role, `palisade_app_a` or `palisade_app_b` (the other cannot log
    /// in). Missing in files of older versions: `palisade_app_a` then.
    #[serde(default)]
    pub app_role: String,
    /// The active app login role's password.
    pub app_password: String,
    /// `palisade_billing`'s password.
    pub billing_password: String,
    /// The HS256 token secret.
    pub jwt_secret: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

fn random_secret() -> Result<String, std::io::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl Secrets {
    fn generate() -> Result<Self, std::io::Error> {
        Ok(Self {
            superuser_password: random_secret()?,
            owner_password: random_secret()?,
            app_role: APP_LOGIN_ROLES[0].to_owned(),
            app_password: random_secret()?,
            billing_password: random_secret()?,
            jwt_secret: random_secret()?,
        })
    }

    /// The login roles' passwords, for bootstrap.
    pub fn role_passwords(&self) -> RolePasswords {
        RolePasswords {
            owner: self.owner_password.clone(),
            app: self.app_password.clone(),
            app_role: self.app_role(),
            billing: self.billing_password.clone(),
        }
    }

    /// The app's active login role.
    pub fn app_role(&self) -> &'static str {
        APP_LOGIN_ROLES
            .into_iter()
            .find(|r| *r == self.app_role)
            .unwrap_or(APP_LOGIN_ROLES[0])
    }

    /// A file of an older version has no (or an unknown) `app_role`: `palisade_app_a`, whose
    /// password is the old `palisade_app`'s. `true` when the file must be rewritten.
    fn upgrade(&mut self) -> Result<bool, std::io::Error> {
        if APP_LOGIN_ROLES.contains(&self.app_role.as_str()) {
            return Ok(false);
        }
        self.app_role = APP_LOGIN_ROLES[0].to_owned();
        Ok(true)
    }

    fn app_url(&self, port: u16) -> String {
        local_url(port, self.app_role(), &self.app_password, DATABASE)
    }
}

/// Reads `secrets.json` (never creating it).
fn read_secrets(path: &Path) -> Result<Secrets, EmbeddedError> {
    let bytes = fs::read(path).map_err(|source| EmbeddedError::Io {
        what: "cannot read",
        path: path.to_owned(),
        source,
    })?;
    let mut secrets: Secrets = serde_json::from_slice(&bytes).map_err(|e| EmbeddedError::Io {
        what: "cannot parse",
        path: path.to_owned(),
        source: unreadable_json(&e),
    })?;
    secrets.upgrade().map_err(|source| EmbeddedError::Io {
        what: "cannot upgrade",
        path: path.to_owned(),
        source,
    })?;
    Ok(secrets)
}

/// What is wrong with a secrets file's JSON, without any of its values: serde_json's own message
/// can quote one (`invalid type: integer `12345678`, expected a string`, for a numeric
/// password), and this one is printed and logged. Its kind and position only.
fn unreadable_json(e: &serde_json::Error) -> std::io::Error {
    use serde_json::error::Category;
    let kind = match e.classify() {
        Category::Io => "it could not be read",
        Category::Syntax => "it is not valid JSON",
        Category::Eof => "it ends before its JSON does",
        Category::Data => "a value has the wrong type, or a field is missing",
    };
    std::io::Error::other(format!("{kind} (line {}, column {})", e.line(), e.column()))
}

/// Where [`SecretsLock`] is taken, inside the data directory.
const SECRETS_LOCK: &str = "secrets.lock";

/// The lock (`flock`, exclusive) of `secrets.lock` in the data directory, released when dropped
/// or when its process ends. A start holds it from reading the login roles' passwords in
/// `secrets.json` until it has applied them (bootstrap, the other login role disabled:
/// [`role_passwords_held`]), `palisade rotate-app-credential` for its whole run ([`rotate`]),
/// which refuses while another process holds it. Without it, a rotation between the two
/// changed the file a start had read: the start gave LOGIN to the role it had read and disabled
/// the other, which its pool then read from the file, and `serve` exited.
pub struct SecretsLock {
    _file: fs::File,
}

/// Opens (creating it, mode 0600) the data directory's `secrets.lock`.
fn open_secrets_lock(data_dir: &Path) -> Result<fs::File, EmbeddedError> {
    let path = data_dir.join(SECRETS_LOCK);
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|source| EmbeddedError::Io {
            what: "cannot open",
            path,
            source,
        })
}

/// Takes [`SecretsLock`] in `data_dir`. Blocking: waits for the process holding it (a rotation
/// under way, or another start) to end or let go, saying so in a log line first (a rotation
/// suspended with its lock held would otherwise leave a start waiting without a word).
fn lock_secrets(data_dir: &Path) -> Result<SecretsLock, EmbeddedError> {
    let path = data_dir.join(SECRETS_LOCK);
    let file = open_secrets_lock(data_dir)?;
    let failed = |source| EmbeddedError::Io {
        what: "cannot lock",
        path: path.clone(),
        source,
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            tracing::warn!(
                path = %path.display(),
                "waiting for the lock of secrets.json: another palisade process holds it (a rotate-app-credential under way, or another start)"
            );
            file.lock().map_err(failed)?;
        }
        Err(fs::TryLockError::Error(e)) => return Err(failed(e)),
    }
    Ok(SecretsLock { _file: file })
}

/// The login roles' passwords as `secrets.json` in `data_dir` says now, read under
/// [`SecretsLock`], which the caller holds until it has applied them. Blocking: waits for a
/// rotation under way to end.
pub fn role_passwords_held(data_dir: &Path) -> Result<(RolePasswords, SecretsLock), EmbeddedError> {
    let held = lock_secrets(data_dir)?;
    let secrets = read_secrets(&data_dir.join("secrets.json"))?;
    Ok((secrets.role_passwords(), held))
}

/// The data directory's two secrets files, created on the first start, or completed for this
/// version, under [`SecretsLock`]: a rotation writes `secrets.json` under it too, so the two
/// never replace each other's file (a rotation's role lost to an upgrade's rewrite of what it
/// read before) nor share the temporary file beside it.
fn load_secrets_files(data_dir: &Path) -> Result<(Secrets, WebhookDevSecrets), EmbeddedError> {
    let held = lock_secrets(data_dir)?;
    let secrets = load_or_create(
        &data_dir.join("secrets.json"),
        Secrets::generate,
        Secrets::upgrade,
    )?;
    let webhook_secrets = load_or_create(
        &data_dir.join("webhook-secrets.json"),
        WebhookDevSecrets::generate,
        WebhookDevSecrets::fill_missing,
    )?;
    drop(held);
    Ok((secrets, webhook_secrets))
}

/// The app's URL as `secrets.json` says now, read again for each new connection: how a running
/// embedded server follows `palisade rotate-app-credential`.
fn app_url_source(path: PathBuf, port: u16) -> UrlSource {
    UrlSource::Reloading(std::sync::Arc::new(move || {
        read_secrets(&path)
            .map(|secrets| Secret::new(secrets.app_url(port)))
            .map_err(|e| e.to_string())
    }))
}

/// Development values of the webhook providers' secrets, generated on the first start of the
/// embedded default into `webhook-secrets.json`. Each is overridden by its environment variable
/// (docs/configuration.md, "Webhooks"); a production deployment sets those instead. A key missing from the
/// file (written by an older version) is generated on the next start.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct WebhookDevSecrets {
    /// Stands in for `TWILIO_AUTH_TOKEN`.
    #[serde(default)]
    pub twilio_auth_token: String,
    /// Stands in for `MAILGUN_WEBHOOK_SIGNING_KEY`.
    #[serde(default)]
    pub mailgun_signing_key: String,
    /// Stands in for `SENDGRID_WEBHOOK_PUBLIC_KEY` (base64 SPKI, as SendGrid shows it).
    #[serde(default)]
    pub sendgrid_public_key: String,
    /// The matching private key (base64 P-256 scalar), to sign test events as SendGrid would.
    #[serde(default)]
    pub sendgrid_private_key: String,
    /// Stands in for `STRIPE_WEBHOOK_SECRET` (`whsec_...`).
    #[serde(default)]
    pub stripe_webhook_secret: String,
}

impl std::fmt::Debug for WebhookDevSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookDevSecrets(<redacted>)")
    }
}

fn random_hex(len_bytes: usize) -> Result<String, std::io::Error> {
    let mut bytes = vec![0u8; len_bytes];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A development signing secret for the Stripe endpoint, shaped like Stripe's own.
fn stripe_webhook_secret() -> Result<String, std::io::Error> {
    Ok(format!("whsec_{}", random_secret()?))
}

impl WebhookDevSecrets {
    /// Generates every missing value; `true` when something was generated.
    fn fill_missing(&mut self) -> Result<bool, std::io::Error> {
        let mut changed = false;
        // Twilio auth tokens and Mailgun signing keys are 32 hex digits.
        if self.twilio_auth_token.is_empty() {
            self.twilio_auth_token = random_hex(16)?;
            changed = true;
        }
        if self.mailgun_signing_key.is_empty() {
            self.mailgun_signing_key = random_hex(16)?;
            changed = true;
        }
        let pair_ok = SendgridDevSigner::from_scalar_b64(&self.sendgrid_private_key)
            .and_then(|s| s.public_key_b64())
            .is_some_and(|public| public == self.sendgrid_public_key);
        if !pair_ok {
            let signer = SendgridDevSigner::generate()
                .ok_or_else(|| std::io::Error::other("cannot generate a P-256 key"))?;
            self.sendgrid_public_key = signer
                .public_key_b64()
                .ok_or_else(|| std::io::Error::other("cannot encode a P-256 public key"))?;
            self.sendgrid_private_key = signer.scalar_b64();
            changed = true;
        }
        if self.stripe_webhook_secret.is_empty() {
            self.stripe_webhook_secret = stripe_webhook_secret()?;
            changed = true;
        }
        Ok(changed)
    }

    fn generate() -> Result<Self, std::io::Error> {
        let mut fresh = Self::default();
        fresh.fill_missing()?;
        Ok(fresh)
    }
}

/// Loads `path`, or creates it with `generate` (mode 0600) on first use. On load, `upgrade`
/// may fill in what an older version did not write; the file is then rewritten atomically.
fn load_or_create<T: Serialize + serde::de::DeserializeOwned>(
    path: &Path,
    generate: impl FnOnce() -> Result<T, std::io::Error>,
    upgrade: impl FnOnce(&mut T) -> Result<bool, std::io::Error>,
) -> Result<T, EmbeddedError> {
    let io = |what, source| EmbeddedError::Io {
        what,
        path: path.to_owned(),
        source,
    };
    match fs::read(path) {
        Ok(bytes) => {
            let mut secrets: T = serde_json::from_slice(&bytes).map_err(|e| {
                io(
                    "cannot parse (delete it only together with pgdata/)",
                    unreadable_json(&e),
                )
            })?;
            if upgrade(&mut secrets).map_err(|e| io("cannot generate secrets for", e))? {
                write_secrets(path, &secrets, false)?;
                tracing::info!(path = %path.display(), "added newly needed secrets to the file");
            }
            Ok(secrets)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secrets = generate().map_err(|e| io("cannot generate secrets for", e))?;
            write_secrets(path, &secrets, true)?;
            Ok(secrets)
        }
        Err(e) => Err(io("cannot read", e)),
    }
}

/// Writes `secrets` to `path` with mode 0600: created exclusively when `new`, otherwise written
/// to a temporary file beside it and renamed over it, so a crash never leaves half a file.
fn write_secrets<T: Serialize>(path: &Path, secrets: &T, new: bool) -> Result<(), EmbeddedError> {
    let io = |what, source| EmbeddedError::Io {
        what,
        path: path.to_owned(),
        source,
    };
    let json = serde_json::to_vec_pretty(secrets)
        .map_err(|e| io("cannot encode", std::io::Error::other(e.to_string())))?;
    let target = if new {
        path.to_owned()
    } else {
        path.with_extension("json.tmp")
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if new {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    let mut file = options.open(&target).map_err(|e| io("cannot create", e))?;
    file.write_all(&json).map_err(|e| io("cannot write", e))?;
    file.sync_all().map_err(|e| io("cannot write", e))?;
    if !new {
        fs::rename(&target, path).map_err(|e| io("cannot replace", e))?;
    }
    Ok(())
}

/// An embedded cluster that another `palisade` process (e.g. the server) is already running from
/// this data directory, and how to reach it. `palisade audit` reads it instead of starting a
/// second server on the same files, which PostgreSQL would refuse.
pub struct AttachedDb {
    port: u16,
    secrets: Secrets,
}

impl AttachedDb {
    /// The cluster under `settings.data_dir` if its server is up: `pgdata/postmaster.pid` names
    /// a live process that is that `pgdata`'s postmaster (`postmaster_runs_in`: its working
    /// directory, or where that cannot be read, its and its port's socket's owner; on Linux,
    /// elsewhere never), says it is `ready`, and names its port, where something accepts
    /// connections. `None` otherwise.
    ///
    /// The superuser's and the owner's passwords are sent to that port, so a port alone is not
    /// enough: after an unclean stop, `postmaster.pid` stays behind, and any local user could
    /// listen on the port it names and ask for the password in clear text (the embedded
    /// cluster asks for SCRAM, which never sends it, but the driver answers whatever the server
    /// asks for). A live postmaster in that data directory holds its port, so nobody else can
    /// listen there.
    pub fn find(settings: &EmbeddedSettings) -> Result<Option<Self>, EmbeddedError> {
        let pgdata = settings.data_dir.join("pgdata");
        let Ok(text) = fs::read_to_string(pgdata.join("postmaster.pid")) else {
            return Ok(None);
        };
        let Some(port) = running_postmaster_port(&text, &pgdata) else {
            return Ok(None); // A stale file: the server is not running.
        };
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1)).is_err() {
            return Ok(None);
        }
        let path = settings.data_dir.join("secrets.json");
        let secrets = read_secrets(&path)?;
        Ok(Some(Self { port, secrets }))
    }

    /// The superuser's URL. Percent-encoded, as every URL here: the generated passwords are
    /// URL-safe base64, but an operator may change one by hand in `secrets.json`
    /// (docs/dba.md, "Rotating passwords").
    pub fn superuser_url(&self) -> String {
        local_url(
            self.port,
            SUPERUSER,
            &self.secrets.superuser_password,
            "postgres",
        )
    }

    /// The owner role's URL to the Palisade database.
    pub fn owner_url(&self) -> String {
        local_url(
            self.port,
            palisade_db::schema::OWNER_ROLE,
            &self.secrets.owner_password,
            DATABASE,
        )
    }

    /// The app's active login role's URL to the Palisade database.
    pub fn app_url(&self) -> String {
        self.secrets.app_url(self.port)
    }
}

/// The port of the postmaster that `postmaster.pid` (its text, `pid_file`) describes, if that
/// postmaster is running in `pgdata` and ready. The file's lines: 1 the pid, 4 the port, 8 the
/// status (`ready`, `starting`, `stopping`, `standby`: PostgreSQL's `pidfile.h`).
fn running_postmaster_port(pid_file: &str, pgdata: &Path) -> Option<u16> {
    let lines: Vec<&str> = pid_file.lines().map(str::trim).collect();
    let pid = lines.first()?.parse::<u32>().ok().filter(|p| *p > 0)?;
    let port = lines.get(3)?.parse::<u16>().ok().filter(|p| *p > 0)?;
    if *lines.get(7)? != "ready" || !postmaster_runs_in(pid, port, pgdata) {
        return None;
    }
    Some(port)
}

/// Whether `postmaster.pid` (its text) names a live process of `pgdata`'s owner that could not
/// be verified as its postmaster nor ruled out: its working directory cannot be read (a
/// container's root without `CAP_SYS_PTRACE`) and the socket on its port is not that user's.
/// A process found elsewhere, of another user, or gone, is not one (a stale file).
fn names_an_unverifiable_process(pid_file: &str, pgdata: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let Some(pid) = pid_file
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<u32>().ok())
        .filter(|pid| *pid > 0)
    else {
        return false;
    };
    fs::metadata(pgdata).is_ok_and(|m| Observed::of(pid, None).is_unverifiable(m.uid()))
}

/// Whether process `pid` is alive and the postmaster of `pgdata`, listening on `port`. Its
/// working directory is `pgdata` (a postmaster changes into its data directory at start, and
/// nobody but its OS user, or root, may enter it: mode 0700), read from `/proc/<pid>/cwd`; that
/// link is readable by the process's OS user, and by root only with `CAP_SYS_PTRACE`, which a
/// container's root lacks by default. Where it cannot be read for that reason (permission
/// denied), the process must instead run as the OS user that owns `pgdata`, and so must the
/// socket listening on `127.0.0.1:port` (`/proc/<pid>` and `/proc/net/tcp`, readable by all):
/// another local user can own neither. On a system without `/proc` (Palisade's embedded mode
/// runs on Linux) nothing is verified: the command never attaches, and starting the cluster
/// itself then fails on PostgreSQL's lock instead.
fn postmaster_runs_in(pid: u32, port: u16, pgdata: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let observed = Observed::of(pid, Some(port));
    match fs::metadata(pgdata).and_then(|m| Ok((m.uid(), fs::canonicalize(pgdata)?))) {
        Ok((owner, pgdata)) => observed.is_postmaster_of(&pgdata, owner),
        Err(_) => false,
    }
}

/// What `/proc` says of a process and of the socket on its port ([`postmaster_runs_in`]).
struct Observed {
    /// `/proc/<pid>/cwd`, resolved.
    cwd: std::io::Result<PathBuf>,
    /// The owner of `/proc/<pid>`: `None` when the process is gone.
    process_uid: Option<u32>,
    /// The owner of the socket listening on `127.0.0.1:<port>` (or every address).
    listener_uid: Option<u32>,
}

impl Observed {
    /// What `/proc` says now of process `pid`, and of the socket listening on `port` if given.
    fn of(pid: u32, port: Option<u16>) -> Self {
        use std::os::unix::fs::MetadataExt as _;
        Self {
            cwd: fs::read_link(format!("/proc/{pid}/cwd")).and_then(fs::canonicalize),
            process_uid: fs::metadata(format!("/proc/{pid}")).map(|m| m.uid()).ok(),
            listener_uid: port.and_then(|port| {
                let table = fs::read_to_string("/proc/net/tcp").ok()?;
                loopback_listener_uid(&table, port)
            }),
        }
    }

    /// A live process of `owner_uid` whose working directory cannot be read.
    fn is_unverifiable(&self, owner_uid: u32) -> bool {
        self.process_uid == Some(owner_uid)
            && matches!(&self.cwd, Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied)
    }

    fn is_postmaster_of(&self, pgdata: &Path, owner_uid: u32) -> bool {
        if self.process_uid.is_none() {
            return false; // Gone: a stale file.
        }
        match &self.cwd {
            Ok(cwd) => cwd == pgdata,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                self.process_uid == Some(owner_uid) && self.listener_uid == Some(owner_uid)
            }
            Err(_) => false,
        }
    }
}

/// The uid of the socket in `table` (the text of `/proc/net/tcp`) listening on port `port` of
/// 127.0.0.1 (the embedded cluster's `listen_addresses`, and where the commands connect) or of
/// every address. Not another loopback address: anyone may listen on `127.0.0.2:<port>` beside
/// the postmaster, listed before it. Its lines: `sl local_address rem_address st ... uid ...`, the
/// address as the kernel holds it (network order, printed as a native number) and the port in
/// hex, `st` 0A for LISTEN.
fn loopback_listener_uid(table: &str, port: u16) -> Option<u32> {
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (addr, local_port) = fields.get(1)?.split_once(':')?;
        let addr = u32::from_str_radix(addr, 16).ok()?;
        let ip = std::net::Ipv4Addr::from(addr.to_ne_bytes());
        let listening = *fields.get(3)? == "0A"
            && u16::from_str_radix(local_port, 16).ok()? == port
            && (ip == std::net::Ipv4Addr::LOCALHOST || ip.is_unspecified());
        if listening {
            fields.get(7)?.parse().ok()
        } else {
            None
        }
    })
}

/// How the operator commands (`audit`, `numbers`) reach an embedded cluster.
pub struct ClusterUrls {
    /// The owner role's URL to the Palisade database.
    pub owner: Secret,
    /// The superuser's URL (the audit's drift check).
    pub superuser: Secret,
}

/// Runs `body` on the embedded cluster under `settings.data_dir`, for the operator commands
/// (`audit`, `numbers`): where a running `palisade` serves the cluster, on it; otherwise the
/// cluster is started for `body` and stopped afterwards. Never creates or migrates one.
pub fn on_embedded_cluster<T>(
    settings: &EmbeddedSettings,
    body: impl FnOnce(ClusterUrls) -> Result<T, String>,
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
        return body(ClusterUrls {
            owner: Secret::new(attached.owner_url()),
            superuser: Secret::new(attached.superuser_url()),
        });
    }
    let db = EmbeddedDb::start(settings).map_err(|e| e.to_string())?;
    let result = body(ClusterUrls {
        owner: Secret::new(db.owner_url()),
        superuser: Secret::new(db.superuser_url()),
    });
    if let Err(e) = db.stop() {
        tracing::error!(error = %e, "could not stop the embedded PostgreSQL cleanly");
    }
    result
}

/// Where the embedded cluster's port is kept, inside the data directory.
const PORT_FILE: &str = "pg-port";

/// The port to start on: `PALISADE_PG_PORT` when set; otherwise the one of the last start (in
/// `pg-port`) while it is free; otherwise `None` (a free one, said loudly when it replaces the
/// remembered one: the docs and the operator's psql line name the port).
fn port_to_use(configured: Option<u16>, port_file: &Path) -> Option<u16> {
    if configured.is_some() {
        return configured;
    }
    let remembered = fs::read_to_string(port_file)
        .ok()?
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)?;
    match std::net::TcpListener::bind(("127.0.0.1", remembered)) {
        Ok(probe) => {
            drop(probe);
            Some(remembered)
        }
        Err(e) => {
            tracing::warn!(
                port = remembered,
                error = %e,
                "the embedded PostgreSQL's port of the last start is taken (by another program?); \
                 starting on another free port, which the log names and the next start keeps. Set \
                 PALISADE_PG_PORT to choose one"
            );
            None
        }
    }
}

/// What `palisade rotate-app-credential` did in embedded mode.
pub enum EmbeddedRotation {
    /// The running server's cluster: rotated live, the server switched over.
    Live(palisade_db::rotation::Rotated),
    /// No server was running: `secrets.json` names the other role with a new password, which
    /// the next start applies (and disables the old role).
    AtNextStart {
        /// The role the next start logs in as.
        new_role: &'static str,
    },
}

/// `palisade rotate-app-credential` in embedded mode. With the server running on this data
/// directory: [`palisade_db::rotation::rotate_app_login`] as the cluster's superuser, publishing
/// the new role and password into `secrets.json`, which the server reads for each new
/// connection. Without: only `secrets.json` changes, and the next start applies it.
pub fn rotate(
    settings: &EmbeddedSettings,
    drain_timeout: std::time::Duration,
) -> Result<EmbeddedRotation, String> {
    let path = settings.data_dir.join("secrets.json");
    // Read first: a data directory without one is refused as before, and nothing is created.
    read_secrets(&path).map_err(|e| e.to_string())?;
    let lock = open_secrets_lock(&settings.data_dir).map_err(|e| e.to_string())?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            return Err(format!(
                "another palisade process holds {}: a start applying secrets.json to the cluster, \
                 or another rotation; nothing changed (run this again once the server listens)",
                settings.data_dir.join(SECRETS_LOCK).display()
            ));
        }
        Err(fs::TryLockError::Error(e)) => {
            return Err(format!(
                "cannot lock {}: {e}",
                settings.data_dir.join(SECRETS_LOCK).display()
            ));
        }
    }
    // Held until the rotation has ended: no start reads the passwords in between.
    let held = SecretsLock { _file: lock };
    let rotated = rotate_holding(settings, &path, drain_timeout, &held);
    drop(held);
    rotated
}

/// [`rotate`]'s work, once it holds [`SecretsLock`] (`_held`, which it must hold throughout).
fn rotate_holding(
    settings: &EmbeddedSettings,
    path: &Path,
    drain_timeout: std::time::Duration,
    _held: &SecretsLock,
) -> Result<EmbeddedRotation, String> {
    let publish = |path: &Path, role: &str, password: &str| -> Result<(), String> {
        // Read again and change only the two fields: nothing else in the file is touched.
        let mut secrets = read_secrets(path).map_err(|e| e.to_string())?;
        secrets.app_role = role.to_owned();
        secrets.app_password = password.to_owned();
        write_secrets(path, &secrets, false).map_err(|e| e.to_string())
    };
    let Some(attached) = AttachedDb::find(settings).map_err(|e| e.to_string())? else {
        // A live process that could be the postmaster but could not be verified: never assume
        // the server is stopped (the rotation would wait for a start that is not coming, and
        // the password it replaces would keep working).
        let pgdata = settings.data_dir.join("pgdata");
        let pid_file = pgdata.join("postmaster.pid");
        if fs::read_to_string(&pid_file)
            .is_ok_and(|text| names_an_unverifiable_process(&text, &pgdata))
        {
            return Err(format!(
                "{} names a running process of the cluster's OS user that could not be verified \
                 as its postmaster (run this command as that user, or as root with \
                 CAP_SYS_PTRACE); nothing changed",
                pid_file.display()
            ));
        }
        let secrets = read_secrets(path).map_err(|e| e.to_string())?;
        let new_role = palisade_db::schema::other_app_login_role(secrets.app_role())
            .unwrap_or(APP_LOGIN_ROLES[0]);
        let password = palisade_db::rotation::random_password().map_err(|e| e.to_string())?;
        publish(path, new_role, password.expose())?;
        return Ok(EmbeddedRotation::AtNextStart { new_role });
    };
    let current = Secret::new(attached.app_url());
    actix_web::rt::System::new()
        .block_on(palisade_db::rotation::rotate_app_login(
            &attached.superuser_url(),
            DATABASE,
            &current,
            |new| publish(path, new.role, new.password.expose()),
            drain_timeout,
        ))
        .map(EmbeddedRotation::Live)
        .map_err(|e| e.to_string())
}

/// A running embedded cluster and how to reach it.
pub struct EmbeddedDb {
    cluster: RunningCluster,
    secrets: Secrets,
    webhook_secrets: WebhookDevSecrets,
    data_dir: PathBuf,
}

impl EmbeddedDb {
    /// Finds the binaries, initialises the cluster on first use, starts it and waits until it
    /// accepts connections. Blocking: call it before the async runtime, or off it.
    pub fn start(settings: &EmbeddedSettings) -> Result<Self, EmbeddedError> {
        let data_dir =
            std::path::absolute(&settings.data_dir).map_err(|source| EmbeddedError::Io {
                what: "cannot resolve",
                path: settings.data_dir.clone(),
                source,
            })?;
        fs::create_dir_all(&data_dir).map_err(|source| EmbeddedError::Io {
            what: "cannot create",
            path: data_dir.clone(),
            source,
        })?;
        // The postgres OS user (when we run as root) must be able to traverse this directory
        // to reach pgdata/; the secrets file inside stays 0600.
        fs::set_permissions(&data_dir, fs::Permissions::from_mode(0o711)).map_err(|source| {
            EmbeddedError::Io {
                what: "cannot set permissions on",
                path: data_dir.clone(),
                source,
            }
        })?;
        let (secrets, webhook_secrets) = load_secrets_files(&data_dir)?;
        // The binaries of the data directory's own major release (PG_VERSION), or a refusal
        // that says what to do.
        let bins = PgBinaries::locate_for(&data_dir.join("pgdata"))?;
        let (major, minor) = bins.version();
        tracing::info!(bindir = %bins.bindir().display(), version = %format!("{major}.{minor}"), "found PostgreSQL");
        let port_file = data_dir.join(PORT_FILE);
        let cluster = RunningCluster::start(
            &bins,
            ClusterOptions {
                data_dir: data_dir.join("pgdata"),
                port: port_to_use(settings.pg_port, &port_file),
                superuser: SUPERUSER.into(),
                superuser_password: secrets.superuser_password.clone(),
                ephemeral: false,
                settings: Vec::new(),
            },
        )?;
        if let Err(source) = fs::write(&port_file, format!("{}\n", cluster.port())) {
            tracing::warn!(path = %port_file.display(), error = %source, "cannot remember the port for the next start");
        }
        Ok(Self {
            cluster,
            secrets,
            webhook_secrets,
            data_dir,
        })
    }

    /// The generated secrets, as the start read them. The app's role and password may have been
    /// rotated since: [`role_passwords_held`] and [`EmbeddedDb::app_url_source`] read the file.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// The generated development secrets of the webhook providers.
    pub fn webhook_secrets(&self) -> &WebhookDevSecrets {
        &self.webhook_secrets
    }

    /// Where [`EmbeddedDb::webhook_secrets`] are kept, for the startup log.
    pub fn webhook_secrets_path(&self) -> PathBuf {
        self.data_dir.join("webhook-secrets.json")
    }

    /// The superuser's URL (bootstrap).
    pub fn superuser_url(&self) -> String {
        self.cluster
            .url(SUPERUSER, &self.secrets.superuser_password, "postgres")
    }

    /// The owner role's URL (migrations).
    pub fn owner_url(&self) -> String {
        self.cluster.url(
            palisade_db::schema::OWNER_ROLE,
            &self.secrets.owner_password,
            DATABASE,
        )
    }

    /// The app's URL (requests): its active login role and password as `secrets.json` says at
    /// each new connection, so a rotation needs no restart.
    pub fn app_url_source(&self) -> UrlSource {
        app_url_source(self.secrets_path(), self.cluster.port())
    }

    /// The billing role's URL (the Stripe webhook's pool).
    pub fn billing_url(&self) -> String {
        self.cluster.url(
            palisade_db::schema::BILLING_ROLE,
            &self.secrets.billing_password,
            DATABASE,
        )
    }

    /// The data directory (`secrets.json`, `secrets.lock`, `pgdata/`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Where the passwords and the JWT secret are kept (the webhook secrets are in
    /// [`EmbeddedDb::webhook_secrets_path`]).
    pub fn secrets_path(&self) -> PathBuf {
        self.data_dir.join("secrets.json")
    }

    /// Where the cluster listens, for the startup banner (no password).
    pub fn describe(&self) -> String {
        format!(
            "embedded PostgreSQL on {}:{} (data {}, passwords in {})",
            self.cluster.host(),
            self.cluster.port(),
            self.cluster.data_dir().display(),
            self.secrets_path().display()
        )
    }

    /// Stops PostgreSQL cleanly and waits for it.
    pub fn stop(self) -> Result<(), EmbeddedError> {
        Ok(self.cluster.stop()?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("palisade-{name}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_start_loads_its_secrets_files_only_once_a_rotation_has_let_go_of_the_lock() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = scratch_dir("secrets-lock");
        let (first, _) = load_secrets_files(&dir).unwrap();
        // Held as `rotate` holds it.
        let held = lock_secrets(&dir).unwrap();
        let lock_file = fs::metadata(dir.join(SECRETS_LOCK)).unwrap();
        // How /proc/locks names the file: the device's major and minor numbers (in hex) and
        // the inode.
        let dev = lock_file.dev();
        let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff);
        let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff);
        let file_id = format!(" {major:02x}:{minor:02x}:{} ", lock_file.ino());
        let loader = std::thread::spawn({
            let dir = dir.clone();
            move || load_secrets_files(&dir).map(|(secrets, _)| secrets.app_role)
        });
        // Until Linux lists the loader as blocked on that lock (`->` in /proc/locks); the loader
        // ending first is the failure: it read and could rewrite the file under the rotation. A
        // file system whose blocked flocks are not listed there (NFS) fails after a minute
        // rather than hang.
        for polled in 0.. {
            assert!(
                !loader.is_finished(),
                "a start loaded secrets.json while a rotation held its lock"
            );
            let locks = fs::read_to_string("/proc/locks").unwrap();
            if locks
                .lines()
                .any(|l| l.contains("->") && l.contains("FLOCK") && l.contains(&file_id))
            {
                break;
            }
            assert!(
                polled < 6_000,
                "no waiter on{file_id}listed in /proc/locks:\n{locks}"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        drop(held);
        assert_eq!(loader.join().unwrap().unwrap(), first.app_role);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_fallback_data_dir_is_one_per_project_path_named_after_it() {
        let a = fallback_data_dir(Path::new("/root/work/palisade/.palisade"));
        let b = fallback_data_dir(Path::new("/root/other/palisade/.palisade"));
        assert!(a.starts_with(FALLBACK_BASE), "{}", a.display());
        let name = a.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("palisade-"), "{name}");
        assert_eq!(name.len(), "palisade-".len() + 16, "{name}");
        assert_ne!(a, b, "two checkouts of the same name share a directory");
        // Stable: the same project finds its cluster again on the next run (FNV-1a of the
        // path, pinned so a change of hash is a deliberate one).
        assert_eq!(
            a,
            fallback_data_dir(Path::new("/root/work/palisade/.palisade"))
        );
        assert_eq!(
            fallback_data_dir(Path::new("/a/.palisade")),
            Path::new(FALLBACK_BASE).join(format!("a-{:016x}", fnv1a(b"/a")))
        );
        // Odd characters of a directory name become '_'.
        let odd = fallback_data_dir(Path::new("/root/my project:1/.palisade"));
        let odd = odd.file_name().unwrap().to_str().unwrap();
        assert!(odd.starts_with("my_project_1-"), "{odd}");
    }

    #[test]
    fn fnv1a_matches_its_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn only_a_default_without_a_cluster_moves_and_only_when_unreachable() {
        use std::os::unix::fs::MetadataExt;
        let root = fs::metadata("/proc/self").unwrap().uid() == 0;
        // Under a directory only its owner can search: as root, the postgres OS user is
        // blocked there (as an ordinary user the server runs as ourselves, and nothing moves).
        let dir = scratch_dir("unreachable");
        let locked = dir.join("locked");
        fs::create_dir(&locked).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).unwrap();
        let settings = |name: &str, default: bool| EmbeddedSettings {
            data_dir: locked.join(name),
            data_dir_is_default: default,
            pg_port: None,
        };

        let mut explicit = settings("chosen", false);
        reachable_data_dir(&mut explicit).unwrap();
        assert_eq!(
            explicit.data_dir,
            locked.join("chosen"),
            "PALISADE_DATA_DIR was moved"
        );

        fs::create_dir_all(locked.join("held").join("pgdata")).unwrap();
        let mut held = settings("held", true);
        reachable_data_dir(&mut held).unwrap();
        assert_eq!(
            held.data_dir,
            locked.join("held"),
            "a cluster was left behind"
        );

        let mut fresh = settings(".palisade", true);
        reachable_data_dir(&mut fresh).unwrap();
        let expected = if root {
            fallback_data_dir(&locked.join(".palisade"))
        } else {
            locked.join(".palisade")
        };
        assert_eq!(fresh.data_dir, expected);
        // Nothing is created here (but the fallback's parent): the cluster's start makes it.
        assert!(!expected.exists(), "{}", expected.display());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_secrets_file_of_an_older_version_gets_the_first_app_login_role() {
        let dir = scratch_dir("app-role");
        let path = dir.join("secrets.json");
        // Written before the app had two login roles: app_password was palisade_app's.
        let older = serde_json::json!({
            "superuser_password": "su", "owner_password": "ow", "app_password": "ap",
            "billing_password": "bi", "jwt_secret": "jw",
        });
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .unwrap()
            .write_all(older.to_string().as_bytes())
            .unwrap();
        let load = || load_or_create(&path, Secrets::generate, Secrets::upgrade).unwrap();
        let secrets = load();
        assert_eq!(secrets.app_role(), APP_LOGIN_ROLES[0]);
        let passwords = secrets.role_passwords();
        assert_eq!(
            (passwords.app_role, passwords.app.as_str()),
            (APP_LOGIN_ROLES[0], "ap")
        );
        // Rewritten (still private), so the running server's reads and a rotation see it.
        let on_disk: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(on_disk["app_role"], APP_LOGIN_ROLES[0]);
        assert_eq!(on_disk["jwt_secret"], "jw");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            secrets.app_url(5432),
            "postgresql://palisade_app_a:ap@127.0.0.1:5432/palisade"
        );
        let fresh =
            load_or_create(&dir.join("new.json"), Secrets::generate, Secrets::upgrade).unwrap();
        assert_eq!(fresh.app_role, APP_LOGIN_ROLES[0]);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A malformed secrets file is refused with the kind of fault and where it is, never with a
    /// value of it (serde_json's message quoted a numeric password, or a file that is a string).
    #[test]
    fn a_malformed_secrets_file_is_refused_without_its_values() {
        let dir = scratch_dir("malformed");
        let path = dir.join("secrets.json");
        for (body, kind) in [
            (
                r#"{"superuser_password": 31415926535, "twilio_auth_token": 31415926535, "owner_password": "ow", "app_password": "ap", "billing_password": "bi", "jwt_secret": "jw"}"#,
                "wrong type",
            ),
            (r#""31415926535""#, "wrong type"),
            (r#"{"owner_password": "31415926535" "#, "ends before"),
            (r#"{"owner_password" "31415926535"}"#, "not valid JSON"),
        ] {
            fs::write(&path, body).unwrap();
            for refused in [
                read_secrets(&path).unwrap_err().to_string(),
                load_or_create(&path, Secrets::generate, Secrets::upgrade)
                    .unwrap_err()
                    .to_string(),
                load_or_create(
                    &path,
                    || Ok(WebhookDevSecrets::default()),
                    |_: &mut WebhookDevSecrets| Ok(false),
                )
                .unwrap_err()
                .to_string(),
            ] {
                assert!(!refused.contains("31415926535"), "{body}: {refused}");
                assert!(
                    refused.contains(kind) && refused.contains("(line 1, column "),
                    "{body}: {refused}"
                );
            }
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_remembered_port_is_used_while_free_and_replaced_when_taken() {
        let dir = scratch_dir("port");
        let file = dir.join(PORT_FILE);
        assert_eq!(port_to_use(None, &file), None, "first start: a free one");
        assert_eq!(port_to_use(Some(6000), &file), Some(6000));
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        fs::write(&file, format!("{free}\n")).unwrap();
        assert_eq!(port_to_use(None, &file), Some(free));
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        fs::write(&file, format!("{port}\n")).unwrap();
        assert_eq!(port_to_use(None, &file), None, "taken: another free one");
        drop(taken);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_new_webhook_secrets_file_has_every_secret_and_an_older_one_gets_the_missing_ones() {
        let dir = scratch_dir("secrets");
        let load = |path: &Path| {
            load_or_create(
                path,
                WebhookDevSecrets::generate,
                WebhookDevSecrets::fill_missing,
            )
            .unwrap()
        };
        let fresh = load(&dir.join("new.json"));
        assert!(fresh.stripe_webhook_secret.starts_with("whsec_"));
        assert!(fresh.stripe_webhook_secret.len() > 40);
        assert_eq!(fresh.twilio_auth_token.len(), 32);
        let signer = SendgridDevSigner::from_scalar_b64(&fresh.sendgrid_private_key).unwrap();
        assert_eq!(
            signer.public_key_b64().as_deref(),
            Some(fresh.sendgrid_public_key.as_str())
        );

        // A file written before the Stripe and Mailgun secrets existed.
        let path = dir.join("webhook-secrets.json");
        let older = serde_json::json!({
            "twilio_auth_token": "tw",
            "sendgrid_public_key": fresh.sendgrid_public_key,
            "sendgrid_private_key": fresh.sendgrid_private_key,
        });
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .unwrap()
            .write_all(older.to_string().as_bytes())
            .unwrap();
        let upgraded = load(&path);
        assert!(upgraded.stripe_webhook_secret.starts_with("whsec_"));
        assert_eq!(upgraded.mailgun_signing_key.len(), 32);
        assert_eq!(upgraded.twilio_auth_token, "tw", "existing values are kept");
        assert_eq!(upgraded.sendgrid_public_key, fresh.sendgrid_public_key);
        // Persisted (the next start reads the same secrets), still private, nothing left over.
        let again = load(&path);
        assert_eq!(again.stripe_webhook_secret, upgraded.stripe_webhook_secret);
        assert_eq!(again.mailgun_signing_key, upgraded.mailgun_signing_key);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(!path.with_extension("json.tmp").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    fn test_secrets(owner_password: &str) -> Secrets {
        Secrets {
            superuser_password: "su-pw".into(),
            owner_password: owner_password.into(),
            app_role: APP_LOGIN_ROLES[0].into(),
            app_password: "app-pw".into(),
            billing_password: "billing-pw".into(),
            jwt_secret: "jwt".into(),
        }
    }

    /// A data directory with a cluster's files but no cluster: `PG_VERSION`, `secrets.json`,
    /// and a `postmaster.pid` naming `pid`, `port` and `status`.
    fn fake_cluster(dir: &Path, pid: u32, port: u16, status: &str) -> EmbeddedSettings {
        let pgdata = dir.join("pgdata");
        fs::create_dir_all(&pgdata).unwrap();
        fs::write(pgdata.join("PG_VERSION"), "17\n").unwrap();
        let secrets = dir.join("secrets.json");
        if !secrets.exists() {
            write_secrets(&secrets, &test_secrets("owner-pw"), true).unwrap();
        }
        fs::write(
            pgdata.join("postmaster.pid"),
            format!(
                "{pid}\n{}\n1765000000\n{port}\n\n127.0.0.1\n  1234567         8\n{status:<8}\n",
                pgdata.display()
            ),
        )
        .unwrap();
        EmbeddedSettings {
            data_dir: dir.to_owned(),
            data_dir_is_default: false,
            pg_port: None,
        }
    }

    #[test]
    fn a_postmaster_pid_left_behind_is_not_attached_to_whoever_listens_on_its_port() {
        // After an unclean stop, postmaster.pid names a dead pid and a port anyone may listen
        // on: the owner's and superuser's passwords must not be sent there.
        let dir = scratch_dir("attach");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let dead = gone.id();
        gone.wait().unwrap();
        let settings = fake_cluster(&dir, dead, port, "ready");
        assert!(AttachedDb::find(&settings).unwrap().is_none(), "a dead pid");
        // A live process, but not one in this data directory (this test's).
        let settings = fake_cluster(&dir, std::process::id(), port, "ready");
        assert!(
            AttachedDb::find(&settings).unwrap().is_none(),
            "another process"
        );
        // A live process in the data directory, as a postmaster is: attached once ready.
        let mut inside = std::process::Command::new("sleep")
            .arg("60")
            .current_dir(dir.join("pgdata"))
            .spawn()
            .unwrap();
        let settings = fake_cluster(&dir, inside.id(), port, "starting");
        let starting = AttachedDb::find(&settings).unwrap().is_none();
        let settings = fake_cluster(&dir, inside.id(), port, "ready");
        let ready = AttachedDb::find(&settings).unwrap().map(|a| a.port);
        inside.kill().unwrap();
        inside.wait().unwrap();
        assert!(starting, "a postmaster not ready yet");
        assert_eq!(ready, Some(port));
        // A live process found elsewhere (a pid reused after a crash): a stale file, and the
        // rotation is for the next start. (One that cannot be verified makes it refuse: below.)
        let settings = fake_cluster(&dir, std::process::id(), port, "ready");
        let rotated = rotate(&settings, std::time::Duration::from_secs(1));
        assert!(
            matches!(rotated, Ok(EmbeddedRotation::AtNextStart { .. })),
            "a stale file"
        );
        drop(listener);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn where_the_cwd_cannot_be_read_the_process_and_its_socket_must_be_the_data_owners() {
        // Root without CAP_SYS_PTRACE (a container's) cannot read another user's cwd link.
        let pgdata = Path::new("/data/pgdata");
        let denied = || std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let seen = |cwd, process_uid, listener_uid| Observed {
            cwd,
            process_uid,
            listener_uid,
        };
        assert!(seen(Err(denied()), Some(105), Some(105)).is_postmaster_of(pgdata, 105));
        // A local user listening on the port of a postmaster.pid left behind, whatever process
        // now has its pid.
        assert!(!seen(Err(denied()), Some(105), Some(1000)).is_postmaster_of(pgdata, 105));
        assert!(!seen(Err(denied()), Some(1000), Some(1000)).is_postmaster_of(pgdata, 105));
        assert!(!seen(Err(denied()), Some(105), None).is_postmaster_of(pgdata, 105));
        assert!(!seen(Err(denied()), None, Some(105)).is_postmaster_of(pgdata, 105));
        // Readable: the directory decides.
        assert!(seen(Ok(pgdata.into()), Some(1), None).is_postmaster_of(pgdata, 105));
        assert!(!seen(Ok("/tmp".into()), Some(105), Some(105)).is_postmaster_of(pgdata, 105));
        let gone = || std::io::Error::from(std::io::ErrorKind::NotFound);
        assert!(!seen(Err(gone()), Some(105), Some(105)).is_postmaster_of(pgdata, 105));
        // What makes a rotation refuse rather than take the server for stopped: the data
        // owner's live process, unverified.
        assert!(seen(Err(denied()), Some(105), Some(1000)).is_unverifiable(105));
        assert!(!seen(Err(denied()), Some(1000), None).is_unverifiable(105));
        assert!(!seen(Ok("/tmp".into()), Some(105), None).is_unverifiable(105));
        assert!(!seen(Err(denied()), None, None).is_unverifiable(105));
    }

    #[test]
    fn the_loopback_listener_of_a_port_is_read_from_proc_net_tcp() {
        use std::os::unix::fs::MetadataExt as _;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let table = fs::read_to_string("/proc/net/tcp").unwrap();
        let me = fs::metadata("/proc/self").unwrap().uid();
        assert_eq!(loopback_listener_uid(&table, port), Some(me));
        drop(listener);
        let table = fs::read_to_string("/proc/net/tcp").unwrap();
        assert_eq!(loopback_listener_uid(&table, port), None);
        // The kernel's format, by hand: 127.0.0.1:5432 listening as uid 105, and a connection
        // (not listening) on another port as uid 0.
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   105        0 1 1 0 100 0 0 10 0\n   1: 0100007F:1539 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1\n";
        assert_eq!(loopback_listener_uid(table, 5432), Some(105));
        assert_eq!(loopback_listener_uid(table, 5433), None);
        // Another user listening on 127.0.0.45 at the same port, listed first: not the one.
        let crowded = format!(
            "{}   2: 2D00007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 3 1 0 100 0 0 10 0\n{}",
            table.lines().next().unwrap().to_owned() + "\n",
            table.lines().skip(1).collect::<Vec<_>>().join("\n")
        );
        assert_eq!(
            loopback_listener_uid(&crowded, 5432),
            Some(105),
            "{crowded}"
        );
    }

    #[test]
    fn hand_edited_passwords_round_trip_through_the_attached_urls() {
        // docs/dba.md lets an operator change a password in secrets.json by hand.
        let odd = "p@ss%41/#?";
        let mut secrets = test_secrets(odd);
        secrets.superuser_password = odd.into();
        secrets.app_password = odd.into();
        let attached = AttachedDb {
            port: 54321,
            secrets,
        };
        for (url, user, db) in [
            (
                attached.owner_url(),
                palisade_db::schema::OWNER_ROLE,
                DATABASE,
            ),
            (attached.superuser_url(), SUPERUSER, "postgres"),
            (attached.app_url(), APP_LOGIN_ROLES[0], DATABASE),
        ] {
            let config = palisade_db::DbConfig::parse(&url).unwrap();
            let pg = config.pg();
            assert_eq!(pg.get_password(), Some(odd.as_bytes()), "{user}");
            assert_eq!(pg.get_user(), Some(user));
            assert_eq!(pg.get_dbname(), Some(db));
            assert_eq!(pg.get_ports(), [54321]);
        }
    }
}
