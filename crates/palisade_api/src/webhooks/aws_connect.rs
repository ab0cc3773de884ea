//! `POST /webhooks/aws-connect/events`: Amazon Connect contact events, as an EventBridge API
//! destination delivers them (docs/aws-connect.md).
//!
//! In this order:
//! 1. The credential: the header `X-Palisade-Connect-Key` (the EventBridge connection's API key
//!    authorization) must be a working credential of some organization, found through
//!    `palisade_private.aws_connect_credential_lookup` (a resolver: it returns the organization
//!    and nothing else; a credential whose creator was removed or made a member counts as
//!    revoked). Missing, malformed, unknown and revoked all answer the same 401
//!    `invalid_credentials`, before the body is parsed: nothing about instance ARNs is revealed.
//!    (The body has been received by then, up to the provider routes' size limit: a larger one
//!    answers 413 whatever the credential, which reveals nothing either.)
//! 2. The body: an EventBridge event (`id`, `source`, `detail-type`, `detail`). Not JSON, or a
//!    contact event without its contact id, channel, instance ARN or event type, or with a
//!    timestamp that is not RFC 3339 in the UTC years 0000 to 9999, or an event whose id,
//!    contact id, previous contact id, instance, queue or agent ARN holds a control character
//!    (PostgreSQL refuses a NUL in text, which would answer 500, and EventBridge retries a 5xx
//!    for a day): 400 `invalid_payload`, nothing written. Another `source` or `detail-type`:
//!    200, nothing written.
//! 3. The organization's provider transaction (RLS): the event's `detail.instanceArn` must be
//!    one of the organization's registered instances, else 200 and nothing written (so too when
//!    the instance is deleted while the event is applied: [`db::is_instance_gone`]). Then the
//!    event is applied ([`palisade_db::aws_connect`]) and recorded by its EventBridge `id`
//!    (`webhook_deliveries`, provider `aws_connect`, kind `connect.contact`), in one
//!    transaction: a repeated event (EventBridge retries) changes nothing more.
//!
//! What each event does:
//!
//! | channel | eventType | effect |
//! |---|---|---|
//! | VOICE | INITIATED | the call is created, `queued` |
//! | VOICE | CONNECTED_TO_SYSTEM, QUEUED | `ringing` |
//! | VOICE | CONNECTED_TO_AGENT | `in_progress` |
//! | VOICE | DISCONNECTED, COMPLETED | `completed`, with its end and duration |
//! | CHAT | INITIATED, CONNECTED_TO_SYSTEM, QUEUED, CONNECTED_TO_AGENT | the conversation is created, `open` |
//! | CHAT | DISCONNECTED, COMPLETED | the conversation is `closed` |
//! | any other channel (TASK, EMAIL) or eventType (CONTACT_DATA_UPDATED, ...) | | 200, nothing written |
//!
//! Every event of a voice contact also fills what the call does not have yet: its queue and
//! agent ARNs, its start (the earliest initiation time reported). A call's status only moves
//! forward, so events arriving out of order never take it back. The direction comes from the
//! initiation method: INBOUND and WEBRTC_API are inbound; OUTBOUND, CALLBACK, API and
//! EXTERNAL_OUTBOUND outbound; TRANSFER, QUEUE_TRANSFER and DISCONNECT (a new contact made from
//! another) take the direction of the contact named by `previousContactId` when this
//! organization has its call, else inbound; MONITOR (a supervisor listening in) is not a call:
//! nothing is written.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::aws_connect::{self as db, ContactApplied, ContactDirection, VoiceContact};
use palisade_db::webhooks::{Delivery, DeliveryKind, Outcome, Provider};
use palisade_domain::{CallStatus, Direction, calendar};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{finish, record_org};
use crate::credentials::connect_credential_hash;
use crate::error::ErrorCode;
use crate::metrics::WebhookOutcome;
use crate::{ApiError, AppState};

/// The header an EventBridge connection's API key authorization sends (docs/aws-connect.md).
pub const CREDENTIAL_HEADER: &str = "X-Palisade-Connect-Key";

