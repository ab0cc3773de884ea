//! What the server does with its database, seen from the side (as the superuser, who sees every
//! connection): which roles it connects as, and when one of its statements waits on a lock.

use crate::TestApp;

impl TestApp {
    /// Every connection the server holds to its database is `palisade_app`, which can neither
    /// bypass RLS nor is a superuser (`what` names the path under test in the failure message).
    pub async fn assert_connections_are_the_app_role(&self, what: &str) {
        let rows = self
            .db
            .superuser_client()
            .await
            .query(
                "SELECT a.usename::text, r.rolbypassrls OR r.rolsuper
                   FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename
                  WHERE a.datname = $1 AND a.pid <> pg_backend_pid()",
                &[&self.db.name],
            )
            .await
            .unwrap();
        assert!(
            !rows.is_empty(),
            "{what}: the server holds pooled connections"
        );
        for row in rows {
            let (role, bypasses): (String, bool) = (row.get(0), row.get(1));
            assert_eq!(
                (role.as_str(), bypasses),
                ("palisade_app", false),
                "{what} connected as {role}"
            );
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
