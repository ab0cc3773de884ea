//! Benchmark: the `palisade` binary over HTTP against the database's own ceiling, in one run on
//! one throwaway PostgreSQL cluster.
//!
//! It starts a cluster (like `palisade_db`'s `tenant_tx` bench), bootstraps and migrates it,
//! seeds as the superuser (organization `i` has the id `00000000-0000-4000-8000-<i, 12 digits>`
//! and one owner, user `00000000-0000-4000-9000-<i>`, `owner<i>@bench.example`, password
//! [`USER_PASSWORD`]), starts the built `palisade` as a child process over it (log level info,
//! as deployed), mints a token per owner and drives loopback load with `wrk` (Debian: `apt-get
//! install wrk`), each request with a random organization's token. The same SQL is then run by
//! `pgbench` (PostgreSQL's own, from the located binaries) to show what the database can do:
//!
//! - A: the list statement with an app-side `WHERE organization_id = ...`, no RLS, as a
//!   BYPASSRLS reader role;
//! - P: Palisade's pattern as `palisade_app_a`: BEGIN, the context, the list, COMMIT, pipelined
//!   in one round trip;
//! - me: `GET /v1/me`'s statements, pipelined the same way (the one-round-trip target).
//!
//! The loads that a ratio compares (the list, `/v1/me`, a PATCH of a customer's name, one of
//! eight of a random organization's oldest, a create, a create with an `Idempotency-Key`, and
//! the four pgbench scripts) run in BENCH_ROUNDS=7 rounds, each load once per round, the list
//! next to P, `/v1/me` next to its SQL and the two creates together, in an order swapped from
//! round to round. The creates (`POST /v1/customers`) go to
//! [`CREATE_ORGS`] organizations of their own, seeded without customers, which no other load
//! reads: their rows, newest, would otherwise lead the list's pages. It prints req/s, p50, p99,
//! the server's CPU per request and its memory (the medians of the rounds), then each ratio as
//! the median of the rounds' own ratios with their range and, from 6 rounds on, the 95%
//! confidence interval of that median (`palisade_db`'s `benches/support/stats.rs`), and calls a
//! target met or not met only when the interval lies on one side of it. Not a test: nothing here asserts a time.
//!
//! `cargo bench -p palisade_server --bench http` (env: BENCH_ORGS=50, BENCH_PER_ORG=2000,
//! BENCH_SECS=5, BENCH_WARMUP_SECS=1, BENCH_CONNECTIONS=16; BENCH_PALISADE_BIN runs another
//! build of the server, e.g. a copy of the last one, to compare two versions on one machine;
//! the server's own `PALISADE_*` settings, e.g. PALISADE_HTTP_WORKERS, pass through to it).
//!
//! `BENCH_SCALE=1 cargo bench -p palisade_server --bench http`: the opt-in scale and fairness
//! run instead (minutes): list p50 with BENCH_SCALE_ORGS=1000 organizations of
//! BENCH_SCALE_PER_ORG=10000 customers against one organization of the same size alone, on the
//! first page and on a page 5,000 rows deep; then reads alone against reads beside a burst of
//! logins (BENCH_LOGIN_CONNECTIONS=8 connections, argon2id); each figure the median of
//! BENCH_ROUNDS=7 rounds (BENCH_FAIRNESS_ROUNDS for the fairness part alone), the fairness
//! ratios also per round, with their interval, as above. The p99 target's figure is the p99 of
//! all the rounds' reads pooled, each side, with a bootstrap interval over the rounds
//! ([`pooled_quantile`]).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use palisade_api::auth::{PasswordHashing, TokenKeys};
use palisade_db::crud::Table as _;
use palisade_db::customers::Customer;
use palisade_db::schema::{self, RolePasswords};
use palisade_domain::{OrgId, Password, Role, TenantContext, UserId};
use palisade_pg_embedded::{ClusterOptions, PgBinaries, RunningCluster, ephemeral_dir};

#[path = "../../palisade_db/benches/support/stats.rs"]
mod stats;

/// Every database role's password in the throwaway cluster: random, made once per run (a fixed
/// one in the repository would let any local user in over 127.0.0.1, as the superuser or as the
/// BYPASSRLS `palisade_bench_plain`).
fn password() -> &'static str {
    static PASSWORD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PASSWORD.get_or_init(|| {
        palisade_db::rotation::random_password()
            .unwrap()
            .expose()
            .to_owned()
    })
}
/// Every seeded owner's login password (hashed once, stored for all).
const USER_PASSWORD: &str = "bench correct horse battery";
/// The server's HS256 secret; the bench signs its tokens with it too.
const JWT_SECRET: &str = "palisade-http-bench-jwt-secret-0123456789abcdef";
const DB: &str = "palisade_bench";
/// The organizations after the listed ones that the create load writes to (and nothing reads).
const CREATE_ORGS: u64 = 10;

// ---------------------------------------------------------------------------------------------
// The SQL the server sends, as pgbench replays it. ONE PLACE to update when the server's
// statements change; `server_statements` prints what the server really ran (from
// pg_stat_statements) under each HTTP load, to compare with.
// ---------------------------------------------------------------------------------------------

/// Organization `i`'s id, as SQL over a pgbench variable (the seed uses the same expression).
fn org_sql(var: &str) -> String {
    format!("('00000000-0000-4000-8000-' || lpad({var}::text, 12, '0'))")
}

/// Organization `i`'s owner's user id, as SQL.
fn user_sql(var: &str) -> String {
    format!("('00000000-0000-4000-9000-' || lpad({var}::text, 12, '0'))")
}

/// The list statement `GET /v1/customers?limit=50` runs: `Customer::LIST` (palisade_db's
/// `table!`) completed as `palisade_db::list::ListQuery::fetch` completes it (newest first,
/// limit + 1 rows, the limit written into the statement).
fn list_sql() -> String {
    format!(
        "{} ORDER BY created_at DESC, id DESC LIMIT 51",
        Customer::LIST
    )
}

/// `palisade_db::tenant_tx`'s BEGIN and context (its `SET_CONTEXT`, with the ids computed from
/// the organization number instead of bound).
fn context_sql() -> String {
    format!(
        "SELECT set_config('app.current_org', {}, true), set_config('app.current_user', {}, true), \
         set_config('app.current_role', 'owner', true);",
        org_sql(":i"),
        user_sql(":i")
    )
}

/// pgbench A: the same list with the tenant filter in the application's SQL, no RLS.
fn pgbench_a() -> String {
    let filtered = list_sql().replace(
        "WHERE true",
        &format!("WHERE organization_id = {}::uuid", org_sql(":i")),
    );
    assert_ne!(filtered, list_sql(), "the list statement changed shape");
    format!("\\set i random(1, :orgs)\n{filtered};\n")
}

