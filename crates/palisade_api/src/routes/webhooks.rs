//! `/v1/webhooks`: outbound webhook endpoints. Every member reads them; owners and admins
//! create, change, rotate and delete them (checked here, 403, and by the policies).
//!
//! The signing secret is generated here and appears in exactly two responses: the 201 that
//! creates the webhook and the 200 of `POST /v1/webhooks/{id}/rotate-secret` (both
//! `Cache-Control: no-store`). It is stored for signing deliveries, but the app role cannot
//! read it back, so no other response can contain it.

use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::{HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::outbound_webhooks::{
    self as db, NewWebhook, Webhook, WebhookFilter, WebhookPatch,
};
use palisade_domain::{WebhookDescription, WebhookEvent, WebhookEvents, WebhookId, WebhookUrl};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Fields, nullable, parse_id};
use crate::auth::{Tenant, UserSession};
use crate::credentials::generate_webhook_secret;
use crate::endpoints::Auth;
use crate::etag::IfMatch;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::list::List;
use crate::{ApiError, AppState};

/// Declares this family's routes (see [`crate::endpoints`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    e.get("/v1/webhooks", list)
        .tag("webhooks")
        .summary("List webhooks")
        .list_query::<ListQuery>()
        .list::<WebhookJson>()
        .errors(&[422]);
    e.post("/v1/webhooks", create)
        .tag("webhooks")
        .summary("Create a webhook")
        .describe("Owners and admins; the answer carries `signing_secret`, shown this once")
        .body::<CreateBody>()
        .created::<WithSecret>()
        .errors(&[403, 413, 415, 422]);
    e.get("/v1/webhooks/{id}", get)
        .tag("webhooks")
        .summary("Get a webhook")
        .ok::<WebhookJson>()
        .errors(&[404]);
    e.patch("/v1/webhooks/{id}", update)
        .tag("webhooks")
        .summary("Update a webhook")
        .describe("Owners and admins")
        .body::<PatchBody>()
        .ok::<WebhookJson>()
        .errors(&[403, 404, 413, 415, 422]);
    e.delete("/v1/webhooks/{id}", delete)
        .tag("webhooks")
        .summary("Delete a webhook")
        .describe("Owners and admins")
        .no_content()
        .errors(&[403, 404]);
    e.post("/v1/webhooks/{id}/rotate-secret", rotate_secret)
        .auth(Auth::User)
        .tag("webhooks")
        .summary("Rotate a webhook's signing secret")
        .describe("Owners and admins, with a user's session; the old secret stops being used at once, the new one is in this answer only")
        .ok::<WithSecret>()
        .errors(&[403, 404]);
}

/// A webhook as clients see it (never with its secret).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Webhook)]
pub struct WebhookJson {
    id: Uuid,
    /// Where deliveries are posted (public HTTPS).
    #[schema(format = "uri")]
    url: String,
    description: Option<String>,
    /// The events delivered to it.
    #[schema(value_type = Vec<WebhookEvent>)]
    event_types: Vec<String>,
    enabled: bool,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<Webhook> for WebhookJson {
    fn from(w: Webhook) -> Self {
        Self {
            id: w.id,
            url: w.url,
            description: w.description,
            event_types: w.event_types,
            enabled: w.enabled,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// A webhook with its freshly generated secret: the only shape that carries it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WebhookWithSecret)]
struct WithSecret {
    #[serde(flatten)]
    webhook: WebhookJson,
    /// Signs every delivery; shown in this answer only.
    signing_secret: String,
}

fn with_secret(status: actix_web::http::StatusCode, body: WithSecret) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(body)
}

/// List query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[param(value_type = Option<bool>)]
    enabled: Option<String>,
    /// Only webhooks that receive this event.
    #[param(value_type = Option<WebhookEvent>, inline)]
    event_type: Option<String>,
}

/// `GET /v1/webhooks?limit=&cursor=&enabled=&event_type=`: newest first.
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: List<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let enabled = f.boolean("enabled", q.filter.enabled.as_deref());
    let event_type = f.optional("event_type", q.filter.event_type.as_deref(), |s| {
        WebhookEvent::parse(s).map(|e| e.as_str().to_owned())
    });
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list(
        tx,
        &WebhookFilter {
            enabled,
            event_type,
        },
        q.page,
    )
    .await?;
    Ok(q.respond(page, WebhookJson::from))
}

/// Create body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookCreate)]
pub struct CreateBody {
    /// A public HTTPS URL.
    #[schema(required = true, format = "uri")]
    url: Option<String>,
    #[schema(required = true, value_type = Vec<WebhookEvent>)]
    event_types: Option<Vec<String>>,
    description: Option<String>,
    /// Default: true.
    enabled: Option<bool>,
}

/// `POST /v1/webhooks` (201 with `signing_secret`, shown this once; owners and admins).
#[tracing::instrument(name = "create_webhook", skip_all)]
pub async fn create(
    state: web::Data<AppState>,
    tenant: Tenant,
    idem: Idempotency,
    body: crate::extract::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    tenant.require_admin()?;
    let mut f = Fields::default();
    let url = f.required("url", body.url.as_deref(), WebhookUrl::parse);
    let event_types = match &body.event_types {
        None => {
            f.missing("event_types");
            None
        }
        Some(names) => match WebhookEvents::parse(names) {
            Ok(e) => Some(e),
            Err(e) => {
                f.invalid("event_types", e.reason());
                None
            }
        },
    };
    let description = f.optional(
        "description",
        body.description.as_deref(),
        WebhookDescription::parse,
    );
    f.finish()?;
    let (Some(url), Some(event_types)) = (url, event_types) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let new = NewWebhook {
        url,
        description,
        event_types,
        enabled: body.enabled.unwrap_or(true),
    };
    let secret = generate_webhook_secret()?;
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    let webhook = db::create(&mut tx, &new, &secret).await?;
    let id = webhook.id;
    let location = format!("/v1/webhooks/{id}");
    let mut response = with_secret(
        actix_web::http::StatusCode::CREATED,
        WithSecret {
            webhook: webhook.into(),
            signing_secret: secret,
        },
    );
    if let Ok(value) = HeaderValue::from_str(&location) {
        response
            .headers_mut()
            .insert(actix_web::http::header::LOCATION, value);
    }
    let response = tx.commit_without(response, &["signing_secret"]).await?;
    tracing::info!(webhook.id = %id, "webhook created");
    Ok(response)
}

/// `GET /v1/webhooks/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, WebhookId::parse)?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let webhook = db::get(tx, id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(WebhookJson::from(webhook)))
}

