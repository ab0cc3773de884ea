//! TLS to PostgreSQL, and the one way to turn a database URL into a connection: [`DbConfig`].
//! Every connection Palisade makes (the pools, migrations, bootstrap, the subcommands) goes
//! through [`DbConfig::parse`], so the URL's `sslmode` is honoured everywhere.
//!
//! tokio-postgres understands `sslmode` `disable`, `prefer` and `require` only, and no
//! `sslrootcert`. This module takes both out of the URL (or the `key=value` connection string)
//! itself, keeps libpq's names and meanings, and hands tokio-postgres the rest together with a
//! rustls connector (the `ring` provider, already in the tree through tokio-rustls) that verifies
//! what the mode asks for:
//!
//! | `sslmode` | encrypted | the server's certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (the default, as libpq's) | when the server offers TLS, else plain | not checked |
//! | `require` | always, or the connection fails | not checked; with a CA file (`sslrootcert` or `PALISADE_DB_SSLROOTCERT`), its chain is, as `verify-ca` (libpq's rule) |
//! | `verify-ca` | always | chains to the CA file (or, with none, to the built-in Mozilla roots) |
//! | `verify-full` | always | as `verify-ca`, and is valid for the host name the URL names |
//!
//! `sslrootcert=system` means the built-in Mozilla roots (`webpki-roots`) and, as in libpq 16,
//! makes `verify-full` the default and refuses a weaker mode. libpq's `allow` is refused (it
//! would try plain text first). Palisade reads no `~/.postgresql/root.crt`.
//!
//! The TLS session offers SCRAM channel binding (`tls-server-end-point`, RFC 5929) for
//! certificates signed with RSA PKCS#1 or ECDSA; tokio-postgres then authenticates with
//! SCRAM-SHA-256-PLUS when the server offers it (`channel_binding=require` insists on it).
//!
//! Errors never carry the URL or a password: a refused certificate says which check failed,
//! against which CA file and for which host.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use sha2::Digest;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use tokio_postgres::{Client, Connection, Socket};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::{
    WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor,
};
use tokio_rustls::rustls::crypto::{
    CryptoProvider, WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature,
};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::server::ParsedCertificate;
use tokio_rustls::rustls::{
    self, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::DbError;

/// libpq's `sslmode`, as Palisade honours it (the module doc says what each checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain text only.
    Disable,
    /// TLS when the server offers it, unverified; plain text otherwise. The default.
    Prefer,
    /// TLS or nothing; unverified unless a CA file is given (then as [`SslMode::VerifyCa`]).
    Require,
    /// TLS, the certificate chained to a trusted CA.
    VerifyCa,
    /// TLS, the certificate chained to a trusted CA and valid for the host name.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, UrlError> {
        Ok(match value {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            "allow" => {
                return Err(UrlError::Setting(
                    "sslmode=allow is not supported (it tries plain text first): use prefer, \
                     require, verify-ca or verify-full"
                        .into(),
                ));
            }
            _ => {
                return Err(UrlError::Setting(
                    "sslmode must be one of disable, prefer, require, verify-ca, verify-full"
                        .into(),
                ));
            }
        })
    }

    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// Why a database URL cannot be used. Never holds the URL or any part of a password.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UrlError {
    /// tokio-postgres refused the URL's syntax or an option (the option's name, when known).
    #[error("not a valid PostgreSQL URL{}", .0.as_deref().map(|why| format!(" ({why})")).unwrap_or_default())]
    Syntax(Option<String>),
    /// The TLS settings (`sslmode`, `sslrootcert`, `PALISADE_DB_SSLROOTCERT`) cannot be used.
    #[error("{0}")]
    Setting(String),
}

impl UrlError {
    /// As a [`DbError::Unavailable`] about `what` ("the database URL", "the billing database
    /// URL", ...).
    pub fn for_url(self, what: &str) -> DbError {
        DbError::Unavailable(match self {
            Self::Syntax(None) => format!("{what} is not a valid PostgreSQL URL"),
            Self::Syntax(Some(why)) => format!("{what} is not a valid PostgreSQL URL ({why})"),
            Self::Setting(why) => format!("{what}: {why}"),
        })
    }
}

