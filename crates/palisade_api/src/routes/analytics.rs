//! `/v1/analytics`: event ingest (one event, or a batch of up to 100, all or nothing), the event
//! list, and counts per type and day. A customer of another organization in an event answers
//! exactly like a missing customer (the composite foreign key refuses it).

use actix_web::{HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::analytics::{self as db, Event, EventFilter, NewEvent};
use palisade_domain::{CustomerId, EventProperties, EventType};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Fields;
use super::query_params::{format_date, no_such};
use crate::auth::Tenant;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::list::List;
use crate::{ApiError, AppState};

/// Most events in one ingest request.
pub const MAX_BATCH: usize = 100;

/// Declares this family's routes (see [`crate::endpoints`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    e.get("/v1/analytics/events", list)
        .tag("analytics")
        .summary("List analytics events")
        .describe("Newest ingested first");
    e.post("/v1/analytics/events", ingest)
        .tag("analytics")
        .summary("Record analytics events (one or a batch)")
        .describe("One event (`{\"type\": ..., \"occurred_at\"?, \"properties\"?, \"customer_id\"?}`, answered with the event) or an array of 1 to 100 (answered with `{\"data\": [...]}`)");
    e.get("/v1/analytics/summary", summary)
        .tag("analytics")
        .summary("Count events per day and type")
        .describe("Events per UTC day and type with `occurred_at` in the inclusive range of days (default: the 30 days ending today; at most 366), `{\"from\", \"to\", \"data\": [{\"day\", \"type\", \"count\"}], \"totals\": [{\"type\", \"count\"}]}`");
}

/// An event as clients see it.
#[derive(Serialize)]
pub struct EventJson {
    id: Uuid,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(with = "palisade_domain::timestamp")]
    occurred_at: OffsetDateTime,
    properties: Value,
    customer_id: Option<Uuid>,
    #[serde(with = "palisade_domain::timestamp")]
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

/// An ingest body: one event object, or an array of them. Deserialized by hand (not
/// `#[serde(untagged)]`) so that an error inside names its field and item (`[3].type`), and an
/// unknown field is refused like anywhere else.
pub enum IngestBody {
    /// One event: answered with the event.
    One(EventBody),
    /// A batch: answered with `{"data": [...]}` in the same order.
    Many(Vec<EventBody>),
}

impl<'de> Deserialize<'de> for IngestBody {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = IngestBody;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an event object or an array of them")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<IngestBody, A::Error> {
                EventBody::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(IngestBody::One)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<IngestBody, A::Error> {
                Vec::<EventBody>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(IngestBody::Many)
            }
        }
        d.deserialize_any(Visitor)
    }
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
    idem: Idempotency,
    body: crate::extract::Json<IngestBody>,
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
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    let stored = match db::ingest(&mut tx, &events).await {
        Err(e) if e.is_foreign_key_violation_of(db::CUSTOMER_FKEY) => {
            return Err(no_such("customer_id"));
        }
        other => other?,
    };
    let json: Vec<EventJson> = stored.into_iter().map(EventJson::from).collect();
    let created = if single {
        let one = json.into_iter().next();
        HttpResponse::Created().json(one.ok_or_else(|| ApiError::internal("no event stored"))?)
    } else {
        HttpResponse::Created().json(json!({ "data": json }))
    };
    tx.commit(created).await
}

/// List query string.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(rename = "type")]
    event_type: Option<String>,
    customer_id: Option<String>,
    occurred_after: Option<String>,
    occurred_before: Option<String>,
}

/// `GET /v1/analytics/events?type=&customer_id=&occurred_after=&occurred_before=&created_after=&created_before=`:
/// newest ingested first.
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: List<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let filter = EventFilter {
        event_type: f.optional("type", q.filter.event_type.as_deref(), EventType::parse),
        customer_id: f.optional(
            "customer_id",
            q.filter.customer_id.as_deref(),
            CustomerId::parse,
        ),
        occurred_after: f.time("occurred_after", q.filter.occurred_after.as_deref()),
        occurred_before: f.time("occurred_before", q.filter.occurred_before.as_deref()),
    };
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list(tx, &filter, q.page).await?;
    Ok(q.respond(page, EventJson::from))
}

/// Summary query string.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
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
