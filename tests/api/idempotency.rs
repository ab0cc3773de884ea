//! `Idempotency-Key` on tenant POSTs (docs/api.md, "Retrying a POST"): the same key and request
//! replay the first response and change nothing; the same key for another request is 422; keys
//! are per organization; a failed attempt leaves no key; concurrent duplicates act once; keys
//! are forgotten after 24 hours.

use futures_util::future::join_all;
use palisade_domain::Role;
use palisade_test_support::{Account, TestApp, TestResponse, spawn_app_with_owner};
use serde_json::{Value, json};
use time::Duration;
use uuid::Uuid;

use palisade_test_support::sql::begin_as;

const KEY: &str = "Idempotency-Key";

async fn post(app: &TestApp, who: &Account, path: &str, body: &Value, key: &str) -> TestResponse {
    app.call_with("POST", path, Some(&who.token), Some(body), &[(KEY, key)])
        .await
}

fn id(r: &TestResponse) -> String {
    r.json["id"]
        .as_str()
        .or(r.json["api_key"]["id"].as_str())
        .or(r.json["webhook"]["id"].as_str())
        .unwrap_or_else(|| panic!("no id in {}", r.text))
        .to_owned()
}

/// Every table of the organization as its export shows it (every row, every readable column).
async fn state_of(app: &TestApp, who: &Account) -> Value {
    let r = app.get(&who, "/v1/organization/export").await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["tables"].clone()
}

async fn count(app: &TestApp, table: &str, org: &str) -> i64 {
    let su = app.db.superuser_client().await;
    su.query_one(
        &format!("SELECT count(*) FROM palisade.{table} WHERE organization_id::text = $1"),
        &[&org],
    )
    .await
    .unwrap()
    .get(0)
}

