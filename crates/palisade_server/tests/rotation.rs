//! Rotating the app's database credential under load, with zero failed requests (docs/dba.md,
//! "Rotating passwords"), on an existing server (the URL file) and in embedded mode (the running
//! server's `secrets.json`).
//!
//! Its own test process, with its own throwaway cluster: the rotation changes the passwords and
//! LOGIN of the shared login roles `palisade_app_a` and `palisade_app_b`, which every other test
//! of a process relies on. Its tests over that cluster take turns ([`SHARED_ROLES`]) and leave the
//! roles as the harness made them; the embedded test runs a cluster of its own. Also here: the
//! billing pool's URL file and the roles file's hold on the login roles' memberships.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/embedded_server.rs"]
mod embedded_server;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use embedded_server::EmbeddedServer;
use palisade_db::schema::{self, APP_LOGIN_ROLES};
use palisade_db::{AppPool, PoolSettings};
use palisade_server::configuration::UrlSetting;
use palisade_server::startup::{rotate_url_file, url_source};
use palisade_test_support::command::run;
use palisade_test_support::{
    TEST_APP_LOGIN_ROLE, TestDb, cluster, request, try_spawn_app_with_pool,
};

/// Held by each test of the shared test cluster: they change the passwords, LOGIN and
/// memberships of the shared login roles, which the others' servers log in as.
static SHARED_ROLES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Requests sent by the load, and what went wrong with any that did.
#[derive(Default)]
struct Load {
    stop: AtomicBool,
    ok: AtomicUsize,
    failures: std::sync::Mutex<Vec<String>>,
}

impl Load {
    fn done(&self) -> usize {
        self.ok.load(Ordering::SeqCst) + self.failures.lock().unwrap().len()
    }

