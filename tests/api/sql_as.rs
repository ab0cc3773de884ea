//! SQL as the app role inside a tenant context, for the policy tests that speak SQL directly
//! (the role rules of a table, which an HTTP test cannot reach past the handlers).

use tokio_postgres::Client;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

/// `BEGIN`, then the tenant context a `TenantTx` sets: `org`, a fresh user id, and `role`.
pub async fn begin_as(c: &Client, org: Uuid, role: &str) {
    c.batch_execute("BEGIN").await.unwrap();
    c.execute(
        "SELECT set_config('app.current_org', $1, true), set_config('app.current_user', $2, true), \
                set_config('app.current_role', $3, true)",
        &[&org.to_string(), &Uuid::now_v7().to_string(), &role],
    )
    .await
    .unwrap();
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

    begin_as(c, org, "member").await;
    let seen: i64 = c
        .query_one(&format!("SELECT count(*) FROM palisade.{table}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(seen, 1, "members read {table}");
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
        "{err:?}"
    );
    c.batch_execute("ROLLBACK").await.unwrap();

    for (role, touched) in [("member", 0), ("admin", 1)] {
        begin_as(c, org, role).await;
        let updated = c.execute(&update, &[&id]).await.unwrap();
        let deleted = c.execute(&delete, &[&id]).await.unwrap();
        assert_eq!((updated, deleted), (touched, touched), "{role} on {table}");
        c.batch_execute("ROLLBACK").await.unwrap();
    }
}