impl From<UrlError> for DbError {
    fn from(e: UrlError) -> Self {
        e.for_url("the database URL")
    }
}

/// Trusted roots loaded from a PEM file.
#[derive(Debug)]
struct CaFile {
    path: PathBuf,
    roots: Arc<RootCertStore>,
}

/// Where a verifying connection's trust comes from.
#[derive(Debug, Clone)]
enum Roots {
    /// A CA file (`sslrootcert=<path>` or `PALISADE_DB_SSLROOTCERT`).
    File(Arc<CaFile>),
    /// The built-in Mozilla roots (`sslrootcert=system`, or no CA file at all).
    Builtin,
}

impl Roots {
    fn store(&self) -> Arc<RootCertStore> {
        match self {
            Self::File(ca) => ca.roots.clone(),
            Self::Builtin => Arc::new(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            }),
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::File(ca) => format!("the CA in {}", ca.path.display()),
            Self::Builtin => "a CA of the built-in Mozilla roots (name your CA's file with \
                              sslrootcert or PALISADE_DB_SSLROOTCERT)"
                .into(),
        }
    }
}

/// A CA file's certificates; `setting` names where the path came from, for the error.
fn load_ca_file(path: &Path, setting: &str) -> Result<CaFile, UrlError> {
    let bad = |why: String| UrlError::Setting(format!("{setting} ({}): {why}", path.display()));
    let pem = std::fs::read(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| bad(format!("is not a PEM certificate file: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| bad(format!("holds a certificate that cannot be a CA: {e}")))?;
    }
    if roots.is_empty() {
        return Err(bad("holds no PEM certificate".into()));
    }
    Ok(CaFile {
        path: path.to_path_buf(),
        roots: Arc::new(roots),
    })
}

/// The CA setting every URL without its own `sslrootcert` uses (`PALISADE_DB_SSLROOTCERT`).
static DEFAULT_ROOT_CERT: OnceLock<RootSetting> = OnceLock::new();

#[derive(Debug, Clone)]
enum RootSetting {
    File(Arc<CaFile>),
    System,
}

/// Sets the CA file that every database URL without an `sslrootcert` of its own uses, as
/// libpq's `PGSSLROOTCERT` does (`PALISADE_DB_SSLROOTCERT`): read and checked now, so a bad
/// file stops the command at startup with an error naming `setting`. It changes no URL's
/// `sslmode` (the default stays `prefer`), and `system` is not special here. Once per process;
/// a second call is refused.
pub fn set_default_root_cert(path: &Path, setting: &str) -> Result<(), UrlError> {
    let root = RootSetting::File(Arc::new(load_ca_file(path, setting)?));
    DEFAULT_ROOT_CERT
        .set(root)
        .map_err(|_| UrlError::Setting(format!("{setting} was already set in this process")))
}

/// `sslrootcert`'s value in a URL.
fn root_setting(value: &str, setting: &str) -> Result<RootSetting, UrlError> {
    if value == "system" {
        Ok(RootSetting::System)
    } else {
        Ok(RootSetting::File(Arc::new(load_ca_file(
            Path::new(value),
            setting,
        )?)))
    }
}

/// A database URL made ready to connect: tokio-postgres's configuration (without `sslmode`
/// and `sslrootcert`, which it cannot read) and the TLS connector they asked for. Cheap to
/// clone. Its `Debug` shows no credential.
#[derive(Clone)]
pub struct DbConfig {
    pg: tokio_postgres::Config,
    mode: SslMode,
    verifies: Verification,
    tls: MakeRustlsConnect,
}

impl std::fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbConfig")
            .field("user", &self.pg.get_user())
            .field("dbname", &self.pg.get_dbname())
            .field("sslmode", &self.mode)
            .field("verifies", &self.verifies)
            .finish_non_exhaustive()
    }
}

