//! Carrier status callbacks: advancing an outbound SMS or a call from what Twilio reports, in a
//! provider transaction ([`TenantTx::begin_for_provider`]) that a resolver routed to the
//! organization (see [`crate::webhooks`] for the routing and the delivery record).
//!
//! Each callback is applied by ONE statement that locks the row it is about, compares what the
//! callback says with what is stored, and writes only when the callback is newer. There is no
//! read-then-write race: a concurrent callback for the same row waits on the row lock, then
//! compares against what the first one wrote.
//!
//! - An SMS's status only moves forward along [`SMS_RANK`]: a late "sent" never undoes
//!   "delivered". The campaign's counters (`sms_campaigns.sent_count`, `delivered_count`,
//!   `undelivered_count`, `failed_count`) move in the same statement, so they always equal the
//!   number of the campaign's messages whose status [`SmsStatus::counts_as_sent`], is
//!   `delivered`, `undelivered` or `failed`. Nothing else changes an outbound message's status
//!   today (the API only creates queued recipients and deletes queued ones, which no counter
//!   counts); the sender, when it exists, must change statuses through [`apply_sms_status`] too.
//! - A call applies a callback only when its `SequenceNumber` is greater than the last one
//!   applied (Twilio numbers the callbacks of a call from 0), and never moves back along
//!   [`CALL_RANK`] or out of a final status.
//!
//! [`SmsStatus::counts_as_sent`]: palisade_domain::SmsStatus::counts_as_sent

use std::sync::LazyLock;

use palisade_domain::{CallId, CallStatus, Direction, PhoneNumber, SmsStatus};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::webhooks::customer_by_phone;
use crate::{DbError, TenantTx};

/// The unique key a callback can collide with when it records an SMS's carrier SID.
pub const SMS_CARRIER_SID_KEY: &str = "sms_messages_carrier_sid_key";
/// The unique key a callback can collide with when it records a call's SID.
pub const CALL_SID_KEY: &str = "calls_call_sid_key";

/// The order of an outbound SMS's statuses, as SQL over a status expression `{s}`:
/// `queued < sending < sent < delivered = undelivered = failed`. The three final statuses share
/// a rank: whichever the carrier reports first stays (a late "failed" does not overwrite
/// "delivered", nor the reverse).
pub const SMS_RANK: &str =
    "CASE {s} WHEN 'queued' THEN 0 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2 ELSE 3 END";

/// The order of a call's statuses, as SQL over a status expression `{s}`:
/// `queued < ringing < in_progress < completed = busy = no_answer = failed = cancelled`.
pub const CALL_RANK: &str =
    "CASE {s} WHEN 'queued' THEN 0 WHEN 'ringing' THEN 1 WHEN 'in_progress' THEN 2 ELSE 3 END";

/// The final call statuses ([`CallStatus::is_final`]), as an SQL list.
const CALL_FINAL: &str = "('completed', 'busy', 'no_answer', 'failed', 'cancelled')";

/// What a status callback did to the row it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The row (its id) changed.
    Changed(Uuid),
    /// The row (its id) already had this status or a later one: nothing changed.
    Stale(Uuid),
    /// This organization holds no such row (it was deleted since the routing, or the SID it
    /// was routed by belongs to another kind of row).
    NotFound,
    /// Recording the SID on the row would give this organization two rows with the same SID
    /// (another message or call already holds it). The transaction is aborted: drop it.
    SidTaken,
}

/// An SMS status callback, already mapped to our statuses.
#[derive(Debug, Clone, Copy)]
pub struct SmsStatusReport<'a> {
    /// Our message id, from the signed callback URL. When given, the message must have this
    /// SID or none yet; when absent, the message is found by its SID.
    pub message_id: Option<Uuid>,
    /// Twilio's MessageSid (recorded on the message if it has none yet).
    pub sid: &'a str,
    /// The reported status (never `received`: that is for inbound messages).
    pub status: SmsStatus,
    /// Twilio's ErrorCode, if any (kept when the status advances).
    pub error_code: Option<i32>,
}

/// Applies an SMS status callback to the outbound message it is about (see the module doc).
/// The message gets the callback's SID if it had none (the first callback), even when the
/// status itself is stale.
pub async fn apply_sms_status(
    tx: &mut TenantTx,
    report: &SmsStatusReport<'_>,
) -> Result<Applied, DbError> {
    let sql = if report.message_id.is_some() {
        &*SMS_BY_ID
    } else {
        &*SMS_BY_SID
    };
    let result = tx
        .query_opt(
            sql,
            &[
                &report.message_id,
                &report.sid,
                &report.status.as_str(),
                &report.error_code,
            ],
        )
        .await;
    applied(result, SMS_CARRIER_SID_KEY)
}

