//! The OpenAPI document at `/openapi.json` (crates/palisade_api/src/endpoints.rs): generated from
//! the same declarations as the routes, checked both ways against what the server answers, and
//! locked by a snapshot so that every change to the contract is deliberate.
//!
//! After a deliberate change: `PALISADE_UPDATE_SNAPSHOT=1 cargo test --test api openapi`, then
//! review and commit `tests/api/openapi.snapshot.json` with the change (and say it in
//! docs/changelog.md).

use std::path::PathBuf;
use std::sync::OnceLock;

use palisade_api::endpoints::Endpoints;
use palisade_test_support::{TestResponse, request, spawn_app};
use serde_json::Value;
use uuid::Uuid;

fn table() -> Endpoints {
    let mut e = Endpoints::default();
    palisade_api::routes::register(&mut e, None);
    e
}

/// Asserts that `r`, a 200 from `POST path`, is the answer the document declares: its content
/// type, or no body and no `Content-Type` where the document declares no content. For the
/// provider routes, whose 200s Schemathesis never sees (it cannot sign a request).
pub(crate) fn assert_ok_as_documented(path: &str, r: &TestResponse) {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    let document = DOCUMENT.get_or_init(|| {
        serde_json::from_str(&palisade_api::endpoints::document_json(&table()))
            .expect("the document is JSON")
    });
    assert_eq!(r.status, 200, "POST {path}: {}", r.text);
    let ok = &document["paths"][path]["post"]["responses"]["200"];
    assert!(ok.is_object(), "POST {path} documents no 200");
    match ok["content"].as_object().and_then(|c| c.keys().next()) {
        Some(declared) => {
            let sent = r.header("content-type").unwrap_or_default();
            assert!(
                sent.starts_with(declared.as_str()),
                "POST {path}: sent {sent:?}, documented {declared:?}"
            );
        }
        None => {
            assert_eq!(r.header("content-type"), None, "POST {path}");
            assert_eq!(r.text, "", "POST {path}");
        }
    }
}

/// Asserts that the document lists `r`'s status among `POST path`'s responses: for answers
/// Schemathesis cannot provoke on the provider routes (an unsigned request never reaches their
/// size limit's 413 on Stripe's route, nor a signed one its 200).
pub(crate) fn assert_status_documented(path: &str, r: &TestResponse) {
    let document: Value = serde_json::from_str(&palisade_api::endpoints::document_json(&table()))
        .expect("the document is JSON");
    let responses = &document["paths"][path]["post"]["responses"];
    assert!(
        responses[r.status.to_string()].is_object(),
        "POST {path} answered {} undocumented (documented: {:?})",
        r.status,
        responses.as_object().map(|o| o.keys().collect::<Vec<_>>())
    );
}

#[test]
fn every_route_is_declared_once_with_a_summary_and_no_schema_name_is_shared() {
    let e = table();
    let routes = e.routes();
    for (i, r) in routes.iter().enumerate() {
        assert!(!routes[..i].contains(r), "{r:?} is declared twice");
    }
    assert!(routes.len() >= 120, "only {} routes", routes.len());
    assert_eq!(
        e.schema_clashes(),
        &[] as &[String],
        "two types share a schema name"
    );
    let doc = serde_json::to_value(e.openapi()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["summary"].is_string(), "{method} {path} has no summary");
            assert!(op["tags"][0].is_string(), "{method} {path} has no tag");
            assert!(op["responses"]["500"].is_object(), "{method} {path}");
            let secured = op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
            });
            if secured {
                assert!(
                    op["responses"]["401"].is_object(),
                    "{method} {path}: no 401"
                );
            }
        }
    }
}

