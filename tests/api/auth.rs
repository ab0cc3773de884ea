//! Signup, login, /v1/me and the bearer-token rules.

use palisade_api::auth::Claims;
use palisade_domain::Role;
use palisade_test_support::{
    TestApp, TestResponse, fields, request, spawn_app, spawn_app_with_owner,
};
use serde_json::{Value, json};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims_for(app_user: &palisade_test_support::Account) -> Claims {
    Claims {
        iss: "palisade".into(),
        aud: "palisade-api".into(),
        sub: app_user.user_id.parse().unwrap(),
        iat: now(),
        exp: now() + 600,
        org: Some(app_user.org_id.parse().unwrap()),
        role: Some(Role::Owner),
        ver: 0,
        auth_time: None,
    }
}

async fn me_status(app: &TestApp, token: &str) -> (u16, serde_json::Value) {
    let r = app.get(token, "/v1/me").await;
    (r.status, r.json)
}

#[actix_web::test]
async fn signup_then_login_then_me() {
    let (app, acct) = spawn_app_with_owner("Acme").await;
    let (status, me) = me_status(&app, &acct.token).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["organization"]["name"], "Acme");
    assert_eq!(me["organization"]["id"], acct.org_id);
    assert_eq!(me["user"]["role"], "owner");
    assert_eq!(me["user"]["email"], acct.email);
    assert!(me["user"].get("password_hash").is_none());

    let r = app.login(&acct.email.to_uppercase(), &acct.password).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["organization_id"], acct.org_id);
    let (status, _) = me_status(&app, r.json["token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn unknown_email_and_wrong_password_answer_the_same() {
    let (app, acct) = spawn_app_with_owner("Acme").await;
    let wrong = app.login(&acct.email, "not the password").await;
    let unknown = app.login("nobody@example.com", "not the password").await;
    let malformed = app.login("not-an-email", "not the password").await;
    for r in [&wrong, &unknown, &malformed] {
        assert_eq!(r.status, 401);
        assert_eq!(r.json, wrong.json);
    }
    assert_eq!(wrong.json["error"], "invalid_credentials");
}

#[actix_web::test]
async fn signup_validates_and_refuses_a_taken_email() {
    let app = spawn_app().await;
    let r = app
        .call("POST", "/v1/auth/signup", None, Some(&json!({"organization_name": " ", "name": "A", "email": "bad", "password": "short"})))
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(fields(&r.json), ["organization_name", "email", "password"]);

    let acct = app.signup("Acme").await;
    let r = app
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(&json!({"organization_name": "Other", "name": "B", "email": acct.email, "password": "another long password"})),
        )
        .await;
    r.assert_taken("email_taken", "email");
}

#[actix_web::test]
async fn bad_tokens_answer_401() {
    let (app, acct) = spawn_app_with_owner("Acme").await;
    let other_keys =
        palisade_api::auth::TokenKeys::new(&[9u8; 32], std::time::Duration::from_secs(60)).unwrap();

    let mut expired = claims_for(&acct);
    expired.iat = now() - 7200;
    expired.exp = now() - 3600;
    let mut wrong_aud = claims_for(&acct);
    wrong_aud.aud = "someone-else".into();
    // alg "none": header {"alg":"none","typ":"JWT"}, the real claims, no signature.
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    };
    let unsigned = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&serde_json::to_string(&claims_for(&acct)).unwrap())
    );
    // Claims without `org` and `role` at all (not null: missing).
    let missing = {
        let mut v = serde_json::to_value(claims_for(&acct)).unwrap();
        v.as_object_mut().unwrap().remove("org");
        v.as_object_mut().unwrap().remove("role");
        let header = b64(r#"{"alg":"HS256","typ":"JWT"}"#);
        let body = b64(&v.to_string());
        // Signed correctly with the app's key, so only the missing claims are wrong.
        jsonwebtoken_sign(&format!("{header}.{body}"))
    };
    let cases = [
        ("expired", app.tokens.sign(&expired).unwrap()),
        ("another key", other_keys.sign(&claims_for(&acct)).unwrap()),
        ("wrong audience", app.tokens.sign(&wrong_aud).unwrap()),
        ("alg none", unsigned),
        ("missing claims", missing),
        ("garbage", "not.a.jwt".into()),
    ];
    // /v1/me takes Caller, its PATCH UserCaller (a valid body: only the token is wrong);
    // renewing and revoking read the token themselves (SessionToken).
    let rename = serde_json::json!({"name": "x"});
    for (what, token) in cases {
        for (method, path) in [
            ("GET", "/v1/me"),
            ("PATCH", "/v1/me"),
            ("POST", "/v1/me/token"),
            ("POST", "/v1/me/revoke-tokens"),
        ] {
            let body = Some(&rename).filter(|_| method == "PATCH");
            let r = app.call(method, path, Some(&token), body).await;
            assert_eq!(r.status, 401, "{what}, {method} {path}: {}", r.text);
            assert_eq!(r.json["error"], "invalid_token", "{what}, {method} {path}");
            assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        }
    }
    // None of them ended the owner's session.
    assert_eq!(app.get(&acct, "/v1/me").await.status, 200);
    let r = app.call("GET", "/v1/me", None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json["error"], "unauthorized");
}

