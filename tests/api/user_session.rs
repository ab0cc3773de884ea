//! A leaked API key cannot mint its successors: every route that manages credentials needs a
//! user's session (`palisade_api::auth::UserSession`) and answers 403 `requires_user_session`
//! to an API key, whatever the key's role, changing nothing.
//!
//! THE TABLE BELOW IS THE LIST of those routes (docs/security.md repeats it). A new route that
//! manages credentials (invitations, password change, ...) takes `UserSession` (or
//! `SessionToken`, or `UserCaller`), is declared `Auth::User`, and gets a row here and in docs/security.md: the
//! test holds the table and the page equal to the operations `/openapi.json` secures with a
//! bearer token alone.

use std::collections::BTreeSet;

use palisade_domain::Role;
use palisade_test_support::{Account, KeyHeader, RawKey, TestApp, spawn_app_with_owner};
use serde_json::{Value, json};

/// Everything the organization holds, as its owner exports it, less the keys' `last_used_at`
/// (using a key stamps it; that is bookkeeping, not a change the key made).
async fn snapshot(app: &TestApp, owner: &Account) -> Value {
    let r = app.get(&owner, "/v1/organization/export").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut tables = r.json["tables"].clone();
    for key in tables["api_keys"].as_array_mut().unwrap() {
        key.as_object_mut().unwrap().remove("last_used_at");
    }
    tables
}

