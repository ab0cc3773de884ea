//! `/v1/api-keys` and authenticating with a key: shown once, stored as a hash, usable as
//! `Authorization: Bearer` or `X-API-Key`, revocable, confined to its organization and role.

use palisade_domain::Role;
use palisade_test_support::KeyHeader::{self, Bearer, XApiKey};
use palisade_test_support::{RawKey, Unchanged, spawn_app_with_owner, spawn_app_with_team};
use serde_json::{Value, json};
use sha2::Digest;

#[actix_web::test]
async fn a_key_is_shown_once_stored_as_a_hash_and_works_in_either_header() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let ci = json!({"name": "CI deploys", "role": "admin"});
    let r = app.post(&a, "/v1/api-keys", &ci).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let key = r.json["key"].as_str().unwrap().to_owned();
    let id = r.json["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("pk_") && key.len() == 46, "{key}");
    assert!(key.starts_with(r.json["prefix"].as_str().unwrap()));
    assert_eq!(r.json["role"], "admin");
    assert_eq!(r.json["created_by"], a.user_id.as_str());
    assert_eq!(r.json["revoked_at"], Value::Null);
    assert_eq!(r.json["last_used_at"], Value::Null);

    // Never again: not in the item, not in the list, not in the export.
    for path in [
        format!("/v1/api-keys/{id}"),
        "/v1/api-keys".to_owned(),
        "/v1/organization/export".to_owned(),
    ] {
        let r = app.get(&a, &path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert!(!r.text.contains(&key), "{path} shows the key");
        assert!(!r.text.contains("key_hash"), "{path} shows the hash");
    }
    // Stored: the SHA-256 of the whole key, and nowhere the key itself.
    let su = app.db.superuser_client().await;
    let stored: Vec<u8> = su
        .query_one(
            "SELECT key_hash FROM palisade.api_keys WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, sha2::Sha256::digest(key.as_bytes()).to_vec());
    let anywhere: i64 = su
        .query_one(
            "SELECT (SELECT count(*) FROM palisade.api_keys t WHERE to_jsonb(t)::text LIKE '%' || $1 || '%') \
                  + (SELECT count(*) FROM palisade.users t WHERE to_jsonb(t)::text LIKE '%' || $1 || '%')",
            &[&&key[3..]],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(anywhere, 0);

    // Both headers work; the key acts for its organization as its creator, with its role.
    for how in KeyHeader::BOTH {
        let r = app.get(&RawKey(&key, how), "/v1/me").await;
        assert_eq!(r.status, 200, "{how:?}: {}", r.text);
        assert_eq!(r.json["user"]["id"], a.user_id.as_str());
        assert_eq!(r.json["organization"]["id"], a.org_id.as_str());
        let body = json!({"name": format!("via {how:?}")});
        let r = app.post(&RawKey(&key, how), "/v1/customers", &body).await;
        assert_eq!(r.status, 201, "{how:?}: {}", r.text);
    }
    // An admin key may do admin things (but never delete the organization).
    let key = RawKey(&key, Bearer);
    let body = json!({"provider": "zapier", "name": "by key"});
    let r = app.post(&key, "/v1/integrations", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.delete(&key, "/v1/organization").await;
    assert_eq!(r.status, 403, "{}", r.text);

    // Its use is recorded.
    let r = app.get(&a, &format!("/v1/api-keys/{id}")).await;
    assert!(r.json["last_used_at"].is_string(), "{}", r.text);
}

#[actix_web::test]
async fn revoked_unknown_and_malformed_keys_answer_401() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let key = app.api_key(&a, "short-lived", Role::Member).await;
    let path = format!("/v1/api-keys/{}", key.id);
    let r = app.get(&key, "/v1/customers").await;
    assert_eq!(r.status, 200);

    let r = app.delete(&a, &path).await;
    assert_eq!(r.status, 204, "{}", r.text);
    // Revoking again is harmless, and the first revocation time stays.
    let first = app.get(&a, &path).await.json["revoked_at"].clone();
    assert!(first.is_string());
    let r = app.delete(&a, &path).await;
    assert_eq!(r.status, 204);
    assert_eq!(app.get(&a, &path).await.json["revoked_at"], first);

    let unknown = format!("pk_{}", "A".repeat(43));
    for (what, k) in [
        ("revoked", key.key.as_str()),
        ("unknown", unknown.as_str()),
        ("malformed", "pk_not-a-key"),
        ("truncated", &key.key[..40]),
    ] {
        for how in KeyHeader::BOTH {
            let r = app.get(&RawKey(k, how), "/v1/customers").await;
            r.assert_error_at(401, "invalid_token", format_args!("{what} via {how:?}"));
        }
    }
    // A JWT in X-API-Key is not a key.
    let r = app.get(&RawKey(&a.token, XApiKey), "/v1/customers").await;
    assert_eq!(r.status, 401);

    // Listed as revoked.
    let r = app.get(&a, "/v1/api-keys?revoked=true").await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1);
    let r = app.get(&a, "/v1/api-keys?revoked=false").await;
    assert_eq!(r.json["data"], json!([]));
}

#[actix_web::test]
async fn a_key_of_one_organization_never_reaches_another() {
    let (app, a) = spawn_app_with_owner("Tenant A").await;
    let b = app.signup("Tenant B").await;
    let key_a = app.api_key(&a, "A's key", Role::Admin).await;
    let b_customer = app
        .create_customer(&b, json!({"name": "B's customer"}))
        .await;
    let b_key = app.api_key(&b, "B's key", Role::Member).await;
    let b_paths = [
        format!("/v1/customers/{}", b_customer["id"].as_str().unwrap()),
        format!("/v1/api-keys/{}", b_key.id),
    ];
    let b_before = Unchanged::http(&app, &b, &b_paths).await;
    for path in &b_paths {
        for method in ["GET", "DELETE"] {
            let r = app.request_as(&key_a, method, path, None, &[]).await;
            // Revoking a key needs a user's session, whichever organization the key is of.
            let expected = if method == "DELETE" && path.starts_with("/v1/api-keys") {
                403
            } else {
                404
            };
            assert_eq!(r.status, expected, "{method} {path}: {}", r.text);
        }
        // A's user session: B's rows are 404 too.
        let r = app.delete(&a, path).await;
        assert_eq!(r.status, 404, "DELETE {path} as A's owner: {}", r.text);
    }
    for path in [
        "/v1/customers",
        "/v1/api-keys",
        "/v1/members",
        "/v1/organization",
    ] {
        let r = app.get(&key_a.in_header(XApiKey), path).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(!r.text.contains(&b.org_id), "{path} shows B");
        assert!(!r.text.contains("B's"), "{path} shows B's rows");
    }
    // B's rows are unchanged.
    b_before.assert_http(&app).await;
    let r = app.get(&b, &b_paths[1]).await;
    assert_eq!(r.json["revoked_at"], Value::Null);
}

#[actix_web::test]
async fn roles_bound_who_mints_and_what_a_key_may_do() {
    let (app, owner, admin, member) = spawn_app_with_team("Acme").await;

    // Members cannot mint or revoke keys; nobody mints an owner key.
    let mine = json!({"name": "mine", "role": "member"});
    app.assert_forbidden(&member, &[("POST", "/v1/api-keys", Some(mine))])
        .await;
    for role in ["owner", "root"] {
        let r = app
            .post(&owner, "/v1/api-keys", &json!({"name": "k", "role": role}))
            .await;
        assert_eq!(r.status, 422, "{role}: {}", r.text);
        assert_eq!(r.json["fields"][0]["field"], "role");
    }
    let r = app.post(&owner, "/v1/api-keys", &json!({})).await;
    assert_eq!(r.status, 422);
    let admin_key = app.api_key(&admin, "admin's", Role::Admin).await;
    let r = app
        .delete(&member, &format!("/v1/api-keys/{}", admin_key.id))
        .await;
    assert_eq!(r.status, 403);
    // Members see the keys (not the secrets).
    let r = app.get(&member, "/v1/api-keys").await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1);

    // A member key reads and does member things, and nothing reserved to admins.
    let member_key = app.api_key(&owner, "read-mostly", Role::Member).await;
    let r = app.get(&member_key, "/v1/members").await;
    assert_eq!(r.status, 200);
    for (path, body) in [
        ("/v1/api-keys", json!({"name": "escalate", "role": "admin"})),
        (
            "/v1/webhooks",
            json!({"url": "https://hooks.example.com/x", "event_types": ["customer.created"]}),
        ),
    ] {
        let r = app.post(&member_key, path, &body).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text);
    }

    // An admin key acts as admin... until its creator is demoted: never above its creator.
    let body = json!({"provider": "hubspot", "name": "ok"});
    let r = app.post(&admin_key, "/v1/integrations", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .patch(
            &owner,
            &format!("/v1/members/{}", admin.user_id),
            &json!({"role": "member"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = json!({"provider": "hubspot", "name": "not ok"});
    let r = app.post(&admin_key, "/v1/integrations", &body).await;
    assert_eq!(r.status, 403, "{}", r.text);

    // Removing the creator revokes the key: 401, and it is listed as revoked.
    let r = app
        .delete(&owner, &format!("/v1/members/{}", admin.user_id))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = app.get(&admin_key, "/v1/customers").await;
    r.assert_error(401, "invalid_token");
    let r = app
        .get(&owner, &format!("/v1/api-keys/{}", admin_key.id))
        .await;
    assert!(r.json["revoked_at"].is_string(), "{}", r.text);
}

#[actix_web::test]
async fn keys_list_newest_first_in_pages() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.api_key(&a, &format!("k{i}"), Role::Member).await.id);
    }
    ids.reverse();
    let seen = app.walk(&a, "/v1/api-keys", "", 2).await;
    assert!(
        seen.iter().all(|k| k.get("key").is_none()),
        "a listed key shows its secret"
    );
    let seen: Vec<_> = seen.iter().map(palisade_test_support::id).collect();
    assert_eq!(seen, ids);
    let r = app.get(&a, "/v1/api-keys?revoked=maybe").await;
    assert_eq!(r.status, 422);
    let r = app.get(&a, "/v1/api-keys/not-a-uuid").await;
    r.assert_error(400, "invalid_id");
}

#[actix_web::test]
async fn a_revoked_key_stays_revoked_even_for_a_direct_update_as_the_app_role() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let key = app.api_key(&a, "leaked", Role::Admin).await;
    let id: uuid::Uuid = key.id.parse().unwrap();
    let r = app.delete(&a, &format!("/v1/api-keys/{id}")).await;
    assert_eq!(r.status, 204, "{}", r.text);
    // As the app role in the owner's context: un-revoking is refused; revoking again is not.
    let c = app.db.app_client().await;
    palisade_test_support::sql::begin_as(&c, &a.org_id, "owner").await;
    let again = c
        .execute(
            "UPDATE palisade.api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(again, 1);
    let err = c
        .execute(
            "UPDATE palisade.api_keys SET revoked_at = NULL WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::CHECK_VIOLATION),
        "{err:?}"
    );
}

#[actix_web::test]
async fn a_key_with_an_expiry_works_until_then_and_answers_401_after() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let expires_at = (time::OffsetDateTime::now_utc() + time::Duration::days(30))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let created = app
        .create(
            &a,
            "/v1/api-keys",
            json!({"name": "contractor", "role": "admin", "expires_at": expires_at}),
        )
        .await;
    let stamp = |v: &Value| {
        time::OffsetDateTime::parse(
            v.as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
        .unix_timestamp()
    };
    assert_eq!(stamp(&created["expires_at"]), stamp(&json!(expires_at)));
    let key = RawKey(created["key"].as_str().unwrap(), Bearer);
    let id: uuid::Uuid = created["id"].as_str().unwrap().parse().unwrap();
    // Before its expiry it works, through the pipelined check (/v1/customers) and the
    // extractor's own lookup (the export).
    assert_eq!(app.get(&key, "/v1/customers").await.status, 200);
    assert_eq!(app.get(&key, "/v1/organization/export").await.status, 200);
    let listed = app.get(&a, "/v1/api-keys").await;
    assert_eq!(listed.json["data"][0]["expires_at"], created["expires_at"]);
    // Its expiry passes (the database's clock decides: moved back, as a superuser).
    let su = app.db.superuser_client().await;
    su.execute(
        "UPDATE palisade.api_keys SET created_at = now() - interval '2 hours', \
                expires_at = now() - interval '1 hour', last_used_at = NULL WHERE id = $1",
        &[&id],
    )
    .await
    .unwrap();
    for path in ["/v1/customers", "/v1/organization/export", "/v1/me"] {
        for how in KeyHeader::BOTH {
            let r = app
                .get(&RawKey(created["key"].as_str().unwrap(), how), path)
                .await;
            r.assert_error_at(401, "invalid_token", format_args!("{path} via {how:?}"));
        }
    }
    // The list tells expired keys from working ones.
    for (query, listed) in [
        ("expired=true", 1),
        ("expired=false", 0),
        ("revoked=false", 1),
        ("revoked=false&expired=false", 0),
    ] {
        let r = app.get(&a, &format!("/v1/api-keys?{query}")).await;
        assert_eq!(r.status, 200, "{query}: {}", r.text);
        assert_eq!(r.json["data"].as_array().unwrap().len(), listed, "{query}");
    }
    // An expired key is not stamped as used, and stays listed, not revoked.
    let r = app.get(&a, &format!("/v1/api-keys/{id}")).await;
    assert_eq!(r.json["last_used_at"], Value::Null, "{}", r.text);
    assert_eq!(r.json["revoked_at"], Value::Null);
    // Nobody extends it: the app role has no UPDATE on expires_at.
    let c = app.db.app_client().await;
    palisade_test_support::sql::begin_as(&c, &a.org_id, "owner").await;
    let err = c
        .execute(
            "UPDATE palisade.api_keys SET expires_at = now() + interval '1 year' WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
        "{err:?}"
    );
}

#[actix_web::test]
async fn an_expiry_that_is_not_a_future_time_is_refused_and_mints_nothing() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let past = (time::OffsetDateTime::now_utc() - time::Duration::minutes(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    for (what, value) in [
        ("past", json!(past)),
        ("not a time", json!("next tuesday")),
        ("a number", json!(1_900_000_000)),
    ] {
        let r = app
            .post(
                &a,
                "/v1/api-keys",
                &json!({"name": "k", "role": "member", "expires_at": value}),
            )
            .await;
        assert_eq!(r.status, 422, "{what}: {}", r.text);
        assert_eq!(
            r.json["fields"][0]["field"], "expires_at",
            "{what}: {}",
            r.text
        );
    }
    // The table refuses an expiry before the key's creation whatever the API's clock says, and
    // that CHECK is the constraint the route maps to the same 422.
    let c = app.db.app_client().await;
    palisade_test_support::sql::begin_as_user(&c, &a.org_id, &a.user_id, "owner").await;
    let err = c
        .execute(
            "INSERT INTO palisade.api_keys (id, name, role, prefix, key_hash, created_by, \
             expires_at) VALUES (gen_random_uuid(), 'k', 'member', 'pk_x', \
             sha256('x'::bytea), $1::text::uuid, now() - interval '1 second')",
            &[&a.user_id],
        )
        .await
        .unwrap_err();
    let db = err.as_db_error().expect("a server error");
    assert_eq!(db.code(), &tokio_postgres::error::SqlState::CHECK_VIOLATION);
    assert_eq!(
        db.constraint(),
        Some(palisade_db::api_keys::EXPIRES_AFTER_CREATION)
    );
    drop(c);
    // A null is no expiry.
    let r = app
        .post(
            &a,
            "/v1/api-keys",
            &json!({"name": "k", "role": "member", "expires_at": null}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["expires_at"], Value::Null);
    assert_eq!(
        app.get(&a, "/v1/api-keys").await.json["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[actix_web::test]
async fn an_upgrade_keeps_existing_keys_working_without_an_expiry() {
    use palisade_test_support::{TestDb, spawn_app_on};
    use std::sync::Arc;
    // A database at V0164, before keys could expire, with an organization, its owner, an admin
    // key of theirs, and the key lookup as the definers of that version returned it (no
    // `expired`): the upgrade must replace a function whose result type changes.
    let db = Arc::new(TestDb::at_version(164).await);
    let key = palisade_api::credentials::GeneratedApiKey::generate().unwrap();
    let (org, owner) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let c = db.superuser_client().await;
    c.batch_execute(
        "CREATE FUNCTION palisade_private.api_key_lookup(p_key_hash bytea) \
           RETURNS TABLE (organization_id uuid, key_id uuid, user_id uuid, role text, \
                          revoked boolean) \
           LANGUAGE sql AS $$ SELECT NULL::uuid, NULL::uuid, NULL::uuid, NULL::text, \
                                     NULL::boolean WHERE false $$; \
         ALTER FUNCTION palisade_private.api_key_lookup(bytea) OWNER TO palisade_resolver;",
    )
    .await
    .unwrap();
    c.execute(
        "INSERT INTO palisade.organizations (id, name) VALUES ($1, 'Old')",
        &[&org],
    )
    .await
    .unwrap();
    c.execute(
        "INSERT INTO palisade.users (organization_id, id, email, name, role, password_hash) \
         VALUES ($1, $2, $3, 'Owner', 'owner', 'not a hash')",
        &[&org, &owner, &format!("owner-{owner}@example.com")],
    )
    .await
    .unwrap();
    c.execute(
        "INSERT INTO palisade.api_keys (organization_id, id, name, role, prefix, key_hash, \
                                        created_by) \
         VALUES ($1, $2, 'old', 'admin', $3, $4, $5)",
        &[
            &org,
            &uuid::Uuid::now_v7(),
            &key.display_prefix(),
            &key.hash().as_slice(),
            &owner,
        ],
    )
    .await
    .unwrap();

    db.upgrade().await;
    let app = spawn_app_on(db).await;
    let old = RawKey(key.expose(), Bearer);
    let r = app.get(&old, "/v1/customers").await;
    assert_eq!(r.status, 200, "the pipelined check: {}", r.text);
    let r = app.get(&old, "/v1/organization/export").await;
    assert_eq!(r.status, 200, "the extractor's lookup: {}", r.text);
    let r = app.get(&old, "/v1/api-keys?expired=false").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["data"][0]["expires_at"], Value::Null, "{}", r.text);
}

/// After a member's account was taken over: the keys they created, and only those, listed by
/// `?created_by=`; another organization's user, or nobody, lists none.
#[actix_web::test]
async fn the_keys_a_member_created_are_listed_by_created_by() {
    let (app, owner, admin, _member) = spawn_app_with_team("Acme").await;
    let owners = app.api_key(&owner, "owner's", Role::Admin).await.id;
    let admins = [
        app.api_key(&admin, "admin's 1", Role::Member).await.id,
        app.api_key(&admin, "admin's 2", Role::Admin).await.id,
    ];
    let ids = |r: &palisade_test_support::TestResponse| -> Vec<String> {
        r.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| palisade_test_support::id(k).to_owned())
            .collect()
    };
    let r = app
        .get(
            &owner,
            &format!("/v1/api-keys?created_by={}", admin.user_id),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ids(&r), [admins[1].clone(), admins[0].clone()]);
    let r = app
        .get(
            &owner,
            &format!("/v1/api-keys?created_by={}", owner.user_id),
        )
        .await;
    assert_eq!(ids(&r), [owners]);
    let other = app.signup("Other").await;
    for nobody in [other.user_id.clone(), uuid::Uuid::now_v7().to_string()] {
        let r = app
            .get(&owner, &format!("/v1/api-keys?created_by={nobody}"))
            .await;
        assert_eq!(ids(&r), Vec::<String>::new());
    }
    let r = app.get(&owner, "/v1/api-keys?created_by=me").await;
    assert_eq!(r.status, 422, "{}", r.text);
}
