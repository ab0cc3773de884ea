//! Email provider events: SendGrid's event webhook and Mailgun's webhooks.
//!
//! Both verify first, over the raw bytes: SendGrid's ECDSA signature of the timestamp header and
//! the body (and a timestamp within [`SENDGRID_TOLERANCE_SECS`] of our clock); Mailgun's HMAC of
//! the body's own `signature.timestamp + signature.token` (within
//! [`MAILGUN_TOLERANCE_SECS`]), after which the token is admitted for this body only
//! ([`webhooks::admit_mailgun_token`], in `palisade_platform.mailgun_tokens`, shared by every
//! server instance and kept across restarts), since Mailgun's signature does not cover the
//! event: the same token with another body is a replay, refused like a bad signature.
//!
//! Then each event is normalized ([`sendgrid_event`], [`mailgun_event`]) and applied on its own:
//! routed by a resolver function (our message id from the `palisade_message_id` custom argument
//! or user variable, else the provider's message id when exactly one organization holds it),
//! applied in a provider transaction for that organization
//! ([`palisade_db::email_events::apply`]) and recorded by the provider's event id in the same
//! transaction. A SendGrid batch may mix organizations: each event has its own transaction.
//! An event that cannot be deduplicated (no event id) or routed is skipped with one warn line
//! naming the provider's ids, never the body or an address.

use actix_web::{HttpRequest, HttpResponse, web};
use palisade_db::email_events::{self, ProviderEmailEvent};
use palisade_db::webhooks::{self, Delivery, DeliveryKind, Provider};
use palisade_db::{DbError, TenantTx};
use palisade_domain::{EmailEvent, ProviderId, calendar};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use super::signature::{MAILGUN_TOLERANCE_SECS, SignatureError, verify_mailgun, verify_sendgrid};
use super::{invalid_signature, not_configured, record_org, signature_refused};
use crate::metrics::{WebhookOutcome, WebhookProvider};
use crate::{ApiError, AppState};

/// The custom argument (SendGrid) or user variable (Mailgun) in which the sender puts our
/// `email_messages` id. Preferred for routing: nobody but us chooses it.
pub const MESSAGE_ID_ARG: &str = "palisade_message_id";

/// SendGrid's signature header (base64 DER ECDSA).
pub const SENDGRID_SIGNATURE_HEADER: &str = "X-Twilio-Email-Event-Webhook-Signature";
/// SendGrid's timestamp header (unix seconds), signed with the body.
pub const SENDGRID_TIMESTAMP_HEADER: &str = "X-Twilio-Email-Event-Webhook-Timestamp";

/// How far SendGrid's timestamp header may be from our clock, either way, in seconds. SendGrid
/// documents no window; this is Mailgun's (and Stripe's default).
pub const SENDGRID_TOLERANCE_SECS: i64 = MAILGUN_TOLERANCE_SECS;

// A forgotten token must be one that can no longer verify: its timestamp was within the
// tolerance of the clock when it was accepted, and stays verifiable for up to twice that.
const _: () = assert!(webhooks::MAILGUN_TOKEN_RETENTION_SECS >= 2 * MAILGUN_TOLERANCE_SECS);

/// Longest provider event id we store (`webhook_deliveries.event_key`).
const MAX_EVENT_ID: usize = 300;

/// 400 for a signed body that cannot be read, with one warn line (the reason, never the body).
fn invalid_payload(provider: &'static str, message: &str) -> ApiError {
    tracing::warn!(
        provider,
        message,
        "email webhook refused: signed, but not readable"
    );
    ApiError::BadRequest {
        code: crate::error::ErrorCode::InvalidPayload,
        message: message.to_owned(),
    }
}

/// [`invalid_payload`] for Mailgun, as 406: Mailgun retries every other answer but a 2xx for
/// hours, and the same signed body would be refused alike each time.
fn mailgun_unusable(message: &str) -> ApiError {
    match invalid_payload("mailgun", message) {
        ApiError::BadRequest { code, message } => ApiError::Http {
            status: actix_web::http::StatusCode::NOT_ACCEPTABLE,
            code,
            message,
        },
        other => other,
    }
}

fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Whether a signed unix `timestamp` is within `tolerance` seconds of `now`.
fn check_fresh(timestamp: &str, now: i64, tolerance: i64) -> Result<(), SignatureError> {
    let t: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::Malformed)?;
    if !super::signature::within(now, t, tolerance) {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// `POST /webhooks/email/sendgrid`: a batch (JSON array) of SendGrid events. 200 once every
/// event is applied or skipped; 503 `unavailable` if the database fails part-way with a transient
/// error (SendGrid retries the batch, and the events already recorded are not applied twice).
pub async fn sendgrid(
    state: web::Data<AppState>,
    crate::extract::RawBody(body): crate::extract::RawBody,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let key = state
        .webhooks
        .sendgrid_public_key
        .as_ref()
        .ok_or_else(|| not_configured("sendgrid"))?;
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let timestamp = header(SENDGRID_TIMESTAMP_HEADER);
    verify_sendgrid(key, timestamp, &body, header(SENDGRID_SIGNATURE_HEADER))
        .and_then(|()| check_fresh(timestamp.unwrap_or(""), now_unix(), SENDGRID_TOLERANCE_SECS))
        .map_err(|reason| invalid_signature("sendgrid", reason))?;

    let events: Vec<Value> = serde_json::from_slice(&body)
        .map_err(|_| invalid_payload("sendgrid", "the body is not a JSON array of events"))?;
    let now = OffsetDateTime::now_utc();
    for raw in &events {
        let Some(event) = sendgrid_event(raw, now) else {
            state
                .metrics
                .webhook(WebhookProvider::Sendgrid, WebhookOutcome::Ignored);
            continue;
        };
        match apply_one(&state, None, &event).await {
            Ok(outcome) => state.metrics.webhook(WebhookProvider::Sendgrid, outcome),
            // The database is unreachable or the transaction lost a race: answer 5xx so that
            // SendGrid retries the batch (what was applied is recorded, so it is skipped then).
            Err(failed) if failed.error.is_transient() => return Err(failed.into()),
            // Anything else would fail again on every retry and hold back the events after it
            // until SendGrid gives up: log it (ids only: the organization, which a batch's
            // request line cannot carry, and the message's) and go on with the batch.
            Err(NotApplied { error, org }) => {
                tracing::error!(
                    provider = "sendgrid",
                    event = event.event_id,
                    org.id = org.map(tracing::field::display),
                    message_id = event.message_id.map(tracing::field::display),
                    provider_message_id = event.provider_message_id,
                    error = %error,
                    "email event not applied, skipped so the rest of its batch is not retried forever"
                );
                state
                    .metrics
                    .webhook(WebhookProvider::Sendgrid, WebhookOutcome::Failed);
            }
        }
    }
    Ok(HttpResponse::Ok().finish())
}

/// Mailgun's `signature` object. Its fields are read as JSON values: only their text matters.
#[derive(Deserialize)]
struct MailgunSignature {
    timestamp: Option<Value>,
    token: Option<Value>,
    signature: Option<Value>,
}

/// The body as first read: the signature only (serde skips everything else unread).
#[derive(Deserialize)]
struct MailgunEnvelope {
    signature: Option<MailgunSignature>,
}

/// The body once the signature holds.
#[derive(Deserialize)]
struct MailgunBody {
    #[serde(rename = "event-data")]
    event_data: Map<String, Value>,
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `POST /webhooks/email/mailgun`: one Mailgun event, as JSON (`{"signature": {...},
/// "event-data": {...}}`); Mailgun's legacy form-encoded webhooks are not supported.
pub async fn mailgun(
    state: web::Data<AppState>,
    crate::extract::RawBody(body): crate::extract::RawBody,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let key = state
        .webhooks
        .mailgun_signing_key
        .as_ref()
        .map(palisade_domain::Secret::expose)
        .ok_or_else(|| not_configured("mailgun"))?;
    // A body that is not JSON, or has no signature object, carries no signature to check.
    let signature = serde_json::from_slice::<MailgunEnvelope>(&body)
        .ok()
        .and_then(|e| e.signature);
    let (timestamp, token, sig) = match &signature {
        Some(s) => (
            text(s.timestamp.as_ref()),
            text(s.token.as_ref()),
            text(s.signature.as_ref()),
        ),
        None => (None, None, None),
    };
    let now = now_unix();
    verify_mailgun(
        key,
        timestamp.as_deref(),
        token.as_deref(),
        sig.as_deref(),
        now,
    )
    .map_err(|reason| invalid_signature("mailgun", reason))?;
    let token = token.unwrap_or_default();
    let digest: [u8; 32] = Sha256::digest(&body).into();
    // Before routing, in its own autocommit statement. A database error answers 5xx (Mailgun
    // retries it), never admits.
    let admitted = webhooks::admit_mailgun_token(&state.pool, &token, &digest)
        .await
        .map_err(|e| match e {
            e if e.is_transient() => ApiError::Unavailable(e),
            other => ApiError::Internal(other.to_string()),
        })?;
    if !admitted {
        tracing::warn!(
            provider = "mailgun",
            "webhook refused: its signature token was accepted before with another body (a replay), or is empty or too long"
        );
        return Err(signature_refused());
    }

    let parsed: MailgunBody = serde_json::from_slice(&body)
        .map_err(|_| mailgun_unusable("event-data is missing or not a JSON object"))?;
    let outcome = match mailgun_event(&parsed.event_data, OffsetDateTime::now_utc()) {
        Some(event) => apply_one(&state, Some(&req), &event).await?,
        None => WebhookOutcome::Ignored,
    };
    state.metrics.webhook(WebhookProvider::Mailgun, outcome);
    Ok(HttpResponse::Ok().finish())
}

/// An event that could not be applied: the database's error, and the organization the event
/// was routed to (`None` when it failed before), for the line that reports it.
struct NotApplied {
    error: DbError,
    org: Option<palisade_domain::OrgId>,
}

impl From<NotApplied> for ApiError {
    fn from(failed: NotApplied) -> Self {
        failed.error.into()
    }
}

/// Routes one event, applies it in its organization's provider transaction and records it;
/// says what came of it (applied, stale, duplicate or ignored), for the caller to count.
/// `req` is given when the request carries one event only, to put its organization on the
/// request's span.
async fn apply_one(
    state: &AppState,
    req: Option<&HttpRequest>,
    event: &ProviderEmailEvent<'_>,
) -> Result<WebhookOutcome, NotApplied> {
    let org = if event.message_id.is_none() && event.provider_message_id.is_none() {
        None
    } else {
        webhooks::resolve_email_message(&state.pool, event.message_id, event.provider_message_id)
            .await
            .map_err(|error| NotApplied { error, org: None })?
    };
    apply_routed(state, req, org, event)
        .await
        .map_err(|error| NotApplied { error, org })
}

/// [`apply_one`] once the event is routed (`org`: `None` when it is not).
async fn apply_routed(
    state: &AppState,
    req: Option<&HttpRequest>,
    org: Option<palisade_domain::OrgId>,
    event: &ProviderEmailEvent<'_>,
) -> Result<WebhookOutcome, DbError> {
    let provider = event.provider.as_str();
    let Some(org) = org else {
        tracing::warn!(
            provider,
            event = event.event_id,
            message_id = ?event.message_id,
            provider_message_id = event.provider_message_id,
            "email event ignored: no single organization has its message"
        );
        return Ok(WebhookOutcome::Ignored);
    };
    if let Some(req) = req {
        record_org(req, org);
    }
    let mut tx = TenantTx::begin_for_provider(&state.pool, org).await?;
    let Some(applied) = email_events::apply(&mut tx, event).await? else {
        drop(tx);
        tracing::warn!(
            provider,
            event = event.event_id,
            "email event ignored: its message no longer exists"
        );
        return Ok(WebhookOutcome::Ignored);
    };
    let delivery = Delivery {
        provider: event.provider,
        kind: DeliveryKind::EmailEvent,
        event_key: event.event_id,
        outcome: applied.outcome,
        subject_id: Some(applied.message_id),
    };
    let new = webhooks::record(&mut tx, &delivery).await?;
    if new {
        tx.commit().await?;
    } else {
        drop(tx);
        tracing::info!(
            provider,
            event = event.event_id,
            "duplicate webhook delivery ignored"
        );
    }
    if !new {
        return Ok(WebhookOutcome::Duplicate);
    }
    tracing::debug!(
        provider,
        event = event.event_id,
        org.id = %org,
        outcome = applied.outcome.as_str(),
        "email event recorded"
    );
    Ok(applied.outcome.into())
}

/// Seconds since the epoch (an integer, or a float with fractions as Mailgun sends) as an
/// instant, to the microsecond (what PostgreSQL keeps). `None` when absent or out of range.
fn unix_time(v: Option<&Value>) -> Option<OffsetDateTime> {
    let secs = match v? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !secs.is_finite() {
        return None;
    }
    // `as` saturates on huge values; checked_mul keeps the product in range.
    let micros = (secs * 1e6).round() as i128;
    let t = OffsetDateTime::from_unix_timestamp_nanos(micros.checked_mul(1000)?).ok()?;
    calendar::instant(t).ok()
}

/// A usable event id: 1 to 300 characters, none of them a control character (NUL cannot be
/// stored, and the id is logged).
fn event_id(v: Option<&Value>) -> Option<&str> {
    v?.as_str()
        .filter(|s| !s.is_empty() && s.len() <= MAX_EVENT_ID && !s.chars().any(char::is_control))
}

/// Our message id, when the event carries a well-formed one.
fn our_message_id(v: Option<&Value>) -> Option<Uuid> {
    Uuid::parse_str(v?.as_str()?.trim()).ok()
}

/// A usable provider message id: what [`ProviderId`] accepts (1 to 255 visible ASCII
/// characters, what the sender stores).
fn provider_message_id(s: &str) -> Option<&str> {
    let s = s.trim();
    ProviderId::parse(s).ok().map(|_| s)
}

/// SendGrid's event names, in Palisade's words; `None` for one we do not track (account
/// events, for instance).
pub fn sendgrid_kind(event: &str) -> Option<EmailEvent> {
    Some(match event {
        "processed" => EmailEvent::Sent,
        "delivered" => EmailEvent::Delivered,
        "deferred" => EmailEvent::Deferred,
        // Both "bounce" and "blocked" bounce types: the recipient's server refused it.
        "bounce" => EmailEvent::Bounced,
        "dropped" => EmailEvent::Dropped,
        "open" => EmailEvent::Opened,
        "click" => EmailEvent::Clicked,
        "spamreport" => EmailEvent::Complained,
        "unsubscribe" | "group_unsubscribe" => EmailEvent::Unsubscribed,
        "group_resubscribe" => EmailEvent::Resubscribed,
        _ => return None,
    })
}

/// One event of a SendGrid batch, or `None` (logged) when it cannot be used: not an object, no
/// `sg_event_id` (it could not be deduplicated), or a type we do not track.
///
/// The provider message id is `sg_message_id` up to its first `.`: what SendGrid's mail send
/// answered as `X-Message-Id`, which the sender stores in `provider_message_id`. Our id is the
/// `palisade_message_id` custom argument (custom arguments arrive as top-level keys).
pub fn sendgrid_event(raw: &Value, now: OffsetDateTime) -> Option<ProviderEmailEvent<'_>> {
    let Some(obj) = raw.as_object() else {
        tracing::warn!(
            provider = "sendgrid",
            "SendGrid event skipped: not a JSON object"
        );
        return None;
    };
    let name = obj.get("event").and_then(Value::as_str);
    let Some(id) = event_id(obj.get("sg_event_id")) else {
        tracing::warn!(
            provider = "sendgrid",
            event_type = name,
            "SendGrid event skipped: no usable sg_event_id, so it could not be deduplicated"
        );
        return None;
    };
    let Some(kind) = name.and_then(sendgrid_kind) else {
        tracing::info!(
            provider = "sendgrid",
            event = id,
            event_type = name,
            "SendGrid event skipped: a type Palisade does not track"
        );
        return None;
    };
    Some(ProviderEmailEvent {
        provider: Provider::Sendgrid,
        event_id: id,
        event: kind,
        occurred_at: unix_time(obj.get("timestamp")).unwrap_or(now),
        message_id: our_message_id(obj.get(MESSAGE_ID_ARG)),
        provider_message_id: obj
            .get("sg_message_id")
            .and_then(Value::as_str)
            .and_then(|s| s.split('.').next())
            .and_then(provider_message_id),
    })
}

/// Mailgun's event names (with `severity` and `reason` for failures), in Palisade's words.
///
/// A temporary failure is a deferral (Mailgun keeps trying). A permanent one is a drop when
/// Mailgun did not even try (`reason` `suppress-bounce`, `suppress-unsubscribe`,
/// `suppress-complaint`: the address is on a suppression list), else a bounce.
pub fn mailgun_kind(
    event: &str,
    severity: Option<&str>,
    reason: Option<&str>,
) -> Option<EmailEvent> {
    Some(match event {
        "accepted" => EmailEvent::Sent,
        "delivered" => EmailEvent::Delivered,
        "failed" if severity == Some("temporary") => EmailEvent::Deferred,
        "failed" if reason.is_some_and(|r| r.starts_with("suppress-")) => EmailEvent::Dropped,
        "failed" => EmailEvent::Bounced,
        "rejected" => EmailEvent::Failed,
        "opened" => EmailEvent::Opened,
        "clicked" => EmailEvent::Clicked,
        "unsubscribed" => EmailEvent::Unsubscribed,
        "complained" => EmailEvent::Complained,
        _ => return None,
    })
}

/// Mailgun's `event-data`, or `None` (logged) when it cannot be used: no `id`, or a type we do
/// not track.
///
/// The provider message id is `message.headers.message-id` without angle brackets (the sender
/// stores Mailgun's send answer `id` the same way); our id is the `palisade_message_id` user
/// variable.
pub fn mailgun_event(
    data: &Map<String, Value>,
    now: OffsetDateTime,
) -> Option<ProviderEmailEvent<'_>> {
    let name = data.get("event").and_then(Value::as_str);
    let Some(id) = event_id(data.get("id")) else {
        tracing::warn!(
            provider = "mailgun",
            event_type = name,
            "Mailgun event skipped: no usable id, so it could not be deduplicated"
        );
        return None;
    };
    let field = |k: &str| data.get(k).and_then(Value::as_str);
    let Some(kind) = name.and_then(|n| mailgun_kind(n, field("severity"), field("reason"))) else {
        tracing::info!(
            provider = "mailgun",
            event = id,
            event_type = name,
            "Mailgun event skipped: a type Palisade does not track"
        );
        return None;
    };
    Some(ProviderEmailEvent {
        provider: Provider::Mailgun,
        event_id: id,
        event: kind,
        occurred_at: unix_time(data.get("timestamp")).unwrap_or(now),
        message_id: our_message_id(
            data.get("user-variables")
                .and_then(|v| v.get(MESSAGE_ID_ARG)),
        ),
        provider_message_id: data
            .get("message")
            .and_then(|m| m.get("headers"))
            .and_then(|h| h.get("message-id"))
            .and_then(Value::as_str)
            .map(|s| s.trim().trim_start_matches('<').trim_end_matches('>'))
            .and_then(provider_message_id),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap()
    }

    #[test]
    fn a_sendgrid_event_is_read_as_documented() {
        let our = Uuid::now_v7();
        let raw = json!({
            "email": "someone@example.com",
            "timestamp": 1_513_299_569,
            "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
            "event": "open",
            "sg_event_id": "sg-evt-1",
            "sg_message_id": "Hhk_bDqQRciTrvYpIu8Q4Q.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
            "palisade_message_id": our.to_string(),
        });
        let e = sendgrid_event(&raw, now()).unwrap();
        assert_eq!(e.provider, Provider::Sendgrid);
        assert_eq!(e.event_id, "sg-evt-1");
        assert_eq!(e.event, EmailEvent::Opened);
        assert_eq!(e.occurred_at.unix_timestamp(), 1_513_299_569);
        assert_eq!(e.message_id, Some(our));
        assert_eq!(e.provider_message_id, Some("Hhk_bDqQRciTrvYpIu8Q4Q"));
    }

    #[test]
    fn unusable_sendgrid_events_are_skipped() {
        assert!(sendgrid_event(&json!("x"), now()).is_none());
        assert!(sendgrid_event(&json!({"event": "open"}), now()).is_none());
        assert!(sendgrid_event(&json!({"event": "open", "sg_event_id": ""}), now()).is_none());
        assert!(
            sendgrid_event(
                &json!({"event": "open", "sg_event_id": "x".repeat(301)}),
                now()
            )
            .is_none()
        );
        assert!(
            sendgrid_event(
                &json!({"event": "account_status_change", "sg_event_id": "e"}),
                now()
            )
            .is_none()
        );
        // Usable without ids or time: no routing (skipped later), and the time of receipt.
        let raw = json!({"event": "bounce", "sg_event_id": "e", "palisade_message_id": "nope"});
        let e = sendgrid_event(&raw, now()).unwrap();
        assert_eq!(
            (e.event, e.message_id, e.provider_message_id, e.occurred_at),
            (EmailEvent::Bounced, None, None, now())
        );
    }

    #[test]
    fn every_sendgrid_event_type_we_track() {
        for (name, kind) in [
            ("processed", EmailEvent::Sent),
            ("delivered", EmailEvent::Delivered),
            ("deferred", EmailEvent::Deferred),
            ("bounce", EmailEvent::Bounced),
            ("dropped", EmailEvent::Dropped),
            ("open", EmailEvent::Opened),
            ("click", EmailEvent::Clicked),
            ("spamreport", EmailEvent::Complained),
            ("unsubscribe", EmailEvent::Unsubscribed),
            ("group_unsubscribe", EmailEvent::Unsubscribed),
            ("group_resubscribe", EmailEvent::Resubscribed),
        ] {
            assert_eq!(sendgrid_kind(name), Some(kind), "{name}");
        }
    }

    #[test]
    fn a_mailgun_event_is_read_as_documented() {
        let our = Uuid::now_v7();
        let data = json!({
            "event": "failed",
            "severity": "permanent",
            "reason": "bounce",
            "id": "CCXMjJ7nQi2N3BPigGOdgQ",
            "timestamp": 1_521_472_262.908_181,
            "recipient": "someone@example.com",
            "message": {"headers": {"message-id": "<20130503182626.18666.16540@mg.example.com>"}},
            "user-variables": {"palisade_message_id": our.to_string()},
        });
        let e = mailgun_event(data.as_object().unwrap(), now()).unwrap();
        assert_eq!(e.provider, Provider::Mailgun);
        assert_eq!(e.event_id, "CCXMjJ7nQi2N3BPigGOdgQ");
        assert_eq!(e.event, EmailEvent::Bounced);
        assert_eq!(
            e.occurred_at.unix_timestamp_nanos(),
            1_521_472_262_908_181_000
        );
        assert_eq!(e.message_id, Some(our));
        assert_eq!(
            e.provider_message_id,
            Some("20130503182626.18666.16540@mg.example.com")
        );
        assert!(mailgun_event(json!({"event": "opened"}).as_object().unwrap(), now()).is_none());
        assert!(
            mailgun_event(
                json!({"event": "stored", "id": "x"}).as_object().unwrap(),
                now()
            )
            .is_none()
        );
    }

    #[test]
    fn mailgun_failures_by_severity_and_reason() {
        let k = mailgun_kind;
        assert_eq!(
            k("failed", Some("temporary"), Some("generic")),
            Some(EmailEvent::Deferred)
        );
        assert_eq!(
            k("failed", Some("permanent"), Some("suppress-bounce")),
            Some(EmailEvent::Dropped)
        );
        assert_eq!(
            k("failed", Some("permanent"), Some("old")),
            Some(EmailEvent::Bounced)
        );
        assert_eq!(k("rejected", None, None), Some(EmailEvent::Failed));
        assert_eq!(k("accepted", None, None), Some(EmailEvent::Sent));
        assert_eq!(k("complained", None, None), Some(EmailEvent::Complained));
    }

    #[test]
    fn freshness_is_checked_both_ways() {
        assert_eq!(check_fresh("1000", 1300, 300), Ok(()));
        assert_eq!(check_fresh("1000", 700, 300), Ok(()));
        assert_eq!(check_fresh("1000", 1301, 300), Err(SignatureError::Stale));
        assert_eq!(check_fresh("1000", 699, 300), Err(SignatureError::Stale));
        assert_eq!(
            check_fresh("soon", 1000, 300),
            Err(SignatureError::Malformed)
        );
    }
}
