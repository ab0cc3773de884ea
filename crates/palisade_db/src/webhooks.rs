//! Carrier and email-provider webhooks: routing a verified delivery to its organization, and
//! recording it so that a retry or a concurrent duplicate changes nothing.
//!
//! The `resolve_*` functions are the only reads of tenant tables before the organization is
//! known; each calls one SECURITY DEFINER function of `policies/021_webhook_resolvers.sql`,
//! which returns an organization id and nothing else. (The Mailgun token check below reads a
//! platform table with no tenant data.) Everything after runs in
//! [`TenantTx::begin_for_provider`] for that organization, under RLS, as `palisade_app`: these
//! paths never see the billing role.
//!
//! Each delivery's effect and its [`record`] share one transaction, effect first:
//! ```text
//! tx = TenantTx::begin_for_provider(pool, org)
//! ...the effect (insert the inbound message, advance a status)...
//! if record(&mut tx, &delivery)? { tx.commit() } else { drop(tx) /* duplicate: roll back */ }
//! ```
//! A duplicate arriving while the first delivery's transaction is still open waits on the
//! unique key (PostgreSQL's ON CONFLICT waits for the other transaction's outcome), then finds
//! it and rolls its own effect back: exactly one effect, however the duplicates interleave.
//!
//! Before all that, a Mailgun delivery's signature token is admitted for its body only
//! ([`admit_mailgun_token`], over `palisade_platform.mailgun_tokens`): Mailgun's signature does
//! not cover the event, and this is what keeps a captured signature from carrying another one.

use palisade_domain::{OrgId, WebhookDeliveryId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::list::ListQuery;
use crate::{AppPool, DbError, TenantTx};

palisade_domain::str_enum! {
    /// Who sent a delivery.
    pub enum Provider {
        /// Twilio (SMS and voice).
        Twilio = "twilio",
        /// SendGrid's event webhook.
        Sendgrid = "sendgrid",
        /// Mailgun's webhooks.
        Mailgun = "mailgun",
        /// Amazon Connect contact events, through an EventBridge API destination.
        AwsConnect = "aws_connect",
    }
}

palisade_domain::str_enum! {
    /// What a delivery was about.
    pub enum DeliveryKind {
        /// An inbound SMS.
        SmsInbound = "sms.inbound",
        /// A status callback for an SMS we sent.
        SmsStatus = "sms.status",
        /// A voice call status callback.
        VoiceStatus = "voice.status",
        /// An email event (delivered, opened, bounced...).
        EmailEvent = "email.event",
        /// An Amazon Connect contact event.
        ConnectContact = "connect.contact",
    }
}

palisade_domain::str_enum! {
    /// What a delivery did.
    pub enum Outcome {
        /// It advanced the row it is about (its status, timestamps or provider id).
        Applied = "applied",
        /// It changed nothing on its row: an SMS or call callback that neither advanced the
        /// status (older than what we had, e.g. "sent" after "delivered") nor recorded the SID;
        /// an email event that changed neither the status, a stage's time (a late "delivered"
        /// after "opened" still dates `delivered_at`: `Applied`) nor the provider id, such as a
        /// deferral or a second open; an Amazon Connect event whose status the call did not take.
        /// An email event still adds its analytics event.
        Stale = "stale",
    }
}

/// One delivery, as recorded.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// Who sent it.
    pub provider: Provider,
    /// What it was about.
    pub kind: DeliveryKind,
    /// The provider's id for it (see `policies/500_webhook_deliveries.sql` for each kind's).
    pub event_key: &'a str,
    /// What it did.
    pub outcome: Outcome,
    /// The message or call it was about.
    pub subject_id: Option<Uuid>,
}

/// Records `delivery` in the transaction that applied it. `true` the first time; `false` when
/// this organization already recorded the same delivery: the caller must then drop the
/// transaction (roll back) instead of committing.
pub async fn record(tx: &mut TenantTx, delivery: &Delivery<'_>) -> Result<bool, DbError> {
    let rows = tx
        .query(
            "INSERT INTO palisade.webhook_deliveries (id, provider, kind, event_key, outcome, subject_id) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (organization_id, provider, kind, event_key) DO NOTHING \
             RETURNING id",
            &[
                &WebhookDeliveryId::new().as_uuid(),
                &delivery.provider.as_str(),
                &delivery.kind.as_str(),
                &delivery.event_key,
                &delivery.outcome.as_str(),
                &delivery.subject_id,
            ],
        )
        .await?;
    Ok(!rows.is_empty())
}

