//! Outbound webhook delivery: events written in the transaction of their change, delivered by
//! the worker to real local HTTPS receivers (a test CA; `palisade_test_support::receiver`),
//! signed per Standard Webhooks, retried, disabled after persistent failure, claimed once
//! however many workers run, and each organization's own.

use std::net::IpAddr;
use std::sync::Arc;

use palisade_api::delivery::{DeliveryWorker, RETRY_DELAYS, sign};
use palisade_db::tenant_tx::DELIVERY_WORKER_ROLE as WORKER;
use palisade_test_support::receiver::{Receiver, Reply, TestCa, closed_port, test_worker};
use palisade_test_support::{Account, TestApp, spawn_app_with_owner, spawn_app_with_team};
use serde_json::{Value, json};

/// Registers `url` for `events` as `who`: the webhook (with its one-time `signing_secret`).
async fn register(app: &TestApp, who: &Account, url: &str, events: &[&str]) -> Value {
    app.create(
        who,
        "/v1/webhooks",
        json!({"url": url, "event_types": events}),
    )
    .await
}

fn worker(app: &TestApp, ca: &TestCa, receivers: &[&Receiver]) -> DeliveryWorker {
    test_worker(
        app.pool.clone(),
        Arc::new(app.clock.clone()),
        ca,
        receivers,
        &[],
        true,
    )
}

async fn deliveries(app: &TestApp, who: &Account, webhook: &Value) -> Vec<Value> {
    let page = app
        .get_ok(
            who,
            &format!(
                "/v1/webhooks/{}/deliveries",
                webhook["id"].as_str().unwrap_or_default()
            ),
        )
        .await;
    page["data"].as_array().cloned().unwrap_or_default()
}

async fn new_customer(app: &TestApp, who: &Account, email: &str) -> Value {
    app.create(who, "/v1/customers", json!({"name": "Ada", "email": email}))
        .await
}

#[actix_web::test]
async fn a_change_is_delivered_signed_once_to_each_subscribed_endpoint() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let ca = TestCa::new();
    let (r1, r2, other) = (
        Receiver::start(&ca, Reply::Status(200)).await,
        Receiver::start(&ca, Reply::Status(204)).await,
        Receiver::start(&ca, Reply::Status(200)).await,
    );
    let w1 = register(
        &app,
        &a,
        &r1.url(),
        &["customer.created", "customer.deleted"],
    )
    .await;
    let w2 = register(&app, &a, &r2.url(), &["customer.created"]).await;
    let _w3 = register(&app, &a, &other.url(), &["invoice.paid"]).await;
    let customer = new_customer(&app, &a, "ada@example.com").await;

    let cycle = worker(&app, &ca, &[&r1, &r2, &other])
        .run_once()
        .await
        .expect("cycle");
    assert_eq!((cycle.succeeded, cycle.retrying, cycle.failed), (2, 0, 0));
    assert!(
        other.received().is_empty(),
        "not subscribed to customer.created"
    );
    let (got1, got2) = (r1.received(), r2.received());
    assert_eq!((got1.len(), got2.len()), (1, 1));
    let d1 = deliveries(&app, &a, &w1).await;
    assert_eq!(d1.len(), 1);
    for (got, webhook) in [(&got1[0], &w1), (&got2[0], &w2)] {
        assert_eq!(got.path, "/hook");
        assert_eq!(got.header("content-type"), "application/json");
        let body = got.json();
        assert_eq!(body["type"], "customer.created");
        assert_eq!(body["data"], json!({"id": customer["id"]}));
        assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
        // The same event, so the same webhook-id, at every endpoint.
        assert_eq!(got.header("webhook-id"), got1[0].header("webhook-id"));
        let secret = webhook["signing_secret"].as_str().unwrap_or_default();
        let ts: i64 = got
            .header("webhook-timestamp")
            .parse()
            .expect("a unix timestamp");
        assert_eq!(ts, palisade_domain::Clock::now(&app.clock).unix_timestamp());
        let expected = sign::signature(secret, got.header("webhook-id"), ts, &got.body);
        assert_eq!(
            Some(got.header("webhook-signature")),
            expected.ok().as_deref()
        );
    }
    assert_eq!(d1[0]["event_id"], got1[0].header("webhook-id"));
    assert_eq!(d1[0]["event_type"], "customer.created");
    assert_eq!(d1[0]["status"], "succeeded");
    assert_eq!(d1[0]["attempt_count"], 1);
    assert_eq!(d1[0]["last_response_status"], 200);
    assert!(d1[0]["last_latency_ms"].as_i64().is_some());
    assert_eq!(d1[0]["next_attempt_at"], Value::Null);
    assert_eq!(d1[0]["last_error"], Value::Null);
    write_fixture_for_the_official_library(&got1[0], &w1);

    // Nothing is sent twice.
    let again = worker(&app, &ca, &[&r1, &r2])
        .run_once()
        .await
        .expect("cycle");
    assert_eq!(again.attempts(), 0);

    // customer.updated goes nowhere (nobody subscribes); customer.deleted to w1 only.
    let path = format!(
        "/v1/customers/{}",
        customer["id"].as_str().unwrap_or_default()
    );
    assert_eq!(
        app.patch(&a, &path, &json!({"name": "Ada L."}))
            .await
            .status,
        200
    );
    assert_eq!(app.delete(&a, &path).await.status, 204);
    worker(&app, &ca, &[&r1, &r2])
        .run_once()
        .await
        .expect("cycle");
    let got1 = r1.received();
    assert_eq!(got1.len(), 2);
    assert_eq!(got1[1].json()["type"], "customer.deleted");
    assert_eq!(r2.received().len(), 1);
}

/// With `PALISADE_STANDARD_WEBHOOKS_FIXTURE` set, writes what the receiver got and the secret
/// it holds, for `scripts/verify_standard_webhooks.py` (run by `.ci/run`) to check with the
/// official `standardwebhooks` library.
fn write_fixture_for_the_official_library(
    got: &palisade_test_support::receiver::Received,
    webhook: &Value,
) {
    let Ok(path) = std::env::var("PALISADE_STANDARD_WEBHOOKS_FIXTURE") else {
        return;
    };
    let fixture = json!({
        "secret": webhook["signing_secret"],
        "headers": {
            "webhook-id": got.header("webhook-id"),
            "webhook-timestamp": got.header("webhook-timestamp"),
            "webhook-signature": got.header("webhook-signature"),
        },
        "body": String::from_utf8_lossy(&got.body),
    });
    std::fs::write(path, fixture.to_string()).expect("write the fixture");
}

