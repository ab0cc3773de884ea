//! `ETag` and `If-Match` (docs/api.md, "Concurrent changes"), checked on every item route the
//! isolation seeders create: GET answers a strong `ETag`; a PATCH or DELETE with a stale
//! `If-Match` answers 412 and changes nothing; with the current one it goes ahead. And the
//! check is made on the locked row, in the write's own transaction.

use palisade_test_support::{Account, TestApp, TestResponse, spawn_app_with_owner};
use serde_json::json;
use uuid::Uuid;

use crate::isolation::{Item, seed_all};
use palisade_test_support::sql::begin_as;

const STALE: &str = "\"00000000000000000000000000000000\"";

/// Item routes (`.../{id}`, or the organization), as opposed to the sub-collections some
/// seeders list among their items.
fn is_item(item: &Item) -> bool {
    item.path
        .rsplit('/')
        .next()
        .is_some_and(|last| Uuid::try_parse(last).is_ok())
}

async fn get(app: &TestApp, who: &Account, path: &str) -> TestResponse {
    let r = app.get(&who, path).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text);
    r
}

fn etag(r: &TestResponse) -> String {
    let tag = r
        .header("etag")
        .unwrap_or_else(|| panic!("no ETag: {}", r.text));
    assert!(
        tag.len() == 34 && tag.starts_with('"') && tag.ends_with('"'),
        "not a strong entity tag: {tag}"
    );
    tag.to_owned()
}

async fn write(
    app: &TestApp,
    who: &Account,
    method: &str,
    item: &Item,
    if_match: &str,
) -> TestResponse {
    write_if(app, who, method, item, "If-Match", if_match).await
}

/// A PATCH or DELETE of `item` with one precondition header.
async fn write_if(
    app: &TestApp,
    who: &Account,
    method: &str,
    item: &Item,
    header: &str,
    value: &str,
) -> TestResponse {
    let body = (method == "PATCH").then_some(&item.patch);
    app.call_with(
        method,
        &item.path,
        Some(&who.token),
        body,
        &[(header, value)],
    )
    .await
}

/// `If-None-Match` naming `item`'s current tag (also weakly, in a list) or `*` fails a write
/// of it (RFC 9110 §13.1.2: 412, not performed), and changes nothing.
async fn if_none_match_refuses(app: &TestApp, who: &Account, method: &str, item: &Item) {
    let before = get(app, who, &item.path).await;
    let tag = etag(&before);
    for value in [tag.clone(), format!("\"0\", W/{tag}"), "*".to_owned()] {
        let r = write_if(app, who, method, item, "If-None-Match", &value).await;
        assert_eq!(
            (r.status, r.json["error"].as_str()),
            (412, Some("precondition_failed")),
            "{method} {} If-None-Match: {value}: {}",
            item.path,
            r.text
        );
        let now = get(app, who, &item.path).await;
        assert_eq!(now.text, before.text, "{method} {}", item.path);
    }
}

