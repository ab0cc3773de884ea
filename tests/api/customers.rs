//! `/v1/customers` over HTTP: CRUD, validation, pagination, and cross-tenant isolation.

use palisade_test_support::Unchanged;
use palisade_test_support::{Account, TestApp, fields, request, spawn_app, spawn_app_with_owner};
use serde_json::{Value, json};

async fn two_tenants(app: &TestApp) -> (Account, Account, Value) {
    let a = app.signup("Tenant A").await;
    let b = app.signup("Tenant B").await;
    let b_customer = app
        .create_customer(
            &b,
            json!({"name": "Bob of B", "email": "bob@b.example", "phone": "+14155550100"}),
        )
        .await;
    (a, b, b_customer)
}

#[actix_web::test]
async fn crud_round_trip() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let c = app
        .create_customer(
            &a,
            json!({"name": " Ada ", "email": "Ada@Example.com", "phone": "+44 20 7946 0958"}),
        )
        .await;
    assert_eq!(c["name"], "Ada");
    assert_eq!(c["email"], "ada@example.com");
    assert_eq!(c["phone"], "+442079460958");
    let path = format!("/v1/customers/{}", c["id"].as_str().unwrap());

    let r = app.get(&a, &path).await;
    assert_eq!((r.status, &r.json), (200, &c));

    let r = app
        .patch(&a, &path, &json!({"name": "Ada L", "email": null}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["name"], "Ada L");
    assert_eq!(r.json["email"], Value::Null);
    assert_eq!(r.json["phone"], "+442079460958");

    let r = app.delete(&a, &path).await;
    assert_eq!(r.status, 204);
    let r = app.get(&a, &path).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json["error"], "not_found");
}

#[actix_web::test]
async fn another_organizations_customer_is_404_for_every_method_and_stays_unchanged() {
    let app = spawn_app().await;
    let (a, b, b_customer) = two_tenants(&app).await;
    let path = format!("/v1/customers/{}", b_customer["id"].as_str().unwrap());
    let missing = format!("/v1/customers/{}", uuid::Uuid::now_v7());
    let b_before = Unchanged::http(&app, &b, &[&path, "/v1/customers"]).await;

    for p in [&path, &missing] {
        let get = app.get(&a, p).await;
        let patch = app.patch(&a, p, &json!({"name": "pwned"})).await;
        let delete = app.delete(&a, p).await;
        for r in [&get, &patch, &delete] {
            assert_eq!(r.status, 404, "{p}: {}", r.text);
            // Exactly like a missing one: same body.
            assert_eq!(
                r.json,
                json!({"error": "not_found", "message": "no such resource"})
            );
        }
    }
    // B's customer is byte-for-byte unchanged.
    assert_eq!(app.get_ok(&b, &path).await, b_customer);
    b_before.assert_http(&app).await;
}

#[actix_web::test]
async fn lists_and_filters_never_show_another_organizations_customers() {
    let app = spawn_app().await;
    let (a, _b, b_customer) = two_tenants(&app).await;
    let mine = app
        .create_customer(&a, json!({"name": "Bob of A", "email": "bob@a.example"}))
        .await;
    // Same email and phone as B's customer: allowed, unique per organization only.
    let twin = app
        .create_customer(
            &a,
            json!({"name": "Bob twin", "email": "bob@b.example", "phone": "+14155550100"}),
        )
        .await;

    for query in [
        "",
        "?name=bob",
        "?name=Bob%20of%20B",
        "?email=bob@b.example",
        "?phone=%2B14155550100",
        "?limit=100",
    ] {
        let r = app.get(&a, &format!("/v1/customers{query}")).await;
        assert_eq!(r.status, 200, "{query}: {}", r.text);
        let ids: Vec<&str> = r.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert!(
            !ids.contains(&b_customer["id"].as_str().unwrap()),
            "{query} leaked B's customer"
        );
    }
    let r = app.get(&a, "/v1/customers?name=Bob%20of%20B").await;
    assert_eq!(r.json["data"], json!([]));
    let r = app.get(&a, "/v1/customers?email=bob@a.example").await;
    assert_eq!(r.json["data"], json!([mine]));
    // Who is calling: the phone, exact and normalised like the stored one.
    for phone in ["%2B14155550100", "%2B1%20415%20555%200100"] {
        let r = app.get(&a, &format!("/v1/customers?phone={phone}")).await;
        assert_eq!(r.json["data"], json!([twin]), "{phone}: {}", r.text);
    }
    let r = app.get(&a, "/v1/customers?phone=%2B14155550199").await;
    assert_eq!(r.json["data"], json!([]));
    // A `+` left unencoded is a space, and no phone number: 422, not an empty page.
    for bad in ["+14155550100", "14155550100", "%2Bnot-a-number"] {
        let r = app.get(&a, &format!("/v1/customers?phone={bad}")).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text);
    }
}

#[actix_web::test]
async fn keyset_pagination_walks_every_row_once_newest_first() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(
            app.create_customer(&a, json!({"name": format!("c{i}")}))
                .await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    created.reverse();
    assert_eq!(app.walk_ids(&a, "/v1/customers", 3).await, created);
}

