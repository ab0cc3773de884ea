//! The API's conventions (docs/api.md), checked on every list and item the isolation seeders
//! create rather than family by family: a new resource that registers its seeder is checked
//! here too.
//!
//! - every list takes `limit`, `cursor`, `created_after` (inclusive) and `created_before`
//!   (exclusive), refuses an unknown or repeated parameter with 400, and refuses another
//!   list's cursor with 400;
//! - every 201 carries a `Location` that reads back the created resource (checked for every
//!   create in every test, by `TestApp::call`);
//! - `/v1/me` reports the credential's effective role.
//! - `HEAD` answers as `GET` without a body.

use palisade_test_support::ids;
use palisade_test_support::{TestApp, spawn_app_with_owner};
use serde_json::{Value, json};

use crate::isolation::seed_all;

/// The list paths among the seeded views: GET answers `{"data": [...], "next_cursor"}`.
async fn lists(app: &TestApp, token: &str, views: &[String]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for v in views {
        let r = app.get(token, v).await;
        assert_eq!(r.status, 200, "GET {v}: {}", r.text);
        if r.json["data"].is_array() && r.json.get("next_cursor").is_some() {
            out.push((v.clone(), r.json));
        }
    }
    out
}

fn with_param(path: &str, param: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}{param}")
}

