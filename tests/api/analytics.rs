//! `/v1/analytics`: ingest (one or a batch, all or nothing), list filters, and the per-day
//! summary.

use palisade_test_support::ids;
use palisade_test_support::spawn_app_with_owner;
use serde_json::json;
use uuid::Uuid;

#[actix_web::test]
async fn events_are_ingested_listed_and_summed_per_day() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let cust = app.create_customer(&a, json!({"name": "Grace"})).await;
    let one = app.create(&a, "/v1/analytics/events", json!({"type": "page.viewed", "occurred_at": "2024-05-01T10:00:00Z", "properties": {"path": "/pricing"}, "customer_id": cust["id"]})).await;
    assert_eq!(
        (&one["type"], &one["properties"]),
        (&json!("page.viewed"), &json!({"path": "/pricing"}))
    );
    let batch = app
        .create(
            &a,
            "/v1/analytics/events/batch",
            json!([
                {"type": "page.viewed", "occurred_at": "2024-05-01T23:59:59Z"},
                {"type": "page.viewed", "occurred_at": "2024-05-02T00:00:00Z"},
                {"type": "signup.completed", "occurred_at": "2024-05-02T08:00:00+02:00"},
                {"type": "signup.completed"}
            ]),
        )
        .await;
    let batch = batch["data"].as_array().unwrap();
    assert_eq!(batch.len(), 4);
    assert_eq!(batch[2]["occurred_at"], "2024-05-02T06:00:00.000000Z");

    let r = app
        .get(&a, "/v1/analytics/events?type=signup.completed")
        .await;
    assert_eq!(ids(&r.json).len(), 2);
    let r = app
        .get(
            &a,
            &format!(
                "/v1/analytics/events?customer_id={}",
                cust["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(ids(&r.json), vec![one["id"].as_str().unwrap().to_owned()]);
    let r = app.get(&a, "/v1/analytics/events?occurred_after=2024-05-01T12:00:00Z&occurred_before=2024-05-02T07:00:00Z").await;
    assert_eq!(ids(&r.json).len(), 3);
    let r = app.get(&a, "/v1/analytics/events?limit=2").await;
    assert_eq!(ids(&r.json).len(), 2);
    assert!(r.json["next_cursor"].is_string());

    let r = app
        .get(&a, "/v1/analytics/summary?from=2024-05-01&to=2024-05-02")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json,
        json!({
            "from": "2024-05-01", "to": "2024-05-02",
            "data": [
                {"day": "2024-05-01", "type": "page.viewed", "count": 2},
                {"day": "2024-05-02", "type": "page.viewed", "count": 1},
                {"day": "2024-05-02", "type": "signup.completed", "count": 1}
            ],
            "totals": [{"type": "page.viewed", "count": 3}, {"type": "signup.completed", "count": 1}]
        })
    );
    let r = app
        .get(
            &a,
            "/v1/analytics/summary?from=2024-05-02&to=2024-05-02&type=page.viewed",
        )
        .await;
    assert_eq!(
        r.json["data"],
        json!([{"day": "2024-05-02", "type": "page.viewed", "count": 1}])
    );
    // The default range (the last 30 days) holds the event ingested without occurred_at.
    let r = app.get(&a, "/v1/analytics/summary").await;
    assert_eq!(
        r.json["totals"],
        json!([{"type": "signup.completed", "count": 1}])
    );
}

#[actix_web::test]
async fn a_batch_is_all_or_nothing_and_foreign_customers_answer_like_missing_ones() {
    let (app, a) = spawn_app_with_owner("A").await;
    let b = app.signup("B").await;
    let b_cust = app.create_customer(&b, json!({"name": "Bob"})).await;
    let mut answers = Vec::new();
    for cust in [
        b_cust["id"].as_str().unwrap().to_owned(),
        Uuid::now_v7().to_string(),
    ] {
        let body = json!([{"type": "ok"}, {"type": "ok", "customer_id": cust}]);
        let r = app.post(&a, "/v1/analytics/events/batch", &body).await;
        answers.push(r);
    }
    palisade_test_support::assert_foreign_like_missing(&answers[0], &answers[1], "customer_id");

    let too_many: Vec<_> = (0..101).map(|_| json!({"type": "x"})).collect();
    // (route, body, the refused field and its code)
    for (path, body, field, code) in [
        ("/batch", json!(too_many), "events", "invalid"),
        ("/batch", json!([]), "events", "invalid"),
        (
            "/batch",
            json!([{"type": "ok"}, {"type": "Bad Type"}]),
            "[1].type",
            "invalid",
        ),
        ("/batch", json!({"type": "x"}), "", "invalid_type"),
        ("", json!([{"type": "x"}]), "[0]", "invalid_type"),
        (
            "",
            json!({"type": "x", "properties": [1]}),
            "properties",
            "invalid",
        ),
        (
            "",
            json!({"type": "x", "occurred_at": "soon"}),
            "occurred_at",
            "invalid",
        ),
    ] {
        let r = app
            .post(&a, &format!("/v1/analytics/events{path}"), &body)
            .await;
        let refused = &r.json["fields"][0];
        assert_eq!(
            (
                r.status,
                refused["field"].as_str(),
                refused["code"].as_str()
            ),
            (422, Some(field), Some(code)),
            "{path} {body}: {}",
            r.text
        );
    }
    let r = app
        .post(
            &a,
            "/v1/analytics/events",
            &json!({"type": "x", "extra": 1}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = app.get(&a, "/v1/analytics/events").await;
    assert_eq!(
        r.json["data"],
        json!([]),
        "a refused batch stored something"
    );

    for bad in [
        "?from=2024-05-02&to=2024-05-01",
        "?from=2023-01-01&to=2024-05-01",
        "?from=May",
        "?type=A",
    ] {
        let r = app.get(&a, &format!("/v1/analytics/summary{bad}")).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text);
    }
}

/// Days and instants at the ends of the calendar (years 0000 to 9999 in UTC, what RFC 3339
/// writes) are kept and summed; past them, the field is named in a 422. The summary of the
/// last days of 9999 once panicked ("resulting value is out of range") and dropped the
/// connection.
#[actix_web::test]
async fn the_ends_of_the_calendar_are_kept_and_past_them_is_a_422() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let last = json!({"type": "page.viewed", "occurred_at": "9999-12-31T23:59:59.999999Z"});
    let last = app.create(&a, "/v1/analytics/events", last).await;
    let r = app
        .get(&a, "/v1/analytics/summary?from=9999-12-01&to=9999-12-31")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (&r.json["from"], &r.json["to"], &r.json["data"]),
        (
            &json!("9999-12-01"),
            &json!("9999-12-31"),
            &json!([{"day": "9999-12-31", "type": "page.viewed", "count": 1}])
        )
    );
    // Without `from`, the 30 days ending `to`, never before the first day.
    let r = app.get(&a, "/v1/analytics/summary?to=0000-01-10").await;
    assert_eq!(
        (r.status, &r.json["from"]),
        (200, &json!("0000-01-01")),
        "{}",
        r.text
    );
    // What was kept reads back.
    let r = app.get(&a, "/v1/analytics/events").await;
    assert_eq!(ids(&r.json), vec![last["id"].as_str().unwrap().to_owned()]);

    for (query, field) in [
        ("from=-0001-12-01&to=0000-01-01", "from"),
        ("from=9999-12-01&to=10000-01-01", "to"),
        ("to=-0001-01-01", "to"),
    ] {
        let r = app.get(&a, &format!("/v1/analytics/summary?{query}")).await;
        assert_eq!(
            (r.status, &r.json["fields"][0]["field"]),
            (422, &json!(field)),
            "{query}: {}",
            r.text
        );
    }
    // Written within the years, outside them once in UTC; and filters alike.
    for occurred_at in ["9999-12-31T23:59:59-00:01", "0000-01-01T00:00:00+00:01"] {
        let r = app
            .post(
                &a,
                "/v1/analytics/events",
                &json!({"type": "x", "occurred_at": occurred_at}),
            )
            .await;
        assert_eq!(
            (r.status, &r.json["fields"][0]["field"]),
            (422, &json!("occurred_at")),
            "{occurred_at}: {}",
            r.text
        );
        let r = app
            .get(
                &a,
                &format!("/v1/analytics/events?occurred_after={occurred_at}"),
            )
            .await;
        assert_eq!(r.status, 422, "{occurred_at}: {}", r.text);
    }
    let r = app.get(&a, "/v1/analytics/events").await;
    assert_eq!(ids(&r.json).len(), 1);
}

/// NUL in any string or key of `properties` is refused on the field, for one event and in a
/// batch (nothing of which is stored): PostgreSQL's jsonb cannot hold it (once a 500, 22P05).
#[actix_web::test]
async fn nul_in_properties_is_refused_on_the_field() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    for (path, body, field) in [
        (
            "",
            json!({"type": "x", "properties": {"path": "/a\u{0}"}}),
            "properties",
        ),
        (
            "",
            json!({"type": "x", "properties": {"nested": {"k\u{0}": 1}}}),
            "properties",
        ),
        (
            "/batch",
            json!([{"type": "x"}, {"type": "y", "properties": {"list": ["ok", "\u{0}"]}}]),
            "[1].properties",
        ),
    ] {
        let r = app
            .post(&a, &format!("/v1/analytics/events{path}"), &body)
            .await;
        assert_eq!(
            (r.status, &r.json["fields"][0]["field"]),
            (422, &json!(field)),
            "{body}: {}",
            r.text
        );
    }
    let r = app.get(&a, "/v1/analytics/events").await;
    assert_eq!(r.json["data"], json!([]));
}
