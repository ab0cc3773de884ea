//! The changes feeds of the families synced besides customers (V0178, V0179, V0181): knowledge
//! base articles, chat conversations and their messages, calls, SMS and email messages, the
//! campaigns of every channel, social posts and IVR menus. Each is the
//! customers' feed (tests/api/sync.rs tests its paging, its horizon and its tokens in depth)
//! over another table, so these check what is each table's own: that its writes are stamped,
//! that its deletions are recorded (by a cascade too), that a row comes as its item route (or
//! its list) shows it, and that a token is good on its own feed only, for its own organization
//! only.
//!
//! As in tests/api/sync.rs, a sync may send a change twice, never miss one: these assert what
//! a sync must contain and must not, and the exact contents only of a sync from the start.

use std::collections::BTreeSet;

use palisade_domain::Role;
use palisade_test_support::{Account, TestApp, spawn_app_with_owner};
use serde_json::{Value, json};

use crate::sync::{CHANGES as CUSTOMER_CHANGES, sync_feed};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

/// Each row of `synced`, as its item route `<collection>/<id>` shows it now.
async fn as_shown(app: &TestApp, a: &Account, collection: &str, synced: &[Value]) {
    for row in synced {
        let shown = app.get_ok(a, &format!("{collection}/{}", id(row))).await;
        assert_eq!(row, &shown, "{collection}");
    }
}

/// A sync from the start of `collection`'s feed reads exactly `ids`, a row a page, each as its
/// item route shows it, and deletes nothing. Returns the token of the next sync.
async fn from_the_start(app: &TestApp, a: &Account, collection: &str, ids: &[&str]) -> String {
    let feed = format!("{collection}/changes");
    let first = sync_feed(app, &a.token, &feed, None, 1).await;
    assert_eq!(first.changed_ids(), set(ids), "{feed}");
    assert_eq!(
        first.changed.len(),
        ids.len(),
        "{feed}: {:?}",
        first.changed
    );
    assert_eq!(first.pages, ids.len(), "{feed}");
    assert!(first.deleted.is_empty(), "{feed}");
    as_shown(app, a, collection, &first.changed).await;
    first.next_since
}

/// The next sync of `collection`'s feed from `since` reads `changed` (as shown now) and
/// `deleted`, and neither of them as the other. Returns the token of the sync after it.
async fn next(
    app: &TestApp,
    a: &Account,
    collection: &str,
    since: &str,
    changed: &[&str],
    deleted: &[&str],
) -> String {
    let feed = format!("{collection}/changes");
    let sync = sync_feed(app, &a.token, &feed, Some(since), 100).await;
    assert!(
        sync.changed_ids().is_superset(&set(changed)),
        "{feed}: {:?}",
        sync.changed
    );
    assert!(
        sync.deleted.is_superset(&set(deleted)),
        "{feed}: {:?}",
        sync.deleted
    );
    assert!(sync.changed_ids().is_disjoint(&set(deleted)), "{feed}");
    assert!(sync.deleted.is_disjoint(&set(changed)), "{feed}");
    let fresh: Vec<Value> = sync
        .changed
        .into_iter()
        .filter(|row| changed.contains(&id(row).as_str()))
        .collect();
    as_shown(app, a, collection, &fresh).await;
    sync.next_since
}

/// A token of `collection`'s feed opens there only, and for `a`'s organization only: on the
/// customers' feed, and the customers' token on this one, 410; `b` with `a`'s token, 410, and
/// `b`'s own sync from the start sees none of `a`'s rows, `a_ids`.
async fn tokens_stay_home(
    app: &TestApp,
    a: &Account,
    b: &Account,
    collection: &str,
    since: &str,
    a_ids: &[&str],
) {
    let feed = format!("{collection}/changes");
    let customers = sync_feed(app, &a.token, CUSTOMER_CHANGES, None, 100).await;
    for (path, token, who) in [
        (CUSTOMER_CHANGES, since, a),
        (feed.as_str(), customers.next_since.as_str(), a),
        (feed.as_str(), since, b),
    ] {
        let r = app
            .call(
                "GET",
                &format!("{path}?since={token}"),
                Some(&who.token),
                None,
            )
            .await;
        assert_eq!(
            (r.status, r.json["error"].as_str()),
            (410, Some("sync_token_expired")),
            "{path}: {}",
            r.text
        );
    }
    let theirs = sync_feed(app, &b.token, &feed, None, 100).await;
    assert!(theirs.changed_ids().is_disjoint(&set(a_ids)), "{feed}");
}