#[actix_web::test]
async fn every_list_follows_the_same_query_rules() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let seeded = seed_all(&app, &a, "conv").await;
    // A second customer, so that the customer list has a next page and a cursor.
    app.create_customer(&a, json!({"name": "Second"})).await;
    let page = app.get(&a, "/v1/customers?limit=1").await;
    let foreign_cursor = page.json["next_cursor"].as_str().unwrap().to_owned();

    let lists = lists(&app, &a.token, &seeded.views).await;
    assert!(lists.len() >= 20, "only {} lists seeded", lists.len());
    for (path, all) in &lists {
        let get = |p: String| {
            let app = &app;
            let token = a.token.clone();
            async move { app.get(&token, &p).await }
        };
        // Unknown and repeated parameters.
        let r = get(with_param(path, "sort=name")).await;
        r.assert_error_at(400, "unknown_parameter", format_args!("{path}"));
        let r = get(with_param(&with_param(path, "limit=1"), "limit=2")).await;
        r.assert_error_at(400, "duplicate_parameter", format_args!("{path}"));
        if path.contains("created_") {
            continue; // the view sets the window itself
        }
        // The creation window: all of it, none of it, and an invalid bound.
        let r = get(with_param(path, "created_after=2000-01-01T00:00:00Z")).await;
        assert_eq!(ids(&r.json), ids(all), "{path}: {}", r.text);
        let r = get(with_param(path, "created_after=2999-01-01T00:00:00Z")).await;
        assert_eq!(
            (r.status, ids(&r.json).len()),
            (200, 0),
            "{path}: {}",
            r.text
        );
        let r = get(with_param(path, "created_before=2000-01-01T00:00:00Z")).await;
        assert_eq!(
            (r.status, ids(&r.json).len()),
            (200, 0),
            "{path}: {}",
            r.text
        );
        let r = get(with_param(path, "created_before=soon")).await;
        assert_eq!(r.status, 422, "{path}: {}", r.text);
        assert_eq!(r.json["fields"][0]["field"], "created_before", "{path}");
        assert_eq!(r.json["fields"][0]["code"], "invalid", "{path}");
        // created_after is inclusive: the newest item's own created_at keeps it in the list.
        // Every list's items carry the time its window and cursor go by, as `created_at`.
        let newest = all["data"][0]["created_at"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: its items have no created_at: {all}"));
        let r = get(with_param(path, &format!("created_after={newest}"))).await;
        assert!(
            ids(&r.json).contains(&ids(all)[0]),
            "{path}: created_after={newest} left out the item created then: {}",
            r.text
        );
        let r = get(with_param(path, &format!("created_before={newest}"))).await;
        assert!(
            !ids(&r.json).contains(&ids(all)[0]),
            "{path}: created_before={newest} kept the item created then"
        );
        // Another list's cursor.
        if !path.starts_with("/v1/customers") {
            let r = get(with_param(path, &format!("cursor={foreign_cursor}"))).await;
            r.assert_error_at(
                400,
                "invalid_cursor",
                format_args!("{path} took a customers cursor"),
            );
        }
    }
    // The customers cursor itself: valid on its list, refused with other filters.
    let r = app
        .get(
            &a,
            &format!("/v1/customers?limit=1&cursor={foreign_cursor}"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .get(
            &a,
            &format!("/v1/customers?limit=1&name=Second&cursor={foreign_cursor}"),
        )
        .await;
    assert_eq!(r.json["error"], "invalid_cursor", "{}", r.text);
}

/// A route that takes no query parameters refuses a query string like a list refuses an unknown
/// parameter (provider webhooks excepted: their providers add their own).
#[actix_web::test]
async fn routes_without_query_parameters_refuse_a_query_string() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let seeded = seed_all(&app, &a, "noquery").await;
    let mut paths: Vec<String> = seeded.items.iter().map(|i| i.path.clone()).collect();
    paths.extend(["/v1/me".to_owned(), "/v1/organization".to_owned()]);
    for path in paths {
        let r = app.get(&a, &format!("{path}?expand=customer")).await;
        r.assert_error_at(
            400,
            "unknown_parameter",
            format_args!("GET {path}?expand=customer"),
        );
    }
    let r = app
        .post(&a, "/v1/customers?notify=true", &json!({"name": "Zebulon"}))
        .await;
    assert_eq!(r.json["error"], "unknown_parameter", "{}", r.text);
    let listed = app.get(&a, "/v1/customers?name=Zebulon").await;
    assert_eq!(
        listed.json["data"],
        json!([]),
        "a refused create wrote a row"
    );
}

#[actix_web::test]
async fn me_reports_the_credentials_effective_role() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let me = app.get(&a, "/v1/me").await;
    assert_eq!(
        (me.json["role"].as_str(), me.json["user"]["role"].as_str()),
        (Some("owner"), Some("owner"))
    );
    for role in [palisade_domain::Role::Member, palisade_domain::Role::Admin] {
        let key = app.api_key(&a, role.as_str(), role).await;
        let me = app.get(&key, "/v1/me").await;
        assert_eq!(me.status, 200, "{}", me.text);
        assert_eq!(
            (me.json["role"].as_str(), me.json["user"]["role"].as_str()),
            (Some(role.as_str()), Some("owner")),
            "{}",
            me.text
        );
    }
}

#[actix_web::test]
async fn a_chat_message_moves_its_conversations_updated_at() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let c = app.post(&a, "/v1/chat/conversations", &json!({})).await;
    assert_eq!(c.status, 201, "{}", c.text);
    let id = c.json["id"].as_str().unwrap();
    let m = app
        .post(
            &a,
            &format!("/v1/chat/conversations/{id}/messages"),
            &json!({"sender": "customer", "body": "hello"}),
        )
        .await;
    assert_eq!(m.status, 201, "{}", m.text);
    let after = app.get(&a, &format!("/v1/chat/conversations/{id}")).await;
    assert!(
        after.json["updated_at"].as_str() >= m.json["created_at"].as_str(),
        "{} vs {}",
        after.text,
        m.text
    );
    assert_ne!(after.json["updated_at"], c.json["updated_at"]);
}

