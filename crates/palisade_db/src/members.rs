//! Members: the users of the acting organization (table `palisade.users`, policies in
//! `policies/110_users.sql`), and [`session`], the per-request check that a token's user still
//! exists and what their role and credential version are now (`palisade_private.member_session`,
//! policies/023_accounts.sql).
//!
//! Members are not created here: they join by invitation (`crate::accounts`), and their password
//! is theirs alone.

use palisade_domain::{OrgId, PersonName, Role, UserId};
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::list::{Cursor, ListQuery};
use crate::{AppPool, DbError, Page, PageRequest, TenantTx};

/// A member as clients see them.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The user id.
    pub id: Uuid,
    /// Login email (unique platform-wide).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role in the organization.
    pub role: Role,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// A partial update: `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct MemberPatch {
    /// New display name.
    pub name: Option<PersonName>,
    /// New role.
    pub role: Option<Role>,
}

/// List filters.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// Only this role.
    pub role: Option<Role>,
}

/// The columns every query returns (never `password_hash`), as a literal for `concat!`.
macro_rules! columns {
    () => {
        "id, email, name, role, created_at, updated_at"
    };
}

fn parse_role(role: &str) -> Result<Role, DbError> {
    Role::parse(role).map_err(|_| DbError::Decode(format!("unknown role {role:?}")))
}

fn from_row(r: &Row) -> Result<Member, DbError> {
    Ok(Member {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        role: parse_role(r.try_get("role")?)?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// One page of members, newest first. Ends the transaction (one round trip).
pub async fn list(
    tx: TenantTx,
    filter: &MemberFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<Member, Cursor>, DbError> {
    let role = filter.role.map(Role::as_str);
    ListQuery::new(concat!(
        "SELECT ",
        columns!(),
        " FROM palisade.users WHERE true"
    ))
    .and_opt("role = $", role.as_ref())
    .page(&page)
    .fetch(tx, page.limit, from_row, |m| Cursor {
        created_at: m.created_at,
        id: m.id,
    })
    .await
}

/// The statement of [`get`] (and, `FOR UPDATE`, of [`lock`]).
const GET_SQL: &str = concat!("SELECT ", columns!(), " FROM palisade.users WHERE id = $1");

/// One member, or `None` when they are not in this organization. Ends the transaction.
pub async fn get(tx: TenantTx, id: UserId) -> Result<Option<Member>, DbError> {
    let rows = tx.query_once(GET_SQL, &[&id.as_uuid()]).await?;
    rows.first().map(from_row).transpose()
}

/// [`get`] inside a write transaction, the row locked until it ends (for `If-Match`).
pub async fn lock(tx: &mut TenantTx, id: UserId) -> Result<Option<Member>, DbError> {
    crate::lock::for_update(tx, GET_SQL, id.as_uuid(), from_row).await
}

/// One member, inside a transaction that goes on.
pub async fn find(tx: &mut TenantTx, id: UserId) -> Result<Option<Member>, DbError> {
    let row = tx.query_opt(GET_SQL, &[&id.as_uuid()]).await?;
    row.map(|r| from_row(&r)).transpose()
}

/// Locks the organization's owner rows until the transaction ends and returns their ids.
///
/// Every change that could remove the last owner takes this lock first, so two of them cannot
/// both see "another owner remains" and together remove both: the second waits, then sees the
/// first's result (READ COMMITTED re-checks locked rows that changed). Only an owner sees the
/// owner rows through this query (locking needs the UPDATE policy, which keeps admins off
/// owner rows); admins never change owners, so they never need it.
pub async fn lock_owners(tx: &mut TenantTx) -> Result<Vec<Uuid>, DbError> {
    let rows = tx
        .query(
            "SELECT id FROM palisade.users WHERE role = 'owner' ORDER BY id FOR UPDATE",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| r.try_get("id").map_err(DbError::from))
        .collect()
}

/// Applies `patch`; `None` when the member is not in this organization or the acting role may
/// not change them (RLS hides the row from the UPDATE).
pub async fn update(
    tx: &mut TenantTx,
    id: UserId,
    patch: &MemberPatch,
) -> Result<Option<Member>, DbError> {
    let row = tx
        .query_opt(
            concat!(
                "UPDATE palisade.users SET \
                     name = coalesce($2, name), \
                     role = coalesce($3, role), \
                     updated_at = now() \
                 WHERE id = $1 RETURNING ",
                columns!()
            ),
            &[
                &id.as_uuid(),
                &patch.name.as_ref().map(PersonName::as_str),
                &patch.role.map(Role::as_str),
            ],
        )
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

/// Removes a member; `false` when they are not in this organization (or RLS refuses).
pub async fn delete(tx: &mut TenantTx, id: UserId) -> Result<bool, DbError> {
    Ok(tx
        .execute("DELETE FROM palisade.users WHERE id = $1", &[&id.as_uuid()])
        .await?
        == 1)
}

/// What the per-request check finds about a token's user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// The user's role now.
    pub role: Role,
    /// The user's credential version now: a token carrying another one was issued before a
    /// password change or reset.
    pub credential_version: i32,
}

/// The current role and credential version of `user` in `org`, or `None` when the user no
/// longer exists there. One statement (one round trip) through the resolver function, outside
/// any tenant transaction: the request path calls it for every bearer token.
pub async fn session(pool: &AppPool, org: OrgId, user: UserId) -> Result<Option<Session>, DbError> {
    let conn = pool.get().await?;
    let stmt = conn
        .prepare_cached(
            "SELECT role, credential_version FROM palisade_private.member_session($1, $2)",
        )
        .await?;
    let Some(row) = conn
        .query_opt(&stmt, &[&org.as_uuid(), &user.as_uuid()])
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(Session {
        role: parse_role(row.try_get("role")?)?,
        credential_version: row.try_get("credential_version")?,
    }))
}