/// Every tenant POST: the first request with a key acts; the same request again answers the
/// same status, `Location` and body (without a secret shown once), marked replayed, and changes
/// nothing in any table of the organization.
#[actix_web::test]
async fn every_tenant_post_replays_its_first_response_and_acts_once() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let from = app.claim_number(&a, &["sms", "voice"]).await;
    let stocked = palisade_test_support::unique_number();
    app.stock_numbers(&[(&stocked, &["sms"])]).await;
    let post_plain = |path: &'static str, body: Value| {
        let app = &app;
        let token = a.token.clone();
        async move {
            let r = app.post(&token, path, &body).await;
            assert_eq!(r.status, 201, "{path}: {}", r.text);
            id(&r)
        }
    };
    let email_c = post_plain(
        "/v1/email-campaigns",
        json!({"name": "E", "subject": "S", "body": "B"}),
    )
    .await;
    let sms_c = post_plain(
        "/v1/sms-campaigns",
        json!({"name": "S", "body": "T", "from_number": from}),
    )
    .await;
    let conv = post_plain("/v1/chat/conversations", json!({})).await;
    let account = post_plain(
        "/v1/social/accounts",
        json!({"network": "twitter", "handle": "acme"}),
    )
    .await;
    let hook = post_plain(
        "/v1/webhooks",
        json!({"url": "https://hooks.example.com/a", "event_types": ["customer.created"]}),
    )
    .await;
    // A delivery of the webhook's, settled (no delivery worker runs here): its redelivery
    // queues a new one.
    post_plain("/v1/customers", json!({"name": "Delivered"})).await;
    let su = app.db.superuser_client().await;
    let delivery: Uuid = su
        .query_one(
            "UPDATE palisade.outbound_webhook_deliveries
                SET status = 'succeeded', next_attempt_at = NULL, leased_until = NULL
              WHERE webhook_id::text = $1
              RETURNING id",
            &[&hook],
        )
        .await
        .unwrap()
        .get(0);

    let routes: Vec<(String, Value)> = vec![
        ("/v1/customers".into(), json!({"name": "Ada"})),
        (
            "/v1/email-campaigns".into(),
            json!({"name": "N", "subject": "S", "body": "B"}),
        ),
        (
            format!("/v1/email-campaigns/{email_c}/messages"),
            json!({"to_email": "ada@example.com"}),
        ),
        (
            "/v1/sms-campaigns".into(),
            json!({"name": "N", "body": "T", "from_number": from}),
        ),
        (
            format!("/v1/sms-campaigns/{sms_c}/messages"),
            json!({"to_number": "+14155550100"}),
        ),
        ("/v1/voice-campaigns".into(), json!({"name": "V"})),
        (
            "/v1/calls".into(),
            json!({"direction": "outbound", "from_number": from, "to_number": "+14155550101"}),
        ),
        ("/v1/chat/conversations".into(), json!({"subject": "Hello"})),
        (
            format!("/v1/chat/conversations/{conv}/messages"),
            json!({"sender": "agent", "body": "Hi"}),
        ),
        (
            "/v1/ivr/menus".into(),
            json!({"name": "Main", "tree": crate::engagement::menu_tree("Acme")}),
        ),
        ("/v1/phone-numbers".into(), json!({"number": stocked})),
        (
            "/v1/knowledge-base/articles".into(),
            json!({"title": "T", "body": "B"}),
        ),
        (
            "/v1/reports".into(),
            json!({"name": "R", "kind": "call_volume"}),
        ),
        (
            "/v1/analytics/events".into(),
            json!({"type": "page.viewed"}),
        ),
        (
            "/v1/analytics/events/batch".into(),
            json!([{"type": "a.b"}, {"type": "c.d"}]),
        ),
        (
            "/v1/social/accounts".into(),
            json!({"network": "facebook", "handle": "acme"}),
        ),
        (
            "/v1/social/posts".into(),
            json!({"account_id": account, "body": "Hello"}),
        ),
        (
            "/v1/integrations".into(),
            json!({"provider": "slack", "name": "S", "secrets": {"bot_token": "xoxb-1"}}),
        ),
        (
            "/v1/webhooks".into(),
            json!({"url": "https://hooks.example.com/b", "event_types": ["invoice.paid"]}),
        ),
        (format!("/v1/webhooks/{hook}/rotate-secret"), Value::Null),
        // 202 with the new delivery; its replay queues none.
        (
            format!("/v1/webhooks/{hook}/deliveries/{delivery}/redeliver"),
            Value::Null,
        ),
        (
            "/v1/api-keys".into(),
            json!({"name": "K", "role": "member"}),
        ),
        (
            "/v1/invitations".into(),
            json!({"email": "new@example.com", "role": "member"}),
        ),
        (
            "/v1/call-center/aws-connect/instances".into(),
            json!({
                "instance_arn": format!(
                    "arn:aws:connect:us-west-2:123456789012:instance/{}",
                    uuid::Uuid::new_v4()
                ),
                "region": "us-west-2",
                "label": "Main"
            }),
        ),
        // Its `key` is shown once: the replay leaves it out (the stored response is readable
        // by analysts: policies/920_column_classification.sql).
        (
            "/v1/call-center/aws-connect/credentials".into(),
            json!({"label": "EventBridge"}),
        ),
    ];
    for (n, (path, body)) in routes.iter().enumerate() {
        let key = format!("retry {n}");
        let body = (!body.is_null()).then_some(body);
        let headers = [(KEY, key.as_str())];
        let send = || app.call_with("POST", path, Some(&a.token), body, &headers);
        let first = send().await;
        assert!(
            [200, 201, 202].contains(&first.status),
            "{path}: {}",
            first.text
        );
        assert_eq!(first.header("idempotency-replayed"), None, "{path}");
        let before = state_of(&app, &a).await;
        let again = send().await;
        assert_eq!(again.status, first.status, "{path}: {}", again.text);
        assert_eq!(again.header("idempotency-replayed"), Some("true"), "{path}");
        assert_eq!(again.header("location"), first.header("location"), "{path}");
        // The first body, less the secret it showed once.
        let mut expected = first.json.clone();
        for secret in ["key", "signing_secret"] {
            if let Some(object) = expected.as_object_mut() {
                object.remove(secret);
            }
        }
        assert_eq!(again.json, expected, "{path}");
        assert_eq!(state_of(&app, &a).await, before, "{path}: the replay acted");
    }
    // The invitation was mailed once.
    assert_eq!(app.smtp.messages_to("new@example.com").len(), 1);

    // The redelivery's own delivery attempted since (the event's deliveries all settled): a
    // retry with its key still replays, and queues no other delivery.
    let redeliver = routes
        .iter()
        .position(|(path, _)| path.ends_with("/redeliver"))
        .unwrap();
    let deliveries = "SELECT count(*) FROM palisade.outbound_webhook_deliveries
                       WHERE webhook_id::text = $1";
    su.execute(
        "UPDATE palisade.outbound_webhook_deliveries
            SET status = 'failed', attempt_count = 1, next_attempt_at = NULL,
                leased_until = NULL
          WHERE webhook_id::text = $1 AND status = 'pending'",
        &[&hook],
    )
    .await
    .unwrap();
    let before: i64 = su.query_one(deliveries, &[&hook]).await.unwrap().get(0);
    let key = format!("retry {redeliver}");
    let again = app
        .call_with(
            "POST",
            &routes[redeliver].0,
            Some(&a.token),
            None,
            &[(KEY, key.as_str())],
        )
        .await;
    let after: i64 = su.query_one(deliveries, &[&hook]).await.unwrap().get(0);
    assert_eq!(
        after, before,
        "a retried redelivery queued another delivery"
    );
    assert_eq!(
        (again.status, again.header("idempotency-replayed")),
        (202, Some("true"))
    );
}

