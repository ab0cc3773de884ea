//! Every timestamp a client sees has one spelling, `YYYY-MM-DDTHH:MM:SS.ffffffZ` (RFC 3339,
//! UTC, six fractional digits): in every item and view the isolation seeders reach, in
//! `/v1/organization`, and in the export, which PostgreSQL writes itself (the same as the API's,
//! from the year 0000 to 9999).

use palisade_domain::timestamp::is_canonical;
use palisade_test_support::spawn_app_with_owner;
use serde_json::{Value, json};

use crate::isolation::seed_all;

/// Whether `s` is a date followed by more (a time): what a client would parse as a timestamp.
/// A bare date (`2024-05-01`, the analytics summaries' `from` and `to`) is a date, not one.
fn looks_like_a_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > 10
        && b[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

/// Walks `v`; every timestamp-looking string, and every value of a key ending in `_at`, must be
/// `null` or canonical. Returns how many timestamps it checked; pushes each offender.
fn check(v: &Value, path: &str, bad: &mut Vec<String>) -> usize {
    match v {
        Value::String(s) if looks_like_a_timestamp(s) => {
            if !is_canonical(s) {
                bad.push(format!("{path} = {s:?}"));
            }
            1
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| check(item, &format!("{path}[{i}]"), bad))
            .sum(),
        Value::Object(fields) => fields
            .iter()
            .map(|(k, field)| {
                let here = format!("{path}.{k}");
                let is_time_key = k.ends_with("_at");
                match field {
                    Value::Null => 0,
                    Value::String(s) if is_time_key && !looks_like_a_timestamp(s) => {
                        bad.push(format!("{here} = {s:?} (not a timestamp)"));
                        0
                    }
                    Value::String(_) | Value::Array(_) | Value::Object(_) => {
                        check(field, &here, bad)
                    }
                    other if is_time_key => {
                        bad.push(format!("{here} = {other} (not a string)"));
                        0
                    }
                    _ => 0,
                }
            })
            .sum(),
        _ => 0,
    }
}

#[actix_web::test]
async fn every_timestamp_a_client_sees_is_utc_with_six_fractional_digits() {
    let (app, a) = spawn_app_with_owner("Tenant A").await;
    let seeded = seed_all(&app, &a, "marker-a").await;
    let mut paths: Vec<String> = seeded.items.iter().map(|i| i.path.clone()).collect();
    paths.extend(seeded.views);
    paths.extend(["/v1/organization".to_owned(), "/v1/me".to_owned()]);

    let mut bad = Vec::new();
    let mut seen_in_responses = 0;
    for p in &paths {
        let r = app.get(&a, p).await;
        assert_eq!(r.status, 200, "{p}: {}", r.text);
        seen_in_responses += check(&r.json, p, &mut bad);
    }

    let r = app.get(&a, "/v1/organization/export").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let seen_in_export = check(&r.json, "export", &mut bad);
    assert!(is_canonical(r.json["exported_at"].as_str().unwrap()));
    // Every exported table has a creation or change time per row, and each was checked.
    let tables = r.json["tables"].as_object().unwrap();
    let mut rows = 0;
    for (table, table_rows) in tables {
        for row in table_rows.as_array().unwrap() {
            rows += 1;
            let times = row
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, v)| k.ends_with("_at") && !v.is_null())
                .count();
            assert!(times > 0, "{table}: a row without a timestamp: {row}");
        }
    }

    assert!(
        bad.is_empty(),
        "timestamps spelled otherwise:\n{}",
        bad.join("\n")
    );
    assert!(rows > 20, "the seeders exported only {rows} rows");
    assert!(
        seen_in_export >= rows,
        "{seen_in_export} timestamps in {rows} rows"
    );
    assert!(
        seen_in_responses >= paths.len(),
        "{seen_in_responses} timestamps in {} responses",
        paths.len()
    );
}

/// The export spells each instant the API keeps as the API does, at the ends of its years
/// included: PostgreSQL's `to_char` printed the year 0000 (its 1 BC) as `0001`, so a call
/// started at 0000-02-29 was exported a year later, on a day that year does not have.
#[actix_web::test]
async fn the_export_spells_every_instant_as_the_api_does_from_0000_to_9999() {
    let (app, a) = spawn_app_with_owner("Tenant A").await;
    let mut answered = std::collections::BTreeMap::new();
    for at in [
        "0000-01-01T00:00:00Z",
        "0000-02-29T12:00:00Z",
        "0000-12-31T23:59:59.999999Z",
        "0001-01-01T00:00:00Z",
        "2024-05-01T09:30:00.12+02:00",
        "9999-12-31T23:59:59.999999Z",
    ] {
        let call = app
            .create(
                &a,
                "/v1/calls",
                json!({"direction": "inbound", "from_number": "+14155550123",
                       "to_number": "+14155550124", "status": "ringing", "started_at": at}),
            )
            .await;
        let id = call["id"].as_str().unwrap().to_owned();
        let got = app.get_ok(&a, &format!("/v1/calls/{id}")).await;
        answered.insert(id, got["started_at"].as_str().unwrap().to_owned());
    }
    assert!(
        answered
            .values()
            .any(|t| t == "0000-02-29T12:00:00.000000Z"),
        "{answered:?}"
    );

    let r = app.get(&a, "/v1/organization/export").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let exported: std::collections::BTreeMap<String, String> = r.json["tables"]["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["id"].as_str().unwrap().to_owned(),
                row["started_at"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(exported, answered);
}

#[test]
fn the_walk_finds_what_it_must() {
    let mut bad = Vec::new();
    let v = serde_json::json!({
        "created_at": "2024-05-01T09:30:00.120000Z",
        "updated_at": "2024-05-01T09:30:00.12Z",
        "ended_at": null,
        "sent_at": 1714555800,
        "when": ["2024-05-01T09:30:00+00:00"],
        "from": "2024-05-01",
        "name": "2024 plans",
        "nested": {"started_at": "yesterday"},
    });
    assert_eq!(check(&v, "v", &mut bad), 3);
    bad.sort();
    assert_eq!(
        bad,
        [
            "v.nested.started_at = \"yesterday\" (not a timestamp)",
            "v.sent_at = 1714555800 (not a string)",
            "v.updated_at = \"2024-05-01T09:30:00.12Z\"",
            "v.when[0] = \"2024-05-01T09:30:00+00:00\"",
        ]
    );
}
