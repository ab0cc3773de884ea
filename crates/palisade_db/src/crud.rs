//! What every tenant resource's queries share: reading one row by id, locking it for
//! `If-Match`, deleting it, listing a page of it, and decoding what an insert or update
//! returns. A resource module declares its stored row once with [`table!`] (the struct, its
//! columns and its decoder) and writes only the SQL that is its own: its filters, its insert
//! and its update.
//!
//! Every statement here is constant (built by `concat!` at compile time) and none filters by
//! organization: the table's policies do, inside the caller's [`TenantTx`].

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::list::{Cursor, ListQuery};
use crate::{DbError, Page, PageRequest, TenantTx};

/// A tenant table's row as the API reads it, declared with [`table!`].
pub trait Table: Sized {
    /// The columns every query of this table returns, comma-separated.
    const COLUMNS: &'static str;
    /// `SELECT <columns> FROM <table> WHERE id = $1`.
    const GET: &'static str;
    /// [`Table::GET`] `FOR UPDATE`.
    const LOCK: &'static str;
    /// `DELETE FROM <table> WHERE id = $1`.
    const DELETE: &'static str;
    /// `SELECT <columns> FROM <table> WHERE true`, for [`ListQuery`] to extend.
    const LIST: &'static str;

    /// Decodes a row holding [`Table::COLUMNS`].
    fn from_row(row: &Row) -> Result<Self, DbError>;

    /// This row's position in a newest-first list.
    fn cursor(&self) -> Cursor;
}