#[actix_web::test]
async fn a_replay_answers_the_first_response_even_after_the_resource_changed() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let body = json!({"name": "Ada"});
    let first = post(&app, &a, "/v1/customers", &body, "k1").await;
    let path = format!("/v1/customers/{}", id(&first));
    let r = app.patch(&a, &path, &json!({"name": "Eve"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let again = post(&app, &a, "/v1/customers", &body, "k1").await;
    assert_eq!((again.status, &again.json), (201, &first.json));
    assert_eq!(count(&app, "customers", &a.org_id).await, 1);
}

#[actix_web::test]
async fn the_same_key_for_another_request_is_422_and_changes_nothing() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let admin = app.add_user(&a, Role::Admin).await;
    let first = post(&app, &a, "/v1/customers", &json!({"name": "Ada"}), "k").await;
    assert_eq!(first.status, 201, "{}", first.text);
    let before = state_of(&app, &a).await;
    for (who, path, body) in [
        (&a, "/v1/customers", json!({"name": "Eve"})),
        // The same JSON, other bytes.
        (&a, "/v1/customers", json!({ "name": "Ada", "email": null })),
        (
            &a,
            "/v1/reports",
            json!({"name": "Ada", "kind": "call_volume"}),
        ),
        // Another user of the organization.
        (&admin, "/v1/customers", json!({"name": "Ada"})),
    ] {
        let r = post(&app, who, path, &body, "k").await;
        r.assert_error_at(422, "idempotency_key_reused", format_args!("{path} {body}"));
    }
    assert_eq!(state_of(&app, &a).await, before);
    // The first request still replays.
    let again = post(&app, &a, "/v1/customers", &json!({"name": "Ada"}), "k").await;
    assert_eq!((again.status, &again.json), (201, &first.json));
}

/// An API key's request is checked in the round trip of its first statement, which claims the
/// key: the claim fingerprints it with the user the check found (the key's creator), from the
/// same bytes as the previous version hashed in Rust (method, path and user, each followed by a
/// NUL byte, then the body's SHA-256), so a key claimed before an upgrade still replays after
/// it. Its creator's session is the same user (a replay); another user's key is not (422).
#[actix_web::test]
async fn an_api_keys_request_is_fingerprinted_as_its_creators() {
    use sha2::{Digest, Sha256};
    let (app, a) = spawn_app_with_owner("Acme").await;
    let admin = app.member_of(&a, Role::Admin).await;
    let owners_key = app.api_key(&a, "ci", Role::Admin).await;
    let admins_key = app.api_key(&admin, "ci", Role::Admin).await;
    let body = json!({"name": "Ada"});
    let first = app
        .request_as(
            &owners_key,
            "POST",
            "/v1/customers",
            Some(&body),
            &[(KEY, "k")],
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let mut expected = Sha256::new();
    for part in ["POST", "/v1/customers", a.user_id.as_str()] {
        expected.update(part.as_bytes());
        expected.update([0u8]);
    }
    expected.update(Sha256::digest(body.to_string().as_bytes()));
    let stored: Vec<u8> = app
        .db
        .superuser_client()
        .await
        .query_one(
            "SELECT request_hash FROM palisade.idempotency_keys \
              WHERE organization_id::text = $1 AND key = 'k'",
            &[&a.org_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, expected.finalize().to_vec());
    let again = post(&app, &a, "/v1/customers", &body, "k").await;
    assert_eq!((again.status, &again.json), (201, &first.json));
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
    let r = app
        .request_as(
            &admins_key,
            "POST",
            "/v1/customers",
            Some(&body),
            &[(KEY, "k")],
        )
        .await;
    r.assert_error_at(422, "idempotency_key_reused", "another user's key");
    assert_eq!(count(&app, "customers", &a.org_id).await, 1);
}

#[actix_web::test]
async fn another_organizations_identical_key_is_another_key() {
    let (app, a) = spawn_app_with_owner("Tenant A").await;
    let b = app.signup("Tenant B").await;
    let body = json!({"name": "Ada"});
    let ra = post(&app, &a, "/v1/customers", &body, "shared").await;
    let rb = post(&app, &b, "/v1/customers", &body, "shared").await;
    assert_eq!((ra.status, rb.status), (201, 201), "{}", rb.text);
    assert_eq!(rb.header("idempotency-replayed"), None);
    assert_ne!(id(&ra), id(&rb));
    // And another body under B's key is B's business alone.
    let r = post(&app, &b, "/v1/customers", &json!({"name": "Eve"}), "shared").await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = post(&app, &a, "/v1/customers", &body, "shared").await;
    assert_eq!((r.status, &r.json), (201, &ra.json));
    for org in [&a.org_id, &b.org_id] {
        assert_eq!(count(&app, "customers", org).await, 1);
        assert_eq!(count(&app, "idempotency_keys", org).await, 1);
    }
}

/// A request that fails rolls back with its key: the same key runs again, and can succeed.
#[actix_web::test]
async fn a_failed_attempt_leaves_no_key_and_its_retry_runs_again() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let taken = app
        .create_customer(&a, json!({"name": "First", "email": "ada@example.com"}))
        .await;
    let body = json!({"name": "Ada", "email": "ada@example.com"});
    for _ in 0..2 {
        let r = post(&app, &a, "/v1/customers", &body, "k").await;
        assert_eq!(r.json["error"], "email_taken", "{}", r.text);
        assert_eq!(r.header("idempotency-replayed"), None);
    }
    assert_eq!(count(&app, "idempotency_keys", &a.org_id).await, 0);
    let path = format!("/v1/customers/{}", taken["id"].as_str().unwrap());
    let r = app.delete(&a, &path).await;
    assert_eq!(r.status, 204);
    let r = post(&app, &a, "/v1/customers", &body, "k").await;
    assert_eq!(r.status, 201, "{}", r.text);

    // A body refused before any work (422) leaves no key either: a corrected body may take it.
    let r = post(
        &app,
        &a,
        "/v1/reports",
        &json!({"name": "R", "kind": "no"}),
        "k2",
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = post(
        &app,
        &a,
        "/v1/reports",
        &json!({"name": "R", "kind": "call_volume"}),
        "k2",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(count(&app, "idempotency_keys", &a.org_id).await, 2);
}

#[actix_web::test]
async fn concurrent_duplicates_act_once_and_answer_alike() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let body = json!({"name": "Ada"});
    let answers = join_all((0..8).map(|_| post(&app, &a, "/v1/customers", &body, "burst"))).await;
    let first = &answers[0];
    for r in &answers {
        assert_eq!((r.status, &r.json), (201, &first.json), "{}", r.text);
    }
    let replayed = answers
        .iter()
        .filter(|r| r.header("idempotency-replayed") == Some("true"))
        .count();
    assert_eq!(replayed, 7);
    assert_eq!(count(&app, "customers", &a.org_id).await, 1);
}

/// A request whose key another transaction holds waits for it: that transaction's rollback
/// lets it act; its commit makes it a retry of the committed request.
#[actix_web::test]
async fn a_request_waits_for_the_transaction_that_holds_its_key() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let org: Uuid = a.org_id.parse().unwrap();
    let holder = app.db.app_client().await;
    let body = json!({"name": "Ada"});
    for (key, commit) in [("rolled back", false), ("committed", true)] {
        begin_as(&holder, org, "owner").await;
        holder
            .execute(
                "INSERT INTO palisade.idempotency_keys (key, request_hash, response_status, response_body) \
                 VALUES ($1, $2, 201, '{}')",
                &[&key, &[0u8; 32].as_slice()],
            )
            .await
            .unwrap();
        let release = async {
            app.until_a_statement_waits_on_a_lock().await;
            let end = if commit { "COMMIT" } else { "ROLLBACK" };
            holder.batch_execute(end).await.unwrap();
        };
        let (r, ()) = tokio::join!(post(&app, &a, "/v1/customers", &body, key), release);
        if commit {
            // Another request (the hash differs) took the key first.
            assert_eq!(r.json["error"], "idempotency_key_reused", "{}", r.text);
        } else {
            assert_eq!(r.status, 201, "{}", r.text);
            assert_eq!(r.header("idempotency-replayed"), None);
        }
    }
    assert_eq!(count(&app, "customers", &a.org_id).await, 1);
}

#[actix_web::test]
async fn keys_are_forgotten_after_24_hours() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let first = post(&app, &a, "/v1/customers", &json!({"name": "Ada"}), "daily").await;
    app.clock
        .advance(Duration::hours(24) - Duration::seconds(1));
    let r = post(&app, &a, "/v1/customers", &json!({"name": "Ada"}), "daily").await;
    assert_eq!((r.status, &r.json), (201, &first.json));
    let r = post(&app, &a, "/v1/customers", &json!({"name": "Eve"}), "daily").await;
    assert_eq!(r.status, 422, "{}", r.text);
    app.clock.advance(Duration::seconds(2));
    // Older than 24 hours: the key is free for a new request.
    let r = post(&app, &a, "/v1/customers", &json!({"name": "Eve"}), "daily").await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("idempotency-replayed"), None);
    let again = post(&app, &a, "/v1/customers", &json!({"name": "Eve"}), "daily").await;
    assert_eq!((again.status, &again.json), (201, &r.json));
    assert_eq!(count(&app, "customers", &a.org_id).await, 2);
    assert_eq!(count(&app, "idempotency_keys", &a.org_id).await, 1);
}

