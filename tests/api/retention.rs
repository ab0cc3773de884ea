//! Retention (docs/dba.md "Retention", policies/029_retention.sql): the owner's one path that
//! deletes append-only records past their window, across organizations, and nothing else.
//! Every tenant table is seeded for two organizations; A's records are made old (as the
//! superuser), B's stay fresh: a run removes exactly A's old records, keeps every one of B's,
//! never an event with a pending delivery, and the app role cannot run it at all.

use std::time::Duration;

use palisade_db::retention::{self, Windows};
use palisade_server::configuration::UrlSetting;
use palisade_server::startup::url_source;
use palisade_test_support::{TestDb, spawn_app_with_owner};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::isolation::seed_all;

/// (table, the organization column, how to make one organization's rows old enough to go).
const AGED: &[(&str, &str, &str)] = &[
    (
        "palisade.webhook_deliveries",
        "organization_id",
        "created_at = now() - interval '31 days'",
    ),
    (
        "palisade.outbound_webhook_events",
        "organization_id",
        "occurred_at = now() - interval '31 days'",
    ),
    (
        "palisade.invitations",
        "organization_id",
        "created_at = now() - interval '40 days', expires_at = now() - interval '8 days'",
    ),
    (
        "palisade.password_resets",
        "organization_id",
        "created_at = now() - interval '40 days', expires_at = now() - interval '8 days'",
    ),
    (
        "palisade.idempotency_keys",
        "organization_id",
        "created_at = now() - interval '3 days'",
    ),
    (
        "palisade_platform.stripe_events",
        "organization_id",
        "received_at = now() - interval '31 days'",
    ),
    (
        "palisade.deleted_rows",
        "organization_id",
        "deleted_at = now() - interval '91 days'",
    ),
];

async fn count(su: &Client, table: &str, column: &str, org: &str) -> i64 {
    su.query_one(
        &format!("SELECT count(*) FROM {table} WHERE {column}::text = $1"),
        &[&org],
    )
    .await
    .unwrap_or_else(|e| panic!("count {table}: {e}"))
    .get(0)
}

