//! `/v1/social`: accounts (write-only tokens, handles unique per organization and network),
//! posts (status rules, counters), and engagement totals per network and account.

use palisade_test_support::ids;
use palisade_test_support::{Account, TestApp, spawn_app_with_owner};
use serde_json::{Value, json};
use uuid::Uuid;

/// A social account of `network` with `handle` connected by `who`.
pub(crate) async fn social_account(
    app: &TestApp,
    who: &Account,
    network: &str,
    handle: &str,
) -> Value {
    let body = json!({"network": network, "handle": handle});
    app.create(who, "/v1/social/accounts", body).await
}

#[actix_web::test]
async fn accounts_keep_their_tokens_write_only() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let acct = app
        .create(
            &a,
            "/v1/social/accounts",
            json!({"network": "twitter", "handle": "@AcmeHQ", "access_token": "tok-s3cr3t"}),
        )
        .await;
    assert_eq!(
        (&acct["handle"], &acct["has_access_token"]),
        (&json!("acmehq"), &json!(true))
    );
    let path = format!("/v1/social/accounts/{}", acct["id"].as_str().unwrap());
    for p in [
        path.as_str(),
        "/v1/social/accounts",
        "/v1/social/accounts?network=twitter",
    ] {
        let r = app.get(&a, p).await;
        assert_eq!(r.status, 200);
        assert!(!r.text.contains("tok-s3cr3t"), "{p} returned the token");
    }
    let taken = json!({"network": "twitter", "handle": "acmehq"});
    let r = app.post(&a, "/v1/social/accounts", &taken).await;
    r.assert_taken("handle_taken", "handle");
    social_account(&app, &a, "linkedin", "acmehq").await;
    let b = app.signup("Other").await;
    social_account(&app, &b, "twitter", "acmehq").await;

    let r = app.patch(&a, &path, &json!({"access_token": null})).await;
    assert_eq!(r.json["has_access_token"], false);
    let r = app
        .patch(&a, &path, &json!({"access_token": "new-token"}))
        .await;
    assert_eq!(
        (&r.json["has_access_token"], r.text.contains("new-token")),
        (&json!(true), false)
    );
    let r = app.get(&a, "/v1/social/accounts?network=linkedin").await;
    assert_eq!(ids(&r.json).len(), 1);
    for bad in [
        json!({"network": "myspace", "handle": "x"}),
        json!({"network": "twitter", "handle": "two words"}),
        // ASCII only, as the document's pattern says (Schemathesis found `ß` accepted).
        json!({"network": "twitter", "handle": "stra\u{df}e"}),
        json!({"network": "twitter", "handle": "x", "access_token": ""}),
    ] {
        let r = app.post(&a, "/v1/social/accounts", &bad).await;
        assert_eq!(r.status, 422, "{bad}");
    }
}

