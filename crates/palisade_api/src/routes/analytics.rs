//! `/v1/analytics`: event ingest (one event, or a batch of up to 100, all or nothing), the event
//! list, and counts per type and day. A customer of another organization in an event answers
//! exactly like a missing customer (the composite foreign key refuses it).

use actix_web::{HttpResponse, web};
use palisade_db::analytics::{self as db, Event, EventFilter, NewEvent};
use palisade_db::{PageRequest, TenantTx};
use palisade_domain::{CustomerId, EventProperties, EventType};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::query_params::{format_date, no_such, page_response};
use super::{Fields, method_not_allowed};
use crate::auth::Tenant;
use crate::pagination::{decode_cursor, parse_limit};
use crate::{ApiError, AppState};

/// Most events in one ingest request.
pub const MAX_BATCH: usize = 100;

/// Registers the analytics routes (inside `/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/analytics/events")
            .route(web::get().to(list))
            .route(web::post().to(ingest))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/analytics/summary")
            .route(web::get().to(summary))
            .default_service(web::to(method_not_allowed)),
    );
}

/// An event as clients see it.
#[derive(Serialize)]
pub struct EventJson {
    id: Uuid,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(with = "time::serde::rfc3339")]
    occurred_at: OffsetDateTime,
    properties: Value,
    customer_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl From<Event> for EventJson {
    fn from(e: Event) -> Self {
        Self {
            id: e.id,
            event_type: e.event_type,
            occurred_at: e.occurred_at,
            properties: e.properties,
            customer_id: e.customer_id,
            created_at: e.created_at,
        }
    }
}

/// One event in an ingest body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    #[serde(rename = "type")]
    event_type: Option<String>,
    occurred_at: Option<String>,
    properties: Option<Value>,
    customer_id: Option<String>,
}

/// An ingest body: one event object, or an array of them.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum IngestBody {
    /// One event: answered with the event.
    One(EventBody),
    /// A batch: answered with `{"data": [...]}` in the same order.
    Many(Vec<EventBody>),
}

fn parse_event(f: &mut Fields, e: &EventBody, now: OffsetDateTime) -> Option<NewEvent> {
    let event_type = f.required("type", e.event_type.as_deref(), EventType::parse);
    let occurred_at = match e.occurred_at.as_deref() {
        None => Some(now),
        Some(raw) => f.time("occurred_at", Some(raw)),
    };
    let properties = match &e.properties {
        None => Some(EventProperties::default()),
        Some(p) => match EventProperties::parse(p) {
            Ok(p) => Some(p),
            Err(err) => {
                f.invalid("properties", err.reason());
                None
            }
        },
    };
    let customer_id = f.optional("customer_id", e.customer_id.as_deref(), CustomerId::parse);
    Some(NewEvent {
        event_type: event_type?,
        occurred_at: occurred_at?,
        properties: properties?,
        customer_id,
    })
}

/// `POST /v1/analytics/events` (201): one event (`{"type": ..., "occurred_at"?, "properties"?,
/// "customer_id"?}`, answered with the event) or an array of 1 to 100 (answered with
/// `{"data": [...]}`). `occurred_at` defaults to now; every event of a batch is stored or none.
pub async fn ingest(
    state: web::Data<AppState>,
    tenant: Tenant,
    body: web::Json<IngestBody>,
) -> Result<HttpResponse, ApiError> {
    let (bodies, single) = match &*body {
        IngestBody::One(e) => (std::slice::from_ref(e), true),
        IngestBody::Many(v) => (v.as_slice(), false),
    };
    if bodies.is_empty() || bodies.len() > MAX_BATCH {
        return Err(ApiError::invalid("events", "a batch holds 1 to 100 events"));
    }
    let now = OffsetDateTime::now_utc();
    let mut f = Fields::default();
    let events: Vec<Option<NewEvent>> =
        bodies.iter().map(|e| parse_event(&mut f, e, now)).collect();
    f.finish()?;
    let events: Vec<NewEvent> = events.into_iter().flatten().collect();
    if events.len() != bodies.len() {
        return Err(ApiError::internal("validated fields missing"));
    }
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let stored = match db::ingest(&mut tx, &events).await {
        Err(e) if e.is_foreign_key_violation_of(db::CUSTOMER_FKEY) => {
            return Err(no_such("customer_id"));
        }
        other => other?,
    };
    tx.commit().await?;
    let mut json: Vec<EventJson> = stored.into_iter().map(EventJson::from).collect();
    if single {
        if let Some(one) = json.pop() {
            return Ok(HttpResponse::Created().json(one));
        }
        return Err(ApiError::internal("ingest stored no event"));
    }
    Ok(HttpResponse::Created().json(json!({ "data": json })))
}

/// List query string.
#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    customer_id: Option<String>,
    occurred_after: Option<String>,
    occurred_before: Option<String>,
    created_after: Option<String>,
    created_before: Option<String>,
}

/// `GET /v1/analytics/events?type=&customer_id=&occurred_after=&occurred_before=&created_after=&created_before=`:
/// newest ingested first.
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = parse_limit(q.limit.as_deref())?;
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let mut f = Fields::default();
    let filter = EventFilter {
        event_type: f.optional("type", q.event_type.as_deref(), EventType::parse),
        customer_id: f.optional("customer_id", q.customer_id.as_deref(), CustomerId::parse),
        occurred_after: f.time("occurred_after", q.occurred_after.as_deref()),
        occurred_before: f.time("occurred_before", q.occurred_before.as_deref()),
        created_after: f.time("created_after", q.created_after.as_deref()),
        created_before: f.time("created_before", q.created_before.as_deref()),
    };
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list(tx, &filter, PageRequest { after, limit }).await?;
    Ok(page_response(page, EventJson::from))
}

/// Summary query string.
#[derive(Deserialize)]
pub struct SummaryQuery {
    from: Option<String>,
    to: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
}

/// `GET /v1/analytics/summary?from=YYYY-MM-DD&to=YYYY-MM-DD&type=`: events per UTC day and type
/// with `occurred_at` in the inclusive range of days (default: the 30 days ending today; at
/// most 366), `{"from", "to", "data": [{"day", "type", "count"}], "totals": [{"type", "count"}]}`.
pub async fn summary(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: web::Query<SummaryQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let range = f.day_range(q.from.as_deref(), q.to.as_deref());
    let event_type = f.optional("type", q.event_type.as_deref(), EventType::parse);
    f.finish()?;
    let Some(range) = range else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let counts = db::summary(tx, range.start, range.end, event_type.as_ref()).await?;
    let mut totals: Vec<(String, i64)> = Vec::new();
    for c in &counts {
        match totals.iter_mut().find(|(t, _)| *t == c.event_type) {
            Some((_, n)) => *n += c.count,
            None => totals.push((c.event_type.clone(), c.count)),
        }
    }
    totals.sort();
    Ok(HttpResponse::Ok().json(json!({
        "from": format_date(range.from),
        "to": format_date(range.to),
        "data": counts.iter().map(|c| json!({
            "day": format_date(c.day),
            "type": c.event_type,
            "count": c.count,
        })).collect::<Vec<_>>(),
        "totals": totals.iter().map(|(t, n)| json!({"type": t, "count": n})).collect::<Vec<_>>(),
    })))
}