#[actix_web::test]
async fn every_item_has_an_etag_and_a_stale_if_match_changes_nothing() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let seeded = seed_all(&app, &a, "etag").await;
    let items: Vec<&Item> = seeded.items.iter().filter(|i| is_item(i)).collect();
    assert!(items.len() >= 20, "only {} items seeded", items.len());
    let (mut patched, mut deleted) = (0, 0);

    for item in &items {
        // GET: a strong ETag that follows the representation, the same on every read.
        let first = get(&app, &a, &item.path).await;
        let tag = etag(&first);
        assert_eq!(etag(&get(&app, &a, &item.path).await), tag, "{}", item.path);
        if !item.writes.contains(&"PATCH") {
            continue;
        }
        if_none_match_refuses(&app, &a, "PATCH", item).await;
        let r = write(&app, &a, "PATCH", item, STALE).await;
        assert_eq!(
            (r.status, r.json["error"].as_str()),
            (412, Some("precondition_failed")),
            "PATCH {}: {}",
            item.path,
            r.text
        );
        assert_eq!(
            get(&app, &a, &item.path).await.text,
            first.text,
            "{}",
            item.path
        );
        let r = write(&app, &a, "PATCH", item, &tag).await;
        if r.status == 409 {
            // The item's own rules refuse the change (its state), not the precondition.
            let plain = write(&app, &a, "PATCH", item, "*").await;
            assert_eq!((plain.status, &plain.json), (409, &r.json), "{}", item.path);
            continue;
        }
        assert_eq!(r.status, 200, "PATCH {}: {}", item.path, r.text);
        let now = get(&app, &a, &item.path).await;
        assert_ne!(etag(&now), tag, "PATCH {} left the ETag", item.path);
        assert_eq!(
            etag(&r),
            etag(&now),
            "PATCH {} answered another ETag",
            item.path
        );
        patched += 1;
    }

    // Children before parents (the seeders create parents first), so no DELETE cascades into
    // an item still to be checked.
    for item in items.iter().rev() {
        if !item.writes.contains(&"DELETE") {
            continue;
        }
        if_none_match_refuses(&app, &a, "DELETE", item).await;
        let before = get(&app, &a, &item.path).await;
        let r = write(&app, &a, "DELETE", item, STALE).await;
        assert_eq!(r.status, 412, "DELETE {}: {}", item.path, r.text);
        assert_eq!(
            get(&app, &a, &item.path).await.text,
            before.text,
            "{}",
            item.path
        );
        let r = write(&app, &a, "DELETE", item, "W/\"weak\", nonsense").await;
        assert_eq!(r.status, 412, "DELETE {}: {}", item.path, r.text);
        let r = write(&app, &a, "DELETE", item, &etag(&before)).await;
        if r.status == 409 {
            let plain = write(&app, &a, "DELETE", item, "*").await;
            assert_eq!((plain.status, &plain.json), (409, &r.json), "{}", item.path);
            continue;
        }
        assert_eq!(r.status, 204, "DELETE {}: {}", item.path, r.text);
        let gone = app.get(&a, &item.path).await;
        if ["/v1/api-keys/", "/v1/call-center/aws-connect/credentials/"]
            .iter()
            .any(|revocable| item.path.starts_with(revocable))
        {
            // Revoking a credential keeps it, revoked.
            assert!(gone.json["revoked_at"].is_string(), "{}", item.path);
        } else {
            assert_eq!(gone.status, 404, "{}", item.path);
        }
        deleted += 1;
    }
    assert!(
        patched >= 15 && deleted >= 20,
        "{patched} PATCHes and {deleted} DELETEs went through"
    );
}