/// A pgbench script sending, for a random organization `i`, BEGIN, `opening` (the context or the
/// credential's check, with its `;`), `query` and COMMIT in one pipeline: one round trip and one
/// Sync (at `\endpipeline`), as `TenantTx` sends them (`Client::pipeline`).
fn pipelined_tx(opening: &str, query: &str) -> String {
    format!(
        "\\set i random(1, :orgs)\n\\startpipeline\nBEGIN;\n{opening}\n{query};\nCOMMIT;\n\\endpipeline\n"
    )
}

/// pgbench P: Palisade's pattern as issue 13 defines it: BEGIN, the context (three
/// `set_config`), the list and COMMIT in one pipeline (one round trip), as `TenantTx::begin`
/// sends them. The server's list now checks the credential in that pipeline instead
/// (pgbench P+check below), so P is the stricter baseline: it does less than the server.
fn pgbench_p() -> String {
    pipelined_tx(&context_sql(), &list_sql())
}

/// `palisade_db::tenant_tx::ENTER_SESSION` for organization `i`'s owner with the credential
/// version 0 and the least role `member`: the opening statement of `TenantTx::begin_checked`.
fn enter_session_sql() -> String {
    let sql = palisade_db::tenant_tx::ENTER_SESSION
        .replace("$1", &format!("{}::uuid", org_sql(":i")))
        .replace("$2", &format!("{}::uuid", user_sql(":i")))
        .replace("$3", "0")
        .replace("$4", "'member'");
    format!("{sql};")
}

/// pgbench P+check: exactly what `GET /v1/customers` sends (`Caller::begin`, then
/// `crud::list_page`): BEGIN, the credential's check that sets the context, the list, COMMIT,
/// in one pipeline.
fn pgbench_p_checked() -> String {
    pipelined_tx(&enter_session_sql(), &list_sql())
}

/// pgbench of `GET /v1/me`'s statements in one pipeline, as the server sends them
/// (`Caller::begin`, then `palisade_db::auth::me`): BEGIN, the credential's check
/// (`ENTER_SESSION`), `palisade_db::auth::ME`, COMMIT.
fn pgbench_me() -> String {
    pipelined_tx(&enter_session_sql(), palisade_db::auth::ME)
}

// ---------------------------------------------------------------------------------------------

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn org_id(i: u64) -> uuid::Uuid {
    uuid::Uuid::parse_str(&format!("00000000-0000-4000-8000-{i:012}")).unwrap()
}

fn user_id(i: u64) -> uuid::Uuid {
    uuid::Uuid::parse_str(&format!("00000000-0000-4000-9000-{i:012}")).unwrap()
}

fn owner_email(i: u64) -> String {
    format!("owner{i}@bench.example")
}

/// The cluster, the database and the work directory of one run.
struct Bench {
    cluster: RunningCluster,
    bins: PgBinaries,
    work: PathBuf,
    su: tokio_postgres::Client,
    secs: u64,
    warmup: u64,
    connections: u64,
    /// The owners' PHC hash, computed once.
    hash: String,
    runs: u64,
}

impl Bench {
    async fn start() -> Self {
        let (cluster, bins) = tokio::task::spawn_blocking(|| {
            let bins = PgBinaries::locate().unwrap_or_else(|e| panic!("{e}"));
            let cluster = RunningCluster::start(
                &bins,
                ClusterOptions {
                    data_dir: ephemeral_dir("palisade-bench-http").unwrap(),
                    port: None,
                    superuser: "postgres".into(),
                    superuser_password: password().into(),
                    ephemeral: true,
                    settings: vec![
                        ("shared_buffers".into(), "256MB".into()),
                        ("max_connections".into(), "200".into()),
                        ("max_wal_size".into(), "8GB".into()),
                        // What the server runs, to compare with the pgbench scripts.
                        (
                            "shared_preload_libraries".into(),
                            "pg_stat_statements".into(),
                        ),
                    ],
                },
            )
            .unwrap_or_else(|e| panic!("{e}"));
            (cluster, bins)
        })
        .await
        .unwrap();
        // The ephemeral cluster removes its data directory's parent on stop: our files go there.
        let work = cluster.data_dir().parent().unwrap().join("work");
        std::fs::create_dir_all(&work).unwrap();
        let passwords = RolePasswords {
            owner: password().into(),
            app: password().into(),
            app_role: schema::APP_LOGIN_ROLES[0],
            billing: password().into(),
        };
        let limits = schema::RoleLimits {
            connection_limit: 300,
            ..schema::RoleLimits::default()
        };
        let su_url = cluster.url("postgres", password(), "postgres");
        schema::bootstrap(&su_url, DB, &passwords, &limits)
            .await
            .unwrap();
        schema::migrate(&cluster.url("palisade_owner", password(), DB))
            .await
            .unwrap();
        schema::install_definers(&su_url, DB).await.unwrap();
        let su = schema::connect(&cluster.url("postgres", password(), DB))
            .await
            .unwrap();
        let pw = password();
        su.batch_execute(&format!(
            "CREATE EXTENSION pg_stat_statements;
             CREATE ROLE palisade_bench_plain LOGIN BYPASSRLS PASSWORD '{pw}';
             GRANT USAGE ON SCHEMA palisade TO palisade_bench_plain;
             GRANT SELECT ON palisade.customers TO palisade_bench_plain;"
        ))
        .await
        .unwrap();
        // The server's own hashing, with its parameters (m = 19 MiB, t = 2, p = 1).
        let hash = PasswordHashing::new(1)
            .unwrap()
            .hash(&Password::parse_attempt(USER_PASSWORD).unwrap())
            .await
            .unwrap();
        Self {
            cluster,
            bins,
            work,
            su,
            secs: env_num("BENCH_SECS", 5),
            warmup: env_num("BENCH_WARMUP_SECS", 1),
            connections: env_num("BENCH_CONNECTIONS", 16),
            hash,
            runs: 0,
        }
    }

    /// Seeds organizations `from..=to`, each with its owner and `per_org` customers (newest
    /// one second apart), set-based, as the superuser (RLS does not bind it), then ANALYZE.
    async fn seed(&self, from: u64, to: u64, per_org: u64) {
        let (from, to, per_org) = (from as i64, to as i64, per_org as i64);
        let (org, user) = (org_sql("i"), user_sql("i"));
        self.su
            .execute(
                &format!(
                    "INSERT INTO palisade.organizations (id, name) \
                     SELECT {org}::uuid, 'bench org ' || i FROM generate_series($1::bigint, $2) i"
                ),
                &[&from, &to],
            )
            .await
            .unwrap();
        self.su
            .execute(
                &format!(
                    "INSERT INTO palisade.users (organization_id, id, email, name, role, password_hash) \
                     SELECT {org}::uuid, {user}::uuid, 'owner' || i || '@bench.example', 'Owner ' || i, \
                            'owner', $3 FROM generate_series($1::bigint, $2) i"
                ),
                &[&from, &to, &self.hash],
            )
            .await
            .unwrap();
        self.su
            .execute(
                &format!(
                    "INSERT INTO palisade.customers (organization_id, id, name, email, created_at, updated_at) \
                     SELECT {org}::uuid, gen_random_uuid(), 'customer ' || g, 'c' || g || '@example.com', \
                            now() - make_interval(secs => g), now() - make_interval(secs => g) \
                       FROM generate_series($1::bigint, $2) i, generate_series(1, $3::bigint) g"
                ),
                &[&from, &to, &per_org],
            )
            .await
            .unwrap();
    }