async fn resolve(
    pool: &AppPool,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Option<OrgId>, DbError> {
    let conn = pool.get().await?;
    let stmt = conn.prepare_cached(sql).await?;
    let row = conn.query_one(&stmt, params).await?;
    Ok(row.try_get::<_, Option<Uuid>>(0)?.map(OrgId::from_uuid))
}

/// The organization owning `number` (E.164) with `capability` (`sms` or `voice`).
pub async fn resolve_number(
    pool: &AppPool,
    number: &str,
    capability: &str,
) -> Result<Option<OrgId>, DbError> {
    resolve(
        pool,
        "SELECT palisade_private.webhook_org_for_number($1, $2)",
        &[&number, &capability],
    )
    .await
}

/// The organization of the outbound SMS with our id `message_id` (from the callback URL), or
/// else with carrier SID `sid` when exactly one organization has it.
pub async fn resolve_sms_message(
    pool: &AppPool,
    message_id: Option<Uuid>,
    sid: &str,
) -> Result<Option<OrgId>, DbError> {
    resolve(
        pool,
        "SELECT palisade_private.webhook_org_for_sms_message($1, $2)",
        &[&message_id, &sid],
    )
    .await
}

/// The organization of the call with our id `call_id`, or else with call SID `sid` when
/// exactly one organization has it.
pub async fn resolve_call(
    pool: &AppPool,
    call_id: Option<Uuid>,
    sid: &str,
) -> Result<Option<OrgId>, DbError> {
    resolve(
        pool,
        "SELECT palisade_private.webhook_org_for_call($1, $2)",
        &[&call_id, &sid],
    )
    .await
}

/// The organization of the email with our id `message_id`, or else with the provider's
/// message id `provider_id` when exactly one organization has it.
pub async fn resolve_email_message(
    pool: &AppPool,
    message_id: Option<Uuid>,
    provider_id: Option<&str>,
) -> Result<Option<OrgId>, DbError> {
    resolve(
        pool,
        "SELECT palisade_private.webhook_org_for_email_message($1, $2)",
        &[&message_id, &provider_id],
    )
    .await
}

/// How long a Mailgun token is remembered after it was first accepted, in seconds: twice the
/// Mailgun webhook's 300 s signature tolerance (a token verifies only while its timestamp is
/// within the tolerance of the clock, on either side), so a forgotten token can no longer
/// verify. `policies/460_mailgun_tokens.sql` lets `palisade_app` delete no fresher token.
pub const MAILGUN_TOKEN_RETENTION_SECS: i64 = 600;

/// Longest Mailgun token stored (Mailgun's are 50 characters).
pub const MAX_MAILGUN_TOKEN_CHARS: usize = 512;

/// Most expired tokens one call forgets (see [`admit_mailgun_token`]).
const MAILGUN_SWEEP_LIMIT: i64 = 100;

/// Whether the Mailgun signature `token`, which has just verified, may be used with the body
/// whose SHA-256 is `body_sha256`: yes the first time (the token is then recorded with this
/// digest, for every server instance sharing the database), yes again with the same digest
/// (Mailgun retrying the same request; its delivery record makes that harmless), no with any
/// other digest (a replay of the signature with other event data). Also no for an empty token,
/// one longer than [`MAX_MAILGUN_TOKEN_CHARS`] or one with control characters (NUL cannot be
/// stored), none of which Mailgun sends.
///
/// Of several concurrent first uses of one token with different bodies, exactly one is
/// admitted: the primary key serializes them (an `INSERT ... ON CONFLICT DO NOTHING` waits for
/// a concurrent insert of the same token to commit, then finds it taken).
///
/// One autocommit statement on the app pool, outside any tenant transaction, one round trip:
/// - it inserts the token (`ON CONFLICT DO NOTHING`) and reads the digest already stored for it,
///   if any. When the insert conflicted with a token committed after the statement's snapshot
///   was taken (a concurrent first use), that stored row is not visible to the same statement:
///   the statement is then run once more (a new snapshot sees it), the only second round trip;
/// - it forgets, in the same statement, up to 100 tokens accepted more than
///   [`MAILGUN_TOKEN_RETENTION_SECS`] ago (by the database's clock, the one every instance
///   shares), oldest first through the `accepted_at` index: about as many expire as are added,
///   so each call has one or none to delete, and finding none is one index probe. Doing it here
///   costs no extra round trip and needs no background task; two calls that pick the same
///   expired row wait at most for the other's statement.
pub async fn admit_mailgun_token(
    pool: &AppPool,
    token: &str,
    body_sha256: &[u8; 32],
) -> Result<bool, DbError> {
    if token.is_empty()
        || token.chars().count() > MAX_MAILGUN_TOKEN_CHARS
        || token.chars().any(char::is_control)
    {
        return Ok(false);
    }
    let conn = pool.get().await?;
    let stmt = conn
        .prepare_cached(
            "WITH inserted AS ( \
                 INSERT INTO palisade_platform.mailgun_tokens (token, body_sha256) \
                 VALUES ($1, $2) \
                 ON CONFLICT (token) DO NOTHING \
                 RETURNING token \
             ), swept AS ( \
                 DELETE FROM palisade_platform.mailgun_tokens \
                  WHERE token IN (SELECT old.token FROM palisade_platform.mailgun_tokens old \
                                   WHERE old.accepted_at < now() - make_interval(secs => $3) \
                                   ORDER BY old.accepted_at LIMIT $4) \
                 RETURNING token \
             ) \
             SELECT EXISTS (SELECT 1 FROM inserted), \
                    (SELECT t.body_sha256 FROM palisade_platform.mailgun_tokens t WHERE t.token = $1), \
                    (SELECT count(*) FROM swept)",
        )
        .await?;
    // The second run settles it: the row the first run conflicted with is committed by then
    // (ON CONFLICT waited for it), so it is visible, or it was deleted as expired and this
    // run's insert succeeds. Should neither happen, refuse (Mailgun retries a 401) rather than
    // admit.
    for _ in 0..2 {
        let row = conn
            .query_one(
                &stmt,
                &[
                    &token,
                    &body_sha256.as_slice(),
                    &(MAILGUN_TOKEN_RETENTION_SECS as f64),
                    &MAILGUN_SWEEP_LIMIT,
                ],
            )
            .await?;
        let inserted: bool = row.try_get(0)?;
        let stored: Option<Vec<u8>> = row.try_get(1)?;
        let swept: i64 = row.try_get(2)?;
        if swept > 0 {
            tracing::debug!(swept, "expired Mailgun tokens forgotten");
        }
        if inserted {
            return Ok(true);
        }
        if let Some(stored) = stored {
            return Ok(stored == body_sha256);
        }
    }
    tracing::warn!("Mailgun token refused: taken, but its row never became visible");
    Ok(false)
}

/// An inbound SMS, as Twilio reports it.
#[derive(Debug, Clone)]
pub struct InboundSms<'a> {
    /// Twilio's MessageSid.
    pub sid: &'a str,
    /// The sender (E.164).
    pub from: &'a str,
    /// Our number it was sent to (E.164).
    pub to: &'a str,
    /// The text (up to 1600 characters).
    pub body: &'a str,
}