/// What a TLS session checks of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Nothing (`prefer`, `require` without a CA file; `disable` never starts TLS).
    Nothing,
    /// The chain to a trusted CA.
    Chain,
    /// The chain and the host name.
    ChainAndHostName,
}

impl DbConfig {
    /// Parses a `postgres://` / `postgresql://` URL or a `key=value` connection string, taking
    /// `sslmode` and `sslrootcert` out of it (module doc) and loading the CA file it names.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let split = split_tls_params(url)?;
        let mut pg: tokio_postgres::Config = split.rest.parse().map_err(|e| {
            // Only the option's name is safe to repeat: other parse errors quote characters of
            // the URL, which may be a password's.
            let why = std::error::Error::source(&e)
                .map(ToString::to_string)
                .filter(|m| {
                    m.starts_with("unknown option") || m.starts_with("invalid value for option")
                });
            UrlError::Syntax(why)
        })?;
        let root = match split.sslrootcert.as_deref() {
            Some(value) => Some(root_setting(value, "sslrootcert in the database URL")?),
            None => DEFAULT_ROOT_CERT.get().cloned(),
        };
        let system = matches!(root, Some(RootSetting::System));
        let mode = match split.sslmode.as_deref() {
            Some(value) => SslMode::parse(value)?,
            None if system => SslMode::VerifyFull,
            None => SslMode::Prefer,
        };
        if system && mode != SslMode::VerifyFull {
            return Err(UrlError::Setting(format!(
                "sslrootcert=system needs sslmode=verify-full, not {}",
                mode.as_str()
            )));
        }
        let roots = match root {
            Some(RootSetting::File(ca)) => Some(Roots::File(ca)),
            Some(RootSetting::System) => Some(Roots::Builtin),
            None => None,
        };
        let (verifies, roots) = match (mode, roots) {
            (SslMode::Disable | SslMode::Prefer, _) | (SslMode::Require, None) => {
                (Verification::Nothing, None)
            }
            (SslMode::Require | SslMode::VerifyCa, roots) => {
                (Verification::Chain, Some(roots.unwrap_or(Roots::Builtin)))
            }
            (SslMode::VerifyFull, roots) => (
                Verification::ChainAndHostName,
                Some(roots.unwrap_or(Roots::Builtin)),
            ),
        };
        pg.ssl_mode(match mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
        let tls = MakeRustlsConnect::new(verifies, roots)?;
        Ok(Self {
            pg,
            mode,
            verifies,
            tls,
        })
    }

    /// tokio-postgres's configuration (user, host, database, ...).
    pub fn pg(&self) -> &tokio_postgres::Config {
        &self.pg
    }

    /// The same, to change (e.g. the database or `application_name`).
    pub fn pg_mut(&mut self) -> &mut tokio_postgres::Config {
        &mut self.pg
    }

    /// The URL's `sslmode` (or the default).
    pub fn ssl_mode(&self) -> SslMode {
        self.mode
    }

    /// What a TLS session checks of the server's certificate.
    pub fn verification(&self) -> Verification {
        self.verifies
    }

    /// Opens a connection; the caller drives the [`Connection`].
    pub async fn connect(
        &self,
    ) -> Result<(Client, Connection<Socket, RustlsStream<Socket>>), tokio_postgres::Error> {
        self.pg.connect(self.tls.clone()).await
    }

    /// Opens a connection and drives it on a task of its own. Its end is logged (debug), not
    /// counted in `palisade_db_errors_total`, as a pooled connection's is: the statement that
    /// met the dead connection counted it (and counting in the line's fields counted it only
    /// when debug was on).
    pub async fn connect_client(&self) -> Result<Client, DbError> {
        let (client, connection) = self.connect().await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %DbError::classify(e), "database connection ended");
            }
        });
        Ok(client)
    }
}

/// A URL or connection string with `sslmode` and `sslrootcert` taken out.
#[derive(Debug, PartialEq, Eq)]
struct Split {
    rest: String,
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

/// The parameters this module reads itself; the last occurrence wins, as in libpq.
const OURS: [&str; 2] = ["sslmode", "sslrootcert"];

fn split_tls_params(url: &str) -> Result<Split, UrlError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        split_url(url)
    } else {
        split_key_values(url)
    }
}

