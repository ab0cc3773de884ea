//! `/v1/webhook-deliveries`: the carrier and email-provider webhook deliveries this
//! organization received (provider, kind, the provider's id, outcome, the message or call it was
//! about), newest first. Every role reads them (they hold no message content); nobody writes
//! them through the API: only a verified webhook records one (`policies/500_webhook_deliveries.sql`).

use palisade_db::webhooks::{DeliveryFilter, DeliveryKind, DeliveryRow, Outcome, Provider};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::resource::{self};

/// The webhook delivery family: a list only.
pub(crate) struct Deliveries;

resource::family! {
    // No item route is declared.
    Deliveries: DeliveryRow => DeliveryJson, "/v1/webhook-deliveries", "webhook-deliveries", "a webhook delivery", "webhook deliveries";
}

/// Declares this family's route (see [`crate::resource`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    resource::list_route::<Deliveries>(e);
}

/// A delivery as clients see it: who sent it (`provider`), what it was about (`kind`), and
/// whether it advanced the message or call (`outcome` `applied`) or was older than what was
/// known (`stale`).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WebhookDelivery)]
pub struct DeliveryJson {
    id: Uuid,
    // The enums' schemas are inlined: their names (`Provider`, `Outcome`) are too vague for the
    // document's shared namespace. Inlined, they take no description (utoipa would wrap them).
    #[schema(value_type = Provider, inline)]
    provider: String,
    #[schema(value_type = DeliveryKind, inline)]
    kind: String,
    /// The provider's id of the event (its idempotency key).
    event_key: String,
    #[schema(value_type = Outcome, inline)]
    outcome: String,
    /// The message or call it was about.
    subject_id: Option<Uuid>,
    /// When it was received: the time `created_after`, `created_before` and the cursor go by,
    /// named as on the other lists.
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    /// The same time as `created_at`, under the name this list gave it first.
    #[serde(with = "palisade_domain::timestamp")]
    received_at: OffsetDateTime,
}

impl From<DeliveryRow> for DeliveryJson {
    fn from(d: DeliveryRow) -> Self {
        Self {
            id: d.id,
            provider: d.provider,
            kind: d.kind,
            event_key: d.event_key,
            outcome: d.outcome,
            subject_id: d.subject_id,
            created_at: d.created_at,
            received_at: d.created_at,
        }
    }
}

crate::list::filters! {
    /// List query string.
    Deliveries: ListQuery => DeliveryFilter {
        provider: Choice<Provider>,
        kind: Choice<DeliveryKind>,
        /// The message or call.
        subject_id: Id<Uuid>,
    }
}
