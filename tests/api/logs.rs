//! What the server logs about a request, read through the harness's capture
//! (`palisade_test_support::logs`), formatted as `palisade serve` prints it: whom the request
//! acted for (once, on its closing line), a refusal of the database's at warn naming what it
//! refused, and never a secret the request carried.

use palisade_domain::Role;
use palisade_test_support::{
    Account, TestApp, TestResponse, logs, request, spawn_app_configured, spawn_app_with_owner,
};
use serde_json::json;
use uuid::Uuid;

/// The request's closing line (`request finished`), which carries its span's fields.
fn request_line(r: &TestResponse) -> String {
    let lines = logs::of(r);
    let closing: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("request finished"))
        .collect();
    assert_eq!(closing.len(), 1, "{lines:#?}");
    closing[0].clone()
}

/// Asserts that `line` names the organization `org` and the user `user`, each once.
fn names_once(line: &str, org: &str, user: &str) {
    assert_eq!(line.matches("org.id=").count(), 1, "{line}");
    assert_eq!(line.matches("user.id=").count(), 1, "{line}");
    assert!(line.contains(&format!("org.id={org}")), "{line}");
    assert!(line.contains(&format!("user.id={user}")), "{line}");
}

/// An API key's ids are on the request's line once, on a route whose handler runs in a span of
/// its own (the export, `#[tracing::instrument]`) and on one that does not.
#[actix_web::test]
async fn an_api_keys_ids_are_on_its_request_line_once() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let key = app.api_key(&owner, "exporter", Role::Admin).await;
    for path in ["/v1/organization/export", "/v1/customers"] {
        let r = app.get(&key, path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        let line = request_line(&r);
        assert!(line.contains(&format!("http.route={path}")), "{line}");
        names_once(&line, &owner.org_id, &owner.user_id);
    }
}

/// A bearer token whose user was removed is refused by the database (401), on the routes that
/// need a user's session and on the others; the request's line still says whose token it was,
/// once.
#[actix_web::test]
async fn a_removed_users_refused_token_still_logs_whose_it_was() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let admin = app.add_user(&owner, Role::Admin).await;
    app.remove_member(&owner, &admin).await;
    for (method, path, body) in [
        // `SessionToken`, `UserSession`, `UserCaller` (checked by its transaction), `Caller`.
        ("POST", "/v1/me/token", None),
        ("POST", "/v1/me/revoke-tokens", None),
        (
            "POST",
            "/v1/me/password",
            Some(
                json!({"current_password": admin.password, "new_password": "a ghost's passphrase"}),
            ),
        ),
        ("PATCH", "/v1/me", Some(json!({"name": "ghost"}))),
        ("GET", "/v1/customers", None),
    ] {
        let r = app
            .call(method, path, Some(&admin.token), body.as_ref())
            .await;
        assert_eq!(r.status, 401, "{method} {path}: {}", r.text);
        names_once(&request_line(&r), &admin.org_id, &admin.user_id);
    }
}

/// A statement the database refuses for want of a privilege (a DBA's mistake: here the app role
/// loses INSERT on customers, in this test's database) answers 403 and leaves one warn line,
/// which names the table and the SQLSTATE, beside the request's own line.
#[actix_web::test]
async fn a_privilege_the_database_refused_is_one_warn_line_naming_the_table() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    app.db
        .superuser_client()
        .await
        .batch_execute("REVOKE INSERT ON palisade.customers FROM palisade_app")
        .await
        .unwrap();
    let r = app
        .post(&owner, "/v1/customers", &json!({"name": "Ada"}))
        .await;
    r.assert_error(403, "forbidden");
    let lines = logs::of(&r);
    let warnings: Vec<&String> = lines.iter().filter(|l| l.contains(" WARN ")).collect();
    assert_eq!(warnings.len(), 1, "{lines:#?}");
    assert!(
        warnings[0].contains("table=\"customers\"") && warnings[0].contains("42501"),
        "{lines:#?}"
    );
    names_once(&request_line(&r), &owner.org_id, &owner.user_id);
}

