//! Benchmark: the customers list page (50 rows, newest first) read
//!   (a) through `TenantTx` as `palisade_app` under RLS (BEGIN, set_config, query, COMMIT,
//!       pipelined into one round trip), and
//!   (b) with a plain `WHERE organization_id = $1` on bare connections as a role without RLS,
//! on the same throwaway PostgreSQL, alternating (a) and (b) at several concurrencies, and
//! prints the ratio of their throughputs (a / b). Not a test: nothing here asserts a time.
//! A third, diagnostic column (c) runs (b)'s query on the bare connections wrapped in the same
//! pipelined BEGIN / set_config / COMMIT but without RLS: the gap between (c) and (b) is the
//! cost of the extra statements, the gap between (a) and (c) the cost of RLS and the pool.
//!
//! `cargo bench -p palisade_db --bench tenant_tx` (env: BENCH_ORGS, BENCH_PER_ORG,
//! BENCH_ROUND_SECS, BENCH_ROUNDS, BENCH_CONCURRENCY="1,4,16,32").

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use palisade_db::customers::{self, CustomerFilter};
use palisade_db::schema::{self, RolePasswords};
use palisade_db::{AppPool, PageRequest, PoolSettings, TenantTx};
use palisade_domain::{OrgId, Role, TenantContext, UserId};
use palisade_pg_embedded::{ClusterOptions, PgBinaries, RunningCluster, ephemeral_dir};
use uuid::Uuid;

const PASSWORD: &str = "bench-password";
const PLAIN_QUERY: &str = "SELECT id, name, email, phone, created_at, updated_at FROM palisade.customers \
     WHERE organization_id = $1 ORDER BY created_at DESC, id DESC LIMIT 51";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// xorshift64*: a deterministic spread of organizations, no dependency needed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Rls,
    Plain,
    PlainTx,
}

