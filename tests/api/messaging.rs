//! Campaigns, messages, calls and the dashboard over HTTP: CRUD, validation, status rules,
//! filters and pagination, cross-tenant references, and the isolation seeder.
//!
//! What clients cannot do (mark a campaign sent, record a delivery, receive an SMS) is done here
//! the way the sender (not built yet) will: SQL as the app role,
//! inside the organization's context, under RLS.

use palisade_domain::Role;
use palisade_test_support::{Account, TestApp, TestResponse, spawn_app};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::isolation::{Item, Seeded};

const FUTURE: &str = "2099-01-31T09:00:00Z";
/// [`FUTURE`] as the API prints it (UTC, six fractional digits).
const FUTURE_AS_SERVED: &str = "2099-01-31T09:00:00.000000Z";
const LATER: &str = "2099-02-28T09:00:00Z";
/// [`LATER`] as the API prints it.
const LATER_AS_SERVED: &str = "2099-02-28T09:00:00.000000Z";
const PAST: &str = "2001-01-01T00:00:00Z";

/// The numbers these tests send from: the organization that [`signup_with_numbers`] creates
/// holds both, with both capabilities (outbound SMS and calls need one of the organization's
/// own numbers).
const OUR_NUMBER: &str = "+14155550100";
const OUR_OTHER_NUMBER: &str = "+14155550199";

