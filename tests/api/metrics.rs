//! Prometheus metrics (`PALISADE_METRICS_ADDR`, docs/metrics.md): served on their own address
//! only, counted per route template with no tenant data in any label, webhook outcomes per
//! provider, database errors by SQLSTATE class, the pools and the password hashing threads.
//!
//! Each server has its own registry, so its request, webhook, pool and hashing series are
//! exactly what this test did to it. The database error count is the process's (errors are made
//! deep in `palisade_db`), and other tests of this binary run beside this one: it is compared
//! before and after, at least what this test caused.

use std::collections::BTreeMap;

use palisade_test_support::{
    Anonymous, TEST_PUBLIC_BASE_URL, TestApp, TestResponse, request, spawn_app_configured,
    try_spawn_app_on_configured, unique_number,
};
use serde_json::json;
use uuid::Uuid;

use crate::email_webhooks::{sendgrid, sg};
use crate::twilio_sms::unique_sid;

/// One scrape, parsed: every sample as (name, labels, value).
struct Scrape {
    text: String,
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
}

impl Scrape {
    /// The value of the sample `name` with exactly the labels `labels`.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples
            .iter()
            .find(|(n, l, _)| n == name && *l == want)
            .map(|(_, _, v)| *v)
    }

    /// [`Scrape::get`], which must be there.
    #[track_caller]
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no {name}{labels:?} in:\n{}", self.text))
    }
}

/// Reads `{k="v",...}` (values escaped as the exposition format escapes them).
fn labels(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(if escaped == 'n' { '\n' } else { escaped });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.insert(key.trim_start_matches(',').to_owned(), value);
        rest = &after[end..];
    }
    out
}

fn parse(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            let value: f64 = value.parse().expect("a number");
            match series.split_once('{') {
                Some((name, rest)) => {
                    let inner = rest.strip_suffix('}').expect("closing brace");
                    (name.to_owned(), labels(inner), value)
                }
                None => (series.to_owned(), BTreeMap::new(), value),
            }
        })
        .collect()
}

async fn scrape(app: &TestApp) -> Scrape {
    let addr = app.metrics_addr.as_deref().expect("a metrics address");
    let r = request(addr, "GET", "/metrics", &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text")),
        "{:?}",
        r.headers
    );
    assert!(r.text.ends_with("# EOF\n"), "{}", r.text);
    Scrape {
        samples: parse(&r.text),
        text: r.text,
    }
}

async fn app_with_metrics() -> TestApp {
    spawn_app_configured(|c| c.metrics_addr = Some("127.0.0.1:0".into())).await
}

/// Every token of `text` that reads as a UUID (ids of organizations, users, rows).
fn uuids_in(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .filter(|t| t.len() == 36 && Uuid::parse_str(t).is_ok())
        .collect()
}

fn inbound_sms<'a>(sid: &'a str, to: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("MessageSid", sid),
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("From", "+14155550100"),
        ("To", to),
        ("Body", "metrics"),
    ]
}