#[actix_web::test]
async fn a_rolled_back_change_sends_nothing() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let ca = TestCa::new();
    let r = Receiver::start(&ca, Reply::Status(200)).await;
    register(&app, &a, &r.url(), &["customer.created"]).await;
    new_customer(&app, &a, "ada@example.com").await;
    // The same email again: the INSERT (and its trigger's event) is rolled back with the 409.
    let dup = app
        .post(
            &a,
            "/v1/customers",
            &json!({"name": "Ada", "email": "ada@example.com"}),
        )
        .await;
    assert_eq!(dup.status, 409, "{}", dup.text);
    let cycle = worker(&app, &ca, &[&r]).run_once().await.expect("cycle");
    assert_eq!(cycle.succeeded, 1);
    assert_eq!(r.received().len(), 1);
    let c = app.db.app_client().await;
    let events =
        palisade_test_support::sql::count_as(&c, &a.org_id, "owner", "outbound_webhook_events")
            .await;
    assert_eq!(events, 1);
}

#[actix_web::test]
async fn failures_are_retried_for_over_a_day_then_the_endpoint_is_disabled() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let ca = TestCa::new();
    let r = Receiver::start(&ca, Reply::Status(500)).await;
    let w = register(&app, &a, &r.url(), &["customer.created"]).await;
    new_customer(&app, &a, "ada@example.com").await;
    let worker = worker(&app, &ca, &[&r]);

    let first = worker.run_once().await.expect("cycle");
    assert_eq!(first.retrying, 1);
    let d = &deliveries(&app, &a, &w).await[0];
    assert_eq!(d["status"], "pending");
    assert_eq!(d["last_error"], "http_status");
    assert_eq!(d["last_response_status"], 500);
    assert_eq!(d["attempt_count"], 1);
    assert!(d["next_attempt_at"].is_string());
    // Not due before its delay.
    assert_eq!(worker.run_once().await.expect("cycle").attempts(), 0);

    let mut waited = time::Duration::ZERO;
    for (i, delay) in RETRY_DELAYS.iter().enumerate() {
        app.clock.advance(*delay - time::Duration::seconds(1));
        assert_eq!(
            worker.run_once().await.expect("cycle").attempts(),
            0,
            "early, retry {i}"
        );
        app.clock.advance(time::Duration::seconds(1));
        waited += *delay;
        let c = worker.run_once().await.expect("cycle");
        assert_eq!(c.attempts(), 1, "retry {i}");
        if i + 1 < RETRY_DELAYS.len() {
            assert_eq!(c.retrying, 1);
        } else {
            assert_eq!(c.failed, 1);
        }
    }
    assert!(waited > time::Duration::hours(24), "retries span {waited}");
    assert_eq!(r.received().len(), 8);
    // Every attempt carried the same webhook-id.
    let ids: std::collections::HashSet<String> = r
        .received()
        .iter()
        .map(|g| g.header("webhook-id").to_owned())
        .collect();
    assert_eq!(ids.len(), 1);
    let d = &deliveries(&app, &a, &w).await[0];
    assert_eq!(d["status"], "failed");
    assert_eq!(d["attempt_count"], 8);
    assert_eq!(d["next_attempt_at"], Value::Null);
    let path = format!("/v1/webhooks/{}", w["id"].as_str().unwrap_or_default());
    let disabled = app.get_ok(&a, &path).await;
    assert_eq!(disabled["enabled"], false);
    assert_eq!(disabled["disabled_reason"], "delivery_failures");
    assert!(disabled["disabled_at"].is_string());
    // The worker's disabling answers for nothing: the endpoint still names who enabled it.
    assert_eq!(disabled["enabled_by"], json!(a.user_id));

    // A disabled endpoint gets no new deliveries, and no redelivery until enabled.
    new_customer(&app, &a, "bob@example.com").await;
    assert_eq!(deliveries(&app, &a, &w).await.len(), 1);
    let redeliver = format!(
        "{path}/deliveries/{}/redeliver",
        d["id"].as_str().unwrap_or_default()
    );
    app.post(&a, &redeliver, &json!({}))
        .await
        .assert_error(409, "webhook_disabled");

    // Enabled again: the reason is cleared, and a redelivery resends the same event.
    let enabled = app.patch(&a, &path, &json!({"enabled": true})).await;
    assert_eq!(enabled.status, 200, "{}", enabled.text);
    assert_eq!(enabled.json["disabled_reason"], Value::Null);
    assert_eq!(enabled.json["disabled_at"], Value::Null);
    r.reply(Reply::Status(200));
    let queued = app.post(&a, &redeliver, &json!({})).await;
    assert_eq!(queued.status, 202, "{}", queued.text);
    assert_eq!(queued.json["status"], "pending");
    assert_eq!(queued.json["event_id"], d["event_id"]);
    assert_eq!(worker.run_once().await.expect("cycle").succeeded, 1);
    let last = r.received().pop().expect("the redelivery");
    assert!(ids.contains(last.header("webhook-id")));
}

