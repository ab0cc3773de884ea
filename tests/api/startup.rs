//! The server refuses to start when its app role could see past RLS.

use std::time::Duration;

use palisade_db::schema::{self, check_app_role};
use palisade_db::{AppPool, PoolSettings};
use palisade_server::startup::{AppConfig, Application};
use palisade_test_support::{TEST_APP_LOGIN_ROLE, TEST_JWT_SECRET, TestDb, cluster, test_password};

/// A new probe role's name, dropped with `db` even when the test fails: roles are cluster-wide,
/// and a BYPASSRLS member of palisade_app (or a superuser) left behind would be a real finding for
/// `palisade audit` on any other database of a shared test server (TEST_DATABASE_URL), and a way
/// in.
fn probe_name(db: &TestDb) -> String {
    let name = format!("palisade_probe_{}", uuid::Uuid::new_v4().simple());
    db.drop_role_with_it(&name);
    name
}

/// Creates a login role of its own (roles are cluster-wide; never alter the shared ones), with
/// the process's random test password.
async fn make_role(db: &TestDb, attrs: &str) -> String {
    let name = probe_name(db);
    let su = db.superuser_client().await;
    su.batch_execute(&format!(
        "CREATE ROLE {name} LOGIN PASSWORD '{}' {attrs}",
        test_password()
    ))
    .await
    .unwrap();
    su.batch_execute(&format!("GRANT palisade_app TO {name}"))
        .await
        .unwrap();
    name
}

fn pool_as(db: &TestDb, role: &str) -> AppPool {
    AppPool::new(&PoolSettings {
        url: palisade_domain::Secret::new(cluster().url(role, test_password(), &db.name)).into(),
        max_size: 1,
        wait_timeout: Duration::from_secs(10),
    })
    .unwrap()
}

async fn refusal(db: &TestDb, role: &str) -> String {
    let config = AppConfig {
        http_addr: "127.0.0.1:0".into(),
        jwt_secret: TEST_JWT_SECRET.to_vec(),
        jwt_verify_secret: None,
        token_ttl: Duration::from_secs(60),
        session_max: Duration::from_secs(60),
        workers: Some(1),
        slow_request: Default::default(),
        webhooks: palisade_test_support::test_webhook_config(),
        stripe: None,
        clock: std::sync::Arc::new(palisade_domain::SystemClock),
        rate_limits: Default::default(),
        trusted_proxies: Default::default(),
        mailer: palisade_api::mail::Mailer::outbox(
            std::env::temp_dir().join("palisade-startup-refusal-outbox"),
            palisade_test_support::TEST_MAIL_FROM,
        )
        .unwrap(),
        accounts: palisade_api::AccountSettings::default(),
        number_quarantine: palisade_test_support::TEST_NUMBER_QUARANTINE,
        cors: palisade_api::cors::CorsOrigins::none(),
        metrics_addr: None,
        organization_deletion: palisade_api::DeletionLimits::default(),
    };
    match Application::build(&config, pool_as(db, role)).await {
        Ok(_) => panic!("the server started with app role {role}"),
        Err(e) => e.to_string(),
    }
}

#[actix_web::test]
async fn the_real_app_role_passes() {
    let db = TestDb::new().await;
    check_app_role(&db.app_pool(1)).await.unwrap();
}

