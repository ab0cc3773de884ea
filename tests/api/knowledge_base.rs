//! `/v1/knowledge-base/articles`: CRUD, tags, the published flag, full-text search under RLS,
//! and the search plan as the app role (an index, no Seq Scan).

use palisade_db::crud::{self, Filter};
use palisade_db::knowledge_base::{Article, ArticleFilter};
use palisade_test_support::ids;
use palisade_test_support::{TestDb, spawn_app_with_owner};
use serde_json::json;
use uuid::Uuid;

#[actix_web::test]
async fn articles_round_trip_and_search_within_the_organization() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let b = app.signup("Other").await;
    let reset = app.create(&a, "/v1/knowledge-base/articles", json!({"title": "Resetting your password", "body": "Open settings, then security.\nPress reset.", "tags": ["FAQ", "account", "faq"], "published": true})).await;
    assert_eq!(reset["tags"], json!(["faq", "account"]));
    let draft = json!({"title": "Billing cycles", "body": "Invoices are monthly."});
    let draft = app.create(&a, "/v1/knowledge-base/articles", draft).await;
    assert_eq!(
        (&draft["published"], &draft["tags"]),
        (&json!(false), &json!([]))
    );
    // B has an article with the same words: never in A's results.
    app.create(&b, "/v1/knowledge-base/articles", json!({"title": "Password resets", "body": "reset password billing", "tags": ["faq"], "published": true})).await;

    let id = |v: &serde_json::Value| v["id"].as_str().unwrap().to_owned();
    for (query, expected) in [
        ("?q=password", vec![id(&reset)]),
        ("?q=passwords%20reset", vec![id(&reset)]),
        ("?q=invoice", vec![id(&draft)]),
        ("?q=%22monthly%20invoices%22", vec![]),
        ("?q=billing%20-invoices", vec![]),
        ("?q=nothinglikethis", vec![]),
        ("?tag=faq", vec![id(&reset)]),
        ("?tag=FAQ&q=security", vec![id(&reset)]),
        ("?published=false", vec![id(&draft)]),
        ("", vec![id(&draft), id(&reset)]),
    ] {
        let r = app
            .get(&a, &format!("/v1/knowledge-base/articles{query}"))
            .await;
        assert_eq!(r.status, 200, "{query}: {}", r.text);
        assert_eq!(ids(&r.json), expected, "{query}");
    }

    let path = format!("/v1/knowledge-base/articles/{}", id(&draft));
    let r = app
        .patch(
            &a,
            &path,
            &json!({"body": "Invoices are weekly now.", "published": true, "tags": ["billing"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["tags"], json!(["billing"]));
    // The search follows the edit (the tsvector is generated from the stored columns).
    let r = app.get(&a, "/v1/knowledge-base/articles?q=weekly").await;
    assert_eq!(ids(&r.json), vec![id(&draft)]);
    let r = app.get(&a, "/v1/knowledge-base/articles?q=monthly").await;
    assert_eq!(r.json["data"], json!([]));

    assert_eq!(app.delete(&a, &path).await.status, 204);
    assert_eq!(app.get(&a, &path).await.status, 404);
}

#[actix_web::test]
async fn invalid_article_input_is_refused() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    for (body, field) in [
        (json!({"body": "b"}), "title"),
        (json!({"title": "t"}), "body"),
        (json!({"title": "t", "body": "b", "tags": [""]}), "tags"),
        (
            json!({"title": "t", "body": "b", "tags": vec!["x"; 21]}),
            "tags",
        ),
        (json!({"title": "x".repeat(301), "body": "b"}), "title"),
    ] {
        let r = app.post(&a, "/v1/knowledge-base/articles", &body).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text);
        assert_eq!(r.json["fields"][0]["field"], field, "{body}");
    }
    for bad in ["?q=", "?published=yes", &format!("?q={}", "x".repeat(201))] {
        let r = app
            .get(&a, &format!("/v1/knowledge-base/articles{bad}"))
            .await;
        assert_eq!(r.status, 422, "{bad}");
    }
}

/// The search must keep an index in play under RLS (`@@` is not LEAKPROOF, so the GIN route is
/// closed to the app role; see policies/330_kb_articles.sql). 20,000 articles over 50
/// organizations, analyzed; EXPLAIN as palisade_app with one organization's context.
#[tokio::test]
async fn the_search_plan_uses_an_index_not_a_seq_scan_as_the_app_role() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    // Arranging data as a DBA would (the superuser bypasses RLS); asserting as the app role.
    su.batch_execute(
        "INSERT INTO palisade.organizations (id, name)
             SELECT gen_random_uuid(), 'org ' || g FROM generate_series(1, 50) g;
         INSERT INTO palisade.kb_articles (organization_id, id, title, body, tags, published, created_at)
             SELECT o.id, gen_random_uuid(), 'How to configure widget ' || g,
                    'This article explains ' || (ARRAY['billing', 'routing', 'voicemail', 'exports'])[1 + g % 4]
                      || ' settings. ' || repeat('Lorem ipsum dolor sit amet. ', 20)
                      || CASE WHEN g % 97 = 0 THEN 'zephyrine' ELSE '' END,
                    ARRAY['faq'], g % 2 = 0, now() - g * interval '1 minute'
               FROM palisade.organizations o, generate_series(1, 400) g;
         ANALYZE palisade.organizations;
         ANALYZE palisade.kb_articles;",
    )
    .await
    .unwrap();
    let org: Uuid = su
        .query_one("SELECT id FROM palisade.organizations LIMIT 1", &[])
        .await
        .unwrap()
        .get(0);

    let c = db.app_client().await;
    for word in ["zephyrine", "routing"] {
        let filter = ArticleFilter {
            q: Some(palisade_domain::SearchText::parse(word).unwrap()),
            ..ArticleFilter::default()
        };
        // Exactly the statement the list route runs (the ORDER BY and LIMIT are ListQuery's).
        let sql = format!(
            "EXPLAIN {} ORDER BY created_at DESC, id DESC LIMIT 51",
            filter.narrow(crud::list::<Article>()).sql()
        );
        palisade_test_support::sql::begin_as(&c, &org.to_string(), "member").await;
        let plan: Vec<String> = c
            .query(&sql, &[&word])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let n: i64 = c
            .query_one(
                &format!(
                    "SELECT count(*) FROM ({}) s",
                    filter.narrow(crud::list::<Article>()).sql()
                ),
                &[&word],
            )
            .await
            .unwrap()
            .get(0);
        c.batch_execute("ROLLBACK").await.unwrap();
        let plan = plan.join("\n");
        assert!(
            plan.contains("Index Scan") || plan.contains("Index Cond"),
            "no index in the search plan for {word}:\n{plan}"
        );
        assert!(
            !plan.contains("Seq Scan"),
            "Seq Scan in the search plan for {word}:\n{plan}"
        );
        assert!(
            n > 0 && n < 400,
            "{word}: {n} of the organization's 400 articles matched"
        );
    }
}
