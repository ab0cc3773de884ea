//! Issue 12, item 3, against a real database: `palisade analyst grant|revoke` gives a role the
//! rows of one organization, read-only, without secret columns, whatever tenant context it sets;
//! `palisade migrate` keeps it up to date (tables added later included); `palisade audit` calls
//! the setup safe (no violation, no drift), before and after the revoke.
//!
//! Its own test process and cluster: analyst roles are cluster-wide, each test uses its own.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;

use palisade_db::schema;
use palisade_test_support::command::{Run, audit_violations as violations, run};
use palisade_test_support::{TestDb, cluster, test_password};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

/// Runs the built `palisade` with `args`, the superuser's URL, the owner's as DATABASE_URL and
/// `db`'s name.
async fn palisade(db: &TestDb, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisade"));
    cmd.args(args)
        .env(
            "PALISADE_SUPERUSER_URL",
            cluster().superuser_url("postgres"),
        )
        .env_remove("PALISADE_SUPERUSER_URL_FILE")
        .env("PALISADE_DATABASE_NAME", &db.name)
        .env("DATABASE_URL", db.url_as(schema::OWNER_ROLE));
    run(cmd).await
}

/// A role name of this test's own (at most 40 characters), dropped with `db` even when the test
/// fails ([`TestDb::drop_role_with_it`]): roles are cluster-wide, and one left behind would
/// outlive the test on a shared server (`TEST_DATABASE_URL`). A test that ends well drops its
/// roles itself, after `analyst revoke`: that the drop succeeds shows the revoke left no grant.
fn analyst_role(db: &TestDb) -> String {
    let name = format!("analyst_{}", &Uuid::new_v4().simple().to_string()[..16]);
    db.drop_role_with_it(&name);
    name
}

/// Two organizations, each with a customer and a user (whose password hash is a secret).
async fn seed(su: &Client) -> (Uuid, Uuid) {
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    su.execute(
        "INSERT INTO palisade.organizations (id, name) VALUES ($1, 'Org A'), ($2, 'Org B')",
        &[&a, &b],
    )
    .await
    .unwrap();
    su.execute(
        "INSERT INTO palisade.customers (organization_id, id, name) VALUES
             ($1, gen_random_uuid(), 'customer of A'), ($2, gen_random_uuid(), 'customer of B')",
        &[&a, &b],
    )
    .await
    .unwrap();
    su.execute(
        "INSERT INTO palisade.users (organization_id, id, email, name, role, password_hash) VALUES
             ($1, gen_random_uuid(), $3, 'user of A', 'owner', 'hash-a'),
             ($2, gen_random_uuid(), $4, 'user of B', 'owner', 'hash-b')",
        &[
            &a,
            &b,
            &format!("a-{a}@example.test"),
            &format!("b-{b}@example.test"),
        ],
    )
    .await
    .unwrap();
    (a, b)
}

/// The names `sql` returns, as `client` sees them.
async fn names(client: &Client, sql: &str) -> Vec<String> {
    let mut names: Vec<String> = client
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    names.sort();
    names
}

fn refused(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE)
}

/// `palisade audit` (drift included) exits 0.
async fn audit_passes(db: &TestDb, when: &str) {
    let out = palisade(db, &["audit"]).await;
    assert_eq!(
        out.code, 0,
        "{when}: palisade audit failed:\n{}\n{}",
        out.stdout, out.stderr
    );
    assert!(out.stdout.contains("Result: OK"), "{when}: {}", out.stdout);
}