/// Signs up `name` and has it claim [`OUR_NUMBER`] and [`OUR_OTHER_NUMBER`] from the inventory.
async fn signup_with_numbers(app: &TestApp, name: &str) -> Account {
    let acct = app.signup(name).await;
    for number in [OUR_NUMBER, OUR_OTHER_NUMBER] {
        app.claim_this_number(&acct, number, &["sms", "voice"])
            .await;
    }
    acct
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

fn ids(r: &TestResponse) -> Vec<String> {
    r.json["data"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {}", r.text))
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

fn fields(r: &TestResponse) -> Vec<String> {
    palisade_test_support::fields(&r.json)
}

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

/// Sets a row's status (text column) as the sender or a webhook would.
async fn set_status(app: &TestApp, acct: &Account, table: &str, row_id: &str, status: &str) {
    let n = app
        .execute_as(
            acct,
            &format!("UPDATE palisade.{table} SET status = $2 WHERE id = $1"),
            &[&uuid(row_id), &status],
        )
        .await;
    assert_eq!(n, 1, "{table} {row_id} not updated");
}

/// The three kinds of campaign: (collection path, table, a valid create body, a content edit).
fn channels() -> [(&'static str, &'static str, Value, Value); 3] {
    [
        (
            "/v1/email-campaigns",
            "email_campaigns",
            json!({"name": "Spring", "subject": "Hello", "body": "Dear customer,\nhello."}),
            json!({"subject": "Hello again"}),
        ),
        (
            "/v1/sms-campaigns",
            "sms_campaigns",
            json!({"name": "Spring", "body": "Hello!", "from_number": "+14155550100"}),
            json!({"body": "Hello again!"}),
        ),
        (
            "/v1/voice-campaigns",
            "voice_campaigns",
            json!({"name": "Spring", "script": "Say hello."}),
            json!({"script": "Say hello again."}),
        ),
    ]
}

#[actix_web::test]
async fn campaigns_crud_for_every_channel() {
    let app = spawn_app().await;
    let a = signup_with_numbers(&app, "Acme").await;
    for (collection, _, body, edit) in channels() {
        let c = app.create(&a, collection, body.clone()).await;
        assert_eq!(c["status"], "draft", "{collection}");
        assert_eq!(c["scheduled_at"], Value::Null);
        assert_eq!(c["name"], "Spring");
        let path = format!("{collection}/{}", id(&c));

        let r = app.get(&a, &path).await;
        assert_eq!((r.status, &r.json), (200, &c), "{path}");

        let r = app.patch(&a, &path, &edit.clone()).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        for (k, v) in edit.as_object().unwrap() {
            assert_eq!(&r.json[k], v, "{path} {k}");
        }
        assert_eq!(r.json["name"], "Spring", "untouched fields stay");

        let r = app.get(&a, collection).await;
        assert_eq!(ids(&r), vec![id(&c).to_owned()], "{collection}");

        let r = app.delete(&a, &path).await;
        assert_eq!(r.status, 204, "{path}: {}", r.text);
        let r = app.get(&a, &path).await;
        assert_eq!(r.status, 404);
        let r = app.delete(&a, &path).await;
        assert_eq!(r.status, 404);
    }
    // Email campaigns carry their counters, zero until the sender and webhooks count.
    let c = app
        .create(&a, "/v1/email-campaigns", channels()[0].2.clone())
        .await;
    assert_eq!(
        c["counts"],
        json!({"sent": 0, "delivered": 0, "opened": 0, "clicked": 0, "bounced": 0, "failed": 0})
    );
    let c = app
        .create(&a, "/v1/sms-campaigns", channels()[1].2.clone())
        .await;
    assert_eq!(
        c["counts"],
        json!({"sent": 0, "delivered": 0, "undelivered": 0, "failed": 0})
    );
    // A voice campaign's script is optional and can be cleared.
    let v = app
        .create(&a, "/v1/voice-campaigns", json!({"name": "No script yet"}))
        .await;
    assert_eq!(v["script"], Value::Null);
    let path = format!("/v1/voice-campaigns/{}", id(&v));
    let r = app.patch(&a, &path, &json!({"script": "Hi."})).await;
    assert_eq!(r.json["script"], "Hi.");
    let r = app.patch(&a, &path, &json!({"script": null})).await;
    assert_eq!(r.json["script"], Value::Null);
}

#[actix_web::test]
async fn campaign_input_is_validated() {
    let app = spawn_app().await;
    let a = signup_with_numbers(&app, "Acme").await;
    // (path, body, expected fields of the 422)
    let cases = [
        (
            "/v1/email-campaigns",
            json!({}),
            vec!["name", "subject", "body"],
        ),
        (
            "/v1/email-campaigns",
            json!({"name": " ", "subject": "two\nlines", "body": "x"}),
            vec!["name", "subject"],
        ),
        (
            "/v1/sms-campaigns",
            json!({"name": "x", "body": "x", "from_number": "12345"}),
            vec!["from_number"],
        ),
        (
            "/v1/sms-campaigns",
            json!({"name": "x", "body": "x".repeat(1601), "from_number": "+14155550100"}),
            vec!["body"],
        ),
        (
            "/v1/voice-campaigns",
            json!({"name": "x", "status": "sending"}),
            vec!["status"],
        ),
        (
            "/v1/voice-campaigns",
            json!({"name": "x", "status": "paused"}),
            vec!["status"],
        ),
        (
            "/v1/voice-campaigns",
            json!({"name": "x", "status": "scheduled"}),
            vec!["scheduled_at"],
        ),
        (
            "/v1/voice-campaigns",
            json!({"name": "x", "status": "scheduled", "scheduled_at": PAST}),
            vec!["scheduled_at"],
        ),
        (
            "/v1/voice-campaigns",
            json!({"name": "x", "scheduled_at": "tomorrow"}),
            vec!["scheduled_at"],
        ),
    ];
    for (path, body, expected) in cases {
        let r = app.post(&a, path, &body.clone()).await;
        assert_eq!(r.status, 422, "{path} {body}: {}", r.text);
        assert_eq!(fields(&r), expected, "{path} {body}");
    }
    for (path, body, expected) in [
        (
            "/v1/email-campaigns",
            json!({"name": "x", "subject": "x", "body": "x", "from": "me"}),
            (400, Some("unknown_field")),
        ),
        (
            "/v1/voice-campaigns",
            json!({"name": 5}),
            (422, Some("validation_failed")),
        ),
    ] {
        let r = app.post(&a, path, &body).await;
        assert_eq!((r.status, r.json["error"].as_str()), expected, "{path}");
    }
    let v = app
        .create(&a, "/v1/voice-campaigns", json!({"name": "x"}))
        .await;
    let path = format!("/v1/voice-campaigns/{}", id(&v));
    let r = app
        .patch(&a, &path, &json!({"name": null, "status": null}))
        .await;
    assert_eq!(
        (r.status, fields(&r)),
        (422, vec!["name".to_owned(), "status".to_owned()])
    );
    for bad in [
        "/v1/email-campaigns/42",
        "/v1/sms-campaigns/nope",
        "/v1/calls/x",
        "/v1/email-messages/1",
    ] {
        let r = app.get(&a, bad).await;
        r.assert_error_at(400, "invalid_id", format_args!("{bad}"));
    }
    for bad in [
        "/v1/email-campaigns?status=done",
        "/v1/calls?direction=up",
        "/v1/sms-messages?created_after=yesterday",
        "/v1/email-messages?customer_id=1",
        "/v1/dashboard/stats?created_before=2020",
    ] {
        let r = app.get(&a, bad).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text);
    }
    let r = app.request_as(&a, "PUT", "/v1/calls", None, &[]).await;
    assert_eq!(r.status, 405);
    // Nothing was written by the refused requests.
    for path in ["/v1/email-campaigns", "/v1/sms-campaigns"] {
        let r = app.get(&a, path).await;
        assert_eq!(r.json["data"], json!([]), "{path}");
    }
}

#[actix_web::test]
async fn campaign_status_transitions_are_enforced_for_every_channel() {
    let app = spawn_app().await;
    let a = signup_with_numbers(&app, "Acme").await;
    for (collection, table, body, edit) in channels() {
        let c = app.create(&a, collection, body.clone()).await;
        let path = format!("{collection}/{}", id(&c));
        let patch = |b: Value| {
            let (app, a, path) = (&app, &a, path.clone());
            async move { app.patch(a, &path, &b).await }
        };

        // draft -> scheduled needs a future scheduled_at.
        let r = patch(json!({"status": "scheduled"})).await;
        assert_eq!(
            (r.status, fields(&r)),
            (422, vec!["scheduled_at".to_owned()]),
            "{collection}"
        );
        let r = patch(json!({"status": "scheduled", "scheduled_at": PAST})).await;
        assert_eq!(r.status, 422, "{collection}");
        let r = patch(json!({"status": "scheduled", "scheduled_at": FUTURE})).await;
        assert_eq!(r.status, 200, "{collection}: {}", r.text);
        assert_eq!(
            (r.json["status"].as_str(), r.json["scheduled_at"].as_str()),
            (Some("scheduled"), Some(FUTURE_AS_SERVED))
        );
        // Rescheduling and editing a scheduled campaign are fine; unscheduling it is not
        // possible by clearing the time while it stays scheduled.
        let r = patch(json!({"scheduled_at": LATER})).await;
        assert_eq!(r.json["scheduled_at"], LATER_AS_SERVED, "{collection}");
        let r = patch(edit.clone()).await;
        assert_eq!(r.status, 200, "{collection}");
        let r = patch(json!({"scheduled_at": null})).await;
        assert_eq!(
            (r.status, fields(&r)),
            (422, vec!["scheduled_at".to_owned()]),
            "{collection}"
        );
        let r = patch(json!({"status": "draft"})).await;
        assert_eq!(r.json["status"], "draft", "{collection}");

        // draft -> sending: content is frozen, only cancelling remains.
        let r = patch(json!({"status": "sending"})).await;
        assert_eq!(r.json["status"], "sending", "{collection}");
        let r = patch(edit.clone()).await;
        r.assert_error_at(409, "campaign_not_editable", format_args!("{collection}"));
        for to in ["draft", "scheduled", "sent"] {
            let r = patch(json!({"status": to})).await;
            r.assert_error_at(
                409,
                "invalid_status_transition",
                format_args!("{collection} sending -> {to}"),
            );
            assert!(r.json["message"].as_str().unwrap().contains("sending"));
        }
        let r = app.delete(&a, &path).await;
        r.assert_error_at(409, "campaign_not_deletable", format_args!("{collection}"));

        // The sender marks it sent: no edit, no transition, no deletion.
        set_status(&app, &a, table, id(&c), "sent").await;
        let r = patch(json!({"name": "Renamed"})).await;
        r.assert_error_at(409, "campaign_not_editable", format_args!("{collection}"));
        let r = patch(json!({"status": "cancelled"})).await;
        r.assert_error_at(
            409,
            "invalid_status_transition",
            format_args!("{collection}"),
        );
        let r = app.delete(&a, &path).await;
        assert_eq!(r.status, 409, "{collection}");
        let r = app.get(&a, &path).await;
        assert_eq!(
            (r.json["status"].as_str(), r.json["name"].as_str()),
            (Some("sent"), Some("Spring"))
        );

        // Cancelling is final, and a cancelled campaign can be deleted.
        let c = app.create(&a, collection, body.clone()).await;
        let path = format!("{collection}/{}", id(&c));
        let r = app.patch(&a, &path, &json!({"status": "cancelled"})).await;
        assert_eq!(r.json["status"], "cancelled", "{collection}");
        let r = app.patch(&a, &path, &json!({"status": "draft"})).await;
        assert_eq!(r.status, 409, "{collection}");
        let r = app.delete(&a, &path).await;
        assert_eq!(r.status, 204, "{collection}");

        // Created scheduled.
        let mut scheduled = body.clone();
        scheduled["status"] = json!("scheduled");
        scheduled["scheduled_at"] = json!(FUTURE);
        let c = app.create(&a, collection, scheduled).await;
        assert_eq!(
            (c["status"].as_str(), c["scheduled_at"].as_str()),
            (Some("scheduled"), Some(FUTURE_AS_SERVED))
        );
    }
}

#[actix_web::test]
async fn campaign_lists_filter_and_paginate() {
    let app = spawn_app().await;
    let a = signup_with_numbers(&app, "Acme").await;
    for (collection, table, body, _) in channels() {
        let mut created = Vec::new();
        for i in 0..5 {
            let mut body = body.clone();
            body["name"] = json!(format!("c{i}"));
            let c = app.create(&a, collection, body).await;
            created.push(id(&c).to_owned());
        }
        set_status(&app, &a, table, &created[1], "sent").await;
        set_status(&app, &a, table, &created[3], "sent").await;
        created.reverse();

        assert_eq!(
            app.walk_ids(&a, collection, 2).await,
            created,
            "{collection}: every campaign once, newest first"
        );

        let r = app.get(&a, &format!("{collection}?status=sent")).await;
        assert_eq!(ids(&r), vec![created[1].clone(), created[3].clone()]);
        let r = app
            .get(&a, &format!("{collection}?status=sent&limit=1"))
            .await;
        assert_eq!(ids(&r), vec![created[1].clone()]);
        let cur = r.json["next_cursor"].as_str().unwrap().to_owned();
        let r = app
            .get(
                &a,
                &format!("{collection}?status=sent&limit=1&cursor={cur}"),
            )
            .await;
        assert_eq!(ids(&r), vec![created[3].clone()]);
        assert_eq!(r.json["next_cursor"], Value::Null);

        // The creation window: everything is after 2001 and before 2099; nothing after 2099.
        let window = format!("{collection}?created_after={PAST}&created_before={FUTURE}");
        let r = app.get(&a, &window).await;
        assert_eq!(ids(&r).len(), 5, "{collection}");
        let r = app
            .get(&a, &format!("{collection}?created_after={FUTURE}"))
            .await;
        assert_eq!(ids(&r), Vec::<String>::new());
        // A `+` offset survives form decoding (it arrives as a space).
        let before = format!("{collection}?created_before=2001-01-01T00:00:00+02:00");
        let r = app.get(&a, &before).await;
        assert_eq!((r.status, ids(&r).len()), (200, 0), "{}", r.text);
        let after = format!("{collection}?created_after=2001-01-01T00:00:00%2B02:00");
        let r = app.get(&a, &after).await;
        assert_eq!((r.status, ids(&r).len()), (200, 5), "{}", r.text);
        // The creation window splits the list exactly at a campaign's own created_at.
        let middle = app.get(&a, &format!("{collection}/{}", created[2])).await;
        let at = middle.json["created_at"].as_str().unwrap().to_owned();
        let r = app
            .get(&a, &format!("{collection}?created_before={at}"))
            .await;
        assert_eq!(ids(&r), created[3..].to_vec());
        // created_after is inclusive: the campaign created at that instant is in.
        let r = app
            .get(&a, &format!("{collection}?created_after={at}"))
            .await;
        assert_eq!(ids(&r), created[..3].to_vec());
    }
}

/// A channel whose campaigns have recipients (email, SMS), for the rules both follow.
struct Recipients {
    /// The campaigns' collection, and a valid create body.
    campaigns: &'static str,
    campaign: Value,
    /// Every message of the channel, and their table.
    messages: &'static str,
    table: &'static str,
    /// A recipient's address field.
    address: &'static str,
    /// The customer field holding that address, and a customer's address (as stored).
    contact: (&'static str, &'static str),
    /// The same customer's address typed differently by a client (the same recipient).
    contact_typed: &'static str,
    /// Another address as a client types it, and as stored.
    typed: (&'static str, &'static str),
    /// Three more valid addresses, and an invalid one.
    more: [&'static str; 3],
    invalid: &'static str,
    /// The fields a new queued recipient has null.
    unset: &'static [&'static str],
}

fn recipient_channels() -> [Recipients; 2] {
    [
        Recipients {
            campaigns: "/v1/email-campaigns",
            campaign: channels()[0].2.clone(),
            messages: "/v1/email-messages",
            table: "email_messages",
            address: "to_email",
            contact: ("email", "ada@example.com"),
            contact_typed: "ADA@example.com",
            typed: ("Grace@Example.com", "grace@example.com"),
            more: ["bob@example.com", "x@example.com", "late@example.com"],
            invalid: "nope",
            unset: &[
                "provider_message_id",
                "sent_at",
                "delivered_at",
                "opened_at",
                "clicked_at",
                "failed_at",
            ],
        },
        Recipients {
            campaigns: "/v1/sms-campaigns",
            campaign: channels()[1].2.clone(),
            messages: "/v1/sms-messages",
            table: "sms_messages",
            address: "to_number",
            contact: ("phone", "+14155550123"),
            contact_typed: "+1 (415) 555-0123",
            typed: ("+44 20 7946 0958", "+442079460958"),
            more: ["+14155550111", "+14155550112", "+14155550113"],
            invalid: "12345",
            unset: &[
                "carrier_sid",
                "error_code",
                "sent_at",
                "delivered_at",
                "failed_at",
                "received_at",
            ],
        },
    ]
}

#[actix_web::test]
async fn recipients_belong_to_their_campaign_and_follow_its_status() {
    let app = spawn_app().await;
    let a = signup_with_numbers(&app, "Acme").await;
    for ch in recipient_channels() {
        let (addr, campaigns, messages) = (ch.address, ch.campaigns, ch.messages);
        let ada = app
            .create_customer(&a, json!({"name": "Ada", ch.contact.0: ch.contact.1}))
            .await;
        let bob = app.create_customer(&a, json!({"name": "Bob"})).await;
        let c1 = app.create(&a, campaigns, ch.campaign.clone()).await;
        let c2 = app.create(&a, campaigns, ch.campaign.clone()).await;
        let m1 = format!("{campaigns}/{}/messages", id(&c1));
        let m2 = format!("{campaigns}/{}/messages", id(&c2));

        // By customer (their address is used), by address, and both.
        let by_customer = app.create(&a, &m1, json!({"customer_id": id(&ada)})).await;
        assert_eq!(
            (
                by_customer[addr].as_str(),
                by_customer["customer_id"].as_str(),
                by_customer["status"].as_str()
            ),
            (Some(ch.contact.1), Some(id(&ada)), Some("queued")),
            "{campaigns}"
        );
        assert_eq!(by_customer["campaign_id"], c1["id"]);
        for k in ch.unset {
            assert_eq!(by_customer[k], Value::Null, "{campaigns} {k}");
        }
        let by_address = app.create(&a, &m1, json!({addr: ch.typed.0})).await;
        assert_eq!(
            (by_address[addr].as_str(), &by_address["customer_id"]),
            (Some(ch.typed.1), &Value::Null),
            "{campaigns}"
        );
        let both = app
            .create(&a, &m1, json!({"customer_id": id(&bob), addr: ch.more[0]}))
            .await;
        let in_c2 = app.create(&a, &m2, json!({addr: ch.contact.1})).await;

        // One row per recipient per campaign.
        let r = app.post(&a, &m1, &json!({addr: ch.contact_typed})).await;
        r.assert_error_at(409, "recipient_exists", format_args!("{campaigns}"));
        // A customer without an address needs one; neither given is refused, and so is an
        // invalid one.
        for body in [
            json!({"customer_id": id(&bob)}),
            json!({}),
            json!({addr: ch.invalid}),
        ] {
            let r = app.post(&a, &m2, &body.clone()).await;
            assert_eq!(
                (r.status, fields(&r)),
                (422, vec![addr.to_owned()]),
                "{campaigns} {body}"
            );
        }

        // Each campaign lists its own messages only, newest first.
        let r = app.get(&a, &m1).await;
        assert_eq!(ids(&r), vec![id(&both), id(&by_address), id(&by_customer)]);
        let r = app.get(&a, &m2).await;
        assert_eq!(ids(&r), vec![id(&in_c2)]);
        let r = app.get(&a, &format!("{m1}?customer_id={}", id(&ada))).await;
        assert_eq!(ids(&r), vec![id(&by_customer)]);
        let r = app.get(&a, &format!("{m1}?campaign_id={}", id(&c2))).await;
        assert_eq!(r.status, 422, "a campaign_id contradicting the path");
        let r = app
            .get(&a, &format!("{messages}?campaign_id={}", id(&c2)))
            .await;
        assert_eq!(ids(&r), vec![id(&in_c2)]);
        let r = app.get(&a, messages).await;
        assert_eq!(ids(&r).len(), 4, "{messages}");
        let missing = format!("{campaigns}/{}/messages", Uuid::now_v7());
        let r = app.get(&a, &missing).await;
        assert_eq!(r.status, 404);
        let r = app.post(&a, &missing, &json!({addr: ch.more[1]})).await;
        assert_eq!(r.status, 404);

        // Delivery, as the webhooks will record it; then filters by status.
        set_status(&app, &a, ch.table, id(&by_address), "delivered").await;
        let r = app.get(&a, &format!("{m1}?status=delivered")).await;
        assert_eq!(ids(&r), vec![id(&by_address)]);
        let r = app.get(&a, &format!("{messages}?status=queued")).await;
        assert_eq!(ids(&r).len(), 3, "{messages}");

        // GET and DELETE of one message: only queued ones can be deleted.
        let path = format!("{messages}/{}", id(&by_address));
        let r = app.get(&a, &path).await;
        assert_eq!(
            (r.status, r.json["status"].as_str()),
            (200, Some("delivered"))
        );
        let r = app.delete(&a, &path).await;
        r.assert_error(409, "message_not_queued");
        let path = format!("{messages}/{}", id(&both));
        let r = app.delete(&a, &path).await;
        assert_eq!(r.status, 204);
        let r = app.get(&a, &path).await;
        assert_eq!(r.status, 404);

        // Once the campaign goes out, no more recipients.
        let c1_path = format!("{campaigns}/{}", id(&c1));
        let r = app.patch(&a, &c1_path, &json!({"status": "sending"})).await;
        assert_eq!(r.status, 200);
        let r = app.post(&a, &m1, &json!({addr: ch.more[2]})).await;
        r.assert_error_at(409, "campaign_not_editable", format_args!("{campaigns}"));

        // Deleting a customer keeps the message, unlinked; deleting a campaign removes its
        // messages.
        let r = app.delete(&a, &format!("/v1/customers/{}", id(&ada))).await;
        assert_eq!(r.status, 204);
        let r = app
            .get(&a, &format!("{messages}/{}", id(&by_customer)))
            .await;
        assert_eq!(
            (r.json["customer_id"].clone(), r.json[addr].as_str()),
            (Value::Null, Some(ch.contact.1))
        );
        let r = app.delete(&a, &format!("{campaigns}/{}", id(&c2))).await;
        assert_eq!(r.status, 204);
        let r = app.get(&a, &format!("{messages}/{}", id(&in_c2))).await;
        assert_eq!(r.status, 404);
    }
}

#[actix_web::test]
async fn sms_recipients_inbound_messages_and_the_direction_filter() {
    let app = spawn_app().await;
    let a = signup_with_numbers(&app, "Acme").await;
    let ada = app
        .create_customer(&a, json!({"name": "Ada", "phone": "+14155550123"}))
        .await;
    let c = app
        .create(
            &a,
            "/v1/sms-campaigns",
            json!({"name": "Promo", "body": "Sale!", "from_number": "+1 415 555 0100"}),
        )
        .await;
    assert_eq!(c["from_number"], "+14155550100");
    let msgs = format!("/v1/sms-campaigns/{}/messages", id(&c));

    let m = app
        .create(&a, &msgs, json!({"customer_id": id(&ada)}))
        .await;
    assert_eq!(
        (
            m["direction"].as_str(),
            m["from_number"].as_str(),
            m["to_number"].as_str(),
            m["body"].as_str(),
            m["status"].as_str()
        ),
        (
            Some("outbound"),
            Some("+14155550100"),
            Some("+14155550123"),
            Some("Sale!"),
            Some("queued")
        )
    );
    assert_eq!(
        (
            m["campaign_id"].as_str(),
            m["carrier_sid"].clone(),
            m["error_code"].clone()
        ),
        (Some(id(&c)), Value::Null, Value::Null)
    );
    let other = app
        .create(&a, &msgs, json!({"to_number": "+442079460958"}))
        .await;

    // Editing the campaign's text or number updates its queued messages.
    let r = app
        .patch(
            &a,
            &format!("/v1/sms-campaigns/{}", id(&c)),
            &json!({"body": "Bigger sale!", "from_number": "+14155550199"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.get(&a, &format!("/v1/sms-messages/{}", id(&m))).await;
    assert_eq!(
        (r.json["body"].as_str(), r.json["from_number"].as_str()),
        (Some("Bigger sale!"), Some("+14155550199"))
    );

    // An inbound SMS, as the Twilio webhook will write it: no campaign.
    let inbound = Uuid::now_v7();
    app.execute_as(&a,
        "INSERT INTO palisade.sms_messages (id, direction, from_number, to_number, body, status, carrier_sid, customer_id, received_at) \
         VALUES ($1, 'inbound', '+14155550123', '+14155550100', 'STOP', 'received', 'SM00000000000000000000000000000001', $2, now())",
        &[&inbound, &uuid(id(&ada))],
    )
    .await;
    let inbound = inbound.to_string();

    let r = app.get(&a, &msgs).await;
    assert_eq!(
        ids(&r),
        vec![id(&other), id(&m)],
        "a campaign lists its recipients only"
    );
    let r = app.get(&a, "/v1/sms-messages?direction=inbound").await;
    assert_eq!(ids(&r), vec![inbound.clone()]);
    assert_eq!(
        (
            r.json["data"][0]["campaign_id"].clone(),
            r.json["data"][0]["status"].as_str()
        ),
        (Value::Null, Some("received"))
    );
    let r = app.get(&a, "/v1/sms-messages?direction=outbound").await;
    assert_eq!(ids(&r), vec![id(&other), id(&m)]);
    let r = app
        .get(&a, &format!("/v1/sms-messages?customer_id={}", id(&ada)))
        .await;
    assert_eq!(ids(&r), vec![inbound.clone(), id(&m).to_owned()]);
    let r = app
        .get(
            &a,
            &format!("/v1/sms-messages?campaign_id={}&status=queued", id(&c)),
        )
        .await;
    assert_eq!(ids(&r).len(), 2);

    // Only queued messages can be deleted: not inbound ones, not sent ones.
    let r = app.delete(&a, &format!("/v1/sms-messages/{inbound}")).await;
    r.assert_error(409, "message_not_queued");
    set_status(&app, &a, "sms_messages", id(&other), "delivered").await;
    let r = app
        .delete(&a, &format!("/v1/sms-messages/{}", id(&other)))
        .await;
    assert_eq!(r.status, 409);
    let r = app
        .delete(&a, &format!("/v1/sms-messages/{}", id(&m)))
        .await;
    assert_eq!(r.status, 204);

    // A delivered message keeps its text when the campaign is edited (only queued ones follow).
    let r = app
        .patch(
            &a,
            &format!("/v1/sms-campaigns/{}", id(&c)),
            &json!({"body": "Final sale!"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .get(&a, &format!("/v1/sms-messages/{}", id(&other)))
        .await;
    assert_eq!(r.json["body"], "Bigger sale!");
}

#[actix_web::test]
async fn calls_crud_transitions_and_filters() {
    let app = spawn_app().await;
    let a = signup_with_numbers(&app, "Acme").await;
    let ada = app.create_customer(&a, json!({"name": "Ada"})).await;
    let vc = app
        .create(&a, "/v1/voice-campaigns", json!({"name": "Renewals"}))
        .await;

    let logged = app.create(&a, "/v1/calls", json!({
            "direction": "inbound", "from_number": "+14155550123", "to_number": "+14155550100",
            "call_sid": "CA00000000000000000000000000000001", "status": "completed",
            "duration_seconds": 95, "started_at": "2024-05-01T10:00:00Z", "ended_at": "2024-05-01T10:01:35Z",
            "customer_id": id(&ada), "notes": "Asked about pricing."
        }))
    .await;
    assert_eq!(
        (
            logged["status"].as_str(),
            logged["duration_seconds"].as_i64(),
            logged["call_sid"].as_str(),
            logged["last_sequence_number"].clone()
        ),
        (
            Some("completed"),
            Some(95),
            Some("CA00000000000000000000000000000001"),
            Value::Null
        )
    );
    let placed = app.create(&a, "/v1/calls", json!({"direction": "outbound", "from_number": "+14155550100", "to_number": "+14155550123", "voice_campaign_id": id(&vc)}))
    .await;
    assert_eq!(
        (placed["status"].as_str(), placed["started_at"].clone()),
        (Some("queued"), Value::Null)
    );
    let path = format!("/v1/calls/{}", id(&placed));

    // Forward only; in_progress records the start, a final status the end and the duration.
    let r = app.patch(&a, &path, &json!({"status": "ringing"})).await;
    assert_eq!(r.json["status"], "ringing");
    let r = app.patch(&a, &path, &json!({"status": "queued"})).await;
    r.assert_error(409, "invalid_status_transition");
    // One spelling: Twilio's `in-progress` is not ours, in a body or a filter.
    let r = app
        .patch(&a, &path, &json!({"status": "in-progress"}))
        .await;
    assert_eq!((r.status, fields(&r)), (422, vec!["status".to_owned()]));
    let r = app.get(&a, "/v1/calls?status=in-progress").await;
    assert_eq!((r.status, fields(&r)), (422, vec!["status".to_owned()]));
    let r = app
        .patch(&a, &path, &json!({"status": "in_progress"}))
        .await;
    assert!(r.json["started_at"].is_string(), "{}", r.text);
    let r = app.patch(&a, &path, &json!({"status": "busy"})).await;
    assert_eq!(r.status, 409, "an answered call was not busy");
    let r = app
        .patch(
            &a,
            &path,
            &json!({"status": "completed", "notes": "Renewed."}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["ended_at"].is_string());
    assert!(
        r.json["duration_seconds"].as_i64().is_some_and(|d| d >= 0),
        "{}",
        r.text
    );
    assert_eq!(r.json["notes"], "Renewed.");
    let r = app
        .patch(&a, &path, &json!({"status": "in_progress"}))
        .await;
    assert_eq!(r.status, 409, "completed is final");
    // Notes, customer and duration stay editable; null clears notes and customer.
    let r = app
        .patch(
            &a,
            &path,
            &json!({"notes": null, "customer_id": id(&ada), "duration_seconds": 60}),
        )
        .await;
    assert_eq!(
        (
            r.json["notes"].clone(),
            r.json["customer_id"].as_str(),
            r.json["duration_seconds"].as_i64()
        ),
        (Value::Null, Some(id(&ada)), Some(60))
    );
    let r = app.patch(&a, &path, &json!({"customer_id": null})).await;
    assert_eq!(r.json["customer_id"], Value::Null);

    // Validation.
    let r = app.post(&a, "/v1/calls", &json!({"direction": "sideways", "from_number": "555", "to_number": "+14155550123", "status": "done", "duration_seconds": -1})).await;
    assert_eq!(
        (r.status, fields(&r)),
        (
            422,
            vec!["direction", "from_number", "status", "duration_seconds"]
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>()
        )
    );
    let r = app.post(&a, "/v1/calls", &json!({"direction": "inbound", "from_number": "+14155550123", "to_number": "+14155550100", "started_at": "2024-05-01T10:00:00Z", "ended_at": "2024-05-01T09:00:00Z", "call_sid": "has space"})).await;
    assert_eq!(
        (r.status, fields(&r)),
        (422, vec!["call_sid".to_owned(), "ended_at".to_owned()])
    );
    let r = app.post(&a, "/v1/calls", &json!({})).await;
    assert_eq!(fields(&r), vec!["direction", "from_number", "to_number"]);
    let r = app
        .patch(&a, &path, &json!({"duration_seconds": 86401}))
        .await;
    assert_eq!(
        (r.status, fields(&r)),
        (422, vec!["duration_seconds".to_owned()])
    );
    let r = app
        .patch(&a, &path, &json!({"duration_seconds": null}))
        .await;
    assert_eq!(r.status, 422);

    // A call SID is unique within an organization (another organization may hold the same).
    let dup = json!({"direction": "inbound", "from_number": "+14155550123", "to_number": "+14155550100", "call_sid": "CA00000000000000000000000000000001"});
    let r = app.post(&a, "/v1/calls", &dup.clone()).await;
    r.assert_taken("call_sid_taken", "call_sid");
    let b = app.signup("Other").await;
    app.create(&b, "/v1/calls", dup).await;

    // Filters.
    let r = app.get(&a, "/v1/calls?direction=outbound").await;
    assert_eq!(ids(&r), vec![id(&placed)]);
    let r = app
        .get(&a, "/v1/calls?direction=inbound&status=completed")
        .await;
    assert_eq!(ids(&r), vec![id(&logged)]);
    let r = app
        .get(&a, &format!("/v1/calls?voice_campaign_id={}", id(&vc)))
        .await;
    assert_eq!(ids(&r), vec![id(&placed)]);
    let r = app
        .get(&a, &format!("/v1/calls?customer_id={}", id(&ada)))
        .await;
    assert_eq!(ids(&r), vec![id(&logged)]);
    let r = app.get(&a, "/v1/calls?status=queued").await;
    assert_eq!(ids(&r), Vec::<String>::new());

    // Deleting the campaign or the customer keeps the calls, unlinked.
    let r = app
        .delete(&a, &format!("/v1/voice-campaigns/{}", id(&vc)))
        .await;
    assert_eq!(r.status, 204);
    let r = app.delete(&a, &format!("/v1/customers/{}", id(&ada))).await;
    assert_eq!(r.status, 204);
    let r = app.get(&a, &path).await;
    assert_eq!(
        (r.status, r.json["voice_campaign_id"].clone()),
        (200, Value::Null)
    );
    let r = app.get(&a, &format!("/v1/calls/{}", id(&logged))).await;
    assert_eq!(r.json["customer_id"], Value::Null);

    let r = app.delete(&a, &path).await;
    assert_eq!(r.status, 204);
    let r = app.get(&a, &path).await;
    assert_eq!(r.status, 404);
}

/// A call started as long ago as 0000-01-01 and ended now lasts more seconds than the column's
/// integer holds: its computed duration saturates at i32::MAX instead of failing the update
/// (once a 500, 22003), whether a client completes it or the carrier's callback does (which
/// Twilio would have retried forever).
#[actix_web::test]
async fn a_call_longer_than_an_integer_of_seconds_completes() {
    let app = spawn_app().await;
    let a = signup_with_numbers(&app, "Acme").await;
    let started_long_ago = json!({
        "direction": "inbound", "from_number": "+14155550123", "to_number": OUR_NUMBER,
        "status": "ringing", "started_at": "0000-01-01T00:00:00Z"
    });
    let by_client = app.create(&a, "/v1/calls", started_long_ago.clone()).await;
    let path = format!("/v1/calls/{}", id(&by_client));
    let r = app.patch(&a, &path, &json!({"status": "completed"})).await;
    assert_eq!(
        (r.status, r.json["duration_seconds"].as_i64()),
        (200, Some(i64::from(i32::MAX))),
        "{}",
        r.text
    );

    let by_carrier = app.create(&a, "/v1/calls", started_long_ago).await;
    let sid = format!("CA{}", Uuid::new_v4().simple());
    let r = app
        .twilio(
            &format!("/webhooks/twilio/voice/status?call_id={}", id(&by_carrier)),
            &[
                ("CallSid", sid.as_str()),
                ("CallStatus", "completed"),
                ("Direction", "inbound"),
                ("From", "+14155550123"),
                ("To", OUR_NUMBER),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.get(&a, &format!("/v1/calls/{}", id(&by_carrier))).await;
    assert_eq!(
        (
            r.json["status"].as_str(),
            r.json["duration_seconds"].as_i64()
        ),
        (Some("completed"), Some(i64::from(i32::MAX))),
        "{}",
        r.text
    );
}

#[actix_web::test]
async fn another_organizations_customer_or_campaign_is_refused_like_a_missing_one() {
    let app = spawn_app().await;
    let a = signup_with_numbers(&app, "Tenant A").await;
    let b = app.signup("Tenant B").await;
    let b_customer = app
        .create_customer(
            &b,
            json!({"name": "Bob of B", "email": "bob@b.example", "phone": "+14155550177"}),
        )
        .await;
    let b_campaign = app
        .create(&b, "/v1/voice-campaigns", json!({"name": "B's"}))
        .await;
    let theirs = id(&b_customer).to_owned();
    let missing = Uuid::now_v7().to_string();
    let email_c = app
        .create(&a, "/v1/email-campaigns", channels()[0].2.clone())
        .await;
    let sms_c = app
        .create(&a, "/v1/sms-campaigns", channels()[1].2.clone())
        .await;
    let a_call = app.create(&a, "/v1/calls", json!({"direction": "outbound", "from_number": "+14155550100", "to_number": "+14155550123"})).await;

    // (method, path, body with a customer or campaign id) — answered the same for B's id and
    // for an id that exists nowhere.
    let cases = |other: &str| -> Vec<(&'static str, String, Value)> {
        vec![
            (
                "POST",
                format!("/v1/email-campaigns/{}/messages", id(&email_c)),
                json!({"customer_id": other}),
            ),
            (
                "POST",
                format!("/v1/email-campaigns/{}/messages", id(&email_c)),
                json!({"customer_id": other, "to_email": "x@example.com"}),
            ),
            (
                "POST",
                format!("/v1/sms-campaigns/{}/messages", id(&sms_c)),
                json!({"customer_id": other}),
            ),
            (
                "POST",
                format!("/v1/sms-campaigns/{}/messages", id(&sms_c)),
                json!({"customer_id": other, "to_number": "+14155550123"}),
            ),
            (
                "POST",
                "/v1/calls".into(),
                json!({"direction": "outbound", "from_number": "+14155550100", "to_number": "+14155550123", "customer_id": other}),
            ),
            (
                "PATCH",
                format!("/v1/calls/{}", id(&a_call)),
                json!({"customer_id": other}),
            ),
        ]
    };
    for ((method, path, body), (_, _, missing_body)) in
        cases(&theirs).into_iter().zip(cases(&missing))
    {
        let with_theirs = app
            .request_as(&a, method, &path, Some(&body.clone()), &[])
            .await;
        let with_missing = app
            .request_as(&a, method, &path, Some(&missing_body), &[])
            .await;
        assert_eq!(
            with_theirs.status, 422,
            "{method} {path} {body}: {}",
            with_theirs.text
        );
        assert_eq!(
            (with_theirs.status, &with_theirs.json),
            (with_missing.status, &with_missing.json),
            "{method} {path} {body}"
        );
        assert_eq!(fields(&with_theirs), vec!["customer_id"]);
    }
    for other in [id(&b_campaign), missing.as_str()] {
        let r = app.post(&a, "/v1/calls", &json!({"direction": "outbound", "from_number": "+14155550100", "to_number": "+14155550123", "voice_campaign_id": other})).await;
        assert_eq!(
            (r.status, fields(&r)),
            (422, vec!["voice_campaign_id".to_owned()]),
            "{}",
            r.text
        );
    }
    // Nothing was written.
    for path in [
        format!("/v1/email-campaigns/{}/messages", id(&email_c)),
        format!("/v1/sms-campaigns/{}/messages", id(&sms_c)),
    ] {
        let r = app.get(&a, &path).await;
        assert_eq!(r.json["data"], json!([]), "{path}");
    }
    let r = app.get(&a, "/v1/calls").await;
    assert_eq!(ids(&r), vec![id(&a_call)]);
    assert_eq!(r.json["data"][0]["customer_id"], Value::Null);
    // B's campaign itself is 404 to A.
    let r = app
        .get(&a, &format!("/v1/voice-campaigns/{}", id(&b_campaign)))
        .await;
    assert_eq!(r.status, 404);
}

#[actix_web::test]
async fn members_run_campaigns_and_log_calls() {
    // Decision: every role writes campaigns, messages and calls (like customers).
    let app = spawn_app().await;
    let owner = signup_with_numbers(&app, "Acme").await;
    let member = app.add_user(&owner, Role::Member).await;
    for (collection, _, body, edit) in channels() {
        let c = app.create(&member, collection, body).await;
        let path = format!("{collection}/{}", id(&c));
        let r = app.patch(&member, &path, &edit).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        let r = app.get(&owner, &path).await;
        assert_eq!(r.status, 200, "the owner reads the member's campaign");
        let r = app.delete(&member, &path).await;
        assert_eq!(r.status, 204, "{path}");
    }
    let c = app
        .create(&owner, "/v1/email-campaigns", channels()[0].2.clone())
        .await;
    let m = app
        .create(
            &member,
            &format!("/v1/email-campaigns/{}/messages", id(&c)),
            json!({"to_email": "x@example.com"}),
        )
        .await;
    let r = app
        .delete(&member, &format!("/v1/email-messages/{}", id(&m)))
        .await;
    assert_eq!(r.status, 204);
    let k = app.create(&member, "/v1/calls", json!({"direction": "inbound", "from_number": "+14155550123", "to_number": "+14155550100"}))
    .await;
    let r = app
        .patch(
            &member,
            &format!("/v1/calls/{}", id(&k)),
            &json!({"notes": "x"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app.get(&member, "/v1/dashboard/stats").await;
    assert_eq!(r.status, 200);
}

fn zeros(statuses: &[&str]) -> Value {
    Value::Object(
        statuses
            .iter()
            .map(|s| ((*s).to_owned(), json!(0)))
            .collect(),
    )
}

fn with(mut v: Value, counts: &[(&str, i64)]) -> Value {
    for (k, n) in counts {
        v[*k] = json!(n);
    }
    v
}

const CAMPAIGN_STATUSES: &[&str] = &["draft", "scheduled", "sending", "sent", "cancelled"];
const EMAIL_STATUSES: &[&str] = &[
    "queued",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "bounced",
    "dropped",
    "failed",
];
const SMS_STATUSES: &[&str] = &[
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "received",
];
/// A call's statuses, in their order (also the V0120 upgrade's target spellings).
pub(crate) const CALL_STATUSES: &[&str] = &[
    "queued",
    "ringing",
    "in_progress",
    "completed",
    "busy",
    "no_answer",
    "failed",
    "cancelled",
];

/// Gives `acct` known data: returns nothing; the expected figures are in the test.
async fn seed_dashboard_data(app: &TestApp, acct: &Account) {
    let from = app.claim_number(acct, &["sms", "voice"]).await;
    let e1 = app
        .create(acct, "/v1/email-campaigns", channels()[0].2.clone())
        .await;
    app.create(acct, "/v1/email-campaigns", channels()[0].2.clone())
        .await;
    let e1m = format!("/v1/email-campaigns/{}/messages", id(&e1));
    for (i, status) in [
        "delivered",
        "opened",
        "clicked",
        "bounced",
        "sent",
        "dropped",
        "failed",
        "queued",
    ]
    .iter()
    .enumerate()
    {
        let m = app
            .create(acct, &e1m, json!({"to_email": format!("r{i}@example.com")}))
            .await;
        set_status(app, acct, "email_messages", id(&m), status).await;
    }
    set_status(app, acct, "email_campaigns", id(&e1), "sent").await;

    let mut sms_body = channels()[1].2.clone();
    sms_body["from_number"] = json!(from);
    let s1 = app.create(acct, "/v1/sms-campaigns", sms_body).await;
    let s1m = format!("/v1/sms-campaigns/{}/messages", id(&s1));
    for (i, status) in [
        "delivered",
        "delivered",
        "delivered",
        "undelivered",
        "failed",
        "queued",
    ]
    .iter()
    .enumerate()
    {
        let m = app
            .create(acct, &s1m, json!({"to_number": format!("+1415555020{i}")}))
            .await;
        set_status(app, acct, "sms_messages", id(&m), status).await;
    }
    app.execute_as(
        acct,
        "INSERT INTO palisade.sms_messages (id, direction, from_number, to_number, body, status) \
         VALUES ($1, 'inbound', '+14155550123', '+14155550100', 'hi', 'received')",
        &[&Uuid::now_v7()],
    )
    .await;
    let r = app
        .patch(
            acct,
            &format!("/v1/sms-campaigns/{}", id(&s1)),
            &json!({"status": "sending"}),
        )
        .await;
    assert_eq!(r.status, 200);

    app.create(
        acct,
        "/v1/voice-campaigns",
        json!({"name": "v", "status": "scheduled", "scheduled_at": FUTURE}),
    )
    .await;
    for (status, secs) in [
        ("completed", Some(90)),
        ("completed", Some(45)),
        ("failed", Some(15)),
        ("busy", None),
        ("no_answer", None),
    ] {
        let mut body = json!({"direction": "outbound", "from_number": from, "to_number": "+14155550123", "status": status});
        if let Some(s) = secs {
            body["duration_seconds"] = json!(s);
        }
        app.create(acct, "/v1/calls", body).await;
    }
}

#[actix_web::test]
async fn the_dashboard_counts_known_data_of_this_organization_only() {
    let app = spawn_app().await;
    let a = signup_with_numbers(&app, "Acme").await;

    let empty = json!({
        "email": {"campaigns": zeros(CAMPAIGN_STATUSES), "messages": zeros(EMAIL_STATUSES), "sent": 0, "delivered": 0, "delivery_rate": null},
        "sms": {"campaigns": zeros(CAMPAIGN_STATUSES), "messages": zeros(SMS_STATUSES), "sent": 0, "delivered": 0, "delivery_rate": null},
        "voice": {"campaigns": zeros(CAMPAIGN_STATUSES), "calls": zeros(CALL_STATUSES), "total_calls": 0, "total_call_seconds": 0, "total_call_minutes": 0.0},
    });
    let r = app.get(&a, "/v1/dashboard/stats").await;
    assert_eq!((r.status, &r.json), (200, &empty), "{}", r.text);

    seed_dashboard_data(&app, &a).await;
    let expected = json!({
        "email": {
            "campaigns": with(zeros(CAMPAIGN_STATUSES), &[("draft", 1), ("sent", 1)]),
            "messages": with(zeros(EMAIL_STATUSES), &[("queued", 1), ("sent", 1), ("delivered", 1), ("opened", 1), ("clicked", 1), ("bounced", 1), ("dropped", 1), ("failed", 1)]),
            // sent: sent, delivered, opened, clicked, bounced; delivered: delivered, opened, clicked.
            "sent": 5, "delivered": 3, "delivery_rate": 0.6,
        },
        "sms": {
            "campaigns": with(zeros(CAMPAIGN_STATUSES), &[("sending", 1)]),
            "messages": with(zeros(SMS_STATUSES), &[("queued", 1), ("delivered", 3), ("undelivered", 1), ("failed", 1), ("received", 1)]),
            // sent: delivered, undelivered (failed never left; inbound is not sent).
            "sent": 4, "delivered": 3, "delivery_rate": 0.75,
        },
        "voice": {
            "campaigns": with(zeros(CAMPAIGN_STATUSES), &[("scheduled", 1)]),
            "calls": with(zeros(CALL_STATUSES), &[("completed", 2), ("failed", 1), ("busy", 1), ("no_answer", 1)]),
            "total_calls": 5, "total_call_seconds": 150, "total_call_minutes": 2.5,
        },
    });
    let r = app.get(&a, "/v1/dashboard/stats").await;
    assert_eq!(r.json, expected, "{}", r.text);
    let r = app
        .get(
            &a,
            &format!("/v1/dashboard/stats?created_after={PAST}&created_before={FUTURE}"),
        )
        .await;
    assert_eq!(r.json, expected);
    let r = app
        .get(&a, &format!("/v1/dashboard/stats?created_after={FUTURE}"))
        .await;
    assert_eq!(r.json, empty);
    let r = app
        .get(&a, &format!("/v1/dashboard/stats?created_before={PAST}"))
        .await;
    assert_eq!(r.json, empty);

    // Another organization with the same data changes nothing for A, and sees its own.
    let b = app.signup("Other").await;
    seed_dashboard_data(&app, &b).await;
    app.create(&b, "/v1/calls", json!({"direction": "inbound", "from_number": "+14155550123", "to_number": "+14155550100", "duration_seconds": 3600, "status": "completed"})).await;
    let r = app.get(&a, "/v1/dashboard/stats").await;
    assert_eq!(r.json, expected);
    let r = app.get(&b, "/v1/dashboard/stats").await;
    assert_eq!(
        (
            r.json["voice"]["total_calls"].as_i64(),
            r.json["voice"]["total_call_seconds"].as_i64()
        ),
        (Some(6), Some(3750))
    );
    assert_eq!(r.json["voice"]["total_call_minutes"], 62.5);
}

/// The isolation seeder: one row of every messaging table, each composite foreign key set.
pub async fn seed(app: &TestApp, acct: &Account, marker: &str) -> Seeded {
    let from = app.claim_number(acct, &["sms", "voice"]).await;
    let customer = app
        .create_customer(acct, json!({"name": format!("{marker} recipient"), "email": format!("{marker}@messaging.example"), "phone": "+14155550142"}))
        .await;
    let customer = id(&customer).to_owned();
    let campaign_patch = json!({"name": "changed by another tenant"});
    // (campaigns, a create body, and for email and SMS: every message, an intruding recipient)
    let channels = [
        (
            "/v1/email-campaigns",
            json!({"name": format!("{marker} email"), "subject": format!("{marker} subject"), "body": format!("{marker} body")}),
            Some((
                "/v1/email-messages",
                json!({"to_email": "intruder@example.com"}),
            )),
        ),
        (
            "/v1/sms-campaigns",
            json!({"name": format!("{marker} sms"), "body": format!("{marker} text"), "from_number": from}),
            Some(("/v1/sms-messages", json!({"to_number": "+14155550666"}))),
        ),
        (
            "/v1/voice-campaigns",
            json!({"name": format!("{marker} voice"), "script": format!("{marker} script")}),
            None,
        ),
    ];
    let mut items = Vec::new();
    let mut campaigns = Vec::new();
    for (collection, body, recipients) in channels {
        let c = id(&app.create(acct, collection, body).await).to_owned();
        items.push(Item {
            path: format!("{collection}/{c}"),
            writes: &["PATCH", "DELETE"],
            patch: campaign_patch.clone(),
        });
        if let Some((messages, intruder)) = recipients {
            let path = format!("{collection}/{c}/messages");
            let m = app
                .create(acct, &path, json!({"customer_id": customer}))
                .await;
            items.push(Item {
                path,
                writes: &["POST"],
                patch: intruder,
            });
            items.push(Item {
                path: format!("{messages}/{}", id(&m)),
                writes: &["DELETE"],
                patch: json!({}),
            });
        }
        campaigns.push(c);
    }
    let [email_c, sms_c, voice_c] = &campaigns[..] else {
        unreachable!("three channels")
    };
    let call_row = app.create(acct, "/v1/calls", json!({
            "direction": "outbound", "from_number": from, "to_number": "+14155550142",
            // The same SID in every organization: unique per organization only.
            "call_sid": "CA0123456789abcdef0123456789abcdef", "status": "completed", "duration_seconds": 61,
            "voice_campaign_id": voice_c, "customer_id": customer, "notes": format!("{marker} notes")
        }))
    .await;
    items.push(Item {
        path: format!("/v1/calls/{}", id(&call_row)),
        writes: &["PATCH", "DELETE"],
        patch: json!({"notes": "changed by another tenant", "status": "completed"}),
    });
    Seeded {
        items,
        views: vec![
            "/v1/email-campaigns".into(),
            "/v1/email-campaigns?status=draft".into(),
            format!("/v1/email-campaigns?created_after={PAST}"),
            format!("/v1/email-campaigns/{email_c}/messages?status=queued"),
            format!("/v1/email-messages?customer_id={customer}"),
            "/v1/email-messages?status=queued".into(),
            "/v1/sms-campaigns?status=draft".into(),
            format!("/v1/sms-campaigns/{sms_c}/messages?customer_id={customer}"),
            "/v1/sms-messages?direction=outbound".into(),
            "/v1/sms-messages?status=queued".into(),
            "/v1/voice-campaigns?status=draft".into(),
            format!("/v1/voice-campaigns?created_before={FUTURE}"),
            "/v1/calls".into(),
            "/v1/calls?direction=outbound&status=completed".into(),
            format!("/v1/calls?voice_campaign_id={voice_c}"),
            format!("/v1/calls?customer_id={customer}"),
            "/v1/dashboard/stats".into(),
            format!("/v1/dashboard/stats?created_after={PAST}"),
        ],
    }
}