#[actix_web::test]
async fn a_run_removes_exactly_the_records_past_their_window() {
    let (app, a) = spawn_app_with_owner("retention-a").await;
    let b = app.signup("retention-b").await;
    seed_all(&app, &a, "retention-marker-a").await;
    seed_all(&app, &b, "retention-marker-b").await;
    let su = app.db.superuser_client().await;
    // Applied Stripe events of each organization (the Stripe path records them; no seeder does).
    for (i, org) in [&a.org_id, &a.org_id, &b.org_id].into_iter().enumerate() {
        su.execute(
            "INSERT INTO palisade_platform.stripe_events (event_id, event_type, event_created, organization_id)
             VALUES ($1, 'invoice.paid', now(), $2::text::uuid)",
            &[&format!("evt_retention_{i}"), org],
        )
        .await
        .unwrap();
    }

    for (table, column, aged) in AGED {
        su.execute(
            &format!("UPDATE {table} SET {aged} WHERE {column}::text = $1"),
            &[&a.org_id],
        )
        .await
        .unwrap_or_else(|e| panic!("age {table}: {e}"));
        assert!(
            count(&su, table, column, &a.org_id).await > 0,
            "{table}: nothing of A to age"
        );
        assert!(
            count(&su, table, column, &b.org_id).await > 0,
            "{table}: nothing of B to keep"
        );
    }
    // A's deliveries settled (no delivery worker runs here: they were all pending, and every
    // event stayed), but one: its event stays, with its deliveries.
    su.execute(
        "UPDATE palisade.outbound_webhook_deliveries
            SET status = 'succeeded', next_attempt_at = NULL, leased_until = NULL
          WHERE organization_id::text = $1",
        &[&a.org_id],
    )
    .await
    .unwrap();
    let kept_event: Uuid = su
        .query_one(
            "UPDATE palisade.outbound_webhook_deliveries
                SET status = 'pending', next_attempt_at = now() + interval '1 day',
                    leased_until = NULL, last_error = NULL
              WHERE (organization_id, id) = (SELECT organization_id, id
                                               FROM palisade.outbound_webhook_deliveries
                                              WHERE organization_id::text = $1 LIMIT 1)
              RETURNING event_id",
            &[&a.org_id],
        )
        .await
        .unwrap()
        .get(0);
    let events_with_pending: i64 = su
        .query_one(
            "SELECT count(DISTINCT event_id) FROM palisade.outbound_webhook_deliveries
              WHERE organization_id::text = $1 AND status = 'pending'",
            &[&a.org_id],
        )
        .await
        .unwrap()
        .get(0);
    // Mailgun tokens belong to nobody: one old, one fresh.
    su.batch_execute(
        "INSERT INTO palisade_platform.mailgun_tokens (token, body_sha256, accepted_at)
         VALUES ('retention-old-token', decode(repeat('00', 32), 'hex'), now() - interval '2 days'),
                ('retention-fresh-token', decode(repeat('00', 32), 'hex'), now())",
    )
    .await
    .unwrap();
    // Two released numbers: one whose 30-day quarantine ended, one still in it.
    su.execute(
        "INSERT INTO palisade_platform.phone_number_inventory
                (number, capabilities, released_by_org_id, released_at)
         VALUES ('+15550009901', '{sms}', $1::text::uuid, now() - interval '31 days'),
                ('+15550009902', '{sms}', $1::text::uuid, now() - interval '1 day')",
        &[&a.org_id],
    )
    .await
    .unwrap();

    let b_before: Vec<i64> = {
        let mut v = Vec::new();
        for (table, column, _) in AGED {
            v.push(count(&su, table, column, &b.org_id).await);
        }
        v
    };
    let a_before: Vec<i64> = {
        let mut v = Vec::new();
        for (table, column, _) in AGED {
            v.push(count(&su, table, column, &a.org_id).await);
        }
        v
    };

    // The newest of A's deletion records, which retention keeps as how far it went.
    let newest_of_a: String = su
        .query_one(
            "SELECT max(change_xid::text::numeric)::text FROM palisade.deleted_rows
              WHERE organization_id::text = $1",
            &[&a.org_id],
        )
        .await
        .unwrap()
        .get(0);

    // Batches of one row: the run repeats until nothing is left, and adds up.
    let owner = app.db.owner_client().await;
    let purged = retention::purge_in_batches(&owner, &Windows::default(), 1)
        .await
        .unwrap();
    let removed = |record: &str| {
        purged
            .iter()
            .find(|(r, _)| r == record)
            .unwrap_or_else(|| panic!("{record} missing from {purged:?}"))
            .1
    };

    for (i, (table, column, _)) in AGED.iter().enumerate() {
        assert_eq!(
            count(&su, table, column, &b.org_id).await,
            b_before[i],
            "{table}: B's fresh rows were touched"
        );
        let left = count(&su, table, column, &a.org_id).await;
        let record = table.rsplit('.').next().unwrap();
        if *record == *"outbound_webhook_events" {
            assert_eq!(
                left, events_with_pending,
                "{table}: events with a pending delivery stay"
            );
            assert!(
                a_before[i] > left,
                "{table}: no settled event of A to remove ({left} of {})",
                a_before[i]
            );
        } else {
            assert_eq!(left, 0, "{table}: A's old rows are still there");
        }
        assert_eq!(
            removed(record),
            a_before[i] - left,
            "{table}: the count returned"
        );
    }
    let still_there: bool = su
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM palisade.outbound_webhook_events WHERE id = $1)",
            &[&kept_event],
        )
        .await
        .unwrap()
        .get(0);
    assert!(still_there, "an event with a pending delivery was deleted");
    let tokens: Vec<String> = su
        .query(
            "SELECT token FROM palisade_platform.mailgun_tokens WHERE token LIKE 'retention-%'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(tokens, ["retention-fresh-token"]);
    assert_eq!(removed("mailgun_tokens"), 1);
    let quarantines: Vec<(String, bool)> = su
        .query(
            "SELECT number, released_at IS NOT NULL FROM palisade_platform.phone_number_inventory
              WHERE number IN ('+15550009901', '+15550009902') ORDER BY number",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        quarantines,
        [
            ("+15550009901".to_owned(), false),
            ("+15550009902".to_owned(), true)
        ],
        "the ended quarantine is cleared, the running one kept, both numbers stay"
    );
    assert_eq!(removed("number_quarantines"), 1);

    // How far it went: A's newest removed record (the seeder's stand-in, 1, moved forward);
    // B's, whose records all stay, as seeded.
    assert_eq!(
        pruned_marks(&su, &a.org_id, &b.org_id).await,
        [newest_of_a.clone(), "1".to_owned()]
    );

    // Nothing left past its window: a second run removes nothing.
    let again = retention::purge(&owner, &Windows::default()).await.unwrap();
    assert!(again.iter().all(|(_, n)| *n == 0), "{again:?}");

    // An old record of an older transaction, removed later, never moves the mark back.
    su.execute(
        "INSERT INTO palisade.deleted_rows (organization_id, resource, row_id, change_xid, deleted_at)
         VALUES ($1::text::uuid, 'customers', gen_random_uuid(), '2', now() - interval '91 days')",
        &[&a.org_id],
    )
    .await
    .unwrap();
    let late = retention::purge(&owner, &Windows::default()).await.unwrap();
    assert!(late.contains(&("deleted_rows".to_owned(), 1)), "{late:?}");
    assert_eq!(
        pruned_marks(&su, &a.org_id, &b.org_id).await,
        [newest_of_a, "1".to_owned()]
    );
}