/// PATCH `null`: 422 `required` on a required field (nothing changes, `updated_at` included),
/// and it clears an optional one. Every required field that once ignored `null` is listed.
#[actix_web::test]
async fn patch_null_is_refused_on_required_fields_and_clears_optional_ones() {
    const REQUIRED: &[(&str, &str)] = &[
        ("/v1/ivr/menus/", "name"),
        ("/v1/ivr/menus/", "tree"),
        ("/v1/knowledge-base/articles/", "title"),
        ("/v1/knowledge-base/articles/", "body"),
        ("/v1/knowledge-base/articles/", "tags"),
        ("/v1/knowledge-base/articles/", "published"),
        ("/v1/reports/", "name"),
        ("/v1/reports/", "kind"),
        ("/v1/reports/", "parameters"),
        ("/v1/phone-numbers/", "capabilities"),
        ("/v1/social/accounts/", "handle"),
        ("/v1/social/posts/", "body"),
        ("/v1/social/posts/", "status"),
        ("/v1/social/posts/", "likes"),
        ("/v1/social/posts/", "shares"),
        ("/v1/social/posts/", "comments"),
        ("/v1/social/posts/", "impressions"),
        ("/v1/customers/", "name"),
        ("/v1/chat/conversations/", "status"),
        ("/v1/integrations/", "name"),
        ("/v1/integrations/", "config"),
        ("/v1/integrations/", "secrets"),
        ("/v1/integrations/", "enabled"),
        ("/v1/webhooks/", "url"),
        ("/v1/webhooks/", "event_types"),
        ("/v1/webhooks/", "enabled"),
        ("/v1/calls/", "status"),
        ("/v1/calls/", "duration_seconds"),
    ];
    const OPTIONAL: &[(&str, &str)] = &[
        ("/v1/customers/", "email"),
        ("/v1/chat/conversations/", "subject"),
        ("/v1/phone-numbers/", "label"),
        ("/v1/reports/", "schedule"),
        ("/v1/webhooks/", "description"),
        ("/v1/calls/", "notes"),
        ("/v1/customers/", "phone"),
    ];
    let (app, a) = spawn_app_with_owner("Acme").await;
    let seeded = seed_all(&app, &a, "nulls").await;
    let item = |prefix: &str| -> String {
        seeded
            .items
            .iter()
            .map(|i| i.path.clone())
            .find(|p| {
                p.strip_prefix(prefix)
                    .is_some_and(|rest| !rest.contains('/'))
            })
            .unwrap_or_else(|| panic!("no seeded item under {prefix}"))
    };
    for (prefix, field) in REQUIRED {
        let path = item(prefix);
        let before = app.get(&a, &path).await;
        let r = app.patch(&a, &path, &json!({ *field: null })).await;
        assert_eq!(r.status, 422, "PATCH {path} {field}: null: {}", r.text);
        assert_eq!(r.json["fields"][0]["field"], *field, "{path}: {}", r.text);
        assert_eq!(
            (
                r.json["fields"][0]["code"].as_str(),
                r.json["fields"][0]["reason"].as_str()
            ),
            (Some("required"), Some("cannot be null")),
            "{path}: {}",
            r.text
        );
        let after = app.get(&a, &path).await;
        assert_eq!(
            before.json, after.json,
            "PATCH {path} {field}: null changed it"
        );
    }
    let r = app
        .patch(&a, "/v1/organization", &json!({"name": null}))
        .await;
    assert_eq!(
        (r.status, r.json["fields"][0]["code"].as_str()),
        (422, Some("required")),
        "{}",
        r.text
    );
    for (prefix, field) in OPTIONAL {
        let path = item(prefix);
        let r = app.patch(&a, &path, &json!({ *field: null })).await;
        assert_eq!(r.status, 200, "PATCH {path} {field}: null: {}", r.text);
        assert_eq!(r.json[*field], Value::Null, "{path}: {}", r.text);
    }
}

/// A JSON object of `n` keys `k0`, `k1`, ..., each holding a short string.
fn keys(n: usize) -> Value {
    (0..n).map(|i| (format!("k{i}"), json!("v"))).collect()
}

