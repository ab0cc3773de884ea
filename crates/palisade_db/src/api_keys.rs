//! API key queries: the tenant's view of its keys (policies/420_api_keys.sql), and the one
//! lookup before a tenant is known, [`resolve`], through `palisade_private.api_key_lookup`.
//! The key itself is never stored, only its SHA-256, which the app role cannot read back.

use palisade_domain::{ApiKeyId, ApiKeyName, OrgId, Role, UserId};
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::list::{Cursor, ListQuery};
use crate::{AppPool, DbError, Page, PageRequest, TenantTx};

/// An API key as stored, without its hash.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    /// Its id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// The role it acts with (`admin` or `member`).
    pub role: Role,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    /// The user who minted it, whose identity it acts with.
    pub created_by: Uuid,
    /// Last use (stamped at most once a minute).
    pub last_used_at: Option<OffsetDateTime>,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// A key to record. The caller generated the key and shows it once; only its hash comes here.
#[derive(Clone)]
pub struct NewApiKey {
    /// Display name.
    pub name: ApiKeyName,
    /// `admin` or `member` (never `owner`: the table refuses it).
    pub role: Role,
    /// The displayable prefix (`pk_` and 8 characters).
    pub prefix: String,
    /// SHA-256 of the whole key.
    pub key_hash: [u8; 32],
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// List filters.
#[derive(Debug, Clone, Default)]
pub struct ApiKeyFilter {
    /// Only revoked (`true`) or only active (`false`) keys.
    pub revoked: Option<bool>,
}

/// The columns every query returns (never `key_hash`), as a literal for `concat!`.
macro_rules! columns {
    () => {
        "id, name, role, prefix, created_by, last_used_at, revoked_at, created_at, updated_at"
    };
}

fn parse_role(role: &str) -> Result<Role, DbError> {
    Role::parse(role).map_err(|_| DbError::Decode(format!("unknown role {role:?}")))
}

fn from_row(r: &Row) -> Result<ApiKey, DbError> {
    Ok(ApiKey {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: parse_role(r.try_get("role")?)?,
        prefix: r.try_get("prefix")?,
        created_by: r.try_get("created_by")?,
        last_used_at: r.try_get("last_used_at")?,
        revoked_at: r.try_get("revoked_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// One page of keys, newest first. Ends the transaction (one round trip).
pub async fn list(
    tx: TenantTx,
    filter: &ApiKeyFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<ApiKey, Cursor>, DbError> {
    ListQuery::new(concat!(
        "SELECT ",
        columns!(),
        " FROM palisade.api_keys WHERE true"
    ))
    .and_opt("(revoked_at IS NOT NULL) = $", filter.revoked.as_ref())
    .page(&page)
    .fetch(tx, page.limit, from_row, |k| Cursor {
        created_at: k.created_at,
        id: k.id,
    })
    .await
}

/// The statement of [`get`] (and, `FOR UPDATE`, of [`lock`]).
const GET_SQL: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM palisade.api_keys WHERE id = $1"
);

/// One key, or `None` when it does not exist in this organization.
pub async fn get(tx: TenantTx, id: ApiKeyId) -> Result<Option<ApiKey>, DbError> {
    let rows = tx.query_once(GET_SQL, &[&id.as_uuid()]).await?;
    rows.first().map(from_row).transpose()
}

/// [`get`] inside a write transaction, the row locked until it ends (for `If-Match`).
pub async fn lock(tx: &mut TenantTx, id: ApiKeyId) -> Result<Option<ApiKey>, DbError> {
    crate::lock::for_update(tx, GET_SQL, id.as_uuid(), from_row).await
}

/// Records a key minted by the acting user (owners and admins: RLS refuses others).
pub async fn create(tx: &mut TenantTx, new: &NewApiKey) -> Result<ApiKey, DbError> {
    let id = ApiKeyId::new();
    let created_by = tx
        .context()
        .map(|c| c.user_id.as_uuid())
        .ok_or_else(|| DbError::Decode("an API key is created by a user".into()))?;
    let row = tx
        .query_one(
            concat!(
                "INSERT INTO palisade.api_keys (id, name, role, prefix, key_hash, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
                columns!()
            ),
            &[
                &id.as_uuid(),
                &new.name.as_str(),
                &new.role.as_str(),
                &new.prefix,
                &new.key_hash.as_slice(),
                &created_by,
            ],
        )
        .await?;
    from_row(&row)
}

/// Revokes a key (idempotent: the first revocation time stays); `None` when it does not exist
/// in this organization.
pub async fn revoke(tx: &mut TenantTx, id: ApiKeyId) -> Result<Option<ApiKey>, DbError> {
    let row = tx
        .query_opt(
            concat!(
                "UPDATE palisade.api_keys SET revoked_at = coalesce(revoked_at, now()), updated_at = now() \
                 WHERE id = $1 RETURNING ",
                columns!()
            ),
            &[&id.as_uuid()],
        )
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

/// Revokes every active key `user` created (when the user is removed). Returns how many.
pub async fn revoke_created_by(tx: &mut TenantTx, user: UserId) -> Result<u64, DbError> {
    tx.execute(
        "UPDATE palisade.api_keys SET revoked_at = now(), updated_at = now() \
         WHERE created_by = $1 AND revoked_at IS NULL",
        &[&user.as_uuid()],
    )
    .await
}

/// What a presented key resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedKey {
    /// The key's organization.
    pub org_id: OrgId,
    /// The key's id.
    pub key_id: ApiKeyId,
    /// The user it acts as (its creator).
    pub user_id: UserId,
    /// The role it acts with: the key's, capped by its creator's current role.
    pub role: Role,
    /// Whether it has been revoked.
    pub revoked: bool,
}

/// Finds the key whose SHA-256 is `key_hash`, before any tenant is known, through the resolver
/// function (one round trip; it also stamps `last_used_at` at most once a minute). `None` when
/// no key has this hash or its creator no longer exists.
pub async fn resolve(pool: &AppPool, key_hash: &[u8; 32]) -> Result<Option<ResolvedKey>, DbError> {
    let conn = pool.get().await?;
    let stmt = conn
        .prepare_cached(
            "SELECT organization_id, key_id, user_id, role, revoked \
               FROM palisade_private.api_key_lookup($1)",
        )
        .await?;
    let Some(row) = conn.query_opt(&stmt, &[&key_hash.as_slice()]).await? else {
        return Ok(None);
    };
    Ok(Some(ResolvedKey {
        org_id: OrgId::from_uuid(row.try_get("organization_id")?),
        key_id: ApiKeyId::from_uuid(row.try_get("key_id")?),
        user_id: UserId::from_uuid(row.try_get("user_id")?),
        role: parse_role(row.try_get("role")?)?,
        revoked: row.try_get("revoked")?,
    }))
}