async fn delete(app: &TestApp, a: &Account, path: &str) {
    let r = app.delete(a, path).await;
    assert_eq!(r.status, 204, "DELETE {path}: {}", r.text);
}

async fn patch(app: &TestApp, a: &Account, path: &str, body: Value) {
    let r = app.patch(a, path, &body).await;
    assert_eq!(r.status, 200, "PATCH {path}: {}", r.text);
}

#[actix_web::test]
async fn knowledge_base_articles_sync_with_their_changes_and_deletions() {
    const ARTICLES: &str = "/v1/knowledge-base/articles";
    let (app, a) = spawn_app_with_owner("Acme").await;
    let b = app.signup("Other").await;
    let one = id(&app
        .create(&a, ARTICLES, json!({"title": "One", "body": "First"}))
        .await);
    let two = id(&app
        .create(&a, ARTICLES, json!({"title": "Two", "body": "Second"}))
        .await);
    let since = from_the_start(&app, &a, ARTICLES, &[&one, &two]).await;

    patch(
        &app,
        &a,
        &format!("{ARTICLES}/{one}"),
        json!({"published": true}),
    )
    .await;
    delete(&app, &a, &format!("{ARTICLES}/{two}")).await;
    let three = id(&app
        .create(&a, ARTICLES, json!({"title": "Three", "body": "Third"}))
        .await);
    let since = next(&app, &a, ARTICLES, &since, &[&one, &three], &[&two]).await;

    // An API key syncs too (a member's), from the same token.
    let key = app.api_key(&a, "mobile", Role::Member).await;
    let r = app
        .call(
            "GET",
            &format!("{ARTICLES}/changes?since={since}"),
            Some(&key.key),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    tokens_stay_home(&app, &a, &b, ARTICLES, &since, &[&one, &three]).await;
}

#[actix_web::test]
async fn chat_conversations_sync_with_their_changes_and_deletions() {
    const CONVERSATIONS: &str = "/v1/chat/conversations";
    let (app, a) = spawn_app_with_owner("Acme").await;
    let b = app.signup("Other").await;
    let one = id(&app
        .create(&a, CONVERSATIONS, json!({"subject": "Billing"}))
        .await);
    let two = id(&app.create(&a, CONVERSATIONS, json!({})).await);
    let since = from_the_start(&app, &a, CONVERSATIONS, &[&one, &two]).await;

    patch(
        &app,
        &a,
        &format!("{CONVERSATIONS}/{one}"),
        json!({"status": "closed"}),
    )
    .await;
    delete(&app, &a, &format!("{CONVERSATIONS}/{two}")).await;
    let since = next(&app, &a, CONVERSATIONS, &since, &[&one], &[&two]).await;
    tokens_stay_home(&app, &a, &b, CONVERSATIONS, &since, &[&one]).await;
}

#[actix_web::test]
async fn chat_messages_sync_across_conversations_and_go_with_their_conversation() {
    const CONVERSATIONS: &str = "/v1/chat/conversations";
    const FEED: &str = "/v1/chat/messages/changes";
    let (app, a) = spawn_app_with_owner("Acme").await;
    let b = app.signup("Other").await;
    let post = |conversation: String, body: &'static str| {
        let (app, a) = (&app, &a);
        async move {
            id(&app
                .create(
                    a,
                    &format!("{CONVERSATIONS}/{conversation}/messages"),
                    json!({"sender": "agent", "body": body}),
                )
                .await)
        }
    };
    let one = id(&app
        .create(&a, CONVERSATIONS, json!({"subject": "One"}))
        .await);
    let two = id(&app
        .create(&a, CONVERSATIONS, json!({"subject": "Two"}))
        .await);
    let m1 = post(one.clone(), "Hello").await;
    let m2 = post(two.clone(), "Hi").await;

    // From the start: every conversation's messages, each as its conversation lists it.
    let first = sync_feed(&app, &a.token, FEED, None, 1).await;
    assert_eq!(first.changed_ids(), set(&[&m1, &m2]));
    assert_eq!(first.changed.len(), 2);
    assert!(first.deleted.is_empty());
    for message in &first.changed {
        let conversation = message["conversation_id"].as_str().unwrap();
        let listed = app
            .get_ok(&a, &format!("{CONVERSATIONS}/{conversation}/messages"))
            .await;
        assert!(
            listed["data"].as_array().unwrap().contains(message),
            "{message} not as listed: {listed}"
        );
    }

    // A new message, and a conversation deleted with its message.
    let m3 = post(one.clone(), "Still there?").await;
    delete(&app, &a, &format!("{CONVERSATIONS}/{two}")).await;
    let next = sync_feed(&app, &a.token, FEED, Some(&first.next_since), 100).await;
    assert!(next.changed_ids().contains(&m3), "{:?}", next.changed);
    assert!(next.deleted.contains(&m2), "{:?}", next.deleted);
    assert!(!next.changed_ids().contains(&m2));
    tokens_stay_home(
        &app,
        &a,
        &b,
        "/v1/chat/messages",
        &next.next_since,
        &[&m1, &m3],
    )
    .await;
}