    async fn analyze(&self) {
        self.su.batch_execute("ANALYZE").await.unwrap();
    }

    /// Starts the built server over the cluster, waits for `/readyz`.
    fn spawn_server(&self) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(self.work.join("server.log")).unwrap();
        let unlimited = "1000000/s,burst=1000000";
        let bin = std::env::var("BENCH_PALISADE_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_palisade").to_owned());
        // The server's own settings given to the benchmark (PALISADE_HTTP_WORKERS, a pool size...)
        // pass through; the ones below are the benchmark's and win.
        let passed = std::env::vars().filter(|(k, _)| k.starts_with("PALISADE_"));
        let child = Command::new(bin)
            .env_clear()
            .envs(passed)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "DATABASE_URL",
                self.cluster.url("palisade_owner", password(), DB),
            )
            .env(
                "PALISADE_APP_DATABASE_URL",
                self.cluster.url(schema::APP_LOGIN_ROLES[0], password(), DB),
            )
            .env("PALISADE_JWT_SECRET", JWT_SECRET)
            .env("PALISADE_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("PALISADE_DATA_DIR", &self.work)
            .env("PALISADE_RATE_LIMIT_LOGIN_PER_ADDRESS", unlimited)
            .env("PALISADE_RATE_LIMIT_LOGIN_PER_ACCOUNT", unlimited)
            // No retention run (the first would start a minute in, beside the load).
            .env("PALISADE_RETENTION_EVERY_MINUTES", "0")
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while http_get(port, "/readyz", None).map(|r| r.0) != Some(200) {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.work.join("server.log")).unwrap_or_default();
                panic!("the server did not become ready in 60 s; its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.work.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A warm-up then a measured `wrk` load; `script` picks each request.
    fn wrk(&mut self, server: &Server, script: &Lua, connections: u64) -> Load {
        self.runs += 1;
        let lua = self.write(&format!("load{}.lua", self.runs), &script.render(self.runs));
        let warm = if self.warmup > 0 {
            run_wrk(server, &lua, connections, self.warmup)
                .wait()
                .requests
        } else {
            0
        };
        let cpu = server.cpu_ticks();
        let mut load = run_wrk(server, &lua, connections, self.secs).wait();
        load.with_warmup = warm + load.requests;
        load.cpu_us_per_req = server.cpu_us_since(cpu, load.requests);
        load.rss = server.memory();
        load
    }

    /// Runs a pgbench script as `user` (16 clients by default, 2 threads, prepared), with a
    /// warm-up; p50 and p99 come from its per-transaction log.
    fn pgbench(&self, name: &str, script: &str, user: &str, orgs: u64) -> Load {
        let path = self.write(&format!("{name}.sql"), script);
        let run = |secs: u64, log: bool| {
            let dir = self.work.join(format!("pgbench-{name}-{secs}"));
            // Emptied first: a script runs once per round, and its latencies are read from every
            // log file in here (one per pgbench process and thread).
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let mut cmd = Command::new(self.bins.bindir().join("pgbench"));
            cmd.current_dir(&dir)
                .env("PGPASSWORD", password())
                .args(["-n", "-M", "prepared", "-j", "2"])
                .arg("-c")
                .arg(self.connections.to_string())
                .arg("-T")
                .arg(secs.to_string())
                .arg("-D")
                .arg(format!("orgs={orgs}"))
                .arg("-h")
                .arg(self.cluster.host())
                .arg("-p")
                .arg(self.cluster.port().to_string())
                .args(["-U", user, "-f"])
                .arg(&path);
            if log {
                cmd.arg("-l");
            }
            // The database is pgbench's one positional argument, after every option: its `-d`
            // is `--debug`, which printed every statement of every transaction to stderr (tens
            // of MB a run, read back by this process) and made every pgbench load 35 to 44%
            // slower until 5 December 2026.
            cmd.arg(DB);
            let out = cmd.output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "pgbench {name} failed: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            // A run prints a few lines; more means output per transaction (a debug flag, a
            // notice), which costs pgbench and this process CPU that the cluster then lacks.
            assert!(
                out.stderr.len() < 16 * 1024,
                "pgbench {name} printed {} bytes on stderr, which slows it: {}",
                out.stderr.len(),
                String::from_utf8_lossy(&out.stderr[..out.stderr.len().min(2000)])
            );
            (stdout.into_owned(), dir)
        };
        if self.warmup > 0 {
            run(self.warmup, false);
        }
        let (stdout, dir) = run(self.secs, true);
        let tps = stdout
            .lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no tps in pgbench's output: {stdout}"));
        let mut latencies: Vec<u64> = Vec::new();
        for f in std::fs::read_dir(&dir).unwrap() {
            let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
            latencies.extend(
                text.lines()
                    .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok()),
            );
        }
        latencies.sort_unstable();
        let pct = |p: f64| {
            latencies
                .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
                .map_or(0.0, |us| *us as f64 / 1_000.0)
        };
        Load {
            rps: tps,
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
            requests: latencies.len() as u64,
            ..Load::default()
        }
    }

    /// Empties pg_stat_statements (before a load whose statements [`Bench::server_statements`]
    /// then shows).
    async fn reset_statements(&self) {
        self.su
            .batch_execute("SELECT pg_stat_statements_reset()")
            .await
            .unwrap();
    }

    /// The statements the app role ran during the last load, per HTTP request: how many round
    /// trips and which SQL, to compare with the pgbench scripts above.
    async fn server_statements(&self, requests: u64) -> Vec<(f64, String)> {
        let rows = self
            .su
            .query(
                "SELECT calls, query FROM pg_stat_statements \
                  WHERE userid = $1::text::regrole AND dbid = (SELECT oid FROM pg_database WHERE datname = $2) \
                  ORDER BY calls DESC, query",
                &[&schema::APP_LOGIN_ROLES[0], &DB],
            )
            .await
            .unwrap();
        rows.iter()
            .map(|r| (r.get::<_, i64>(0) as f64 / requests.max(1) as f64, r.get(1)))
            .filter(|(per, _)| *per >= 0.5)
            .collect()
    }

    fn stop(self) {
        drop(self.su);
        self.cluster.stop().unwrap();
    }
}

