//! `/v1/integrations`: connections to outside services. Every member reads them; owners and
//! admins create, change and delete them (checked here, 403, and by the policies). `secrets`
//! is write-only: a response says which secret keys are set (`secret_keys`), never their values.

use actix_web::{HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::integrations::{
    self as db, Integration, IntegrationFilter, IntegrationPatch, NewIntegration,
};
use palisade_domain::{
    IntegrationConfig, IntegrationId, IntegrationName, IntegrationProvider, IntegrationSecrets,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Fields, nullable, parse_id};
use crate::auth::Tenant;
use crate::etag::IfMatch;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::list::List;
use crate::{ApiError, AppState};

/// Declares this family's routes (see [`crate::endpoints`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    e.get("/v1/integrations", list)
        .tag("integrations")
        .summary("List integrations")
        .list_query::<ListQuery>()
        .list::<IntegrationJson>()
        .errors(&[422]);
    e.post("/v1/integrations", create)
        .tag("integrations")
        .summary("Create an integration")
        .describe("Owners and admins")
        .body::<CreateBody>()
        .created::<IntegrationJson>()
        .errors(&[403, 409, 413, 415, 422]);
    e.get("/v1/integrations/{id}", get)
        .tag("integrations")
        .summary("Get an integration")
        .ok::<IntegrationJson>()
        .errors(&[404]);
    e.patch("/v1/integrations/{id}", update)
        .tag("integrations")
        .summary("Update an integration")
        .describe("Owners and admins; `config` and `secrets` replace the whole object")
        .body::<PatchBody>()
        .ok::<IntegrationJson>()
        .errors(&[403, 404, 409, 413, 415, 422]);
    e.delete("/v1/integrations/{id}", delete)
        .tag("integrations")
        .summary("Delete an integration")
        .describe("Owners and admins")
        .no_content()
        .errors(&[403, 404]);
}