/// 422 field codes by kind of failure: `too_long` over a length or size, `too_short` for empty
/// text, `invalid` for format and choice; each names its field, and nothing is created.
#[actix_web::test]
async fn field_codes_say_what_kind_of_value_was_refused() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let long = "x".repeat(201);
    let cases: &[(&str, Value, &str, &str)] = &[
        ("/v1/customers", json!({"name": long}), "name", "too_long"),
        ("/v1/customers", json!({"name": "   "}), "name", "too_short"),
        (
            "/v1/customers",
            json!({"name": "Ada", "email": "nope"}),
            "email",
            "invalid",
        ),
        (
            "/v1/knowledge-base/articles",
            json!({"title": "t", "body": ""}),
            "body",
            "too_short",
        ),
        (
            "/v1/knowledge-base/articles",
            json!({"title": "t", "body": "b", "tags": vec!["t"; 21]}),
            "tags",
            "too_long",
        ),
        (
            "/v1/reports",
            json!({"name": "r", "kind": "call_volume", "parameters": {"p": "x".repeat(9000)}}),
            "parameters",
            "too_long",
        ),
        (
            "/v1/reports",
            json!({"name": "r", "kind": "sales"}),
            "kind",
            "invalid",
        ),
        // Objects with a key more than their type allows (each small in bytes).
        (
            "/v1/reports",
            json!({"name": "r", "kind": "call_volume", "parameters": keys(33)}),
            "parameters",
            "too_long",
        ),
        (
            "/v1/analytics/events",
            json!({"type": "x", "properties": keys(51)}),
            "properties",
            "too_long",
        ),
        (
            "/v1/integrations",
            json!({"provider": "slack", "name": "s", "config": keys(51)}),
            "config",
            "too_long",
        ),
        (
            "/v1/integrations",
            json!({"provider": "slack", "name": "s", "secrets": keys(21)}),
            "secrets",
            "too_long",
        ),
    ];
    for (path, body, field, code) in cases {
        let r = app.post(&a, path, body).await;
        assert_eq!(r.status, 422, "POST {path} {body}: {}", r.text);
        assert_eq!(
            r.json["fields"][0]["field"], *field,
            "POST {path} {body}: {}",
            r.text
        );
        assert_eq!(
            r.json["fields"][0]["code"], *code,
            "POST {path} {body}: {}",
            r.text
        );
        let list = app.get(&a, path).await;
        assert_eq!(
            list.json["data"],
            json!([]),
            "POST {path} {body} created something"
        );
    }
}

/// A path id that is not a UUID answers 400 `invalid_id` before the caller's role is looked at
/// (docs/api.md: 400, then 422 or 403, in the order the route takes them), on every route of the route table with an id in its
/// path and every method: a member's request to an admin route included.
#[actix_web::test]
async fn a_malformed_path_id_is_400_before_the_role_on_every_route() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let member = app.member_of(&owner, palisade_domain::Role::Member).await;
    let mut table = palisade_api::endpoints::Endpoints::default();
    palisade_api::routes::register(&mut table, None);
    let doc = serde_json::to_value(table.openapi()).unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/") || !path.contains('{') {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            let body = op.get("requestBody").map(|_| json!({}));
            for bad in ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g"] {
                let mut sent = String::new();
                for (i, part) in path.split('{').enumerate() {
                    match (i, part.split_once('}')) {
                        (0, _) | (_, None) => sent.push_str(part),
                        (_, Some((_, rest))) => {
                            sent.push_str(bad);
                            sent.push_str(rest);
                        }
                    }
                }
                let r = app
                    .request_as(&member, &method, &sent, body.as_ref(), &[])
                    .await;
                r.assert_error_at(400, "invalid_id", format_args!("{method} {sent}"));
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 3 * 60,
        "only {checked} requests: is the table empty?"
    );
}