/// The subquery that links a carrier's message or call to a customer: the id of the
/// organization's oldest customer whose phone is the parameter `$phone` (`"$2"`), or NULL.
///
/// No lock. A locking read here (`FOR KEY SHARE`) would lock the customer before the insert's
/// foreign key checks lock the organization: an organization's deletion under way (its row, then
/// its customers) would then wait on that customer while the webhook waits on the organization,
/// and PostgreSQL would abort one of the two (stop 64's review r3). Without it the two checks
/// lock them in the order PostgreSQL fires their triggers, which is by the triggers' names
/// (`RI_ConstraintTrigger_c_<trigger oid>`, compared as text): usually the organization's first
/// in a database the migrations built (not when the oids cross a power of ten between the two
/// constraints), and not necessarily after a restore or `pg_upgrade`, which recreate the
/// constraints in name order (customer before organization): there the same deadlock can
/// happen (stop 64's review r5; not fixed). A customer deleted by a transaction that
/// had not committed when the subquery read it is still found, and the insert's foreign key check,
/// having waited for that transaction, fails ([`is_customer_gone`]): the caller runs the
/// transaction again, and the subquery then finds the next oldest customer with that phone, or
/// none.
macro_rules! customer_by_phone {
    ($phone:literal) => {
        concat!(
            "(SELECT c.id FROM palisade.customers AS c WHERE c.phone = ",
            $phone,
            " ORDER BY c.created_at, c.id LIMIT 1)"
        )
    };
}
pub(crate) use customer_by_phone;