/// The `palisade` child process.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// VmRSS and VmHWM, in MiB.
    fn memory(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
    }

    /// utime + stime, in clock ticks (100 per second on Linux).
    fn cpu_ticks(&self) -> u64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name, which is parenthesised and may hold spaces.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        num(11) + num(12)
    }

    fn cpu_us_since(&self, ticks: u64, requests: u64) -> f64 {
        (self.cpu_ticks() - ticks) as f64 * 10_000.0 / requests.max(1) as f64
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One load's figures.
#[derive(Default, Clone)]
struct Load {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    /// Requests including the warm-up's (for statement counts since before it).
    with_warmup: u64,
    /// Answers other than 2xx or 3xx (wrk's count): a load that fails is not measured.
    failed: u64,
    /// The server's CPU time per request, in µs (HTTP loads).
    cpu_us_per_req: f64,
    /// The server's VmRSS and VmHWM after the load, in MiB (HTTP loads).
    rss: (f64, f64),
    /// The slowest latencies of wrk's histogram, in µs, slowest first, as `(latency, samples)`:
    /// at least [`TAIL_SHARE`] of `latencies` (a script rendered by [`Lua::render_with_tail`];
    /// otherwise empty). Rounds' tails pool into one distribution ([`pooled_quantile`]).
    tail: Vec<(u64, u64)>,
    /// The samples in wrk's latency histogram, with `tail`: the requests, and the samples wrk
    /// adds for the requests a stall kept from being sent (its correction for coordinated
    /// omission, which its printed percentiles include).
    latencies: u64,
}

/// The share of a load's latency samples that [`Lua::render_with_tail`] reports, slowest first:
/// the pooled p99 of rounds is exact as long as no round has more than this share of its samples
/// above it ([`pooled_quantile`] says when one does). Half, because one round of many can hold
/// most of the pooled tail: a round with a long stall, taken several times by a bootstrap
/// resample. A tenth was too little in the 10 M run's 31 rounds.
const TAIL_SHARE: f64 = 0.5;

/// Per figure, the median of several rounds' (robust to a neighbour's burst on a shared machine).
fn median(rounds: &[Load]) -> Load {
    let mid = |f: fn(&Load) -> f64| stats::median(rounds.iter().map(f).collect());
    Load {
        rps: mid(|l| l.rps),
        p50_ms: mid(|l| l.p50_ms),
        p99_ms: mid(|l| l.p99_ms),
        cpu_us_per_req: mid(|l| l.cpu_us_per_req),
        requests: rounds.iter().map(|l| l.requests).sum(),
        failed: rounds.iter().map(|l| l.failed).sum(),
        with_warmup: 0,
        rss: rounds.last().map_or((0.0, 0.0), |l| l.rss),
        tail: Vec::new(),
        latencies: 0,
    }
}

/// The `q` quantile (0.99: the p99) of the latencies of `rounds` pooled into one distribution,
/// in ms, ranked as wrk ranks it; `None` when a round's [`Load::tail`] stops above it (more than
/// [`TAIL_SHARE`] of that round's samples were slower than the pooled quantile) or is empty.
fn pooled_quantile<'a>(rounds: impl IntoIterator<Item = &'a Load>, q: f64) -> Option<f64> {
    let (mut total, mut floor, mut merged) = (0u64, 0u64, Vec::new());
    for load in rounds {
        // The lowest latency of this round's tail: every request at or above it is in the tail.
        floor = floor.max(load.tail.last()?.0);
        total += load.latencies;
        merged.extend_from_slice(&load.tail);
    }
    merged.sort_unstable_by_key(|&(latency, _)| std::cmp::Reverse(latency));
    // wrk's rank, counted from the bottom (`stats_percentile`), then from the top.
    let rank = (q * total as f64 + 0.5).round() as u64;
    let from_top = total.checked_sub(rank)? + 1;
    let mut seen = 0;
    for (latency, count) in merged {
        seen += count;
        if seen >= from_top {
            return (latency >= floor).then_some(latency as f64 / 1_000.0);
        }
    }
    None
}

/// A wrk Lua script: each request picks one of `choices` (a bearer token and a path) at random.
#[derive(Clone)]
struct Lua {
    method: &'static str,
    /// `(token, path)`; an empty token sends no Authorization.
    choices: Vec<(String, String)>,
    body: Body,
}

#[derive(Clone, Copy)]
enum Body {
    None,
    /// A new customer, unique in each request (so no 409).
    Customer,
    /// [`Body::Customer`] with an `Idempotency-Key` of its own in each request (so never a
    /// replay): the key's claim and stored response on top of the create.
    KeyedCustomer,
    /// The login of the owner whose email is in the choice's token slot.
    Login,
    /// A customer's new name, the same in every request (a one-statement PATCH).
    Rename,
}

impl Lua {
    fn get(choices: Vec<(String, String)>) -> Self {
        Self {
            method: "GET",
            choices,
            body: Body::None,
        }
    }

