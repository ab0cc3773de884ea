//! `/v1/webhooks`: CRUD, the URL validation table, the signing secret shown once (and rotated),
//! roles, filters and pagination, and who a webhook's sending depends on (`enabled_by`).

use palisade_domain::Role;
use palisade_test_support::sql::{
    begin_as_user, begin_new_organization, execute_as, rollback, sqlstate,
};
use palisade_test_support::{
    Account, TestApp, TestResponse, id, spawn_app_with_owner, spawn_app_with_team,
};
use serde_json::{Value, json};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

/// `POST /v1/webhooks` of `url` for `customer.created`, as `acct`.
async fn post(app: &TestApp, acct: &Account, url: &str) -> TestResponse {
    let body = json!({"url": url, "event_types": ["customer.created"]});
    app.post(acct, "/v1/webhooks", &body).await
}

async fn create(app: &TestApp, acct: &Account, url: &str) -> Value {
    let r = post(app, acct, url).await;
    assert_eq!(r.status, 201, "{url}: {}", r.text);
    r.json
}

#[actix_web::test]
async fn the_url_validation_table() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let good = [
        (
            "https://hooks.example.com/palisade",
            "https://hooks.example.com/palisade",
        ),
        ("HTTPS://Hooks.Example.COM", "https://hooks.example.com/"),
        (
            "https://api.example.co.uk:8443/in?token=abc",
            "https://api.example.co.uk:8443/in?token=abc",
        ),
        (
            "https://hooks.example.com./x",
            "https://hooks.example.com./x",
        ),
        ("https://8.8.8.8/hook", "https://8.8.8.8/hook"),
        (
            "https://[2606:4700:4700::1111]/hook",
            "https://[2606:4700:4700::1111]/hook",
        ),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        (
            "  https://hooks.example.com/trimmed  ",
            "https://hooks.example.com/trimmed",
        ),
    ];
    for (input, stored) in good {
        let w = create(&app, &a, input).await;
        assert_eq!(w["url"], stored, "{input}");
    }
    let bad = [
        // Not https, not absolute, not a URL.
        "http://hooks.example.com/",
        "ftp://hooks.example.com/",
        "hooks.example.com/x",
        "https:hooks.example.com",
        "https://",
        "",
        // Credentials, fragments, whitespace, backslash tricks.
        "https://user:pass@hooks.example.com/",
        "https://hooks.example.com@127.0.0.1/",
        "https://hooks.example.com/#x",
        "https://hooks .example.com/",
        "https://hooks.example.com\\@127.0.0.1/",
        // Local names.
        "https://localhost/",
        "https://LocalHost:8443/",
        "https://localhost./",
        "https://app.localhost/",
        "https://printer.local/",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://nas.home.arpa/",
        "https://db/",
        // Loopback, private, link-local, CGNAT, multicast, unspecified, broadcast, reserved.
        "https://127.0.0.1/",
        "https://127.255.255.254/",
        "https://10.0.0.1/",
        "https://172.16.5.4/",
        "https://192.168.1.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/",
        "https://100.127.255.255/",
        "https://224.0.0.251/",
        "https://0.0.0.0/",
        "https://255.255.255.255/",
        "https://240.0.0.1/",
        "https://192.0.2.10/",
        // The same addresses in other spellings an HTTP client would accept.
        "https://2130706433/",
        "https://0x7f000001/",
        "https://0x7f.0x0.0x0.0x1/",
        "https://0177.0.0.1/",
        "https://017700000001/",
        "https://127.1/",
        "https://0/",
        "https://%31%32%37.0.0.1/",
        "https://0xa9.0xfe.0xa9.0xfe/",
        "https://3232235777/",
        // IPv6: loopback, unspecified, link-local, unique-local, multicast, mapped, NAT64, 6to4, doc.
        "https://[::1]/",
        "https://[0:0:0:0:0:0:0:1]/",
        "https://[::]/",
        "https://[fe80::1]/",
        "https://[fe80::1%25eth0]/",
        "https://[fc00::1]/",
        "https://[fd00:ec2::254]/",
        "https://[ff02::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:a9fe:a9fe]/",
        "https://[::ffff:192.168.0.1]/",
        "https://[64:ff9b::a9fe:a9fe]/",
        "https://[2002:7f00:1::1]/",
        "https://[2001:db8::1]/",
        "https://[::127.0.0.1]/",
    ];
    for input in bad {
        let r = post(&app, &a, input).await;
        assert_eq!(r.status, 422, "{input:?} accepted: {}", r.text);
        assert_eq!(r.json["fields"][0]["field"], "url", "{input:?}");
    }
    // PATCH validates the same way.
    let w = create(&app, &a, "https://hooks.example.com/ok").await;
    let path = format!("/v1/webhooks/{}", w["id"].as_str().unwrap());
    let r = app
        .patch(&a, &path, &json!({"url": "https://[::1]/"}))
        .await;
    assert_eq!(r.status, 422);
    let r = app.get(&a, "/v1/webhooks?limit=100").await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), good.len() + 1);
}