#[actix_web::test]
async fn each_way_a_receiver_can_fail_is_named_and_retried() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let ca = TestCa::new();
    let other_ca = TestCa::new();
    let silent = Receiver::start(&ca, Reply::Silent).await;
    let not_http = Receiver::start(&ca, Reply::NotHttp).await;
    let endless = Receiver::start(&ca, Reply::EndlessHeaders).await;
    let wrong_name = Receiver::start_with_certificate_for(
        &ca,
        Reply::Status(200),
        "hooks-wrong.example.com",
        "someone-else.example.com",
    )
    .await;
    let untrusted = Receiver::start(&other_ca, Reply::Status(200)).await;
    let closed = closed_port().await;
    let cases = [
        (silent.url(), "timeout"),
        (not_http.url(), "protocol"),
        (endless.url(), "response_too_large"),
        (wrong_name.url(), "tls"),
        (untrusted.url(), "tls"),
        (format!("https://{}:{closed}/hook", silent.host), "connect"),
        // A public-looking name that now resolves to a private address (DNS rebinding).
        (
            "https://rebound.example.com/hook".to_owned(),
            "non_public_address",
        ),
        (
            "https://metadata.example.com/hook".to_owned(),
            "non_public_address",
        ),
    ];
    let mut webhooks = Vec::new();
    for (url, _) in &cases {
        webhooks.push(register(&app, &a, url, &["customer.created"]).await);
    }
    new_customer(&app, &a, "ada@example.com").await;
    let worker = test_worker(
        app.pool.clone(),
        Arc::new(app.clock.clone()),
        &ca,
        &[&silent, &not_http, &endless, &wrong_name, &untrusted],
        &[
            ("rebound.example.com", IpAddr::from([10, 0, 0, 5])),
            ("metadata.example.com", IpAddr::from([169, 254, 169, 254])),
        ],
        true,
    );
    let cycle = worker.run_once().await.expect("cycle");
    assert_eq!(cycle.retrying, cases.len());
    for ((url, error), w) in cases.iter().zip(&webhooks) {
        let d = &deliveries(&app, &a, w).await[0];
        assert_eq!(d["last_error"], *error, "{url}");
        assert_eq!(d["status"], "pending", "{url}");
        assert_eq!(d["last_response_status"], Value::Null, "{url}");
    }
    // Without the test build's loopback allowance, a name resolving to 127.0.0.1 is refused
    // at connect time too, whatever was registered.
    let r = Receiver::start(&ca, Reply::Status(200)).await;
    let w = register(&app, &a, &r.url(), &["customer.created"]).await;
    new_customer(&app, &a, "bob@example.com").await;
    let strict = test_worker(
        app.pool.clone(),
        Arc::new(app.clock.clone()),
        &ca,
        &[&r],
        &[],
        false,
    );
    app.clock.advance(time::Duration::hours(1));
    // Cycles (8 of the organization's deliveries each) until none is due.
    for round in 0.. {
        assert!(round < 10, "still attempting after {round} cycles");
        if strict.run_once().await.expect("cycle").attempts() == 0 {
            break;
        }
    }
    let d = &deliveries(&app, &a, &w).await[0];
    assert_eq!(d["last_error"], "non_public_address");
    assert!(r.received().is_empty());
}

#[actix_web::test]
async fn workers_running_side_by_side_send_each_delivery_once() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let ca = TestCa::new();
    let r = Receiver::start(&ca, Reply::Status(200)).await;
    register(&app, &a, &r.url(), &["customer.created"]).await;
    for i in 0..12 {
        new_customer(&app, &a, &format!("c{i}@example.com")).await;
    }
    let (w1, w2, w3) = (
        worker(&app, &ca, &[&r]),
        worker(&app, &ca, &[&r]),
        worker(&app, &ca, &[&r]),
    );
    // A cycle takes up to 8 of an organization's deliveries: side by side, until none is left.
    let mut sent = 0;
    for round in 0.. {
        assert!(round < 12, "still sending after {round} rounds");
        let (c1, c2, c3) = tokio::join!(w1.run_once(), w2.run_once(), w3.run_once());
        let cycles = [c1, c2, c3].map(|c| c.expect("cycle"));
        if cycles.iter().all(|c| c.attempts() == 0) {
            break;
        }
        sent += cycles.iter().map(|c| c.succeeded).sum::<usize>();
    }
    assert_eq!(sent, 12);
    let ids: std::collections::HashSet<String> = r
        .received()
        .iter()
        .map(|g| g.header("webhook-id").to_owned())
        .collect();
    assert_eq!((r.received().len(), ids.len()), (12, 12));
}

#[actix_web::test]
async fn deliveries_are_the_organizations_own() {
    let (app, a, admin, member) = spawn_app_with_team("Acme").await;
    let b = app.signup("Globex").await;
    let ca = TestCa::new();
    let r = Receiver::start(&ca, Reply::Status(500)).await;
    let w = register(&app, &a, &r.url(), &["customer.created"]).await;
    new_customer(&app, &a, "ada@example.com").await;
    worker(&app, &ca, &[&r]).run_once().await.expect("cycle");
    let d = deliveries(&app, &a, &w).await;
    let list = format!(
        "/v1/webhooks/{}/deliveries",
        w["id"].as_str().unwrap_or_default()
    );
    let redeliver = format!(
        "{list}/{}/redeliver",
        d[0]["id"].as_str().unwrap_or_default()
    );
    // Another organization: the webhook and the delivery are missing to it.
    app.get(&b, &list).await.assert_error(404, "not_found");
    app.post(&b, &redeliver, &json!({}))
        .await
        .assert_error(404, "not_found");
    // Every role reads; only owners and admins ask for a redelivery.
    assert_eq!(deliveries(&app, &member, &w).await.len(), 1);
    app.post(&member, &redeliver, &json!({}))
        .await
        .assert_error(403, "forbidden");
    assert_eq!(app.post(&admin, &redeliver, &json!({})).await.status, 202);
    // A delivery of one webhook cannot be redelivered through another.
    let w2 = register(
        &app,
        &a,
        "https://hooks.example.com/other",
        &["customer.created"],
    )
    .await;
    let crossed = format!(
        "/v1/webhooks/{}/deliveries/{}/redeliver",
        w2["id"].as_str().unwrap_or_default(),
        d[0]["id"].as_str().unwrap_or_default()
    );
    app.post(&a, &crossed, &json!({}))
        .await
        .assert_error(404, "not_found");
    // A `webhook_id` filter other than the path's is refused.
    let other = format!(
        "{list}?webhook_id={}",
        w2["id"].as_str().unwrap_or_default()
    );
    assert_eq!(app.get(&a, &other).await.status, 422);
}

