//! Real local HTTPS receivers for outbound webhook deliveries: a test CA ([`TestCa`]) signs
//! each receiver's certificate for its own host name (`hooks-<n>.example.com`, which passes the
//! registration check and which the test worker resolves to 127.0.0.1 without DNS), and a
//! receiver answers every request the way its [`Reply`] says, keeping what it received. The
//! same kind of CA signs the TLS test cluster's certificate (`tests/api/db_tls.rs`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_api::delivery::{DeliveryWorker, Targets};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

/// A certificate authority made for one test.
pub struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    der: CertificateDer<'static>,
    pem: String,
}

impl TestCa {
    /// A new self-signed CA.
    pub fn new() -> Self {
        let key = rcgen::KeyPair::generate().expect("CA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Palisade test CA");
        let cert = params.self_signed(&key).expect("CA certificate");
        let der = cert.der().clone();
        Self {
            issuer: rcgen::Issuer::new(params, key),
            der,
            pem: cert.pem(),
        }
    }

    /// The CA's certificate, PEM: what a client's CA file holds.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A certificate for `names` (DNS names; IP addresses become IP address names) and its
    /// key, both PEM: what a server's certificate and key files hold.
    pub fn leaf_pem(&self, names: &[&str]) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let params = rcgen::CertificateParams::new(names).expect("leaf params");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        (cert.pem(), key.serialize_pem())
    }

    /// A certificate for `name`, with its key.
    fn leaf(&self, name: &str) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let params = rcgen::CertificateParams::new(vec![name.to_owned()]).expect("leaf params");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        (
            cert.der().clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

/// How a receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// An HTTP answer with this status.
    Status(u16),
    /// Reads the request and never answers.
    Silent,
    /// Answers bytes that are not HTTP.
    NotHttp,
    /// Answers a status line and then headers without end.
    EndlessHeaders,
}

/// A request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request target (path and query).
    pub path: String,
    /// Headers, names lowercased.
    pub headers: HashMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Received {
    /// A header's value.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A local HTTPS receiver.
pub struct Receiver {
    /// Its host name (resolved to 127.0.0.1 by [`test_worker`]'s targets).
    pub host: String,
    /// Its port.
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    reply: Arc<Mutex<Reply>>,
}

static NEXT: AtomicUsize = AtomicUsize::new(1);

impl Receiver {
    /// Starts a receiver with a certificate from `ca` for its own name.
    pub async fn start(ca: &TestCa, reply: Reply) -> Self {
        let host = format!("hooks-{}.example.com", NEXT.fetch_add(1, Ordering::Relaxed));
        Self::start_with_certificate_for(ca, reply, &host, &host).await
    }

    /// Starts a receiver called `host` whose certificate names `certified` instead (a TLS
    /// host-name mismatch when they differ).
    pub async fn start_with_certificate_for(
        ca: &TestCa,
        reply: Reply,
        host: &str,
        certified: &str,
    ) -> Self {
        let (cert, key) = ca.leaf(certified);
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("TLS versions")
                .with_no_client_auth()
                .with_single_cert(vec![cert], key)
                .expect("server certificate");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let reply = Arc::new(Mutex::new(reply));
        let (r, a) = (received.clone(), reply.clone());
        actix_web::rt::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, r, a) = (acceptor.clone(), r.clone(), a.clone());
                actix_web::rt::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        serve(tls, &r, &a).await;
                    }
                });
            }
        });
        Self {
            host: host.to_owned(),
            port,
            received,
            reply,
        }
    }

    /// The URL to register: `https://<host>:<port>/hook`.
    pub fn url(&self) -> String {
        format!("https://{}:{}/hook", self.host, self.port)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("received").clone()
    }

    /// Answers the next requests this way.
    pub fn reply(&self, reply: Reply) {
        *self.reply.lock().expect("reply") = reply;
    }
}

/// A port nothing listens on (bound, then closed).
pub async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("addr").port()
}

async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    received: &Mutex<Vec<Received>>,
    reply: &Mutex<Reply>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (path, headers, body_start) = loop {
        let Ok(n) = s.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut h = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut h);
        if let Ok(httparse::Status::Complete(len)) = req.parse(&buf) {
            let headers: HashMap<String, String> = req
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            break (req.path.unwrap_or_default().to_owned(), headers, len);
        }
    };
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < body_start + length {
        let Ok(n) = s.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    received.lock().expect("received").push(Received {
        path,
        headers,
        body: buf[body_start..body_start + length].to_vec(),
    });
    let reply = *reply.lock().expect("reply");
    let answer: Vec<u8> = match reply {
        Reply::Status(code) => {
            format!("HTTP/1.1 {code} Whatever\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .into_bytes()
        }
        Reply::Silent => {
            // Hold the connection until the client gives up.
            let _ = s.read(&mut chunk).await;
            return;
        }
        Reply::NotHttp => b"SSH-2.0-OpenSSH_9.2\r\n\r\n".to_vec(),
        Reply::EndlessHeaders => {
            let mut a = b"HTTP/1.1 200 OK\r\n".to_vec();
            for _ in 0..2000 {
                a.extend_from_slice(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaa\r\n");
            }
            a
        }
    };
    let _ = s.write_all(&answer).await;
    let _ = s.shutdown().await;
}

/// A delivery worker over `pool` and `clock` whose targets trust `ca`, resolve each receiver's
/// name to 127.0.0.1 and each of `other_names` to its address, and allow loopback (when
/// `allow_loopback`); an attempt times out after 2 s.
pub fn test_worker(
    pool: palisade_db::AppPool,
    clock: palisade_domain::SharedClock,
    ca: &TestCa,
    receivers: &[&Receiver],
    other_names: &[(&str, IpAddr)],
    allow_loopback: bool,
) -> DeliveryWorker {
    let mut hosts: HashMap<String, IpAddr> = receivers
        .iter()
        .map(|r| (r.host.clone(), IpAddr::from([127, 0, 0, 1])))
        .collect();
    for (name, ip) in other_names {
        hosts.insert((*name).to_owned(), *ip);
    }
    let targets = Targets::for_tests(
        ca.der.clone(),
        hosts,
        allow_loopback,
        Duration::from_secs(2),
    )
    .expect("test targets");
    DeliveryWorker::new(pool, clock, targets)
}
