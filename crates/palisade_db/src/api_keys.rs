//! API key queries: the tenant's view of its keys (policies/420_api_keys.sql), and the one
//! lookup before a tenant is known, [`resolve`], through `palisade_private.api_key_lookup`.
//! The key itself is never stored, only its SHA-256, which the app role cannot read back.

use palisade_domain::{ApiKeyId, ApiKeyName, OrgId, Role, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crud;
use crate::{AppPool, DbError, TenantTx};

crate::table! {
    /// An API key as stored and as clients see it, without its hash (never the key itself).
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct ApiKey in "palisade.api_keys" {
        /// Its id.
        id: Uuid,
        /// Display name.
        name: String,
        /// What the key may do: `admin` or `member`.
        #[schema(value_type = Role)]
        role: String,
        /// The key's first characters, to recognise it.
        prefix: String,
        /// The member who created it.
        created_by: Uuid,
        /// Last use (stamped at most once a minute).
        #[serde(with = "palisade_domain::timestamp::option")]
        last_used_at: Option<OffsetDateTime>,
        /// When it was revoked.
        #[serde(with = "palisade_domain::timestamp::option")]
        revoked_at: Option<OffsetDateTime>,
        /// When it stops working by itself, if it was given a lifetime; fixed at creation.
        #[serde(with = "palisade_domain::timestamp::option")]
        expires_at: Option<OffsetDateTime>,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
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
    /// When it stops working, if ever (after its creation: the table refuses otherwise).
    pub expires_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("prefix", &self.prefix)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

crate::filter_type! {
    /// List filters.
    pub struct ApiKeyFilter for ApiKey {
        /// Only revoked (`true`) or only unrevoked (`false`, expired ones included) keys.
        revoked: bool => "(revoked_at IS NOT NULL) = $",
        /// Only keys whose `expires_at` has passed (`true`, by the database's clock), or only
        /// keys without an expiry or with one still ahead (`false`).
        expired: bool => "coalesce(expires_at <= now(), false) = $",
        /// Only keys this member created (api_keys_org_created_by_idx).
        created_by: UserId => "created_by = $",
    }
}

fn parse_role(role: &str) -> Result<Role, DbError> {
    Role::parse(role).map_err(|_| DbError::Decode(format!("unknown role {role:?}")))
}

impl crud::Insert for NewApiKey {
    type Row = ApiKey;
    /// Records a key minted by the acting user (owners and admins: RLS refuses others).
    async fn insert(&self, tx: &mut TenantTx) -> Result<ApiKey, DbError> {
        let created_by = tx
            .context()
            .map(|c| c.user_id.as_uuid())
            .ok_or_else(|| DbError::Decode("an API key is created by a user".into()))?;
        crud::returning(
            tx,
            "INSERT INTO palisade.api_keys (id, name, role, prefix, key_hash, created_by, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &ApiKeyId::new().as_uuid(),
                &self.name.as_str(),
                &self.role.as_str(),
                &self.prefix,
                &self.key_hash.as_slice(),
                &created_by,
                &self.expires_at,
            ],
        )
        .await
    }
}

/// The CHECK that a key expires after its creation (`sql/V0165__add_expires_at_to_api_keys.sql`).
pub const EXPIRES_AFTER_CREATION: &str = "api_keys_expires_after_creation_check";

/// Revokes key `$1` (idempotent: the first revocation time stays); `DELETE /v1/api-keys/{id}`
/// runs it instead of deleting.
pub const REVOKE: &str = "UPDATE palisade.api_keys SET revoked_at = coalesce(revoked_at, now()), \
     updated_at = now() WHERE id = $1";

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
    /// Whether its `expires_at` has passed (by the database's clock).
    pub expired: bool,
}

/// Finds the key whose SHA-256 is `key_hash`, before any tenant is known, through the resolver
/// function (one round trip; it also stamps `last_used_at` at most once a minute). `None` when
/// no key has this hash or its creator no longer exists.
pub async fn resolve(pool: &AppPool, key_hash: &[u8; 32]) -> Result<Option<ResolvedKey>, DbError> {
    let conn = pool.get().await?;
    let stmt = conn
        .prepare_cached(
            "SELECT organization_id, key_id, user_id, role, revoked, expired \
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
        expired: row.try_get("expired")?,
    }))
}