/// Declares a tenant table's row: the struct (every field `pub`, named after its column),
/// and its [`Table`] implementation. The first field is `id`; one of them is `created_at`.
///
/// ```text
/// table! {
///     /// A report definition as stored.
///     pub struct Report in "palisade.reports" {
///         /// Its id.
///         id: Uuid,
///         ...
///     }
/// }
/// ```
#[macro_export]
macro_rules! table {
    (
        $(#[$meta:meta])*
        pub struct $name:ident in $table:literal {
            $(#[$id_meta:meta])* id: $id_ty:ty,
            $( $(#[$field_meta:meta])* $field:ident : $ty:ty ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $(#[$id_meta])* pub id: $id_ty,
            $( $(#[$field_meta])* pub $field: $ty, )+
        }

        impl $crate::crud::Table for $name {
            const COLUMNS: &'static str = concat!("id" $(, ", ", stringify!($field))+);
            const GET: &'static str = concat!(
                "SELECT id" $(, ", ", stringify!($field))+, " FROM ", $table, " WHERE id = $1"
            );
            const LOCK: &'static str = concat!(
                "SELECT id" $(, ", ", stringify!($field))+, " FROM ", $table,
                " WHERE id = $1 FOR UPDATE"
            );
            const DELETE: &'static str = concat!("DELETE FROM ", $table, " WHERE id = $1");
            const LIST: &'static str = concat!(
                "SELECT id" $(, ", ", stringify!($field))+, " FROM ", $table, " WHERE true"
            );

            fn from_row(row: &tokio_postgres::Row) -> Result<Self, $crate::DbError> {
                Ok(Self {
                    id: row.try_get("id")?,
                    $( $field: row.try_get(stringify!($field))?, )+
                })
            }

            fn cursor(&self) -> $crate::list::Cursor {
                $crate::list::Cursor {
                    created_at: self.created_at,
                    id: self.id,
                }
            }
        }
    };
}

/// A family's list filters: they narrow a list of their table (see [`ListQuery`]).
pub trait Filter {
    /// The table listed.
    type Row: Table;
    /// Adds this filter's conditions to `query`.
    fn narrow<'a>(&'a self, query: ListQuery<'a>) -> ListQuery<'a>;
}

/// A row to insert (a family's parsed create body).
// The futures are not required to be `Send`: handlers run on actix's single-threaded workers.
#[allow(async_fn_in_trait)]
pub trait Insert {
    /// The table written.
    type Row: Table;
    /// Inserts it in the acting organization and returns the stored row.
    async fn insert(&self, tx: &mut TenantTx) -> Result<Self::Row, DbError>;
}

/// Changes to a row (a family's parsed patch body): `None` fields stay.
#[allow(async_fn_in_trait)]
pub trait Update {
    /// The table written.
    type Row: Table;
    /// Applies the changes to row `id`; `None` when it does not exist in this organization.
    async fn update(&self, tx: &mut TenantTx, id: Uuid) -> Result<Option<Self::Row>, DbError>;
}

/// One page of `filter`'s rows, newest first. Ends the transaction (one round trip).
pub async fn list_page<F: Filter>(
    tx: TenantTx,
    filter: &F,
    page: &PageRequest<Cursor>,
) -> Result<Page<F::Row, Cursor>, DbError> {
    fetch(filter.narrow(list::<F::Row>()), tx, page).await
}

/// [`list_page`] for a collection nested in a row of table `P` (a conversation's messages):
/// `None` when row `parent` does not exist in this organization. `filter` names the parent
/// itself. Ends the transaction (two round trips).
pub async fn list_page_in<P: Table, F: Filter>(
    mut tx: TenantTx,
    parent: Uuid,
    filter: &F,
    page: &PageRequest<Cursor>,
) -> Result<Option<Page<F::Row, Cursor>>, DbError> {
    if tx.query_opt(P::GET, &[&parent]).await?.is_none() {
        tx.commit().await?;
        return Ok(None);
    }
    list_page(tx, filter, page).await.map(Some)
}

/// One row, or `None` when it does not exist in this organization. Ends the transaction (one
/// round trip).
pub async fn get<T: Table>(tx: TenantTx, id: Uuid) -> Result<Option<T>, DbError> {
    let rows = tx.query_once(T::GET, &[&id]).await?;
    rows.first().map(T::from_row).transpose()
}

/// [`get`] inside a write transaction, the row locked until it ends (for `If-Match`). `None`
/// when the row is not visible to this organization (or to the acting role's UPDATE policy:
/// locking applies it too).
pub async fn lock<T: Table>(tx: &mut TenantTx, id: Uuid) -> Result<Option<T>, DbError> {
    let row = tx.query_opt(T::LOCK, &[&id]).await?;
    row.as_ref().map(T::from_row).transpose()
}

/// Deletes one row; `false` when it does not exist in this organization.
pub async fn delete<T: Table>(tx: &mut TenantTx, id: Uuid) -> Result<bool, DbError> {
    Ok(tx.execute(T::DELETE, &[&id]).await? == 1)
}

/// A list of `T` to narrow with the resource's filters, then [`ListQuery::page`] and
/// [`fetch`].
pub fn list<'a, T: Table>() -> ListQuery<'a> {
    ListQuery::new(T::LIST)
}

/// Reads the page `page` of `query` (already narrowed by the resource's filters), newest
/// first. Ends the transaction (one round trip).
pub async fn fetch<'a, T: Table>(
    query: ListQuery<'a>,
    tx: TenantTx,
    page: &'a PageRequest<Cursor>,
) -> Result<Page<T, Cursor>, DbError> {
    query
        .page(page)
        .fetch(tx, page.limit, T::from_row, T::cursor)
        .await
}

/// Runs an `INSERT` or `UPDATE` statement `sql` (without its `RETURNING` clause, which this
/// adds) that writes exactly one row, and decodes it.
pub async fn returning<T: Table>(
    tx: &mut TenantTx,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<T, DbError> {
    let sql = [sql, " RETURNING ", T::COLUMNS].concat();
    T::from_row(&tx.query_one(&sql, params).await?)
}

/// [`returning`] for a statement that writes at most one row (an `UPDATE ... WHERE id = $1`):
/// `None` when it wrote none (the row does not exist in this organization).
pub async fn returning_opt<T: Table>(
    tx: &mut TenantTx,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<T>, DbError> {
    let sql = [sql, " RETURNING ", T::COLUMNS].concat();
    tx.query_opt(&sql, params)
        .await?
        .as_ref()
        .map(T::from_row)
        .transpose()
}
