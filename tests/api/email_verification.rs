//! Verifying an email address (docs/accounts.md, "Verifying an email address"): signup mails
//! the owner a single-use link, which verifies with the account's own session; until then the
//! owner works but may not invite anyone or make an API key, an Amazon Connect credential or an
//! outbound webhook, in the API and in those tables' policies. A new link replaces the old; a
//! password reset (its link went to the same address) and an accepted invitation verify too.
//! Only the link's owner verifies: the app role can neither read a link's hash nor delete a
//! pending verification.

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

/// `POST /v1/me/confirm-email` with the link's `token`, signed in with `session`.
async fn verify(app: &TestApp, session: &str, token: &str) -> TestResponse {
    app.call(
        "POST",
        "/v1/me/confirm-email",
        Some(session),
        Some(&json!({ "token": token })),
    )
    .await
}

/// Commits `open`'s transaction once a session of this test's database waits on a lock (the
/// request held up by it; asserted, bounded).
async fn commit_once_a_request_waits(app: &TestApp, open: &tokio_postgres::Client) {
    app.db.until_one_session_waits_on_a_lock().await;
    open.batch_execute("COMMIT").await.unwrap();
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

    // The link verifies only with the account's own session: not without one, not with another
    // user's (who would be verifying nothing of theirs), and a made-up link is 400.
    let token = link(&app, &owner, 1).await;
    let r = app
        .call(
            "POST",
            "/v1/me/confirm-email",
            None,
            Some(&json!({ "token": token })),
        )
        .await;
    assert_eq!(r.status, 401, "without a session: {}", r.text);
    let stranger = app.signup_unverified("Other").await;
    verify(&app, &stranger.token, &token).await.assert_error_at(
        400,
        "invalid_link",
        "another user's session",
    );
    assert!(!verified(&app, &owner.token).await);
    verify(&app, &owner.token, "not-a-link")
        .await
        .assert_error_at(400, "invalid_link", "a made-up link");

    let r = verify(&app, &owner.token, &token).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(verified(&app, &owner.token).await);
    assert!(!verified(&app, &stranger.token).await);
    let r = app.invite(&owner, "friend@example.com", "member").await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Single use: sent again (a retry), it says there is nothing left to verify.
    verify(&app, &owner.token, &token).await.assert_error_at(
        409,
        "email_already_verified",
        "the link again",
    );
    // Verified: nothing to send.
    resend(&app, &owner.token).await.assert_error_at(
        409,
        "email_already_verified",
        "POST /v1/me/verify-email",
    );
}

/// An address taken by someone else: the squatter makes nothing that outlives the password reset
/// with which the mailbox's holder takes the account back. No API key, no outbound webhook, no
/// Amazon Connect credential (nothing written, and the reset ends every token); the verified
/// holder then makes each.
#[actix_web::test]
async fn an_unverified_owner_makes_no_key_webhook_or_credential_so_a_reset_leaves_no_way_in() {
    let app = spawn_app().await;
    let squatter = app.signup_unverified("Acme").await;
    let key = json!({ "name": "ci", "role": "admin" });
    let hook =
        json!({ "url": "https://hooks.example.com/in", "event_types": ["customer.created"] });
    let credential = json!({ "label": "EventBridge" });
    let creates = [
        ("/v1/api-keys", &key),
        ("/v1/webhooks", &hook),
        ("/v1/call-center/aws-connect/credentials", &credential),
    ];
    for (path, body) in creates {
        app.call("POST", path, Some(&squatter.token), Some(body))
            .await
            .assert_error_at(403, "email_not_verified", path);
        let listed = app.get_ok(&squatter, path).await;
        assert_eq!(listed["data"], json!([]), "{path}: {listed}");
    }

    // The mailbox's holder resets the password: the squatter's session ends, and the holder,
    // verified by the reset, makes what the squatter could not.
    app.request_password_reset(&squatter.email).await;
    let reset = app.reset_token(&squatter.email, 1).await;
    let r = app
        .reset_password(&reset, "the holder's own password")
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = app.get(&squatter.token, "/v1/me").await;
    assert_eq!(r.status, 401, "the squatter's session: {}", r.text);
    let r = app
        .login(&squatter.email, "the holder's own password")
        .await;
    let holder = r.json["token"].as_str().expect("token").to_owned();
    for (path, body) in creates {
        let r = app.call("POST", path, Some(&holder), Some(body)).await;
        assert_eq!(r.status, 201, "{path}: {}", r.text);
    }
}