/// The SMS statement when the callback URL names our message id.
static SMS_BY_ID: LazyLock<String> = LazyLock::new(|| {
    sms_sql("m.id = $1::uuid AND (m.carrier_sid IS NULL OR m.carrier_sid = $2::text)")
});
/// The SMS statement when only the SID is known ($1 is NULL; naming it keeps the parameter
/// list the same, and `$1 IS NULL` is a one-time filter that leaves the SID index usable).
static SMS_BY_SID: LazyLock<String> =
    LazyLock::new(|| sms_sql("$1::uuid IS NULL AND m.carrier_sid = $2::text"));

/// The statement of [`apply_sms_status`]: $1 message id, $2 SID, $3 status, $4 error code;
/// `matching` selects the message.
fn sms_sql(matching: &str) -> String {
    let rank_new = SMS_RANK.replace("{s}", "$3::text");
    let rank_old = SMS_RANK.replace("{s}", "t.old_status");
    // `target` locks the message (FOR UPDATE: a concurrent callback waits here, then sees
    // this one's result); `decision` compares; `changed` writes only a forward move (or the
    // first SID); `counted` moves the campaign's counters from the old status to the new one.
    format!(
        "WITH target AS ( \
             SELECT m.id, m.status AS old_status, m.carrier_sid IS NULL AS sets_sid \
               FROM palisade.sms_messages AS m \
              WHERE m.direction = 'outbound' AND {matching} \
                FOR UPDATE), \
         decision AS ( \
             SELECT t.id, t.old_status, t.sets_sid, ({rank_new}) > ({rank_old}) AS advance \
               FROM target AS t), \
         changed AS ( \
             UPDATE palisade.sms_messages AS m SET \
                 carrier_sid = coalesce(m.carrier_sid, $2::text), \
                 status = CASE WHEN d.advance THEN $3::text ELSE m.status END, \
                 error_code = CASE WHEN d.advance THEN coalesce($4::integer, m.error_code) ELSE m.error_code END, \
                 sent_at = CASE WHEN d.advance AND $3::text IN ('sent', 'delivered', 'undelivered') \
                                THEN coalesce(m.sent_at, now()) ELSE m.sent_at END, \
                 delivered_at = CASE WHEN d.advance AND $3::text = 'delivered' \
                                     THEN coalesce(m.delivered_at, now()) ELSE m.delivered_at END, \
                 failed_at = CASE WHEN d.advance AND $3::text IN ('undelivered', 'failed') \
                                  THEN coalesce(m.failed_at, now()) ELSE m.failed_at END, \
                 updated_at = now() \
               FROM decision AS d \
              WHERE m.id = d.id AND (d.advance OR d.sets_sid) \
             RETURNING m.campaign_id, d.old_status, m.status AS new_status), \
         counted AS ( \
             UPDATE palisade.sms_campaigns AS c SET \
                 sent_count = c.sent_count \
                     + (x.new_status IN ('sent', 'delivered', 'undelivered'))::integer \
                     - (x.old_status IN ('sent', 'delivered', 'undelivered'))::integer, \
                 delivered_count = c.delivered_count \
                     + (x.new_status = 'delivered')::integer - (x.old_status = 'delivered')::integer, \
                 undelivered_count = c.undelivered_count \
                     + (x.new_status = 'undelivered')::integer - (x.old_status = 'undelivered')::integer, \
                 failed_count = c.failed_count \
                     + (x.new_status = 'failed')::integer - (x.old_status = 'failed')::integer, \
                 updated_at = now() \
               FROM changed AS x \
              WHERE c.id = x.campaign_id AND x.new_status <> x.old_status) \
         SELECT d.id, d.advance OR d.sets_sid AS changed FROM decision AS d"
    )
}

fn applied(
    result: Result<Option<tokio_postgres::Row>, DbError>,
    sid_key: &str,
) -> Result<Applied, DbError> {
    match result {
        Ok(None) => Ok(Applied::NotFound),
        Ok(Some(row)) => {
            let id: Uuid = row.try_get("id")?;
            Ok(if row.try_get("changed")? {
                Applied::Changed(id)
            } else {
                Applied::Stale(id)
            })
        }
        Err(e) if e.is_unique_violation_of(sid_key) => Ok(Applied::SidTaken),
        Err(e) => Err(e),
    }
}

