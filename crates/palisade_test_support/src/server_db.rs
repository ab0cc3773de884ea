//! What the server does with its database, seen from the side (as the superuser, who sees every
//! connection): which roles it connects as, and when one of its statements waits on a lock.

use crate::TestApp;

impl TestApp {
    /// Every connection the server holds to its database is a login member of `palisade_app`
    /// (`palisade_app_a` or `palisade_app_b`), which can neither bypass RLS nor is a superuser (`what` names the path under test in the failure message).
    /// A connection the test itself just closed (the owner's, when it stocked numbers) can still
    /// be listed while its backend exits, so the check is read again until it holds (bounded: a
    /// connection the server keeps never goes away, and fails the test).
    pub async fn assert_connections_are_the_app_role(&self, what: &str) {
        let su = self.db.superuser_client().await;
        for attempt in 0.. {
            let connections: Vec<(String, bool)> = su
                .query(
                    "SELECT a.usename::text,
                            r.rolbypassrls OR r.rolsuper
                            OR a.usename NOT IN ('palisade_app_a', 'palisade_app_b')
                            OR NOT pg_has_role(r.oid, 'palisade_app', 'USAGE')
                       FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename
                      WHERE a.datname = $1 AND a.pid <> pg_backend_pid()",
                    &[&self.db.name],
                )
                .await
                .unwrap()
                .iter()
                .map(|row| (row.get(0), row.get(1)))
                .collect();
            assert!(
                !connections.is_empty(),
                "{what}: the server holds pooled connections"
            );
            let others: Vec<_> = connections
                .iter()
                .filter(|(_, not_the_app)| *not_the_app)
                .collect();
            if others.is_empty() {
                return;
            }
            assert!(
                attempt < 500,
                "{what} connected as (role, bypasses RLS) {others:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Until a pooled connection of the server waits on a lock (bounded, so that a statement that
    /// never waits fails the test instead of hanging it).
    pub async fn until_a_statement_waits_on_a_lock(&self) {
        let su = self.db.superuser_client().await;
        for attempt in 0.. {
            assert!(
                attempt < 3000,
                "no statement of the server ever waited on the lock"
            );
            let waiting: i64 = su
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity \
                      WHERE datname = $1 AND application_name = 'palisade' AND wait_event_type = 'Lock'",
                    &[&self.db.name],
                )
                .await
                .unwrap()
                .get(0);
            if waiting > 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}
