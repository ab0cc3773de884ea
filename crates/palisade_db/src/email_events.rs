//! Email provider events (SendGrid, Mailgun) applied to the message they are about, inside a
//! provider transaction ([`TenantTx::begin_for_provider`]) already routed to its organization
//! by [`crate::webhooks::resolve_email_message`].
//!
//! One event, one transaction, in this order (then [`crate::webhooks::record`] and commit, or
//! roll back when the event was already recorded):
//! 1. the message, locked `FOR UPDATE`: a duplicate of the same event, or another event about
//!    the same message, waits here for this transaction, then sees its result;
//! 2. its status and stage timestamps after the event ([`EmailTracking::apply`]: a status never
//!    moves backwards), and its provider message id when it did not have one yet;
//! 3. the campaign counters of the stages the message reached for the first time, so that each
//!    counter is the number of the campaign's messages with that stage's timestamp set (the
//!    sender moves `sent_count` by the same rule when it sets `sent_at`);
//! 4. an `analytics_events` row (`email.delivered`, `email.opened`...) for every new event,
//!    even one that changed nothing on the message (a second open is still an open), dated
//!    when the provider says it happened, about the message's customer, with the message and
//!    campaign ids as properties and never the address.

use palisade_domain::{AnalyticsEventId, EmailEvent, EmailStatus, EmailTracking, StagesReached};
use serde_json::json;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::messaging::decode;
use crate::webhooks::{Outcome, Provider};
use crate::{DbError, TenantTx};

/// One provider event about one email message.
#[derive(Debug, Clone, Copy)]
pub struct ProviderEmailEvent<'a> {
    /// Who reported it.
    pub provider: Provider,
    /// The provider's id for the event (SendGrid `sg_event_id`, Mailgun `event-data.id`).
    pub event_id: &'a str,
    /// What happened.
    pub event: EmailEvent,
    /// When it happened, as the provider says.
    pub occurred_at: OffsetDateTime,
    /// Our message id, when the event carries it (the `palisade_message_id` custom argument or
    /// user variable the sender sets).
    pub message_id: Option<Uuid>,
    /// The provider's message id, when the event carries one (normalized by the caller to what
    /// the sender stores in `provider_message_id`).
    pub provider_message_id: Option<&'a str>,
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedEmailEvent {
    /// The message it was about.
    pub message_id: Uuid,
    /// `Applied` when the message changed (status, a timestamp, or its provider id), `Stale`
    /// when it already said as much (or the event has no bearing on it, like a deferral).
    pub outcome: Outcome,
}

struct LockedMessage {
    id: Uuid,
    campaign_id: Uuid,
    customer_id: Option<Uuid>,
    provider_message_id: Option<String>,
    tracking: EmailTracking,
}

fn locked_from_row(r: &Row) -> Result<LockedMessage, DbError> {
    Ok(LockedMessage {
        id: r.try_get("id")?,
        campaign_id: r.try_get("campaign_id")?,
        customer_id: r.try_get("customer_id")?,
        provider_message_id: r.try_get("provider_message_id")?,
        tracking: EmailTracking {
            status: decode(r, "status", EmailStatus::parse)?,
            sent_at: r.try_get("sent_at")?,
            delivered_at: r.try_get("delivered_at")?,
            opened_at: r.try_get("opened_at")?,
            clicked_at: r.try_get("clicked_at")?,
            failed_at: r.try_get("failed_at")?,
        },
    })
}

macro_rules! locked_columns {
    () => {
        "id, campaign_id, customer_id, provider_message_id, status, sent_at, delivered_at, \
         opened_at, clicked_at, failed_at"
    };
}

/// The message `event` is about, locked until the transaction ends: by our id (and then only
/// if its provider id is the event's, not yet known, or not given: the resolver's rule), else
/// by the provider's id.
async fn lock_message(
    tx: &mut TenantTx,
    event: &ProviderEmailEvent<'_>,
) -> Result<Option<LockedMessage>, DbError> {
    let row = match (event.message_id, event.provider_message_id) {
        (Some(id), provider_id) => {
            tx.query_opt(
                concat!(
                    "SELECT ",
                    locked_columns!(),
                    " FROM palisade.email_messages \
                     WHERE id = $1 AND ($2::text IS NULL OR provider_message_id IS NULL \
                                        OR provider_message_id = $2) \
                     FOR UPDATE"
                ),
                &[&id, &provider_id],
            )
            .await?
        }
        (None, Some(provider_id)) => {
            tx.query_opt(
                concat!(
                    "SELECT ",
                    locked_columns!(),
                    " FROM palisade.email_messages WHERE provider_message_id = $1 FOR UPDATE"
                ),
                &[&provider_id],
            )
            .await?
        }
        (None, None) => None,
    };
    row.map(|r| locked_from_row(&r)).transpose()
}

