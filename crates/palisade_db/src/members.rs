//! Members: the users of the acting organization (table `palisade.users`, policies in
//! `policies/110_users.sql`), and [`session`], the per-request check that a token's user still
//! exists and what their role and credential version are now (`palisade_private.member_session`,
//! policies/023_accounts.sql).
//!
//! Members are not created here: they join by invitation (`crate::accounts`), and their password
//! is theirs alone.

use palisade_domain::{OrgId, PersonName, Role, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crud::{self, Table};
use crate::{AppPool, DbError, TenantTx};

crate::table! {
    /// A member as stored and as clients see them (never their password hash).
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct Member in "palisade.users" {
        /// The user id.
        id: Uuid,
        /// Their login email (unique platform-wide).
        #[schema(format = Email)]
        email: String,
        /// Display name.
        name: String,
        /// Role in the organization.
        #[schema(value_type = Role)]
        role: String,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
}

impl Member {
    /// Their role.
    pub fn role(&self) -> Result<Role, DbError> {
        parse_role(&self.role)
    }
}

fn parse_role(role: &str) -> Result<Role, DbError> {
    Role::parse(role).map_err(|_| DbError::Decode(format!("unknown role {role:?}")))
}

/// A partial update: `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct MemberPatch {
    /// New display name.
    pub name: Option<PersonName>,
    /// New role.
    pub role: Option<Role>,
}

crate::filter_type! {
    /// List filters.
    pub struct MemberFilter for Member {
        /// Only this role.
        role: Role => "role = $",
    }
}

/// One member, inside a transaction that goes on.
pub async fn find(tx: &mut TenantTx, id: UserId) -> Result<Option<Member>, DbError> {
    let row = tx.query_opt(Member::GET, &[&id.as_uuid()]).await?;
    row.as_ref().map(Member::from_row).transpose()
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
    crud::returning_opt(
        tx,
        "UPDATE palisade.users SET \
             name = coalesce($2, name), \
             role = coalesce($3, role), \
             updated_at = now() \
         WHERE id = $1",
        &[
            &id.as_uuid(),
            &patch.name.as_ref().map(PersonName::as_str),
            &patch.role.map(Role::as_str),
        ],
    )
    .await
}

/// What the per-request check finds about a token's user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// The user's role now.
    pub role: Role,
    /// The user's credential version now: a token carrying another one was issued before a
    /// password change or reset, or before the user signed out everywhere.
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
