//! `/v1/integrations`: CRUD, write-only secrets, config validation, roles, filters, pagination.

use palisade_test_support::{spawn_app_with_owner, spawn_app_with_team};
use serde_json::{Value, json};

#[actix_web::test]
async fn crud_with_write_only_secrets() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let r = app
        .post(&a, "/v1/integrations", &json!({
                "provider": "salesforce",
                "name": " Salesforce EU ",
                "config": {"instance_url": "https://acme.my.salesforce.com", "sync": {"objects": ["lead", "case"]}},
                "secrets": {"client_secret": "sf-client-secret-value", "refresh_token": "sf-refresh-token-value"}
            }))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["provider"], "salesforce");
    assert_eq!(r.json["name"], "Salesforce EU");
    assert_eq!(r.json["config"]["sync"]["objects"], json!(["lead", "case"]));
    assert_eq!(
        r.json["secret_keys"],
        json!(["client_secret", "refresh_token"])
    );
    assert_eq!(r.json["enabled"], true);
    assert!(r.json.get("secrets").is_none());
    assert!(!r.text.contains("sf-client-secret-value"));
    let id = r.json["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/integrations/{id}");

    let got = app.get(&a, &path).await;
    assert_eq!((got.status, &got.json), (200, &r.json));

    // PATCH without secrets leaves them; with secrets replaces them all.
    let r = app
        .patch(&a, &path, &json!({"enabled": false, "config": {"instance_url": "https://acme2.my.salesforce.com"}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["enabled"], false);
    assert_eq!(
        r.json["secret_keys"],
        json!(["client_secret", "refresh_token"])
    );
    assert_eq!(
        r.json["config"],
        json!({"instance_url": "https://acme2.my.salesforce.com"})
    );
    let r = app
        .patch(
            &a,
            &path,
            &json!({"secrets": {"access_token": "sf-new-access-token"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["secret_keys"], json!(["access_token"]));
    assert!(!r.text.contains("sf-new-access-token"));
    let su = app.db.superuser_client().await;
    let stored: Value = su
        .query_one(
            "SELECT secrets FROM palisade.integrations WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, json!({"access_token": "sf-new-access-token"}));

    // The app role cannot read secrets at all, even with SQL of its own.
    let c = app.db.app_client().await;
    palisade_test_support::sql::begin_as(&c, &a.org_id, "owner").await;
    let err = c
        .query("SELECT secrets FROM palisade.integrations", &[])
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
    c.batch_execute("ROLLBACK").await.unwrap();

    for p in ["/v1/integrations", "/v1/organization/export"] {
        let r = app.get(&a, p).await;
        assert_eq!(r.status, 200);
        assert!(
            !r.text.contains("sf-new-access-token") && !r.text.contains("sf-client-secret-value"),
            "{p} shows a secret"
        );
    }

    let r = app.delete(&a, &path).await;
    assert_eq!(r.status, 204);
    let r = app.get(&a, &path).await;
    assert_eq!(r.status, 404);
}

#[actix_web::test]
async fn validation_and_duplicate_names() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    for (body, field) in [
        (json!({"name": "x"}), "provider"),
        (json!({"provider": "myspace", "name": "x"}), "provider"),
        (json!({"provider": "slack"}), "name"),
        (
            json!({"provider": "slack", "name": "x", "config": []}),
            "config",
        ),
        (
            json!({"provider": "slack", "name": "x", "config": {"api_token": "oops"}}),
            "config",
        ),
        (
            json!({"provider": "slack", "name": "x", "config": {"nested": {"password": "oops"}}}),
            "config",
        ),
        (
            json!({"provider": "slack", "name": "x", "config": {"Bad Key": 1}}),
            "config",
        ),
        (
            json!({"provider": "slack", "name": "x", "secrets": "token"}),
            "secrets",
        ),
        (
            json!({"provider": "slack", "name": "x", "secrets": {"bot_token": 42}}),
            "secrets",
        ),
        (
            json!({"provider": "slack", "name": "x", "secrets": {"bot_token": ""}}),
            "secrets",
        ),
    ] {
        let r = app.post(&a, "/v1/integrations", &body).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text);
        assert_eq!(r.json["fields"][0]["field"], field, "{body}");
    }
    let body = json!({"provider": "zendesk", "name": "Support", "config": {"subdomain": "acme"}});
    let r = app.post(&a, "/v1/integrations", &body).await;
    assert_eq!(r.status, 201);
    let path = format!("/v1/integrations/{}", r.json["id"].as_str().unwrap());
    let r = app.post(&a, "/v1/integrations", &body).await;
    r.assert_taken("name_taken", "name");
    // Another organization may use the same name.
    let b = app.signup("Other").await;
    let r = app.post(&b, "/v1/integrations", &body).await;
    assert_eq!(r.status, 201);
    for patch in [
        json!({"name": null}),
        json!({"config": null}),
        json!({"secrets": null}),
        json!({"enabled": null}),
        json!({"provider": "slack"}),
    ] {
        let r = app.patch(&a, &path, &patch).await;
        assert!(r.status == 422 || r.status == 400, "{patch}: {}", r.text);
    }
    let r = app.get(&a, "/v1/integrations?provider=myspace").await;
    assert_eq!(r.status, 422);
}

#[actix_web::test]
async fn members_read_admins_write() {
    let (app, _owner, admin, member) = spawn_app_with_team("Acme").await;
    let r = app
        .call(
            "POST",
            "/v1/integrations",
            Some(&admin.token),
            Some(
                &json!({"provider": "slack", "name": "Slack", "secrets": {"bot_token": "xoxb-1"}}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let path = format!("/v1/integrations/{}", r.json["id"].as_str().unwrap());
    let mine = json!({"provider": "slack", "name": "Mine"});
    let writes = [
        ("POST", "/v1/integrations", Some(mine)),
        ("PATCH", &path, Some(json!({"enabled": false}))),
        ("DELETE", &path, None),
    ];
    app.assert_forbidden(&member, &writes).await;
    let r = app.get(&member, &path).await;
    assert_eq!((r.status, &r.json["enabled"]), (200, &json!(true)));
    let r = app.get(&member, "/v1/integrations").await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn filters_and_pagination() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let mut ids = Vec::new();
    for (i, provider) in ["slack", "hubspot", "slack", "zapier"].iter().enumerate() {
        let r = app
            .post(
                &a,
                "/v1/integrations",
                &json!({"provider": provider, "name": format!("n{i}"), "enabled": i != 2}),
            )
            .await;
        assert_eq!(r.status, 201);
        ids.push(r.json["id"].as_str().unwrap().to_owned());
    }
    let list = |q: &'static str| {
        let (app, a, path) = (&app, &a, format!("/v1/integrations{q}"));
        async move { app.page(a, &path).await }
    };
    assert_eq!(
        list("?provider=slack").await.0,
        [ids[2].clone(), ids[0].clone()]
    );
    assert_eq!(
        list("?provider=slack&enabled=true").await.0,
        [ids[0].clone()]
    );
    assert_eq!(list("?enabled=false").await.0, [ids[2].clone()]);
    let (page1, cursor) = list("?limit=3").await;
    assert_eq!(page1, [ids[3].clone(), ids[2].clone(), ids[1].clone()]);
    let r = app
        .get(
            &a,
            &format!("/v1/integrations?limit=3&cursor={}", cursor.unwrap()),
        )
        .await;
    assert_eq!(r.json["data"][0]["id"], ids[0].as_str());
    assert_eq!(r.json["next_cursor"], Value::Null);
}

/// The write-only shape every secret has: `has_secrets` follows what is set (never the values),
/// through create, a PATCH that leaves them, one that replaces them and one that empties them.
#[actix_web::test]
async fn has_secrets_says_whether_any_secret_is_set() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let with = app
        .create(
            &a,
            "/v1/integrations",
            json!({"provider": "slack", "name": "S", "secrets": {"bot_token": "xoxb-value"}}),
        )
        .await;
    assert_eq!(with["has_secrets"], true, "{with}");
    let without = app
        .create(
            &a,
            "/v1/integrations",
            json!({"provider": "zendesk", "name": "Z"}),
        )
        .await;
    assert_eq!(without["has_secrets"], false, "{without}");
    let path = format!("/v1/integrations/{}", with["id"].as_str().unwrap());
    let steps = [
        (json!({"enabled": false}), true),
        (json!({"secrets": {"signing_secret": "v2"}}), true),
        (json!({"secrets": {}}), false),
    ];
    for (patch, expected) in steps {
        let r = app.patch(&a, &path, &patch).await;
        assert_eq!(r.status, 200, "PATCH {patch}: {}", r.text);
        assert_eq!(r.json["has_secrets"], expected, "PATCH {patch}: {}", r.text);
        assert!(
            !r.text.contains("xoxb-value") && !r.text.contains("\"v2\""),
            "{}",
            r.text
        );
    }
}

/// `config` and `secrets` are bounded by their text as jsonb prints it
/// (`octet_length(config::text) <= 16384`, `octet_length(secrets::text) <= 65536`,
/// sql/V0030), which is longer than the text a client sent: jsonb prints `1e300` with its 301
/// digits and puts a space after every `:` and `,`. Such values were a 500; they are refused on
/// the field (`too_long`) and change nothing.
#[actix_web::test]
async fn config_and_secrets_too_large_as_stored_are_refused_and_change_nothing() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    // 60 × 301 digits: over 16 KiB as jsonb prints it, 360 bytes as sent.
    let big_config = json!({"limits": vec![1e300; 60]});
    let r = app
        .post(
            &a,
            "/v1/integrations",
            &json!({"provider": "slack", "name": "s", "config": big_config}),
        )
        .await;
    let refused = &r.json["fields"][0];
    assert_eq!(
        (r.status, &refused["field"], &refused["code"]),
        (422, &json!("config"), &json!("too_long")),
        "{}",
        r.text
    );
    assert_eq!(
        app.get(&a, "/v1/integrations").await.json["data"],
        json!([])
    );

    let created = app
        .create(
            &a,
            "/v1/integrations",
            json!({"provider": "slack", "name": "s", "config": {"limits": vec![1e300; 50]},
                   "secrets": {"token_a": "x"}}),
        )
        .await;
    let path = format!("/v1/integrations/{}", created["id"].as_str().unwrap());
    // 20 secrets filling a 64 KiB body to the byte: jsonb's text adds ": " and ", ", 39 bytes,
    // so the stored text is over 65536.
    let key = |i: usize| format!("key_{i:02}");
    let mut secrets = serde_json::Map::new();
    for i in 0..20 {
        secrets.insert(key(i), json!("a".repeat(3250)));
    }
    let body_len = |s: &serde_json::Map<String, Value>| json!({"secrets": s}).to_string().len();
    let short = palisade_api::MAX_JSON_BODY - body_len(&secrets);
    secrets.insert(key(0), json!("a".repeat(3250 + short)));
    assert_eq!(body_len(&secrets), palisade_api::MAX_JSON_BODY);
    let r = app.patch(&a, &path, &json!({"secrets": secrets})).await;
    let refused = &r.json["fields"][0];
    assert_eq!(
        (r.status, &refused["field"], &refused["code"]),
        (422, &json!("secrets"), &json!("too_long")),
        "{}",
        r.text
    );
    let r = app.patch(&a, &path, &json!({"config": big_config})).await;
    assert_eq!(
        (r.status, &r.json["fields"][0]["field"]),
        (422, &json!("config")),
        "{}",
        r.text
    );
    assert_eq!(app.get(&a, &path).await.json, created);
}