#[actix_web::test]
async fn calls_sync_with_their_changes_and_deletions() {
    const CALLS: &str = "/v1/calls";
    let (app, a) = spawn_app_with_owner("Acme").await;
    let b = app.signup("Other").await;
    let number = app.claim_number(&a, &["voice"]).await;
    let sid = crate::twilio_sms::unique_sid("CA");
    let one = id(&app
        .create(
            &a,
            CALLS,
            json!({"direction": "inbound", "from_number": "+14155550101", "to_number": number,
                   "call_sid": sid}),
        )
        .await);
    let two = id(&app
        .create(
            &a,
            CALLS,
            json!({"direction": "inbound", "from_number": "+14155550102", "to_number": number}),
        )
        .await);
    let since = from_the_start(&app, &a, CALLS, &[&one, &two]).await;

    patch(
        &app,
        &a,
        &format!("{CALLS}/{one}"),
        json!({"notes": "called back"}),
    )
    .await;
    delete(&app, &a, &format!("{CALLS}/{two}")).await;
    let since = next(&app, &a, CALLS, &since, &[&one], &[&two]).await;

    // The carrier's status callback is a change like a client's.
    let status = [
        ("CallSid", sid.as_str()),
        ("CallStatus", "completed"),
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("Direction", "inbound"),
        ("From", "+14155550101"),
        ("To", number.as_str()),
        ("ApiVersion", "2010-04-01"),
        ("CallbackSource", "call-progress-events"),
        ("SequenceNumber", "0"),
        ("Timestamp", "Mon, 16 Aug 2010 03:45:01 +0000"),
        ("CallDuration", "42"),
    ];
    let r = app
        .twilio(
            &format!("/webhooks/twilio/voice/status?call_id={one}"),
            &status,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.get_ok(&a, &format!("{CALLS}/{one}")).await["status"],
        "completed"
    );
    let since = next(&app, &a, CALLS, &since, &[&one], &[]).await;
    tokens_stay_home(&app, &a, &b, CALLS, &since, &[&one]).await;
}

