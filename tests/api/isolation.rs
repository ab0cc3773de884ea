//! Cross-tenant isolation, driven from a table of resources rather than written per route.
//!
//! Each resource group contributes a [`Seeder`] to [`SEEDERS`]: it creates, over HTTP as the
//! given organization, at least one row of every table it owns, and reports the item paths of
//! those rows and the list, search, filter and summary paths of the organization. The tests:
//! - HTTP: A's view of every one of its list/summary paths is byte-for-byte the same before and
//!   after B seeds its data (so B's rows appear in none of A's lists, filters, searches,
//!   dashboards or analytics); every B item answers A 404 for every method, with exactly the
//!   body of a missing id; and every B item is byte-for-byte unchanged afterwards.
//! - SQL, generated from the catalog: every tenant table holds rows of both A and B (a table
//!   nobody seeds fails here); as the app role A's context sees exactly A's rows, no context
//!   sees none; A cannot insert with B's id, update or delete B's rows, or repoint its own rows
//!   at B's parents through any composite foreign key.

use futures_util::future::LocalBoxFuture;
use palisade_test_support::sql::{begin_as, begin_as_user};
use palisade_test_support::{Account, TestApp, Unchanged, spawn_app_with_owner};
use serde_json::{Value, json};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

/// One row reachable by an item route.
pub struct Item {
    /// e.g. `/v1/customers/<id>`.
    pub path: String,
    /// The methods the route accepts besides GET (e.g. `PATCH`, `DELETE`).
    pub writes: &'static [&'static str],
    /// A valid PATCH body, for routes that accept PATCH.
    pub patch: Value,
}

/// What a seeder created for one organization.
#[derive(Default)]
pub struct Seeded {
    /// Items of this organization.
    pub items: Vec<Item>,
    /// List, filter, search and summary paths (with query strings) to compare as this organization.
    pub views: Vec<String>,
}

/// Seeds one resource group's data for `account`; `marker` is a unique string to put in
/// free-text fields (names, titles, bodies).
pub type Seeder = for<'a> fn(&'a TestApp, &'a Account, &'a str) -> LocalBoxFuture<'a, Seeded>;

/// A seeder from an `async fn(&TestApp, &Account, &str) -> Seeded`.
macro_rules! seeder {
    ($seed:path) => {{
        fn boxed<'a>(
            app: &'a TestApp,
            acct: &'a Account,
            marker: &'a str,
        ) -> LocalBoxFuture<'a, Seeded> {
            Box::pin($seed(app, acct, marker))
        }
        boxed as Seeder
    }};
}

/// Every resource group. A new resource adds its seeder here (in its own test module).
pub const SEEDERS: &[(&str, Seeder)] = &[
    ("customers", seeder!(seed_customers)),
    ("messaging", seeder!(crate::messaging::seed)),
    ("engagement", seeder!(crate::engagement::seed)),
    ("chatbot", seeder!(crate::chatbot::seed)),
    (
        "tenant administration and billing",
        seeder!(crate::tenant_domain::seed),
    ),
    ("inbound SMS", seeder!(crate::twilio_sms::seed)),
    (
        "email provider events",
        seeder!(crate::email_webhooks::seed),
    ),
    (
        "twilio status callbacks",
        seeder!(crate::twilio_status::seed),
    ),
    (
        "invitations and password resets",
        seeder!(crate::accounts::seed),
    ),
    (
        "outbound webhook deliveries",
        seeder!(crate::outbound_delivery::seed),
    ),
    ("amazon connect", seeder!(crate::aws_connect::seed)),
];

