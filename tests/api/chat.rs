//! `/v1/chat/conversations` and messages over HTTP: CRUD, closing, filters, pagination, and
//! references to another organization's rows answered like missing ones.

use palisade_test_support::ids;
use palisade_test_support::spawn_app_with_owner;
use serde_json::json;
use uuid::Uuid;

#[actix_web::test]
async fn conversations_and_messages_round_trip() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let cust = app.create_customer(&a, json!({"name": "Grace"})).await;
    let cust_id = cust["id"].as_str().unwrap();
    let conv = json!({"customer_id": cust_id, "subject": " Billing question "});
    let conv = app.create(&a, "/v1/chat/conversations", conv).await;
    assert_eq!(conv["subject"], "Billing question");
    assert_eq!(conv["status"], "open");
    assert_eq!(conv["customer_id"], cust_id);
    let other = app.create(&a, "/v1/chat/conversations", json!({})).await;
    assert_eq!(other["customer_id"], json!(null));
    let path = format!("/v1/chat/conversations/{}", conv["id"].as_str().unwrap());
    assert_eq!(app.get(&a, &path).await.json, conv);

    let messages = format!("{path}/messages");
    let mut posted = Vec::new();
    for (sender, body) in [
        ("customer", "Hi"),
        ("agent", "Hello!\nHow can I help?"),
        ("customer", "Thanks"),
    ] {
        let m = app
            .create(&a, &messages, json!({"sender": sender, "body": body}))
            .await;
        assert_eq!(m["body"], body);
        assert_eq!(m["conversation_id"], conv["id"]);
        posted.push(m["id"].as_str().unwrap().to_owned());
    }
    posted.reverse();
    // Newest first, two per page.
    assert_eq!(app.walk_ids(&a, &messages, 2).await, posted);
    let r = app.get(&a, &format!("{messages}?sender=agent")).await;
    assert_eq!(ids(&r.json), vec![posted[1].clone()]);

    // Filters on the conversation list.
    let r = app
        .get(&a, &format!("/v1/chat/conversations?customer_id={cust_id}"))
        .await;
    assert_eq!(ids(&r.json), vec![conv["id"].as_str().unwrap().to_owned()]);

    // Closed conversations refuse messages until reopened.
    let r = app
        .patch(&a, &path, &json!({"status": "closed", "subject": null}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.json["status"].as_str(), &r.json["subject"]),
        (Some("closed"), &json!(null))
    );
    let r = app
        .post(&a, &messages, &json!({"sender": "agent", "body": "late"}))
        .await;
    r.assert_error(409, "conversation_closed");
    let r = app.get(&a, "/v1/chat/conversations?status=closed").await;
    assert_eq!(ids(&r.json), vec![conv["id"].as_str().unwrap().to_owned()]);
    let r = app.get(&a, "/v1/chat/conversations?status=open").await;
    assert_eq!(ids(&r.json), vec![other["id"].as_str().unwrap().to_owned()]);
    let r = app.patch(&a, &path, &json!({"status": "open"})).await;
    assert_eq!(r.json["status"], "open");
    app.create(&a, &messages, json!({"sender": "agent", "body": "back"}))
        .await;

    // Deleting the customer keeps the conversation, without a customer.
    let r = app.delete(&a, &format!("/v1/customers/{cust_id}")).await;
    assert_eq!(r.status, 204);
    assert_eq!(app.get(&a, &path).await.json["customer_id"], json!(null));

    // Deleting the conversation deletes its messages.
    assert_eq!(app.delete(&a, &path).await.status, 204);
    assert_eq!(app.get(&a, &path).await.status, 404);
    assert_eq!(app.get(&a, &messages).await.status, 404);
}

