//! `/v1/integrations`: connections to outside services. Every member reads them; owners and
//! admins create, change and delete them (checked here, 403, and by the policies). `secrets`
//! is write-only: a response says which secret keys are set (`secret_keys`), never their values.
//! The handlers are [`crate::resource`]'s.

use palisade_db::integrations::{
    self as db, Integration, IntegrationFilter, IntegrationPatch, NewIntegration,
};
use palisade_domain::{
    IntegrationConfig, IntegrationName, IntegrationProvider, IntegrationSecrets,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::Fields;
use crate::error::ErrorCode;
use crate::resource::{self, Created, Violation};

/// The integration family.
pub(crate) struct Integrations;

resource::family! {
    Integrations: Integration => Integration, "/v1/integrations", "integrations", "an integration", "integrations";
    const ADMIN_WRITES: bool = true;
    const VIOLATIONS: &'static [Violation] = &[
        Violation::on_write(db::NAME_KEY, || {
            resource::taken(
                ErrorCode::NameTaken,
                "name",
                "another integration of this organization has this name",
            )
        }),
        // jsonb prints a number with all its digits (1e300: 301) and a space after each `:` and
        // `,`: text within the bounds as sent can be over the column's as printed.
        Violation::on_write(db::CONFIG_CHECK, || resource::too_large_as_stored("config")),
        Violation::on_write(db::SECRETS_CHECK, || resource::too_large_as_stored("secrets")),
    ];
}

/// Declares this family's routes (see [`crate::resource`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    resource::list_route::<Integrations>(e);
    resource::create_route::<Integrations>(e);
    resource::get_route::<Integrations>(e);
    resource::update_route::<Integrations>(e)
        .describe("Owners and admins; `config` and `secrets` replace the whole object");
    resource::delete_route::<Integrations>(e);
}

crate::list::filters! {
    /// List query string.
    Integrations: ListQuery => IntegrationFilter {
        provider: Choice<IntegrationProvider>,
        enabled: Flag,
    }
}

/// Create body. `config` and `secrets` default to `{}`, `enabled` to true.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IntegrationCreate)]
pub struct CreateBody {
    #[schema(required = true, value_type = IntegrationProvider)]
    provider: Option<String>,
    /// Unique within the organization (409 `name_taken`).
    #[schema(required = true, value_type = String)]
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

crate::rules::field_rules!(CreateBody {
    "name": Text<IntegrationName>,
    "config": Object<IntegrationConfig>,
    "secrets": Object<IntegrationSecrets>,
});

impl Created for Integrations {
    type Body = CreateBody;
    type New = NewIntegration;

    fn parse(body: &CreateBody, f: &mut Fields) -> Option<NewIntegration> {
        let empty = Value::Object(Map::new());
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
        Some(NewIntegration {
            provider: provider?,
            name: name?,
            config: config?,
            secrets: secrets?,
            enabled: body.enabled.unwrap_or(true),
        })
    }
}

resource::patch! {
    /// Patch body: absent fields stay; `config` and `secrets` replace the whole object.
    Integrations: PatchBody as IntegrationPatch => IntegrationPatch {
        name: set Text<IntegrationName>,
        /// As on create.
        config: set Object<IntegrationConfig>,
        /// As on create; replaces every secret.
        secrets: set Object<IntegrationSecrets>,
        enabled: set Flag,
    }
}
