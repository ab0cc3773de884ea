//! The chatbot (docs/chatbot.md): `/v1/chatbot/settings` (defaults, roles, validation), the bot
//! answering customer messages from the organization's own published articles in the same
//! transaction, the hand-off below the threshold and after an agent's reply, the fallback,
//! `POST /v1/chatbot/ask` (writes nothing; limited per organization), and another organization's articles never used
//! whatever the words. Its isolation seeder is [`seed`].

use palisade_test_support::sql::assert_members_read_and_only_admins_write;
use palisade_test_support::{
    Account, TestApp, Unchanged, fields, spawn_app_with_owner, spawn_app_with_team,
};
use serde_json::{Value, json};

use crate::isolation::Seeded;

const SETTINGS: &str = "/v1/chatbot/settings";

/// PATCHes the settings as `who` (200): the settings.
async fn configure(app: &TestApp, who: &Account, body: Value) -> Value {
    let r = app.patch(who, SETTINGS, &body).await;
    assert_eq!(r.status, 200, "PATCH {body}: {}", r.text);
    r.json
}

/// A knowledge-base article of `who`'s organization: its id.
async fn article(app: &TestApp, who: &Account, title: &str, body: &str, published: bool) -> String {
    let a = app
        .create(
            who,
            "/v1/knowledge-base/articles",
            json!({"title": title, "body": body, "published": published}),
        )
        .await;
    a["id"].as_str().unwrap().to_owned()
}

/// A new conversation of `who`'s organization: its path.
async fn conversation(app: &TestApp, who: &Account) -> String {
    let c = app.create(who, "/v1/chat/conversations", json!({})).await;
    format!("/v1/chat/conversations/{}", c["id"].as_str().unwrap())
}

/// Posts `body` as `sender` in conversation `conv` (201), then answers every message of the
/// conversation, oldest first.
async fn say(app: &TestApp, who: &Account, conv: &str, sender: &str, body: &str) -> Vec<Value> {
    let messages = format!("{conv}/messages");
    app.create(who, &messages, json!({"sender": sender, "body": body}))
        .await;
    history(app, who, conv).await
}

/// Every message of conversation `conv`, oldest first.
async fn history(app: &TestApp, who: &Account, conv: &str) -> Vec<Value> {
    let mut all = app.walk(who, &format!("{conv}/messages"), "", 100).await;
    all.reverse();
    all
}

fn senders(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| m["sender"].as_str().unwrap())
        .collect()
}

async fn ask(app: &TestApp, who: &Account, question: &str) -> Value {
    let r = app
        .post(who, "/v1/chatbot/ask", &json!({"question": question}))
        .await;
    assert_eq!(r.status, 200, "ask {question}: {}", r.text);
    r.json
}