/// Applies `event` to its message in the transaction's organization (see the module
/// documentation). `None` when the organization has no such message (it was deleted since the
/// event was routed): nothing is written.
pub async fn apply(
    tx: &mut TenantTx,
    event: &ProviderEmailEvent<'_>,
) -> Result<Option<AppliedEmailEvent>, DbError> {
    let Some(message) = lock_message(tx, event).await? else {
        return Ok(None);
    };
    let (next, reached) = message.tracking.apply(event.event, event.occurred_at);
    let adopt_provider_id =
        message.provider_message_id.is_none() && event.provider_message_id.is_some();
    let mut changed = next != message.tracking;
    if changed || adopt_provider_id {
        let provider_id = if adopt_provider_id {
            adopt(tx, &message, &next, event.provider_message_id).await?
        } else {
            update_message(tx, &message, &next, None).await?
        };
        changed |= provider_id != message.provider_message_id;
    }
    if reached.any() {
        bump_campaign_counters(tx, message.campaign_id, &reached).await?;
    }
    insert_analytics_event(tx, &message, event).await?;
    Ok(Some(AppliedEmailEvent {
        message_id: message.id,
        outcome: if changed {
            Outcome::Applied
        } else {
            Outcome::Stale
        },
    }))
}

/// [`update_message`] giving the message `provider_id` when no other message of the
/// organization holds it (the unique key `email_messages_provider_message_id_key`); the
/// message's provider id after it. When another one does, this message keeps none rather than
/// failing the delivery, and the event still applies.
///
/// The statement's `NOT EXISTS` only sees what was committed when it started: another
/// transaction that gave the same id to another message and has not committed (a second event
/// with a suffix of its own, or the sender) is not in it, so the write then waits on the unique
/// index for that transaction and fails with the key's violation (23505) once it commits. So
/// the write runs in a savepoint and, on that violation, is redone without the id.
async fn adopt(
    tx: &mut TenantTx,
    message: &LockedMessage,
    next: &EmailTracking,
    provider_id: Option<&str>,
) -> Result<Option<String>, DbError> {
    tx.execute("SAVEPOINT adopt_provider_id", &[]).await?;
    match update_message(tx, message, next, provider_id).await {
        Err(e) if e.is_unique_violation_of("email_messages_provider_message_id_key") => {
            tx.execute("ROLLBACK TO SAVEPOINT adopt_provider_id", &[])
                .await?;
            update_message(tx, message, next, None).await
        }
        result => result,
    }
}

/// Writes `next` on the message, and `provider_id` as its provider id when it has none and no
/// other message of the organization has it in the statement's snapshot; the message's
/// provider id after the write.
async fn update_message(
    tx: &mut TenantTx,
    message: &LockedMessage,
    next: &EmailTracking,
    provider_id: Option<&str>,
) -> Result<Option<String>, DbError> {
    let row = tx
        .query_one(
            "UPDATE palisade.email_messages SET \
                 status = $2, sent_at = $3, delivered_at = $4, opened_at = $5, \
                 clicked_at = $6, failed_at = $7, \
                 provider_message_id = CASE \
                     WHEN provider_message_id IS NULL AND $8::text IS NOT NULL \
                      AND NOT EXISTS (SELECT 1 FROM palisade.email_messages o \
                                       WHERE o.provider_message_id = $8) \
                     THEN $8 ELSE provider_message_id END, \
                 updated_at = now() \
             WHERE id = $1 \
             RETURNING provider_message_id",
            &[
                &message.id,
                &next.status.as_str(),
                &next.sent_at,
                &next.delivered_at,
                &next.opened_at,
                &next.clicked_at,
                &next.failed_at,
                &provider_id,
            ],
        )
        .await?;
    Ok(row.try_get(0)?)
}

async fn bump_campaign_counters(
    tx: &mut TenantTx,
    campaign_id: Uuid,
    reached: &StagesReached,
) -> Result<(), DbError> {
    let one = |b: bool| i32::from(b);
    tx.execute(
        "UPDATE palisade.email_campaigns SET \
             sent_count = sent_count + $2, delivered_count = delivered_count + $3, \
             opened_count = opened_count + $4, clicked_count = clicked_count + $5, \
             bounced_count = bounced_count + $6, failed_count = failed_count + $7, \
             updated_at = now() \
         WHERE id = $1",
        &[
            &campaign_id,
            &one(reached.sent),
            &one(reached.delivered),
            &one(reached.opened),
            &one(reached.clicked),
            &one(reached.bounced),
            &one(reached.failed),
        ],
    )
    .await?;
    Ok(())
}

async fn insert_analytics_event(
    tx: &mut TenantTx,
    message: &LockedMessage,
    event: &ProviderEmailEvent<'_>,
) -> Result<(), DbError> {
    let properties = json!({
        "email_message_id": message.id,
        "campaign_id": message.campaign_id,
        "provider": event.provider.as_str(),
        "provider_event_id": event.event_id,
    });
    tx.execute(
        "INSERT INTO palisade.analytics_events (id, event_type, occurred_at, properties, customer_id) \
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &AnalyticsEventId::new().as_uuid(),
            &event.event.as_str(),
            &event.occurred_at,
            &properties,
            &message.customer_id,
        ],
    )
    .await?;
    Ok(())
}
