//! `/v1/webhook-deliveries`: the carrier and email-provider webhook deliveries this
//! organization received (provider, kind, the provider's id, outcome, the message or call it was
//! about), newest first. Every role reads them (they hold no message content); nobody writes
//! them through the API: only a verified webhook records one (`policies/500_webhook_deliveries.sql`).

use actix_web::{HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::webhooks::{self as db, DeliveryFilter, DeliveryKind, DeliveryRow, Provider};
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
        .summary("List webhook deliveries");
}

/// A delivery as clients see it.
#[derive(Serialize)]
pub struct DeliveryJson {
    id: Uuid,
    provider: String,
    kind: String,
    event_key: String,
    outcome: String,
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
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    provider: Option<String>,
    kind: Option<String>,
    subject_id: Option<String>,
}

/// Parses an optional enum filter with `parse`; refuses it (422) with `reason` otherwise.
fn enum_filter<T>(
    f: &mut Fields,
    field: &'static str,
    raw: Option<&str>,
    parse: impl FnOnce(&str) -> Option<T>,
    reason: &'static str,
) -> Option<T> {
    let parsed = parse(raw?);
    if parsed.is_none() {
        f.invalid(field, reason);
    }
    parsed
}

/// `GET /v1/webhook-deliveries?provider=&kind=&subject_id=`.
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: List<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let filter = DeliveryFilter {
        provider: enum_filter(
            &mut f,
            "provider",
            q.filter.provider.as_deref(),
            Provider::parse,
            "must be one of twilio, sendgrid, mailgun",
        ),
        kind: enum_filter(
            &mut f,
            "kind",
            q.filter.kind.as_deref(),
            DeliveryKind::parse,
            "must be one of sms.inbound, sms.status, voice.status, email.event",
        ),
        subject_id: enum_filter(
            &mut f,
            "subject_id",
            q.filter.subject_id.as_deref(),
            |s| Uuid::parse_str(s).ok(),
            "must be a UUID",
        ),
    };
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list(tx, &filter, q.page).await?;
    Ok(q.respond(page, DeliveryJson::from))
}