#[actix_web::test]
async fn signing_secrets_stay_unreadable_except_for_one_claimed_delivery() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let ca = TestCa::new();
    let r = Receiver::start(&ca, Reply::Status(500)).await;
    register(&app, &a, &r.url(), &["customer.created"]).await;
    new_customer(&app, &a, "ada@example.com").await;
    let c = app.db.app_client().await;
    let delivery: uuid::Uuid = {
        palisade_test_support::sql::begin_as(&c, &a.org_id, "owner").await;
        let row = c
            .query_one("SELECT id FROM palisade.outbound_webhook_deliveries", &[])
            .await
            .expect("the delivery");
        palisade_test_support::sql::rollback(&c).await;
        row.get(0)
    };
    // The context a transaction sets: organization, user, role ("" for none).
    let secret_as = |org: String, user: String, role: &'static str| {
        let c = &c;
        async move {
            c.batch_execute("BEGIN").await.expect("BEGIN");
            c.execute(
                "SELECT set_config('app.current_org', $1, true), set_config('app.current_user', $2, true), \
                        set_config('app.current_role', $3, true)",
                &[&org, &user, &role],
            )
            .await
            .expect("context");
            let s: Option<String> = c
                .query_one(
                    "SELECT palisade_private.outbound_webhook_secret($1)",
                    &[&delivery],
                )
                .await
                .expect("call")
                .get(0);
            c.batch_execute("ROLLBACK").await.expect("ROLLBACK");
            s
        }
    };
    // Not yet claimed: nobody gets it.
    assert_eq!(
        secret_as(a.org_id.clone(), String::new(), WORKER).await,
        None
    );
    // Claimed (leased for an attempt, as the worker does before it sends): a signed-in user's
    // transaction still gets nothing, nor a provider webhook's (no user, no role), nor another
    // organization's; the worker's kind of transaction of its own organization does.
    let due = palisade_db::outbound_delivery::Due {
        org: palisade_domain::OrgId::from_uuid(a.org_id.parse().expect("an org id")),
        delivery_id: delivery,
    };
    let now = palisade_domain::Clock::now(&app.clock);
    let palisade_db::outbound_delivery::Claimed::Attempt(claim) =
        palisade_db::outbound_delivery::claim(&app.pool, due, now, 60.0)
            .await
            .expect("claim")
    else {
        panic!("the delivery is due")
    };
    assert!(claim.secret.expose().starts_with("whsec_"));
    assert_eq!(secret_as(a.org_id.clone(), String::new(), "").await, None);
    assert_eq!(
        secret_as(a.org_id.clone(), a.user_id.clone(), "owner").await,
        None
    );
    assert_eq!(
        secret_as(uuid::Uuid::now_v7().to_string(), String::new(), WORKER).await,
        None
    );
    assert!(
        secret_as(a.org_id.clone(), String::new(), WORKER)
            .await
            .is_some_and(|s| s.starts_with("whsec_"))
    );
    // Leased, it is not due for another worker.
    assert_eq!(
        worker(&app, &ca, &[&r])
            .run_once()
            .await
            .expect("cycle")
            .attempts(),
        0
    );
    // Once the attempt is recorded (a retry is due later), the lease is over: nobody gets it.
    let attempt = palisade_db::outbound_delivery::Attempt {
        response_status: Some(500),
        latency_ms: 1,
        error: Some(palisade_db::outbound_delivery::DeliveryError::HttpStatus),
    };
    let next = palisade_db::outbound_delivery::Next::RetryAt(now + time::Duration::seconds(5));
    palisade_db::outbound_delivery::record(&app.pool, &claim, attempt, next)
        .await
        .expect("record");
    assert_eq!(
        secret_as(a.org_id.clone(), String::new(), WORKER).await,
        None
    );
    // The column itself stays unreadable to the app role.
    palisade_test_support::sql::begin_as(&c, &a.org_id, "owner").await;
    let e = c
        .query("SELECT signing_secret FROM palisade.outbound_webhooks", &[])
        .await
        .expect_err("no SELECT on signing_secret");
    assert_eq!(
        palisade_test_support::sql::sqlstate(&e, "secret"),
        &tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE
    );
    palisade_test_support::sql::rollback(&c).await;
    // Neither a provider webhook's transaction (no user, no role) nor a user's can mark a
    // delivery sent.
    let n = palisade_test_support::sql::execute_as(
        &c,
        &a.org_id,
        "",
        "",
        "UPDATE palisade.outbound_webhook_deliveries SET status = 'succeeded', next_attempt_at = NULL",
        &[],
    )
    .await;
    assert_eq!(n, 0);
    let n = palisade_test_support::sql::execute_as(
        &c,
        &a.org_id,
        &a.user_id,
        "owner",
        "UPDATE palisade.outbound_webhook_deliveries SET status = 'succeeded', next_attempt_at = NULL",
        &[],
    )
    .await;
    assert_eq!(n, 0);
}

#[actix_web::test]
async fn the_running_worker_delivers_without_being_asked() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let ca = TestCa::new();
    let r = Receiver::start(&ca, Reply::Status(200)).await;
    register(&app, &a, &r.url(), &["customer.created"]).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = actix_web::rt::spawn(worker(&app, &ca, &[&r]).run(async {
        let _ = stopped.await;
    }));
    new_customer(&app, &a, "ada@example.com").await;
    // Bounded: the worker polls every second.
    for _ in 0..300 {
        if !r.received().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    running.await.expect("the worker stops");
    assert_eq!(r.received().len(), 1);
}

/// Isolation seeder (`crate::isolation::SEEDERS`): an endpoint subscribed to
/// `customer.created`, and a customer, so that an event and a pending delivery exist.
pub async fn seed(app: &TestApp, acct: &Account, marker: &str) -> crate::isolation::Seeded {
    let w = register(
        app,
        acct,
        "https://hooks.example.com/seeded",
        &["customer.created"],
    )
    .await;
    new_customer(app, acct, &format!("{marker}-delivery@example.com")).await;
    let list = format!(
        "/v1/webhooks/{}/deliveries",
        w["id"].as_str().unwrap_or_default()
    );
    assert_eq!(deliveries(app, acct, &w).await.len(), 1);
    crate::isolation::Seeded {
        items: vec![],
        views: vec![list.clone(), format!("{list}?status=pending")],
    }
}

