//! `/v1/analytics`: event ingest (one event, or a batch of up to 100, all or nothing), the event
//! list, and counts per type and day. A customer of another organization in an event answers
//! exactly like a missing customer (the composite foreign key refuses it).

use std::borrow::Cow;

use actix_web::{HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::analytics::{self as db, Event, EventFilter, NewEvent};
use palisade_domain::{CustomerId, EventProperties, EventType};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ArrayBuilder, OneOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use uuid::Uuid;

use super::Fields;
use super::query_params::{format_date, no_such};
use crate::auth::Tenant;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::resource::{self};
use crate::{ApiError, AppState};

/// Most events in one ingest request.
pub const MAX_BATCH: usize = 100;

/// The analytics event family: its list is [`crate::resource`]'s; ingest is a batch, served
/// here.
pub(crate) struct Events;

resource::family! {
    // No item route is declared.
    Events: Event => EventJson, "/v1/analytics/events", "analytics", "an analytics event", "analytics events";
}

/// Declares this family's routes (see [`crate::endpoints`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    resource::list_route::<Events>(e).describe("Newest ingested first");
    e.post("/v1/analytics/events", ingest)
        .tag("analytics")
        .summary("Record analytics events (one or a batch)")
        .describe("One event (`{\"type\": ..., \"occurred_at\"?, \"properties\"?, \"customer_id\"?}`, answered with the event) or an array of 1 to 100 (answered with `{\"data\": [...]}`)")
        .body::<IngestBody>()
        .returns::<IngestJson>(
            201,
            "Created: the event, or `{\"data\": [...]}` in the batch's order (no `Location`: events are read through the list)",
        )
        .errors(&[413, 415, 422]);
    e.get("/v1/analytics/summary", summary)
        .tag("analytics")
        .summary("Count events per day and type")
        .describe("Events per UTC day and type with `occurred_at` in the inclusive range of days (default: the 30 days ending today; at most 366), `{\"from\", \"to\", \"data\": [{\"day\", \"type\", \"count\"}], \"totals\": [{\"type\", \"count\"}]}`")
        .query::<SummaryQuery>()
        .ok::<SummaryJson>()
        .errors(&[422]);
}

/// An event as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AnalyticsEvent)]
pub struct EventJson {
    id: Uuid,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(with = "palisade_domain::timestamp")]
    occurred_at: OffsetDateTime,
    /// The object given at ingest, as given.
    #[schema(value_type = Object)]
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
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AnalyticsEventCreate)]
pub struct EventBody {
    /// What happened, like `page.viewed`.
    #[serde(rename = "type")]
    #[schema(required = true, value_type = String)]
    event_type: Option<String>,
    /// Defaults to now.
    #[schema(format = DateTime)]
    occurred_at: Option<String>,
    /// A JSON object (default `{}`): bounded in size, key count and nesting; top-level keys
    /// are identifiers.
    #[schema(value_type = Option<Object>)]
    properties: Option<Value>,
    /// A customer of this organization.
    #[schema(format = Uuid)]
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

/// Its schema: one event, or an array of 1 to [`MAX_BATCH`] (written by hand like its
/// `Deserialize`).
impl utoipa::PartialSchema for IngestBody {
    fn schema() -> RefOr<Schema> {
        let event = || RefOr::Ref(Ref::from_schema_name(<EventBody as ToSchema>::name()));
        OneOfBuilder::new()
            .description(Some(format!(
                "One event, or a batch of 1 to {MAX_BATCH} stored all or nothing"
            )))
            .item(event())
            .item(
                ArrayBuilder::new()
                    .items(event())
                    .min_items(Some(1))
                    .max_items(Some(MAX_BATCH)),
            )
            .into()
    }
}

impl ToSchema for IngestBody {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("AnalyticsIngest")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            <EventBody as ToSchema>::name().into_owned(),
            <EventBody as utoipa::PartialSchema>::schema(),
        ));
        <EventBody as ToSchema>::schemas(schemas);
    }
}

/// The answer to an ingest: the event for one, `{"data": [...]}` for a batch.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[schema(as = AnalyticsIngested)]
pub enum IngestJson {
    /// One event was sent: the event.
    One(EventJson),
    /// A batch was sent: its events, in the same order.
    Many {
        /// The events.
        data: Vec<EventJson>,
    },
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
    let mut json: Vec<EventJson> = stored.into_iter().map(EventJson::from).collect();
    let created = if single {
        let one = json
            .pop()
            .ok_or_else(|| ApiError::internal("ingest stored no event"))?;
        HttpResponse::Created().json(IngestJson::One(one))
    } else {
        HttpResponse::Created().json(IngestJson::Many { data: json })
    };
    tx.commit(created).await
}

crate::list::filters! {
    /// List query string.
    Events: ListQuery => EventFilter {
        /// Exact event type.
        event_type = "type": Text<EventType>,
        customer_id: Id<CustomerId>,
        /// Only events that occurred at or after this instant (inclusive).
        occurred_after: Instant,
        /// Only events that occurred before this instant (exclusive).
        occurred_before: Instant,
    }
}

/// Summary query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// First UTC day (inclusive); default: 29 days before `to`.
    #[param(format = Date)]
    from: Option<String>,
    /// Last UTC day (inclusive); default: today. At most 366 days after `from`.
    #[param(format = Date)]
    to: Option<String>,
    /// Only this event type.
    #[serde(rename = "type")]
    event_type: Option<String>,
}

/// Events per day and type.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AnalyticsSummary)]
pub struct SummaryJson {
    /// First day counted.
    #[schema(format = Date)]
    from: String,
    /// Last day counted (inclusive).
    #[schema(format = Date)]
    to: String,
    /// Per day and type, days ascending; days and types without events are absent.
    data: Vec<DayCountJson>,
    /// Per type over the whole range, by type.
    totals: Vec<TypeCountJson>,
}

/// Events of one type on one UTC day.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AnalyticsDayCount)]
pub struct DayCountJson {
    #[schema(format = Date)]
    day: String,
    #[serde(rename = "type")]
    event_type: String,
    count: i64,
}

/// Events of one type over the range.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AnalyticsTypeCount)]
pub struct TypeCountJson {
    #[serde(rename = "type")]
    event_type: String,
    count: i64,
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
    let range = f.finish_with(range)?;
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
    Ok(HttpResponse::Ok().json(SummaryJson {
        from: format_date(range.from),
        to: format_date(range.to),
        data: counts
            .iter()
            .map(|c| DayCountJson {
                day: format_date(c.day),
                event_type: c.event_type.clone(),
                count: c.count,
            })
            .collect(),
        totals: totals
            .into_iter()
            .map(|(event_type, count)| TypeCountJson { event_type, count })
            .collect(),
    }))
}
