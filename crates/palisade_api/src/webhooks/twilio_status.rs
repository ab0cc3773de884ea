//! Twilio's status callbacks: `POST /webhooks/twilio/sms/status` (a message we sent) and
//! `POST /webhooks/twilio/voice/status` (a call).
//!
//! Same shape as the inbound SMS handler ([`super::twilio`]): the signature first (the query
//! string, where our own `message_id` / `call_id` travel, is part of the signed URL), then the
//! fields, then the routing (a resolver function), then one provider transaction that applies
//! the callback ([`palisade_db::twilio_status`]) and records it (`finish`).
//!
//! What a callback does is decided by the database statement, atomically: a status only moves
//! forward, and a call's callbacks apply in SequenceNumber order. A callback that arrives too
//! late is still recorded, with outcome `stale`, so that its retries are no-ops too.
//!
//! Answers: 200 with empty TwiML for every accepted callback, including those about a message,
//! call or number no organization holds (one warn line with the SID, never the body), and
//! those with a status we do not know; 400 `invalid_payload` for a signed callback whose fields
//! cannot be read (nothing is written); 401 for a bad signature.

use actix_web::{HttpRequest, HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::twilio_status::{
    self, Applied, CallStatusReport, CallTarget, CarrierCall, SmsStatusReport,
};
use palisade_db::webhooks::{self, Delivery, DeliveryKind, Outcome, Provider};
use palisade_domain::{
    CallDuration, CallId, CallStatus, Direction, OrgId, PhoneNumber, SmsStatus, calendar,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;
use uuid::Uuid;

use super::twilio::{TwilioForm, empty_twiml, ignored, refused, verified_form};
use super::{finish, record_org};
use crate::{ApiError, AppState};

/// Our status for a Twilio message status, or `None` for one we do not know.
///
/// - `accepted` (a Messaging Service took it), `scheduled` (it will go at a set time) and
///   `queued` are all "waiting to be sent": `queued`.
/// - `sending`, `sent`, `delivered`, `undelivered` and `failed` are ours as they are.
/// - `read` (WhatsApp, RCS: the recipient opened it) implies `delivered`; we keep no read
///   state, so it counts as `delivered` (and changes nothing after a `delivered`).
/// - `canceled` (a scheduled message cancelled before it went) was never sent: `failed`, the
///   only final status that says so.
/// - `receiving` and `received` describe inbound messages, never a message we sent: unknown.
pub fn sms_status_from_twilio(status: &str) -> Option<SmsStatus> {
    Some(match status {
        "accepted" | "scheduled" | "queued" => SmsStatus::Queued,
        "sending" => SmsStatus::Sending,
        "sent" => SmsStatus::Sent,
        "delivered" | "read" => SmsStatus::Delivered,
        "undelivered" => SmsStatus::Undelivered,
        "failed" | "canceled" => SmsStatus::Failed,
        _ => return None,
    })
}

/// Our status for a Twilio call status, or `None` for one we do not know. Twilio spells three
/// of them its own way: `in-progress`, `no-answer` and `canceled` are our `in_progress`,
/// `no_answer` and `cancelled`. `initiated` (Twilio has started dialling) is our `queued` (not
/// yet ringing); `queued`, `ringing`, `completed`, `busy` and `failed` are ours as they are.
pub fn call_status_from_twilio(status: &str) -> Option<CallStatus> {
    Some(match status {
        "initiated" | "queued" => CallStatus::Queued,
        "ringing" => CallStatus::Ringing,
        "in-progress" => CallStatus::InProgress,
        "completed" => CallStatus::Completed,
        "busy" => CallStatus::Busy,
        "no-answer" => CallStatus::NoAnswer,
        "failed" => CallStatus::Failed,
        "canceled" => CallStatus::Cancelled,
        _ => return None,
    })
}

/// The first value of `name` in the request's query string (part of the signed URL).
fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Our id from the signed callback URL (`?message_id=` or `?call_id=`), if given.
fn our_id(req: &HttpRequest, name: &'static str) -> Result<Option<Uuid>, ApiError> {
    query_param(req, name)
        .map(|raw| {
            Uuid::try_parse(&raw).map_err(|_| refused(format!("{name} in the URL is not a UUID")))
        })
        .transpose()
}

/// An optional integer field; present but not an integer in `range` is a 400.
fn int_field<T>(
    form: &TwilioForm,
    name: &'static str,
    range: std::ops::RangeInclusive<T>,
) -> Result<Option<T>, ApiError>
where
    T: std::str::FromStr + PartialOrd,
{
    form.get(name)
        .map(|raw| match raw.parse::<T>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(refused(format!("{name} is not a valid integer"))),
        })
        .transpose()
}

/// Records an applied or stale callback (a stale one too: its retries then stop at the record,
/// like those of an applied one) and answers. A callback that found nothing to apply to is
/// not recorded: the transaction is dropped (rolled back) with one warn line.
async fn record_and_answer(
    state: &AppState,
    tx: TenantTx,
    kind: DeliveryKind,
    sid: &str,
    event_key: &str,
    applied: Applied,
) -> Result<HttpResponse, ApiError> {
    let (outcome, subject) = match applied {
        Applied::Changed(id) => (Outcome::Applied, id),
        Applied::Stale(id) => (Outcome::Stale, id),
        Applied::NotFound => {
            drop(tx);
            tracing::warn!(
                sid,
                kind = kind.as_str(),
                "status callback ignored: its message or call is gone, or was never stored"
            );
            return Ok(ignored(state));
        }
        Applied::SidTaken => {
            drop(tx);
            tracing::warn!(
                sid,
                kind = kind.as_str(),
                "status callback ignored: another row of this organization already has this SID"
            );
            return Ok(ignored(state));
        }
    };
    finish(
        &state.metrics,
        tx,
        &Delivery {
            provider: Provider::Twilio,
            kind,
            event_key,
            outcome,
            subject_id: Some(subject),
        },
    )
    .await?;
    Ok(empty_twiml())
}

/// `POST /webhooks/twilio/sms/status[?message_id=<our sms_messages id>]`: a status callback for
/// an SMS we sent. Our sender sets the message's StatusCallback to this URL with our id in
/// `message_id`; the message is found by that id (and must have this MessageSid or none yet),
/// else by the MessageSid when exactly one organization holds it. The first callback records
/// the MessageSid on the message; the status, error code and times only move forward, and the
/// campaign's counters follow. Recorded as `MessageSid:MessageStatus`.
pub async fn sms_status(
    state: web::Data<AppState>,
    req: HttpRequest,
    crate::extract::RawBody(body): crate::extract::RawBody,
) -> Result<HttpResponse, ApiError> {
    let form = verified_form(&state, &req, &body)?;
    let message_id = our_id(&req, "message_id")?;
    let sid = form.sid("MessageSid")?;
    let sid = sid.as_str();
    let twilio_status = form.require("MessageStatus")?;
    let error_code = int_field(&form, "ErrorCode", 0..=i32::MAX)?;
    let Some(status) = sms_status_from_twilio(twilio_status) else {
        tracing::warn!(
            message_sid = sid,
            status = twilio_status,
            "SMS status callback ignored: unknown MessageStatus"
        );
        return Ok(ignored(&state));
    };
    let Some(org) = webhooks::resolve_sms_message(&state.pool, message_id, sid).await? else {
        tracing::warn!(
            message_sid = sid,
            message_id = message_id.map(tracing::field::display),
            "SMS status callback ignored: no single organization sent this message"
        );
        return Ok(ignored(&state));
    };
    record_org(&req, org);
    let mut tx = TenantTx::begin_for_provider(&state.pool, org).await?;
    let applied = twilio_status::apply_sms_status(
        &mut tx,
        &SmsStatusReport {
            message_id,
            sid,
            status,
            error_code,
        },
    )
    .await?;
    let event_key = format!("{sid}:{twilio_status}");
    record_and_answer(
        &state,
        tx,
        DeliveryKind::SmsStatus,
        sid,
        &event_key,
        applied,
    )
    .await
}

/// Twilio's Direction: `inbound`, or `outbound-api` / `outbound-dial` (any `outbound*`).
fn call_direction(form: &TwilioForm) -> Option<Direction> {
    match form.get("Direction")? {
        "inbound" => Some(Direction::Inbound),
        d if d.starts_with("outbound") => Some(Direction::Outbound),
        _ => None,
    }
}

/// Where a voice callback goes: an organization, and whether the call may be created there.
struct CallRoute {
    org: OrgId,
    target: CallTarget,
    /// Set when the organization was found by one of its numbers: the call is recorded if it
    /// is not yet (the numbers must be E.164 for that).
    create: Option<Direction>,
}

/// Routes a voice callback (see [`voice_status`]).
async fn route_call(
    state: &AppState,
    form: &TwilioForm,
    call_id: Option<Uuid>,
    sid: &str,
    from: Option<&PhoneNumber>,
    to: Option<&PhoneNumber>,
) -> Result<Option<CallRoute>, ApiError> {
    if let Some(id) = call_id {
        return Ok(webhooks::resolve_call(&state.pool, Some(id), sid)
            .await?
            .map(|org| CallRoute {
                org,
                target: CallTarget::Id(CallId::from_uuid(id)),
                create: None,
            }));
    }
    // Our side of the call: the callee of an inbound call, the caller of an outbound one. Not
    // for the child leg of a <Dial> ("outbound-dial"): its From is, by default, the original
    // caller's number, which may be another organization's; such a leg is reached only by our
    // call_id or its CallSid.
    let candidates: &[(Option<&PhoneNumber>, Direction)] = match call_direction(form) {
        _ if form.get("Direction") == Some("outbound-dial") => &[],
        Some(Direction::Inbound) => &[(to, Direction::Inbound)],
        Some(Direction::Outbound) => &[(from, Direction::Outbound)],
        None => &[(to, Direction::Inbound), (from, Direction::Outbound)],
    };
    for (number, direction) in candidates {
        let Some(number) = number else { continue };
        if let Some(org) = webhooks::resolve_number(&state.pool, number.as_str(), "voice").await? {
            return Ok(Some(CallRoute {
                org,
                target: CallTarget::Sid,
                create: Some(*direction),
            }));
        }
    }
    // None of our numbers is on the call (released since, or never registered): the CallSid
    // alone, when exactly one organization holds it. Such a call is not created.
    Ok(webhooks::resolve_call(&state.pool, None, sid)
        .await?
        .map(|org| CallRoute {
            org,
            target: CallTarget::Sid,
            create: None,
        }))
}

/// `POST /webhooks/twilio/voice/status[?call_id=<our calls id>]`: a call status callback.
///
/// Routing: with our `call_id` in the (signed) URL, that call, if it has this CallSid or none
/// yet. Without it, the organization owning our side of the call: the `To` number of an
/// inbound call, the `From` number of an outbound one (Twilio's `Direction`; without it `To`,
/// then `From`; never for a `<Dial>` child leg, `outbound-dial`, whose `From` is the original
/// caller's), with the `voice` capability; the call is found there by CallSid, or recorded
/// (the numbers are globally unique, a CallSid is not: a call row another organization made up
/// with the same CallSid is never reached this way). When neither number is an organization's,
/// the CallSid alone routes it if exactly one organization holds it. A number is routed outside
/// the organization's transaction: an outbound call's number released (or stripped of `voice`)
/// before the call is recorded makes the insert fail ([`twilio_status::is_number_not_ours`]),
/// and the callback is routed again, by then without that number.
///
/// Applied in SequenceNumber order (an older callback after a newer one is `stale`), never
/// backwards in status. Recorded as `CallSid:SequenceNumber` (`CallSid:CallStatus` without one).
pub async fn voice_status(
    state: web::Data<AppState>,
    req: HttpRequest,
    crate::extract::RawBody(body): crate::extract::RawBody,
) -> Result<HttpResponse, ApiError> {
    let form = verified_form(&state, &req, &body)?;
    let call_id = our_id(&req, "call_id")?;
    let sid = form.sid("CallSid")?;
    let sid = sid.as_str();
    let twilio_status = form.require("CallStatus")?;
    let sequence = int_field(&form, "SequenceNumber", 0..=i64::MAX)?;
    let duration_seconds = int_field(&form, "CallDuration", 0..=CallDuration::MAX_SECONDS)?;
    let at = form
        .get("Timestamp")
        .map(|raw| {
            OffsetDateTime::parse(raw, &Rfc2822)
                .ok()
                .and_then(|t| calendar::instant(t).ok())
                .ok_or_else(|| {
                    refused("Timestamp is not an RFC 2822 date in years 0000 to 9999".into())
                })
        })
        .transpose()?;
    let Some(status) = call_status_from_twilio(twilio_status) else {
        tracing::warn!(
            call_sid = sid,
            status = twilio_status,
            "voice status callback ignored: unknown CallStatus"
        );
        return Ok(ignored(&state));
    };
    // Numbers that are not E.164 (SIP addresses, `client:` identities) route nothing and
    // cannot be stored.
    let from = form.get("From").and_then(|f| PhoneNumber::parse(f).ok());
    let to = form.get("To").and_then(|t| PhoneNumber::parse(t).ok());
    let mut attempts = 0;
    let (route, mut tx) = loop {
        let Some(route) =
            route_call(&state, &form, call_id, sid, from.as_ref(), to.as_ref()).await?
        else {
            tracing::warn!(
                call_sid = sid,
                call_id = call_id.map(tracing::field::display),
                "voice status callback ignored: no organization has this call or its numbers"
            );
            return Ok(ignored(&state));
        };
        record_org(&req, route.org);
        let mut tx = TenantTx::begin_for_provider(&state.pool, route.org).await?;
        if let (Some(direction), Some(from), Some(to)) = (route.create, from.as_ref(), to.as_ref())
        {
            let call = CarrierCall {
                direction,
                from,
                to,
                sid,
            };
            match twilio_status::record_carrier_call(&mut tx, &call).await {
                // The customer it linked was deleted by a transaction that committed while the
                // insert waited for it: run again (routed again too), it links the next oldest
                // customer with that phone, or none. Or the outbound call's number was released,
                // or lost `voice`, after it routed the callback (outside this transaction):
                // routed again, it is nobody's, and the CallSid alone routes the callback, as for
                // any number no longer ours. Bounded: a customer deleted each time.
                Err(e)
                    if attempts < 2
                        && (webhooks::is_customer_gone(&e)
                            || twilio_status::is_number_not_ours(&e)) =>
                {
                    drop(tx);
                    attempts += 1;
                    continue;
                }
                recorded => recorded?,
            }
        }
        break (route, tx);
    };
    let applied = twilio_status::apply_call_status(
        &mut tx,
        route.target,
        &CallStatusReport {
            sid,
            status,
            sequence,
            duration_seconds,
            at,
        },
    )
    .await?;
    let event_key = match sequence {
        Some(n) => format!("{sid}:{n}"),
        None => format!("{sid}:{twilio_status}"),
    };
    record_and_answer(
        &state,
        tx,
        DeliveryKind::VoiceStatus,
        sid,
        &event_key,
        applied,
    )
    .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_twilio_message_status_maps_to_ours_or_is_unknown() {
        use SmsStatus::*;
        for (twilio, ours) in [
            ("accepted", Queued),
            ("scheduled", Queued),
            ("queued", Queued),
            ("sending", Sending),
            ("sent", Sent),
            ("delivered", Delivered),
            ("read", Delivered),
            ("undelivered", Undelivered),
            ("failed", Failed),
            ("canceled", Failed),
        ] {
            assert_eq!(sms_status_from_twilio(twilio), Some(ours), "{twilio}");
        }
        for unknown in [
            "received",
            "receiving",
            "partially_delivered",
            "",
            "Delivered",
        ] {
            assert_eq!(sms_status_from_twilio(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn every_twilio_call_status_maps_to_ours_or_is_unknown() {
        use CallStatus::*;
        let twilio = [
            ("initiated", Queued),
            ("queued", Queued),
            ("ringing", Ringing),
            ("in-progress", InProgress),
            ("completed", Completed),
            ("busy", Busy),
            ("no-answer", NoAnswer),
            ("failed", Failed),
            ("canceled", Cancelled),
        ];
        for (twilio, ours) in twilio {
            assert_eq!(call_status_from_twilio(twilio), Some(ours), "{twilio}");
        }
        for ours in CallStatus::ALL {
            assert!(
                twilio.iter().any(|(_, s)| s == ours),
                "{ours:?} is reached by no Twilio status"
            );
        }
        // Our spellings of Twilio's three are not Twilio's: they do not arrive from Twilio.
        for unknown in [
            "answered",
            "in_progress",
            "no_answer",
            "cancelled",
            "",
            "Busy",
        ] {
            assert_eq!(call_status_from_twilio(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn twilios_timestamps_parse_as_rfc_2822() {
        let t = OffsetDateTime::parse("Tue, 14 Jul 2020 20:07:33 +0000", &Rfc2822).unwrap();
        assert_eq!(t.unix_timestamp(), 1_594_757_253);
    }
}
