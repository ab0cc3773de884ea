//! Guessing is throttled: login, signup, password resets and invitation links are limited per client address and per account,
//! answering 429 `rate_limited` with `Retry-After` before any lookup or argon2 hash. Time moves
//! on the app's injected clock, never by sleeping. The client address is the TCP peer unless
//! trusted proxies are configured; then the right-most untrusted `X-Forwarded-For` hop.

use palisade_api::client_addr::{ForwardedHeader, TrustedProxies};
use palisade_api::throttle::{ActionLimits, Limit};
use palisade_test_support::{TestApp, TestResponse, request, spawn_app_configured};
use serde_json::json;

fn limits(per_address: &str, per_account: &str) -> ActionLimits {
    ActionLimits {
        per_address: Limit::parse(per_address).unwrap(),
        per_account: Limit::parse(per_account).unwrap(),
    }
}

/// `POST /v1/auth/login`, optionally with an `X-Forwarded-For` header.
async fn login(app: &TestApp, email: &str, password: &str, xff: Option<&str>) -> TestResponse {
    let body = json!({"email": email, "password": password}).to_string();
    let mut headers = vec![("Content-Type", "application/json".to_owned())];
    if let Some(x) = xff {
        headers.push(("X-Forwarded-For", x.to_owned()));
    }
    request(
        &app.addr,
        "POST",
        "/v1/auth/login",
        &headers,
        Some(body.as_bytes()),
    )
    .await
}

/// Asserts a 429 with the JSON error body and returns its `Retry-After` in seconds.
fn throttled(r: &TestResponse, what: &str) -> i64 {
    assert_eq!(r.status, 429, "{what}: {}", r.text);
    assert_eq!(r.json["error"], "rate_limited", "{what}");
    assert!(
        r.json["message"].as_str().unwrap().contains("retry"),
        "{what}"
    );
    let retry: i64 = r
        .header("retry-after")
        .unwrap_or_else(|| panic!("{what}: no Retry-After"))
        .parse()
        .unwrap();
    assert!(retry >= 1, "{what}: Retry-After {retry}");
    retry
}

const WRONG: &str = "not the right password";

#[actix_web::test]
async fn an_account_is_throttled_even_for_the_right_password_until_the_clock_moves() {
    let app = spawn_app_configured(|c| c.rate_limits.login = limits("1000/min", "3/min")).await;
    let victim = app.signup("Victim").await;
    let bystander = app.signup("Bystander").await;

    for i in 0..3 {
        let r = login(&app, &victim.email, WRONG, None).await;
        assert_eq!(r.status, 401, "attempt {i}: {}", r.text);
    }
    // The fourth attempt within the minute: 429, and Retry-After is one interval (60 s / 3).
    let r = login(&app, &victim.email, WRONG, None).await;
    assert_eq!(throttled(&r, "4th wrong password"), 20);
    // While throttled, the right password is refused too: the check comes before argon2, so a
    // throttled guess learns nothing (and costs no hash). Case and blanks do not dodge it.
    let r = login(&app, &victim.email, &victim.password, None).await;
    let retry = throttled(&r, "right password while throttled");
    let shouted = format!("  {}", victim.email.to_uppercase());
    throttled(
        &login(&app, &shouted, &victim.password, None).await,
        "the same email in capitals",
    );
    // Another account from the same address is not affected.
    let r = login(&app, &bystander.email, &bystander.password, None).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Just before Retry-After: still throttled; at it: the right password works again.
    app.clock.advance(time::Duration::seconds(retry - 1));
    throttled(
        &login(&app, &victim.email, &victim.password, None).await,
        "one second early",
    );
    app.clock.advance(time::Duration::seconds(1));
    let r = login(&app, &victim.email, &victim.password, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["token"].is_string());
}