#[actix_web::test]
async fn malformed_keys_are_400_before_anything_happens() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let body = json!({"name": "Ada"});
    let long = "k".repeat(256);
    for headers in [
        vec![(KEY, "")],
        vec![(KEY, long.as_str())],
        vec![(KEY, "caf\u{e9}")],
        vec![(KEY, "one"), (KEY, "two")],
    ] {
        let r = app
            .call_with(
                "POST",
                "/v1/customers",
                Some(&a.token),
                Some(&body),
                &headers,
            )
            .await;
        r.assert_error_at(400, "invalid_idempotency_key", format_args!("{headers:?}"));
    }
    assert_eq!(count(&app, "customers", &a.org_id).await, 0);
    let longest = "k".repeat(255);
    let r = post(&app, &a, "/v1/customers", &body, &longest).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// The table holds keys to the header's own rule (`palisade_api::idempotency`), whatever writes
/// them: 1 to 255 characters, each from space to `~` (`idempotency_keys_key_check`: V0130's,
/// written without a bounded repetition by V0167 and validated by V0168). A key outside it is
/// refused as the app role, with nothing written.
#[actix_web::test]
async fn the_table_refuses_the_keys_the_header_refuses() {
    use palisade_test_support::sql::{assert_check_refuses, constraint_definition};
    let (app, a) = spawn_app_with_owner("Acme").await;
    let org: Uuid = a.org_id.parse().unwrap();
    let c = app.db.app_client().await;
    let insert = "INSERT INTO palisade.idempotency_keys (key, request_hash) \
                  VALUES ($1, decode(repeat('00', 32), 'hex'))";
    let longest = "~".repeat(255);
    let spaced = " a key with spaces ";
    begin_as(&c, org, "owner").await;
    for key in ["k", " ", "~", spaced, longest.as_str()] {
        c.execute(insert, &[&key])
            .await
            .unwrap_or_else(|e| panic!("{key:?}: {e}"));
    }
    let too_long = "k".repeat(256);
    for key in [
        "",
        too_long.as_str(),
        "caf\u{e9}",
        "tab\there",
        "new\nline",
        "line\n",
        "\u{7f}",
        "\u{1f600}",
    ] {
        assert_check_refuses(&c, insert, key, "idempotency_keys_key_check").await;
    }
    c.batch_execute("COMMIT").await.unwrap();
    assert_eq!(count(&app, "idempotency_keys", &a.org_id).await, 5);
    // V0167's form, validated: no `{1,255}` for PostgreSQL's regex engine to unroll (about 40 µs
    // a key, against 0.5).
    let su = app.db.superuser_client().await;
    assert_eq!(
        constraint_definition(&su, "idempotency_keys_key_check").await,
        (
            "CHECK ((((char_length(key) >= 1) AND (char_length(key) <= 255)) AND \
             (key ~ '^[\\x20-\\x7e]+$'::text)))"
                .to_owned(),
            true
        )
    );
}

