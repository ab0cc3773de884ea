//! CORS for browser apps (docs/api.md "Browser clients"): allowed origins on `/v1` only, the
//! headers a browser app needs, nothing for other origins, and never on `/webhooks`, health,
//! the document or the docs page.

use palisade_api::cors::CorsOrigins;
use palisade_test_support::{TestApp, TestResponse, request, spawn_app, spawn_app_configured};

const APP_ORIGIN: &str = "https://app.example.com";

async fn app_with_cors() -> TestApp {
    spawn_app_configured(|c| {
        c.cors = CorsOrigins::parse("https://app.example.com, http://localhost:3000").unwrap();
    })
    .await
}

async fn preflight(
    app: &TestApp,
    path: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> TestResponse {
    request(
        &app.addr,
        "OPTIONS",
        path,
        &[
            ("Origin", origin.to_owned()),
            ("Access-Control-Request-Method", method.to_owned()),
            ("Access-Control-Request-Headers", headers.to_owned()),
        ],
        None,
    )
    .await
}

fn vary_has_origin(r: &TestResponse) -> bool {
    r.headers.iter().any(|(k, v)| {
        k == "vary"
            && v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("origin"))
    })
}

#[actix_web::test]
async fn an_allowed_origin_gets_its_preflight_and_reads_answers_and_errors() {
    let app = app_with_cors().await;
    let owner = app.signup("cors-a").await;

    let r = preflight(
        &app,
        "/v1/customers/0b7f1a38-0c1e-4d5e-9d3a-6f1b2c3d4e5f",
        APP_ORIGIN,
        "PATCH",
        "authorization, content-type, if-match, idempotency-key",
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(r.header("access-control-allow-origin"), Some(APP_ORIGIN));
    // Every response carries its request id, a preflight's too.
    assert!(r.header("x-request-id").is_some(), "{:?}", r.headers);
    let methods = r.header("access-control-allow-methods").unwrap();
    for m in ["GET", "HEAD", "POST", "PATCH", "DELETE"] {
        assert!(methods.contains(m), "{methods}");
    }
    let allowed = r
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "authorization",
        "x-api-key",
        "content-type",
        "if-match",
        "idempotency-key",
    ] {
        assert!(allowed.contains(h), "{allowed}");
    }
    assert!(r.header("access-control-max-age").is_some());
    assert!(r.header("access-control-allow-credentials").is_none());
    assert!(vary_has_origin(&r));
    // An API key's header too.
    let r = preflight(
        &app,
        "/v1/customers",
        "http://localhost:3000",
        "GET",
        "X-API-Key",
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );

    // The actual request: the origin echoed, the request id readable by the page.
    let auth = ("Authorization", format!("Bearer {}", owner.token));
    let r = request(
        &app.addr,
        "GET",
        "/v1/customers",
        &[auth.clone(), ("Origin", APP_ORIGIN.to_owned())],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("access-control-allow-origin"), Some(APP_ORIGIN));
    let exposed = r
        .header("access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    for h in ["x-request-id", "etag", "location", "retry-after"] {
        assert!(exposed.contains(h), "{exposed}");
    }
    assert!(r.header("x-request-id").is_some());
    assert!(vary_has_origin(&r));
    // An error is readable too (the page can show why).
    let r = request(
        &app.addr,
        "GET",
        "/v1/customers",
        &[("Origin", APP_ORIGIN.to_owned())],
        None,
    )
    .await;
    r.assert_error(401, "unauthorized");
    assert_eq!(r.header("access-control-allow-origin"), Some(APP_ORIGIN));
    // Every header of a replayed create the page could need is exposed to it: whatever the
    // server adds beyond the CORS-safelisted ones and the transport's own.
    let headers = [
        auth,
        ("Origin", APP_ORIGIN.to_owned()),
        ("Idempotency-Key", "cors-replay-1".to_owned()),
        ("Content-Type", "application/json".to_owned()),
    ];
    let body = br#"{"name": "Ada", "email": "ada@example.com"}"#;
    let first = request(&app.addr, "POST", "/v1/customers", &headers, Some(body)).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let replay = request(&app.addr, "POST", "/v1/customers", &headers, Some(body)).await;
    assert_eq!(replay.header("idempotency-replayed"), Some("true"));
    let exposed = replay
        .header("access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    let exposed: Vec<&str> = exposed.split(", ").collect();
    for (name, _) in &replay.headers {
        let name = name.to_ascii_lowercase();
        let safelisted_or_transport = [
            "cache-control",
            "content-language",
            "content-length",
            "content-type",
            "expires",
            "last-modified",
            "pragma",
            "date",
            "vary",
            "connection",
            "transfer-encoding",
        ];
        if safelisted_or_transport.contains(&name.as_str()) || name.starts_with("access-control-") {
            continue;
        }
        assert!(
            exposed.contains(&name.as_str()),
            "{name} is not exposed: {exposed:?}"
        );
    }
}

#[actix_web::test]
async fn another_origin_gets_no_cors_header_and_its_preflight_is_refused() {
    let app = app_with_cors().await;
    let owner = app.signup("cors-b").await;
    for origin in [
        "https://evil.example",
        "https://app.example.com.evil.example",
        "http://app.example.com",
        "null",
    ] {
        let r = preflight(&app, "/v1/customers", origin, "GET", "authorization").await;
        r.assert_error(403, "origin_not_allowed");
        assert!(
            r.header("access-control-allow-origin").is_none(),
            "{origin}"
        );
        // Its actual request is served (CORS binds browsers, not programs), without a header
        // that would let a page of that origin read the answer.
        let r = request(
            &app.addr,
            "GET",
            "/v1/customers",
            &[
                ("Authorization", format!("Bearer {}", owner.token)),
                ("Origin", origin.to_owned()),
            ],
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            r.header("access-control-allow-origin").is_none(),
            "{origin}"
        );
        assert!(
            r.header("access-control-expose-headers").is_none(),
            "{origin}"
        );
    }
    // An allowed origin asking for a header or a method the API does not take from browsers.
    preflight(
        &app,
        "/v1/customers",
        APP_ORIGIN,
        "GET",
        "authorization, x-forwarded-for",
    )
    .await
    .assert_error(403, "origin_not_allowed");
    // TRACE, and PUT, which no route takes; and `get` (method names are case-sensitive).
    for method in ["TRACE", "PUT", "get"] {
        preflight(&app, "/v1/customers", APP_ORIGIN, method, "")
            .await
            .assert_error(403, "origin_not_allowed");
    }
}

#[actix_web::test]
async fn webhooks_health_the_document_and_the_docs_page_never_get_cors_headers() {
    let app = app_with_cors().await;
    for path in [
        "/webhooks/twilio/sms",
        "/webhooks/stripe",
        "/healthz",
        "/readyz",
        "/openapi.json",
        "/docs",
        "/docs/swagger-ui-bundle.js",
    ] {
        let r = preflight(&app, path, APP_ORIGIN, "POST", "content-type").await;
        assert!(
            r.header("access-control-allow-origin").is_none(),
            "{path}: {}",
            r.text
        );
        assert_ne!(r.status, 204, "{path}");
        let r = request(
            &app.addr,
            "POST",
            path,
            &[("Origin", APP_ORIGIN.to_owned())],
            Some(b"x"),
        )
        .await;
        assert!(r.header("access-control-allow-origin").is_none(), "{path}");
    }
}

#[actix_web::test]
async fn with_no_origin_configured_no_answer_has_a_cors_header() {
    let app = spawn_app().await;
    let r = preflight(&app, "/v1/customers", APP_ORIGIN, "GET", "authorization").await;
    assert!(r.header("access-control-allow-origin").is_none());
    let r = request(
        &app.addr,
        "GET",
        "/v1/customers",
        &[("Origin", APP_ORIGIN.to_owned())],
        None,
    )
    .await;
    r.assert_error(401, "unauthorized");
    assert!(r.header("access-control-allow-origin").is_none());
}