/// `postgresql://[userinfo@]hosts[/db][?k=v&...]`. The query starts at the first `?` after the
/// first `@`, where tokio-postgres's own parser looks for it.
fn split_url(url: &str) -> Result<Split, UrlError> {
    let after_userinfo = url.find('@').map_or(0, |at| at + 1);
    let Some(q) = url[after_userinfo..].find('?').map(|q| q + after_userinfo) else {
        return Ok(Split {
            rest: url.to_owned(),
            sslmode: None,
            sslrootcert: None,
        });
    };
    let mut split = Split {
        rest: url[..q].to_owned(),
        sslmode: None,
        sslrootcert: None,
    };
    let mut kept = Vec::new();
    for pair in url[q + 1..].split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key)?;
        match key.as_str() {
            "sslmode" => split.sslmode = Some(percent_decode(value)?),
            "sslrootcert" => split.sslrootcert = Some(percent_decode(value)?),
            _ => kept.push(pair),
        }
    }
    if !kept.is_empty() {
        split.rest.push('?');
        split.rest.push_str(&kept.join("&"));
    }
    Ok(split)
}

fn percent_decode(s: &str) -> Result<String, UrlError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(UrlError::Syntax(Some("a bad percent-encoding".into())))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UrlError::Syntax(Some("a parameter is not UTF-8".into())))
}

/// `key=value key='quoted \' value' ...`, tokenized as tokio-postgres (and libpq) do: our keys
/// are cut out by their byte spans, everything else is passed on untouched.
fn split_key_values(s: &str) -> Result<Split, UrlError> {
    let bytes = s.as_bytes();
    let syntax = || UrlError::Syntax(None);
    let mut split = Split {
        rest: String::with_capacity(s.len()),
        sslmode: None,
        sslrootcert: None,
    };
    let mut copied_to = 0;
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &s[start..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            return Err(syntax());
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = Vec::new();
        if bytes.get(i) == Some(&b'\'') {
            i += 1;
            loop {
                match bytes.get(i) {
                    None => return Err(syntax()),
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        value.push(*bytes.get(i + 1).ok_or_else(syntax)?);
                        i += 2;
                    }
                    Some(&b) => {
                        value.push(b);
                        i += 1;
                    }
                }
            }
        } else {
            while let Some(&b) = bytes.get(i) {
                if b.is_ascii_whitespace() {
                    break;
                }
                if b == b'\\' {
                    value.push(*bytes.get(i + 1).ok_or_else(syntax)?);
                    i += 2;
                } else {
                    value.push(b);
                    i += 1;
                }
            }
        }
        if OURS.contains(&key) {
            let value = String::from_utf8(value).map_err(|_| syntax())?;
            if key == "sslmode" {
                split.sslmode = Some(value);
            } else {
                split.sslrootcert = Some(value);
            }
            split.rest.push_str(&s[copied_to..start]);
            copied_to = i;
        }
    }
    split.rest.push_str(&s[copied_to..]);
    Ok(split)
}

/// The `ring` provider every rustls configuration here uses.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// tokio-postgres's [`MakeTlsConnect`] over tokio-rustls, with the checks of a [`DbConfig`].
#[derive(Clone)]
pub struct MakeRustlsConnect {
    config: Arc<ClientConfig>,
    verifies: Verification,
    roots: Option<Roots>,
}

impl MakeRustlsConnect {
    fn new(verifies: Verification, roots: Option<Roots>) -> Result<Self, UrlError> {
        let provider = provider();
        let algorithms = provider.signature_verification_algorithms;
        let tls_error = |e: rustls::Error| UrlError::Setting(format!("TLS setup failed: {e}"));
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?;
        let config = match (verifies, &roots) {
            (Verification::ChainAndHostName, Some(roots)) => builder
                .with_webpki_verifier(
                    WebPkiServerVerifier::builder_with_provider(roots.store(), provider)
                        .build()
                        .map_err(|e| UrlError::Setting(format!("TLS setup failed: {e}")))?,
                )
                .with_no_client_auth(),
            (Verification::Chain, Some(roots)) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoNameCheck {
                    roots: Some(roots.store()),
                    algorithms,
                }))
                .with_no_client_auth(),
            _ => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoNameCheck {
                    roots: None,
                    algorithms,
                }))
                .with_no_client_auth(),
        };
        Ok(Self {
            config: Arc::new(config),
            verifies,
            roots,
        })
    }
}