#[actix_web::test]
async fn if_match_star_needs_an_item_and_another_organizations_item_is_missing() {
    let (app, a) = spawn_app_with_owner("Tenant A").await;
    let b = app.signup("Tenant B").await;
    let theirs = app.create_customer(&b, json!({"name": "Theirs"})).await;
    let theirs = format!("/v1/customers/{}", theirs["id"].as_str().unwrap());
    let missing = format!("/v1/customers/{}", Uuid::now_v7());
    let tag = etag(&get(&app, &b, &theirs).await);
    for path in [&theirs, &missing] {
        for (method, if_match) in [("PATCH", "*"), ("DELETE", "*"), ("DELETE", tag.as_str())] {
            let body = json!({"name": "Mine"});
            let r = app
                .call_with(
                    method,
                    path,
                    Some(&a.token),
                    (method == "PATCH").then_some(&body),
                    &[("If-Match", if_match)],
                )
                .await;
            r.assert_error_at(404, "not_found", format_args!("{method} {path}"));
        }
    }
    assert_eq!(etag(&get(&app, &b, &theirs).await), tag);
    // On an existing item, `*` matches.
    let r = app
        .call_with(
            "PATCH",
            &theirs,
            Some(&b.token),
            Some(&json!({"name": "Renamed"})),
            &[("If-Match", "*")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // A list may name the current tag among others.
    let current = etag(&r);
    let list = format!("\"1\", {current}, W/\"2\"");
    let r = app
        .call_with(
            "PATCH",
            &theirs,
            Some(&b.token),
            Some(&json!({"name": "Again"})),
            &[("If-Match", list.as_str())],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Two writers read the same ETag: exactly one wins, the other answers 412.
#[actix_web::test]
async fn of_two_writes_with_the_same_if_match_one_wins() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let c = app.create_customer(&a, json!({"name": "Ada"})).await;
    let path = format!("/v1/customers/{}", c["id"].as_str().unwrap());
    let tag = etag(&get(&app, &a, &path).await);
    let patch = |name: &'static str| {
        let (app, path, tag, token) = (&app, &path, tag.clone(), a.token.clone());
        async move {
            app.call_with(
                "PATCH",
                path,
                Some(&token),
                Some(&json!({ "name": name })),
                &[("If-Match", tag.as_str())],
            )
            .await
        }
    };
    let (one, two) = tokio::join!(patch("One"), patch("Two"));
    let mut statuses = [one.status, two.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 412], "{} / {}", one.text, two.text);
    let winner = if one.status == 200 { &one } else { &two };
    assert_eq!(get(&app, &a, &path).await.json, winner.json);
}

/// The precondition is checked on the row locked in the write's transaction: a change that
/// commits while the PATCH waits for the lock makes it 412, not a silent overwrite.
#[actix_web::test]
async fn the_check_waits_for_a_concurrent_change_and_sees_it() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let c = app.create_customer(&a, json!({"name": "Ada"})).await;
    let id: Uuid = c["id"].as_str().unwrap().parse().unwrap();
    let path = format!("/v1/customers/{id}");
    let tag = etag(&get(&app, &a, &path).await);
    let other = app.db.app_client().await;
    begin_as(&other, &a.org_id, "owner").await;
    other
        .execute(
            "UPDATE palisade.customers SET name = 'Changed meanwhile' WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let commit = async {
        app.until_a_statement_waits_on_a_lock().await;
        other.batch_execute("COMMIT").await.unwrap();
    };
    let (body, headers) = (json!({"name": "Eve"}), [("If-Match", tag.as_str())]);
    let patch = app.call_with("PATCH", &path, Some(&a.token), Some(&body), &headers);
    let (r, ()) = tokio::join!(patch, commit);
    assert_eq!(r.status, 412, "{}", r.text);
    assert_eq!(get(&app, &a, &path).await.json["name"], "Changed meanwhile");
}

/// `/v1/organization` is an item too.
#[actix_web::test]
async fn the_organization_honours_if_match_too() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let first = get(&app, &a, "/v1/organization").await;
    let tag = etag(&first);
    let rename = |if_match: String| {
        let (app, token) = (&app, a.token.clone());
        async move {
            app.call_with(
                "PATCH",
                "/v1/organization",
                Some(&token),
                Some(&json!({"name": "Acme Ltd"})),
                &[("If-Match", if_match.as_str())],
            )
            .await
        }
    };
    let r = rename(STALE.to_owned()).await;
    assert_eq!(r.status, 412, "{}", r.text);
    assert_eq!(get(&app, &a, "/v1/organization").await.text, first.text);
    // If-None-Match naming the current tag, or `*`: 412 too, on a rename and a deletion.
    for value in [tag.as_str(), "*"] {
        let headers = [("If-None-Match", value)];
        let body = json!({"name": "Acme Ltd"});
        let r = app
            .call_with(
                "PATCH",
                "/v1/organization",
                Some(&a.token),
                Some(&body),
                &headers,
            )
            .await;
        assert_eq!(r.status, 412, "PATCH If-None-Match: {value}: {}", r.text);
        let r = app
            .call_with("DELETE", "/v1/organization", Some(&a.token), None, &headers)
            .await;
        assert_eq!(r.status, 412, "DELETE If-None-Match: {value}: {}", r.text);
        assert_eq!(get(&app, &a, "/v1/organization").await.text, first.text);
    }
    let r = rename(tag.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let renamed = etag(&r);
    assert_eq!(etag(&get(&app, &a, "/v1/organization").await), renamed);
    let headers = [("If-Match", tag.as_str())];
    let r = app
        .call_with("DELETE", "/v1/organization", Some(&a.token), None, &headers)
        .await;
    assert_eq!(r.status, 412, "{}", r.text);
    assert_eq!(
        get(&app, &a, "/v1/organization").await.json["name"],
        "Acme Ltd"
    );
    let headers = [("If-Match", renamed.as_str())];
    let r = app
        .call_with("DELETE", "/v1/organization", Some(&a.token), None, &headers)
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
}

