//! `/v1/members`: listing, changing and removing the people of an organization (they join by
//! invitation: tests/api/accounts.rs); the owner rules and the last owner; a removed user's
//! tokens stop working on every route.

use palisade_domain::Role;
use palisade_test_support::{
    fields, request, spawn_app, spawn_app_with_owner, spawn_app_with_team,
};
use serde_json::json;

#[actix_web::test]
async fn an_admin_invites_a_member_who_joins_logs_in_and_is_listed() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let admin = app.add_user(&owner, Role::Admin).await;
    let r = app.invite(&admin, " Grace@Example.com ", "member").await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["email"], "grace@example.com");
    assert_eq!(r.json["role"], "member");
    let invitation_token = app.invitation_token("grace@example.com").await;
    let r = app
        .accept_invitation(&invitation_token, "Grace", "grace's own passphrase")
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .login("grace@example.com", "grace's own passphrase")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.json["token"].as_str().unwrap().to_owned();
    let me = app.get(&token, "/v1/me").await;
    assert_eq!(me.json["organization"]["id"], owner.org_id.as_str());
    assert_eq!(me.json["user"]["role"], "member");

    let r = app.get(&token, "/v1/members").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["data"].as_array().unwrap().len(), 3);
    assert!(!r.text.contains("argon2"));
    let r = app.get(&token, "/v1/members?role=admin").await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.json["data"][0]["id"], admin.user_id.as_str());
    let r = app
        .get(&token, &format!("/v1/members/{}", owner.user_id))
        .await;
    assert_eq!((r.status, &r.json["role"]), (200, &json!("owner")));
    assert!(!r.text.contains("password"));
}

#[actix_web::test]
async fn validation() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    // Nobody adds a member with a password any more: they join by invitation.
    let r = app
        .post(&owner, "/v1/members", &json!({"email": "x@example.com", "name": "X", "role": "member", "password": "an initial password"}))
        .await;
    r.assert_error(405, "method_not_allowed");
    let r = app.invite(&owner, "nope", "root").await;
    assert_eq!(r.status, 422);
    assert_eq!(fields(&r.json), ["email", "role"]);
    let r = app
        .call(
            "POST",
            "/v1/invitations",
            Some(&owner.token),
            Some(
                &json!({"email": "x@example.com", "role": "member", "password": "not mine to set"}),
            ),
        )
        .await;
    assert_eq!(r.status, 400, "an invitation takes no password: {}", r.text);
    let path = format!("/v1/members/{}", owner.user_id);
    for body in [
        json!({"role": null}),
        json!({"name": null}),
        json!({"role": "boss"}),
    ] {
        let r = app.patch(&owner, &path, &body).await;
        assert_eq!(r.status, 422, "{body}");
    }
    let r = app
        .patch(&owner, &path, &json!({"email": "x@example.com"}))
        .await;
    assert_eq!(r.status, 400);
    let r = app.get(&owner, "/v1/members/42").await;
    assert_eq!(r.status, 400);
}