impl<S> MakeTlsConnect<S> for MakeRustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = TlsError;

    /// tokio-postgres asks for a connector before every connection, with `""` for a Unix
    /// socket (which never gets TLS) and whatever the URL's host is: a name TLS cannot use
    /// fails only if a handshake is attempted.
    fn make_tls_connect(&mut self, host: &str) -> Result<RustlsConnect, TlsError> {
        let name = ServerName::try_from(host.to_owned()).ok();
        Ok(RustlsConnect {
            connector: TlsConnector::from(self.config.clone()),
            name,
            host: host.to_owned(),
            verifies: self.verifies,
            roots: self.roots.clone(),
        })
    }
}

/// One TLS handshake to come, for one host.
pub struct RustlsConnect {
    connector: TlsConnector,
    name: Option<ServerName<'static>>,
    host: String,
    verifies: Verification,
    roots: Option<Roots>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = TlsError;
    type Future = Pin<Box<dyn Future<Output = Result<RustlsStream<S>, TlsError>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let Some(name) = self.name.clone() else {
                return Err(TlsError(format!(
                    "the database host {:?} is neither a DNS name nor an IP address, so TLS \
                     cannot check a certificate for it",
                    self.host
                )));
            };
            match self.connector.connect(name, stream).await {
                Ok(stream) => Ok(RustlsStream(Box::new(stream))),
                Err(e) => Err(self.explain(&e)),
            }
        })
    }
}

impl RustlsConnect {
    /// A refused handshake in words an operator can act on.
    fn explain(&self, e: &io::Error) -> TlsError {
        let cert = "the database server's certificate";
        let rustls_error = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
        let Some(rustls::Error::InvalidCertificate(why)) = rustls_error else {
            return TlsError(format!(
                "TLS handshake with the database server failed: {e}"
            ));
        };
        let roots = self
            .roots
            .as_ref()
            .map_or_else(|| "a trusted CA".to_owned(), Roots::describe);
        TlsError(match why {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                format!("{cert} is not signed by {roots}")
            }
            CertificateError::NotValidForName => format!(
                "{cert} is not valid for host {} (sslmode=verify-full checks the host name: \
                 connect by a name the certificate lists)",
                self.host
            ),
            CertificateError::NotValidForNameContext { presented, .. } => format!(
                "{cert} is not valid for host {} (sslmode=verify-full checks the host name; \
                 the certificate is for {})",
                self.host,
                presented
                    .iter()
                    .map(|name| unquote(name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                format!("{cert} has expired")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!("{cert} is not valid yet")
            }
            other => format!("{cert} was refused ({:?} check): {other:?}", self.verifies),
        })
    }
}

/// `localhost` for rustls's `DnsName("localhost")`.
fn unquote(name: &str) -> &str {
    name.split_once("(\"")
        .and_then(|(_, rest)| rest.strip_suffix("\")"))
        .unwrap_or(name)
}

/// Why a TLS handshake failed, in words; never a credential.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(String);

/// A TLS session to PostgreSQL.
pub struct RustlsStream<S>(Box<tokio_rustls::client::TlsStream<S>>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        let (_, session) = self.0.get_ref();
        session
            .peer_certificates()
            .and_then(<[_]>::first)
            .and_then(|cert| tls_server_end_point(cert))
            .map_or_else(ChannelBinding::none, ChannelBinding::tls_server_end_point)
    }
}

