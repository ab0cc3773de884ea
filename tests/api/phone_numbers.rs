//! `/v1/phone-numbers`: numbers are assigned from the platform's inventory, not claimed. The
//! operator stocks the inventory (as the owner, `TestApp::stock_numbers`); organizations claim
//! only available numbers, atomically, and a number that is not available answers the same
//! whatever the reason; released numbers are quarantined (by the injectable clock); deleting an
//! organization quarantines its numbers; browsing shows nothing about holders; outbound
//! from numbers must be the organization's own; owner and admin writes are enforced by the
//! handler and by the policies.

use futures_util::future::join_all;
use palisade_domain::{Clock, Role};
use palisade_test_support::ids;
use palisade_test_support::{
    Account, TestApp, spawn_app, spawn_app_with_owner, spawn_app_with_team, unique_number,
};
use serde_json::{Value, json};
use uuid::Uuid;

use palisade_test_support::sql::{assert_members_read_and_only_admins_write, begin_as};

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

/// `t` as PostgreSQL stores it (microseconds).
fn micros(t: time::OffsetDateTime) -> time::OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap()
}

fn unavailable() -> Value {
    json!({"error": "number_unavailable", "message": "this number is not available"})
}

/// The numbers (and capabilities) `acct` may claim now, following every cursor.
async fn browse(app: &TestApp, acct: &Account, query: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/phone-numbers/available?limit=2{query}&cursor={c}"),
            None => format!("/v1/phone-numbers/available?limit=2{query}"),
        };
        let r = app.get(&acct, &path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        for n in r.json["data"].as_array().unwrap() {
            assert_eq!(
                n.as_object().unwrap().len(),
                2,
                "only number and capabilities: {n}"
            );
            out.push((
                n["number"].as_str().unwrap().to_owned(),
                n["capabilities"].clone(),
            ));
        }
        match r.json["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

/// The inventory row of `number`, as the operator sees it: (holder, released_by, released_at).
async fn inventory_row(
    app: &TestApp,
    number: &str,
) -> (Option<Uuid>, Option<Uuid>, Option<time::OffsetDateTime>) {
    let owner = app.db.owner_client().await;
    let r = owner
        .query_one(
            "SELECT holder_org_id, released_by_org_id, released_at \
             FROM palisade_platform.phone_number_inventory WHERE number = $1",
            &[&number],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

#[actix_web::test]
async fn numbers_are_claimed_from_the_inventory_and_follow_their_menu() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let menu = crate::engagement::menu(&app, &a, "Main", "Acme").await;
    let menu_id = menu["id"].as_str().unwrap();
    let number = unique_number();
    let sms_only = unique_number();
    app.stock_numbers(&[(&number, &["sms", "voice"]), (&sms_only, &["sms"])])
        .await;
    let spaced = format!("{} {}", &number[..5], &number[5..]);
    let n = app
        .create(
            &a,
            "/v1/phone-numbers",
            json!({"number": spaced, "label": "Support", "ivr_menu_id": menu_id}),
        )
        .await;
    assert_eq!(n["number"], number);
    assert_eq!(n["capabilities"], json!(["sms", "voice"]), "all it has");
    assert_eq!(n["ivr_menu_id"], menu_id);
    let sms_only = app
        .create(&a, "/v1/phone-numbers", json!({"number": sms_only}))
        .await;
    assert_eq!(sms_only["capabilities"], json!(["sms"]));
    assert_eq!(
        inventory_row(&app, &number).await.0,
        Some(Uuid::parse_str(&a.org_id).unwrap())
    );
    let path = format!("/v1/phone-numbers/{}", id(&n));
    assert_eq!(app.get(&a, &path).await.json, n);

    for (query, expected) in [
        ("?capability=voice", vec![&n]),
        ("?capability=sms", vec![&sms_only, &n]),
        (&format!("?ivr_menu_id={menu_id}") as &str, vec![&n]),
        (&format!("?number=%2B{}", &number[1..]) as &str, vec![&n]),
    ] {
        let r = app.get(&a, &format!("/v1/phone-numbers{query}")).await;
        let want: Vec<String> = expected.iter().map(|e| id(e).to_owned()).collect();
        assert_eq!(ids(&r.json), want, "{query}");
    }

    let r = app
        .patch(
            &a,
            &path,
            &json!({"label": null, "capabilities": ["voice"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (&r.json["label"], &r.json["capabilities"]),
        (&json!(null), &json!(["voice"]))
    );
    let r = app
        .patch(&a, &path, &json!({"number": unique_number()}))
        .await;
    assert_eq!(r.status, 400, "the number itself cannot change");

    // Deleting the menu keeps the number, without a menu.
    let r = app.delete(&a, &format!("/v1/ivr/menus/{menu_id}")).await;
    assert_eq!(r.status, 204);
    assert_eq!(app.get(&a, &path).await.json["ivr_menu_id"], json!(null));

    assert_eq!(app.delete(&a, &path).await.status, 204);
    assert_eq!(app.get(&a, &path).await.status, 404);
    // Released into quarantine; the organization that released it may take it back at once.
    let (holder, released_by, released_at) = inventory_row(&app, &number).await;
    assert_eq!(holder, None);
    assert_eq!(released_by, Some(Uuid::parse_str(&a.org_id).unwrap()));
    assert_eq!(released_at, Some(micros(app.clock.now())));
    app.create(&a, "/v1/phone-numbers", json!({"number": number}))
        .await;
    assert_eq!(inventory_row(&app, &number).await.1, None);
}

#[actix_web::test]
async fn a_number_that_is_not_available_answers_the_same_whatever_the_reason() {
    let (app, a) = spawn_app_with_owner("A").await;
    let b = app.signup("B").await;
    let held_by_b = unique_number();
    let released_by_b = unique_number();
    app.stock_numbers(&[(&held_by_b, &["sms"]), (&released_by_b, &["sms"])])
        .await;
    let b_number = json!({"number": held_by_b, "label": "B's secret label"});
    let b_number = app.create(&b, "/v1/phone-numbers", b_number).await;
    let released = app
        .create(&b, "/v1/phone-numbers", json!({"number": released_by_b}))
        .await;
    let r = app
        .delete(&b, &format!("/v1/phone-numbers/{}", id(&released)))
        .await;
    assert_eq!(r.status, 204);
    let own = app.claim_number(&a, &["sms"]).await;

    for (why, number) in [
        ("unknown to the inventory", unique_number()),
        ("held by another organization", held_by_b.clone()),
        ("quarantined by another organization", released_by_b.clone()),
        ("already this organization's", own.clone()),
    ] {
        let r = app.claim(&a, &number).await;
        assert_eq!((r.status, &r.json), (409, &unavailable()), "{why}");
        assert!(
            !r.text.contains(&b.org_id) && !r.text.contains("secret"),
            "{why}"
        );
        // The same when it asks for capabilities the number lacks: no 422 telling them.
        let wider = json!({"number": number, "capabilities": ["sms", "voice"]});
        let r = app.post(&a, "/v1/phone-numbers", &wider).await;
        assert_eq!((r.status, &r.json), (409, &unavailable()), "{why}, wider");
    }

    // A's lists and lookups still show nothing of B's number, and nothing changed for B.
    let r = app
        .get(
            &a,
            &format!("/v1/phone-numbers?number=%2B{}", &held_by_b[1..]),
        )
        .await;
    assert_eq!(r.json["data"], json!([]));
    let path = format!("/v1/phone-numbers/{}", id(&b_number));
    assert_eq!(app.get(&a, &path).await.status, 404);
    assert_eq!(app.get(&b, &path).await.json, b_number);
    for number in [&held_by_b, &released_by_b] {
        assert_eq!(
            inventory_row(&app, number).await.0.is_some(),
            number == &held_by_b
        );
    }
}

#[actix_web::test]
async fn of_organizations_racing_for_one_number_exactly_one_wins() {
    let app = spawn_app().await;
    let mut accounts = Vec::new();
    for i in 0..6 {
        accounts.push(app.signup(&format!("Racer {i}")).await);
    }
    for round in 0..3 {
        let number = unique_number();
        app.stock_numbers(&[(&number, &["sms", "voice"])]).await;
        let answers = join_all(accounts.iter().map(|acct| app.claim(acct, &number))).await;
        let winners: Vec<&Account> = answers
            .iter()
            .zip(&accounts)
            .filter(|(r, _)| r.status == 201)
            .map(|(_, a)| a)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {answers:?}");
        for r in answers.iter().filter(|r| r.status != 201) {
            assert_eq!((r.status, &r.json), (409, &unavailable()), "round {round}");
        }
        assert_eq!(
            inventory_row(&app, &number).await.0,
            Some(Uuid::parse_str(&winners[0].org_id).unwrap())
        );
        // Exactly one organization lists it.
        let mut holders = 0;
        for acct in &accounts {
            let r = app
                .get(
                    &acct,
                    &format!("/v1/phone-numbers?number=%2B{}", &number[1..]),
                )
                .await;
            holders += r.json["data"].as_array().unwrap().len();
        }
        assert_eq!(holders, 1, "round {round}");
    }
}

#[actix_web::test]
async fn organizations_browse_what_is_available_and_nothing_about_holders() {
    let (app, a) = spawn_app_with_owner("A").await;
    let b = app.signup("B").await;
    let mut stocked: Vec<String> = (0..5).map(|_| unique_number()).collect();
    stocked.sort();
    app.stock_numbers(&[
        (&stocked[0], &["sms", "voice"]),
        (&stocked[1], &["sms"]),
        (&stocked[2], &["voice"]),
        (&stocked[3], &["sms", "voice"]),
        (&stocked[4], &["sms"]),
    ])
    .await;
    app.create(&b, "/v1/phone-numbers", json!({"number": stocked[3]}))
        .await;
    let all = browse(&app, &a, "").await;
    let expected: Vec<(String, Value)> = vec![
        (stocked[0].clone(), json!(["sms", "voice"])),
        (stocked[1].clone(), json!(["sms"])),
        (stocked[2].clone(), json!(["voice"])),
        (stocked[4].clone(), json!(["sms"])),
    ];
    assert_eq!(
        all, expected,
        "in number order, across pages, B's number absent"
    );
    let voice: Vec<String> = browse(&app, &a, "&capability=voice")
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(voice, vec![stocked[0].clone(), stocked[2].clone()]);
    // A cursor holds its filter, as every list's does: given with another, 400.
    let first = app
        .get_ok(&a, "/v1/phone-numbers/available?limit=1&capability=sms")
        .await;
    let cursor = first["next_cursor"].as_str().unwrap();
    for other in ["", "&capability=voice"] {
        let r = app
            .get(
                &a,
                &format!("/v1/phone-numbers/available?limit=1&cursor={cursor}{other}"),
            )
            .await;
        r.assert_error_at(400, "invalid_cursor", other);
    }
    let r = app
        .get_ok(
            &a,
            &format!("/v1/phone-numbers/available?limit=1&cursor={cursor}&capability=sms"),
        )
        .await;
    assert_eq!(r["data"][0]["number"], stocked[1].as_str());
    // A member may browse too; bad input is 4xx.
    let member = app.add_user(&a, Role::Member).await;
    assert_eq!(browse(&app, &member, "").await, expected);
    for (query, status) in [
        ("?capability=fax", 422),
        ("?cursor=bm90LWEtY3Vyc29y", 400),
        ("?limit=0", 422),
    ] {
        let r = app
            .get(&a, &format!("/v1/phone-numbers/available{query}"))
            .await;
        assert_eq!(r.status, status, "{query}: {}", r.text);
    }
    assert_eq!(
        app.call("GET", "/v1/phone-numbers/available", None, None)
            .await
            .status,
        401
    );
}

#[actix_web::test]
async fn a_released_number_is_quarantined_for_everyone_else_until_the_clock_says() {
    let (app, a) = spawn_app_with_owner("A").await;
    let b = app.signup("B").await;
    let number = app.claim_number(&a, &["sms", "voice"]).await;
    let r = app
        .get(&a, &format!("/v1/phone-numbers?number=%2B{}", &number[1..]))
        .await;
    let path = format!("/v1/phone-numbers/{}", id(&r.json["data"][0]));
    assert_eq!(app.delete(&a, &path).await.status, 204);
    let only_a_sees_it = |acct: &Account| {
        let acct = acct.clone();
        let app = &app;
        let number = number.clone();
        async move {
            browse(app, &acct, "")
                .await
                .iter()
                .any(|(n, _)| *n == number)
        }
    };
    assert!(only_a_sees_it(&a).await, "A may take it back");
    assert!(!only_a_sees_it(&b).await, "B must not see it yet");
    assert_eq!(app.claim(&b, &number).await.status, 409);

    app.clock
        .advance(time::Duration::days(30) - time::Duration::seconds(1));
    assert_eq!(app.claim(&b, &number).await.json, unavailable());
    assert!(!only_a_sees_it(&b).await);

    app.clock.advance(time::Duration::seconds(1));
    assert!(only_a_sees_it(&b).await, "the quarantine is over");
    let r = app.claim(&b, &number).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(app.claim(&a, &number).await.json, unavailable());
}

#[actix_web::test]
async fn the_releasing_organization_takes_its_number_back_during_the_quarantine() {
    let (app, a) = spawn_app_with_owner("A").await;
    let b = app.signup("B").await;
    let number = app.claim_number(&a, &["sms"]).await;
    let listed = app.get(&a, "/v1/phone-numbers").await;
    let path = format!("/v1/phone-numbers/{}", id(&listed.json["data"][0]));
    app.delete(&a, &path).await;
    app.clock.advance(time::Duration::days(10));
    assert_eq!(app.claim(&a, &number).await.status, 201);
    // Taken back: a fresh assignment, and no quarantine left behind for anyone.
    assert_eq!(inventory_row(&app, &number).await.1, None);
    app.clock.advance(time::Duration::days(60));
    assert_eq!(app.claim(&b, &number).await.json, unavailable());
}

#[actix_web::test]
async fn deleting_an_organization_quarantines_its_numbers() {
    let (app, a) = spawn_app_with_owner("A").await;
    let b = app.signup("B").await;
    let sms = app.claim_number(&a, &["sms"]).await;
    let voice = app.claim_number(&a, &["voice"]).await;
    app.clock.advance(time::Duration::days(3));
    let deleted_at = micros(app.clock.now());
    let r = app.delete(&a, "/v1/organization").await;
    assert_eq!(r.status, 204, "{}", r.text);
    for number in [&sms, &voice] {
        let (holder, released_by, released_at) = inventory_row(&app, number).await;
        assert_eq!(holder, None, "the inventory learnt of the deletion");
        assert_eq!(released_by, Some(Uuid::parse_str(&a.org_id).unwrap()));
        assert_eq!(released_at, Some(deleted_at), "by the application's clock");
        assert_eq!(app.claim(&b, number).await.json, unavailable());
    }
    app.clock.advance(time::Duration::days(29));
    assert_eq!(app.claim(&b, &sms).await.status, 409);
    app.clock.advance(time::Duration::days(1));
    assert_eq!(app.claim(&b, &sms).await.status, 201);
    assert_eq!(app.claim(&b, &voice).await.status, 201);
}

#[actix_web::test]
async fn capabilities_are_bounded_by_what_the_carrier_gives_the_number() {
    let (app, a) = spawn_app_with_owner("A").await;
    let number = unique_number();
    app.stock_numbers(&[(&number, &["sms"])]).await;
    let r = app
        .post(
            &a,
            "/v1/phone-numbers",
            &json!({"number": number, "capabilities": ["sms", "voice"]}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json["fields"][0]["field"], "capabilities", "{}", r.text);
    assert_eq!(
        inventory_row(&app, &number).await.0,
        None,
        "the refused claim rolled back"
    );
    let r = app.get(&a, "/v1/phone-numbers").await;
    assert_eq!(r.json["data"], json!([]), "and its row with it");
    let n = app
        .create(
            &a,
            "/v1/phone-numbers",
            json!({"number": number, "capabilities": ["sms"]}),
        )
        .await;
    let r = app
        .patch(
            &a,
            &format!("/v1/phone-numbers/{}", id(&n)),
            &json!({"capabilities": ["voice"]}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
}

/// docs/phone-numbers.md, "Capabilities given again change the inventory only": narrowing a
/// held number in the inventory leaves the holder's set, by which inbound calls are still
/// routed; the holder's PATCH restating it is refused, and one to the new set narrows it.
#[actix_web::test]
async fn narrowing_a_held_number_in_the_inventory_leaves_the_holders_set_until_it_patches() {
    let (app, a) = spawn_app_with_owner("A").await;
    let number = unique_number();
    app.stock_numbers(&[(&number, &["sms", "voice"])]).await;
    let n = app
        .create(&a, "/v1/phone-numbers", json!({"number": number}))
        .await;
    let path = format!("/v1/phone-numbers/{}", id(&n));
    app.stock_numbers(&[(&number, &["sms"])]).await;
    let routed = || async {
        let c = app.db.app_client().await;
        let org: Option<Uuid> = c
            .query_one(
                "SELECT palisade_private.webhook_org_for_number($1, 'voice')",
                &[&number],
            )
            .await
            .unwrap()
            .get(0);
        org.map(|o| o.to_string())
    };

    assert_eq!(
        app.get_ok(&a, &path).await["capabilities"],
        json!(["sms", "voice"])
    );
    assert_eq!(
        routed().await,
        Some(a.org_id.clone()),
        "calls still routed to the holder"
    );
    let r = app
        .patch(
            &a,
            &path,
            &json!({"label": "Main", "capabilities": ["sms", "voice"]}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json["fields"][0]["field"], "capabilities", "{}", r.text);
    let r = app.patch(&a, &path, &json!({"label": "Main"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .patch(&a, &path, &json!({"capabilities": ["sms"]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["capabilities"], json!(["sms"]));
    assert_eq!(routed().await, None);
}

#[actix_web::test]
async fn the_database_refuses_a_number_the_inventory_does_not_assign() {
    let (app, a) = spawn_app_with_owner("A").await;
    let b = app.signup("B").await;
    let bs = app.claim_number(&b, &["sms"]).await;
    let free = unique_number();
    app.stock_numbers(&[(&free, &["sms"])]).await;
    let c = app.db.app_client().await;
    for number in [&bs, &free, &unique_number()] {
        palisade_test_support::sql::begin_as(&c, &a.org_id, "owner").await;
        let err = c
            .execute(
                "INSERT INTO palisade.phone_numbers (id, number, capabilities) VALUES ($1, $2, '{sms}')",
                &[&Uuid::now_v7(), number],
            )
            .await
            .expect_err("a direct insert claimed a number");
        let db = err.as_db_error().unwrap();
        // B's number trips the global key first; the others, the inventory's foreign key.
        assert!(
            ["phone_numbers_inventory_fkey", "phone_numbers_number_key"]
                .contains(&db.constraint().unwrap_or_default()),
            "{err:?}"
        );
        c.batch_execute("ROLLBACK").await.unwrap();
    }
    // The app role cannot read or write the inventory itself.
    for sql in [
        "SELECT count(*) FROM palisade_platform.phone_number_inventory",
        "UPDATE palisade_platform.phone_number_inventory SET holder_org_id = NULL",
    ] {
        let err = c.execute(sql, &[]).await.expect_err(sql);
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}"
        );
    }
    // The claim function acts for the context only: no organization, or a member, claims nothing.
    for (org, role) in [("", "owner"), (a.org_id.as_str(), "member")] {
        palisade_test_support::sql::begin_as(&c, &org, role).await;
        let caps: Option<Vec<String>> = c
            .query_one(
                "SELECT palisade_private.claim_phone_number($1, now(), interval '30 days')",
                &[&free],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(caps, None, "{role} in {org:?}");
        c.batch_execute("ROLLBACK").await.unwrap();
    }
    assert_eq!(inventory_row(&app, &free).await.0, None);
}

#[actix_web::test]
async fn another_organizations_menu_answers_like_a_missing_one() {
    let (app, a) = spawn_app_with_owner("A").await;
    let b = app.signup("B").await;
    let b_menu = crate::engagement::menu(&app, &b, "B", "B").await;
    let mut answers = Vec::new();
    for menu in [id(&b_menu).to_owned(), Uuid::now_v7().to_string()] {
        let number = unique_number();
        app.stock_numbers(&[(&number, &["voice"])]).await;
        let r = app
            .post(
                &a,
                "/v1/phone-numbers",
                &json!({"number": number, "ivr_menu_id": menu}),
            )
            .await;
        answers.push(r);
        assert_eq!(inventory_row(&app, &number).await.0, None, "rolled back");
    }
    palisade_test_support::assert_foreign_like_missing(&answers[0], &answers[1], "ivr_menu_id");
    let number = app.claim_number(&a, &["voice"]).await;
    let listed = app
        .get(&a, &format!("/v1/phone-numbers?number=%2B{}", &number[1..]))
        .await;
    let path = format!("/v1/phone-numbers/{}", id(&listed.json["data"][0]));
    let r = app
        .patch(&a, &path, &json!({"ivr_menu_id": b_menu["id"]}))
        .await;
    assert_eq!((r.status, &r.json), (answers[1].status, &answers[1].json));
}

#[actix_web::test]
async fn members_read_numbers_but_only_owners_and_admins_write_them() {
    let (app, owner, admin, member) = spawn_app_with_team("Acme").await;
    let main = unique_number();
    let spare = unique_number();
    app.stock_numbers(&[(&main, &["sms", "voice"]), (&spare, &["sms"])])
        .await;
    let n = json!({"number": main, "label": "Main"});
    let n = app.create(&admin, "/v1/phone-numbers", n).await;
    let path = format!("/v1/phone-numbers/{}", id(&n));

    let r = app.get(&member, "/v1/phone-numbers").await;
    assert_eq!(ids(&r.json), vec![id(&n).to_owned()]);
    assert_eq!(app.get(&member, &path).await.json, n);
    let writes = [
        ("POST", "/v1/phone-numbers", Some(json!({"number": spare}))),
        ("PATCH", &path, Some(json!({"label": "Mine now"}))),
        ("DELETE", &path, None),
    ];
    app.assert_forbidden(&member, &writes).await;
    assert_eq!(app.get(&owner, &path).await.json, n, "a member changed it");
    assert_eq!(
        inventory_row(&app, &spare).await.0,
        None,
        "a member claimed"
    );
    let r = app.patch(&admin, &path, &json!({"label": "Support"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(app.delete(&owner, &path).await.status, 204);
}

#[tokio::test]
async fn the_policies_refuse_phone_number_writes_to_members() {
    let app_db = palisade_test_support::TestDb::new().await;
    let c = app_db.app_client().await;
    let org = palisade_test_support::sql::begin_new_organization(&c).await;
    c.batch_execute("COMMIT").await.unwrap();
    // The operator assigns two numbers to the organization, so only the policies can refuse.
    let (first, second) = (unique_number(), unique_number());
    app_db
        .owner_client()
        .await
        .execute(
            "INSERT INTO palisade_platform.phone_number_inventory (number, capabilities, holder_org_id) \
             VALUES ($1, '{sms}', $3), ($2, '{sms}', $3)",
            &[&first, &second, &org],
        )
        .await
        .unwrap();
    let insert =
        "INSERT INTO palisade.phone_numbers (id, number, capabilities) VALUES ($1, $2, '{sms}')";
    begin_as(&c, org, "owner").await;
    let id = Uuid::now_v7();
    c.execute(insert, &[&id, &first]).await.unwrap();
    c.batch_execute("COMMIT").await.unwrap();

    assert_members_read_and_only_admins_write(
        &c,
        org,
        "phone_numbers",
        id,
        insert,
        &[&Uuid::now_v7(), &second],
        "label = 'x'",
    )
    .await;
}

#[actix_web::test]
async fn outbound_from_numbers_must_be_the_organizations_own_with_the_capability() {
    let (app, a) = spawn_app_with_owner("A").await;
    let b = app.signup("B").await;
    let sms = app.claim_number(&a, &["sms"]).await;
    let voice = app.claim_number(&a, &["voice"]).await;
    let bs = app.claim_number(&b, &["sms", "voice"]).await;
    let not_owned = |capability: &str| {
        json!({
            "error": "from_number_not_owned",
            "message": format!("from_number must be one of this organization's phone numbers with the {capability} capability"),
        })
    };

    // SMS campaigns.
    for from in [&bs, &voice, &unique_number()] {
        let r = app
            .post(
                &a,
                "/v1/sms-campaigns",
                &json!({"name": "x", "body": "x", "from_number": from}),
            )
            .await;
        assert_eq!((r.status, &r.json), (422, &not_owned("sms")), "{from}");
    }
    let campaign = app
        .create(
            &a,
            "/v1/sms-campaigns",
            json!({"name": "Promo", "body": "Sale!", "from_number": sms}),
        )
        .await;
    let campaign_path = format!("/v1/sms-campaigns/{}", id(&campaign));
    let r = app
        .patch(&a, &campaign_path, &json!({"from_number": bs}))
        .await;
    assert_eq!((r.status, &r.json), (422, &not_owned("sms")));
    let r = app
        .post(
            &a,
            &format!("{campaign_path}/messages"),
            &json!({"to_number": "+14155550123"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["from_number"], sms.as_str());

    // Calls: outbound from a voice number of ours; inbound keeps the caller's number.
    for from in [&bs, &sms] {
        let call =
            json!({"direction": "outbound", "from_number": from, "to_number": "+14155550123"});
        let r = app.post(&a, "/v1/calls", &call).await;
        assert_eq!((r.status, &r.json), (422, &not_owned("voice")), "{from}");
    }
    for body in [
        json!({"direction": "outbound", "from_number": voice, "to_number": "+14155550123"}),
        json!({"direction": "inbound", "from_number": "+14155550123", "to_number": voice}),
        json!({"direction": "inbound", "from_number": bs, "to_number": voice}),
    ] {
        app.create(&a, "/v1/calls", body).await;
    }

    // The number cannot be released, or lose sms, while the campaign may still send.
    let listed = app
        .get(&a, &format!("/v1/phone-numbers?number=%2B{}", &sms[1..]))
        .await;
    let number_path = format!("/v1/phone-numbers/{}", id(&listed.json["data"][0]));
    let r = app.delete(&a, &number_path).await;
    r.assert_error(409, "number_in_use");
    assert!(inventory_row(&app, &sms).await.0.is_some());
    let r = app
        .patch(&a, &campaign_path, &json!({"status": "cancelled"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.delete(&a, &number_path).await;
    assert_eq!(
        r.status, 204,
        "a cancelled campaign pins nothing: {}",
        r.text
    );
    // Its history keeps the number it was sent from.
    assert_eq!(
        app.get(&a, &campaign_path).await.json["from_number"],
        sms.as_str()
    );
}

#[actix_web::test]
async fn the_database_refuses_outbound_rows_from_numbers_not_owned() {
    let (app, a) = spawn_app_with_owner("A").await;
    let b = app.signup("B").await;
    let sms = app.claim_number(&a, &["sms"]).await;
    let bs = app.claim_number(&b, &["sms", "voice"]).await;
    let c = app.db.app_client().await;
    let begin = async || {
        palisade_test_support::sql::begin_as(&c, &a.org_id, "owner").await;
    };
    for (sql, from, constraint) in [
        (
            "INSERT INTO palisade.sms_messages (id, direction, from_number, to_number, status) \
             VALUES ($1, 'outbound', $2, '+14155550123', 'queued')",
            &bs,
            "sms_messages_from_number_owned",
        ),
        (
            "INSERT INTO palisade.calls (id, direction, from_number, to_number) \
             VALUES ($1, 'outbound', $2, '+14155550123')",
            &sms,
            "calls_from_number_owned",
        ),
        (
            "INSERT INTO palisade.sms_campaigns (id, name, body, from_number) VALUES ($1, 'x', 'x', $2)",
            &bs,
            "sms_campaigns_from_number_fkey",
        ),
    ] {
        begin().await;
        let err = c
            .execute(sql, &[&Uuid::now_v7(), from])
            .await
            .expect_err(sql);
        assert_eq!(
            (err.code(), err.as_db_error().and_then(|e| e.constraint())),
            (
                Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION),
                Some(constraint)
            ),
            "{sql}"
        );
        c.batch_execute("ROLLBACK").await.unwrap();
    }
    // Inbound rows keep the customer's number as sent.
    begin().await;
    c.execute(
        "INSERT INTO palisade.sms_messages (id, direction, from_number, to_number, status) \
         VALUES ($1, 'inbound', $2, $3, 'received')",
        &[&Uuid::now_v7(), &bs, &sms],
    )
    .await
    .unwrap();
    c.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn an_upgrade_keeps_numbers_claimed_the_old_way_with_their_holders() {
    use palisade_db::schema;
    use palisade_test_support::TestDb;
    // A database at the last version before the inventory (V0062), with data the old API wrote.
    let db = TestDb::at_version(62).await; // dropped (with the database) at the end
    let owner_url = db.url_as(schema::OWNER_ROLE);
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let (a_number, b_number, stranger) = (unique_number(), unique_number(), unique_number());
    let old_campaign = Uuid::now_v7();
    let su_db = db.superuser_client().await;
    su_db
        .execute(
            "INSERT INTO palisade.organizations (id, name) VALUES ($1, 'A'), ($2, 'B')",
            &[&a, &b],
        )
        .await
        .unwrap();
    su_db
        .execute(
            "INSERT INTO palisade.phone_numbers (organization_id, id, number, capabilities) \
             VALUES ($1, $3, $4, '{sms,voice}'), ($2, $5, $6, '{sms}')",
            &[
                &a,
                &b,
                &Uuid::now_v7(),
                &a_number,
                &Uuid::now_v7(),
                &b_number,
            ],
        )
        .await
        .unwrap();
    // A campaign of A from a number A never held (first come, first served allowed it), and
    // one from its own number.
    su_db
        .execute(
            "INSERT INTO palisade.sms_campaigns (organization_id, id, name, body, from_number) \
             VALUES ($1, $2, 'old', 'x', $3), ($1, $4, 'own', 'x', $5)",
            &[&a, &old_campaign, &stranger, &Uuid::now_v7(), &a_number],
        )
        .await
        .unwrap();

    schema::migrate(&owner_url).await.unwrap();

    let inventory: Vec<(String, Vec<String>, Option<Uuid>)> = db
        .owner_client()
        .await
        .query(
            "SELECT number, capabilities, holder_org_id FROM palisade_platform.phone_number_inventory",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let mut expected = vec![
        (
            a_number.clone(),
            vec!["sms".into(), "voice".into()],
            Some(a),
        ),
        (b_number.clone(), vec!["sms".into()], Some(b)),
    ];
    expected.sort();
    let mut inventory = inventory;
    inventory.sort();
    assert_eq!(
        inventory, expected,
        "every old number stays with its holder"
    );

    // As A, under RLS: the old campaign still works (counters), but cannot queue messages from
    // a number A does not hold, nor move to another such number; A's own number still sends.
    let c = db.app_client().await;
    let begin = async || {
        palisade_test_support::sql::begin_as(&c, &a.to_string(), "owner").await;
    };
    begin().await;
    let n = c
        .execute(
            "UPDATE palisade.sms_campaigns SET sent_count = sent_count + 1 WHERE id = $1",
            &[&old_campaign],
        )
        .await
        .unwrap();
    assert_eq!(
        n, 1,
        "old rows are not rechecked until their from_number changes"
    );
    let refused = [
        c.execute(
            "INSERT INTO palisade.sms_messages (id, campaign_id, direction, from_number, to_number, status) \
             VALUES ($1, $2, 'outbound', $3, '+14155550123', 'queued')",
            &[&Uuid::now_v7(), &old_campaign, &stranger],
        )
        .await,
        c.execute("ROLLBACK AND CHAIN", &[]).await,
    ];
    assert_eq!(
        refused[0].as_ref().err().and_then(|e| e.code()),
        Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION),
        "a message from a number A does not hold: {refused:?}"
    );
    c.batch_execute("ROLLBACK").await.unwrap();
    begin().await;
    let err = c
        .execute(
            "UPDATE palisade.sms_campaigns SET from_number = $2 WHERE id = $1",
            &[&old_campaign, &b_number],
        )
        .await
        .expect_err("the old campaign moved to B's number");
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION),
        "{err:?}"
    );
    c.batch_execute("ROLLBACK").await.unwrap();
    begin().await;
    c.execute(
        "INSERT INTO palisade.sms_messages (id, direction, from_number, to_number, status) \
         VALUES ($1, 'outbound', $2, '+14155550123', 'queued')",
        &[&Uuid::now_v7(), &a_number],
    )
    .await
    .unwrap();
    c.batch_execute("ROLLBACK").await.unwrap();
}
