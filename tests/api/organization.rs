//! `/v1/organization`: read, rename, delete (every row of every table goes, nothing of another
//! organization does) and export (every row, nothing of another organization, no secrets).
//! Both are checked against the catalog, so tables added later are covered without edits.

use std::collections::BTreeMap;

use palisade_domain::Role;
use palisade_test_support::{Account, TestApp, spawn_app_with_owner, spawn_app_with_team};
use serde_json::{Value, json};

use crate::isolation::SEEDERS;

/// Seeds every resource group's data (every seeder of the isolation tests) for `acct`.
async fn seed_everything(app: &TestApp, acct: &Account, marker: &str) {
    for (_, seeder) in SEEDERS {
        seeder(app, acct, marker).await;
    }
}

/// Rows per tenant table for `org`, counted as superuser from the catalog (table and column
/// names quoted by the server).
async fn rows_per_table(app: &TestApp, org: &str) -> BTreeMap<String, i64> {
    let su = app.db.superuser_client().await;
    let tables = su
        .query(
            "SELECT c.relname::text,
                    format('SELECT count(*) FROM palisade.%I WHERE %I = $1::text::uuid', c.relname,
                           CASE WHEN c.relname = 'organizations' THEN 'id' ELSE 'organization_id' END)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'palisade' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
              ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        let sql: String = t.get(1);
        let n: i64 = su.query_one(&sql, &[&org]).await.unwrap().get(0);
        out.insert(t.get(0), n);
    }
    out
}

#[actix_web::test]
async fn read_and_rename() {
    let (app, owner, admin, member) = spawn_app_with_team("Acme").await;
    let r = app.get(&member, "/v1/organization").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["id"], owner.org_id.as_str());
    assert_eq!(r.json["name"], "Acme");
    assert_eq!(r.json["plan"], "free");
    assert_eq!(r.json["plan_status"], Value::Null);

    let r = app
        .patch(&member, "/v1/organization", &json!({"name": "Mine"}))
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .patch(&admin, "/v1/organization", &json!({"name": " Acme Ltd "}))
        .await;
    assert_eq!(
        (r.status, &r.json["name"]),
        (200, &json!("Acme Ltd")),
        "{}",
        r.text
    );
    for (body, status) in [
        (json!({"name": ""}), 422),
        (json!({}), 422),
        (json!({"name": "x", "plan": "enterprise"}), 400),
        (json!({"id": "00000000-0000-0000-0000-000000000000"}), 400),
    ] {
        let r = app.patch(&owner, "/v1/organization", &body).await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
    }
    let r = app.get(&owner, "/v1/organization").await;
    assert_eq!(r.json["name"], "Acme Ltd");
}

#[actix_web::test]
async fn deleting_removes_every_row_of_the_organization_and_nothing_else() {
    let (app, a) = spawn_app_with_owner("Tenant A").await;
    let b = app.signup("Tenant B").await;
    seed_everything(&app, &a, "marker-a").await;
    seed_everything(&app, &b, "marker-b").await;
    let admin = app.add_user(&a, Role::Admin).await;
    let member = app.add_user(&a, Role::Member).await;
    let key = app
        .post(&a, "/v1/api-keys", &json!({"name": "k", "role": "admin"}))
        .await
        .json["key"]
        .as_str()
        .unwrap()
        .to_owned();

    let a_before = rows_per_table(&app, &a.org_id).await;
    let b_before = rows_per_table(&app, &b.org_id).await;
    for (table, n) in &a_before {
        assert!(
            *n > 0,
            "{table}: seed it, or this test proves nothing about it"
        );
    }

    for (who, token) in [("member", &member.token), ("admin", &admin.token)] {
        let r = app.delete(token, "/v1/organization").await;
        assert_eq!(r.status, 403, "{who}: {}", r.text);
    }
    // An admin-role API key is no owner either.
    let r = app.delete(&key, "/v1/organization").await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(rows_per_table(&app, &a.org_id).await, a_before);

    let r = app.delete(&a, "/v1/organization").await;
    assert_eq!(r.status, 204, "{}", r.text);

    let a_after = rows_per_table(&app, &a.org_id).await;
    assert!(
        a_after.values().all(|n| *n == 0),
        "rows left behind: {a_after:?}"
    );
    assert_eq!(a_after.len(), a_before.len());
    assert_eq!(
        rows_per_table(&app, &b.org_id).await,
        b_before,
        "B lost or gained rows"
    );

    // Every credential of A is dead; B works as before.
    for token in [&a.token, &admin.token, &member.token] {
        let r = app.get(token, "/v1/organization").await;
        r.assert_error(401, "invalid_token");
    }
    let r = app.get(&key, "/v1/customers").await;
    assert_eq!(r.status, 401);
    let r = app.login(&a.email, &a.password).await;
    assert_eq!(r.status, 401);
    let r = app.get(&b, "/v1/organization").await;
    assert_eq!((r.status, &r.json["name"]), (200, &json!("Tenant B")));
}

