//! A small real SMTP server for tests: it speaks enough of RFC 5321 (EHLO/HELO, MAIL FROM,
//! RCPT TO, DATA with dot-unstuffing, RSET, NOOP, QUIT) for `lettre` to deliver to it over TCP,
//! and keeps every message it receives, so a test reads the link out of the mail the
//! application really sent through its real mailer. Each test app gets its own server on a free
//! port of 127.0.0.1.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The message as transmitted after `DATA` (headers and encoded body, CRLF line ends).
    pub data: String,
}

impl ReceivedMail {
    /// The value of the first header `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    v.push_str(line.trim_start());
                    continue;
                }
                break;
            }
            if let Some((n, v)) = line.split_once(':')
                && n.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_owned());
            }
        }
        value
    }

    /// The body as text, decoded from quoted-printable when it was sent so.
    pub fn text(&self) -> String {
        let body = self
            .data
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or_default();
        match self.header("Content-Transfer-Encoding").as_deref() {
            Some(e) if e.eq_ignore_ascii_case("quoted-printable") => decode_quoted_printable(body),
            Some(e) if e.eq_ignore_ascii_case("base64") => {
                panic!("the test SMTP server does not decode base64 bodies")
            }
            _ => body.to_owned(),
        }
    }

    /// The token of the first link in the body whose path is `path` (e.g.
    /// `/accept-invitation`): what follows `<path>#token=`.
    pub fn link_token(&self, path: &str) -> Option<String> {
        let text = self.text();
        let marker = format!("{path}#token=");
        let start = text.find(&marker)? + marker.len();
        Some(
            text[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect(),
        )
    }
}

fn decode_quoted_printable(s: &str) -> String {
    let joined = s.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && let Some(b) = joined
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Default)]
struct Inbox {
    mails: Mutex<Vec<ReceivedMail>>,
    arrived: Notify,
}

/// The running server and what it received.
#[derive(Clone)]
pub struct SmtpServer {
    addr: SocketAddr,
    inbox: Arc<Inbox>,
}

/// How long [`SmtpServer::wait_for`] waits before failing the test: a guard against a hang,
/// not a timing assertion (mail sent in the background arrives in milliseconds).
const WAIT_LIMIT: Duration = Duration::from_secs(30);

impl SmtpServer {
    /// Binds 127.0.0.1 on a free port and serves until the test's runtime ends.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the test SMTP server");
        let addr = listener.local_addr().expect("its address");
        let inbox = Arc::new(Inbox::default());
        let serving = Arc::clone(&inbox);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, Arc::clone(&serving)));
            }
        });
        Self { addr, inbox }
    }

    /// `smtp://127.0.0.1:<port>`, for the application's mailer.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.inbox
            .mails
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The messages received so far for `recipient`, oldest first.
    pub fn messages_to(&self, recipient: &str) -> Vec<ReceivedMail> {
        self.messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(recipient)))
            .collect()
    }

    /// Waits until at least `count` messages for `recipient` have arrived, and returns them all.
    pub async fn wait_for(&self, recipient: &str, count: usize) -> Vec<ReceivedMail> {
        let wait = async {
            loop {
                let notified = self.inbox.arrived.notified();
                let got = self.messages_to(recipient);
                if got.len() >= count {
                    return got;
                }
                notified.await;
            }
        };
        tokio::time::timeout(WAIT_LIMIT, wait)
            .await
            .unwrap_or_else(|_| panic!("no mail #{count} to {recipient} arrived"))
    }
}

/// Strips `FROM:<...>` / `TO:<...>` down to the address.
fn path_arg(arg: &str) -> String {
    let arg = arg.trim();
    let inner = arg
        .find('<')
        .and_then(|s| arg[s + 1..].find('>').map(|e| &arg[s + 1..s + 1 + e]))
        .unwrap_or(arg);
    inner.to_owned()
}

async fn reply(w: &mut tokio::net::tcp::OwnedWriteHalf, s: &str) -> bool {
    w.write_all(s.as_bytes()).await.is_ok()
}

async fn session(stream: TcpStream, inbox: Arc<Inbox>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if !reply(&mut write, "220 palisade-test ESMTP\r\n").await {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::<String>::new());
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end();
        let upper = command.to_ascii_uppercase();
        let answer = if upper.starts_with("EHLO") {
            "250-palisade-test\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            "250 OK\r\n"
        } else if upper.starts_with("RSET") {
            (from, to) = (String::new(), Vec::new());
            "250 OK\r\n"
        } else if let Some(arg) = upper.strip_prefix("MAIL FROM:").map(|_| &command[10..]) {
            from = path_arg(arg.split(' ').next().unwrap_or_default());
            "250 OK\r\n"
        } else if let Some(arg) = upper.strip_prefix("RCPT TO:").map(|_| &command[8..]) {
            to.push(path_arg(arg));
            "250 OK\r\n"
        } else if upper == "DATA" {
            if !reply(&mut write, "354 end with <CRLF>.<CRLF>\r\n").await {
                return;
            }
            let mut data = String::new();
            loop {
                line.clear();
                match lines.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                // Dot-unstuffing (RFC 5321 4.5.2).
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            let mail = ReceivedMail {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            };
            inbox
                .mails
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(mail);
            inbox.arrived.notify_waiters();
            "250 OK queued\r\n"
        } else if upper.starts_with("QUIT") {
            let _ = reply(&mut write, "221 bye\r\n").await;
            return;
        } else {
            "502 command not implemented\r\n"
        };
        if !reply(&mut write, answer).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_and_links() {
        let mail = ReceivedMail {
            from: "a@x".into(),
            to: vec!["b@x".into()],
            data: "Subject: Hi\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
                   open https://p.test/accept-invitation#token=3Dab=\r\ncd_-9 now\r\n"
                .into(),
        };
        assert_eq!(mail.header("subject").as_deref(), Some("Hi"));
        assert_eq!(
            mail.link_token("/accept-invitation").as_deref(),
            Some("abcd_-9")
        );
        assert_eq!(path_arg("<a@x.example> BODY=8BITMIME"), "a@x.example");
    }
}