/// `palisade.pruned_deletion_records`' marks of `a` and `b`, in that order (read as the
/// superuser).
async fn pruned_marks(su: &Client, a: &str, b: &str) -> Vec<String> {
    let mut out = Vec::new();
    for org in [a, b] {
        out.push(
            su.query_one(
                "SELECT pruned_xid::text FROM palisade.pruned_deletion_records
                  WHERE organization_id::text = $1",
                &[&org],
            )
            .await
            .unwrap_or_else(|e| panic!("no mark for {org}: {e}"))
            .get(0),
        );
    }
    out
}

#[actix_web::test]
async fn only_the_owner_may_run_it_and_never_below_the_floors() {
    let (app, _a) = spawn_app_with_owner("retention-floor").await;
    // The app role may not execute the function, nor delete the records itself.
    let app_client = app.db.app_client().await;
    let err = retention::purge(&app_client, &Windows::default())
        .await
        .expect_err("the app role ran retention");
    assert!(
        matches!(&err, palisade_db::DbError::PermissionDenied { table }
            if table.starts_with("function ") && table.contains("purge")),
        "{err:?}"
    );
    let deleted = app_client
        .execute("DELETE FROM palisade.webhook_deliveries", &[])
        .await;
    assert_eq!(
        deleted.map_err(|e| e.code().cloned()),
        Err(Some(SqlState::INSUFFICIENT_PRIVILEGE))
    );

    // Below a floor, the function refuses, whoever calls it; the settings say which floor.
    let owner = app.db.owner_client().await;
    let short = Windows {
        stripe_events: Duration::from_secs(86_400 * 3),
        ..Windows::default()
    };
    assert!(short.check().unwrap_err().contains("Stripe events"));
    let err = retention::purge(&owner, &short)
        .await
        .expect_err("a window below its floor ran");
    assert!(
        matches!(&err, palisade_db::DbError::Server { code, .. } if code == "22023"),
        "{err:?}"
    );
}

