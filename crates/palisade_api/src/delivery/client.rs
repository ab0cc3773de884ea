//! One POST to a receiver, safely: the host is resolved here and only public addresses are
//! connected to (checked at connect time, on the addresses actually used, so a name that
//! resolved to a public address at registration and to `169.254.169.254` now is refused: DNS
//! rebinding), over TLS verified against the public web PKI, with one deadline for the whole
//! attempt and a cap on what is read back. No redirect is followed, no proxy used. Only the
//! status line and headers of the answer are read (16 KiB at most); the body is never read.
//!
//! A test build (cargo feature `test-delivery-targets`, which the release binary lacks) can
//! add a test CA, name-to-address overrides and loopback addresses through
//! `Targets::for_tests` (present only with that feature); nothing at run time can.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade_db::outbound_delivery::DeliveryError;
use palisade_domain::{is_public_ipv4, is_public_ipv6};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use url::{Host, Url};

/// The deadline of one attempt: resolving, connecting, TLS, sending, and the answer's headers.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// The most of an answer read: its status line and headers.
pub const MAX_RESPONSE_HEAD: usize = 16 * 1024;
/// The most time one address of several is given to accept a connection before the next is
/// tried (the last gets what remains of the attempt): an address that silently drops
/// connections would otherwise take the whole attempt, and every retry the same way.
pub const CONNECT_PER_ADDRESS: Duration = Duration::from_secs(3);

/// Where deliveries may go and which certificates are trusted.
#[derive(Clone)]
pub struct Targets {
    tls: TlsConnector,
    timeout: Duration,
    #[cfg(feature = "test-delivery-targets")]
    test: Option<Arc<TestTargets>>,
}

#[cfg(feature = "test-delivery-targets")]
struct TestTargets {
    hosts: std::collections::HashMap<String, IpAddr>,
    allow_loopback: bool,
}

impl std::fmt::Debug for Targets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Targets").finish_non_exhaustive()
    }
}

fn tls_config(roots: RootCertStore) -> Result<ClientConfig, rustls::Error> {
    Ok(
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

impl Targets {
    /// Production: public addresses only, the web PKI's roots (Mozilla's, from `webpki-roots`).
    pub fn public() -> Result<Self, rustls::Error> {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        Ok(Self {
            tls: TlsConnector::from(Arc::new(tls_config(roots)?)),
            timeout: ATTEMPT_TIMEOUT,
            #[cfg(feature = "test-delivery-targets")]
            test: None,
        })
    }

    /// Tests only: trusts `ca` (DER) instead of the web PKI, resolves the names of `hosts`
    /// to their addresses without DNS, with `allow_loopback` connects to loopback addresses
    /// (every other non-public address stays refused), and gives up an attempt after
    /// `timeout`.
    #[cfg(feature = "test-delivery-targets")]
    pub fn for_tests(
        ca: rustls::pki_types::CertificateDer<'static>,
        hosts: std::collections::HashMap<String, IpAddr>,
        allow_loopback: bool,
        timeout: Duration,
    ) -> Result<Self, rustls::Error> {
        let mut roots = RootCertStore::empty();
        roots.add(ca)?;
        Ok(Self {
            tls: TlsConnector::from(Arc::new(tls_config(roots)?)),
            timeout,
            test: Some(Arc::new(TestTargets {
                hosts,
                allow_loopback,
            })),
        })
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        #[cfg(feature = "test-delivery-targets")]
        if self.test.as_ref().is_some_and(|t| t.allow_loopback) && ip.is_loopback() {
            return true;
        }
        match ip {
            IpAddr::V4(v4) => is_public_ipv4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => is_public_ipv4(v4),
                None => is_public_ipv6(v6),
            },
        }
    }

    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, DeliveryError> {
        #[cfg(feature = "test-delivery-targets")]
        if let Some(ip) = self.test.as_ref().and_then(|t| t.hosts.get(host)) {
            return Ok(vec![SocketAddr::new(*ip, port)]);
        }
        let found = tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| DeliveryError::Dns)?;
        Ok(found.collect())
    }
}

/// A receiver's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// Its HTTP status.
    pub status: u16,
}

/// How an attempt ended: the answer, or why there was none; and how long it took.
#[derive(Debug)]
pub struct Sent {
    /// The answer or the failure.
    pub result: Result<Answer, DeliveryError>,
    /// Elapsed time.
    pub elapsed: Duration,
}