#[actix_web::test]
async fn the_app_group_cannot_log_in_and_both_login_roles_are_plain_members_with_guardrails() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    let rows = su
        .query(
            "SELECT r.rolname::text, r.rolcanlogin, r.rolsuper OR r.rolbypassrls OR r.rolcreatedb
                    OR r.rolcreaterole OR r.rolreplication, r.rolinherit, r.rolconnlimit,
                    (SELECT array_agg(g.rolname::text ORDER BY g.rolname) FROM pg_auth_members m
                       JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid),
                    (SELECT s.setconfig FROM pg_db_role_setting s
                      WHERE s.setrole = r.oid AND s.setdatabase = 0)
               FROM pg_roles r
              WHERE r.rolname IN ('palisade_app', 'palisade_app_a', 'palisade_app_b')
              ORDER BY r.rolname",
            &[],
        )
        .await
        .unwrap();
    type Row = (
        String,
        bool,
        bool,
        bool,
        i32,
        Option<Vec<String>>,
        Option<Vec<String>>,
    );
    let rows: Vec<Row> = rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
            )
        })
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    let (group, login, ..) = &rows[0];
    assert_eq!((group.as_str(), *login), ("palisade_app", false));
    let limits = palisade_test_support::TEST_ROLE_LIMITS;
    for (name, _, privileged, inherit, connlimit, member_of, settings) in &rows[1..] {
        assert!(!privileged && *inherit, "{name}");
        assert_eq!(
            member_of.as_deref(),
            Some(&["palisade_app".to_owned()][..]),
            "{name}"
        );
        assert_eq!(
            i64::from(*connlimit),
            i64::from(limits.connection_limit),
            "{name}"
        );
        let settings = settings.clone().unwrap_or_default();
        for expected in [
            format!(
                "statement_timeout={}ms",
                limits.statement_timeout.as_millis()
            ),
            format!(
                "idle_in_transaction_session_timeout={}ms",
                limits.idle_in_transaction_session_timeout.as_millis()
            ),
        ] {
            assert!(settings.contains(&expected), "{name}: {settings:?}");
        }
    }
    // The active one logs in (the harness's pool), the idle one cannot.
    assert!(rows[1].1, "{:?}", rows[1]);
    assert!(!rows[2].1, "{:?}", rows[2]);
    // Those settings reach the app's sessions (they are the login role's, not the group's).
    let app = db.app_client().await;
    let timeout: String = app
        .query_one("SHOW statement_timeout", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(timeout, "30s");
}

#[actix_web::test]
async fn a_login_role_outside_the_app_group_is_refused() {
    // It would hold none of the app's grants: every request would fail. Said at startup instead.
    let db = TestDb::new().await;
    let role = probe_name(&db);
    db.superuser_client()
        .await
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD '{}'",
            test_password()
        ))
        .await
        .unwrap();
    let msg = refusal(&db, &role).await;
    assert!(
        msg.contains("refusing to start") && msg.contains("is not a member of palisade_app"),
        "{msg}"
    );
}

#[actix_web::test]
async fn an_app_role_with_bypassrls_is_refused() {
    let db = TestDb::new().await;
    let role = make_role(&db, "BYPASSRLS").await;
    let msg = refusal(&db, &role).await;
    assert!(
        msg.contains("refusing to start") && msg.contains("BYPASSRLS"),
        "{msg}"
    );
}

#[actix_web::test]
async fn an_app_role_that_may_not_run_the_sync_functions_is_refused() {
    let db = TestDb::new().await;
    let role = make_role(&db, "").await;
    // Function privileges are the database's own (pg_proc): this revoke touches no other test.
    let su = db.superuser_client().await;
    su.batch_execute(
        "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_control_system() FROM PUBLIC;
         REVOKE EXECUTE ON FUNCTION pg_catalog.pg_walfile_name(pg_lsn) FROM PUBLIC;",
    )
    .await
    .unwrap();
    let msg = refusal(&db, &role).await;
    assert!(
        msg.contains("refusing to start")
            && msg.contains(
                "may not execute pg_catalog.pg_control_system(), pg_catalog.pg_walfile_name(pg_lsn)"
            ),
        "{msg}"
    );
    // Given back to PUBLIC, the same role passes (the refusal was the functions').
    su.batch_execute(
        "GRANT EXECUTE ON FUNCTION pg_catalog.pg_control_system() TO PUBLIC;
         GRANT EXECUTE ON FUNCTION pg_catalog.pg_walfile_name(pg_lsn) TO PUBLIC;",
    )
    .await
    .unwrap();
    check_app_role(&pool_as(&db, &role)).await.unwrap();
}

#[actix_web::test]
async fn an_app_role_that_owns_a_platform_table_is_refused() {
    // palisade_app may touch palisade_platform.mailgun_tokens; owning it (or anything in that
    // schema) would let it disable row-level security there and grant itself the rest.
    let db = TestDb::new().await;
    let role = make_role(&db, "").await;
    db.superuser_client()
        .await
        .batch_execute(&format!(
            "ALTER TABLE palisade_platform.mailgun_tokens OWNER TO {role}"
        ))
        .await
        .unwrap();
    let msg = refusal(&db, &role).await;
    assert!(msg.contains("owns 1 table(s)"), "{msg}");
}