#[actix_web::test]
async fn crud_with_a_secret_shown_once_and_rotated() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let r = app
        .call(
            "POST",
            "/v1/webhooks",
            Some(&a.token),
            Some(
                &json!({"url": "https://hooks.example.com/in", "description": "CRM sync",
                         "event_types": ["invoice.paid", "customer.created", "invoice.paid"]}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let secret = r.json["signing_secret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 6 + 44 && secret.ends_with('='),
        "{secret}"
    );
    assert_eq!(
        r.json["event_types"],
        json!(["customer.created", "invoice.paid"])
    );
    assert_eq!(r.json["enabled"], true);
    let path = format!("/v1/webhooks/{}", r.json["id"].as_str().unwrap());

    let got = app.get(&a, &path).await;
    assert_eq!(got.status, 200);
    assert!(got.json.get("signing_secret").is_none());
    assert_eq!(got.json["has_signing_secret"], true, "{}", got.text);
    assert!(!got.text.contains(&secret));

    let r = app
        .call(
            "PATCH",
            &path,
            Some(&a.token),
            Some(
                &json!({"enabled": false, "description": null, "event_types": ["call.completed"]}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["enabled"], false);
    assert_eq!(r.json["description"], Value::Null);
    assert_eq!(r.json["event_types"], json!(["call.completed"]));
    assert_eq!(r.json["url"], "https://hooks.example.com/in");
    assert!(!r.text.contains(&secret));

    // Rotation shows the new secret once; the stored one changes; neither is shown again.
    let rotate = format!("{path}/rotate-secret");
    let r = app.request_as(&a, "POST", &rotate, None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let rotated = r.json["signing_secret"].as_str().unwrap().to_owned();
    assert_ne!(rotated, secret);
    let su = app.db.superuser_client().await;
    let stored: String = su
        .query_one(
            "SELECT signing_secret FROM palisade.outbound_webhooks WHERE id = $1::text::uuid",
            &[&r.json["id"].as_str().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, rotated, "the shown secret is the one that signs");
    for p in [
        path.clone(),
        "/v1/webhooks".into(),
        "/v1/organization/export".into(),
    ] {
        let r = app.get(&a, &p).await;
        assert_eq!(r.status, 200);
        assert!(
            !r.text.contains(&rotated) && !r.text.contains(&secret),
            "{p}"
        );
    }

    let r = app.delete(&a, &path).await;
    assert_eq!(r.status, 204);
    let r = app.get(&a, &path).await;
    assert_eq!(r.status, 404);
    let r = app.request_as(&a, "POST", &rotate, None, &[]).await;
    assert_eq!(r.status, 404);
}

#[actix_web::test]
async fn validation_of_event_types_and_other_fields() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    for (body, field) in [
        (json!({"url": "https://hooks.example.com/"}), "event_types"),
        (
            json!({"url": "https://hooks.example.com/", "event_types": []}),
            "event_types",
        ),
        (
            json!({"url": "https://hooks.example.com/", "event_types": ["customer.exploded"]}),
            "event_types",
        ),
        (json!({"event_types": ["customer.created"]}), "url"),
        (
            json!({"url": "https://hooks.example.com/", "event_types": ["customer.created"], "description": " "}),
            "description",
        ),
    ] {
        let r = app.post(&a, "/v1/webhooks", &body).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text);
        assert_eq!(r.json["fields"][0]["field"], field, "{body}");
    }
    let r = app
        .post(&a, "/v1/webhooks", &json!({"url": "https://hooks.example.com/", "event_types": ["customer.created"], "signing_secret": "whsec_mine"}))
        .await;
    assert_eq!(r.status, 400, "a client cannot choose the secret");
    let w = create(&app, &a, "https://hooks.example.com/").await;
    let path = format!("/v1/webhooks/{}", w["id"].as_str().unwrap());
    for body in [
        json!({"url": null}),
        json!({"event_types": null}),
        json!({"enabled": null}),
    ] {
        let r = app.patch(&a, &path, &body).await;
        assert_eq!(r.status, 422, "{body}");
    }
    let r = app.get(&a, "/v1/webhooks?event_type=nope").await;
    assert_eq!(r.status, 422);
}

#[actix_web::test]
async fn members_read_admins_write() {
    let (app, _owner, admin, member) = spawn_app_with_team("Acme").await;
    let w = create(&app, &admin, "https://hooks.example.com/by-admin").await;
    let path = format!("/v1/webhooks/{}", w["id"].as_str().unwrap());
    let body = json!({"url": "https://hooks.example.com/m", "event_types": ["customer.created"]});
    for (method, p, body) in [
        ("POST", "/v1/webhooks".to_owned(), Some(&body)),
        ("PATCH", path.clone(), Some(&json!({"enabled": false}))),
        ("DELETE", path.clone(), None),
        ("POST", format!("{path}/rotate-secret"), None),
    ] {
        let r = app.call(method, &p, Some(&member.token), body).await;
        assert_eq!(r.status, 403, "member {method} {p}: {}", r.text);
        assert_eq!(r.json["error"], "forbidden");
    }
    let r = app.get(&member, &path).await;
    assert_eq!((r.status, &r.json["enabled"]), (200, &json!(true)));
    let r = app.get(&member, "/v1/webhooks").await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn another_organizations_webhook_cannot_be_rotated_and_filters_work() {
    let (app, a) = spawn_app_with_owner("Tenant A").await;
    let b = app.signup("Tenant B").await;
    let wb = create(&app, &b, "https://hooks.example.com/b").await;
    let path = format!("/v1/webhooks/{}/rotate-secret", wb["id"].as_str().unwrap());
    let missing = format!("/v1/webhooks/{}/rotate-secret", uuid::Uuid::now_v7());
    let r = app.call("POST", &path, Some(&a.token), None).await;
    let m = app.call("POST", &missing, Some(&a.token), None).await;
    assert_eq!((r.status, &r.json), (404, &m.json));

    let w1 = create(&app, &a, "https://one.example.com/").await;
    let r = app
        .post(&a, "/v1/webhooks", &json!({"url": "https://two.example.com/", "event_types": ["invoice.paid"], "enabled": false}))
        .await;
    let w2 = r.json;
    let ids = |r: &palisade_test_support::TestResponse| -> Vec<String> {
        r.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = app.get(&a, "/v1/webhooks?enabled=false").await;
    assert_eq!(ids(&r), [w2["id"].as_str().unwrap()]);
    let r = app
        .get(&a, "/v1/webhooks?event_type=customer.created")
        .await;
    assert_eq!(ids(&r), [w1["id"].as_str().unwrap()]);
    let r = app.get(&a, "/v1/webhooks?limit=1").await;
    assert_eq!(ids(&r), [w2["id"].as_str().unwrap()]);
    let cursor = r.json["next_cursor"].as_str().unwrap();
    let r = app
        .get(&a, &format!("/v1/webhooks?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(ids(&r), [w1["id"].as_str().unwrap()]);
    assert_eq!(r.json["next_cursor"], Value::Null);
}

/// Invariant 7 for webhooks: where a webhook sends the organization's events was chosen on
/// someone's authority, recorded as `enabled_by` (who created it, last changed its URL or last
/// enabled it; a key's creator for a key). Removing that person, or making them a member,
/// disables it in the same transaction, and no event is queued for it after; what others chose
/// is untouched, and the person gets nothing back by being promoted again.
#[actix_web::test]
async fn a_webhook_is_disabled_when_whoever_enabled_it_loses_access() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let (removed, demoted, keeper) = (
        app.add_user(&owner, Role::Admin).await,
        app.add_user(&owner, Role::Admin).await,
        app.add_user(&owner, Role::Admin).await,
    );
    let enabled_by = |w: &Value| w["enabled_by"].as_str().map(str::to_owned);
    let patch = |who: &Account, w: &Value, body: Value| {
        let path = format!("/v1/webhooks/{}", id(w));
        let (app, who) = (&app, who.clone());
        async move {
            let r = app.patch(&who, &path, &body).await;
            assert_eq!(r.status, 200, "{path} {body}: {}", r.text);
            r.json
        }
    };

    // Created by the one removed later.
    let made = create(&app, &removed, "https://removed.example.com/made").await;
    assert_eq!(enabled_by(&made).as_deref(), Some(removed.user_id.as_str()));
    // Created by the keeper, then pointed elsewhere by the one removed later.
    let repointed = create(&app, &keeper, "https://keeper.example.com/a").await;
    let repointed = patch(
        &removed,
        &repointed,
        json!({"url": "https://removed.example.com/repointed"}),
    )
    .await;
    assert_eq!(
        enabled_by(&repointed).as_deref(),
        Some(removed.user_id.as_str())
    );
    // Created disabled by the owner, then enabled by the one removed later.
    let r = app
        .post(&owner, "/v1/webhooks", &json!({"url": "https://owner.example.com/off", "event_types": ["customer.created"], "enabled": false}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(enabled_by(&r.json).as_deref(), Some(owner.user_id.as_str()));
    let switched_on = patch(&removed, &r.json, json!({"enabled": true})).await;
    assert_eq!(
        enabled_by(&switched_on).as_deref(),
        Some(removed.user_id.as_str())
    );
    // The keeper's, which the one removed later only described (and set to the same URL):
    // still the keeper's.
    let described = create(&app, &keeper, "https://keeper.example.com/b").await;
    let described = patch(
        &removed,
        &described,
        json!({"description": "mine now?", "url": "https://keeper.example.com/b", "event_types": ["customer.created", "customer.deleted"]}),
    )
    .await;
    assert_eq!(
        enabled_by(&described).as_deref(),
        Some(keeper.user_id.as_str())
    );
    // Made by the one removed later and already disabled by hand: stays as it is.
    let off = create(&app, &removed, "https://removed.example.com/off").await;
    let off = patch(&owner, &off, json!({"enabled": false})).await;
    // Made with an admin API key of the one demoted later: the key's creator.
    let key = app.api_key(&demoted, "integration", Role::Admin).await;
    let by_key = app
        .create(
            &key,
            "/v1/webhooks",
            json!({"url": "https://demoted.example.com/key", "event_types": ["customer.created"]}),
        )
        .await;
    assert_eq!(
        enabled_by(&by_key).as_deref(),
        Some(demoted.user_id.as_str())
    );
    // ...and with their own session.
    let by_session = create(&app, &demoted, "https://demoted.example.com/session").await;

    // Listed by whom they answer to: what an owner reviews after an account was taken over
    // (walked one per page, so the filter holds across pages).
    let answering = |user: &str| {
        let query = format!("enabled_by={user}");
        let (app, owner) = (&app, &owner);
        async move {
            let mut ids: Vec<String> = app
                .walk(owner, "/v1/webhooks", &query, 1)
                .await
                .iter()
                .map(|w| id(w).to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    let mut expected: Vec<String> = [&made, &repointed, &switched_on, &off]
        .iter()
        .map(|w| id(w).to_owned())
        .collect();
    expected.sort();
    assert_eq!(answering(&removed.user_id).await, expected);
    let mut expected = vec![id(&by_key).to_owned(), id(&by_session).to_owned()];
    expected.sort();
    assert_eq!(answering(&demoted.user_id).await, expected);
    // Another organization's user, who has a webhook of their own there: none of Acme's.
    let other = app.signup("Other").await;
    create(&app, &other, "https://other.example.com/").await;
    assert_eq!(answering(&other.user_id).await, Vec::<String>::new());
    let r = app.get(&owner, "/v1/webhooks?enabled_by=me").await;
    assert_eq!(
        (r.status, &r.json["fields"][0]["field"]),
        (422, &json!("enabled_by")),
        "{}",
        r.text
    );

    app.set_role(&owner, &demoted, Role::Member).await;
    app.remove_member(&owner, &removed).await;

    let state = |w: Value| (w["enabled"].clone(), w["disabled_reason"].clone());
    for (w, reason) in [
        (&made, "enabler_removed"),
        (&repointed, "enabler_removed"),
        (&switched_on, "enabler_removed"),
        (&by_key, "enabler_demoted"),
        (&by_session, "enabler_demoted"),
    ] {
        let now = app.get_ok(&owner, &format!("/v1/webhooks/{}", id(w))).await;
        assert!(now["disabled_at"].is_string(), "{now}");
        assert_eq!(state(now), (json!(false), json!(reason)), "{}", w["url"]);
    }
    let now = app
        .get_ok(&owner, &format!("/v1/webhooks/{}", id(&described)))
        .await;
    assert_eq!(state(now), (json!(true), Value::Null));
    let now = app
        .get_ok(&owner, &format!("/v1/webhooks/{}", id(&off)))
        .await;
    assert_eq!(state(now), (json!(false), Value::Null));

    // An event now goes to the keeper's webhook only.
    app.create(&owner, "/v1/customers", json!({"name": "Ada"}))
        .await;
    for (w, expected) in [
        (&described, 1),
        (&made, 0),
        (&repointed, 0),
        (&switched_on, 0),
        (&by_key, 0),
        (&by_session, 0),
    ] {
        let queued = app
            .list_ids(&owner, &format!("/v1/webhooks/{}/deliveries", id(w)))
            .await;
        assert_eq!(queued.len(), expected, "{}", w["url"]);
    }

    // Made an admin again, the demoted one gets nothing back; whoever enables it answers for it.
    app.set_role(&owner, &demoted, Role::Admin).await;
    let now = app
        .get_ok(&owner, &format!("/v1/webhooks/{}", id(&by_key)))
        .await;
    assert_eq!(state(now), (json!(false), json!("enabler_demoted")));
    let again = patch(&keeper, &made, json!({"enabled": true})).await;
    assert_eq!(state(again.clone()), (json!(true), Value::Null));
    assert_eq!(again["disabled_at"], Value::Null);
    assert_eq!(enabled_by(&again).as_deref(), Some(keeper.user_id.as_str()));
}

/// `enabled_by` is the trigger's to write, from the transaction's user: the app role cannot set
/// it on an INSERT (overwritten) or an UPDATE (no privilege), and a write that sets neither the
/// URL nor `enabled` leaves it. Nor can it write `disabled_reason`.
#[tokio::test]
async fn enabled_by_is_written_by_the_trigger_only() {
    let db = palisade_test_support::TestDb::new().await;
    let c = db.app_client().await;
    let org = begin_new_organization(&c).await;
    let (admin, someone) = (Uuid::now_v7(), Uuid::now_v7());
    for user in [admin, someone] {
        c.execute(
            "INSERT INTO palisade.users (id, email, name, role, password_hash) \
             VALUES ($1, $2, 'U', 'admin', 'x')",
            &[&user, &format!("{user}@example.com")],
        )
        .await
        .unwrap();
    }
    c.batch_execute("COMMIT").await.unwrap();
    let id = Uuid::now_v7();
    execute_as(
        &c,
        org,
        admin,
        "admin",
        "INSERT INTO palisade.outbound_webhooks (id, url, event_types, signing_secret, enabled_by) \
         VALUES ($1, 'https://hooks.example.com/', '{customer.created}', $2, $3)",
        &[&id, &format!("whsec_{}=", "A".repeat(43)), &someone],
    )
    .await;
    let read = "SELECT enabled_by FROM palisade.outbound_webhooks WHERE id = $1";
    begin_as_user(&c, org, someone, "admin").await;
    let found: Option<Uuid> = c.query_one(read, &[&id]).await.unwrap().get(0);
    assert_eq!(found, Some(admin), "the INSERT's own value is overwritten");
    let err = c
        .execute(
            "UPDATE palisade.outbound_webhooks SET enabled_by = $2 WHERE id = $1",
            &[&id, &someone],
        )
        .await
        .unwrap_err();
    assert_eq!(
        sqlstate(&err, "enabled_by"),
        &SqlState::INSUFFICIENT_PRIVILEGE
    );
    rollback(&c).await;
    // Nor the reason a webhook was disabled: the trigger and the worker's function say it, and
    // an INSERT's own is cleared.
    let forged = Uuid::now_v7();
    execute_as(
        &c,
        org,
        admin,
        "admin",
        "INSERT INTO palisade.outbound_webhooks \
             (id, url, event_types, signing_secret, enabled, disabled_reason, disabled_at) \
         VALUES ($1, 'https://hooks.example.com/', '{customer.created}', $2, false, \
                 'delivery_failures', now())",
        &[&forged, &format!("whsec_{}=", "A".repeat(43))],
    )
    .await;
    begin_as_user(&c, org, admin, "admin").await;
    let row = c
        .query_one(
            "SELECT disabled_reason, disabled_at IS NULL FROM palisade.outbound_webhooks \
             WHERE id = $1",
            &[&forged],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, Option<String>>(0), row.get::<_, bool>(1)),
        (None, true)
    );
    rollback(&c).await;
    begin_as_user(&c, org, admin, "admin").await;
    let err = c
        .execute(
            "UPDATE palisade.outbound_webhooks \
             SET enabled = false, disabled_reason = 'delivery_failures', disabled_at = now() \
             WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap_err();
    assert_eq!(
        sqlstate(&err, "disabled_reason"),
        &SqlState::INSUFFICIENT_PRIVILEGE
    );
    rollback(&c).await;
    execute_as(
        &c,
        org,
        someone,
        "admin",
        "UPDATE palisade.outbound_webhooks SET description = 'd', enabled = true WHERE id = $1",
        &[&id],
    )
    .await;
    begin_as_user(&c, org, someone, "admin").await;
    let found: Option<Uuid> = c.query_one(read, &[&id]).await.unwrap().get(0);
    assert_eq!(
        found,
        Some(admin),
        "an enabled webhook left enabled keeps its enabler"
    );
    rollback(&c).await;
}

/// Runs `work` until it finishes or exactly one session of `app`'s database waits on a lock,
/// whichever comes first, then runs `release` (the COMMIT the waiter waits for), and returns
/// what `work` answered. A `work` that never waits still finishes, and its answer shows it.
async fn release_when_it_waits<T>(
    app: &TestApp,
    work: impl std::future::Future<Output = T>,
    release: impl std::future::Future<Output = ()>,
) -> T {
    use futures_util::future::{Either, select};
    let waits = Box::pin(app.db.until_one_session_waits_on_a_lock());
    match select(Box::pin(work), waits).await {
        Either::Left((answer, _)) => {
            release.await;
            answer
        }
        Either::Right(((), work)) => {
            release.await;
            work.await
        }
    }
}

/// A webhook write racing its writer's removal or demotion (the writer's request checked before
/// that change committed, as a request in flight is): the trigger holds the writer's row, so a
/// removal that comes second waits for the write and then disables what it enabled, and a write
/// that comes second is refused (401 `user_gone` / 403 for a member) with nothing written. In
/// SQL as the app role, so that each order is certain (the second session is released once the
/// first waits on its lock).
#[actix_web::test]
async fn a_webhook_write_racing_its_writers_removal_is_waited_for_or_refused() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let (first, second, third, co_owner) = (
        app.add_user(&owner, Role::Admin).await,
        app.add_user(&owner, Role::Admin).await,
        app.add_user(&owner, Role::Admin).await,
        app.add_user(&owner, Role::Owner).await,
    );
    let mut off = Vec::new();
    for n in 0..2 {
        let r = app
            .post(&owner, "/v1/webhooks", &json!({"url": format!("https://hooks.example.com/{n}"), "event_types": ["customer.created"], "enabled": false}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        off.push(Uuid::parse_str(id(&r.json)).unwrap());
    }
    let enable = "UPDATE palisade.outbound_webhooks SET enabled = true WHERE id = $1";

    // 1. The write first: the removal (through the API) waits for it, then disables it.
    let writer = app.db.app_client().await;
    begin_as_user(&writer, &owner.org_id, &first.user_id, "admin").await;
    assert_eq!(writer.execute(enable, &[&off[0]]).await.unwrap(), 1);
    let member = format!("/v1/members/{}", first.user_id);
    let commit = async { writer.batch_execute("COMMIT").await.unwrap() };
    let r = release_when_it_waits(&app, app.delete(&owner, &member), commit).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let now = app
        .get_ok(&owner, &format!("/v1/webhooks/{}", off[0]))
        .await;
    assert_eq!(
        (&now["enabled"], &now["disabled_reason"], &now["enabled_by"]),
        (
            &json!(false),
            &json!("enabler_removed"),
            &json!(first.user_id)
        ),
    );

    // 2. The removal or the demotion first, uncommitted: the write waits, then is refused. The
    // last writer is an owner acting as an admin, as an owner's API key does (its role is at
    // most admin): the lock must reach an owner's row from an admin's context too.
    let remove = "DELETE FROM palisade.users WHERE id = $1::text::uuid";
    let demote = "UPDATE palisade.users SET role = 'member' WHERE id = $1::text::uuid";
    for (who, change, refusal) in [
        (&second, remove, "PA401"),
        (&third, demote, "PA403"),
        (&co_owner, remove, "PA401"),
    ] {
        let remover = app.db.app_client().await;
        begin_as_user(&remover, &owner.org_id, &owner.user_id, "owner").await;
        assert_eq!(remover.execute(change, &[&who.user_id]).await.unwrap(), 1);
        let writer = app.db.app_client().await;
        begin_as_user(&writer, &owner.org_id, &who.user_id, "admin").await;
        let webhook = off[1];
        let write = async {
            let answer = writer.execute(enable, &[&webhook]).await;
            writer.batch_execute("ROLLBACK").await.unwrap();
            answer
        };
        let commit = async { remover.batch_execute("COMMIT").await.unwrap() };
        let err = release_when_it_waits(&app, write, commit)
            .await
            .unwrap_err();
        assert_eq!(
            err.as_db_error().map(|e| e.code().code()),
            Some(refusal),
            "{change}: {err:?}"
        );
    }
    let now = app
        .get_ok(&owner, &format!("/v1/webhooks/{}", off[1]))
        .await;
    assert_eq!(
        (&now["enabled"], &now["enabled_by"]),
        (&json!(false), &json!(owner.user_id)),
    );
}

/// An upgrade from before V0172: an existing webhook names nobody (`enabled_by: null`) and keeps
/// working as it did; removing an admin, who may have made it, disables nothing (nobody was
/// recorded: docs/outbound-webhooks.md says to review these); re-pointing it makes its writer its
/// `enabled_by` (what that then means: `a_webhook_is_disabled_when_whoever_enabled_it_loses_access`).
#[actix_web::test]
async fn after_an_upgrade_an_older_webhook_names_nobody_until_it_is_re_pointed() {
    use palisade_test_support::{TestDb, spawn_app_on};
    use std::sync::Arc;
    let db = Arc::new(TestDb::at_version(171).await);
    let password = "the owner's own password";
    let (org, owner, email) = db.insert_old_owner(password).await;
    let (admin, webhook) = (Uuid::now_v7(), Uuid::now_v7());
    let c = db.superuser_client().await;
    c.execute(
        "INSERT INTO palisade.users (organization_id, id, email, name, role, password_hash) \
         VALUES ($1, $2, $3, 'Admin', 'admin', 'x')",
        &[&org, &admin, &format!("admin-{admin}@example.com")],
    )
    .await
    .unwrap();
    c.execute(
        "INSERT INTO palisade.outbound_webhooks \
             (organization_id, id, url, event_types, signing_secret) \
         VALUES ($1, $2, 'https://hooks.example.com/old', '{customer.created}', $3)",
        &[&org, &webhook, &format!("whsec_{}=", "A".repeat(43))],
    )
    .await
    .unwrap();

    db.upgrade().await;
    let app = spawn_app_on(db).await;
    let r = app.login(&email, password).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.json["token"].as_str().unwrap().to_owned();
    let path = format!("/v1/webhooks/{webhook}");
    let now = app.get_ok(token.as_str(), &path).await;
    assert_eq!(
        (&now["enabled"], &now["enabled_by"], &now["disabled_reason"]),
        (&json!(true), &Value::Null, &Value::Null)
    );
    let r = app
        .delete(token.as_str(), &format!("/v1/members/{admin}"))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // Still sent to: an event is queued for it.
    app.create(token.as_str(), "/v1/customers", json!({"name": "Ada"}))
        .await;
    let queued = app
        .list_ids(token.as_str(), &format!("{path}/deliveries"))
        .await;
    assert_eq!(queued.len(), 1);
    let r = app
        .patch(
            token.as_str(),
            &path,
            &json!({"url": "https://hooks.example.com/new"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["enabled_by"], json!(owner.to_string()));
}