/// Rows of `palisade_platform.stripe_events` with this id, as `su` (a superuser) sees them.
async fn stripe_event_rows(su: &Client, event_id: &str) -> i64 {
    su.query_one(
        "SELECT count(*) FROM palisade_platform.stripe_events WHERE event_id = $1",
        &[&event_id],
    )
    .await
    .unwrap()
    .get(0)
}

/// Waits for the event to be deleted: a bound for a run to happen at all (they are 100 ms
/// apart), not a measure of its speed.
async fn wait_until_gone(db: &TestDb, which: &str, event_id: &str) {
    let su = db.superuser_client().await;
    for _ in 0..1200 {
        if stripe_event_rows(&su, event_id).await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the {which} database's expired Stripe event is still there after a minute");
}

/// The server's schedule reads the owner's URL for each run: with `DATABASE_URL_FILE`, a
/// rewritten file (after `\password palisade_owner`) is the next run's URL, with no restart.
/// Seen through two databases, each with an applied Stripe event past its window: the file names
/// the first, whose event goes while the second's stays, then the second, whose event goes too.
#[actix_web::test]
async fn the_schedule_reads_the_owner_url_file_again_for_each_run() {
    let first = TestDb::new().await;
    let second = TestDb::new().await;
    let event = "evt_scheduled_retention";
    for db in [&first, &second] {
        db.superuser_client()
            .await
            .execute(
                "INSERT INTO palisade_platform.stripe_events (event_id, event_type, event_created, received_at)
                 VALUES ($1, 'invoice.paid', now() - interval '31 days', now() - interval '31 days')",
                &[&event],
            )
            .await
            .unwrap();
    }
    let dir = std::env::temp_dir().join(format!("palisade-owner-url-{}", Uuid::new_v4()));
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("owner-url");
    std::fs::write(&file, first.url_as("palisade_owner")).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let schedule = actix_web::rt::spawn(palisade_server::retention::run_periodically(
        url_source(&UrlSetting::File(file.clone()), "DATABASE_URL_FILE"),
        Windows::default(),
        Duration::from_millis(100),
        async {
            let _ = stopped.await;
        },
    ));
    wait_until_gone(&first, "first", event).await;
    assert_eq!(
        stripe_event_rows(&second.superuser_client().await, event).await,
        1
    );
    std::fs::write(&file, second.url_as("palisade_owner")).unwrap();
    wait_until_gone(&second, "second", event).await;
    stop.send(()).unwrap();
    schedule.await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Beside an organization's deletion (which holds the organization's row, then deletes its
/// deletion records), retention's removal of those records would take the same locks in the
/// other order and deadlock with it. It waits 50 ms at most, then leaves them, untouched, to its
/// next run: the run ends, and the next one, once the organization's row is free, removes them.
#[actix_web::test]
async fn retention_steps_aside_from_an_organization_being_deleted() {
    let (app, a) = spawn_app_with_owner("retention-aside").await;
    let customer = app
        .create_customer(&a, serde_json::json!({"name": "Gone"}))
        .await;
    let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());
    assert_eq!(app.delete(&a, &path).await.status, 204);
    let su = app.db.superuser_client().await;
    su.execute(
        "UPDATE palisade.deleted_rows SET deleted_at = now() - interval '91 days'
          WHERE organization_id::text = $1",
        &[&a.org_id],
    )
    .await
    .unwrap();
    // The organization's row, held as its deletion holds it (FOR UPDATE), on another session.
    let deleting = app.db.superuser_client().await;
    deleting
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM palisade.organizations WHERE id = '{}' FOR UPDATE",
            a.org_id
        ))
        .await
        .unwrap();
    let owner = app.db.owner_client().await;
    let purged = retention::purge(&owner, &Windows::default()).await.unwrap();
    assert!(
        purged.contains(&("deleted_rows".to_owned(), 0)),
        "{purged:?}"
    );
    assert_eq!(
        count(&su, "palisade.deleted_rows", "organization_id", &a.org_id).await,
        1
    );
    deleting.batch_execute("ROLLBACK").await.unwrap();
    let purged = retention::purge(&owner, &Windows::default()).await.unwrap();
    assert!(
        purged.contains(&("deleted_rows".to_owned(), 1)),
        "{purged:?}"
    );
    assert_eq!(
        count(
            &su,
            "palisade.pruned_deletion_records",
            "organization_id",
            &a.org_id
        )
        .await,
        1
    );
}