#[actix_web::test]
async fn each_event_type_is_emitted_by_the_change_that_causes_it() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let number = app.claim_number(&a, &["sms", "voice"]).await;
    let ca = TestCa::new();
    let r = Receiver::start(&ca, Reply::Status(200)).await;
    register(
        &app,
        &a,
        &r.url(),
        &[
            "message.received",
            "message.delivered",
            "message.failed",
            "call.completed",
            "chat.message.created",
        ],
    )
    .await;

    // An inbound SMS (Twilio).
    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    let params = [
        ("MessageSid", sid.as_str()),
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("From", "+14155550123"),
        ("To", number.as_str()),
        ("Body", "hello"),
        ("NumMedia", "0"),
    ];
    assert_eq!(
        app.twilio("/webhooks/twilio/sms", &params).await.status,
        200
    );
    // A call logged as completed, and one that only rings (no event).
    let call = app
        .create(
            &a,
            "/v1/calls",
            json!({
            "direction": "inbound", "from_number": "+14155550123", "to_number": number,
            "status": "completed", "duration_seconds": 42,
            "started_at": "2026-01-01T10:00:00Z", "ended_at": "2026-01-01T10:00:42Z"}),
        )
        .await;
    app.create(&a, "/v1/calls", json!({
            "direction": "inbound", "from_number": "+14155550123", "to_number": number, "status": "ringing"}))
        .await;
    // A chat message.
    let conv = app.create(&a, "/v1/chat/conversations", json!({})).await;
    let msg_path = format!(
        "/v1/chat/conversations/{}/messages",
        conv["id"].as_str().unwrap_or_default()
    );
    let msg = app
        .post(
            &a,
            &msg_path,
            &json!({"sender": "agent", "body": "Hi there"}),
        )
        .await;
    assert_eq!(msg.status, 201, "{}", msg.text);
    // Two emails: one delivered, one bounced (as the email provider's webhook would write).
    let campaign = app
        .create(
            &a,
            "/v1/email-campaigns",
            json!({"name": "News", "subject": "Hi", "body": "Hello"}),
        )
        .await;
    let recipients = format!(
        "/v1/email-campaigns/{}/messages",
        campaign["id"].as_str().unwrap_or_default()
    );
    let m1 = app
        .create(&a, &recipients, json!({"to_email": "one@example.com"}))
        .await;
    let m2 = app
        .create(&a, &recipients, json!({"to_email": "two@example.com"}))
        .await;
    let c = app.db.app_client().await;
    for (m, status) in [(&m1, "delivered"), (&m2, "bounced")] {
        let id: uuid::Uuid = m["id"].as_str().unwrap_or_default().parse().expect("an id");
        palisade_test_support::sql::execute_as(
            &c,
            &a.org_id,
            "",
            "",
            "UPDATE palisade.email_messages SET status = $2 WHERE id = $1",
            &[&id, &status],
        )
        .await;
    }

    let cycle = worker(&app, &ca, &[&r]).run_once().await.expect("cycle");
    assert_eq!(cycle.succeeded, 5);
    let mut got: Vec<(String, Value)> = r
        .received()
        .iter()
        .map(|g| {
            let b = g.json();
            (
                b["type"].as_str().unwrap_or_default().to_owned(),
                b["data"].clone(),
            )
        })
        .collect();
    got.sort_by(|x, y| x.0.cmp(&y.0));
    let types: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "call.completed",
            "chat.message.created",
            "message.delivered",
            "message.failed",
            "message.received"
        ]
    );
    assert_eq!(
        got[0].1,
        json!({"id": call["id"], "direction": "inbound", "duration_seconds": 42})
    );
    assert_eq!(
        got[1].1,
        json!({"id": msg.json["id"], "conversation_id": conv["id"], "sender": "agent"})
    );
    assert_eq!(
        got[2].1,
        json!({"id": m1["id"], "channel": "email", "status": "delivered"})
    );
    assert_eq!(
        got[3].1,
        json!({"id": m2["id"], "channel": "email", "status": "bounced"})
    );
    assert_eq!(got[4].1["channel"], "sms");
    assert_eq!(got[4].1["status"], "received");
}

#[actix_web::test]
async fn only_real_changes_and_current_subscriptions_are_sent_and_a_redelivery_is_queued_once() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let ca = TestCa::new();
    let r = Receiver::start(&ca, Reply::Status(200)).await;
    let w = register(
        &app,
        &a,
        &r.url(),
        &["customer.created", "customer.updated"],
    )
    .await;
    let customer = new_customer(&app, &a, "ada@example.com").await;
    let path = format!(
        "/v1/customers/{}",
        customer["id"].as_str().unwrap_or_default()
    );
    // A PATCH that changes nothing (it still stamps updated_at) is no customer.updated.
    assert_eq!(app.patch(&a, &path, &json!({})).await.status, 200);
    assert_eq!(
        app.patch(&a, &path, &json!({"name": "Ada"})).await.status,
        200
    );
    assert_eq!(deliveries(&app, &a, &w).await.len(), 1);
    assert_eq!(
        app.patch(&a, &path, &json!({"name": "Ada L."}))
            .await
            .status,
        200
    );
    assert_eq!(deliveries(&app, &a, &w).await.len(), 2);

    // Unsubscribed before they came due: skipped, not sent.
    let webhook = format!("/v1/webhooks/{}", w["id"].as_str().unwrap_or_default());
    let patched = app
        .patch(&a, &webhook, &json!({"event_types": ["customer.deleted"]}))
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let cycle = worker(&app, &ca, &[&r]).run_once().await.expect("cycle");
    assert_eq!((cycle.attempts(), cycle.skipped), (0, 2));
    assert!(r.received().is_empty());
    let d = deliveries(&app, &a, &w).await;
    assert!(
        d.iter()
            .all(|d| d["status"] == "skipped" && d["last_error"] == "unsubscribed")
    );

    // Asking twice for a redelivery queues one.
    let redeliver = format!(
        "{webhook}/deliveries/{}/redeliver",
        d[0]["id"].as_str().unwrap_or_default()
    );
    let first = app.post(&a, &redeliver, &json!({})).await;
    let second = app.post(&a, &redeliver, &json!({})).await;
    assert_eq!((first.status, second.status), (202, 202));
    assert_eq!(first.json["id"], second.json["id"]);
    assert_eq!(deliveries(&app, &a, &w).await.len(), 3);
}