#[actix_web::test]
async fn bad_input_gets_a_4xx_json_error_and_changes_nothing() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let auth = vec![("Authorization", format!("Bearer {}", a.token))];
    let with_json = {
        let mut h = auth.clone();
        h.push(("Content-Type", "application/json".into()));
        h
    };
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(70 * 1024));
    // (method, path, headers, body, expected status, expected error code)
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, String)>,
        Vec<u8>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/v1/customers",
            with_json.clone(),
            b"{not json".to_vec(),
            400,
            "invalid_json",
        ),
        (
            "POST",
            "/v1/customers",
            with_json.clone(),
            br#"{"name": 5}"#.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "POST",
            "/v1/customers",
            with_json.clone(),
            br#"{"name": "x", "nmae": "y"}"#.to_vec(),
            400,
            "unknown_field",
        ),
        (
            "GET",
            "/v1/customers?city=Paris",
            auth.clone(),
            vec![],
            400,
            "unknown_parameter",
        ),
        (
            "GET",
            "/v1/customers?created_after=yesterday",
            auth.clone(),
            vec![],
            422,
            "validation_failed",
        ),
        (
            "POST",
            "/v1/customers",
            auth.clone(),
            br#"{"name": "x"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/v1/customers",
            with_json.clone(),
            big.into_bytes(),
            413,
            "payload_too_large",
        ),
        (
            "POST",
            "/v1/customers",
            with_json.clone(),
            br#"{"email": "nope", "phone": "12"}"#.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "GET",
            "/v1/customers/not-a-uuid",
            auth.clone(),
            vec![],
            400,
            "invalid_id",
        ),
        (
            "GET",
            "/v1/customers?limit=1000",
            auth.clone(),
            vec![],
            422,
            "validation_failed",
        ),
        (
            "GET",
            "/v1/customers?cursor=bogus",
            auth.clone(),
            vec![],
            400,
            "invalid_cursor",
        ),
        (
            "PUT",
            "/v1/customers",
            auth.clone(),
            vec![],
            405,
            "method_not_allowed",
        ),
        (
            "GET",
            "/v1/nothing-here",
            auth.clone(),
            vec![],
            404,
            "not_found",
        ),
    ];
    for (method, path, headers, body, status, code) in cases {
        let r = request(&app.addr, method, path, &headers, Some(&body)).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.text);
        assert_eq!(r.json["error"], code, "{method} {path}: {}", r.text);
        if status == 405 {
            // RFC 9110: a 405 lists the methods the path takes.
            assert_eq!(
                r.header("allow"),
                Some("GET, HEAD, POST"),
                "{method} {path}"
            );
        }
        assert!(r.json["message"].is_string());
    }
    let invalid = json!({"email": "nope", "phone": "12"});
    let r = app.post(&a, "/v1/customers", &invalid).await;
    assert_eq!(fields(&r.json), ["name", "email", "phone"]);
    let r = app.get(&a, "/v1/customers").await;
    assert_eq!(
        r.json["data"],
        json!([]),
        "a refused request wrote something"
    );
}

#[actix_web::test]
async fn duplicate_email_within_an_organization_is_409() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    app.create_customer(&a, json!({"name": "One", "email": "dup@example.com"}))
        .await;
    let r = app
        .post(
            &a,
            "/v1/customers",
            &json!({"name": "Two", "email": "DUP@example.com"}),
        )
        .await;
    r.assert_taken("email_taken", "email");
    // A change to another customer's email, the same.
    let two = app
        .create_customer(&a, json!({"name": "Two", "email": "two@example.com"}))
        .await;
    let path = format!("/v1/customers/{}", two["id"].as_str().unwrap());
    let r = app
        .patch(&a, &path, &json!({"email": "dup@example.com"}))
        .await;
    r.assert_taken("email_taken", "email");
    assert_eq!(app.get(&a, &path).await.json["email"], "two@example.com");
}

/// The phone lookup (who is calling) reads the organization's part of customers_org_phone_idx,
/// not the table: 50 organizations of 400 customers, analyzed; EXPLAIN as palisade_app with one
/// organization's context, of exactly the statement the list route runs.
#[tokio::test]
async fn the_phone_lookup_plan_uses_its_index_as_the_app_role() {
    use palisade_db::crud::{self, Filter};
    use palisade_db::customers::{Customer, CustomerFilter};
    let db = palisade_test_support::TestDb::new().await;
    let su = db.superuser_client().await;
    su.batch_execute(
        "INSERT INTO palisade.organizations (id, name)
             SELECT gen_random_uuid(), 'org ' || g FROM generate_series(1, 50) g;
         INSERT INTO palisade.customers (organization_id, id, name, phone)
             SELECT o.id, gen_random_uuid(), 'customer ' || g, '+1415555' || lpad(g::text, 4, '0')
               FROM palisade.organizations o, generate_series(1, 400) g;
         ANALYZE palisade.organizations;
         ANALYZE palisade.customers;",
    )
    .await
    .unwrap();
    let org: uuid::Uuid = su
        .query_one("SELECT id FROM palisade.organizations LIMIT 1", &[])
        .await
        .unwrap()
        .get(0);
    let phone = "+14155550042";
    let filter = CustomerFilter {
        phone: Some(palisade_domain::PhoneNumber::parse(phone).unwrap()),
        ..CustomerFilter::default()
    };
    let query = filter.narrow(crud::list::<Customer>());
    let sql = query.sql();
    let c = db.app_client().await;
    palisade_test_support::sql::begin_as(&c, org, "member").await;
    let plan: Vec<String> = c
        .query(
            &format!("EXPLAIN {sql} ORDER BY created_at DESC, id DESC LIMIT 51"),
            &[&phone],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let found = c.query(sql, &[&phone]).await.unwrap().len();
    palisade_test_support::sql::rollback(&c).await;
    let plan = plan.join("\n");
    assert!(plan.contains("customers_org_phone_idx"), "{plan}");
    assert!(!plan.contains("Seq Scan"), "{plan}");
    assert_eq!(found, 1, "one customer of the organization has {phone}");
}
