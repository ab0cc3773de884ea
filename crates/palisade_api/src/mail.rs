//! Account mail (invitations, password resets): the [`Mailer`], built once from configuration
//! and shared through [`crate::AppState`].
//!
//! Two ways out, chosen by configuration, one message format (RFC 5322, built with `lettre`):
//! - **SMTP** (`PALISADE_SMTP_URL`): each message is handed to that server (a provider's
//!   submission endpoint, a relay or an MTA) over one SMTP session, over TLS unless the server is
//!   on this host: `smtps://host[:465]` is TLS from the first byte; `smtp://host[:587]` requires
//!   STARTTLS; `smtp://localhost[:25]` (any loopback address) is plain; `?tls=none` allows plain
//!   SMTP to another host (a relay on a private network) but then refuses credentials, which
//!   would cross the network in clear. Certificates are checked against the Mozilla roots
//!   (rustls, `webpki-roots`).
//! - **Outbox** (the default without `PALISADE_SMTP_URL`): each message is written as one `.eml`
//!   file (mode 0600) in a directory, and the path is logged, for development and for the
//!   embedded default, which must run without any mail server.
//!
//! Neither a message body nor a token is ever logged: bodies hold single-use links.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use palisade_domain::EmailAddress;

/// A message to send.
pub struct OutgoingMail {
    /// The one recipient.
    pub to: EmailAddress,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
}

impl std::fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body holds a single-use link: never printed.
        f.debug_struct("OutgoingMail")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Why mail could not be configured. Messages name the setting, never a password.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MailConfigError(String);

/// Why a message could not be sent. The cause is for logs, and never content; a mail server's
/// refusal, quoted as the mail library gives it, may name the recipient's address.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The message could not be built.
    #[error("could not build the message: {0}")]
    Build(String),
    /// The recipient's address cannot be mailed, however often it is tried: the mail library
    /// refuses it, or it is not ASCII and the SMTP server does not take such addresses
    /// (SMTPUTF8, RFC 6531).
    #[error("the address cannot be mailed: {0}")]
    Unmailable(String),
    /// The SMTP server refused or could not be reached.
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
    /// The outbox could not be written.
    #[error("could not write to the outbox: {0}")]
    Outbox(String),
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(Arc<PathBuf>),
}

/// Sends account mail, over SMTP or into an outbox directory. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.transport {
            Transport::Smtp(_) => "smtp",
            Transport::Outbox(_) => "outbox",
        };
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("transport", &kind)
            .finish()
    }
}

/// How long one SMTP session may take before the send fails.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

fn parse_from(from: &str) -> Result<Mailbox, MailConfigError> {
    from.parse().map_err(|_| {
        MailConfigError(
            "PALISADE_MAIL_FROM must be an address such as `Palisade <no-reply@example.com>`"
                .into(),
        )
    })
}

impl Mailer {
    /// Mail through the SMTP server named by `url` (user and password percent-encoded):
    /// `smtps://[user:password@]host[:port]` (TLS, port 465 by default),
    /// `smtp://[user:password@]host[:port]` (STARTTLS required, port 587 by default; plain and
    /// port 25 by default for a loopback host), or `smtp://host[:port]?tls=none` (plain to
    /// another host, port 25 by default, no credentials).
    pub fn smtp(url: &str, from: &str) -> Result<Self, MailConfigError> {
        let bad = |why: &str| MailConfigError(format!("PALISADE_SMTP_URL: {why}"));
        let parsed = url::Url::parse(url).map_err(|_| bad("not a URL"))?;
        let implicit_tls = match parsed.scheme() {
            "smtp" => false,
            "smtps" => true,
            _ => return Err(bad("the scheme must be smtp:// or smtps://")),
        };
        let plain_asked = match parsed.query() {
            None => false,
            Some("tls=none") if !implicit_tls => true,
            Some(_) => return Err(bad("the only query understood is ?tls=none, with smtp://")),
        };
        if parsed.fragment().is_some() || parsed.path().len() > 1 {
            return Err(bad("no path or fragment is understood"));
        }
        let host = match parsed.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(bad("a host is required")),
        };
        // smtp:// is not a "special" scheme to the URL parser: an IPv4 address comes back as a
        // domain, so it is parsed here.
        let loopback = match parsed.host() {
            Some(url::Host::Domain(d)) => {
                d.eq_ignore_ascii_case("localhost")
                    || d.parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        let plain = plain_asked || (loopback && !implicit_tls);
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned()).map_err(|e| bad(&format!("cannot set up TLS: {e}")))
        };
        let (security, default_port) = if implicit_tls {
            (Tls::Wrapper(tls(&host)?), 465)
        } else if plain {
            (Tls::None, 25)
        } else {
            (Tls::Required(tls(&host)?), 587)
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(parsed.port().unwrap_or(default_port))
            .tls(security)
            .timeout(Some(SMTP_TIMEOUT));
        if !parsed.username().is_empty() {
            if plain && !loopback {
                return Err(bad(
                    "credentials are not sent over plain SMTP to another host (?tls=none): they \
                     would cross the network in clear",
                ));
            }
            let decode = |s: &str| {
                percent_decode(s)
                    .ok_or_else(|| bad("the user or password is not percent-encoded UTF-8"))
            };
            let user = decode(parsed.username())?;
            let password = decode(parsed.password().unwrap_or_default())?;
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(Self {
            from: parse_from(from)?,
            transport: Transport::Smtp(builder.build()),
        })
    }

    /// Mail written as `.eml` files into `dir` (created, mode 0700, on first use).
    pub fn outbox(dir: PathBuf, from: &str) -> Result<Self, MailConfigError> {
        Ok(Self {
            from: parse_from(from)?,
            transport: Transport::Outbox(Arc::new(dir)),
        })
    }

    /// The outbox directory, when mail goes there.
    pub fn outbox_dir(&self) -> Option<&std::path::Path> {
        match &self.transport {
            Transport::Outbox(dir) => Some(dir.as_path()),
            Transport::Smtp(_) => None,
        }
    }

    fn build(&self, mail: &OutgoingMail) -> Result<Message, MailError> {
        let to: Mailbox = mail
            .to
            .as_str()
            .parse()
            .map_err(|e: lettre::address::AddressError| MailError::Unmailable(e.to_string()))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(Body::new(mail.text.clone()))
            .map_err(|e| MailError::Build(e.to_string()))
    }

    /// Sends one message. Logs where it went (the outbox path, or that the SMTP server took
    /// it), never its content.
    pub async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let message = self.build(&mail)?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await.map_err(|e| {
                    // lettre refuses, before any command, an address that is not ASCII when the
                    // server has no SMTPUTF8 (a client error; its others are about the
                    // connection, and come whatever the address).
                    if e.is_client() && !mail.to.as_str().is_ascii() {
                        MailError::Unmailable(e.to_string())
                    } else {
                        MailError::Smtp(e.to_string())
                    }
                })?;
                tracing::info!(subject = %mail.subject, "mail handed to the SMTP server");
            }
            Transport::Outbox(dir) => {
                let dir = Arc::clone(dir);
                let bytes = message.formatted();
                let path = tokio::task::spawn_blocking(move || write_outbox(&dir, &bytes))
                    .await
                    .map_err(|e| MailError::Outbox(e.to_string()))??;
                tracing::info!(path = %path.display(), subject = %mail.subject, "mail written to the outbox");
            }
        }
        Ok(())
    }
}

