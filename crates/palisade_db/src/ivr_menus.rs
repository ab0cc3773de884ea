//! IVR menus. No query filters by organization: the policies of `policies/310_ivr_menus.sql`
//! do, and `organization_id` defaults to the context on insert.

use palisade_domain::{IvrMenuId, IvrMenuName, IvrMenuTree};
use serde_json::Value;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::list::{Cursor, ListQuery, like_literal};
use crate::{DbError, Page, PageRequest, TenantTx};

/// The unique constraint that keeps menu names unique within an organization.
pub const NAME_KEY: &str = "ivr_menus_name_key";

/// A menu as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct IvrMenu {
    /// Its id.
    pub id: Uuid,
    /// Name, unique within the organization.
    pub name: String,
    /// The menu tree, as the client sent it.
    pub tree: Value,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// A partial update: `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct IvrMenuPatch {
    /// New name.
    pub name: Option<IvrMenuName>,
    /// New tree.
    pub tree: Option<IvrMenuTree>,
}

/// List filters.
#[derive(Debug, Clone, Default)]
pub struct IvrMenuFilter {
    /// Case-insensitive substring of the name.
    pub name_contains: Option<String>,
}

const COLUMNS: &str = "id, name, tree, created_at, updated_at";

fn from_row(r: &Row) -> Result<IvrMenu, DbError> {
    Ok(IvrMenu {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        tree: r.try_get("tree")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// One page of menus, newest first. Ends the transaction (one round trip).
pub async fn list(
    tx: TenantTx,
    filter: &IvrMenuFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<IvrMenu, Cursor>, DbError> {
    let name = filter.name_contains.as_deref().map(like_literal);
    ListQuery::new(
        "SELECT id, name, tree, created_at, updated_at FROM palisade.ivr_menus WHERE true",
    )
    .and_opt_wrapped("name ILIKE '%' || $", name.as_ref(), " || '%' ESCAPE '\\'")
    .page(&page)
    .fetch(tx, page.limit, from_row, |m| Cursor {
        created_at: m.created_at,
        id: m.id,
    })
    .await
}

/// The statement of [`get`] (and, `FOR UPDATE`, of [`lock`]).
const GET_SQL: &str =
    "SELECT id, name, tree, created_at, updated_at FROM palisade.ivr_menus WHERE id = $1";

/// One menu, or `None` when it does not exist in this organization.
pub async fn get(tx: TenantTx, id: IvrMenuId) -> Result<Option<IvrMenu>, DbError> {
    let rows = tx.query_once(GET_SQL, &[&id.as_uuid()]).await?;
    rows.first().map(from_row).transpose()
}

/// [`get`] inside a write transaction, the row locked until it ends (for `If-Match`).
pub async fn lock(tx: &mut TenantTx, id: IvrMenuId) -> Result<Option<IvrMenu>, DbError> {
    crate::lock::for_update(tx, GET_SQL, id.as_uuid(), from_row).await
}

/// Creates a menu in the acting organization.
pub async fn create(
    tx: &mut TenantTx,
    name: &IvrMenuName,
    tree: &IvrMenuTree,
) -> Result<IvrMenu, DbError> {
    let sql = format!(
        "INSERT INTO palisade.ivr_menus (id, name, tree) VALUES ($1, $2, $3) RETURNING {COLUMNS}"
    );
    let row = tx
        .query_one(
            &sql,
            &[&IvrMenuId::new().as_uuid(), &name.as_str(), tree.as_json()],
        )
        .await?;
    from_row(&row)
}

/// Applies `patch`; `None` when the menu does not exist in this organization.
pub async fn update(
    tx: &mut TenantTx,
    id: IvrMenuId,
    patch: &IvrMenuPatch,
) -> Result<Option<IvrMenu>, DbError> {
    let sql = format!(
        "UPDATE palisade.ivr_menus SET name = coalesce($2, name), tree = coalesce($3, tree), \
             updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row = tx
        .query_opt(
            &sql,
            &[
                &id.as_uuid(),
                &patch.name.as_ref().map(IvrMenuName::as_str),
                &patch.tree.as_ref().map(IvrMenuTree::as_json),
            ],
        )
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

/// Deletes a menu (numbers pointing at it keep their row, without a menu); `false` when it
/// does not exist in this organization.
pub async fn delete(tx: &mut TenantTx, id: IvrMenuId) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "DELETE FROM palisade.ivr_menus WHERE id = $1",
            &[&id.as_uuid()],
        )
        .await?
        == 1)
}
