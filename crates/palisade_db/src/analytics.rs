//! Analytics events: batch ingest, list, and counts per type and day. No query filters by
//! organization: the policies of `policies/350_analytics_events.sql` do, and `organization_id`
//! defaults to the context on insert.

use palisade_domain::{AnalyticsEventId, CustomerId, EventProperties, EventType};
use serde_json::Value;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::crud::Table;
use crate::{DbError, TenantTx};

/// The composite foreign key to the customer: violated when the customer does not exist in
/// this organization (missing, or another organization's).
pub const CUSTOMER_FKEY: &str = "analytics_events_customer_fkey";

/// The CHECK on `properties` (sql/V0026): an object of at most 8192 bytes as stored
/// (`pg_column_size`).
pub const PROPERTIES_CHECK: &str = "analytics_events_properties_check";

crate::table! {
    /// An event as stored.
    pub struct Event in "palisade.analytics_events" {
        /// Its id.
        id: Uuid,
        /// Its type, e.g. `page.viewed`.
        event_type: String,
        /// When it happened (as the client says).
        occurred_at: OffsetDateTime,
        /// Its properties (a JSON object).
        properties: Value,
        /// The customer it is about, if any.
        customer_id: Option<Uuid>,
        /// When it was ingested.
        created_at: OffsetDateTime,
        /// Last change (events are not changed: equal to `created_at`).
        updated_at: OffsetDateTime,
    }
}

/// An event to ingest.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Type.
    pub event_type: EventType,
    /// When it happened.
    pub occurred_at: OffsetDateTime,
    /// Properties.
    pub properties: EventProperties,
    /// The customer it is about.
    pub customer_id: Option<CustomerId>,
}

crate::filter_type! {
    /// List filters.
    pub struct EventFilter for Event {
        /// Only this type.
        event_type: EventType => "event_type = $",
        /// Only about this customer.
        customer_id: CustomerId => "customer_id = $",
        /// Occurred at or after.
        occurred_after: OffsetDateTime => "occurred_at >= $",
        /// Occurred before.
        occurred_before: OffsetDateTime => "occurred_at < $",
    }
}

/// Events of one type on one day (in the summary's time zone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    /// The day.
    pub day: Date,
    /// The type.
    pub event_type: String,
    /// How many.
    pub count: i64,
}

/// Ingests a batch in one statement (all or nothing); returns the events in input order.
pub async fn ingest(tx: &mut TenantTx, events: &[NewEvent]) -> Result<Vec<Event>, DbError> {
    let ids: Vec<Uuid> = events
        .iter()
        .map(|_| AnalyticsEventId::new().as_uuid())
        .collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let occurred: Vec<OffsetDateTime> = events.iter().map(|e| e.occurred_at).collect();
    let properties: Vec<Value> = events.iter().map(|e| e.properties.to_value()).collect();
    let customers: Vec<Option<Uuid>> = events
        .iter()
        .map(|e| e.customer_id.map(|c| c.as_uuid()))
        .collect();
    let sql = [
        "INSERT INTO palisade.analytics_events (id, event_type, occurred_at, properties, customer_id) \
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::jsonb[], $5::uuid[]) \
         RETURNING ",
        Event::COLUMNS,
    ]
    .concat();
    let rows = tx
        .query(&sql, &[&ids, &types, &occurred, &properties, &customers])
        .await?;
    let mut out = rows
        .iter()
        .map(Event::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by_key(|e| ids.iter().position(|id| *id == e.id));
    Ok(out)
}

/// Of `events`, the index of the first whose customer the acting organization does not have
/// (missing, or another organization's: row-level security hides both alike), for naming it
/// after [`ingest`] failed on the customer's foreign key. `None` when every one is there now.
/// Ends the transaction.
pub async fn first_missing_customer(
    tx: TenantTx,
    events: &[NewEvent],
) -> Result<Option<usize>, DbError> {
    let wanted: Vec<Uuid> = events
        .iter()
        .filter_map(|e| e.customer_id.map(|c| c.as_uuid()))
        .collect();
    let rows = tx
        .query_once(
            "SELECT id FROM palisade.customers WHERE id = ANY ($1::uuid[])",
            &[&wanted],
        )
        .await?;
    let found = rows
        .iter()
        .map(|r| r.try_get::<_, Uuid>(0))
        .collect::<Result<std::collections::HashSet<_>, _>>()?;
    Ok(events
        .iter()
        .position(|e| e.customer_id.is_some_and(|c| !found.contains(&c.as_uuid()))))
}

/// The most event types a summary counts over its range without a type filter. Types are
/// free-form, so without a bound one summary could read and answer any number of rows; past it,
/// [`summary`] counts nothing ([`Counted::TooManyTypes`]) and the client names a type.
pub const SUMMARY_MAX_TYPES: usize = 1_000;

/// What [`summary`] counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counted {
    /// The counts.
    Counts {
        /// Per day and type, by day then type (the database's order).
        days: Vec<DayCount>,
        /// Per type over the range, by type (Rust's order of `String`s).
        totals: Vec<(String, i64)>,
    },
    /// The range holds more than [`SUMMARY_MAX_TYPES`] types: nothing counted.
    TooManyTypes,
}