/// The `detail-type` of the events this route applies.
const CONTACT_EVENT: &str = "Amazon Connect Contact Event";

/// The EventBridge envelope; its `detail` is read once the envelope says it is a contact event.
#[derive(Deserialize)]
struct Envelope {
    id: String,
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    detail: serde_json::Value,
}

/// The parts of a contact event's `detail` that we use (AWS adds fields over time: the others
/// are ignored, as AWS asks).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    event_type: String,
    contact_id: String,
    previous_contact_id: Option<String>,
    channel: String,
    instance_arn: String,
    initiation_method: Option<String>,
    initiation_timestamp: Option<String>,
    connected_to_system_timestamp: Option<String>,
    disconnect_timestamp: Option<String>,
    queue_info: Option<QueueInfo>,
    // AWS's own "disconnected" sample spells it `AgentInfo` / `AgentArn` (the data model says
    // `agentInfo` / `agentArn`): both are read.
    #[serde(alias = "AgentInfo")]
    agent_info: Option<AgentInfo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueueInfo {
    queue_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AgentInfo {
    #[serde(alias = "AgentArn")]
    agent_arn: Option<String>,
}

/// 401 for a missing, malformed, unknown or revoked credential: one answer for all.
fn unauthorized() -> ApiError {
    ApiError::Http {
        status: StatusCode::UNAUTHORIZED,
        code: ErrorCode::InvalidCredentials,
        message: "the X-Palisade-Connect-Key credential is missing, unknown or revoked".into(),
    }
}

fn refused(message: &'static str) -> ApiError {
    tracing::warn!(message, "Amazon Connect event refused: it cannot be read");
    ApiError::BadRequest {
        code: ErrorCode::InvalidPayload,
        message: message.into(),
    }
}

/// Whether `s` holds a control character (`char::is_control`: NUL, which PostgreSQL refuses in
/// text, and the others). No id or ARN Amazon Connect sends has one.
fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// An optional RFC 3339 timestamp in the UTC years 0000 to 9999 (an offset can move a written
/// 9999-12-31 past them, and the `time` crate panics converting it to UTC for PostgreSQL:
/// [`calendar::instant`]); Connect's placeholder for "not yet" (the epoch, e.g.
/// `1970-01-01T00:00:00.001Z` in its CONTACT_DATA_UPDATED sample) reads as absent.
fn timestamp(raw: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let t = OffsetDateTime::parse(raw, &Rfc3339)
        .ok()
        .and_then(|t| calendar::instant(t).ok())
        .ok_or_else(|| refused("a timestamp of the event is not RFC 3339 in years 0000 to 9999"))?;
    Ok((t.unix_timestamp() > 86_400).then_some(t))
}

/// The call status a voice event reports, or `None` for an event that changes no call.
fn voice_status(event_type: &str) -> Option<CallStatus> {
    Some(match event_type {
        "INITIATED" => CallStatus::Queued,
        "CONNECTED_TO_SYSTEM" | "QUEUED" => CallStatus::Ringing,
        "CONNECTED_TO_AGENT" => CallStatus::InProgress,
        "DISCONNECTED" | "COMPLETED" => CallStatus::Completed,
        _ => return None,
    })
}

/// Whether a chat event closes the conversation (`Some(true)`), opens it (`Some(false)`), or
/// changes nothing (`None`).
fn chat_closes(event_type: &str) -> Option<bool> {
    match event_type {
        "INITIATED" | "CONNECTED_TO_SYSTEM" | "QUEUED" | "CONNECTED_TO_AGENT" => Some(false),
        "DISCONNECTED" | "COMPLETED" => Some(true),
        _ => None,
    }
}

/// The call's direction from the initiation method, or `None` for a contact that is not a
/// call (MONITOR). See the module doc.
fn direction(method: Option<&str>) -> Option<ContactDirection> {
    Some(match method {
        Some("INBOUND" | "WEBRTC_API") => ContactDirection::Known(Direction::Inbound),
        Some("OUTBOUND" | "CALLBACK" | "API" | "EXTERNAL_OUTBOUND") => {
            ContactDirection::Known(Direction::Outbound)
        }
        Some("MONITOR") => return None,
        _ => ContactDirection::FromPrevious,
    })
}

/// 200 for an event acknowledged without a write, counted as `ignored`.
fn ignored(state: &AppState, id: &str, why: &'static str) -> HttpResponse {
    state
        .metrics
        .webhook(Provider::AwsConnect, WebhookOutcome::Ignored);
    tracing::info!(
        event.id = id,
        why,
        "Amazon Connect event acknowledged, nothing written"
    );
    HttpResponse::Ok().finish()
}

/// `POST /webhooks/aws-connect/events` (see the module doc).
pub async fn events(
    state: web::Data<AppState>,
    req: HttpRequest,
    crate::extract::RawBody(body): crate::extract::RawBody,
) -> Result<HttpResponse, ApiError> {
    let hash = req
        .headers()
        .get(CREDENTIAL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(connect_credential_hash)
        .ok_or_else(unauthorized)?;
    let Some(org) = db::resolve_credential(&state.pool, &hash).await? else {
        tracing::warn!("Amazon Connect event refused: unknown or revoked credential");
        return Err(unauthorized());
    };
    record_org(&req, org);
    let envelope: Envelope = serde_json::from_slice(&body)
        .map_err(|_| refused("the body is not an EventBridge event"))?;
    // The id is checked first: it is logged below, whatever the event.
    if envelope.id.is_empty() || envelope.id.chars().count() > 300 || has_control(&envelope.id) {
        return Err(refused(
            "the event id must be 1 to 300 characters, none a control character",
        ));
    }
    if envelope.source != "aws.connect" || envelope.detail_type != CONTACT_EVENT {
        return Ok(ignored(
            &state,
            &envelope.id,
            "not an Amazon Connect contact event",
        ));
    }
    let detail: Detail = serde_json::from_value(envelope.detail)
        .map_err(|_| refused("the event's detail is not a contact event"))?;
    if detail.contact_id.is_empty()
        || detail.contact_id.chars().count() > 256
        || has_control(&detail.contact_id)
    {
        return Err(refused(
            "the contactId must be 1 to 256 characters, none a control character",
        ));
    }
    let queue_arn = detail.queue_info.and_then(|q| q.queue_arn);
    let agent_arn = detail.agent_info.and_then(|a| a.agent_arn);
    // Each of these reaches PostgreSQL as text: the instance ARN whatever its length (a long
    // one matches no instance), the others unless their length drops them below.
    for (value, message) in [
        (
            Some(detail.instance_arn.as_str()),
            "the instanceArn holds a control character",
        ),
        (
            detail.previous_contact_id.as_deref(),
            "the previousContactId holds a control character",
        ),
        (
            queue_arn.as_deref(),
            "the queueInfo.queueArn holds a control character",
        ),
        (
            agent_arn.as_deref(),
            "the agentInfo.agentArn holds a control character",
        ),
    ] {
        if value.is_some_and(has_control) {
            return Err(refused(message));
        }
    }
    let started_at = timestamp(detail.initiation_timestamp.as_deref())?
        .or(timestamp(detail.connected_to_system_timestamp.as_deref())?);
    let ended_at = timestamp(detail.disconnect_timestamp.as_deref())?;
    let arn_of = |s: Option<String>| s.filter(|a| (1..=2048).contains(&a.chars().count()));
    let queue_arn = arn_of(queue_arn);
    let agent_arn = arn_of(agent_arn);
    let previous = detail
        .previous_contact_id
        .filter(|p| (1..=256).contains(&p.chars().count()));

    enum Effect {
        Voice(CallStatus, ContactDirection),
        Chat(bool),
    }
    let effect = match detail.channel.to_ascii_uppercase().as_str() {
        "VOICE" => match (
            voice_status(&detail.event_type),
            direction(detail.initiation_method.as_deref()),
        ) {
            (Some(status), Some(direction)) => Effect::Voice(status, direction),
            _ => {
                return Ok(ignored(
                    &state,
                    &envelope.id,
                    "an event that changes no call",
                ));
            }
        },
        "CHAT" => match chat_closes(&detail.event_type) {
            Some(closes) => Effect::Chat(closes),
            None => {
                return Ok(ignored(
                    &state,
                    &envelope.id,
                    "an event that changes no conversation",
                ));
            }
        },
        _ => return Ok(ignored(&state, &envelope.id, "a channel we do not record")),
    };

    let mut tx = TenantTx::begin_for_provider(&state.pool, org).await?;
    let Some(instance_id) = db::instance_by_arn(&mut tx, &detail.instance_arn).await? else {
        drop(tx);
        return Ok(ignored(
            &state,
            &envelope.id,
            "an instance this organization did not register",
        ));
    };
    let applied = match effect {
        Effect::Voice(status, direction) => {
            db::apply_voice(
                &mut tx,
                &VoiceContact {
                    instance_id,
                    contact_id: &detail.contact_id,
                    previous_contact_id: previous.as_deref(),
                    direction,
                    status,
                    started_at,
                    ended_at,
                    queue_arn: queue_arn.as_deref(),
                    agent_arn: agent_arn.as_deref(),
                },
            )
            .await
        }
        Effect::Chat(closes) => {
            db::apply_chat(&mut tx, instance_id, &detail.contact_id, closes).await
        }
    };
    let applied = match applied {
        // Deleted since it was found, by a transaction that committed while the insert waited
        // for it: the event is one of an instance the organization no longer has.
        Err(e) if db::is_instance_gone(&e) => {
            drop(tx);
            return Ok(ignored(
                &state,
                &envelope.id,
                "an instance this organization deleted meanwhile",
            ));
        }
        applied => applied?,
    };
    let (outcome, subject) = match applied {
        ContactApplied::Applied(id) => (Outcome::Applied, id),
        ContactApplied::Stale(id) => (Outcome::Stale, id),
    };
    finish(
        &state.metrics,
        tx,
        &Delivery {
            provider: Provider::AwsConnect,
            kind: DeliveryKind::ConnectContact,
            event_key: &envelope.id,
            outcome,
            subject_id: Some(subject),
        },
    )
    .await?;
    Ok(HttpResponse::Ok().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_events_map_to_forward_statuses() {
        assert_eq!(voice_status("INITIATED"), Some(CallStatus::Queued));
        assert_eq!(voice_status("QUEUED"), Some(CallStatus::Ringing));
        assert_eq!(
            voice_status("CONNECTED_TO_AGENT"),
            Some(CallStatus::InProgress)
        );
        assert_eq!(voice_status("DISCONNECTED"), Some(CallStatus::Completed));
        assert_eq!(voice_status("CONTACT_DATA_UPDATED"), None);
        assert_eq!(voice_status("disconnected"), None);
    }

    #[test]
    fn directions_follow_the_initiation_method() {
        let known = |d| Some(ContactDirection::Known(d));
        assert_eq!(direction(Some("INBOUND")), known(Direction::Inbound));
        for m in ["OUTBOUND", "CALLBACK", "API", "EXTERNAL_OUTBOUND"] {
            assert_eq!(direction(Some(m)), known(Direction::Outbound), "{m}");
        }
        for m in [
            Some("TRANSFER"),
            Some("QUEUE_TRANSFER"),
            Some("DISCONNECT"),
            None,
        ] {
            assert_eq!(direction(m), Some(ContactDirection::FromPrevious), "{m:?}");
        }
        assert_eq!(direction(Some("MONITOR")), None);
    }

    #[test]
    fn the_epoch_placeholder_reads_as_absent() {
        assert_eq!(timestamp(Some("1970-01-01T00:00:00.001Z")).ok(), Some(None));
        assert!(timestamp(Some("2021-08-04T17:29:09.000Z")).is_ok_and(|t| t.is_some()));
        assert!(timestamp(Some("yesterday")).is_err());
    }
}
