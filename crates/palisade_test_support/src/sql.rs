//! SQL as the app role inside a tenant context: the one way tests act as an organization in
//! SQL, for what an HTTP test cannot reach past the handlers (the policies themselves, a
//! sender's or webhook's write, a plan).
//!
//! [`begin_as`] opens a transaction and sets what `TenantTx` sets (`app.current_org`,
//! `app.current_user`, `app.current_role`, all transaction-local); the caller ends it
//! (`ROLLBACK` to look without touching, `COMMIT` to keep a write). [`execute_as`] and
//! [`count_as`] do the whole round trip.

use std::fmt::Display;

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

/// `BEGIN`, then the tenant context of `org` (any id, or `""` for none) with `role`, as a fresh
/// user of it (the policies that compare users see someone else).
pub async fn begin_as(c: &Client, org: impl Display, role: &str) {
    begin_as_user(c, org, Uuid::now_v7(), role).await;
}

/// [`begin_as`] as a given `user`.
pub async fn begin_as_user(c: &Client, org: impl Display, user: impl Display, role: &str) {
    c.batch_execute("BEGIN").await.expect("BEGIN");
    c.execute(
        "SELECT set_config('app.current_org', $1, true), set_config('app.current_user', $2, true), \
                set_config('app.current_role', $3, true)",
        &[&org.to_string(), &user.to_string(), &role],
    )
    .await
    .expect("set the tenant context");
}

/// `ROLLBACK`.
pub async fn rollback(c: &Client) {
    c.batch_execute("ROLLBACK").await.expect("ROLLBACK");
}

/// Runs `sql` as `user` with `role` in `org` and commits, as a sender or a webhook writes:
/// the rows affected.
pub async fn execute_as(
    c: &Client,
    org: impl Display,
    user: impl Display,
    role: &str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> u64 {
    begin_as_user(c, org, user, role).await;
    let n = c
        .execute(sql, params)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    c.batch_execute("COMMIT").await.expect("COMMIT");
    n
}

/// How many rows of `palisade.<table>` `org` sees with `role` (rolled back).
pub async fn count_as(c: &Client, org: impl Display, role: &str, table: &str) -> i64 {
    begin_as(c, org, role).await;
    let n = c
        .query_one(&format!("SELECT count(*) FROM palisade.{table}"), &[])
        .await
        .unwrap_or_else(|e| panic!("count {table}: {e:?}"))
        .get(0);
    rollback(c).await;
    n
}

/// Whether `e` is row-level security refusing a row (`new row violates row-level security
/// policy ...`).
pub fn is_rls_refusal(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE)
        && e.as_db_error()
            .is_some_and(|d| d.message().contains("row-level security"))
}

/// The SQLSTATE of `e`, panicking with `context` when it is not a database error.
pub fn sqlstate<'e>(e: &'e tokio_postgres::Error, context: &str) -> &'e SqlState {
    e.code()
        .unwrap_or_else(|| panic!("{context}: not a database error: {e:?}"))
}

/// The policies of `table` let a member read row `id` (the organization's only row) but write
/// nothing: `insert` (with `params`) is refused by row-level security, and `UPDATE ... SET
/// {set}` and `DELETE` touch no row; an admin updates and deletes it. Rolled back each time.
pub async fn assert_members_read_and_only_admins_write(
    c: &Client,
    org: Uuid,
    table: &str,
    id: Uuid,
    insert: &str,
    params: &[&(dyn ToSql + Sync)],
    set: &str,
) {
    let update = format!("UPDATE palisade.{table} SET {set} WHERE id = $1");
    let delete = format!("DELETE FROM palisade.{table} WHERE id = $1");

    assert_eq!(
        count_as(c, org, "member", table).await,
        1,
        "members read {table}"
    );
    begin_as(c, org, "member").await;
    let err = c
        .execute(insert, params)
        .await
        .expect_err("a member inserted a row");
    let message = err
        .as_db_error()
        .map(|e| e.message().to_owned())
        .unwrap_or_default();
    assert!(
        message.starts_with("new row violates row-level security policy"),
        "{table}: {err:?}"
    );
    rollback(c).await;

    for (role, touched) in [("member", 0), ("admin", 1)] {
        begin_as(c, org, role).await;
        let updated = c.execute(&update, &[&id]).await.unwrap();
        let deleted = c.execute(&delete, &[&id]).await.unwrap();
        assert_eq!((updated, deleted), (touched, touched), "{role} on {table}");
        rollback(c).await;
    }
}

impl crate::TestApp {
    /// Runs `sql` as the app role in `who`'s organization, as `who` with their role, and commits
    /// (a sender's or a webhook's write, under RLS): the rows affected.
    pub async fn execute_as(
        &self,
        who: &crate::Account,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> u64 {
        let c = self.db.app_client().await;
        execute_as(
            &c,
            &who.org_id,
            &who.user_id,
            who.role.as_str(),
            sql,
            params,
        )
        .await
    }
}

/// `insert`, run with `value` as its only parameter in a savepoint of `c`'s open transaction,
/// is refused by the CHECK constraint `constraint` (23514, naming it); the savepoint is rolled
/// back, so the transaction goes on.
pub async fn assert_check_refuses(c: &Client, insert: &str, value: &str, constraint: &str) {
    c.batch_execute("SAVEPOINT check_refuses")
        .await
        .expect("SAVEPOINT");
    let err = c.execute(insert, &[&value]).await.expect_err(value);
    let db = err
        .as_db_error()
        .unwrap_or_else(|| panic!("{value:?}: {err}"));
    assert_eq!(
        (db.code(), db.constraint()),
        (&SqlState::CHECK_VIOLATION, Some(constraint)),
        "{value:?}"
    );
    c.batch_execute("ROLLBACK TO SAVEPOINT check_refuses")
        .await
        .expect("ROLLBACK TO SAVEPOINT");
}

/// Constraint `name`'s definition (`pg_get_constraintdef`) and whether it is validated.
pub async fn constraint_definition(c: &Client, name: &str) -> (String, bool) {
    let row = c
        .query_one(
            "SELECT pg_get_constraintdef(oid), convalidated FROM pg_constraint WHERE conname = $1",
            &[&name],
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    (row.get(0), row.get(1))
}

/// The first column of every row `sql` (no parameters) answers on `c`, in order, collected.
pub async fn column<T, C>(c: &Client, sql: &str) -> C
where
    T: for<'r> tokio_postgres::types::FromSql<'r>,
    C: FromIterator<T>,
{
    c.query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The first two columns of every row `sql` (no parameters) answers on `c`, as pairs, collected.
pub async fn pairs<A, B, C>(c: &Client, sql: &str) -> C
where
    A: for<'r> tokio_postgres::types::FromSql<'r>,
    B: for<'r> tokio_postgres::types::FromSql<'r>,
    C: FromIterator<(A, B)>,
{
    c.query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// A new organization, inserted as the app role in its own context as its owner: its id. The
/// transaction stays open for the organization's first rows (the caller commits).
pub async fn begin_new_organization(c: &Client) -> Uuid {
    let org = Uuid::now_v7();
    begin_as(c, org, "owner").await;
    c.execute(
        "INSERT INTO palisade.organizations (id, name) VALUES ($1, 'org')",
        &[&org],
    )
    .await
    .unwrap_or_else(|e| panic!("insert the organization: {e:?}"));
    org
}
