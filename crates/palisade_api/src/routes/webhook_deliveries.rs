//! `/v1/webhook-deliveries`: the carrier and email-provider webhook deliveries this
//! organization received (provider, kind, the provider's id, outcome, the message or call it was
//! about), newest first. Every role reads them (they hold no message content); nobody writes
//! them through the API: only a verified webhook records one (`policies/500_webhook_deliveries.sql`).

use actix_web::{HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::webhooks::{
    self as db, DeliveryFilter, DeliveryKind, DeliveryRow, Outcome, Provider,
};
use palisade_domain::ParseError;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Fields;
use crate::auth::Tenant;
use crate::list::List;
use crate::{ApiError, AppState};

/// Declares this family's routes (see [`crate::endpoints`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    e.get("/v1/webhook-deliveries", list)
        .tag("webhook-deliveries")
        .summary("List webhook deliveries")
        .list_query::<ListQuery>()
        .list::<DeliveryJson>()
        .errors(&[422]);
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
            received_at: d.created_at,
        }
    }
}

/// List query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[param(value_type = Option<Provider>, inline)]
    provider: Option<String>,
    #[param(value_type = Option<DeliveryKind>, inline)]
    kind: Option<String>,
    /// The message or call.
    #[param(format = Uuid)]
    subject_id: Option<String>,
}

/// `GET /v1/webhook-deliveries?provider=&kind=&subject_id=`.
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: List<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let filter = DeliveryFilter {
        provider: f.optional("provider", q.filter.provider.as_deref(), Provider::parse),
        kind: f.optional("kind", q.filter.kind.as_deref(), DeliveryKind::parse),
        subject_id: f.optional("subject_id", q.filter.subject_id.as_deref(), |s| {
            Uuid::parse_str(s).map_err(|_| ParseError::new("must be a UUID"))
        }),
    };
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list(tx, &filter, q.page).await?;
    Ok(q.respond(page, DeliveryJson::from))
}