async fn round(
    mode: Mode,
    concurrency: usize,
    secs: u64,
    orgs: Arc<Vec<Uuid>>,
    pool: &AppPool,
    plain: &[Arc<tokio_postgres::Client>],
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (w, client) in plain.iter().take(concurrency).enumerate() {
        let (stop, done, orgs, pool) = (stop.clone(), done.clone(), orgs.clone(), pool.clone());
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (w as u64 + 1));
            let stmt = client.prepare(PLAIN_QUERY).await.unwrap();
            let begin = client.prepare("BEGIN").await.unwrap();
            let commit = client.prepare("COMMIT").await.unwrap();
            let setc = client
                .prepare("SELECT set_config('app.current_org', $1, true)")
                .await
                .unwrap();
            while !stop.load(Ordering::Relaxed) {
                let org = orgs[(rng.next() % orgs.len() as u64) as usize];
                let n = match mode {
                    Mode::Rls => {
                        let ctx = TenantContext {
                            org_id: OrgId::from_uuid(org),
                            user_id: UserId::new(),
                            role: Role::Member,
                        };
                        let tx = TenantTx::begin(&pool, &ctx).await.unwrap();
                        palisade_db::crud::list_page(
                            tx,
                            &CustomerFilter::default(),
                            &PageRequest {
                                after: None,
                                limit: 50,
                                created: Default::default(),
                            },
                        )
                        .await
                        .unwrap()
                        .items
                        .len()
                    }
                    Mode::PlainTx => {
                        let o = org.to_string();
                        let p1: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&o];
                        let p2: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&org];
                        let (_, _, rows, _) = tokio::try_join!(biased;
                            client.execute(&begin, &[]),
                            client.execute(&setc, &p1),
                            client.query(&stmt, &p2),
                            client.execute(&commit, &[]),
                        )
                        .unwrap();
                        decoded(&rows)
                    }
                    Mode::Plain => {
                        let rows = client.query(&stmt, &[&org]).await.unwrap();
                        decoded(&rows)
                    }
                };
                assert_eq!(n, 50, "every organization has more than 50 customers");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let n_orgs = env_num("BENCH_ORGS", 500);
    let per_org = env_num("BENCH_PER_ORG", 200);
    let secs = env_num("BENCH_ROUND_SECS", 3);
    let rounds = env_num("BENCH_ROUNDS", 3);
    let concurrencies: Vec<usize> = std::env::var("BENCH_CONCURRENCY")
        .unwrap_or_else(|_| "1,4,16,32".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let max_c = concurrencies.iter().copied().max().unwrap_or(1);

    let cluster = tokio::task::spawn_blocking(|| {
        let bins = PgBinaries::locate().unwrap_or_else(|e| panic!("{e}"));
        RunningCluster::start(
            &bins,
            ClusterOptions {
                data_dir: ephemeral_dir("palisade-bench").unwrap(),
                port: None,
                superuser: "postgres".into(),
                superuser_password: PASSWORD.into(),
                ephemeral: true,
                settings: vec![
                    ("shared_buffers".into(), "256MB".into()),
                    ("max_connections".into(), "200".into()),
                ],
            },
        )
        .unwrap_or_else(|e| panic!("{e}"))
    })
    .await
    .unwrap();
    let db = "palisade_bench";
    let passwords = RolePasswords {
        owner: PASSWORD.into(),
        app: PASSWORD.into(),
        app_role: schema::APP_LOGIN_ROLES[0],
        billing: PASSWORD.into(),
    };
    let limits = schema::RoleLimits {
        connection_limit: 300,
        ..schema::RoleLimits::default()
    };
    schema::bootstrap(
        &cluster.url("postgres", PASSWORD, "postgres"),
        db,
        &passwords,
        &limits,
    )
    .await
    .unwrap();
    schema::migrate(&cluster.url("palisade_owner", PASSWORD, db))
        .await
        .unwrap();
    schema::install_definers(&cluster.url("postgres", PASSWORD, "postgres"), db)
        .await
        .unwrap();

    // Seed as the superuser (which bypasses RLS), then a plain reader role without RLS.
    let su = schema::connect(&cluster.url("postgres", PASSWORD, db))
        .await
        .unwrap();
    eprintln!("seeding {n_orgs} organizations x {per_org} customers ...");
    su.batch_execute(&format!(
        "INSERT INTO palisade.organizations (id, name) SELECT gen_random_uuid(), 'org ' || g FROM generate_series(1, {n_orgs}) g;
         INSERT INTO palisade.customers (organization_id, id, name, email, created_at)
           SELECT o.id, gen_random_uuid(), 'customer ' || g, 'c' || g || '@' || o.id || '.example',
                  now() - make_interval(secs => g)
             FROM palisade.organizations o, generate_series(1, {per_org}) g;
         ANALYZE;
         DROP ROLE IF EXISTS palisade_bench_plain;
         CREATE ROLE palisade_bench_plain LOGIN BYPASSRLS PASSWORD '{PASSWORD}';
         GRANT USAGE ON SCHEMA palisade TO palisade_bench_plain;
         GRANT SELECT ON palisade.customers TO palisade_bench_plain;"
    ))
    .await
    .unwrap();
    let orgs: Arc<Vec<Uuid>> = Arc::new(
        su.query("SELECT id FROM palisade.organizations ORDER BY id", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect(),
    );
    let total: i64 = su
        .query_one("SELECT count(*) FROM palisade.customers", &[])
        .await
        .unwrap()
        .get(0);

    let pool = AppPool::new(&PoolSettings {
        url: palisade_domain::Secret::new(cluster.url(schema::APP_LOGIN_ROLES[0], PASSWORD, db))
            .into(),
        max_size: max_c,
        wait_timeout: Duration::from_secs(30),
    })
    .unwrap();
    let mut plain = Vec::new();
    for _ in 0..max_c {
        plain.push(Arc::new(
            schema::connect(&cluster.url("palisade_bench_plain", PASSWORD, db))
                .await
                .unwrap(),
        ));
    }
    // Warm both paths (connections, prepared statements, caches).
    round(Mode::Rls, max_c, 1, orgs.clone(), &pool, &plain).await;
    round(Mode::Plain, max_c, 1, orgs.clone(), &pool, &plain).await;

    println!(
        "customers list, 50-row page; {total} customers over {} organizations; {rounds} alternating rounds of {secs}s",
        orgs.len()
    );
    println!(
        "{:>11} {:>14} {:>14} {:>8} {:>16} {:>8}",
        "concurrency", "(a) RLS req/s", "(b) plain req/s", "a/b", "(c) plain+tx req/s", "c/b"
    );
    for &c in &concurrencies {
        let (mut a, mut b, mut ptx) = (0.0, 0.0, 0.0);
        for _ in 0..rounds {
            a += round(Mode::Rls, c, secs, orgs.clone(), &pool, &plain).await;
            ptx += round(Mode::PlainTx, c, secs, orgs.clone(), &pool, &plain).await;
            b += round(Mode::Plain, c, secs, orgs.clone(), &pool, &plain).await;
        }
        let (a, b) = (a / rounds as f64, b / rounds as f64);
        let ptx = ptx / rounds as f64;
        println!(
            "{c:>11} {a:>14.0} {b:>14.0} {:>8.2} {ptx:>16.0} {:>8.2}",
            a / b,
            ptx / b
        );
    }
    pool.close();
    drop(plain);
    tokio::task::spawn_blocking(move || cluster.stop())
        .await
        .unwrap()
        .unwrap();
}

/// How many of the first 50 rows decode as customers: (b) and (c) decode exactly as (a) does,
/// so only the database path differs.
fn decoded(rows: &[tokio_postgres::Row]) -> usize {
    rows.iter()
        .take(50)
        .map(<customers::Customer as palisade_db::crud::Table>::from_row)
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
        .len()
}