/// RFC 5929's `tls-server-end-point`: the server certificate's hash, by the hash of its
/// signature algorithm (SHA-256 for MD5 and SHA-1). `None` for algorithms it does not define
/// (RSA-PSS's hash is in its parameters; Ed25519 has none), as PostgreSQL itself.
fn tls_server_end_point(cert: &[u8]) -> Option<Vec<u8>> {
    // OID bytes: RSA PKCS#1 1.2.840.113549.1.1.x, ECDSA 1.2.840.10045.4.{1, 3.x}.
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04];
    enum Hash {
        Sha256,
        Sha384,
        Sha512,
    }
    let oid = signature_algorithm(cert)?;
    let hash = if let Some(last) = oid.strip_prefix(RSA) {
        match last {
            [0x04 | 0x05 | 0x0b] => Hash::Sha256, // md5, sha1, sha256 WithRSAEncryption
            [0x0c] => Hash::Sha384,
            [0x0d] => Hash::Sha512,
            _ => return None,
        }
    } else if let Some(rest) = oid.strip_prefix(ECDSA) {
        match rest {
            [0x01] | [0x03, 0x02] => Hash::Sha256, // ecdsa-with-SHA1, -SHA256
            [0x03, 0x03] => Hash::Sha384,
            [0x03, 0x04] => Hash::Sha512,
            _ => return None,
        }
    } else {
        return None;
    };
    Some(match hash {
        Hash::Sha256 => sha2::Sha256::digest(cert).to_vec(),
        Hash::Sha384 => sha2::Sha384::digest(cert).to_vec(),
        Hash::Sha512 => sha2::Sha512::digest(cert).to_vec(),
    })
}

/// The OID of a DER certificate's `signatureAlgorithm`:
/// `SEQUENCE { tbsCertificate, SEQUENCE { OID, params }, signature }`.
fn signature_algorithm(cert: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    const OID: u8 = 0x06;
    let (SEQUENCE, certificate, _) = der_next(cert)? else {
        return None;
    };
    let (_tbs, _, rest) = der_next(certificate)?;
    let (SEQUENCE, algorithm, _) = der_next(rest)? else {
        return None;
    };
    let (OID, oid, _) = der_next(algorithm)? else {
        return None;
    };
    Some(oid)
}

/// One DER element: its tag, its contents and what follows it.
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (len, after) = rest.split_at_checked(n)?;
        rest = after;
        len.iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

/// `verify-ca` (and `require` with a CA file) checks the chain to a trusted root and nothing
/// about the name, as libpq; `prefer` and `require` without a CA file (`roots: None`) take the
/// certificate as it comes, encrypted but unauthenticated (as libpq). Either way the handshake's
/// own signatures are checked against the certificate's key.
#[derive(Debug)]
struct NoNameCheck {
    roots: Option<Arc<RootCertStore>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NoNameCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn split(url: &str) -> (String, Option<String>, Option<String>) {
        let s = split_tls_params(url).unwrap();
        (s.rest, s.sslmode, s.sslrootcert)
    }

    #[test]
    fn takes_sslmode_and_sslrootcert_out_of_a_url() {
        assert_eq!(
            split(
                "postgresql://u:p%3F@h:5432/db?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem"
            ),
            (
                "postgresql://u:p%3F@h:5432/db?application_name=x".into(),
                Some("verify-full".into()),
                Some("/etc/ca.pem".into())
            )
        );
        assert_eq!(
            split("postgres://u:p?w@h/db?sslmode=require"),
            ("postgres://u:p?w@h/db".into(), Some("require".into()), None)
        );
        assert_eq!(
            split("postgres://h/db"),
            ("postgres://h/db".into(), None, None)
        );
        // The last occurrence wins, as in libpq.
        assert_eq!(
            split("postgres://h/db?sslmode=disable&sslmode=verify-ca").1,
            Some("verify-ca".into())
        );
    }

