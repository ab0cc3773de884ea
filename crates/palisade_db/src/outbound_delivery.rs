//! Outbound webhook delivery: the worker's claims and outcomes, and the organization's view of
//! its deliveries. Events and their pending deliveries are written by triggers in the
//! transaction of the change that caused them (`sql/V0150__create_outbound_webhook_outbox.sql`);
//! nothing here writes one, except [`redeliver`].
//!
//! The worker's cycle, every step under RLS except the one resolver call:
//! 1. [`due`]: (organization, delivery) ids of due deliveries, through the SECURITY DEFINER
//!    resolver of `policies/027_outbound_webhook_delivery.sql` (ids only);
//! 2. [`claim`]: in the worker's transaction for that organization
//!    ([`TenantTx::begin_for_delivery_worker`]: no user, the worker's role), locks the delivery with
//!    `FOR UPDATE SKIP LOCKED` (another worker holding it: skipped), counts the attempt and
//!    leases it on the database's clock (a worker that dies mid-send leaves it due again),
//!    reads the endpoint's secret through `palisade_private.outbound_webhook_secret`, commits;
//! 3. the send (no transaction open);
//! 4. [`record`]: stores the outcome, only if the delivery is still at this attempt.

use palisade_domain::{OrgId, Secret, WebhookId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{AppPool, DbError, TenantTx};

crate::table! {
    /// One delivery of one event to one endpoint, as the organization sees it.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    #[schema(as = OutboundWebhookDelivery)]
    pub struct OutboundDelivery in "palisade.outbound_webhook_deliveries" {
        /// Its id.
        id: Uuid,
        /// The endpoint.
        webhook_id: Uuid,
        /// The event: the `webhook-id` header of every attempt (receivers dedupe on it).
        event_id: Uuid,
        /// The event's type.
        #[schema(value_type = palisade_domain::WebhookEvent)]
        event_type: String,
        /// `pending` (an attempt is due at `next_attempt_at`), `succeeded`, `failed` (every
        /// retry failed) or `skipped` (when it came due, the endpoint was disabled or no longer
        /// subscribed to its type).
        #[schema(value_type = DeliveryStatus)]
        status: String,
        /// Attempts made.
        attempt_count: i32,
        /// When the next attempt is due; null once settled.
        #[serde(with = "palisade_domain::timestamp::option")]
        next_attempt_at: Option<OffsetDateTime>,
        /// When the last attempt started.
        #[serde(with = "palisade_domain::timestamp::option")]
        last_attempt_at: Option<OffsetDateTime>,
        /// The receiver's HTTP status on the last attempt (null when it gave none).
        last_response_status: Option<i32>,
        /// How long the last attempt took, in milliseconds.
        last_latency_ms: Option<i32>,
        /// Why the last attempt failed (docs/outbound-webhooks.md); null when it succeeded.
        #[schema(value_type = Option<DeliveryError>, inline)]
        last_error: Option<String>,
        /// When it was queued.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
}

palisade_domain::str_enum! {
    /// A delivery's state.
    pub enum DeliveryStatus {
        /// An attempt is due at `next_attempt_at`.
        Pending = "pending",
        /// The receiver answered 2xx.
        Succeeded = "succeeded",
        /// Every retry failed.
        Failed = "failed",
        /// When it came due, the endpoint was disabled or no longer subscribed to its type.
        Skipped = "skipped",
    }
}

palisade_domain::str_enum! {
    /// Why an attempt failed.
    pub enum DeliveryError {
        /// The receiver answered, but not 2xx (see `last_response_status`).
        HttpStatus = "http_status",
        /// No complete answer in time.
        Timeout = "timeout",
        /// The host name did not resolve.
        Dns = "dns",
        /// The host resolved only to private, loopback or otherwise non-public addresses.
        NonPublicAddress = "non_public_address",
        /// No TCP connection could be made.
        Connect = "connect",
        /// The TLS handshake failed (certificate not trusted, wrong host name, ...).
        Tls = "tls",
        /// The answer was not HTTP we could read.
        Protocol = "protocol",
        /// The answer was larger than we read.
        ResponseTooLarge = "response_too_large",
        /// The endpoint was disabled.
        EndpointDisabled = "endpoint_disabled",
        /// The endpoint no longer subscribes to the event's type.
        Unsubscribed = "unsubscribed",
    }
}

crate::filter_type! {
    /// List filters.
    pub struct DeliveryFilter for OutboundDelivery {
        /// One endpoint's deliveries (the path's).
        webhook_id: Uuid => "webhook_id = $",
        /// Only deliveries in this state.
        status: DeliveryStatus => "status = $",
        /// Only this event type's.
        event_type: palisade_domain::WebhookEvent => "event_type = $",
    }
}

/// A due delivery, as the resolver names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// Its organization.
    pub org: OrgId,
    /// The delivery.
    pub delivery_id: Uuid,
}

/// Up to `limit` deliveries due at `now`, across organizations (ids only), at most
/// `per_organization` of each one's, oldest first, taken in turns: every organization's oldest
/// first, then every one's second, and so on (`palisade_private.due_outbound_webhook_deliveries`:
/// one organization's backlog does not hold back another's deliveries).
pub async fn due(
    pool: &AppPool,
    now: OffsetDateTime,
    limit: i32,
    per_organization: i32,
) -> Result<Vec<Due>, DbError> {
    let conn = pool.get().await?;
    let stmt = conn
        .prepare_cached(
            "SELECT organization_id, delivery_id \
             FROM palisade_private.due_outbound_webhook_deliveries($1, $2, $3)",
        )
        .await?;
    let rows = conn
        .query(&stmt, &[&now, &limit, &per_organization])
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Due {
                org: OrgId::from_uuid(r.try_get(0)?),
                delivery_id: r.try_get(1)?,
            })
        })
        .collect()
}

