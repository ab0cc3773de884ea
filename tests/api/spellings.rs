//! One enum spelling for clients: snake_case (dotted for event types), one word for cancelled,
//! in what the API serves and in what the database stores, and an upgrade that rewrites the
//! spellings older versions stored (V0120, and V0121's `cancelled_at`).

use std::sync::Arc;

use palisade_db::audit::Drift;
use palisade_db::schema;
use palisade_test_support::{TestDb, cluster, spawn_app, spawn_app_on};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

/// `snake_case`, or dotted `snake_case` segments (`customer.created`, `sms.inbound`).
fn is_our_spelling(s: &str) -> bool {
    s.split('.').all(|seg| {
        seg.starts_with(|c: char| c.is_ascii_lowercase())
            && seg
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !seg.ends_with('_')
            && !seg.contains("__")
    })
}

#[test]
fn our_spelling_is_snake_case() {
    for ok in [
        "queued",
        "in_progress",
        "no_answer",
        "email.event",
        "chat.message.created",
    ] {
        assert!(is_our_spelling(ok), "{ok}");
    }
    for bad in [
        "in-progress",
        "noAnswer",
        "Queued",
        "",
        "a..b",
        "_x",
        "x_",
        "a__b",
        "9lives",
    ] {
        assert!(!is_our_spelling(bad), "{bad}");
    }
}

/// Every value a CHECK constraint of ours enumerates (`col IN ('a', 'b')`, which the catalog
/// shows as `col = ANY (ARRAY['a'::text, 'b'::text])`) is spelled our way, and `canceled` is
/// nowhere: the stored values are the served ones, so this is also what clients see.
#[actix_web::test]
async fn every_enumerated_value_the_database_accepts_is_snake_case() {
    let app = spawn_app().await;
    let su = app.db.superuser_client().await;
    let rows = su
        .query(
            "SELECT n.nspname || '.' || c.conrelid::regclass::text || ' ' || c.conname,
                    (regexp_matches(pg_get_constraintdef(c.oid), 'ARRAY\\[([^]]*)\\]', 'g'))[1]
               FROM pg_constraint c
               JOIN pg_namespace n ON n.oid = c.connamespace
              WHERE c.contype = 'c' AND n.nspname LIKE 'palisade%'",
            &[],
        )
        .await
        .unwrap();
    let mut values = Vec::new();
    for row in &rows {
        let constraint: String = row.get(0);
        let array: String = row.get(1);
        for item in array.split(", ") {
            let value = item
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix("'::text"))
                .unwrap_or_else(|| panic!("{constraint}: unexpected item {item}"));
            values.push((constraint.clone(), value.to_owned()));
        }
    }
    let named = |v: &str| values.iter().any(|(_, x)| x == v);
    assert!(
        named("in_progress") && named("cancelled") && named("sms.inbound"),
        "the catalog query found the enumerations: {values:?}"
    );
    let bad: Vec<_> = values
        .iter()
        .filter(|(_, v)| !is_our_spelling(v) || v.contains("canceled"))
        .collect();
    assert!(bad.is_empty(), "spelled otherwise: {bad:?}");
}