/// The analytics batch whose customer is missing opens a second transaction (to name the
/// item): an API key's ids are recorded by the first only, so its line names them once.
#[actix_web::test]
async fn the_analytics_batchs_second_transaction_does_not_log_the_ids_again() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let key = app.api_key(&owner, "ingest", Role::Member).await;
    let body = json!([{"type": "ok"}, {"type": "ok", "customer_id": Uuid::now_v7()}]);
    let r = app.post(&key, "/v1/analytics/events/batch", &body).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(
        r.json["fields"][0]["field"], "[1].customer_id",
        "{}",
        r.text
    );
    names_once(&request_line(&r), &owner.org_id, &owner.user_id);
}

/// An error answer's closing line carries its `error` code, as the body does; a success's
/// carries none.
#[actix_web::test]
async fn an_error_answers_closing_line_carries_its_code() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let r = app
        .call("GET", "/v1/customers", Some("not.a.token"), None)
        .await;
    r.assert_error(401, "invalid_token");
    let line = request_line(&r);
    assert!(line.contains("error=\"invalid_token\""), "{line}");
    let r = app
        .post(&owner, "/v1/customers", &json!({"name": " "}))
        .await;
    r.assert_error(422, "validation_failed");
    let line = request_line(&r);
    assert!(line.contains("error=\"validation_failed\""), "{line}");
    // Answers made from an error outside a handler's return: a 405, a refused CORS preflight.
    let r = app
        .call("PUT", "/v1/customers", Some(&owner.token), None)
        .await;
    r.assert_error(405, "method_not_allowed");
    let line = request_line(&r);
    assert!(line.contains("error=\"method_not_allowed\""), "{line}");
    let r = app.get(&owner, "/v1/customers").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let line = request_line(&r);
    assert!(!line.contains("error="), "{line}");

    let app = spawn_app_configured(|c| {
        c.cors = palisade_api::cors::CorsOrigins::parse("https://app.example.com").unwrap();
    })
    .await;
    let r = request(
        &app.addr,
        "OPTIONS",
        "/v1/customers",
        &[
            ("Origin", "https://evil.example".to_owned()),
            ("Access-Control-Request-Method", "GET".to_owned()),
        ],
        None,
    )
    .await;
    r.assert_error(403, "origin_not_allowed");
    let line = request_line(&r);
    assert!(line.contains("error=\"origin_not_allowed\""), "{line}");
}

/// Asserts that no line of `r`'s request holds any of `secrets`, and that it left lines (a
/// request with none would pass vacuously).
fn holds_none(r: &TestResponse, secrets: &[&str], what: &str) {
    let lines = logs::of(r);
    assert!(!lines.is_empty(), "{what}: no line");
    for line in &lines {
        for secret in secrets {
            assert!(!line.contains(secret), "{what}: {line}");
        }
    }
}

