//! `POST /webhooks/stripe`: signed events over real HTTP, applied through the billing pool
//! (`palisade_billing`), and their effects read back through the tenant API (`/v1/organization`,
//! `/v1/billing/...`) as the organization's own members see them. Database state that the API
//! does not show (the dedupe table, the customer link, `pg_stat_activity`) is inspected as the
//! superuser, never to assert isolation.

use futures_util::future::join_all;
use palisade_db::BillingPool;
use palisade_db::PoolSettings;
use palisade_test_support::{
    Account, TEST_STRIPE_WEBHOOK_SECRET, TestApp, spawn_app, spawn_app_with_owner,
    stripe_signature_header, try_spawn_app, unix_now,
};
use serde_json::{Value, json};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

/// A base `created` time for events; tests order events relative to it.
const T0: i64 = 1_750_000_000;

fn stripe_id(prefix: &str) -> String {
    format!("{prefix}_{}", Uuid::new_v4().simple())
}

fn event(id: &str, event_type: &str, created: i64, object: Value) -> Vec<u8> {
    json!({
        "id": id, "object": "event", "api_version": "2025-03-31.basil", "created": created,
        "livemode": false, "pending_webhooks": 1, "type": event_type,
        "request": {"id": null, "idempotency_key": null},
        "data": {"object": object}
    })
    .to_string()
    .into_bytes()
}

/// A completed Checkout Session created as docs/webhooks.md says: `client_reference_id` and the
/// session's own `metadata.organization_id` both name `org`.
fn checkout(org: &str, customer: &str) -> Value {
    json!({
        "id": stripe_id("cs_test"), "object": "checkout.session", "mode": "subscription",
        "status": "complete", "payment_status": "paid", "client_reference_id": org,
        "metadata": {"organization_id": org},
        "customer": customer, "subscription": stripe_id("sub"),
        "customer_details": {"email": "billing@acme.example", "name": "Acme Billing"}
    })
}

/// A subscription in the 2025-03-31.basil shape (billing period on the item).
fn subscription(id: &str, customer: &str, status: &str, plan: &str, quantity: i64) -> Value {
    json!({
        "id": id, "object": "subscription", "customer": customer, "status": status,
        "cancel_at_period_end": false, "canceled_at": if status == "canceled" { json!(T0) } else { Value::Null },
        "currency": "usd", "metadata": {},
        "items": {"object": "list", "data": [{
            "id": stripe_id("si"), "object": "subscription_item", "quantity": quantity,
            "current_period_start": T0, "current_period_end": T0 + 30 * 86_400,
            "price": {"id": "price_1Mr6rdLkdIwHu7ixwPmiybbR", "object": "price", "currency": "usd",
                      "unit_amount": 2900, "lookup_key": plan, "metadata": {},
                      "recurring": {"interval": "month", "interval_count": 1}}
        }]}
    })
}

/// An invoice in the pre-basil shape (`subscription` at the top).
fn invoice(id: &str, customer: &str, subscription: &str, status: &str) -> Value {
    let paid = status == "paid";
    json!({
        "id": id, "object": "invoice", "customer": customer, "subscription": subscription,
        "status": status, "number": "ACME-0001", "currency": "usd",
        "subtotal": 8700, "total": 8700, "amount_due": 8700,
        "amount_paid": if paid { 8700 } else { 0 },
        "period_start": T0, "period_end": T0 + 30 * 86_400, "due_date": null,
        "status_transitions": {"paid_at": if paid { json!(T0 + 60) } else { Value::Null }},
        "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/test",
        "customer_email": "billing@acme.example"
    })
}

