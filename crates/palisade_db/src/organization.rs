//! The acting organization: read, rename, delete (everything it owns goes with it, by
//! `ON DELETE CASCADE`), and export every row it owns as JSON.
//!
//! The export is generated from the catalog, not from a list of tables kept in Rust: every table
//! of schema `palisade`, and of each only the columns the app role may SELECT. Secrets (the
//! password hash, integration credentials, webhook signing secrets, social access tokens, API key
//! hashes: every column classified secret in `policies/920_column_classification.sql`) are
//! exactly the columns the app role has no SELECT grant on, so they cannot be in it; and it runs
//! under RLS like any tenant query, so it cannot contain another organization's rows.

use palisade_domain::OrganizationName;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crud::{self, Table};
use crate::{DbError, TenantTx};

crate::table! {
    /// The organization as its members see it.
    pub struct Organization in "palisade.organizations" {
        /// Its id.
        id: Uuid,
        /// Display name.
        name: String,
        /// Billing plan (kept by the Stripe path; `free` until then).
        plan: String,
        /// Stripe status of the plan's subscription, if any.
        plan_status: Option<String>,
        /// Creation time.
        created_at: OffsetDateTime,
        /// Last change.
        updated_at: OffsetDateTime,
    }
}

/// The acting organization (`None` once it has been deleted). Ends the transaction.
pub async fn get(tx: TenantTx) -> Result<Option<Organization>, DbError> {
    let rows = tx.query_once(Organization::LIST, &[]).await?;
    rows.first().map(Organization::from_row).transpose()
}

/// [`get`] inside a write transaction, the row locked until it ends (for `If-Match`). Locking
/// applies the UPDATE policy: only owners and admins see the row through it.
pub async fn lock(tx: &mut TenantTx) -> Result<Option<Organization>, DbError> {
    let row = tx
        .query_opt(&[Organization::LIST, " FOR UPDATE"].concat(), &[])
        .await?;
    row.as_ref().map(Organization::from_row).transpose()
}

/// Renames the acting organization (owners and admins: RLS hides it from others' UPDATE, which
/// then returns `None`).
pub async fn rename(
    tx: &mut TenantTx,
    name: &OrganizationName,
) -> Result<Option<Organization>, DbError> {
    crud::returning_opt(
        tx,
        "UPDATE palisade.organizations SET name = $1, updated_at = now()",
        &[&name.as_str()],
    )
    .await
}

/// Deletes the acting organization and, by cascade, every row of it in every table. `false`
/// when nothing was deleted (not the owner: RLS hides the row from the DELETE).
pub async fn delete(tx: &mut TenantTx) -> Result<bool, DbError> {
    let id = tx
        .org_id()
        .ok_or_else(|| {
            DbError::Decode("the organization is not known before the first statement".into())
        })?
        .as_uuid();
    Ok(tx
        .execute("DELETE FROM palisade.organizations WHERE id = $1", &[&id])
        .await?
        == 1)
}

/// Builds, from the catalog and on the server, one statement that returns
/// `{"<table>": [<row>, ...], ...}` for every table of schema `palisade`, selecting only the
/// columns the current role may SELECT. Identifiers are quoted by the server (`format('%I')`,
/// `quote_ident`), never pasted by Rust. One statement means one snapshot: the export is
/// consistent across tables. Timestamps are spelled as in every response
/// (`palisade_domain::timestamp`: UTC, six fractional digits, `Z`), not as `to_jsonb` would
/// (the session's offset, and only as many fractional digits as the value needs).
const BUILD_EXPORT_SQL: &str = "\
SELECT 'SELECT jsonb_object_agg(t.name, t.rows) FROM ('
       || string_agg(
            format('SELECT %L::text AS name, '
                   '(SELECT coalesce(jsonb_agg(to_jsonb(r)), ''[]''::jsonb) '
                   'FROM (SELECT %s FROM palisade.%I) AS r) AS rows',
                   c.relname, c.cols, c.relname),
            ' UNION ALL ' ORDER BY c.relname)
       || ') AS t'
  FROM (SELECT cl.relname::text AS relname,
               string_agg(CASE WHEN a.atttypid = 'pg_catalog.timestamptz'::pg_catalog.regtype
                               THEN format('pg_catalog.to_char(%1$I AT TIME ZONE ''UTC'', '
                                           '''YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'') AS %1$I',
                                           a.attname)
                               ELSE quote_ident(a.attname) END,
                          ', ' ORDER BY a.attnum) AS cols
          FROM pg_catalog.pg_class cl
          JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
          JOIN pg_catalog.pg_attribute a ON a.attrelid = cl.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE n.nspname = 'palisade' AND cl.relkind IN ('r', 'p') AND NOT cl.relispartition
           AND pg_catalog.has_column_privilege(cl.oid, a.attnum, 'SELECT')
         GROUP BY cl.relname) AS c";

/// Every row of the acting organization, per table, as JSON (see the module doc). Two round
/// trips (build the statement, run it) inside the caller's transaction.
pub async fn export(tx: &mut TenantTx) -> Result<serde_json::Value, DbError> {
    let sql: Option<String> = tx.query_one(BUILD_EXPORT_SQL, &[]).await?.try_get(0)?;
    let Some(sql) = sql else {
        return Ok(serde_json::json!({}));
    };
    let tables: Option<serde_json::Value> = tx.query_one(&sql, &[]).await?.try_get(0)?;
    Ok(tables.unwrap_or_else(|| serde_json::json!({})))
}
