//! `POST /webhooks/email/sendgrid` and `POST /webhooks/email/mailgun`: signatures (and
//! Mailgun's token replay, refused on every instance sharing the database and after a
//! restart), the effect of each event on the message, its campaign counters and
//! analytics, routing between organizations, a status that never moves backwards, and
//! idempotency under sequential and concurrent duplicates.
//!
//! There is no sender yet: messages are created over HTTP (status `queued`), and where a test
//! needs a provider message id already stored, it is set in SQL as the app role inside the
//! organization, as the sender will.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use hmac::{Hmac, KeyInit, Mac};
use palisade_api::webhooks::signature::SendgridDevSigner;
use palisade_test_support::{
    Account, TEST_MAILGUN_SIGNING_KEY, TestApp, TestResponse, request, sendgrid_test_signer,
    spawn_app, spawn_app_on, spawn_app_with_owner, spawn_app_with_pool,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::isolation::{Item, Seeded};

const SENDGRID: &str = "/webhooks/email/sendgrid";
const MAILGUN: &str = "/webhooks/email/mailgun";

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An hour ago, to the second: event times tests can predict, inside every default window.
fn base_time() -> i64 {
    unix_now() - 3600
}

/// `secs` as the API prints it.
fn rfc3339(secs: i64) -> String {
    palisade_domain::timestamp::format(OffsetDateTime::from_unix_timestamp(secs).unwrap()).unwrap()
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", Uuid::new_v4().simple())
}

// ---------------------------------------------------------------------------------------------
// Requests, signed as the providers sign them.

/// Posts `body` to SendGrid's route with `timestamp`, signed by `signer`.
async fn sendgrid_signed(
    app: &TestApp,
    signer: &SendgridDevSigner,
    timestamp: i64,
    body: &[u8],
) -> TestResponse {
    let ts = timestamp.to_string();
    let signature = signer.sign(&ts, body);
    let r = request(
        &app.addr,
        "POST",
        SENDGRID,
        &[
            ("Content-Type", "application/json".to_owned()),
            ("X-Twilio-Email-Event-Webhook-Timestamp", ts),
            ("X-Twilio-Email-Event-Webhook-Signature", signature),
        ],
        Some(body),
    )
    .await;
    if r.status == 200 {
        crate::openapi::assert_ok_as_documented(SENDGRID, &r);
    }
    r
}

/// Posts a batch of SendGrid events, signed now with the key the test server trusts.
pub(crate) async fn sendgrid(app: &TestApp, events: &Value) -> TestResponse {
    sendgrid_signed(
        app,
        &sendgrid_test_signer(),
        unix_now(),
        events.to_string().as_bytes(),
    )
    .await
}

/// One SendGrid event: our message id as the custom argument, and `sg_message_id` (as SendGrid
/// builds it: the X-Message-Id, a dot, then its own suffix) when `provider_id` is given.
pub(crate) fn sg(
    event: &str,
    event_id: &str,
    at: i64,
    our_id: Option<&str>,
    provider_id: Option<&str>,
) -> Value {
    let mut e = json!({
        "email": "recipient@example.com",
        "timestamp": at,
        "event": event,
        "sg_event_id": event_id,
        "category": ["newsletter"],
    });
    if let Some(our) = our_id {
        e["palisade_message_id"] = json!(our);
    }
    if let Some(p) = provider_id {
        e["sg_message_id"] = json!(format!("{p}.filterdrecv-5645d9c87f-6r2ch-1-5F5FC76C-9.0"));
    }
    e
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Mailgun's body: `{"signature": {...}, "event-data": ...}`, signed with `key` over
/// `timestamp + token`.
fn mailgun_body(key: &str, timestamp: i64, token: &str, event_data: &Value) -> Vec<u8> {
    let ts = timestamp.to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(token.as_bytes());
    let signature = hex(&mac.finalize().into_bytes());
    json!({
        "signature": {"timestamp": ts, "token": token, "signature": signature},
        "event-data": event_data,
    })
    .to_string()
    .into_bytes()
}

async fn mailgun_raw(app: &TestApp, body: &[u8]) -> TestResponse {
    let r = request(
        &app.addr,
        "POST",
        MAILGUN,
        &[("Content-Type", "application/json".to_owned())],
        Some(body),
    )
    .await;
    if r.status == 200 {
        crate::openapi::assert_ok_as_documented(MAILGUN, &r);
    }
    r
}

/// Posts one Mailgun event, signed now with a fresh token and the test server's key.
async fn mailgun(app: &TestApp, event_data: &Value) -> TestResponse {
    let body = mailgun_body(
        TEST_MAILGUN_SIGNING_KEY,
        unix_now(),
        &unique("tok"),
        event_data,
    );
    mailgun_raw(app, &body).await
}

/// A new Mailgun `event` about our message `our_id`, and nothing more.
fn ours(event: &str, at: i64, our_id: &str) -> Value {
    mg(event, &unique("mg"), at, Some(our_id), None, json!({}))
}

/// One Mailgun `event-data`: our message id as a user variable, the provider's in the message
/// headers (with angle brackets, as Mailgun shows it); `extra` fields merged in.
fn mg(
    event: &str,
    event_id: &str,
    at: i64,
    our_id: Option<&str>,
    provider_id: Option<&str>,
    extra: Value,
) -> Value {
    let mut e = json!({
        "event": event,
        "id": event_id,
        "timestamp": at as f64 + 0.25,
        "recipient": "recipient@example.com",
        "log-level": "info",
        "user-variables": {},
        "message": {"headers": {"subject": "Hello"}},
    });
    if let Some(our) = our_id {
        e["user-variables"]["palisade_message_id"] = json!(our);
    }
    if let Some(p) = provider_id {
        e["message"]["headers"]["message-id"] = json!(format!("<{p}>"));
    }
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            e[k] = v;
        }
    }
    e
}

// ---------------------------------------------------------------------------------------------
// Reading what happened.

async fn get(app: &TestApp, acct: &Account, path: &str) -> Value {
    let r = app.get(&acct, path).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text);
    r.json
}

async fn data(app: &TestApp, acct: &Account, path: &str) -> Vec<Value> {
    get(app, acct, path).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn message(app: &TestApp, acct: &Account, message_id: &str) -> Value {
    get(app, acct, &format!("/v1/email-messages/{message_id}")).await
}

async fn campaign_counts(app: &TestApp, acct: &Account, campaign_id: &str) -> Value {
    get(app, acct, &format!("/v1/email-campaigns/{campaign_id}")).await["counts"].clone()
}

fn counts(
    sent: i64,
    delivered: i64,
    opened: i64,
    clicked: i64,
    bounced: i64,
    failed: i64,
) -> Value {
    json!({"sent": sent, "delivered": delivered, "opened": opened, "clicked": clicked,
           "bounced": bounced, "failed": failed})
}

/// Everything an email event could change for an organization, as it reads over HTTP.
async fn snapshot(app: &TestApp, acct: &Account) -> Vec<String> {
    let mut out = Vec::new();
    for path in [
        "/v1/email-messages",
        "/v1/email-campaigns",
        "/v1/analytics/events",
        "/v1/webhook-deliveries",
        "/v1/dashboard/stats",
    ] {
        let r = app.get(&acct, path).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.text);
        out.push(r.text);
    }
    out
}

