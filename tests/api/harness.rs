//! The test harness itself: what its throwaway cluster lets other local users do.

use palisade_db::schema;
use palisade_test_support::{TEST_APP_LOGIN_ROLE, TestDb, cluster, test_password};
use tokio_postgres::error::SqlState;

/// The password every role of the harness's cluster had, the superuser's too, while it was a
/// constant in the repository: anyone who read it could log in over 127.0.0.1.
const ONCE_PUBLISHED: &str = "palisade-test-password";

#[tokio::test]
async fn the_throwaway_cluster_refuses_the_password_once_published_in_the_repository() {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        return; // A server of the operator's, with its own credentials.
    }
    let db = TestDb::new().await;
    for role in [
        "postgres",
        schema::OWNER_ROLE,
        TEST_APP_LOGIN_ROLE,
        schema::BILLING_ROLE,
    ] {
        let url = cluster().url(role, ONCE_PUBLISHED, &db.name);
        match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
            Ok(_) => panic!("{role} logged in with the password once published"),
            Err(e) => assert_eq!(e.code(), Some(&SqlState::INVALID_PASSWORD), "{role}: {e}"),
        }
    }
    // The process's own passwords do let them in.
    assert_ne!(test_password(), ONCE_PUBLISHED);
    for url in [db.superuser_url(), db.url_as(TEST_APP_LOGIN_ROLE)] {
        schema::connect(&url).await.unwrap();
    }
}

#[tokio::test]
async fn a_role_a_test_hands_to_its_database_is_dropped_with_it_even_when_the_test_fails() {
    // A probe role (a superuser here, as startup.rs makes one) must not outlive its test on a
    // shared server, even holding a privilege in the test's database (dropped after it).
    let db = TestDb::new().await;
    let role = format!("palisade_probe_{}", uuid::Uuid::new_v4().simple());
    db.drop_role_with_it(&role);
    let su = db.superuser_client().await;
    su.batch_execute(&format!(
        "CREATE ROLE {role} LOGIN SUPERUSER; GRANT SELECT ON palisade.customers TO {role}"
    ))
    .await
    .unwrap();
    drop(su);
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _db = db;
        panic!("the test failed here");
    }));
    assert!(failed.is_err());
    let su = schema::connect(&cluster().superuser_url("postgres"))
        .await
        .unwrap();
    let left: i64 = su
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = $1",
            &[&role],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "{role} outlived its test");
}
