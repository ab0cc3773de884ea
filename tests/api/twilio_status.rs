//! `POST /webhooks/twilio/sms/status` and `POST /webhooks/twilio/voice/status`: Twilio's status
//! callbacks for the messages we send and for calls. Routing by our own id (in the signed URL)
//! or by the provider's SID or our numbers; statuses only move forward, call callbacks apply in
//! SequenceNumber order; every delivery is recorded once, retries and concurrent duplicates
//! included; another organization holding the same SID is never touched.

use futures_util::future::join_all;
use palisade_test_support::{
    Account, TEST_PUBLIC_BASE_URL, TEST_TWILIO_AUTH_TOKEN, TestApp, TestResponse, Unchanged,
    percent_encode, spawn_app_with_owner, spawn_app_with_pool, unique_number,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::isolation::{Item, Seeded};
use crate::twilio_sms::unique_sid;

const ACCOUNT_SID: &str = "AC00000000000000000000000000000000";

fn sms_path(message_id: Option<&str>) -> String {
    match message_id {
        Some(id) => format!("/webhooks/twilio/sms/status?message_id={id}"),
        None => "/webhooks/twilio/sms/status".to_owned(),
    }
}

fn voice_path(call_id: Option<&str>) -> String {
    match call_id {
        Some(id) => format!("/webhooks/twilio/voice/status?call_id={id}"),
        None => "/webhooks/twilio/voice/status".to_owned(),
    }
}

/// The fields of a message status callback, as Twilio sends them.
fn sms_params<'a>(sid: &'a str, status: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("MessageStatus", status),
        ("SmsStatus", status),
        ("AccountSid", ACCOUNT_SID),
        ("From", "+14155550100"),
        ("To", "+14155550142"),
        ("ApiVersion", "2010-04-01"),
    ]
}

/// Posts a signed message status callback.
async fn sms_callback(
    app: &TestApp,
    message_id: Option<&str>,
    sid: &str,
    status: &str,
) -> TestResponse {
    let r = app
        .twilio(&sms_path(message_id), &sms_params(sid, status))
        .await;
    if r.status == 200 {
        crate::openapi::assert_ok_as_documented("/webhooks/twilio/sms/status", &r);
    }
    r
}

/// The fields of a call status callback, as Twilio sends them (SequenceNumber and Timestamp
/// given by the caller).
fn call_params<'a>(
    sid: &'a str,
    status: &'a str,
    direction: &'a str,
    from: &'a str,
    to: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("CallSid", sid),
        ("CallStatus", status),
        ("AccountSid", ACCOUNT_SID),
        ("Direction", direction),
        ("From", from),
        ("To", to),
        ("ApiVersion", "2010-04-01"),
        ("CallbackSource", "call-progress-events"),
    ]
}

/// Posts a signed call status callback with a SequenceNumber and a Timestamp.
#[allow(clippy::too_many_arguments)]
async fn call_callback(
    app: &TestApp,
    call_id: Option<&str>,
    sid: &str,
    status: &str,
    seq: &str,
    timestamp: &str,
    direction: &str,
    from: &str,
    to: &str,
    extra: &[(&str, &str)],
) -> TestResponse {
    let mut params = call_params(sid, status, direction, from, to);
    params.push(("SequenceNumber", seq));
    params.push(("Timestamp", timestamp));
    params.extend_from_slice(extra);
    let r = app.twilio(&voice_path(call_id), &params).await;
    if r.status == 200 {
        crate::openapi::assert_ok_as_documented("/webhooks/twilio/voice/status", &r);
    }
    r
}

/// One inbound call's voice status callbacks (without our id), from `from` to `to`.
struct InboundCall<'a> {
    app: &'a TestApp,
    sid: &'a str,
    from: &'a str,
    to: &'a str,
}

impl<'a> InboundCall<'a> {
    fn new(app: &'a TestApp, sid: &'a str, from: &'a str, to: &'a str) -> Self {
        InboundCall { app, sid, from, to }
    }

    /// Each callback `(status, SequenceNumber, Timestamp)` in turn, each answered with TwiML.
    async fn sends(&self, callbacks: &[(&str, &str, &str)]) {
        for (status, seq, ts) in callbacks {
            self.sends_with(status, seq, ts, &[]).await;
        }
    }

    /// [`InboundCall::sends`] with `extra` parameters.
    async fn sends_with(&self, status: &str, seq: &str, ts: &str, extra: &[(&str, &str)]) {
        let (app, sid, from, to) = (self.app, self.sid, self.from, self.to);
        let r = call_callback(app, None, sid, status, seq, ts, "inbound", from, to, extra).await;
        assert_twiml(&r);
    }
}

async fn get(app: &TestApp, acct: &Account, path: &str) -> TestResponse {
    app.get(&acct, path).await
}

async fn json_of(app: &TestApp, acct: &Account, path: &str) -> Value {
    let r = get(app, acct, path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    r.json
}

async fn data(app: &TestApp, acct: &Account, path: &str) -> Vec<Value> {
    json_of(app, acct, path).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

fn assert_twiml(r: &TestResponse) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.header("content-type").unwrap().starts_with("text/xml"));
    assert!(r.text.contains("<Response/>"), "{}", r.text);
}

