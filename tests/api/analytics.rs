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
            "from": "2024-05-01", "to": "2024-05-02", "tz": "UTC",
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

/// Types are free-form, so a summary without `type` counts at most 1,000 of them over its range:
/// one holding more answers 422 `required` on `type` (before, every row was read and summed
/// on the worker thread, however many types a member had ingested), and one type of the same
/// range still answers. Exactly 1,000 types answer in full.
#[actix_web::test]
async fn a_summary_without_a_type_counts_at_most_1000_types() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let ingest = |types: Vec<String>, at: &'static str| {
        let (app, a) = (&app, &a);
        async move {
            // A batch holds at most 100 events.
            for chunk in types.chunks(100) {
                let batch: Vec<_> = chunk
                    .iter()
                    .map(|t| json!({"type": t, "occurred_at": at}))
                    .collect();
                app.create(a, "/v1/analytics/events/batch", json!(batch))
                    .await;
            }
        }
    };
    let types = |range: std::ops::Range<usize>| range.map(|i| format!("t{i:04}")).collect();
    ingest(types(0..1000), "2024-05-01T12:00:00Z").await;
    ingest(types(1000..1001), "2024-05-02T12:00:00Z").await;
    let summary = |query: &'static str| app.get(&a, query);

    // Day one: exactly 1,000 types, counted in full.
    let r = summary("/v1/analytics/summary?from=2024-05-01&to=2024-05-01").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let totals = r.json["totals"].as_array().unwrap();
    assert_eq!(
        (totals.len(), r.json["data"].as_array().unwrap().len()),
        (1000, 1000)
    );
    assert_eq!(totals[999], json!({"type": "t0999", "count": 1}));
    // Both days: 1,001 types on 1,001 rows (fewer than 2 days times 1,000).
    let too_many = |r: &palisade_test_support::TestResponse| {
        assert_eq!(
            (
                r.status,
                &r.json["fields"][0]["field"],
                &r.json["fields"][0]["code"]
            ),
            (422, &json!("type"), &json!("required")),
            "{}",
            r.json["fields"]
        );
    };
    too_many(&summary("/v1/analytics/summary?from=2024-05-01&to=2024-05-02").await);
    // One type of the same range answers.
    let r = summary("/v1/analytics/summary?from=2024-05-01&to=2024-05-02&type=t1000").await;
    assert_eq!(
        (r.status, &r.json["totals"]),
        (200, &json!([{"type": "t1000", "count": 1}])),
        "{}",
        r.text
    );
    // Day one with a 1,001st type: more rows than one day holds for 1,000 types.
    ingest(types(1001..1002), "2024-05-01T13:00:00Z").await;
    too_many(&summary("/v1/analytics/summary?from=2024-05-01&to=2024-05-01").await);
    let r = summary("/v1/analytics/summary?from=2024-05-01&to=2024-05-01&type=t0005").await;
    assert_eq!(
        (r.status, &r.json["data"]),
        (
            200,
            &json!([{"day": "2024-05-01", "type": "t0005", "count": 1}])
        ),
        "{}",
        r.text
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
    palisade_test_support::assert_foreign_like_missing(&answers[0], &answers[1], "[1].customer_id");
    // The first item whose customer is not the organization's is the one named.
    let a_cust = app.create_customer(&a, json!({"name": "Ada"})).await;
    let body = json!([
        {"type": "ok", "customer_id": a_cust["id"]},
        {"type": "ok"},
        {"type": "ok", "customer_id": b_cust["id"]},
        {"type": "ok", "customer_id": Uuid::now_v7().to_string()},
    ]);
    let r = app.post(&a, "/v1/analytics/events/batch", &body).await;
    assert_eq!(
        (r.status, &r.json["fields"]),
        (
            422,
            &json!([{"field": "[2].customer_id", "code": "not_found",
                     "reason": "does not exist in this organization"}])
        ),
        "{}",
        r.text
    );
    // A single event's is named without an index.
    let r = app
        .post(
            &a,
            "/v1/analytics/events",
            &json!({"type": "ok", "customer_id": b_cust["id"]}),
        )
        .await;
    assert_eq!(r.json["fields"][0]["field"], "customer_id", "{}", r.text);

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
        // An event is an object: serde's derive would read an array as the fields in order.
        (
            "/batch",
            json!([{"type": "ok"}, ["page.viewed", null, null, null]]),
            "[1]",
            "invalid_type",
        ),
        ("/batch", json!([["page.viewed"]]), "[0]", "invalid_type"),
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
    for (path, body, named) in [
        ("", json!({"type": "x", "extra": 1}), "extra"),
        (
            "/batch",
            json!([{"type": "x"}, {"type": "x", "extra": 1}]),
            "[1].extra",
        ),
    ] {
        let r = app
            .post(&a, &format!("/v1/analytics/events{path}"), &body)
            .await;
        assert_eq!(
            (r.status, r.json["error"].as_str()),
            (400, Some("unknown_field")),
            "{body}: {}",
            r.text
        );
        assert!(
            r.json["message"].as_str().unwrap().ends_with(named),
            "{}",
            r.text
        );
    }
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

/// `{"n": [0, 0, ...]}` with `zeros` zeros: 12 bytes a zero as jsonb, 2 as text.
fn zeros(zeros: usize) -> serde_json::Value {
    json!({"n": vec![0; zeros]})
}

/// `properties` is bounded as stored too (`pg_column_size(properties) <= 8192`, sql/V0026), not
/// only as text: an object of many small numbers under 4 KiB of text can be over 8 KiB as jsonb,
/// and was a 500. It is refused on the field (`too_long`), for one event and by index in a
/// batch, and nothing is stored; an object just within the bound is stored.
#[actix_web::test]
async fn properties_too_large_as_stored_are_refused_on_the_field_and_store_nothing() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    // 22 + 12 × 680 = 8182 bytes as jsonb; 681 zeros make 8194.
    for (path, body, field) in [
        (
            "",
            json!({"type": "x", "properties": zeros(681)}),
            "properties",
        ),
        (
            "",
            json!({"type": "x", "properties": zeros(2044)}),
            "properties",
        ),
        (
            "/batch",
            json!([{"type": "x"}, {"type": "x"}, {"type": "x"}, {"type": "y", "properties": zeros(2044)}]),
            "[3].properties",
        ),
    ] {
        let r = app
            .post(&a, &format!("/v1/analytics/events{path}"), &body)
            .await;
        let refused = &r.json["fields"][0];
        assert_eq!(
            (r.status, &refused["field"], &refused["code"]),
            (422, &json!(field), &json!("too_long")),
            "{path}: {}",
            r.text
        );
    }
    let r = app.get(&a, "/v1/analytics/events").await;
    assert_eq!(r.json["data"], json!([]));

    let one = app
        .create(
            &a,
            "/v1/analytics/events",
            json!({"type": "x", "properties": zeros(680)}),
        )
        .await;
    assert_eq!(one["properties"], zeros(680));
    let batch = app
        .create(
            &a,
            "/v1/analytics/events/batch",
            json!([{"type": "x", "properties": zeros(680)}, {"type": "y"}]),
        )
        .await;
    assert_eq!(batch["data"][0]["properties"], zeros(680));
}