/// Links `account` to a new Stripe customer through `checkout.session.completed`.
async fn link_customer(app: &TestApp, account: &Account) -> String {
    let customer = stripe_id("cus");
    let r = app
        .stripe_webhook(&event(
            &stripe_id("evt"),
            "checkout.session.completed",
            T0,
            checkout(&account.org_id, &customer),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    customer
}

/// A new event of `event_type` created at `created` about `object`, signed like Stripe and
/// acknowledged.
async fn deliver(app: &TestApp, event_type: &str, created: i64, object: Value) {
    accepted(app, &event(&stripe_id("evt"), event_type, created, object)).await;
}

async fn accepted(app: &TestApp, body: &[u8]) {
    let r = app.stripe_webhook(body).await;
    assert_eq!(
        (r.status, &r.json),
        (200, &json!({"received": true})),
        "{}",
        r.text
    );
}

/// Rows of the dedupe table, optionally of one event id.
async fn recorded_events(app: &TestApp, event_id: Option<&str>) -> i64 {
    app.db
        .superuser_client()
        .await
        .query_one(
            "SELECT count(*) FROM palisade_platform.stripe_events WHERE $1::text IS NULL OR event_id = $1",
            &[&event_id],
        )
        .await
        .unwrap()
        .get(0)
}

async fn stored_customer(app: &TestApp, account: &Account) -> Option<String> {
    app.db
        .superuser_client()
        .await
        .query_one(
            "SELECT stripe_customer_id FROM palisade.organizations WHERE id = $1::text::uuid",
            &[&account.org_id],
        )
        .await
        .unwrap()
        .get(0)
}

/// Everything billing-related the organization's members can see.
async fn billing_view(app: &TestApp, account: &Account) -> Value {
    let org = app.get(&account, "/v1/organization").await;
    let sub = app.get(&account, "/v1/billing/subscription").await;
    let invoices = app.get(&account, "/v1/billing/invoices").await;
    assert_eq!(invoices.status, 200, "{}", invoices.text);
    json!({
        "plan": org.json["plan"], "plan_status": org.json["plan_status"],
        "subscription": if sub.status == 200 { sub.json } else { Value::Null },
        "invoices": invoices.json["data"],
    })
}

/// The organization's `updated_at` moves when the Stripe path changes its plan or plan status
/// (V0187's trigger: the billing role has no privilege on the column), and only then.
#[actix_web::test]
async fn a_plan_change_moves_the_organizations_updated_at_and_nothing_else_does() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let stamp = || async {
        let r = app.get(&a, "/v1/organization").await;
        assert_eq!(r.status, 200, "{}", r.text);
        let at = r.json["updated_at"].as_str().unwrap().to_owned();
        (r.json["plan"].clone(), r.json["plan_status"].clone(), at)
    };
    let (_, _, signed_up) = stamp().await;

    let customer = link_customer(&app, &a).await;
    let (plan, status, linked) = stamp().await;
    assert_eq!((plan, status), (json!("free"), Value::Null));
    assert_eq!(linked, signed_up, "a checkout alone changes no plan");

    let sub_id = stripe_id("sub");
    deliver(
        &app,
        "customer.subscription.created",
        T0 + 1,
        subscription(&sub_id, &customer, "active", "pro", 3),
    )
    .await;
    let (plan, status, subscribed) = stamp().await;
    assert_eq!((plan, status), (json!("pro"), json!("active")));
    assert!(
        subscribed > linked,
        "the plan changed and updated_at stayed {linked} (now {subscribed})"
    );

    // A later event that leaves the plan and its status as they are stamps nothing.
    deliver(
        &app,
        "customer.subscription.updated",
        T0 + 2,
        subscription(&sub_id, &customer, "active", "pro", 4),
    )
    .await;
    let (plan, status, again) = stamp().await;
    assert_eq!((plan, status), (json!("pro"), json!("active")));
    assert_eq!(again, subscribed, "the plan did not change");

    deliver(
        &app,
        "customer.subscription.updated",
        T0 + 3,
        subscription(&sub_id, &customer, "past_due", "pro", 4),
    )
    .await;
    let (_, status, past_due) = stamp().await;
    assert_eq!(status, json!("past_due"));
    assert!(past_due > subscribed, "the plan's status changed");
}

/// A plan change that waited (here on another event of its customer, whose lock a superuser
/// holds) while an owner renamed the organization stamps a time after the rename's: its
/// transaction began first, and `now()` alone set `updated_at` back (V0190).
#[actix_web::test]
async fn a_plan_change_that_waited_never_sets_updated_at_back() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let customer = link_customer(&app, &a).await;
    let su = app.db.superuser_client().await;
    su.batch_execute("BEGIN").await.unwrap();
    // palisade_db::lock::XACT_LOCK with STRIPE_CUSTOMER_CLASS (0x5374), as the event takes it.
    su.execute(
        "SELECT pg_advisory_xact_lock(21364, hashtext($1))",
        &[&customer],
    )
    .await
    .unwrap();
    let body = event(
        &stripe_id("evt"),
        "customer.subscription.created",
        T0 + 1,
        subscription(&stripe_id("sub"), &customer, "active", "pro", 3),
    );
    let post = app.stripe_webhook(&body);
    let rename = async {
        // Until the event waits on the lock (its transaction has begun: the one session of this
        // database that waits), then a rename commits.
        app.db.until_one_session_waits_on_a_lock().await;
        let r = app
            .patch(&a, "/v1/organization", &json!({"name": "Acme Renamed"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        su.batch_execute("COMMIT").await.unwrap();
        r.json["updated_at"].as_str().unwrap().to_owned()
    };
    let (r, renamed) = tokio::join!(post, rename);
    assert_eq!(r.status, 200, "{}", r.text);
    let org = app.get(&a, "/v1/organization").await;
    assert_eq!(org.json["plan"], "pro");
    let stamped = org.json["updated_at"].as_str().unwrap();
    assert!(
        stamped > renamed.as_str(),
        "the plan change stamped {stamped}, before the rename's {renamed}"
    );
}

#[actix_web::test]
async fn each_handled_event_type_is_accepted_and_has_its_effect() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let before = billing_view(&app, &a).await;
    assert_eq!(
        (&before["plan"], &before["plan_status"]),
        (&json!("free"), &Value::Null)
    );

    // checkout.session.completed: the organization named by client_reference_id gets the customer.
    let customer = link_customer(&app, &a).await;
    assert_eq!(stored_customer(&app, &a).await, Some(customer.clone()));
    assert_eq!(
        billing_view(&app, &a).await,
        before,
        "checkout alone changes no plan"
    );

    // customer.subscription.created
    let sub_id = stripe_id("sub");
    deliver(
        &app,
        "customer.subscription.created",
        T0 + 1,
        subscription(&sub_id, &customer, "active", "pro", 3),
    )
    .await;
    let v = billing_view(&app, &a).await;
    assert_eq!(
        (&v["plan"], &v["plan_status"]),
        (&json!("pro"), &json!("active"))
    );
    let s = &v["subscription"];
    assert_eq!(s["stripe_subscription_id"], sub_id.as_str());
    assert_eq!(
        (
            &s["status"],
            &s["plan"],
            &s["quantity"],
            &s["unit_amount_cents"],
            &s["currency"]
        ),
        (
            &json!("active"),
            &json!("pro"),
            &json!(3),
            &json!(2900),
            &json!("usd")
        )
    );
    assert_eq!(s["stripe_price_id"], "price_1Mr6rdLkdIwHu7ixwPmiybbR");
    assert_eq!(s["current_period_start"], "2025-06-15T15:06:40.000000Z");
    assert_eq!(s["current_period_end"], "2025-07-15T15:06:40.000000Z");

    // customer.subscription.updated (older API shape: period at the top level)
    let mut past_due = subscription(&sub_id, &customer, "past_due", "pro", 3);
    past_due["items"]["data"][0]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !k.starts_with("current_period"));
    past_due["current_period_start"] = json!(T0 + 86_400);
    past_due["current_period_end"] = json!(T0 + 31 * 86_400);
    deliver(&app, "customer.subscription.updated", T0 + 2, past_due).await;
    let v = billing_view(&app, &a).await;
    assert_eq!(
        (&v["plan"], &v["plan_status"]),
        (&json!("pro"), &json!("past_due"))
    );
    assert_eq!(v["subscription"]["status"], "past_due");
    assert_eq!(
        v["subscription"]["current_period_start"],
        "2025-06-16T15:06:40.000000Z"
    );

    // invoice.payment_failed, then invoice.paid (basil shape: subscription under parent)
    let in_id = stripe_id("in");
    deliver(
        &app,
        "invoice.payment_failed",
        T0 + 3,
        invoice(&in_id, &customer, &sub_id, "open"),
    )
    .await;
    let v = billing_view(&app, &a).await;
    assert_eq!(v["invoices"].as_array().unwrap().len(), 1);
    let i = &v["invoices"][0];
    assert_eq!(
        (
            &i["stripe_invoice_id"],
            &i["status"],
            &i["amount_due_cents"],
            &i["amount_paid_cents"]
        ),
        (&json!(in_id), &json!("open"), &json!(8700), &json!(0))
    );
    assert_eq!(i["stripe_subscription_id"], sub_id.as_str());
    assert_eq!(
        i["hosted_invoice_url"],
        "https://invoice.stripe.com/i/acct_1/test"
    );
    let mut paid = invoice(&in_id, &customer, &sub_id, "paid");
    paid.as_object_mut().unwrap().remove("subscription");
    paid["parent"] = json!({"type": "subscription_details",
                            "subscription_details": {"subscription": sub_id, "metadata": {}}});
    deliver(&app, "invoice.paid", T0 + 4, paid).await;
    let v = billing_view(&app, &a).await;
    let i = &v["invoices"][0];
    assert_eq!(
        v["invoices"].as_array().unwrap().len(),
        1,
        "same invoice, updated"
    );
    assert_eq!(
        (
            &i["status"],
            &i["amount_paid_cents"],
            &i["paid_at"],
            &i["stripe_subscription_id"]
        ),
        (
            &json!("paid"),
            &json!(8700),
            &json!("2025-06-15T15:07:40.000000Z"),
            &json!(sub_id)
        )
    );
    let r = app
        .get(
            &a,
            &format!("/v1/billing/invoices/{}", i["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!((r.status, &r.json["number"]), (200, &json!("ACME-0001")));

    // customer.subscription.deleted: no current subscription, plan back to free.
    deliver(
        &app,
        "customer.subscription.deleted",
        T0 + 5,
        subscription(&sub_id, &customer, "canceled", "pro", 3),
    )
    .await;
    let v = billing_view(&app, &a).await;
    assert_eq!(
        (&v["plan"], &v["plan_status"]),
        (&json!("free"), &json!("cancelled"))
    );
    assert_eq!(
        v["subscription"],
        Value::Null,
        "a cancelled subscription is not current"
    );
    assert_eq!(recorded_events(&app, None).await, 6);
}

#[actix_web::test]
async fn refused_signatures_answer_401_and_write_nothing() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let customer = link_customer(&app, &a).await;
    let before = billing_view(&app, &a).await;
    let body = event(
        &stripe_id("evt"),
        "customer.subscription.created",
        T0,
        subscription(&stripe_id("sub"), &customer, "active", "pro", 1),
    );
    let now = unix_now();
    let good = stripe_signature_header(TEST_STRIPE_WEBHOOK_SECRET, now, &body);
    let mut tampered = body.clone();
    let at = tampered.len() - 3;
    tampered[at] ^= 0x01;
    let cases: Vec<(&str, Vec<u8>, Option<String>)> = vec![
        ("tampered body", tampered, Some(good.clone())),
        (
            "wrong secret",
            body.clone(),
            Some(stripe_signature_header("whsec_not_ours", now, &body)),
        ),
        (
            "stale timestamp",
            body.clone(),
            Some(stripe_signature_header(
                TEST_STRIPE_WEBHOOK_SECRET,
                now - 600,
                &body,
            )),
        ),
        // Twice the 300 s tolerance away: robust to seconds passing on a loaded machine.
        (
            "timestamp from the future",
            body.clone(),
            Some(stripe_signature_header(
                TEST_STRIPE_WEBHOOK_SECRET,
                now + 600,
                &body,
            )),
        ),
        ("missing header", body.clone(), None),
        ("malformed header", body.clone(), Some("garbage".into())),
        (
            "malformed signature",
            body.clone(),
            Some(format!("t={now},v1=not-hex")),
        ),
        (
            "no v1 signature",
            body.clone(),
            Some(good.replace("v1=", "v0=")),
        ),
    ];
    for (case, body, header) in cases {
        let r = app.post_stripe(&body, header).await;
        assert_eq!(r.status, 401, "{case}: {}", r.text);
        assert_eq!(r.json["error"], "invalid_signature", "{case}");
        assert!(r.header("www-authenticate").is_none(), "{case}");
    }
    assert_eq!(billing_view(&app, &a).await, before);
    assert_eq!(recorded_events(&app, None).await, 1, "only the checkout");

    // The same body with its correct signature is accepted: the refusals were the signature's.
    let r = app.post_stripe(&body, Some(good)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(billing_view(&app, &a).await["plan"], "pro");
}

#[actix_web::test]
async fn a_signed_body_that_is_not_a_readable_event_answers_400() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let customer = link_customer(&app, &a).await;
    for (case, body) in [
        ("not JSON", b"{\"id\": \"evt_1\", \"type\": ".to_vec()),
        ("no envelope", b"[]".to_vec()),
        (
            "a subscription without a customer id",
            event(
                &stripe_id("evt"),
                "customer.subscription.updated",
                T0,
                subscription(&stripe_id("sub"), "not-a-customer", "active", "pro", 1),
            ),
        ),
        (
            "an unknown subscription status",
            event(
                &stripe_id("evt"),
                "customer.subscription.updated",
                T0,
                subscription(&stripe_id("sub"), &customer, "exploded", "pro", 1),
            ),
        ),
    ] {
        let r = app.stripe_webhook(&body).await;
        assert_eq!(r.status, 400, "{case}: {}", r.text);
        assert_eq!(r.json["error"], "invalid_event", "{case}");
        assert!(
            !r.text.contains("not-a-customer"),
            "{case}: echoes the body"
        );
    }
    assert_eq!(billing_view(&app, &a).await["subscription"], Value::Null);
    assert_eq!(recorded_events(&app, None).await, 1);
}

#[actix_web::test]
async fn unhandled_types_and_unknown_customers_are_acknowledged_without_any_write() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let customer = link_customer(&app, &a).await;
    let before = billing_view(&app, &a).await;

    // A type Palisade does not handle, even one about our customer.
    deliver(
        &app,
        "customer.updated",
        T0,
        json!({"id": customer, "object": "customer", "email": "x@acme.example"}),
    )
    .await;
    accepted(
        &app,
        br#"{"id":"evt_test_webhook","object":"event","type":"charge.succeeded","created":1795756800}"#,
    )
    .await;
    // Handled types for a customer no organization has.
    let stranger = stripe_id("cus");
    let sub = stripe_id("sub");
    for (event_type, object) in [
        (
            "customer.subscription.created",
            subscription(&sub, &stranger, "active", "pro", 1),
        ),
        (
            "customer.subscription.deleted",
            subscription(&sub, &stranger, "canceled", "pro", 1),
        ),
        (
            "invoice.paid",
            invoice(&stripe_id("in"), &stranger, &sub, "paid"),
        ),
    ] {
        deliver(&app, event_type, T0, object).await;
    }
    // Checkouts that do not name one of our organizations.
    for reference in [
        Value::Null,
        json!("order-17"),
        json!(Uuid::now_v7().to_string()),
    ] {
        let mut object = checkout(&a.org_id, &stripe_id("cus"));
        object["client_reference_id"] = reference;
        deliver(&app, "checkout.session.completed", T0, object).await;
    }
    // A checkout of ours without a customer (e.g. a one-off payment).
    let mut object = checkout(&a.org_id, "cus_unused");
    object["customer"] = Value::Null;
    deliver(&app, "checkout.session.completed", T0, object).await;

    assert_eq!(billing_view(&app, &a).await, before);
    assert_eq!(stored_customer(&app, &a).await, Some(customer));
    assert_eq!(
        recorded_events(&app, None).await,
        1,
        "not even the event ids are recorded"
    );
    let su = app.db.superuser_client().await;
    let n: i64 = su
        .query_one(
            "SELECT (SELECT count(*) FROM palisade.subscriptions) + (SELECT count(*) FROM palisade.invoices)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[actix_web::test]
async fn out_of_order_events_never_regress_a_subscription_or_an_invoice() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let customer = link_customer(&app, &a).await;
    let sub = stripe_id("sub");

    // The newer state arrives first...
    deliver(
        &app,
        "customer.subscription.updated",
        T0 + 100,
        subscription(&sub, &customer, "active", "team", 5),
    )
    .await;
    let newer = billing_view(&app, &a).await;
    // ...then older ones: the creation (incomplete), and an update to past_due.
    for (event_type, created, status) in [
        ("customer.subscription.created", T0, "incomplete"),
        ("customer.subscription.updated", T0 + 99, "past_due"),
    ] {
        let id = stripe_id("evt");
        accepted(
            &app,
            &event(
                &id,
                event_type,
                created,
                subscription(&sub, &customer, status, "starter", 1),
            ),
        )
        .await;
        assert_eq!(
            recorded_events(&app, Some(&id)).await,
            1,
            "stale, but recorded"
        );
    }
    let after = billing_view(&app, &a).await;
    assert_eq!(after, newer);
    assert_eq!(
        (
            &after["plan"],
            &after["plan_status"],
            &after["subscription"]["quantity"]
        ),
        (&json!("team"), &json!("active"), &json!(5))
    );

    // Equal seconds: deletion, then an update stamped the same second. Stripe never revives a
    // cancelled subscription, so the update is the older one.
    deliver(
        &app,
        "customer.subscription.deleted",
        T0 + 200,
        subscription(&sub, &customer, "canceled", "team", 5),
    )
    .await;
    deliver(
        &app,
        "customer.subscription.updated",
        T0 + 200,
        subscription(&sub, &customer, "active", "team", 5),
    )
    .await;
    let v = billing_view(&app, &a).await;
    assert_eq!(
        (&v["plan"], &v["plan_status"]),
        (&json!("free"), &json!("cancelled"))
    );
    assert_eq!(v["subscription"], Value::Null);

    // Invoices: paid, then a late payment failure (older, then the same second).
    let inv = stripe_id("in");
    deliver(
        &app,
        "invoice.paid",
        T0 + 10,
        invoice(&inv, &customer, &sub, "paid"),
    )
    .await;
    for created in [T0 + 5, T0 + 10] {
        deliver(
            &app,
            "invoice.payment_failed",
            created,
            invoice(&inv, &customer, &sub, "open"),
        )
        .await;
    }
    let v = billing_view(&app, &a).await;
    assert_eq!(
        (
            &v["invoices"][0]["status"],
            &v["invoices"][0]["amount_paid_cents"]
        ),
        (&json!("paid"), &json!(8700))
    );
}

/// The subscription's `(created_at, updated_at)`: equal as long as no event updated it after
/// inserting it (a second application would set `updated_at` to its own transaction's time).
async fn subscription_times(app: &TestApp, sub: &str) -> (String, String) {
    let row = app
        .db
        .superuser_client()
        .await
        .query_one(
            "SELECT created_at::text, updated_at::text FROM palisade.subscriptions \
             WHERE stripe_subscription_id = $1",
            &[&sub],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[actix_web::test]
async fn the_same_event_five_times_sequentially_or_concurrently_applies_once() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let customer = link_customer(&app, &a).await;

    let sub = stripe_id("sub");
    let id = stripe_id("evt");
    let body = event(
        &id,
        "customer.subscription.created",
        T0,
        subscription(&sub, &customer, "active", "pro", 2),
    );
    for _ in 0..5 {
        accepted(&app, &body).await;
    }
    assert_eq!(recorded_events(&app, Some(&id)).await, 1);
    let (created, updated) = subscription_times(&app, &sub).await;
    assert_eq!(created, updated, "applied once, never again");

    let sub = stripe_id("sub");
    let id = stripe_id("evt");
    let body = event(
        &id,
        "customer.subscription.created",
        T0,
        subscription(&sub, &customer, "trialing", "team", 4),
    );
    let answers = join_all((0..5).map(|_| app.stripe_webhook(&body))).await;
    for r in answers {
        assert_eq!(
            (r.status, &r.json),
            (200, &json!({"received": true})),
            "{}",
            r.text
        );
    }
    assert_eq!(recorded_events(&app, Some(&id)).await, 1);
    let (created, updated) = subscription_times(&app, &sub).await;
    assert_eq!(created, updated, "exactly one of the five applied");
    let n: i64 = app
        .db
        .superuser_client()
        .await
        .query_one("SELECT count(*) FROM palisade.subscriptions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    // The newest subscription not ended is the current one.
    assert_eq!(billing_view(&app, &a).await["plan_status"], "trialing");
}

#[actix_web::test]
async fn an_event_for_one_organizations_customer_never_changes_another() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let b = app.signup("Other").await;
    let cus_a = link_customer(&app, &a).await;
    let cus_b = link_customer(&app, &b).await;
    let sub_b = stripe_id("sub");
    deliver(
        &app,
        "customer.subscription.created",
        T0,
        subscription(&sub_b, &cus_b, "active", "enterprise", 10),
    )
    .await;
    deliver(
        &app,
        "invoice.paid",
        T0,
        invoice(&stripe_id("in"), &cus_b, &sub_b, "paid"),
    )
    .await;
    let b_before = billing_view(&app, &b).await;

    // Events for A's customer, including one naming B's subscription id.
    for (event_type, object) in [
        (
            "customer.subscription.created",
            subscription(&stripe_id("sub"), &cus_a, "active", "pro", 1),
        ),
        (
            "customer.subscription.deleted",
            subscription(&sub_b, &cus_a, "canceled", "pro", 1),
        ),
        (
            "invoice.payment_failed",
            invoice(&stripe_id("in"), &cus_a, &sub_b, "open"),
        ),
    ] {
        deliver(&app, event_type, T0 + 1, object).await;
    }
    assert_eq!(billing_view(&app, &b).await, b_before, "B changed");
    let a_view = billing_view(&app, &a).await;
    assert_eq!(
        (&a_view["plan"], &a_view["plan_status"]),
        (&json!("pro"), &json!("active"))
    );
    assert_eq!(a_view["invoices"].as_array().unwrap().len(), 1);

    // A checkout for A with B's customer is refused (it would make the customer ambiguous).
    let r = app
        .stripe_webhook(&event(
            &stripe_id("evt"),
            "checkout.session.completed",
            T0 + 2,
            checkout(&a.org_id, &cus_b),
        ))
        .await;
    assert_eq!(r.status, 500, "{}", r.text);
    assert_eq!(stored_customer(&app, &a).await, Some(cus_a.clone()));
    assert_eq!(stored_customer(&app, &b).await, Some(cus_b.clone()));
    // A checkout naming A with a brand-new customer (a session created for A without its
    // `customer`) does not take A's billing away.
    let r = app
        .stripe_webhook(&event(
            &stripe_id("evt"),
            "checkout.session.completed",
            T0 + 2,
            checkout(&a.org_id, &stripe_id("cus")),
        ))
        .await;
    assert_eq!(r.status, 500, "{}", r.text);
    assert_eq!(stored_customer(&app, &a).await, Some(cus_a.clone()));

    // A customer id held by two organizations (a DBA's mistake) applies to neither.
    let su = app.db.superuser_client().await;
    su.execute(
        "UPDATE palisade.organizations SET stripe_customer_id = $1 WHERE id = $2::text::uuid",
        &[&cus_b, &a.org_id],
    )
    .await
    .unwrap();
    let id = stripe_id("evt");
    let r = app
        .stripe_webhook(&event(
            &id,
            "customer.subscription.updated",
            T0 + 3,
            subscription(&sub_b, &cus_b, "past_due", "enterprise", 10),
        ))
        .await;
    assert_eq!(r.status, 500, "{}", r.text);
    assert_eq!(recorded_events(&app, Some(&id)).await, 0);
    assert_eq!(billing_view(&app, &b).await, b_before);
}

/// `client_reference_id` alone binds nothing: whoever opens a Payment Link or a pricing table
/// may set it (`?client_reference_id=`), and anyone who knows an organization's id (any member,
/// a former one included) could otherwise bind an organization without a customer to a Stripe
/// customer of theirs. The session's own `metadata.organization_id`, which only its creator
/// sets, must say the same.
#[actix_web::test]
async fn a_checkout_whose_own_metadata_does_not_name_its_organization_binds_nothing() {
    let (app, v) = spawn_app_with_owner("Victim").await;
    let other = app.signup("Other").await;
    for metadata in [
        Value::Null,
        json!({}),
        json!({"organization_id": other.org_id}),
        json!({"organization_id": "not an id"}),
        json!({"organization_id": 7}),
    ] {
        let mut object = checkout(&v.org_id, &stripe_id("cus"));
        object["metadata"] = metadata;
        deliver(&app, "checkout.session.completed", T0, object).await;
    }
    // Nor does the metadata alone.
    let mut object = checkout(&v.org_id, &stripe_id("cus"));
    object["client_reference_id"] = Value::Null;
    deliver(&app, "checkout.session.completed", T0, object).await;
    assert_eq!(stored_customer(&app, &v).await, None);
    assert_eq!(stored_customer(&app, &other).await, None);
    assert_eq!(recorded_events(&app, None).await, 0, "nothing recorded");

    // Created as the docs say, it binds.
    let customer = stripe_id("cus");
    deliver(
        &app,
        "checkout.session.completed",
        T0,
        checkout(&v.org_id, &customer),
    )
    .await;
    assert_eq!(stored_customer(&app, &v).await, Some(customer));
}

/// Two events linking one new customer to two organizations at the same time (a checkout for
/// one, a subscription naming the other in its metadata) run one after the other: the customer
/// ends up with exactly one organization. (Each used to find it free before the other committed,
/// and both kept it: every later event of that customer was refused as ambiguous.) Both wait
/// after their lookups, on the dedupe table that a superuser holds, until both are under way.
#[actix_web::test]
async fn one_new_customer_linked_to_two_organizations_at_once_ends_with_one() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let b = app.signup("Other").await;
    let customer = stripe_id("cus");
    let mut subscription_naming_b = subscription(&stripe_id("sub"), &customer, "active", "pro", 1);
    subscription_naming_b["metadata"] = json!({"organization_id": b.org_id});
    let checkout_for_a = event(
        &stripe_id("evt"),
        "checkout.session.completed",
        T0,
        checkout(&a.org_id, &customer),
    );
    let subscription_for_b = event(
        &stripe_id("evt"),
        "customer.subscription.created",
        T0,
        subscription_naming_b,
    );

    let su = app.db.superuser_client().await;
    su.batch_execute("BEGIN; LOCK TABLE palisade_platform.stripe_events IN SHARE MODE")
        .await
        .unwrap();
    let release = async {
        app.db.until_sessions_wait_on_a_lock(2).await;
        su.batch_execute("COMMIT").await.unwrap();
    };
    let (first, second, ()) = tokio::join!(
        app.stripe_webhook(&checkout_for_a),
        app.stripe_webhook(&subscription_for_b),
        release
    );
    let holders: i64 = app
        .db
        .superuser_client()
        .await
        .query_one(
            "SELECT count(*) FROM palisade.organizations WHERE stripe_customer_id = $1",
            &[&customer],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        holders, 1,
        "checkout: {} {}; subscription: {} {}",
        first.status, first.text, second.status, second.text
    );
    // Whichever came first keeps it: the subscription applies to the customer's organization
    // (its metadata moves no customer), or the checkout is refused for a customer taken.
    match stored_customer(&app, &a).await {
        Some(_) => assert_eq!((first.status, second.status), (200, 200)),
        None => {
            assert_eq!(stored_customer(&app, &b).await, Some(customer));
            assert_eq!((first.status, second.status), (500, 200));
        }
    }
}

#[actix_web::test]
async fn deleting_an_organization_keeps_its_event_ids_so_retries_stay_duplicates() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let customer = link_customer(&app, &a).await;
    let id = stripe_id("evt");
    let body = event(
        &id,
        "customer.subscription.created",
        T0,
        subscription(&stripe_id("sub"), &customer, "active", "pro", 1),
    );
    accepted(&app, &body).await;
    let r = app.delete(&a, "/v1/organization").await;
    assert_eq!(r.status, 204, "{}", r.text);
    let su = app.db.superuser_client().await;
    let org: Option<Uuid> = su
        .query_one(
            "SELECT organization_id FROM palisade_platform.stripe_events WHERE event_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        org, None,
        "unlinked from the deleted organization, still recorded"
    );
    accepted(&app, &body).await;
    assert_eq!(recorded_events(&app, Some(&id)).await, 1);
}

#[actix_web::test]
async fn the_billing_role_reaches_billing_and_nothing_else() {
    let app = spawn_app().await;
    let billing = palisade_db::schema::connect(&app.db.url_as("palisade_billing"))
        .await
        .unwrap();
    // Every tenant table but the billing ones, from the catalog, so a new table is covered.
    let tables: Vec<String> = palisade_test_support::sql::column(
        &app.db.superuser_client().await,
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'palisade' AND c.relkind IN ('r', 'p') \
               AND c.relname NOT IN ('subscriptions', 'invoices', 'organizations') ORDER BY 1",
    )
    .await;
    for must in [
        "customers",
        "users",
        "api_keys",
        "sms_messages",
        "email_messages",
        "calls",
    ] {
        assert!(
            tables.iter().any(|t| t == must),
            "{must} missing from {tables:?}"
        );
    }
    let mut statements: Vec<String> = tables
        .iter()
        .map(|t| format!("SELECT count(*) FROM palisade.{t}"))
        .collect();
    statements.extend(
        [
            "SELECT name FROM palisade.organizations",
            "SELECT * FROM palisade.organizations",
            "UPDATE palisade.organizations SET name = 'taken over'",
            "INSERT INTO palisade.organizations (id, name) VALUES (gen_random_uuid(), 'x')",
            "DELETE FROM palisade.organizations",
            "DELETE FROM palisade.subscriptions",
            "DELETE FROM palisade.invoices",
            "TRUNCATE palisade.subscriptions",
            "TRUNCATE palisade.invoices",
            // What its upserts never set: a subscription or an invoice cannot be moved to
            // another organization, nor renamed.
            "UPDATE palisade.subscriptions SET organization_id = gen_random_uuid()",
            "UPDATE palisade.subscriptions SET id = gen_random_uuid()",
            "UPDATE palisade.subscriptions SET stripe_subscription_id = 'sub_Moved'",
            "UPDATE palisade.subscriptions SET created_at = now()",
            "UPDATE palisade.invoices SET organization_id = gen_random_uuid()",
            "UPDATE palisade.invoices SET id = gen_random_uuid()",
            "UPDATE palisade.invoices SET stripe_invoice_id = 'in_Moved'",
            "UPDATE palisade.invoices SET created_at = now()",
            "INSERT INTO palisade.invoices AS i SELECT * FROM palisade.invoices \
             ON CONFLICT (organization_id, stripe_invoice_id) DO UPDATE SET organization_id = i.organization_id",
            "UPDATE palisade_platform.stripe_events SET event_type = 'x.y'",
            "DELETE FROM palisade_platform.stripe_events",
            "SELECT palisade_private.current_org_id()",
        ]
        .map(String::from),
    );
    for sql in &statements {
        let err = billing.execute(sql.as_str(), &[]).await.unwrap_err();
        assert_eq!(
            err.code(),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "palisade_billing: {sql}: {err:?}"
        );
    }
    // What it may do: its tables, the billing columns, the dedupe table.
    for sql in [
        "SELECT count(*) FROM palisade.subscriptions",
        "SELECT count(*) FROM palisade.invoices",
        "SELECT id, stripe_customer_id, plan, plan_status FROM palisade.organizations",
        "SELECT count(*) FROM palisade_platform.stripe_events",
    ] {
        billing.execute(sql, &[]).await.unwrap();
    }
    // It may UPDATE exactly the columns its upserts set.
    for (table, columns) in [
        (
            "subscriptions",
            palisade_db::stripe::SUBSCRIPTION_UPDATED_COLUMNS,
        ),
        ("invoices", palisade_db::stripe::INVOICE_UPDATED_COLUMNS),
    ] {
        let mut updatable: Vec<String> = billing
            .query(
                "SELECT attname::text FROM pg_attribute \
                  WHERE attrelid = ('palisade.' || $1)::regclass AND attnum > 0 \
                    AND NOT attisdropped AND has_column_privilege(attrelid, attnum, 'UPDATE')",
                &[&table],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        updatable.sort();
        let mut expected: Vec<String> = columns.iter().map(|c| (*c).to_owned()).collect();
        expected.sort();
        assert_eq!(updatable, expected, "{table}");
    }
    // The app role cannot see the dedupe table at all.
    let app_client = app.db.app_client().await;
    let err = app_client
        .execute("SELECT count(*) FROM palisade_platform.stripe_events", &[])
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{err:?}"
    );
}

async fn billing_connections(app: &TestApp) -> Vec<String> {
    app.db
        .superuser_client()
        .await
        .query(
            "SELECT application_name FROM pg_stat_activity \
             WHERE usename = 'palisade_billing' AND datname = $1",
            &[&app.db.name],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[actix_web::test]
async fn a_billing_connection_exists_only_once_a_stripe_event_is_applied() {
    let app = spawn_app().await;
    // Startup (including the billing role check), tenant traffic, billing reads...
    let a = app.signup("Acme").await;
    let member = app.add_user(&a, palisade_domain::Role::Member).await;
    billing_view(&app, &member).await;
    app.create_customer(&a, json!({"name": "Grace"})).await;
    // ...refused and unhandled Stripe calls: none of these opens a billing connection.
    let r = app.post_stripe(b"{}", Some("t=1,v1=00".into())).await;
    assert_eq!(r.status, 401);
    accepted(
        &app,
        br#"{"id":"evt_test_webhook","object":"event","type":"charge.succeeded","created":1795756800}"#,
    )
    .await;
    assert_eq!(billing_connections(&app).await, Vec::<String>::new());

    link_customer(&app, &a).await;
    let seen = billing_connections(&app).await;
    assert!(
        !seen.is_empty(),
        "the Stripe path's pool keeps its connection"
    );
    assert!(
        seen.iter()
            .all(|n| n == palisade_db::stripe::BILLING_APPLICATION_NAME),
        "{seen:?}"
    );
}

#[actix_web::test]
async fn without_stripe_configured_the_route_answers_503() {
    let app = try_spawn_app(2, |_| None).await.unwrap();
    let body = event(&stripe_id("evt"), "charge.succeeded", T0, json!({}));
    let r = app.stripe_webhook(&body).await;
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (503, Some("not_configured")),
        "{}",
        r.text
    );
}

#[actix_web::test]
async fn the_server_refuses_a_billing_pool_of_another_role() {
    let refused = try_spawn_app(2, |db| {
        let pool = BillingPool::new(&PoolSettings {
            url: palisade_domain::Secret::new(
                db.url_as(palisade_test_support::TEST_APP_LOGIN_ROLE),
            )
            .into(),
            max_size: 1,
            wait_timeout: std::time::Duration::from_secs(10),
        })
        .unwrap();
        Some(palisade_api::webhooks::stripe::StripeSetup::new(
            pool,
            palisade_domain::Secret::new(TEST_STRIPE_WEBHOOK_SECRET),
        ))
    })
    .await;
    let err = refused
        .err()
        .expect("started with a billing pool as palisade_app")
        .to_string();
    assert!(err.contains("must be palisade_billing"), "{err}");
}

#[actix_web::test]
async fn the_server_refuses_a_billing_role_with_privileges_on_the_mailgun_tokens() {
    // A grant in this test's database only: the shared role itself is not altered.
    let db = palisade_test_support::TestDb::new().await;
    let billing = db.billing_pool();
    billing.check_role(&db.app_pool(1)).await.unwrap();
    db.superuser_client()
        .await
        .batch_execute("GRANT DELETE ON palisade_platform.mailgun_tokens TO palisade_billing")
        .await
        .unwrap();
    let err = billing
        .check_role(&db.app_pool(1))
        .await
        .expect_err("a billing role that may delete Mailgun tokens passed")
        .to_string();
    assert!(
        err.contains("beyond billing on palisade_platform.mailgun_tokens"),
        "{err}"
    );
}

#[actix_web::test]
async fn the_server_refuses_a_billing_role_that_may_update_any_column_of_subscriptions_or_invoices()
{
    // Grants in this test's database only: the shared role itself is not altered.
    let db = palisade_test_support::TestDb::new().await;
    let billing = db.billing_pool();
    let su = db.superuser_client().await;
    for (grant, refused) in [
        (
            "GRANT UPDATE ON palisade.subscriptions TO palisade_billing",
            "subscriptions.organization_id (update)",
        ),
        (
            "GRANT UPDATE (organization_id) ON palisade.invoices TO palisade_billing",
            "invoices.organization_id (update)",
        ),
        (
            "GRANT DELETE ON palisade.invoices TO palisade_billing",
            "invoices (delete, truncate, references or trigger)",
        ),
    ] {
        billing.check_role(&db.app_pool(1)).await.unwrap();
        su.batch_execute(grant).await.unwrap();
        let err = billing
            .check_role(&db.app_pool(1))
            .await
            .expect_err(grant)
            .to_string();
        assert!(err.contains(refused), "{grant}: {err}");
        // The id is reported as well as organization_id; the columns it may update are not.
        if grant.contains("subscriptions") {
            assert!(err.contains("subscriptions.id (update)"), "{err}");
            assert!(!err.contains("subscriptions.status"), "{err}");
        }
        // Back to policies/440_billing.sql's grants.
        su.batch_execute(
            "REVOKE UPDATE, DELETE ON palisade.subscriptions, palisade.invoices FROM palisade_billing",
        )
        .await
        .unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let policy = std::fs::read_to_string(root.join("policies/440_billing.sql")).unwrap();
        db.owner_client()
            .await
            .batch_execute(&policy)
            .await
            .unwrap();
    }
    billing.check_role(&db.app_pool(1)).await.unwrap();
}

#[actix_web::test]
async fn only_post_is_routed_and_bodies_are_bounded() {
    let app = spawn_app().await;
    let r = app.call("GET", "/webhooks/stripe", None, None).await;
    assert_eq!(r.status, 405, "{}", r.text);
    let huge = vec![b' '; palisade_api::webhooks::stripe::MAX_STRIPE_BODY + 1];
    let r = app.stripe_webhook(&huge).await;
    r.assert_error(413, "payload_too_large");
    crate::openapi::assert_status_documented("/webhooks/stripe", &r);
}

#[actix_web::test]
async fn a_subscription_or_invoice_that_arrives_before_its_checkout_links_the_organization_named_in_its_metadata()
 {
    let (app, a) = spawn_app_with_owner("Early").await;
    let b = app.signup("Already linked").await;
    let b_customer = link_customer(&app, &b).await;
    let b_before = billing_view(&app, &b).await;

    // Stripe sent customer.subscription.created before checkout.session.completed: the
    // subscription carries the organization id Palisade put in subscription_data.metadata.
    let customer = stripe_id("cus");
    let sub = stripe_id("sub");
    let mut object = subscription(&sub, &customer, "active", "pro", 1);
    object["metadata"] = json!({"organization_id": a.org_id});
    deliver(&app, "customer.subscription.created", T0, object).await;
    assert_eq!(stored_customer(&app, &a).await, Some(customer.clone()));
    let view = billing_view(&app, &a).await;
    assert_eq!(view["subscription"]["status"], "active", "{view}");
    // The checkout that follows finds the link in place and changes nothing else.
    deliver(
        &app,
        "checkout.session.completed",
        T0 + 1,
        checkout(&a.org_id, &customer),
    )
    .await;
    assert_eq!(billing_view(&app, &a).await, view);

    // An invoice (basil shape: parent.subscription_details.metadata) for another new customer
    // naming B, which already has its own customer: metadata never moves an organization to
    // another customer. Acknowledged, nothing written.
    let stranger = stripe_id("cus");
    let mut object = invoice(&stripe_id("in"), &stranger, &stripe_id("sub"), "paid");
    object["subscription"] = Value::Null;
    object["parent"] = json!({"type": "subscription_details",
        "subscription_details": {"subscription": stripe_id("sub"), "metadata": {"organization_id": b.org_id}}});
    deliver(&app, "invoice.paid", T0, object).await;
    assert_eq!(stored_customer(&app, &b).await, Some(b_customer));
    assert_eq!(billing_view(&app, &b).await, b_before);
}

#[actix_web::test]
async fn checkouts_created_and_updated_events_of_the_same_second_never_leave_it_incomplete() {
    let (app, a) = spawn_app_with_owner("Same second").await;
    let customer = link_customer(&app, &a).await;
    let sub = stripe_id("sub");
    // Checkout: customer.subscription.created (incomplete) and .updated (active) share a second,
    // and the updated one is delivered first.
    for status in ["active", "incomplete"] {
        let event_type = if status == "active" {
            "customer.subscription.updated"
        } else {
            "customer.subscription.created"
        };
        deliver(
            &app,
            event_type,
            T0 + 5,
            subscription(&sub, &customer, status, "pro", 1),
        )
        .await;
    }
    let view = billing_view(&app, &a).await;
    assert_eq!(view["subscription"]["status"], "active", "{view}");
    assert_eq!(view["plan_status"], "active", "{view}");
    // A later status of the same second still applies (the later arrival wins among them).
    deliver(
        &app,
        "customer.subscription.updated",
        T0 + 5,
        subscription(&sub, &customer, "past_due", "pro", 1),
    )
    .await;
    assert_eq!(billing_view(&app, &a).await["plan_status"], "past_due");
}

/// invoice.paid reaches the organization's outbound webhook from the Stripe path's own
/// transaction (palisade_billing, which has no privilege on the outbox: the trigger goes through
/// palisade_private.emit_invoice_paid), once, however often Stripe repeats the event.
#[actix_web::test]
async fn a_paid_invoice_is_delivered_to_the_organizations_webhook_once() {
    use palisade_test_support::receiver::{Receiver, Reply, TestCa, test_worker};
    let (app, a) = spawn_app_with_owner("Acme").await;
    let b = app.signup("Globex").await;
    let ca = TestCa::new();
    let (ra, rb) = (
        Receiver::start(&ca, Reply::Status(200)).await,
        Receiver::start(&ca, Reply::Status(200)).await,
    );
    app.create(
        &a,
        "/v1/webhooks",
        json!({"url": ra.url(), "event_types": ["invoice.paid"]}),
    )
    .await;
    app.create(
        &b,
        "/v1/webhooks",
        json!({"url": rb.url(), "event_types": ["invoice.paid"]}),
    )
    .await;
    let customer = link_customer(&app, &a).await;
    let sub_id = stripe_id("sub");
    let in_id = stripe_id("in");
    deliver(
        &app,
        "invoice.finalized",
        T0,
        invoice(&in_id, &customer, &sub_id, "open"),
    )
    .await;
    let paid = event(
        &stripe_id("evt"),
        "invoice.paid",
        T0 + 1,
        invoice(&in_id, &customer, &sub_id, "paid"),
    );
    accepted(&app, &paid).await;
    accepted(&app, &paid).await;
    let worker = test_worker(
        app.pool.clone(),
        std::sync::Arc::new(app.clock.clone()),
        &ca,
        &[&ra, &rb],
        &[],
        true,
    );
    let cycle = worker.run_once().await.expect("cycle");
    assert_eq!(cycle.succeeded, 1);
    let got = ra.received();
    assert_eq!(got.len(), 1);
    let body = got[0].json();
    assert_eq!(body["type"], "invoice.paid");
    let invoices = billing_view(&app, &a).await["invoices"].clone();
    assert_eq!(body["data"]["id"], invoices[0]["id"]);
    assert_eq!(body["data"]["amount_paid_cents"], 8700);
    assert_eq!(body["data"]["currency"], "usd");
    assert!(
        rb.received().is_empty(),
        "another organization's webhook hears nothing"
    );
}

/// The backends of the billing pool on `db`, as the superuser sees them.
async fn billing_backends(su: &tokio_postgres::Client, db: &str) -> Vec<i32> {
    su.query(
        "SELECT pid FROM pg_stat_activity
          WHERE datname = $1 AND application_name = $2 ORDER BY pid",
        &[&db, &palisade_db::stripe::BILLING_APPLICATION_NAME],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// A checkout for an organization that does not exist, applied through `pool`: it reads the
/// database (on one of the pool's connections) and writes nothing.
async fn apply_a_checkout_for_no_organization(pool: &BillingPool) {
    let body = event(
        &stripe_id("evt"),
        "checkout.session.completed",
        T0,
        checkout(&Uuid::new_v4().to_string(), &stripe_id("cus")),
    );
    let event = palisade_domain::stripe::StripeEvent::parse(&body).unwrap();
    let outcome = pool.apply_stripe_event(&event).await.unwrap();
    assert_eq!(outcome, palisade_db::StripeOutcome::UnknownOrganization);
}

/// The HTTP workers share the billing pool, so a Stripe event is often applied on a connection
/// another worker's thread opened and drives, which a graceful stop ends with that worker.
/// Settled for the stop (as the app pool is), the pool uses only connections its thread drives.
#[tokio::test]
async fn a_billing_pool_settled_for_a_stop_uses_only_connections_its_thread_drives() {
    let db = palisade_test_support::TestDb::new().await;
    let billing = db.billing_pool();
    let su = db.superuser_client().await;
    // Another thread (a worker) applies an event: the pool's connection is opened there, and
    // driven there while the thread keeps its runtime.
    let (applied, on_the_other) = std::sync::mpsc::channel();
    let (done, until_done) = std::sync::mpsc::channel::<()>();
    let other = {
        let billing = billing.clone();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    apply_a_checkout_for_no_organization(&billing).await;
                    applied.send(()).unwrap();
                    tokio::task::spawn_blocking(move || {
                        let _ = until_done.recv();
                    })
                    .await
                    .unwrap();
                });
        })
    };
    on_the_other.recv().unwrap();
    let opened = billing_backends(&su, &db.name).await;
    assert_eq!(opened.len(), 1);
    // This thread uses that connection...
    apply_a_checkout_for_no_organization(&billing).await;
    assert_eq!(billing_backends(&su, &db.name).await, opened);
    assert_eq!(billing.in_use_across_threads(), 0);
    // ...until the pool is settled for a stop: then it closes it and opens its own.
    assert!(billing.settle_for_stop(std::time::Duration::ZERO).await);
    apply_a_checkout_for_no_organization(&billing).await;
    let mut now = billing_backends(&su, &db.name).await;
    for _ in 0..500 {
        if now.len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        now = billing_backends(&su, &db.name).await;
    }
    assert!(now.len() == 1 && now != opened, "{opened:?} {now:?}");
    drop(done);
    other.join().unwrap();
}