    /// The script. A request that is the same every time it is sent (a GET, a login) is
    /// formatted once per wrk thread in `init`, and `request` only picks one: building each
    /// request in `request` (a header table and `wrk.format`) took wrk 5.9 µs of user CPU a
    /// request against 2.3 µs now (`/healthz`, 16 connections), CPU the server and PostgreSQL
    /// need on the same two cores. Only the creates, whose body (and key) is unique to each
    /// request, are formatted when they are sent.
    fn render(&self, run: u64) -> String {
        let mut s = String::from("local choices = {\n");
        for (token, path) in &self.choices {
            writeln!(s, "  {{\"{token}\", \"{path}\"}},").unwrap();
        }
        s.push_str("}\n");
        let body = match self.body {
            Body::None => "nil",
            Body::Customer | Body::KeyedCustomer => {
                "string.format('{\"name\":\"bench %d-%d\",\"email\":\"b%d-%d-%d-%d@bench.example\"}', tid, n, RUN, nonce, tid, n)"
            }
            Body::Login => "string.format('{\"email\":\"%s\",\"password\":\"PASSWORD\"}', c[1])",
            Body::Rename => "'{\"name\":\"bench renamed\"}'",
        };
        let auth = match self.body {
            Body::Login => "",
            Body::KeyedCustomer => {
                "headers[\"Authorization\"] = \"Bearer \" .. c[1]\n  \
                 headers[\"Idempotency-Key\"] = string.format('bench-%d-%d-%d-%d', RUN, nonce, tid, n)"
            }
            _ => "if c[1] ~= \"\" then headers[\"Authorization\"] = \"Bearer \" .. c[1] end",
        };
        let fixed = !matches!(self.body, Body::Customer | Body::KeyedCustomer);
        write!(
            s,
            r#"RUN = {run}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
n = 0
local function format(c)
  local headers = {{["Content-Type"] = "application/json"}}
  {auth}
  return wrk.format("{method}", c[2], headers, {body})
end
local formatted = {{}}
function init(args)
  math.randomseed(os.time() * 100 + tid)
  nonce = math.random(1000000000)
  if {fixed} then
    for i, c in ipairs(choices) do formatted[i] = format(c) end
  end
end
function request()
  n = n + 1
  if {fixed} then return formatted[math.random(#formatted)] end
  return format(choices[math.random(#choices)])
end
"#,
            method = self.method,
            body = body.replace("PASSWORD", USER_PASSWORD),
        )
        .unwrap();
        s
    }

    /// [`Lua::render`], and a `done` that prints the slowest [`TAIL_SHARE`] of wrk's latency
    /// histogram on a line `TAIL <samples> <ms of wrk's CPU it took> <µs>:<count>,...`, slowest
    /// first, for [`Load::tail`] and [`Load::latencies`]. wrk's `latency(i)` gives the i-th
    /// distinct latency and its count, counting from the fastest; `done` runs after the load, so
    /// it costs the measurement nothing.
    fn render_with_tail(&self, run: u64) -> String {
        let mut s = self.render(run);
        write!(
            s,
            r#"function done(summary, latency, requests)
  local distinct = #latency
  if distinct == 0 then return end
  -- The histogram's sample count, which wrk does not expose and which exceeds summary.requests
  -- by its coordinated-omission samples: percentile(p) answers the slowest latency from
  -- p / 100 * total >= total - slowest's samples on (wrk's stats_percentile), so the smallest
  -- such p gives total = slowest's samples / (1 - p / 100).
  local started = os.clock()
  local slowest, slowest_count = latency(distinct)
  local lo, hi = 0, 99.999999999
  for _ = 1, 100 do
    local mid = (lo + hi) / 2
    if latency:percentile(mid) == slowest then hi = mid else lo = mid end
  end
  local total = math.floor(slowest_count / (1 - hi / 100) + 0.5)
  local want = math.ceil(total * {TAIL_SHARE})
  local got, parts, i = 0, {{}}, distinct
  while i >= 1 and got < want do
    local value, count = latency(i)
    parts[#parts + 1] = string.format("%d:%d", value, count)
    got = got + count
    i = i - 1
  end
  local cpu_ms = (os.clock() - started) * 1000
  io.write(string.format("TAIL %d %d %s\n", total, cpu_ms, table.concat(parts, ",")))
end
"#
        )
        .unwrap();
        s
    }
}

/// A running wrk.
struct Wrk(Child);

fn run_wrk(server: &Server, lua: &Path, connections: u64, secs: u64) -> Wrk {
    let threads = connections.clamp(1, 2);
    let child = Command::new("wrk")
        .arg("--latency")
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{secs}s"))
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(lua)
        .arg(format!("http://127.0.0.1:{}", server.port))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run wrk ({e}): install it (Debian/Ubuntu: apt-get install wrk)")
        });
    Wrk(child)
}

impl Wrk {
    fn wait(self) -> Load {
        let out = self.0.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let after = |prefix: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(prefix))
                .map(str::trim)
        };
        let ms = |v: &str| -> f64 {
            let (num, unit) =
                v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
            let num: f64 = num.parse().unwrap_or(0.0);
            match unit {
                "us" => num / 1_000.0,
                "ms" => num,
                "s" => num * 1_000.0,
                "m" => num * 60_000.0,
                _ => num,
            }
        };
        let requests = text
            .lines()
            .find_map(|l| l.trim().split_once(" requests in "))
            .and_then(|(n, _)| n.parse().ok())
            .unwrap_or(0);
        if let Some(errors) = after("Socket errors:") {
            eprintln!("  wrk socket errors: {errors}");
        }
        let mut load = Load {
            rps: after("Requests/sec:")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0),
            p50_ms: after("50%").map_or(0.0, ms),
            p99_ms: after("99%").map_or(0.0, ms),
            requests,
            failed: after("Non-2xx or 3xx responses:")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            ..Load::default()
        };
        if let Some(line) = after("TAIL") {
            (load.latencies, load.tail) = parse_tail(line);
        }
        load
    }
}

/// Warns when a load's tail does not give back wrk's own p99 (to the precision wrk prints, two
/// decimals of ms, µs or s: within 0.6%): the pooled p99 would not be what it says.
fn check_tail(load: &Load) {
    let own = pooled_quantile([load], 0.99);
    if own.is_none_or(|p99| (p99 - load.p99_ms).abs() > load.p99_ms * 0.006) {
        eprintln!(
            "  warning: wrk's latency tail gives a p99 of {own:?} ms against its own {} ms",
            load.p99_ms
        );
    }
}

/// A `TAIL` line ([`Lua::render_with_tail`]): its sample count and its pairs (with a warning
/// when reading the histogram took wrk more than a second: each `latency(i)` scans the histogram
/// from its fastest bucket).
fn parse_tail(line: &str) -> (u64, Vec<(u64, u64)>) {
    let mut fields = line.split_whitespace();
    let latencies = fields.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let cpu_ms: u64 = fields.next().and_then(|ms| ms.parse().ok()).unwrap_or(0);
    if cpu_ms > 1_000 {
        eprintln!("  warning: wrk took {cpu_ms} ms of CPU to report its latency tail");
    }
    let pairs = fields.next().unwrap_or("");
    let tail = pairs
        .split(',')
        .filter_map(|pair| {
            let (latency, count) = pair.split_once(':')?;
            Some((latency.parse().ok()?, count.parse().ok()?))
        })
        .collect();
    (latencies, tail)
}

/// A minimal HTTP/1.1 request over loopback (no client dependency): the status and the body.
fn http_get(port: u16, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// A token for organization `i`'s owner, credential version 0 (as seeded).
fn token(keys: &TokenKeys, i: u64) -> String {
    keys.issue(
        &TenantContext {
            org_id: OrgId::from_uuid(org_id(i)),
            user_id: UserId::from_uuid(user_id(i)),
            role: Role::Owner,
        },
        0,
    )
    .unwrap()
}

/// A cursor for `GET /v1/customers` starting after `(created_at, id)` of organization `org`,
/// made the way `palisade_api::list` makes them (`base64url("v2:<micros>:<uuid>:<binding>")`);
/// the binding (of the path and filters, the same for every organization) is read from a cursor
/// the server issued.
fn cursor_like(issued: &str, micros: i64, id: uuid::Uuid) -> String {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(issued).unwrap()).unwrap();
    let binding = text.rsplit(':').next().unwrap();
    assert!(text.starts_with("v2:"), "the cursor format changed: {text}");
    URL_SAFE_NO_PAD.encode(format!("v2:{micros}:{id}:{binding}"))
}

