//! Isolation at the SQL level, in the shape of basejump's pgTAP tests: act as a tenant through
//! a raw connection as `palisade_app` (exactly what TenantTx sends), expect that tenant's rows;
//! act as another, expect none; expect RLS errors on writes across tenants.

use palisade_test_support::sql::{begin_as, column};
use palisade_test_support::{TestDb, Unchanged};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

struct Seed {
    a: Uuid,
    b: Uuid,
    a_customer: Uuid,
    b_customer: Uuid,
}

/// Two organizations, each with one user and one customer, inserted as the app role under RLS.
async fn seed(c: &Client) -> Seed {
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let mut customers = Vec::new();
    for org in [a, b] {
        begin_as(c, org, "owner").await;
        c.execute(
            "INSERT INTO palisade.organizations (id, name) VALUES ($1, 'org')",
            &[&org],
        )
        .await
        .unwrap();
        c.execute(
            "INSERT INTO palisade.users (id, email, name, role, password_hash) VALUES ($1, $2, 'U', 'owner', 'x')",
            &[&Uuid::now_v7(), &format!("{org}@example.com")],
        )
        .await
        .unwrap();
        let id = Uuid::now_v7();
        // Same customer email in both organizations: unique per organization only.
        c.execute(
            "INSERT INTO palisade.customers (id, name, email) VALUES ($1, 'C', 'same@example.com')",
            &[&id],
        )
        .await
        .unwrap();
        c.batch_execute("COMMIT").await.unwrap();
        customers.push(id);
    }
    Seed {
        a,
        b,
        a_customer: customers[0],
        b_customer: customers[1],
    }
}

/// A new database, a connection to it as the app role, and [`seed`]'s two organizations (the
/// database lives as long as the first element is kept).
async fn seeded() -> (TestDb, Client, Seed) {
    let db = TestDb::new().await;
    let c = db.app_client().await;
    let s = seed(&c).await;
    (db, c, s)
}

const TABLES: [(&str, &str); 3] = [
    ("palisade.organizations", "id"),
    ("palisade.users", "organization_id"),
    ("palisade.customers", "organization_id"),
];