#[actix_web::test]
async fn only_owners_and_admins_write_and_only_owners_touch_owners() {
    let (app, owner, admin, member) = spawn_app_with_team("Acme").await;
    let owner_path = format!("/v1/members/{}", owner.user_id);
    let member_path = format!("/v1/members/{}", member.user_id);
    let admin_path = format!("/v1/members/{}", admin.user_id);

    // Members: 403 on every write.
    let body = json!({"email": "x@example.com", "role": "member"});
    for (method, p, b) in [
        ("POST", "/v1/invitations", Some(&body)),
        ("PATCH", member_path.as_str(), Some(&json!({"name": "me"}))),
        ("DELETE", admin_path.as_str(), None),
    ] {
        let r = app.call(method, p, Some(&member.token), b).await;
        assert_eq!(r.status, 403, "member {method} {p}: {}", r.text);
    }

    // Admins: manage admins and members, but neither create, change, promote to, nor remove owners.
    let r = app.invite(&admin, "o@example.com", "owner").await;
    assert_eq!(r.status, 403, "{}", r.text);
    for (method, p, b) in [
        (
            "PATCH",
            owner_path.as_str(),
            Some(json!({"name": "renamed"})),
        ),
        (
            "PATCH",
            owner_path.as_str(),
            Some(json!({"role": "member"})),
        ),
        (
            "PATCH",
            member_path.as_str(),
            Some(json!({"role": "owner"})),
        ),
        ("PATCH", admin_path.as_str(), Some(json!({"role": "owner"}))),
        ("DELETE", owner_path.as_str(), None),
    ] {
        let r = app.call(method, p, Some(&admin.token), b.as_ref()).await;
        assert_eq!(r.status, 403, "admin {method} {p} {b:?}: {}", r.text);
    }
    let promoted = json!({"role": "admin", "name": "Promoted"});
    let r = app.patch(&admin, &member_path, &promoted).await;
    assert_eq!(
        (r.status, &r.json["role"]),
        (200, &json!("admin")),
        "{}",
        r.text
    );
    assert_eq!(r.json["name"], "Promoted");

    // The owner may make an owner; the role takes effect at once, even for existing tokens.
    let r = app
        .patch(&owner, &member_path, &json!({"role": "owner"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.get(&member, "/v1/me").await;
    assert_eq!(r.json["user"]["role"], "owner");
    let r = app
        .patch(&owner, &admin_path, &json!({"role": "member"}))
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .call(
            "POST",
            "/v1/webhooks",
            Some(&admin.token),
            Some(
                &json!({"url": "https://hooks.example.com/", "event_types": ["customer.created"]}),
            ),
        )
        .await;
    assert_eq!(
        r.status, 403,
        "a demoted admin's old token still administers: {}",
        r.text
    );
}

#[actix_web::test]
async fn the_last_owner_is_never_demoted_or_removed() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let owner_path = format!("/v1/members/{}", owner.user_id);
    for (method, body) in [("PATCH", Some(json!({"role": "admin"}))), ("DELETE", None)] {
        let r = app
            .call(method, &owner_path, Some(&owner.token), body.as_ref())
            .await;
        r.assert_error_at(409, "last_owner", format_args!("{method}"));
    }
    // Renaming the last owner, or "changing" them to owner, is fine.
    let r = app
        .patch(
            &owner,
            &owner_path,
            &json!({"name": "Still Owner", "role": "owner"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // With a second owner, either may step down, but not both.
    let second = app.add_user(&owner, Role::Owner).await;
    let second_path = format!("/v1/members/{}", second.user_id);
    let r = app
        .patch(&owner, &owner_path, &json!({"role": "admin"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The first owner is an admin now and cannot touch the remaining owner.
    let r = app.delete(&owner, &second_path).await;
    assert_eq!(r.status, 403);
    let second_token = second.token.clone();
    let r = app.delete(&second_token, &second_path).await;
    r.assert_error(409, "last_owner");
    // The remaining owner removes the first one.
    let r = app.delete(&second_token, &owner_path).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = app.get(&second_token, "/v1/members?role=owner").await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn concurrent_demotions_never_leave_an_organization_without_an_owner() {
    let app = spawn_app().await;
    for _ in 0..5 {
        let first = app.signup("Acme").await;
        let second = app.add_user(&first, Role::Owner).await;
        let second_token = second.token.clone();
        // Each owner demotes the other at the same time.
        let (r1, r2) = futures_util::future::join(
            app.patch(
                &first,
                &format!("/v1/members/{}", second.user_id),
                &json!({"role": "member"}),
            ),
            app.patch(
                &second_token,
                &format!("/v1/members/{}", first.user_id),
                &json!({"role": "member"}),
            ),
        )
        .await;
        let statuses = [r1.status, r2.status];
        assert!(
            statuses.contains(&200),
            "{statuses:?}: {} {}",
            r1.text,
            r2.text
        );
        let su = app.db.superuser_client().await;
        let owners: i64 = su
            .query_one(
                "SELECT count(*) FROM palisade.users WHERE organization_id = $1::text::uuid AND role = 'owner'",
                &[&first.org_id],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(owners, 1, "{statuses:?}");
    }
}

#[actix_web::test]
async fn a_removed_users_tokens_stop_working_on_every_route() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let admin = app.add_user(&owner, Role::Admin).await;
    let r = app.get(&admin, "/v1/customers").await;
    assert_eq!(r.status, 200);
    let r = app
        .delete(&owner, &format!("/v1/members/{}", admin.user_id))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    for (method, path) in [
        ("GET", "/v1/me"),
        ("GET", "/v1/customers"),
        ("POST", "/v1/customers"),
        ("GET", "/v1/members"),
        ("GET", "/v1/integrations"),
        ("GET", "/v1/webhooks"),
        ("GET", "/v1/api-keys"),
        ("GET", "/v1/organization"),
        ("GET", "/v1/billing/invoices"),
        ("POST", "/v1/invitations"),
        ("POST", "/v1/me/password"),
        ("POST", "/v1/me/token"),
        ("POST", "/v1/me/revoke-tokens"),
        // Checked by its transaction, not looked up before it (`UserCaller`).
        ("PATCH", "/v1/me"),
    ] {
        // Valid bodies: only the token is wrong (a body error could otherwise answer first).
        let body = match path {
            "/v1/invitations" => json!({"email": "ghost@example.com", "role": "member"}),
            "/v1/me/password" => {
                json!({"current_password": admin.password, "new_password": "a ghost's passphrase"})
            }
            _ => json!({"name": "ghost"}),
        };
        let r = app
            .call(
                method,
                path,
                Some(&admin.token),
                Some(&body).filter(|_| method != "GET"),
            )
            .await;
        assert_eq!(r.status, 401, "{method} {path}: {}", r.text);
        assert_eq!(r.json["error"], "invalid_token", "{method} {path}");
    }
    // Gone from the list, and their login is free again.
    let r = app.get(&owner, "/v1/members").await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1);
    let r = app.invite(&owner, &admin.email, "member").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let token = app.invitation_token(&admin.email).await;
    let r = app
        .accept_invitation(&token, "Back", "a fresh passphrase")
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // The old token names the old user id, which is gone for good.
    let r = app.get(&admin, "/v1/me").await;
    assert_eq!(r.status, 401);
}

/// An API key or an Amazon Connect credential minted while its creator is being removed is
/// revoked by the removal. The mint holds its creator's row (`hold_verified_self`) until it
/// commits; here it is held open after its INSERT (the key's foreign key check waits for the
/// organization's row, which this test locks FOR UPDATE), and the removal, sent then, without
/// `If-Match`, waits at its DELETE of the row for the mint to commit. The removal revoked
/// before that DELETE, when the new key was not committed: it stayed `revoked_at: null`, listed
/// as working though its creator was gone. Now it revokes after the DELETE, which sees it.
#[actix_web::test]
async fn a_credential_minted_while_its_creator_is_removed_is_revoked() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    for (path, body) in [
        ("/v1/api-keys", json!({"name": "ci", "role": "member"})),
        (
            "/v1/call-center/aws-connect/credentials",
            json!({"label": "EventBridge"}),
        ),
    ] {
        let admin = app.add_user(&owner, Role::Admin).await;
        let su = app.db.superuser_client().await;
        su.batch_execute(&format!(
            "BEGIN; SELECT 1 FROM palisade.organizations WHERE id = '{}' FOR UPDATE",
            owner.org_id
        ))
        .await
        .unwrap();
        // Sent raw: `app.post` reads a 201's Location with the same token, which the removal
        // may have ended by then.
        let headers = [
            ("Authorization", format!("Bearer {}", admin.token)),
            ("Content-Type", "application/json".to_owned()),
        ];
        let body = body.to_string();
        let minted = request(&app.addr, "POST", path, &headers, Some(body.as_bytes()));
        let member = format!("/v1/members/{}", admin.user_id);
        let removed = async {
            app.db.until_one_session_waits_on_a_lock().await;
            let removal = app.delete(&owner, &member);
            let release = async {
                app.db.until_sessions_wait_on_a_lock(2).await;
                su.batch_execute("COMMIT").await.unwrap();
            };
            tokio::join!(removal, release).0
        };
        let (minted, removed) = tokio::join!(minted, removed);
        assert_eq!(minted.status, 201, "{path}: {}", minted.text);
        assert_eq!(removed.status, 204, "{path}: {}", removed.text);
        let r = app
            .get(
                &owner,
                &format!("{path}/{}", minted.json["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert!(
            r.json["revoked_at"].is_string(),
            "{path}: minted while its creator was removed, not revoked: {}",
            r.text
        );
    }
}
