//! The isolation seeder of the engagement resources (chat, IVR menus, phone numbers, knowledge
//! base, reports, analytics events, social accounts and posts), and helpers their tests share.

use palisade_test_support::{Account, TestApp};
use serde_json::{Value, json};

use crate::isolation::{Item, Seeded};

/// A small valid IVR menu tree whose prompt carries `text`.
pub fn menu_tree(text: &str) -> Value {
    json!({
        "prompt": format!("Welcome to {text}. Press 1 for sales."),
        "options": {
            "1": {"action": "transfer", "to": "+14155550123"},
            "2": {"action": "submenu", "menu": {"prompt": "Hours", "options": {"#": {"action": "hangup"}}}},
            "0": {"action": "voicemail"}
        }
    })
}

/// An IVR menu named `name` created by `who`, its tree's prompt carrying `text`.
pub async fn menu(app: &TestApp, who: &Account, name: &str, text: &str) -> Value {
    app.create(
        who,
        "/v1/ivr/menus",
        json!({"name": name, "tree": menu_tree(text)}),
    )
    .await
}

/// Creates one row of every engagement table for `acct` (every composite foreign key set),
/// with `marker` in free text, and lists the item routes and views to compare.
pub async fn seed(app: &TestApp, acct: &Account, marker: &str) -> Seeded {
    let customer = app
        .create_customer(acct, json!({"name": format!("{marker} chat customer")}))
        .await;
    let customer_id = customer["id"].as_str().unwrap();
    let conv = app
        .create(
            acct,
            "/v1/chat/conversations",
            json!({"customer_id": customer_id, "subject": format!("{marker} conversation")}),
        )
        .await;
    let conv_id = conv["id"].as_str().unwrap();
    let messages = format!("/v1/chat/conversations/{conv_id}/messages");
    app.create(
        acct,
        &messages,
        json!({"sender": "customer", "body": format!("{marker} hello")}),
    )
    .await;
    let menu = menu(app, acct, &format!("{marker} menu"), marker).await;
    let menu_id = menu["id"].as_str().unwrap();
    let stocked = palisade_test_support::unique_number();
    app.stock_numbers(&[(&stocked, &["sms", "voice"])]).await;
    let number = app.create(acct, "/v1/phone-numbers", json!({"number": stocked, "label": format!("{marker} line"), "capabilities": ["voice", "sms"], "ivr_menu_id": menu_id})).await;
    let article = app.create(acct, "/v1/knowledge-base/articles", json!({"title": format!("{marker} article"), "body": format!("How to reset a password. {marker}"), "tags": ["faq"], "published": true})).await;
    let report = app.create(acct, "/v1/reports", json!({"name": format!("{marker} report"), "kind": "call_volume", "parameters": {"note": marker}, "schedule": "weekly"})).await;
    app.create(
        acct,
        "/v1/analytics/events/batch",
        json!([
            {"type": "page.viewed", "properties": {"label": marker}, "customer_id": customer_id},
            {"type": "signup.completed", "properties": {"label": marker}}
        ]),
    )
    .await;
    let account = app.create(acct, "/v1/social/accounts", json!({"network": "twitter", "handle": format!("{marker}_acct"), "access_token": format!("token-{marker}")})).await;
    let account_id = account["id"].as_str().unwrap();
    let post = app.create(acct, "/v1/social/posts", json!({"account_id": account_id, "body": format!("{marker} post"), "status": "published", "likes": 3, "shares": 2, "comments": 1, "impressions": 50})).await;

    let item = |path: String, writes: &'static [&'static str], patch: Value| Item {
        path,
        writes,
        patch,
    };
    let pd: &'static [&'static str] = &["PATCH", "DELETE"];
    Seeded {
        items: vec![
            item(
                format!("/v1/chat/conversations/{conv_id}"),
                pd,
                json!({"subject": "changed by another tenant", "status": "closed"}),
            ),
            item(
                messages.clone(),
                &["POST"],
                json!({"sender": "agent", "body": "written by another tenant"}),
            ),
            item(
                format!("/v1/ivr/menus/{menu_id}"),
                pd,
                json!({"name": "changed by another tenant"}),
            ),
            item(
                format!("/v1/phone-numbers/{}", number["id"].as_str().unwrap()),
                pd,
                json!({"label": "changed by another tenant", "ivr_menu_id": null}),
            ),
            item(
                format!(
                    "/v1/knowledge-base/articles/{}",
                    article["id"].as_str().unwrap()
                ),
                pd,
                json!({"title": "changed by another tenant"}),
            ),
            item(
                format!("/v1/reports/{}", report["id"].as_str().unwrap()),
                pd,
                json!({"name": "changed by another tenant"}),
            ),
            item(
                format!("/v1/social/accounts/{account_id}"),
                pd,
                json!({"handle": "changed", "access_token": null}),
            ),
            item(
                format!("/v1/social/posts/{}", post["id"].as_str().unwrap()),
                pd,
                json!({"body": "changed by another tenant", "likes": 0}),
            ),
        ],
        views: vec![
            "/v1/chat/conversations".into(),
            "/v1/chat/conversations?status=open".into(),
            format!("/v1/chat/conversations?customer_id={customer_id}"),
            format!("{messages}?sender=customer"),
            "/v1/ivr/menus?name=menu".into(),
            "/v1/phone-numbers?capability=voice".into(),
            "/v1/knowledge-base/articles?published=true".into(),
            "/v1/knowledge-base/articles?q=password".into(),
            format!("/v1/knowledge-base/articles?q={marker}"),
            "/v1/knowledge-base/articles?tag=faq".into(),
            "/v1/reports?kind=call_volume".into(),
            "/v1/analytics/events".into(),
            "/v1/analytics/events?type=page.viewed".into(),
            "/v1/analytics/summary".into(),
            "/v1/analytics/summary?type=page.viewed".into(),
            "/v1/social/accounts?network=twitter".into(),
            "/v1/social/posts?status=published".into(),
            format!("/v1/social/posts?account_id={account_id}"),
            "/v1/social/analytics".into(),
            "/v1/social/analytics?network=twitter".into(),
        ],
    }
}