/// HS256 over `signing_input` with the test secret (for hand-built claim sets).
fn jsonwebtoken_sign(signing_input: &str) -> String {
    use base64::Engine;
    use hmac::{KeyInit, Mac};
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(palisade_test_support::TEST_JWT_SECRET).unwrap();
    mac.update(signing_input.as_bytes());
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

#[actix_web::test]
async fn a_token_without_an_organization_answers_403_no_organization() {
    let (app, acct) = spawn_app_with_owner("Acme").await;
    let mut claims = claims_for(&acct);
    claims.org = None;
    claims.role = None;
    let token = app.tokens.sign(&claims).unwrap();
    // A route that takes Caller, one that takes UserCaller, and the two that take the token's own
    // claims (SessionToken).
    let rename = serde_json::json!({"name": "x"});
    for (method, path) in [
        ("GET", "/v1/customers"),
        ("PATCH", "/v1/me"),
        ("POST", "/v1/me/token"),
        ("POST", "/v1/me/revoke-tokens"),
    ] {
        let body = Some(&rename).filter(|_| method == "PATCH");
        let r = app.call(method, path, Some(&token), body).await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text);
        assert_eq!(r.json["error"], "no_organization", "{method} {path}");
    }
}

#[actix_web::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let r = app.call("GET", "/healthz", None, None).await;
    assert_eq!(r.status, 200);
    let r = app.call("GET", "/readyz", None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "ready");
    assert!(r.header("x-request-id").is_some());
}

#[actix_web::test]
async fn added_users_log_in_with_their_role() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let member = app.add_user(&owner, Role::Member).await;
    let (status, me) = me_status(&app, &member.token).await;
    assert_eq!(status, 200);
    assert_eq!(me["user"]["role"], "member");
    assert_eq!(me["organization"]["id"], owner.org_id);
}