    #[test]
    fn takes_them_out_of_a_key_value_string() {
        assert_eq!(
            split(
                "host=h user=u password='a b\\' c' sslmode = verify-ca sslrootcert='/x y/ca.pem' dbname=d"
            ),
            (
                "host=h user=u password='a b\\' c'   dbname=d".into(),
                Some("verify-ca".into()),
                Some("/x y/ca.pem".into())
            )
        );
        assert!(split_tls_params("host=h password='unterminated").is_err());
        let config = DbConfig::parse("host=h user=u password='a b' sslmode=verify-full").unwrap();
        assert_eq!(config.pg().get_password(), Some(&b"a b"[..]));
        assert_eq!(config.ssl_mode(), SslMode::VerifyFull);
    }

    #[test]
    fn modes_and_what_they_verify() {
        let parse = |q: &str| DbConfig::parse(&format!("postgresql://u:p@h/db{q}"));
        let check = |q: &str, mode, verifies, pg_mode| {
            let c = parse(q).unwrap();
            assert_eq!((c.ssl_mode(), c.verification()), (mode, verifies), "{q}");
            assert_eq!(c.pg().get_ssl_mode(), pg_mode, "{q}");
        };
        use tokio_postgres::config::SslMode as Pg;
        check("", SslMode::Prefer, Verification::Nothing, Pg::Prefer);
        check(
            "?sslmode=disable",
            SslMode::Disable,
            Verification::Nothing,
            Pg::Disable,
        );
        check(
            "?sslmode=require",
            SslMode::Require,
            Verification::Nothing,
            Pg::Require,
        );
        check(
            "?sslmode=verify-ca",
            SslMode::VerifyCa,
            Verification::Chain,
            Pg::Require,
        );
        check(
            "?sslmode=verify-full",
            SslMode::VerifyFull,
            Verification::ChainAndHostName,
            Pg::Require,
        );
        check(
            "?sslrootcert=system",
            SslMode::VerifyFull,
            Verification::ChainAndHostName,
            Pg::Require,
        );
        for bad in [
            "?sslmode=allow",
            "?sslmode=bogus",
            "?sslrootcert=system&sslmode=require",
        ] {
            assert!(matches!(parse(bad), Err(UrlError::Setting(_))), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_setting_never_the_password() {
        let err = DbConfig::parse(
            "postgresql://u:hunter2@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("sslrootcert in the database URL (/nonexistent/ca.pem): cannot be read"),
            "{err}"
        );
        assert!(!err.contains("hunter2"));
        let dir = std::env::temp_dir().join(format!("palisade-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let not_pem = dir.join("not.pem");
        std::fs::write(&not_pem, "hunter2\n").unwrap();
        let err = DbConfig::parse(&format!(
            "postgresql://u:hunter2@h/db?sslmode=verify-ca&sslrootcert={}",
            not_pem.display()
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("holds no PEM certificate"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
        let err = DbConfig::parse("postgresql://u:hunter2@h/db?sslcert=x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown option `sslcert`"), "{err}");
        assert!(!err.contains("hunter2"));
        let debug = format!(
            "{:?}",
            DbConfig::parse("postgresql://u:hunter2@h/db").unwrap()
        );
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn a_host_tls_cannot_use_fails_only_at_a_handshake() {
        // tokio-postgres asks for a connector for Unix sockets too (host ""), in every mode.
        let mut config = DbConfig::parse("host=/run/postgresql user=u sslmode=verify-full")
            .unwrap()
            .tls;
        assert!(MakeTlsConnect::<Socket>::make_tls_connect(&mut config, "").is_ok());
    }

    #[test]
    fn server_end_point_hash_follows_the_signature_algorithm() {
        let key = rcgen::KeyPair::generate().unwrap(); // ECDSA P-256 with SHA-256
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().as_ref();
        assert_eq!(
            signature_algorithm(der),
            Some(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02][..])
        );
        assert_eq!(
            tls_server_end_point(der),
            Some(sha2::Sha256::digest(der).to_vec())
        );
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().as_ref();
        assert_eq!(
            tls_server_end_point(der),
            Some(sha2::Sha384::digest(der).to_vec())
        );
        assert_eq!(tls_server_end_point(b"\x30\x03\x02\x01\x00"), None);
        assert_eq!(tls_server_end_point(b""), None);
    }
}