#[tokio::test]
async fn each_tenant_sees_only_its_rows_in_every_table() {
    let (_db, c, s) = seeded().await;
    for (org, other) in [(s.a, s.b), (s.b, s.a)] {
        begin_as(&c, org, "owner").await;
        for (table, col) in TABLES {
            let orgs: Vec<Uuid> = c
                .query(&format!("SELECT {col} FROM {table}"), &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            assert_eq!(
                orgs,
                vec![org],
                "{table}: expected exactly one row of {org}, not {other}"
            );
        }
        c.batch_execute("ROLLBACK").await.unwrap();
    }
}

#[tokio::test]
async fn no_organization_set_means_no_rows_even_after_a_previous_transaction() {
    let db = TestDb::new().await;
    let c = db.app_client().await;
    seed(&c).await;
    // After the seeding transactions, this connection reports '' for app.current_org (not
    // NULL): the nullif in the policies must still fail closed.
    let leftover: String = c
        .query_one(
            "SELECT coalesce(current_setting('app.current_org', true), '<null>')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leftover, "");
    for (table, _) in TABLES {
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "{table} visible without an organization");
    }
    // Writes without an organization are refused too.
    let err = c
        .execute(
            "INSERT INTO palisade.customers (id, name) VALUES ($1, 'x')",
            &[&Uuid::now_v7()],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), Some(c) if *c == SqlState::NOT_NULL_VIOLATION || *c == SqlState::INSUFFICIENT_PRIVILEGE),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_tenant_cannot_insert_into_update_or_delete_another_tenants_rows() {
    let (_db, c, s) = seeded().await;
    begin_as(&c, s.a, "owner").await;
    // INSERT carrying B's organization id: refused by WITH CHECK.
    let err = c
        .execute(
            "INSERT INTO palisade.customers (organization_id, id, name) VALUES ($1, $2, 'intruder')",
            &[&s.b, &Uuid::now_v7()],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{err:?}"
    );
    assert!(
        err.as_db_error()
            .unwrap()
            .message()
            .contains("row-level security")
    );
    c.batch_execute("ROLLBACK").await.unwrap();

    let b_before = Unchanged::sql(&c, s.b, &["customers", "organizations"]).await;
    begin_as(&c, s.a, "owner").await;
    let (b, b_customer) = (s.b, s.b_customer);
    for (sql, id) in [
        (
            "UPDATE palisade.customers SET name = 'pwned' WHERE id = $1",
            b_customer,
        ),
        ("DELETE FROM palisade.customers WHERE id = $1", b_customer),
        (
            "UPDATE palisade.organizations SET name = 'pwned' WHERE id = $1",
            b,
        ),
        ("DELETE FROM palisade.users WHERE organization_id = $1", b),
    ] {
        assert_eq!(c.execute(sql, &[&id]).await.unwrap(), 0, "{sql}");
    }
    // Moving one's own row to B is refused as well.
    let err = c
        .execute(
            "UPDATE palisade.customers SET organization_id = $1 WHERE id = $2",
            &[&s.b, &s.a_customer],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{err:?}"
    );
    c.batch_execute("ROLLBACK").await.unwrap();

    // B's rows are untouched.
    b_before.assert_sql(&c).await;
    begin_as(&c, s.b, "owner").await;
    let users: i64 = c
        .query_one("SELECT count(*) FROM palisade.users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 1);
    c.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn the_owner_role_sees_nothing_either_because_rls_is_forced() {
    let db = TestDb::new().await;
    let app = db.app_client().await;
    seed(&app).await;
    let owner = db.owner_client().await;
    for (table, _) in TABLES {
        let n: i64 = owner
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            n, 0,
            "owner sees {table}: FORCE ROW LEVEL SECURITY is not in effect"
        );
    }
}

#[tokio::test]
async fn the_app_role_cannot_read_password_hashes_or_turn_rls_off() {
    let (_db, c, s) = seeded().await;
    begin_as(&c, s.a, "owner").await;
    let err = c
        .query("SELECT password_hash FROM palisade.users", &[])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    c.batch_execute("ROLLBACK").await.unwrap();
    let err = c
        .batch_execute("ALTER TABLE palisade.customers DISABLE ROW LEVEL SECURITY")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
}

#[tokio::test]
async fn a_probe_on_other_tenants_rows_raises_nothing() {
    // RLS pitfall 14 (docs/rls-pitfalls.md): a function that would fail on B's rows must never
    // see them, because the policy's qual runs before a non-leakproof one of the query.
    let (_db, c, s) = seeded().await;
    begin_as(&c, s.a, "owner").await;
    let rows = c
        .query(
            "SELECT id FROM palisade.customers WHERE 1 / (CASE WHEN organization_id = $1 THEN 0 ELSE 1 END) = 1",
            &[&s.b],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    c.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn policies_read_the_context_once_per_statement() {
    // The context helper is wrapped in (SELECT ...) so it becomes an InitPlan, not a per-row call.
    let (_db, c, s) = seeded().await;
    begin_as(&c, s.a, "owner").await;
    let plan: Vec<String> = c
        .query("EXPLAIN SELECT * FROM palisade.customers", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let plan = plan.join("\n");
    assert!(plan.contains("InitPlan"), "no InitPlan in:\n{plan}");
    c.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn copy_to_reads_only_the_tenants_rows_and_copy_from_is_refused() {
    // RLS pitfall 10: COPY ... TO applies the SELECT policy, and COPY ... FROM is refused to a
    // role subject to row-level security (the server never uses COPY; this holds if it ever does).
    use futures_util::TryStreamExt;
    let (db, c, s) = seeded().await;
    begin_as(&c, s.a, "owner").await;
    let chunks: Vec<_> = c
        .copy_out("COPY palisade.customers (id, organization_id) TO STDOUT")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let text: String = chunks
        .iter()
        .map(|chunk| String::from_utf8(chunk.to_vec()).unwrap())
        .collect();
    assert_eq!(text, format!("{}\t{}\n", s.a_customer, s.a));
    c.batch_execute("ROLLBACK").await.unwrap();

    // On a connection of its own: tokio-postgres 0.7's copy_in sends a second Sync, and when the
    // server refuses the COPY before copy mode the second ReadyForQuery breaks the connection's
    // next statement (rust-postgres/rust-postgres pull request 1337, open).
    let c = db.app_client().await;
    begin_as(&c, s.a, "owner").await;
    let err = c
        .copy_in::<_, &'static [u8]>("COPY palisade.customers (id, name) FROM STDIN")
        .await
        .err()
        .expect("COPY FROM ran under row-level security");
    assert_eq!(
        err.code(),
        Some(&SqlState::FEATURE_NOT_SUPPORTED),
        "{err:?}"
    );
    // Nothing was written: another connection in the same context counts one customer.
    let c = db.app_client().await;
    begin_as(&c, s.a, "owner").await;
    let n: i64 = c
        .query_one("SELECT count(*) FROM palisade.customers", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    c.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn pg_stats_shows_the_app_role_nothing_of_tenant_tables() {
    // RLS pitfall 11: column statistics (most common values, histograms) are rows' values.
    // pg_stats shows a table's to a role that may read the column and that the table's row-level
    // security does not apply to; pg_stats_ext to the table owner's role, under the same
    // condition (PostgreSQL 15's system_views.sql).
    let (db, c, s) = seeded().await;
    let su = db.superuser_client().await;
    su.batch_execute(
        "ANALYZE palisade.organizations, palisade.users, palisade.customers;
         CREATE STATISTICS palisade.customers_name_email (mcv) ON name, email FROM palisade.customers;
         ANALYZE palisade.customers",
    )
    .await
    .unwrap();
    let tables = async |client: &Client| -> Vec<String> {
        column(
            client,
            "SELECT DISTINCT tablename::text FROM pg_stats WHERE schemaname = 'palisade'
               AND tablename IN ('organizations', 'users', 'customers') ORDER BY 1",
        )
        .await
    };
    let extended = async |client: &Client| -> i64 {
        client
            .query_one(
                "SELECT count(*) FROM pg_stats_ext WHERE schemaname = 'palisade'",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    };
    // There is something to hide: the superuser sees each table's, and the extended ones.
    assert_eq!(tables(&su).await, ["customers", "organizations", "users"]);
    assert_eq!(extended(&su).await, 1);
    // The app role sees none, in a tenant's context or not.
    assert_eq!(tables(&c).await, Vec::<String>::new());
    assert_eq!(extended(&c).await, 0);
    begin_as(&c, s.a, "owner").await;
    assert_eq!(tables(&c).await, Vec::<String>::new());
    assert_eq!(extended(&c).await, 0);
    c.batch_execute("ROLLBACK").await.unwrap();
    // Nor the owner, whose tables they are: row-level security is forced on it.
    let owner = db.owner_client().await;
    assert_eq!(tables(&owner).await, Vec::<String>::new());
    assert_eq!(extended(&owner).await, 0);
    // The billing role bypasses row-level security: it sees the statistics of exactly the
    // columns it may read (of organizations), as it may read their rows, and no extended ones
    // (it owns no table).
    let (billing, connection) =
        tokio_postgres::connect(&db.url_as("palisade_billing"), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    let seen: Vec<String> = column(
        &billing,
        "SELECT attname::text FROM pg_stats
          WHERE schemaname = 'palisade' AND tablename = 'organizations' ORDER BY 1",
    )
    .await;
    let readable: Vec<String> = column(
        &billing,
        "SELECT attname::text FROM pg_attribute
          WHERE attrelid = 'palisade.organizations'::regclass AND attnum > 0 AND NOT attisdropped
            AND has_column_privilege(attrelid, attnum, 'SELECT') ORDER BY 1",
    )
    .await;
    assert!(!readable.is_empty());
    assert_eq!(
        seen, readable,
        "the billing role's statistics of organizations"
    );
    assert_eq!(tables(&billing).await, ["organizations"]);
    assert_eq!(extended(&billing).await, 0);
}

/// policies/010_context_functions.sql: the one name its helpers do not qualify is NULLIF's `=`,
/// which PostgreSQL resolves through the caller's search_path. A shadowing `=` (text, text),
/// planted by a superuser (the app role can create none) and put first in the app role's
/// search_path, only closes the context: NULL (no rows) or an error, never another
/// organization's rows.
#[tokio::test]
async fn a_shadowing_equals_operator_only_closes_the_context() {
    let (db, c, s) = seeded().await;
    let su = db.superuser_client().await;
    let shadow = |function: &str| {
        format!(
            "DROP OPERATOR IF EXISTS shadow.= (text, text);
             CREATE OPERATOR shadow.= (LEFTARG = text, RIGHTARG = text, FUNCTION = shadow.{function});"
        )
    };
    su.batch_execute(&format!(
        "CREATE SCHEMA shadow;
         GRANT USAGE ON SCHEMA shadow TO palisade_app;
         CREATE FUNCTION shadow.always(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
         CREATE FUNCTION shadow.never(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT false';
         {}",
        shadow("always")
    ))
    .await
    .unwrap();
    c.batch_execute("SET search_path = shadow, pg_catalog")
        .await
        .unwrap();
    let orgs_seen = |org: Uuid| {
        let c = &c;
        async move {
            begin_as(c, org, "owner").await;
            let seen = c
                .query("SELECT organization_id FROM palisade.customers", &[])
                .await
                .map(|rows| rows.iter().map(|r| r.get(0)).collect::<Vec<Uuid>>());
            c.batch_execute("ROLLBACK").await.unwrap();
            seen
        }
    };

    // `=` always true: NULLIF always gives NULL, so no organization is acting and no row shows.
    let shadowed: bool = c
        .query_one("SELECT 'a'::text = 'b'::text", &[])
        .await
        .unwrap()
        .get(0);
    assert!(shadowed, "the shadowing operator is the one found");
    for org in [s.a, s.b] {
        assert_eq!(orgs_seen(org).await.unwrap(), Vec::<Uuid>::new());
    }

    // `=` always false: NULLIF gives the setting as it is: each organization's own rows, and
    // with none set (''), the cast to uuid fails.
    su.batch_execute(&shadow("never")).await.unwrap();
    for org in [s.a, s.b] {
        assert_eq!(orgs_seen(org).await.unwrap(), [org]);
    }
    // No organization set, transaction-local as every context is (this client is the test's
    // own, not a pooled one, but the pattern is the same).
    c.batch_execute("BEGIN; SELECT set_config('app.current_org', '', true)")
        .await
        .unwrap();
    let err = c
        .query("SELECT organization_id FROM palisade.customers", &[])
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&SqlState::INVALID_TEXT_REPRESENTATION),
        "{err:?}"
    );
    c.batch_execute("ROLLBACK").await.unwrap();
}