/// A database of the version before V0120, holding every old spelling: after the upgrade the
/// API serves (and the database holds) only the new ones, the rows are otherwise unchanged,
/// the old spellings are refused, and the upgraded database is exactly what `sql/` and
/// `policies/` build (the audit's drift check).
#[actix_web::test]
async fn an_upgrade_rewrites_the_old_spellings_of_calls_and_subscriptions() {
    // The version before V0120.
    let db = Arc::new(TestDb::at_version(119).await);
    let password = "the owner's own password";
    let (org, _owner, email) = db.insert_old_owner(password).await;
    let su = db.superuser_client().await;
    su.execute(
        "UPDATE palisade.organizations SET plan = 'free', plan_status = 'canceled' WHERE id = $1",
        &[&org],
    )
    .await
    .unwrap();
    // One call per status, in the spellings of the time (Twilio's).
    let old_call_statuses = [
        "queued",
        "ringing",
        "in-progress",
        "completed",
        "busy",
        "no-answer",
        "failed",
        "canceled",
    ];
    for status in old_call_statuses {
        su.execute(
            "INSERT INTO palisade.calls (organization_id, id, direction, from_number, to_number, \
                 status, created_at, updated_at) \
             VALUES ($1, $2, 'inbound', '+14155550123', '+14155550100', $3, \
                     '2024-05-01T10:00:00Z', '2024-05-01T10:00:00Z')",
            &[&org, &Uuid::now_v7(), &status],
        )
        .await
        .unwrap();
    }
    let ended = time::macros::datetime!(2024-04-30 08:00 UTC);
    for (sub, status, canceled_at) in [
        ("sub_Old1", "canceled", Some(ended)),
        ("sub_Old2", "past_due", None),
    ] {
        su.execute(
            "INSERT INTO palisade.subscriptions (organization_id, id, stripe_subscription_id, \
                 status, plan, unit_amount_cents, currency, canceled_at, stripe_updated_at, \
                 created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'pro', 2900, 'usd', $5, '2024-05-01T10:00:00Z', \
                     '2024-05-01T10:00:00Z', '2024-05-01T10:00:00Z')",
            &[&org, &Uuid::now_v7(), &sub, &status, &canceled_at],
        )
        .await
        .unwrap();
    }

    db.upgrade().await;

    // Stored: the new spellings, nothing else touched.
    let stored: Vec<(String, OffsetDateTime)> = palisade_test_support::sql::pairs(
        &su,
        "SELECT status, updated_at FROM palisade.calls ORDER BY id",
    )
    .await;
    let new_call_statuses = crate::messaging::CALL_STATUSES;
    let updated = time::macros::datetime!(2024-05-01 10:00 UTC);
    assert_eq!(
        stored,
        new_call_statuses
            .iter()
            .map(|s| (s.to_string(), updated))
            .collect::<Vec<_>>()
    );
    let plan_status: String = su
        .query_one("SELECT plan_status FROM palisade.organizations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(plan_status, "cancelled");
    // The old spellings are refused from now on.
    for (sql, old) in [
        ("UPDATE palisade.calls SET status = $1", "in-progress"),
        ("UPDATE palisade.calls SET status = $1", "no-answer"),
        ("UPDATE palisade.calls SET status = $1", "canceled"),
        ("UPDATE palisade.subscriptions SET status = $1", "canceled"),
        (
            "UPDATE palisade.organizations SET plan_status = $1",
            "canceled",
        ),
    ] {
        let e = su.execute(sql, &[&old]).await.unwrap_err();
        assert_eq!(
            e.code(),
            Some(&tokio_postgres::error::SqlState::CHECK_VIOLATION),
            "{sql} {old}"
        );
    }

    // The upgraded database is what the repository builds: no violation, no drift (the CHECKs
    // read as a new database's, row-level security forced again).
    let report = palisade_server::audit::audit_database(
        &db.url_as(schema::OWNER_ROLE),
        Some(&cluster().superuser_url("postgres")),
        true,
    )
    .await
    .unwrap();
    // Roles are cluster-wide: tests/api/startup.rs's probe roles (palisade_probe_*: login members
    // of palisade_app, one of them briefly with CREATEROLE) and tests/api/backup.rs's
    // palisade_backup able to log in for its dump, made by tests running beside this one, are
    // real findings of every database while they last. Only they are set aside.
    let violations: Vec<_> = report
        .violations
        .iter()
        .filter(|v| {
            !(v.object_type == "role"
                && (v.object.starts_with("palisade_probe_") || v.kind == "backup_role_can_login"))
        })
        .collect();
    assert!(violations.is_empty(), "{violations:?}");
    match &report.drift {
        Drift::Checked { differences, .. } => assert!(differences.is_empty(), "{differences:?}"),
        Drift::Skipped { reason } => panic!("drift skipped: {reason}"),
    }

    // Served: the new spellings, in the list, the dashboard, the organization and the export.
    let app = spawn_app_on(db).await;
    let r = app.login(&email, password).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.json["token"].as_str().unwrap().to_owned();
    let get = |path: &'static str| {
        let (app, token) = (&app, token.clone());
        async move {
            let r = app.get(&token, path).await;
            assert_eq!(r.status, 200, "{path}: {}", r.text);
            r.json
        }
    };
    let mut served: Vec<String> = get("/v1/calls?limit=100").await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap().to_owned())
        .collect();
    served.sort();
    let mut expected: Vec<String> = new_call_statuses.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(served, expected);
    let dashboard = get("/v1/dashboard/stats").await;
    let calls = &dashboard["voice"]["calls"];
    assert_eq!(
        calls,
        &Value::Object(
            new_call_statuses
                .iter()
                .map(|s| (s.to_string(), json!(1)))
                .collect()
        )
    );
    assert_eq!(get("/v1/organization").await["plan_status"], "cancelled");
    let export = get("/v1/organization/export").await;
    // Each subscription's status, and when it was cancelled under its new name (V0121).
    let mut subscriptions: Vec<(&str, &Value)> = export["tables"]["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert!(s.get("canceled_at").is_none(), "{s}");
            (s["status"].as_str().unwrap(), &s["cancelled_at"])
        })
        .collect();
    subscriptions.sort_unstable_by_key(|(status, _)| *status);
    assert_eq!(
        subscriptions,
        [
            ("cancelled", &json!("2024-04-30T08:00:00.000000Z")),
            ("past_due", &Value::Null)
        ]
    );
    let current = get("/v1/billing/subscription").await;
    assert_eq!(
        current["status"], "past_due",
        "the cancelled one has ended, the other is current"
    );
    assert!(current.get("canceled_at").is_none() && current["cancelled_at"].is_null());

    // The migrated statuses mean what the old ones meant: the call in progress may complete,
    // the one cancelled is final.
    let calls = get("/v1/calls?limit=100").await;
    let call = |status: &str| {
        calls["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["status"] == status)
            .map(|c| format!("/v1/calls/{}", c["id"].as_str().unwrap()))
            .unwrap()
    };
    let body = json!({"status": "completed"});
    let r = app.patch(&token, &call("in_progress"), &body).await;
    assert_eq!(
        (r.status, &r.json["status"]),
        (200, &json!("completed")),
        "{}",
        r.text
    );
    let r = app.patch(&token, &call("cancelled"), &body).await;
    assert_eq!(r.status, 409, "{}", r.text);
}
