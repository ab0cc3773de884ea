//! `/v1/webhooks`: outbound webhook endpoints, served by [`crate::resource`]'s handlers. Every
//! member reads them; owners and admins create, change, rotate and delete them (checked there,
//! 403, and by the policies).
//!
//! The signing secret is generated here and appears in exactly two responses: the 201 that
//! creates the webhook and the 200 of `POST /v1/webhooks/{id}/rotate-secret` (both
//! `Cache-Control: no-store`). It is stored for signing deliveries, but the app role cannot
//! read it back, so no other response can contain it.

use actix_web::{HttpResponse, web};
use palisade_db::outbound_delivery::{
    self as delivery, DeliveryFilter, DeliveryStatus, OutboundDelivery,
};
use palisade_db::outbound_webhooks::{
    self as db, NewWebhook, Webhook, WebhookFilter, WebhookPatch,
};
use palisade_domain::{WebhookDescription, WebhookEvent, WebhookEvents, WebhookId, WebhookUrl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Fields, parse_id};
use crate::auth::{Caller, Tenant, UserSession};
use crate::credentials::generate_webhook_secret;
use crate::endpoints::Auth;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::resource::{self, Created, OneTimeSecret, Within};
use crate::{ApiError, AppState};

/// The outbound webhook family.
pub(crate) struct Webhooks;

resource::family! {
    Webhooks: Webhook => Webhook, "/v1/webhooks", "webhooks", "a webhook", "webhooks";
    const ADMIN_WRITES: bool = true;
}

/// Declares this family's routes (see [`crate::resource`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    resource::list_route::<Webhooks>(e);
    resource::create_route::<Webhooks>(e)
        .describe("Owners and admins whose own email address is verified (403 `email_not_verified` otherwise; an API key: its creator's); the answer carries `signing_secret`, shown this once")
        .created::<WithSecret>();
    resource::get_route::<Webhooks>(e);
    resource::update_route::<Webhooks>(e);
    resource::delete_route::<Webhooks>(e);
    resource::list_within_route::<Deliveries>(e)
        .summary("List a webhook's deliveries")
        .describe("Newest first: each event sent (or to send) to this endpoint, its status, attempts, last answer and next retry; 404 when the webhook is not this organization's");
    e.post(
        "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
        redeliver,
    )
    .auth(Auth::Tenant)
    .tag("webhooks")
    .summary("Send a delivery again")
    .describe("Owners and admins; queues the same event (same `webhook-id`) for this endpoint again, as a new delivery; 409 `webhook_disabled` while the webhook is disabled")
    .returns::<OutboundDelivery>(202, "Queued")
    .errors(&[403, 404, 409]);
    e.post("/v1/webhooks/{id}/rotate-secret", rotate_secret)
        .auth(Auth::User)
        .tag("webhooks")
        .summary("Rotate a webhook's signing secret")
        .describe("Owners and admins, with a user's session; the new secret signs from the next delivery attempt (one already under way may still go out signed with the old secret, within its 15 s) and is in this answer only")
        .ok::<WithSecret>()
        .errors(&[403, 404]);
}

/// A webhook's deliveries, listed under it (`/v1/webhooks/{id}/deliveries`).
pub(crate) struct Deliveries;

resource::family! {
    // Only the nested list and the redelivery are declared.
    Deliveries: OutboundDelivery => OutboundDelivery, "/v1/webhooks/{id}/deliveries", "webhooks", "a webhook delivery", "webhook deliveries";
}

crate::list::filters! {
    /// Delivery list query string.
    Deliveries: DeliveryListQuery => DeliveryFilter {
        /// The path's webhook (another one is 422).
        webhook_id: Id<Uuid>,
        status: Choice<DeliveryStatus>,
        event_type: Choice<WebhookEvent>,
    }
}

impl Within for Deliveries {
    type Parent = Webhook;
    const NESTED: &'static str = "/v1/webhooks/{id}/deliveries";

    fn within(filter: &mut DeliveryFilter, webhook: Uuid) -> Result<(), ApiError> {
        if filter.webhook_id.is_some_and(|w| w != webhook) {
            return Err(ApiError::invalid(
                "webhook_id",
                "is given by the path on this route",
            ));
        }
        filter.webhook_id = Some(webhook);
        Ok(())
    }
}

