//! Integration queries: the row, its filters, insert and update (listing, reading, locking and
//! deleting are [`crate::crud`]'s). None filters by organization (the policies of
//! `policies/400_integrations.sql` do), and none reads `secrets`: the app role may write
//! credentials but has no SELECT on them, so they are written and never returned.

use palisade_domain::{
    IntegrationConfig, IntegrationId, IntegrationName, IntegrationProvider, IntegrationSecrets,
};
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::crud;
use crate::{DbError, TenantTx};

crate::table! {
    /// An integration as stored and as clients see it: without its secrets.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct Integration in "palisade.integrations" {
        /// Its id.
        id: Uuid,
        /// `salesforce`, `hubspot`, ...
        #[schema(value_type = IntegrationProvider)]
        provider: String,
        /// Display name, unique within the organization.
        name: String,
        /// The non-secret settings, as given.
        #[schema(value_type = Object)]
        config: serde_json::Value,
        /// The names of the secrets that are set (never their values).
        secret_keys: Vec<String>,
        /// Whether any secret is set (the values are never returned).
        has_secrets: bool,
        /// Whether it is active.
        enabled: bool,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
}

/// An integration to create.
#[derive(Debug, Clone)]
pub struct NewIntegration {
    /// The service.
    pub provider: IntegrationProvider,
    /// Display name.
    pub name: IntegrationName,
    /// Settings.
    pub config: IntegrationConfig,
    /// Credentials (write-only).
    pub secrets: IntegrationSecrets,
    /// Whether it starts active.
    pub enabled: bool,
}

/// A partial update: `None` leaves a field alone. `secrets`, when given, replaces every secret.
#[derive(Debug, Clone, Default)]
pub struct IntegrationPatch {
    /// New name.
    pub name: Option<IntegrationName>,
    /// New settings (replaces the object).
    pub config: Option<IntegrationConfig>,
    /// New credentials (replace the object).
    pub secrets: Option<IntegrationSecrets>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

crate::filter_type! {
    /// List filters.
    pub struct IntegrationFilter for Integration {
        /// Only this provider.
        provider: IntegrationProvider => "provider = $",
        /// Only enabled (or disabled) ones.
        enabled: bool => "enabled = $",
    }
}

/// The unique constraint that keeps names unique within an organization.
pub const NAME_KEY: &str = "integrations_name_key";

/// The CHECK on `config` (sql/V0030): an object whose text, as `jsonb` prints it, is at most
/// 16384 bytes.
pub const CONFIG_CHECK: &str = "integrations_config_check";

/// The CHECK on `secrets` (sql/V0030): an object whose text, as `jsonb` prints it, is at most
/// 65536 bytes.
pub const SECRETS_CHECK: &str = "integrations_secrets_check";

/// Creates an integration in the acting organization (owners and admins: RLS refuses others).
impl crud::Insert for NewIntegration {
    type Row = Integration;
    async fn insert(&self, tx: &mut TenantTx) -> Result<Integration, DbError> {
        crud::returning(
            tx,
            "INSERT INTO palisade.integrations \
                 (id, provider, name, config, secrets, secret_keys, enabled) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &IntegrationId::new().as_uuid(),
                &self.provider.as_str(),
                &self.name.as_str(),
                &self.config.to_value(),
                &self.secrets.expose(),
                &self.secrets.keys(),
                &self.enabled,
            ],
        )
        .await
    }
}

/// The SET list every update of an integration starts with.
macro_rules! UPDATE_INTEGRATION {
    () => {
        "UPDATE palisade.integrations SET name = coalesce($2, name), \
         config = coalesce($3, config), enabled = coalesce($4, enabled), "
    };
}

/// `None` when the integration does not exist in this organization (or the acting role may
/// not change it: RLS hides the row from the UPDATE).
impl crud::Update for IntegrationPatch {
    type Row = Integration;
    async fn update(&self, tx: &mut TenantTx, id: Uuid) -> Result<Option<Integration>, DbError> {
        let name = self.name.as_ref().map(IntegrationName::as_str);
        let config = self.config.as_ref().map(IntegrationConfig::to_value);
        let secrets = self.secrets.as_ref().map(|s| (s.expose(), s.keys()));
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&id, &name, &config, &self.enabled];
        // Two statements, not one with `coalesce($n, secrets)`: reading `secrets` in the SET
        // list needs a SELECT grant the app role does not have.
        let sql = match &secrets {
            None => concat!(UPDATE_INTEGRATION!(), "updated_at = now() WHERE id = $1"),
            Some((values, keys)) => {
                params.extend([values as &(dyn ToSql + Sync), keys]);
                concat!(
                    UPDATE_INTEGRATION!(),
                    "secrets = $5, secret_keys = $6, updated_at = now() WHERE id = $1"
                )
            }
        };
        crud::returning_opt(tx, sql, &params).await
    }
}