/// Cursors 5,000 rows deep (after the 5,000th newest customer) for organizations `orgs`.
async fn deep_cursors(bench: &Bench, port: u16, keys: &TokenKeys, orgs: &[u64]) -> Vec<String> {
    let (status, body) = http_get(port, "/v1/customers?limit=50", Some(&token(keys, orgs[0])))
        .expect("GET /v1/customers");
    assert_eq!(status, 200, "{body}");
    let issued = body
        .split("\"next_cursor\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a next_cursor")
        .to_owned();
    let mut cursors = Vec::new();
    for &i in orgs {
        let row = bench
            .su
            .query_one(
                &format!(
                    "SELECT (extract(epoch FROM created_at) * 1000000)::bigint, id FROM palisade.customers \
                      WHERE organization_id = {}::uuid ORDER BY created_at DESC, id DESC OFFSET 4999 LIMIT 1",
                    org_sql("$1::bigint")
                ),
                &[&(i as i64)],
            )
            .await
            .unwrap();
        cursors.push(cursor_like(&issued, row.get(0), row.get(1)));
    }
    cursors
}

fn header() {
    println!(
        "{:<52} {:>9} {:>8} {:>8} {:>11} {:>15}",
        "load", "req/s", "p50 ms", "p99 ms", "CPU µs/req", "RSS / HWM MiB"
    );
}

fn row(name: &str, l: &Load) {
    let (cpu, rss) = if l.rss.0 > 0.0 {
        (
            format!("{:.0}", l.cpu_us_per_req),
            format!("{:.0} / {:.0}", l.rss.0, l.rss.1),
        )
    } else {
        ("-".into(), "-".into())
    };
    println!(
        "{name:<52} {:>9.0} {:>8.2} {:>8.2} {cpu:>11} {rss:>15}",
        l.rps, l.p50_ms, l.p99_ms
    );
    if l.failed > 0 {
        println!(
            "  !! {} of {} answers were not 2xx/3xx: not a valid measurement",
            l.failed, l.requests
        );
    }
}

/// SQL with every constant, parameter and pgbench variable as `?`, as pg_stat_statements shows a
/// statement (it keeps the first text it saw, constants replaced by `$n`), for comparing texts.
fn normalized(sql: &str) -> String {
    let mut out = Vec::new();
    for word in sql.split_whitespace() {
        let w = word.trim_end_matches([',', ';', ')']);
        let is_value = w.starts_with('$')
            || w.starts_with(':')
            || w.starts_with('\'')
            || w.parse::<f64>().is_ok()
            || w.eq_ignore_ascii_case("true")
            || w.eq_ignore_ascii_case("false");
        out.push(if is_value {
            format!("?{}", &word[w.len()..])
        } else {
            word.to_owned()
        });
    }
    out.join(" ")
}

fn print_statements(what: &str, statements: &[(f64, String)]) {
    println!("  SQL per request of {what} (pg_stat_statements, app role):");
    for (per, query) in statements {
        let q: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
        let q = if q.chars().count() > 110 {
            format!("{}...", q.chars().take(107).collect::<String>())
        } else {
            q
        };
        println!("    {per:>4.2} x {q}");
    }
}

/// The machine's load: a benchmark on a shared machine says when something else was running.
fn load_average() -> String {
    let avg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let one = avg.split_whitespace().next().unwrap_or("?").to_owned();
    format!("1-minute load average {one}")
}