/// The order of a write's refusals (docs/api.md, "If-Match"): a route any credential may use reads
/// its body before its transaction checks the credential and the role, so a member's invalid body
/// to an admin-only family is 422 and a valid one 403; a route on a user's session looks the
/// session up first and refuses the role before the body (403 either way). Neither changes
/// anything.
#[actix_web::test]
async fn a_write_reads_its_body_before_the_role_unless_it_needs_a_users_session() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let member = app.member_of(&owner, palisade_domain::Role::Member).await;
    let menu = json!({"name": "Main", "tree": crate::engagement::menu_tree("Acme")});
    let r = app
        .post(&member, "/v1/ivr/menus", &json!({"name": ""}))
        .await;
    r.assert_error_at(422, "validation_failed", "an invalid body");
    let r = app.post(&member, "/v1/ivr/menus", &menu).await;
    r.assert_error_at(403, "forbidden", "a valid body");
    for body in [json!({"name": ""}), json!({"name": "ci", "role": "member"})] {
        let r = app.post(&member, "/v1/api-keys", &body).await;
        r.assert_error_at(403, "forbidden", format_args!("api key {body}"));
    }
    assert_eq!(
        app.get(&owner, "/v1/ivr/menus").await.json["data"],
        json!([])
    );
    assert_eq!(
        app.get(&owner, "/v1/api-keys").await.json["data"],
        json!([])
    );
}

/// `HEAD` on every `GET` route (RFC 9110 §9.3.2): the status and headers a `GET` would answer,
/// `Content-Length` and `ETag` included (and its 304 to `If-None-Match`), and no body; errors
/// the same way (401 without a credential, 404 for another organization's item). A path without
/// `GET` answers it 405, and a 405's `Allow` lists `HEAD` wherever it lists `GET`.
#[actix_web::test]
async fn head_answers_as_get_without_a_body() {
    use palisade_test_support::request;
    let (app, a) = spawn_app_with_owner("Acme").await;
    let b = app.signup("Other").await;
    let mine = app.create_customer(&a, json!({"name": "Ada"})).await;
    let theirs = app.create_customer(&b, json!({"name": "Eve"})).await;
    let bearer = |token: &str| vec![("Authorization", format!("Bearer {token}"))];
    let item = |c: &Value| format!("/v1/customers/{}", c["id"].as_str().unwrap());
    for (path, headers, status) in [
        ("/healthz".to_owned(), vec![], 200),
        ("/v1/customers?limit=10".to_owned(), bearer(&a.token), 200),
        (item(&mine), bearer(&a.token), 200),
        ("/v1/me".to_owned(), bearer(&a.token), 200),
        ("/v1/customers".to_owned(), vec![], 401),
        (item(&theirs), bearer(&a.token), 404),
    ] {
        let get = request(&app.addr, "GET", &path, &headers, None).await;
        let head = request(&app.addr, "HEAD", &path, &headers, None).await;
        assert_eq!((get.status, head.status), (status, status), "{path}");
        assert_eq!(head.text, "", "HEAD {path}");
        assert!(!get.text.is_empty(), "GET {path}");
        for name in [
            "content-type",
            "content-length",
            "etag",
            "cache-control",
            "www-authenticate",
        ] {
            assert_eq!(head.header(name), get.header(name), "{name} of HEAD {path}");
        }
        assert_eq!(
            head.header("content-length"),
            Some(get.text.len().to_string().as_str()),
            "{path}"
        );
        assert!(head.header("x-request-id").is_some(), "{path}");
    }
    // A HEAD that names the GET's tag: 304, as the GET would.
    let get = request(&app.addr, "GET", &item(&mine), &bearer(&a.token), None).await;
    let mut headers = bearer(&a.token);
    headers.push(("If-None-Match", get.header("etag").unwrap().to_owned()));
    let r = request(&app.addr, "HEAD", &item(&mine), &headers, None).await;
    assert_eq!((r.status, r.header("etag")), (304, get.header("etag")));
    let r = request(&app.addr, "HEAD", "/v1/auth/login", &[], None).await;
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    assert_eq!(r.text, "");
    let r = request(&app.addr, "TRACE", "/v1/me", &[], None).await;
    assert_eq!(r.header("allow"), Some("GET, HEAD, PATCH"));
}