/// One organization's backlog does not hold back another's deliveries: a cycle takes at most 8
/// of an organization's due deliveries, in turns with the others'. Here 150 of A's are due, all
/// older than B's one (taken oldest first across organizations, as before, a cycle's 100 were
/// all A's, and B's waited for as long as A's backlog lasted: with an endpoint that answers
/// slowly, and a steady stream of A's changes, for ever).
#[actix_web::test]
async fn one_organizations_backlog_does_not_hold_back_anothers_deliveries() {
    let (app, a) = spawn_app_with_owner("Busy").await;
    let b = app.signup("Other").await;
    let ca = TestCa::new();
    let (ra, rb) = (
        Receiver::start(&ca, Reply::Status(200)).await,
        Receiver::start(&ca, Reply::Status(200)).await,
    );
    let wa = register(&app, &a, &ra.url(), &["customer.created"]).await;
    register(&app, &b, &rb.url(), &["customer.created"]).await;
    // A's backlog, queued a minute ago (as the triggers would have: events, then deliveries).
    app.db
        .superuser_client()
        .await
        .execute(
            "WITH e AS (
                 INSERT INTO palisade.outbound_webhook_events (organization_id, id, type, data)
                 SELECT $1::text::uuid, gen_random_uuid(), 'customer.created', '{}'
                   FROM generate_series(1, 150)
                 RETURNING organization_id, id, type)
             INSERT INTO palisade.outbound_webhook_deliveries
                    (organization_id, webhook_id, event_id, event_type, next_attempt_at)
             SELECT organization_id, $2::text::uuid, id, type, now() - interval '1 minute' FROM e",
            &[&a.org_id, &wa["id"].as_str().unwrap_or_default()],
        )
        .await
        .unwrap();
    new_customer(&app, &b, "ada@example.com").await;

    // In turns: B's oldest comes with A's oldest, before A's second, whatever their ages.
    let now = palisade_domain::Clock::now(&app.clock);
    let due = palisade_db::outbound_delivery::due(&app.pool, now, 5, 8)
        .await
        .unwrap();
    let orgs: Vec<String> = due.iter().map(|d| d.org.to_string()).collect();
    assert_eq!(orgs.len(), 5);
    assert_eq!(
        orgs[..2].iter().filter(|o| **o == b.org_id).count(),
        1,
        "{orgs:?}"
    );

    let cycle = worker(&app, &ca, &[&ra, &rb])
        .run_once()
        .await
        .expect("cycle");
    assert_eq!(rb.received().len(), 1, "B's delivery waited behind A's");
    assert_eq!(ra.received().len(), 8, "A's share of the cycle");
    assert_eq!((cycle.succeeded, cycle.retrying), (9, 0));
}

/// A disabled endpoint's due backlog is settled as skipped in one claim, not 8 a cycle: one at a
/// time, it took every place of its organization's in each cycle and held back its other
/// endpoints' deliveries for as many cycles, each as long as the slowest attempt anywhere.
#[actix_web::test]
async fn a_disabled_endpoints_backlog_is_skipped_at_once() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let ca = TestCa::new();
    let (r1, r2) = (
        Receiver::start(&ca, Reply::Status(200)).await,
        Receiver::start(&ca, Reply::Status(200)).await,
    );
    let w1 = register(&app, &a, &r1.url(), &["customer.created"]).await;
    for i in 0..20 {
        new_customer(&app, &a, &format!("c{i}@example.com")).await;
    }
    let path = format!("/v1/webhooks/{}", w1["id"].as_str().unwrap_or_default());
    let r = app.patch(&a, &path, &json!({"enabled": false})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let w2 = register(&app, &a, &r2.url(), &["customer.created"]).await;
    new_customer(&app, &a, "late@example.com").await;

    let worker = worker(&app, &ca, &[&r1, &r2]);
    let first = worker.run_once().await.expect("cycle");
    assert_eq!(first.attempts(), 0, "{first:?}");
    let second = worker.run_once().await.expect("cycle");
    assert_eq!(
        (second.succeeded, r2.received().len()),
        (1, 1),
        "{second:?}"
    );
    assert!(r1.received().is_empty());
    let skipped = deliveries(&app, &a, &w1).await;
    assert_eq!(skipped.len(), 20);
    assert!(
        skipped
            .iter()
            .all(|d| d["status"] == "skipped" && d["last_error"] == "endpoint_disabled"),
        "{skipped:?}"
    );
    assert_eq!(deliveries(&app, &a, &w2).await[0]["status"], "succeeded");
}

