//! `palisade_db_errors_total` counts an error once, where a statement or a checkout makes it: a
//! raw client's connection (`palisade_db::schema::connect`: migrations, bootstrap, the audit, the
//! analyst commands) that ends with an error is logged by its background task, as a pooled
//! connection's is, and not counted again. In a process of its own: the counter is process-wide.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use palisade_db::{ErrorClass, error_counter};
use palisade_test_support::TestDb;

/// The errors counted so far under the classes a terminated connection's would be.
fn ended_connections() -> u64 {
    ["57", "connection"]
        .into_iter()
        .map(|class| error_counter().get_or_create(&ErrorClass { class }).get())
        .sum()
}

#[actix_web::test]
async fn a_raw_clients_connection_ended_by_the_server_is_not_counted_by_its_task() {
    // At debug, as under `RUST_LOG=debug`: the task's line (and what it is made of) is built
    // only when its level is on.
    let _logs = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_test_writer()
            .finish(),
    );
    let db = TestDb::new().await;
    let ended = db.superuser_client().await;
    let pid: i32 = ended
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let before = ended_connections();
    db.superuser_client()
        .await
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    // On this single thread, the connection's task runs between these yields; it has logged its
    // end (and would have counted it) in the poll that closed the client.
    while !ended.is_closed() {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        ended_connections(),
        before,
        "counted by the connection's task"
    );
}
