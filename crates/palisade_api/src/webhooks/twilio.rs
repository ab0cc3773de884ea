//! Twilio webhooks (form-encoded, `X-Twilio-Signature`).
//!
//! Every handler first calls [`verified_form`]: the signature is checked over the public URL
//! (rebuilt from the configured base URL, never from the Host header) and the raw form fields,
//! before any field is interpreted. Then the delivery is routed through a resolver function
//! and applied in a tenant transaction for the organization found (see
//! [`palisade_db::webhooks`]). An unknown number or message answers 200 with one warn line and
//! writes nothing, so that Twilio stops retrying. A signed delivery that cannot be read (a
//! missing field, a SID that is not an id) answers 400 with one warn line naming the field,
//! never its value: never a 5xx, which Twilio would retry for nothing.

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::webhooks::{self, Delivery, DeliveryKind, InboundSms, Outcome, Provider};
use palisade_domain::{InboundSmsBody, PhoneNumber, ProviderId};

use super::signature::{SignatureError, verify_twilio};
use super::{finish, invalid_signature, not_configured, record_org};
use crate::metrics::WebhookOutcome;
use crate::{ApiError, AppState};

/// Twilio's empty TwiML answer: "received, nothing to do".
const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

/// 200 with empty TwiML (`text/xml`), the answer to every accepted delivery.
pub fn empty_twiml() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::xml())
        .body(EMPTY_TWIML)
}

/// [`empty_twiml`] for a delivery acknowledged without a write, counted as `ignored`.
pub(super) fn ignored(state: &AppState) -> HttpResponse {
    state
        .metrics
        .webhook(Provider::Twilio, WebhookOutcome::Ignored);
    empty_twiml()
}

/// The form fields of a Twilio request whose signature is valid, in order received.
pub struct TwilioForm(Vec<(String, String)>);

impl TwilioForm {
    /// The first value of `name`, if present and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// [`TwilioForm::get`], or 400 naming the missing field.
    pub fn require(&self, name: &'static str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| refused(format!("the {name} field is missing")))
    }

    /// A SID field (`MessageSid`, `CallSid`): present and an id (1 to 255 visible ASCII
    /// characters, what Twilio's SIDs are and our columns hold), else 400.
    pub fn sid(&self, name: &'static str) -> Result<ProviderId, ApiError> {
        ProviderId::parse(self.require(name)?)
            .map_err(|e| refused(format!("the {name} field {}", e.reason())))
    }
}

/// 400 `invalid_payload` for a signed delivery that cannot be read, with one warn line.
/// `message` names the field, never its value (which could be anything).
pub(super) fn refused(message: String) -> ApiError {
    tracing::warn!(%message, "Twilio delivery refused: it cannot be read");
    ApiError::BadRequest {
        code: crate::error::ErrorCode::InvalidPayload,
        message,
    }
}

/// Verifies `X-Twilio-Signature` over the public URL of `req` and the form fields of `body`,
/// then returns the fields. Nothing is parsed before the signature holds, except the form
/// encoding itself, which the signature covers.
pub fn verified_form(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<TwilioForm, ApiError> {
    let token = state
        .webhooks
        .twilio_auth_token
        .as_ref()
        .map(palisade_domain::Secret::expose)
        .ok_or_else(|| not_configured("twilio"))?;
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or(req.path(), |p| p.as_str());
    let url = state.webhooks.public_url(path_and_query);
    let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let signature = req
        .headers()
        .get("X-Twilio-Signature")
        .and_then(|v| v.to_str().ok());
    let verified = match (
        verify_twilio(token, &url, &params, signature),
        &state.webhooks.twilio_secondary_auth_token,
    ) {
        // A signature of the secondary token, while the account's token is rotated.
        (Err(SignatureError::Mismatch), Some(secondary)) => {
            verify_twilio(secondary.expose(), &url, &params, signature).inspect(|()| {
                tracing::debug!("Twilio delivery signed with the secondary auth token");
            })
        }
        (verified, _) => verified,
    };
    verified.map_err(|reason| invalid_signature("twilio", reason))?;
    Ok(TwilioForm(params))
}

/// `POST /webhooks/twilio/sms`: an inbound SMS to one of our numbers. Stored as an inbound
/// `sms_messages` row of the number's organization, linked to the customer whose phone is the
/// sender's when there is one. Answers empty TwiML (no auto-reply).
pub async fn sms_inbound(
    state: web::Data<AppState>,
    req: HttpRequest,
    crate::extract::RawBody(body): crate::extract::RawBody,
) -> Result<HttpResponse, ApiError> {
    let form = verified_form(&state, &req, &body)?;
    let sid = form.sid("MessageSid")?;
    let sid = sid.as_str();
    // A `To` that is not E.164 (e.g. a short code) cannot be one of our numbers (they are all
    // E.164): acknowledged like an unknown number, so Twilio does not retry.
    let Ok(to) = PhoneNumber::parse(form.require("To")?) else {
        tracing::warn!(
            message_sid = sid,
            "inbound SMS ignored: To is not an E.164 number, so no organization's"
        );
        return Ok(ignored(&state));
    };
    // sms_messages stores E.164 senders only (short codes and alphanumeric sender ids cannot
    // be replied to by SMS anyway). Acknowledge so Twilio does not retry.
    let Ok(from) = PhoneNumber::parse(form.require("From")?) else {
        tracing::warn!(
            message_sid = sid,
            "inbound SMS ignored: the sender is not an E.164 number"
        );
        return Ok(ignored(&state));
    };
    let Ok(body_text) = InboundSmsBody::from_carrier(form.get("Body").unwrap_or("")) else {
        tracing::warn!(
            message_sid = sid,
            "inbound SMS ignored: the body is longer than 1600 characters"
        );
        return Ok(ignored(&state));
    };
    if body_text.replaced_nul() {
        tracing::warn!(
            message_sid = sid,
            "inbound SMS body held NUL characters: stored as U+FFFD"
        );
    }
    let Some(org) = webhooks::resolve_number(&state.pool, to.as_str(), "sms").await? else {
        tracing::warn!(
            message_sid = sid,
            "inbound SMS ignored: no organization has this number with the sms capability"
        );
        return Ok(ignored(&state));
    };
    record_org(&req, org);
    let sms = InboundSms {
        sid,
        from: from.as_str(),
        to: to.as_str(),
        body: body_text.as_str(),
    };
    let mut attempts = 0;
    let (tx, inserted) = loop {
        let mut tx = TenantTx::begin_for_provider(&state.pool, org).await?;
        match webhooks::insert_inbound_sms(&mut tx, &sms).await {
            // The customer it linked was deleted by a transaction that committed while the
            // insert waited for it: run again, it links the next oldest customer with that
            // phone, or none. Bounded: a customer deleted each time.
            Err(e) if attempts < 2 && webhooks::is_customer_gone(&e) => {
                drop(tx);
                attempts += 1;
            }
            inserted => break (tx, inserted?),
        }
    };
    let Some(message_id) = inserted else {
        // This organization already holds a message with this SID: a duplicate delivery.
        drop(tx);
        tracing::info!(message_sid = sid, "duplicate inbound SMS ignored");
        state
            .metrics
            .webhook(Provider::Twilio, WebhookOutcome::Duplicate);
        return Ok(empty_twiml());
    };
    finish(
        &state.metrics,
        tx,
        &Delivery {
            provider: Provider::Twilio,
            kind: DeliveryKind::SmsInbound,
            event_key: sid,
            outcome: Outcome::Applied,
            subject_id: Some(message_id),
        },
    )
    .await?;
    Ok(empty_twiml())
}
