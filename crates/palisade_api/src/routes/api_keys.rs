//! `/v1/api-keys`: keys that servers use instead of a user's token. Every member sees the
//! organization's keys (name, role, prefix, last use; never the key or its hash); owners and
//! admins mint and revoke them (checked by [`crate::resource`], 403, and by the policies), with a user's session:
//! a key cannot mint or revoke keys (403 `requires_user_session`, see
//! [`crate::auth::UserSession`]).
//!
//! A key is shown once, in the 201 that mints it (`Cache-Control: no-store`). It acts for its
//! organization with the role it was given (`admin` or `member`, never above the minter's own
//! role, never `owner`), as the user who minted it. `DELETE` revokes: the key answers 401 from
//! then on and stays listed with its `revoked_at`.

use actix_web::{HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::api_keys::{self as db, ApiKey, ApiKeyFilter, NewApiKey};
use palisade_domain::{ApiKeyId, ApiKeyName, Role};
use serde::{Deserialize, Serialize};

use super::{Fields, parse_id};
use crate::auth::{Tenant, UserSession};
use crate::credentials::GeneratedApiKey;
use crate::endpoints::Auth;
use crate::etag::IfMatch;
use crate::resource::{self, Created, OneTimeSecret};
use crate::{ApiError, AppState};

/// The API key family.
pub(crate) struct ApiKeys;

resource::family! {
    ApiKeys: ApiKey => ApiKey, "/v1/api-keys", "api-keys", "an API key", "API keys";
    const ADMIN_WRITES: bool = true;
    const USER_SESSION_WRITES: bool = true;
}

/// Declares this family's routes (see [`crate::resource`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    resource::list_route::<ApiKeys>(e);
    resource::create_route::<ApiKeys>(e)
        .describe("Owners and admins, with a user's session; the key is in this answer only")
        .created::<WithKey>();
    resource::get_route::<ApiKeys>(e);
    e.delete("/v1/api-keys/{id}", revoke)
        .auth(Auth::User)
        .tag("api-keys")
        .summary("Revoke an API key")
        .describe("Revokes the key (204, idempotent; owners and admins, with a user's session)")
        .no_content()
        .errors(&[403, 404]);
}

crate::list::filters! {
    /// List query string.
    ApiKeys: ListQuery => ApiKeyFilter {
        /// `true`: only revoked keys; `false`: only working ones.
        revoked: Flag,
    }
}

/// Create body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApiKeyCreate)]
pub struct CreateBody {
    #[schema(required = true, value_type = String)]
    name: Option<String>,
    /// `admin` or `member` (never `owner`), not above your own role.
    #[schema(required = true, value_type = Role)]
    role: Option<String>,
}

/// The key with its secret: the only shape that carries it.
// Documents the answer `resource::with_secret` writes (the row's fields, then the key).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ApiKeyWithKey)]
struct WithKey {
    #[serde(flatten)]
    api_key: ApiKey,
    /// The key itself (`pk_...`), shown this once: send it as `x-api-key`.
    key: String,
}

impl Created for ApiKeys {
    type Body = CreateBody;
    type New = NewApiKey;

    fn parse(body: &CreateBody, f: &mut Fields) -> Option<NewApiKey> {
        let name = f.required("name", body.name.as_deref(), ApiKeyName::parse);
        let role = f.required("role", body.role.as_deref(), Role::parse_for_api_key);
        Some(NewApiKey {
            name: name?,
            role: role?,
            prefix: String::new(),
            key_hash: [0; 32],
        })
    }

    /// A key never has a role above its minter's; the key is generated here and shown once (a
    /// key never mints a key: the route takes a user's session).
    fn prepare(new: &mut NewApiKey, tenant: &Tenant) -> Result<Option<OneTimeSecret>, ApiError> {
        if new.role > tenant.0.role {
            return Err(ApiError::Forbidden {
                code: crate::error::ErrorCode::Forbidden,
                message: "a key cannot have a role above your own",
            });
        }
        let generated = GeneratedApiKey::generate()?;
        new.prefix = generated.display_prefix();
        new.key_hash = generated.hash();
        Ok(Some(OneTimeSecret {
            field: "key",
            value: palisade_domain::Secret::new(generated.expose()),
        }))
    }
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
        .check(
            palisade_db::crud::lock::<ApiKey>(&mut tx, id.as_uuid()),
            ApiKey::from,
        )
        .await?;
    let api_key = db::revoke(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    tracing::info!(api_key.id = %api_key.id, "api key revoked");
    Ok(HttpResponse::NoContent().finish())
}
