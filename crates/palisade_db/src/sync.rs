//! The changes feed of a synced family (docs/api.md, "Incremental sync"): its rows in the order
//! of their last change, and its deletion records, after a position in that order. Which
//! families are synced is the migrations' (V0177 for customers, V0178, V0179 and V0181 for
//! the others): each synced table has a `change_xid` stamped by
//! `palisade_private.stamp_change_xid()`, an index on `(organization_id, change_xid, id)` and a
//! delete trigger that records the deletion in `palisade.deleted_rows` under the table's name.
//! Nothing here filters by organization: the policies of the table and of
//! `policies/125_deleted_rows.sql` do.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::DbError;
use crate::crud::Table;

/// Where a read of the changes feed starts: after this position in the organization's change
/// order, `(change_xid, id)`. A transaction id is a cluster-wide counter, so a position never
/// reaches a client as it is (the API seals it in its sync tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangePosition {
    /// The id of the transaction that last wrote the row (or deleted it); 0 for rows written
    /// before their table's changes were recorded.
    pub xid: u64,
    /// The row's id, ordering the rows one transaction wrote.
    pub id: Uuid,
}

impl ChangePosition {
    /// Before every change at or after `xid`: a sync from `xid` (0 for a sync from the start).
    pub fn from_xid(xid: u64) -> Self {
        Self {
            xid,
            id: Uuid::nil(),
        }
    }
}

/// One entry of the changes feed.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<T> {
    /// The row as it is now (created or changed since the position).
    Changed(T),
    /// The row was deleted.
    Deleted {
        /// Its id.
        id: Uuid,
        /// When, by the database's clock.
        deleted_at: OffsetDateTime,
    },
}

/// Which database, and which history of its cluster, a transaction id belongs to: the
/// cluster's system identifier, its current timeline and the database's oid. A logical restore
/// (into another cluster, or into a new database: docs/dba.md's procedures never restore into
/// the database that was dumped), a point-in-time recovery or a replica's promotion changes it;
/// each may take the transaction-id counter back below ids that sync tokens already hold, or
/// bring back rows those tokens' syncs have passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch {
    /// `pg_control_system().system_identifier`.
    pub system: u64,
    /// The timeline being written: the first 8 hex digits of the current WAL file's name (the
    /// checkpoint's would lag a promotion until the next checkpoint).
    pub timeline: u32,
    /// The database's oid.
    pub database: u32,
}

/// A page of the changes feed ([`changes`]).
#[derive(Debug)]
pub struct ChangesPage<T> {
    /// The changes after the position, in change order, each with its own position.
    pub changes: Vec<(ChangePosition, Change<T>)>,
    /// Whether more changes follow the last one (below the ceiling).
    pub more: bool,
    /// The oldest transaction still running when the page was read
    /// (`pg_snapshot_xmin(pg_current_snapshot())`): every transaction before it had ended, and
    /// this page or an earlier one read what each of them wrote after the position; a
    /// transaction at or after it may still commit rows behind the position. A sync that has
    /// read to the end therefore starts its next sync from the horizon of its first page.
    pub horizon: u64,
    /// The first transaction id not yet given out when the page was read
    /// (`pg_snapshot_xmax`): the page saw no change at or above it. A sync reads below its
    /// first page's ceiling only, so that rows written while it pages wait for the next sync
    /// instead of moving ahead of it: a sync ends, however fast the organization writes.
    pub ceiling: u64,
    /// The cluster and history the ids belong to.
    pub epoch: Epoch,
    /// The organization whose rows were read: the transaction's, which for an API key only its
    /// opening check resolves.
    pub organization: Option<palisade_domain::OrgId>,
    /// The newest transaction id among the organization's deletion records that retention has
    /// removed (`palisade.pruned_deletion_records`), if it has removed any: a sync whose
    /// position is at or before it may have lost records after its position, and must start
    /// again.
    pub pruned: Option<u64>,
}