/// A database upgraded from PostgreSQL 14 or older (pg_upgrade, or a restore with its ACLs) keeps
/// PUBLIC's CREATE on schema public: the app role could make a table of its own there and hang
/// a trigger on it, which policies/300_chat.sql trusts. The server refuses such a role, and
/// refuses one that owns anything anywhere; re-applying 002_no_temporary_objects.sql (`palisade
/// install-definers`) revokes the grant.
#[actix_web::test]
async fn an_app_role_that_may_create_or_owns_anything_outside_palisades_schemas_is_refused() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    su.batch_execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
        .await
        .unwrap();
    let msg = refusal(&db, TEST_APP_LOGIN_ROLE).await;
    assert!(
        msg.contains("may create objects in schema(s) public"),
        "{msg}"
    );
    // The superuser's files inside the database, which `palisade install-definers` re-applies
    // (not the whole command: it re-applies the roles file too, which revokes every membership in
    // palisade_resolver cluster-wide, the one another test grants a probe role at the same time).
    schema::install_superuser_database_files(&cluster().superuser_url("postgres"), &db.name)
        .await
        .unwrap();
    check_app_role(&db.app_pool(1)).await.unwrap();

    let role = make_role(&db, "").await;
    su.batch_execute(&format!(
        "CREATE TABLE public.probe_owned (i int); ALTER TABLE public.probe_owned OWNER TO {role}"
    ))
    .await
    .unwrap();
    let msg = refusal(&db, &role).await;
    assert!(msg.contains("owns 1 table(s)"), "{msg}");
    assert!(!msg.contains("may create objects"), "{msg}");
    su.batch_execute("DROP TABLE public.probe_owned")
        .await
        .unwrap();
    // A schema or a plain function of its own, anywhere, counts the same.
    for (make, undo) in [
        (
            format!("CREATE SCHEMA probe_owned AUTHORIZATION {role}"),
            "DROP SCHEMA probe_owned".to_owned(),
        ),
        (
            format!(
                "CREATE FUNCTION public.probe_owned() RETURNS int LANGUAGE sql AS 'SELECT 1';
                 ALTER FUNCTION public.probe_owned() OWNER TO {role}"
            ),
            "DROP FUNCTION public.probe_owned()".to_owned(),
        ),
    ] {
        su.batch_execute(&make).await.unwrap();
        let msg = refusal(&db, &role).await;
        assert!(msg.contains("owns 1 table(s)"), "{make}: {msg}");
        su.batch_execute(&undo).await.unwrap();
    }
    // Creating schemas (CREATE on the database), or granting itself roles (CREATEROLE: on
    // PostgreSQL 15, palisade_backup and its BYPASSRLS too), or belonging to a role that may.
    let granted = format!("GRANT CREATE ON DATABASE \"{}\" TO {role}", db.name);
    su.batch_execute(&granted).await.unwrap();
    let msg = refusal(&db, &role).await;
    assert!(msg.contains("may create schemas"), "{msg}");
    su.batch_execute(&granted.replace("GRANT", "REVOKE").replace(" TO ", " FROM "))
        .await
        .unwrap();
    su.batch_execute(&format!("ALTER ROLE {role} CREATEROLE"))
        .await
        .unwrap();
    let msg = refusal(&db, &role).await;
    assert!(msg.contains("has CREATEROLE"), "{msg}");
    let member = make_role(&db, "").await;
    su.batch_execute(&format!("GRANT {role} TO {member}"))
        .await
        .unwrap();
    let msg = refusal(&db, &member).await;
    assert!(msg.contains(&format!("member of {role}")), "{msg}");
    // REPLICATION (a logical stream carries every organization's rows), and the roles that read
    // the server's files (a table's too) or run its programs.
    su.batch_execute(&format!(
        "ALTER ROLE {role} NOCREATEROLE REPLICATION; REVOKE {role} FROM {member};
         GRANT pg_read_server_files TO {member}"
    ))
    .await
    .unwrap();
    let msg = refusal(&db, &role).await;
    assert!(msg.contains("has REPLICATION"), "{msg}");
    let msg = refusal(&db, &member).await;
    assert!(msg.contains("member of pg_read_server_files"), "{msg}");
}

