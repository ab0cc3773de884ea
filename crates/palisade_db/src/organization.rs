//! The acting organization: read, rename, delete (everything it owns goes with it, by
//! `ON DELETE CASCADE`), and export every row it owns as JSON.
//!
//! The export is generated from the catalog, not from a list of tables kept in Rust: every table
//! of schema `palisade`, and of each only the columns the app role may SELECT. Secrets (the
//! password hash, integration credentials, webhook signing secrets, social access tokens, API key
//! hashes: every column classified secret in `policies/920_column_classification.sql`) are
//! exactly the columns the app role has no SELECT grant on, so they cannot be in it; and it runs
//! under RLS like any tenant query, so it cannot contain another organization's rows. Columns of
//! type `xid8` (the transaction ids the changes feeds read, the synced tables' `change_xid`) are left
//! out: they count every organization's transactions (RLS pitfall 13's shared counter).

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

/// Before [`delete`]: the transaction's later statements may run for `longest` and wait for a
/// lock for `lock_wait` (`statement_timeout` and `lock_timeout`, set transaction-locally with
/// `set_config(..., true)`, gone with the transaction).
///
/// The cascade is one statement, and a large organization's runs longer than the role's
/// `statement_timeout` (30 s: about a million customers with two rows each of their own). Past
/// `longest` the statement fails with SQLSTATE 57014, past `lock_wait` on one lock (a row
/// another transaction is writing) with 55P03; either way nothing is deleted.
pub async fn limit_deletion(
    tx: &mut TenantTx,
    longest: std::time::Duration,
    lock_wait: std::time::Duration,
) -> Result<(), DbError> {
    let (longest, lock_wait) = (
        format!("{}ms", longest.as_millis()),
        format!("{}ms", lock_wait.as_millis()),
    );
    tx.execute(
        "SELECT pg_catalog.set_config('statement_timeout', $1, true), \
                pg_catalog.set_config('lock_timeout', $2, true)",
        &[&longest, &lock_wait],
    )
    .await?;
    Ok(())
}

/// Deletes the acting organization and, by cascade, every row of it in every table. `false`
/// when nothing was deleted (not the owner: RLS hides the row from the DELETE). See
/// [`limit_deletion`].
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

/// Builds, from the catalog and on the server, the export's cursor (with the list of its tables,
/// and the transaction's start, `now()`; and sets the transaction's
/// `idle_in_transaction_session_timeout` to `$1`, a number of milliseconds): one statement whose rows are `(table, row)`: `table`
/// the table's index in the list returned beside it (every table of schema `palisade` of which
/// the role `palisade_app` may SELECT a column, by name), `row` one of its rows as a JSON object
/// of only the columns `palisade_app` may SELECT: the group role's grants, which the audit
/// classifies, not the login role's, which may hold more (a grant made to `palisade_app_a` by
/// hand put `users.password_hash` in every export). The rows come table
/// after table in that order: a `UNION ALL` is an Append, which reads its inputs one after
/// another (and a cursor's plan is never parallel); [`ExportCursor::fetch`] checks it.
/// Identifiers are quoted by the server (`format('%I')`, `quote_ident`), never pasted by Rust.
/// One statement means one snapshot, taken when the cursor is declared: the export is
/// consistent across tables however many FETCHes read it. Timestamps are spelled as in every
/// response (`palisade_domain::timestamp`: UTC, six fractional digits, `Z`), not as
/// `row_to_json` would (the session's offset, and only as many fractional digits as the value
/// needs), for every instant the API keeps (the UTC years 0000 to 9999:
/// `palisade_domain::calendar`). PostgreSQL counts years as historians do, with no year 0: the
/// year 0000 is its 1 BC, which `to_char`'s `YYYY` prints `0001`, so an instant before
/// 0001-01-01 gets `0000` written in its place (no earlier year can be stored through the API).
/// `row_to_json`, not `to_jsonb`: the columns keep the table's order, and no jsonb value is
/// built.
const BUILD_EXPORT_SQL: &str = "\
SELECT array_agg(c.relname ORDER BY c.ordinal),
       'DECLARE palisade_export NO SCROLL CURSOR FOR '
       || string_agg(
            format('SELECT %s::int4 AS t, pg_catalog.row_to_json(r.*)::text AS row '
                   'FROM (SELECT %s FROM palisade.%I) AS r',
                   c.ordinal, c.cols, c.relname),
            ' UNION ALL ' ORDER BY c.ordinal),
       pg_catalog.now(),
       pg_catalog.set_config('idle_in_transaction_session_timeout', $1::text, true)
  FROM (SELECT t.relname, t.cols,
               pg_catalog.row_number() OVER (ORDER BY t.relname COLLATE \"C\") - 1 AS ordinal
          FROM (SELECT cl.relname::text AS relname,
                       string_agg(CASE WHEN a.atttypid = 'pg_catalog.timestamptz'::pg_catalog.regtype
                                       THEN format('CASE WHEN %1$I < ''0001-01-01 00:00:00+00''::pg_catalog.timestamptz '
                                                   'THEN ''0000'' || pg_catalog.to_char(%1$I AT TIME ZONE ''UTC'', '
                                                   '''-MM-DD\"T\"HH24:MI:SS.US\"Z\"'') '
                                                   'ELSE pg_catalog.to_char(%1$I AT TIME ZONE ''UTC'', '
                                                   '''YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'') END AS %1$I',
                                                   a.attname)
                                       ELSE quote_ident(a.attname) END,
                                  ', ' ORDER BY a.attnum) AS cols
                  FROM pg_catalog.pg_class cl
                  JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
                  JOIN pg_catalog.pg_attribute a
                    ON a.attrelid = cl.oid AND a.attnum > 0 AND NOT a.attisdropped
                 WHERE n.nspname = 'palisade' AND cl.relkind IN ('r', 'p') AND NOT cl.relispartition
                   AND pg_catalog.has_column_privilege('palisade_app', cl.oid, a.attnum, 'SELECT')
                   AND a.atttypid <> 'pg_catalog.xid8'::pg_catalog.regtype
                 GROUP BY cl.relname) AS t) AS c";

