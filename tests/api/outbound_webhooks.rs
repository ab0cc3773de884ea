//! `/v1/webhooks`: CRUD, the URL validation table, the signing secret shown once (and rotated),
//! roles, filters and pagination.

use palisade_test_support::{
    Account, TestApp, TestResponse, spawn_app_with_owner, spawn_app_with_team,
};
use serde_json::{Value, json};

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