/// `POST /v1/webhooks/{id}/deliveries/{delivery_id}/redeliver` (202 with the new delivery).
#[tracing::instrument(name = "redeliver_webhook", skip_all)]
pub async fn redeliver(
    state: web::Data<AppState>,
    caller: Caller,
    idem: Idempotency,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (webhook, delivery_id) = path.into_inner();
    let webhook = parse_id(&webhook, WebhookId::parse)?;
    let delivery_id = resource::path_id(&delivery_id)?;
    let opened = caller
        .begin_as(&state, palisade_domain::Role::Admin)
        .await?;
    let mut tx = begin_or_replay!(idem, &state, opened);
    let Some(endpoint) = palisade_db::crud::lock::<Webhook>(&mut tx, webhook.as_uuid()).await?
    else {
        return Err(ApiError::NotFound);
    };
    if !endpoint.enabled {
        return Err(ApiError::Conflict {
            code: crate::error::ErrorCode::WebhookDisabled,
            message: "the webhook is disabled; enable it first",
        });
    }
    let queued = delivery::redeliver(&mut tx, webhook, delivery_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tracing::info!(webhook.id = %webhook, delivery.id = %queued.id, "webhook redelivery queued");
    tx.commit(HttpResponse::Accepted().json(queued)).await
}

/// A webhook with its freshly generated secret: the only shape that carries it.
// Documents the answer `resource::with_secret` writes (the row's fields, then the secret's).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WebhookWithSecret)]
struct WithSecret {
    #[serde(flatten)]
    webhook: Webhook,
    /// Signs every delivery; shown in this answer only. Absent from a replay under the same
    /// `Idempotency-Key` (`Idempotency-Replayed: true`): it is not kept.
    #[schema(required = false, extensions(("x-palisade-secret" = json!(true))))]
    signing_secret: String,
}

/// A new signing secret, shown once.
fn new_secret() -> Result<OneTimeSecret, ApiError> {
    Ok(OneTimeSecret {
        field: "signing_secret",
        value: palisade_domain::Secret::new(generate_webhook_secret()?),
    })
}

crate::list::filters! {
    /// List query string.
    Webhooks: ListQuery => WebhookFilter {
        enabled: Flag,
        /// Only webhooks that receive this event.
        event_type: Choice<WebhookEvent>,
        /// Only the webhooks this user answers for (`enabled_by`, a user's id as `/v1/me` and
        /// the members list give it): those to review after their account was taken over.
        enabled_by: Id<palisade_domain::UserId>,
    }
}

/// Create body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookCreate)]
pub struct CreateBody {
    /// A public HTTPS URL.
    #[schema(required = true, value_type = String, format = "uri")]
    url: Option<String>,
    #[schema(required = true, value_type = Vec<WebhookEvent>)]
    event_types: Option<Vec<String>>,
    description: Option<String>,
    /// Default: true.
    enabled: Option<bool>,
}

crate::rules::field_rules!(CreateBody {
    "url": Text<WebhookUrl>,
    "event_types": Items<palisade_domain::WebhookEvents, WebhookEvent>,
    "description": Text<WebhookDescription>,
});

fn event_types(f: &mut Fields, names: &[String]) -> Option<WebhookEvents> {
    match WebhookEvents::parse(names) {
        Ok(e) => Some(e),
        Err(e) => {
            f.invalid("event_types", e.reason());
            None
        }
    }
}

impl Created for Webhooks {
    type Body = CreateBody;
    type New = NewWebhook;
    const VERIFIED_CREATOR: bool = true;

    fn parse(body: &CreateBody, f: &mut Fields) -> Option<NewWebhook> {
        let url = f.required("url", body.url.as_deref(), WebhookUrl::parse);
        let event_types = match &body.event_types {
            None => {
                f.missing("event_types");
                None
            }
            Some(names) => event_types(f, names),
        };
        let description = f.optional(
            "description",
            body.description.as_deref(),
            WebhookDescription::parse,
        );
        Some(NewWebhook {
            url: url?,
            description,
            event_types: event_types?,
            enabled: body.enabled.unwrap_or(true),
            signing_secret: palisade_domain::Secret::new(""),
        })
    }

    /// Generates the signing secret, shown in the 201 only.
    fn prepare(
        new: &mut NewWebhook,
        _session: Option<&Tenant>,
    ) -> Result<Option<OneTimeSecret>, ApiError> {
        let secret = new_secret()?;
        new.signing_secret = secret.value.clone();
        Ok(Some(secret))
    }
}

resource::patch! {
    /// Patch body: absent fields stay, `null` clears `description`.
    Webhooks: PatchBody as WebhookPatch => WebhookPatch {
        #[schema(format = "uri")]
        url: set Text<WebhookUrl>,
        event_types: set Items<WebhookEvents, WebhookEvent>,
        description: clear Text<WebhookDescription>,
        enabled: set Flag,
    }
}

/// `POST /v1/webhooks/{id}/rotate-secret` (200 with the new `signing_secret`, shown this once;
/// it signs from the next delivery attempt: one claimed before the rotation committed read the
/// old secret then, and may still send with it, within [`crate::delivery::client::ATTEMPT_TIMEOUT`];
/// owners and admins, with a user's session: a leaked API key cannot take over a receiver's
/// secret).
#[tracing::instrument(name = "rotate_webhook_secret", skip_all)]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    UserSession(tenant): UserSession,
    idem: Idempotency,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, WebhookId::parse)?;
    tenant.require_admin()?;
    let secret = new_secret()?;
    let opened = tenant
        .begin_at(&state, palisade_domain::Role::Admin)
        .await?;
    let mut tx = begin_or_replay!(idem, &state, opened);
    // One statement (a missing webhook: no row, nothing changed), its COMMIT with it; with an
    // `Idempotency-Key`, the key's stored response takes the COMMIT instead.
    tx.commit_with_next_statement();
    let webhook = db::rotate_secret(&mut tx, id, &secret.value)
        .await?
        .ok_or(ApiError::NotFound)?;
    let id = webhook.id;
    let response = resource::with_secret(HttpResponse::Ok(), webhook, &secret);
    let response = tx.commit_without(response, &[secret.field]).await?;
    tracing::info!(webhook.id = %id, "webhook secret rotated");
    Ok(response)
}