    /// Yields until `more` requests beyond those done now have been answered.
    async fn until_more(&self, more: usize) {
        let target = self.done() + more;
        while self.done() < target {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// `workers` loops of authenticated requests against `addr` until `load.stop`: a list, and every
/// third request a customer created (a write, through a transaction).
fn start_load(
    addr: &str,
    token: &str,
    workers: usize,
) -> (Arc<Load>, Vec<tokio::task::JoinHandle<()>>) {
    let load = Arc::new(Load::default());
    let handles = (0..workers)
        .map(|w| {
            let (load, addr) = (Arc::clone(&load), addr.to_owned());
            let auth = vec![("Authorization", format!("Bearer {token}"))];
            actix_web::rt::spawn(async move {
                let mut n = 0u64;
                while !load.stop.load(Ordering::SeqCst) {
                    n += 1;
                    let r = if n.is_multiple_of(3) {
                        let mut headers = auth.clone();
                        headers.push(("Content-Type", "application/json".to_owned()));
                        let body = serde_json::json!({
                            "name": format!("Load {w}-{n}"),
                            "email": format!("load-{w}-{n}-{}@example.com", uuid::Uuid::new_v4().simple()),
                        })
                        .to_string();
                        request(&addr, "POST", "/v1/customers", &headers, Some(body.as_bytes()))
                            .await
                    } else {
                        request(&addr, "GET", "/v1/customers?limit=5", &auth, None).await
                    };
                    if r.status == 200 || r.status == 201 {
                        load.ok.fetch_add(1, Ordering::SeqCst);
                    } else {
                        load.failures
                            .lock()
                            .unwrap()
                            .push(format!("{}: {}", r.status, r.text));
                    }
                }
            })
        })
        .collect();
    (load, handles)
}

/// The login roles of the server's pooled connections (`application_name` `palisade`).
async fn app_session_roles(su: &tokio_postgres::Client, database: &str) -> Vec<String> {
    su.query(
        "SELECT usename::text FROM pg_stat_activity
          WHERE datname = $1 AND application_name = 'palisade' ORDER BY 1",
        &[&database],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// Whether `url` can log in; the error (its SQLSTATE) when it cannot.
async fn logs_in(url: &str) -> Result<(), String> {
    match schema::connect(url).await {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("{e}")),
    }
}

fn write_file(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "palisade-rotation-{name}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[actix_web::test]
async fn rotating_the_app_credential_under_load_fails_no_request() {
    let _roles = SHARED_ROLES.lock().await;
    let db = Arc::new(TestDb::new().await);
    let dir = scratch_dir("file");
    let url_file = dir.join("app-database-url");
    let first_url = db.url_as(TEST_APP_LOGIN_ROLE);
    write_file(&url_file, &format!("{first_url}\n"));
    // The server's own wiring of PALISADE_APP_DATABASE_URL_FILE.
    let pool = AppPool::new(&PoolSettings {
        url: url_source(
            &UrlSetting::File(url_file.clone()),
            "PALISADE_APP_DATABASE_URL_FILE",
        ),
        max_size: 8,
        wait_timeout: Duration::from_secs(30),
    })
    .unwrap();
    let app = try_spawn_app_with_pool(Arc::clone(&db), pool, |_| None, |_| {})
        .await
        .unwrap();
    let owner = app.signup("Acme").await;
    let su = db.superuser_client().await;
    let superuser_url = cluster().superuser_url("postgres");

    let (load, handles) = start_load(&app.addr, &owner.token, 16);
    load.until_more(300).await;
    assert_eq!(
        app_session_roles(&su, &db.name)
            .await
            .first()
            .map(String::as_str),
        Some(APP_LOGIN_ROLES[0])
    );

    // 1. What `palisade rotate-app-credential` runs with PALISADE_APP_DATABASE_URL_FILE.
    let rotated = rotate_url_file(&superuser_url, &url_file, Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(
        (rotated.old_role, rotated.new_role),
        (APP_LOGIN_ROLES[0], APP_LOGIN_ROLES[1])
    );
    load.until_more(300).await;
    let roles = app_session_roles(&su, &db.name).await;
    assert!(!roles.is_empty());
    assert!(roles.iter().all(|r| r == APP_LOGIN_ROLES[1]), "{roles:?}");
    let err = logs_in(&first_url).await.unwrap_err();
    // 28P01 invalid_password (it has none), or 28000 (NOLOGIN).
    assert!(err.contains("28P01") || err.contains("28000"), "{err}");
    let second_url = std::fs::read_to_string(&url_file).unwrap();
    assert!(second_url.contains(APP_LOGIN_ROLES[1]));
    logs_in(second_url.trim()).await.unwrap();

    // 2. The subcommand itself, back to the first role, still under load.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisade"));
    cmd.arg("rotate-app-credential")
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_URL_FILE")
        .env("PALISADE_APP_DATABASE_URL_FILE", &url_file)
        .env("PALISADE_SUPERUSER_URL", &superuser_url)
        .env_remove("PALISADE_SUPERUSER_URL_FILE")
        .env("PALISADE_ROTATE_DRAIN_TIMEOUT_SECS", "120");
    let out = run(cmd).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let third_url = std::fs::read_to_string(&url_file).unwrap();
    for output in [&out.stdout, &out.stderr] {
        for secret in [&first_url, second_url.trim(), third_url.trim()] {
            let password = secret
                .rsplit_once('@')
                .unwrap()
                .0
                .rsplit_once(':')
                .unwrap()
                .1;
            assert!(
                !output.contains(password),
                "a password in the output: {output}"
            );
        }
    }
    load.until_more(300).await;
    let roles = app_session_roles(&su, &db.name).await;
    assert!(roles.iter().all(|r| r == APP_LOGIN_ROLES[0]), "{roles:?}");
    assert!(logs_in(second_url.trim()).await.is_err());

    // 3. A file that does not parse: the server keeps the last good credential and serves.
    write_file(&url_file, "this is not a URL\n");
    app.pool.reload_credential().await;
    load.until_more(200).await;
    write_file(&url_file, "");
    app.pool.reload_credential().await;
    load.until_more(200).await;

    load.stop.store(true, Ordering::SeqCst);
    for h in handles {
        h.await.unwrap();
    }
    let failures = load.failures.lock().unwrap().clone();
    let ok = load.ok.load(Ordering::SeqCst);
    assert!(
        failures.is_empty(),
        "{} of {} requests failed: {:?}",
        failures.len(),
        ok + failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(ok >= 1300, "{ok}");
    let roles = app_session_roles(&su, &db.name).await;
    assert!(!roles.is_empty());
    assert!(roles.iter().all(|r| r == APP_LOGIN_ROLES[0]), "{roles:?}");
    drop(app);
    // Back to the harness's state for the other tests of this process.
    su.batch_execute(&format!(
        "ALTER ROLE palisade_app_a LOGIN PASSWORD '{}'; ALTER ROLE palisade_app_b NOLOGIN PASSWORD NULL",
        palisade_test_support::test_password()
    ))
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Whether `role` may log in.
async fn can_log_in(su: &tokio_postgres::Client, role: &str) -> bool {
    su.query_one(
        "SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = $1",
        &[&role],
    )
    .await
    .unwrap()
    .get(0)
}

#[actix_web::test]
async fn a_rotation_to_a_login_role_that_bypasses_rls_is_refused_and_publishes_nothing() {
    // The idle login role given BYPASSRLS while nobody used it: the servers must never be pointed
    // at it. The shared role is altered, so under SHARED_ROLES, and the harness's state restored
    // before the assertions.
    let _roles = SHARED_ROLES.lock().await;
    let db = TestDb::new().await;
    let dir = scratch_dir("refused");
    let url_file = dir.join("app-database-url");
    let first_url = db.url_as(TEST_APP_LOGIN_ROLE);
    write_file(&url_file, &format!("{first_url}\n"));
    let (active, idle) = (APP_LOGIN_ROLES[0], APP_LOGIN_ROLES[1]);
    assert_eq!(TEST_APP_LOGIN_ROLE, active);
    let su = db.superuser_client().await;
    su.batch_execute(&format!("ALTER ROLE {idle} BYPASSRLS"))
        .await
        .unwrap();
    let rotated = rotate_url_file(
        &cluster().superuser_url("postgres"),
        &url_file,
        Duration::from_secs(30),
    )
    .await;
    let idle_can_log_in = can_log_in(&su, idle).await;
    su.batch_execute(&format!(
        "ALTER ROLE {idle} NOBYPASSRLS NOLOGIN PASSWORD NULL; ALTER ROLE {active} LOGIN PASSWORD '{}'",
        palisade_test_support::test_password()
    ))
    .await
    .unwrap();
    let err = match rotated {
        Ok(r) => panic!("the rotation passed: {r:?}"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("has BYPASSRLS"), "{err}");
    assert!(err.contains("not published"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&url_file).unwrap(),
        format!("{first_url}\n")
    );
    assert!(!idle_can_log_in, "{idle} was left able to log in");
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix_web::test]
async fn a_superuser_url_in_the_url_file_is_not_adopted_and_rls_still_binds() {
    // A wrong file (here the superuser's URL) must not take a running server past row-level
    // security: the pool checks the new role before adopting it, as the server does at startup.
    // Logs in as the shared login role, which the other tests here rotate: under SHARED_ROLES.
    let _roles = SHARED_ROLES.lock().await;
    let db = Arc::new(TestDb::new().await);
    let dir = scratch_dir("superuser");
    let url_file = dir.join("app-database-url");
    write_file(&url_file, &db.url_as(TEST_APP_LOGIN_ROLE));
    let pool = AppPool::new(&PoolSettings {
        url: url_source(
            &UrlSetting::File(url_file.clone()),
            "PALISADE_APP_DATABASE_URL_FILE",
        ),
        max_size: 4,
        wait_timeout: Duration::from_secs(30),
    })
    .unwrap();
    let app = try_spawn_app_with_pool(Arc::clone(&db), pool, |_| None, |_| {})
        .await
        .unwrap();
    let acme = app.signup("Acme").await;
    let globex = app.signup("Globex").await;
    let customer = app
        .create_customer(
            &acme,
            serde_json::json!({"name": "Ada", "email": "ada@acme.example"}),
        )
        .await;
    let id = customer["id"].as_str().unwrap();

    write_file(&url_file, &db.superuser_url());
    app.pool.reload_credential().await;
    assert_eq!(app.pool.login_role(), TEST_APP_LOGIN_ROLE);
    // Adopted, the superuser's URL would have closed the idle connections, and the requests
    // below would run on new ones as the superuser, whom no policy binds.
    let r = app
        .call("GET", "/v1/customers", Some(&globex.token), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["data"], serde_json::json!([]), "{}", r.text);
    let r = app
        .call(
            "GET",
            &format!("/v1/customers/{id}"),
            Some(&globex.token),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let su = db.superuser_client().await;
    let roles = app_session_roles(&su, &db.name).await;
    assert!(!roles.is_empty());
    assert!(roles.iter().all(|r| r == TEST_APP_LOGIN_ROLE), "{roles:?}");
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}

fn secrets(data_dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(data_dir.join("secrets.json")).unwrap()).unwrap()
}

#[actix_web::test]
async fn the_embedded_server_follows_a_rotation_without_restart_and_keeps_its_port() {
    let data_dir = scratch_dir("embedded");
    let server = tokio::task::spawn_blocking({
        let d = data_dir.clone();
        move || EmbeddedServer::start(&d)
    })
    .await
    .unwrap();
    let port: u16 = std::fs::read_to_string(data_dir.join("pg-port"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let before = secrets(&data_dir);
    assert_eq!(before["app_role"], APP_LOGIN_ROLES[0]);
    let signup = serde_json::json!({"organization_name": "Acme", "name": "Ada",
        "email": "ada@acme.example", "password": "correct horse battery"});
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
    let superuser_url = format!(
        "postgresql://postgres:{}@127.0.0.1:{port}/palisade",
        before["superuser_password"].as_str().unwrap()
    );
    let su = schema::connect(&superuser_url).await.unwrap();

    let (load, handles) = start_load(&server.addr, &token, 8);
    load.until_more(200).await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisade"));
    cmd.arg("rotate-app-credential")
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_URL_FILE")
        .env_remove("PALISADE_APP_DATABASE_URL_FILE")
        .env("PALISADE_DATA_DIR", &data_dir);
    let out = run(cmd).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    load.until_more(200).await;
    load.stop.store(true, Ordering::SeqCst);
    for h in handles {
        h.await.unwrap();
    }
    let failures = load.failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "{failures:?}");

    let after = secrets(&data_dir);
    assert_eq!(after["app_role"], APP_LOGIN_ROLES[1]);
    for key in [
        "superuser_password",
        "owner_password",
        "billing_password",
        "jwt_secret",
    ] {
        assert_eq!(after[key], before[key], "{key} unchanged");
    }
    let roles = app_session_roles(&su, "palisade").await;
    assert!(!roles.is_empty());
    assert!(roles.iter().all(|r| r == APP_LOGIN_ROLES[1]), "{roles:?}");
    let old_url = format!(
        "postgresql://{}:{}@127.0.0.1:{port}/palisade",
        APP_LOGIN_ROLES[0],
        before["app_password"].as_str().unwrap()
    );
    assert!(logs_in(&old_url).await.is_err());
    drop(su);

    // Restarted: the same PostgreSQL port, the rotated role, the same data.
    tokio::task::spawn_blocking(move || drop(server))
        .await
        .unwrap();
    let server = tokio::task::spawn_blocking({
        let d = data_dir.clone();
        move || EmbeddedServer::start(&d)
    })
    .await
    .unwrap();
    let again: u16 = std::fs::read_to_string(data_dir.join("pg-port"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(again, port);
    let r = request(
        &server.addr,
        "GET",
        "/v1/customers",
        &[("Authorization", format!("Bearer {token}"))],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let su = schema::connect(&superuser_url).await.unwrap();
    let roles = app_session_roles(&su, "palisade").await;
    assert!(roles.iter().all(|r| r == APP_LOGIN_ROLES[1]), "{roles:?}");
    drop(su);
    tokio::task::spawn_blocking(move || drop(server))
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// A Stripe event as Stripe sends it.
fn stripe_event(event_type: &str, object: serde_json::Value) -> Vec<u8> {
    serde_json::json!({
        "id": format!("evt_{}", uuid::Uuid::new_v4().simple()), "object": "event",
        "api_version": "2025-03-31.basil", "created": palisade_test_support::unix_now(),
        "livemode": false, "pending_webhooks": 1, "type": event_type,
        "request": {"id": null, "idempotency_key": null},
        "data": {"object": object}
    })
    .to_string()
    .into_bytes()
}

#[actix_web::test]
async fn the_billing_pool_reads_a_new_password_from_its_file_without_a_restart() {
    let _roles = SHARED_ROLES.lock().await;
    // palisade_billing has one password (no a/b pair: BYPASSRLS is not inherited through a
    // group). docs/dba.md: change it, then the file; new billing connections use the new one.
    let db = Arc::new(TestDb::new().await);
    let dir = scratch_dir("billing");
    let url_file = dir.join("billing-database-url");
    let old_url = db.url_as(schema::BILLING_ROLE);
    write_file(&url_file, &old_url);
    let billing = palisade_db::BillingPool::new(&PoolSettings {
        url: url_source(
            &UrlSetting::File(url_file.clone()),
            "PALISADE_BILLING_DATABASE_URL_FILE",
        ),
        max_size: 2,
        wait_timeout: Duration::from_secs(30),
    })
    .unwrap();
    let stripe = palisade_api::webhooks::stripe::StripeSetup::new(
        billing,
        palisade_domain::Secret::new(palisade_test_support::TEST_STRIPE_WEBHOOK_SECRET),
    );
    let app = try_spawn_app_with_pool(Arc::clone(&db), db.app_pool(4), |_| Some(stripe), |_| {})
        .await
        .unwrap();
    let owner = app.signup("Acme").await;
    let customer = format!("cus_{}", uuid::Uuid::new_v4().simple());
    let checkout = serde_json::json!({
        "id": format!("cs_test_{}", uuid::Uuid::new_v4().simple()), "object": "checkout.session",
        "mode": "subscription", "status": "complete", "payment_status": "paid",
        "client_reference_id": owner.org_id, "metadata": {"organization_id": owner.org_id},
        "customer": customer,
        "subscription": format!("sub_{}", uuid::Uuid::new_v4().simple()),
        "customer_details": {"email": "billing@acme.example", "name": "Acme Billing"}
    });
    let r = app
        .stripe_webhook(&stripe_event("checkout.session.completed", checkout))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let su = db.superuser_client().await;
    let rotated_password = palisade_test_support::random_password();
    su.batch_execute(&format!(
        "ALTER ROLE {} PASSWORD '{rotated_password}'",
        schema::BILLING_ROLE
    ))
    .await
    .unwrap();
    let new_url = old_url.replace(palisade_test_support::test_password(), &rotated_password);
    write_file(&url_file, &new_url);
    // The server re-reads the file and closes its idle billing connection of the old URL.
    for attempt in 0.. {
        let open: i64 = su
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = $1",
                &[&schema::BILLING_ROLE],
            )
            .await
            .unwrap()
            .get(0);
        if open == 0 {
            break;
        }
        assert!(
            attempt < 3000,
            "the old billing connection was never closed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let unknown = serde_json::json!({
        "id": format!("sub_{}", uuid::Uuid::new_v4().simple()), "object": "subscription",
        "customer": format!("cus_{}", uuid::Uuid::new_v4().simple()), "status": "active",
        "cancel_at_period_end": false, "canceled_at": null, "currency": "usd", "metadata": {},
        "items": {"object": "list", "data": []}
    });
    let r = app
        .stripe_webhook(&stripe_event("customer.subscription.updated", unknown))
        .await;
    assert!(r.status < 300, "{}: {}", r.status, r.text);
    let sessions: i64 = su
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND application_name = 'palisade-billing'",
            &[&schema::BILLING_ROLE],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        sessions, 1,
        "the event came through a new billing connection"
    );
    assert!(logs_in(&old_url).await.is_err());
    drop(app);
    su.batch_execute(&format!(
        "ALTER ROLE {} PASSWORD '{}'",
        schema::BILLING_ROLE,
        palisade_test_support::test_password()
    ))
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix_web::test]
async fn re_applying_the_roles_keeps_the_app_login_roles_members_of_the_group_only() {
    // The group itself is a member of nothing: a policy written for a role applies to its
    // members, and permissive policies add up.
    let _roles = SHARED_ROLES.lock().await;
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    let memberships = || async {
        su.query(
            "SELECT pg_get_userbyid(m.member)::text, pg_get_userbyid(m.roleid)::text
               FROM pg_auth_members m
              WHERE pg_get_userbyid(m.member) IN ('palisade_app', 'palisade_app_a', 'palisade_app_b')
              ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect::<Vec<_>>()
    };
    let expected = vec![
        ("palisade_app_a".to_owned(), "palisade_app".to_owned()),
        ("palisade_app_b".to_owned(), "palisade_app".to_owned()),
    ];
    assert_eq!(memberships().await, expected);
    // Memberships granted by hand (here harmless ones), one of them the group's, and the
    // group's taken away.
    su.batch_execute(
        "GRANT palisade_auditor TO palisade_app_b; GRANT palisade_auditor TO palisade_app;
         REVOKE palisade_app FROM palisade_app_a",
    )
    .await
    .unwrap();
    su.batch_execute(schema::ROLES_SQL).await.unwrap();
    assert_eq!(memberships().await, expected);
}

#[actix_web::test]
async fn the_billing_check_refuses_replication_and_the_server_files_roles() {
    // A base backup or a logical slot (REPLICATION), or the server's files, read every table
    // whatever the billing role's grants. The shared role is altered, so under SHARED_ROLES and
    // undone before the assertions.
    let _roles = SHARED_ROLES.lock().await;
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    let billing = db.billing_pool();
    billing.check_role(&db.app_pool(1)).await.unwrap();
    let role = schema::BILLING_ROLE;
    for (make, undo) in [
        (
            format!("ALTER ROLE {role} REPLICATION"),
            format!("ALTER ROLE {role} NOREPLICATION"),
        ),
        (
            format!("GRANT pg_read_server_files TO {role}"),
            format!("REVOKE pg_read_server_files FROM {role}"),
        ),
    ] {
        su.batch_execute(&make).await.unwrap();
        let checked = billing.check_role(&db.app_pool(1)).await;
        su.batch_execute(&undo).await.unwrap();
        let err = checked
            .err()
            .unwrap_or_else(|| panic!("{make}: the billing check passed"))
            .to_string();
        assert!(
            err.contains("REPLICATION or the server's files"),
            "{make}: {err}"
        );
    }
    billing.check_role(&db.app_pool(1)).await.unwrap();
}