/// A handler that takes a user's session (`UserSession`, `SessionToken`, `UserCaller`) is declared
/// `Auth::User`, so the document secures it with a bearer token alone, and
/// tests/api/user_session.rs (which holds its table to those operations) calls it with an API
/// key. Declared `Tenant`, it would escape that table. (The resource families' writers get
/// `Auth::User` from `USER_SESSION_WRITES`; their handlers take the family's writer type.)
#[test]
fn a_handler_that_takes_a_users_session_is_documented_for_a_bearer_token_alone() {
    let e = table();
    let doc = serde_json::to_value(e.openapi()).unwrap();
    let mut seen = 0;
    for (method, path, extractors) in e.extractors() {
        let takes = |name: &str| {
            extractors
                .split(['(', ')', ',', ' ', '<', '>'])
                .any(|t| t == name)
        };
        if takes("palisade_api::auth::UserSession")
            || takes("palisade_api::auth::SessionToken")
            || takes("palisade_api::auth::UserCaller")
        {
            seen += 1;
            let op = &doc["paths"][path][method.to_ascii_lowercase()];
            assert_eq!(
                op["security"],
                serde_json::json!([{"bearer": []}]),
                "{method} {path} takes a user's session but is not declared .auth(Auth::User)"
            );
        }
    }
    assert!(seen >= 8, "{seen}");
}

/// The document's `Idempotency-Key` and `If-Match` follow from the route's shape
/// (`Doc`'s drop); the handlers take them as extractors. Both must agree, route by route.
#[test]
fn idempotency_and_if_match_are_documented_exactly_where_handlers_take_them() {
    let e = table();
    let doc = serde_json::to_value(e.openapi()).unwrap();
    let handlers = e.extractors();
    assert!(handlers.len() >= 100, "{}", handlers.len());
    for (method, path, extractors) in handlers {
        let takes = |name: &str| extractors.split(['(', ')', ',', ' ']).any(|t| t == name);
        let op = &doc["paths"][path][method.to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {path} is not in the document");
        let names: Vec<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str())
            .collect();
        for (header, extractor) in [
            ("Idempotency-Key", "palisade_api::idempotency::Idempotency"),
            ("If-Match", "palisade_api::etag::IfMatch"),
        ] {
            assert_eq!(
                names.contains(&header),
                takes(extractor),
                "{method} {path}: {header} documented vs taken by the handler"
            );
        }
    }
}

/// A handler that takes a user's session (`UserSession`, looked up before its transaction, which
/// checks it again: `palisade_api::auth::Tenant::begin`) may answer 409 `role_changed`, and so may
/// the writes of a family only sessions write (`USER_SESSION_WRITES`: their writer is such a
/// session), so the document lists a 409 for each. The routes any credential may use take
/// `Caller`, whose only check is their transaction's, and do not answer it, but for the creates
/// of a family whose creator must be verified (`POST /v1/webhooks`: the check holds the user's
/// row and finds a demotion since the transaction's opening statement).
#[test]
fn a_handler_that_checks_the_role_before_its_transaction_documents_409() {
    let e = table();
    let doc = serde_json::to_value(e.openapi()).unwrap();
    let mut seen = 0;
    for (method, path, extractors) in e.extractors() {
        if palisade_api::endpoints::checks_role_before_its_transaction(extractors) {
            seen += 1;
            let op = &doc["paths"][path][method.to_ascii_lowercase()];
            assert!(
                op["responses"]["409"].is_object(),
                "{method} {path} takes {extractors} but documents no 409"
            );
        }
    }
    // Members and invitations (4), the organization's deletion, a webhook's secret, the password.
    assert!(seen >= 7, "{seen}");
    for (method, path) in [
        ("post", "/v1/api-keys"),
        ("delete", "/v1/api-keys/{id}"),
        ("post", "/v1/call-center/aws-connect/credentials"),
        ("patch", "/v1/call-center/aws-connect/credentials/{id}"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op["responses"]["409"].is_object(), "{method} {path}");
    }
    // Families any credential writes, one of them admin-only, with no 409 of their own.
    for (method, path) in [
        ("patch", "/v1/reports/{id}"),
        ("delete", "/v1/reports/{id}"),
        ("delete", "/v1/ivr/menus/{id}"),
        ("patch", "/v1/organization"),
        // A user's session only, checked by its transaction (`UserCaller`), relying on no role.
        ("patch", "/v1/me"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path}");
        assert!(op["responses"]["409"].is_null(), "{method} {path}");
    }
}