/// An integration as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Integration)]
pub struct IntegrationJson {
    id: Uuid,
    #[schema(value_type = IntegrationProvider)]
    provider: String,
    name: String,
    /// The non-secret settings, as given.
    #[schema(value_type = Object)]
    config: Value,
    /// The names of the secrets that are set (never their values).
    secret_keys: Vec<String>,
    enabled: bool,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<Integration> for IntegrationJson {
    fn from(i: Integration) -> Self {
        Self {
            id: i.id,
            provider: i.provider,
            name: i.name,
            config: i.config,
            secret_keys: i.secret_keys,
            enabled: i.enabled,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

fn name_taken() -> ApiError {
    ApiError::Conflict {
        code: crate::error::ErrorCode::NameTaken,
        message: "another integration of this organization has this name",
    }
}

/// List query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[param(value_type = Option<IntegrationProvider>, inline)]
    provider: Option<String>,
    #[param(value_type = Option<bool>)]
    enabled: Option<String>,
}

/// `GET /v1/integrations?limit=&cursor=&provider=&enabled=`: newest first.
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: List<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let provider = f.optional(
        "provider",
        q.filter.provider.as_deref(),
        IntegrationProvider::parse,
    );
    let enabled = f.boolean("enabled", q.filter.enabled.as_deref());
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list(tx, &IntegrationFilter { provider, enabled }, q.page).await?;
    Ok(q.respond(page, IntegrationJson::from))
}

/// Create body. `config` and `secrets` default to `{}`, `enabled` to true.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IntegrationCreate)]
pub struct CreateBody {
    #[schema(required = true, value_type = IntegrationProvider)]
    provider: Option<String>,
    /// Unique within the organization (409 `name_taken`).
    #[schema(required = true)]
    name: Option<String>,
    /// Non-secret settings: a JSON object, bounded in size and depth, lower-case identifier
    /// keys; keys that name a credential (`password`, `token`, `api_key`, `secret`...) are
    /// refused: those belong in `secrets`.
    #[schema(value_type = Option<Object>)]
    config: Option<Value>,
    /// Write-only credentials: an object of string values, never returned (see
    /// `secret_keys`).
    #[schema(value_type = Option<Object>)]
    secrets: Option<Value>,
    enabled: Option<bool>,
}

/// `POST /v1/integrations` (201; owners and admins).
#[tracing::instrument(name = "create_integration", skip_all)]
pub async fn create(
    state: web::Data<AppState>,
    tenant: Tenant,
    idem: Idempotency,
    body: crate::extract::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    tenant.require_admin()?;
    let empty = Value::Object(Map::new());
    let mut f = Fields::default();
    let provider = f.required(
        "provider",
        body.provider.as_deref(),
        IntegrationProvider::parse,
    );
    let name = f.required("name", body.name.as_deref(), IntegrationName::parse);
    let config = f.optional_value(
        "config",
        Some(body.config.as_ref().unwrap_or(&empty)),
        IntegrationConfig::parse,
    );
    let secrets = f.optional_value(
        "secrets",
        Some(body.secrets.as_ref().unwrap_or(&empty)),
        IntegrationSecrets::parse,
    );
    f.finish()?;
    let (Some(provider), Some(name), Some(config), Some(secrets)) =
        (provider, name, config, secrets)
    else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let new = NewIntegration {
        provider,
        name,
        config,
        secrets,
        enabled: body.enabled.unwrap_or(true),
    };
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    let integration = match db::create(&mut tx, &new).await {
        Err(e) if e.is_unique_violation_of(db::NAME_KEY) => return Err(name_taken()),
        other => other?,
    };
    let id = integration.id;
    let created = super::created("/v1/integrations", id, IntegrationJson::from(integration));
    let created = tx.commit(created).await?;
    tracing::info!(integration.id = %id, provider = provider.as_str(), "integration created");
    Ok(created)
}

/// `GET /v1/integrations/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, IntegrationId::parse)?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let integration = db::get(tx, id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(IntegrationJson::from(integration)))
}

/// Patch body: absent fields stay; `config` and `secrets` replace the whole object.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IntegrationPatch)]
pub struct PatchBody {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String)]
    name: Option<Option<String>>,
    /// As on create.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Object)]
    config: Option<Option<Value>>,
    /// As on create; replaces every secret.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Object)]
    secrets: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = bool)]
    enabled: Option<Option<bool>>,
}

/// `PATCH /v1/integrations/{id}` (owners and admins).
#[tracing::instrument(name = "update_integration", skip_all)]
pub async fn update(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
    body: crate::extract::Json<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, IntegrationId::parse)?;
    tenant.require_admin()?;
    let mut f = Fields::default();
    let name = f.not_null("name", &body.name, IntegrationName::parse);
    let config = f
        .present_not_null("config", body.config.as_ref().map(Option::as_ref))
        .and_then(|v| f.optional_value("config", Some(v), IntegrationConfig::parse));
    let secrets = f
        .present_not_null("secrets", body.secrets.as_ref().map(Option::as_ref))
        .and_then(|v| f.optional_value("secrets", Some(v), IntegrationSecrets::parse));
    let enabled = f
        .present_not_null("enabled", body.enabled.as_ref().map(Option::as_ref))
        .copied();
    f.finish()?;
    let patch = IntegrationPatch {
        name,
        config,
        secrets,
        enabled,
    };
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock(&mut tx, id), IntegrationJson::from)
        .await?;
    let integration = match db::update(&mut tx, id, &patch).await {
        Err(e) if e.is_unique_violation_of(db::NAME_KEY) => return Err(name_taken()),
        other => other?.ok_or(ApiError::NotFound)?,
    };
    tx.commit().await?;
    tracing::info!(
        integration.id = %integration.id,
        secrets_replaced = patch.secrets.is_some(),
        "integration updated"
    );
    Ok(HttpResponse::Ok().json(IntegrationJson::from(integration)))
}

/// `DELETE /v1/integrations/{id}` (204; owners and admins).
pub async fn delete(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, IntegrationId::parse)?;
    tenant.require_admin()?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock(&mut tx, id), IntegrationJson::from)
        .await?;
    if !db::delete(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