/// Whether `e` is an insert's refusal of the customer `customer_by_phone!` found (an inbound
/// SMS's or a new call's, SQLSTATE 23503 on `sms_messages_customer_fkey` or
/// `calls_customer_fkey`): the customer was deleted by a transaction that committed while the
/// foreign key check waited for it. The transaction has failed, and is rolled back; run again,
/// it no longer finds that customer.
pub fn is_customer_gone(e: &DbError) -> bool {
    e.is_foreign_key_violation_of(crate::messaging::sms::CUSTOMER_FKEY)
        || e.is_foreign_key_violation_of(crate::messaging::voice::CUSTOMER_FKEY)
}

/// Stores an inbound SMS for the transaction's organization, linked to the oldest customer
/// whose phone is the sender's (`customer_by_phone!`; one deleted meanwhile fails the insert:
/// [`is_customer_gone`]).
/// `None` when a message with this SID is already stored (a duplicate delivery).
pub async fn insert_inbound_sms(
    tx: &mut TenantTx,
    sms: &InboundSms<'_>,
) -> Result<Option<Uuid>, DbError> {
    let rows = tx
        .query(
            concat!(
                "INSERT INTO palisade.sms_messages \
                        (id, direction, from_number, to_number, body, status, carrier_sid, \
                         received_at, customer_id) \
                 VALUES ($1, 'inbound', $2, $3, $4, 'received', $5, now(), ",
                customer_by_phone!("$2"),
                ") ON CONFLICT (organization_id, carrier_sid) DO NOTHING RETURNING id"
            ),
            &[
                &palisade_domain::SmsMessageId::new().as_uuid(),
                &sms.from,
                &sms.to,
                &sms.body,
                &sms.sid,
            ],
        )
        .await?;
    Ok(rows.first().map(|r| r.try_get(0)).transpose()?)
}

crate::table! {
    /// A recorded delivery, as listed to the organization.
    pub struct DeliveryRow in "palisade.webhook_deliveries" {
        /// Its id.
        id: Uuid,
        /// `twilio`, `sendgrid`, `mailgun`, `aws_connect`.
        provider: String,
        /// `sms.inbound`, `sms.status`, `voice.status`, `email.event`, `connect.contact`.
        kind: String,
        /// The provider's id for the delivery.
        event_key: String,
        /// `applied` or `stale`.
        outcome: String,
        /// The message or call it was about.
        subject_id: Option<Uuid>,
        /// When it arrived.
        created_at: OffsetDateTime,
    }
}

/// Filters of `GET /v1/webhook-deliveries` (newest first, see [`crate::crud::list_page`]).
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// Only this provider.
    pub provider: Option<Provider>,
    /// Only this kind.
    pub kind: Option<DeliveryKind>,
    /// Only deliveries about this message or call.
    pub subject_id: Option<Uuid>,
}

impl crate::crud::Filter for DeliveryFilter {
    type Row = DeliveryRow;
    fn narrow<'a>(&'a self, query: ListQuery<'a>) -> ListQuery<'a> {
        query
            .and_opt_value("provider = $", self.provider.map(Provider::as_str))
            .and_opt_value("kind = $", self.kind.map(DeliveryKind::as_str))
            .and_opt("subject_id = $", self.subject_id.as_ref())
    }
}