/// `path` with each id segment (a UUID) written `{id}`, as the OpenAPI document writes it.
fn template(path: &str) -> String {
    path.split('/')
        .map(|segment| match uuid::Uuid::parse_str(segment) {
            Ok(_) => "{id}",
            Err(_) => segment,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The routes of docs/security.md's table ("These routes need a user's session"): a row's first
/// cell is `` `METHOD /path` `` or `` `METHOD`, `METHOD /path` ``.
fn security_md_routes() -> BTreeSet<(String, String)> {
    let page = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/security.md"),
    )
    .unwrap();
    let table = page
        .split("| route | what it does |\n|---|---|\n")
        .nth(1)
        .expect("the table of routes that need a user's session");
    let mut routes = BTreeSet::new();
    for row in table.lines().take_while(|l| l.starts_with('|')) {
        let cell = row.split('|').nth(1).unwrap().replace('`', "");
        let path = &cell[cell.find('/').expect(row)..];
        for method in cell[..cell.find('/').unwrap()].split([',', ' ']) {
            if !method.is_empty() {
                routes.insert((method.to_owned(), path.trim().to_owned()));
            }
        }
    }
    routes
}

/// The operations `/openapi.json` secures with a bearer token alone (no API key): the routes
/// that take `UserSession`, `SessionToken` or `UserCaller`.
async fn user_session_routes(app: &TestApp) -> BTreeSet<(String, String)> {
    let r = app.call("GET", "/openapi.json", None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let bearer_only = json!([{"bearer": []}]);
    let mut routes = BTreeSet::new();
    for (path, item) in r.json["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if operation["security"] == bearer_only {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    assert!(routes.len() > 10, "{routes:?}");
    routes
}

#[actix_web::test]
async fn an_admin_api_key_cannot_manage_credentials_members_or_the_organization() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let admin = app.add_user(&owner, Role::Admin).await;
    let key = app.api_key(&owner, "leaked", Role::Admin).await;
    let (key_id, other_key_id) = (&key.id, app.api_key(&admin, "other", Role::Admin).await.id);
    let r = app
        .post(
            &owner,
            "/v1/webhooks",
            &json!({"url": "https://hooks.example.com/in", "event_types": ["customer.created"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let webhook_id = r.json["id"].as_str().unwrap().to_owned();
    let r = app.invite(&owner, "pending@example.com", "member").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let invitation_id = r.json["id"].as_str().unwrap().to_owned();
    let connect_credential = app
        .create(
            &owner,
            "/v1/call-center/aws-connect/credentials",
            json!({"label": "EventBridge"}),
        )
        .await;
    let connect_credential = connect_credential["id"].as_str().unwrap().to_owned();

    // The routes that need a user's session, each with a body that a session would get a 2xx for.
    let routes: Vec<(&str, String, Option<Value>)> = vec![
        (
            "POST",
            "/v1/api-keys".into(),
            Some(json!({"name": "successor", "role": "admin"})),
        ),
        ("DELETE", format!("/v1/api-keys/{other_key_id}"), None),
        ("DELETE", format!("/v1/api-keys/{key_id}"), None),
        (
            "POST",
            "/v1/invitations".into(),
            Some(json!({"email": "accomplice@example.com", "role": "admin"})),
        ),
        ("DELETE", format!("/v1/invitations/{invitation_id}"), None),
        (
            "POST",
            "/v1/call-center/aws-connect/credentials".into(),
            Some(json!({"label": "successor"})),
        ),
        (
            "PATCH",
            format!("/v1/call-center/aws-connect/credentials/{connect_credential}"),
            Some(json!({"label": "renamed"})),
        ),
        (
            "DELETE",
            format!("/v1/call-center/aws-connect/credentials/{connect_credential}"),
            None,
        ),
        (
            "PATCH",
            format!("/v1/members/{}", admin.user_id),
            Some(json!({"role": "member"})),
        ),
        (
            "PATCH",
            format!("/v1/members/{}", admin.user_id),
            Some(json!({"name": "Renamed"})),
        ),
        ("DELETE", format!("/v1/members/{}", admin.user_id), None),
        (
            "POST",
            format!("/v1/webhooks/{webhook_id}/rotate-secret"),
            None,
        ),
        // A key cannot rename its creator.
        (
            "PATCH",
            "/v1/me".into(),
            Some(json!({"name": "Renamed by a key"})),
        ),
        // Nor mail its creator a verification link (the owner's address is verified: their
        // session gets 409 `email_already_verified`, below).
        ("POST", "/v1/me/verify-email".into(), None),
        // Nor confirm one (a well-formed link the owner, verified, has no use for: 409 below).
        (
            "POST",
            "/v1/me/confirm-email".into(),
            Some(json!({"token": "A".repeat(43)})),
        ),
        // A key cannot renew a session (it has none) or end its creator's.
        ("POST", "/v1/me/token".into(), None),
        ("POST", "/v1/me/revoke-tokens".into(), None),
        // The key acts as its creator, the owner, and knows the owner's password (worst case).
        (
            "POST",
            "/v1/me/password".into(),
            Some(json!({"current_password": owner.password,
                        "new_password": "a brand new long password"})),
        ),
        ("DELETE", "/v1/organization".into(), None),
    ];

    // The table is every route the OpenAPI document reserves for a bearer token alone
    // (`Auth::User`), and nothing else: a new such route without a row fails here.
    let listed: BTreeSet<(String, String)> = routes
        .iter()
        .map(|(method, path, _)| ((*method).to_owned(), template(path)))
        .collect();
    let documented = user_session_routes(&app).await;
    assert_eq!(listed, documented);
    assert_eq!(security_md_routes(), documented, "docs/security.md's table");

    let before = snapshot(&app, &owner).await;
    for (method, path, body) in &routes {
        for header in KeyHeader::BOTH {
            let r = app
                .request_as(&key.in_header(header), method, path, body.as_ref(), &[])
                .await;
            r.assert_error_at(
                403,
                "requires_user_session",
                format_args!("{method} {path} ({header:?})"),
            );
            assert!(r.json["message"].as_str().unwrap().contains("user"));
        }
        assert_eq!(
            snapshot(&app, &owner).await,
            before,
            "{method} {path} with an API key changed something"
        );
    }

    // The key itself still works where it may (the guard is about the route, not the key)...
    let r = app.get(&key, "/v1/api-keys").await;
    assert_eq!(r.status, 200, "{}", r.text);
    // ...an unknown key on a guarded route is still 401: authentication comes first...
    let unknown = RawKey(
        "pk_live_0000000000000000000000000000000000000000",
        KeyHeader::Bearer,
    );
    let body = json!({"name": "x", "role": "member"});
    let r = app.post(&unknown, "/v1/api-keys", &body).await;
    assert_eq!(r.status, 401, "{}", r.text);
    // (on `PATCH /v1/me` too, which its transaction checks for a token: a key is looked up, and a
    // malformed one refused before any lookup)
    let malformed = RawKey("pk_live_0", KeyHeader::Bearer);
    for key in [&unknown, &malformed] {
        let r = app.patch(key, "/v1/me", &json!({"name": "x"})).await;
        r.assert_error_at(401, "invalid_token", "PATCH /v1/me");
    }
    // ...and a user's session does each of these things (the role rules still apply). Ending
    // the session's tokens and the password change end the session's token, so they come last,
    // before the deletion, each with a token of its own.
    for (method, path, body) in &routes[..routes.len() - 3] {
        let r = app
            .call(method, path, Some(&owner.token), body.as_ref())
            .await;
        if path == "/v1/me/verify-email" || path == "/v1/me/confirm-email" {
            r.assert_error_at(409, "email_already_verified", path);
            continue;
        }
        assert!(
            (200..300).contains(&r.status),
            "{method} {path} with the owner's session: {}",
            r.text
        );
    }
    let r = app.get(&key, "/v1/customers").await;
    assert_eq!(r.status, 401, "revoked by the owner's session: {}", r.text);
    let (method, path, body) = &routes[routes.len() - 3];
    let r = app
        .call(method, path, Some(&owner.token), body.as_ref())
        .await;
    assert_eq!(
        r.status, 204,
        "{method} {path} with the owner's session: {}",
        r.text
    );
    let r = app.login(&owner.email, &owner.password).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let session = r.json["token"].as_str().unwrap().to_owned();
    let (method, path, body) = &routes[routes.len() - 2];
    let r = app.call(method, path, Some(&session), body.as_ref()).await;
    assert_eq!(
        r.status, 200,
        "{method} {path} with the owner's session: {}",
        r.text
    );
    let fresh = r.json["token"].as_str().unwrap().to_owned();
    let r = app.delete(&fresh, "/v1/organization").await;
    assert_eq!(r.status, 204, "{}", r.text);
}