/// Every answer that carries a token or a secret is never stored: `Cache-Control: no-store` and
/// `Pragma: no-cache` (RFC 6749 section 5.1 for tokens): no cache, shared or the client's own,
/// may keep it. The answers are found in the OpenAPI document in two ways that must agree: the
/// answers that declare those two headers, and the answers whose body has a secret property
/// (marked `x-palisade-secret`, however deep in the schemas it refers to; never format
/// `password`, which generated clients mask), which the names of the
/// schemas (`Token`, `...WithKey`, `...WithSecret`) must not outrun. So a new secret-bearing
/// answer, whatever its name, fails here until it declares the headers and is exercised below.
#[actix_web::test]
async fn every_answer_carrying_a_token_or_a_secret_is_never_stored() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let document = request(&app.addr, "GET", "/openapi.json", &[], None)
        .await
        .json;
    let schemas = &document["components"]["schemas"];
    let (mut carrying, mut secret_bearing, mut named) = (Vec::new(), Vec::new(), Vec::new());
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for (status, answer) in operation["responses"].as_object().into_iter().flatten() {
                let what = format!("{} {path} {status}", method.to_uppercase());
                let headers = &answer["headers"];
                let declares =
                    |name: &str, value: &str| headers[name]["schema"]["enum"] == json!([value]);
                if declares("Cache-Control", "no-store") && declares("Pragma", "no-cache") {
                    carrying.push(what.clone());
                }
                let schema = &answer["content"]["application/json"]["schema"];
                if status.starts_with('2') && has_secret_property(schemas, schema, &mut Vec::new())
                {
                    secret_bearing.push(what.clone());
                }
                let name = schema["$ref"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches("#/components/schemas/");
                if name == "Token" || name.ends_with("WithKey") || name.ends_with("WithSecret") {
                    named.push(what);
                }
            }
        }
    }
    carrying.sort();
    assert_eq!(
        carrying, secret_bearing,
        "declared never stored / secret-bearing"
    );
    assert!(
        named.iter().all(|n| carrying.contains(n)),
        "{named:?} not all in {carrying:?}"
    );
    assert!(carrying.len() >= 9, "{carrying:?}");

    let mut answered = Vec::new();
    let mut check = |what: &str, r: &TestResponse| {
        assert!(r.status == 200 || r.status == 201, "{what}: {}", r.text);
        assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
        assert_eq!(r.header("pragma"), Some("no-cache"), "{what}");
        answered.push(format!("{what} {}", r.status));
    };
    let email = format!("owner-{}@example.com", uuid::Uuid::new_v4().simple());
    let signup = json!({"organization_name": "Other", "name": "Owner", "email": email,
                        "password": "correct horse battery staple"});
    let r = app
        .call("POST", "/v1/auth/signup", None, Some(&signup))
        .await;
    check("POST /v1/auth/signup", &r);
    let r = app.login(&owner.email, &owner.password).await;
    check("POST /v1/auth/login", &r);
    let invitee = format!("invitee-{}@example.com", uuid::Uuid::new_v4().simple());
    assert_eq!(app.invite(&owner, &invitee, "admin").await.status, 201);
    let token = app.invitation_token(&invitee).await;
    let r = app
        .accept_invitation(&token, "Ada", "ada's own passphrase")
        .await;
    check("POST /v1/auth/accept-invitation", &r);
    let r = app
        .call("POST", "/v1/me/token", Some(&owner.token), None)
        .await;
    check("POST /v1/me/token", &r);
    let r = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&owner.token),
            Some(&json!({"name": "CI", "role": "member"})),
        )
        .await;
    check("POST /v1/api-keys", &r);
    let r = app
        .call(
            "POST",
            "/v1/call-center/aws-connect/credentials",
            Some(&owner.token),
            Some(&json!({"label": "EventBridge"})),
        )
        .await;
    check("POST /v1/call-center/aws-connect/credentials", &r);
    let r = app
        .call(
            "POST",
            "/v1/webhooks",
            Some(&owner.token),
            Some(&json!({"url": "https://hooks.example.com/in", "event_types": ["invoice.paid"]})),
        )
        .await;
    check("POST /v1/webhooks", &r);
    let rotate = format!(
        "/v1/webhooks/{}/rotate-secret",
        r.json["id"].as_str().unwrap()
    );
    let r = app.call("POST", &rotate, Some(&owner.token), None).await;
    check("POST /v1/webhooks/{id}/rotate-secret", &r);
    // Last: it ends the owner's other tokens.
    let r = app
        .call(
            "POST",
            "/v1/me/password",
            Some(&owner.token),
            Some(&json!({"current_password": owner.password,
                         "new_password": "a brand new passphrase"})),
        )
        .await;
    check("POST /v1/me/password", &r);
    answered.sort();
    assert_eq!(answered, carrying);
}

/// Whether `schema` (of the OpenAPI document whose component schemas are `schemas`) has a
/// property marked `x-palisade-secret` (a secret: a token, a key), in itself, its `allOf`, `oneOf` or
/// `anyOf` parts, its items, its properties, or the component schemas it refers to (`seen`:
/// those already followed). Panics on a property of format `password` met on the way.
fn has_secret_property(schemas: &Value, schema: &Value, seen: &mut Vec<String>) -> bool {
    if let Some(name) = schema["$ref"].as_str() {
        let name = name.trim_start_matches("#/components/schemas/").to_owned();
        if seen.contains(&name) {
            return false;
        }
        seen.push(name.clone());
        return has_secret_property(schemas, &schemas[name.as_str()], seen);
    }
    let parts = ["allOf", "oneOf", "anyOf"]
        .iter()
        .flat_map(|k| schema[*k].as_array().into_iter().flatten());
    let properties = schema["properties"].as_object().into_iter().flatten();
    // Every property and part is visited (no short cut at the first secret found), so that a
    // property of format `password` anywhere in a 2xx body fails the test.
    let mut found = false;
    for (_, p) in properties.clone() {
        assert_ne!(
            p["format"], "password",
            "a response property of format password: generated clients mask it (use x-palisade-secret)"
        );
        found |= p["x-palisade-secret"] == true;
    }
    for part in parts
        .chain(properties.map(|(_, p)| p))
        .chain(std::iter::once(&schema["items"]).filter(|i| !i.is_null()))
    {
        found |= has_secret_property(schemas, part, seen);
    }
    found
}