/// A claimed delivery: what the worker needs to send it once.
#[derive(Debug)]
pub struct Claim {
    /// Its organization.
    pub org: OrgId,
    /// The delivery.
    pub delivery_id: Uuid,
    /// This attempt's number (1 for the first).
    pub attempt: i32,
    /// The endpoint.
    pub webhook_id: WebhookId,
    /// Where to POST.
    pub url: String,
    /// The event (the `webhook-id` header).
    pub event_id: Uuid,
    /// Its type.
    pub event_type: String,
    /// Its data.
    pub data: serde_json::Value,
    /// When it happened.
    pub occurred_at: OffsetDateTime,
    /// The endpoint's signing secret (`whsec_...`).
    pub secret: Secret,
}

/// What [`claim`] did with a due delivery.
#[derive(Debug)]
pub enum Claimed {
    /// Leased for an attempt, which the worker makes.
    Attempt(Claim),
    /// Settled as `skipped`: its endpoint is disabled or no longer subscribes to its event's
    /// type. Progress, like an attempt: the delivery is not due again.
    Skipped,
    /// Left alone: another worker holds it, or it is no longer due.
    NotTaken,
}

/// Claims `due` at `now` for one attempt, leasing it for `lease_secs` seconds of the database's
/// clock ([`Claimed::Attempt`]); or settles it as `skipped` when its endpoint is disabled or no
/// longer subscribes to its event's type ([`Claimed::Skipped`]); or leaves it when another
/// worker holds it or it is no longer due ([`Claimed::NotTaken`]).
///
/// An endpoint counts as disabled too when the user it answers to (`enabled_by`) is no longer
/// an owner or admin of the organization, whatever its `enabled` says. Removing or demoting
/// that user disables it in the same transaction (routes/members.rs), and a write of theirs
/// racing that change waits for it or is refused (the trigger of sql/V0175); this is the second
/// line, for whatever else changes a user's row without disabling anything (a DBA in `psql`,
/// a future route). `enabled_by` NULL (webhooks made before V0172) is not checked.
pub async fn claim(
    pool: &AppPool,
    due: Due,
    now: OffsetDateTime,
    lease_secs: f64,
) -> Result<Claimed, DbError> {
    let mut tx = TenantTx::begin_for_delivery_worker(pool, due.org).await?;
    let Some(row) = tx
        .query_opt(
            "SELECT d.webhook_id, d.event_id, e.type AS event_type, d.attempt_count, w.url, \
                    w.enabled AND (w.enabled_by IS NULL OR EXISTS ( \
                        SELECT FROM palisade.users AS u \
                         WHERE u.organization_id = w.organization_id AND u.id = w.enabled_by \
                           AND u.role IN ('owner', 'admin'))) AS enabled, \
                    e.type = ANY (w.event_types) AS subscribed, e.data, e.occurred_at \
             FROM palisade.outbound_webhook_deliveries AS d \
             JOIN palisade.outbound_webhooks AS w \
               ON w.organization_id = d.organization_id AND w.id = d.webhook_id \
             JOIN palisade.outbound_webhook_events AS e \
               ON e.organization_id = d.organization_id AND e.id = d.event_id \
             WHERE d.id = $1 AND d.status = 'pending' \
               AND (d.next_attempt_at <= $2 OR d.attempt_count = 0) \
               AND (d.leased_until IS NULL OR d.leased_until < now()) \
             FOR UPDATE OF d SKIP LOCKED",
            &[&due.delivery_id, &now],
        )
        .await?
    else {
        return Ok(Claimed::NotTaken);
    };
    let skipped = if !row.try_get::<_, bool>("enabled")? {
        Some(DeliveryError::EndpointDisabled)
    } else if !row.try_get::<_, bool>("subscribed")? {
        Some(DeliveryError::Unsubscribed)
    } else {
        None
    };
    if let Some(reason) = skipped {
        tx.execute(
            "UPDATE palisade.outbound_webhook_deliveries \
             SET status = 'skipped', next_attempt_at = NULL, leased_until = NULL, \
                 last_error = $2, updated_at = now() \
             WHERE id = $1",
            &[&due.delivery_id, &reason.as_str()],
        )
        .await?;
        if reason == DeliveryError::EndpointDisabled {
            // Every other delivery of the endpoint that is due now goes the same way, in this
            // claim: one at a time, a disabled endpoint's backlog took 8 places of every cycle
            // of its organization's, and held its other endpoints' deliveries back for as many
            // cycles (each as long as its slowest attempt, anywhere). Those another worker holds
            // are left to it.
            let webhook: Uuid = row.try_get("webhook_id")?;
            tx.execute(
                "UPDATE palisade.outbound_webhook_deliveries AS d \
                 SET status = 'skipped', next_attempt_at = NULL, leased_until = NULL, \
                     last_error = $3, updated_at = now() \
                 WHERE d.id IN ( \
                     SELECT p.id FROM palisade.outbound_webhook_deliveries AS p \
                      WHERE p.webhook_id = $1 AND p.status = 'pending' \
                        AND (p.next_attempt_at <= $2 OR p.attempt_count = 0) \
                        AND (p.leased_until IS NULL OR p.leased_until < now()) \
                        FOR UPDATE SKIP LOCKED)",
                &[&webhook, &now, &reason.as_str()],
            )
            .await?;
        }
        tx.commit().await?;
        return Ok(Claimed::Skipped);
    }
    let attempt = row.try_get::<_, i32>("attempt_count")? + 1;
    tx.execute(
        "UPDATE palisade.outbound_webhook_deliveries \
         SET attempt_count = $2, leased_until = now() + make_interval(secs => $3), \
             last_attempt_at = $4, updated_at = now() \
         WHERE id = $1",
        &[&due.delivery_id, &attempt, &lease_secs, &now],
    )
    .await?;
    let secret: Option<String> = tx
        .query_one(
            "SELECT palisade_private.outbound_webhook_secret($1)",
            &[&due.delivery_id],
        )
        .await?
        .try_get(0)?;
    let secret = secret.ok_or_else(|| {
        DbError::Decode("the claimed delivery's signing secret was not returned".into())
    })?;
    tx.commit().await?;
    Ok(Claimed::Attempt(Claim {
        org: due.org,
        delivery_id: due.delivery_id,
        attempt,
        webhook_id: WebhookId::from_uuid(row.try_get("webhook_id")?),
        url: row.try_get("url")?,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        data: row.try_get("data")?,
        occurred_at: row.try_get("occurred_at")?,
        secret: Secret::new(secret),
    }))
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// The receiver's HTTP status, if it answered.
    pub response_status: Option<u16>,
    /// How long it took.
    pub latency_ms: i32,
    /// Why it failed; `None`: it succeeded.
    pub error: Option<DeliveryError>,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Settled: succeeded, or failed for good (`failed`, and the endpoint is disabled).
    Settle,
    /// Try again at this time.
    RetryAt(OffsetDateTime),
}

