//! TLS to PostgreSQL (`palisade_db::tls`): every `sslmode` against a cluster of its own that
//! runs with `ssl = on` and a certificate for `localhost` only, signed by a CA made here; and
//! `prefer` and `require` against the ordinary test cluster, which has no TLS. The connections
//! go through `schema::connect` (every subcommand's), `connect_to` and the pools.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use palisade_db::{AppPool, PoolSettings, schema};
use palisade_domain::Secret;
use palisade_pg_embedded::{
    ClusterOptions, PgBinaries, RunningCluster, ephemeral_dir, give_to_server_user,
};
use palisade_test_support::receiver::TestCa;

/// The cluster's superuser and roles' password: random, made once per process (a fixed one in
/// the repository would let any local user in over 127.0.0.1).
fn password() -> &'static str {
    static PASSWORD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PASSWORD.get_or_init(palisade_test_support::random_password)
}

/// A cluster with `ssl = on`, and the CA files a client may name.
struct TlsCluster {
    cluster: RunningCluster,
    /// The CA that signed the server's certificate.
    ca_file: PathBuf,
    /// Another CA, which signed nothing of this server's.
    wrong_ca_file: PathBuf,
}

impl TlsCluster {
    fn start() -> Self {
        let data_dir = ephemeral_dir("palisade-tls").expect("temp dir");
        // The ephemeral parent (0755) goes with the cluster, and these files with it.
        let dir = data_dir.parent().expect("parent").to_path_buf();
        let ca = TestCa::new();
        let (cert, key) = ca.leaf_pem(&["localhost"]);
        let write = |name: &str, contents: &str, mode: u32| {
            let path = dir.join(name);
            std::fs::write(&path, contents).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            path
        };
        let cert_file = write("server.crt", &cert, 0o644);
        // PostgreSQL refuses a key that is readable by others or owned by another user.
        let key_file = write("server.key", &key, 0o600);
        give_to_server_user(&key_file).unwrap();
        let ca_file = write("ca.pem", ca.pem(), 0o644);
        let wrong_ca_file = write("wrong-ca.pem", TestCa::new().pem(), 0o644);
        let path = |p: &Path| p.to_str().unwrap().to_owned();
        let bins = PgBinaries::locate().unwrap_or_else(|e| panic!("{e}"));
        let cluster = RunningCluster::start(
            &bins,
            ClusterOptions {
                data_dir,
                port: None,
                superuser: "postgres".into(),
                superuser_password: password().into(),
                ephemeral: true,
                settings: vec![
                    ("ssl".into(), "on".into()),
                    ("ssl_cert_file".into(), path(&cert_file)),
                    ("ssl_key_file".into(), path(&key_file)),
                ],
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Self {
            cluster,
            ca_file,
            wrong_ca_file,
        }
    }

    /// The superuser's URL to `host`, with `query` (`sslmode=...&...`).
    fn url(&self, host: &str, query: &str) -> String {
        format!(
            "postgresql://postgres:{}@{host}:{}/postgres?{query}",
            password(),
            self.cluster.port()
        )
    }
}

/// Whether the session of `url` is encrypted, by the server's own account.
async fn ssl(url: &str) -> Result<bool, String> {
    let client = schema::connect(url).await.map_err(|e| e.to_string())?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

/// The error `url` is refused with; it must not show the password.
async fn refused(url: &str) -> String {
    match ssl(url).await {
        Ok(ssl) => panic!("connected (ssl = {ssl}) where a refusal was expected"),
        Err(e) => {
            assert!(!e.contains(password()), "the error shows the password: {e}");
            e
        }
    }
}

#[tokio::test]
async fn every_sslmode_does_what_libpq_says_against_a_tls_server() {
    let c = TlsCluster::start();
    let ca = c.ca_file.display().to_string();
    let wrong = c.wrong_ca_file.display().to_string();

    // verify-full: the chain and the host name, here with SCRAM channel binding insisted on
    // (SCRAM-SHA-256-PLUS over tls-server-end-point).
    let full = |host: &str, ca: &str| {
        c.url(
            host,
            &format!("sslmode=verify-full&sslrootcert={ca}&channel_binding=require"),
        )
    };
    assert_eq!(ssl(&full("localhost", &ca)).await, Ok(true));
    // The same as a key=value connection string.
    let kv = format!(
        "host=localhost port={} user=postgres password={} dbname=postgres \
         sslmode=verify-full sslrootcert='{ca}'",
        c.cluster.port(),
        password()
    );
    assert_eq!(ssl(&kv).await, Ok(true));
    // The certificate is for localhost, not for 127.0.0.1.
    let e = refused(&full("127.0.0.1", &ca)).await;
    assert!(
        e.contains("the database server's certificate is not valid for host 127.0.0.1"),
        "{e}"
    );
    assert!(e.contains("the certificate is for localhost"), "{e}");
    let e = refused(&full("localhost", &wrong)).await;
    assert!(
        e.contains(&format!(
            "the database server's certificate is not signed by the CA in {wrong}"
        )),
        "{e}"
    );
    // Without a CA file, the built-in Mozilla roots, which do not know the test CA.
    let e = refused(&c.url("localhost", "sslmode=verify-full")).await;
    assert!(
        e.contains("not signed by a CA of the built-in Mozilla roots"),
        "{e}"
    );

    // verify-ca: the chain only, so a host name the certificate does not list is fine.
    let verify_ca = |ca: &str| c.url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}"));
    assert_eq!(ssl(&verify_ca(&ca)).await, Ok(true));
    let e = refused(&verify_ca(&wrong)).await;
    assert!(
        e.contains(&format!("is not signed by the CA in {wrong}")),
        "{e}"
    );

    // require: encrypted, unverified; with a CA file, as verify-ca (libpq's rule).
    assert_eq!(ssl(&c.url("127.0.0.1", "sslmode=require")).await, Ok(true));
    let require_with = |ca: &str| c.url("127.0.0.1", &format!("sslmode=require&sslrootcert={ca}"));
    assert_eq!(ssl(&require_with(&ca)).await, Ok(true));
    let e = refused(&require_with(&wrong)).await;
    assert!(e.contains("is not signed by the CA in"), "{e}");

    // prefer (also the default) takes the TLS the server offers; disable never does.
    assert_eq!(ssl(&c.url("127.0.0.1", "sslmode=prefer")).await, Ok(true));
    assert_eq!(
        ssl(&c.url("127.0.0.1", "application_name=x")).await,
        Ok(true)
    );
    assert_eq!(ssl(&c.url("127.0.0.1", "sslmode=disable")).await, Ok(false));

    // connect_to (the audit's scratch database, bootstrap) keeps the URL's TLS settings.
    let client = schema::connect_to(&full("localhost", &wrong), "template1").await;
    assert!(client.is_err(), "connect_to ignored sslrootcert");
    schema::connect_to(&full("localhost", &ca), "template1")
        .await
        .unwrap();

    // The pools (the app's, the billing role's) too.
    let pool = |url: String| {
        AppPool::new(&PoolSettings {
            url: Secret::new(url).into(),
            max_size: 1,
            wait_timeout: Duration::from_secs(10),
        })
        .unwrap()
    };
    pool(full("localhost", &ca)).idle_context().await.unwrap();
    let e = pool(full("localhost", &wrong))
        .idle_context()
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not signed by the CA in"), "{e}");
    assert!(!e.contains(password()), "{e}");
    // A CA file that is not there stops the pool from being built, naming the setting.
    let e = AppPool::new(&PoolSettings {
        url: Secret::new(full("localhost", "/nonexistent/ca.pem")).into(),
        max_size: 1,
        wait_timeout: Duration::from_secs(10),
    })
    .err()
    .expect("a pool over a missing CA file")
    .to_string();
    assert!(
        e.contains("sslrootcert in the database URL (/nonexistent/ca.pem): cannot be read"),
        "{e}"
    );
    assert!(!e.contains(password()), "{e}");

    c.cluster.stop().unwrap();
}

#[tokio::test]
async fn prefer_falls_back_to_plain_text_and_require_refuses_a_server_without_tls() {
    let url = palisade_test_support::cluster().superuser_url("postgres");
    let with = |query: &str| {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}{query}")
    };
    assert_eq!(ssl(&with("sslmode=prefer")).await, Ok(false));
    assert_eq!(ssl(&url).await, Ok(false));
    let e = refused(&with("sslmode=require")).await;
    assert!(e.contains("server does not support TLS"), "{e}");
    let e = refused(&with("sslmode=verify-full")).await;
    assert!(e.contains("server does not support TLS"), "{e}");
}