/// Ages every record of `org` past its window, and settles its outbound deliveries (the tests
/// run no delivery worker: they stay pending, which keeps their events), as the superuser.
async fn age_and_settle(su: &Client, org: &str) {
    for (table, column, aged) in AGED {
        su.execute(
            &format!("UPDATE {table} SET {aged} WHERE {column}::text = $1"),
            &[&org],
        )
        .await
        .unwrap_or_else(|e| panic!("age {table}: {e}"));
    }
    su.execute(
        "UPDATE palisade.outbound_webhook_deliveries
            SET status = 'succeeded', next_attempt_at = NULL, leased_until = NULL
          WHERE organization_id::text = $1",
        &[&org],
    )
    .await
    .unwrap();
}

/// Runs retention to the end, failing if it has not ended after a minute (a bound for a run
/// that waits for another transaction's locks, not a measure of its speed) or if it fails; the
/// failure names `held`, what the other transaction holds.
async fn purge_unless_blocked(owner: &Client, held: &str) -> retention::Purged {
    tokio::time::timeout(
        Duration::from_secs(60),
        retention::purge(owner, &Windows::default()),
    )
    .await
    .unwrap_or_else(|_| panic!("{held}: retention waited for the rows held"))
    .unwrap_or_else(|e| panic!("{held}: retention failed: {e:?}"))
}

/// An organization's deletion is one DELETE whose cascade takes the organization's rows table
/// by table, in another order than retention's steps: retention would come to wait for rows the
/// deletion had deleted while the deletion waited for rows retention had, a deadlock. Every
/// step waits 50 ms at most, then leaves its batch, untouched, to the next run. Here a
/// transaction holds A's rows as the deletion's cascade holds them midway (deleted,
/// uncommitted), first A's outbound webhooks with their deliveries (retention's events step
/// waits there in its own cascade to the deliveries, on rows it did not pick), then A's
/// carrier webhook deliveries, invitations, password resets and idempotency keys. The run ends;
/// the held steps count 0 and keep A's and B's old rows (one batch); every other step removes
/// both organizations' old rows; once the transaction has ended, the next run removes the rest.
#[actix_web::test]
async fn retention_steps_aside_from_the_rows_an_organization_s_deletion_holds() {
    // (the tables whose rows of A the deletion holds, the tables of the steps that wait).
    let deleted_directly = [
        "palisade.webhook_deliveries",
        "palisade.invitations",
        "palisade.password_resets",
        "palisade.idempotency_keys",
    ];
    let cases: [(&[&str], &[&str]); 2] = [
        (
            &["palisade.outbound_webhooks"],
            &["palisade.outbound_webhook_events"],
        ),
        (&deleted_directly, &deleted_directly),
    ];
    for (held, steps) in cases {
        let (app, a) = spawn_app_with_owner("retention-held-a").await;
        let b = app.signup("retention-held-b").await;
        seed_all(&app, &a, "retention-held-a").await;
        seed_all(&app, &b, "retention-held-b").await;
        let su = app.db.superuser_client().await;
        for org in [&a.org_id, &b.org_id] {
            age_and_settle(&su, org).await;
        }
        let mut before = Vec::new();
        for table in steps {
            let counts = (
                count(&su, table, "organization_id", &a.org_id).await,
                count(&su, table, "organization_id", &b.org_id).await,
            );
            assert!(counts.0 > 0 && counts.1 > 0, "{table}: nothing to keep");
            before.push(counts);
        }

        let deleting = app.db.superuser_client().await;
        deleting.batch_execute("BEGIN").await.unwrap();
        for table in held {
            deleting
                .execute(
                    &format!("DELETE FROM {table} WHERE organization_id::text = $1"),
                    &[&a.org_id],
                )
                .await
                .unwrap();
        }
        let owner = app.db.owner_client().await;
        let purged = purge_unless_blocked(&owner, &steps.join(", ")).await;
        for (i, table) in steps.iter().enumerate() {
            let record = table.rsplit('.').next().unwrap();
            assert!(
                purged.contains(&(record.to_owned(), 0)),
                "{record}: {purged:?}"
            );
            let after = (
                count(&su, table, "organization_id", &a.org_id).await,
                count(&su, table, "organization_id", &b.org_id).await,
            );
            assert_eq!(after, before[i], "{table}: a held step removed rows");
        }
        for (table, column, _) in AGED {
            if steps.contains(table) {
                continue;
            }
            for org in [&a.org_id, &b.org_id] {
                assert_eq!(
                    count(&su, table, column, org).await,
                    0,
                    "{table}: the other steps go on"
                );
            }
        }

        deleting.batch_execute("ROLLBACK").await.unwrap();
        let purged = purge_unless_blocked(&owner, &steps.join(", ")).await;
        for (i, table) in steps.iter().enumerate() {
            let record = table.rsplit('.').next().unwrap();
            let (a_before, b_before) = before[i];
            assert!(
                purged.contains(&(record.to_owned(), a_before + b_before)),
                "{record}: {purged:?}"
            );
            for org in [&a.org_id, &b.org_id] {
                assert_eq!(
                    count(&su, table, "organization_id", org).await,
                    0,
                    "{table}"
                );
            }
        }
    }
}

