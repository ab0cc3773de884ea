//! Outbound webhook queries: the row, its filters, its insert, update and secret rotation;
//! listing, reading, locking and deleting are [`crate::crud`]'s. None filters by organization
//! (the policies of `policies/410_outbound_webhooks.sql` do), and none reads `signing_secret`:
//! the app role may write it (create, rotate) but has no SELECT on it.

use palisade_domain::{WebhookDescription, WebhookEvent, WebhookEvents, WebhookId, WebhookUrl};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crud;
use crate::{DbError, TenantTx};

crate::table! {
    /// A webhook endpoint as stored and as clients see it, without its signing secret.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct Webhook in "palisade.outbound_webhooks" {
        /// Its id.
        id: Uuid,
        /// Where deliveries are posted (public HTTPS).
        #[schema(format = "uri")]
        url: String,
        /// Free text.
        description: Option<String>,
        /// The events delivered to it.
        #[schema(value_type = Vec<WebhookEvent>)]
        event_types: Vec<String>,
        /// Whether deliveries are made.
        enabled: bool,
        /// Always true: a webhook has a signing secret from its creation; the value is shown
        /// only in the answers that generate it (create, `rotate-secret`).
        has_signing_secret: bool,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change (including a secret rotation).
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
}

/// A webhook to create, with the signing secret the caller generated.
#[derive(Clone, Debug)]
pub struct NewWebhook {
    /// The endpoint.
    pub url: WebhookUrl,
    /// Free text.
    pub description: Option<WebhookDescription>,
    /// Subscribed event types.
    pub event_types: WebhookEvents,
    /// Whether it starts enabled.
    pub enabled: bool,
    /// Signs its deliveries (written, never read back).
    pub signing_secret: palisade_domain::Secret,
}

crate::patch_type! {
    /// A partial update: `None` leaves a field alone; `Some(None)` clears the description.
    pub struct WebhookPatch for Webhook {
        /// New endpoint.
        url: set WebhookUrl,
        /// New or cleared description.
        description: clear WebhookDescription,
        /// New event types (replace the list).
        event_types: set WebhookEvents,
        /// Enable or disable.
        enabled: set bool,
    }
}

crate::filter_type! {
    /// List filters.
    pub struct WebhookFilter for Webhook {
        /// Only enabled (or disabled) ones.
        enabled: bool => "enabled = $",
        /// Only those subscribed to this event type.
        event_type: WebhookEvent => "$::text = ANY (event_types)",
    }
}

impl crud::Insert for NewWebhook {
    type Row = Webhook;
    /// Creates the webhook (owners and admins: RLS refuses others).
    async fn insert(&self, tx: &mut TenantTx) -> Result<Webhook, DbError> {
        crud::returning(
            tx,
            "INSERT INTO palisade.outbound_webhooks \
                 (id, url, description, event_types, enabled, signing_secret) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &WebhookId::new().as_uuid(),
                &self.url.as_str(),
                &self.description.as_ref().map(WebhookDescription::as_str),
                &self.event_types.names(),
                &self.enabled,
                &self.signing_secret.expose(),
            ],
        )
        .await
    }
}

/// Replaces the signing secret (writing the new one without reading the old); `None` when the
/// webhook does not exist in this organization.
pub async fn rotate_secret(
    tx: &mut TenantTx,
    id: WebhookId,
    signing_secret: &palisade_domain::Secret,
) -> Result<Option<Webhook>, DbError> {
    crud::returning_opt(
        tx,
        "UPDATE palisade.outbound_webhooks SET signing_secret = $2, updated_at = now() \
         WHERE id = $1",
        &[&id.as_uuid(), &signing_secret.expose()],
    )
    .await
}
