//! Database outages under load, against the built server: while PostgreSQL restarts, or ends the
//! app's backends, a request answers 503 with `Retry-After` (never 500), `/readyz` says not ready
//! until the database answers again, the server recovers by itself, and no acknowledged write is
//! lost.
//!
//! Its own test process and its own cluster: the test stops and starts the cluster, which every
//! other test of a process would see.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use palisade_db::schema::{self, RolePasswords};
use palisade_pg_embedded::{ClusterOptions, PgBinaries, RunningCluster, ephemeral_dir};
use palisade_test_support::{TestResponse, request};

/// The cluster's superuser and roles' password: random, made once per process (a fixed one in
/// the repository would let any local user in over 127.0.0.1).
fn password() -> &'static str {
    static PASSWORD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PASSWORD.get_or_init(palisade_test_support::random_password)
}
const DB: &str = "palisade";
const JWT_SECRET: &str = "outage-test-jwt-secret-of-at-least-32-bytes";

fn options(data_dir: &Path, port: Option<u16>) -> ClusterOptions {
    ClusterOptions {
        data_dir: data_dir.to_owned(),
        port,
        superuser: "postgres".into(),
        superuser_password: password().into(),
        ephemeral: false,
        settings: vec![],
    }
}

/// Starts (or starts again) the cluster in `data_dir`, off the test's runtime.
async fn start_cluster(data_dir: &Path, port: Option<u16>) -> RunningCluster {
    let opts = options(data_dir, port);
    tokio::task::spawn_blocking(move || {
        let bins = PgBinaries::locate().unwrap_or_else(|e| panic!("{e}"));
        RunningCluster::start(&bins, opts).unwrap_or_else(|e| panic!("{e}"))
    })
    .await
    .unwrap()
}

async fn stop_cluster(cluster: RunningCluster) {
    tokio::task::spawn_blocking(move || cluster.stop())
        .await
        .unwrap()
        .unwrap();
}

/// The built server over `cluster`, as a deployment runs it (external database).
struct Server {
    child: std::process::Child,
    addr: String,
    log: PathBuf,
}