#[actix_web::test]
async fn posts_follow_their_status_rules_and_add_up_in_the_analytics() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let tw = social_account(&app, &a, "twitter", "acme").await;
    let li = social_account(&app, &a, "linkedin", "acme-inc").await;
    let tw_id = tw["id"].as_str().unwrap();
    let li_id = li["id"].as_str().unwrap();

    let draft = app
        .create(
            &a,
            "/v1/social/posts",
            json!({"account_id": tw_id, "body": "Coming soon"}),
        )
        .await;
    assert_eq!(
        (&draft["status"], &draft["likes"]),
        (&json!("draft"), &json!(0))
    );
    let r = app
        .post(
            &a,
            "/v1/social/posts",
            &json!({"account_id": tw_id, "body": "x", "status": "scheduled"}),
        )
        .await;
    assert_eq!(
        r.json["fields"],
        json!([{"field": "scheduled_at", "code": "required", "reason": "is required when status is scheduled"}])
    );
    let r = app
        .post(
            &a,
            "/v1/social/posts",
            &json!({"account_id": tw_id, "body": "x", "likes": -1}),
        )
        .await;
    assert_eq!(r.status, 422);

    let path = format!("/v1/social/posts/{}", draft["id"].as_str().unwrap());
    let r = app
        .patch(
            &a,
            &path,
            &json!({"status": "scheduled", "scheduled_at": "2024-05-03T09:00:00Z"}),
        )
        .await;
    assert_eq!(
        (r.status, &r.json["status"]),
        (200, &json!("scheduled")),
        "{}",
        r.text
    );
    let r = app.patch(&a, &path, &json!({"scheduled_at": null})).await;
    assert_eq!(r.status, 422, "a scheduled post lost its time");
    let r = app.patch(&a, &path, &json!({"status": "published", "published_at": "2024-05-03T09:00:01Z", "likes": 10, "shares": 2, "comments": 1, "impressions": 300})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["published_at"], "2024-05-03T09:00:01.000000Z");
    app.create(&a, "/v1/social/posts", json!({"account_id": tw_id, "body": "Two", "status": "published", "published_at": "2024-05-04T12:00:00Z", "likes": 5, "impressions": 100})).await;
    app.create(&a, "/v1/social/posts", json!({"account_id": li_id, "body": "Hiring", "status": "published", "published_at": "2024-05-04T12:00:00Z", "comments": 4, "impressions": 40})).await;
    // Outside the range, and not published: not counted.
    app.create(&a, "/v1/social/posts", json!({"account_id": li_id, "body": "Old", "status": "published", "published_at": "2024-04-01T00:00:00Z", "likes": 99})).await;
    app.create(
        &a,
        "/v1/social/posts",
        json!({"account_id": li_id, "body": "Failed", "status": "failed"}),
    )
    .await;

    let r = app
        .get(&a, "/v1/social/analytics?from=2024-05-01&to=2024-05-31")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json,
        json!({
            "from": "2024-05-01", "to": "2024-05-31", "tz": "UTC",
            "networks": [
                {"network": "linkedin", "posts": 1, "likes": 0, "shares": 0, "comments": 4, "impressions": 40},
                {"network": "twitter", "posts": 2, "likes": 15, "shares": 2, "comments": 1, "impressions": 400}
            ],
            "accounts": [
                {"account_id": li_id, "network": "linkedin", "handle": "acme-inc", "posts": 1, "likes": 0, "shares": 0, "comments": 4, "impressions": 40},
                {"account_id": tw_id, "network": "twitter", "handle": "acme", "posts": 2, "likes": 15, "shares": 2, "comments": 1, "impressions": 400}
            ]
        })
    );
    let r = app
        .get(
            &a,
            &format!("/v1/social/analytics?from=2024-05-01&to=2024-05-31&account_id={li_id}"),
        )
        .await;
    assert_eq!(
        r.json["networks"],
        json!([{"network": "linkedin", "posts": 1, "likes": 0, "shares": 0, "comments": 4, "impressions": 40}])
    );

    let r = app
        .get(
            &a,
            &format!("/v1/social/posts?account_id={li_id}&status=published"),
        )
        .await;
    assert_eq!(ids(&r.json).len(), 2);
    // Disconnecting an account deletes its posts.
    assert_eq!(
        app.delete(&a, &format!("/v1/social/accounts/{li_id}"))
            .await
            .status,
        204
    );
    let r = app
        .get(&a, &format!("/v1/social/posts?account_id={li_id}"))
        .await;
    assert_eq!(r.json["data"], json!([]));
    assert_eq!(app.delete(&a, &path).await.status, 204);
    assert_eq!(app.get(&a, &path).await.status, 404);
}

#[actix_web::test]
async fn a_post_on_another_organizations_account_answers_like_a_missing_account() {
    let (app, a) = spawn_app_with_owner("A").await;
    let b = app.signup("B").await;
    let b_acct = social_account(&app, &b, "facebook", "bee").await;
    let mut answers = Vec::new();
    for acct in [
        b_acct["id"].as_str().unwrap().to_owned(),
        Uuid::now_v7().to_string(),
    ] {
        let r = app
            .post(
                &a,
                "/v1/social/posts",
                &json!({"account_id": acct, "body": "hi"}),
            )
            .await;
        answers.push(r);
    }
    palisade_test_support::assert_foreign_like_missing(&answers[0], &answers[1], "account_id");
    let r = app.get(&b, "/v1/social/posts").await;
    assert_eq!(r.json["data"], json!([]));
    // B's totals never include A's, and A's analytics never show B's account.
    let r = app.get(&a, "/v1/social/analytics").await;
    assert_eq!(
        (&r.json["networks"], &r.json["accounts"]),
        (&json!([]), &json!([]))
    );
}

/// Engagement counters go up to i64::MAX each, so their totals saturate there instead of
/// overflowing (once a 500, or a panic when adding accounts up); and the last days of 9999
/// are a range like any other (once a panic that dropped the connection).
#[actix_web::test]
async fn analytics_totals_saturate_and_reach_the_last_day() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let max = i64::MAX;
    for handle in ["one", "two"] {
        let account = app
            .create(
                &a,
                "/v1/social/accounts",
                json!({"network": "twitter", "handle": handle}),
            )
            .await;
        for _ in 0..2 {
            app.create(
                &a,
                "/v1/social/posts",
                json!({"account_id": account["id"], "body": "Big", "status": "published",
                       "published_at": "9999-12-31T12:00:00Z", "likes": max, "shares": 1}),
            )
            .await;
        }
    }
    let r = app
        .get(&a, "/v1/social/analytics?from=9999-12-01&to=9999-12-31")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (
            &r.json["networks"][0]["likes"],
            &r.json["networks"][0]["shares"]
        ),
        (&json!(max), &json!(4))
    );
    let accounts = r.json["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2);
    assert!(
        accounts
            .iter()
            .all(|acct| acct["likes"] == json!(max) && acct["posts"] == json!(2))
    );
}