/// No line of a request that carries a secret holds it: a login's password (right or wrong), a
/// password change's two, a session token, an API key (in either header), a webhook's signing
/// secret as it is created and rotated; signup's password and the verification token it mails,
/// that token confirmed (and a wrong one), an invitation's token as it is made, accepted and
/// refused once used, with the invitee's password; a reset's token as it is asked for and used,
/// with the new password (and a used token refused); an Amazon Connect credential in its 201 and
/// in `X-Palisade-Connect-Key` (accepted, unknown, revoked).
#[actix_web::test]
async fn no_line_of_a_request_holds_the_secret_it_carried() {
    let (app, owner): (TestApp, Account) = spawn_app_with_owner("Acme").await;
    let r = app.login(&owner.email, &owner.password).await;
    assert_eq!(r.status, 200, "{}", r.text);
    holds_none(&r, &[&owner.password], "login");
    let wrong = "not the password, but close";
    let r = app.login(&owner.email, wrong).await;
    assert_eq!(r.status, 401, "{}", r.text);
    holds_none(&r, &[wrong], "a wrong login");

    let new_password = "a new passphrase for the log test";
    let r = app
        .post(
            &owner,
            "/v1/me/password",
            &json!({"current_password": owner.password, "new_password": new_password}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    holds_none(
        &r,
        &[&owner.password, new_password, &owner.token],
        "password change",
    );
    let owner = Account {
        token: r.json["token"].as_str().unwrap().to_owned(),
        ..owner
    };

    let key = app.api_key(&owner, "server", Role::Admin).await;
    for header in palisade_test_support::KeyHeader::BOTH {
        let r = app.get(&key.in_header(header), "/v1/customers").await;
        assert_eq!(r.status, 200, "{}", r.text);
        holds_none(&r, &[&key.key], "an API key");
    }
    // A key refused (revoked) is not logged either.
    let r = app
        .delete(&owner, &format!("/v1/api-keys/{}", key.id))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = app.get(&key, "/v1/customers").await;
    assert_eq!(r.status, 401, "{}", r.text);
    holds_none(&r, &[&key.key], "a revoked API key");

    let r = app
        .post(
            &owner,
            "/v1/webhooks",
            &json!({"url": "https://hooks.example.com/in", "event_types": ["customer.created"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.json["signing_secret"].as_str().unwrap().to_owned();
    holds_none(&r, &[&secret, &owner.token], "a webhook's creation");
    let path = format!(
        "/v1/webhooks/{}/rotate-secret",
        r.json["id"].as_str().unwrap()
    );
    let r = app.call("POST", &path, Some(&owner.token), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rotated = r.json["signing_secret"].as_str().unwrap().to_owned();
    holds_none(&r, &[&secret, &rotated], "a webhook's rotation");

    // Signup's password, the session it hands out and the verification token it mails.
    let email = format!("logs-{}@example.com", Uuid::new_v4().simple());
    let password = "a signup passphrase for the log test";
    let r = app
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(&json!({"organization_name": "Logs", "name": "Ada", "email": email, "password": password})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let session = r.json["token"].as_str().unwrap().to_owned();
    let verification = app
        .last_mail_to(&email)
        .await
        .link_token("/verify-email")
        .expect("a verification link");
    holds_none(&r, &[password, &session, &verification], "signup");
    let wrong = "a-verification-token-that-is-not-the-one";
    for (token, status) in [(wrong, 400), (verification.as_str(), 204)] {
        let r = app
            .call(
                "POST",
                "/v1/me/confirm-email",
                Some(&session),
                Some(&json!({ "token": token })),
            )
            .await;
        assert_eq!(r.status, status, "{}", r.text);
        holds_none(&r, &[token, &session], "an email's confirmation");
    }

    // An invitation's token, as it is made, accepted and refused once used; the invitee's
    // password and the session they get.
    let invitee = format!("invitee-{}@example.com", Uuid::new_v4().simple());
    let r = app.invite(&owner, &invitee, "member").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let invitation = app.invitation_token(&invitee).await;
    holds_none(&r, &[&invitation], "an invitation");
    let invitee_password = "an invitee's passphrase for the log test";
    let r = app
        .accept_invitation(&invitation, "Invitee", invitee_password)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let invitee_session = r.json["token"].as_str().unwrap().to_owned();
    holds_none(
        &r,
        &[&invitation, invitee_password, &invitee_session],
        "accepting an invitation",
    );
    let r = app
        .accept_invitation(&invitation, "Invitee", invitee_password)
        .await;
    assert!((400..500).contains(&r.status), "{}", r.text);
    holds_none(
        &r,
        &[&invitation, invitee_password],
        "a used invitation refused",
    );

    // An Amazon Connect credential in its 201, then in X-Palisade-Connect-Key: accepted,
    // unknown, revoked.
    let arn = format!(
        "arn:aws:connect:us-west-2:123456789012:instance/{}",
        Uuid::new_v4()
    );
    app.create(
        &owner,
        "/v1/call-center/aws-connect/instances",
        json!({"instance_arn": arn, "region": "us-west-2", "label": "Main"}),
    )
    .await;
    let r = app
        .post(
            &owner,
            "/v1/call-center/aws-connect/credentials",
            &json!({"label": "EventBridge"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let credential = r.json["key"].as_str().unwrap().to_owned();
    holds_none(&r, &[&credential], "a Connect credential's creation");
    let credential_item = format!(
        "/v1/call-center/aws-connect/credentials/{}",
        r.json["id"].as_str().unwrap()
    );
    let event = crate::aws_connect::sample("INITIATED", "e-logs", "c-logs", &arn);
    let r = crate::aws_connect::post_event(&app, Some(&credential), &event).await;
    assert_eq!(r.status, 200, "{}", r.text);
    holds_none(&r, &[&credential], "a Connect event");
    let unknown = credential.replace(&credential[credential.len() - 6..], "zzzzzz");
    let r = crate::aws_connect::post_event(&app, Some(&unknown), &event).await;
    assert_eq!(r.status, 401, "{}", r.text);
    holds_none(
        &r,
        &[&unknown],
        "a Connect event with an unknown credential",
    );
    assert_eq!(app.delete(&owner, &credential_item).await.status, 204);
    let r = crate::aws_connect::post_event(&app, Some(&credential), &event).await;
    assert_eq!(r.status, 401, "{}", r.text);
    holds_none(
        &r,
        &[&credential],
        "a Connect event with a revoked credential",
    );

    // A reset's token as it is asked for and used, with the new password, and the used token
    // refused. (Last: a reset ends the owner's sessions.)
    let r = app.request_password_reset(&owner.email).await;
    assert!((200..300).contains(&r.status), "{}", r.text);
    let reset = app.reset_token(&owner.email, 1).await;
    holds_none(&r, &[&reset], "a reset's request");
    let reset_password = "a reset passphrase for the log test";
    for ok in [true, false] {
        let r = app.reset_password(&reset, reset_password).await;
        assert_eq!(r.status < 300, ok, "{}", r.text);
        holds_none(&r, &[&reset, reset_password], "a password reset");
    }
}

/// Ends the app's connections to its database (the pool opens new ones, with the database's
/// settings as they are now).
async fn end_app_connections(app: &TestApp) {
    app.db
        .superuser_client()
        .await
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND usename = 'palisade_app_a'",
            &[],
        )
        .await
        .unwrap();
}

/// `/readyz` finding a tenant context on an idle pooled connection (here every new connection
/// has one: the default of this test's own database, planted as a DBA's `ALTER DATABASE ...
/// SET` would: the leak `/readyz` exists to catch, never something the server does) answers
/// 500 and says so in one error line, beside the request's own.
#[actix_web::test]
async fn readyz_logs_a_leaked_context_once() {
    let app = palisade_test_support::spawn_app().await;
    app.db
        .superuser_client()
        .await
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" SET app.current_org = '00000000-0000-0000-0000-000000000001'",
            app.db.name
        ))
        .await
        .unwrap();
    end_app_connections(&app).await;
    // A connection the pool has not yet seen closed answers 503 once (57P01) and is discarded.
    let mut answers = Vec::new();
    for _ in 0..6 {
        let r = app.call("GET", "/readyz", None, None).await;
        if r.status == 500 {
            answers.push(r);
            break;
        }
        assert_eq!(r.status, 503, "{}", r.text);
    }
    let r = answers.pop().expect("no 500 from /readyz");
    let lines = logs::of(&r);
    let errors: Vec<&String> = lines.iter().filter(|l| l.contains(" ERROR ")).collect();
    assert_eq!(errors.len(), 1, "{lines:#?}");
    assert!(
        errors[0].contains("request failed")
            && errors[0].contains("an idle pooled connection still carries a tenant context"),
        "{lines:#?}"
    );
    assert_eq!(lines.len(), 2, "{lines:#?}");
}