/// The worker's poll, once a second in every instance, reads the due part of the pending index
/// only: 20,000 pending retries of an endpoint that is down, none due, are not walked to find
/// nothing; and of an organization's 20,000 due deliveries it reads the 8 it takes, in order,
/// not all of them to sort (for one organization out of many, the generic plan expects a row
/// or so, and without `enable_bitmapscan = off` chose a bitmap scan and a sort). The function
/// is SECURITY DEFINER, so it is never inlined: its body is prepared and explained as the
/// superuser, from the catalog with its settings (so the test follows policies/027), with the
/// generic plan a function's body gets. Rows, not time: the plan's own row counts.
#[tokio::test]
async fn the_workers_poll_reads_only_due_deliveries_from_its_index() {
    let db = palisade_test_support::TestDb::new().await;
    let su = db.superuser_client().await;
    su.batch_execute(
        "INSERT INTO palisade.organizations (id, name) VALUES ('0191c3a0-0000-7000-8000-000000000001', 'Acme');
         INSERT INTO palisade.outbound_webhooks (organization_id, id, url, event_types, signing_secret)
             VALUES ('0191c3a0-0000-7000-8000-000000000001', '0191c3a0-0000-7000-8000-000000000002',
                     'https://hooks.example.com/down', ARRAY['customer.created'],
                     'whsec_' || repeat('a', 43) || '=');
         INSERT INTO palisade.outbound_webhook_events (organization_id, id, type, data)
             SELECT '0191c3a0-0000-7000-8000-000000000001', gen_random_uuid(), 'customer.created', '{}'
               FROM generate_series(1, 20000);
         -- Every one tried once and retrying in the future; two never tried, due now.
         INSERT INTO palisade.outbound_webhook_deliveries
                (organization_id, webhook_id, event_id, event_type, attempt_count, next_attempt_at)
             SELECT organization_id, '0191c3a0-0000-7000-8000-000000000002', id, type,
                    CASE WHEN row_number() OVER () <= 2 THEN 0 ELSE 1 END,
                    CASE WHEN row_number() OVER () <= 2 THEN now() - interval '1 second'
                         ELSE now() + interval '5 hours' END
               FROM palisade.outbound_webhook_events;
         -- 300 more organizations, each with one retry in the future, as where many endpoints
         -- are down: what makes the generic plan expect few rows of any one organization.
         WITH o AS (
             INSERT INTO palisade.organizations (id, name)
             SELECT gen_random_uuid(), 'Org ' || n FROM generate_series(1, 300) AS n
             RETURNING id
         ), w AS (
             INSERT INTO palisade.outbound_webhooks (organization_id, id, url, event_types, signing_secret)
             SELECT id, gen_random_uuid(), 'https://hooks.example.com/down', ARRAY['customer.created'],
                    'whsec_' || repeat('a', 43) || '='
               FROM o
             RETURNING organization_id, id
         ), e AS (
             INSERT INTO palisade.outbound_webhook_events (organization_id, id, type, data)
             SELECT organization_id, gen_random_uuid(), 'customer.created', '{}' FROM w
             RETURNING organization_id, id, type
         )
         INSERT INTO palisade.outbound_webhook_deliveries
                (organization_id, webhook_id, event_id, event_type, attempt_count, next_attempt_at)
         SELECT e.organization_id, w.id, e.id, e.type, 1, now() + interval '5 hours'
           FROM e JOIN w USING (organization_id);
         -- And 30 settled deliveries each, as most are: the poll must not walk through them.
         WITH e AS (
             INSERT INTO palisade.outbound_webhook_events (organization_id, id, type, data)
             SELECT w.organization_id, gen_random_uuid(), 'customer.created', '{}'
               FROM palisade.outbound_webhooks AS w, generate_series(1, 30)
              WHERE w.url = 'https://hooks.example.com/down'
                AND w.organization_id <> '0191c3a0-0000-7000-8000-000000000001'
             RETURNING organization_id, id, type
         )
         INSERT INTO palisade.outbound_webhook_deliveries
                (organization_id, webhook_id, event_id, event_type, status, attempt_count,
                 next_attempt_at, last_attempt_at, last_response_status)
         SELECT e.organization_id, w.id, e.id, e.type, 'succeeded', 1, NULL, now(), 200
           FROM e JOIN palisade.outbound_webhooks AS w USING (organization_id);
         ANALYZE palisade.outbound_webhook_deliveries;",
    )
    .await
    .unwrap();
    let (due, plan) = poll_and_its_plan(&su).await;
    assert_eq!(due, 2, "{plan}");
    // Every scan, the walk over the organizations included, reads the partial index of the
    // pending deliveries (another index on organization_id would walk the settled ones too).
    let scans: Vec<&str> = plan.lines().filter(|l| l.contains(" using ")).collect();
    assert!(
        !scans.is_empty()
            && scans
                .iter()
                .all(|l| l.contains("using outbound_webhook_deliveries_org_due_idx")),
        "{plan}"
    );
    // Every row the plan reads and drops is a row it did not need: at most the two due ones
    // (a lease check) and no walk through the 19,998 retries.
    let removed: u64 = plan
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Rows Removed by Filter: "))
        .map(|n| n.parse::<u64>().unwrap())
        .sum();
    assert!(
        removed < 100,
        "the poll read {removed} rows it did not need:\n{plan}"
    );

    // One more organization, with 20,000 deliveries due: 8 of them are taken, and read.
    su.batch_execute(
        "INSERT INTO palisade.organizations (id, name) VALUES ('0191c3a0-0000-7000-8000-000000000003', 'Busy');
         INSERT INTO palisade.outbound_webhooks (organization_id, id, url, event_types, signing_secret)
             VALUES ('0191c3a0-0000-7000-8000-000000000003', '0191c3a0-0000-7000-8000-000000000004',
                     'https://hooks.example.com/slow', ARRAY['customer.created'],
                     'whsec_' || repeat('a', 43) || '=');
         WITH e AS (
             INSERT INTO palisade.outbound_webhook_events (organization_id, id, type, data)
             SELECT '0191c3a0-0000-7000-8000-000000000003', gen_random_uuid(), 'customer.created', '{}'
               FROM generate_series(1, 20000)
             RETURNING organization_id, id, type
         )
         INSERT INTO palisade.outbound_webhook_deliveries
                (organization_id, webhook_id, event_id, event_type, next_attempt_at)
         SELECT organization_id, '0191c3a0-0000-7000-8000-000000000004', id, type,
                now() - interval '1 minute'
           FROM e;
         ANALYZE palisade.outbound_webhook_deliveries;",
    )
    .await
    .unwrap();
    let (due, plan) = poll_and_its_plan(&su).await;
    assert_eq!(due, 2 + 8, "{plan}");
    assert!(!plan.contains("Bitmap"), "{plan}");
    // The per-organization range: an ordered index scan, at most 8 rows a loop.
    let ranges: Vec<u64> = plan
        .lines()
        .filter(|l| l.contains("Index Scan using outbound_webhook_deliveries_org_due_idx"))
        .filter_map(|l| {
            let rows = l.split("rows=").nth(1)?;
            rows.split_whitespace().next()?.parse().ok()
        })
        .collect();
    assert!(
        !ranges.is_empty() && ranges.iter().all(|&n| n <= 8),
        "{ranges:?}\n{plan}"
    );
}