/// Which call a voice status callback is about.
#[derive(Debug, Clone, Copy)]
pub enum CallTarget {
    /// Our call id, from the signed callback URL: that call, if its SID is the callback's or
    /// not yet known.
    Id(CallId),
    /// The call with the callback's SID.
    Sid,
}

/// A voice status callback, already mapped to our statuses.
#[derive(Debug, Clone, Copy)]
pub struct CallStatusReport<'a> {
    /// Twilio's CallSid (recorded on the call if it has none yet).
    pub sid: &'a str,
    /// The reported status (Twilio's `initiated` is our `queued`).
    pub status: CallStatus,
    /// Twilio's SequenceNumber (0 for a call's first callback), if given.
    pub sequence: Option<i64>,
    /// Twilio's CallDuration in seconds (sent with the final status), if given.
    pub duration_seconds: Option<i32>,
    /// Twilio's Timestamp (when the event happened); `None` means now.
    pub at: Option<OffsetDateTime>,
}

/// A call Twilio reports that we have not recorded yet, routed by one of our numbers.
#[derive(Debug, Clone, Copy)]
pub struct CarrierCall<'a> {
    /// Inbound (to our number) or outbound (from it).
    pub direction: Direction,
    /// Caller.
    pub from: &'a PhoneNumber,
    /// Callee.
    pub to: &'a PhoneNumber,
    /// Twilio's CallSid.
    pub sid: &'a str,
}

/// Records a call Twilio reports and this organization does not have yet (status `queued`,
/// the callback then advances it), linked to the oldest customer whose phone is the other
/// party's (`webhooks::customer_by_phone!`; one deleted meanwhile fails the insert:
/// [`crate::webhooks::is_customer_gone`]). Does nothing
/// when a call with this SID is already recorded here (including by a concurrent callback: the
/// insert waits for its transaction).
pub async fn record_carrier_call(tx: &mut TenantTx, call: &CarrierCall<'_>) -> Result<(), DbError> {
    let other_party = match call.direction {
        Direction::Inbound => call.from,
        Direction::Outbound => call.to,
    };
    tx.execute(
        concat!(
            "INSERT INTO palisade.calls \
                    (id, direction, from_number, to_number, call_sid, status, customer_id) \
             VALUES ($1, $2, $3, $4, $5, 'queued', ",
            customer_by_phone!("$6"),
            ") ON CONFLICT (organization_id, call_sid) DO NOTHING"
        ),
        &[
            &CallId::new().as_uuid(),
            &call.direction.as_str(),
            &call.from.as_str(),
            &call.to.as_str(),
            &call.sid,
            &other_party.as_str(),
        ],
    )
    .await?;
    Ok(())
}

/// Whether `e` is [`record_carrier_call`]'s refusal of an outbound call whose `from_number` is
/// not one of the organization's numbers with the `voice` capability (V0070's trigger
/// `calls_from_number_owned_insert`, which raises 23503 naming `calls_from_number_owned`): the
/// number routed the callback, outside the transaction, and was released or lost `voice` before
/// the insert. The transaction has failed, and is rolled back; routed again, the callback finds
/// the number nobody's.
pub fn is_number_not_ours(e: &DbError) -> bool {
    e.is_foreign_key_violation_of("calls_from_number_owned")
}

/// Applies a voice status callback to the call it is about (see the module doc). It applies
/// when its SequenceNumber is newer than the last applied one (or either is unknown), its
/// status is not behind the stored one ([`CALL_RANK`]), and the call is not already over with
/// another final status. Then: the status; `started_at` when the call is answered
/// (`in_progress`, or `completed` less its duration); `ended_at` at a final status, never
/// before `started_at`; the duration Twilio reports (or, for a completed call, the time
/// between start and end, at most i32::MAX seconds: a client may have dated the start as far
/// back as year 0); the SequenceNumber. The call gets the callback's SID if it had
/// none, even when the callback is stale.
pub async fn apply_call_status(
    tx: &mut TenantTx,
    target: CallTarget,
    report: &CallStatusReport<'_>,
) -> Result<Applied, DbError> {
    let (sql, call_id) = match target {
        CallTarget::Id(id) => (&*CALL_BY_ID, Some(id.as_uuid())),
        CallTarget::Sid => (&*CALL_BY_SID, None),
    };
    let result = tx
        .query_opt(
            sql,
            &[
                &call_id,
                &report.sid,
                &report.status.as_str(),
                &report.sequence,
                &report.duration_seconds,
                &report.at,
            ],
        )
        .await;
    applied(result, CALL_SID_KEY)
}