/// The response headers a client can rely on are in the document (a generated client exposes
/// only those): `X-Request-Id` on every answer of every operation, `Retry-After` on 429 and 503,
/// and `Idempotency-Replayed` on the success of every operation that takes an
/// `Idempotency-Key`. (That the server sends them: `telemetry::add_request_id_header`,
/// tests/api/throttling.rs, tests/api/cors.rs.)
#[test]
fn the_response_headers_clients_rely_on_are_documented() {
    let doc = serde_json::to_value(table().openapi()).unwrap();
    let shared = &doc["components"]["responses"];
    let resolve = |r: &Value| -> Value {
        match r["$ref"].as_str() {
            Some(reference) => {
                let name = reference.rsplit('/').next().unwrap();
                shared[name].clone()
            }
            None => r.clone(),
        }
    };
    let mut replayable = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let takes_key = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == "Idempotency-Key");
            for (status, response) in op["responses"].as_object().unwrap() {
                let headers = &resolve(response)["headers"];
                assert!(
                    headers["X-Request-Id"].is_object(),
                    "{method} {path} {status}: no X-Request-Id"
                );
                if status == "429" || status == "503" {
                    assert_eq!(
                        headers["Retry-After"]["schema"]["type"], "integer",
                        "{method} {path} {status}: no Retry-After"
                    );
                }
                if takes_key && status.starts_with('2') {
                    replayable += 1;
                    assert!(
                        headers["Idempotency-Replayed"].is_object(),
                        "{method} {path} {status}: no Idempotency-Replayed"
                    );
                }
            }
        }
    }
    assert!(replayable >= 20, "{replayable}");
    assert!(shared["429"]["headers"]["Retry-After"].is_object());
}

#[test]
fn no_route_is_registered_outside_the_table() {
    // Routes registered straight on actix would be served but not documented.
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crates/palisade_api/src");
    let mut stack = vec![src];
    let mut offenders = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.file_name().is_some_and(|n| n == "endpoints.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests may build their own small apps.
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            for needle in [
                "web::resource(",
                "web::scope(",
                ".route(\"",
                "cfg.service(",
                "cfg.route(",
            ] {
                if text.contains(needle) {
                    offenders.push(format!("{}: {needle}", path.display()));
                }
            }
        }
    }
    assert_eq!(offenders, Vec::<String>::new());
}

#[actix_web::test]
async fn the_served_document_is_openapi_3_1_and_every_operation_in_it_is_served() {
    let app = spawn_app().await;
    let r = request(&app.addr, "GET", "/openapi.json", &[], None).await;
    assert_eq!(r.status, 200);
    let doc = r.json;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["name"],
        "x-api-key"
    );
    assert!(doc["components"]["schemas"]["Error"]["properties"]["fields"].is_object());
    // Every documented operation reaches a handler: not the router's 404, not a 405.
    let mut probed = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete: String = path
            .split('/')
            .map(|s| {
                if s.starts_with('{') {
                    Uuid::now_v7().to_string()
                } else {
                    s.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for (method, op) in item.as_object().unwrap() {
            let method = method.to_ascii_uppercase();
            let r = request(&app.addr, &method, &concrete, &[], None).await;
            assert_ne!(r.status, 405, "{method} {path}: {}", r.text);
            assert!(
                !(r.status == 404 && r.json["message"] == "no route matches this path"),
                "{method} {path} is documented but not served"
            );
            probed += 1;
            // A query string where the operation takes none: the 400 it gets is documented.
            let takes_query = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            if !takes_query {
                let with_query = format!("{concrete}?unexpected=1");
                let r = request(&app.addr, &method, &with_query, &[], None).await;
                if r.status == 400 {
                    assert!(
                        op["responses"]["400"].is_object(),
                        "{method} {path} answers an undocumented 400 to a query: {}",
                        r.text
                    );
                }
            }
        }
        // A method the path does not take: 405, whose Allow lists exactly the documented ones.
        let r = request(&app.addr, "TRACE", &concrete, &[], None).await;
        assert_eq!(r.status, 405, "TRACE {path}: {}", r.text);
        let mut allowed: Vec<&str> = r
            .header("allow")
            .unwrap_or_else(|| panic!("TRACE {path}: 405 without Allow"))
            .split(", ")
            .collect();
        allowed.sort_unstable();
        let mut documented: Vec<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_ascii_uppercase())
            .collect();
        // A GET route answers HEAD too (not an operation of its own in the document).
        if documented.iter().any(|m| m == "GET") {
            documented.push("HEAD".to_owned());
        }
        documented.sort_unstable();
        assert_eq!(allowed, documented, "Allow of {path}");
    }
    assert!(probed >= 120, "{probed}");
    // And the other way: a method the document does not list answers 405 on a served path, a
    // path it does not list answers the router's 404.
    let r = request(&app.addr, "PUT", "/v1/customers", &[], None).await;
    assert_eq!(r.status, 405);
    let r = request(&app.addr, "GET", "/v1/nothing-here", &[], None).await;
    assert_eq!(
        (r.status, r.json["message"].as_str()),
        (404, Some("no route matches this path"))
    );
}

