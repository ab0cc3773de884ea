//! `/v1/ivr/menus` over HTTP: the tree is validated, stored and returned as given; names are
//! unique within an organization only.

use palisade_test_support::ids;
use palisade_test_support::spawn_app_with_owner;
use serde_json::json;

use crate::engagement::menu_tree;
use palisade_test_support::sql::{
    assert_members_read_and_only_admins_write, begin_new_organization,
};

#[actix_web::test]
async fn menus_round_trip_with_their_tree_as_given() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let tree = menu_tree("Acme");
    let menu = app
        .create(&a, "/v1/ivr/menus", json!({"name": "Main", "tree": tree}))
        .await;
    assert_eq!(menu["tree"], tree);
    let path = format!("/v1/ivr/menus/{}", menu["id"].as_str().unwrap());
    assert_eq!(app.get(&a, &path).await.json, menu);

    // Unique per organization: 409 here, fine in another organization.
    let r = app
        .post(&a, "/v1/ivr/menus", &json!({"name": "Main", "tree": tree}))
        .await;
    r.assert_taken("name_taken", "name");
    let b = app.signup("Other").await;
    app.create(&b, "/v1/ivr/menus", json!({"name": "Main", "tree": tree}))
        .await;

    let new_tree =
        json!({"prompt": "Closed today", "options": {"*": {"action": "say", "text": "Bye"}}});
    let r = app
        .patch(&a, &path, &json!({"name": "Holiday", "tree": new_tree}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (&r.json["name"], &r.json["tree"]),
        (&json!("Holiday"), &new_tree)
    );
    let second = app
        .create(&a, "/v1/ivr/menus", json!({"name": "Sales", "tree": tree}))
        .await;
    let r = app.patch(&a, &path, &json!({"name": "Sales"})).await;
    assert_eq!(r.status, 409);

    let r = app.get(&a, "/v1/ivr/menus?name=holi").await;
    assert_eq!(ids(&r.json), vec![menu["id"].as_str().unwrap().to_owned()]);
    let r = app.get(&a, "/v1/ivr/menus?limit=1").await;
    assert_eq!(
        ids(&r.json),
        vec![second["id"].as_str().unwrap().to_owned()]
    );
    assert!(r.json["next_cursor"].is_string());

    assert_eq!(app.delete(&a, &path).await.status, 204);
    assert_eq!(app.get(&a, &path).await.status, 404);
}

#[actix_web::test]
async fn malformed_trees_are_422_and_store_nothing() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let mut deep = json!({"prompt": "x", "options": {"1": {"action": "hangup"}}});
    for _ in 0..5 {
        deep = json!({"prompt": "x", "options": {"1": {"action": "submenu", "menu": deep}}});
    }
    for tree in [
        json!("press 1"),
        json!({"prompt": "x", "options": {"12": {"action": "hangup"}}}),
        json!({"prompt": "x", "options": {"1": {"action": "transfer", "to": "someone"}}}),
        json!({"prompt": "x", "options": {"1": {"action": "explode"}}}),
        json!({"prompt": "x", "options": {}}),
        deep,
    ] {
        let r = app
            .post(&a, "/v1/ivr/menus", &json!({"name": "M", "tree": tree}))
            .await;
        assert_eq!(r.status, 422, "{tree}: {}", r.text);
        assert_eq!(r.json["fields"][0]["field"], "tree");
    }
    let r = app.post(&a, "/v1/ivr/menus", &json!({"name": "M"})).await;
    assert_eq!(
        r.json["fields"],
        json!([{"field": "tree", "code": "required", "reason": "is required"}])
    );
    let r = app.get(&a, "/v1/ivr/menus").await;
    assert_eq!(r.json["data"], json!([]));
}

#[actix_web::test]
async fn members_read_menus_but_only_owners_and_admins_write_them() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let member = app.add_user(&owner, palisade_domain::Role::Member).await;
    let admin = app.add_user(&owner, palisade_domain::Role::Admin).await;
    let menu = crate::engagement::menu(&app, &admin, "Main", "Acme").await;
    let path = format!("/v1/ivr/menus/{}", menu["id"].as_str().unwrap());
    assert_eq!(app.get(&member, &path).await.json, menu);
    let r = app.get(&member, "/v1/ivr/menus").await;
    assert_eq!(ids(&r.json), vec![menu["id"].as_str().unwrap().to_owned()]);
    // The same refusal phone numbers give members.
    let mine = json!({"name": "Mine", "tree": menu_tree("Mine")});
    let writes = [
        ("POST", "/v1/ivr/menus", Some(mine)),
        ("PATCH", &path, Some(json!({"name": "Renamed"}))),
        ("DELETE", &path, None),
    ];
    app.assert_forbidden(&member, &writes).await;
    let r = app.get(&owner, "/v1/ivr/menus").await;
    assert_eq!(r.json["data"], json!([menu]), "a member changed the menus");
    let r = app.patch(&admin, &path, &json!({"name": "Support"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.delete(&owner, &path).await.status, 204);
}

#[tokio::test]
async fn the_policies_refuse_ivr_menu_writes_to_members() {
    let db = palisade_test_support::TestDb::new().await;
    let c = db.app_client().await;
    let insert = "INSERT INTO palisade.ivr_menus (id, name, tree) VALUES ($1, $2, '{}'::jsonb)";
    let org = begin_new_organization(&c).await;
    let id = uuid::Uuid::now_v7();
    c.execute(insert, &[&id, &"Main"]).await.unwrap();
    c.batch_execute("COMMIT").await.unwrap();

    assert_members_read_and_only_admins_write(
        &c,
        org,
        "ivr_menus",
        id,
        insert,
        &[&uuid::Uuid::now_v7(), &"Mine"],
        "name = 'x'",
    )
    .await;
}