async fn seed_customers(app: &TestApp, acct: &Account, marker: &str) -> Seeded {
    // With an Idempotency-Key, so that palisade.idempotency_keys holds a row too.
    let body =
        json!({"name": format!("{marker} customer"), "email": format!("{marker}@example.com")});
    let c = app
        .call_with(
            "POST",
            "/v1/customers",
            Some(&acct.token),
            Some(&body),
            &[("Idempotency-Key", "seed customer")],
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.text);
    let id = c.json["id"].as_str().unwrap();
    // A customer deleted, so that palisade.deleted_rows holds a row too.
    let gone = app
        .create_customer(acct, json!({"name": format!("{marker} deleted customer")}))
        .await;
    let gone = format!("/v1/customers/{}", gone["id"].as_str().unwrap());
    assert_eq!(app.delete(acct, &gone).await.status, 204);
    // How far retention removed the organization's deletion records: only retention writes it
    // (policies/126_pruned_deletion_records.sql), so the superuser stands in for it, with a
    // transaction id below any of the organization's.
    app.db
        .superuser_client()
        .await
        .execute(
            "INSERT INTO palisade.pruned_deletion_records (organization_id, pruned_xid)
             VALUES ($1::text::uuid, '1') ON CONFLICT (organization_id) DO NOTHING",
            &[&acct.org_id],
        )
        .await
        .unwrap();
    Seeded {
        items: vec![Item {
            path: format!("/v1/customers/{id}"),
            writes: &["PATCH", "DELETE"],
            patch: json!({"name": "changed by another tenant"}),
        }],
        views: vec![
            "/v1/customers".into(),
            "/v1/customers?name=customer".into(),
            format!("/v1/customers?email={marker}@example.com"),
            "/v1/me".into(),
        ],
    }
}

/// Every seeder's data for `acct`: the item and view paths of all of them.
pub async fn seed_all(app: &TestApp, acct: &Account, marker: &str) -> Seeded {
    let mut all = Seeded::default();
    for (_, seeder) in SEEDERS {
        let s = seeder(app, acct, marker).await;
        all.items.extend(s.items);
        all.views.extend(s.views);
    }
    all
}

async fn snapshot(app: &TestApp, token: &str, paths: &[String]) -> Vec<(String, u16, String)> {
    let mut out = Vec::new();
    for p in paths {
        let r = app.get(token, p).await;
        out.push((p.clone(), r.status, r.text));
    }
    out
}

/// The missing-row answer of an item route: the same path with a fresh id in place of the last
/// UUID segment.
fn missing_path(path: &str) -> String {
    let mut parts: Vec<String> = path.split('/').map(str::to_owned).collect();
    if let Some(last) = parts.iter_mut().rev().find(|p| Uuid::try_parse(p).is_ok()) {
        *last = Uuid::now_v7().to_string();
    }
    parts.join("/")
}

#[actix_web::test]
async fn another_organizations_rows_are_invisible_and_untouchable_over_http() {
    let (app, a) = spawn_app_with_owner("Tenant A").await;
    let seeded_a = seed_all(&app, &a, "marker-a").await;
    let before = snapshot(&app, &a.token, &seeded_a.views).await;
    for (path, status, text) in &before {
        assert_eq!(*status, 200, "A's view {path} failed: {text}");
    }

    let b = app.signup("Tenant B").await;
    let seeded_b = seed_all(&app, &b, "marker-b").await;
    let b_item_paths: Vec<&str> = seeded_b.items.iter().map(|i| i.path.as_str()).collect();
    let b_before = Unchanged::http(&app, &b, &b_item_paths).await;

    // B's data changed nothing A can see, and no view of A mentions B.
    let after = snapshot(&app, &a.token, &seeded_a.views).await;
    for ((path, _, was), (_, _, now)) in before.iter().zip(&after) {
        assert_eq!(was, now, "A's view {path} changed when B added data");
        assert!(!now.contains("marker-b"), "A's view {path} shows B's data");
    }

    // Every B item is 404 to A for every method, exactly like a missing one.
    for item in &seeded_b.items {
        let missing = missing_path(&item.path);
        for (method, body) in std::iter::once(("GET", None))
            .chain(item.writes.iter().map(|m| (*m, Some(&item.patch))))
        {
            let expected = app.call(method, &missing, Some(&a.token), body).await;
            let r = app.call(method, &item.path, Some(&a.token), body).await;
            assert_eq!(r.status, 404, "A {method} {}: {}", item.path, r.text);
            assert_eq!(
                (r.status, &r.json),
                (expected.status, &expected.json),
                "A {method} {} differs from a missing id",
                item.path
            );
        }
    }

    // B's rows are byte-for-byte unchanged.
    b_before.assert_http(&app).await;
}