/// The one count `sql` answers, as `su`.
async fn rows(su: &Client, sql: &str) -> i64 {
    su.query_one(sql, &[]).await.unwrap().get(0)
}

/// The steps over platform rows step aside from a held row as the others do, their batch left
/// untouched to the next run. Each case: the step's record, two rows past their window (of A
/// and B, or of nobody), the statement of a transaction that holds one of them, how that
/// transaction ends, and the count of the rows still to go. A Stripe event is held by its
/// organization's deletion, whose cascade sets its `organization_id` to NULL (the event id is
/// kept, so that a late retry is still a duplicate): once the deletion has committed, the next
/// run removes it like any other. A Mailgun token is held by the webhook's sweep of expired
/// tokens, a number whose quarantine has ended by a claim of it: both transactions roll back,
/// and the next run removes the token, or clears the quarantine.
#[actix_web::test]
async fn retention_steps_aside_from_a_held_stripe_event_mailgun_token_or_quarantine() {
    let cases = [
        (
            "stripe_events",
            "INSERT INTO palisade_platform.stripe_events
                    (event_id, event_type, event_created, organization_id, received_at)
             VALUES ('evt_held_a', 'invoice.paid', now(), $1::text::uuid, now() - interval '31 days'),
                    ('evt_held_b', 'invoice.paid', now(), $2::text::uuid, now() - interval '31 days')",
            "DELETE FROM palisade.organizations WHERE id::text = $1",
            "COMMIT",
            "SELECT count(*) FROM palisade_platform.stripe_events
              WHERE event_id IN ('evt_held_a', 'evt_held_b')",
        ),
        (
            "mailgun_tokens",
            "INSERT INTO palisade_platform.mailgun_tokens (token, body_sha256, accepted_at)
             SELECT t, decode(repeat('00', 32), 'hex'), now() - interval '2 days'
               FROM unnest(ARRAY['held-token-' || $1, 'held-token-' || $2]) AS t",
            "DELETE FROM palisade_platform.mailgun_tokens WHERE token = 'held-token-' || $1",
            "ROLLBACK",
            "SELECT count(*) FROM palisade_platform.mailgun_tokens WHERE token LIKE 'held-token-%'",
        ),
        (
            "number_quarantines",
            "INSERT INTO palisade_platform.phone_number_inventory
                    (number, capabilities, released_by_org_id, released_at)
             VALUES ('+15550009911', '{sms}', $1::text::uuid, now() - interval '31 days'),
                    ('+15550009912', '{sms}', $2::text::uuid, now() - interval '31 days')",
            "UPDATE palisade_platform.phone_number_inventory
                SET holder_org_id = $1::text::uuid, released_by_org_id = NULL, released_at = NULL
              WHERE number = '+15550009912'",
            "ROLLBACK",
            "SELECT count(*) FROM palisade_platform.phone_number_inventory
              WHERE number IN ('+15550009911', '+15550009912') AND released_at IS NOT NULL",
        ),
    ];
    for (record, seed, hold, end, left) in cases {
        let (app, a) = spawn_app_with_owner("retention-platform-a").await;
        let b = app.signup("retention-platform-b").await;
        let su = app.db.superuser_client().await;
        su.execute(seed, &[&a.org_id, &b.org_id])
            .await
            .unwrap_or_else(|e| panic!("{record}: seed: {e}"));
        assert_eq!(rows(&su, left).await, 2, "{record}");

        let holding = app.db.superuser_client().await;
        holding.batch_execute("BEGIN").await.unwrap();
        let held = holding
            .execute(hold, &[&a.org_id])
            .await
            .unwrap_or_else(|e| panic!("{record}: hold: {e}"));
        assert!(held > 0, "{record}: nothing held");
        let owner = app.db.owner_client().await;
        let purged = purge_unless_blocked(&owner, record).await;
        assert!(
            purged.contains(&(record.to_owned(), 0)),
            "{record}: {purged:?}"
        );
        assert_eq!(
            rows(&su, left).await,
            2,
            "{record}: a held step removed rows"
        );

        holding.batch_execute(end).await.unwrap();
        let purged = purge_unless_blocked(&owner, record).await;
        assert!(
            purged.contains(&(record.to_owned(), 2)),
            "{record}: {purged:?}"
        );
        assert_eq!(rows(&su, left).await, 0, "{record}");
    }
}

