//! `/v1/analytics`: event ingest (one event, or a batch of up to 100 at `/batch`, all or
//! nothing), the event list, and counts per type and day. A customer of another organization in an event answers
//! exactly like a missing customer (the composite foreign key refuses it).

use actix_web::{HttpResponse, web};
use palisade_db::analytics::{self as db, Event, EventFilter, NewEvent};
use palisade_domain::{CustomerId, EventProperties, EventType};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use uuid::Uuid;

use super::Fields;
use super::query_params::{format_date, no_such};
use crate::auth::Caller;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::resource::{self};
use crate::{ApiError, AppState};

/// Most events in one ingest request.
pub const MAX_BATCH: usize = 100;

/// The analytics event family: its list is [`crate::resource`]'s; ingest (one event, or a
/// batch) is served here.
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
        .summary("Record an analytics event")
        .describe("`occurred_at` defaults to now")
        .body::<EventBody>()
        .returns::<EventJson>(
            201,
            "Created: the event (no `Location`: events are read through the list)",
        )
        .errors(&[413, 415, 422]);
    e.post("/v1/analytics/events/batch", ingest_batch)
        .tag("analytics")
        .summary("Record a batch of analytics events")
        .describe("An array of 1 to 100 events, stored all or none; a refused field is named with its item's index (`[3].type`)")
        .body::<EventBatch>()
        .returns::<BatchJson>(201, "Created: the events, in the batch's order")
        .errors(&[413, 415, 422]);
    e.get("/v1/analytics/summary", summary)
        .tag("analytics")
        .summary("Count events per day and type")
        .describe("Events per day (in `tz`, default UTC) and type with `occurred_at` in the inclusive range of days (default: the 30 days ending today in `tz`; at most 366), `{\"from\", \"to\", \"tz\", \"data\": [{\"day\", \"type\", \"count\"}], \"totals\": [{\"type\", \"count\"}]}`. Without `type`, a range holding more than 1,000 event types is refused (422 `required` on `type`)")
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

crate::rules::field_rules!(EventBody {
    "type": Text<EventType>,
    "properties": Object<palisade_domain::EventProperties>,
});

/// A batch body: an array of 1 to [`MAX_BATCH`] events.
#[derive(Deserialize)]
#[serde(transparent)]
pub struct EventBatch(Vec<crate::extract::ObjectOnly<EventBody>>);

impl crate::rules::FieldRules for EventBatch {
    fn field_rules() -> Vec<(&'static str, crate::rules::Rule)> {
        Vec::new()
    }

    fn nested_rules(out: &mut Vec<(String, Vec<(&'static str, crate::rules::Rule)>)>) {
        out.push((
            <EventBody as ToSchema>::name().into_owned(),
            <EventBody as crate::rules::FieldRules>::field_rules(),
        ));
    }
}

/// Its schema: the array and its bounds (a plain `Vec` would be named `Vec` and unbounded).
impl utoipa::PartialSchema for EventBatch {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .description(Some(format!("1 to {MAX_BATCH} events, stored all or none")))
            .items(RefOr::Ref(Ref::from_schema_name(
                <EventBody as ToSchema>::name(),
            )))
            .min_items(Some(1))
            .max_items(Some(MAX_BATCH))
            .into()
    }
}

impl ToSchema for EventBatch {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("AnalyticsEventBatchCreate")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            <EventBody as ToSchema>::name().into_owned(),
            <EventBody as utoipa::PartialSchema>::schema(),
        ));
        <EventBody as ToSchema>::schemas(schemas);
    }
}

/// The answer to a batch: its events, in the same order.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AnalyticsEventBatch)]
pub struct BatchJson {
    /// The events.
    data: Vec<EventJson>,
}