#[actix_web::test]
async fn settings_default_to_a_disabled_bot_and_only_owners_and_admins_change_them() {
    let (app, owner, admin, member) = spawn_app_with_team("Acme").await;
    let defaults = json!({
        "enabled": false,
        "greeting": null,
        "fallback_text": "Sorry, I did not understand. Could you ask your question in other words?",
        "confidence_threshold": 0.3,
        "handoff_message": "Let me pass you to a member of our team.",
        "updated_at": null,
    });
    for who in [&owner, &admin, &member] {
        assert_eq!(app.get_ok(who, SETTINGS).await, defaults);
    }

    // A member reads only: 403 over HTTP, and the policies refuse the write in SQL too.
    app.assert_forbidden(
        &member,
        &[("PATCH", SETTINGS, Some(json!({"enabled": true})))],
    )
    .await;
    assert_eq!(app.get_ok(&member, SETTINGS).await, defaults);

    // The first change writes the row with the database's defaults: the same as the API's.
    let first = configure(&app, &owner, json!({})).await;
    assert!(first["updated_at"].is_string(), "{first}");
    let mut without_time = first.clone();
    without_time["updated_at"] = json!(null);
    assert_eq!(without_time, defaults);

    let changed = configure(
        &app,
        &admin,
        json!({"enabled": true, "greeting": " Hi!\nI am the bot. ", "confidence_threshold": 0.5,
               "fallback_text": "Pardon?", "handoff_message": "An agent will answer."}),
    )
    .await;
    assert_eq!(
        (
            &changed["enabled"],
            &changed["greeting"],
            &changed["confidence_threshold"],
            &changed["fallback_text"],
            &changed["handoff_message"]
        ),
        (
            &json!(true),
            &json!("Hi!\nI am the bot."),
            &json!(0.5),
            &json!("Pardon?"),
            &json!("An agent will answer.")
        )
    );
    assert_eq!(app.get_ok(&member, SETTINGS).await, changed);
    // Integers are numbers too; null removes the greeting; absent fields stay.
    let r = configure(
        &app,
        &owner,
        json!({"greeting": null, "confidence_threshold": 1}),
    )
    .await;
    assert_eq!(
        (&r["greeting"], &r["confidence_threshold"]),
        (&json!(null), &json!(1.0))
    );
    assert_eq!(r["handoff_message"], "An agent will answer.");

    // If-Match: a stale tag is 412 and changes nothing.
    let r = app
        .call_with(
            "PATCH",
            SETTINGS,
            Some(&owner.token),
            Some(&json!({"enabled": false})),
            &[("If-Match", "\"00000000000000000000000000000000\"")],
        )
        .await;
    r.assert_error(412, "precondition_failed");
    let now = app.get_ok(&owner, SETTINGS).await;
    assert_eq!(now["enabled"], true);
    // If-None-Match naming the current tag, or `*` (the settings always exist, as defaults
    // until first changed): 412, nothing changed.
    let tag = app
        .get(&owner, SETTINGS)
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    for value in [tag.as_str(), "*"] {
        let r = app
            .call_with(
                "PATCH",
                SETTINGS,
                Some(&owner.token),
                Some(&json!({"enabled": false})),
                &[("If-None-Match", value)],
            )
            .await;
        r.assert_error(412, "precondition_failed");
        assert_eq!(
            app.get_ok(&owner, SETTINGS).await,
            now,
            "If-None-Match: {value}"
        );
    }
    // Before its first change too: the row the PATCH created to lock is rolled back with it.
    let fresh = app.signup("Fresh").await;
    let r = app
        .call_with(
            "PATCH",
            SETTINGS,
            Some(&fresh.token),
            Some(&json!({"enabled": true})),
            &[("If-None-Match", "*")],
        )
        .await;
    r.assert_error(412, "precondition_failed");
    let rows: i64 = app
        .db
        .superuser_client()
        .await
        .query_one(
            "SELECT count(*) FROM palisade.chatbot_settings WHERE organization_id::text = $1",
            &[&fresh.org_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0, "the first PATCH's row rolled back");

    let su = app.db.superuser_client().await;
    let id: uuid::Uuid = su
        .query_one(
            "SELECT id FROM palisade.chatbot_settings WHERE organization_id::text = $1",
            &[&owner.org_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_members_read_and_only_admins_write(
        &app.db.app_client().await,
        owner.org_id.parse().unwrap(),
        "chatbot_settings",
        id,
        "INSERT INTO palisade.chatbot_settings (id) VALUES ($1)",
        &[&uuid::Uuid::now_v7()],
        "enabled = false",
    )
    .await;
    assert_eq!(app.get_ok(&owner, SETTINGS).await, now);
}

/// Before the first change there is no row to lock: the precondition is on the defaults. Of two
/// first changes holding the defaults' tag, the second waits for the first's row, then checks
/// its tag against that row: 412, nothing changed. (Checked before its insert, on the defaults,
/// both passed, and the second overwrote a change it had never seen.)
#[actix_web::test]
async fn a_first_change_made_meanwhile_fails_the_defaults_tag() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let defaults = app.get(&owner.token, SETTINGS).await;
    let tag = defaults.header("etag").expect("an ETag").to_owned();
    let other = app.db.app_client().await;
    palisade_test_support::sql::begin_as(&other, &owner.org_id, "owner").await;
    other
        .execute(
            "INSERT INTO palisade.chatbot_settings (id, greeting) VALUES ($1, 'Meanwhile')",
            &[&uuid::Uuid::now_v7()],
        )
        .await
        .unwrap();
    let commit = async {
        app.until_a_statement_waits_on_a_lock().await;
        other.batch_execute("COMMIT").await.unwrap();
    };
    let (body, headers) = (json!({"enabled": true}), [("If-Match", tag.as_str())]);
    let patch = app.call_with("PATCH", SETTINGS, Some(&owner.token), Some(&body), &headers);
    let (r, ()) = tokio::join!(patch, commit);
    r.assert_error(412, "precondition_failed");
    let now = app.get_ok(&owner, SETTINGS).await;
    assert_eq!(
        (&now["greeting"], &now["enabled"]),
        (&json!("Meanwhile"), &json!(false))
    );

    // With no change meanwhile, the defaults' tag is the one to send.
    let (app, owner) = spawn_app_with_owner("Globex").await;
    let defaults = app.get(&owner.token, SETTINGS).await;
    let tag = defaults.header("etag").expect("an ETag").to_owned();
    let r = app
        .call_with(
            "PATCH",
            SETTINGS,
            Some(&owner.token),
            Some(&json!({"enabled": true})),
            &[("If-Match", tag.as_str())],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[actix_web::test]
async fn invalid_settings_are_refused_naming_the_field_and_change_nothing() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    configure(&app, &owner, json!({"greeting": "Hello"})).await;
    let before = app.get_ok(&owner, SETTINGS).await;
    let long = "x".repeat(1001);
    for (body, field, code) in [
        (
            json!({"confidence_threshold": 1.5}),
            "confidence_threshold",
            "invalid",
        ),
        (
            json!({"confidence_threshold": -0.1}),
            "confidence_threshold",
            "invalid",
        ),
        (
            json!({"confidence_threshold": "0.5"}),
            "confidence_threshold",
            "invalid_type",
        ),
        (
            json!({"confidence_threshold": null}),
            "confidence_threshold",
            "required",
        ),
        (json!({"greeting": ""}), "greeting", "too_short"),
        (json!({"greeting": long}), "greeting", "too_long"),
        (
            json!({"fallback_text": "   "}),
            "fallback_text",
            "too_short",
        ),
        (json!({"fallback_text": long}), "fallback_text", "too_long"),
        (
            json!({"handoff_message": ""}),
            "handoff_message",
            "too_short",
        ),
        (
            json!({"handoff_message": null}),
            "handoff_message",
            "required",
        ),
        (
            json!({"handoff_message": long}),
            "handoff_message",
            "too_long",
        ),
        (json!({"enabled": "yes"}), "enabled", "invalid_type"),
    ] {
        let r = app.patch(&owner, SETTINGS, &body).await;
        r.assert_error_at(422, "validation_failed", &body);
        assert_eq!(fields(&r.json), vec![field.to_owned()], "{body}");
        assert_eq!(r.json["fields"][0]["code"], code, "{body}");
    }
    let r = app.patch(&owner, SETTINGS, &json!({"tone": "warm"})).await;
    r.assert_error(400, "unknown_field");
    assert_eq!(app.get_ok(&owner, SETTINGS).await, before);

    for body in [
        json!({}),
        json!({"question": ""}),
        json!({"question": "x".repeat(4001)}),
    ] {
        let r = app.post(&owner, "/v1/chatbot/ask", &body).await;
        r.assert_error_at(422, "validation_failed", &body);
        assert_eq!(fields(&r.json), vec!["question".to_owned()], "{body}");
    }
}

#[actix_web::test]
async fn the_bot_answers_with_the_best_published_article_of_its_organization() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let reset = article(
        &app,
        &owner,
        "Reset your password",
        "Open Settings, then choose Reset password.",
        true,
    )
    .await;
    let billing = article(
        &app,
        &owner,
        "Invoices and billing",
        "Invoices are mailed monthly. No password needed.",
        true,
    )
    .await;
    // Would rank first, but is not published.
    let draft = article(
        &app,
        &owner,
        "Password reset password reset",
        "Draft: reset password.",
        false,
    )
    .await;
    configure(
        &app,
        &owner,
        json!({"enabled": true, "greeting": "Hello! I am the bot.", "confidence_threshold": 0.3}),
    )
    .await;

    let conv = conversation(&app, &owner).await;
    let all = say(
        &app,
        &owner,
        &conv,
        "customer",
        "How do I reset my password?",
    )
    .await;
    assert_eq!(senders(&all), ["customer", "bot", "bot"]);
    assert_eq!(
        (&all[1]["body"], &all[1]["article_id"], &all[1]["score"]),
        (&json!("Hello! I am the bot."), &json!(null), &json!(null))
    );
    let answer = &all[2];
    assert_eq!(answer["article_id"], reset.as_str());
    assert_eq!(
        answer["body"],
        "Reset your password\n\nOpen Settings, then choose Reset password."
    );
    let score = answer["score"].as_f64().unwrap();
    assert!((0.3..1.0).contains(&score), "{score}");

    // ask: the same article and score, and the same reply; the draft never.
    let asked = ask(&app, &owner, "How do I reset my password?").await;
    assert_eq!(
        asked["article"],
        json!({"id": reset, "title": "Reset your password"})
    );
    assert_eq!(
        (
            asked["score"].as_f64(),
            &asked["outcome"],
            &asked["would_hand_off"],
            &asked["threshold"]
        ),
        (Some(score), &json!("answer"), &json!(false), &json!(0.3))
    );
    assert_eq!(asked["reply"], answer["body"]);

    // The greeting comes once; the next question gets its own best article.
    let all = say(&app, &owner, &conv, "customer", "Where are my invoices?").await;
    assert_eq!(senders(&all), ["customer", "bot", "bot", "customer", "bot"]);
    assert_eq!(all[4]["article_id"], billing.as_str());
    let c = app.get_ok(&owner, &conv).await;
    assert_eq!(
        (&c["handed_off_at"], &c["handoff_reason"]),
        (&json!(null), &json!(null))
    );

    // Score order: publishing the draft makes it the best answer, with a higher score.
    let r = app
        .patch(
            &owner,
            &format!("/v1/knowledge-base/articles/{draft}"),
            &json!({"published": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let asked = ask(&app, &owner, "How do I reset my password?").await;
    assert_eq!(asked["article"]["id"], draft.as_str());
    assert!(asked["score"].as_f64().unwrap() > score, "{asked}");

    // A long article is quoted up to 4000 characters, ending in "...".
    let long_body = "Shipping details. ".repeat(400);
    let shipping = article(&app, &owner, "Shipping", &long_body, true).await;
    let conv2 = conversation(&app, &owner).await;
    let all = say(&app, &owner, &conv2, "customer", "shipping").await;
    let quoted = all.last().unwrap();
    assert_eq!(quoted["article_id"], shipping.as_str());
    let text = quoted["body"].as_str().unwrap();
    assert_eq!(text.chars().count(), 4000);
    assert!(
        text.starts_with("Shipping\n\nShipping details.") && text.ends_with("..."),
        "{text}"
    );

    // Deleting the article keeps the bot's message, without its article.
    assert_eq!(
        app.delete(&owner, &format!("/v1/knowledge-base/articles/{shipping}"))
            .await
            .status,
        204
    );
    let all = history(&app, &owner, &conv2).await;
    assert_eq!(
        (
            &all.last().unwrap()["article_id"],
            &all.last().unwrap()["body"]
        ),
        (&json!(null), &json!(text))
    );
}

/// An article deleted while the bot answers with it is neither quoted nor referred to: the reply
/// is computed again without it (the next best article, or the hand-off when none is left). The
/// delete here has run but not committed when the customer's message arrives, and commits while
/// the bot waits for it. The bot read the article without a lock, so it was still found, and the
/// reply's foreign key check failed once the delete committed (23503: 500, and the customer's
/// message was not stored either).
#[actix_web::test]
async fn an_article_deleted_while_the_bot_answers_with_it_is_not_used() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let best = article(
        &app,
        &owner,
        "Reset your password",
        "Open Settings, then choose Reset password.",
        true,
    )
    .await;
    let next = article(
        &app,
        &owner,
        "Passwords",
        "A password must be twelve characters long.",
        true,
    )
    .await;
    configure(
        &app,
        &owner,
        json!({"enabled": true, "confidence_threshold": 0.01}),
    )
    .await;
    let question = "How do I reset my password?";
    assert_eq!(ask(&app, &owner, question).await["article"]["id"], best);
    let su = app.db.superuser_client().await;
    let conv = conversation(&app, &owner).await;
    for (deleted, answered_with) in [(&best, json!(next)), (&next, Value::Null)] {
        let article: uuid::Uuid = deleted.parse().unwrap();
        su.batch_execute("BEGIN").await.unwrap();
        su.execute(
            "DELETE FROM palisade.kb_articles WHERE id = $1",
            &[&article],
        )
        .await
        .unwrap();
        let commit = async {
            app.db.until_one_session_waits_on_a_lock().await;
            su.batch_execute("COMMIT").await.unwrap();
        };
        let (path, body) = (
            format!("{conv}/messages"),
            json!({"sender": "customer", "body": question}),
        );
        let (r, ()) = tokio::join!(app.post(&owner, &path, &body), commit);
        assert_eq!(r.status, 201, "{}", r.text);
        let reply = history(&app, &owner, &conv).await.pop().unwrap();
        assert_eq!(
            (&reply["sender"], &reply["article_id"]),
            (&json!("bot"), &answered_with)
        );
        if answered_with.is_null() {
            // No article left: the hand-off, without an article or a score.
            assert_eq!(reply["score"], Value::Null);
            let c = app.get_ok(&owner, &conv).await;
            assert_eq!(c["handoff_reason"], "low_confidence");
        } else {
            assert!(
                reply["body"].as_str().unwrap().starts_with("Passwords\n\n"),
                "{reply}"
            );
        }
    }
}

/// Should every article the bot finds vanish in turn (each one's deletion committing while the bot
/// waits on its lock), it tries three and then hands the conversation over with the hand-off
/// message, rather than store the third one's text without its article (V0192). Three deletes
/// are held uncommitted; each is committed once the bot waits on it (`pg_blocking_pids`: a
/// count of waiting sessions could still see the wait just released).
#[actix_web::test]
async fn three_articles_deleted_in_turn_while_the_bot_answers_hand_the_conversation_over() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let mut articles = Vec::new();
    for (title, body) in [
        (
            "Reset your password",
            "Open Settings, then choose Reset password.",
        ),
        ("Passwords", "A password must be twelve characters long."),
        ("Password rules", "Change your password every year."),
    ] {
        articles.push(article(&app, &owner, title, body, true).await);
    }
    let handoff = "Passing you to a person.";
    configure(
        &app,
        &owner,
        json!({"enabled": true, "confidence_threshold": 0.01, "handoff_message": handoff}),
    )
    .await;
    let question = "How do I reset my password?";
    let mut deleting = Vec::new();
    for a in &articles {
        let su = app.db.superuser_client().await;
        let id: uuid::Uuid = a.parse().unwrap();
        su.batch_execute("BEGIN").await.unwrap();
        su.execute("DELETE FROM palisade.kb_articles WHERE id = $1", &[&id])
            .await
            .unwrap();
        let pid: i32 = su
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0);
        deleting.push((pid, su));
    }
    let conv = conversation(&app, &owner).await;
    let commits = async {
        let watcher = app.db.superuser_client().await;
        for _ in 0..3 {
            let pids: Vec<i32> = deleting.iter().map(|(pid, _)| *pid).collect();
            let mut blocking = None;
            for _ in 0..3000 {
                let rows = watcher
                    .query(
                        "SELECT b FROM pg_catalog.pg_stat_activity AS a, \
                                unnest(pg_catalog.pg_blocking_pids(a.pid)) AS b \
                          WHERE b = ANY($1)",
                        &[&pids],
                    )
                    .await
                    .unwrap();
                if let Some(row) = rows.first() {
                    blocking = Some(row.get::<_, i32>(0));
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            let blocking = blocking.expect("the bot never waited on a deleted article");
            let at = deleting
                .iter()
                .position(|(pid, _)| *pid == blocking)
                .unwrap();
            let (_, su) = deleting.remove(at);
            su.batch_execute("COMMIT").await.unwrap();
        }
    };
    let (path, body) = (
        format!("{conv}/messages"),
        json!({"sender": "customer", "body": question}),
    );
    let (r, ()) = tokio::join!(app.post(&owner, &path, &body), commits);
    assert_eq!(r.status, 201, "{}", r.text);
    let reply = history(&app, &owner, &conv).await.pop().unwrap();
    assert_eq!(
        (
            &reply["sender"],
            &reply["body"],
            &reply["article_id"],
            &reply["score"]
        ),
        (&json!("bot"), &json!(handoff), &Value::Null, &Value::Null),
        "{reply}"
    );
    let c = app.get_ok(&owner, &conv).await;
    assert_eq!(c["handoff_reason"], "low_confidence");
}

#[actix_web::test]
async fn below_the_threshold_the_bot_hands_over_and_then_stays_silent() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    article(&app, &owner, "Shipping", "We ship worldwide.", true).await;
    configure(&app, &owner, json!({"enabled": true, "confidence_threshold": 0.9, "handoff_message": "An agent will take over."})).await;
    let asked = ask(&app, &owner, "Do you ship to Mars?").await;
    assert_eq!(
        (
            &asked["outcome"],
            &asked["would_hand_off"],
            &asked["article"]["title"],
            &asked["threshold"]
        ),
        (
            &json!("handoff"),
            &json!(true),
            &json!("Shipping"),
            &json!(0.9)
        )
    );
    assert!(asked["score"].as_f64().unwrap() < 0.9);
    assert_eq!(asked["reply"], "An agent will take over.");

    let conv = conversation(&app, &owner).await;
    let all = say(&app, &owner, &conv, "customer", "Do you ship to Mars?").await;
    assert_eq!(senders(&all), ["customer", "bot"]);
    assert_eq!(
        (&all[1]["body"], &all[1]["article_id"], &all[1]["score"]),
        (
            &json!("An agent will take over."),
            &json!(null),
            &json!(null)
        )
    );
    let c = app.get_ok(&owner, &conv).await;
    assert!(c["handed_off_at"].is_string(), "{c}");
    assert_eq!(c["handoff_reason"], "low_confidence");

    // Handed over: even a question the bot could answer now gets no bot message.
    configure(&app, &owner, json!({"confidence_threshold": 0})).await;
    let all = say(&app, &owner, &conv, "customer", "shipping shipping").await;
    assert_eq!(senders(&all), ["customer", "bot", "customer"]);
    // Nothing matches at all: a hand-off too, whatever the threshold.
    let conv2 = conversation(&app, &owner).await;
    let all = say(&app, &owner, &conv2, "customer", "Tell me about refunds").await;
    assert_eq!(senders(&all), ["customer", "bot"]);
    assert_eq!(
        app.get_ok(&owner, &conv2).await["handoff_reason"],
        "low_confidence"
    );
}

#[actix_web::test]
async fn an_agent_reply_stops_the_bot_and_a_disabled_bot_says_nothing() {
    let (app, owner, _admin, member) = spawn_app_with_team("Acme").await;
    let hours = article(
        &app,
        &owner,
        "Opening hours",
        "We are open from 9 to 5.",
        true,
    )
    .await;

    // Disabled (the default): nothing but the customer's messages, no hand-off.
    let conv = conversation(&app, &member).await;
    let all = say(
        &app,
        &member,
        &conv,
        "customer",
        "What are your opening hours?",
    )
    .await;
    assert_eq!(senders(&all), ["customer"]);
    assert_eq!(
        app.get_ok(&member, &conv).await["handed_off_at"],
        json!(null)
    );

    configure(&app, &owner, json!({"enabled": true})).await;
    // Messages posted by a member (an agent's client) reach the bot too.
    let all = say(
        &app,
        &member,
        &conv,
        "customer",
        "What are your opening hours?",
    )
    .await;
    assert_eq!(senders(&all), ["customer", "customer", "bot"]);
    // The answer quotes the article and refers to it: the bot holds it (FOR KEY SHARE, V0191),
    // which passes kb_articles' UPDATE policy for a member's message too. Were that policy
    // narrowed to admins, the lock would find no article and the bot would hand off instead.
    assert_eq!(all[2]["article_id"], hours.as_str(), "{all:?}");
    let all = say(&app, &member, &conv, "agent", "Anything else?").await;
    assert_eq!(senders(&all), ["customer", "customer", "bot", "agent"]);
    let c = app.get_ok(&member, &conv).await;
    assert_eq!(c["handoff_reason"], "agent_reply");
    let all = say(&app, &member, &conv, "customer", "Opening hours on Sunday?").await;
    assert_eq!(
        senders(&all),
        ["customer", "customer", "bot", "agent", "customer"]
    );
    // The first hand-off stays: its time and reason do not move.
    let all_again = say(&app, &member, &conv, "agent", "Closed on Sunday.").await;
    assert_eq!(all_again.len(), 6);
    assert_eq!(
        app.get_ok(&member, &conv).await["handed_off_at"],
        c["handed_off_at"]
    );

    // Turned off again: silent in a new conversation.
    configure(&app, &owner, json!({"enabled": false})).await;
    let conv2 = conversation(&app, &member).await;
    let all = say(&app, &member, &conv2, "customer", "Opening hours?").await;
    assert_eq!(senders(&all), ["customer"]);
}

#[actix_web::test]
async fn a_message_without_searchable_words_gets_the_fallback_and_the_bot_stays() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    article(
        &app,
        &owner,
        "Opening hours",
        "We are open from 9 to 5.",
        true,
    )
    .await;
    configure(
        &app,
        &owner,
        json!({"enabled": true, "fallback_text": "Could you say more?"}),
    )
    .await;
    let asked = ask(&app, &owner, "??? !!").await;
    assert_eq!(
        (
            &asked["outcome"],
            &asked["would_hand_off"],
            &asked["article"],
            &asked["score"],
            &asked["reply"]
        ),
        (
            &json!("fallback"),
            &json!(false),
            &json!(null),
            &json!(null),
            &json!("Could you say more?")
        )
    );
    let conv = conversation(&app, &owner).await;
    let all = say(&app, &owner, &conv, "customer", "the and of ?").await;
    assert_eq!(senders(&all), ["customer", "bot"]);
    assert_eq!(all[1]["body"], "Could you say more?");
    assert_eq!(
        app.get_ok(&owner, &conv).await["handed_off_at"],
        json!(null)
    );
    let all = say(&app, &owner, &conv, "customer", "opening hours").await;
    assert_eq!(senders(&all), ["customer", "bot", "customer", "bot"]);
    assert_eq!(all[3]["body"], "Opening hours\n\nWe are open from 9 to 5.");
}

#[actix_web::test]
async fn another_organizations_articles_are_never_used_whatever_the_words() {
    let (app, a) = spawn_app_with_owner("A").await;
    let b = app.signup("B").await;
    // B's articles carry exactly the words A's customers ask, and rank higher than A's.
    let b_refund = article(
        &app,
        &b,
        "Refund policy",
        "Refund refund refund: how refunds work.",
        true,
    )
    .await;
    let b_reset = article(
        &app,
        &b,
        "Reset password reset password",
        "Reset password.",
        true,
    )
    .await;
    let a_reset = article(
        &app,
        &a,
        "Password help",
        "To reset it, open Settings.",
        true,
    )
    .await;
    for who in [&a, &b] {
        configure(
            &app,
            who,
            json!({"enabled": true, "confidence_threshold": 0.2}),
        )
        .await;
    }
    let b_conv = conversation(&app, &b).await;
    say(&app, &b, &b_conv, "customer", "refund?").await;
    let b_messages = format!("{b_conv}/messages");
    let b_paths: [&str; 3] = [&b_conv, &b_messages, SETTINGS];
    let b_before = Unchanged::http(&app, &b, &b_paths).await;

    for question in [
        "How do I get a refund?",
        "Refund policy refund",
        "reset password",
    ] {
        let asked = ask(&app, &a, question).await;
        assert_ne!(asked["article"]["id"], b_refund.as_str(), "{asked}");
        assert_ne!(asked["article"]["id"], b_reset.as_str(), "{asked}");
        let conv = conversation(&app, &a).await;
        let all = say(&app, &a, &conv, "customer", question).await;
        for m in &all {
            assert!(
                m["article_id"].is_null() || m["article_id"] == a_reset.as_str(),
                "{m}"
            );
        }
    }
    let asked = ask(&app, &a, "Refund policy refund").await;
    assert_eq!(
        (&asked["article"], &asked["outcome"]),
        (&json!(null), &json!("handoff"))
    );
    assert_eq!(
        ask(&app, &a, "reset password").await["article"]["id"],
        a_reset.as_str()
    );

    // B's conversation is 404 to A, like a missing one, and B's bot is not woken.
    let r = app
        .post(
            &a,
            &format!("{b_conv}/messages"),
            &json!({"sender": "customer", "body": "refund"}),
        )
        .await;
    r.assert_error(404, "not_found");
    b_before.assert_http(&app).await;
}

#[actix_web::test]
async fn ask_writes_nothing() {
    let (app, owner, _admin, member) = spawn_app_with_team("Acme").await;
    article(
        &app,
        &owner,
        "Opening hours",
        "We are open from 9 to 5.",
        true,
    )
    .await;
    configure(&app, &owner, json!({"enabled": true})).await;
    let conv = conversation(&app, &owner).await;
    say(&app, &owner, &conv, "customer", "hours?").await;
    let before = app.get_ok(&owner, "/v1/organization/export").await["tables"].clone();
    for question in ["opening hours", "refunds", "???"] {
        ask(&app, &member, question).await;
    }
    let after = app.get_ok(&owner, "/v1/organization/export").await["tables"].clone();
    assert_eq!(before, after);
}

/// A question as long as a message may be (4000 characters): "warranty" three times and
/// "refund" twice, then about 660 distinct made-up words, each once.
fn long_question() -> String {
    let letter = |i: usize| char::from(b'a' + u8::try_from(i % 26).unwrap());
    let mut q = String::from("warranty refund warranty refund warranty");
    for i in 0.. {
        let word = format!(" zq{}{}{}", letter(i / 676), letter(i / 26), letter(i));
        if q.len() + word.len() > 4000 {
            break;
        }
        q.push_str(&word);
    }
    q.push_str(&"x".repeat(4000 - q.len()));
    assert_eq!(q.chars().count(), 4000);
    q
}

/// The lexemes of a tsquery's text (`'a' | 'b'`), sorted.
fn query_lexemes(query: &str) -> Vec<String> {
    let mut lexemes: Vec<String> = query
        .split(" | ")
        .map(|l| l.trim_matches('\'').to_owned())
        .collect();
    lexemes.sort();
    lexemes
}

/// The bot's search keeps at most 32 lexemes of a question (V0186): ts_rank_cd's cost grows
/// faster than the query's terms, and a 4000-character question of distinct words ORed every one
/// of them (over 600), which held a connection for seconds per article ranked. The 32 are the
/// question's most frequent, then the first in byte order: deterministic. A short question keeps
/// every word.
#[actix_web::test]
async fn a_long_question_searches_its_32_most_frequent_words() {
    let (app, _owner) = spawn_app_with_owner("Acme").await;
    let c = app.db.app_client().await;
    let question = long_question();
    let row = c
        .query_one(
            "SELECT palisade_private.chatbot_query($1)::text,
                    pg_catalog.numnode(palisade_private.chatbot_query($1))",
            &[&question],
        )
        .await
        .unwrap();
    let (query, nodes): (String, i32) = (row.get(0), row.get(1));
    // 32 lexemes ORed: 32 operands and 31 operators.
    assert_eq!(nodes, 63, "{query}");
    // The question's lexemes, each with how often it occurs, most frequent first, then in byte
    // order: the query is the first 32.
    let mut all: Vec<(i32, String)> = c
        .query(
            "SELECT cardinality(l.positions), l.lexeme
               FROM unnest(to_tsvector('english', $1)) AS l",
            &[&question],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(all.len() > 600, "{}", all.len());
    all.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    assert_eq!(
        (&all[0], &all[1]),
        (&(3, "warranti".to_owned()), &(2, "refund".to_owned()))
    );
    let mut expected: Vec<String> = all.into_iter().take(32).map(|(_, l)| l).collect();
    expected.sort();
    assert_eq!(query_lexemes(&query), expected);

    // A short question's query is every lexeme, as before.
    let short: String = c
        .query_one(
            "SELECT palisade_private.chatbot_query('How do I reset my password?')::text",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(short, "'password' | 'reset'");
}

/// At most 50 articles are ranked by ts_rank_cd (V0186): of the published articles that match,
/// the 50 that the cheaper ts_rank scores best. Here 61 match, and the best is still found, for
/// a question of 4000 characters (ask and a customer message) and for a short one; the plan
/// shows ts_rank_cd computed for 50 rows, not 61.
#[actix_web::test]
async fn a_4000_character_question_is_answered_and_at_most_50_articles_are_ranked() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    configure(&app, &owner, json!({"enabled": true})).await;
    let warranty = article(
        &app,
        &owner,
        "Warranty and refunds",
        "The warranty lasts two years. A refund takes five days.",
        true,
    )
    .await;
    let c = app.db.app_client().await;
    palisade_test_support::sql::execute_as(
        &c,
        &owner.org_id,
        &owner.user_id,
        "owner",
        "INSERT INTO palisade.kb_articles (organization_id, id, title, body, published)
         SELECT (SELECT palisade_private.current_org_id()), gen_random_uuid(), 'Note ' || i,
                'Ask us about a refund.', true
           FROM generate_series(1, 60) AS i",
        &[],
    )
    .await;

    let question = long_question();
    for q in [question.as_str(), "Can I get a refund?"] {
        let asked = ask(&app, &owner, q).await;
        assert_eq!(
            (&asked["outcome"], &asked["article"]["id"]),
            (&json!("answer"), &json!(warranty)),
            "{asked}"
        );
    }
    let conv = conversation(&app, &owner).await;
    let all = say(&app, &owner, &conv, "customer", &question).await;
    assert_eq!(senders(&all), ["customer", "bot"]);
    assert_eq!(all[1]["article_id"], warranty.as_str());

    // The plan of the ranking: every node that carries ts_rank_cd's score has at most 50 rows.
    palisade_test_support::sql::begin_as_user(&c, &owner.org_id, &owner.user_id, "owner").await;
    let plan: Value = c
        .query_one(
            &format!(
                "EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON)
                 SELECT * FROM palisade_private.chatbot_reply('{question}', 0.3, 'f', 'h')"
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    palisade_test_support::sql::rollback(&c).await;
    fn ranked(node: &Value, out: &mut Vec<i64>) {
        let outputs = node["Output"].as_array().into_iter().flatten();
        if outputs
            .filter_map(Value::as_str)
            .any(|o| o.contains("ts_rank_cd("))
        {
            out.push(node["Actual Rows"].as_i64().unwrap());
        }
        for child in node["Plans"].as_array().into_iter().flatten() {
            ranked(child, out);
        }
    }
    let mut rows = Vec::new();
    ranked(&plan[0]["Plan"], &mut rows);
    assert_eq!(rows.iter().max(), Some(&50), "{rows:?}: {plan:#}");
}

/// The isolation seeder: settings, a published article and a conversation the bot greeted and
/// answered from it (a bot message with its article set, for the composite foreign key).
pub async fn seed(app: &TestApp, acct: &Account, marker: &str) -> Seeded {
    configure(
        app,
        acct,
        json!({"enabled": true, "greeting": format!("{marker} greeting"), "confidence_threshold": 0.1}),
    )
    .await;
    article(
        app,
        acct,
        &format!("Warranty {marker}"),
        "The warranty lasts two years.",
        true,
    )
    .await;
    let conv = conversation(app, acct).await;
    let all = say(app, acct, &conv, "customer", "How long is the warranty?").await;
    assert_eq!(senders(&all), ["customer", "bot", "bot"], "{all:?}");
    assert!(all[2]["article_id"].is_string(), "{all:?}");
    Seeded {
        items: vec![],
        views: vec![SETTINGS.into(), format!("{conv}/messages?sender=bot")],
    }
}

/// docs/chatbot.md's claim that the bot's trigger is the only way palisade_app writes a bot
/// message rests on it being the only trigger function that writes chat messages: checked
/// from the catalog, so a new one fails here and gets reviewed.
#[actix_web::test]
async fn the_bot_is_the_only_trigger_that_writes_chat_messages() {
    let (app, _) = spawn_app_with_owner("Acme").await;
    let su = app.db.superuser_client().await;
    let writers: Vec<String> = su
        .query(
            "SELECT p.oid::regprocedure::text FROM pg_proc p
              WHERE p.prorettype = 'trigger'::regtype
                AND regexp_replace(lower(p.prosrc), '\\s+', ' ', 'g')
                    ~ '(insert into|update) palisade\\.chat_messages'
              ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(writers, ["palisade_private.chatbot_on_message()"]);
}

/// The bot's functions (V0169) have no `SET search_path`, so that PostgreSQL inlines
/// `chatbot_reply` into the statement that calls it, and the trigger's foreign key checks share
/// the customer message's plans. So they resolve names under their caller's search_path: every
/// function they call is named with its schema, and the one operator of operands pg_catalog has
/// no exact match for is `OPERATOR(pg_catalog.*)`. Here a schema on the caller's search_path
/// (`evil`, as a role able to create objects in a schema the caller searches would plant them)
/// offers a better match for those calls (`set_bit` with integer arguments, `numeric * integer`,
/// `cardinality` of V0186's `smallint[]` positions) and exact ones for others (`char_length`,
/// `encode`, `||`): none of them runs when a customer message is answered with an article
/// (greeting, ids, the article's text) under that path.
#[actix_web::test]
async fn the_bots_functions_are_inlined_and_no_search_path_redirects_them() {
    use palisade_test_support::sql::column;
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let su = app.db.superuser_client().await;
    let configured: Vec<String> = column(
        &su,
        "SELECT p.oid::regprocedure::text FROM pg_proc p
          WHERE p.pronamespace = 'palisade_private'::regnamespace
            AND p.proname IN ('uuid_v7', 'chatbot_query', 'chatbot_reply', 'chatbot_on_message')
            AND (p.proconfig IS NOT NULL OR p.prosecdef)",
    )
    .await;
    assert_eq!(configured, Vec::<String>::new());
    su.batch_execute(
        "CREATE SCHEMA evil;
         GRANT USAGE ON SCHEMA evil TO palisade_app;
         CREATE FUNCTION evil.refuse(text) RETURNS void LANGUAGE plpgsql
             AS $$BEGIN RAISE EXCEPTION 'evil.% ran', $1; END$$;
         CREATE FUNCTION evil.set_bit(bytea, integer, integer) RETURNS bytea LANGUAGE sql
             AS $$SELECT evil.refuse('set_bit'); SELECT $1$$;
         CREATE FUNCTION evil.times(numeric, integer) RETURNS numeric LANGUAGE sql
             AS $$SELECT evil.refuse('times'); SELECT $1$$;
         CREATE OPERATOR evil.* (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = evil.times);
         CREATE FUNCTION evil.cardinality(smallint[]) RETURNS integer LANGUAGE sql
             AS $$SELECT evil.refuse('cardinality'); SELECT 0$$;
         CREATE FUNCTION evil.char_length(text) RETURNS integer LANGUAGE sql
             AS $$SELECT evil.refuse('char_length'); SELECT 0$$;
         CREATE FUNCTION evil.encode(bytea, text) RETURNS text LANGUAGE sql
             AS $$SELECT evil.refuse('encode'); SELECT ''$$;
         CREATE FUNCTION evil.cat(text, text) RETURNS text LANGUAGE sql
             AS $$SELECT evil.refuse('cat'); SELECT ''$$;
         CREATE OPERATOR evil.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.cat);",
    )
    .await
    .unwrap();
    configure(
        &app,
        &owner,
        json!({"enabled": true, "greeting": "Hello from Acme."}),
    )
    .await;
    let id = article(
        &app,
        &owner,
        "Resetting your password",
        "Open the sign-in page and choose Forgot password.",
        true,
    )
    .await;
    let conv = conversation(&app, &owner).await;
    let conversation_id = conv
        .rsplit('/')
        .next()
        .unwrap()
        .parse::<uuid::Uuid>()
        .unwrap();

    let c = app.db.app_client().await;
    palisade_test_support::sql::begin_as_user(&c, &owner.org_id, &owner.user_id, "owner").await;
    c.batch_execute("SET LOCAL search_path = evil")
        .await
        .unwrap();
    // The inlined reply's plan, as the route's statement has it: no call of the function left.
    let plan: Vec<String> = column(
        &c,
        "EXPLAIN SELECT * FROM palisade_private.chatbot_reply('password', 0.3, 'f', 'h')",
    )
    .await;
    assert!(
        !plan.iter().any(|l| l.contains("Function Scan")),
        "{plan:#?}"
    );
    c.execute(
        "INSERT INTO palisade.chat_messages (id, conversation_id, sender, body) \
         VALUES (gen_random_uuid(), $1, 'customer', 'How do I reset my password?')",
        &[&conversation_id],
    )
    .await
    .unwrap();
    c.batch_execute("COMMIT").await.unwrap();

    let messages = history(&app, &owner, &conv).await;
    assert_eq!(senders(&messages), ["customer", "bot", "bot"]);
    assert_eq!(messages[1]["body"], "Hello from Acme.");
    assert_eq!(
        (&messages[2]["body"], &messages[2]["article_id"]),
        (
            &json!("Resetting your password\n\nOpen the sign-in page and choose Forgot password."),
            &json!(id)
        )
    );
    for m in &messages[1..] {
        let id: uuid::Uuid = m["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(id.get_version_num(), 7, "{m}");
    }
}

/// `POST /v1/chatbot/ask` (a search costing the shared database) is limited per organization,
/// all its users and API keys together: past the limit, 429 `rate_limited` with `Retry-After`
/// and the JSON error; another organization's calls still answer 200; a credential refused
/// answers 401, not 429 (the limit is checked after it); the app's clock moving on by
/// `Retry-After` lets the organization in again.
#[actix_web::test]
async fn asking_is_limited_per_organization() {
    use palisade_api::throttle::Limit;
    use palisade_domain::Role;
    let app = palisade_test_support::spawn_app_configured(|c| {
        c.rate_limits.chatbot_ask = Limit::parse("3/min").unwrap();
    })
    .await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, Role::Admin).await;
    let member = app.add_user(&owner, Role::Member).await;
    let key = app.api_key(&admin, "asker", Role::Member).await;
    let other = app.signup("Globex").await;
    let body = json!({"question": "how do I reset my password"});
    for who in [&owner, &member] {
        let r = app.post(who, "/v1/chatbot/ask", &body).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = app.post(&key, "/v1/chatbot/ask", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The fourth call within the minute, by any of them: refused, one interval (60 s / 3).
    for who in [&owner, &admin] {
        let r = app.post(who, "/v1/chatbot/ask", &body).await;
        assert_eq!(r.status, 429, "{}", r.text);
        assert_eq!(r.json["error"], "rate_limited", "{}", r.text);
        assert!(
            r.json["message"].as_str().unwrap().contains("retry"),
            "{}",
            r.text
        );
        assert_eq!(r.header("retry-after"), Some("20"));
    }
    // Another organization has its own budget.
    let r = app.post(&other, "/v1/chatbot/ask", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // A credential refused is 401 before the limit is looked at.
    app.remove_member(&owner, &member).await;
    let r = app.post(&member, "/v1/chatbot/ask", &body).await;
    assert_eq!(r.status, 401, "{}", r.text);
    app.clock.advance(time::Duration::seconds(20));
    let r = app.post(&owner, "/v1/chatbot/ask", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
}
