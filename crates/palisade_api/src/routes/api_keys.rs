//! `/v1/api-keys`: keys that servers use instead of a user's token. Every member sees the
//! organization's keys (name, role, prefix, last use; never the key or its hash); owners and
//! admins mint and revoke them (checked by [`crate::resource`], 403, and by the policies), with a user's session:
//! a key cannot mint or revoke keys (403 `requires_user_session`, see
//! [`crate::auth::UserSession`]).
//!
//! A key is shown once, in the 201 that mints it (`Cache-Control: no-store`). It acts for its
//! organization with the role it was given (`admin` or `member`, never above the minter's own
//! role, never `owner`), as the user who minted it. `DELETE` revokes: the key answers 401 from
//! then on and stays listed with its `revoked_at`. A key minted with `expires_at` answers 401 once
//! that time has passed (by the database's clock); no route, and not the app role, can change it
//! afterwards.

use palisade_db::api_keys::{self as db, ApiKey, ApiKeyFilter, NewApiKey};
use palisade_domain::{ApiKeyName, Role, UserId};
use serde::{Deserialize, Serialize};

use super::Fields;
use crate::ApiError;
use crate::auth::Tenant;
use crate::credentials::GeneratedApiKey;
use crate::resource::{self, Created, OneTimeSecret, Violation};

/// The API key family.
pub(crate) struct ApiKeys;

resource::family! {
    ApiKeys: ApiKey => ApiKey, "/v1/api-keys", "api-keys", "an API key", "API keys";
    const ADMIN_WRITES: bool = true;
    const USER_SESSION_WRITES: bool = true;
    const REVOKE: Option<&'static str> = Some(db::REVOKE);
    // An expiry the API's clock found in the future but the database's (its `created_at`) did
    // not: the same 422 as one already past.
    const VIOLATIONS: &'static [Violation] =
        &[Violation::on_write(db::EXPIRES_AFTER_CREATION, expiry_not_in_the_future)];
}

/// The 422 for an `expires_at` that is not in the future.
fn expiry_not_in_the_future() -> ApiError {
    ApiError::Validation(vec![crate::error::FieldError::new(
        "expires_at",
        crate::error::FieldCode::Invalid,
        EXPIRY_IN_THE_PAST,
    )])
}

const EXPIRY_IN_THE_PAST: &str = "must be in the future";

/// Declares this family's routes (see [`crate::resource`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    resource::list_route::<ApiKeys>(e);
    resource::create_route::<ApiKeys>(e)
        .describe("Owners and admins whose own email address is verified (403 `email_not_verified` otherwise), with a user's session; the key is in this answer only")
        .created::<WithKey>();
    resource::get_route::<ApiKeys>(e);
    resource::delete_route::<ApiKeys>(e)
        .describe("Revokes the key (204, idempotent; owners and admins, with a user's session)");
}

crate::list::filters! {
    /// List query string.
    ApiKeys: ListQuery => ApiKeyFilter {
        /// `true`: only revoked keys; `false`: only keys not revoked (expired ones included).
        revoked: Flag,
        /// `true`: only keys whose `expires_at` has passed; `false`: only keys without an expiry
        /// or with one ahead. `?revoked=false&expired=false` lists the keys that work.
        expired: Flag,
        /// Only the keys this member created (a user's id, as `/v1/me` and the members list
        /// give it): the keys to review after a member's account was taken over.
        created_by: Id<UserId>,
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
    /// When the key stops working by itself (RFC 3339, in the future). Omitted or `null`: never.
    /// It cannot be changed afterwards; revoke the key and mint another.
    #[schema(format = DateTime)]
    expires_at: Option<String>,
}

crate::rules::field_rules!(CreateBody {
    "name": Text<palisade_domain::ApiKeyName>,
    "role": crate::rules::ApiKeyRole,
});

/// The key with its secret: the only shape that carries it.
// Documents the answer `resource::with_secret` writes (the row's fields, then the key).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ApiKeyWithKey)]
struct WithKey {
    #[serde(flatten)]
    api_key: ApiKey,
    /// The key itself (`pk_...`), shown this once: send it as `x-api-key`. Absent from a
    /// replay under the same `Idempotency-Key` (`Idempotency-Replayed: true`): it is not kept.
    #[schema(required = false, extensions(("x-palisade-secret" = json!(true))))]
    key: String,
}

impl Created for ApiKeys {
    type Body = CreateBody;
    type New = NewApiKey;
    const VERIFIED_CREATOR: bool = true;

    fn parse(body: &CreateBody, f: &mut Fields) -> Option<NewApiKey> {
        let name = f.required("name", body.name.as_deref(), ApiKeyName::parse);
        let role = f.required("role", body.role.as_deref(), Role::parse_for_api_key);
        let expires_at = f.time("expires_at", body.expires_at.as_deref());
        if expires_at.is_some_and(|t| t <= time::OffsetDateTime::now_utc()) {
            f.invalid("expires_at", EXPIRY_IN_THE_PAST);
        }
        Some(NewApiKey {
            name: name?,
            role: role?,
            prefix: String::new(),
            key_hash: [0; 32],
            expires_at,
        })
    }

    /// A key never has a role above its minter's; the key is generated here and shown once (a
    /// key never mints a key: the route takes a user's session, so `session` is its tenant).
    fn prepare(
        new: &mut NewApiKey,
        session: Option<&Tenant>,
    ) -> Result<Option<OneTimeSecret>, ApiError> {
        let tenant = session.ok_or_else(|| {
            ApiError::internal(
                "minting an API key needs the minter's session (USER_SESSION_WRITES)",
            )
        })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's CHECK on `expires_at` (the database's clock, when the API's ran behind) gives
    /// the same 422 as the route's own check.
    #[test]
    fn an_expiry_the_table_refuses_is_a_422_on_expires_at() {
        let refused = palisade_db::DbError::CheckViolation {
            constraint: db::EXPIRES_AFTER_CREATION.into(),
        };
        match resource::write_error::<ApiKeys>(refused) {
            ApiError::Validation(fields) => {
                assert_eq!(fields.len(), 1);
                assert_eq!(fields[0].field, "expires_at");
                assert_eq!(fields[0].reason, EXPIRY_IN_THE_PAST);
            }
            other => panic!("expected a 422, got {other:?}"),
        }
    }
}