/// The check holds the user's row (`palisade_private.hold_verified_self`) and reads the token's
/// credential version again under that lock: a password reset that commits after a request's
/// opening check (here: the check passes while the reset is open, and the hold waits for it)
/// refuses the request's token (401), and nothing is made. A check that read the verification
/// without the lock could have passed a token the reset had ended, had the reset committed
/// between the opening check and it: a squatter's session minting a key as a verified user.
/// (Without the lock the request never waits, and this test fails there; with the lock and
/// without the version's re-check, the key is minted: 201.)
#[actix_web::test]
async fn a_reset_committing_after_the_opening_check_refuses_the_write() {
    let app = spawn_app().await;
    let squatter = app.signup_unverified("Acme").await;
    app.request_password_reset(&squatter.email).await;
    let reset = app.reset_token(&squatter.email, 1).await;

    // The holder's reset, open: the user's row updated (a new credential version), the pending
    // verification deleted, not committed yet.
    let holder = app.db.app_client().await;
    holder.batch_execute("BEGIN").await.unwrap();
    let consumed = holder
        .query(
            "SELECT * FROM palisade_private.reset_password(sha256(convert_to($1, 'UTF8')), now(), 'x')",
            &[&reset],
        )
        .await
        .unwrap();
    assert_eq!(consumed.len(), 1, "the reset link was not consumed");

    // The squatter's request: its opening check reads the committed row (the old version) and
    // passes; the verification check waits for the reset's row lock. Then the reset commits.
    let key = json!({ "name": "ci", "role": "admin" });
    let create = app.call("POST", "/v1/api-keys", Some(&squatter.token), Some(&key));
    let (r, ()) = tokio::join!(create, commit_once_a_request_waits(&app, &holder));
    r.assert_error_at(
        401,
        "invalid_token",
        "a key minted with a token the reset ended",
    );

    let r = app.get(&squatter.token, "/v1/me").await;
    assert_eq!(
        r.status, 401,
        "the squatter's session after the reset: {}",
        r.text
    );
    let watcher = app.db.superuser_client().await;
    let keys: i64 = watcher
        .query_one(
            "SELECT count(*) FROM palisade.api_keys WHERE organization_id = $1::text::uuid",
            &[&squatter.org_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(keys, 0, "a key was minted");
}

/// The same hold reads the user's role again: an admin demoted after a request's opening check
/// (the demotion open while the check passes, the hold waiting for it) mints no key: 409
/// `role_changed`, as when the opening check finds the role lowered (the request was decided
/// for the role they had; sent again, it is answered for the one they have). A demotion that
/// leaves the role the request needed refuses nothing.
#[actix_web::test]
async fn a_demotion_committing_after_the_opening_check_refuses_the_write() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, palisade_domain::Role::Admin).await;

    let demoter = app.db.app_client().await;
    begin_as_user(&demoter, &owner.org_id, &owner.user_id, "owner").await;
    let demoted = demoter
        .execute(
            "UPDATE palisade.users SET role = 'member' WHERE id = $1::text::uuid",
            &[&admin.user_id],
        )
        .await
        .unwrap();
    assert_eq!(demoted, 1);

    let key = json!({ "name": "ci", "role": "admin" });
    let create = app.call("POST", "/v1/api-keys", Some(&admin.token), Some(&key));
    let (r, ()) = tokio::join!(create, commit_once_a_request_waits(&app, &demoter));
    r.assert_error_at(
        409,
        "role_changed",
        "a key minted by an admin demoted meanwhile",
    );
    let keys = app.get_ok(&owner, "/v1/api-keys").await;
    assert_eq!(keys["data"], json!([]), "{keys}");

    // The check is against the role the request needed, not the one the user had: an owner
    // made an admin meanwhile still invites a member (which an admin may do).
    let second = app.add_user(&owner, palisade_domain::Role::Owner).await;
    begin_as_user(&demoter, &owner.org_id, &owner.user_id, "owner").await;
    demoter
        .execute(
            "UPDATE palisade.users SET role = 'admin' WHERE id = $1::text::uuid",
            &[&second.user_id],
        )
        .await
        .unwrap();
    let invite = app.invite(&second, "friend@example.com", "member");
    let (r, ()) = tokio::join!(invite, commit_once_a_request_waits(&app, &demoter));
    assert_eq!(
        r.status, 201,
        "an owner made an admin meanwhile: {}",
        r.text
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
    verify(&app, &owner.token, &first).await.assert_error_at(
        400,
        "invalid_link",
        "the replaced link",
    );

    // Three days on, the second link is dead too; a third, asked for then, works.
    app.clock
        .advance(time::Duration::days(3) + time::Duration::seconds(1));
    let r = app.login(&owner.email, &owner.password).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let session = r.json["token"].as_str().unwrap().to_owned();
    verify(&app, &session, &second)
        .await
        .assert_error_at(400, "invalid_link", "an expired link");
    assert!(!verified(&app, &session).await);
    let r = resend(&app, &session).await;
    assert_eq!(r.status, 202, "{}", r.text);
    // Sent twice at once (a double click, a retry while the first is under way): one verifies,
    // the other says it is done, however they interleave.
    let third = link(&app, &owner, 3).await;
    let (a, b) = tokio::join!(
        verify(&app, &session, &third),
        verify(&app, &session, &third)
    );
    let mut answers = [
        (a.status, a.json["error"].as_str().map(str::to_owned)),
        (b.status, b.json["error"].as_str().map(str::to_owned)),
    ];
    answers.sort();
    assert_eq!(
        answers,
        [
            (204, None),
            (409, Some("email_already_verified".to_owned()))
        ],
        "{} / {}",
        a.text,
        b.text
    );
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
    verify(&app, &session, &unopened).await.assert_error_at(
        409,
        "email_already_verified",
        "the link after the reset",
    );

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
/// invite anyone, mint an API key or an Amazon Connect credential, or register a webhook (those
/// tables' INSERT policies, whatever the API checks first; an API key's transaction, acting as
/// admin for its creator, alike: the same rows pass once the owner is verified). No other user,
/// an admin of another organization included, can give someone a pending verification, or see
/// or move the owner's. (The server itself, which
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
    let mint = "INSERT INTO palisade.api_keys (id, name, role, prefix, key_hash, created_by)
                 VALUES (gen_random_uuid(), 'k', 'admin', 'pk_abcdefgh', sha256('k'), $1::text::uuid)";
    let hook = "INSERT INTO palisade.outbound_webhooks (id, url, event_types, signing_secret)
                 VALUES (gen_random_uuid(), 'https://hooks.example.com/', '{customer.created}',
                         'whsec_' || repeat('A', 43) || '=')";
    let credential = "INSERT INTO palisade.aws_connect_credentials
                              (id, label, prefix, key_hash, created_by)
                       VALUES (gen_random_uuid(), 'c', 'pcc_abcdefgh', sha256('c'),
                               $1::text::uuid)";
    let writes: [(&str, &[&(dyn tokio_postgres::types::ToSql + Sync)], &str); 4] = [
        (invite, &[&owner.user_id], "invited someone"),
        (mint, &[&owner.user_id], "minted an API key"),
        (hook, &[], "registered a webhook"),
        (
            credential,
            &[&owner.user_id],
            "minted an Amazon Connect credential",
        ),
    ];
    for (sql, params, what) in writes {
        for role in ["owner", "admin"] {
            begin_as_user(&c, &owner.org_id, &owner.user_id, role).await;
            let r = c.execute(sql, params).await;
            c.batch_execute("ROLLBACK").await.unwrap();
            let err = r.expect_err(what);
            assert_eq!(
                err.code(),
                Some(&SqlState::INSUFFICIENT_PRIVILEGE),
                "unverified, as {role}, {what}: {err}"
            );
        }
    }

    // A context with a role and no user (which the app never sets) registers no webhook, and
    // the verification check finds no user to hold.
    for (sql, expected, what) in [
        (hook, "42501", "a webhook with no user"),
        (
            "SELECT palisade_private.hold_verified_self(NULL, NULL)",
            "PA401",
            "a verification check with no user",
        ),
    ] {
        c.batch_execute("BEGIN").await.unwrap();
        c.execute(
            "SELECT set_config('app.current_org', $1, true), \
                    set_config('app.current_role', 'owner', true)",
            &[&owner.org_id],
        )
        .await
        .unwrap();
        let r = c.execute(sql, &[]).await;
        c.batch_execute("ROLLBACK").await.unwrap();
        let err = r.expect_err(what);
        assert_eq!(
            err.code().map(SqlState::code),
            Some(expected),
            "{what}: {err:?}"
        );
    }

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

    // Verified by the link, the owner's identical rows pass the policies.
    let r = verify(&app, &owner.token, &link(&app, &owner, 1).await).await;
    assert_eq!(r.status, 204, "{}", r.text);
    for (sql, params, what) in writes {
        for role in ["owner", "admin"] {
            begin_as_user(&c, &owner.org_id, &owner.user_id, role).await;
            let inserted = c.execute(sql, params).await;
            c.batch_execute("ROLLBACK").await.unwrap();
            assert_eq!(
                inserted.unwrap_or_else(|e| panic!("verified, as {role}, {what}: {e:?}")),
                1
            );
        }
    }
}