/// POSTs `body` with `headers` to `url` (an `https://` URL), within [`ATTEMPT_TIMEOUT`].
pub async fn post(targets: &Targets, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Sent {
    let start = Instant::now();
    let attempt = attempt(targets, url, headers, body, start + targets.timeout);
    let result = match tokio::time::timeout(targets.timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(DeliveryError::Timeout),
    };
    Sent {
        result,
        elapsed: start.elapsed(),
    }
}

async fn attempt(
    targets: &Targets,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    deadline: Instant,
) -> Result<Answer, DeliveryError> {
    // Registration validated the URL; it is checked again, as stored, before anything is sent.
    let url = Url::parse(url).map_err(|_| DeliveryError::Protocol)?;
    if url.scheme() != "https" {
        return Err(DeliveryError::Protocol);
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let (name, addrs) = match url.host() {
        Some(Host::Domain(d)) => (d.to_owned(), targets.resolve(d, port).await?),
        Some(Host::Ipv4(ip)) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
        Some(Host::Ipv6(ip)) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
        None => return Err(DeliveryError::Protocol),
    };
    let public: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| targets.allowed(a.ip()))
        .collect();
    if public.is_empty() {
        return Err(DeliveryError::NonPublicAddress);
    }
    let tcp = connect(&public, deadline).await?;
    let server_name = ServerName::try_from(name.clone()).map_err(|_| DeliveryError::Tls)?;
    let mut tls = targets
        .tls
        .connect(server_name, tcp)
        .await
        .map_err(|_| DeliveryError::Tls)?;

    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let host_header = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let mut request = format!(
        "POST {target} HTTP/1.1\r\nHost: {host_header}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(name);
        request.push_str(": ");
        request.push_str(value);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    tls.write_all(request.as_bytes())
        .await
        .map_err(|_| DeliveryError::Connect)?;
    tls.write_all(body)
        .await
        .map_err(|_| DeliveryError::Connect)?;
    tls.flush().await.map_err(|_| DeliveryError::Connect)?;
    read_status(&mut tls).await
}

/// Connects to the first address that accepts, in turn: each but the last within
/// [`CONNECT_PER_ADDRESS`] (or what remains before `deadline`, if less); the last until the
/// attempt's own deadline ends it.
async fn connect(addrs: &[SocketAddr], deadline: Instant) -> Result<TcpStream, DeliveryError> {
    for (i, addr) in addrs.iter().enumerate() {
        let connected = if i + 1 < addrs.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::timeout(left.min(CONNECT_PER_ADDRESS), TcpStream::connect(addr))
                .await
                .ok()
        } else {
            Some(TcpStream::connect(addr).await)
        };
        if let Some(Ok(s)) = connected {
            return Ok(s);
        }
    }
    Err(DeliveryError::Connect)
}

/// Reads the answer's status line and headers (at most [`MAX_RESPONSE_HEAD`] bytes), past any
/// interim (1xx) answers.
async fn read_status<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Result<Answer, DeliveryError> {
    let mut buf = vec![0u8; MAX_RESPONSE_HEAD];
    let mut len = 0;
    loop {
        if len > 0 {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&buf[..len]) {
                Ok(httparse::Status::Complete(head)) => match response.code {
                    // An interim answer (100 Continue, 103 Early Hints): the final one follows.
                    Some(c) if (100..200).contains(&c) => {
                        buf.copy_within(head..len, 0);
                        len -= head;
                        continue;
                    }
                    Some(c) if (200..=599).contains(&c) => return Ok(Answer { status: c }),
                    _ => return Err(DeliveryError::Protocol),
                },
                Ok(httparse::Status::Partial) => {}
                Err(httparse::Error::TooManyHeaders) => {
                    return Err(DeliveryError::ResponseTooLarge);
                }
                Err(_) => return Err(DeliveryError::Protocol),
            }
        }
        if len == buf.len() {
            return Err(DeliveryError::ResponseTooLarge);
        }
        let n = s
            .read(&mut buf[len..])
            .await
            .map_err(|_| DeliveryError::Protocol)?;
        if n == 0 {
            return Err(DeliveryError::Protocol);
        }
        len += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_only_the_head_and_refuses_garbage_or_an_endless_head() {
        let ok = b"HTTP/1.1 204 No Content\r\nX: y\r\n\r\nignored body".to_vec();
        let interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\n\r\n".to_vec();
        assert_eq!(
            read_status(&mut interim.as_slice()).await.ok(),
            Some(Answer { status: 202 })
        );
        assert_eq!(
            read_status(&mut ok.as_slice()).await.ok(),
            Some(Answer { status: 204 })
        );
        let garbage = b"SSH-2.0-OpenSSH\r\n\r\n".to_vec();
        assert_eq!(
            read_status(&mut garbage.as_slice()).await.err(),
            Some(DeliveryError::Protocol)
        );
        let cut = b"HTTP/1.1 200 OK\r\n".to_vec();
        assert_eq!(
            read_status(&mut cut.as_slice()).await.err(),
            Some(DeliveryError::Protocol)
        );
        let mut endless = b"HTTP/1.1 200 OK\r\n".to_vec();
        endless.extend(
            std::iter::repeat_n(b"X-Pad: aaaaaaaaaaaaaaaa\r\n".iter().copied(), 2000).flatten(),
        );
        assert_eq!(
            read_status(&mut endless.as_slice()).await.err(),
            Some(DeliveryError::ResponseTooLarge)
        );
    }

    /// An address that silently drops connections no longer takes the whole attempt: the next
    /// one is tried and connects (before, the attempt's deadline ended it, every retry alike).
    /// The address: a loopback listener with a backlog of 0 whose accept queue is full, so that
    /// Linux drops further SYNs.
    #[tokio::test]
    async fn an_address_that_drops_connections_gives_way_to_the_next() -> std::io::Result<()> {
        let silent = tokio::net::TcpSocket::new_v4()?;
        silent.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let silent = silent.listen(0)?;
        let dropping = silent.local_addr()?;
        let _queued = TcpStream::connect(dropping).await?;
        assert!(
            tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(dropping))
                .await
                .is_err(),
            "the full listener answered a connection: the test proves nothing here"
        );
        let live = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let deadline = Instant::now() + ATTEMPT_TIMEOUT;
        let connected = tokio::time::timeout_at(
            deadline.into(),
            connect(&[dropping, live.local_addr()?], deadline),
        )
        .await;
        assert!(matches!(connected, Ok(Ok(_))), "{connected:?}");
        Ok(())
    }

    #[tokio::test]
    async fn refuses_non_public_addresses_whatever_the_url() {
        let Ok(targets) = Targets::public() else {
            panic!("the web PKI roots load");
        };
        for url in [
            "https://127.0.0.1/hook",
            "https://10.1.2.3/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://localhost/hook",
        ] {
            let sent = post(&targets, url, &[], b"{}").await;
            assert_eq!(
                sent.result.err(),
                Some(DeliveryError::NonPublicAddress),
                "{url}"
            );
        }
    }
}