#[actix_web::test]
async fn the_export_holds_every_row_of_the_organization_none_of_another_and_no_secret() {
    let (app, a) = spawn_app_with_owner("Tenant A").await;
    let b = app.signup("Tenant B").await;
    seed_everything(&app, &a, "marker-a").await;
    seed_everything(&app, &b, "marker-b").await;

    // Secrets of A whose values we know.
    let api_key = app.api_key(&a, "exported?", Role::Member).await.key;
    let r = app
        .post(
            &a,
            "/v1/webhooks",
            &json!({"url": "https://hooks.example.com/x", "event_types": ["invoice.paid"]}),
        )
        .await;
    let signing_secret = r.json["signing_secret"].as_str().unwrap().to_owned();
    let integration_secret = "sk_live_integration_secret_value";
    let r = app
        .post(&a, "/v1/integrations", &json!({"provider": "hubspot", "name": "HubSpot", "secrets": {"private_app_token": integration_secret}}))
        .await;
    assert_eq!(r.status, 201);
    let su = app.db.superuser_client().await;
    let mut secrets: Vec<String> = vec![
        api_key.clone(),
        api_key[3..].to_owned(),
        signing_secret,
        integration_secret.into(),
    ];
    secrets.extend(crate::column_secrecy::stored_hashes(&su).await);

    let member = app.add_user(&a, Role::Member).await;
    let r = app.get(&member, "/v1/organization/export").await;
    assert_eq!(r.status, 403);

    let r = app.get(&a, "/v1/organization/export").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.json["organization_id"], a.org_id.as_str());
    let tables = r.json["tables"].as_object().unwrap();

    // Every table of the catalog, with exactly A's rows.
    let expected = rows_per_table(&app, &a.org_id).await;
    let exported: BTreeMap<String, i64> = tables
        .iter()
        .map(|(t, rows)| (t.clone(), rows.as_array().unwrap().len() as i64))
        .collect();
    assert_eq!(exported, expected);
    for (table, rows) in tables {
        let col = if table == "organizations" {
            "id"
        } else {
            "organization_id"
        };
        for row in rows.as_array().unwrap() {
            assert_eq!(
                row[col],
                a.org_id.as_str(),
                "{table}: a row of another organization"
            );
        }
    }
    // Nothing of B, and no secret material in any form we know.
    assert!(!r.text.contains(&b.org_id) && !r.text.contains("marker-b"));
    assert!(r.text.contains("marker-a"));
    for s in &secrets {
        assert!(
            !r.text.contains(s.as_str()),
            "the export contains a secret ({} chars)",
            s.len()
        );
    }
    assert!(!r.text.contains("argon2"));
    let has_column = |table: &str, col: &str| {
        tables[table]
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row.get(col).is_some())
    };
    for (table, col) in [
        ("users", "password_hash"),
        ("api_keys", "key_hash"),
        ("outbound_webhooks", "signing_secret"),
        ("integrations", "secrets"),
    ] {
        assert!(!has_column(table, col), "{table}.{col} exported");
    }
    assert!(has_column("integrations", "secret_keys"));
    assert!(has_column("users", "email"));
    assert!(has_column("invoices", "total_cents"));
}