/// Writes one message as `<dir>/<uuid v7>.eml`, mode 0600 (it holds a single-use link).
fn write_outbox(dir: &std::path::Path, bytes: &[u8]) -> Result<PathBuf, MailError> {
    use std::io::Write as _;
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    let io = |e: std::io::Error| MailError::Outbox(e.to_string());
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io)?;
    let path = dir.join(format!("{}.eml", uuid::Uuid::now_v7()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(path)
}

/// Percent-decodes a URL's user or password.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        let from = "Palisade <no-reply@example.com>";
        assert!(Mailer::smtp("smtp://relay.internal:2525", from).is_ok());
        assert!(Mailer::smtp("smtp://relay.internal?tls=none", from).is_ok());
        assert!(Mailer::smtp("smtp://user:pass@localhost", from).is_ok());
        assert!(Mailer::smtp("smtp://user:pass@[::1]:25", from).is_ok());
        assert!(Mailer::smtp("smtp://user:p%40ss@127.0.0.1:587", from).is_ok());
        // Credentials go over TLS (STARTTLS required, or smtps), or to this host.
        assert!(Mailer::smtp("smtp://user:pass@smtp.example.com:587", from).is_ok());
        assert!(Mailer::smtp("smtps://user:pass@smtp.example.com", from).is_ok());
        assert!(Mailer::smtp("smtp://user:pass@10.0.0.1:25?tls=none", from).is_err());
        assert!(Mailer::smtp("smtps://smtp.example.com?tls=none", from).is_err());
        assert!(Mailer::smtp("smtp://smtp.example.com?tls=maybe", from).is_err());
        assert!(Mailer::smtp("http://smtp.example.com", from).is_err());
        assert!(Mailer::smtp("smtp://relay.internal", "not an address").is_err());
        assert_eq!(percent_decode("p%40ss").as_deref(), Some("p@ss"));
        assert_eq!(percent_decode("bad%4"), None);
    }

    #[actix_web::test]
    async fn the_outbox_mailer_writes_one_message_per_file() {
        let dir = std::env::temp_dir().join(format!("palisade-outbox-{}", uuid::Uuid::now_v7()));
        let mailer = Mailer::outbox(dir.clone(), "Palisade <no-reply@example.com>").unwrap();
        for n in 0..2 {
            mailer
                .send(OutgoingMail {
                    to: EmailAddress::parse("grace@example.com").unwrap(),
                    subject: format!("Hello {n}"),
                    text: "a body".into(),
                })
                .await
                .unwrap();
        }
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 2);
        let text = std::fs::read_to_string(&files[0]).unwrap();
        assert!(text.contains("To: grace@example.com") && text.contains("From: Palisade"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn outbox_files_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("palisade-outbox-{}", uuid::Uuid::now_v7()));
        let path = write_outbox(&dir, b"Subject: x\r\n\r\nhello").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"Subject: x\r\n\r\nhello");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