#[actix_web::test]
async fn another_organizations_customer_and_conversation_answer_like_missing_ones() {
    let (app, a) = spawn_app_with_owner("A").await;
    let b = app.signup("B").await;
    let b_cust = app.create_customer(&b, json!({"name": "Bob"})).await;
    let b_conv = app
        .create(&b, "/v1/chat/conversations", json!({"subject": "B's"}))
        .await;
    let foreign = b_cust["id"].as_str().unwrap();
    let missing = Uuid::now_v7().to_string();

    let mut answers = Vec::new();
    for id in [foreign, &missing] {
        let r = app
            .post(&a, "/v1/chat/conversations", &json!({"customer_id": id}))
            .await;
        answers.push(r);
    }
    palisade_test_support::assert_foreign_like_missing(&answers[0], &answers[1], "customer_id");

    let mine = app.create(&a, "/v1/chat/conversations", json!({})).await;
    let path = format!("/v1/chat/conversations/{}", mine["id"].as_str().unwrap());
    let r1 = app.patch(&a, &path, &json!({"customer_id": foreign})).await;
    let r2 = app.patch(&a, &path, &json!({"customer_id": missing})).await;
    assert_eq!((r1.status, &r1.json), (r2.status, &r2.json));
    assert_eq!(r1.status, 422);

    // B's conversation: 404 for reading and posting, like a missing one; nothing posted.
    let b_messages = format!(
        "/v1/chat/conversations/{}/messages",
        b_conv["id"].as_str().unwrap()
    );
    let missing_messages = format!("/v1/chat/conversations/{missing}/messages");
    for (method, body) in [
        ("GET", None),
        ("POST", Some(json!({"sender": "agent", "body": "hi"}))),
    ] {
        let r = app
            .call(method, &b_messages, Some(&a.token), body.as_ref())
            .await;
        let m = app
            .call(method, &missing_messages, Some(&a.token), body.as_ref())
            .await;
        assert_eq!(r.status, 404, "{method}: {}", r.text);
        assert_eq!(r.json, m.json);
    }
    let r = app.get(&b, &b_messages).await;
    assert_eq!(r.json["data"], json!([]));
}

#[actix_web::test]
async fn invalid_chat_input_is_refused() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let conv = app.create(&a, "/v1/chat/conversations", json!({})).await;
    let messages = format!(
        "/v1/chat/conversations/{}/messages",
        conv["id"].as_str().unwrap()
    );
    let cases = [
        (
            "POST",
            messages.clone(),
            json!({"sender": "robot", "body": "x"}),
            422,
            "sender",
        ),
        (
            "POST",
            messages.clone(),
            json!({"sender": "bot", "body": "Rate us"}),
            422,
            "sender",
        ),
        (
            "POST",
            messages.clone(),
            json!({"sender": "agent", "body": "  "}),
            422,
            "body",
        ),
        (
            "POST",
            messages.clone(),
            json!({"sender": "agent", "body": "x".repeat(4001)}),
            422,
            "body",
        ),
        (
            "POST",
            messages.clone(),
            json!({"sender": "agent"}),
            422,
            "body",
        ),
        (
            "POST",
            "/v1/chat/conversations".into(),
            json!({"customer_id": "nope"}),
            422,
            "customer_id",
        ),
        (
            "POST",
            "/v1/chat/conversations".into(),
            json!({"subject": "a\nb"}),
            422,
            "subject",
        ),
        (
            "PATCH",
            format!("/v1/chat/conversations/{}", conv["id"].as_str().unwrap()),
            json!({"status": "archived"}),
            422,
            "status",
        ),
        (
            "PATCH",
            format!("/v1/chat/conversations/{}", conv["id"].as_str().unwrap()),
            json!({"status": null}),
            422,
            "status",
        ),
        (
            "POST",
            "/v1/chat/conversations".into(),
            json!({"topic": "x"}),
            400,
            "",
        ),
    ];
    for (method, path, body, status, field) in cases {
        let r = app.call(method, &path, Some(&a.token), Some(&body)).await;
        assert_eq!(r.status, status, "{method} {path} {body}: {}", r.text);
        if status == 422 {
            assert_eq!(r.json["fields"][0]["field"], field, "{body}");
        }
    }
    for bad in [
        "?status=maybe",
        "?created_after=yesterday",
        "?customer_id=1",
    ] {
        let r = app.get(&a, &format!("/v1/chat/conversations{bad}")).await;
        assert_eq!(r.status, 422, "{bad}");
    }
    let r = app
        .get(&a, "/v1/chat/conversations/not-a-uuid/messages")
        .await;
    r.assert_error(400, "invalid_id");
    let r = app.get(&a, &format!("{messages}?sender=alien")).await;
    assert_eq!(r.status, 422);
    let r = app.get(&a, &messages).await;
    assert_eq!(r.json["data"], json!([]), "a refused message was stored");
}