/// The export's columns are those `palisade_app` may read (which the audit classifies), not
/// whatever its login role was granted besides: a grant to `palisade_app_a` by hand (the audit
/// reports it) puts no secret in the export.
#[actix_web::test]
async fn a_grant_to_the_login_role_puts_no_secret_in_the_export() {
    let (app, a) = spawn_app_with_owner("Tenant A").await;
    let su = app.db.superuser_client().await;
    su.batch_execute(&format!(
        "GRANT SELECT ON palisade.users TO {}",
        palisade_test_support::TEST_APP_LOGIN_ROLE
    ))
    .await
    .unwrap();
    let r = app.get(&a, "/v1/organization/export").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let users = r.json["tables"]["users"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert!(users[0].get("email").is_some(), "{}", users[0]);
    assert!(users[0].get("password_hash").is_none(), "{}", users[0]);
    assert!(!r.text.contains("argon2"));
}

/// Seeds `count` customers of `org` as the superuser (a DBA's arrangement; RLS does not bind
/// it), each with a name of `name_len` characters.
async fn seed_customers(app: &TestApp, org: &str, count: i32, name_len: i32) {
    let su = app.db.superuser_client().await;
    su.execute(
        "INSERT INTO palisade.customers (organization_id, id, name)
              SELECT $1::text::uuid, gen_random_uuid(), left('bulk ' || g || ' ' || repeat('x', $3), $3)
                FROM generate_series(1, $2) AS g",
        &[&org, &count, &name_len],
    )
    .await
    .unwrap();
}

/// The export is read from a cursor a batch of rows at a time (palisade_db's
/// `EXPORT_BATCH_ROWS`, 1000). An export of more than one batch is streamed, each batch sent as
/// it is read, in chunks of at most 16 KiB (`EXPORT_SLICE`), the whole still one JSON document
/// with every row of the organization; one of a single batch is answered whole, with its length.
#[actix_web::test]
async fn a_large_export_is_sent_a_batch_at_a_time_and_whole() {
    let (app, a) = spawn_app_with_owner("Tenant A").await;
    let b = app.signup("Tenant B").await;
    seed_customers(&app, &a.org_id, 2_500, 40).await;
    seed_customers(&app, &b.org_id, 30, 40).await;

    let r = app.get(&a, "/v1/organization/export").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let expected = rows_per_table(&app, &a.org_id).await;
    let total: i64 = expected.values().sum();
    assert!(total > 2_500, "{total} rows");
    let chunks = r.chunks.clone().expect("a streamed answer is chunked");
    assert!(
        chunks.iter().all(|size| (1..=16 * 1024).contains(size)),
        "{chunks:?}"
    );
    assert_eq!(chunks.iter().sum::<usize>(), r.text.len());
    // Each batch ends in a chunk shorter than the rest: three batches (1,000, 1,000, and the
    // rest with the document's end), so three short chunks (one FETCH of everything would make
    // two).
    let short = chunks.iter().filter(|size| **size < 16 * 1024).count();
    assert!(short >= 3, "{chunks:?}");
    let tables = r.json["tables"]
        .as_object()
        .expect("the export is one JSON document");
    let exported: BTreeMap<String, i64> = tables
        .iter()
        .map(|(t, rows)| (t.clone(), rows.as_array().unwrap().len() as i64))
        .collect();
    assert_eq!(exported, expected);
    assert_eq!(exported["customers"], 2_500);
    assert!(
        tables["customers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["organization_id"] == a.org_id.as_str())
    );
    assert!(!r.text.contains(&b.org_id));

    // B's export is one batch: answered whole.
    let r = app.get(&b, "/v1/organization/export").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.chunks, None);
    assert_eq!(
        r.header("content-length"),
        Some(r.text.len().to_string().as_str())
    );
    assert_eq!(
        r.json["tables"]["customers"].as_array().map(Vec::len),
        Some(30)
    );
}

/// Opens an export as `who` on a connection of its own and reads only the answer's head: the
/// server stops writing once the socket's buffers are full, with the export's transaction open.
async fn stalled_export(
    app: &TestApp,
    who: &palisade_test_support::Account,
) -> tokio::net::TcpStream {
    stalled_export_as(app, &who.token).await
}

/// [`stalled_export`] with `bearer` (a user's token or an API key) as the credential.
async fn stalled_export_as(app: &TestApp, bearer: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(app.addr.parse().unwrap()).await.unwrap();
    let request = format!(
        "GET /v1/organization/export HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\r\n",
        app.addr, bearer
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the connection closed before the answer's head");
        head.extend_from_slice(&buf[..n]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}

/// An export made with an API key holds nothing that revoking the key, or removing its creator,
/// waits for, while it streams with its transaction open (`Caller::begin_long_as`: the key is
/// stamped before, and checked without a lock; with the ordinary check, its stamp's row lock
/// lasts the whole export, and the revocation answers 503 after its statement timeout). The
/// export already running goes on; the key's next request is 401.
#[actix_web::test]
async fn an_api_keys_export_under_way_does_not_hold_off_its_revocation() {
    let (app, a) = spawn_app_with_owner("Tenant A").await;
    let admin = app.add_user(&a, Role::Admin).await;
    seed_customers(&app, &a.org_id, 30_000, 200).await;
    for (creator, end) in [(&a, "revoke"), (&admin, "remove")] {
        let key = app.api_key(creator, end, Role::Admin).await;
        let stream = stalled_export_as(&app, &key.key).await;
        until_exports_wait(&app, 1).await;
        let path = match end {
            "revoke" => format!("/v1/api-keys/{}", key.id),
            _ => format!("/v1/members/{}", admin.user_id),
        };
        let r = app.delete(&a, &path).await;
        assert_eq!(r.status, 204, "{end} during the export: {}", r.text);
        let r = app.get(&key, "/v1/customers?limit=1").await;
        assert_eq!(r.status, 401, "{end}: {}", r.text);
        drop(stream);
        until_exports_wait(&app, 0).await;
    }
}

/// Until exactly `n` exports are waiting on their client: sessions of the test database idle
/// inside a transaction after a FETCH of the export's cursor. Bounded, so that a count never
/// reached fails the test.
async fn until_exports_wait(app: &TestApp, n: i64) {
    let su = app.db.superuser_client().await;
    for attempt in 0.. {
        let idle: i64 = su
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND state = 'idle in transaction'
                    AND query = 'FETCH FORWARD 1000 FROM palisade_export'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if idle == n {
            return;
        }
        assert!(attempt < 3000, "{idle} exports waiting, never {n}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// An export holds a pooled connection while its client reads, so an instance sends at most
/// two at once (`palisade_api::places::EXPORTS_AT_ONCE`) and one per organization; another is
/// 429 with `Retry-After`, after its credential's check (a member is still 403), and a `HEAD`
/// takes no place. A client that goes away ends its export, and so does one that keeps its
/// connection but reads nothing for `EXPORT_STALL` (30 s of the application's clock: the
/// watchdog): the transaction is rolled back, and the place is free again.
#[actix_web::test]
async fn two_exports_run_at_once_and_a_client_that_stops_reading_frees_its_place() {
    let (app, a) = spawn_app_with_owner("Tenant A").await;
    let b = app.signup("Tenant B").await;
    let c = app.signup("Tenant C").await;
    // About 13 MB of JSON each: more than the server's send buffer, the client's 4 kB receive
    // buffer and actix's own write buffer hold.
    seed_customers(&app, &a.org_id, 30_000, 200).await;
    seed_customers(&app, &c.org_id, 30_000, 200).await;

    let gone = stalled_export(&app, &a).await;
    let silent = stalled_export(&app, &c).await;
    until_exports_wait(&app, 2).await;

    let r = app.get(&b, "/v1/organization/export").await;
    r.assert_error(429, "rate_limited");
    assert_eq!(r.header("retry-after"), Some("30"));
    let member = app.add_user(&b, Role::Member).await;
    app.get(&member, "/v1/organization/export")
        .await
        .assert_error(403, "forbidden");
    let r = app
        .call("HEAD", "/v1/organization/export", Some(&b.token), None)
        .await;
    assert_eq!((r.status, r.text.as_str()), (200, ""));

    // One client closes its connection: its export ends, and its place is free, though not for
    // a second export of an organization whose export runs.
    drop(gone);
    until_exports_wait(&app, 1).await;
    app.get(&c, "/v1/organization/export")
        .await
        .assert_error(429, "rate_limited");
    let r = app.get(&b, "/v1/organization/export").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["organization_id"], b.org_id.as_str());

    // The other keeps its connection open and reads nothing: the watchdog ends its export once
    // the clock has moved past the stall limit (not before).
    app.clock.advance(time::Duration::seconds(29));
    // Two of the watchdog's ticks (a second each) at 29 s: the export stays. (A machine too slow
    // to tick in that time passes this step without checking it, never fails it.)
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    until_exports_wait(&app, 1).await;
    app.clock.advance(time::Duration::seconds(2));
    until_exports_wait(&app, 0).await;
    // Both places are free: two exports stall at once again, C's among them.
    let _again = (
        stalled_export(&app, &a).await,
        stalled_export(&app, &c).await,
    );
    until_exports_wait(&app, 2).await;
    drop(silent);
}

/// The export's transaction waits on its client between FETCHes, so it sets its own
/// `idle_in_transaction_session_timeout` (200 s in the server) instead of the app role's; only
/// for itself: committed or rolled back, the pooled connection has the role's again.
#[tokio::test]
async fn the_exports_idle_timeout_is_its_transactions_own() {
    use palisade_db::TenantTx;
    use palisade_db::organization::ExportStatement;
    use palisade_domain::{OrgId, TenantContext, UserId};

    let db = palisade_test_support::TestDb::new().await;
    // One connection: every transaction below runs on the same one.
    let pool = db.app_pool(1);
    let ctx = TenantContext {
        org_id: OrgId::new(),
        user_id: UserId::new(),
        role: Role::Owner,
    };
    let show = "SHOW idle_in_transaction_session_timeout";
    let tx = TenantTx::begin(&pool, &ctx).await.unwrap();
    let roles: String = tx.query_once(show, &[]).await.unwrap()[0].get(0);
    assert_ne!(roles, "200s");
    for commit in [true, false] {
        let mut tx = TenantTx::begin(&pool, &ctx).await.unwrap();
        ExportStatement::build(&mut tx, std::time::Duration::from_secs(200))
            .await
            .unwrap();
        let inside: String = tx.query_one(show, &[]).await.unwrap().get(0);
        assert_eq!(inside, "200s");
        if commit {
            tx.commit().await.unwrap();
        } else {
            drop(tx);
        }
        let tx = TenantTx::begin(&pool, &ctx).await.unwrap();
        let after: String = tx.query_once(show, &[]).await.unwrap()[0].get(0);
        assert_eq!(after, roles, "committed: {commit}");
    }
}

/// A deletion that runs out of its time (here 1 s, made to wait on a customer's row a superuser
/// holds) is 503 `deletion_timed_out` without `Retry-After` (sending it again would fail alike),
/// and deletes nothing. Once nothing holds the row, the same deletion goes through. Its
/// `statement_timeout` is its transaction's own: the pool's one connection has the role's again
/// after either.
#[actix_web::test]
async fn a_deletion_that_runs_out_of_time_is_503_and_deletes_nothing() {
    let db = std::sync::Arc::new(palisade_test_support::TestDb::new().await);
    let app = palisade_test_support::try_spawn_app_on_configured(
        db,
        1,
        |_| None,
        |c| {
            c.organization_deletion.longest = std::time::Duration::from_secs(1);
        },
    )
    .await
    .unwrap();
    let owner = app.signup("Large").await;
    let customer = app
        .create(&owner, "/v1/customers", json!({"name": "Ada"}))
        .await;
    let (holder, _) = holding_a_customer(&app.db, &customer).await;
    let r = app.delete(&owner, "/v1/organization").await;
    r.assert_error(503, "deletion_timed_out");
    assert_eq!(r.header("retry-after"), None, "{:?}", r.headers);
    assert!(r.text.contains("within 1 s"), "{}", r.text);
    holder.batch_execute("ROLLBACK").await.unwrap();

    // The pool's only connection, back from the deletion: the role's statement timeout.
    let ctx = palisade_domain::TenantContext {
        org_id: palisade_domain::OrgId::from_uuid(owner.org_id.parse().unwrap()),
        user_id: palisade_domain::UserId::from_uuid(owner.user_id.parse().unwrap()),
        role: Role::Owner,
    };
    let statement_timeout = async || -> String {
        let tx = palisade_db::TenantTx::begin(&app.pool, &ctx).await.unwrap();
        tx.query_once("SHOW statement_timeout", &[]).await.unwrap()[0].get(0)
    };
    assert_eq!(statement_timeout().await, "30s");

    assert_eq!(app.get(&owner, "/v1/organization").await.status, 200);
    assert_eq!(
        app.list_ids(&owner, "/v1/customers").await,
        [customer["id"].as_str().unwrap()]
    );
    assert_eq!(app.delete(&owner, "/v1/organization").await.status, 204);
    assert_eq!(
        statement_timeout().await,
        "30s",
        "after a deletion committed too"
    );
    assert_eq!(
        app.login(&owner.email, &owner.password).await.status,
        401,
        "the organization and its owner are gone"
    );
}

/// The backend of the organization deletion that `holder`'s transaction blocks, once it waits.
async fn deletion_blocked_by(db: &palisade_test_support::TestDb, holder: i32) -> i32 {
    let su = db.superuser_client().await;
    for attempt in 0.. {
        assert!(attempt < 3000, "no deletion ever waited on the held row");
        let found = su
            .query_opt(
                "SELECT pid FROM pg_stat_activity \
                  WHERE query LIKE 'DELETE FROM palisade.organizations%' \
                    AND $1 = ANY (pg_catalog.pg_blocking_pids(pid))",
                &[&holder],
            )
            .await
            .unwrap();
        if let Some(row) = found {
            return row.get(0);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    unreachable!()
}

/// A superuser transaction holding `customer`'s row, and its backend.
async fn holding_a_customer(
    db: &palisade_test_support::TestDb,
    customer: &Value,
) -> (tokio_postgres::Client, i32) {
    let su = db.superuser_client().await;
    su.batch_execute("BEGIN").await.unwrap();
    let id: uuid::Uuid = customer["id"].as_str().unwrap().parse().unwrap();
    su.execute(
        "SELECT 1 FROM palisade.customers WHERE id = $1 FOR UPDATE",
        &[&id],
    )
    .await
    .unwrap();
    let pid = su
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    (su, pid)
}

/// Each deletion holds a pooled connection while it runs (minutes, for a large organization):
/// an instance runs two at once and one per organization, and refuses others 429 with
/// `Retry-After: 30`. One an operator cancels (`pg_cancel_backend`) is the ordinary 503
/// `unavailable` with `Retry-After: 1`, not `deletion_timed_out`, and deletes nothing; so is one
/// that waited past its lock wait for a row another transaction holds.
#[actix_web::test]
async fn deletions_are_two_at_once_and_a_cancelled_or_blocked_one_is_an_ordinary_503() {
    let db = std::sync::Arc::new(palisade_test_support::TestDb::new().await);
    let app = palisade_test_support::try_spawn_app_on_configured(
        db,
        4,
        |_| None,
        |c| {
            c.organization_deletion.longest = std::time::Duration::from_secs(60);
            c.organization_deletion.lock_wait = std::time::Duration::from_secs(60);
        },
    )
    .await
    .unwrap();
    let (a, b, c) = (
        app.signup("A").await,
        app.signup("B").await,
        app.signup("C").await,
    );
    let mut held = Vec::new();
    for owner in [&a, &b] {
        let customer = app
            .create(owner, "/v1/customers", json!({"name": "Ada"}))
            .await;
        held.push(holding_a_customer(&app.db, &customer).await);
    }
    let (app, a2, b2) = (std::sync::Arc::new(app), a.clone(), b.clone());
    let deleting = |owner: Account| {
        let app = app.clone();
        actix_web::rt::spawn(async move { app.delete(&owner, "/v1/organization").await })
    };
    let deleting_a = deleting(a2);
    let a_backend = deletion_blocked_by(&app.db, held[0].1).await;
    let deleting_b = deleting(b2);
    deletion_blocked_by(&app.db, held[1].1).await;

    for (owner, why) in [(&a, "one per organization"), (&c, "two at once")] {
        let r = app.delete(owner, "/v1/organization").await;
        r.assert_error_at(429, "rate_limited", why);
        assert_eq!(r.header("retry-after"), Some("30"), "{why}");
    }
    // With If-Match too: refused at once, not left waiting on the row A's deletion holds.
    let r = palisade_test_support::request(
        &app.addr,
        "DELETE",
        "/v1/organization",
        &[
            ("Authorization", format!("Bearer {}", a.token)),
            ("If-Match", "*".to_owned()),
        ],
        None,
    )
    .await;
    r.assert_error_at(429, "rate_limited", "If-Match");
    // B's client gives up (its connection closed): the DELETE still runs in PostgreSQL, and so
    // B's deletion keeps its place.
    deleting_b.abort();
    for _ in 0..20 {
        let r = app.delete(&b, "/v1/organization").await;
        r.assert_error_at(429, "rate_limited", "B's client gone, its deletion running");
    }

    // An operator cancels A's: an ordinary 503, A still there.
    let su = app.db.superuser_client().await;
    su.execute("SELECT pg_cancel_backend($1)", &[&a_backend])
        .await
        .unwrap();
    let r = deleting_a.await.unwrap();
    r.assert_error(503, "unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(app.get(&a, "/v1/organization").await.status, 200);

    // B's, once its row is free, goes through to its end, its client gone; A's place is free
    // again for C.
    held[1].0.batch_execute("ROLLBACK").await.unwrap();
    let b_id: uuid::Uuid = b.org_id.parse().unwrap();
    for attempt in 0.. {
        assert!(attempt < 3000, "B's deletion never committed");
        let left: i64 = su
            .query_one(
                "SELECT count(*) FROM palisade.organizations WHERE id = $1",
                &[&b_id],
            )
            .await
            .unwrap()
            .get(0);
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(app.delete(&c, "/v1/organization").await.status, 204);
    held[0].0.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(app.delete(&a, "/v1/organization").await.status, 204);

    // Waiting past the lock wait: an ordinary 503, nothing deleted.
    let app = palisade_test_support::try_spawn_app_on_configured(
        std::sync::Arc::new(palisade_test_support::TestDb::new().await),
        2,
        |_| None,
        |c| c.organization_deletion.lock_wait = std::time::Duration::from_secs(1),
    )
    .await
    .unwrap();
    let owner = app.signup("Busy").await;
    let customer = app
        .create(&owner, "/v1/customers", json!({"name": "Ada"}))
        .await;
    let (holder, _) = holding_a_customer(&app.db, &customer).await;
    let r = app.delete(&owner, "/v1/organization").await;
    r.assert_error(503, "unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));
    holder.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(app.get(&owner, "/v1/organization").await.status, 200);
    assert_eq!(app.delete(&owner, "/v1/organization").await.status, 204);
}
