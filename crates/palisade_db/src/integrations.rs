//! Integration queries. None filters by organization (the policies of
//! `policies/400_integrations.sql` do), and none reads `secrets`: the app role may write
//! credentials but has no SELECT on them, so they are written and never returned.

use palisade_domain::{
    IntegrationConfig, IntegrationId, IntegrationName, IntegrationProvider, IntegrationSecrets,
};
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::list::{Cursor, ListQuery};
use crate::{DbError, Page, PageRequest, TenantTx};

/// An integration as stored, without its secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    /// Its id.
    pub id: Uuid,
    /// `salesforce`, `hubspot`, ...
    pub provider: String,
    /// Display name, unique within the organization.
    pub name: String,
    /// Non-secret settings.
    pub config: serde_json::Value,
    /// The names of the secrets that are set (never their values).
    pub secret_keys: Vec<String>,
    /// Whether it is active.
    pub enabled: bool,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
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

/// List filters.
#[derive(Debug, Clone, Default)]
pub struct IntegrationFilter {
    /// Only this provider.
    pub provider: Option<IntegrationProvider>,
    /// Only enabled (or disabled) ones.
    pub enabled: Option<bool>,
}

/// The unique constraint that keeps names unique within an organization.
pub const NAME_KEY: &str = "integrations_name_key";

/// The columns every query returns (never `secrets`), as a literal for `concat!`.
macro_rules! columns {
    () => {
        "id, provider, name, config, secret_keys, enabled, created_at, updated_at"
    };
}

/// Decodes a row of `columns!()`.
fn from_row(r: &Row) -> Result<Integration, DbError> {
    Ok(Integration {
        id: r.try_get("id")?,
        provider: r.try_get("provider")?,
        name: r.try_get("name")?,
        config: r.try_get("config")?,
        secret_keys: r.try_get("secret_keys")?,
        enabled: r.try_get("enabled")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// One page of integrations, newest first. Ends the transaction (one round trip).
pub async fn list(
    tx: TenantTx,
    filter: &IntegrationFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<Integration, Cursor>, DbError> {
    let provider = filter.provider.map(IntegrationProvider::as_str);
    ListQuery::new(concat!(
        "SELECT ",
        columns!(),
        " FROM palisade.integrations WHERE true"
    ))
    .and_opt("provider = $", provider.as_ref())
    .and_opt("enabled = $", filter.enabled.as_ref())
    .page(&page)
    .fetch(tx, page.limit, from_row, |i| Cursor {
        created_at: i.created_at,
        id: i.id,
    })
    .await
}

/// The statement of [`get`] (and, `FOR UPDATE`, of [`lock`]).
const GET_SQL: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM palisade.integrations WHERE id = $1"
);

/// One integration, or `None` when it does not exist in this organization.
pub async fn get(tx: TenantTx, id: IntegrationId) -> Result<Option<Integration>, DbError> {
    let rows = tx.query_once(GET_SQL, &[&id.as_uuid()]).await?;
    rows.first().map(from_row).transpose()
}

/// [`get`] inside a write transaction, the row locked until it ends (for `If-Match`).
pub async fn lock(tx: &mut TenantTx, id: IntegrationId) -> Result<Option<Integration>, DbError> {
    crate::lock::for_update(tx, GET_SQL, id.as_uuid(), from_row).await
}

/// Creates an integration in the acting organization (owners and admins: RLS refuses others).
pub async fn create(tx: &mut TenantTx, new: &NewIntegration) -> Result<Integration, DbError> {
    let id = IntegrationId::new();
    let row = tx
        .query_one(
            concat!(
                "INSERT INTO palisade.integrations (id, provider, name, config, secrets, secret_keys, enabled) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
                columns!()
            ),
            &[
                &id.as_uuid(),
                &new.provider.as_str(),
                &new.name.as_str(),
                &new.config.to_value(),
                &new.secrets.expose(),
                &new.secrets.keys(),
                &new.enabled,
            ],
        )
        .await?;
    from_row(&row)
}

/// Applies `patch`; `None` when the integration does not exist in this organization (or the
/// acting role may not change it: RLS hides the row from the UPDATE).
pub async fn update(
    tx: &mut TenantTx,
    id: IntegrationId,
    patch: &IntegrationPatch,
) -> Result<Option<Integration>, DbError> {
    let name = patch.name.as_ref().map(IntegrationName::as_str);
    let config = patch.config.as_ref().map(IntegrationConfig::to_value);
    // Two statements, not one with `coalesce($n, secrets)`: reading `secrets` in the SET list
    // needs a SELECT grant the app role does not have.
    let row = match &patch.secrets {
        None => {
            tx.query_opt(
                concat!(
                    "UPDATE palisade.integrations SET \
                         name = coalesce($2, name), \
                         config = coalesce($3, config), \
                         enabled = coalesce($4, enabled), \
                         updated_at = now() \
                     WHERE id = $1 RETURNING ",
                    columns!()
                ),
                &[&id.as_uuid(), &name, &config, &patch.enabled],
            )
            .await?
        }
        Some(secrets) => {
            tx.query_opt(
                concat!(
                    "UPDATE palisade.integrations SET \
                         name = coalesce($2, name), \
                         config = coalesce($3, config), \
                         enabled = coalesce($4, enabled), \
                         secrets = $5, \
                         secret_keys = $6, \
                         updated_at = now() \
                     WHERE id = $1 RETURNING ",
                    columns!()
                ),
                &[
                    &id.as_uuid(),
                    &name,
                    &config,
                    &patch.enabled,
                    &secrets.expose(),
                    &secrets.keys(),
                ],
            )
            .await?
        }
    };
    row.map(|r| from_row(&r)).transpose()
}

/// Deletes an integration; `false` when it does not exist in this organization.
pub async fn delete(tx: &mut TenantTx, id: IntegrationId) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "DELETE FROM palisade.integrations WHERE id = $1",
            &[&id.as_uuid()],
        )
        .await?
        == 1)
}
