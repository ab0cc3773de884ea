//! The outbound webhook delivery worker: runs inside every server instance (several may run:
//! claims use `FOR UPDATE SKIP LOCKED`, so each attempt is made by one of them) and sends each
//! due delivery of `palisade.outbound_webhook_deliveries` ([`palisade_db::outbound_delivery`]
//! has the cycle and where RLS applies), signed per Standard Webhooks ([`sign`]), to a public
//! address only ([`client`]).
//!
//! At-least-once: a delivery is settled only after its answer is recorded; a worker that dies
//! between claim and record leaves it due again when its lease ([`LEASE`]) ends, and the
//! receiver sees the same `webhook-id` again. Retries follow [`RETRY_DELAYS`] (the schedule the
//! Standard Webhooks specification suggests): eight attempts over 27.5 hours; when the last one
//! fails the delivery is `failed` and the endpoint is disabled (`disabled_reason`
//! `delivery_failures`), which the organization sees on the webhook.

pub mod client;
pub mod sign;

use std::time::Duration;

use futures_util::StreamExt;
use palisade_db::outbound_delivery::{self as db, Attempt, Claim, Due, Next};
use palisade_db::{AppPool, DbError};
use palisade_domain::SharedClock;
use serde::Serialize;
use time::OffsetDateTime;

pub use client::Targets;

/// The wait before attempt 2, 3, ... 8 (after attempt 1, 2, ... 7 failed).
pub const RETRY_DELAYS: [time::Duration; 7] = [
    time::Duration::seconds(5),
    time::Duration::minutes(5),
    time::Duration::minutes(30),
    time::Duration::hours(2),
    time::Duration::hours(5),
    time::Duration::hours(10),
    time::Duration::hours(10),
];

/// How long a claim holds a delivery (on the database's clock): longer than an attempt can take.
pub const LEASE: Duration = Duration::from_secs(60);

/// Deliveries taken per cycle, and sent at once.
const BATCH: i32 = 100;
const CONCURRENCY: usize = 8;
/// Of one organization's due deliveries, those taken per cycle: as many as are sent at once. So
/// an organization whose endpoint answers slowly or not at all (up to the client's timeout an
/// attempt) holds a cycle up for about one timeout, not for its whole backlog, and every other
/// organization's oldest due delivery is among the first of every cycle.
const PER_ORGANIZATION: i32 = CONCURRENCY as i32;

/// How often an idle worker looks for due deliveries.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// What a cycle did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cycle {
    /// Deliveries sent with a 2xx answer.
    pub succeeded: usize,
    /// Attempts that failed and will be retried.
    pub retrying: usize,
    /// Deliveries that failed for good.
    pub failed: usize,
    /// Due deliveries settled as `skipped` (their endpoint was disabled or no longer
    /// subscribes to their type).
    pub skipped: usize,
    /// Due deliveries left alone: another worker held them, or they were no longer due.
    pub passed: usize,
}

impl Cycle {
    /// Attempts made.
    pub fn attempts(&self) -> usize {
        self.succeeded + self.retrying + self.failed
    }

    /// Whether to run the next cycle at once rather than after [`POLL_INTERVAL`]: this one made
    /// progress (an attempt, or a delivery settled as skipped), or found a full batch held by
    /// other workers.
    pub fn more_may_be_due(&self) -> bool {
        self.attempts() + self.skipped > 0 || self.passed >= BATCH as usize
    }
}

/// The worker: an app-role pool, the clock, and where it may send.
#[derive(Clone)]
pub struct DeliveryWorker {
    pool: AppPool,
    clock: SharedClock,
    targets: Targets,
}

/// The body of every delivery: the Standard Webhooks payload structure.
#[derive(Serialize)]
struct Payload<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(with = "palisade_domain::timestamp")]
    timestamp: OffsetDateTime,
    data: &'a serde_json::Value,
}

enum Outcome {
    Succeeded,
    Retrying,
    Failed,
    Skipped,
    Passed,
}

impl DeliveryWorker {
    /// A worker over `pool` sending to `targets`.
    pub fn new(pool: AppPool, clock: SharedClock, targets: Targets) -> Self {
        Self {
            pool,
            clock,
            targets,
        }
    }

    /// One cycle: claims the deliveries due now (up to 100, up to 8 of each organization's, in
    /// turns: [`db::due`]) and sends them, 8 at a time.
    pub async fn run_once(&self) -> Result<Cycle, DbError> {
        let now = self.clock.now();
        let due = db::due(&self.pool, now, BATCH, PER_ORGANIZATION).await?;
        let outcomes: Vec<Result<Outcome, DbError>> = futures_util::stream::iter(due)
            .map(|d| self.deliver(d))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut cycle = Cycle::default();
        for o in outcomes {
            match o? {
                Outcome::Succeeded => cycle.succeeded += 1,
                Outcome::Retrying => cycle.retrying += 1,
                Outcome::Failed => cycle.failed += 1,
                Outcome::Skipped => cycle.skipped += 1,
                Outcome::Passed => cycle.passed += 1,
            }
        }
        Ok(cycle)
    }