/// Tenant tables and their tenant column, from the catalog.
async fn tenant_tables(su: &tokio_postgres::Client) -> Vec<(String, String)> {
    su.query(
        "SELECT c.relname::text, CASE WHEN c.relname = 'organizations' THEN 'id' ELSE 'organization_id' END
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'palisade' AND c.relkind IN ('r', 'p') ORDER BY 1",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

#[actix_web::test]
async fn the_catalog_driven_sql_matrix_holds_for_every_tenant_table() {
    let (app, a) = spawn_app_with_owner("Tenant A").await;
    let b = app.signup("Tenant B").await;
    seed_all(&app, &a, "marker-a").await;
    seed_all(&app, &b, "marker-b").await;
    let su = app.db.superuser_client().await;
    let c = app.db.app_client().await;
    let tables = tenant_tables(&su).await;

    for (table, col) in &tables {
        let q = format!(
            "SELECT count(*) FILTER (WHERE {col}::text = $1), count(*) FILTER (WHERE {col}::text = $2) FROM palisade.{table}"
        );
        // Coverage: every table holds rows of both organizations (seed new tables!).
        let row = su.query_one(&q, &[&a.org_id, &b.org_id]).await.unwrap();
        let (a_rows, b_rows): (i64, i64) = (row.get(0), row.get(1));
        assert!(
            a_rows > 0 && b_rows > 0,
            "{table}: no rows for A ({a_rows}) or B ({b_rows}); add it to a seeder"
        );

        // A sees exactly its own rows; no context sees nothing.
        begin_as(&c, &a.org_id, "owner").await;
        let row = c.query_one(&format!("SELECT count(*), count(*) FILTER (WHERE {col}::text <> $1) FROM palisade.{table}"), &[&a.org_id]).await;
        c.batch_execute("ROLLBACK").await.unwrap();
        let row = row.unwrap_or_else(|e| panic!("{table}: A cannot read: {e}"));
        assert_eq!(
            (row.get::<_, i64>(0), row.get::<_, i64>(1)),
            (a_rows, 0),
            "{table}: A's view is wrong"
        );
        let none: i64 = c
            .query_one(&format!("SELECT count(*) FROM palisade.{table}"), &[])
            .await
            .map(|r| r.get(0))
            .unwrap_or(0);
        assert_eq!(none, 0, "{table}: visible without an organization");

        // A cannot update or delete B's rows: 0 rows affected (or refused outright).
        begin_as(&c, &a.org_id, "owner").await;
        let updated = c
            .execute(
                &format!("UPDATE palisade.{table} SET {col} = {col} WHERE {col}::text = $1"),
                &[&b.org_id],
            )
            .await;
        c.batch_execute("ROLLBACK").await.unwrap();
        assert!(
            matches!(updated, Ok(0) | Err(_)),
            "{table}: A updated B's rows: {updated:?}"
        );
        begin_as(&c, &a.org_id, "owner").await;
        let deleted = c
            .execute(
                &format!("DELETE FROM palisade.{table} WHERE {col}::text = $1"),
                &[&b.org_id],
            )
            .await;
        c.batch_execute("ROLLBACK").await.unwrap();
        assert!(
            matches!(deleted, Ok(0) | Err(_)),
            "{table}: A deleted B's rows: {deleted:?}"
        );

        // A cannot insert a row carrying B's organization: copy one of A's rows (read as
        // superuser), give it a new id and B's organization, insert it as A.
        if table != "organizations" {
            let json: Value = su
                .query_one(&format!("SELECT to_jsonb(t) FROM palisade.{table} t WHERE organization_id::text = $1 LIMIT 1"), &[&a.org_id])
                .await
                .unwrap()
                .get(0);
            let mut forged = json.clone();
            forged["organization_id"] = json!(b.org_id);
            if forged.get("id").is_some() {
                forged["id"] = json!(Uuid::now_v7().to_string());
            }
            // Generated columns (e.g. kb_articles.search) only take DEFAULT: name the others.
            let cols: String = su
                .query_one(
                    "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
                      WHERE attrelid = ('palisade.' || $1)::regclass AND attnum > 0
                        AND NOT attisdropped AND attgenerated = ''",
                    &[table],
                )
                .await
                .unwrap()
                .get(0);
            // As A's real owner: a trigger may check the writer (outbound_webhooks' does).
            begin_as_user(&c, &a.org_id, &a.user_id, "owner").await;
            let err = c
                .execute(
                    &format!("INSERT INTO palisade.{table} ({cols}) SELECT {cols} FROM jsonb_populate_record(NULL::palisade.{table}, $1)"),
                    &[&forged],
                )
                .await
                .expect_err(&format!("{table}: A inserted a row for B"));
            c.batch_execute("ROLLBACK").await.unwrap();
            let code = err.code().cloned();
            assert!(
                code == Some(SqlState::INSUFFICIENT_PRIVILEGE)
                    || code == Some(SqlState::FOREIGN_KEY_VIOLATION),
                "{table}: unexpected error {err:?}"
            );
        }
    }

    // A cannot repoint its rows at B's parents: for every composite foreign key between tenant
    // tables, set the child's parent columns (other than organization_id) to one of B's parent
    // rows. Keys whose child columns are generated (sms_campaigns_from_number_fkey, on
    // active_from_number) cannot be set directly; tests/api/phone_numbers.rs writes B's number
    // into the column they follow and sees the same refusal. Keys to platform tables
    // (phone_numbers_inventory_fkey) are tested there too.
    let fks = su
        .query(
            "SELECT k.conname::text, c.relname::text, r.relname::text,
                    ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
                            JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i),
                    ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, i)
                            JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i)
               FROM pg_constraint k
               JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_class r ON r.oid = k.confrelid
               JOIN pg_namespace rn ON rn.oid = r.relnamespace
              WHERE k.contype = 'f' AND n.nspname = 'palisade' AND rn.nspname = 'palisade'
                AND array_length(k.conkey, 1) > 1
                AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                                 WHERE a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
                                   AND a.attgenerated <> '')",
            &[],
        )
        .await
        .unwrap();
    for fk in fks {
        let (name, child, parent): (String, String, String) = (fk.get(0), fk.get(1), fk.get(2));
        let (child_cols, parent_cols): (Vec<String>, Vec<String>) = (fk.get(3), fk.get(4));
        // One of B's parent rows and one of A's child rows whose key columns are set.
        let parent_row: Option<Value> = su
            .query_opt(&format!("SELECT to_jsonb(p) FROM palisade.{parent} p WHERE organization_id::text = $1 LIMIT 1"), &[&b.org_id])
            .await
            .unwrap()
            .map(|r| r.get(0));
        let not_null = child_cols
            .iter()
            .map(|c| format!("{c} IS NOT NULL"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let child_id: Option<Uuid> = su
            .query_opt(&format!("SELECT id FROM palisade.{child} WHERE organization_id::text = $1 AND {not_null} LIMIT 1"), &[&a.org_id])
            .await
            .unwrap()
            .map(|r| r.get(0));
        let (Some(parent_row), Some(child_id)) = (parent_row, child_id) else {
            panic!(
                "{name}: seed a {child} row of A with its {parent} set, and a {parent} row of B"
            );
        };
        let sets: Vec<String> = child_cols
            .iter()
            .zip(&parent_cols)
            .filter(|(c, _)| *c != "organization_id")
            .map(|(c, p)| {
                format!(
                    "{c} = ({}::text)::uuid",
                    quote_literal(parent_row[p.as_str()].as_str().unwrap_or_default())
                )
            })
            .collect();
        begin_as(&c, &a.org_id, "owner").await;
        let r = c
            .execute(
                &format!(
                    "UPDATE palisade.{child} SET {} WHERE id = $1",
                    sets.join(", ")
                ),
                &[&child_id],
            )
            .await;
        c.batch_execute("ROLLBACK").await.unwrap();
        let err = r.expect_err(&format!("{name}: A repointed its {child} at B's {parent}"));
        // Refused by the composite key, or before it: tables whose rows are never changed in
        // place (invitations, password resets) grant the app role no UPDATE at all.
        assert!(
            err.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION)
                || err.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "{name}: {err:?}"
        );
    }
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
