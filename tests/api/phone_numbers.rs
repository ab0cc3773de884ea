//! `/v1/phone-numbers`: globally unique numbers (409 `number_unavailable`, no detail), owner
//! and admin writes enforced by the handler and by the policies, the IVR menu link.

use palisade_domain::Role;
use palisade_test_support::spawn_app;
use serde_json::json;
use uuid::Uuid;

use crate::engagement::{create, ids, menu_tree, random_number};

#[actix_web::test]
async fn numbers_round_trip_and_follow_their_menu() {
    let app = spawn_app().await;
    let a = app.signup("Acme").await;
    let menu = create(
        &app,
        &a,
        "/v1/ivr/menus",
        json!({"name": "Main", "tree": menu_tree("Acme")}),
    )
    .await;
    let menu_id = menu["id"].as_str().unwrap();
    let number = random_number();
    let spaced = format!("{} {}", &number[..5], &number[5..]);
    let n = create(
        &app,
        &a,
        "/v1/phone-numbers",
        json!({"number": spaced, "label": "Support", "ivr_menu_id": menu_id}),
    )
    .await;
    assert_eq!(n["number"], number);
    assert_eq!(n["capabilities"], json!(["sms", "voice"]));
    assert_eq!(n["ivr_menu_id"], menu_id);
    let sms_only = create(
        &app,
        &a,
        "/v1/phone-numbers",
        json!({"number": random_number(), "capabilities": ["sms"]}),
    )
    .await;
    let path = format!("/v1/phone-numbers/{}", n["id"].as_str().unwrap());
    assert_eq!(app.call("GET", &path, Some(&a.token), None).await.json, n);

    for (query, expected) in [
        ("?capability=voice", vec![&n]),
        ("?capability=sms", vec![&sms_only, &n]),
        (&format!("?ivr_menu_id={menu_id}") as &str, vec![&n]),
        (&format!("?number=%2B{}", &number[1..]) as &str, vec![&n]),
    ] {
        let r = app
            .call(
                "GET",
                &format!("/v1/phone-numbers{query}"),
                Some(&a.token),
                None,
            )
            .await;
        let want: Vec<String> = expected
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids(&r.json), want, "{query}");
    }

    let r = app
        .call(
            "PATCH",
            &path,
            Some(&a.token),
            Some(&json!({"label": null, "capabilities": ["voice"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (&r.json["label"], &r.json["capabilities"]),
        (&json!(null), &json!(["voice"]))
    );
    let r = app
        .call(
            "PATCH",
            &path,
            Some(&a.token),
            Some(&json!({"number": random_number()})),
        )
        .await;
    assert_eq!(r.status, 400, "the number itself cannot change");

    // Deleting the menu keeps the number, without a menu.
    let r = app
        .call(
            "DELETE",
            &format!("/v1/ivr/menus/{menu_id}"),
            Some(&a.token),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        app.call("GET", &path, Some(&a.token), None).await.json["ivr_menu_id"],
        json!(null)
    );

    assert_eq!(
        app.call("DELETE", &path, Some(&a.token), None).await.status,
        204
    );
    assert_eq!(
        app.call("GET", &path, Some(&a.token), None).await.status,
        404
    );
    // Released: it can be added again.
    create(&app, &a, "/v1/phone-numbers", json!({"number": number})).await;
}

#[actix_web::test]
async fn a_number_taken_anywhere_is_409_number_unavailable_without_detail() {
    let app = spawn_app().await;
    let a = app.signup("A").await;
    let b = app.signup("B").await;
    let number = random_number();
    let b_number = create(
        &app,
        &b,
        "/v1/phone-numbers",
        json!({"number": number, "label": "B's secret label"}),
    )
    .await;
    let own = random_number();
    create(&app, &a, "/v1/phone-numbers", json!({"number": own})).await;

    let by_other = app
        .call(
            "POST",
            "/v1/phone-numbers",
            Some(&a.token),
            Some(&json!({"number": number})),
        )
        .await;
    let by_self = app
        .call(
            "POST",
            "/v1/phone-numbers",
            Some(&a.token),
            Some(&json!({"number": own})),
        )
        .await;
    assert_eq!(by_other.status, 409);
    assert_eq!(
        by_other.json,
        json!({"error": "number_unavailable", "message": "this number is not available"})
    );
    assert_eq!(
        by_other.json, by_self.json,
        "taken by another must answer like taken by oneself"
    );
    assert!(!by_other.text.contains(&b.org_id) && !by_other.text.contains("secret"));

    // A's lists and lookups still show nothing of B's number.
    let r = app
        .call(
            "GET",
            &format!("/v1/phone-numbers?number=%2B{}", &number[1..]),
            Some(&a.token),
            None,
        )
        .await;
    assert_eq!(r.json["data"], json!([]));
    let r = app
        .call(
            "GET",
            &format!("/v1/phone-numbers/{}", b_number["id"].as_str().unwrap()),
            Some(&a.token),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
}

#[actix_web::test]
async fn another_organizations_menu_answers_like_a_missing_one() {
    let app = spawn_app().await;
    let a = app.signup("A").await;
    let b = app.signup("B").await;
    let b_menu = create(
        &app,
        &b,
        "/v1/ivr/menus",
        json!({"name": "B", "tree": menu_tree("B")}),
    )
    .await;
    let mut answers = Vec::new();
    for menu in [
        b_menu["id"].as_str().unwrap().to_owned(),
        Uuid::now_v7().to_string(),
    ] {
        let r = app
            .call(
                "POST",
                "/v1/phone-numbers",
                Some(&a.token),
                Some(&json!({"number": random_number(), "ivr_menu_id": menu})),
            )
            .await;
        answers.push((r.status, r.json));
    }
    assert_eq!(answers[0].0, 422);
    assert_eq!(answers[0], answers[1]);
    let n = create(
        &app,
        &a,
        "/v1/phone-numbers",
        json!({"number": random_number()}),
    )
    .await;
    let path = format!("/v1/phone-numbers/{}", n["id"].as_str().unwrap());
    let r = app
        .call(
            "PATCH",
            &path,
            Some(&a.token),
            Some(&json!({"ivr_menu_id": b_menu["id"]})),
        )
        .await;
    assert_eq!((r.status, &r.json), (answers[1].0, &answers[1].1));
}

#[actix_web::test]
async fn members_read_numbers_but_only_owners_and_admins_write_them() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let member = app.add_user(&owner, Role::Member).await;
    let admin = app.add_user(&owner, Role::Admin).await;
    let n = create(
        &app,
        &admin,
        "/v1/phone-numbers",
        json!({"number": random_number(), "label": "Main"}),
    )
    .await;
    let path = format!("/v1/phone-numbers/{}", n["id"].as_str().unwrap());

    let r = app
        .call("GET", "/v1/phone-numbers", Some(&member.token), None)
        .await;
    assert_eq!(ids(&r.json), vec![n["id"].as_str().unwrap().to_owned()]);
    assert_eq!(
        app.call("GET", &path, Some(&member.token), None).await.json,
        n
    );
    for (method, p, body) in [
        (
            "POST",
            "/v1/phone-numbers",
            Some(json!({"number": random_number()})),
        ),
        ("PATCH", &path as &str, Some(json!({"label": "Mine now"}))),
        ("DELETE", &path, None),
    ] {
        let r = app
            .call(method, p, Some(&member.token), body.as_ref())
            .await;
        assert_eq!(
            (r.status, r.json["error"].as_str()),
            (403, Some("forbidden")),
            "{method}"
        );
    }
    assert_eq!(
        app.call("GET", &path, Some(&owner.token), None).await.json,
        n,
        "a member changed it"
    );
    let r = app
        .call(
            "PATCH",
            &path,
            Some(&admin.token),
            Some(&json!({"label": "Support"})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        app.call("DELETE", &path, Some(&owner.token), None)
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn the_policies_refuse_phone_number_writes_to_members() {
    let app_db = palisade_test_support::TestDb::new().await;
    let c = app_db.app_client().await;
    let org = Uuid::now_v7();
    let act = |role: &'static str| {
        let c = &c;
        async move {
            c.batch_execute("BEGIN").await.unwrap();
            c.execute(
                "SELECT set_config('app.current_org', $1, true), set_config('app.current_user', $2, true), \
                        set_config('app.current_role', $3, true)",
                &[&org.to_string(), &Uuid::now_v7().to_string(), &role],
            )
            .await
            .unwrap();
        }
    };
    act("owner").await;
    c.execute(
        "INSERT INTO palisade.organizations (id, name) VALUES ($1, 'org')",
        &[&org],
    )
    .await
    .unwrap();
    let id = Uuid::now_v7();
    c.execute(
        "INSERT INTO palisade.phone_numbers (id, number, capabilities) VALUES ($1, $2, '{sms}')",
        &[&id, &random_number()],
    )
    .await
    .unwrap();
    c.batch_execute("COMMIT").await.unwrap();

    act("member").await;
    let seen: i64 = c
        .query_one("SELECT count(*) FROM palisade.phone_numbers", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(seen, 1, "members read numbers");
    let err = c
        .execute(
            "INSERT INTO palisade.phone_numbers (id, number, capabilities) VALUES ($1, $2, '{sms}')",
            &[&Uuid::now_v7(), &random_number()],
        )
        .await
        .expect_err("a member inserted a number");
    let message = err
        .as_db_error()
        .map(|e| e.message().to_owned())
        .unwrap_or_default();
    assert!(
        message.starts_with("new row violates row-level security policy"),
        "{err:?}"
    );
    c.batch_execute("ROLLBACK").await.unwrap();
    act("member").await;
    let updated = c
        .execute(
            "UPDATE palisade.phone_numbers SET label = 'x' WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let deleted = c
        .execute("DELETE FROM palisade.phone_numbers WHERE id = $1", &[&id])
        .await
        .unwrap();
    assert_eq!((updated, deleted), (0, 0));
    c.batch_execute("ROLLBACK").await.unwrap();

    act("admin").await;
    let updated = c
        .execute(
            "UPDATE palisade.phone_numbers SET label = 'x' WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let deleted = c
        .execute("DELETE FROM palisade.phone_numbers WHERE id = $1", &[&id])
        .await
        .unwrap();
    assert_eq!((updated, deleted), (1, 1));
    c.batch_execute("ROLLBACK").await.unwrap();
}
