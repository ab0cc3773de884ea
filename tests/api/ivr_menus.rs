//! `/v1/ivr/menus` over HTTP: the tree is validated, stored and returned as given; names are
//! unique within an organization only.

use palisade_test_support::spawn_app;
use serde_json::json;

use crate::engagement::{create, ids, menu_tree};

#[actix_web::test]
async fn menus_round_trip_with_their_tree_as_given() {
    let app = spawn_app().await;
    let a = app.signup("Acme").await;
    let tree = menu_tree("Acme");
    let menu = create(
        &app,
        &a,
        "/v1/ivr/menus",
        json!({"name": "Main", "tree": tree}),
    )
    .await;
    assert_eq!(menu["tree"], tree);
    let path = format!("/v1/ivr/menus/{}", menu["id"].as_str().unwrap());
    assert_eq!(
        app.call("GET", &path, Some(&a.token), None).await.json,
        menu
    );

    // Unique per organization: 409 here, fine in another organization.
    let r = app
        .call(
            "POST",
            "/v1/ivr/menus",
            Some(&a.token),
            Some(&json!({"name": "Main", "tree": tree})),
        )
        .await;
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (409, Some("name_taken"))
    );
    let b = app.signup("Other").await;
    create(
        &app,
        &b,
        "/v1/ivr/menus",
        json!({"name": "Main", "tree": tree}),
    )
    .await;

    let new_tree =
        json!({"prompt": "Closed today", "options": {"*": {"action": "say", "text": "Bye"}}});
    let r = app
        .call(
            "PATCH",
            &path,
            Some(&a.token),
            Some(&json!({"name": "Holiday", "tree": new_tree})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (&r.json["name"], &r.json["tree"]),
        (&json!("Holiday"), &new_tree)
    );
    let second = create(
        &app,
        &a,
        "/v1/ivr/menus",
        json!({"name": "Sales", "tree": tree}),
    )
    .await;
    let r = app
        .call(
            "PATCH",
            &path,
            Some(&a.token),
            Some(&json!({"name": "Sales"})),
        )
        .await;
    assert_eq!(r.status, 409);

    let r = app
        .call("GET", "/v1/ivr/menus?name=holi", Some(&a.token), None)
        .await;
    assert_eq!(ids(&r.json), vec![menu["id"].as_str().unwrap().to_owned()]);
    let r = app
        .call("GET", "/v1/ivr/menus?limit=1", Some(&a.token), None)
        .await;
    assert_eq!(
        ids(&r.json),
        vec![second["id"].as_str().unwrap().to_owned()]
    );
    assert!(r.json["next_cursor"].is_string());

    assert_eq!(
        app.call("DELETE", &path, Some(&a.token), None).await.status,
        204
    );
    assert_eq!(
        app.call("GET", &path, Some(&a.token), None).await.status,
        404
    );
}

#[actix_web::test]
async fn malformed_trees_are_422_and_store_nothing() {
    let app = spawn_app().await;
    let a = app.signup("Acme").await;
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
            .call(
                "POST",
                "/v1/ivr/menus",
                Some(&a.token),
                Some(&json!({"name": "M", "tree": tree})),
            )
            .await;
        assert_eq!(r.status, 422, "{tree}: {}", r.text);
        assert_eq!(r.json["fields"][0]["field"], "tree");
    }
    let r = app
        .call(
            "POST",
            "/v1/ivr/menus",
            Some(&a.token),
            Some(&json!({"name": "M"})),
        )
        .await;
    assert_eq!(
        r.json["fields"],
        json!([{"field": "tree", "reason": "is required"}])
    );
    let r = app.call("GET", "/v1/ivr/menus", Some(&a.token), None).await;
    assert_eq!(r.json["data"], json!([]));
}