/// Counts of events per day (in `days.zone`) and type over `days` (see
/// [`crate::days::Days`]), by day then type, and per type over the range, with the days the
/// database resolved and whether they form a range a summary reads (nothing is counted when they
/// do not). More than [`SUMMARY_MAX_TYPES`] types in the range is [`Counted::TooManyTypes`]: the
/// database sends at most one row more than the days times that bound (a range with more rows
/// holds more types, as each type has at most one row a day). Ends the transaction (one round
/// trip).
pub async fn summary(
    tx: TenantTx,
    days: crate::days::Days<'_>,
    event_type: Option<&EventType>,
) -> Result<(crate::days::Window, bool, Counted), DbError> {
    // The window is one row; the counts are joined to it, so that an empty range still answers
    // its days. A type given or not is two statements, each planned for its own index.
    let sql = |type_filter: &str| {
        format!(
            "WITH {window}
             SELECT w.from_day, w.to_day, w.valid, c.day, c.event_type, c.n
               FROM w
               LEFT JOIN LATERAL (
                   SELECT (e.occurred_at AT TIME ZONE $3::text)::date AS day, e.event_type,
                          count(*) AS n
                     FROM palisade.analytics_events AS e
                    WHERE w.valid AND {in_days}
                          {type_filter}
                    GROUP BY 1, 2) AS c ON true
              ORDER BY c.day, c.event_type
              LIMIT (SELECT CASE WHEN w.valid
                                 THEN (w.to_day - w.from_day + 1)::bigint * {max} + 1
                                 ELSE 1 END
                       FROM w)",
            window = crate::days::WINDOW,
            in_days = crate::days::in_days("e.occurred_at"),
            max = SUMMARY_MAX_TYPES,
        )
    };
    let rows = match event_type {
        None => {
            tx.query_once(&sql(""), &[&days.from, &days.to, &days.zone])
                .await?
        }
        Some(t) => {
            tx.query_once(
                &sql("AND e.event_type = $4"),
                &[&days.from, &days.to, &days.zone, &t.as_str()],
            )
            .await?
        }
    };
    let first = rows
        .first()
        .ok_or_else(|| DbError::Client("the summary returned no row".into()))?;
    let (window, valid) = crate::days::window(first)?;
    // Each type has at most one row a day: more rows than the days times the bound is more
    // types than the bound (and the rows past it were never sent).
    let day_count = usize::try_from((window.to - window.from).whole_days() + 1).unwrap_or(0);
    if valid && rows.len() > day_count.saturating_mul(SUMMARY_MAX_TYPES) {
        return Ok((window, valid, Counted::TooManyTypes));
    }
    let mut counts = Vec::with_capacity(rows.len());
    let mut totals = std::collections::BTreeMap::<String, i64>::new();
    for r in &rows {
        // The one row of an empty range has no day.
        if let Some(day) = r.try_get::<_, Option<Date>>("day")? {
            let event_type: String = r.try_get("event_type")?;
            let count: i64 = r.try_get("n")?;
            *totals.entry(event_type.clone()).or_default() += count;
            counts.push(DayCount {
                day,
                event_type,
                count,
            });
        }
    }
    if totals.len() > SUMMARY_MAX_TYPES {
        return Ok((window, valid, Counted::TooManyTypes));
    }
    Ok((
        window,
        valid,
        Counted::Counts {
            days: counts,
            totals: totals.into_iter().collect(),
        },
    ))
}
