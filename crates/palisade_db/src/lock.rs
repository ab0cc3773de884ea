//! Reading an item inside a write transaction with its row locked, for `If-Match`
//! (crates/palisade_api/src/etag.rs): the item's current representation is compared with the
//! client's entity tag, and no other transaction can change the row between that comparison
//! and the write, because it waits for this transaction to end.

use tokio_postgres::Row;
use uuid::Uuid;

use crate::{DbError, TenantTx};

/// Runs `select_by_id` (a statement reading one row by `id = $1`, as the item's GET does) with
/// `FOR UPDATE`, and decodes the row. `None` when the row is not visible to this organization
/// (or to the acting role's UPDATE policy: locking applies it too).
pub async fn for_update<T>(
    tx: &mut TenantTx,
    select_by_id: &str,
    id: Uuid,
    decode: impl FnOnce(&Row) -> Result<T, DbError>,
) -> Result<Option<T>, DbError> {
    let sql = format!("{select_by_id} FOR UPDATE");
    let row = tx.query_opt(&sql, &[&id]).await?;
    row.as_ref().map(decode).transpose()
}