#[actix_web::test]
async fn sms_messages_sync_and_a_campaigns_deletion_deletes_its_messages_from_the_copy() {
    const MESSAGES: &str = "/v1/sms-messages";
    let (app, a) = spawn_app_with_owner("Acme").await;
    let b = app.signup("Other").await;
    let number = app.claim_number(&a, &["sms"]).await;
    let campaign = id(&app
        .create(
            &a,
            "/v1/sms-campaigns",
            json!({"name": "Spring", "body": "Hello", "from_number": number}),
        )
        .await);
    let mut messages = Vec::new();
    for n in 0..3 {
        let customer = id(&app
            .create_customer(
                &a,
                json!({"name": format!("Customer {n}"), "phone": format!("+1415555020{n}")}),
            )
            .await);
        messages.push(id(&app
            .create(
                &a,
                &format!("/v1/sms-campaigns/{campaign}/messages"),
                json!({"customer_id": customer}),
            )
            .await));
    }
    let [one, two, three] = [&messages[0], &messages[1], &messages[2]];
    let since = from_the_start(&app, &a, MESSAGES, &[one, two, three]).await;

    // One recipient removed; the server's own writes (an inbound SMS from the carrier, a
    // status callback) are changes like a client's.
    delete(&app, &a, &format!("{MESSAGES}/{one}")).await;
    let sid = crate::twilio_sms::unique_sid("SM");
    let inbound = [
        ("MessageSid", sid.as_str()),
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("From", "+14155550300"),
        ("To", number.as_str()),
        ("Body", "Hi"),
        ("NumMedia", "0"),
    ];
    let r = app.twilio("/webhooks/twilio/sms", &inbound).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let received = app.get_ok(&a, &format!("{MESSAGES}?limit=1")).await["data"][0].clone();
    assert_eq!(received["direction"], "inbound", "{received}");
    let received = id(&received);
    let since = next(&app, &a, MESSAGES, &since, &[&received], &[one]).await;
    let sent = crate::twilio_sms::unique_sid("SM");
    let status = [
        ("MessageSid", sent.as_str()),
        ("SmsSid", sent.as_str()),
        ("MessageStatus", "sent"),
        ("SmsStatus", "sent"),
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("From", number.as_str()),
        ("To", "+14155550201"),
        ("ApiVersion", "2010-04-01"),
    ];
    let r = app
        .twilio(
            &format!("/webhooks/twilio/sms/status?message_id={two}"),
            &status,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.get_ok(&a, &format!("{MESSAGES}/{two}")).await["status"],
        "sent"
    );
    let since = next(&app, &a, MESSAGES, &since, &[two], &[]).await;

    // The draft campaign deleted with its two recipients left (ON DELETE CASCADE): both are
    // deleted from the copy.
    delete(&app, &a, &format!("/v1/sms-campaigns/{campaign}")).await;
    let since = next(&app, &a, MESSAGES, &since, &[], &[two, three]).await;
    tokens_stay_home(
        &app,
        &a,
        &b,
        MESSAGES,
        &since,
        &[one, two, three, &received],
    )
    .await;
}

