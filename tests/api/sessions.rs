//! A session's tokens: renewing one (`POST /v1/me/token`) and ending them all
//! (`POST /v1/me/revoke-tokens`). docs/accounts.md, "How tokens end".

use palisade_api::auth::{Claims, TokenKeys};
use palisade_domain::Role;
use palisade_test_support::{TestApp, spawn_app_with_owner};
use serde_json::json;

fn now() -> i64 {
    palisade_test_support::unix_now()
}

fn claims_of(app: &TestApp, token: &str) -> Claims {
    app.tokens.verify(token).expect("a token the app issued")
}

/// `token` issued `secs` earlier (its `iat`, `exp` and `auth_time` moved back): the tokens a
/// server issues in one second to one user are otherwise the same string.
fn earlier(app: &TestApp, token: &str, secs: i64) -> String {
    let mut claims = claims_of(app, token);
    claims.iat -= secs;
    claims.exp -= secs;
    claims.auth_time = claims.auth_time.map(|t| t - secs);
    app.tokens.sign(&claims).unwrap()
}

/// What `POST /v1/me/token` answers with `token`, and the renewed token's claims when it is 200.
async fn renew(
    app: &TestApp,
    token: &str,
) -> (palisade_test_support::TestResponse, Option<Claims>) {
    let r = app.post(token, "/v1/me/token", &json!({})).await;
    let claims = (r.status == 200).then(|| claims_of(app, r.json["token"].as_str().unwrap()));
    (r, claims)
}