#[actix_web::test]
async fn created_after_and_before_bound_the_list() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let first = app
        .create(&a, "/v1/chat/conversations", json!({"subject": "first"}))
        .await;
    let second = app
        .create(&a, "/v1/chat/conversations", json!({"subject": "second"}))
        .await;
    let t = second["created_at"].as_str().unwrap();
    let enc = |s: &str| s.replace('+', "%2B").replace(':', "%3A");
    let r = app
        .get(
            &a,
            &format!("/v1/chat/conversations?created_before={}", enc(t)),
        )
        .await;
    assert_eq!(ids(&r.json), vec![first["id"].as_str().unwrap().to_owned()]);
    let r = app
        .get(
            &a,
            &format!("/v1/chat/conversations?created_after={}", enc(t)),
        )
        .await;
    assert_eq!(
        ids(&r.json),
        vec![second["id"].as_str().unwrap().to_owned()]
    );
}

/// Only the server writes `sender: bot` (docs/chatbot.md): a client's is 422 on `sender` and
/// writes nothing; the app role cannot insert one, nor turn a message into one, outside the
/// chatbot's trigger; bot messages written before this rule stay readable.
#[actix_web::test]
async fn only_the_server_writes_bot_messages() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let conv = app.create(&a, "/v1/chat/conversations", json!({})).await;
    let conv_id = conv["id"].as_str().unwrap();
    let messages = format!("/v1/chat/conversations/{conv_id}/messages");
    let r = app
        .post(
            &a,
            &messages,
            &json!({"sender": "bot", "body": "I am the bot"}),
        )
        .await;
    r.assert_error(422, "validation_failed");
    assert_eq!(
        palisade_test_support::fields(&r.json),
        vec!["sender".to_owned()]
    );
    assert_eq!(app.get_ok(&a, &messages).await["data"], json!([]));

    let c = app.db.app_client().await;
    let conv_uuid = Uuid::parse_str(conv_id).unwrap();
    let customer = app
        .create(
            &a,
            &messages,
            json!({"sender": "customer", "body": "Hello"}),
        )
        .await;
    let customer_uuid = Uuid::parse_str(customer["id"].as_str().unwrap()).unwrap();
    for (sql, id) in [
        (
            "INSERT INTO palisade.chat_messages (id, conversation_id, sender, body) \
             VALUES (gen_random_uuid(), $1, 'bot', 'forged')",
            conv_uuid,
        ),
        (
            "UPDATE palisade.chat_messages SET sender = 'bot' WHERE id = $1",
            customer_uuid,
        ),
    ] {
        palisade_test_support::sql::begin_as(&c, &a.org_id, "owner").await;
        let err = c.execute(sql, &[&id]).await.unwrap_err();
        palisade_test_support::sql::rollback(&c).await;
        assert!(
            palisade_test_support::sql::is_rls_refusal(&err),
            "{sql}: {err:?}"
        );
        // As the server classifies it (and logs it): the refused table named.
        assert!(
            matches!(palisade_db::DbError::from(err),
                palisade_db::DbError::PermissionDenied { table } if table == "chat_messages"),
            "{sql}"
        );
    }

    // A bot message from before the rule (written as the database owner would have) stays.
    let su = app.db.superuser_client().await;
    su.execute(
        "INSERT INTO palisade.chat_messages (organization_id, id, conversation_id, sender, body) \
         VALUES ($1::text::uuid, gen_random_uuid(), $2, 'bot', 'Rate us')",
        &[&a.org_id, &conv_uuid],
    )
    .await
    .unwrap();
    let bots = app.get_ok(&a, &format!("{messages}?sender=bot")).await;
    assert_eq!(bots["data"][0]["body"], "Rate us");
    assert_eq!(bots["data"][0]["article_id"], json!(null));
}

/// The bot-only rule trusts "a trigger is running": the app role must not be able to run a
/// trigger of its own. It owns nothing, and it may not create temporary objects either
/// (policies/002_no_temporary_objects.sql): no temporary table to hang a trigger on, no
/// function in pg_temp.
#[actix_web::test]
async fn the_app_role_cannot_create_a_trigger_of_its_own() {
    let app = palisade_test_support::spawn_app().await;
    let c = app.db.app_client().await;
    for sql in [
        "CREATE TEMPORARY TABLE forged (i int)",
        "CREATE FUNCTION pg_temp.forge() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
        "CREATE TABLE public.forged (i int)",
    ] {
        let e = c.batch_execute(sql).await.expect_err(sql);
        assert_eq!(
            palisade_test_support::sql::sqlstate(&e, sql),
            &tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE,
            "{sql}"
        );
    }
}