#[actix_web::test]
async fn the_document_matches_its_snapshot() {
    let app = spawn_app().await;
    let served = request(&app.addr, "GET", "/openapi.json", &[], None)
        .await
        .json;
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/api/openapi.snapshot.json");
    if std::env::var_os("PALISADE_UPDATE_SNAPSHOT").is_some() {
        let mut text = serde_json::to_string_pretty(&served).unwrap();
        text.push('\n');
        std::fs::write(&file, text).unwrap();
        return;
    }
    let snapshot: Value = serde_json::from_str(
        &std::fs::read_to_string(&file).expect("tests/api/openapi.snapshot.json is missing"),
    )
    .unwrap();
    assert!(
        served == snapshot,
        "the OpenAPI document changed; if deliberate, run \
         PALISADE_UPDATE_SNAPSHOT=1 cargo test --test api openapi, review the diff of \
         tests/api/openapi.snapshot.json and note the change in docs/changelog.md"
    );
}

#[test]
fn every_error_code_is_documented_and_every_documented_code_exists() {
    let doc =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/api.md"))
            .unwrap();
    let section = doc
        .split("### Error codes")
        .nth(1)
        .and_then(|s| s.split("\n### ").next())
        .expect("docs/api.md has an Error codes section");
    let documented: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let mut codes: Vec<&str> = palisade_api::error::ErrorCode::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    let mut listed = documented.clone();
    codes.sort_unstable();
    listed.sort_unstable();
    assert_eq!(listed, codes);
    // The status table of "## Errors" gives every code its status.
    let table = doc
        .split("| status | codes | when |")
        .nth(1)
        .and_then(|s| s.split("\n\n").next())
        .expect("docs/api.md has the status table");
    let in_table: Vec<&str> = table
        .lines()
        .filter_map(|l| l.split('|').nth(2))
        .flat_map(|cell| cell.split('`').skip(1).step_by(2))
        .collect();
    let missing: Vec<&&str> = codes.iter().filter(|c| !in_table.contains(c)).collect();
    assert!(
        missing.is_empty(),
        "codes without a status in docs/api.md's status table: {missing:?}"
    );
}

/// The `type`s of `allOf`'s members in `v` (and below it) that no value can satisfy at once:
/// e.g. a field's enum inlined beside its description, which utoipa renders as `allOf` of a
/// string and an object, and which code generators then fail to decode.
fn contradictory_all_ofs(v: &Value, path: &str, found: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(members)) = map.get("allOf") {
                let mut types: Vec<&Value> = members.iter().filter_map(|m| m.get("type")).collect();
                types.dedup();
                if types.len() > 1 {
                    found.push(format!("{path}: {types:?}"));
                }
            }
            for (k, x) in map {
                contradictory_all_ofs(x, &format!("{path}/{k}"), found);
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                contradictory_all_ofs(x, &format!("{path}/{i}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn no_schema_in_the_document_requires_two_types_at_once() {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/api/openapi.snapshot.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let mut found = Vec::new();
    contradictory_all_ofs(&doc, "", &mut found);
    assert_eq!(found, Vec::<String>::new());
    // The walk finds the shape it looks for.
    let bad: Value = serde_json::json!({"properties": {"status": {"allOf": [
        {"type": "string", "enum": ["a"]}, {"type": "object", "description": "d"}]}}});
    contradictory_all_ofs(&bad, "", &mut found);
    assert_eq!(
        found,
        ["/properties/status: [String(\"string\"), String(\"object\")]"]
    );
}
