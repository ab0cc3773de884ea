//! `POST /webhooks/twilio/sms` (inbound SMS), and the webhook rules every carrier and email
//! route shares: signature first, routing by a resolver, idempotent recording, and never the
//! billing role.

use futures_util::future::join_all;
use palisade_test_support::{
    Account, TEST_PUBLIC_BASE_URL, TEST_TWILIO_AUTH_TOKEN, TestApp, spawn_app_with_owner,
    unique_number,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::isolation::Seeded;

/// A fresh Twilio-style SID with `prefix` (`SM`, `CA`...).
pub fn unique_sid(prefix: &str) -> String {
    format!("{prefix}{}", Uuid::new_v4().simple())
}

fn inbound<'a>(sid: &'a str, from: &'a str, to: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("MessageSid", sid),
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("From", from),
        ("To", to),
        ("Body", body),
        ("NumMedia", "0"),
    ]
}

async fn data(app: &TestApp, acct: &Account, path: &str) -> Vec<Value> {
    let r = app.get(&acct, path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    r.json["data"].as_array().unwrap().clone()
}

/// Seeds an inbound SMS (so an `sms_messages` row and a `webhook_deliveries` row) for the
/// isolation tests.
pub async fn seed(app: &TestApp, acct: &Account, marker: &str) -> Seeded {
    let number = app.claim_number(acct, &["sms"]).await;
    let sid = unique_sid("SM");
    let body = format!("{marker} inbound");
    let r = app
        .twilio(
            "/webhooks/twilio/sms",
            &inbound(&sid, "+14155550100", &number, &body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    Seeded {
        items: Vec::new(),
        views: vec![
            "/v1/webhook-deliveries".into(),
            "/v1/webhook-deliveries?provider=twilio&kind=sms.inbound".into(),
            "/v1/sms-messages?direction=inbound".into(),
        ],
    }
}

#[actix_web::test]
async fn an_inbound_sms_lands_in_the_numbers_organization_and_nowhere_else() {
    let (app, a) = spawn_app_with_owner("Carrier A").await;
    let b = app.signup("Carrier B").await;
    let a_number = app.claim_number(&a, &["sms", "voice"]).await;
    app.claim_number(&b, &["sms"]).await;
    let customer = app
        .create_customer(&a, json!({"name": "Ada", "phone": "+14155550123"}))
        .await;

    let sid = unique_sid("SM");
    let r = app
        .twilio(
            "/webhooks/twilio/sms",
            &inbound(&sid, "+14155550123", &a_number, "Hello there"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.header("content-type").unwrap().starts_with("text/xml"));
    assert!(r.text.contains("<Response/>"));

    let msgs = data(&app, &a, "/v1/sms-messages?direction=inbound").await;
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m["body"], "Hello there");
    assert_eq!(m["from_number"], "+14155550123");
    assert_eq!(m["to_number"], a_number);
    assert_eq!(m["status"], "received");
    assert_eq!(
        m["customer_id"], customer["id"],
        "linked to the sender's customer"
    );
    let deliveries = data(&app, &a, "/v1/webhook-deliveries").await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0]["provider"], "twilio");
    assert_eq!(deliveries[0]["kind"], "sms.inbound");
    assert_eq!(deliveries[0]["event_key"], sid.as_str());
    assert_eq!(deliveries[0]["outcome"], "applied");
    assert_eq!(deliveries[0]["subject_id"], m["id"]);

    assert!(data(&app, &b, "/v1/sms-messages").await.is_empty());
    assert!(data(&app, &b, "/v1/webhook-deliveries").await.is_empty());
    let r = app
        .get(
            &b,
            &format!("/v1/sms-messages/{}", m["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(r.status, 404);
}

/// A customer deleted while an inbound SMS is stored is not linked to it: the next oldest customer
/// with the sender's phone is, or none. The delete here has run but not committed when the SMS
/// arrives, and commits while the SMS waits for it. The customer is read without a lock (see
/// `customer_by_phone!`), so it is still found, and the insert's foreign key check fails once the
/// delete commits (23503): the delivery's transaction runs again and links the next oldest (before
/// stop 64 it answered 500, and the message was lost if Twilio gave up).
#[actix_web::test]
async fn a_customer_deleted_meanwhile_is_not_linked_to_an_inbound_sms() {
    let (app, a) = spawn_app_with_owner("Carrier A").await;
    let number = app.claim_number(&a, &["sms"]).await;
    let phone = "+14155550123";
    let oldest = app
        .create_customer(&a, json!({"name": "Ada", "phone": phone}))
        .await;
    let next = app
        .create_customer(&a, json!({"name": "Bea", "phone": phone}))
        .await;
    let su = app.db.superuser_client().await;
    for (deleted, linked, body) in [
        (&oldest, next["id"].clone(), "first"),
        (&next, Value::Null, "second"),
    ] {
        let id: Uuid = deleted["id"].as_str().unwrap().parse().unwrap();
        su.batch_execute("BEGIN").await.unwrap();
        su.execute("DELETE FROM palisade.customers WHERE id = $1", &[&id])
            .await
            .unwrap();
        let sid = unique_sid("SM");
        let params = inbound(&sid, phone, &number, body);
        let commit = async {
            app.db.until_one_session_waits_on_a_lock().await;
            su.batch_execute("COMMIT").await.unwrap();
        };
        let (r, ()) = tokio::join!(app.twilio("/webhooks/twilio/sms", &params), commit);
        assert_eq!(r.status, 200, "{body}: {}", r.text);
        assert!(r.text.contains("<Response/>"), "{}", r.text);
        let msgs = data(&app, &a, "/v1/sms-messages?direction=inbound").await;
        let m = msgs.iter().find(|m| m["body"] == body).unwrap();
        assert_eq!(m["customer_id"], linked, "{body}");
    }
}

#[actix_web::test]
async fn unsigned_tampered_or_misaddressed_deliveries_are_refused_and_write_nothing() {
    let (app, a) = spawn_app_with_owner("Carrier").await;
    let number = app.claim_number(&a, &["sms"]).await;
    let sid = unique_sid("SM");
    let params = inbound(&sid, "+14155550100", &number, "hi");
    let path = "/webhooks/twilio/sms";
    let url = format!("{TEST_PUBLIC_BASE_URL}{path}");

    // Wrong auth token.
    let r = app
        .twilio_signed_as(path, &params, "ffffffffffffffffffffffffffffffff", &url)
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.json["error"], "invalid_signature");
    // Signed for another URL (query added), or for the address the test actually connects to
    // (what a server trusting the Host header would rebuild).
    let r = app
        .twilio_signed_as(path, &params, TEST_TWILIO_AUTH_TOKEN, &format!("{url}?x=1"))
        .await;
    assert_eq!(r.status, 401);
    let r = app
        .twilio_signed_as(
            path,
            &params,
            TEST_TWILIO_AUTH_TOKEN,
            &format!("http://{}{path}", app.addr),
        )
        .await;
    assert_eq!(r.status, 401);
    // Signed query, but sent to another query.
    let r = app
        .twilio_signed_as(
            &format!("{path}?x=2"),
            &params,
            TEST_TWILIO_AUTH_TOKEN,
            &format!("{url}?x=1"),
        )
        .await;
    assert_eq!(r.status, 401);
    // Tampered body: signed over one text, sent with another.
    let signature = palisade_api::webhooks::signature::sign_twilio(
        TEST_TWILIO_AUTH_TOKEN,
        &url,
        &params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>(),
    );
    let tampered = form(&inbound(&sid, "+14155550100", &number, "hi, with more"));
    for headers in [
        vec![("X-Twilio-Signature", signature.clone())],
        vec![],
        vec![("X-Twilio-Signature", "not base64!".to_owned())],
    ] {
        let mut headers = headers;
        headers.push((
            "Content-Type",
            "application/x-www-form-urlencoded".to_owned(),
        ));
        let r = palisade_test_support::request(
            &app.addr,
            "POST",
            path,
            &headers,
            Some(tampered.as_bytes()),
        )
        .await;
        assert_eq!(r.status, 401, "{}", r.text);
    }

    assert!(data(&app, &a, "/v1/sms-messages").await.is_empty());
    assert!(data(&app, &a, "/v1/webhook-deliveries").await.is_empty());

    // Twilio's libraries may sign the URL with the scheme's default port: accepted.
    let r = app
        .twilio_signed_as(
            path,
            &params,
            TEST_TWILIO_AUTH_TOKEN,
            "https://palisade.test:443/webhooks/twilio/sms",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(data(&app, &a, "/v1/sms-messages").await.len(), 1);
}

fn form(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.replace('+', "%2B").replace(' ', "+").replace(',', "%2C")
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[actix_web::test]
async fn deliveries_nobody_can_take_are_acknowledged_and_write_nothing() {
    let (app, a) = spawn_app_with_owner("Carrier").await;
    let voice_only = app.claim_number(&a, &["voice"]).await;
    // A number nobody holds, one without the sms capability, a short code.
    for to in [unique_number(), voice_only, "12345".to_owned()] {
        let r = app
            .twilio(
                "/webhooks/twilio/sms",
                &inbound(&unique_sid("SM"), "+14155550100", &to, "hi"),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // A sender that is not a phone number (alphanumeric sender id).
    let number = app.claim_number(&a, &["sms"]).await;
    let r = app
        .twilio(
            "/webhooks/twilio/sms",
            &inbound(&unique_sid("SM"), "ACME", &number, "hi"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(data(&app, &a, "/v1/sms-messages").await.is_empty());
    assert!(data(&app, &a, "/v1/webhook-deliveries").await.is_empty());

    // Validly signed but missing its MessageSid: a 4xx JSON error, nothing written.
    let r = app
        .twilio(
            "/webhooks/twilio/sms",
            &[("From", "+14155550100"), ("To", number.as_str())],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json["error"], "invalid_payload");
    assert!(data(&app, &a, "/v1/sms-messages").await.is_empty());
}

/// A signed inbound SMS whose text holds NUL (`%00`) is kept, each NUL replaced by U+FFFD so
/// the customer's words are not lost; one whose MessageSid is not an id (NUL, a space) is
/// refused with 400 and writes nothing. Neither answers 5xx (NUL once answered 500, SQLSTATE
/// 22021, and Twilio retried it forever).
#[actix_web::test]
async fn nul_in_an_inbound_sms_is_replaced_in_the_text_and_refused_in_the_sid() {
    let (app, a) = spawn_app_with_owner("Carrier").await;
    let number = app.claim_number(&a, &["sms"]).await;
    let sid = unique_sid("SM");
    let r = app
        .twilio(
            "/webhooks/twilio/sms",
            &inbound(&sid, "+14155550100", &number, "call me\u{0} at 5\u{0}"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let stored = data(&app, &a, "/v1/sms-messages").await;
    assert_eq!(
        (stored.len(), &stored[0]["body"], &stored[0]["carrier_sid"]),
        (1, &json!("call me\u{FFFD} at 5\u{FFFD}"), &json!(sid)),
        "{stored:?}"
    );

    for bad_sid in [format!("{}\u{0}", unique_sid("SM")), "SM 1".to_owned()] {
        let r = app
            .twilio(
                "/webhooks/twilio/sms",
                &inbound(&bad_sid, "+14155550100", &number, "hi"),
            )
            .await;
        assert_eq!(
            (r.status, &r.json["error"]),
            (400, &json!("invalid_payload")),
            "{bad_sid:?}: {}",
            r.text
        );
    }
    assert_eq!(data(&app, &a, "/v1/sms-messages").await.len(), 1);
    assert_eq!(data(&app, &a, "/v1/webhook-deliveries").await.len(), 1);
}

#[actix_web::test]
async fn the_same_inbound_sms_five_times_in_a_row_and_five_at_once_is_stored_once() {
    let app = spawn_app_with_pool_for_concurrency().await;
    let a = app.signup("Carrier").await;
    let number = app.claim_number(&a, &["sms"]).await;

    let sid = unique_sid("SM");
    let params = inbound(&sid, "+14155550100", &number, "once");
    for _ in 0..5 {
        assert_eq!(
            app.twilio("/webhooks/twilio/sms", &params).await.status,
            200
        );
    }
    assert_eq!(data(&app, &a, "/v1/sms-messages").await.len(), 1);

    let sid = unique_sid("SM");
    let params = inbound(&sid, "+14155550100", &number, "at once");
    let answers = join_all((0..5).map(|_| app.twilio("/webhooks/twilio/sms", &params))).await;
    palisade_test_support::assert_all_ok(&answers);
    assert_eq!(data(&app, &a, "/v1/sms-messages").await.len(), 2);
    assert_eq!(data(&app, &a, "/v1/webhook-deliveries").await.len(), 2);
}

async fn spawn_app_with_pool_for_concurrency() -> TestApp {
    palisade_test_support::spawn_app_with_pool(8).await
}

#[actix_web::test]
async fn carrier_webhooks_never_open_a_connection_that_bypasses_rls() {
    let (app, a) = spawn_app_with_owner("Carrier").await;
    let number = app.claim_number(&a, &["sms"]).await;
    for _ in 0..3 {
        let r = app
            .twilio(
                "/webhooks/twilio/sms",
                &inbound(&unique_sid("SM"), "+14155550100", &number, "hi"),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    assert_eq!(data(&app, &a, "/v1/sms-messages").await.len(), 3);
    // Every connection the server holds to its database: which roles, and can any bypass RLS?
    app.assert_connections_are_the_app_role("a carrier webhook")
        .await;
}

#[actix_web::test]
async fn while_the_auth_token_is_rotated_both_tokens_sign_and_no_other() {
    const SECONDARY: &str = "5ec0ndary0000000000000000000000a";
    let app = palisade_test_support::spawn_app_configured(|c| {
        c.webhooks.twilio_secondary_auth_token = Some(palisade_domain::Secret::new(SECONDARY));
    })
    .await;
    let a = app.signup("Carrier").await;
    let number = app.claim_number(&a, &["sms"]).await;
    let path = "/webhooks/twilio/sms";
    let url = format!("{TEST_PUBLIC_BASE_URL}{path}");
    // Before Twilio promotes the secondary token it signs with the primary; after, with the
    // former secondary. Both are recorded.
    let mut sids = Vec::new();
    for token in [TEST_TWILIO_AUTH_TOKEN, SECONDARY] {
        let sid = unique_sid("SM");
        let params = inbound(&sid, "+14155550100", &number, "during the rotation");
        let r = app.twilio_signed_as(path, &params, token, &url).await;
        assert_eq!(r.status, 200, "{token}: {}", r.text);
        sids.push(sid);
    }
    assert_eq!(data(&app, &a, "/v1/sms-messages").await.len(), 2);
    let deliveries: Vec<Value> = data(&app, &a, "/v1/webhook-deliveries").await;
    let mut stored_sids: Vec<&str> = deliveries
        .iter()
        .map(|d| d["event_key"].as_str().unwrap())
        .collect();
    stored_sids.sort_unstable();
    sids.sort();
    assert_eq!(stored_sids, sids);
    // A third token is still refused, and writes nothing.
    let sid = unique_sid("SM");
    let params = inbound(&sid, "+14155550100", &number, "forged");
    let r = app
        .twilio_signed_as(path, &params, "ffffffffffffffffffffffffffffffff", &url)
        .await;
    r.assert_error(401, "invalid_signature");
    assert_eq!(data(&app, &a, "/v1/sms-messages").await.len(), 2);
}

/// Posts `len` bytes to a provider route, unsigned.
async fn post_bytes(
    app: &palisade_test_support::TestApp,
    path: &str,
    content_type: &str,
    len: usize,
) -> palisade_test_support::TestResponse {
    let body = vec![b'a'; len];
    palisade_test_support::request(
        &app.addr,
        "POST",
        path,
        &[("Content-Type", content_type.to_owned())],
        Some(&body),
    )
    .await
}

/// A provider delivery over its route's size limit is refused 413 in the JSON error body, like
/// every refusal (the fuzz found a Twilio status callback answered in plain text), before its
/// signature is looked at; so is one that declares more than the limit.
#[actix_web::test]
async fn a_delivery_over_its_size_limit_is_413_in_the_json_error_body() {
    let app = palisade_test_support::spawn_app().await;
    for (path, content_type, limit) in [
        (
            "/webhooks/twilio/sms",
            "application/x-www-form-urlencoded",
            64 * 1024,
        ),
        (
            "/webhooks/twilio/sms/status",
            "application/x-www-form-urlencoded",
            64 * 1024,
        ),
        (
            "/webhooks/twilio/voice/status",
            "application/x-www-form-urlencoded",
            64 * 1024,
        ),
        ("/webhooks/email/mailgun", "application/json", 1024 * 1024),
        ("/webhooks/email/sendgrid", "application/json", 1024 * 1024),
    ] {
        let r = post_bytes(&app, path, content_type, limit + 1).await;
        r.assert_error_at(413, "payload_too_large", path);
        crate::openapi::assert_status_documented(path, &r);
        let r = post_bytes(&app, path, content_type, limit).await;
        assert_ne!(r.status, 413, "{path}: at the limit");
        assert!(r.json["error"].is_string(), "{path}: {}", r.text);
    }
}