#[actix_web::test]
async fn an_address_is_throttled_across_accounts() {
    let app = spawn_app_configured(|c| c.rate_limits.login = limits("3/min", "1000/min")).await;
    let a = app.signup("Acme").await;
    // A spray of different emails from one address...
    for i in 0..3 {
        let r = login(&app, &format!("guess-{i}@example.com"), WRONG, None).await;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    // ...throttles that address, whoever it logs in as.
    let retry = throttled(
        &login(&app, &a.email, &a.password, None).await,
        "a real account from the spraying address",
    );
    assert!(
        retry <= 20,
        "Retry-After {retry} s is more than one interval"
    );
    app.clock.advance(time::Duration::seconds(retry));
    let r = login(&app, &a.email, &a.password, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[actix_web::test]
async fn x_forwarded_for_is_ignored_without_trusted_proxies() {
    let app = spawn_app_configured(|c| c.rate_limits.login = limits("2/min", "1000/min")).await;
    // Every request claims another address; all come from 127.0.0.1, which is what counts.
    for (i, xff) in ["198.51.100.1", "198.51.100.2"].iter().enumerate() {
        let r = login(&app, &format!("g{i}@example.com"), WRONG, Some(xff)).await;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    throttled(
        &login(&app, "g3@example.com", WRONG, Some("198.51.100.3")).await,
        "a third claimed address",
    );
}

#[actix_web::test]
async fn behind_trusted_proxies_the_forwarded_client_is_throttled_and_accounts_across_addresses() {
    let app = spawn_app_configured(|c| {
        c.rate_limits.login = limits("2/min", "3/min");
        c.trusted_proxies =
            TrustedProxies::parse("127.0.0.1, 10.0.0.0/8", ForwardedHeader::XForwardedFor).unwrap();
    })
    .await;
    let x = app.signup("X").await;
    let y = app.signup("Y").await;
    let one = Some("198.51.100.1");

    // Two attempts at X from 198.51.100.1 (through a second trusted proxy hop)...
    for xff in ["198.51.100.1", "198.51.100.1, 10.1.2.3"] {
        let r = login(&app, &x.email, WRONG, Some(xff)).await;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    // ...throttle that client, also when it prepends a made-up hop (only the right-most
    // untrusted hop is believed); another client behind the same proxy is not throttled.
    throttled(&login(&app, &y.email, WRONG, one).await, "client 1 again");
    throttled(
        &login(&app, &y.email, WRONG, Some("203.0.113.9, 198.51.100.1")).await,
        "client 1 with a spoofed first hop",
    );
    let r = login(&app, &x.email, WRONG, Some("198.51.100.2")).await;
    assert_eq!(r.status, 401, "client 2: {}", r.text);
    // X has now had 3 attempts from two addresses: the account limit holds across addresses,
    // even for the right password from a fresh one.
    throttled(
        &login(&app, &x.email, &x.password, Some("198.51.100.3")).await,
        "X from a third address",
    );
    let r = login(&app, &y.email, &y.password, Some("198.51.100.3")).await;
    assert_eq!(r.status, 200, "Y from the third address: {}", r.text);
}

#[actix_web::test]
async fn signup_is_throttled_per_address_and_per_email() {
    let app = spawn_app_configured(|c| c.rate_limits.signup = limits("3/h", "1/h")).await;
    let signup = |email: String| {
        let body = json!({"organization_name": "Org", "name": "Owner", "email": email,
                          "password": "correct horse battery staple"});
        let app = &app;
        async move { app.call("POST", "/v1/auth/signup", None, Some(&body)).await }
    };
    let r = signup("first@example.com".into()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // The same email again: throttled per email (before the lookup that would say 409); the
    // attempt still counts against the address.
    let retry = throttled(&signup("FIRST@example.com".into()).await, "same email");
    assert_eq!(retry, 3600);
    let r = signup("second@example.com".into()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Three attempts from this address within the hour: the next waits one interval (20 min).
    let retry = throttled(
        &signup("third@example.com".into()).await,
        "4th from the address",
    );
    assert_eq!(retry, 1200);
    app.clock.advance(time::Duration::seconds(retry));
    let r = signup("third@example.com".into()).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[actix_web::test]
async fn password_resets_and_invitation_links_are_throttled_per_email_and_per_link() {
    let app = spawn_app_configured(|c| {
        c.rate_limits.password_reset = limits("1000/min", "2/min");
        c.rate_limits.invitation = limits("1000/min", "2/min");
    })
    .await;
    let owner = app.signup("Acme").await;

    // Reset requests for one email: two pass, the third is 429 (the unknown email likewise, so
    // the limit says nothing about whether an account exists).
    for email in [owner.email.as_str(), "nobody@example.com"] {
        for i in 0..2 {
            let r = app.request_password_reset(email).await;
            assert_eq!(r.status, 202, "{email} request {i}: {}", r.text);
        }
        throttled(
            &app.request_password_reset(email).await,
            "third reset request",
        );
    }
    // Guessing a reset link: the same budget, per link guessed.
    let guess = "a-guessed-reset-link-token-that-is-long-enough";
    for i in 0..2 {
        let r = app.reset_password(guess, "a brand new long password").await;
        assert_eq!(r.status, 400, "guess {i}: {}", r.text);
    }
    throttled(
        &app.reset_password(guess, "a brand new long password").await,
        "third try of one reset link",
    );

    // An invitation link: two attempts, then 429 whatever the answer would be; the clock frees
    // it. (An invitation to an email that already has an account stays pending: 409 each time.)
    let taken = app.signup("Globex").await;
    let r = app.invite(&owner, &taken.email, "member").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let token = app.invitation_token(&taken.email).await;
    for i in 0..2 {
        let r = app
            .accept_invitation(&token, "Taken", "a long enough password")
            .await;
        assert_eq!(r.status, 409, "attempt {i}: {}", r.text);
    }
    let r = app
        .accept_invitation(&token, "Taken", "a long enough password")
        .await;
    let retry = throttled(&r, "third use of one invitation link");
    app.clock.advance(time::Duration::seconds(retry));
    let r = app
        .accept_invitation(&token, "Taken", "a long enough password")
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
}
