//! Write-only means unreadable (issue 9, item 3). Every column `palisade_app` can reach is
//! classified once, readable or secret, in `policies/920_column_classification.sql` (the table
//! `palisade_audit.column_classification`); these tests read the catalog, as the app role where
//! privileges are the question, and fail on an unclassified column, a secret the app role may
//! SELECT, a classification whose column is gone, and a readable copy of a secret. Then, over
//! HTTP as a client: a value planted in every write-only field never comes back, neither in the
//! export nor from the resources' own GET and list routes.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use palisade_test_support::{TestApp, TestDb, spawn_app};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

/// `schema.table.column`.
type Column = String;

/// One classified column.
struct Classified {
    secret: bool,
    reason: Option<String>,
}

/// What the rules find, one line each (empty on a healthy database). Independent of the audit
/// view `palisade_audit.columns`, which checks the same rules in SQL (its test is in
/// crates/palisade_server/tests/audit.rs): two implementations that must agree.
async fn findings(db: &TestDb) -> Vec<String> {
    // The classification, read as a superuser (palisade_app has no access to palisade_audit).
    let su = db.superuser_client().await;
    let classified: BTreeMap<Column, Classified> = su
        .query(
            "SELECT schema_name || '.' || table_name || '.' || column_name,
                    classification = 'secret', reason
               FROM palisade_audit.column_classification",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get(0),
                Classified {
                    secret: r.get(1),
                    reason: r.get(2),
                },
            )
        })
        .collect();
    assert!(
        classified.len() > 100,
        "the classification is missing or nearly empty"
    );

    // Every column that exists, in any schema but the system ones (for stale entries).
    let existing: BTreeSet<Column> = palisade_test_support::sql::column(
        &su,
        "SELECT n.nspname || '.' || c.relname || '.' || a.attname
               FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'",
    )
    .await;

    // What the app role can reach and read, asked as the app role itself: any privilege on a
    // relation or one of its columns (its own, a role's it is a member of, or PUBLIC's) reaches
    // every column of that relation.
    let app = db.app_client().await;
    let reachable: BTreeMap<Column, bool> = palisade_test_support::sql::pairs(&app, "SELECT n.nspname || '.' || c.relname || '.' || a.attname,
                    has_column_privilege(c.oid, a.attnum, 'SELECT')
               FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
                AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
                AND (has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                     OR has_any_column_privilege(c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))").await;
    assert!(
        reachable.contains_key("palisade.customers.name"),
        "the app role reaches nothing?"
    );

    // Columns computed from other columns: a generated column from the columns its expression
    // reads; a view that reads its tables as its owner (or a materialized view) from every
    // column it reads.
    let derived: Vec<(Column, Column)> = palisade_test_support::sql::pairs(&su, "SELECT n.nspname || '.' || c.relname || '.' || a.attname,
                    sn.nspname || '.' || sc.relname || '.' || sa.attname
               FROM pg_attrdef ad
               JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum AND a.attgenerated <> ''
               JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
                               AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
               JOIN pg_attribute sa ON sa.attrelid = d.refobjid AND sa.attnum = d.refobjsubid
               JOIN pg_class sc ON sc.oid = sa.attrelid JOIN pg_namespace sn ON sn.oid = sc.relnamespace
             UNION
             SELECT n.nspname || '.' || c.relname || '.' || a.attname,
                    sn.nspname || '.' || sc.relname || '.' || sa.attname
               FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
               JOIN pg_rewrite rw ON rw.ev_class = c.oid
               JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
                               AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
                               AND d.refobjid <> c.oid
               JOIN pg_attribute sa ON sa.attrelid = d.refobjid AND sa.attnum = d.refobjsubid
               JOIN pg_class sc ON sc.oid = sa.attrelid JOIN pg_namespace sn ON sn.oid = sc.relnamespace
              WHERE c.relkind = 'm'
                 OR (c.relkind = 'v' AND NOT coalesce('security_invoker=true' = ANY (c.reloptions)
                                                      OR 'security_invoker=on' = ANY (c.reloptions), false))").await;

    let mut out = Vec::new();
    for (col, can_select) in &reachable {
        match classified.get(col) {
            None => out.push(format!(
                "{col}: reachable by palisade_app but not classified"
            )),
            Some(c) if c.secret && *can_select => {
                out.push(format!(
                    "{col}: classified secret but palisade_app may SELECT it"
                ));
            }
            Some(_) => {}
        }
    }
    for col in classified.keys() {
        if !existing.contains(col) {
            out.push(format!("{col}: classified but no such column exists"));
        }
    }
    for (col, source) in &derived {
        let readable_without_reason = classified
            .get(col)
            .is_some_and(|c| !c.secret && c.reason.is_none());
        let source_secret = classified.get(source).is_some_and(|c| c.secret);
        if source_secret && readable_without_reason && reachable.get(col) == Some(&true) {
            out.push(format!(
                "{col}: readable without a reason, yet computed from secret {source}"
            ));
        }
    }
    out
}

/// The write-only fields docs/api.md promises, each classified secret.
const SECRETS: &[(&str, &str)] = &[
    ("users", "password_hash"),
    ("api_keys", "key_hash"),
    ("integrations", "secrets"),
    ("outbound_webhooks", "signing_secret"),
    ("social_accounts", "access_token"),
];

#[tokio::test]
async fn every_column_the_app_role_can_reach_is_classified_and_no_secret_is_readable() {
    let db = TestDb::new().await;
    let f = findings(&db).await;
    assert!(f.is_empty(), "column classification:\n  {}", f.join("\n  "));

    // The known write-only fields are among the secrets, and the app role really cannot read
    // them: not in a select list, not in a WHERE, not in RETURNING.
    let su = db.superuser_client().await;
    let secrets: Vec<String> = palisade_test_support::sql::column(
        &su,
        "SELECT table_name || '.' || column_name FROM palisade_audit.column_classification
              WHERE classification = 'secret' AND schema_name = 'palisade'",
    )
    .await;
    let app = db.app_client().await;
    for (table, col) in SECRETS {
        assert!(
            secrets.contains(&format!("{table}.{col}")),
            "{table}.{col} is not classified secret"
        );
        for sql in [
            format!("SELECT {col} FROM palisade.{table}"),
            format!("SELECT 1 FROM palisade.{table} WHERE {col} IS NOT NULL"),
            format!("SELECT t FROM palisade.{table} t"),
            format!("UPDATE palisade.{table} SET updated_at = now() RETURNING {col}"),
        ] {
            let err = app.query(&sql, &[]).await.unwrap_err();
            assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{sql}");
        }
    }
}

#[tokio::test]
async fn the_column_rules_catch_a_new_column_a_readable_secret_a_rename_and_a_copy() {
    // The test above is only worth something if it fails: break each rule as a careless
    // migration or grant would, and expect each to be named.
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    su.batch_execute(
        "ALTER TABLE palisade.customers ADD COLUMN portal_token text;
         GRANT SELECT (key_hash) ON palisade.api_keys TO palisade_app;
         ALTER TABLE palisade.social_accounts RENAME COLUMN access_token TO oauth_token;
         ALTER TABLE palisade.outbound_webhooks
             ADD COLUMN secret_copy text GENERATED ALWAYS AS (signing_secret) STORED;
         GRANT SELECT (secret_copy) ON palisade.outbound_webhooks TO palisade_app;
         INSERT INTO palisade_audit.column_classification
             VALUES ('palisade', 'outbound_webhooks', 'secret_copy', 'readable', NULL);
         CREATE TABLE palisade_platform.sneaky (k text);
         GRANT INSERT ON palisade_platform.sneaky TO palisade_app;",
    )
    .await
    .unwrap();
    let f = findings(&db).await.join("\n");
    for expected in [
        "palisade.customers.portal_token: reachable by palisade_app but not classified",
        "palisade.api_keys.key_hash: classified secret but palisade_app may SELECT it",
        // A secret renamed is no longer classified under its new name, and its old entry is stale.
        "palisade.social_accounts.oauth_token: reachable by palisade_app but not classified",
        "palisade.social_accounts.access_token: classified but no such column exists",
        "palisade.outbound_webhooks.secret_copy: readable without a reason, yet computed from secret palisade.outbound_webhooks.signing_secret",
        // Any schema, any privilege: INSERT alone reaches the table's columns.
        "palisade_platform.sneaky.k: reachable by palisade_app but not classified",
    ] {
        assert!(f.contains(expected), "missing {expected:?} in:\n{f}");
    }
}

/// `Authorization`-free signup with a chosen password (the harness's `signup` uses a fixed one).
async fn signup_with_password(app: &TestApp, password: &str) -> (String, String) {
    let email = format!("planted-{}@example.com", Uuid::new_v4().simple());
    let r = app
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(&json!({
                "organization_name": "Planted",
                "name": "Owner",
                "email": email,
                "password": password,
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Verified, as the owner would: an unverified owner makes no webhook or key.
    let token = r.json["token"].as_str().unwrap().to_owned();
    app.verify_signup_email(&token, &email).await;
    (
        token,
        r.json["organization_id"].as_str().unwrap().to_owned(),
    )
}

/// The forms a secret could leak in: itself, and hex and base64 of its SHA-256.
fn forms(value: &str) -> Vec<String> {
    let digest = Sha256::digest(value.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        value.to_owned(),
        hex,
        base64::engine::general_purpose::STANDARD.encode(digest),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
    ]
}

#[actix_web::test]
async fn a_value_planted_in_every_write_only_field_never_comes_back() {
    let app = spawn_app().await;
    let mark = Uuid::new_v4().simple().to_string();
    let password = format!("planted password {mark}");
    let (token, org_id) = signup_with_password(&app, &password).await;
    let auth = Some(token.as_str());
    let mut planted: Vec<String> = vec![password.clone()];

    // Social access tokens: one set on create, one set by PATCH over another.
    let social_tokens = [
        format!("social-token-created-{mark}"),
        format!("social-token-replaced-{mark}"),
        format!("social-token-patched-{mark}"),
    ];
    let r = app
        .call(
            "POST",
            "/v1/social/accounts",
            auth,
            Some(&json!({"network": "twitter", "handle": "planted", "access_token": social_tokens[0]})),
        )
        .await;
    assert_eq!((r.status, &r.json["has_access_token"]), (201, &json!(true)));
    let r = app
        .call(
            "POST",
            "/v1/social/accounts",
            auth,
            Some(&json!({"network": "linkedin", "handle": "planted", "access_token": social_tokens[1]})),
        )
        .await;
    assert_eq!(r.status, 201);
    let social_id = r.json["id"].as_str().unwrap().to_owned();
    let r = app
        .call(
            "PATCH",
            &format!("/v1/social/accounts/{social_id}"),
            auth,
            Some(&json!({"access_token": social_tokens[2]})),
        )
        .await;
    assert_eq!((r.status, &r.json["has_access_token"]), (200, &json!(true)));
    assert!(!r.text.contains(&mark), "PATCH answered with the token");
    planted.extend(social_tokens.iter().cloned());

    // Integration secrets: on create, then replaced by PATCH.
    let integration_secrets = [
        format!("integration-secret-created-{mark}"),
        format!("integration-secret-patched-{mark}"),
    ];
    let r = app
        .call(
            "POST",
            "/v1/integrations",
            auth,
            Some(&json!({"provider": "hubspot", "name": "Planted",
                         "secrets": {"private_app_token": integration_secrets[0]}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let integration_id = r.json["id"].as_str().unwrap().to_owned();
    let r = app
        .call(
            "POST",
            "/v1/integrations",
            auth,
            Some(&json!({"provider": "slack", "name": "Kept",
                         "secrets": {"bot_token": integration_secrets[1]}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    planted.extend(integration_secrets.iter().cloned());
    let patched_secret = format!("integration-secret-replacing-{mark}");
    let r = app
        .call(
            "PATCH",
            &format!("/v1/integrations/{integration_id}"),
            auth,
            Some(&json!({"secrets": {"private_app_token": patched_secret}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains(&mark), "PATCH answered with the secret");
    planted.push(patched_secret);

    // Webhook signing secrets: generated by the server, shown once on create and on rotation.
    let r = app
        .call(
            "POST",
            "/v1/webhooks",
            auth,
            Some(&json!({"url": "https://hooks.example.com/planted", "event_types": ["customer.created"]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let webhook_id = r.json["id"].as_str().unwrap().to_owned();
    planted.push(r.json["signing_secret"].as_str().unwrap().to_owned());
    let r = app
        .call(
            "POST",
            &format!("/v1/webhooks/{webhook_id}/rotate-secret"),
            auth,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rotated_secret = r.json["signing_secret"].as_str().unwrap().to_owned();
    planted.push(rotated_secret.clone());

    // An API key, shown once.
    let r = app
        .call(
            "POST",
            "/v1/api-keys",
            auth,
            Some(&json!({"name": "planted", "role": "member"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let api_key = r.json["key"].as_str().unwrap().to_owned();
    let api_key_id = r.json["id"].as_str().unwrap().to_owned();
    planted.push(api_key.clone());

    // Each planted value is stored (so its absence below means something), and what the
    // database keeps instead of it (hashes) is a secret too.
    let su = app.db.superuser_client().await;
    let stored: String = su
        .query_one(
            "SELECT concat_ws(' ',
                 (SELECT string_agg(access_token, ' ') FROM palisade.social_accounts),
                 (SELECT string_agg(secrets::text, ' ') FROM palisade.integrations),
                 (SELECT string_agg(signing_secret, ' ') FROM palisade.outbound_webhooks))",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    for v in [
        &social_tokens[0],
        &social_tokens[2],
        &integration_secrets[1],
        &rotated_secret,
    ] {
        assert!(stored.contains(v.as_str()), "{v} was not stored");
    }
    let hashes = stored_hashes(&su).await;
    assert!(hashes.iter().any(|h| h.starts_with("$argon2")));
    let mut needles: Vec<String> = planted.iter().flat_map(|v| forms(v)).collect();
    needles.extend(hashes);
    // The random part of each generated secret alone, too.
    needles.push(api_key["pk_".len()..].to_owned());
    let leaks = |text: &str| -> Vec<usize> {
        needles
            .iter()
            .enumerate()
            .filter(|(_, n)| text.contains(n.as_str()))
            .map(|(i, _)| i)
            .collect()
    };

    // The export: every table, every row of the organization, and none of the planted values.
    let r = app.call("GET", "/v1/organization/export", auth, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["organization_id"], org_id.as_str());
    let accounts = r.json["tables"]["social_accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2);
    for a in accounts {
        assert_eq!(a["has_access_token"], true);
        assert!(a.get("access_token").is_none(), "{a}");
    }
    assert_eq!(
        r.json["tables"]["integrations"].as_array().unwrap().len(),
        2
    );
    assert!(!r.text.contains(&mark), "the export holds a planted value");
    assert_eq!(
        leaks(&r.text),
        Vec::<usize>::new(),
        "the export holds a secret"
    );

    // The resources' own routes, items and lists, and the account routes.
    for path in [
        "/v1/social/accounts".to_owned(),
        format!("/v1/social/accounts/{social_id}"),
        "/v1/integrations".to_owned(),
        format!("/v1/integrations/{integration_id}"),
        "/v1/webhooks".to_owned(),
        format!("/v1/webhooks/{webhook_id}"),
        "/v1/api-keys".to_owned(),
        format!("/v1/api-keys/{api_key_id}"),
        "/v1/members".to_owned(),
        "/v1/me".to_owned(),
        "/v1/organization".to_owned(),
    ] {
        let r = app.call("GET", &path, auth, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert!(!r.text.contains(&mark), "{path} returned a planted value");
        assert_eq!(
            leaks(&r.text),
            Vec::<usize>::new(),
            "{path} returned a secret"
        );
    }
}

/// Every hash the database keeps (API keys' in hex and base64, passwords'), read as the superuser.
pub async fn stored_hashes(su: &tokio_postgres::Client) -> Vec<String> {
    palisade_test_support::sql::column(
        su,
        "SELECT encode(key_hash, 'hex') FROM palisade.api_keys
         UNION ALL SELECT encode(key_hash, 'base64') FROM palisade.api_keys
         UNION ALL SELECT password_hash FROM palisade.users",
    )
    .await
}