/// Records `attempt` of `claim`, if the delivery is still pending at that attempt (a worker
/// whose lease ran out and whose delivery another worker re-claimed records nothing). A final
/// failure disables the endpoint (`disabled_reason` `delivery_failures`). Returns whether the
/// endpoint was disabled.
pub async fn record(
    pool: &AppPool,
    claim: &Claim,
    attempt: Attempt,
    next: Next,
) -> Result<bool, DbError> {
    let mut tx = TenantTx::begin_for_delivery_worker(pool, claim.org).await?;
    let (status, next_at) = match (attempt.error, next) {
        (None, _) => (DeliveryStatus::Succeeded, None),
        (Some(_), Next::RetryAt(at)) => (DeliveryStatus::Pending, Some(at)),
        (Some(_), Next::Settle) => (DeliveryStatus::Failed, None),
    };
    let updated = tx
        .execute(
            "UPDATE palisade.outbound_webhook_deliveries \
             SET status = $3, next_attempt_at = $4, leased_until = NULL, last_response_status = $5, \
                 last_latency_ms = $6, last_error = $7, updated_at = now() \
             WHERE id = $1 AND status = 'pending' AND attempt_count = $2",
            &[
                &claim.delivery_id,
                &claim.attempt,
                &status.as_str(),
                &next_at,
                &attempt.response_status.map(i32::from),
                &attempt.latency_ms,
                &attempt.error.map(DeliveryError::as_str),
            ],
        )
        .await?;
    let mut disabled = false;
    if updated == 1 && status == DeliveryStatus::Failed {
        disabled = tx
            .query_one(
                "SELECT palisade_private.disable_failing_outbound_webhook($1)",
                &[&claim.webhook_id.as_uuid()],
            )
            .await?
            .try_get(0)?;
    }
    tx.commit().await?;
    Ok(disabled)
}