fn parse_event(f: &mut Fields, e: &EventBody, now: OffsetDateTime) -> Option<NewEvent> {
    let event_type = f.required("type", e.event_type.as_deref(), EventType::parse);
    let occurred_at = match e.occurred_at.as_deref() {
        None => Some(now),
        Some(raw) => f.time("occurred_at", Some(raw)),
    };
    let properties = match &e.properties {
        None => Some(EventProperties::default()),
        Some(p) => f.optional_value("properties", Some(p), EventProperties::parse),
    };
    let customer_id = f.optional("customer_id", e.customer_id.as_deref(), CustomerId::parse);
    Some(NewEvent {
        event_type: event_type?,
        occurred_at: occurred_at?,
        properties: properties?,
        customer_id,
    })
}

/// `POST /v1/analytics/events` (201 with the event): `{"type": ..., "occurred_at"?,
/// "properties"?, "customer_id"?}`; `occurred_at` defaults to now.
pub async fn ingest(
    state: web::Data<AppState>,
    caller: Caller,
    idem: Idempotency,
    body: crate::extract::Json<EventBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let event = parse_event(&mut f, &body, OffsetDateTime::now_utc());
    let event = f.finish_with(event)?;
    store(&state, &caller, idem, &[event], false, |mut events| {
        let one = events
            .pop()
            .ok_or_else(|| ApiError::internal("ingest stored no event"))?;
        Ok(HttpResponse::Created().json(one))
    })
    .await
}

/// `POST /v1/analytics/events/batch` (201 `{"data": [...]}` in the same order): an array of 1 to
/// [`MAX_BATCH`] events, stored all or none; a refused field is named with its item's index
/// (`[3].type`, `[3].customer_id`), like a deserializer's error.
pub async fn ingest_batch(
    state: web::Data<AppState>,
    caller: Caller,
    idem: Idempotency,
    // An array body, the one the API takes.
    body: crate::extract::Json<EventBatch, true>,
) -> Result<HttpResponse, ApiError> {
    let EventBatch(body) = body.into_inner();
    let body: Vec<EventBody> = body.into_iter().map(|e| e.0).collect();
    if body.is_empty() || body.len() > MAX_BATCH {
        return Err(ApiError::invalid("events", "a batch holds 1 to 100 events"));
    }
    let now = OffsetDateTime::now_utc();
    let mut f = Fields::default();
    let mut events = Vec::with_capacity(body.len());
    for (i, e) in body.iter().enumerate() {
        let mut item = Fields::default();
        events.extend(parse_event(&mut item, e, now));
        f.0.extend(item.0.into_iter().map(|err| err.in_item(i)));
    }
    f.finish()?;
    if events.len() != body.len() {
        return Err(ApiError::internal("validated fields missing"));
    }
    store(&state, &caller, idem, &events, true, |data| {
        Ok(HttpResponse::Created().json(BatchJson { data }))
    })
    .await
}