/// `GET path` as `who` with `If-None-Match: value`.
async fn get_if_none_match(app: &TestApp, who: &Account, path: &str, value: &str) -> TestResponse {
    app.call_with(
        "GET",
        path,
        Some(&who.token),
        None,
        &[("If-None-Match", value)],
    )
    .await
}

/// A GET naming the current `ETag` in `If-None-Match` answers 304 with the tag and no body, on
/// every item and on a list (etag::add_etag); weak comparison, `*` too. A stale tag, another
/// organization's item, or a change since, answers in full.
#[actix_web::test]
async fn a_get_naming_the_current_etag_answers_304_without_a_body() {
    let (app, a) = spawn_app_with_owner("NotModified").await;
    let seeded = seed_all(&app, &a, "inm").await;
    let items: Vec<&Item> = seeded.items.iter().filter(|i| is_item(i)).collect();
    assert!(items.len() >= 15, "{}", items.len());
    let lists = ["/v1/customers?limit=2", "/v1/me", "/v1/organization"];
    let paths: Vec<&str> = items.iter().map(|i| i.path.as_str()).chain(lists).collect();
    for path in paths {
        let first = get(&app, &a, path).await;
        let tag = etag(&first);
        let weak = format!("W/{tag}");
        for named in [tag.as_str(), weak.as_str(), "*", &format!("{STALE}, {tag}")] {
            let r = get_if_none_match(&app, &a, path, named).await;
            assert_eq!(
                r.status, 304,
                "GET {path} If-None-Match {named}: {}",
                r.text
            );
            assert_eq!(r.text, "", "GET {path}: a 304 has no body");
            assert_eq!(r.header("etag"), Some(tag.as_str()), "GET {path}");
            assert!(r.header("x-request-id").is_some(), "GET {path}");
            assert!(r.header("content-type").is_none(), "GET {path}");
        }
        let r = get_if_none_match(&app, &a, path, STALE).await;
        assert_eq!(r.status, 200, "GET {path} with a stale tag: {}", r.text);
        assert_eq!(r.text, first.text, "GET {path}");
    }

    // Changed since: the old tag no longer matches.
    let item = items[0];
    let tag = etag(&get(&app, &a, &item.path).await);
    let r = write(&app, &a, "PATCH", item, &tag).await;
    assert_eq!(r.status, 200, "PATCH {}: {}", item.path, r.text);
    let r = get_if_none_match(&app, &a, &item.path, &tag).await;
    assert_eq!(
        r.status, 200,
        "GET {} after a change: {}",
        item.path, r.text
    );

    // Another organization's item is missing, whatever the tag.
    let b = app.signup("Other").await;
    let r = get_if_none_match(&app, &b, &item.path, "*").await;
    assert_eq!(r.status, 404, "{}", r.text);

    // Every answer that can be revalidated says so, and no shared cache may keep it.
    let r = get(&app, &a, &item.path).await;
    assert_eq!(r.header("cache-control"), Some("private, no-cache"));
    // An answer that is never to be stored (the export: no-store) is always sent whole, and
    // the document offers no 304 for it.
    for path in palisade_api::endpoints::NO_STORE_GETS {
        let r = get_if_none_match(&app, &a, path, "*").await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.text);
        assert_eq!(r.header("cache-control"), Some("no-store"), "GET {path}");
    }
    let r = app.get(&a, "/openapi.json").await;
    let export = &r.json["paths"]["/v1/organization/export"]["get"];
    assert!(export["responses"]["200"].is_object(), "{export}");
    assert!(export["responses"]["304"].is_null(), "{export}");

    // A write whose If-None-Match names a tag the item no longer has ("only if it changed
    // since"): it changed, so the write goes through.
    let r = app
        .call_with(
            "PATCH",
            &item.path,
            Some(&a.token),
            Some(&item.patch),
            &[("If-None-Match", STALE)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}