/// The analytics events of `event_type` about `message_id`.
async fn analytics_of(
    app: &TestApp,
    acct: &Account,
    event_type: &str,
    message_id: &str,
) -> Vec<Value> {
    data(
        app,
        acct,
        &format!("/v1/analytics/events?type={event_type}&limit=100"),
    )
    .await
    .into_iter()
    .filter(|e| e["properties"]["email_message_id"] == message_id)
    .collect()
}

/// The outcome recorded for provider event `event_key` (`None` when not recorded).
async fn outcome(app: &TestApp, acct: &Account, event_key: &str) -> Option<String> {
    data(
        app,
        acct,
        "/v1/webhook-deliveries?kind=email.event&limit=100",
    )
    .await
    .into_iter()
    .find(|d| d["event_key"] == event_key)
    .map(|d| d["outcome"].as_str().unwrap().to_owned())
}

// ---------------------------------------------------------------------------------------------
// Setting up.

/// An email campaign of `acct` with `n` recipients (the first one a customer); returns the
/// campaign and the messages.
async fn campaign(app: &TestApp, acct: &Account, n: usize) -> (Value, Vec<Value>) {
    let customer = app
        .create_customer(
            acct,
            json!({"name": "Ada", "email": format!("{}@example.com", unique("ada"))}),
        )
        .await;
    let r = app
        .post(
            &acct,
            "/v1/email-campaigns",
            &json!({"name": "Spring", "subject": "Hello", "body": "Dear customer"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let c = r.json;
    let mut messages = Vec::new();
    for i in 0..n {
        let body = if i == 0 {
            json!({"customer_id": id(&customer)})
        } else {
            json!({"to_email": format!("{}@example.com", unique("r"))})
        };
        let r = app
            .post(
                &acct,
                &format!("/v1/email-campaigns/{}/messages", id(&c)),
                &body,
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        messages.push(r.json);
    }
    (c, messages)
}

/// Stores `provider_id` as the message's provider id, as the sender does after handing it over
/// (SQL as the app role, in the organization's context, under RLS).
async fn set_provider_id(app: &TestApp, acct: &Account, message_id: &str, provider_id: &str) {
    let n = app
        .execute_as(
            acct,
            "UPDATE palisade.email_messages SET provider_message_id = $2 WHERE id = $1",
            &[&Uuid::parse_str(message_id).unwrap(), &provider_id],
        )
        .await;
    assert_eq!(n, 1);
}

// ---------------------------------------------------------------------------------------------
// Isolation seeder.

/// Seeds an opened message (SendGrid) and a clicked one (Mailgun) for the isolation tests, so
/// analytics events and webhook deliveries of both providers.
pub async fn seed(app: &TestApp, acct: &Account, marker: &str) -> Seeded {
    let (c, msgs) = campaign(app, acct, 2).await;
    let r = app
        .patch(
            &acct,
            &format!("/v1/email-campaigns/{}", id(&c)),
            &json!({"name": format!("{marker} email events")}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t = base_time();
    let r = sendgrid(
        app,
        &json!([sg(
            "open",
            &unique("sg"),
            t,
            Some(id(&msgs[0])),
            Some("SEEDSHARED")
        )]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = mailgun(app, &ours("clicked", t, id(&msgs[1]))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(message(app, acct, id(&msgs[0])).await["status"], "opened");
    assert_eq!(message(app, acct, id(&msgs[1])).await["status"], "clicked");
    Seeded {
        items: vec![Item {
            path: format!("/v1/email-messages/{}", id(&msgs[0])),
            writes: &["DELETE"],
            patch: json!({}),
        }],
        views: vec![
            "/v1/email-messages?status=opened".into(),
            "/v1/email-messages?status=clicked".into(),
            format!("/v1/email-campaigns/{}/messages", id(&c)),
            "/v1/analytics/events?type=email.opened".into(),
            "/v1/analytics/events?type=email.clicked".into(),
            "/v1/analytics/summary?type=email.opened".into(),
            "/v1/webhook-deliveries?provider=sendgrid".into(),
            "/v1/webhook-deliveries?provider=mailgun&kind=email.event".into(),
            "/v1/dashboard/stats".into(),
        ],
    }
}

// ---------------------------------------------------------------------------------------------
// Effects.

#[actix_web::test]
async fn sendgrid_events_move_the_message_its_campaign_and_analytics() {
    let (app, a) = spawn_app_with_owner("Sender").await;
    let (c, msgs) = campaign(&app, &a, 3).await;
    let (m, bounced, deferred) = (id(&msgs[0]), id(&msgs[1]), id(&msgs[2]));
    let t = base_time();
    let ids: Vec<String> = (0..8).map(|_| unique("sg")).collect();

    let r = sendgrid(
        &app,
        &json!([
            sg("processed", &ids[0], t, Some(m), Some("XMSGID0001")),
            sg("delivered", &ids[1], t + 5, Some(m), Some("XMSGID0001")),
            sg("open", &ids[2], t + 60, Some(m), Some("XMSGID0001")),
            sg("click", &ids[3], t + 90, Some(m), Some("XMSGID0001")),
            sg("open", &ids[4], t + 120, Some(m), Some("XMSGID0001")),
            sg("bounce", &ids[5], t + 7, Some(bounced), Some("XMSGID0002")),
            sg("deferred", &ids[6], t + 8, Some(deferred), None),
            sg("spamreport", &ids[7], t + 200, Some(m), None),
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let got = message(&app, &a, m).await;
    assert_eq!(got["status"], "clicked");
    assert_eq!(
        got["provider_message_id"], "XMSGID0001",
        "the X-Message-Id part of sg_message_id"
    );
    assert_eq!(got["sent_at"], rfc3339(t));
    assert_eq!(got["delivered_at"], rfc3339(t + 5));
    assert_eq!(got["opened_at"], rfc3339(t + 60), "the first open");
    assert_eq!(got["clicked_at"], rfc3339(t + 90));
    assert_eq!(got["failed_at"], Value::Null);

    let got = message(&app, &a, bounced).await;
    assert_eq!(
        (got["status"].as_str(), got["failed_at"].as_str()),
        (Some("bounced"), Some(rfc3339(t + 7).as_str()))
    );
    let got = message(&app, &a, deferred).await;
    assert_eq!(got["status"], "queued", "a deferral changes no status");
    assert_eq!(got["provider_message_id"], Value::Null);

    assert_eq!(
        campaign_counts(&app, &a, id(&c)).await,
        counts(1, 1, 1, 1, 1, 0)
    );

    // One analytics event per provider event, dated by the provider, about the customer.
    let opens = analytics_of(&app, &a, "email.opened", m).await;
    assert_eq!(opens.len(), 2, "a second open is still an open");
    let customer = &msgs[0]["customer_id"];
    for e in &opens {
        assert_eq!(&e["customer_id"], customer);
        assert_eq!(e["properties"]["campaign_id"], c["id"]);
        assert_eq!(e["properties"]["provider"], "sendgrid");
        assert!(
            !e.to_string().contains("recipient@example.com"),
            "never the address"
        );
    }
    let mut times: Vec<&str> = opens
        .iter()
        .map(|e| e["occurred_at"].as_str().unwrap())
        .collect();
    times.sort();
    assert_eq!(times, vec![rfc3339(t + 60), rfc3339(t + 120)]);
    for (ty, msg, n) in [
        ("email.sent", m, 1),
        ("email.delivered", m, 1),
        ("email.clicked", m, 1),
        ("email.complained", m, 1),
        ("email.bounced", bounced, 1),
        ("email.deferred", deferred, 1),
    ] {
        let events = analytics_of(&app, &a, ty, msg).await;
        assert_eq!(events.len(), n, "{ty}");
    }
    let bounce = &analytics_of(&app, &a, "email.bounced", bounced).await[0];
    assert_eq!(bounce["customer_id"], Value::Null, "not a customer");

    // Every event recorded once; those that changed nothing are stale.
    let deliveries = data(&app, &a, "/v1/webhook-deliveries?provider=sendgrid").await;
    assert_eq!(deliveries.len(), 8);
    for d in &deliveries {
        assert_eq!(d["kind"], "email.event");
    }
    for (i, expected) in [
        "applied", "applied", "applied", "applied", "stale", "applied", "stale", "stale",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(
            outcome(&app, &a, &ids[i]).await.as_deref(),
            Some(*expected),
            "event {i}"
        );
    }
    let about_m = data(&app, &a, &format!("/v1/webhook-deliveries?subject_id={m}")).await;
    assert_eq!(about_m.len(), 6);

    // Engagement shows in the analytics summary and in the message filters.
    let summary = get(&app, &a, "/v1/analytics/summary?type=email.opened").await;
    assert!(summary.to_string().contains("email.opened"), "{summary}");
    let clicked = data(&app, &a, "/v1/email-messages?status=clicked").await;
    assert_eq!(clicked.len(), 1);
}

#[actix_web::test]
async fn mailgun_events_move_the_message_its_campaign_and_analytics() {
    let (app, a) = spawn_app_with_owner("Sender").await;
    let (c, msgs) = campaign(&app, &a, 4).await;
    let (m, dropped, bounced, rejected) = (id(&msgs[0]), id(&msgs[1]), id(&msgs[2]), id(&msgs[3]));
    let t = base_time();
    let ids: Vec<String> = (0..8).map(|_| unique("mg")).collect();
    let pid = format!("{}@mg.example.com", unique("20260101"));
    let events = [
        mg("accepted", &ids[0], t, Some(m), Some(&pid), json!({})),
        mg(
            "failed",
            &ids[1],
            t + 3,
            Some(m),
            Some(&pid),
            json!({"severity": "temporary", "reason": "generic"}),
        ),
        mg("delivered", &ids[2], t + 5, Some(m), Some(&pid), json!({})),
        mg("opened", &ids[3], t + 60, Some(m), Some(&pid), json!({})),
        mg(
            "failed",
            &ids[4],
            t + 4,
            Some(dropped),
            None,
            json!({"severity": "permanent", "reason": "suppress-bounce"}),
        ),
        mg(
            "failed",
            &ids[5],
            t + 4,
            Some(bounced),
            None,
            json!({"severity": "permanent", "reason": "bounce"}),
        ),
        mg("rejected", &ids[6], t + 1, Some(rejected), None, json!({})),
        mg("unsubscribed", &ids[7], t + 70, Some(m), None, json!({})),
    ];
    for e in &events {
        let r = mailgun(&app, e).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.text, "");
    }

    let got = message(&app, &a, m).await;
    assert_eq!(got["status"], "opened");
    assert_eq!(
        got["provider_message_id"],
        pid.as_str(),
        "without angle brackets"
    );
    // Mailgun's timestamps have fractions of a second.
    assert!(
        got["sent_at"]
            .as_str()
            .unwrap()
            .starts_with(&rfc3339(t)[..19])
    );
    assert!(got["delivered_at"].as_str().unwrap().ends_with(".250000Z"));
    for (msg, status) in [
        (dropped, "dropped"),
        (bounced, "bounced"),
        (rejected, "failed"),
    ] {
        let got = message(&app, &a, msg).await;
        assert_eq!(got["status"], status, "{msg}");
        assert!(got["failed_at"].is_string());
    }
    assert_eq!(
        campaign_counts(&app, &a, id(&c)).await,
        counts(1, 1, 1, 0, 1, 2)
    );
    for (ty, msg) in [
        ("email.sent", m),
        ("email.deferred", m),
        ("email.delivered", m),
        ("email.opened", m),
        ("email.unsubscribed", m),
        ("email.dropped", dropped),
        ("email.bounced", bounced),
        ("email.failed", rejected),
    ] {
        let events = analytics_of(&app, &a, ty, msg).await;
        assert_eq!(events.len(), 1, "{ty}");
        assert_eq!(events[0]["properties"]["provider"], "mailgun");
    }
    let deliveries = data(&app, &a, "/v1/webhook-deliveries?provider=mailgun").await;
    assert_eq!(deliveries.len(), 8);
    assert_eq!(outcome(&app, &a, &ids[1]).await.as_deref(), Some("stale"));
    assert_eq!(outcome(&app, &a, &ids[3]).await.as_deref(), Some("applied"));
}

#[actix_web::test]
async fn a_status_never_moves_backwards_but_late_stages_are_dated() {
    let (app, a) = spawn_app_with_owner("Sender").await;
    let (c, msgs) = campaign(&app, &a, 2).await;
    let (m, other) = (id(&msgs[0]), id(&msgs[1]));
    let t = base_time();
    let (open, delivered, processed, delivered_again) =
        (unique("sg"), unique("sg"), unique("sg"), unique("sg"));

    // Opened first, then the late "delivered", then "processed".
    for e in [
        sg("open", &open, t + 60, Some(m), None),
        sg("delivered", &delivered, t + 5, Some(m), None),
        sg("processed", &processed, t, Some(m), None),
        sg("delivered", &delivered_again, t + 6, Some(m), None),
    ] {
        let r = sendgrid(&app, &json!([e])).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let got = message(&app, &a, m).await;
    assert_eq!(
        got["status"], "opened",
        "a late delivered does not undo the open"
    );
    assert_eq!(
        got["delivered_at"],
        rfc3339(t + 5),
        "but says when it arrived"
    );
    assert_eq!(got["sent_at"], rfc3339(t));
    assert_eq!(
        outcome(&app, &a, &delivered).await.as_deref(),
        Some("applied")
    );
    assert_eq!(
        outcome(&app, &a, &delivered_again).await.as_deref(),
        Some("stale"),
        "already delivered earlier"
    );

    // A delayed bounce (after delivery, Mailgun) overrides delivered; a delivered reported
    // after the bounce does not undo it.
    let t2 = t + 1000;
    for e in [
        ours("delivered", t2, other),
        mg(
            "failed",
            &unique("mg"),
            t2 + 30,
            Some(other),
            None,
            json!({"severity": "permanent", "reason": "bounce"}),
        ),
        ours("accepted", t2 - 1, other),
    ] {
        assert_eq!(mailgun(&app, &e).await.status, 200);
    }
    let got = message(&app, &a, other).await;
    assert_eq!(got["status"], "bounced");
    assert!(got["delivered_at"].is_string() && got["failed_at"].is_string());
    // Every stage counted once per message that reached it.
    assert_eq!(
        campaign_counts(&app, &a, id(&c)).await,
        counts(2, 2, 1, 0, 1, 0)
    );
}

// ---------------------------------------------------------------------------------------------
// Refusals.

#[actix_web::test]
async fn forged_tampered_stale_or_unsigned_sendgrid_posts_are_refused_and_write_nothing() {
    let (app, a) = spawn_app_with_owner("Sender").await;
    let (_, msgs) = campaign(&app, &a, 1).await;
    let m = id(&msgs[0]);
    let before = snapshot(&app, &a).await;
    let body = json!([sg(
        "delivered",
        &unique("sg"),
        base_time(),
        Some(m),
        Some("XMSG")
    )])
    .to_string()
    .into_bytes();
    let signer = sendgrid_test_signer();
    let now = unix_now();

    let mut refused = Vec::new();
    // Signed by another key.
    let other = SendgridDevSigner::generate().unwrap();
    refused.push(sendgrid_signed(&app, &other, now, &body).await);
    // Stale, and from the future (validly signed, with that timestamp). Twice the 300 s window
    // away: the request may reach the server seconds after `now` on a loaded machine.
    refused.push(sendgrid_signed(&app, &signer, now - 600, &body).await);
    refused.push(sendgrid_signed(&app, &signer, now + 600, &body).await);
    // Tampered: signed over one body, sent with another; and with another timestamp.
    let ts = now.to_string();
    let good_sig = signer.sign(&ts, &body);
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("delivered", "bounce");
    let ts_header = "X-Twilio-Email-Event-Webhook-Timestamp";
    let sig_header = "X-Twilio-Email-Event-Webhook-Signature";
    for (headers, payload) in [
        (
            vec![(ts_header, ts.clone()), (sig_header, good_sig.clone())],
            tampered.as_bytes(),
        ),
        (
            vec![
                (ts_header, (now - 1).to_string()),
                (sig_header, good_sig.clone()),
            ],
            &body[..],
        ),
        // Missing either header, or both; a signature that is not base64 DER.
        (vec![(ts_header, ts.clone())], &body[..]),
        (vec![(sig_header, good_sig.clone())], &body[..]),
        (vec![], &body[..]),
        (
            vec![
                (ts_header, ts.clone()),
                (sig_header, "bm90IGRlcg==".to_owned()),
            ],
            &body[..],
        ),
        (
            vec![
                (ts_header, "yesterday".to_owned()),
                (sig_header, good_sig.clone()),
            ],
            &body[..],
        ),
    ] {
        let mut headers = headers;
        headers.push(("Content-Type", "application/json".to_owned()));
        refused.push(request(&app.addr, "POST", SENDGRID, &headers, Some(payload)).await);
    }
    for (i, r) in refused.iter().enumerate() {
        assert_eq!(r.status, 401, "case {i}: {}", r.text);
        assert_eq!(r.json["error"], "invalid_signature", "case {i}");
        // The signature is the credential: no invitation to send a bearer token.
        assert!(r.header("www-authenticate").is_none(), "case {i}");
    }
    assert_eq!(snapshot(&app, &a).await, before, "nothing written");

    // Signed, but not a JSON array of events: 400, nothing written.
    for bad in [&b"{\"event\": \"open\"}"[..], b"[{]", b""] {
        let r = sendgrid_signed(&app, &signer, unix_now(), bad).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.json["error"], "invalid_payload");
    }
    assert_eq!(snapshot(&app, &a).await, before);

    // The original, untouched: accepted.
    let r = sendgrid_signed(&app, &signer, now, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(message(&app, &a, m).await["status"], "delivered");
}

#[actix_web::test]
async fn forged_stale_unsigned_or_replayed_mailgun_posts_are_refused_and_write_nothing() {
    let (app, a) = spawn_app_with_owner("Sender").await;
    let (_, msgs) = campaign(&app, &a, 2).await;
    let (m, other) = (id(&msgs[0]), id(&msgs[1]));
    let before = snapshot(&app, &a).await;
    let t = base_time();
    let event = ours("delivered", t, m);
    let now = unix_now();

    let mut refused = Vec::new();
    // Another signing key; stale; from the future.
    refused.push(
        mailgun_raw(
            &app,
            &mailgun_body("key-other", now, &unique("tok"), &event),
        )
        .await,
    );
    // Twice the 300 s window away (robust to a slow machine between `now` and the request).
    for ts in [now - 600, now + 600] {
        let body = mailgun_body(TEST_MAILGUN_SIGNING_KEY, ts, &unique("tok"), &event);
        refused.push(mailgun_raw(&app, &body).await);
    }
    // Tampered signature fields: the token changed after signing.
    let body = mailgun_body(TEST_MAILGUN_SIGNING_KEY, now, "token-a", &event);
    let tampered = String::from_utf8(body)
        .unwrap()
        .replace("token-a", "token-b");
    refused.push(mailgun_raw(&app, tampered.as_bytes()).await);
    // No signature object, an incomplete one, a non-hex signature, or no JSON at all (such as
    // a legacy form-encoded webhook).
    for bad in [
        json!({"event-data": event}).to_string(),
        json!({"signature": {"timestamp": now.to_string(), "token": "t"}, "event-data": event})
            .to_string(),
        json!({"signature": {"timestamp": now.to_string(), "token": "t", "signature": "zz"}, "event-data": event})
            .to_string(),
        format!("timestamp={now}&token=t&signature=00&event=delivered"),
    ] {
        refused.push(mailgun_raw(&app, bad.as_bytes()).await);
    }
    for (i, r) in refused.iter().enumerate() {
        assert_eq!(r.status, 401, "case {i}: {}", r.text);
        assert_eq!(r.json["error"], "invalid_signature", "case {i}");
        // The signature is the credential: no invitation to send a bearer token.
        assert!(r.header("www-authenticate").is_none(), "case {i}");
    }
    assert_eq!(snapshot(&app, &a).await, before, "nothing written");

    // A valid delivery is accepted, and Mailgun retrying it verbatim is harmless...
    let token = unique("tok");
    let original = mailgun_body(TEST_MAILGUN_SIGNING_KEY, now, &token, &event);
    assert_eq!(mailgun_raw(&app, &original).await.status, 200);
    assert_eq!(mailgun_raw(&app, &original).await.status, 200);
    let after_original = snapshot(&app, &a).await;
    assert_eq!(message(&app, &a, m).await["status"], "delivered");
    assert_eq!(data(&app, &a, "/v1/webhook-deliveries").await.len(), 1);
    // ...but its captured signature carrying other event data is a replay: refused.
    for forged in other_event_data(t, m, other) {
        let body = mailgun_body(TEST_MAILGUN_SIGNING_KEY, now, &token, &forged);
        let r = mailgun_raw(&app, &body).await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.json["error"], "invalid_signature");
        assert!(r.header("www-authenticate").is_none(), "a replay");
    }
    assert_eq!(snapshot(&app, &a).await, after_original, "nothing written");

    // Signed, but event-data unusable: 406 (which Mailgun does not retry), nothing written.
    for bad in [json!("delivered"), json!(null), json!([1])] {
        let body = mailgun_body(TEST_MAILGUN_SIGNING_KEY, unix_now(), &unique("tok"), &bad);
        let r = mailgun_raw(&app, &body).await;
        assert_eq!(r.status, 406, "{}", r.text);
        assert_eq!(r.json["error"], "invalid_payload");
    }
    assert_eq!(snapshot(&app, &a).await, after_original);
}

/// Event data a captured signature of `ours("delivered", t, m)` could be replayed with: another
/// message's failure, the same message opened.
fn other_event_data(t: i64, m: &str, other: &str) -> [Value; 2] {
    let failed = mg(
        "failed",
        &unique("mg"),
        t,
        Some(other),
        None,
        json!({"severity": "permanent"}),
    );
    [failed, ours("opened", t + 1, m)]
}

/// How many rows `palisade_platform.mailgun_tokens` holds for `token` (read as the app role,
/// which may read that table).
async fn stored_tokens(app: &TestApp, token: &str) -> i64 {
    app.db
        .app_client()
        .await
        .query_one(
            "SELECT count(*) FROM palisade_platform.mailgun_tokens WHERE token = $1",
            &[&token],
        )
        .await
        .unwrap()
        .get(0)
}

#[actix_web::test]
async fn a_mailgun_token_is_good_for_one_body_on_every_instance_and_after_a_restart() {
    let first = spawn_app().await;
    let second = first.spawn_instance().await;
    let a = first.signup("Sender").await;
    let (_, msgs) = campaign(&first, &a, 2).await;
    let (m, other) = (id(&msgs[0]), id(&msgs[1]));
    let t = base_time();
    let now = unix_now();
    let token = unique("tok");
    let original = mailgun_body(
        TEST_MAILGUN_SIGNING_KEY,
        now,
        &token,
        &ours("delivered", t, m),
    );
    let forgeries: Vec<Vec<u8>> = other_event_data(t, m, other)
        .iter()
        .map(|e| mailgun_body(TEST_MAILGUN_SIGNING_KEY, now, &token, e))
        .collect();

    assert_eq!(mailgun_raw(&first, &original).await.status, 200);
    assert_eq!(stored_tokens(&first, &token).await, 1);
    let applied = snapshot(&first, &a).await;
    assert_eq!(message(&first, &a, m).await["status"], "delivered");
    assert_eq!(data(&first, &a, "/v1/webhook-deliveries").await.len(), 1);

    // The captured signature with other event data, sent to another instance: refused there
    // too. Mailgun's retry of the original reaching that instance is still a retry.
    for forged in &forgeries {
        let r = mailgun_raw(&second, forged).await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.json["error"], "invalid_signature");
    }
    assert_eq!(mailgun_raw(&second, &original).await.status, 200);
    assert_eq!(
        snapshot(&second, &a).await,
        applied,
        "nothing applied twice"
    );

    // Every instance stops; one starts again over the same database: still refused.
    let db = Arc::clone(&first.db);
    drop(first);
    drop(second);
    let restarted = spawn_app_on(db).await;
    for forged in &forgeries {
        let r = mailgun_raw(&restarted, forged).await;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    assert_eq!(mailgun_raw(&restarted, &original).await.status, 200);
    assert_eq!(
        snapshot(&restarted, &a).await,
        applied,
        "nothing applied twice"
    );
    assert_eq!(stored_tokens(&restarted, &token).await, 1);
}

#[actix_web::test]
async fn concurrent_first_uses_of_one_mailgun_token_with_different_bodies_admit_exactly_one() {
    let app = spawn_app_with_pool(8).await;
    let a = app.signup("Sender").await;
    let (_, msgs) = campaign(&app, &a, 5).await;
    let t = base_time();
    for round in 0..3 {
        let (token, now) = (unique("tok"), unix_now());
        let events: Vec<(String, Vec<u8>)> = msgs
            .iter()
            .map(|m| {
                let event_id = unique("mg");
                let e = mg(
                    "clicked",
                    &event_id,
                    t + round,
                    Some(id(m)),
                    None,
                    json!({}),
                );
                let body = mailgun_body(TEST_MAILGUN_SIGNING_KEY, now, &token, &e);
                (event_id, body)
            })
            .collect();
        let answers = join_all(events.iter().map(|(_, body)| mailgun_raw(&app, body))).await;
        let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 401),
            "{statuses:?}"
        );
        let winner = statuses.iter().position(|s| *s == 200).unwrap();
        // Only the winner's event was applied; it stays the token's one body.
        for (i, (event_id, body)) in events.iter().enumerate() {
            let recorded = outcome(&app, &a, event_id).await;
            assert_eq!(recorded.is_some(), i == winner, "round {round}, event {i}");
            let again = mailgun_raw(&app, body).await.status;
            assert_eq!(again, if i == winner { 200 } else { 401 }, "round {round}");
        }
    }
    assert_eq!(data(&app, &a, "/v1/webhook-deliveries").await.len(), 3);
    assert_eq!(data(&app, &a, "/v1/analytics/events").await.len(), 3);
}

/// The race of two first uses, made deterministic: another connection has inserted the token
/// and not yet committed, so the admitting statement waits on it, and the row it conflicts with
/// is not in that statement's snapshot once committed. It must judge by that row's body anyway
/// (the same body is a retry, another a replay), and admit when the other one rolls back.
#[actix_web::test]
async fn admitting_a_token_waits_for_a_concurrent_first_use_and_judges_by_its_body() {
    use palisade_db::webhooks::admit_mailgun_token;
    let app = spawn_app().await;
    let (mine, theirs) = ([1u8; 32], [2u8; 32]);
    for (their_digest, commit, expected) in [
        (mine, true, true),
        (theirs, true, false),
        (theirs, false, true),
    ] {
        let token = unique("tok");
        let other = app.db.app_client().await;
        other.batch_execute("BEGIN").await.unwrap();
        other
            .execute(
                "INSERT INTO palisade_platform.mailgun_tokens (token, body_sha256) VALUES ($1, $2)",
                &[&token, &their_digest.as_slice()],
            )
            .await
            .unwrap();
        let pool = app.pool.clone();
        let tok = token.clone();
        let admitting =
            actix_web::rt::spawn(async move { admit_mailgun_token(&pool, &tok, &mine).await });
        // Until the admitting statement waits on the other transaction's row.
        app.until_a_statement_waits_on_a_lock().await;
        other
            .batch_execute(if commit { "COMMIT" } else { "ROLLBACK" })
            .await
            .unwrap();
        let admitted = admitting.await.unwrap().unwrap();
        assert_eq!(
            admitted, expected,
            "their digest {:?}, commit {commit}",
            their_digest[0]
        );
        assert_eq!(stored_tokens(&app, &token).await, 1);
    }
}

#[actix_web::test]
async fn expired_mailgun_tokens_are_forgotten_and_fresh_ones_are_not() {
    let (app, a) = spawn_app_with_owner("Sender").await;
    let (_, msgs) = campaign(&app, &a, 1).await;
    let su = app.db.superuser_client().await;
    // Accepted eleven minutes ago (past the ten of twice the signature tolerance), and five.
    let (expired, recent) = (unique("expired"), unique("recent"));
    for (token, age) in [
        (format!("{expired}-1"), 660),
        (format!("{expired}-2"), 601),
        (recent.clone(), 300),
    ] {
        su.execute(
            "INSERT INTO palisade_platform.mailgun_tokens (token, body_sha256, accepted_at) \
             VALUES ($1, sha256('x'), now() - make_interval(secs => $2))",
            &[&token, &f64::from(age)],
        )
        .await
        .unwrap();
    }
    let r = mailgun(&app, &ours("delivered", base_time(), id(&msgs[0]))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(stored_tokens(&app, &format!("{expired}-1")).await, 0);
    assert_eq!(stored_tokens(&app, &format!("{expired}-2")).await, 0);
    assert_eq!(stored_tokens(&app, &recent).await, 1);

    // The app role itself cannot forget a token that could still verify, nor change one; it
    // gets nothing on the Stripe table beside it.
    let c = app.db.app_client().await;
    let deleted = c
        .execute("DELETE FROM palisade_platform.mailgun_tokens", &[])
        .await
        .unwrap();
    assert_eq!(deleted, 0);
    assert_eq!(stored_tokens(&app, &recent).await, 1);
    for sql in [
        "UPDATE palisade_platform.mailgun_tokens SET body_sha256 = sha256('y')",
        "TRUNCATE palisade_platform.mailgun_tokens",
        "SELECT count(*) FROM palisade_platform.stripe_events",
        "CREATE TABLE palisade_platform.sneaky (x int)",
    ] {
        let err = c.execute(sql, &[]).await.unwrap_err();
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {err:?}"
        );
    }
}

#[actix_web::test]
async fn a_database_error_while_admitting_a_mailgun_token_answers_5xx_and_admits_nothing() {
    let (app, a) = spawn_app_with_owner("Sender").await;
    let (_, msgs) = campaign(&app, &a, 1).await;
    let before = snapshot(&app, &a).await;
    // As a DBA could by mistake: the app role loses its privileges on the token table (in this
    // test's database only).
    app.db
        .superuser_client()
        .await
        .batch_execute("REVOKE ALL ON palisade_platform.mailgun_tokens FROM palisade_app")
        .await
        .unwrap();
    let r = mailgun(&app, &ours("delivered", base_time(), id(&msgs[0]))).await;
    assert_eq!(r.status, 500, "{}", r.text);
    assert_eq!(r.json["error"], "internal_error");
    assert_eq!(snapshot(&app, &a).await, before, "nothing written");
}

// ---------------------------------------------------------------------------------------------
// Routing.

#[actix_web::test]
async fn an_event_changes_only_its_own_organization() {
    let (app, a) = spawn_app_with_owner("Sender A").await;
    let b = app.signup("Sender B").await;
    let (_, a_msgs) = campaign(&app, &a, 4).await;
    let (_, b_msgs) = campaign(&app, &b, 1).await;
    let (a1, a2, a3, a4) = (
        id(&a_msgs[0]),
        id(&a_msgs[1]),
        id(&a_msgs[2]),
        id(&a_msgs[3]),
    );
    let b1 = id(&b_msgs[0]);
    // The same provider id in both organizations (unique per organization only).
    set_provider_id(&app, &a, a1, "SHAREDID").await;
    set_provider_id(&app, &b, b1, "SHAREDID").await;
    set_provider_id(&app, &a, a2, "ONLYINA").await;
    let b_before = snapshot(&app, &b).await;
    let b_message = message(&app, &b, b1).await.to_string();
    let t = base_time();

    // Our id routes it, even with the shared provider id.
    let r = sendgrid(
        &app,
        &json!([sg(
            "delivered",
            &unique("sg"),
            t,
            Some(a1),
            Some("SHAREDID")
        )]),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(message(&app, &a, a1).await["status"], "delivered");
    let a_after = snapshot(&app, &a).await;

    // Nobody can take these: 200, nothing written anywhere.
    let unroutable = [
        // The shared provider id without our id: two organizations hold it.
        sg("bounce", &unique("sg"), t, None, Some("SHAREDID")),
        // Our id of B's message with a provider id that is not its own.
        sg("bounce", &unique("sg"), t, Some(b1), Some("ONLYINA")),
        // An id nobody has, with or without a provider id.
        sg(
            "open",
            &unique("sg"),
            t,
            Some(&Uuid::now_v7().to_string()),
            None,
        ),
        sg("open", &unique("sg"), t, None, Some("NOBODYHASIT")),
        // Neither id.
        sg("open", &unique("sg"), t, None, None),
    ];
    let r = sendgrid(&app, &json!(unroutable)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = mailgun(
        &app,
        &mg(
            "failed",
            &unique("mg"),
            t,
            None,
            Some("SHAREDID"),
            json!({"severity": "permanent"}),
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(snapshot(&app, &a).await, a_after);
    assert_eq!(snapshot(&app, &b).await, b_before);

    // A provider id only A holds routes without our id.
    let r = mailgun(
        &app,
        &mg("opened", &unique("mg"), t, None, Some("ONLYINA"), json!({})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(message(&app, &a, a2).await["status"], "opened");

    // The first event carrying a provider id gives it to the message that has none; unless
    // another message of the organization holds it already (then the message keeps none, and
    // the event still applies).
    let r = sendgrid(
        &app,
        &json!([
            sg("processed", &unique("sg"), t, Some(a3), Some("NEWID")),
            sg("processed", &unique("sg"), t, Some(a4), Some("ONLYINA")),
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = message(&app, &a, a3).await;
    assert_eq!(
        (got["status"].as_str(), got["provider_message_id"].as_str()),
        (Some("sent"), Some("NEWID"))
    );
    let got = message(&app, &a, a4).await;
    assert_eq!(
        (got["status"].as_str(), &got["provider_message_id"]),
        (Some("sent"), &Value::Null)
    );

    // B saw none of it.
    assert_eq!(snapshot(&app, &b).await, b_before);
    assert_eq!(message(&app, &b, b1).await.to_string(), b_message);
    let r = app.get(&b, &format!("/v1/email-messages/{a1}")).await;
    assert_eq!(r.status, 404);
}

/// The first event with a provider id while another transaction gives that id to another
/// message of the organization and has not committed yet (another event, or the sender): the
/// event's write waits on the unique key for it, and once it commits the message keeps none
/// and the event still applies, for both providers: 200, recorded, counted, nothing skipped.
#[actix_web::test]
async fn adopting_a_provider_id_another_message_takes_at_the_same_moment_keeps_none() {
    let (app, a) = spawn_app_with_owner("Sender").await;
    let (c, msgs) = campaign(&app, &a, 4).await;
    let t = base_time();
    let su = app.db.superuser_client().await;
    for (provider, (holder, adopter)) in ["sendgrid", "mailgun"]
        .into_iter()
        .zip([(id(&msgs[0]), id(&msgs[1])), (id(&msgs[2]), id(&msgs[3]))])
    {
        let (taken, event_id) = (unique("TAKEN"), unique("ev"));
        su.batch_execute("BEGIN").await.unwrap();
        su.execute(
            "UPDATE palisade.email_messages SET provider_message_id = $2 WHERE id = $1",
            &[&Uuid::parse_str(holder).unwrap(), &taken],
        )
        .await
        .unwrap();
        let post = async {
            if provider == "sendgrid" {
                let e = sg("processed", &event_id, t, Some(adopter), Some(&taken));
                sendgrid(&app, &json!([e])).await
            } else {
                let e = mg(
                    "accepted",
                    &event_id,
                    t,
                    Some(adopter),
                    Some(&taken),
                    json!({}),
                );
                mailgun(&app, &e).await
            }
        };
        let commit = async {
            // Until the event's write waits on the uncommitted holder's unique key entry.
            app.until_a_statement_waits_on_a_lock().await;
            su.batch_execute("COMMIT").await.unwrap();
        };
        let (r, ()) = tokio::join!(post, commit);
        assert_eq!(r.status, 200, "{provider}: {}", r.text);
        let got = message(&app, &a, adopter).await;
        assert_eq!(
            (got["status"].as_str(), &got["provider_message_id"]),
            (Some("sent"), &Value::Null),
            "{provider}"
        );
        let held = message(&app, &a, holder).await;
        assert_eq!(held["provider_message_id"].as_str(), Some(taken.as_str()));
        assert_eq!(
            outcome(&app, &a, &event_id).await.as_deref(),
            Some("applied"),
            "{provider}"
        );
        assert_eq!(analytics_of(&app, &a, "email.sent", adopter).await.len(), 1);
    }
    assert_eq!(
        campaign_counts(&app, &a, id(&c)).await,
        counts(2, 0, 0, 0, 0, 0)
    );
}

/// Control characters and whitespace in an event's ids (webhooks.md, "Malformed but signed
/// deliveries"): an event id holding a control character skips the event; our message id and
/// the provider's are read without surrounding whitespace, and one still holding a control
/// character is ignored, so the event is routed by the other id, or skipped when neither is
/// left.
#[actix_web::test]
async fn an_id_with_control_characters_is_ignored_and_an_event_id_with_them_skips_the_event() {
    let (app, a) = spawn_app_with_owner("Sender").await;
    let (_, msgs) = campaign(&app, &a, 4).await;
    let m: Vec<&str> = msgs.iter().map(id).collect();
    set_provider_id(&app, &a, m[1], "HELD1").await;
    let t = base_time();
    let with_control = |s: &str| format!("{}\u{1}{}", &s[..8], &s[8..]);
    let ev: Vec<String> = (0..5).map(|_| unique("sg")).collect();
    let mut bad_provider = sg("processed", &ev[2], t, Some(m[2]), None);
    bad_provider["sg_message_id"] = json!("BAD\u{1}ID.filterdrecv-1");
    let batch = json!([
        // Our id with a trailing newline: read without it.
        sg("processed", &ev[0], t, Some(&format!("{}\n", m[0])), None),
        // Our id with a control character inside: ignored, routed by the provider id.
        sg(
            "processed",
            &ev[1],
            t,
            Some(&with_control(m[1])),
            Some("HELD1")
        ),
        // The provider id with one: ignored (not adopted), routed by our id.
        bad_provider,
        // The event id with one: skipped.
        sg("delivered", &format!("{}\u{1}", ev[3]), t, Some(m[2]), None),
        // Both message ids unusable: skipped.
        sg(
            "delivered",
            &ev[4],
            t,
            Some(&with_control(m[2])),
            Some("NO\u{7f}")
        ),
    ]);
    let r = sendgrid(&app, &batch).await;
    assert_eq!(r.status, 200, "{}", r.text);
    for (i, status, provider_id) in [
        (0, "sent", Value::Null),
        (1, "sent", json!("HELD1")),
        (2, "sent", Value::Null),
    ] {
        let got = message(&app, &a, m[i]).await;
        assert_eq!(
            (got["status"].as_str(), &got["provider_message_id"]),
            (Some(status), &provider_id),
            "message {i}"
        );
        assert_eq!(outcome(&app, &a, &ev[i]).await.as_deref(), Some("applied"));
    }
    assert_eq!(data(&app, &a, "/v1/webhook-deliveries").await.len(), 3);

    // Mailgun alike: our id padded with whitespace, the provider id with a control character.
    let e = mg(
        "accepted",
        &unique("mg"),
        t,
        Some(&format!(" {}\r\n", m[3])),
        Some("X\u{1}Y"),
        json!({}),
    );
    let r = mailgun(&app, &e).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = message(&app, &a, m[3]).await;
    assert_eq!(
        (got["status"].as_str(), &got["provider_message_id"]),
        (Some("sent"), &Value::Null)
    );
    let mut e = mg("delivered", &unique("mg"), t, Some(m[3]), None, json!({}));
    e["id"] = json!("mg\u{1}");
    let r = mailgun(&app, &e).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(message(&app, &a, m[3]).await["status"], "sent");
    assert_eq!(data(&app, &a, "/v1/webhook-deliveries").await.len(), 4);
}

#[actix_web::test]
async fn a_mixed_batch_lands_in_each_organization_and_never_bypasses_rls() {
    let (app, a) = spawn_app_with_owner("Sender A").await;
    let b = app.signup("Sender B").await;
    let (ca, a_msgs) = campaign(&app, &a, 1).await;
    let (cb, b_msgs) = campaign(&app, &b, 1).await;
    let (a1, b1) = (id(&a_msgs[0]), id(&b_msgs[0]));
    let t = base_time();
    let (ea1, eb1, ea2, eb2) = (unique("sg"), unique("sg"), unique("sg"), unique("sg"));
    let r = sendgrid(
        &app,
        &json!([
            sg("delivered", &ea1, t, Some(a1), None),
            sg("delivered", &eb1, t + 1, Some(b1), None),
            // No sg_event_id: cannot be deduplicated, skipped.
            {"event": "open", "timestamp": t, "palisade_message_id": a1},
            "not an event",
            sg("account_status_change", &unique("sg"), t, Some(a1), None),
            sg("open", &ea2, t + 10, Some(a1), None),
            sg("click", &eb2, t + 20, Some(b1), None),
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);

    assert_eq!(message(&app, &a, a1).await["status"], "opened");
    assert_eq!(message(&app, &b, b1).await["status"], "clicked");
    assert_eq!(
        campaign_counts(&app, &a, id(&ca)).await,
        counts(0, 1, 1, 0, 0, 0)
    );
    assert_eq!(
        campaign_counts(&app, &b, id(&cb)).await,
        counts(0, 1, 0, 1, 0, 0)
    );
    let keys = |ds: Vec<Value>| {
        let mut k: Vec<String> = ds
            .iter()
            .map(|d| d["event_key"].as_str().unwrap().to_owned())
            .collect();
        k.sort();
        k
    };
    let mut want_a = vec![ea1.clone(), ea2.clone()];
    want_a.sort();
    let mut want_b = vec![eb1.clone(), eb2.clone()];
    want_b.sort();
    assert_eq!(keys(data(&app, &a, "/v1/webhook-deliveries").await), want_a);
    assert_eq!(keys(data(&app, &b, "/v1/webhook-deliveries").await), want_b);
    assert_eq!(data(&app, &a, "/v1/analytics/events").await.len(), 2);
    assert_eq!(data(&app, &b, "/v1/analytics/events").await.len(), 2);
    assert!(
        analytics_of(&app, &b, "email.delivered", a1)
            .await
            .is_empty()
    );

    // Every connection the server holds: the app role, which cannot bypass RLS.
    app.assert_connections_are_the_app_role("an email webhook")
        .await;
}

// ---------------------------------------------------------------------------------------------
// Idempotency.

/// Asserts that `event_key` had exactly one effect on `message_id`: one delivery record, one
/// analytics event of `event_type`.
async fn once(app: &TestApp, acct: &Account, event_key: &str, event_type: &str, message_id: &str) {
    let recorded: Vec<Value> = data(app, acct, "/v1/webhook-deliveries?limit=100")
        .await
        .into_iter()
        .filter(|d| d["event_key"] == event_key)
        .collect();
    assert_eq!(recorded.len(), 1, "{event_key}");
    assert_eq!(recorded[0]["outcome"], "applied");
    assert_eq!(
        analytics_of(app, acct, event_type, message_id).await.len(),
        1,
        "{event_type}"
    );
}

#[actix_web::test]
async fn the_same_sendgrid_event_five_times_in_a_row_and_five_at_once_has_one_effect() {
    let app = spawn_app_with_pool(8).await;
    let a = app.signup("Sender").await;
    let (c, msgs) = campaign(&app, &a, 2).await;
    let (m1, m2) = (id(&msgs[0]), id(&msgs[1]));
    let t = base_time();
    let signer = sendgrid_test_signer();

    let e1 = unique("sg");
    let body = json!([sg("delivered", &e1, t, Some(m1), None)]).to_string();
    for _ in 0..5 {
        // A retry is a new POST: a new timestamp and signature, the same event.
        let r = sendgrid_signed(&app, &signer, unix_now(), body.as_bytes()).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    once(&app, &a, &e1, "email.delivered", m1).await;

    let e2 = unique("sg");
    let body = json!([sg("open", &e2, t, Some(m2), None)]).to_string();
    let now = unix_now();
    let answers =
        join_all((0..5).map(|_| sendgrid_signed(&app, &signer, now, body.as_bytes()))).await;
    palisade_test_support::assert_all_ok(&answers);
    once(&app, &a, &e2, "email.opened", m2).await;
    assert_eq!(message(&app, &a, m2).await["status"], "opened");
    assert_eq!(
        campaign_counts(&app, &a, id(&c)).await,
        counts(0, 1, 1, 0, 0, 0)
    );
    assert_eq!(data(&app, &a, "/v1/webhook-deliveries").await.len(), 2);
    assert_eq!(data(&app, &a, "/v1/analytics/events").await.len(), 2);
}

#[actix_web::test]
async fn the_same_mailgun_event_five_times_in_a_row_and_five_at_once_has_one_effect() {
    let app = spawn_app_with_pool(8).await;
    let a = app.signup("Sender").await;
    let (c, msgs) = campaign(&app, &a, 2).await;
    let (m1, m2) = (id(&msgs[0]), id(&msgs[1]));
    let t = base_time();

    let e1 = unique("mg");
    let event = mg("clicked", &e1, t, Some(m1), None, json!({}));
    for _ in 0..5 {
        let r = mailgun(&app, &event).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    once(&app, &a, &e1, "email.clicked", m1).await;

    // Five at once, byte for byte the same request (same token): one effect.
    let e2 = unique("mg");
    let body = mailgun_body(
        TEST_MAILGUN_SIGNING_KEY,
        unix_now(),
        &unique("tok"),
        &mg("delivered", &e2, t, Some(m2), None, json!({})),
    );
    let answers = join_all((0..5).map(|_| mailgun_raw(&app, &body))).await;
    palisade_test_support::assert_all_ok(&answers);
    once(&app, &a, &e2, "email.delivered", m2).await;
    assert_eq!(
        campaign_counts(&app, &a, id(&c)).await,
        counts(0, 1, 0, 1, 0, 0)
    );
    assert_eq!(data(&app, &a, "/v1/webhook-deliveries").await.len(), 2);
    assert_eq!(data(&app, &a, "/v1/analytics/events").await.len(), 2);
}

/// A SendGrid event the database refuses for good (here the app role lost INSERT on the
/// deliveries table, in this test's database) is skipped, and its error line names its
/// organization and its message (a batch's request line names no organization), never more.
#[actix_web::test]
async fn a_skipped_sendgrid_event_is_logged_with_its_organization_and_message() {
    let (app, a) = spawn_app_with_owner("Sender").await;
    let (_, msgs) = campaign(&app, &a, 1).await;
    let m = id(&msgs[0]);
    app.db
        .superuser_client()
        .await
        .batch_execute("REVOKE INSERT ON palisade.webhook_deliveries FROM palisade_app")
        .await
        .unwrap();
    let r = sendgrid(
        &app,
        &json!([sg(
            "delivered",
            &unique("sg"),
            base_time(),
            Some(m),
            Some("SKIPPED1")
        )]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let lines = palisade_test_support::logs::of(&r);
    let skipped: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("email event not applied"))
        .collect();
    assert_eq!(skipped.len(), 1, "{lines:#?}");
    for field in [
        format!("org.id={}", a.org_id),
        format!("message_id={m}"),
        "provider_message_id=\"SKIPPED1".to_owned(),
    ] {
        assert!(skipped[0].contains(&field), "{field}: {}", skipped[0]);
    }
}