/// How many deliveries the worker's poll (100, 8 an organization) finds due now, and the plan of
/// the function's body: prepared as the superuser with the function's own settings
/// (`proconfig`), and its parameters by number, as a prepared statement names them.
async fn poll_and_its_plan(su: &tokio_postgres::Client) -> (i64, String) {
    let row = su
        .query_one(
            "SELECT prosrc, proconfig FROM pg_proc WHERE oid = \
             'palisade_private.due_outbound_webhook_deliveries(timestamptz, integer, integer)'::regprocedure",
            &[],
        )
        .await
        .unwrap();
    let (body, settings): (String, Vec<String>) = (row.get(0), row.get(1));
    let body = body
        .replace("p_now", "$1")
        .replace("p_limit", "$2")
        .replace("p_per_organization", "$3");
    su.batch_execute("DEALLOCATE ALL; RESET ALL").await.unwrap();
    for setting in &settings {
        let (name, value) = setting.split_once('=').unwrap();
        su.execute("SELECT set_config($1, $2, false)", &[&name, &value])
            .await
            .unwrap();
    }
    // A SQL function's body is planned without its arguments' values: a generic plan.
    su.batch_execute(&format!(
        "SET plan_cache_mode = force_generic_plan; PREPARE due(timestamptz, integer, integer) AS {body}"
    ))
    .await
    .unwrap();
    let plan: Vec<String> = su
        .query(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE due(now(), 100, 8)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let due: i64 = su
        .query_one(
            "SELECT count(*) FROM palisade_private.due_outbound_webhook_deliveries(now(), 100, 8)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    (due, plan.join("\n"))
}

/// Only the triggers write events, so no context can forge one the worker would sign (an
/// `invoice.paid` from a member's SQL, say); a delivery is queued by the triggers or, as a
/// redelivery, by an owner or admin only, and always with its event's own type. Every context of the organization is tried, rolled
/// back each time.
#[actix_web::test]
async fn no_context_writes_an_event_itself_and_only_owners_and_admins_queue_a_delivery() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let ca = TestCa::new();
    let r = Receiver::start(&ca, Reply::Status(200)).await;
    register(&app, &a, &r.url(), &["customer.created", "invoice.paid"]).await;
    // A change emits its event through the trigger, whoever makes it.
    new_customer(&app, &a, "ada@example.com").await;
    let c = app.db.app_client().await;
    let forge_event = "INSERT INTO palisade.outbound_webhook_events (type, data) \
                       VALUES ('invoice.paid', '{\"id\": \"in_forged\"}')";
    let forge_through_emit = "SELECT palisade_private.emit_webhook_event(\
                              palisade_private.current_org_id(), 'invoice.paid', '{\"id\": \"in_forged\"}')";
    let queue = "INSERT INTO palisade.outbound_webhook_deliveries \
                     (webhook_id, event_id, event_type, next_attempt_at) \
                 SELECT webhook_id, event_id, event_type, now() \
                   FROM palisade.outbound_webhook_deliveries LIMIT 1";
    let user = a.user_id.as_str();
    for (user, role, may_queue) in [
        (user, "owner", true),
        (user, "admin", true),
        (user, "member", false),
        ("", "", false),
        ("", WORKER, false),
    ] {
        for sql in [forge_event, forge_through_emit] {
            palisade_test_support::sql::begin_as_user(&c, &a.org_id, user, role).await;
            let e = c.execute(sql, &[]).await.expect_err(sql);
            palisade_test_support::sql::rollback(&c).await;
            assert!(
                palisade_test_support::sql::is_rls_refusal(&e),
                "{role:?}: {sql}: {e:?}"
            );
        }
        palisade_test_support::sql::begin_as_user(&c, &a.org_id, user, role).await;
        let queued = c.execute(queue, &[]).await;
        palisade_test_support::sql::rollback(&c).await;
        match queued {
            Ok(n) => assert!(may_queue && n == 1, "{role:?} queued {n}"),
            Err(e) => assert!(
                !may_queue && palisade_test_support::sql::is_rls_refusal(&e),
                "{role:?}: {e:?}"
            ),
        }
    }
    // Nor can an owner's context relabel the customer's event as another type: the worker would
    // sign the label.
    palisade_test_support::sql::begin_as_user(&c, &a.org_id, user, "owner").await;
    let relabelled = c
        .execute(
            "INSERT INTO palisade.outbound_webhook_deliveries \
                 (webhook_id, event_id, event_type, next_attempt_at) \
             SELECT webhook_id, event_id, 'invoice.paid', now() \
               FROM palisade.outbound_webhook_deliveries LIMIT 1",
            &[],
        )
        .await;
    palisade_test_support::sql::rollback(&c).await;
    let e = relabelled.expect_err("a delivery of another type than its event's");
    assert!(palisade_test_support::sql::is_rls_refusal(&e), "{e:?}");
    // Nothing forged reached the worker: the one delivery is the customer's.
    let cycle = worker(&app, &ca, &[&r]).run_once().await.expect("cycle");
    assert_eq!(cycle.succeeded, 1);
    let got = r.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["type"], "customer.created");
}

/// The second line behind `enabled_by` (the first: removing or demoting that user disables the
/// webhook, tests/api/outbound_webhooks.rs): a webhook still marked enabled whose user is gone,
/// or is a member, gets nothing sent. The state is arranged here as the superuser, as a DBA
/// changing users in `psql` would leave it: the user's row changed, the webhook untouched. A webhook recording nobody (made before V0172) is still sent to.
#[actix_web::test]
async fn nothing_is_sent_for_a_user_who_is_no_longer_an_owner_or_admin() {
    let (app, owner, admin, _member) = spawn_app_with_team("Acme").await;
    let demoted = app.add_user(&owner, palisade_domain::Role::Admin).await;
    let ca = TestCa::new();
    let (gone, lowered, kept, unrecorded) = (
        Receiver::start(&ca, Reply::Status(200)).await,
        Receiver::start(&ca, Reply::Status(200)).await,
        Receiver::start(&ca, Reply::Status(200)).await,
        Receiver::start(&ca, Reply::Status(200)).await,
    );
    let w_gone = register(&app, &admin, &gone.url(), &["customer.created"]).await;
    let w_lowered = register(&app, &demoted, &lowered.url(), &["customer.created"]).await;
    register(&app, &owner, &kept.url(), &["customer.created"]).await;
    let w_unrecorded = register(&app, &owner, &unrecorded.url(), &["customer.created"]).await;

    let c = app.db.superuser_client().await;
    for (sql, id) in [
        (
            "DELETE FROM palisade.users WHERE id = $1::text::uuid",
            &admin.user_id,
        ),
        (
            "UPDATE palisade.users SET role = 'member' WHERE id = $1::text::uuid",
            &demoted.user_id,
        ),
        (
            "UPDATE palisade.outbound_webhooks SET enabled_by = NULL WHERE id = $1::text::uuid",
            &w_unrecorded["id"].as_str().unwrap().to_owned(),
        ),
    ] {
        assert_eq!(c.execute(sql, &[id]).await.unwrap(), 1, "{sql}");
    }
    for w in [&w_gone, &w_lowered] {
        let now = app
            .get_ok(
                &owner,
                &format!("/v1/webhooks/{}", w["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(now["enabled"], true, "the state a racing request leaves");
    }

    new_customer(&app, &owner, "ada@example.com").await;
    let cycle = worker(&app, &ca, &[&gone, &lowered, &kept, &unrecorded])
        .run_once()
        .await
        .expect("cycle");
    assert_eq!((cycle.succeeded, cycle.skipped), (2, 2));
    assert!(gone.received().is_empty() && lowered.received().is_empty());
    assert_eq!((kept.received().len(), unrecorded.received().len()), (1, 1));
    for w in [&w_gone, &w_lowered] {
        let d = deliveries(&app, &owner, w).await;
        assert_eq!(d.len(), 1);
        assert_eq!(
            (&d[0]["status"], &d[0]["last_error"]),
            (&json!("skipped"), &json!("endpoint_disabled"))
        );
    }
}