    /// Runs cycles until `stop` resolves: at once again after a cycle that made progress
    /// ([`Cycle::more_may_be_due`]: one organization's backlog comes 8 deliveries a cycle, so
    /// waiting after every batch short of full would slow it to 8 a second), else after
    /// [`POLL_INTERVAL`]. A database error is logged (its kind, never its text's data) and the
    /// next cycle tries again. `stop` interrupts a cycle too: what it had claimed and not
    /// recorded is due again when its lease ends (at-least-once).
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            let cycle = tokio::select! {
                () = &mut stop => return,
                c = self.run_once() => c,
            };
            let busy = match cycle {
                Ok(c) => {
                    if c.attempts() > 0 {
                        tracing::info!(
                            succeeded = c.succeeded,
                            retrying = c.retrying,
                            failed = c.failed,
                            "outbound webhook deliveries"
                        );
                    }
                    c.more_may_be_due()
                }
                Err(e) => {
                    tracing::warn!(error = %e, "outbound webhook delivery cycle failed");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(POLL_INTERVAL) => {}
            }
        }
    }

    async fn deliver(&self, due: Due) -> Result<Outcome, DbError> {
        let now = self.clock.now();
        let claim = match db::claim(&self.pool, due, now, LEASE.as_secs_f64()).await? {
            db::Claimed::Attempt(claim) => claim,
            db::Claimed::Skipped => return Ok(Outcome::Skipped),
            db::Claimed::NotTaken => return Ok(Outcome::Passed),
        };
        let attempt = self.send(&claim, now).await;
        let next = match (attempt.error, RETRY_DELAYS.get(claim.attempt as usize - 1)) {
            (None, _) | (Some(_), None) => Next::Settle,
            (Some(_), Some(delay)) => Next::RetryAt(now + *delay),
        };
        let disabled = db::record(&self.pool, &claim, attempt, next).await?;
        let outcome = match (attempt.error, next) {
            (None, _) => Outcome::Succeeded,
            (Some(_), Next::RetryAt(_)) => Outcome::Retrying,
            (Some(_), Next::Settle) => Outcome::Failed,
        };
        if let Some(error) = attempt.error {
            tracing::info!(
                org_id = %claim.org,
                webhook_id = %claim.webhook_id,
                delivery_id = %claim.delivery_id,
                attempt = claim.attempt,
                error = error.as_str(),
                status = attempt.response_status,
                "outbound webhook attempt failed"
            );
        }
        if disabled {
            tracing::warn!(
                org_id = %claim.org,
                webhook_id = %claim.webhook_id,
                "outbound webhook disabled after every retry of a delivery failed"
            );
        }
        Ok(outcome)
    }

    /// Signs and sends one attempt of `claim`.
    async fn send(&self, claim: &Claim, now: OffsetDateTime) -> Attempt {
        let payload = Payload {
            kind: &claim.event_type,
            timestamp: claim.occurred_at,
            data: &claim.data,
        };
        let failed = |error| Attempt {
            response_status: None,
            latency_ms: 0,
            error: Some(error),
        };
        let Ok(body) = serde_json::to_vec(&payload) else {
            return failed(db::DeliveryError::Protocol);
        };
        let msg_id = claim.event_id.to_string();
        let timestamp = now.unix_timestamp();
        let Ok(signature) = sign::signature(claim.secret.expose(), &msg_id, timestamp, &body)
        else {
            return failed(db::DeliveryError::Protocol);
        };
        let timestamp = timestamp.to_string();
        let headers = [
            ("content-type", "application/json"),
            ("user-agent", "Palisade-Webhooks/1"),
            ("webhook-id", msg_id.as_str()),
            ("webhook-timestamp", timestamp.as_str()),
            ("webhook-signature", signature.as_str()),
        ];
        let sent = client::post(&self.targets, &claim.url, &headers, &body).await;
        let latency_ms = i32::try_from(sent.elapsed.as_millis()).unwrap_or(i32::MAX);
        match sent.result {
            Ok(a) if (200..300).contains(&a.status) => Attempt {
                response_status: Some(a.status),
                latency_ms,
                error: None,
            },
            Ok(a) => Attempt {
                response_status: Some(a.status),
                latency_ms,
                error: Some(db::DeliveryError::HttpStatus),
            },
            Err(error) => Attempt {
                response_status: None,
                latency_ms,
                error: Some(error),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_that_made_progress_is_followed_at_once() {
        let idle = Cycle::default();
        assert!(!idle.more_may_be_due());
        for busy in [
            Cycle {
                retrying: 1,
                ..idle
            },
            Cycle { skipped: 1, ..idle },
            Cycle {
                passed: BATCH as usize,
                ..idle
            },
        ] {
            assert!(busy.more_may_be_due(), "{busy:?}");
        }
        // Deliveries other workers hold, short of a full batch: poll later.
        let held = Cycle { passed: 8, ..idle };
        assert!(!held.more_may_be_due());
    }
}