/// The call statement when the callback URL names our call id.
static CALL_BY_ID: LazyLock<String> =
    LazyLock::new(|| call_sql("c.id = $1::uuid AND (c.call_sid IS NULL OR c.call_sid = $2::text)"));
/// The call statement when only the SID is known (see [`SMS_BY_SID`]).
static CALL_BY_SID: LazyLock<String> =
    LazyLock::new(|| call_sql("$1::uuid IS NULL AND c.call_sid = $2::text"));

/// The statement of [`apply_call_status`]: $1 call id, $2 SID, $3 status, $4 sequence number,
/// $5 duration, $6 event time; `matching` selects the call.
fn call_sql(matching: &str) -> String {
    let rank_new = CALL_RANK.replace("{s}", "$3::text");
    let rank_old = CALL_RANK.replace("{s}", "t.old_status");
    format!(
        "WITH target AS ( \
             SELECT c.id, c.status AS old_status, c.started_at, c.ended_at, \
                    c.last_sequence_number, c.call_sid IS NULL AS sets_sid \
               FROM palisade.calls AS c \
              WHERE {matching} \
                FOR UPDATE), \
         decision AS ( \
             SELECT t.id, t.sets_sid, s.started_at, f.ended_at, \
                    ($4::bigint IS NULL OR t.last_sequence_number IS NULL OR $4::bigint > t.last_sequence_number) \
                    AND ({rank_new}) >= ({rank_old}) \
                    AND (t.old_status NOT IN {CALL_FINAL} OR t.old_status = $3::text) AS advance \
               FROM target AS t \
              CROSS JOIN LATERAL (SELECT coalesce($6::timestamptz, now()) AS at) AS e \
              CROSS JOIN LATERAL (SELECT least( \
                    CASE WHEN $3::text = 'in_progress' THEN coalesce(t.started_at, e.at) \
                         WHEN $3::text = 'completed' \
                              THEN coalesce(t.started_at, e.at - $5::integer * interval '1 second') \
                         ELSE t.started_at END, \
                    t.ended_at) AS started_at) AS s \
              CROSS JOIN LATERAL (SELECT CASE WHEN $3::text IN {CALL_FINAL} \
                    THEN greatest(coalesce(t.ended_at, e.at), s.started_at) \
                    ELSE t.ended_at END AS ended_at) AS f), \
         changed AS ( \
             UPDATE palisade.calls AS c SET \
                 call_sid = coalesce(c.call_sid, $2::text), \
                 status = CASE WHEN d.advance THEN $3::text ELSE c.status END, \
                 started_at = CASE WHEN d.advance THEN d.started_at ELSE c.started_at END, \
                 ended_at = CASE WHEN d.advance THEN d.ended_at ELSE c.ended_at END, \
                 duration_seconds = CASE WHEN d.advance THEN coalesce($5::integer, c.duration_seconds, \
                     CASE WHEN $3::text = 'completed' AND d.started_at IS NOT NULL \
                          THEN least(round(extract(epoch FROM d.ended_at - d.started_at)), 2147483647)::integer END) \
                     ELSE c.duration_seconds END, \
                 last_sequence_number = CASE WHEN d.advance \
                     THEN coalesce($4::bigint, c.last_sequence_number) ELSE c.last_sequence_number END, \
                 updated_at = now() \
               FROM decision AS d \
              WHERE c.id = d.id AND (d.advance OR d.sets_sid) \
             RETURNING c.id) \
         SELECT d.id, d.advance OR d.sets_sid AS changed FROM decision AS d"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SQL lists above spell the domain's statuses: a renamed status fails here, not in
    /// production as a status that never ranks or never ends.
    #[test]
    fn the_sql_lists_spell_the_domain_statuses() {
        let quoted = |sql: &str| -> Vec<String> {
            sql.split('\'')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect()
        };
        let finals: Vec<&str> = CallStatus::ALL
            .iter()
            .filter(|s| s.is_final())
            .map(|s| s.as_str())
            .collect();
        assert_eq!(quoted(CALL_FINAL), finals);
        let ranked: Vec<&str> = CallStatus::ALL
            .iter()
            .filter(|s| !s.is_final())
            .map(|s| s.as_str())
            .collect();
        assert_eq!(quoted(CALL_RANK), ranked);
        assert_eq!(
            quoted(SMS_RANK),
            [SmsStatus::Queued, SmsStatus::Sending, SmsStatus::Sent].map(SmsStatus::as_str)
        );
    }
}
