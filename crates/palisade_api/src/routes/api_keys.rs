//! `/v1/api-keys`: keys that servers use instead of a user's token. Every member sees the
//! organization's keys (name, role, prefix, last use; never the key or its hash); owners and
//! admins mint and revoke them (checked here, 403, and by the policies), with a user's session:
//! a key cannot mint or revoke keys (403 `requires_user_session`, see
//! [`crate::auth::UserSession`]).
//!
//! A key is shown once, in the 201 that mints it (`Cache-Control: no-store`). It acts for its
//! organization with the role it was given (`admin` or `member`, never above the minter's own
//! role, never `owner`), as the user who minted it. `DELETE` revokes: the key answers 401 from
//! then on and stays listed with its `revoked_at`.

use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::{HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::api_keys::{self as db, ApiKey, ApiKeyFilter, NewApiKey};
use palisade_domain::{ApiKeyId, ApiKeyName, Role};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Fields, parse_id};
use crate::auth::{Tenant, UserSession};
use crate::credentials::GeneratedApiKey;
use crate::endpoints::Auth;
use crate::etag::IfMatch;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::list::List;
use crate::{ApiError, AppState};

/// Declares this family's routes (see [`crate::endpoints`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    e.get("/v1/api-keys", list)
        .tag("api-keys")
        .summary("List API keys")
        .list_query::<ListQuery>()
        .list::<ApiKeyJson>()
        .errors(&[422]);
    e.post("/v1/api-keys", create)
        .auth(Auth::User)
        .tag("api-keys")
        .summary("Create an API key")
        .describe("Owners and admins, with a user's session; the key is in this answer only")
        .body::<CreateBody>()
        .created::<WithKey>()
        .errors(&[403, 413, 415, 422]);
    e.get("/v1/api-keys/{id}", get)
        .tag("api-keys")
        .summary("Get an API key")
        .ok::<ApiKeyJson>()
        .errors(&[404]);
    e.delete("/v1/api-keys/{id}", revoke)
        .auth(Auth::User)
        .tag("api-keys")
        .summary("Revoke an API key")
        .describe("Revokes the key (204, idempotent; owners and admins, with a user's session)")
        .no_content()
        .errors(&[403, 404]);
}

/// An API key as clients see it (never the key, never its hash).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ApiKey)]
pub struct ApiKeyJson {
    id: Uuid,
    name: String,
    /// What the key may do: `admin` or `member`.
    role: Role,
    /// The key's first characters, to recognise it.
    prefix: String,
    /// The member who created it.
    created_by: Uuid,
    #[serde(with = "palisade_domain::timestamp::option")]
    last_used_at: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp::option")]
    revoked_at: Option<OffsetDateTime>,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<ApiKey> for ApiKeyJson {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id,
            name: k.name,
            role: k.role,
            prefix: k.prefix,
            created_by: k.created_by,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
            created_at: k.created_at,
            updated_at: k.updated_at,
        }
    }
}

/// List query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `true`: only revoked keys; `false`: only working ones.
    #[param(value_type = Option<bool>)]
    revoked: Option<String>,
}

/// `GET /v1/api-keys?limit=&cursor=&revoked=`: newest first.
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: List<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let revoked = f.boolean("revoked", q.filter.revoked.as_deref());
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list(tx, &ApiKeyFilter { revoked }, q.page).await?;
    Ok(q.respond(page, ApiKeyJson::from))
}

/// Create body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApiKeyCreate)]
pub struct CreateBody {
    #[schema(required = true)]
    name: Option<String>,
    /// `admin` or `member` (never `owner`), not above your own role.
    #[schema(required = true, value_type = Role)]
    role: Option<String>,
}

/// The key with its secret: the only shape that carries it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ApiKeyWithKey)]
struct WithKey {
    #[serde(flatten)]
    api_key: ApiKeyJson,
    /// The key itself (`pk_...`), shown this once: send it as `x-api-key`.
    key: String,
}

/// `POST /v1/api-keys` (201 with `key`, shown this once; owners and admins, with a user's
/// session: a key never mints a key).
#[tracing::instrument(name = "create_api_key", skip_all)]
pub async fn create(
    state: web::Data<AppState>,
    UserSession(tenant): UserSession,
    idem: Idempotency,
    body: crate::extract::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    tenant.require_admin()?;
    let mut f = Fields::default();
    let name = f.required("name", body.name.as_deref(), ApiKeyName::parse);
    let role = f.required("role", body.role.as_deref(), Role::parse_for_api_key);
    f.finish()?;
    let (Some(name), Some(role)) = (name, role) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    if role > tenant.0.role {
        return Err(ApiError::Forbidden {
            code: crate::error::ErrorCode::Forbidden,
            message: "a key cannot have a role above your own",
        });
    }
    let generated = GeneratedApiKey::generate()?;
    let new = NewApiKey {
        name,
        role,
        prefix: generated.display_prefix(),
        key_hash: generated.hash(),
    };
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    let api_key = db::create(&mut tx, &new).await?;
    let id = api_key.id;
    let response = HttpResponse::Created()
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/v1/api-keys/{id}"),
        ))
        .json(WithKey {
            api_key: api_key.into(),
            key: generated.expose().to_owned(),
        });
    let response = tx.commit_without(response, &["key"]).await?;
    tracing::info!(api_key.id = %id, role = role.as_str(), "api key created");
    Ok(response)
}

/// `GET /v1/api-keys/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, ApiKeyId::parse)?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let api_key = db::get(tx, id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(ApiKeyJson::from(api_key)))
}

/// `DELETE /v1/api-keys/{id}`: revokes the key (204, idempotent; owners and admins, with a
/// user's session).
#[tracing::instrument(name = "revoke_api_key", skip_all)]
pub async fn revoke(
    state: web::Data<AppState>,
    UserSession(tenant): UserSession,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, ApiKeyId::parse)?;
    tenant.require_admin()?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock(&mut tx, id), ApiKeyJson::from)
        .await?;
    let api_key = db::revoke(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    tracing::info!(api_key.id = %api_key.id, "api key revoked");
    Ok(HttpResponse::NoContent().finish())
}
