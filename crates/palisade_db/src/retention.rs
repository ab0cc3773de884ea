//! Retention: deleting the append-only records that have outlived their purpose, across every
//! organization, through the one SECURITY DEFINER function made for it
//! (`palisade_private.purge_expired_records`, `policies/029_retention.sql`), which only
//! `palisade_owner` may execute. `palisade retention` runs it once; the server runs it on a
//! schedule. docs/dba.md "Retention" says what each window is for.

use std::time::Duration;

use tokio_postgres::Client;

use crate::DbError;

/// How long each kind of record is kept. [`Windows::check`] enforces the same floors as the
/// SQL function, with a message naming the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows {
    /// Carrier and email-provider webhook deliveries (`palisade.webhook_deliveries`).
    pub webhook_deliveries: Duration,
    /// Mailgun signature tokens (`palisade_platform.mailgun_tokens`).
    pub mailgun_tokens: Duration,
    /// Ids of applied Stripe events (`palisade_platform.stripe_events`).
    pub stripe_events: Duration,
    /// Outbound webhook events and their deliveries, once none is pending.
    pub outbound_webhook_events: Duration,
    /// Invitations and password resets, counted from their expiry.
    pub expired_links: Duration,
    /// Stored first responses to `Idempotency-Key`s; whatever this says, kept 25 hours at least
    /// (`purge_expired_records`): the server honours a key 24 hours by its own clock, which
    /// wrote its `created_at`, and the hour is a margin for that clock behind the database's.
    pub idempotency_keys: Duration,
    /// The phone number quarantine (the server's `PALISADE_NUMBER_QUARANTINE_DAYS`): a number
    /// released longer ago than this forgets which organization released it.
    pub number_quarantine: Duration,
    /// The incremental sync's deletion records (`palisade.deleted_rows`): at least
    /// [`SYNC_TOKEN_AGE`] and a day, so that every sync token the server accepts finds the
    /// records since its sync began.
    pub deletion_records: Duration,
}

const DAY: Duration = Duration::from_secs(86_400);

/// The oldest a sync token's sync may have begun (by the server's clock) for a changes feed to
/// accept it: 89 days. Fixed, not a setting: the deletion records' window may be longer, never
/// shorter than this and a day (its floor, here and in `purge_expired_records`), so that
/// raising, lowering or mismatching `PALISADE_RETAIN_DELETION_RECORDS_DAYS` between the servers
/// and a `palisade retention` run can never make a feed accept a token whose records are gone.
/// The day's margin is for a deletion whose transaction began (its `deleted_at`) before a sync
/// and committed after it, and for clocks a little apart.
pub const SYNC_TOKEN_AGE: Duration = Duration::from_secs(86_400 * 89);

impl Default for Windows {
    /// The defaults: 30 days of webhook deliveries, Stripe event ids and outbound events; one
    /// day of Mailgun tokens; expired links 7 days after their expiry; idempotency keys 2 days;
    /// a 30-day number quarantine (the server's default); deletion records 90 days.
    fn default() -> Self {
        Self {
            webhook_deliveries: DAY * 30,
            mailgun_tokens: DAY,
            stripe_events: DAY * 30,
            outbound_webhook_events: DAY * 30,
            expired_links: DAY * 7,
            idempotency_keys: DAY * 2,
            number_quarantine: DAY * 30,
            deletion_records: DAY * 90,
        }
    }
}

impl Windows {
    /// The floors of `purge_expired_records` (each longer than what still needs the record:
    /// providers' retries, the replay guard, the idempotency horizon), as (name, window, floor).
    pub fn floors(&self) -> [(&'static str, Duration, Duration); 6] {
        [
            ("deletion records", self.deletion_records, DAY * 90),
            ("webhook deliveries", self.webhook_deliveries, DAY * 2),
            (
                "Mailgun tokens",
                self.mailgun_tokens,
                Duration::from_secs(600),
            ),
            ("Stripe events", self.stripe_events, DAY * 4),
            (
                "outbound webhook events",
                self.outbound_webhook_events,
                DAY * 2,
            ),
            ("idempotency keys", self.idempotency_keys, DAY),
        ]
    }

    /// Refuses a window below its floor, naming it.
    pub fn check(&self) -> Result<(), String> {
        for (name, window, floor) in self.floors() {
            if window < floor {
                return Err(format!(
                    "the retention window of {name} is below its floor of {}",
                    human(floor)
                ));
            }
        }
        Ok(())
    }
}

fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs.is_multiple_of(86_400) {
        format!("{} day(s)", secs / 86_400)
    } else {
        format!("{} minute(s)", secs / 60)
    }
}

/// What one run deleted (or, for number quarantines, cleared), per kind of record, in the
/// function's order.
pub type Purged = Vec<(String, i64)>;

/// Rows per kind and call: each call is one short transaction.
pub const BATCH: i32 = 5_000;

/// Runs retention to the end over `owner` (a connection as `palisade_owner`): calls the
/// function until a call removes fewer than [`BATCH`] rows of every kind, each call its own
/// transaction. Returns the totals.
pub async fn purge(owner: &Client, windows: &Windows) -> Result<Purged, DbError> {
    purge_in_batches(owner, windows, BATCH).await
}

/// [`purge`] with batches of `batch` rows per kind and call (tests use small ones).
pub async fn purge_in_batches(
    owner: &Client,
    windows: &Windows,
    batch: i32,
) -> Result<Purged, DbError> {
    let stmt = owner
        .prepare(
            "SELECT record, affected FROM palisade_private.purge_expired_records(
                 make_interval(secs => $1), make_interval(secs => $2), make_interval(secs => $3),
                 make_interval(secs => $4), make_interval(secs => $5), make_interval(secs => $6),
                 make_interval(secs => $7), make_interval(secs => $8), $9)",
        )
        .await?;
    let secs = |d: Duration| d.as_secs_f64();
    let w = windows;
    let mut totals: Purged = Vec::new();
    loop {
        let rows = owner
            .query(
                &stmt,
                &[
                    &secs(w.webhook_deliveries),
                    &secs(w.mailgun_tokens),
                    &secs(w.stripe_events),
                    &secs(w.outbound_webhook_events),
                    &secs(w.expired_links),
                    &secs(w.idempotency_keys),
                    &secs(w.number_quarantine),
                    &secs(w.deletion_records),
                    &batch,
                ],
            )
            .await?;
        let mut more = false;
        for row in rows {
            let record: String = row.try_get(0)?;
            let affected: i64 = row.try_get(1)?;
            more |= affected >= i64::from(batch);
            match totals.iter_mut().find(|(r, _)| *r == record) {
                Some((_, total)) => *total += affected,
                None => totals.push((record, affected)),
            }
        }
        if !more {
            return Ok(totals);
        }
    }
}
