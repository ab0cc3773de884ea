//! `GET /v1/customers/changes`, the incremental sync (docs/api.md, "Incremental sync"): a sync
//! from the start pages through every customer, a later one reads what changed and what was
//! deleted, a change that commits after a sync read past it comes in the next one (the case a
//! poll by `created_at` misses), and a token is bound to its organization and opaque.
//!
//! Transaction ids and the snapshot's horizon are the whole cluster's, shared with every test
//! running beside this one: a sync may send a change twice (a transaction of another test kept the
//! horizon back), never miss one. So these tests assert what each sync must contain and what it
//! must not, never that it holds nothing else.

use std::collections::BTreeSet;

use palisade_test_support::sql::begin_as_user;
use palisade_test_support::{Account, TestApp, spawn_app_with_owner};
use serde_json::{Value, json};

pub(crate) const CHANGES: &str = "/v1/customers/changes";

/// What one sync read, page by page to the end.
#[derive(Debug, Default)]
pub(crate) struct Synced {
    pub(crate) changed: Vec<Value>,
    pub(crate) deleted: BTreeSet<String>,
    pub(crate) pages: usize,
    pub(crate) next_since: String,
}

impl Synced {
    pub(crate) fn changed_ids(&self) -> BTreeSet<String> {
        self.changed
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// Reads the customers' feed from `since` (None: from the start) until `has_more` is false.
async fn sync(app: &TestApp, credential: &str, since: Option<&str>, limit: u16) -> Synced {
    sync_feed(app, credential, CHANGES, since, limit).await
}

/// Reads `feed` from `since` (None: from the start) until `has_more` is false.
pub(crate) async fn sync_feed(
    app: &TestApp,
    credential: &str,
    feed: &str,
    since: Option<&str>,
    limit: u16,
) -> Synced {
    let mut out = Synced::default();
    let mut since = since.map(str::to_owned);
    loop {
        let path = match &since {
            None => format!("{feed}?limit={limit}"),
            Some(s) => format!("{feed}?limit={limit}&since={s}"),
        };
        let r = app.call("GET", &path, Some(credential), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let changed = r.json["changed"].as_array().unwrap();
        let deleted = r.json["deleted"].as_array().unwrap();
        assert!(changed.len() + deleted.len() <= usize::from(limit));
        out.changed.extend(changed.iter().cloned());
        out.deleted
            .extend(deleted.iter().map(|d| d["id"].as_str().unwrap().to_owned()));
        out.pages += 1;
        let next = r.json["next_since"].as_str().unwrap().to_owned();
        if r.json["has_more"] == json!(false) {
            out.next_since = next;
            return out;
        }
        since = Some(next);
    }
}

async fn create(app: &TestApp, a: &Account, name: &str) -> String {
    let c = app.create_customer(a, json!({ "name": name })).await;
    c["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn a_sync_from_the_start_pages_through_every_customer_and_the_next_reads_the_changes() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(create(&app, &a, &format!("customer {n}")).await);
    }

    // From the start: every customer once, two a page, no deletions.
    let first = sync(&app, &a.token, None, 2).await;
    assert_eq!(first.pages, 3);
    assert_eq!(first.changed.len(), 5, "{:?}", first.changed);
    assert_eq!(first.changed_ids(), ids.iter().cloned().collect());
    assert!(first.deleted.is_empty());
    // Each as its item route shows it.
    let item = app.get(&a, &format!("/v1/customers/{}", ids[0])).await;
    assert!(first.changed.contains(&item.json), "{}", item.text);

    // A change, a deletion and a new customer.
    let r = app
        .patch(
            &a,
            &format!("/v1/customers/{}", ids[1]),
            &json!({"name": "renamed"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.delete(&a, &format!("/v1/customers/{}", ids[2]))
            .await
            .status,
        204
    );
    let new = create(&app, &a, "new").await;

    let second = sync(&app, &a.token, Some(&first.next_since), 100).await;
    let changed = second.changed_ids();
    assert!(
        changed.contains(&ids[1]) && changed.contains(&new),
        "{changed:?}"
    );
    let renamed = second.changed.iter().find(|c| c["id"] == json!(ids[1]));
    assert_eq!(renamed.unwrap()["name"], "renamed");
    assert!(
        !changed.contains(&ids[2]),
        "a deleted customer is not changed"
    );
    assert_eq!(second.deleted, BTreeSet::from([ids[2].clone()]));

    // A deletion is said once it happened, whatever the sync started from; a sync from the start
    // has no copy to delete from and lists none.
    let again = sync(&app, &a.token, None, 100).await;
    assert!(again.deleted.is_empty());
    assert_eq!(
        again.changed_ids(),
        BTreeSet::from([
            ids[0].clone(),
            ids[1].clone(),
            ids[3].clone(),
            ids[4].clone(),
            new
        ])
    );
}

#[actix_web::test]
async fn a_change_committed_after_a_sync_read_past_it_comes_in_the_next_sync() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let kept = create(&app, &a, "kept").await;
    let doomed = create(&app, &a, "doomed").await;
    let first = sync(&app, &a.token, None, 100).await;

    // Another request's transaction, as the app role: it began first and writes three rows,
    // a new one, a change and a deletion, and commits only once the next sync has begun.
    let c = app.db.app_client().await;
    begin_as_user(&c, &a.org_id, &a.user_id, "owner").await;
    let late: String = c
        .query_one(
            "INSERT INTO palisade.customers (id, name) VALUES (gen_random_uuid(), 'late') \
             RETURNING id::text",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    c.execute(
        "UPDATE palisade.customers SET name = 'changed late' WHERE id = $1::text::uuid",
        &[&kept],
    )
    .await
    .unwrap();
    c.execute(
        "DELETE FROM palisade.customers WHERE id = $1::text::uuid",
        &[&doomed],
    )
    .await
    .unwrap();

    // Meanwhile two customers are created and committed, and a sync reads past them a page at a
    // time; the late transaction commits between its pages.
    let early = create(&app, &a, "early").await;
    let early2 = create(&app, &a, "early 2").await;
    let page = app
        .call(
            "GET",
            &format!("{CHANGES}?limit=1&since={}", first.next_since),
            Some(&a.token),
            None,
        )
        .await;
    assert_eq!(page.json["has_more"], json!(true), "{}", page.text);
    // (A transaction of another test may have held the first sync's horizon back, so this page
    // may send `doomed` again as a customer: it is not deleted yet.)
    assert_ne!(
        page.json["changed"][0]["id"],
        json!(late),
        "an uncommitted row"
    );
    assert_eq!(page.json["deleted"], json!([]), "an uncommitted deletion");
    c.batch_execute("COMMIT").await.unwrap();
    let rest = sync(&app, &a.token, page.json["next_since"].as_str(), 1).await;
    let mut changed = rest.changed_ids();
    changed.insert(page.json["changed"][0]["id"].as_str().unwrap().to_owned());
    assert!(
        changed.contains(&early) && changed.contains(&early2),
        "{changed:?}"
    );
    // The late row's created_at is before the early ones' (each is its transaction's start): a
    // client polling created_after the newest created_at it had seen would never read it.
    let su = app.db.superuser_client().await;
    let before: bool = su
        .query_one(
            "SELECT (SELECT created_at FROM palisade.customers WHERE id = $1::text::uuid)
                  < (SELECT created_at FROM palisade.customers WHERE id = $2::text::uuid)",
            &[&late, &early],
        )
        .await
        .unwrap()
        .get(0);
    assert!(before);
    let second = rest;

    // The next sync, from the token of the one that read past them, has all three.
    let third = sync(&app, &a.token, Some(&second.next_since), 100).await;
    let changed = third.changed_ids();
    assert!(
        changed.contains(&late),
        "the late row was missed: {changed:?}"
    );
    let kept_now = third.changed.iter().find(|c| c["id"] == json!(kept));
    assert_eq!(
        kept_now.map(|c| &c["name"]),
        Some(&json!("changed late")),
        "the late change was missed: {changed:?}"
    );
    assert_eq!(third.deleted, BTreeSet::from([doomed]));
}

#[actix_web::test]
async fn a_token_is_its_organizations_and_opaque_and_a_bad_one_answers_410() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let b = app.signup("Other").await;
    let a_customer = create(&app, &a, "of A").await;
    let b_customer = create(&app, &b, "of B").await;
    assert_eq!(
        app.delete(&a, &format!("/v1/customers/{a_customer}"))
            .await
            .status,
        204
    );
    let a_sync = sync(&app, &a.token, None, 100).await;
    let b_sync = sync(&app, &b.token, None, 100).await;
    assert!(!a_sync.changed_ids().contains(&b_customer));
    assert_eq!(b_sync.changed_ids(), BTreeSet::from([b_customer.clone()]));
    // B's incremental sync never shows A's deletion.
    let created = create(&app, &a, "A again").await;
    assert_eq!(
        app.delete(&a, &format!("/v1/customers/{created}"))
            .await
            .status,
        204
    );
    let b_next = sync(&app, &b.token, Some(&b_sync.next_since), 100).await;
    assert!(b_next.deleted.is_empty(), "{:?}", b_next.deleted);
    assert!(!b_next.changed_ids().contains(&created));

    // A's token is refused to B, even mid-sync; and to A once altered.
    let x1 = create(&app, &a, "x1").await;
    let x2 = create(&app, &a, "x2").await;
    let paging = app
        .call("GET", &format!("{CHANGES}?limit=1"), Some(&a.token), None)
        .await;
    assert_eq!(paging.json["has_more"], json!(true), "{}", paging.text);
    let mid = paging.json["next_since"].as_str().unwrap().to_owned();
    for token in [&a_sync.next_since, &mid] {
        let r = app
            .call(
                "GET",
                &format!("{CHANGES}?since={token}"),
                Some(&b.token),
                None,
            )
            .await;
        assert_eq!(
            (r.status, r.json["error"].as_str()),
            (410, Some("sync_token_expired"))
        );
    }
    let mut altered = a_sync.next_since.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'Q' } else { 'A' });
    for token in [altered.as_str(), "", "not-a-token", "djE6MTAwOi06LTot"] {
        let r = app
            .call(
                "GET",
                &format!("{CHANGES}?since={token}"),
                Some(&a.token),
                None,
            )
            .await;
        assert_eq!(
            (r.status, r.json["error"].as_str()),
            (410, Some("sync_token_expired")),
            "{token}: {}",
            r.text
        );
    }
    // Opaque: nothing in a token reads as a number, an id or text.
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&a_sync.next_since)
        .unwrap();
    let org = uuid::Uuid::parse_str(&a.org_id).unwrap();
    assert!(!bytes.windows(16).any(|w| w == org.as_bytes()));
    assert!(std::str::from_utf8(&bytes).is_err());

    // An API key of A's reads A's feed, and continues a sync a user's session began.
    let key = app
        .post(
            &a,
            "/v1/api-keys",
            &json!({"name": "sync", "role": "member"}),
        )
        .await;
    let key = key.json["key"].as_str().unwrap().to_owned();
    let by_key = sync(&app, &key, Some(&mid), 100).await;
    let mut both = by_key.changed_ids();
    both.insert(paging.json["changed"][0]["id"].as_str().unwrap().to_owned());
    assert_eq!(both, BTreeSet::from([x1, x2]));
    let r = app
        .call(
            "GET",
            &format!("{CHANGES}?since={}", a_sync.next_since),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Bad parameters: 422 and 400, like the lists'.
    for (query, status, code) in [
        ("limit=0", 422, "validation_failed"),
        ("limit=101", 422, "validation_failed"),
        ("cursor=x", 400, "unknown_parameter"),
    ] {
        let r = app
            .call("GET", &format!("{CHANGES}?{query}"), Some(&a.token), None)
            .await;
        assert_eq!(
            (r.status, r.json["error"].as_str()),
            (status, Some(code)),
            "{query}"
        );
    }
    // Never the transaction ids in the export (the feed's rows are `Customer`s, which have none).
    let export = app.get(&a, "/v1/organization/export").await;
    assert_eq!(export.status, 200);
    assert!(!export.text.contains("change_xid"), "{}", export.text);
    assert!(
        export.json["tables"]["deleted_rows"].is_array(),
        "{}",
        export.text
    );
}

/// A token the server sealed, opened with the test server's keys.
fn opened(app: &TestApp, raw: &str) -> palisade_api::sync_token::SyncToken {
    app.tokens
        .sync()
        .open(CHANGES, raw)
        .expect("a token the server sealed opens with its keys")
}

#[actix_web::test]
async fn a_token_of_another_database_history_or_ahead_of_the_database_answers_410() {
    use palisade_api::sync_token::{SyncState, SyncToken};
    let (app, a) = spawn_app_with_owner("Acme").await;
    create(&app, &a, "one").await;
    let first = sync(&app, &a.token, None, 100).await;
    let token = opened(&app, &first.next_since);
    let seal = |t: SyncToken| app.tokens.sync().seal(CHANGES, &t).unwrap();
    let answer = |raw: String| {
        let app = &app;
        let a = &a;
        async move {
            let r = app
                .call(
                    "GET",
                    &format!("{CHANGES}?since={raw}"),
                    Some(&a.token),
                    None,
                )
                .await;
            (r.status, r.json["error"].as_str().map(str::to_owned))
        }
    };
    // The same token sealed again is accepted: the refusals below are the contents'.
    assert_eq!(answer(seal(token)).await, (200, None));
    let mut other_history = token;
    other_history.epoch.timeline += 1;
    let mut other_cluster = token;
    other_cluster.epoch.system ^= 1;
    let mut other_database = token;
    other_database.epoch.database += 1;
    // Ids this database has not given out yet: the counter is behind the token (a restore).
    let ahead = SyncToken {
        state: SyncState::Since(u64::MAX / 2),
        ..token
    };
    let SyncState::Since(since) = token.state else {
        panic!("the last page's token is a sync's end")
    };
    let paging_ahead = SyncToken {
        state: SyncState::Paging {
            since,
            horizon: since,
            ceiling: u64::MAX / 2,
            after: palisade_db::sync::ChangePosition::from_xid(since),
        },
        ..token
    };
    for forged in [
        other_history,
        other_cluster,
        other_database,
        ahead,
        paging_ahead,
    ] {
        assert_eq!(
            answer(seal(forged)).await,
            (410, Some("sync_token_expired".to_owned())),
            "{forged:?}"
        );
    }
}

#[actix_web::test]
async fn a_customer_changed_while_a_sync_pages_comes_once_in_it_and_again_in_the_next() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(create(&app, &a, &format!("customer {n}")).await);
    }
    let page = app
        .call("GET", &format!("{CHANGES}?limit=1"), Some(&a.token), None)
        .await;
    assert_eq!(page.json["has_more"], json!(true), "{}", page.text);
    let read = page.json["changed"][0]["id"].as_str().unwrap().to_owned();
    // Changed after the first page, it moves past the sync's position and would be read again
    // before the sync could end (an organization writing faster than its client pages would
    // never let a sync end). It waits for the next sync instead.
    let r = app
        .patch(
            &a,
            &format!("/v1/customers/{read}"),
            &json!({"name": "changed"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rest = sync(&app, &a.token, page.json["next_since"].as_str(), 1).await;
    let mut seen = vec![read.clone()];
    seen.extend(
        rest.changed
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned()),
    );
    assert_eq!(seen.len(), 3, "a customer read twice in one sync: {seen:?}");
    assert_eq!(
        seen.iter().cloned().collect::<BTreeSet<_>>(),
        ids.iter().cloned().collect()
    );
    let next = sync(&app, &a.token, Some(&rest.next_since), 100).await;
    let changed = next.changed.iter().find(|c| c["id"] == json!(read));
    assert_eq!(changed.map(|c| &c["name"]), Some(&json!("changed")));
}

#[actix_web::test]
async fn a_customer_changed_while_a_sync_pages_before_it_reached_it_comes_only_in_the_next() {
    // The other half of the trade-off above: a sync from the start is the copy as of its first
    // page less the customers changed, while it paged, before it reached them (docs/api.md,
    // "Incremental sync"). A client replacing a copy by what one sync listed loses such a
    // customer until the next sync, which the docs say to run at once.
    let (app, a) = spawn_app_with_owner("Acme").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(create(&app, &a, &format!("customer {n}")).await);
    }
    let page = app
        .call("GET", &format!("{CHANGES}?limit=1"), Some(&a.token), None)
        .await;
    assert_eq!(page.json["has_more"], json!(true), "{}", page.text);
    let read = page.json["changed"][0]["id"].as_str().unwrap().to_owned();
    let unread = ids
        .iter()
        .rfind(|id| **id != read)
        .expect("three customers, one read")
        .clone();
    let r = app
        .patch(
            &a,
            &format!("/v1/customers/{unread}"),
            &json!({"name": "changed"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rest = sync(&app, &a.token, page.json["next_since"].as_str(), 1).await;
    let mut listed = BTreeSet::from([read]);
    listed.extend(rest.changed_ids());
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(!listed.contains(&unread), "{listed:?}");
    let r = app
        .call(
            "GET",
            &format!("/v1/customers/{unread}"),
            Some(&a.token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "it exists all along: {}", r.text);
    let next = sync(&app, &a.token, Some(&rest.next_since), 100).await;
    let changed = next.changed.iter().find(|c| c["id"] == json!(unread));
    assert_eq!(changed.map(|c| &c["name"]), Some(&json!("changed")));
}

#[actix_web::test]
async fn a_token_names_its_database_and_a_restored_row_waits_for_the_dba_reset() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let restored = create(&app, &a, "restored").await;
    let first = sync(&app, &a.token, None, 100).await;
    let su = app.db.superuser_client().await;
    // The epoch is the database's own: its cluster, timeline and oid.
    let row = su
        .query_one(
            "SELECT (SELECT system_identifier FROM pg_control_system()),
                    ('x' || left(pg_walfile_name(pg_current_wal_lsn()), 8))::bit(32)::int8,
                    (SELECT oid FROM pg_database WHERE datname = current_database())::int8",
            &[],
        )
        .await
        .unwrap();
    let epoch = opened(&app, &first.next_since).epoch;
    assert_eq!(
        (
            epoch.system,
            i64::from(epoch.timeline),
            i64::from(epoch.database)
        ),
        (
            row.get::<_, i64>(0).cast_unsigned(),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2)
        )
    );

    // A row as a restore from another cluster leaves it: written by a transaction this cluster
    // has not reached. The feed refuses to page past it (500, logged) rather than lose it.
    su.batch_execute(&format!(
        "BEGIN; SET LOCAL session_replication_role = replica;
         UPDATE palisade.customers
            SET change_xid = (pg_snapshot_xmax(pg_current_snapshot())::text::int8 + 1000000)::text::xid8
          WHERE id = '{restored}';
         COMMIT;"
    ))
    .await
    .unwrap();
    let r = app.call("GET", CHANGES, Some(&a.token), None).await;
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (500, Some("internal_error")),
        "{}",
        r.text
    );

    // docs/dba.md's step 4, as written there, puts it first again.
    su.batch_execute(&dba_sync_reset()).await.unwrap();
    let again = sync(&app, &a.token, None, 100).await;
    assert_eq!(again.changed_ids(), BTreeSet::from([restored]));
}

/// The sync reset of docs/dba.md's restore procedure (step 4), as the guide writes it.
pub fn dba_sync_reset() -> String {
    let guide =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/dba.md")).unwrap();
    guide
        .split("```sql")
        .skip(1)
        .map(|block| block.split("```").next().unwrap())
        .find(|block| block.contains("session_replication_role"))
        .expect("docs/dba.md has the sync reset")
        .to_owned()
}

/// The deletion records are kept for a window (`PALISADE_RETAIN_DELETION_RECORDS_DAYS`, 90 days
/// by default), so a token whose sync began before it, less a day (89 days here, by the server's
/// clock), answers 410: the records it needs may be gone. One just within the window is good,
/// and the sync it reads gives a token of its own time. A sync from the start needs no record:
/// its tokens never grow too old. An API key syncs here, as a session would expire.
#[actix_web::test]
async fn a_token_older_than_the_deletion_records_window_answers_410() {
    use time::Duration;
    let (app, a) = spawn_app_with_owner("Acme").await;
    let key = app
        .api_key(&a, "sync", palisade_domain::Role::Member)
        .await
        .key;
    create(&app, &a, "one").await;
    create(&app, &a, "two").await;
    let started = palisade_domain::Clock::now(&app.clock).unix_timestamp();
    let first = sync(&app, &key, None, 100).await;
    let token = opened(&app, &first.next_since);
    assert_eq!((token.since_at, token.horizon_at), (started, 0));
    // Halfway through a sync from the start.
    let paging = app
        .call("GET", &format!("{CHANGES}?limit=1"), Some(&key), None)
        .await;
    assert_eq!(paging.json["has_more"], json!(true), "{}", paging.text);
    let paging = paging.json["next_since"].as_str().unwrap().to_owned();

    app.clock.advance(Duration::days(89));
    let within = sync(&app, &key, Some(&first.next_since), 100).await;
    assert_eq!(
        opened(&app, &within.next_since).since_at,
        started + Duration::days(89).whole_seconds()
    );
    app.clock.advance(Duration::seconds(1));
    let r = app
        .call(
            "GET",
            &format!("{CHANGES}?since={}", first.next_since),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (410, Some("sync_token_expired")),
        "{}",
        r.text
    );
    // The token of the sync made within the window is a day old, and good.
    sync(&app, &key, Some(&within.next_since), 100).await;
    // A sync from the start, 1,000 days on, pages on.
    app.clock.advance(Duration::days(1_000));
    let rest = sync(&app, &key, Some(&paging), 1).await;
    assert_eq!(rest.changed.len(), 1, "{:?}", rest.changed);
}

/// Retention records, per organization, the newest deleting transaction among the records it
/// removed, and a feed refuses a token at or before it whatever the server's clock says: a
/// deletion whose transaction stayed open for days is dated by its start, and a server's clock
/// may be behind the database's, so the token's age alone would accept it. A token past it (a
/// sync that had paged beyond the removed record), and another organization's, stay good.
#[actix_web::test]
async fn a_token_needing_a_deletion_record_retention_removed_answers_410_whatever_the_clock() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let b = app.signup("Other").await;
    let one = create(&app, &a, "one").await;
    let two = create(&app, &a, "two").await;
    let theirs = create(&app, &b, "theirs").await;
    let before = sync(&app, &a.token, None, 100).await.next_since;
    let theirs_before = sync(&app, &b.token, None, 100).await.next_since;
    for (who, id) in [(&a, &one), (&b, &theirs)] {
        let r = app.delete(who, &format!("/v1/customers/{id}")).await;
        assert_eq!(r.status, 204, "{}", r.text);
    }
    let su = app.db.superuser_client().await;
    let removed_xid = |id: String| {
        let su = &su;
        async move {
            let xid: String = su
                .query_one(
                    "SELECT change_xid::text FROM palisade.deleted_rows WHERE row_id = $1::text::uuid",
                    &[&id],
                )
                .await
                .unwrap()
                .get(0);
            xid.parse::<u64>().unwrap()
        }
    };
    let gone = removed_xid(one.clone()).await;
    // Two customers written after the deletion. A sync from `before`, a change a page, reads the
    // deletion, then `three` (and `two` first, if a transaction elsewhere in the cluster held
    // `before`'s horizon back): its token after `three`'s page is past the deletion, whatever
    // transaction still runs.
    let three = create(&app, &a, "three").await;
    let four = create(&app, &a, "four").await;
    let page = |since: String| {
        let (app, a) = (&app, &a);
        async move {
            let r = app
                .call(
                    "GET",
                    &format!("{CHANGES}?limit=1&since={since}"),
                    Some(&a.token),
                    None,
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.json
        }
    };
    let (mut at_deletion, mut after) = (None, None);
    let mut since = before.clone();
    for _ in 0..4 {
        let p = page(since).await;
        since = p["next_since"].as_str().unwrap().to_owned();
        if p["deleted"][0]["id"] == json!(one) {
            at_deletion = Some(since.clone());
        }
        if p["changed"][0]["id"] == json!(three) {
            after = Some(since.clone());
            break;
        }
    }
    let (at_deletion, after) = (at_deletion.expect("the deletion"), after.expect("three"));
    match opened(&app, &after).state {
        palisade_api::sync_token::SyncState::Paging { after: at, .. } => assert!(at.xid > gone),
        other => panic!("not a paging token: {other:?}"),
    }
    let r = app.delete(&a, &format!("/v1/customers/{two}")).await;
    assert_eq!(r.status, 204, "{}", r.text);

    // Only A's first record goes: made old as if its transaction had begun 91 days ago.
    su.execute(
        "UPDATE palisade.deleted_rows SET deleted_at = now() - interval '91 days'
          WHERE row_id = $1::text::uuid",
        &[&one],
    )
    .await
    .unwrap();
    let owner = app.db.owner_client().await;
    let purged = palisade_db::retention::purge(&owner, &Default::default())
        .await
        .unwrap();
    assert!(
        purged.contains(&("deleted_rows".to_owned(), 1)),
        "{purged:?}"
    );
    let marks: Vec<(String, String)> = su
        .query(
            "SELECT organization_id::text, pruned_xid::text FROM palisade.pruned_deletion_records
              WHERE organization_id::text IN ($1, $2)",
            &[&a.org_id, &b.org_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(marks, [(a.org_id.clone(), gone.to_string())]);

    // The token from before the removed deletion: fresh by the clock, refused; so is the token
    // of the page that read it, whose position is the removed deletion itself.
    for (token, which) in [(&before, "before"), (&at_deletion, "at the deletion")] {
        app.call(
            "GET",
            &format!("{CHANGES}?since={token}"),
            Some(&a.token),
            None,
        )
        .await
        .assert_error_at(410, "sync_token_expired", which);
    }
    // The sync that had paged past it reads on; B's token is untouched.
    let rest = sync(&app, &a.token, Some(&after), 100).await;
    assert!(rest.changed_ids().contains(&four), "{:?}", rest.changed);
    let theirs_next = sync(&app, &b.token, Some(&theirs_before), 100).await;
    assert!(
        theirs_next.deleted.contains(&theirs),
        "{:?}",
        theirs_next.deleted
    );
}
