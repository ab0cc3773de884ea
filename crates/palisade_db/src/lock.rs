//! Reading an item inside a write transaction with its row locked, for `If-Match`
//! (crates/palisade_api/src/etag.rs): the item's current representation is compared with the
//! client's entity tag, and no other transaction can change the row between that comparison
//! and the write, because it waits for this transaction to end.

use tokio_postgres::Row;
use uuid::Uuid;

use crate::{DbError, TenantTx};

/// Takes a transaction-level advisory lock, in PostgreSQL's two-key form (a key space of its
/// own, apart from the one-key locks of `migrate` and retention): `$1` is one of the classes
/// below, `$2` the text whose `hashtext` is the second key. Held until the transaction ends; a
/// hash collision only makes two holders wait for each other.
pub(crate) const XACT_LOCK: &str =
    "SELECT pg_catalog.pg_advisory_xact_lock($1, pg_catalog.hashtext($2))";

/// [`XACT_LOCK`]'s class for a Stripe customer being linked ("St"; `crate::stripe`).
pub(crate) const STRIPE_CUSTOMER_CLASS: i32 = 0x5374;
/// [`XACT_LOCK`]'s class for a user's password reset links ("Pr";
/// [`crate::accounts::create_password_reset`]).
pub(crate) const PASSWORD_RESET_CLASS: i32 = 0x5072;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_advisory_lock_class_is_its_own() {
        assert_ne!(STRIPE_CUSTOMER_CLASS, PASSWORD_RESET_CLASS);
    }
}