/// Stores parsed events in one transaction (a replayed `Idempotency-Key` answers the first
/// response) and answers with `respond`'s response for them. For a `batch`, a customer that
/// does not exist in the organization is named with its item's index (`[3].customer_id`).
async fn store(
    state: &AppState,
    caller: &Caller,
    idem: Idempotency,
    events: &[NewEvent],
    batch: bool,
    respond: impl FnOnce(Vec<EventJson>) -> Result<HttpResponse, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let mut tx = begin_or_replay!(idem, state, caller.begin(state).await?);
    // One statement (for a batch too): without a key, its COMMIT goes in its round trip (with
    // one, the key's stored response comes after it, and this does nothing: `hold_commit`).
    tx.commit_with_next_statement();
    let stored = match db::ingest(&mut tx, events).await {
        Err(e) if e.is_foreign_key_violation_of(db::CUSTOMER_FKEY) => {
            drop(tx);
            // Which one, for a batch: read in a transaction of its own (this one is aborted).
            let index = if batch {
                db::first_missing_customer(caller.begin(state).await?, events).await?
            } else {
                None
            };
            return Err(match index {
                Some(i) => ApiError::Validation(vec![
                    crate::error::FieldError::new(
                        "customer_id",
                        crate::error::FieldCode::NotFound,
                        "does not exist in this organization",
                    )
                    .in_item(i),
                ]),
                None => no_such("customer_id"),
            });
        }
        // A backstop: EventProperties bounds the stored size as the CHECK does, item by item
        // (so a batch names the index there).
        Err(e) if e.is_check_violation_of(db::PROPERTIES_CHECK) => {
            return Err(resource::too_large_as_stored("properties"));
        }
        other => other?,
    };
    let created = respond(stored.into_iter().map(EventJson::from).collect())?;
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
    /// First day (inclusive) in `tz`; default: 29 days before `to`.
    #[param(format = Date)]
    from: Option<String>,
    /// Last day (inclusive) in `tz`; default: today in `tz`. At most 365 days after `from` (366
    /// days in all).
    #[param(format = Date)]
    to: Option<String>,
    /// Only this event type.
    #[serde(rename = "type")]
    event_type: Option<String>,
    /// The time zone the days are in, by its name in the database's time zone database
    /// (`Europe/Paris`, `America/New_York`; any case); default `UTC`. Not an abbreviation
    /// (`CET`, `PST`) nor a POSIX specification (`UTC+3`).
    #[param(max_length = 64)]
    tz: Option<String>,
}

crate::rules::field_rules!(SummaryQuery {
    "type": Text<EventType>,
});

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
    /// The time zone of the days, as the database spells it.
    tz: String,
    /// Per day and type, days ascending; days and types without events are absent.
    data: Vec<DayCountJson>,
    /// Per type over the whole range, by type.
    totals: Vec<TypeCountJson>,
}

/// Events of one type on one day (in the summary's time zone).
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

/// 422 `required` on `type`: the range holds more types than a summary counts without one
/// ([`db::SUMMARY_MAX_TYPES`]).
fn too_many_types() -> ApiError {
    ApiError::Validation(vec![crate::error::FieldError::new(
        "type",
        crate::error::FieldCode::Required,
        format!(
            "is required when the range holds more than {} event types",
            db::SUMMARY_MAX_TYPES
        ),
    )])
}

/// `GET /v1/analytics/summary?from=YYYY-MM-DD&to=YYYY-MM-DD&type=&tz=`: events per day (in `tz`,
/// default UTC) and type with `occurred_at` in the inclusive range of days (default: the 30
/// days ending today; at most 366), `{"from", "to", "tz", "data": [{"day", "type", "count"}],
/// "totals": [{"type", "count"}]}`. Without `type`, a range holding more than
/// [`db::SUMMARY_MAX_TYPES`] types is a 422 naming `type`.
pub async fn summary(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<SummaryQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let range = f.day_range(q.from.as_deref(), q.to.as_deref());
    let event_type = f.optional("type", q.event_type.as_deref(), EventType::parse);
    let zone = f.time_zone(&state, q.tz.as_deref()).await?;
    let (range, zone) = f.finish_with((range, zone))?;
    let tx = caller.begin(&state).await?;
    let (days, valid, counted) = db::summary(tx, range.in_zone(&zone), event_type.as_ref()).await?;
    if !valid {
        return Err(crate::routes::fields::day_range_refused(days.from, days.to));
    }
    let (counts, totals) = match counted {
        db::Counted::Counts { days, totals } => (days, totals),
        db::Counted::TooManyTypes => return Err(too_many_types()),
    };
    Ok(HttpResponse::Ok().json(SummaryJson {
        from: format_date(days.from),
        to: format_date(days.to),
        tz: zone,
        data: counts
            .into_iter()
            .map(|c| DayCountJson {
                day: format_date(c.day),
                event_type: c.event_type,
                count: c.count,
            })
            .collect(),
        totals: totals
            .into_iter()
            .map(|(event_type, count)| TypeCountJson { event_type, count })
            .collect(),
    }))
}