/// The stored fingerprint is a SHA-256 of the request's body, and a body may carry a secret
/// that is written once and never shown (an integration's `secrets`): palisade_app cannot read
/// it back (a retry's is compared by `palisade_private.idempotency_request_matches`), so neither
/// the export nor any query can hand it out to test guesses of that secret against. Retries
/// still replay, and another body under the same key is still refused.
#[actix_web::test]
async fn the_stored_fingerprint_is_never_read_back() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let body = json!({"provider": "hubspot", "name": "HubSpot",
                      "secrets": {"private_app_token": "a guessable password"}});
    let first = post(&app, &a, "/v1/integrations", &body, "k").await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = post(&app, &a, "/v1/integrations", &body, "k").await;
    assert_eq!((again.status, &again.json), (201, &first.json));
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
    let mut guess = body.clone();
    guess["secrets"]["private_app_token"] = json!("another guess");
    post(&app, &a, "/v1/integrations", &guess, "k")
        .await
        .assert_error_at(422, "idempotency_key_reused", "another body");

    let c = app.db.app_client().await;
    begin_as(&c, &a.org_id, "owner").await;
    for sql in [
        "SELECT request_hash FROM palisade.idempotency_keys",
        "SELECT 1 FROM palisade.idempotency_keys WHERE request_hash IS NOT NULL",
        "SELECT k FROM palisade.idempotency_keys k",
    ] {
        c.batch_execute("SAVEPOINT s").await.unwrap();
        let err = c.query(sql, &[]).await.unwrap_err();
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}"
        );
        c.batch_execute("ROLLBACK TO SAVEPOINT s").await.unwrap();
    }
    let keys: i64 = c
        .query_one("SELECT count(*) FROM palisade.idempotency_keys", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(keys, 1);
    let export = app.get(&a, "/v1/organization/export").await;
    let rows = export.json["tables"]["idempotency_keys"]
        .as_array()
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].get("request_hash").is_none(), "{}", rows[0]);
}