async fn default_run() {
    let orgs = env_num("BENCH_ORGS", 50);
    let per_org = env_num("BENCH_PER_ORG", 2_000);
    let mut bench = Bench::start().await;
    eprintln!("seeding {orgs} organizations x {per_org} customers ...");
    bench.seed(1, orgs, per_org).await;
    bench.seed(orgs + 1, orgs + CREATE_ORGS, 0).await;
    bench.analyze().await;
    let server = bench.spawn_server();
    let keys = TokenKeys::new(JWT_SECRET.as_bytes(), Duration::from_secs(86_400)).unwrap();
    let tokens: Vec<String> = (1..=orgs).map(|i| token(&keys, i)).collect();
    let create = Lua {
        method: "POST",
        choices: (orgs + 1..=orgs + CREATE_ORGS)
            .map(|i| (token(&keys, i), "/v1/customers".to_owned()))
            .collect(),
        body: Body::Customer,
    };
    let keyed_create = Lua {
        body: Body::KeyedCustomer,
        ..create.clone()
    };
    let with = |path: &str| -> Vec<(String, String)> {
        tokens
            .iter()
            .map(|t| (t.clone(), path.to_owned()))
            .collect()
    };
    let c = bench.connections;
    let rounds = env_num("BENCH_ROUNDS", 7).max(1) as usize;

    println!(
        "palisade over HTTP (wrk, {c} connections, {}s after a {}s warm-up) against pgbench ({c} clients) on the same cluster; \
         {} customers over {orgs} organizations; {} cores, {}; below /healthz, the medians of {} rounds",
        bench.secs,
        bench.warmup,
        orgs * per_org,
        std::thread::available_parallelism().map_or(0, usize::from),
        load_average(),
        rounds,
    );
    header();
    let healthz = bench.wrk(
        &server,
        &Lua::get(vec![(String::new(), "/healthz".into())]),
        c,
    );
    row("GET /healthz", &healthz);

    // The loads compared by a ratio run in rounds, every one once per round, and each ratio
    // printed is the median of the rounds' own ratios: on two shared cores a load's throughput
    // moves by a third from one run to the next (pgbench's as much as the server's, seen while
    // pgbench still ran with its debug output), and a ratio of two loads run minutes apart
    // measured the machine as much as the code.
    let pgbench_scripts: [(&str, String, &str); 4] = [
        ("a", pgbench_a(), "palisade_bench_plain"),
        ("p", pgbench_p(), schema::APP_LOGIN_ROLES[0]),
        ("p_checked", pgbench_p_checked(), schema::APP_LOGIN_ROLES[0]),
        ("me_sql", pgbench_me(), schema::APP_LOGIN_ROLES[0]),
    ];
    // The pairs whose ratios are the targets run back to back, their order swapped from round
    // to round (the two creates too; the PATCH, last, alone).
    const LOADS: [&str; 9] = [
        "list",
        "p",
        "me",
        "me_sql",
        "a",
        "p_checked",
        "create",
        "create_keyed",
        "patch",
    ];
    // Eight of each organization's oldest customers, far from the list's first page (a PATCH
    // moves `updated_at`, not the list's order).
    let renamed: Vec<(String, String)> = bench
        .su
        .query(
            &format!(
                "SELECT i, c.id FROM generate_series(1, $1::bigint) i, LATERAL (\
                   SELECT id FROM palisade.customers WHERE organization_id = {}::uuid \
                    ORDER BY created_at LIMIT 8) c",
                org_sql("i")
            ),
            &[&(orgs as i64)],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let (i, id): (i64, uuid::Uuid) = (r.get(0), r.get(1));
            (
                tokens[i as usize - 1].clone(),
                format!("/v1/customers/{id}"),
            )
        })
        .collect();
    let rename = Lua {
        method: "PATCH",
        choices: renamed,
        body: Body::Rename,
    };
    let mut per: BTreeMap<&str, Vec<Load>> = BTreeMap::new();
    let (mut list_statements, mut me_statements) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        for k in 0..LOADS.len() {
            let pair = k ^ 1;
            let name = LOADS[if r % 2 == 0 || pair >= LOADS.len() {
                k
            } else {
                pair
            }];
            let load = match name {
                // pg_stat_statements is emptied before each HTTP load and read right after it,
                // before pgbench (which logs in as the same app role) adds its own statements.
                "list" | "me" => {
                    bench.reset_statements().await;
                    let path = if name == "list" {
                        "/v1/customers?limit=50"
                    } else {
                        "/v1/me"
                    };
                    let load = bench.wrk(&server, &Lua::get(with(path)), c);
                    let statements = bench.server_statements(load.with_warmup).await;
                    if name == "list" {
                        list_statements = statements;
                    } else {
                        me_statements = statements;
                    }
                    load
                }
                "patch" => bench.wrk(&server, &rename, c),
                "create" => bench.wrk(&server, &create, c),
                "create_keyed" => bench.wrk(&server, &keyed_create, c),
                _ => {
                    let (_, script, user) =
                        pgbench_scripts.iter().find(|(n, _, _)| *n == name).unwrap();
                    bench.pgbench(name, script, user, orgs)
                }
            };
            per.entry(name).or_default().push(load);
        }
    }
    let labels = [
        ("list", "GET /v1/customers?limit=50 (random organization)"),
        ("me", "GET /v1/me"),
        ("a", "pgbench A: list, WHERE organization_id, no RLS"),
        ("p", "pgbench P: BEGIN; context; list; COMMIT, pipelined"),
        (
            "p_checked",
            "pgbench P+check: BEGIN; enter_session; list; COMMIT",
        ),
        ("me_sql", "pgbench me: /v1/me's SQL, pipelined"),
        ("patch", "PATCH /v1/customers/{id} (random organization)"),
        (
            "create",
            "POST /v1/customers (random organization of its own)",
        ),
        (
            "create_keyed",
            "POST /v1/customers with an Idempotency-Key (the same)",
        ),
    ];
    for (key, label) in labels {
        row(label, &median(&per[key]));
    }

    print_statements("the list", &list_statements);
    print_statements("/v1/me", &me_statements);
    let server_list = list_statements
        .iter()
        .any(|(_, q)| normalized(q) == normalized(&list_sql()));
    if !server_list {
        println!(
            "  !! the server's list statement is not pgbench P's: update list_sql() in this file"
        );
    }

    println!("  at the end: {}", load_average());
    // One ratio over the rounds: each round's own.
    let ratios = |x: &str, y: &str| -> Vec<f64> {
        per[x]
            .iter()
            .zip(&per[y])
            .map(|(a, b)| a.rps / b.rps)
            .collect()
    };
    let ratio = |x: &str, y: &str| stats::summary(ratios(x, y));
    println!(
        "ratios (throughput; the median of {rounds} rounds' own ratios [their range] (the 95% \
         interval of the median, from 6 rounds)):"
    );
    println!(
        "  list / P        {}   (target >= 0.6: {})",
        ratio("list", "p"),
        stats::verdict(ratios("list", "p"), 0.6)
    );
    println!("  list / P+check  {}", ratio("list", "p_checked"));
    println!("  list / A        {}", ratio("list", "a"));
    println!("  P / A           {}", ratio("p", "a"));
    println!(
        "  me / me's SQL   {}   (target >= 0.7: {})",
        ratio("me", "me_sql"),
        stats::verdict(ratios("me", "me_sql"), 0.7)
    );
    let list = median(&per["list"]).rps;
    println!("  patch / list    {}", ratio("patch", "list"));
    println!("  create / list   {}", ratio("create", "list"));
    println!("  keyed / create  {}", ratio("create_keyed", "create"));
    println!("  healthz / list  {:>6.2}", healthz.rps / list);
    drop(server);
    bench.stop();
}