/// Queues the delivery `id` of endpoint `webhook` again, as a new delivery of the same event
/// (same `webhook-id`): `None` when there is no such delivery of that endpoint here. While a
/// redelivery of that event to that endpoint is queued and not yet tried, that one is answered
/// instead of queueing another (asking twice sends once).
pub async fn redeliver(
    tx: &mut TenantTx,
    webhook: WebhookId,
    id: Uuid,
) -> Result<Option<OutboundDelivery>, DbError> {
    let queued = tx
        .query_opt(
            &format!(
                "SELECT {} FROM palisade.outbound_webhook_deliveries \
                 WHERE webhook_id = $2 AND status = 'pending' AND attempt_count = 0 \
                   AND event_id = (SELECT event_id FROM palisade.outbound_webhook_deliveries \
                                    WHERE id = $1 AND webhook_id = $2) \
                 LIMIT 1",
                <OutboundDelivery as crate::crud::Table>::COLUMNS
            ),
            &[&id, &webhook.as_uuid()],
        )
        .await?;
    if let Some(row) = queued {
        return <OutboundDelivery as crate::crud::Table>::from_row(&row).map(Some);
    }
    crate::crud::returning_opt(
        tx,
        "INSERT INTO palisade.outbound_webhook_deliveries \
             (webhook_id, event_id, event_type, next_attempt_at) \
         SELECT webhook_id, event_id, event_type, now() \
         FROM palisade.outbound_webhook_deliveries WHERE id = $1 AND webhook_id = $2",
        &[&id, &webhook.as_uuid()],
    )
    .await
}