/// Reads the export's next rows: [`EXPORT_BATCH_ROWS`] of them.
const FETCH_EXPORT_SQL: &str = "FETCH FORWARD 1000 FROM palisade_export";

/// How many rows one FETCH of the export's cursor reads: the most of an export the server holds
/// at once (a FETCH's rows, and the chunk of the answer written from them).
pub const EXPORT_BATCH_ROWS: usize = 1000;

/// An export's statement, built from the catalog ([`ExportStatement::build`]) and not yet
/// declared ([`ExportStatement::declare`]).
#[derive(Debug)]
pub struct ExportStatement {
    /// The exported tables, by name, in the order their rows come.
    tables: Vec<String>,
    /// `DECLARE palisade_export ... FOR <the rows of every table>`.
    declare: String,
    /// When the transaction began, by the database's clock: before the cursor's snapshot.
    began_at: OffsetDateTime,
}

impl ExportStatement {
    /// Builds the cursor's statement from the catalog: one round trip, which opens the
    /// transaction (with the credential's check). Nothing of the organization is read yet.
    ///
    /// The transaction waits on the export's client between FETCHes, so its
    /// `idle_in_transaction_session_timeout` (the app role's, 60 s by default) becomes
    /// `idle_timeout`, transaction-locally (`set_config(..., true)`): the caller ends an export
    /// that waits too long itself, and a client reading one batch slowly is not cut short
    /// meanwhile.
    pub async fn build(
        tx: &mut TenantTx,
        idle_timeout: std::time::Duration,
    ) -> Result<Self, DbError> {
        let idle_ms = idle_timeout.as_millis().to_string();
        let row = tx.query_one(BUILD_EXPORT_SQL, &[&idle_ms]).await?;
        let tables: Option<Vec<String>> = row.try_get(0)?;
        let declare: Option<String> = row.try_get(1)?;
        let began_at: OffsetDateTime = row.try_get(2)?;
        let (Some(tables), Some(declare)) = (tables, declare) else {
            return Err(DbError::Decode(
                "the role may read no table of schema palisade".into(),
            ));
        };
        Ok(Self {
            tables,
            declare,
            began_at,
        })
    }

    /// When the export's transaction began, by the database's clock (`now()`, the clock of
    /// every `created_at` and `updated_at`): every change committed before it is in the export,
    /// whose snapshot is taken after it ([`ExportStatement::declare`]).
    pub fn began_at(&self) -> OffsetDateTime {
        self.began_at
    }

    /// Declares the cursor: one round trip. The export's snapshot is the DECLARE's: every change
    /// committed before it is in the export, and none committed after it.
    pub async fn declare(self, tx: &mut TenantTx) -> Result<ExportCursor, DbError> {
        tx.execute(&self.declare, &[]).await?;
        Ok(ExportCursor {
            tables: self.tables,
            last_table: 0,
        })
    }
}

/// An open export: a cursor over every row of the acting organization, in the transaction that
/// declared it ([`ExportStatement::declare`]). Read it with [`ExportCursor::fetch`] until that returns
/// no row, then commit the transaction (or drop it: the cursor ends with the transaction).
#[derive(Debug)]
pub struct ExportCursor {
    /// The exported tables, by name, in the order their rows come.
    tables: Vec<String>,
    /// The index of the table of the last row fetched.
    last_table: usize,
}

impl ExportCursor {
    /// The exported tables, by name, in the order their rows come (a fetched row's table `i` is
    /// `tables()[i]`). Every one is in the export, those without a row too (a table of which the
    /// role may read no column is not one of them).
    pub fn tables(&self) -> &[String] {
        &self.tables
    }

    /// The next rows, at most [`EXPORT_BATCH_ROWS`], each as its table's index in
    /// [`ExportCursor::tables`] and the text of its JSON object; none once every row was read.
    /// A row of a table before the last one fetched is an error: the rows would no longer come
    /// table after table, and the export could not be written as one array per table.
    pub async fn fetch(&mut self, tx: &mut TenantTx) -> Result<Vec<(usize, String)>, DbError> {
        let rows = tx.query(FETCH_EXPORT_SQL, &[]).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let table: i32 = row.try_get(0)?;
            let index = usize::try_from(table)
                .ok()
                .filter(|t| *t < self.tables.len() && *t >= self.last_table)
                .ok_or_else(|| {
                    DbError::Decode(format!(
                        "the export's rows are out of table order (table {table} after {})",
                        self.last_table
                    ))
                })?;
            self.last_table = index;
            out.push((index, row.try_get(1)?));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fetch_reads_the_documented_batch() {
        assert_eq!(
            FETCH_EXPORT_SQL,
            format!("FETCH FORWARD {EXPORT_BATCH_ROWS} FROM palisade_export")
        );
    }
}