#[actix_web::test]
async fn an_app_role_that_is_a_member_of_any_other_role_is_refused() {
    // A policy written for a role applies to its members, and permissive policies add up: a
    // membership in an analyst role (crates/palisade_server/tests/analyst.rs shows the leak)
    // would show that organization's rows to every request. Any role but the group,
    // directly or through a role in between, even one that holds nothing.
    let db = TestDb::new().await;
    let role = make_role(&db, "").await;
    let (held, middle) = (probe_name(&db), probe_name(&db));
    let su = db.superuser_client().await;
    su.batch_execute(&format!(
        "CREATE ROLE {held} NOLOGIN; CREATE ROLE {middle} NOLOGIN; GRANT {held} TO {role}"
    ))
    .await
    .unwrap();
    let msg = refusal(&db, &role).await;
    assert!(
        msg.contains(&format!("is a member of {held} besides palisade_app")),
        "{msg}"
    );
    su.batch_execute(&format!(
        "REVOKE {held} FROM {role}; GRANT {held} TO {middle}; GRANT {middle} TO {role}"
    ))
    .await
    .unwrap();
    let msg = refusal(&db, &role).await;
    assert!(
        msg.contains(&format!("{held}, {middle} besides palisade_app"))
            || msg.contains(&format!("{middle}, {held} besides palisade_app")),
        "{msg}"
    );
    su.batch_execute(&format!("REVOKE {middle} FROM {role}"))
        .await
        .unwrap();
    check_app_role(&pool_as(&db, &role)).await.unwrap();
}

#[actix_web::test]
async fn a_superuser_app_role_is_refused() {
    let db = TestDb::new().await;
    let role = make_role(&db, "SUPERUSER").await;
    let msg = refusal(&db, &role).await;
    assert!(msg.contains("superuser"), "{msg}");
}

#[actix_web::test]
async fn an_app_role_that_owns_a_tenant_table_or_can_become_the_owner_is_refused() {
    let db = TestDb::new().await;
    let role = make_role(&db, "").await;
    let su = db.superuser_client().await;
    su.batch_execute(&format!("ALTER TABLE palisade.customers OWNER TO {role}"))
        .await
        .unwrap();
    let msg = refusal(&db, &role).await;
    assert!(msg.contains("owns 1 table(s)"), "{msg}");

    let member = make_role(&db, "").await;
    su.batch_execute(&format!("GRANT palisade_owner TO {member}"))
        .await
        .unwrap();
    let msg = refusal(&db, &member).await;
    assert!(msg.contains("member of palisade_owner"), "{msg}");
}

#[actix_web::test]
async fn an_app_role_that_can_become_the_resolver_is_refused() {
    // palisade_resolver owns the SECURITY DEFINER functions and nothing else: no table, no
    // schema. A member could SET ROLE to it and read every organization's users and key hashes.
    let db = TestDb::new().await;
    let role = make_role(&db, "").await;
    db.superuser_client()
        .await
        .batch_execute(&format!("GRANT palisade_resolver TO {role}"))
        .await
        .unwrap();
    let msg = refusal(&db, &role).await;
    assert!(
        msg.contains("refusing to start") && msg.contains("member of palisade_resolver"),
        "{msg}"
    );
    // Through a NOLOGIN role in between, too.
    let middle = probe_name(&db);
    let member = make_role(&db, "").await;
    db.superuser_client()
        .await
        .batch_execute(&format!(
            "CREATE ROLE {middle} NOLOGIN; GRANT palisade_resolver TO {middle}; GRANT {middle} TO {member}"
        ))
        .await
        .unwrap();
    let msg = refusal(&db, &member).await;
    assert!(msg.contains("palisade_resolver"), "{msg}");
}

#[actix_web::test]
async fn an_app_role_that_owns_a_security_definer_function_is_refused() {
    let db = TestDb::new().await;
    let role = make_role(&db, "").await;
    db.superuser_client()
        .await
        .batch_execute(&format!(
            "CREATE FUNCTION public.probe_definer() RETURNS int LANGUAGE sql SECURITY DEFINER
                 SET search_path = '' AS 'SELECT 1';
             ALTER FUNCTION public.probe_definer() OWNER TO {role};"
        ))
        .await
        .unwrap();
    let msg = refusal(&db, &role).await;
    assert!(msg.contains("function(s)"), "{msg}");
    db.superuser_client()
        .await
        .batch_execute("DROP FUNCTION public.probe_definer()")
        .await
        .unwrap();
}