#[actix_web::test]
async fn requests_webhooks_errors_pools_and_hashing_are_counted_without_tenant_data() {
    let app = app_with_metrics().await;
    let fresh = scrape(&app).await;
    // Nothing answered yet: no request series at all.
    assert!(
        !fresh.text.contains("palisade_http_requests_total"),
        "{}",
        fresh.text
    );
    let db_errors = |s: &Scrape, class| {
        s.get("palisade_db_errors_total", &[("class", class)])
            .unwrap_or(0.0)
    };
    let constraint_errors_before = db_errors(&fresh, "23");

    // Tenant requests: a signup (its Location read), a customer (its Location read), a list
    // twice, the customer, a missing customer, a duplicate email (409), logins.
    let owner = app.signup("Acme").await;
    let email = format!("grace-{}@example.com", Uuid::new_v4().simple());
    let customer = app
        .create(
            &owner,
            "/v1/customers",
            json!({"name": "Grace", "email": email, "phone": "+14155550123"}),
        )
        .await;
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        app.get_ok(&owner, "/v1/customers").await;
    }
    app.get_ok(&owner, &format!("/v1/customers/{customer_id}"))
        .await;
    app.get(&owner, &format!("/v1/customers/{}", Uuid::now_v7()))
        .await
        .assert_error(404, "not_found");
    app.post(
        &owner,
        "/v1/customers",
        &json!({"name": "Grace again", "email": email}),
    )
    .await
    .assert_error(409, "email_taken");
    assert_eq!(app.login(&owner.email, &owner.password).await.status, 200);
    app.login(&owner.email, "not the password at all")
        .await
        .assert_error(401, "invalid_credentials");
    // The public address has no /metrics: it is a path like any unknown one.
    app.get(&Anonymous, "/metrics")
        .await
        .assert_error(404, "not_found");

    // Provider webhooks: Twilio applied, duplicate, ignored (a number nobody has), refused (a
    // signature of another token); a SendGrid batch of two events for no message (ignored,
    // each); Stripe without a signature.
    let number = app.claim_number(&owner, &["sms"]).await;
    let sid = unique_sid("SM");
    for _ in 0..2 {
        let r = app
            .twilio("/webhooks/twilio/sms", &inbound_sms(&sid, &number))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let nobodys = unique_number();
    let other_sid = unique_sid("SM");
    let r = app
        .twilio("/webhooks/twilio/sms", &inbound_sms(&other_sid, &nobodys))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let forged = app
        .twilio_signed_as(
            "/webhooks/twilio/sms",
            &inbound_sms(&unique_sid("SM"), &number),
            "not-the-auth-token",
            &format!("{TEST_PUBLIC_BASE_URL}/webhooks/twilio/sms"),
        )
        .await;
    forged.assert_error(401, "invalid_signature");
    let now = palisade_test_support::unix_now();
    let nowhere = Uuid::now_v7().to_string();
    let batch = json!([
        sg("delivered", &unique_sid("ev"), now, Some(&nowhere), None),
        sg("open", &unique_sid("ev"), now, Some(&nowhere), None),
    ]);
    let r: TestResponse = sendgrid(&app, &batch).await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.post_stripe(b"{}", None)
        .await
        .assert_error(401, "invalid_signature");

    let s = scrape(&app).await;
    let requests = |method: &str, route: &str, status: &str| {
        s.value(
            "palisade_http_requests_total",
            &[("method", method), ("route", route), ("status", status)],
        )
    };
    assert_eq!(requests("POST", "/v1/auth/signup", "201"), 1.0);
    assert_eq!(requests("POST", "/v1/customers", "201"), 1.0);
    assert_eq!(requests("POST", "/v1/customers", "409"), 1.0);
    assert_eq!(requests("GET", "/v1/customers", "200"), 2.0);
    // Its Location, read by the harness after the create, and the read above.
    assert_eq!(requests("GET", "/v1/customers/{id}", "200"), 2.0);
    assert_eq!(requests("GET", "/v1/customers/{id}", "404"), 1.0);
    assert_eq!(requests("POST", "/v1/auth/login", "200"), 1.0);
    assert_eq!(requests("POST", "/v1/auth/login", "401"), 1.0);
    assert_eq!(requests("GET", "unmatched", "404"), 1.0);
    assert_eq!(requests("POST", "/webhooks/twilio/sms", "200"), 3.0);
    assert_eq!(requests("POST", "/webhooks/twilio/sms", "401"), 1.0);
    assert_eq!(requests("POST", "/webhooks/stripe", "401"), 1.0);

    let list = [("method", "GET"), ("route", "/v1/customers")];
    let count = s.value("palisade_http_request_duration_seconds_count", &list);
    assert_eq!(count, 2.0);
    let mut all = list.to_vec();
    all.push(("le", "+Inf"));
    assert_eq!(
        s.value("palisade_http_request_duration_seconds_bucket", &all),
        2.0
    );
    let mut fastest = list.to_vec();
    fastest.push(("le", "0.001"));
    assert!(s.value("palisade_http_request_duration_seconds_bucket", &fastest) <= 2.0);
    assert!(s.value("palisade_http_request_duration_seconds_sum", &list) > 0.0);
    for kind in [
        "# TYPE palisade_http_requests counter",
        "# TYPE palisade_http_request_duration_seconds histogram",
        "# TYPE palisade_provider_webhooks counter",
        "# TYPE palisade_db_errors counter",
        "# TYPE palisade_db_pool_connections gauge",
        "# TYPE palisade_password_hashing_waiting gauge",
    ] {
        assert!(s.text.contains(kind), "{kind}:\n{}", s.text);
    }

    let webhook = |provider: &str, outcome: &str| {
        s.get(
            "palisade_provider_webhooks_total",
            &[("provider", provider), ("outcome", outcome)],
        )
    };
    assert_eq!(webhook("twilio", "applied"), Some(1.0));
    assert_eq!(webhook("twilio", "duplicate"), Some(1.0));
    assert_eq!(webhook("twilio", "ignored"), Some(1.0));
    assert_eq!(webhook("twilio", "bad_signature"), Some(1.0));
    assert_eq!(webhook("sendgrid", "ignored"), Some(2.0));
    assert_eq!(webhook("stripe", "bad_signature"), Some(1.0));
    assert_eq!(webhook("stripe", "applied"), None);

    // The duplicate email was refused by its unique constraint: SQLSTATE class 23.
    assert!(db_errors(&s, "23") > constraint_errors_before, "{}", s.text);

    // The pools and the hashing threads, sampled at the scrape: nothing in flight now.
    for pool in ["app", "billing"] {
        assert_eq!(
            s.value("palisade_db_pool_max_connections", &[("pool", pool)]),
            4.0
        );
        assert_eq!(s.value("palisade_db_pool_waiting", &[("pool", pool)]), 0.0);
    }
    let open = s.value("palisade_db_pool_connections", &[("pool", "app")]);
    assert!((1.0..=4.0).contains(&open), "{open}");
    assert!(s.value("palisade_db_pool_idle_connections", &[("pool", "app")]) <= open);
    let threads = palisade_api::auth::PasswordHashing::default_concurrency();
    assert_eq!(
        s.value("palisade_password_hashing_threads", &[]),
        threads as f64
    );
    assert_eq!(s.value("palisade_password_hashing_running", &[]), 0.0);
    assert_eq!(s.value("palisade_password_hashing_waiting", &[]), 0.0);

    // No tenant data in any label: no id of any kind, no email, no number.
    assert_eq!(uuids_in(&s.text), Vec::<&str>::new(), "{}", s.text);
    for private in [
        owner.org_id.as_str(),
        owner.user_id.as_str(),
        customer_id.as_str(),
        owner.email.as_str(),
        email.as_str(),
        number.as_str(),
        sid.as_str(),
    ] {
        assert!(!s.text.contains(private), "{private} in:\n{}", s.text);
    }
    let routes: Vec<&String> = s
        .samples
        .iter()
        .filter_map(|(_, labels, _)| labels.get("route"))
        .collect();
    assert!(
        routes
            .iter()
            .all(|r| r.as_str() == "unmatched" || r.starts_with('/')),
        "{routes:?}"
    );

    // The metrics address serves /metrics only, to GET only.
    let addr = app.metrics_addr.as_deref().unwrap();
    assert_eq!(request(addr, "GET", "/", &[], None).await.status, 404);
    assert_eq!(
        request(addr, "GET", "/v1/customers", &[], None)
            .await
            .status,
        404
    );
    assert_eq!(
        request(addr, "POST", "/metrics", &[], None).await.status,
        405
    );
    // Scrapes are not requests of the API.
    let again = scrape(&app).await;
    assert_eq!(
        again.get(
            "palisade_http_requests_total",
            &[("method", "GET"), ("route", "unmatched"), ("status", "404")]
        ),
        Some(1.0)
    );
}

#[actix_web::test]
async fn a_server_without_a_metrics_address_serves_none() {
    let app = spawn_app_configured(|_| {}).await;
    assert_eq!(app.metrics_addr, None);
    app.get(&Anonymous, "/metrics")
        .await
        .assert_error(404, "not_found");
}

#[actix_web::test]
async fn the_metrics_address_cannot_be_the_api_address() {
    // Refused before anything is bound: the port need not be free.
    let db = std::sync::Arc::new(palisade_test_support::TestDb::new().await);
    for (http, metrics) in [
        ("127.0.0.1:18080", "127.0.0.1:18080"),
        ("0.0.0.0:18080", "127.0.0.1:18080"),
    ] {
        let refused = try_spawn_app_on_configured(
            db.clone(),
            1,
            |_| None,
            |c| {
                c.http_addr = http.into();
                c.metrics_addr = Some(metrics.into());
            },
        )
        .await;
        let Err(e) = refused else {
            panic!("the server started with metrics on {metrics} and the API on {http}");
        };
        assert!(e.to_string().contains("public port"), "{e}");
    }
}
