//! Outbound webhook queries: the row, its filters, its insert, update and secret rotation;
//! listing, reading, locking and deleting are [`crate::crud`]'s. None filters by organization
//! (the policies of `policies/410_outbound_webhooks.sql` do), and none reads `signing_secret`:
//! the app role may write it (create, rotate) but has no SELECT on it.

use palisade_domain::{
    UserId, WebhookDescription, WebhookEvent, WebhookEvents, WebhookId, WebhookUrl,
};
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
        /// Why the server disabled it, if it did: `delivery_failures` (every retry of a
        /// delivery failed for more than 24 hours), `enabler_removed` or `enabler_demoted` (the
        /// user in `enabled_by` was removed, or made a member). Cleared when it is enabled again.
        #[schema(value_type = Option<String>, example = "delivery_failures")]
        disabled_reason: Option<String>,
        /// When the server disabled it.
        #[serde(with = "palisade_domain::timestamp::option")]
        disabled_at: Option<OffsetDateTime>,
        /// The user on whose authority it sends where it sends: who created it, last changed
        /// its URL or last enabled it (an API key's creator, for a key's request). Removing
        /// that user, or making them a member, disables it. Null for a webhook created before
        /// this was recorded (migration V0172, December 2026) until one of those changes.
        enabled_by: Option<Uuid>,
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

crate::insert_type! {
    /// A webhook to create, with the signing secret the caller generated.
    ///
    /// Creates the webhook (owners and admins: RLS refuses others).
    pub struct NewWebhook into Webhook {
        /// The endpoint.
        url: WebhookUrl,
        /// Free text.
        description: Option<WebhookDescription>,
        /// Subscribed event types.
        event_types: WebhookEvents,
        /// Whether it starts enabled.
        enabled: bool,
        /// Signs its deliveries (written, never read back).
        signing_secret: palisade_domain::Secret,
    }
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
        /// Only those this user answers for (outbound_webhooks_org_enabled_by_idx).
        enabled_by: UserId => "enabled_by = $",
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

/// Locks (`FOR UPDATE`) the enabled webhooks whose `enabled_by` is `user`, before a removal or
/// a demotion to member touches the user's row (see [`disable_enabled_by`]). Owners and admins
/// only (RLS).
pub async fn lock_enabled_by(tx: &mut TenantTx, user: UserId) -> Result<(), DbError> {
    tx.query(
        "SELECT id FROM palisade.outbound_webhooks WHERE enabled_by = $1 AND enabled FOR UPDATE",
        &[&user.as_uuid()],
    )
    .await?;
    Ok(())
}

/// Disables every enabled webhook whose `enabled_by` is `user`, once this transaction has
/// removed the user or made them a member (`DELETE` and `PATCH /v1/members/{id}`): where a
/// webhook sends the organization's events was chosen on that user's authority, which is gone.
/// The trigger `outbound_webhooks_enabled_by` (sql/V0175) writes the reason from what it finds
/// of the user (`enabler_removed`, `enabler_demoted`); palisade_app cannot write one. Owners and
/// admins only (RLS). Enabling one again makes its enabler its `enabled_by`. Returns how many.
pub async fn disable_enabled_by(tx: &mut TenantTx, user: UserId) -> Result<u64, DbError> {
    tx.execute(
        "UPDATE palisade.outbound_webhooks SET enabled = false, updated_at = now() \
         WHERE enabled_by = $1 AND enabled",
        &[&user.as_uuid()],
    )
    .await
}