#[tokio::test]
async fn an_analyst_reads_one_organization_only_cannot_write_and_the_audit_calls_it_safe() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    let (a, b) = seed(&su).await;
    let role = analyst_role(&db);

    let out = palisade(
        &db,
        &["analyst", "grant", &role, "--organization", &a.to_string()],
    )
    .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("created (NOLOGIN)"), "{}", out.stdout);
    let recorded: Uuid = su
        .query_one(
            "SELECT organization_id FROM palisade_audit.analysts WHERE role_name = $1",
            &[&role],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded, a);
    // Granting again is idempotent.
    let out = palisade(
        &db,
        &["analyst", "grant", &role, "--organization", &a.to_string()],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("already its analyst"), "{}", out.stdout);

    // The operator lets the analyst log in.
    su.batch_execute(&format!(
        "ALTER ROLE {role} LOGIN PASSWORD '{}'",
        test_password()
    ))
    .await
    .unwrap();
    let analyst = schema::connect(&db.url_as(&role)).await.unwrap();
    assert_eq!(
        names(&analyst, "SELECT name FROM palisade.customers").await,
        ["customer of A"]
    );
    assert_eq!(
        names(&analyst, "SELECT name FROM palisade.users").await,
        ["user of A"]
    );
    assert_eq!(
        names(&analyst, "SELECT name FROM palisade.organizations").await,
        ["Org A"]
    );
    // Setting the tenant context to the other organization changes nothing.
    analyst
        .execute(
            "SELECT set_config('app.current_org', $1, false)",
            &[&b.to_string()],
        )
        .await
        .unwrap();
    assert_eq!(
        names(&analyst, "SELECT name FROM palisade.customers").await,
        ["customer of A"]
    );
    let b_rows: i64 = analyst
        .query_one(
            "SELECT count(*) FROM palisade.customers WHERE organization_id = $1",
            &[&b],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(b_rows, 0);
    // No writes, no secret columns.
    for sql in [
        "INSERT INTO palisade.customers (organization_id, id, name) VALUES (gen_random_uuid(), gen_random_uuid(), 'x')",
        "UPDATE palisade.customers SET name = 'changed'",
        "DELETE FROM palisade.customers",
        "TRUNCATE palisade.customers",
        "SELECT password_hash FROM palisade.users",
        "SELECT * FROM palisade.users",
    ] {
        let e = analyst.batch_execute(sql).await.unwrap_err();
        assert!(refused(&e), "{sql}: {e:?}");
    }
    let unchanged: i64 = su
        .query_one(
            "SELECT count(*) FROM palisade.customers WHERE name LIKE 'customer of %'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(unchanged, 2);

    // The audit: no violation (the pinned policies are not unscoped), no drift.
    assert_eq!(violations(&su).await, vec![]);
    audit_passes(&db, "with the analyst").await;

    // `palisade migrate` re-creates what a DBA removed by hand, and covers a tenant table added
    // later: its policy at once, its columns once policies/920 classifies them readable (a
    // column nobody classified stays closed; the hand-made rows below are rewritten by 920).
    su.batch_execute(&format!(
        "DROP POLICY analyst_{role} ON palisade.customers;
         REVOKE ALL ON palisade.customers FROM {role};
         BEGIN;
         SET LOCAL ROLE palisade_owner;
         CREATE TABLE palisade.analyst_notes (
             organization_id uuid NOT NULL REFERENCES palisade.organizations (id),
             id uuid NOT NULL, body text NOT NULL, PRIMARY KEY (organization_id, id));
         COMMIT;"
    ))
    .await
    .unwrap();
    let e = analyst
        .batch_execute("SELECT name FROM palisade.customers")
        .await
        .unwrap_err();
    assert!(refused(&e), "{e:?}");
    let out = palisade(&db, &["migrate"]).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        names(&analyst, "SELECT name FROM palisade.customers").await,
        ["customer of A"]
    );
    let pinned: String = su
        .query_one(
            "SELECT pg_get_expr(polqual, polrelid) FROM pg_policy
              WHERE polrelid = 'palisade.analyst_notes'::regclass AND polname = 'analyst_' || $1::text",
            &[&role],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(pinned, format!("(organization_id = '{a}'::uuid)"));
    let e = analyst
        .batch_execute("SELECT body FROM palisade.analyst_notes")
        .await
        .unwrap_err();
    assert!(refused(&e), "{e:?}");
    su.batch_execute("DROP TABLE palisade.analyst_notes")
        .await
        .unwrap();

    // Revoked: nothing readable, no record, and the audit is still clean (no leftover drift).
    drop(analyst);
    let out = palisade(&db, &["analyst", "revoke", &role]).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let analyst = schema::connect(&db.url_as(&role)).await.unwrap();
    let e = analyst
        .batch_execute("SELECT name FROM palisade.customers")
        .await
        .unwrap_err();
    assert!(refused(&e), "{e:?}");
    drop(analyst);
    audit_passes(&db, "after the revoke").await;
    let policies: i64 = su
        .query_one(
            "SELECT count(*) FROM pg_policy WHERE polname = 'analyst_' || $1::text",
            &[&role],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(policies, 0);
    su.batch_execute(&format!("DROP ROLE {role}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn grant_refuses_what_it_must_not_do() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    let (a, b) = seed(&su).await;
    let role = analyst_role(&db);
    // An organization that does not exist.
    let out = palisade(
        &db,
        &[
            "analyst",
            "grant",
            &role,
            "--organization",
            &Uuid::now_v7().to_string(),
        ],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stderr.contains("no organization"), "{}", out.stderr);
    // A role of Palisade's, or a malformed name: a usage error.
    for name in ["palisade_app", "Bad-Name"] {
        let out = palisade(
            &db,
            &["analyst", "grant", name, "--organization", &a.to_string()],
        )
        .await;
        assert_eq!(out.code, 2, "{name}: {}", out.stderr);
    }
    // A role that bypasses row-level security is not adopted.
    su.batch_execute(&format!("CREATE ROLE {role} BYPASSRLS"))
        .await
        .unwrap();
    let out = palisade(
        &db,
        &["analyst", "grant", &role, "--organization", &a.to_string()],
    )
    .await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("must bypass nothing"), "{}", out.stderr);
    // Nor one that is a member of another role, which would lend it that role's privileges.
    su.batch_execute(&format!(
        "ALTER ROLE {role} NOBYPASSRLS; GRANT pg_read_all_data TO {role}"
    ))
    .await
    .unwrap();
    let out = palisade(
        &db,
        &["analyst", "grant", &role, "--organization", &a.to_string()],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("is a member of pg_read_all_data"),
        "{}",
        out.stderr
    );
    assert_eq!(
        names(&su, "SELECT role_name FROM palisade_audit.analysts").await,
        Vec::<String>::new(),
        "a refused grant records nothing"
    );
    // One organization per analyst.
    su.batch_execute(&format!("REVOKE pg_read_all_data FROM {role}"))
        .await
        .unwrap();
    let out = palisade(
        &db,
        &["analyst", "grant", &role, "--organization", &a.to_string()],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("adopted"), "{}", out.stdout);
    let out = palisade(
        &db,
        &["analyst", "grant", &role, "--organization", &b.to_string()],
    )
    .await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("revoke"), "{}", out.stderr);
    // Revoking a role that is not an analyst.
    let out = palisade(&db, &["analyst", "revoke", "nobody_here"]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("not a recorded analyst"),
        "{}",
        out.stderr
    );
    // A hand-made extra privilege of a recorded analyst is reported.
    su.batch_execute(&format!(
        "GRANT UPDATE (name) ON palisade.customers TO {role}"
    ))
    .await
    .unwrap();
    let found = violations(&su).await;
    assert!(
        found
            .iter()
            .any(|(k, _, o)| k == "analyst_beyond_read" && *o == role),
        "{found:?}"
    );
    let out = palisade(&db, &["analyst", "revoke", &role]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    su.batch_execute(&format!("DROP ROLE {role}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_analyst_role_joined_to_the_app_or_to_another_analyst_is_reported_and_refused() {
    // A policy written for a role applies to its members, and permissive policies add up.
    let db = TestDb::new().await;
    let mut su = db.superuser_client().await;
    let (a, b) = seed(&su).await;
    let (of_a, of_b) = (analyst_role(&db), analyst_role(&db));
    for (role, org) in [(&of_a, a), (&of_b, b)] {
        let out = palisade(
            &db,
            &["analyst", "grant", role, "--organization", &org.to_string()],
        )
        .await;
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    audit_passes(&db, "two analysts").await;

    // The app group made a member of A's analyst: every request, whatever organization it acts
    // for, also reads A's rows. Cluster-wide, so inside a transaction that is rolled back (the
    // other tests of this cluster never see it; the server's startup check, which refuses it,
    // is tested in tests/api/startup.rs).
    let tx = su.transaction().await.unwrap();
    tx.batch_execute(&format!(
        "GRANT {of_a} TO palisade_app;
         SET LOCAL ROLE {};",
        palisade_test_support::TEST_APP_LOGIN_ROLE
    ))
    .await
    .unwrap();
    tx.execute(
        "SELECT set_config('app.current_org', $1, true)",
        &[&b.to_string()],
    )
    .await
    .unwrap();
    let seen: Vec<String> = tx
        .query("SELECT name FROM palisade.customers ORDER BY name", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        seen,
        ["customer of A", "customer of B"],
        "the leak it reports"
    );
    tx.batch_execute("RESET ROLE").await.unwrap();
    let found: Vec<(String, String)> = tx
        .query(
            "SELECT kind, object FROM palisade_audit.violations WHERE severity = 'critical'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for app in [
        "palisade_app",
        schema::APP_LOGIN_ROLES[0],
        schema::APP_LOGIN_ROLES[1],
    ] {
        assert!(
            found.contains(&("policies_add_up".to_owned(), app.to_owned())),
            "{app}: {found:?}"
        );
    }
    tx.rollback().await.unwrap();
    audit_passes(&db, "after the rollback").await;

    // A login of B's analyst that is also given A's: it reads both. Reported; and `analyst grant`
    // refuses to adopt a role whose member is already another analyst (or the app).
    let person = analyst_role(&db);
    su.batch_execute(&format!(
        "CREATE ROLE {person} NOLOGIN; GRANT {of_b} TO {person}; GRANT {of_a} TO {person}"
    ))
    .await
    .unwrap();
    let found = violations(&su).await;
    assert!(
        found
            .iter()
            .any(|(k, _, o)| k == "policies_add_up" && *o == person),
        "{found:?}"
    );
    let third = analyst_role(&db);
    su.batch_execute(&format!(
        "REVOKE {of_a} FROM {person}; CREATE ROLE {third} NOLOGIN; GRANT {third} TO {person}"
    ))
    .await
    .unwrap();
    let out = palisade(
        &db,
        &["analyst", "grant", &third, "--organization", &a.to_string()],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains(&person) && out.stderr.contains("another analyst"),
        "{}",
        out.stderr
    );
    // Nor one whose member is the app: here a NOLOGIN member of palisade_app (a login one would
    // be app_login_member in every database of this cluster).
    let acting = analyst_role(&db);
    su.batch_execute(&format!(
        "REVOKE {third} FROM {person}; CREATE ROLE {acting} NOLOGIN;
         GRANT palisade_app TO {acting}; GRANT {third} TO {acting}"
    ))
    .await
    .unwrap();
    let out = palisade(
        &db,
        &["analyst", "grant", &third, "--organization", &a.to_string()],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stderr.contains(&acting), "{}", out.stderr);
    // Nor one whose member bypasses row-level security (as palisade_billing does): the grants
    // would show that member every organization's rows. A NOLOGIN role of this test's own,
    // holding nothing in any database, so no other test's audit sees it.
    let bypasser = analyst_role(&db);
    su.batch_execute(&format!(
        "DROP ROLE {acting}; CREATE ROLE {bypasser} NOLOGIN BYPASSRLS; GRANT {third} TO {bypasser}"
    ))
    .await
    .unwrap();
    let out = palisade(
        &db,
        &["analyst", "grant", &third, "--organization", &a.to_string()],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains(&bypasser) && out.stderr.contains("bypass row-level security"),
        "{}",
        out.stderr
    );
    su.batch_execute(&format!("DROP ROLE {bypasser}"))
        .await
        .unwrap();
    for role in [&of_a, &of_b] {
        let out = palisade(&db, &["analyst", "revoke", role]).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    su.batch_execute(&format!(
        "DROP ROLE {person}; DROP ROLE {third}; DROP ROLE {of_a}; DROP ROLE {of_b}"
    ))
    .await
    .unwrap();
}