/// The changes feed's one statement for table `{table}`, whose columns, each prefixed `t.`,
/// are `{columns}`: the row's columns first (where its decoder looks for them), then the
/// change's position and kind, then the snapshot's horizon and ceiling, the epoch and how far
/// retention removed the organization's deletion records, each named `sync_...` so that no
/// column of a synced table (a `deleted_at` of its own) is read in its place (a column is read
/// by the first of its name). Up to `$4` rows and deletion records of resource `$6` after the
/// position `($1, $2)` in `(change_xid, id)` order, below the ceiling `$5` when given (a later
/// page of a sync), deletion records only when `$3`. Always one row at least: an empty page is
/// one row of NULLs but the snapshot's figures. Each side reads its own index
/// (`<table>_org_change_idx`, `deleted_rows_pkey`) from the position, the changed rows are read
/// back by id; the policies narrow all four (the mark of `pruned_deletion_records` too: one row
/// at most, the organization's) to the organization. `pg_control_system` reads the cluster's control file
/// (8 KiB). Only the row type's [`Table::TABLE`] and [`Table::QUALIFIED_COLUMNS`], constants
/// of its `table!` declaration, are written into the text (as [`crate::crud`] writes its
/// statements); every value is a bound parameter.
fn changes_sql(table: &str, columns: &str) -> String {
    format!(
        "\
SELECT {columns},
       c.change_xid::text AS sync_change_xid, c.deleted AS sync_deleted,
       c.deleted_at AS sync_deleted_at, c.row_id AS sync_row_id,
       s.sync_horizon, s.sync_ceiling, s.sync_system, s.sync_walfile, s.sync_database,
       s.sync_pruned
  FROM (SELECT pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::text AS sync_horizon,
               pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::text AS sync_ceiling,
               (SELECT x.system_identifier FROM pg_catalog.pg_control_system() AS x) AS sync_system,
               pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()) AS sync_walfile,
               (SELECT d.oid FROM pg_catalog.pg_database AS d
                 WHERE d.datname = pg_catalog.current_database())::int8 AS sync_database,
               (SELECT p.pruned_xid::text FROM palisade.pruned_deletion_records AS p)
                 AS sync_pruned) AS s
  LEFT JOIN (
      (SELECT change_xid, false AS deleted, NULL::timestamptz AS deleted_at, id AS row_id
         FROM {table}
        WHERE (change_xid, id) > ($1::text::xid8, $2::uuid)
          AND ($5::text IS NULL OR change_xid < $5::text::xid8)
        ORDER BY change_xid, id
        LIMIT $4)
      UNION ALL
      (SELECT change_xid, true, deleted_at, row_id
         FROM palisade.deleted_rows
        WHERE $3 AND resource = $6::text
          AND (change_xid, row_id) > ($1::text::xid8, $2::uuid)
          AND ($5::text IS NULL OR change_xid < $5::text::xid8)
        ORDER BY change_xid, row_id
        LIMIT $4)
      ORDER BY 1, 4
      LIMIT $4) AS c ON true
  LEFT JOIN {table} AS t ON NOT c.deleted AND t.id = c.row_id
 ORDER BY c.change_xid, c.row_id"
    )
}

/// Reads up to `limit` changes of the organization's rows of `T` (deletion records under
/// `resource`, the name the table's delete trigger records) after `after`, below `ceiling` when
/// given (deletions only when `deletions`: a sync from the start has no copy to delete from), in
/// one round trip that ends the transaction (the credential's check included, for a checked
/// transaction).
pub async fn changes<T: Table>(
    tx: crate::TenantTx,
    resource: &str,
    after: ChangePosition,
    deletions: bool,
    ceiling: Option<u64>,
    limit: u16,
) -> Result<ChangesPage<T>, DbError> {
    let sql = changes_sql(T::TABLE, T::QUALIFIED_COLUMNS);
    let xid = after.xid.to_string();
    let ceiling = ceiling.map(|c| c.to_string());
    let fetch = i64::from(limit) + 1;
    let (rows, context) = tx
        .query_once_in_context(
            &sql,
            &[&xid, &after.id, &deletions, &fetch, &ceiling, &resource],
        )
        .await?;
    let first = rows
        .first()
        .ok_or_else(|| DbError::Client("the changes feed returned no row".into()))?;
    let horizon = parse_xid(&first.try_get::<_, String>("sync_horizon")?)?;
    let ceiling = parse_xid(&first.try_get::<_, String>("sync_ceiling")?)?;
    let epoch = Epoch {
        // A bigint in SQL, an unsigned number in the control file: kept as its bits.
        system: first.try_get::<_, i64>("sync_system")?.cast_unsigned(),
        timeline: first
            .try_get::<_, String>("sync_walfile")?
            .get(..8)
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .ok_or_else(|| DbError::Client("a WAL file name without a timeline".into()))?,
        database: u32::try_from(first.try_get::<_, i64>("sync_database")?)
            .map_err(|_| DbError::Client("a database oid out of range".into()))?,
    };
    let pruned = first
        .try_get::<_, Option<String>>("sync_pruned")?
        .map(|x| parse_xid(&x))
        .transpose()?;
    let mut changes = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(xid) = row.try_get::<_, Option<String>>("sync_change_xid")? else {
            continue;
        };
        let id: Uuid = row.try_get("sync_row_id")?;
        let position = ChangePosition {
            xid: parse_xid(&xid)?,
            id,
        };
        let change = if row.try_get::<_, bool>("sync_deleted")? {
            Change::Deleted {
                id,
                deleted_at: row.try_get("sync_deleted_at")?,
            }
        } else {
            Change::Changed(T::from_row(row)?)
        };
        changes.push((position, change));
    }
    let more = changes.len() > usize::from(limit);
    changes.truncate(usize::from(limit));
    Ok(ChangesPage {
        changes,
        more,
        horizon,
        ceiling,
        epoch,
        organization: context.map(|c| c.org_id),
        pruned,
    })
}

fn parse_xid(text: &str) -> Result<u64, DbError> {
    text.parse()
        .map_err(|_| DbError::Client(format!("not an unsigned 64-bit number: {text}")))
}
