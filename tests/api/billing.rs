//! `/v1/billing`: read-only views of what the Stripe path wrote (seeded here as
//! palisade_billing): the current subscription, the invoices with filters and pagination.

use palisade_domain::Role;
use palisade_test_support::spawn_app_with_owner;
use serde_json::{Value, json};

use crate::tenant_domain::{billing_client, insert_invoice, insert_subscription};

#[actix_web::test]
async fn the_current_subscription_is_the_newest_that_has_not_ended() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let member = app.add_user(&a, Role::Member).await;
    let billing = billing_client(&app).await;

    let r = app.get(&member, "/v1/billing/subscription").await;
    r.assert_error(404, "not_found");
    insert_subscription(&billing, &a.org_id, "cancelled", "starter").await;
    let r = app.get(&member, "/v1/billing/subscription").await;
    assert_eq!(r.status, 404, "a cancelled subscription is not current");

    let active = insert_subscription(&billing, &a.org_id, "active", "pro").await;
    let r = app.get(&member, "/v1/billing/subscription").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["id"], active.to_string());
    assert_eq!(r.json["status"], "active");
    assert_eq!(r.json["plan"], "pro");
    assert_eq!(r.json["quantity"], 3);
    assert_eq!(r.json["unit_amount_cents"], 2900);
    assert_eq!(r.json["currency"], "usd");
    assert!(
        r.json["stripe_subscription_id"]
            .as_str()
            .unwrap()
            .starts_with("sub_")
    );
    assert!(r.json["current_period_end"].is_string());
    assert!(r.json.get("stripe_updated_at").is_none());

    // Another organization's subscriptions never count.
    let b = app.signup("Other").await;
    insert_subscription(&billing, &b.org_id, "trialing", "enterprise").await;
    let r = app.get(&a, "/v1/billing/subscription").await;
    assert_eq!(r.json["id"], active.to_string());
    let r = app.get(&b, "/v1/billing/subscription").await;
    assert_eq!(r.json["plan"], "enterprise");
}

#[actix_web::test]
async fn invoices_list_filter_page_and_are_read_only() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let b = app.signup("Other").await;
    let billing = billing_client(&app).await;
    // created_at is set by the database alone: not even the billing role may change it.
    let su = app.db.superuser_client().await;
    let mut ids = Vec::new();
    for (i, status) in ["paid", "paid", "open", "void"].iter().enumerate() {
        let id = insert_invoice(&billing, &a.org_id, status, &format!("A-{i}")).await;
        // Spread creation over four days, oldest first.
        su.execute(
                "UPDATE palisade.invoices SET created_at = timestamptz '2024-05-01T00:00:00Z' + make_interval(days => $2) \
                 WHERE id = $1",
                &[&id, &(i as i32)],
            )
            .await
            .unwrap();
        ids.push(id.to_string());
    }
    let b_invoice = insert_invoice(&billing, &b.org_id, "paid", "B-1").await;
    let list = |q: String| {
        let (app, a, path) = (&app, &a, format!("/v1/billing/invoices{q}"));
        async move { app.page(a, &path).await }
    };
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(list(String::new()).await.0, newest_first);
    assert_eq!(
        list("?status=paid".into()).await.0,
        [ids[1].clone(), ids[0].clone()]
    );
    assert_eq!(
        list("?created_after=2024-05-02T00:00:00Z&created_before=2024-05-04T00:00:00Z".into())
            .await
            .0,
        [ids[2].clone(), ids[1].clone()]
    );
    let (page, cursor) = list("?limit=3".into()).await;
    assert_eq!(page, newest_first[..3]);
    let (page, cursor) = list(format!("?limit=3&cursor={}", cursor.unwrap())).await;
    assert_eq!((page, cursor), (vec![ids[0].clone()], None));

    let r = app
        .get(&a, &format!("/v1/billing/invoices/{}", ids[0]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["number"], "A-0");
    assert_eq!(r.json["amount_paid_cents"], 8700);
    assert_eq!(
        r.json["hosted_invoice_url"],
        "https://invoice.stripe.com/i/test"
    );
    let r = app
        .get(&a, &format!("/v1/billing/invoices/{b_invoice}"))
        .await;
    assert_eq!(
        (r.status, &r.json),
        (
            404,
            &json!({"error": "not_found", "message": "no such resource"})
        )
    );

    for (q, field) in [
        ("?status=refunded", "status"),
        ("?created_after=yesterday", "created_after"),
        ("?created_before=2024-13-01T00:00:00Z", "created_before"),
    ] {
        let r = app.get(&a, &format!("/v1/billing/invoices{q}")).await;
        assert_eq!(r.status, 422, "{q}");
        assert_eq!(r.json["fields"][0]["field"], field);
    }
    // No write routes at all.
    for (method, path) in [
        ("POST", "/v1/billing/invoices".to_owned()),
        ("PATCH", format!("/v1/billing/invoices/{}", ids[0])),
        ("DELETE", format!("/v1/billing/invoices/{}", ids[0])),
        ("POST", "/v1/billing/subscription".to_owned()),
    ] {
        let r = app
            .call(method, &path, Some(&a.token), Some(&Value::Null))
            .await;
        assert_eq!(r.status, 405, "{method} {path}");
    }
}