/// An SMS campaign with one queued outbound recipient per number; returns the campaign and
/// its message ids, in the order of `to`.
async fn campaign_with(
    app: &TestApp,
    acct: &Account,
    name: &str,
    to: &[&str],
) -> (String, Vec<String>) {
    let from = app.claim_number(acct, &["sms"]).await;
    let r = app
        .post(
            &acct,
            "/v1/sms-campaigns",
            &json!({"name": name, "body": format!("{name} text"), "from_number": from}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let campaign = id(&r.json).to_owned();
    let mut messages = Vec::new();
    for number in to {
        let r = app
            .post(
                &acct,
                &format!("/v1/sms-campaigns/{campaign}/messages"),
                &json!({"to_number": number}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        messages.push(id(&r.json).to_owned());
    }
    (campaign, messages)
}

async fn message(app: &TestApp, acct: &Account, id: &str) -> Value {
    json_of(app, acct, &format!("/v1/sms-messages/{id}")).await
}

async fn counts(app: &TestApp, acct: &Account, campaign: &str) -> Value {
    json_of(app, acct, &format!("/v1/sms-campaigns/{campaign}")).await["counts"].clone()
}

/// The campaign's counters recomputed from its messages' statuses (the dashboard's rules:
/// sent = sent, delivered, undelivered).
async fn recount(app: &TestApp, acct: &Account, campaign: &str) -> Value {
    let msgs = data(app, acct, &format!("/v1/sms-campaigns/{campaign}/messages")).await;
    let n = |f: &dyn Fn(&str) -> bool| {
        msgs.iter()
            .filter(|m| f(m["status"].as_str().unwrap()))
            .count()
    };
    json!({
        "sent": n(&|s| matches!(s, "sent" | "delivered" | "undelivered")),
        "delivered": n(&|s| s == "delivered"),
        "undelivered": n(&|s| s == "undelivered"),
        "failed": n(&|s| s == "failed"),
    })
}

async fn deliveries(app: &TestApp, acct: &Account, kind: &str) -> Vec<Value> {
    data(app, acct, &format!("/v1/webhook-deliveries?kind={kind}")).await
}

#[actix_web::test]
async fn status_callbacks_advance_the_message_and_keep_the_campaign_counters_true() {
    let (app, a) = spawn_app_with_owner("Sender").await;
    let (campaign, m) = campaign_with(
        &app,
        &a,
        "Spring",
        &["+14155550101", "+14155550102", "+14155550103"],
    )
    .await;
    let sids: Vec<String> = (0..3).map(|_| unique_sid("SM")).collect();

    // m0: queued -> sent -> delivered. The first callback records the SID.
    assert_twiml(&sms_callback(&app, Some(&m[0]), &sids[0], "queued").await);
    let m0 = message(&app, &a, &m[0]).await;
    assert_eq!(m0["carrier_sid"], sids[0].as_str());
    assert_eq!(m0["status"], "queued");
    assert_eq!(m0["sent_at"], Value::Null);
    assert_twiml(&sms_callback(&app, Some(&m[0]), &sids[0], "sent").await);
    let m0 = message(&app, &a, &m[0]).await;
    assert_eq!(m0["status"], "sent");
    assert!(m0["sent_at"].is_string());
    assert_eq!(
        counts(&app, &a, &campaign).await,
        recount(&app, &a, &campaign).await
    );
    assert_eq!(
        counts(&app, &a, &campaign).await,
        json!({"sent": 1, "delivered": 0, "undelivered": 0, "failed": 0})
    );
    // Later callbacks may come without our id: the SID finds the message.
    assert_twiml(&sms_callback(&app, None, &sids[0], "delivered").await);
    let m0 = message(&app, &a, &m[0]).await;
    assert_eq!(m0["status"], "delivered");
    assert!(m0["delivered_at"].is_string());
    assert_eq!(m0["failed_at"], Value::Null);

    // m1: sent, then undelivered with Twilio's error code.
    assert_twiml(&sms_callback(&app, Some(&m[1]), &sids[1], "sent").await);
    let mut params = sms_params(&sids[1], "undelivered");
    params.push(("ErrorCode", "30003"));
    assert_twiml(&app.twilio(&sms_path(Some(&m[1])), &params).await);
    let m1 = message(&app, &a, &m[1]).await;
    assert_eq!(m1["status"], "undelivered");
    assert_eq!(m1["error_code"], 30003);
    assert!(m1["sent_at"].is_string() && m1["failed_at"].is_string());
    assert_eq!(m1["delivered_at"], Value::Null);

    // m2: failed straight from queued (never sent).
    let mut params = sms_params(&sids[2], "failed");
    params.push(("ErrorCode", "30008"));
    assert_twiml(&app.twilio(&sms_path(Some(&m[2])), &params).await);
    let m2 = message(&app, &a, &m[2]).await;
    assert_eq!(m2["status"], "failed");
    assert_eq!(m2["error_code"], 30008);
    assert_eq!(m2["sent_at"], Value::Null);

    assert_eq!(
        counts(&app, &a, &campaign).await,
        json!({"sent": 2, "delivered": 1, "undelivered": 1, "failed": 1})
    );
    assert_eq!(
        counts(&app, &a, &campaign).await,
        recount(&app, &a, &campaign).await
    );

    let recorded = deliveries(&app, &a, "sms.status").await;
    assert_eq!(recorded.len(), 6);
    assert!(
        recorded
            .iter()
            .all(|d| d["provider"] == "twilio" && d["outcome"] == "applied")
    );
    let keys: Vec<&str> = recorded
        .iter()
        .map(|d| d["event_key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&format!("{}:delivered", sids[0]).as_str()),
        "{keys:?}"
    );
    let about_m0 = data(
        &app,
        &a,
        &format!("/v1/webhook-deliveries?subject_id={}", m[0]),
    )
    .await;
    assert_eq!(about_m0.len(), 3);
}

#[actix_web::test]
async fn a_late_status_never_moves_a_message_back_and_is_recorded_as_stale() {
    let (app, a) = spawn_app_with_owner("Sender").await;
    let (campaign, m) = campaign_with(&app, &a, "Late", &["+14155550101"]).await;
    let sid = unique_sid("SM");

    assert_twiml(&sms_callback(&app, Some(&m[0]), &sid, "delivered").await);
    let delivered = message(&app, &a, &m[0]).await;
    assert_eq!(delivered["status"], "delivered");
    let before_counts = counts(&app, &a, &campaign).await;
    assert_eq!(
        before_counts,
        json!({"sent": 1, "delivered": 1, "undelivered": 0, "failed": 0})
    );

    // Late and contradicting callbacks: nothing moves, nothing is counted twice.
    for late in ["sent", "sending", "queued", "failed", "undelivered", "read"] {
        assert_twiml(&sms_callback(&app, Some(&m[0]), &sid, late).await);
        assert_eq!(message(&app, &a, &m[0]).await, delivered, "after {late}");
    }
    assert_eq!(counts(&app, &a, &campaign).await, before_counts);

    let recorded = deliveries(&app, &a, "sms.status").await;
    assert_eq!(recorded.len(), 7);
    for d in &recorded {
        let stale = d["event_key"] != format!("{sid}:delivered").as_str();
        assert_eq!(d["outcome"], if stale { "stale" } else { "applied" }, "{d}");
        assert_eq!(d["subject_id"], m[0].as_str());
    }
    // A retry of a stale callback stops at its record.
    assert_twiml(&sms_callback(&app, Some(&m[0]), &sid, "sent").await);
    assert_eq!(deliveries(&app, &a, "sms.status").await.len(), 7);
}

#[actix_web::test]
async fn callbacks_with_colliding_sids_touch_only_the_message_they_name() {
    let (app, a) = spawn_app_with_owner("Tenant A").await;
    let b = app.signup("Tenant B").await;
    let (a_campaign, a_msgs) = campaign_with(&app, &a, "A", &["+14155550101"]).await;
    let (b_campaign, b_msgs) = campaign_with(&app, &b, "B", &["+14155550101"]).await;
    let (a_msg, b_msg) = (&a_msgs[0], &b_msgs[0]);

    // Both messages end up with the same SID, each through a callback naming it.
    let sid = unique_sid("SM");
    assert_twiml(&sms_callback(&app, Some(a_msg), &sid, "sent").await);
    assert_twiml(&sms_callback(&app, Some(b_msg), &sid, "sent").await);
    assert_eq!(message(&app, &a, a_msg).await["carrier_sid"], sid.as_str());
    assert_eq!(message(&app, &b, b_msg).await["carrier_sid"], sid.as_str());

    // What each organization sees of its message, its campaign and its deliveries.
    let a_views = [
        format!("/v1/sms-messages/{a_msg}"),
        "/v1/webhook-deliveries".to_owned(),
    ];
    let b_views = [
        format!("/v1/sms-messages/{b_msg}"),
        format!("/v1/sms-campaigns/{b_campaign}"),
        "/v1/webhook-deliveries".to_owned(),
    ];
    let b_before = Unchanged::http(&app, &b, &b_views).await;

    // Named by A's id: only A's message moves.
    assert_twiml(&sms_callback(&app, Some(a_msg), &sid, "delivered").await);
    assert_eq!(message(&app, &a, a_msg).await["status"], "delivered");
    assert_eq!(
        counts(&app, &a, &a_campaign).await,
        json!({"sent": 1, "delivered": 1, "undelivered": 0, "failed": 0})
    );
    b_before.assert_http(&app).await;

    // The SID alone is ambiguous: acknowledged, nothing written in either organization.
    let a_before = Unchanged::http(&app, &a, &a_views).await;
    assert_twiml(&sms_callback(&app, None, &sid, "failed").await);
    a_before.assert_http(&app).await;
    b_before.assert_http(&app).await;

    // A's id with another SID than the one A's message holds: not A's message, not B's.
    assert_twiml(&sms_callback(&app, Some(a_msg), &unique_sid("SM"), "failed").await);
    a_before.assert_http(&app).await;
    b_before.assert_http(&app).await;

    // And a callback naming B's message moves B's row only.
    assert_twiml(&sms_callback(&app, Some(b_msg), &sid, "undelivered").await);
    assert_eq!(message(&app, &b, b_msg).await["status"], "undelivered");
    assert_eq!(message(&app, &a, a_msg).await["status"], "delivered");
    a_before.assert_http(&app).await;
}

/// Posts `params` to `path` with `signature` (or none), form-encoded.
async fn post_form(
    app: &TestApp,
    path: &str,
    signature: Option<String>,
    params: &[(&str, &str)],
) -> TestResponse {
    let body = params
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut headers = vec![(
        "Content-Type",
        "application/x-www-form-urlencoded".to_owned(),
    )];
    if let Some(s) = signature {
        headers.push(("X-Twilio-Signature", s));
    }
    palisade_test_support::request(&app.addr, "POST", path, &headers, Some(body.as_bytes())).await
}

fn sign(path: &str, params: &[(&str, &str)]) -> String {
    palisade_api::webhooks::signature::sign_twilio(
        TEST_TWILIO_AUTH_TOKEN,
        &format!("{TEST_PUBLIC_BASE_URL}{path}"),
        &params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>(),
    )
}

/// Every way of getting the signature wrong, for a callback to `path` with `params`: each must
/// answer 401. `other_path` is the same route with another id in its query.
async fn assert_refused(app: &TestApp, path: &str, other_path: &str, params: &[(&str, &str)]) {
    let url = format!("{TEST_PUBLIC_BASE_URL}{path}");
    // Wrong auth token.
    let r = app
        .twilio_signed_as(path, params, "ffffffffffffffffffffffffffffffff", &url)
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.json["error"], "invalid_signature");
    // Signed for one URL (our id in the query), sent to another id.
    let r = app
        .twilio_signed_as(other_path, params, TEST_TWILIO_AUTH_TOKEN, &url)
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    // Signed without the query, sent with it.
    let bare = path.split('?').next().unwrap();
    if bare != path {
        let r = app
            .twilio_signed_as(
                path,
                params,
                TEST_TWILIO_AUTH_TOKEN,
                &format!("{TEST_PUBLIC_BASE_URL}{bare}"),
            )
            .await;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    // Tampered body: the signature of these fields, sent with one field changed or added.
    let signature = sign(path, params);
    let mut tampered: Vec<(&str, &str)> = params
        .iter()
        .map(|&(k, v)| match k {
            "MessageStatus" | "CallStatus" => (k, "failed"),
            _ => (k, v),
        })
        .collect();
    let r = post_form(app, path, Some(signature.clone()), &tampered).await;
    assert_eq!(r.status, 401, "{}", r.text);
    tampered = params.to_vec();
    tampered.push(("ErrorCode", "30001"));
    let r = post_form(app, path, Some(signature.clone()), &tampered).await;
    assert_eq!(r.status, 401, "{}", r.text);
    // The right signature and fields, sent without the header or with a malformed one.
    let r = post_form(app, path, None, params).await;
    assert_eq!(r.status, 401, "{}", r.text);
    let r = post_form(app, path, Some("not base64!".into()), params).await;
    assert_eq!(r.status, 401, "{}", r.text);
    // And the exact request, correctly signed, is accepted (so the refusals above were about
    // the signature alone).
    let r = post_form(app, path, Some(signature), params).await;
    assert_twiml(&r);
}

#[actix_web::test]
async fn unsigned_or_tampered_status_callbacks_are_refused_and_write_nothing() {
    let (app, a) = spawn_app_with_owner("Sender").await;
    let number = app.claim_number(&a, &["voice"]).await;
    let (campaign, m) = campaign_with(&app, &a, "Signed", &["+14155550101", "+14155550102"]).await;
    let untouched = [
        message(&app, &a, &m[0]).await,
        message(&app, &a, &m[1]).await,
    ];

    let sid = unique_sid("SM");
    let params = sms_params(&sid, "delivered");
    let path = sms_path(Some(&m[0]));
    let other = sms_path(Some(&m[1]));
    // Everything but the final, valid request wrote nothing.
    let url = format!("{TEST_PUBLIC_BASE_URL}{path}");
    let r = app
        .twilio_signed_as(&path, &params, "ffffffffffffffffffffffffffffffff", &url)
        .await;
    assert_eq!(r.status, 401);
    let r = app
        .twilio_signed_as(&other, &params, TEST_TWILIO_AUTH_TOKEN, &url)
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(message(&app, &a, &m[0]).await, untouched[0]);
    assert_eq!(message(&app, &a, &m[1]).await, untouched[1]);
    assert!(deliveries(&app, &a, "sms.status").await.is_empty());

    assert_refused(&app, &path, &other, &params).await;
    assert_eq!(
        message(&app, &a, &m[1]).await,
        untouched[1],
        "the other id was never reached"
    );
    assert_eq!(message(&app, &a, &m[0]).await["status"], "delivered");
    assert_eq!(deliveries(&app, &a, "sms.status").await.len(), 1);
    assert_eq!(
        counts(&app, &a, &campaign).await,
        json!({"sent": 1, "delivered": 1, "undelivered": 0, "failed": 0})
    );

    // The voice route: a call of ours (by call_id) and one routed by our number.
    let outbound =
        json!({"direction": "outbound", "from_number": number, "to_number": "+14155550142"});
    let r = app.post(&a, "/v1/calls", &outbound).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let call = id(&r.json).to_owned();
    let call_before = json_of(&app, &a, &format!("/v1/calls/{call}")).await;
    let csid = unique_sid("CA");
    let mut params = call_params(&csid, "ringing", "outbound-api", &number, "+14155550142");
    params.push(("SequenceNumber", "1"));
    let path = voice_path(Some(&call));
    let other = voice_path(Some(&Uuid::now_v7().to_string()));
    let url = format!("{TEST_PUBLIC_BASE_URL}{path}");
    let r = app
        .twilio_signed_as(&path, &params, "ffffffffffffffffffffffffffffffff", &url)
        .await;
    assert_eq!(r.status, 401);
    let r = post_form(&app, &path, None, &params).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        json_of(&app, &a, &format!("/v1/calls/{call}")).await,
        call_before
    );
    assert!(deliveries(&app, &a, "voice.status").await.is_empty());
    assert_eq!(data(&app, &a, "/v1/calls").await.len(), 1);

    assert_refused(&app, &path, &other, &params).await;
    let after = json_of(&app, &a, &format!("/v1/calls/{call}")).await;
    assert_eq!(after["status"], "ringing");
    assert_eq!(after["call_sid"], csid.as_str());
    assert_eq!(deliveries(&app, &a, "voice.status").await.len(), 1);

    // Routed by number (no call_id): refused ones create no call.
    let new_sid = unique_sid("CA");
    let params = {
        let mut p = call_params(&new_sid, "ringing", "inbound", "+14155550199", &number);
        p.push(("SequenceNumber", "1"));
        p
    };
    let r = post_form(&app, &voice_path(None), None, &params).await;
    assert_eq!(r.status, 401);
    let r = app
        .twilio_signed_as(
            &voice_path(None),
            &params,
            TEST_TWILIO_AUTH_TOKEN,
            &format!("{TEST_PUBLIC_BASE_URL}/webhooks/twilio/sms/status"),
        )
        .await;
    assert_eq!(r.status, 401, "signed for another route");
    assert_eq!(data(&app, &a, "/v1/calls").await.len(), 1);
    assert_eq!(deliveries(&app, &a, "voice.status").await.len(), 1);
}

#[actix_web::test]
async fn malformed_callbacks_are_400_and_unknown_ones_are_acknowledged_without_a_write() {
    let (app, a) = spawn_app_with_owner("Sender").await;
    let number = app.claim_number(&a, &["voice"]).await;
    let (_, m) = campaign_with(&app, &a, "Odd", &["+14155550101"]).await;
    let untouched = message(&app, &a, &m[0]).await;
    let sid = unique_sid("SM");
    // SIDs that are not ids: once a 500 for NUL (22021), which Twilio retried forever.
    let nul_sid = format!("{sid}\u{0}");
    let spaced_sid = format!("{sid} x");

    // Validly signed, unreadable: 400 invalid_payload.
    let sms_route = "/webhooks/twilio/sms/status";
    for (path, params) in [
        (sms_path(Some(&m[0])), sms_params(&nul_sid, "sent")),
        (sms_path(None), sms_params(&nul_sid, "sent")),
        (sms_path(Some(&m[0])), sms_params(&spaced_sid, "sent")),
        (sms_path(Some(&m[0])), vec![("MessageStatus", "sent")]),
        (sms_path(Some(&m[0])), vec![("MessageSid", sid.as_str())]),
        (
            format!("{sms_route}?message_id=not-a-uuid"),
            sms_params(&sid, "sent"),
        ),
        (format!("{sms_route}?message_id="), sms_params(&sid, "sent")),
        (sms_path(Some(&m[0])), {
            let mut p = sms_params(&sid, "failed");
            p.push(("ErrorCode", "thirty"));
            p
        }),
    ] {
        let r = app.twilio(&path, &params).await;
        assert_eq!(r.status, 400, "{path} {params:?}: {}", r.text);
        assert_eq!(r.json["error"], "invalid_payload");
    }
    let long_sid = format!("SM{}", "0".repeat(300));
    let r = sms_callback(&app, Some(&m[0]), &long_sid, "sent").await;
    assert_eq!(r.status, 400);

    // Acknowledged, nothing written: a status we do not know, a message nobody has, a SID
    // nobody has.
    assert_twiml(&sms_callback(&app, Some(&m[0]), &sid, "received").await);
    assert_twiml(&sms_callback(&app, Some(&m[0]), &sid, "exploded").await);
    assert_twiml(&sms_callback(&app, Some(&Uuid::now_v7().to_string()), &sid, "sent").await);
    assert_twiml(&sms_callback(&app, None, &sid, "sent").await);
    assert_eq!(message(&app, &a, &m[0]).await, untouched);
    assert!(data(&app, &a, "/v1/webhook-deliveries").await.is_empty());

    // Voice.
    let csid = unique_sid("CA");
    let voice = voice_path(None);
    let base = call_params(&csid, "ringing", "inbound", "+14155550199", &number);
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut p = base.clone();
        p.extend_from_slice(extra);
        p
    };
    let nul_csid = format!("{csid}\u{0}");
    for (path, params) in [
        (
            voice.clone(),
            call_params(&nul_csid, "ringing", "inbound", "+14155550199", &number),
        ),
        // Past 9999-12-31 once in UTC: an instant no answer could write.
        (
            voice.clone(),
            with(&[("Timestamp", "Fri, 31 Dec 9999 23:59:59 -0100")]),
        ),
        (
            voice.clone(),
            vec![("CallStatus", "ringing"), ("To", number.as_str())],
        ),
        (
            voice.clone(),
            vec![("CallSid", csid.as_str()), ("To", number.as_str())],
        ),
        (voice.clone(), with(&[("SequenceNumber", "two")])),
        (voice.clone(), with(&[("SequenceNumber", "-1")])),
        (voice.clone(), with(&[("CallDuration", "-5")])),
        (voice.clone(), with(&[("CallDuration", "999999")])),
        (voice.clone(), with(&[("Timestamp", "yesterday")])),
        (
            "/webhooks/twilio/voice/status?call_id=42".to_owned(),
            with(&[("SequenceNumber", "0")]),
        ),
    ] {
        let r = app.twilio(&path, &params).await;
        assert_eq!(r.status, 400, "{path} {params:?}: {}", r.text);
        assert_eq!(r.json["error"], "invalid_payload");
    }
    // Unknown status; numbers nobody has; a call id nobody has; a SIP caller we cannot store.
    assert_twiml(
        &app.twilio(
            &voice,
            &call_params(&csid, "answered", "inbound", "+14155550199", &number),
        )
        .await,
    );
    let stranger = unique_number();
    assert_twiml(
        &app.twilio(
            &voice,
            &call_params(&csid, "ringing", "inbound", "+14155550199", &stranger),
        )
        .await,
    );
    assert_twiml(
        &app.twilio(&voice_path(Some(&Uuid::now_v7().to_string())), &base)
            .await,
    );
    assert_twiml(
        &app.twilio(
            &voice,
            &call_params(
                &csid,
                "ringing",
                "inbound",
                "sip:alice@example.com",
                &number,
            ),
        )
        .await,
    );
    assert!(data(&app, &a, "/v1/calls").await.is_empty());
    assert!(data(&app, &a, "/v1/webhook-deliveries").await.is_empty());
}

#[actix_web::test]
async fn an_inbound_calls_callbacks_build_its_row_in_the_numbers_organization() {
    let (app, a) = spawn_app_with_owner("Callee").await;
    let b = app.signup("Other").await;
    let number = app.claim_number(&a, &["voice"]).await;
    app.claim_number(&b, &["voice"]).await;
    let customer = app
        .create_customer(&a, json!({"name": "Caller", "phone": "+14155550123"}))
        .await;
    let sid = unique_sid("CA");
    // Twilio's spellings in, ours out.
    let events = [
        (
            "initiated",
            "queued",
            "0",
            "Tue, 14 Jul 2020 20:07:00 +0000",
        ),
        ("ringing", "ringing", "1", "Tue, 14 Jul 2020 20:07:02 +0000"),
        (
            "in-progress",
            "in_progress",
            "2",
            "Tue, 14 Jul 2020 20:07:10 +0000",
        ),
        (
            "completed",
            "completed",
            "3",
            "Tue, 14 Jul 2020 20:07:52 +0000",
        ),
    ];
    for (status, expected, seq, ts) in events {
        let extra: &[(&str, &str)] = if status == "completed" {
            &[("CallDuration", "42")]
        } else {
            &[]
        };
        let r = call_callback(
            &app,
            None,
            &sid,
            status,
            seq,
            ts,
            "inbound",
            "+14155550123",
            &number,
            extra,
        )
        .await;
        assert_twiml(&r);
        let calls = data(&app, &a, "/v1/calls").await;
        assert_eq!(calls.len(), 1, "one call, however many callbacks");
        assert_eq!(calls[0]["status"], expected);
    }
    let calls = data(&app, &a, "/v1/calls").await;
    let call = &calls[0];
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["from_number"], "+14155550123");
    assert_eq!(call["to_number"], number.as_str());
    assert_eq!(call["call_sid"], sid.as_str());
    assert_eq!(call["customer_id"], customer["id"]);
    assert_eq!(call["started_at"], "2020-07-14T20:07:10.000000Z");
    assert_eq!(call["ended_at"], "2020-07-14T20:07:52.000000Z");
    assert_eq!(call["duration_seconds"], 42);
    assert_eq!(call["last_sequence_number"], 3);

    let recorded = deliveries(&app, &a, "voice.status").await;
    assert_eq!(recorded.len(), 4);
    for d in &recorded {
        assert_eq!(d["outcome"], "applied");
        assert_eq!(d["subject_id"], call["id"]);
        assert!(
            d["event_key"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{sid}:"))
        );
    }
    assert!(data(&app, &b, "/v1/calls").await.is_empty());
    assert!(data(&app, &b, "/v1/webhook-deliveries").await.is_empty());
    let r = get(&app, &b, &format!("/v1/calls/{}", id(call))).await;
    assert_eq!(r.status, 404);
}

#[actix_web::test]
async fn voice_callbacks_apply_in_sequence_order_and_late_ones_are_stale() {
    let (app, a) = spawn_app_with_owner("Callee").await;
    let number = app.claim_number(&a, &["voice"]).await;
    let sid = unique_sid("CA");
    let call = InboundCall::new(&app, &sid, "+14155550123", &number);
    // The last callback arrives first: the call is recorded already completed, its start
    // derived from the duration.
    call.sends_with(
        "completed",
        "3",
        "Tue, 14 Jul 2020 20:08:00 +0000",
        &[("CallDuration", "30")],
    )
    .await;
    let done = data(&app, &a, "/v1/calls").await[0].clone();
    assert_eq!(done["status"], "completed");
    assert_eq!(done["started_at"], "2020-07-14T20:07:30.000000Z");
    assert_eq!(done["ended_at"], "2020-07-14T20:08:00.000000Z");
    assert_eq!(done["duration_seconds"], 30);
    assert_eq!(done["last_sequence_number"], 3);
    // Then the older ones: nothing moves.
    call.sends(&[
        ("in-progress", "2", "Tue, 14 Jul 2020 20:07:31 +0000"),
        ("ringing", "1", "Tue, 14 Jul 2020 20:07:20 +0000"),
        ("initiated", "0", "Tue, 14 Jul 2020 20:07:19 +0000"),
    ])
    .await;
    assert_eq!(data(&app, &a, "/v1/calls").await, vec![done.clone()]);
    let recorded = deliveries(&app, &a, "voice.status").await;
    assert_eq!(recorded.len(), 4);
    for d in &recorded {
        let applied = d["event_key"] == format!("{sid}:3").as_str();
        assert_eq!(
            d["outcome"],
            if applied { "applied" } else { "stale" },
            "{d}"
        );
    }

    // In order with a gap (3 before 2 never came): 1, then 3, then the late 2.
    let sid = unique_sid("CA");
    let call = InboundCall::new(&app, &sid, "+14155550124", &number);
    call.sends(&[
        ("ringing", "1", "Tue, 14 Jul 2020 21:00:00 +0000"),
        ("no-answer", "3", "Tue, 14 Jul 2020 21:00:30 +0000"),
        ("in-progress", "2", "Tue, 14 Jul 2020 21:00:10 +0000"),
    ])
    .await;
    let calls = data(&app, &a, "/v1/calls?status=no_answer").await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["started_at"], Value::Null, "never answered");
    assert_eq!(calls[0]["ended_at"], "2020-07-14T21:00:30.000000Z");
    assert_eq!(calls[0]["last_sequence_number"], 3);

    // Twilio's `canceled` (hung up before an answer) is our `cancelled`, and final.
    let sid = unique_sid("CA");
    let call = InboundCall::new(&app, &sid, "+14155550126", &number);
    call.sends(&[
        ("ringing", "1", "Tue, 14 Jul 2020 22:00:00 +0000"),
        ("canceled", "2", "Tue, 14 Jul 2020 22:00:05 +0000"),
    ])
    .await;
    let calls = data(&app, &a, "/v1/calls?status=cancelled").await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["call_sid"], sid.as_str());
    assert_eq!(calls[0]["ended_at"], "2020-07-14T22:00:05.000000Z");

    // Without SequenceNumber (an account that asked only for "completed"): ordered by status,
    // recorded by CallSid:CallStatus.
    let sid = unique_sid("CA");
    let mut p = call_params(&sid, "completed", "inbound", "+14155550125", &number);
    p.push(("CallDuration", "12"));
    assert_twiml(&app.twilio(&voice_path(None), &p).await);
    let p = call_params(&sid, "ringing", "inbound", "+14155550125", &number);
    assert_twiml(&app.twilio(&voice_path(None), &p).await);
    let call = data(&app, &a, "/v1/calls?status=completed")
        .await
        .into_iter()
        .find(|c| c["call_sid"] == sid.as_str())
        .unwrap();
    assert_eq!(call["duration_seconds"], 12);
    assert_eq!(call["last_sequence_number"], Value::Null);
    let keys: Vec<(String, String)> = deliveries(&app, &a, "voice.status")
        .await
        .iter()
        .filter(|d| d["subject_id"] == call["id"])
        .map(|d| {
            (
                d["event_key"].as_str().unwrap().to_owned(),
                d["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        keys.contains(&(format!("{sid}:completed"), "applied".into())),
        "{keys:?}"
    );
    assert!(
        keys.contains(&(format!("{sid}:ringing"), "stale".into())),
        "{keys:?}"
    );
}

#[actix_web::test]
async fn outbound_calls_are_routed_by_call_id_or_by_our_calling_number() {
    let (app, a) = spawn_app_with_owner("Caller").await;
    let b = app.signup("Callee").await;
    let a_number = app.claim_number(&a, &["voice"]).await;
    let b_number = app.claim_number(&b, &["voice"]).await;

    // A call we placed and recorded first: the callback names it.
    let r = app
        .post(&a, "/v1/calls", &json!({"direction": "outbound", "from_number": a_number, "to_number": b_number, "notes": "placed by the dialer"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let call = id(&r.json).to_owned();
    let sid = unique_sid("CA");
    for (status, seq) in [("initiated", "0"), ("ringing", "1"), ("in-progress", "2")] {
        assert_twiml(
            &call_callback(
                &app,
                Some(&call),
                &sid,
                status,
                seq,
                "Wed, 15 Jul 2020 09:00:00 +0000",
                "outbound-api",
                &a_number,
                &b_number,
                &[],
            )
            .await,
        );
    }
    let row = json_of(&app, &a, &format!("/v1/calls/{call}")).await;
    assert_eq!(row["call_sid"], sid.as_str());
    assert_eq!(row["status"], "in_progress");
    assert_eq!(row["notes"], "placed by the dialer");
    assert_eq!(row["last_sequence_number"], 2);
    assert_eq!(data(&app, &a, "/v1/calls").await.len(), 1);
    // The callee's organization owns the To number, but the call is A's (Direction and
    // call_id say so): B got nothing.
    assert!(data(&app, &b, "/v1/calls").await.is_empty());
    // A's call id with another CallSid than the one recorded: not that call.
    let before = json_of(&app, &a, &format!("/v1/calls/{call}")).await;
    assert_twiml(
        &call_callback(
            &app,
            Some(&call),
            &unique_sid("CA"),
            "completed",
            "3",
            "Wed, 15 Jul 2020 09:01:00 +0000",
            "outbound-api",
            &a_number,
            &b_number,
            &[],
        )
        .await,
    );
    assert_eq!(
        json_of(&app, &a, &format!("/v1/calls/{call}")).await,
        before
    );

    // A call we did not record (placed from the Twilio console): routed by its From number.
    let sid = unique_sid("CA");
    assert_twiml(
        &call_callback(
            &app,
            None,
            &sid,
            "busy",
            "2",
            "Wed, 15 Jul 2020 10:00:00 +0000",
            "outbound-api",
            &a_number,
            "+14155550188",
            &[("CallDuration", "0")],
        )
        .await,
    );
    let calls = data(&app, &a, "/v1/calls?direction=outbound&status=busy").await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["call_sid"], sid.as_str());
    assert_eq!(calls[0]["from_number"], a_number.as_str());
    assert_eq!(calls[0]["to_number"], "+14155550188");
    assert_eq!(calls[0]["duration_seconds"], 0);
    assert!(data(&app, &b, "/v1/calls").await.is_empty());
}

/// An outbound call's number released after it routed a callback, before the callback records
/// the call: the callback is routed again, by its CallSid alone (as for any number no longer
/// ours): applied to the call when the organization has it, else acknowledged without a write.
/// The insert's trigger refused the call (`calls_from_number_owned`, 23503: 500). To release
/// the number at that moment, the callback's insert is held on a lock of the calls table (`SHARE`:
/// reads pass, so the callback still routes by the number; releasing a number writes no call).
#[actix_web::test]
async fn a_number_released_while_its_callback_is_applied_routes_it_by_its_call_sid() {
    let (app, a) = spawn_app_with_owner("Caller").await;
    let callee = "+14155550188";
    let customer = app
        .create_customer(&a, json!({"name": "Callee", "phone": callee}))
        .await;
    let su = app.db.superuser_client().await;
    let ts = "Wed, 15 Jul 2020 10:00:00 +0000";
    for recorded_first in [true, false] {
        let number = app.claim_number(&a, &["voice"]).await;
        let sid = unique_sid("CA");
        let callback = |status: &'static str, seq: &'static str| {
            let (app, sid, number) = (&app, sid.clone(), number.clone());
            async move {
                call_callback(
                    app,
                    None,
                    &sid,
                    status,
                    seq,
                    ts,
                    "outbound-api",
                    &number,
                    callee,
                    &[],
                )
                .await
            }
        };
        if recorded_first {
            assert_twiml(&callback("initiated", "0").await);
        }
        let number_id = number_id(&app, &a, &number).await;
        su.batch_execute("BEGIN; LOCK TABLE palisade.calls IN SHARE MODE")
            .await
            .unwrap();
        let release = async {
            app.db.until_one_session_waits_on_a_lock().await;
            let r = app
                .delete(&a, &format!("/v1/phone-numbers/{number_id}"))
                .await;
            assert_eq!(r.status, 204, "{}", r.text);
            su.batch_execute("ROLLBACK").await.unwrap();
        };
        let (r, ()) = tokio::join!(callback("ringing", "1"), release);
        assert_twiml(&r);
        let calls: Vec<Value> = data(&app, &a, "/v1/calls")
            .await
            .into_iter()
            .filter(|c| c["call_sid"] == sid.as_str())
            .collect();
        if recorded_first {
            assert_eq!(calls.len(), 1, "{calls:?}");
            assert_eq!(
                (&calls[0]["status"], &calls[0]["customer_id"]),
                (&json!("ringing"), &customer["id"])
            );
        } else {
            assert!(calls.is_empty(), "{calls:?}");
        }
    }
}

/// The id of `acct`'s phone number `number`.
async fn number_id(app: &TestApp, acct: &Account, number: &str) -> String {
    let numbers = data(app, acct, "/v1/phone-numbers").await;
    let n = numbers.iter().find(|n| n["number"] == number).unwrap();
    id(n).to_owned()
}

/// A customer deleted while a new call's callback records the call is not linked to it. The
/// delete here has run but not committed when the callback arrives, and commits while the
/// callback waits for it. The customer is read without a lock (see `customer_by_phone!`), so it is
/// still found, and the insert's foreign key check fails once the delete commits (23503): the
/// callback's transaction runs again and links none (before stop 64 it answered 500).
#[actix_web::test]
async fn a_customer_deleted_meanwhile_is_not_linked_to_a_new_call() {
    let (app, a) = spawn_app_with_owner("Callee").await;
    let number = app.claim_number(&a, &["voice"]).await;
    let caller = "+14155550123";
    let customer = app
        .create_customer(&a, json!({"name": "Caller", "phone": caller}))
        .await;
    let su = app.db.superuser_client().await;
    su.batch_execute("BEGIN").await.unwrap();
    let customer_id: Uuid = id(&customer).parse().unwrap();
    su.execute(
        "DELETE FROM palisade.customers WHERE id = $1",
        &[&customer_id],
    )
    .await
    .unwrap();
    let sid = unique_sid("CA");
    let callback = InboundCall::new(&app, &sid, caller, &number);
    let commit = async {
        app.db.until_one_session_waits_on_a_lock().await;
        su.batch_execute("COMMIT").await.unwrap();
    };
    tokio::join!(
        callback.sends(&[("initiated", "0", "Tue, 14 Jul 2020 20:07:00 +0000")]),
        commit
    );
    let calls = data(&app, &a, "/v1/calls").await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        (&calls[0]["call_sid"], &calls[0]["customer_id"]),
        (&json!(sid), &Value::Null)
    );
}

#[actix_web::test]
async fn a_dial_child_leg_is_never_routed_by_its_from_number() {
    let (app, a) = spawn_app_with_owner("Forwarder").await;
    let b = app.signup("Original caller").await;
    let a_number = app.claim_number(&a, &["voice"]).await;
    let b_number = app.claim_number(&b, &["voice"]).await;
    // B's number called A's number, and A's TwiML forwards it with <Dial>: the child leg's
    // From is B's number by default, its To A's forwarding destination.
    let sid = unique_sid("CA");
    assert_twiml(
        &call_callback(
            &app,
            None,
            &sid,
            "completed",
            "3",
            "Wed, 15 Jul 2020 11:00:00 +0000",
            "outbound-dial",
            &b_number,
            "+14155550177",
            &[("CallDuration", "30"), ("ParentCallSid", "CA0123")],
        )
        .await,
    );
    assert!(
        data(&app, &b, "/v1/calls").await.is_empty(),
        "B learned A's forwarding"
    );
    assert!(data(&app, &a, "/v1/calls").await.is_empty());
    assert!(data(&app, &b, "/v1/webhook-deliveries").await.is_empty());
    let _ = a_number;
}

#[actix_web::test]
async fn a_call_sid_another_organization_made_up_never_routes_our_callbacks_to_it() {
    let (app, a) = spawn_app_with_owner("Callee").await;
    let b = app.signup("Squatter").await;
    let number = app.claim_number(&a, &["voice"]).await;
    // B records, through the API, a call with the SID A's incoming call will have (and A's
    // numbers).
    let sid = unique_sid("CA");
    let r = app
        .post(&b, "/v1/calls", &json!({"direction": "inbound", "from_number": "+14155550123", "to_number": number, "call_sid": sid}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let b_call = format!("/v1/calls/{}", id(&r.json));
    let b_before = get(&app, &b, &b_call).await.text;
    let b_deliveries = get(&app, &b, "/v1/webhook-deliveries").await.text;

    for (status, seq) in [("ringing", "1"), ("in-progress", "2")] {
        assert_twiml(
            &call_callback(
                &app,
                None,
                &sid,
                status,
                seq,
                "Wed, 15 Jul 2020 11:00:00 +0000",
                "inbound",
                "+14155550123",
                &number,
                &[],
            )
            .await,
        );
    }
    let calls = data(&app, &a, "/v1/calls").await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["call_sid"], sid.as_str());
    assert_eq!(calls[0]["status"], "in_progress");
    assert_eq!(get(&app, &b, &b_call).await.text, b_before);
    assert_eq!(
        get(&app, &b, "/v1/webhook-deliveries").await.text,
        b_deliveries
    );

    // Now both hold the SID: a callback naming neither id nor one of our numbers is
    // ambiguous, acknowledged, and writes nothing anywhere.
    let a_before = get(&app, &a, "/v1/calls").await.text;
    assert_twiml(
        &call_callback(
            &app,
            None,
            &sid,
            "completed",
            "3",
            "Wed, 15 Jul 2020 11:05:00 +0000",
            "inbound",
            "+14155550123",
            &unique_number(),
            &[("CallDuration", "300")],
        )
        .await,
    );
    assert_eq!(get(&app, &a, "/v1/calls").await.text, a_before);
    assert_eq!(get(&app, &b, &b_call).await.text, b_before);
    assert_eq!(deliveries(&app, &a, "voice.status").await.len(), 2);
}

#[actix_web::test]
async fn the_same_callback_five_times_in_a_row_and_five_at_once_changes_things_once() {
    let app = spawn_app_with_pool(8).await;
    let a = app.signup("Sender").await;
    let number = app.claim_number(&a, &["voice"]).await;
    let (campaign, m) = campaign_with(&app, &a, "Once", &["+14155550101"]).await;
    let sid = unique_sid("SM");

    for _ in 0..5 {
        assert_twiml(&sms_callback(&app, Some(&m[0]), &sid, "sent").await);
    }
    let sent = message(&app, &a, &m[0]).await;
    assert_eq!(sent["status"], "sent");
    assert_eq!(deliveries(&app, &a, "sms.status").await.len(), 1);

    let path = sms_path(Some(&m[0]));
    let params = sms_params(&sid, "delivered");
    let answers = join_all((0..5).map(|_| app.twilio(&path, &params))).await;
    for r in &answers {
        assert_twiml(r);
    }
    let delivered = message(&app, &a, &m[0]).await;
    assert_eq!(delivered["status"], "delivered");
    assert_eq!(delivered["sent_at"], sent["sent_at"]);
    let recorded = deliveries(&app, &a, "sms.status").await;
    assert_eq!(recorded.len(), 2);
    assert!(recorded.iter().all(|d| d["outcome"] == "applied"));
    assert_eq!(
        counts(&app, &a, &campaign).await,
        json!({"sent": 1, "delivered": 1, "undelivered": 0, "failed": 0})
    );

    // A call's first callback, five at once: one call row, one delivery.
    let csid = unique_sid("CA");
    let mut params = call_params(&csid, "ringing", "inbound", "+14155550123", &number);
    params.push(("SequenceNumber", "1"));
    let path = voice_path(None);
    let answers = join_all((0..5).map(|_| app.twilio(&path, &params))).await;
    for r in &answers {
        assert_twiml(r);
    }
    assert_eq!(data(&app, &a, "/v1/calls").await.len(), 1);
    assert_eq!(deliveries(&app, &a, "voice.status").await.len(), 1);
    // The next one five times in a row, then five at once.
    let mut params = call_params(&csid, "in-progress", "inbound", "+14155550123", &number);
    params.push(("SequenceNumber", "2"));
    for _ in 0..5 {
        assert_twiml(&app.twilio(&path, &params).await);
    }
    let mut params = call_params(&csid, "completed", "inbound", "+14155550123", &number);
    params.push(("SequenceNumber", "3"));
    params.push(("CallDuration", "9"));
    let answers = join_all((0..5).map(|_| app.twilio(&path, &params))).await;
    for r in &answers {
        assert_twiml(r);
    }
    let calls = data(&app, &a, "/v1/calls").await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["status"], "completed");
    assert_eq!(calls[0]["duration_seconds"], 9);
    let recorded = deliveries(&app, &a, "voice.status").await;
    assert_eq!(recorded.len(), 3);
    assert!(recorded.iter().all(|d| d["outcome"] == "applied"));
}

#[actix_web::test]
async fn concurrent_callbacks_with_different_statuses_end_at_the_furthest_one() {
    let app = spawn_app_with_pool(8).await;
    let a = app.signup("Sender").await;
    let to = [
        "+14155550101",
        "+14155550102",
        "+14155550103",
        "+14155550104",
    ];
    let (campaign, m) = campaign_with(&app, &a, "Race", &to).await;
    let sids: Vec<String> = (0..4).map(|_| unique_sid("SM")).collect();
    let mut calls = Vec::new();
    for (i, statuses) in [
        &["queued", "sending", "sent", "delivered"][..],
        &["delivered", "sent", "sending", "queued"][..],
        &["sent", "delivered", "queued", "sending"][..],
        &["sending", "undelivered", "sent", "queued"][..],
    ]
    .into_iter()
    .enumerate()
    {
        for status in statuses {
            calls.push((sms_path(Some(&m[i])), sms_params(&sids[i], status)));
        }
    }
    let answers = join_all(calls.iter().map(|(path, params)| app.twilio(path, params))).await;
    for r in &answers {
        assert_twiml(r);
    }
    for (i, expected) in ["delivered", "delivered", "delivered", "undelivered"]
        .into_iter()
        .enumerate()
    {
        let msg = message(&app, &a, &m[i]).await;
        assert_eq!(msg["status"], expected, "message {i}");
        assert_eq!(msg["carrier_sid"], sids[i].as_str());
    }
    assert_eq!(
        counts(&app, &a, &campaign).await,
        json!({"sent": 4, "delivered": 3, "undelivered": 1, "failed": 0})
    );
    assert_eq!(
        counts(&app, &a, &campaign).await,
        recount(&app, &a, &campaign).await
    );
    assert_eq!(deliveries(&app, &a, "sms.status").await.len(), 16);
}

#[actix_web::test]
async fn status_callbacks_never_open_a_connection_that_bypasses_rls() {
    let (app, a) = spawn_app_with_owner("Carrier").await;
    let number = app.claim_number(&a, &["voice"]).await;
    let (_, m) = campaign_with(&app, &a, "Roles", &["+14155550101"]).await;
    let sid = unique_sid("SM");
    for status in ["queued", "sent", "delivered"] {
        assert_twiml(&sms_callback(&app, Some(&m[0]), &sid, status).await);
    }
    let csid = unique_sid("CA");
    for (status, seq) in [("ringing", "1"), ("completed", "2")] {
        assert_twiml(
            &call_callback(
                &app,
                None,
                &csid,
                status,
                seq,
                "Wed, 15 Jul 2020 12:00:00 +0000",
                "inbound",
                "+14155550123",
                &number,
                &[],
            )
            .await,
        );
    }
    assert_eq!(deliveries(&app, &a, "sms.status").await.len(), 3);
    assert_eq!(deliveries(&app, &a, "voice.status").await.len(), 2);
    // Every connection the server holds to its database: which roles, and can any bypass RLS?
    app.assert_connections_are_the_app_role("a status callback")
        .await;
}

/// Seeds, for the isolation tests, an outbound SMS (campaign and recipient over the API) that a
/// status callback moved to `sent`, and an inbound call recorded by voice status callbacks.
pub async fn seed(app: &TestApp, acct: &Account, marker: &str) -> Seeded {
    let number = app.claim_number(acct, &["voice"]).await;
    let (campaign, m) =
        campaign_with(app, acct, &format!("{marker} status"), &["+14155550177"]).await;
    assert_twiml(&sms_callback(app, Some(&m[0]), &unique_sid("SM"), "sent").await);
    let sid = unique_sid("CA");
    for (status, seq) in [("ringing", "1"), ("in-progress", "2")] {
        assert_twiml(
            &call_callback(
                app,
                None,
                &sid,
                status,
                seq,
                "Wed, 15 Jul 2020 12:00:00 +0000",
                "inbound",
                "+14155550178",
                &number,
                &[],
            )
            .await,
        );
    }
    let call = data(app, acct, "/v1/calls?direction=inbound&status=in_progress")
        .await
        .into_iter()
        .find(|c| c["call_sid"] == sid.as_str())
        .unwrap();
    Seeded {
        items: vec![
            Item {
                path: format!("/v1/sms-campaigns/{campaign}"),
                writes: &["PATCH", "DELETE"],
                patch: json!({"name": "changed by another tenant"}),
            },
            Item {
                path: format!("/v1/sms-messages/{}", m[0]),
                writes: &["DELETE"],
                patch: json!({}),
            },
            Item {
                path: format!("/v1/calls/{}", id(&call)),
                writes: &["PATCH", "DELETE"],
                patch: json!({"notes": "changed by another tenant", "status": "completed"}),
            },
        ],
        views: vec![
            "/v1/sms-messages?status=sent".into(),
            format!("/v1/sms-campaigns/{campaign}/messages"),
            "/v1/calls?direction=inbound".into(),
            "/v1/calls?status=in_progress".into(),
            "/v1/webhook-deliveries?kind=sms.status".into(),
            "/v1/webhook-deliveries?kind=voice.status".into(),
            format!("/v1/webhook-deliveries?subject_id={}", m[0]),
        ],
    }
}