async fn scale_run() {
    let orgs = env_num("BENCH_SCALE_ORGS", 1_000);
    let per_org = env_num("BENCH_SCALE_PER_ORG", 10_000);
    let logins = env_num("BENCH_LOGIN_CONNECTIONS", 8);
    let rounds = env_num("BENCH_ROUNDS", 7).max(1);
    let mut bench = Bench::start().await;
    let keys = TokenKeys::new(JWT_SECRET.as_bytes(), Duration::from_secs(86_400)).unwrap();
    let c = bench.connections;
    let cores = std::thread::available_parallelism().map_or(0, usize::from);

    // (a) Scale: one organization of per_org alone, then orgs of them.
    let started = Instant::now();
    bench.seed(1, 1, per_org).await;
    bench.analyze().await;
    let baseline_seed = started.elapsed();
    let server = bench.spawn_server();
    let first = |n: u64| -> Lua {
        Lua::get(
            (1..=n)
                .map(|i| (token(&keys, i), "/v1/customers?limit=50".into()))
                .collect(),
        )
    };
    let deep = |cursors: &[String]| -> Lua {
        Lua::get(
            cursors
                .iter()
                .enumerate()
                .map(|(k, cur)| {
                    (
                        token(&keys, k as u64 + 1),
                        format!("/v1/customers?limit=50&cursor={cur}"),
                    )
                })
                .collect(),
        )
    };
    let cursors = deep_cursors(&bench, server.port, &keys, &[1]).await;
    println!(
        "scale: GET /v1/customers?limit=50 (wrk, {c} connections, {}s; median of {rounds} rounds), {per_org} customers per organization; {cores} cores, {}",
        bench.secs,
        load_average()
    );
    header();
    let (first_1, deep_1) = (first(1), deep(&cursors));
    let (mut firsts, mut deeps) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        firsts.push(bench.wrk(&server, &first_1, c));
        deeps.push(bench.wrk(&server, &deep_1, c));
    }
    let (small_first, small_deep) = (median(&firsts), median(&deeps));
    row(
        &format!("first page, 1 organization ({per_org} rows)"),
        &small_first,
    );
    row("5,000 rows deep, 1 organization", &small_deep);

    eprintln!(
        "seeding {} more organizations x {per_org} customers ...",
        orgs - 1
    );
    let started = Instant::now();
    let chunk = 100;
    let mut from = 2;
    while from <= orgs {
        let to = (from + chunk - 1).min(orgs);
        bench.seed(from, to, per_org).await;
        eprintln!("  {to} organizations, {:.0?}", started.elapsed());
        from = to + 1;
    }
    bench.analyze().await;
    let seed_time = started.elapsed();
    let total: i64 = bench
        .su
        .query_one("SELECT count(*) FROM palisade.customers", &[])
        .await
        .unwrap()
        .get(0);
    let sizes: String = bench
        .su
        .query_one(
            "SELECT pg_size_pretty(pg_total_relation_size('palisade.customers'))",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let all: Vec<u64> = (1..=orgs).collect();
    let started = Instant::now();
    let cursors = deep_cursors(&bench, server.port, &keys, &all).await;
    let cursor_time = started.elapsed();
    let (first_n, deep_n) = (first(orgs), deep(&cursors));
    let (mut firsts, mut deeps) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        firsts.push(bench.wrk(&server, &first_n, c));
        deeps.push(bench.wrk(&server, &deep_n, c));
    }
    let (big_first, big_deep) = (median(&firsts), median(&deeps));
    row(
        &format!("first page, {orgs} organizations ({total} rows)"),
        &big_first,
    );
    row(&format!("5,000 rows deep, {orgs} organizations"), &big_deep);
    println!(
        "  seeding: {baseline_seed:.1?} for 1 x {per_org}, then {seed_time:.1?} for {} x {per_org} \
         (set-based INSERT ... SELECT generate_series as the superuser, indexes in place, ANALYZE); \
         customers table and indexes: {sizes}; {cursor_time:.1?} to find {orgs} deep cursors",
        orgs - 1
    );
    println!("ratios (p50, {total} rows over {orgs} organizations / {per_org} rows in 1):");
    println!(
        "  first page      {:>6.2}   (target <= 1.5)",
        big_first.p50_ms / small_first.p50_ms
    );
    println!(
        "  5,000 deep      {:>6.2}   (target <= 1.5)",
        big_deep.p50_ms / small_deep.p50_ms
    );

    // (b) Fairness: reads alone, then reads beside a burst of logins.
    let rounds = env_num("BENCH_FAIRNESS_ROUNDS", rounds).max(1);
    println!(
        "fairness: reads (GET /v1/customers?limit=50, {c} connections) alone, then beside {logins} connections \
         POSTing /v1/auth/login (argon2id), {}s; median of {rounds} alternating rounds",
        bench.secs
    );
    header();
    let reads = first(orgs);
    bench.runs += 1;
    let reads_lua = bench.write("fair-reads.lua", &reads.render_with_tail(bench.runs));
    let login = Lua {
        method: "POST",
        choices: (1..=orgs)
            .map(|i| (owner_email(i), "/v1/auth/login".into()))
            .collect(),
        body: Body::Login,
    };
    bench.runs += 1;
    let login_lua = bench.write("fair-login.lua", &login.render(bench.runs));
    let (mut alones, mut besides, mut logins_done) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        // Alternating, so a neighbour's burst on a shared machine hits both sides alike.
        let cpu = server.cpu_ticks();
        let mut alone = run_wrk(&server, &reads_lua, c, bench.secs).wait();
        check_tail(&alone);
        alone.cpu_us_per_req = server.cpu_us_since(cpu, alone.requests);
        alone.rss = server.memory();
        alones.push(alone);
        let cpu = server.cpu_ticks();
        let (r, l) = (
            run_wrk(&server, &reads_lua, c, bench.secs),
            run_wrk(&server, &login_lua, logins, bench.secs),
        );
        let (mut beside, mut logged) = (r.wait(), l.wait());
        check_tail(&beside);
        let cpu_us = server.cpu_us_since(cpu, beside.requests + logged.requests);
        beside.rss = server.memory();
        logged.rss = beside.rss;
        beside.cpu_us_per_req = cpu_us;
        logged.cpu_us_per_req = cpu_us;
        besides.push(beside);
        logins_done.push(logged);
    }
    let (alone, beside, logged) = (median(&alones), median(&besides), median(&logins_done));
    row("reads alone", &alone);
    row("reads beside the logins", &beside);
    row("  the logins (CPU: both loads together)", &logged);
    // Each round's reads beside the logins against the same round's reads alone.
    let paired = |f: fn(&Load) -> f64| -> Vec<f64> {
        besides
            .iter()
            .zip(&alones)
            .map(|(b, a)| f(b) / f(a))
            .collect()
    };
    println!(
        "ratios (reads beside logins / reads alone: the median of {rounds} rounds' own ratios \
         [their range] (the 95% interval of the median, from 6 rounds)):"
    );
    println!("  p99             {}", stats::summary(paired(|l| l.p99_ms)));
    // The target's figure: the p99 of every round's reads pooled, beside the logins against
    // alone. One round's p99 is a handful of stalls (its ratio ranged from 0.04 to 23.9 over 61
    // rounds of 5 s), pooled rounds are minutes of requests; its interval is the bootstrap's over
    // the rounds, paired.
    let pooled =
        |rounds: &[usize], side: &[Load]| pooled_quantile(rounds.iter().map(|&i| &side[i]), 0.99);
    let all: Vec<usize> = (0..alones.len()).collect();
    match (pooled(&all, &alones), pooled(&all, &besides)) {
        (Some(a), Some(b)) => {
            let ci = stats::bootstrap_ci(all.len(), |rounds| {
                Some(pooled(rounds, &besides)? / pooled(rounds, &alones)?)
            });
            let interval = ci.map_or(String::new(), |(lo, hi, _)| {
                format!(" (95% bootstrap over the rounds: {lo:.2}-{hi:.2})")
            });
            let verdict = if ci.is_none() && all.len() >= 6 {
                "undecided (a resample's pooled p99 fell below a round's tail: raise TAIL_SHARE)"
            } else {
                stats::interval_at_most(ci, 2.0)
            };
            println!(
                "  p99 pooled    {:>6.2}{interval}: {b:.2} ms beside the logins, {a:.2} ms alone, \
                 over all {} rounds' requests   (target <= 2: {verdict})",
                b / a,
                all.len(),
            );
        }
        _ => println!(
            "  p99 pooled    not computed: a round had more than {:.0}% of its latencies above \
             the pooled p99 (raise TAIL_SHARE)",
            TAIL_SHARE * 100.0
        ),
    }
    println!("  p50             {}", stats::summary(paired(|l| l.p50_ms)));
    println!("  throughput      {}", stats::summary(paired(|l| l.rps)));
    println!("  logins/s        {:>6.1}", logged.rps);
    println!("  at the end: {}", load_average());
    drop(server);
    bench.stop();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if Command::new("wrk").arg("-v").output().is_err() {
        panic!(
            "wrk is not installed: it drives the HTTP load (Debian/Ubuntu: apt-get install wrk)"
        );
    }
    if std::env::var("BENCH_SCALE").is_ok_and(|v| !v.is_empty() && v != "0") {
        scale_run().await;
    } else {
        default_run().await;
    }
}