impl Server {
    fn start(cluster: &RunningCluster, work: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let log = work.join("server.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "DATABASE_URL",
                cluster.url(schema::OWNER_ROLE, password(), DB),
            )
            .env(
                "PALISADE_APP_DATABASE_URL",
                cluster.url(schema::APP_LOGIN_ROLES[0], password(), DB),
            )
            .env("PALISADE_JWT_SECRET", JWT_SECRET)
            .env("PALISADE_HTTP_ADDR", &addr)
            .env("PALISADE_HTTP_WORKERS", "2")
            .env("PALISADE_DB_POOL_SIZE", "4")
            .env("PALISADE_DATA_DIR", work)
            .env("RUST_LOG", "info")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        Self { child, addr, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for `/readyz` to answer `status` (the server's own pace, not a timing assertion:
    /// the bound only stops a hung test).
    async fn until_ready_is(&self, status: u16) -> TestResponse {
        for _ in 0..1200 {
            // Not listening yet (just started): wait for the socket before asking.
            if tokio::net::TcpStream::connect(&self.addr).await.is_err() {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            let r = request(&self.addr, "GET", "/readyz", &[], None).await;
            if r.status == status {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "/readyz never answered {status}; the server's log:\n{}",
            self.log()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// What the load saw: the ids of the customers whose creation was acknowledged (201), how many
/// requests succeeded, and every other answer as (status, Retry-After, body).
#[derive(Default)]
struct Seen {
    created: Vec<String>,
    ok: usize,
    refused: Vec<(u16, Option<String>, String)>,
}

/// `workers` loops of a list and, every other request, a create, until `stop`.
fn start_load(
    addr: &str,
    token: &str,
    workers: usize,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Seen>> {
    (0..workers)
        .map(|w| {
            let (addr, stop) = (addr.to_owned(), Arc::clone(&stop));
            let auth = vec![("Authorization", format!("Bearer {token}"))];
            tokio::spawn(async move {
                let mut seen = Seen::default();
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let r = if n.is_multiple_of(2) {
                        let mut headers = auth.clone();
                        headers.push(("Content-Type", "application/json".to_owned()));
                        let body = serde_json::json!({ "name": format!("Load {w}-{n}") });
                        request(
                            &addr,
                            "POST",
                            "/v1/customers",
                            &headers,
                            Some(body.to_string().as_bytes()),
                        )
                        .await
                    } else {
                        request(&addr, "GET", "/v1/customers?limit=5", &auth, None).await
                    };
                    match r.status {
                        201 => {
                            seen.created.push(r.json["id"].as_str().unwrap().to_owned());
                            seen.ok += 1;
                        }
                        200 => seen.ok += 1,
                        status => {
                            let retry = r.header("retry-after").map(str::to_owned);
                            seen.refused.push((status, retry, r.text));
                        }
                    }
                }
                seen
            })
        })
        .collect()
}

async fn finish(stop: &AtomicBool, load: Vec<tokio::task::JoinHandle<Seen>>) -> Seen {
    stop.store(true, Ordering::SeqCst);
    let mut all = Seen::default();
    for h in load {
        let s = h.await.unwrap();
        all.created.extend(s.created);
        all.ok += s.ok;
        all.refused.extend(s.refused);
    }
    all
}

/// Every refused request of `seen` was a 503 with `Retry-After` and the `unavailable` code.
fn assert_only_503(seen: &Seen, when: &str) {
    for (status, retry, body) in &seen.refused {
        assert_eq!(*status, 503, "{when}: {status} {body}");
        assert!(retry.is_some(), "{when}: a 503 without Retry-After: {body}");
        assert!(body.contains("\"unavailable\""), "{when}: {body}");
    }
}

async fn customer_ids(su: &tokio_postgres::Client) -> Vec<String> {
    su.query("SELECT id::text FROM palisade.customers", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_answer_503_with_retry_after_and_lose_no_acknowledged_write() {
    // Not ephemeral: its data must survive the restart. Removed at the end, with the
    // directory ephemeral_dir made for it (where the server's work files go too).
    let data_dir = ephemeral_dir("palisade-outage").unwrap();
    let work = data_dir.parent().unwrap().to_owned();
    let cluster = start_cluster(&data_dir, None).await;
    let port = cluster.port();
    let su_url = cluster.url("postgres", password(), "postgres");
    let passwords = RolePasswords {
        owner: password().into(),
        app: password().into(),
        app_role: schema::APP_LOGIN_ROLES[0],
        billing: password().into(),
    };
    schema::bootstrap(&su_url, DB, &passwords, &schema::RoleLimits::default())
        .await
        .unwrap();
    schema::migrate(&cluster.url(schema::OWNER_ROLE, password(), DB))
        .await
        .unwrap();
    schema::install_definers(&su_url, DB).await.unwrap();

    let server = Server::start(&cluster, &work);
    server.until_ready_is(200).await;
    let signup = serde_json::json!({"organization_name": "Outage", "name": "Ada",
        "email": "ada@outage.example", "password": "correct horse battery"});
    let r = request(
        &server.addr,
        "POST",
        "/v1/auth/signup",
        &[("Content-Type", "application/json".to_owned())],
        Some(signup.to_string().as_bytes()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let token = r.json["token"].as_str().unwrap().to_owned();

    // 1. The app's backends ended under load (a DBA's pg_terminate_backend, an OOM kill),
    //    several times.
    let su = schema::connect(&cluster.url("postgres", password(), DB))
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(&server.addr, &token, 8, Arc::clone(&stop));
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        su.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = $1 AND usename = $2",
            &[&DB, &schema::APP_LOGIN_ROLES[0]],
        )
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let terminated = finish(&stop, load).await;
    assert!(terminated.ok > 0);
    assert_only_503(&terminated, "terminated backends");

    // 2. The cluster stopped (a fast shutdown: 57P01 to every session) and started again on the
    //    same port, under load.
    drop(su);
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(&server.addr, &token, 8, Arc::clone(&stop));
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop_cluster(cluster).await;
    let down = server.until_ready_is(503).await;
    assert!(down.header("retry-after").is_some(), "{}", down.text);
    let r = request(
        &server.addr,
        "GET",
        "/v1/customers",
        &[("Authorization", format!("Bearer {token}"))],
        None,
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(r.header("retry-after").is_some());
    let cluster = start_cluster(&data_dir, Some(port)).await;
    server.until_ready_is(200).await;
    // The load goes on against the restarted server.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let restarted = finish(&stop, load).await;
    assert_only_503(&restarted, "restart");
    assert!(
        !restarted.refused.is_empty(),
        "the load never met the outage"
    );

    // Every acknowledged create is there.
    let su = schema::connect(&cluster.url("postgres", password(), DB))
        .await
        .unwrap();
    let stored = customer_ids(&su).await;
    for id in terminated.created.iter().chain(&restarted.created) {
        assert!(stored.contains(id), "acknowledged customer {id} was lost");
    }
    let log = server.log();
    assert!(
        !log.contains(password()),
        "a database password in the server's log"
    );
    drop(server);
    drop(su);
    stop_cluster(cluster).await;
    std::fs::remove_dir_all(&work).unwrap();
}
