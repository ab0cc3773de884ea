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

/// Events of one type on one day (UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    /// The day, in UTC.
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

/// Counts of events per UTC day and type with `from <= occurred_at < until` (no upper bound
/// when `until` is `None`), by day then type. Ends the transaction (one round trip).
pub async fn summary(
    tx: TenantTx,
    from: OffsetDateTime,
    until: Option<OffsetDateTime>,
    event_type: Option<&EventType>,
) -> Result<Vec<DayCount>, DbError> {
    const ALL: &str = "SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, event_type, count(*) AS n \
         FROM palisade.analytics_events WHERE occurred_at >= $1 AND occurred_at < coalesce($2::timestamptz, 'infinity') \
         GROUP BY 1, 2 ORDER BY 1, 2";
    const ONE_TYPE: &str = "SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, event_type, count(*) AS n \
         FROM palisade.analytics_events WHERE occurred_at >= $1 AND occurred_at < coalesce($2::timestamptz, 'infinity') \
           AND event_type = $3 \
         GROUP BY 1, 2 ORDER BY 1, 2";
    let rows = match event_type {
        None => tx.query_once(ALL, &[&from, &until]).await?,
        Some(t) => {
            tx.query_once(ONE_TYPE, &[&from, &until, &t.as_str()])
                .await?
        }
    };
    rows.iter()
        .map(|r| {
            Ok(DayCount {
                day: r.try_get("day")?,
                event_type: r.try_get("event_type")?,
                count: r.try_get("n")?,
            })
        })
        .collect()
}
