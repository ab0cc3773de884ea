//! Verifying an email address (docs/accounts.md, "Verifying an email address"): signup mails
//! the owner a single-use link; until it is opened the owner works but may not invite anyone,
//! in the API and in the invitations' policy. A new link replaces the old; a password reset (its
//! link went to the same address) and an accepted invitation verify too. Only the link's owner
//! verifies: the app role can neither read a link's hash nor delete a pending verification.

use palisade_test_support::sql::begin_as_user;
use palisade_test_support::{Account, TestApp, TestResponse, spawn_app};
use serde_json::json;
use tokio_postgres::error::SqlState;

async fn verified(app: &TestApp, token: &str) -> bool {
    let r = app.get(token, "/v1/me").await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["user"]["email_verified"]
        .as_bool()
        .expect("email_verified")
}

/// The token of the `nth` verification link mailed to `who`.
async fn link(app: &TestApp, who: &Account, nth: usize) -> String {
    app.nth_mail_with_link(&who.email, "/verify-email", nth)
        .await
        .link_token("/verify-email")
        .expect("a verification link")
}

async fn verify(app: &TestApp, token: &str) -> TestResponse {
    app.call(
        "POST",
        "/v1/auth/verify-email",
        None,
        Some(&json!({ "token": token })),
    )
    .await
}

async fn resend(app: &TestApp, who: &str) -> TestResponse {
    app.call("POST", "/v1/me/verify-email", Some(who), None)
        .await
}

#[actix_web::test]
async fn signup_mails_a_link_and_the_owner_invites_only_once_it_is_opened() {
    let app = spawn_app().await;
    let owner = app.signup_unverified("Acme").await;
    assert!(!verified(&app, &owner.token).await);
    let mail = app
        .nth_mail_with_link(&owner.email, "/verify-email", 1)
        .await;
    assert!(
        mail.text()
            .contains("https://palisade.test/verify-email#token="),
        "{}",
        mail.text()
    );

    // Unverified: no invitation, nothing written, no mail to the invitee.
    let r = app.invite(&owner, "friend@example.com", "member").await;
    r.assert_error_at(403, "email_not_verified", "POST /v1/invitations");
    let listed = app.get_ok(&owner, "/v1/invitations").await;
    assert_eq!(listed["data"], json!([]), "{listed}");
    assert!(app.smtp.messages_to("friend@example.com").is_empty());

    let token = link(&app, &owner, 1).await;
    let r = verify(&app, &token).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(verified(&app, &owner.token).await);
    let r = app.invite(&owner, "friend@example.com", "member").await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Single use; a made-up link is the same 400.
    verify(&app, &token)
        .await
        .assert_error_at(400, "invalid_link", "the link again");
    verify(&app, "not-a-link")
        .await
        .assert_error_at(400, "invalid_link", "a made-up link");
    // Verified: nothing to send.
    resend(&app, &owner.token).await.assert_error_at(
        409,
        "email_already_verified",
        "POST /v1/me/verify-email",
    );
}

#[actix_web::test]
async fn a_new_link_replaces_the_last_and_a_link_expires() {
    let app = spawn_app().await;
    let owner = app.signup_unverified("Acme").await;
    let first = link(&app, &owner, 1).await;
    let r = resend(&app, &owner.token).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let second = link(&app, &owner, 2).await;
    assert_ne!(first, second);
    verify(&app, &first)
        .await
        .assert_error_at(400, "invalid_link", "the replaced link");

    // Three days on, the second link is dead too; a third, asked for then, works.
    app.clock
        .advance(time::Duration::days(3) + time::Duration::seconds(1));
    verify(&app, &second)
        .await
        .assert_error_at(400, "invalid_link", "an expired link");
    let r = app.login(&owner.email, &owner.password).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let session = r.json["token"].as_str().unwrap().to_owned();
    assert!(!verified(&app, &session).await);
    let r = resend(&app, &session).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = verify(&app, &link(&app, &owner, 3).await).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(verified(&app, &session).await);
}

#[actix_web::test]
async fn a_password_reset_or_an_invitation_verifies_the_address_it_went_to() {
    let app = spawn_app().await;
    let owner = app.signup_unverified("Acme").await;
    let unopened = link(&app, &owner, 1).await;
    app.request_password_reset(&owner.email).await;
    let reset = app.reset_token(&owner.email, 1).await;
    let r = app
        .reset_password(&reset, "a brand new long password")
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = app.login(&owner.email, "a brand new long password").await;
    let session = r.json["token"].as_str().unwrap().to_owned();
    assert!(verified(&app, &session).await);
    verify(&app, &unopened)
        .await
        .assert_error_at(400, "invalid_link", "the link after the reset");

    // Joining through an invitation: the link went to the member's address.
    let owner = Account {
        token: session,
        ..owner
    };
    let member = app.add_user(&owner, palisade_domain::Role::Member).await;
    assert!(verified(&app, &member.token).await);
    resend(&app, &member.token)
        .await
        .assert_error_at(409, "email_already_verified", "a member's");
}