#[actix_web::test]
async fn email_campaigns_and_their_messages_sync_and_a_providers_event_changes_both() {
    const CAMPAIGNS: &str = "/v1/email-campaigns";
    const MESSAGES: &str = "/v1/email-messages";
    let (app, a) = spawn_app_with_owner("Acme").await;
    let b = app.signup("Other").await;
    let campaign = id(&app
        .create(
            &a,
            CAMPAIGNS,
            json!({"name": "Spring", "subject": "Hello", "body": "Dear customer"}),
        )
        .await);
    let mut messages = Vec::new();
    for n in 0..3 {
        messages.push(id(&app
            .create(
                &a,
                &format!("{CAMPAIGNS}/{campaign}/messages"),
                json!({"to_email": format!("reader{n}@example.com")}),
            )
            .await));
    }
    let [one, two, three] = [&messages[0], &messages[1], &messages[2]];
    let campaigns_since = from_the_start(&app, &a, CAMPAIGNS, &[&campaign]).await;
    let messages_since = from_the_start(&app, &a, MESSAGES, &[one, two, three]).await;

    // The provider's event moves the message and its campaign's counters: a change of each,
    // which the next syncs read as the item routes show them now.
    let t = time::OffsetDateTime::now_utc().unix_timestamp() - 60;
    let r = crate::email_webhooks::sendgrid(
        &app,
        &json!([crate::email_webhooks::sg(
            "delivered",
            &format!("sg{}", uuid::Uuid::new_v4().simple()),
            t,
            Some(one),
            Some("SYNCMSGID01"),
        )]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.get_ok(&a, &format!("{CAMPAIGNS}/{campaign}")).await["counts"]["delivered"],
        1
    );
    delete(&app, &a, &format!("{MESSAGES}/{two}")).await;
    let campaigns_since = next(&app, &a, CAMPAIGNS, &campaigns_since, &[&campaign], &[]).await;
    let messages_since = next(&app, &a, MESSAGES, &messages_since, &[one], &[two]).await;

    // The draft campaign deleted with its recipients left (ON DELETE CASCADE): all of them are
    // deleted from the copies.
    delete(&app, &a, &format!("{CAMPAIGNS}/{campaign}")).await;
    let campaigns_since = next(&app, &a, CAMPAIGNS, &campaigns_since, &[], &[&campaign]).await;
    let messages_since = next(&app, &a, MESSAGES, &messages_since, &[], &[one, three]).await;
    tokens_stay_home(&app, &a, &b, CAMPAIGNS, &campaigns_since, &[&campaign]).await;
    tokens_stay_home(&app, &a, &b, MESSAGES, &messages_since, &[one, two, three]).await;
}

#[actix_web::test]
async fn sms_and_voice_campaigns_sync_and_a_carriers_callback_changes_the_campaign() {
    const SMS: &str = "/v1/sms-campaigns";
    const VOICE: &str = "/v1/voice-campaigns";
    let (app, a) = spawn_app_with_owner("Acme").await;
    let b = app.signup("Other").await;
    let number = app.claim_number(&a, &["sms", "voice"]).await;
    let sms = id(&app
        .create(
            &a,
            SMS,
            json!({"name": "Spring", "body": "Hello", "from_number": number}),
        )
        .await);
    let customer = id(&app
        .create_customer(&a, json!({"name": "Ada", "phone": "+14155550250"}))
        .await);
    let message = id(&app
        .create(
            &a,
            &format!("{SMS}/{sms}/messages"),
            json!({"customer_id": customer}),
        )
        .await);
    let calls = id(&app.create(&a, VOICE, json!({"name": "Renewals"})).await);
    let other = id(&app.create(&a, VOICE, json!({"name": "Survey"})).await);
    let sms_since = from_the_start(&app, &a, SMS, &[&sms]).await;
    let voice_since = from_the_start(&app, &a, VOICE, &[&calls, &other]).await;

    // The carrier's status callback for one of the campaign's messages moves its counters.
    let sid = crate::twilio_sms::unique_sid("SM");
    let status = [
        ("MessageSid", sid.as_str()),
        ("SmsSid", sid.as_str()),
        ("MessageStatus", "sent"),
        ("SmsStatus", "sent"),
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("From", number.as_str()),
        ("To", "+14155550250"),
        ("ApiVersion", "2010-04-01"),
    ];
    let r = app
        .twilio(
            &format!("/webhooks/twilio/sms/status?message_id={message}"),
            &status,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.get_ok(&a, &format!("{SMS}/{sms}")).await["counts"]["sent"],
        1
    );
    let sms_since = next(&app, &a, SMS, &sms_since, &[&sms], &[]).await;

    patch(
        &app,
        &a,
        &format!("{VOICE}/{calls}"),
        json!({"script": "Your plan renews soon."}),
    )
    .await;
    delete(&app, &a, &format!("{VOICE}/{other}")).await;
    let voice_since = next(&app, &a, VOICE, &voice_since, &[&calls], &[&other]).await;
    tokens_stay_home(&app, &a, &b, SMS, &sms_since, &[&sms]).await;
    tokens_stay_home(&app, &a, &b, VOICE, &voice_since, &[&calls]).await;
    // The channels share their code, not their tokens.
    let email_since = sync_feed(&app, &a.token, "/v1/email-campaigns/changes", None, 100)
        .await
        .next_since;
    for (feed, token) in [
        (VOICE, &sms_since),
        (SMS, &voice_since),
        ("/v1/email-campaigns", &sms_since),
        (SMS, &email_since),
    ] {
        app.call(
            "GET",
            &format!("{feed}/changes?since={token}"),
            Some(&a.token),
            None,
        )
        .await
        .assert_error_at(410, "sync_token_expired", feed);
    }
}

#[actix_web::test]
async fn social_posts_sync_and_go_with_their_account() {
    const POSTS: &str = "/v1/social/posts";
    let (app, a) = spawn_app_with_owner("Acme").await;
    let b = app.signup("Other").await;
    let twitter = id(&crate::social::social_account(&app, &a, "twitter", "acme").await);
    let linkedin = id(&crate::social::social_account(&app, &a, "linkedin", "acme-inc").await);
    let one = id(&app
        .create(
            &a,
            POSTS,
            json!({"account_id": twitter, "body": "Coming soon"}),
        )
        .await);
    let two = id(&app
        .create(
            &a,
            POSTS,
            json!({"account_id": linkedin, "body": "We are hiring"}),
        )
        .await);
    let three = id(&app
        .create(
            &a,
            POSTS,
            json!({"account_id": linkedin, "body": "Our new office"}),
        )
        .await);
    let since = from_the_start(&app, &a, POSTS, &[&one, &two, &three]).await;

    patch(
        &app,
        &a,
        &format!("{POSTS}/{one}"),
        json!({"body": "Out now"}),
    )
    .await;
    delete(&app, &a, &format!("{POSTS}/{two}")).await;
    let since = next(&app, &a, POSTS, &since, &[&one], &[&two]).await;

    // Disconnecting an account deletes its posts: each comes as deleted.
    delete(&app, &a, &format!("/v1/social/accounts/{linkedin}")).await;
    let since = next(&app, &a, POSTS, &since, &[], &[&three]).await;
    tokens_stay_home(&app, &a, &b, POSTS, &since, &[&one]).await;
}

#[actix_web::test]
async fn ivr_menus_sync_for_every_role() {
    const MENUS: &str = "/v1/ivr/menus";
    let (app, a) = spawn_app_with_owner("Acme").await;
    let b = app.signup("Other").await;
    let tree = crate::engagement::menu_tree("Acme");
    let main = id(&app
        .create(&a, MENUS, json!({"name": "Main", "tree": tree}))
        .await);
    let night = id(&app
        .create(&a, MENUS, json!({"name": "Night", "tree": tree}))
        .await);
    let since = from_the_start(&app, &a, MENUS, &[&main, &night]).await;

    patch(
        &app,
        &a,
        &format!("{MENUS}/{main}"),
        json!({"tree": crate::engagement::menu_tree("Acme Inc")}),
    )
    .await;
    delete(&app, &a, &format!("{MENUS}/{night}")).await;
    let since = next(&app, &a, MENUS, &since, &[&main], &[&night]).await;

    // Only owners and admins write menus; a member's API key reads every one of them from the
    // start, as shown, and syncs on from the owner's token.
    let key = app.api_key(&a, "phones", Role::Member).await;
    let feed = format!("{MENUS}/changes");
    let theirs = sync_feed(&app, &key.key, &feed, None, 100).await;
    assert_eq!(theirs.changed_ids(), set(&[&main]));
    as_shown(&app, &a, MENUS, &theirs.changed).await;
    // Anything it reads again is a change the owner's sync read already.
    let on = sync_feed(&app, &key.key, &feed, Some(&since), 100).await;
    assert!(
        on.changed_ids().is_subset(&set(&[&main])),
        "{:?}",
        on.changed
    );
    assert!(on.deleted.is_subset(&set(&[&night])), "{:?}", on.deleted);
    tokens_stay_home(&app, &a, &b, MENUS, &since, &[&main]).await;
}

/// Every synced table (one with a `change_xid`) has what its feed needs, and is one docs/dba.md's
/// restore step 4 resets: the stamping trigger (or its rows' stamps would stay at their insert),
/// a delete trigger recording deletions under its name, which `deleted_rows` accepts (or its
/// deletions would never be heard of, or would fail), the feed's index; and its line in the
/// reset (or it would keep a restored cluster's ids, and its feed would answer 500 after every
/// restore).
#[actix_web::test]
async fn every_synced_table_is_stamped_records_its_deletions_and_is_reset_after_a_restore() {
    let (app, _a) = spawn_app_with_owner("Acme").await;
    let su = app.db.superuser_client().await;
    let tables: Vec<String> = su
        .query(
            "SELECT c.relname::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'palisade' AND a.attname = 'change_xid' AND c.relkind = 'r'
                AND NOT a.attisdropped AND c.relname <> 'deleted_rows'
              ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        tables,
        [
            "calls",
            "chat_conversations",
            "chat_messages",
            "customers",
            "email_campaigns",
            "email_messages",
            "ivr_menus",
            "kb_articles",
            "sms_campaigns",
            "sms_messages",
            "social_posts",
            "voice_campaigns"
        ]
    );
    for table in &tables {
        let row = su
            .query_one(
                "SELECT
                   (SELECT count(*) FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
                     WHERE t.tgrelid = c.oid AND p.proname = 'stamp_change_xid'
                       AND t.tgenabled = 'O'
                       AND t.tgtype & (2 | 4 | 16) = (2 | 4 | 16)),
                   (SELECT count(*) FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
                     WHERE t.tgrelid = c.oid AND t.tgenabled = 'O' AND t.tgtype & 8 = 8
                       AND p.proname IN ('record_deletions', 'customer_changed')),
                   (SELECT count(*) FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
                     WHERE i.indrelid = c.oid AND x.relname = c.relname || '_org_change_idx'),
                   (SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k
                     WHERE k.conname = 'deleted_rows_resource_check')
                      LIKE '%' || c.relname || '%'
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'palisade' AND c.relname = $1",
                &[table],
            )
            .await
            .unwrap();
        let (stamp, deletion, index, resource): (i64, i64, i64, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        assert_eq!(
            (stamp, deletion, index, resource),
            (1, 1, 1, true),
            "{table}: stamping trigger, deletion trigger, feed index, deleted_rows resource"
        );
    }
    let reset = crate::sync::dba_sync_reset();
    for table in &tables {
        assert!(
            reset.contains(&format!("UPDATE palisade.{table} SET change_xid = '0'")),
            "docs/dba.md's sync reset does not name {table}"
        );
    }
    assert!(reset.contains("DELETE FROM palisade.deleted_rows"));
    assert!(reset.contains("DELETE FROM palisade.pruned_deletion_records"));
}

/// The bot's messages are in the messages' feed like anyone's, and its answer comes again when
/// the article it quoted is deleted (`article_id` cleared by the foreign key: an update).
#[actix_web::test]
async fn a_bot_answer_comes_again_when_the_article_it_quoted_is_deleted() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let article = id(&app
        .create(
            &a,
            "/v1/knowledge-base/articles",
            json!({"title": "Reset your password", "published": true,
                   "body": "Open Settings, then choose Reset password."}),
        )
        .await);
    let r = app
        .patch(
            &a,
            "/v1/chatbot/settings",
            &json!({"enabled": true, "confidence_threshold": 0.3}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let conversation = id(&app.create(&a, "/v1/chat/conversations", json!({})).await);
    app.create(
        &a,
        &format!("/v1/chat/conversations/{conversation}/messages"),
        json!({"sender": "customer", "body": "How do I reset my password?"}),
    )
    .await;
    let first = sync_feed(&app, &a.token, "/v1/chat/messages/changes", None, 100).await;
    let answer = first
        .changed
        .iter()
        .find(|m| m["sender"] == "bot" && m["article_id"] == article.as_str())
        .unwrap_or_else(|| panic!("no bot answer quoting the article: {:?}", first.changed))
        .clone();

    delete(&app, &a, &format!("/v1/knowledge-base/articles/{article}")).await;
    let next = sync_feed(
        &app,
        &a.token,
        "/v1/chat/messages/changes",
        Some(&first.next_since),
        100,
    )
    .await;
    let again = next
        .changed
        .iter()
        .find(|m| m["id"] == answer["id"])
        .unwrap_or_else(|| panic!("the answer did not come again: {:?}", next.changed));
    assert_eq!(again["article_id"], json!(null));
    assert_eq!(again["body"], answer["body"]);
}