/// Patch body: absent fields stay, `null` clears `description`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookPatch)]
pub struct PatchBody {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String, format = "uri")]
    url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Vec<WebhookEvent>)]
    event_types: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = bool)]
    enabled: Option<Option<bool>>,
}

/// `PATCH /v1/webhooks/{id}` (owners and admins).
#[tracing::instrument(name = "update_webhook", skip_all)]
pub async fn update(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
    body: crate::extract::Json<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, WebhookId::parse)?;
    tenant.require_admin()?;
    let mut f = Fields::default();
    let url = f.not_null("url", &body.url, WebhookUrl::parse);
    let event_types = f
        .present_not_null(
            "event_types",
            body.event_types.as_ref().map(Option::as_deref),
        )
        .and_then(|names| match WebhookEvents::parse(names) {
            Ok(e) => Some(e),
            Err(e) => {
                f.invalid("event_types", e.reason());
                None
            }
        });
    let description = match &body.description {
        None => None,
        Some(None) => Some(None),
        Some(Some(s)) => f
            .optional("description", Some(s), WebhookDescription::parse)
            .map(Some),
    };
    let enabled = f
        .present_not_null("enabled", body.enabled.as_ref().map(Option::as_ref))
        .copied();
    f.finish()?;
    let patch = WebhookPatch {
        url,
        description,
        event_types,
        enabled,
    };
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock(&mut tx, id), WebhookJson::from)
        .await?;
    let webhook = db::update(&mut tx, id, &patch)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(WebhookJson::from(webhook)))
}

/// `POST /v1/webhooks/{id}/rotate-secret` (200 with the new `signing_secret`, shown this once;
/// the old one stops being used at once; owners and admins, with a user's session: a leaked API
/// key cannot take over a receiver's secret).
#[tracing::instrument(name = "rotate_webhook_secret", skip_all)]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    UserSession(tenant): UserSession,
    idem: Idempotency,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, WebhookId::parse)?;
    tenant.require_admin()?;
    let secret = generate_webhook_secret()?;
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    let webhook = db::rotate_secret(&mut tx, id, &secret)
        .await?
        .ok_or(ApiError::NotFound)?;
    let id = webhook.id;
    let response = with_secret(
        actix_web::http::StatusCode::OK,
        WithSecret {
            webhook: webhook.into(),
            signing_secret: secret,
        },
    );
    let response = tx.commit_without(response, &["signing_secret"]).await?;
    tracing::info!(webhook.id = %id, "webhook secret rotated");
    Ok(response)
}

/// `DELETE /v1/webhooks/{id}` (204; owners and admins).
pub async fn delete(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, WebhookId::parse)?;
    tenant.require_admin()?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock(&mut tx, id), WebhookJson::from)
        .await?;
    if !db::delete(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