/// The server honours an `Idempotency-Key` for 24 hours by its own clock, which wrote the key's
/// `created_at`; retention measures on the database's. At the window's floor, a day, a key is
/// still kept 25 hours: the hour is a margin for the server's clock running behind the
/// database's, so a retry the server would still replay never finds its key gone (and acts
/// twice). A key past 25 hours goes.
#[actix_web::test]
async fn an_idempotency_key_outlives_the_day_it_is_honoured_by_an_hour() {
    let (app, a) = spawn_app_with_owner("retention-idempotency").await;
    let su = app.db.superuser_client().await;
    su.execute(
        "INSERT INTO palisade.idempotency_keys
                (organization_id, key, request_hash, response_status, created_at)
         VALUES ($1::text::uuid, 'within-the-margin', decode(repeat('00', 32), 'hex'), 201,
                 now() - interval '24 hours 30 minutes'),
                ($1::text::uuid, 'past-the-margin', decode(repeat('00', 32), 'hex'), 201,
                 now() - interval '25 hours 30 minutes')",
        &[&a.org_id],
    )
    .await
    .unwrap();
    let at_the_floor = Windows {
        idempotency_keys: Duration::from_secs(86_400),
        ..Windows::default()
    };
    assert_eq!(at_the_floor.check(), Ok(()));
    let owner = app.db.owner_client().await;
    let purged = retention::purge(&owner, &at_the_floor).await.unwrap();
    assert!(
        purged.contains(&("idempotency_keys".to_owned(), 1)),
        "{purged:?}"
    );
    let left: Vec<String> = su
        .query(
            "SELECT key FROM palisade.idempotency_keys WHERE organization_id::text = $1",
            &[&a.org_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, ["within-the-margin"]);
}