/// No other user can verify an address, and the app role, acting for the unverified owner,
/// cannot read the link's hash, delete the pending verification, move it to another user, or
/// invite anyone (the invitations' policy, whatever the API checks first: the same row passes
/// once the owner is verified). No other user, an admin of another organization included, can
/// give someone a pending verification, or see or move the owner's. (The server itself, which
/// mints the links, could replace the owner's link with one it knows: it is trusted with every
/// credential, docs/accounts.md.)
#[actix_web::test]
async fn no_other_user_can_verify_and_the_app_role_cannot_read_delete_or_move_a_verification() {
    let app = spawn_app().await;
    let owner = app.signup_unverified("Acme").await;
    let other = app.signup("Other").await;
    let admin = app.add_user(&other, palisade_domain::Role::Admin).await;
    let member = app.add_user(&other, palisade_domain::Role::Member).await;
    let c = app.db.app_client().await;
    let refused = |what: &'static str| {
        move |r: Result<u64, tokio_postgres::Error>| {
            let err = r.expect_err(what);
            assert_eq!(
                err.code(),
                Some(&SqlState::INSUFFICIENT_PRIVILEGE),
                "{what}: {err}"
            );
        }
    };

    begin_as_user(&c, &owner.org_id, &owner.user_id, "owner").await;
    let err = c
        .query("SELECT token_hash FROM palisade.email_verifications", &[])
        .await
        .expect_err("the hash is readable");
    assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    c.batch_execute("ROLLBACK").await.unwrap();
    for (sql, what) in [
        (
            "DELETE FROM palisade.email_verifications",
            "a pending verification was deleted",
        ),
        (
            "UPDATE palisade.email_verifications SET user_id = gen_random_uuid()",
            "a pending verification moved to another user",
        ),
    ] {
        begin_as_user(&c, &owner.org_id, &owner.user_id, "owner").await;
        refused(what)(c.execute(sql, &[]).await);
        c.batch_execute("ROLLBACK").await.unwrap();
    }
    let invite = "INSERT INTO palisade.invitations
                          (id, email, role, invited_by, token_hash, created_at, expires_at)
                   VALUES (gen_random_uuid(), 'friend@example.com', 'member', $1::text::uuid,
                           sha256('x'), now(), now() + interval '1 day')";
    begin_as_user(&c, &owner.org_id, &owner.user_id, "owner").await;
    refused("an unverified owner invited someone")(c.execute(invite, &[&owner.user_id]).await);
    c.batch_execute("ROLLBACK").await.unwrap();

    // Another organization's admin can give its own member no pending verification, and sees
    // and moves none of the owner's.
    begin_as_user(&c, &other.org_id, &admin.user_id, "admin").await;
    refused("an admin blocked a member")(
        c.execute(
            "INSERT INTO palisade.email_verifications
                    (id, user_id, token_hash, created_at, expires_at)
             VALUES (gen_random_uuid(), $1::text::uuid, sha256('y'), now(),
                     now() + interval '1 day')",
            &[&member.user_id],
        )
        .await,
    );
    c.batch_execute("ROLLBACK").await.unwrap();
    begin_as_user(&c, &other.org_id, &admin.user_id, "admin").await;
    let seen: i64 = c
        .query_one("SELECT count(*) FROM palisade.email_verifications", &[])
        .await
        .unwrap()
        .get(0);
    let moved = c
        .execute(
            "UPDATE palisade.email_verifications SET expires_at = now() + interval '1 year'",
            &[],
        )
        .await
        .unwrap();
    c.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!((seen, moved), (0, 0));
    assert!(!verified(&app, &owner.token).await);

    // Verified by the link, the owner's identical row passes the policy.
    let r = verify(&app, &link(&app, &owner, 1).await).await;
    assert_eq!(r.status, 204, "{}", r.text);
    begin_as_user(&c, &owner.org_id, &owner.user_id, "owner").await;
    let inserted = c.execute(invite, &[&owner.user_id]).await;
    c.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(inserted.expect("a verified owner invites"), 1);
}