/// JSON Schema's `integer` includes `7.0`; the counters took only `7` (Schemathesis found
/// `"likes": 7593.0` refused as the wrong type). A fraction is still refused.
#[actix_web::test]
async fn counters_take_integers_written_with_a_zero_fraction() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let acct = social_account(&app, &a, "twitter", "acme").await;
    let post = app
        .create(
            &a,
            "/v1/social/posts",
            json!({"account_id": acct["id"], "body": "Hello", "likes": 7.0, "shares": 2e1}),
        )
        .await;
    assert_eq!((&post["likes"], &post["shares"]), (&json!(7), &json!(20)));
    let path = format!("/v1/social/posts/{}", post["id"].as_str().unwrap());
    let r = app.patch(&a, &path, &json!({"comments": 3.0})).await;
    assert_eq!((r.status, &r.json["comments"]), (200, &json!(3)));
    let r = app.patch(&a, &path, &json!({"comments": 3.5})).await;
    r.assert_error(422, "validation_failed");
}

/// A time the post's status needs cannot be cleared, `published_at` like `scheduled_at`: 422
/// `required` on the field, nothing changed (a published post's `null` was re-stamped with now).
/// Either is cleared with a status that does not need it; a post published without a time is
/// stamped with now.
#[actix_web::test]
async fn a_time_the_status_needs_cannot_be_cleared() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let account = social_account(&app, &a, "twitter", "acme").await;
    let post = |extra: Value| {
        let mut body = json!({"account_id": account["id"], "body": "Hello"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        app.create(&a, "/v1/social/posts", body)
    };
    let published =
        post(json!({"status": "published", "published_at": "2024-05-03T09:00:00Z"})).await;
    let scheduled =
        post(json!({"status": "scheduled", "scheduled_at": "2030-05-03T09:00:00Z"})).await;
    let draft = post(json!({})).await;
    let path = |p: &Value| format!("/v1/social/posts/{}", p["id"].as_str().unwrap());

    for (p, body, field) in [
        (&published, json!({"published_at": null}), "published_at"),
        (
            &published,
            json!({"published_at": null, "likes": 3}),
            "published_at",
        ),
        (
            &draft,
            json!({"status": "published", "published_at": null}),
            "published_at",
        ),
        (&scheduled, json!({"scheduled_at": null}), "scheduled_at"),
        (
            &draft,
            json!({"status": "scheduled", "scheduled_at": null}),
            "scheduled_at",
        ),
    ] {
        let r = app.patch(&a, &path(p), &body).await;
        let refused = &r.json["fields"];
        assert_eq!(
            (r.status, &refused[0]["field"], &refused[0]["code"]),
            (422, &json!(field), &json!("required")),
            "{body}: {}",
            r.text
        );
        assert_eq!(
            &app.get_ok(&a, &path(p)).await,
            p,
            "{body} changed the post"
        );
    }

    let r = app
        .patch(
            &a,
            &path(&published),
            &json!({"status": "draft", "published_at": null}),
        )
        .await;
    assert_eq!(
        (r.status, &r.json["status"], &r.json["published_at"]),
        (200, &json!("draft"), &Value::Null),
        "{}",
        r.text
    );
    let r = app
        .patch(
            &a,
            &path(&scheduled),
            &json!({"status": "draft", "scheduled_at": null}),
        )
        .await;
    assert_eq!(
        (r.status, &r.json["scheduled_at"]),
        (200, &Value::Null),
        "{}",
        r.text
    );
    let r = app
        .patch(&a, &path(&draft), &json!({"status": "published"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["published_at"].is_string(), "{}", r.text);
}

/// `tz` counts the days in a time zone: a post published at 23:30 UTC on 31 May is 1 June in
/// Tokyo (UTC+9) and still 31 May in New York (UTC-4); one at 23:30 UTC on 30 April is 1 May in
/// Tokyo; one at 02:00 UTC on 1 May is 30 April in New York.
#[actix_web::test]
async fn the_analytics_count_the_days_of_their_time_zone() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let account = app
        .create(
            &a,
            "/v1/social/accounts",
            json!({"network": "twitter", "handle": "acme"}),
        )
        .await;
    for (at, likes) in [
        ("2024-05-31T23:30:00Z", 1),
        ("2024-04-30T23:30:00Z", 10),
        ("2024-05-01T02:00:00Z", 100),
    ] {
        app.create(
            &a,
            "/v1/social/posts",
            json!({"account_id": account["id"], "body": "x", "status": "published",
                   "published_at": at, "likes": likes}),
        )
        .await;
    }
    for (tz, spelled, posts, likes) in [
        ("UTC", "UTC", 2, 101),
        ("America/New_York", "America/New_York", 1, 1),
        ("asia/tokyo", "Asia/Tokyo", 2, 110),
    ] {
        let r = app
            .get(
                &a,
                &format!("/v1/social/analytics?from=2024-05-01&to=2024-05-31&tz={tz}"),
            )
            .await;
        assert_eq!(r.status, 200, "{tz}: {}", r.text);
        assert_eq!(
            (
                &r.json["tz"],
                &r.json["networks"][0]["posts"],
                &r.json["networks"][0]["likes"]
            ),
            (&json!(spelled), &json!(posts), &json!(likes)),
            "{tz}: {}",
            r.text
        );
    }
}