/// `palisade_domain::jsonb_size`, with which `properties` and `parameters` are bounded as
/// stored, is the size the server gives the same value sent as a write sends it
/// (`pg_column_size` of a `jsonb` parameter): for numbers of every magnitude and scale, strings
/// of every width, booleans, nulls, nested arrays and objects. And the bounds are the CHECKs'.
#[actix_web::test]
async fn jsonb_size_is_the_size_the_server_measures() {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use serde_json::{Map, Value};

    let db = palisade_test_support::TestDb::new().await;
    let c = db.app_client().await;
    let size = async |v: &Value| -> usize {
        let row = c
            .query_one("SELECT pg_column_size($1::jsonb)", &[v])
            .await
            .unwrap();
        usize::try_from(row.get::<_, i32>(0)).unwrap()
    };

    let within = |x: &f64| x.is_finite() && x.abs() <= 1e300;
    let number = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-20_000i64..20_000).prop_map(Value::from),
        any::<f64>()
            .prop_filter("within 1e300", within)
            .prop_map(Value::from),
        (1u32..100_000, -330i32..300)
            .prop_map(|(m, e)| f64::from(m) * 10f64.powi(e))
            .prop_filter("within 1e300", within)
            .prop_map(Value::from),
    ];
    let text = any::<String>().prop_map(|s| s.replace('\0', ""));
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number,
        text.clone().prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..8).prop_map(|members| {
                Value::Object(
                    members
                        .into_iter()
                        .map(|(k, v)| (k.replace('\0', ""), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    });
    let object = prop::collection::vec((text, value), 0..8)
        .prop_map(|members| Value::Object(members.into_iter().collect()));

    let mut values = vec![
        json!({}),
        json!({"n": vec![0; 681]}),
        json!({"n": [0, -0.0, 1e300, -1e300, 1e-300, 5e-324, u64::MAX, i64::MIN, 0.1, 123.0,
                     1e15, 1e16, 1.5e-7, 9999, 10000, 99_999_999, 1e-64, 1e-63, 1e252, 1e256]}),
    ];
    let mut runner = TestRunner::deterministic();
    for _ in 0..1000 {
        values.push(object.new_tree(&mut runner).unwrap().current());
    }
    for v in &values {
        assert_eq!(palisade_domain::jsonb_size(v), size(v).await, "{v}");
    }

    for (constraint, column, bound) in [
        (
            palisade_db::analytics::PROPERTIES_CHECK,
            "properties",
            palisade_domain::EventProperties::MAX_STORED_BYTES,
        ),
        (
            palisade_db::reports::PARAMETERS_CHECK,
            "parameters",
            palisade_domain::ReportParameters::MAX_STORED_BYTES,
        ),
    ] {
        let def: String = c
            .query_one(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1",
                &[&constraint],
            )
            .await
            .unwrap()
            .get(0);
        assert!(
            def.contains(&format!("pg_column_size({column}) <= {bound})")),
            "{constraint}: {def}"
        );
    }
}

/// The type filter of the event list reads its page from analytics_events_org_type_created_idx
/// (V0166), in the page's order: nothing read and thrown away, however rare the type and however
/// long the organization's history. 20 organizations of 3,000 events of 10 types, and 3 events
/// of a rare type, the organization's oldest; EXPLAIN ANALYZE (row counts, no timing) as
/// palisade_app with one organization's context, of exactly the statement the list route runs.
#[tokio::test]
async fn the_type_filter_reads_only_that_types_events_from_its_index() {
    use palisade_db::analytics::{Event, EventFilter};
    use palisade_db::crud::{self, Filter};
    let db = palisade_test_support::TestDb::new().await;
    let su = db.superuser_client().await;
    su.batch_execute(
        "INSERT INTO palisade.organizations (id, name)
             SELECT gen_random_uuid(), 'org ' || g FROM generate_series(1, 20) g;
         INSERT INTO palisade.analytics_events (organization_id, id, event_type, occurred_at, created_at)
             SELECT o.id, gen_random_uuid(), 'page.viewed_' || (g % 10),
                    now() - g * interval '1 minute', now() - g * interval '1 minute'
               FROM palisade.organizations o, generate_series(1, 3000) g;
         ANALYZE palisade.organizations;",
    )
    .await
    .unwrap();
    let org: Uuid = su
        .query_one("SELECT id FROM palisade.organizations LIMIT 1", &[])
        .await
        .unwrap()
        .get(0);
    su.execute(
        "INSERT INTO palisade.analytics_events (organization_id, id, event_type, occurred_at, created_at)
             SELECT $1, gen_random_uuid(), 'refund.requested', now() - interval '1 year',
                    now() - interval '1 year' - g * interval '1 second'
               FROM generate_series(1, 3) g",
        &[&org],
    )
    .await
    .unwrap();
    su.batch_execute("ANALYZE palisade.analytics_events")
        .await
        .unwrap();
    let rare = "refund.requested";
    let filter = EventFilter {
        event_type: Some(palisade_domain::EventType::parse(rare).unwrap()),
        ..EventFilter::default()
    };
    let query = filter.narrow(crud::list::<Event>());
    let sql = format!("{} ORDER BY created_at DESC, id DESC LIMIT 51", query.sql());
    let c = db.app_client().await;
    palisade_test_support::sql::begin_as(&c, org, "member").await;
    let plan: Vec<String> = c
        .query(
            &format!("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {sql}"),
            &[&rare],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let found = c.query(&sql, &[&rare]).await.unwrap().len();
    palisade_test_support::sql::rollback(&c).await;
    let plan = plan.join("\n");
    assert!(
        plan.contains("analytics_events_org_type_created_idx"),
        "{plan}"
    );
    assert!(!plan.contains("Rows Removed by Filter"), "{plan}");
    assert!(!plan.contains("Sort"), "{plan}");
    assert_eq!(found, 3);
}

/// The table holds event types to the API's rule (`palisade_domain::EventType`), whatever writes
/// them: 1 to 64 characters, a lower-case letter then lower-case letters, digits, `_` and `.`
/// (`analytics_events_event_type_check`: V0026's, written without a bounded repetition by V0170
/// and validated by V0171). A type outside it is refused as the app role, with nothing written,
/// and by `EventType::parse`, which the API's validation uses.
#[actix_web::test]
async fn the_table_refuses_the_event_types_the_api_refuses() {
    use palisade_test_support::sql::{assert_check_refuses, constraint_definition};
    let (app, a) = spawn_app_with_owner("Acme").await;
    let c = app.db.app_client().await;
    let insert = "INSERT INTO palisade.analytics_events (id, event_type, occurred_at) \
                  VALUES (gen_random_uuid(), $1, now())";
    let longest = format!("a{}", "b.9_".repeat(15) + "xyz");
    assert_eq!(longest.len(), 64);
    palisade_test_support::sql::begin_as(&c, &a.org_id, "owner").await;
    for t in [
        "a",
        "page.viewed",
        "signup_completed.v2",
        "a.",
        longest.as_str(),
    ] {
        assert!(palisade_domain::EventType::parse(t).is_ok(), "{t:?}");
        c.execute(insert, &[&t])
            .await
            .unwrap_or_else(|e| panic!("{t:?}: {e}"));
    }
    let too_long = format!("{longest}z");
    for t in [
        "",
        too_long.as_str(),
        "Page.viewed",
        "1page",
        "_page",
        ".page",
        "page-viewed",
        "page viewed",
        "caf\u{e9}",
        "page\n",
        "\npage",
    ] {
        assert!(palisade_domain::EventType::parse(t).is_err(), "{t:?}");
        assert_check_refuses(&c, insert, t, "analytics_events_event_type_check").await;
    }
    c.batch_execute("COMMIT").await.unwrap();
    let su = app.db.superuser_client().await;
    let stored: i64 = su
        .query_one(
            "SELECT count(*) FROM palisade.analytics_events WHERE organization_id::text = $1",
            &[&a.org_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 5);
    // V0170's form, validated: no `{0,63}` for PostgreSQL's regex engine to unroll.
    assert_eq!(
        constraint_definition(&su, "analytics_events_event_type_check").await,
        (
            "CHECK (((char_length(event_type) <= 64) AND (event_type ~ '^[a-z][a-z0-9_.]*$'::text)))"
                .to_owned(),
            true
        )
    );
}

/// `tz` counts the days in a time zone, daylight saving included: the days' bounds and each
/// event's day are the zone's. Around New York's change to summer time (10 March 2024, 02:00
/// local, 07:00 UTC), an event at 03:59 UTC on 11 March is still the 10th there (EDT, UTC-4) and
/// one at 04:00 UTC is the 11th: a bound computed with the winter offset (UTC-5) would count it.
#[actix_web::test]
async fn a_summary_counts_the_days_of_its_time_zone() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    for at in [
        "2024-03-08T16:00:00Z", // 8 March, 11:00 in New York (EST); 9 March, 01:00 in Tokyo
        "2024-03-09T04:30:00Z", // 8 March, 23:30 in New York; 9 March in Tokyo
        "2024-03-10T06:30:00Z", // 10 March, 01:30 EST, before the change; 10 March in Tokyo
        "2024-03-11T03:59:00Z", // 10 March, 23:59 EDT; 11 March in Tokyo
        "2024-03-11T04:00:00Z", // 11 March, 00:00 EDT
        // Havana turns its clocks back at 01:00 on 3 November 2024: 00:00 to 01:00 happens
        // twice, and this is the first 00:30 (UTC-4), already 3 November there.
        "2024-11-03T04:30:00Z",
    ] {
        app.create(
            &a,
            "/v1/analytics/events",
            json!({"type": "page.viewed", "occurred_at": at}),
        )
        .await;
    }
    let summary = |query: &str| {
        let (app, a) = (&app, &a);
        let path = format!("/v1/analytics/summary?{query}");
        async move {
            let r = app.get(a, &path).await;
            assert_eq!(r.status, 200, "{path}: {}", r.text);
            r.json
        }
    };
    let march = |tz: &str| format!("from=2024-03-08&to=2024-03-10{tz}");
    let day = |d: &str, n: i64| json!({"day": d, "type": "page.viewed", "count": n});
    let new_york = summary(&march("&tz=America/New_York")).await;
    assert_eq!(new_york["tz"], "America/New_York");
    assert_eq!(
        new_york["data"],
        json!([day("2024-03-08", 2), day("2024-03-10", 2)])
    );
    assert_eq!(
        new_york["totals"],
        json!([{"type": "page.viewed", "count": 4}])
    );
    // Any case, answered as the database spells it; UTC as without tz.
    let utc = summary(&march("")).await;
    assert_eq!(summary(&march("&tz=UTC")).await, utc);
    assert_eq!(utc["tz"], "UTC");
    assert_eq!(
        utc["data"],
        json!([
            day("2024-03-08", 1),
            day("2024-03-09", 1),
            day("2024-03-10", 1)
        ])
    );
    assert_eq!(summary(&march("&tz=america/new_york")).await, new_york);
    // Tokyo (UTC+9, no summer time).
    assert_eq!(
        summary(&march("&tz=Asia/Tokyo")).await["data"],
        json!([day("2024-03-09", 2), day("2024-03-10", 1)])
    );
    // Havana's doubled midnight: the first 00:30 of 3 November is the 3rd, never the 2nd.
    let havana = |from: &str, to: &str| format!("from={from}&to={to}&tz=America/Havana");
    assert_eq!(
        summary(&havana("2024-11-01", "2024-11-02")).await["data"],
        json!([])
    );
    assert_eq!(
        summary(&havana("2024-11-03", "2024-11-03")).await["data"],
        json!([day("2024-11-03", 1)])
    );

    // Not a zone name a summary may use: an abbreviation (`CET`, listed as a zone too, would be
    // read as the abbreviation, never summer time), a POSIX specification (PostgreSQL would read
    // `UTC+3` as three hours west of UTC), the server's own zone, a made-up or overlong name.
    for tz in [
        "PST",
        "CET",
        "cet",
        "UTC%2B3",
        "localtime",
        "Mars/Olympus_Mons",
        "",
        &"A".repeat(65),
    ] {
        for route in ["/v1/analytics/summary", "/v1/social/analytics"] {
            let r = app.get(&a, &format!("{route}?tz={tz}&from=May")).await;
            assert_eq!(
                (r.status, &r.json["fields"]),
                (
                    422,
                    &json!([
                        {"field": "from", "code": "invalid", "reason": "must be a date, like 2024-05-01"},
                        {"field": "tz", "code": "invalid", "reason": "must be a time zone name the database knows, like Europe/Paris or UTC"}
                    ])
                ),
                "{route} {tz}: {}",
                r.text
            );
        }
    }
    // Both dates wrong: both named in one 422. And `to` 366 days after `from` is one day too
    // many (366 days in all at most), as the document says.
    for route in ["/v1/analytics/summary", "/v1/social/analytics"] {
        let r = app
            .get(&a, &format!("{route}?from=2024-13-01&to=nope"))
            .await;
        let fields: Vec<&str> = r.json["fields"]
            .as_array()
            .map(|f| f.iter().filter_map(|f| f["field"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            (r.status, fields),
            (422, vec!["to", "from"]),
            "{route}: {}",
            r.text
        );
        let r = app
            .get(&a, &format!("{route}?from=2024-01-01&to=2025-01-01"))
            .await;
        assert_eq!(r.status, 422, "{route}: {}", r.text);
        let r = app
            .get(&a, &format!("{route}?from=2024-01-02&to=2025-01-01"))
            .await;
        assert_eq!(r.status, 200, "{route}: {}", r.text);
    }
    assert_eq!(
        summary(&march("&tz=Europe/Paris")).await["tz"],
        "Europe/Paris"
    );
    // GMT, UCT and Zulu are abbreviations too, but UTC either way: accepted.
    for tz in ["GMT", "UCT", "Zulu"] {
        let r = summary(&march(&format!("&tz={tz}"))).await;
        assert_eq!((&r["tz"], &r["data"]), (&json!(tz), &utc["data"]));
    }

    // Without `to`, the last day is today in the zone, as the database says it is: on one side
    // of the date line or the other, it is not today in UTC, whatever the hour.
    let su = app.db.superuser_client().await;
    let today = |zone: &'static str| {
        let su = &su;
        async move {
            let row = su
                .query_one(
                    "SELECT to_char((now() AT TIME ZONE $1)::date, 'YYYY-MM-DD')",
                    &[&zone],
                )
                .await
                .unwrap();
            row.get::<_, String>(0)
        }
    };
    for zone in ["Pacific/Kiritimati", "Pacific/Pago_Pago"] {
        let before = today(zone).await;
        let r = summary(&format!("tz={zone}")).await;
        let after = today(zone).await;
        let to = r["to"].as_str().unwrap().to_owned();
        assert!(
            to == before || to == after,
            "{zone}: {to}, not {before} or {after}"
        );
        // Today there is a good `from` there, whichever day it is in UTC (the check before the
        // read allows a day either side of UTC's; a check at UTC's today would refuse
        // Kiritimati's between 10:00 and 24:00 UTC).
        let r = app
            .get(
                &a,
                &format!("/v1/analytics/summary?from={before}&tz={zone}"),
            )
            .await;
        let now = today(zone).await;
        assert!(
            r.status == 200 || now != before,
            "from={before} (today in {zone}): {}",
            r.text
        );
    }
    // A `from` wrong in any zone is refused with the other fields; one wrong in the zone only,
    // once the database has said which day it is there: tomorrow in UTC is after today in Pago
    // Pago (UTC-11), and 366 days before yesterday in UTC more than 366 before today in
    // Kiritimati (UTC+14).
    let utc_today = time::OffsetDateTime::now_utc().date();
    let tomorrow = utc_today.next_day().unwrap();
    let long_ago = utc_today - time::Duration::days(366);
    for (query, reason) in [
        ("from=9999-12-31".to_owned(), "must not be after to"),
        (
            "from=2020-01-01".to_owned(),
            "the range is at most 366 days",
        ),
        (
            format!("from={tomorrow}&tz=Pacific/Pago_Pago"),
            "must not be after to",
        ),
        (
            format!("from={long_ago}&tz=Pacific/Kiritimati"),
            "the range is at most 366 days",
        ),
    ] {
        for route in ["/v1/analytics/summary", "/v1/social/analytics"] {
            let r = app.get(&a, &format!("{route}?{query}")).await;
            assert_eq!(
                (
                    r.status,
                    &r.json["fields"][0]["field"],
                    &r.json["fields"][0]["reason"]
                ),
                (422, &json!("from"), &json!(reason)),
                "{route}?{query}: {}",
                r.text
            );
        }
    }
}