#[actix_web::test]
async fn a_renewed_token_is_the_same_session_with_the_users_current_role() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let admin = app.add_user(&owner, Role::Admin).await;
    let login = claims_of(&app, &admin.token);
    let login_time = login
        .auth_time
        .expect("a login's token says when the user logged in");
    assert!((login_time - now()).abs() < 300, "{login_time}");
    // The token to renew was issued 5 s ago, so that its renewal is another string.
    let start = earlier(&app, &admin.token, 5);
    let first = claims_of(&app, &start);
    let auth_time = first.auth_time.unwrap();

    let (r, renewed) = renew(&app, &start).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.json["token_type"], "Bearer");
    assert_eq!(
        r.json["expires_in"], 3600,
        "the test server's token lifetime"
    );
    assert_eq!(r.json["organization_id"], admin.org_id);
    assert_eq!(r.json["user_id"], admin.user_id);
    assert_eq!(r.json["role"], "admin");
    let renewed = renewed.unwrap();
    assert_eq!(
        renewed.auth_time,
        Some(auth_time),
        "renewing is not logging in"
    );
    assert_eq!(renewed.ver, first.ver);
    assert_eq!((renewed.sub, renewed.org), (first.sub, first.org));
    assert!(renewed.iat > first.iat);
    let token = r.json["token"].as_str().unwrap().to_owned();
    assert_ne!(token, start);
    let me = app.get(&token, "/v1/me").await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["user"]["id"], admin.user_id);
    // The token it renewed is not ended by it: tokens are not stored, so nothing could end it.
    assert_eq!(app.get(&start, "/v1/me").await.status, 200);

    // A demotion: the renewal carries the role the user has now, not the token's.
    let r = app
        .patch(
            &owner,
            &format!("/v1/members/{}", admin.user_id),
            &json!({"role": "member"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (r, renewed) = renew(&app, &start).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["role"], "member");
    assert_eq!(renewed.unwrap().role, Some(Role::Member));

    // After a password change the earlier tokens renew nothing...
    let r = app
        .post(
            &admin,
            "/v1/me/password",
            &json!({"current_password": admin.password, "new_password": "a renewed long password"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let changed = claims_of(&app, r.json["token"].as_str().unwrap());
    for old in [&admin.token, &start, &token] {
        let (r, _) = renew(&app, old).await;
        r.assert_error(401, "invalid_token");
    }
    // ...and the change's own token starts a new session, at the change.
    assert_eq!(changed.auth_time, Some(changed.iat));
    assert!(changed.iat > auth_time);
}

#[actix_web::test]
async fn an_expired_token_renews_nothing_even_while_it_is_still_accepted() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let mut claims = claims_of(&app, &owner.token);
    (claims.iat, claims.exp) = (now() - 600, now() - 10);
    let expired = app.tokens.sign(&claims).unwrap();
    // Verification allows 30 s of clock skew past exp...
    assert_eq!(app.get(&expired, "/v1/me").await.status, 200);
    // ...a renewal none: it would make a new token out of an expired one.
    let (r, _) = renew(&app, &expired).await;
    r.assert_error(401, "invalid_token");
    assert!(
        r.json["message"].as_str().unwrap().contains("expired"),
        "{}",
        r.text
    );
    // Past the leeway it is refused everywhere.
    (claims.iat, claims.exp) = (now() - 600, now() - 40);
    let (r, _) = renew(&app, &app.tokens.sign(&claims).unwrap()).await;
    r.assert_error(401, "invalid_token");
}

#[actix_web::test]
async fn the_servers_session_maximum_applies() {
    use std::time::Duration;
    let app = palisade_test_support::spawn_app_configured(|c| {
        c.session_max = Duration::from_secs(7200);
    })
    .await;
    let owner = app.signup("Acme").await;
    let mut claims = claims_of(&app, &owner.token);
    let auth_time = now() - 7200 + 100;
    claims.auth_time = Some(auth_time);
    let (r, renewed) = renew(&app, &app.tokens.sign(&claims).unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let expires_in = r.json["expires_in"].as_i64().unwrap();
    assert!((1..=100).contains(&expires_in), "{expires_in}");
    assert_eq!(renewed.unwrap().exp, auth_time + 7200);
}
#[actix_web::test]
async fn no_renewal_outlives_the_sessions_maximum_age() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let max = i64::try_from(TokenKeys::DEFAULT_SESSION_MAX.as_secs()).unwrap();
    let signed = |auth_time: Option<i64>, iat: i64| {
        let mut claims = claims_of(&app, &owner.token);
        claims.iat = iat;
        claims.exp = now() + 600;
        claims.auth_time = auth_time;
        app.tokens.sign(&claims).unwrap()
    };

    // A login 100 s short of the maximum age: the renewal lives 100 s, not the token lifetime.
    let auth_time = now() - max + 100;
    let (r, renewed) = renew(&app, &signed(Some(auth_time), now() - 10)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let expires_in = r.json["expires_in"].as_i64().unwrap();
    assert!((1..=100).contains(&expires_in), "{expires_in}");
    let renewed = renewed.unwrap();
    assert_eq!(renewed.exp, auth_time + max);
    assert_eq!(renewed.auth_time, Some(auth_time));
    // Renewing that one again gains nothing.
    let (r, again) = renew(&app, r.json["token"].as_str().unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(again.unwrap().exp, auth_time + max);

    // A session past its maximum age renews nothing (its tokens expire by then; this one was
    // signed to outlive it, as only the secret's holder could).
    let (r, _) = renew(&app, &signed(Some(now() - max - 5), now() - 10)).await;
    r.assert_error(401, "invalid_token");
    assert!(
        r.json["message"].as_str().unwrap().contains("log in again"),
        "{}",
        r.text
    );

    // A token from before the claim existed counts from when it was issued.
    let iat = now() - max + 50;
    let (r, renewed) = renew(&app, &signed(None, iat)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let renewed = renewed.unwrap();
    assert_eq!((renewed.exp, renewed.auth_time), (iat + max, Some(iat)));
}

#[actix_web::test]
async fn revoking_tokens_ends_every_token_of_the_user_and_nothing_else() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let admin = app.add_user(&owner, Role::Admin).await;
    let elsewhere = app.signup("Elsewhere").await;
    let key = app.api_key(&owner, "server", Role::Admin).await;
    // Three devices: the signup's token, one issued a minute earlier, and that one's renewal.
    let phone = earlier(&app, &owner.token, 60);
    let (r, _) = renew(&app, &phone).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let renewed = r.json["token"].as_str().unwrap().to_owned();
    let tokens = [
        ("signup", &owner.token),
        ("phone", &phone),
        ("renewed", &renewed),
    ];
    for (i, (_, a)) in tokens.iter().enumerate() {
        for (_, b) in &tokens[i + 1..] {
            assert_ne!(a, b, "three distinct tokens");
        }
    }
    // A reset link requested before.
    assert_eq!(app.request_password_reset(&owner.email).await.status, 202);
    let link = app.reset_token(&owner.email, 1).await;

    let r = app.post(&phone, "/v1/me/revoke-tokens", &json!({})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    for (what, token) in tokens {
        let r = app.get(token, "/v1/me").await;
        assert_eq!(r.status, 401, "{what}: {}", r.text);
        assert_eq!(r.json["error"], "invalid_token", "{what}");
        let (r, _) = renew(&app, token).await;
        r.assert_error_at(401, "invalid_token", what);
        let r = app.patch(token, "/v1/me", &json!({"name": "x"})).await;
        r.assert_error_at(401, "invalid_token", what);
        // Ending them again ends nothing more: the token's version is gone.
        let r = app.post(token, "/v1/me/revoke-tokens", &json!({})).await;
        r.assert_error_at(401, "invalid_token", what);
    }
    // Another user's session, here and in another organization, and the owner's API key are
    // untouched.
    assert_eq!(app.get(&admin, "/v1/me").await.status, 200);
    assert_eq!(app.get(&elsewhere, "/v1/me").await.status, 200);
    assert_eq!(app.get(&key, "/v1/customers").await.status, 200);
    // The password still logs in, and the new session works.
    let r = app.login(&owner.email, &owner.password).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let again = r.json["token"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&again, "/v1/me").await.status, 200);
    // The reset link still works (it ends the new session, as every reset does).
    let r = app
        .reset_password(&link, "a password after the phone was lost")
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(app.get(&again, "/v1/me").await.status, 401);
}
#[actix_web::test]
async fn end_sessions_acts_on_the_transactions_own_user_only() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let admin = app.add_user(&owner, Role::Admin).await;
    let other = app.signup("Other").await;
    let versions = || async {
        let c = app.db.superuser_client().await;
        let rows = c
            .query(
                "SELECT id::text, credential_version FROM palisade.users ORDER BY id",
                &[],
            )
            .await
            .unwrap();
        rows.iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i32>(1)))
            .collect::<Vec<_>>()
    };
    let before = versions().await;
    assert_eq!(before.len(), 3);
    let c = app.db.app_client().await;
    // No context: fail closed, nothing changes.
    let rows = c
        .query("SELECT * FROM palisade_private.end_sessions(0, now())", &[])
        .await
        .unwrap();
    assert!(rows.is_empty());
    // A user of another organization named with this one: no such user, nothing changes.
    palisade_test_support::sql::begin_as_user(&c, &owner.org_id, &other.user_id, "owner").await;
    let rows = c
        .query("SELECT * FROM palisade_private.end_sessions(0, now())", &[])
        .await
        .unwrap();
    assert!(rows.is_empty());
    c.batch_execute("COMMIT").await.unwrap();
    assert_eq!(versions().await, before);
    // The admin's own context bumps the admin, and no one else.
    palisade_test_support::sql::begin_as_user(&c, &admin.org_id, &admin.user_id, "admin").await;
    // A version the user no longer has (a token ended meanwhile) ends nothing.
    let rows = c
        .query("SELECT * FROM palisade_private.end_sessions(7, now())", &[])
        .await
        .unwrap();
    assert!(rows.is_empty());
    let version: i32 = c
        .query_one("SELECT * FROM palisade_private.end_sessions(0, now())", &[])
        .await
        .unwrap()
        .get(0);
    c.batch_execute("COMMIT").await.unwrap();
    let after = versions().await;
    for ((id, old), (same_id, new)) in before.iter().zip(&after) {
        assert_eq!(id, same_id);
        let expected = if *id == admin.user_id { old + 1 } else { *old };
        assert_eq!(*new, expected, "{id}");
    }
    assert!(after.contains(&(admin.user_id.clone(), version)));
    // The app role cannot bump a version itself.
    let err = c
        .execute(
            "UPDATE palisade.users SET credential_version = credential_version + 1",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
}

#[actix_web::test]
async fn during_a_rotation_both_secrets_verify_and_renewals_move_to_the_new_one() {
    use std::time::Duration;
    // The server is in a rotation's second step: it signs with the test secret (the new one)
    // and still accepts the tokens of the previous one.
    let previous = [9u8; 32];
    let app = palisade_test_support::spawn_app_configured(|c| {
        c.jwt_verify_secret = Some(previous.to_vec());
    })
    .await;
    let owner = app.signup("Acme").await;
    let old_keys = TokenKeys::new(&previous, Duration::from_secs(3600)).unwrap();
    let old = old_keys.sign(&claims_of(&app, &owner.token)).unwrap();
    let me = app.get(&old, "/v1/me").await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["user"]["id"], owner.user_id);
    assert_eq!(app.get(&owner, "/v1/me").await.status, 200);
    // Renewing a token of the previous secret gives one of the new secret: a client that renews
    // moves over before the previous secret is dropped.
    let r = app.post(&old, "/v1/me/token", &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let renewed = r.json["token"].as_str().unwrap();
    assert!(app.tokens.verify(renewed).is_ok());
    assert!(old_keys.verify(renewed).is_err());
    // A third secret's token is still refused, and so is an expired one of the previous secret.
    let third = TokenKeys::new(&[7u8; 32], Duration::from_secs(3600)).unwrap();
    let r = app
        .get(
            &third.sign(&claims_of(&app, &owner.token)).unwrap(),
            "/v1/me",
        )
        .await;
    r.assert_error(401, "invalid_token");
    let mut expired = claims_of(&app, &owner.token);
    (expired.iat, expired.exp) = (now() - 7200, now() - 3600);
    let r = app.get(&old_keys.sign(&expired).unwrap(), "/v1/me").await;
    r.assert_error(401, "invalid_token");
    // The verify secret changes no other rule: revoking ends the previous secret's tokens too.
    let r = app.post(&owner, "/v1/me/revoke-tokens", &json!({})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.get(&old, "/v1/me")
        .await
        .assert_error(401, "invalid_token");
}