#[actix_web::test]
async fn missing_or_outdated_security_definer_functions_are_refused_until_installed() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    let superuser_url = cluster().superuser_url("postgres");
    let install = || schema::install_definers(&superuser_url, &db.name);
    // As after `palisade migrate` on a new server, before `palisade install-definers`.
    su.batch_execute("DROP FUNCTION palisade_private.definer_files_digest()")
        .await
        .unwrap();
    let msg = refusal(&db, TEST_APP_LOGIN_ROLE).await;
    assert!(
        msg.contains("are not installed") && msg.contains("palisade install-definers"),
        "{msg}"
    );
    install().await.unwrap();
    schema::check_definers(&db.app_pool(1)).await.unwrap();
    // As after an upgrade whose definer files changed.
    su.batch_execute(palisade_test_support::DEFINERS_OF_AN_OLDER_VERSION)
        .await
        .unwrap();
    let msg = refusal(&db, TEST_APP_LOGIN_ROLE).await;
    assert!(
        msg.contains("not the ones of this version") && msg.contains("palisade install-definers"),
        "{msg}"
    );
    install().await.unwrap();
    check_app_role(&db.app_pool(1)).await.unwrap();
    schema::check_definers(&db.app_pool(1)).await.unwrap();
    // Only a superuser can install them (they are created as palisade_resolver).
    let err = schema::install_definers(&db.url_as(schema::OWNER_ROLE), &db.name)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("needs a superuser"), "{err}");
}

/// Every start re-applies the policy files, which lock every tenant table in turn, to the end of
/// their transaction. Behind a long transaction (pg_dump, an analyst's report) that holds one
/// of them, `migrate` gives its attempt up after the lock timeout and rolls it back, so the
/// tables it had locked serve requests again; it tries again, and in the end names what it
/// waited for. Once that transaction ends, it goes through.
#[tokio::test]
async fn migrate_gives_way_to_a_long_transaction_and_says_what_it_waited_for() {
    let db = TestDb::new().await;
    let holder = db.superuser_client().await;
    // Were migrate to wait for the lock (no timeout), this ends the holder after a minute and
    // the test fails on the success below instead of hanging.
    holder
        .batch_execute(
            "SET idle_in_transaction_session_timeout = '60s'; \
             BEGIN; SELECT count(*) FROM palisade.customers;",
        )
        .await
        .unwrap();
    let mut owner = db.owner_client().await;
    // The caller's own lock timeout, which migrate puts back.
    owner
        .batch_execute("SET lock_timeout = '7s'")
        .await
        .unwrap();
    let retry = schema::LockRetry {
        attempts: 2,
        pause: Duration::ZERO,
    };
    let err = schema::migrate_with_retry(&mut owner, retry)
        .await
        .expect_err("the policies cannot lock customers");
    match &err {
        schema::SchemaError::LockTimeout(what) => {
            assert_eq!(what, "policy file 120_customers.sql", "{err}");
        }
        other => panic!("not a lock timeout: {other}"),
    }
    assert!(err.to_string().contains("pg_blocking_pids"), "{err}");
    // Nothing of the attempt is held: a table the policies locked before customers
    // (organizations, 100_*) answers at once.
    let app = db.app_client().await;
    app.batch_execute("SET lock_timeout = '1s'").await.unwrap();
    palisade_test_support::sql::begin_as(&app, uuid::Uuid::now_v7(), "owner").await;
    app.query_one("SELECT count(*) FROM palisade.organizations", &[])
        .await
        .expect("organizations is not locked");
    palisade_test_support::sql::rollback(&app).await;
    // The session's lock timeout is the caller's again.
    let timeout: String = owner
        .query_one("SELECT current_setting('lock_timeout')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(timeout, "7s");
    holder.batch_execute("COMMIT").await.unwrap();
    schema::migrate_with_retry(&mut owner, retry)
        .await
        .expect("through once the transaction ended");
}

/// A migration that fails says which one and the server's own reason (the client library's
/// error alone says "db error").
#[tokio::test]
async fn a_failed_migration_names_itself_and_the_servers_reason() {
    let db = TestDb::at_version(164).await;
    // Something the next migration will trip on, as a hand-made change would be.
    db.superuser_client()
        .await
        .batch_execute("ALTER TABLE palisade.api_keys ADD COLUMN expires_at timestamptz")
        .await
        .unwrap();
    let err = schema::migrate(&db.url_as(schema::OWNER_ROLE))
        .await
        .expect_err("V0165 adds expires_at again");
    let text = err.to_string();
    assert!(matches!(err, schema::SchemaError::Migration(_)), "{text}");
    assert!(text.contains("add_expires_at_to_api_keys"), "{text}");
    assert!(
        text.contains(r#"column "expires_at" of relation "api_keys" already exists"#),
        "{text}"
    );
}
