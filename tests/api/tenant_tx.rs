//! The tenant transaction: pool safety, rollback on drop, pipelining order.

use palisade_db::crud::{self, Insert};
use palisade_db::customers::{CustomerFilter, NewCustomer};
use palisade_db::{PageRequest, TenantTx};
use palisade_domain::{CustomerName, OrgId, Role, TenantContext, UserId};
use palisade_test_support::TestDb;
use uuid::Uuid;

fn ctx(org: OrgId) -> TenantContext {
    TenantContext {
        org_id: org,
        user_id: UserId::new(),
        role: Role::Owner,
    }
}

/// Creates `n` organizations with `per_org` customers each, through TenantTx.
async fn seed(pool: &palisade_db::AppPool, n: usize, per_org: usize) -> Vec<(OrgId, Vec<Uuid>)> {
    let mut out = Vec::new();
    for i in 0..n {
        let org = OrgId::new();
        let mut tx = TenantTx::begin(pool, &ctx(org)).await.unwrap();
        tx.execute(
            "INSERT INTO palisade.organizations (id, name) VALUES ($1, $2)",
            &[&org.as_uuid(), &format!("org {i}")],
        )
        .await
        .unwrap();
        let mut ids = Vec::new();
        for j in 0..per_org {
            let c = (NewCustomer {
                name: CustomerName::parse(&format!("c{i}-{j}")).unwrap(),
                email: None,
                phone: None,
            })
            .insert(&mut tx)
            .await
            .unwrap();
            ids.push(c.id);
        }
        tx.commit().await.unwrap();
        ids.sort();
        out.push((org, ids));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pooled_connection_never_shows_one_tenant_another_tenants_rows() {
    let db = TestDb::new().await;
    let pool = db.app_pool(1);
    let orgs = seed(&pool, 8, 3).await;
    // Many interleaved requests from many organizations through a single connection, using
    // both the pipelined one-round-trip read and the multi-statement path. Every answer must
    // be exact: a context that leaked, or a query that overtook its set_config, would show up
    // as foreign or missing rows.
    let mut tasks = Vec::new();
    for round in 0..25 {
        for (org, expected) in orgs.clone() {
            let pool = pool.clone();
            tasks.push(tokio::spawn(async move {
                let tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
                let mut got: Vec<Uuid> = if round % 2 == 0 {
                    let page = crud::list_page(
                        tx,
                        &CustomerFilter::default(),
                        &PageRequest {
                            after: None,
                            limit: 100,
                            created: Default::default(),
                        },
                    )
                    .await
                    .unwrap();
                    page.items.iter().map(|c| c.id).collect()
                } else {
                    let mut tx = tx;
                    let n: i64 = tx
                        .query_one("SELECT count(*) FROM palisade.organizations", &[])
                        .await
                        .unwrap()
                        .get(0);
                    assert_eq!(n, 1);
                    let rows = tx
                        .query("SELECT id FROM palisade.customers", &[])
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                    rows.iter().map(|r| r.get(0)).collect()
                };
                got.sort();
                assert_eq!(got, expected, "organization {org} saw the wrong rows");
                // The connection is back in the pool with no tenant context on it.
                let idle = pool.idle_context().await.unwrap();
                assert_eq!(idle, [String::new(), String::new(), String::new()]);
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn dropping_without_commit_rolls_back_and_cleans_the_connection() {
    let db = TestDb::new().await;
    let pool = db.app_pool(1);
    let orgs = seed(&pool, 1, 0).await;
    let org = orgs[0].0;
    {
        let mut tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
        (NewCustomer {
            name: CustomerName::parse("ghost").unwrap(),
            email: None,
            phone: None,
        })
        .insert(&mut tx)
        .await
        .unwrap();
        // Dropped here, as when a client disconnects mid-request.
    }
    // The only connection comes back rolled back, with no context, and nothing was written.
    assert_eq!(pool.idle_context().await.unwrap(), ["", "", ""]);
    let tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
    let rows = tx
        .query_once("SELECT count(*) FROM palisade.customers", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 0);
}

#[tokio::test]
async fn a_failing_statement_in_the_pipeline_leaves_the_connection_usable() {
    let db = TestDb::new().await;
    let pool = db.app_pool(1);
    let orgs = seed(&pool, 1, 2).await;
    let tx = TenantTx::begin(&pool, &ctx(orgs[0].0)).await.unwrap();
    assert!(tx.query_once("SELECT 1 / 0", &[]).await.is_err());
    let tx = TenantTx::begin(&pool, &ctx(orgs[0].0)).await.unwrap();
    let rows = tx
        .query_once("SELECT count(*) FROM palisade.customers", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 2);
    assert_eq!(pool.idle_context().await.unwrap(), ["", "", ""]);
}

/// A pipeline that fails as a whole (here its parameters do not fit the statement, so nothing
/// is sent) ends the transaction: its connection is closed, not reused in an unknown state, and a
/// next statement on the same transaction fails instead of running without BEGIN and context.
#[tokio::test]
async fn a_pipeline_that_fails_whole_ends_the_transaction_and_closes_its_connection() {
    let db = TestDb::new().await;
    let pool = db.app_pool(1);
    let pid = backend_of_a_read(&pool).await;
    let mut tx = TenantTx::begin(&pool, &ctx(OrgId::new())).await.unwrap();
    let none: [&(dyn tokio_postgres::types::ToSql + Sync); 0] = [];
    assert!(tx.query("SELECT $1::int", &none).await.is_err());
    match tx.query("SELECT 1", &[]).await {
        Err(palisade_db::DbError::Client(m)) => assert!(m.contains("already ended"), "{m}"),
        other => panic!("expected the transaction ended, got {other:?}"),
    }
    drop(tx);
    assert_ne!(backend_of_a_read(&pool).await, pid, "a new connection");
    assert_eq!(pool.idle_context().await.unwrap(), ["", "", ""]);
}

/// A transaction dropped on a runtime that then stops before the ROLLBACK it spawned has run
/// (a worker ending) must not hand its connection back to the pool inside the transaction, with
/// its tenant's context set and its writes pending for the next request to commit. Here the
/// connection is driven by this test's runtime, so it outlives the one the transaction ran on.
#[tokio::test]
async fn a_transaction_dropped_as_its_runtime_stops_never_goes_back_to_the_pool_open() {
    let db = TestDb::new().await;
    let pool = db.app_pool(1);
    let orgs = seed(&pool, 1, 0).await;
    let org = orgs[0].0;
    // The pool's only connection, opened (and driven) here.
    let pid = backend_of_a_read(&pool).await;
    let on_other_runtime = pool.clone();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let backend: i32 = runtime.block_on(async {
            let mut tx = TenantTx::begin(&on_other_runtime, &ctx(org)).await.unwrap();
            (NewCustomer {
                name: CustomerName::parse("pending").unwrap(),
                email: None,
                phone: None,
            })
            .insert(&mut tx)
            .await
            .unwrap();
            let backend = tx
                .query_one("SELECT pg_backend_pid()", &[])
                .await
                .unwrap()
                .get(0);
            // Spawns the ROLLBACK on this runtime, which returns before running it...
            drop(tx);
            backend
        });
        // ... and stops here, dropping it unrun.
        drop(runtime);
        backend
    });
    let backend = tokio::task::spawn_blocking(move || thread.join().unwrap())
        .await
        .unwrap();
    assert_eq!(
        backend, pid,
        "the transaction ran on this runtime's connection"
    );
    assert_eq!(
        pool.idle_context().await.unwrap(),
        ["", "", ""],
        "the next checkout is outside any transaction"
    );
    assert_ne!(backend_of_a_read(&pool).await, pid, "a new connection");
    let tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
    let rows = tx
        .query_once("SELECT count(*) FROM palisade.customers", &[])
        .await
        .unwrap();
    assert_eq!(
        rows[0].get::<_, i64>(0),
        0,
        "the insert was never committed"
    );
}

/// A one-statement read that fails leaves its transaction aborted (PostgreSQL skipped the COMMIT
/// pipelined behind the failure): the drop rolls it back before the connection goes back to the
/// pool, and the next transaction gets the same connection clean.
#[tokio::test]
async fn a_failed_read_is_rolled_back_and_its_connection_reused_clean() {
    use palisade_db::DbError;
    use palisade_db::tenant_tx::{Credential, Refusal};
    let db = TestDb::new().await;
    let pool = db.app_pool(1);
    let su = db.superuser_client().await;
    let pid = backend_of_a_read(&pool).await;
    // The last statement the pool's only backend ran, and its state, once whatever was still
    // sent on the connection after the read is done (the checkout waits for it).
    let last = async || {
        let next = TenantTx::begin(&pool, &ctx(OrgId::new())).await.unwrap();
        let row = su
            .query_one(
                "SELECT query, state FROM pg_stat_activity WHERE pid = $1",
                &[&pid],
            )
            .await
            .unwrap();
        drop(next);
        (row.get::<_, String>(0), row.get::<_, String>(1))
    };

    // A failed query.
    let tx = TenantTx::begin(&pool, &ctx(OrgId::new())).await.unwrap();
    assert!(tx.query_once("SELECT 1 / 0", &[]).await.is_err());
    assert_eq!(last().await, ("ROLLBACK".into(), "idle".into()));
    assert_eq!(backend_of_a_read(&pool).await, pid, "the same connection");
    assert_eq!(pool.idle_context().await.unwrap(), ["", "", ""]);

    // A refused credential (an API key no organization has).
    let credential = Credential::ApiKey { hash: [7; 32] };
    let tx = TenantTx::begin_checked(&pool, credential, Role::Member)
        .await
        .unwrap();
    match tx.query_once("SELECT 1", &[]).await {
        Err(DbError::Refused(Refusal::KeyUnknown)) => {}
        other => panic!("expected the key refused, got {other:?}"),
    }
    assert_eq!(last().await, ("ROLLBACK".into(), "idle".into()));
    assert_eq!(backend_of_a_read(&pool).await, pid, "the same connection");
    assert_eq!(pool.idle_context().await.unwrap(), ["", "", ""]);

    // A read that succeeds ends with its own COMMIT: nothing is sent after it.
    let tx = TenantTx::begin(&pool, &ctx(OrgId::new())).await.unwrap();
    tx.query_once("SELECT 1", &[]).await.unwrap();
    assert_eq!(last().await, ("COMMIT".into(), "idle".into()));
}

/// Removes from the server the prepared statement of `tx`'s connection whose text is `statement`
/// (`BEGIN`, `COMMIT`), which the driver still believes prepared: its next use fails at its Bind
/// (26000).
async fn deallocate_on_the_server(tx: &mut TenantTx, statement: &str) {
    let rows = tx
        .query(
            "SELECT name FROM pg_prepared_statements WHERE statement = $1",
            &[&statement],
        )
        .await
        .unwrap();
    let [row] = <[_; 1]>::try_from(rows).unwrap();
    let name: String = row.get(0);
    assert!(
        name.bytes().all(|b| b.is_ascii_alphanumeric()),
        "a driver's statement name: {name}"
    );
    tx.execute(&format!("DEALLOCATE {name}"), &[])
        .await
        .unwrap();
}

/// A BEGIN that fails (here PostgreSQL no longer has the connection's prepared BEGIN, as after a
/// `DEALLOCATE` on it) fails the pipeline's statements after it too, and PostgreSQL reports no
/// transaction at the Sync: the transaction is not open, so a next statement on it opens one again
/// (and fails again here) instead of running outside a transaction, without its context.
#[tokio::test]
async fn a_failed_begin_leaves_no_transaction_and_a_next_statement_does_not_run_without_one() {
    let db = TestDb::new().await;
    let pool = db.app_pool(1);
    let org = OrgId::new();
    backend_of_a_read(&pool).await; // BEGIN prepared on the connection.
    // Removes the only connection's prepared BEGIN from the server; the driver still has it.
    let mut tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
    deallocate_on_the_server(&mut tx, "BEGIN").await;
    tx.commit().await.unwrap();

    let read = "SELECT current_setting('app.current_org', true)";
    let mut tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
    for attempt in ["first", "second"] {
        match tx.query(read, &[]).await {
            Err(palisade_db::DbError::Server { code, .. }) => {
                assert_eq!(code, "26000", "{attempt} statement: BEGIN is not prepared")
            }
            Ok(rows) => panic!(
                "the {attempt} statement ran without BEGIN, its context read {:?}",
                rows[0].get::<_, Option<String>>(0)
            ),
            Err(other) => panic!("{attempt} statement: expected BEGIN's error, got {other:?}"),
        }
    }
    drop(tx);
    // The connection goes back to the pool with no context, and is the same one: a new connection
    // would prepare BEGIN itself, and this read would succeed.
    assert_eq!(pool.idle_context().await.unwrap(), ["", "", ""]);
    let tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
    match tx.query_once(read, &[]).await {
        Err(palisade_db::DbError::Server { code, .. }) => assert_eq!(code, "26000"),
        other => panic!("expected the same connection, without its BEGIN, got {other:?}"),
    }
}

/// A COMMIT that PostgreSQL refuses before it runs (here at its Bind: the connection's prepared
/// COMMIT is gone, as a cancel taking effect first would refuse it too) leaves the transaction
/// block aborted, not ended: the drop must roll it back. Were the error taken for the end of the
/// transaction, the connection would go back to the pool inside an aborted block, and every next
/// statement on it would fail with 25P02 until something rolled it back.
#[tokio::test]
async fn a_commit_refused_before_it_runs_is_rolled_back_before_the_connection_is_reused() {
    let db = TestDb::new().await;
    let pool = db.app_pool(1);
    let org = OrgId::new();
    backend_of_a_read(&pool).await; // COMMIT prepared on the connection.
    let mut tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
    deallocate_on_the_server(&mut tx, "COMMIT").await;
    match tx.commit().await {
        Err(palisade_db::DbError::Server { code, .. }) => assert_eq!(code, "26000"),
        other => panic!("expected COMMIT's Bind to fail with 26000, got {other:?}"),
    }
    // The only connection comes back out of any transaction: a statement on it runs.
    assert_eq!(pool.idle_context().await.unwrap(), ["", "", ""]);
}

/// A request dropped while its statement is still running on the server (a client gone, a
/// handler's future dropped mid-await): the statement's UPDATE waits on a row another session
/// holds, and the transaction is dropped before PostgreSQL answers. The connection must not go
/// back to the pool inside that transaction, under that organization's context: its ROLLBACK
/// runs after the statement, before the next checkout, and the write is undone.
#[tokio::test]
async fn a_transaction_dropped_while_its_statement_waits_on_the_server_is_rolled_back() {
    let db = TestDb::new().await;
    let pool = db.app_pool(1);
    let orgs = seed(&pool, 1, 1).await;
    let (org, ids) = &orgs[0];
    let id = ids[0];
    let su = db.superuser_client().await;
    su.batch_execute("BEGIN").await.unwrap();
    su.execute(
        "SELECT 1 FROM palisade.customers WHERE id = $1 FOR UPDATE",
        &[&id],
    )
    .await
    .unwrap();

    let mut tx = TenantTx::begin(&pool, &ctx(*org)).await.unwrap();
    {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
        let update = tx.execute(
            "UPDATE palisade.customers SET name = 'dropped' WHERE id = $1",
            &params,
        );
        tokio::select! {
            answer = update => panic!("the UPDATE ended while the row was locked: {answer:?}"),
            () = db.until_one_session_waits_on_a_lock() => {}
        }
        // The statement's future is dropped here, unanswered.
    }
    drop(tx);
    su.batch_execute("COMMIT").await.unwrap();

    // The one connection, once free, carries no context and no open transaction ...
    assert_eq!(pool.idle_context().await.unwrap(), ["", "", ""]);
    // ... and the UPDATE, which ran once the lock was released, was rolled back.
    let tx = TenantTx::begin(&pool, &ctx(*org)).await.unwrap();
    let rows = tx
        .query_once("SELECT name FROM palisade.customers WHERE id = $1", &[&id])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "c0-0");
}

#[tokio::test]
async fn a_row_decodes_by_column_name_whatever_order_a_statement_selects_them_in() {
    use palisade_db::crud::Table;
    use palisade_db::customers::Customer;
    use palisade_domain::EmailAddress;

    let db = TestDb::new().await;
    let pool = db.app_pool(1);
    let org = OrgId::new();
    let mut tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
    tx.execute(
        "INSERT INTO palisade.organizations (id, name) VALUES ($1, 'decoding')",
        &[&org.as_uuid()],
    )
    .await
    .unwrap();
    let stored = (NewCustomer {
        name: CustomerName::parse("Ada").unwrap(),
        email: Some(EmailAddress::parse("ada@example.com").unwrap()),
        phone: None,
    })
    .insert(&mut tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // The table's own order, as every statement of `Table` selects it; then the same columns
    // reversed, and with name and email (both text) swapped, where decoding by position would
    // put the email in the name and still succeed.
    let orders = [
        Customer::COLUMNS.to_owned(),
        "updated_at, created_at, phone, email, name, id".to_owned(),
        "id, email, name, phone, created_at, updated_at".to_owned(),
    ];
    for columns in orders {
        // A column list is SQL, not a value: it cannot be a bind parameter. It comes from the
        // constants above, never from input; the id is bound.
        let tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
        let rows = tx
            .query_once(
                &format!("SELECT {columns} FROM palisade.customers WHERE id = $1"),
                &[&stored.id],
            )
            .await
            .unwrap();
        let read = Customer::from_row(&rows[0]).unwrap();
        assert_eq!(read, stored, "selected as {columns}");
        assert_eq!(read.name, "Ada");
        assert_eq!(read.email.as_deref(), Some("ada@example.com"));
    }
    // A statement that lacks a column fails to decode; it does not take another in its place.
    let tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
    let rows = tx
        .query_once(
            "SELECT id, email, phone, created_at, updated_at FROM palisade.customers WHERE id = $1",
            &[&stored.id],
        )
        .await
        .unwrap();
    assert!(Customer::from_row(&rows[0]).is_err());
}

/// The backend a read through `pool` ran on.
async fn backend_of_a_read(pool: &palisade_db::AppPool) -> i32 {
    let tx = TenantTx::begin(pool, &ctx(OrgId::new())).await.unwrap();
    let rows = tx.query_once("SELECT pg_backend_pid()", &[]).await.unwrap();
    rows[0].get(0)
}

/// Runs `work` on a thread of its own with a single-threaded runtime, as an actix-web worker
/// runs (the connections it opens are driven there), after it claimed a shard of `pool`. The
/// thread and its runtime live until `done` is dropped or sent to, so its connections stay open.
fn worker_thread<T: Send + 'static>(
    pool: palisade_db::AppPool,
    work: impl AsyncFnOnce(&palisade_db::AppPool) -> T + Send + 'static,
) -> (
    std::sync::mpsc::Receiver<(usize, T)>,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let (result, results) = std::sync::mpsc::channel();
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let shard = pool.claim_shard();
            result.send((shard, work(&pool).await)).unwrap();
            // Keeps this runtime, and with it the connections it drives, until told to stop.
            tokio::task::spawn_blocking(move || {
                let _ = wait.recv();
            })
            .await
            .unwrap();
        });
    });
    (results, done, thread)
}

/// The backends of 10 reads through `pool`, 2 at a time.
async fn two_at_a_time(pool: &palisade_db::AppPool) -> std::collections::BTreeSet<i32> {
    let mut backends = std::collections::BTreeSet::new();
    for _ in 0..5 {
        let (x, y) = tokio::join!(backend_of_a_read(pool), backend_of_a_read(pool));
        backends.extend([x, y]);
    }
    backends
}

#[tokio::test]
async fn each_worker_of_a_sharded_pool_reads_on_connections_of_its_own_shard() {
    let db = TestDb::new().await;
    // 6 connections for 2 workers: 1 for the other threads (an eighth, at least one), then
    // 3 and 2.
    let pool = db.app_pool_sharded(6, 2);
    assert_eq!(pool.shard_count(), 3);
    let sizes: Vec<usize> = pool.shard_status().iter().map(|s| s.max_size).collect();
    assert_eq!(sizes, [3, 2, 1]);
    assert_eq!(pool.status().max_size, 6);

    // Each worker reads 10 times, 2 at a time: more reads than its shard has connections, never
    // more at once than the smaller one has (an exhausted shard would borrow another's).
    let (first, first_done, first_thread) = worker_thread(pool.clone(), two_at_a_time);
    let (shard_a, a) = first.recv().unwrap();
    let (second, second_done, second_thread) = worker_thread(pool.clone(), two_at_a_time);
    let (shard_b, b) = second.recv().unwrap();
    assert_eq!(
        (shard_a, shard_b),
        (0, 1),
        "each worker claims the least claimed shard"
    );
    // A thread keeps its claim, and gives it back when it ends.
    let claims = {
        let pool = pool.clone();
        std::thread::spawn(move || [pool.claim_shard(), pool.claim_shard()])
            .join()
            .unwrap()
    };
    assert_eq!(claims, [0, 0]);
    let pool_again = pool.clone();
    let next = std::thread::spawn(move || pool_again.claim_shard())
        .join()
        .unwrap();
    assert_eq!(next, 0, "the claim of the thread that ended was given back");
    // This thread claimed none: it reads on the last shard.
    let mut other = std::collections::BTreeSet::new();
    for _ in 0..5 {
        other.insert(backend_of_a_read(&pool).await);
    }
    assert!(
        a.len() <= 2 && b.len() <= 2 && other.len() == 1,
        "{a:?} {b:?} {other:?}"
    );
    assert!(a.is_disjoint(&b) && a.is_disjoint(&other) && b.is_disjoint(&other));
    // Every connection the pool opened came back, each to its own shard.
    let idle: Vec<usize> = pool.shard_status().iter().map(|s| s.idle).collect();
    assert_eq!(idle, [a.len(), b.len(), 1]);
    for (done, thread) in [(first_done, first_thread), (second_done, second_thread)] {
        drop(done);
        thread.join().unwrap();
    }
}

#[tokio::test]
async fn a_worker_whose_shard_is_exhausted_borrows_another_shards_idle_connection() {
    let db = TestDb::new().await;
    // One connection for each of 2 workers and one for the other threads.
    let pool = db.app_pool_sharded(3, 2);
    assert_eq!(pool.shard_status().len(), 3);
    // The first worker holds its shard's only connection in an open transaction...
    let (first, first_done, first_thread) = worker_thread(pool.clone(), async |pool| {
        let mut held = TenantTx::begin(pool, &ctx(OrgId::new())).await.unwrap();
        let mine: i32 = held
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0);
        (held, mine)
    });
    let (shard_a, (held, held_backend)) = first.recv().unwrap();
    // ...the second opened one in its own shard and is done with it...
    let (second, second_done, second_thread) =
        worker_thread(pool.clone(), async |pool| backend_of_a_read(pool).await);
    let (shard_b, idle_backend) = second.recv().unwrap();
    assert_ne!(shard_a, shard_b);
    // ...so the first worker's next read, its own shard exhausted, runs at once on the second's
    // idle connection instead of waiting for its own (10 s, then an error).
    // (The first worker's thread is parked keeping its runtime; a thread that claims the same
    // shard stands for it: the least claimed shard, the first of equals, shard 0 again.)
    let (again, again_done, again_thread) =
        worker_thread(pool.clone(), async |pool| backend_of_a_read(pool).await);
    let (shard_again, borrowed) = again.recv().unwrap();
    assert_eq!(shard_again, shard_a);
    assert_eq!(borrowed, idle_backend);
    assert_ne!(borrowed, held_backend);
    drop(held);
    for (done, thread) in [
        (first_done, first_thread),
        (second_done, second_thread),
        (again_done, again_thread),
    ] {
        drop(done);
        thread.join().unwrap();
    }
}

#[tokio::test]
async fn a_worker_waiting_on_its_exhausted_shard_takes_a_connection_another_shard_frees() {
    let db = TestDb::new().await;
    // One connection for each of 2 workers and one for the other threads.
    let pool = db.app_pool_sharded(3, 2);
    // The first worker holds its shard's only connection...
    let (first, first_done, first_thread) = worker_thread(pool.clone(), async |pool| {
        TenantTx::begin(pool, &ctx(OrgId::new())).await.unwrap()
    });
    let (shard_a, held) = first.recv().unwrap();
    // ...the second holds its own in an open transaction until told to let go...
    let (backend, backends) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (second, second_done, second_thread) = worker_thread(pool.clone(), async move |pool| {
        let mut tx = TenantTx::begin(pool, &ctx(OrgId::new())).await.unwrap();
        let pid: i32 = tx
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0);
        backend.send(pid).unwrap();
        tokio::task::spawn_blocking(move || released.recv())
            .await
            .unwrap()
            .unwrap();
        tx.commit().await.unwrap();
    });
    let second_backend = backends.recv().unwrap();
    // ...so a read on the first worker's shard finds no connection idle anywhere (and no room
    // in its shard) and waits. When the second worker's connection comes back to its shard,
    // the waiting read takes it, where waiting on its own shard alone would end in an error
    // (10 s, the pool's wait).
    let (waiter, waiter_done, waiter_thread) =
        worker_thread(pool.clone(), async |pool| backend_of_a_read(pool).await);
    // Not a timed assertion: the read gets the same connection if it was not yet waiting.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    release.send(()).unwrap();
    let (shard_b, ()) = second.recv().unwrap();
    let (shard_waiter, read_on) = waiter.recv().unwrap();
    assert_ne!(shard_a, shard_b);
    assert_eq!(shard_waiter, shard_a);
    assert_eq!(read_on, second_backend);
    drop(held);
    for (done, thread) in [
        (first_done, first_thread),
        (second_done, second_thread),
        (waiter_done, waiter_thread),
    ] {
        drop(done);
        thread.join().unwrap();
    }
}

/// A transaction on `pool` that holds its connection (a statement has run in it).
async fn holding(pool: &palisade_db::AppPool) -> TenantTx {
    let mut tx = TenantTx::begin(pool, &ctx(OrgId::new())).await.unwrap();
    tx.query_one("SELECT 1", &[]).await.unwrap();
    tx
}

/// Waits until `shard` of `pool` has `n` checkouts waiting (10 s at most, then fails).
async fn until_waiting(pool: &palisade_db::AppPool, shard: usize, n: usize) {
    for _ in 0..2_000 {
        if pool.shard_status()[shard].waiting >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("{n} checkouts never waited on shard {shard}");
}

#[tokio::test]
async fn checkouts_waiting_on_an_exhausted_shard_get_its_connections_in_the_order_they_came() {
    let db = TestDb::new().await;
    // One connection for each of 2 workers and one for the other threads, all held: nothing
    // idle anywhere to borrow.
    let pool = db.app_pool_sharded(3, 2);
    let (first, first_done, first_thread) = worker_thread(pool.clone(), holding);
    let (shard_a, held_a) = first.recv().unwrap();
    let (second, second_done, second_thread) = worker_thread(pool.clone(), holding);
    let (_, held_b) = second.recv().unwrap();
    let held_other = holding(&pool).await;
    // Three reads on the first worker's shard (a thread that claims it stands for that worker),
    // each asking once those before it wait.
    let (waiters, waiters_done, waiters_thread) = worker_thread(pool.clone(), async move |pool| {
        let order = std::cell::RefCell::new(Vec::new());
        let read = async |n: usize| {
            until_waiting(pool, shard_a, n).await;
            backend_of_a_read(pool).await;
            order.borrow_mut().push(n);
        };
        tokio::join!(read(0), read(1), read(2));
        order.into_inner()
    });
    until_waiting(&pool, shard_a, 3).await;
    // Not a timed assertion: the order does not depend on this pause. It is several times the
    // slice after which a waiting checkout looks at the other shards again: a checkout that left
    // its shard's queue to look would come back behind those that stayed, or in whichever order
    // `join!` polls them.
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    held_a.commit().await.unwrap();
    let (shard_waiters, order) = waiters.recv().unwrap();
    assert_eq!(shard_waiters, shard_a);
    assert_eq!(order, [0, 1, 2]);
    held_b.commit().await.unwrap();
    held_other.commit().await.unwrap();
    for (done, thread) in [
        (first_done, first_thread),
        (second_done, second_thread),
        (waiters_done, waiters_thread),
    ] {
        drop(done);
        thread.join().unwrap();
    }
}

/// [`holding`], and the backend its connection is.
async fn holding_on_a_backend(pool: &palisade_db::AppPool) -> (TenantTx, i32) {
    let mut tx = TenantTx::begin(pool, &ctx(OrgId::new())).await.unwrap();
    let backend = tx
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    (tx, backend)
}

/// [`backend_of_a_read`] on a thread of its own that claims no shard (like the server's main
/// thread, it reads on the shard every other thread shares). Awaited, not joined: the
/// connection it reads on may be one this thread's runtime drives.
async fn backend_of_a_read_on_another_thread(pool: &palisade_db::AppPool) -> i32 {
    let pool = pool.clone();
    let thread = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(backend_of_a_read(&pool))
    });
    tokio::task::spawn_blocking(move || thread.join().unwrap())
        .await
        .unwrap()
}

/// A graceful stop ends each HTTP worker, and with its runtime the connections its thread
/// drives, as soon as the worker has no client connection left, so an idle worker must not end
/// under another's request on a connection borrowed from it. Readied for the stop, the pool waits
/// for the connections in use on a thread other than the one driving them, and from then on lends
/// none and uses none another thread opened.
#[tokio::test]
async fn a_pool_readied_for_a_stop_waits_for_borrowed_connections_and_lends_no_more() {
    let db = TestDb::new().await;
    // One connection for each of 2 workers and one for the other threads.
    let pool = db.app_pool_sharded(3, 2);
    // This thread (no worker) opens the other threads' shard's connection, which another such
    // thread then uses: one in use across threads while it reads.
    let mine = backend_of_a_read(&pool).await;
    assert_eq!(backend_of_a_read_on_another_thread(&pool).await, mine);
    // The first worker holds its shard's only connection...
    let (first, first_done, first_thread) = worker_thread(pool.clone(), holding_on_a_backend);
    let (shard_a, (held_a, backend_a)) = first.recv().unwrap();
    // (Shard 0 borrows from shard 1 before the last one, whose connection this thread drives: a
    // borrow of that one would wait for this thread, blocked in `recv` below.)
    assert_eq!(shard_a, 0);
    // ...the second opened one in its own shard and is done with it...
    let (second, second_done, second_thread) =
        worker_thread(pool.clone(), async |pool| backend_of_a_read(pool).await);
    let (shard_b, backend_b) = second.recv().unwrap();
    assert_eq!(pool.in_use_across_threads(), 0);
    // ...so the first worker's next transaction borrows it. (A thread that claims the same shard
    // stands for the first worker, whose thread is parked keeping its runtime.)
    let (again, again_done, again_thread) = worker_thread(pool.clone(), holding_on_a_backend);
    let (shard_again, (borrowed, backend_borrowed)) = again.recv().unwrap();
    assert_eq!(shard_again, shard_a);
    assert_eq!(backend_borrowed, backend_b);
    assert_eq!(pool.in_use_across_threads(), 1);
    // Readying for the stop waits while it is in use (not ready at once here)...
    assert!(!pool.settle_for_stop(std::time::Duration::ZERO).await);
    // ...and is ready once it is back.
    borrowed.commit().await.unwrap();
    assert_eq!(pool.in_use_across_threads(), 0);
    // (The thread that stood for the first worker ends: the next one claims its shard.)
    drop(again_done);
    again_thread.join().unwrap();
    assert!(
        pool.settle_for_stop(std::time::Duration::from_secs(60))
            .await
    );
    // From now on, the first worker's shard exhausted, a read there waits for that shard's
    // connection rather than borrow the second worker's idle one; and when it comes back, the
    // reading thread, which does not drive it (it stands for the first worker), closes it and
    // opens its own.
    let (waiter, waiter_done, waiter_thread) =
        worker_thread(pool.clone(), async |pool| backend_of_a_read(pool).await);
    until_waiting(&pool, shard_a, 1).await;
    assert_eq!(pool.shard_status()[shard_b].idle, 1);
    held_a.commit().await.unwrap();
    let (shard_waiter, read_on) = waiter.recv().unwrap();
    assert_eq!(shard_waiter, shard_a);
    assert!(read_on != backend_a && read_on != backend_b, "{read_on}");
    assert_eq!(pool.shard_status()[shard_a].size, 1);
    assert_eq!(pool.shard_status()[shard_b].idle, 1);
    // Nor does another thread use this thread's idle connection: it opens its own.
    assert_ne!(backend_of_a_read_on_another_thread(&pool).await, mine);
    assert_eq!(pool.in_use_across_threads(), 0);
    for (done, thread) in [
        (first_done, first_thread),
        (second_done, second_thread),
        (waiter_done, waiter_thread),
    ] {
        drop(done);
        thread.join().unwrap();
    }
}

/// The backends of the app's pool on `db` (its `application_name`), as the superuser sees them.
async fn pooled_backends(su: &tokio_postgres::Client, db: &str) -> Vec<i32> {
    su.query(
        "SELECT pid FROM pg_stat_activity
          WHERE datname = $1 AND usename = $2 AND application_name = 'palisade' ORDER BY pid",
        &[&db, &palisade_test_support::TEST_APP_LOGIN_ROLE],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// Ends every backend of the app's pool on `db`, as a restart or a DBA's `pg_terminate_backend`
/// would, and waits until the server has let them all go.
async fn terminate_pooled_backends(su: &tokio_postgres::Client, db: &str) {
    for pid in pooled_backends(su, db).await {
        su.execute("SELECT pg_terminate_backend($1)", &[&pid])
            .await
            .unwrap();
    }
    for _ in 0..500 {
        if pooled_backends(su, db).await.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the terminated backends did not go away");
}

/// A connection that died in the pool (a restart, terminated backends) is found dead by the
/// request that checks it out. A read is sent again once, on a new connection, and answers; a
/// write is not sent again: it fails with an error the API answers 503 (`Retry-After`).
#[tokio::test]
async fn a_read_on_a_connection_that_died_in_the_pool_is_read_again_once_on_a_new_one() {
    let db = TestDb::new().await;
    let pool = db.app_pool(2);
    let orgs = seed(&pool, 1, 3).await;
    let (org, expected) = orgs[0].clone();
    let su = db.superuser_client().await;
    // Two connections in the pool.
    let (first, second) = (
        TenantTx::begin(&pool, &ctx(org)).await.unwrap(),
        TenantTx::begin(&pool, &ctx(org)).await.unwrap(),
    );
    drop((first, second));
    let before = pooled_backends(&su, &db.name).await;
    assert_eq!(before.len(), 2, "{before:?}");

    // Checked out (TenantTx sends nothing yet), then its backend and the idle one end.
    let tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
    terminate_pooled_backends(&su, &db.name).await;
    let page = crud::list_page(
        tx,
        &CustomerFilter::default(),
        &PageRequest {
            after: None,
            limit: 50,
            created: Default::default(),
        },
    )
    .await
    .expect("the read is sent again on a new connection");
    let mut ids: Vec<Uuid> = page.items.iter().map(|c| c.id).collect();
    ids.sort();
    assert_eq!(ids, expected);
    // Exactly one new backend: the idle connection that died beside it was closed, not
    // handed to the next request.
    let after = pooled_backends(&su, &db.name).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(!before.contains(&after[0]));
    assert_eq!(pool.idle_context().await.unwrap(), ["", "", ""]);

    // A write is not sent twice: the dead connection's error is the answer.
    let mut tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
    terminate_pooled_backends(&su, &db.name).await;
    let err = (NewCustomer {
        name: CustomerName::parse("written once").unwrap(),
        email: None,
        phone: None,
    })
    .insert(&mut tx)
    .await
    .expect_err("the connection is dead");
    assert!(err.is_dead_connection() && err.is_transient(), "{err}");
    drop(tx);
    let count: i64 = su
        .query_one(
            "SELECT count(*) FROM palisade.customers WHERE organization_id = $1",
            &[&org.as_uuid()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 3);
}

/// A customer written in the transaction's own organization (whatever context it has).
const INSERT_CUSTOMER: &str = "INSERT INTO palisade.customers (organization_id, id, name) \
     VALUES ((SELECT palisade_private.current_org_id()), gen_random_uuid(), 'x')";

/// Asserts that `tx` took its COMMIT with its last statement: a statement after it fails rather
/// than run outside the transaction.
async fn ended_with_its_last_statement(tx: &mut TenantTx) {
    let after = tx.query("SELECT 1", &[]).await.unwrap_err();
    assert!(
        after.to_string().contains("ended with its last statement"),
        "{after}"
    );
}

/// How many customers `org` has, read in a context of its own.
async fn customer_count(pool: &palisade_db::AppPool, org: OrgId) -> i64 {
    let tx = TenantTx::begin(pool, &ctx(org)).await.unwrap();
    tx.query_once("SELECT count(*) FROM palisade.customers", &[])
        .await
        .unwrap()[0]
        .get::<_, i64>(0)
}

/// A request's credential checked by the transaction's first statement
/// (`TenantTx::begin_checked`): the statements pipelined after a refused check never run, the
/// context is the user's *current* role, and the least role is enforced before anything else.
#[actix_web::test]
async fn a_checked_credential_sets_the_current_context_or_stops_the_whole_pipeline() {
    use palisade_db::DbError;
    use palisade_db::tenant_tx::{Credential, Refusal};
    let (app, owner) = palisade_test_support::spawn_app_with_owner("Checked").await;
    let member = app.add_user(&owner, Role::Member).await;
    let org = OrgId::from_uuid(owner.org_id.parse().unwrap());
    let session = |a: &palisade_test_support::Account, version: i32| Credential::Session {
        org_id: org,
        user_id: UserId::from_uuid(a.user_id.parse().unwrap()),
        version,
    };
    const CONTEXT: &str = "SELECT current_setting('app.current_org'), \
                                  current_setting('app.current_user'), \
                                  current_setting('app.current_role')";
    let customers = || customer_count(&app.pool, org);

    // Accepted: the context is set by the check, with the role the user has now, and reported.
    let tx = TenantTx::begin_checked(&app.pool, session(&member, 0), Role::Member)
        .await
        .unwrap();
    assert!(tx.context().is_none(), "unknown before the first answer");
    let (rows, resolved) = tx.query_once_in_context(CONTEXT, &[]).await.unwrap();
    let got: (String, String, String) = (rows[0].get(0), rows[0].get(1), rows[0].get(2));
    assert_eq!(
        got,
        (
            owner.org_id.clone(),
            member.user_id.clone(),
            "member".into()
        )
    );
    assert_eq!(resolved.unwrap().role, Role::Member);

    // A revoked key and an expired one.
    let key_hash = |k: &palisade_test_support::ApiKey| {
        palisade_api::credentials::api_key_hash(&k.key).expect("a key's shape")
    };
    let revoked = app.api_key(&owner, "revoked", Role::Member).await;
    let r = app
        .delete(&owner, &format!("/v1/api-keys/{}", revoked.id))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let expired = app.api_key(&owner, "expired", Role::Member).await;
    expire_key(&app, &expired.id).await;

    // Refused, and the write pipelined behind the check did not happen.
    let before = customers().await;
    let stranger = palisade_test_support::Account {
        user_id: Uuid::new_v4().to_string(),
        ..member.clone()
    };
    for (credential, least, refusal) in [
        (session(&stranger, 0), Role::Member, Refusal::UserGone),
        (
            session(&member, 1),
            Role::Member,
            Refusal::CredentialsChanged,
        ),
        (session(&member, 0), Role::Admin, Refusal::Role(Role::Admin)),
        (session(&member, 0), Role::Owner, Refusal::Role(Role::Owner)),
        (
            Credential::ApiKey { hash: [7; 32] },
            Role::Member,
            Refusal::KeyUnknown,
        ),
        (
            Credential::ApiKey {
                hash: key_hash(&revoked),
            },
            Role::Member,
            Refusal::KeyRevoked,
        ),
        (
            Credential::ApiKey {
                hash: key_hash(&expired),
            },
            Role::Member,
            Refusal::KeyExpired,
        ),
    ] {
        let mut tx = TenantTx::begin_checked(&app.pool, credential, least)
            .await
            .unwrap();
        match tx.execute(INSERT_CUSTOMER, &[]).await {
            Err(DbError::Refused(r)) => assert_eq!(r, refusal),
            other => panic!("{refusal:?}: expected a refusal, got {other:?}"),
        }
        drop(tx);
        let tx = TenantTx::begin_checked(&app.pool, credential, least)
            .await
            .unwrap();
        match tx.query_once(INSERT_CUSTOMER, &[]).await {
            Err(DbError::Refused(r)) => assert_eq!(r, refusal),
            other => panic!("{refusal:?}: expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(customers().await, before, "no refused request wrote a row");

    // Not merely "nothing committed": the statement pipelined behind a refused check is never
    // run. PostgreSQL skips it (no answer at all), and the transaction is left aborted.
    let client = app.db.app_client().await;
    let begin = client.prepare("BEGIN").await.unwrap();
    let enter = client
        .prepare(palisade_db::tenant_tx::ENTER_SESSION)
        .await
        .unwrap();
    let next = client.prepare("SELECT 1").await.unwrap();
    let (stranger_org, stranger_user, version, least) =
        (org.as_uuid(), Uuid::new_v4(), 0i32, "member");
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&stranger_org, &stranger_user, &version, &least];
    let ([opened, checked, after], status) = client
        .pipeline([(&begin, &[]), (&enter, &params), (&next, &[])])
        .await
        .unwrap();
    opened.unwrap().unwrap();
    let code = checked
        .unwrap()
        .unwrap_err()
        .code()
        .map(|c| c.code().to_owned());
    assert_eq!(code.as_deref(), Some("PA401"));
    assert!(
        after.is_none(),
        "the statement after the refusal ran: {after:?}"
    );
    assert_eq!(status, b'E', "in an aborted transaction");
    client.batch_execute("ROLLBACK").await.unwrap();

    // A role change takes effect at once, with the same claims.
    let mut tx = TenantTx::begin_checked(&app.pool, session(&owner, 0), Role::Owner)
        .await
        .unwrap();
    tx.execute(
        "UPDATE palisade.users SET role = 'admin' WHERE id = $1",
        &[&member.user_id.parse::<Uuid>().unwrap()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let tx = TenantTx::begin_checked(&app.pool, session(&member, 0), Role::Admin)
        .await
        .unwrap();
    let rows = tx.query_once(CONTEXT, &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, String>(2), "admin");
    let tx = TenantTx::begin_checked(&app.pool, session(&member, 0), Role::Member)
        .await
        .unwrap();
    tx.query_once(INSERT_CUSTOMER, &[]).await.unwrap();
    assert_eq!(customers().await, before + 1);

    // The connections went back to the pool without a context.
    assert_eq!(app.pool.idle_context().await.unwrap(), ["", "", ""]);
}

/// Ends API key `id` an hour ago (made two hours ago), as the superuser.
async fn expire_key(app: &palisade_test_support::TestApp, id: &str) {
    app.db
        .superuser_client()
        .await
        .execute(
            "UPDATE palisade.api_keys SET created_at = now() - interval '2 hours', \
                    expires_at = now() - interval '1 hour' WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap();
}

/// A transaction that may last minutes, opened with an API key (the export:
/// `TenantTx::begin_checked_long`), holds no lock on the key's row: revoking the key, and
/// removing its creator (which revokes it), go through while it is open, where an ordinary
/// opening check's stamp would make them wait for it (and answer 503 after their statement
/// timeout). The key is stamped all the same, before the transaction, and the long check
/// refuses what the ordinary one does.
#[actix_web::test]
async fn a_long_transaction_with_an_api_key_lets_the_key_be_revoked_meanwhile() {
    use palisade_db::tenant_tx::{Credential, Refusal};
    let (app, owner) = palisade_test_support::spawn_app_with_owner("Long").await;
    let admin = app.add_user(&owner, Role::Admin).await;
    let su = app.db.superuser_client().await;
    let stamped = |id: String| {
        let su = &su;
        async move {
            su.query_one(
                "SELECT last_used_at IS NOT NULL FROM palisade.api_keys WHERE id = $1::text::uuid",
                &[&id],
            )
            .await
            .unwrap()
            .get::<_, bool>(0)
        }
    };
    for (creator, end) in [(&owner, "revoke"), (&admin, "remove")] {
        let key = app.api_key(creator, end, Role::Admin).await;
        let hash = palisade_api::credentials::api_key_hash(&key.key).expect("a key's shape");
        let credential = Credential::ApiKey { hash };
        assert!(!stamped(key.id.clone()).await);
        let mut tx =
            TenantTx::begin_checked_long(&app.pool, credential, Role::Admin, tracing::Span::none())
                .await
                .unwrap();
        assert!(stamped(key.id.clone()).await, "{end}: stamped beforehand");
        // As if that stamp were a minute old: an opening check that stamps would stamp (and
        // lock) now.
        su.execute(
            "UPDATE palisade.api_keys SET last_used_at = NULL WHERE id = $1::text::uuid",
            &[&key.id],
        )
        .await
        .unwrap();
        tx.query("SELECT count(*) FROM palisade.customers", &[])
            .await
            .unwrap();
        assert!(
            !stamped(key.id.clone()).await,
            "{end}: not stamped by the check"
        );
        let path = match end {
            "revoke" => format!("/v1/api-keys/{}", key.id),
            _ => format!("/v1/members/{}", admin.user_id),
        };
        let r = app.delete(&owner, &path).await;
        assert_eq!(
            r.status, 204,
            "{end} while the transaction is open: {}",
            r.text
        );
        tx.commit().await.unwrap();
        let tx =
            TenantTx::begin_checked_long(&app.pool, credential, Role::Admin, tracing::Span::none())
                .await
                .unwrap();
        let refused = refusal(tx.query_once("SELECT 1", &[]).await);
        let expected = match end {
            "revoke" => Refusal::KeyRevoked,
            // Its creator's row is gone: no key is found for the hash.
            _ => Refusal::KeyUnknown,
        };
        assert_eq!(refused, expected, "{end}");
    }
    // The role is checked as by the ordinary check.
    let member_key = app.api_key(&owner, "member", Role::Member).await;
    let hash = palisade_api::credentials::api_key_hash(&member_key.key).expect("a key's shape");
    let tx = TenantTx::begin_checked_long(
        &app.pool,
        Credential::ApiKey { hash },
        Role::Admin,
        tracing::Span::none(),
    )
    .await
    .unwrap();
    assert_eq!(
        refusal(tx.query_once("SELECT 1", &[]).await),
        Refusal::Role(Role::Admin)
    );
}

/// The refusal a checked transaction's statement answered (it must have been refused).
fn refusal<T: std::fmt::Debug>(
    answer: Result<T, palisade_db::DbError>,
) -> palisade_db::tenant_tx::Refusal {
    match answer {
        Err(palisade_db::DbError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A context resolved by an earlier statement of the request (palisade_api's `Tenant`, whose
/// routes check the role in Rust before their transaction) is checked again by the
/// transaction's opening statement (`TenantTx::begin_rechecked`): what changed in between (a
/// request that committed meanwhile) refuses the transaction before its statements run, instead
/// of letting it act once more with the old role or for a credential that has ended.
#[actix_web::test]
async fn a_rechecked_context_refuses_what_changed_since_it_was_resolved() {
    use palisade_db::tenant_tx::{Credential, Refusal};
    let (app, owner) = palisade_test_support::spawn_app_with_owner("Rechecked").await;
    let admin = app.add_user(&owner, Role::Admin).await;
    let member = app.add_user(&owner, Role::Member).await;
    let org = OrgId::from_uuid(owner.org_id.parse().unwrap());
    let uid = |a: &palisade_test_support::Account| UserId::from_uuid(a.user_id.parse().unwrap());
    let session = |a: &palisade_test_support::Account| Credential::Session {
        org_id: org,
        user_id: uid(a),
        version: 0,
    };
    let as_role = |a: &palisade_test_support::Account, role: Role| TenantContext {
        org_id: org,
        user_id: uid(a),
        role,
    };
    let set_role = |a: &palisade_test_support::Account, role: &'static str| {
        let id: Uuid = a.user_id.parse().unwrap();
        let pool = app.pool.clone();
        async move {
            let mut tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
            let n = tx
                .execute(
                    "UPDATE palisade.users SET role = $2 WHERE id = $1",
                    &[&id, &role],
                )
                .await
                .unwrap();
            assert_eq!(n, 1);
            tx.commit().await.unwrap();
        }
    };
    const ROLE: &str = "SELECT current_setting('app.current_role')";
    let customers = || customer_count(&app.pool, org);
    let before = customers().await;

    // Unchanged: accepted, with the context known from the start (an insert that names its
    // creator needs it before the first answer).
    let admin_ctx = as_role(&admin, Role::Admin);
    let tx = TenantTx::begin_rechecked(&app.pool, session(&admin), &admin_ctx)
        .await
        .unwrap();
    assert_eq!(tx.context().copied(), Some(admin_ctx));
    let rows = tx.query_once(ROLE, &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "admin");

    // Demoted after the context was resolved as an admin: refused, and the write pipelined
    // behind the check never ran; by a one-statement read's path too.
    set_role(&admin, "member").await;
    let mut tx = TenantTx::begin_rechecked(&app.pool, session(&admin), &admin_ctx)
        .await
        .unwrap();
    assert_eq!(
        refusal(tx.execute(INSERT_CUSTOMER, &[]).await),
        Refusal::RoleLowered(Role::Admin)
    );
    drop(tx);
    let tx = TenantTx::begin_rechecked(&app.pool, session(&admin), &admin_ctx)
        .await
        .unwrap();
    assert_eq!(
        refusal(tx.query_once(INSERT_CUSTOMER, &[]).await),
        Refusal::RoleLowered(Role::Admin)
    );
    assert_eq!(customers().await, before, "the demoted admin wrote nothing");
    // A handler that relied on no role (`Tenant::begin_at(.., Role::Member)`) goes ahead, as
    // the member they are now.
    let tx = TenantTx::begin_rechecked(&app.pool, session(&admin), &as_role(&admin, Role::Member))
        .await
        .unwrap();
    let rows = tx.query_once(ROLE, &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "member");

    // An owner demoted to admin: refused as an owner's context, accepted as an admin's.
    set_role(&admin, "owner").await;
    let owner_ctx = as_role(&admin, Role::Owner);
    let tx = TenantTx::begin_rechecked(&app.pool, session(&admin), &owner_ctx)
        .await
        .unwrap();
    tx.query_once(ROLE, &[]).await.unwrap();
    set_role(&admin, "admin").await;
    let tx = TenantTx::begin_rechecked(&app.pool, session(&admin), &owner_ctx)
        .await
        .unwrap();
    assert_eq!(
        refusal(tx.query_once(ROLE, &[]).await),
        Refusal::RoleLowered(Role::Owner)
    );

    // Promoted since: accepted, and the transaction acts with the role the user has now, which
    // its context reports once the first statement has answered.
    let member_ctx = as_role(&member, Role::Member);
    set_role(&member, "admin").await;
    let mut tx = TenantTx::begin_rechecked(&app.pool, session(&member), &member_ctx)
        .await
        .unwrap();
    assert_eq!(tx.context().copied(), Some(member_ctx));
    let rows = tx.query(ROLE, &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "admin");
    assert_eq!(tx.context().map(|c| c.role), Some(Role::Admin));
    drop(tx);
    set_role(&member, "member").await;

    // A token ended since (a password change, a reset, signing out everywhere).
    app.db
        .superuser_client()
        .await
        .execute(
            "UPDATE palisade.users SET credential_version = credential_version + 1 \
              WHERE id = $1::text::uuid",
            &[&member.user_id],
        )
        .await
        .unwrap();
    let tx = TenantTx::begin_rechecked(&app.pool, session(&member), &member_ctx)
        .await
        .unwrap();
    assert_eq!(
        refusal(tx.query_once(INSERT_CUSTOMER, &[]).await),
        Refusal::CredentialsChanged
    );
    let session = |a: &palisade_test_support::Account, version: i32| Credential::Session {
        org_id: org,
        user_id: uid(a),
        version,
    };

    // A key revoked since it was resolved, one expired since, one whose creator was demoted
    // since (a key's role is capped by its creator's), and a user removed since.
    let key = app.api_key(&owner, "rechecked", Role::Member).await;
    let hash = palisade_api::credentials::api_key_hash(&key.key).expect("a key's shape");
    let key_ctx = as_role(&owner, Role::Member);
    let tx = TenantTx::begin_rechecked(&app.pool, Credential::ApiKey { hash }, &key_ctx)
        .await
        .unwrap();
    tx.query_once(ROLE, &[]).await.unwrap();
    let r = app
        .delete(&owner, &format!("/v1/api-keys/{}", key.id))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let tx = TenantTx::begin_rechecked(&app.pool, Credential::ApiKey { hash }, &key_ctx)
        .await
        .unwrap();
    assert_eq!(
        refusal(tx.query_once(INSERT_CUSTOMER, &[]).await),
        Refusal::KeyRevoked
    );
    let key = app.api_key(&admin, "expiring", Role::Admin).await;
    let hash = palisade_api::credentials::api_key_hash(&key.key).expect("a key's shape");
    let key_ctx = as_role(&admin, Role::Admin);
    let tx = TenantTx::begin_rechecked(&app.pool, Credential::ApiKey { hash }, &key_ctx)
        .await
        .unwrap();
    tx.query_once(ROLE, &[]).await.unwrap();
    set_role(&admin, "member").await;
    let tx = TenantTx::begin_rechecked(&app.pool, Credential::ApiKey { hash }, &key_ctx)
        .await
        .unwrap();
    assert_eq!(
        refusal(tx.query_once(INSERT_CUSTOMER, &[]).await),
        Refusal::RoleLowered(Role::Admin)
    );
    expire_key(&app, &key.id).await;
    // (Its creator is a member by now: enter_api_key refuses an expired key before it looks at
    // the role.)
    let tx = TenantTx::begin_rechecked(&app.pool, Credential::ApiKey { hash }, &key_ctx)
        .await
        .unwrap();
    assert_eq!(
        refusal(tx.query_once(INSERT_CUSTOMER, &[]).await),
        Refusal::KeyExpired
    );
    let r = app
        .delete(&owner, &format!("/v1/members/{}", member.user_id))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let tx = TenantTx::begin_rechecked(&app.pool, session(&member, 1), &member_ctx)
        .await
        .unwrap();
    assert_eq!(
        refusal(tx.query_once(INSERT_CUSTOMER, &[]).await),
        Refusal::UserGone
    );
    assert_eq!(
        customers().await,
        before,
        "no refused transaction wrote a row"
    );
    assert_eq!(app.pool.idle_context().await.unwrap(), ["", "", ""]);
}

/// Whom a checked credential acts for is on the request's span once. A session's ids are the
/// token's, which the HTTP layer records when it verifies the token (palisade_api's `Caller`);
/// the check records an API key's, and not a session's again: tracing's formatter prints a field
/// recorded twice twice, and every request line of a signed-in user carried `org.id` and
/// `user.id` twice. A rechecked context's (`Tenant`'s) ids were recorded when it was resolved:
/// the check records neither kind again.
#[actix_web::test]
async fn a_checked_credential_puts_whom_it_acts_for_on_the_span_once() {
    use palisade_db::tenant_tx::Credential;
    use tracing::Instrument as _;
    let (app, owner) = palisade_test_support::spawn_app_with_owner("Spans").await;
    let body = serde_json::json!({"name": "logs", "role": "admin"});
    let r = app.post(&owner, "/v1/api-keys", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let hash = palisade_api::credentials::api_key_hash(r.json["key"].as_str().unwrap()).unwrap();
    let org = OrgId::from_uuid(owner.org_id.parse().unwrap());
    let user = UserId::from_uuid(owner.user_id.parse().unwrap());

    // The thread's log lines go to a file of the test's own, read back after each request.
    let path = std::env::temp_dir().join(format!("palisade-span-{}.log", Uuid::new_v4()));
    let file = std::sync::Arc::new(std::fs::File::create(&path).unwrap());
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(file)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let session = Credential::Session {
        org_id: org,
        user_id: user,
        version: 0,
    };
    let key = Credential::ApiKey { hash };
    let resolved = TenantContext {
        org_id: org,
        user_id: user,
        role: Role::Admin,
    };
    // (credential, recorded by the HTTP layer before the transaction, rechecked, in a handler's
    // span): a rechecked context (`Tenant`'s) was recorded when the extractor resolved it, an
    // API key's too. A handler may run in a span of its own (`#[tracing::instrument]`), which
    // declares no ids: `Caller` hands the request's span over, and the key's ids go there.
    for (credential, recorded, rechecked, in_handler) in [
        (session, true, false, false),
        (key, false, false, false),
        (session, true, true, false),
        (key, true, true, false),
        (key, false, false, true),
    ] {
        let span = tracing::info_span!(
            "request",
            org.id = tracing::field::Empty,
            user.id = tracing::field::Empty
        );
        if recorded {
            // What `Caller` records once the token's signature is verified, and `Tenant` once
            // it has resolved the credential.
            span.record("org.id", tracing::field::display(org));
            span.record("user.id", tracing::field::display(user));
        }
        let request = span.clone();
        async {
            let tx = if rechecked {
                TenantTx::begin_rechecked(&app.pool, credential, &resolved).await
            } else if in_handler {
                async {
                    TenantTx::begin_checked_for(&app.pool, credential, Role::Member, request).await
                }
                .instrument(tracing::info_span!("handler"))
                .await
            } else {
                TenantTx::begin_checked(&app.pool, credential, Role::Member).await
            };
            let tx = tx.unwrap();
            if in_handler {
                let handler = tracing::info_span!("handler");
                tx.query_once("SELECT 1", &[])
                    .instrument(handler)
                    .await
                    .unwrap();
            } else {
                tx.query_once("SELECT 1", &[]).await.unwrap();
            }
            tracing::info!("answered");
        }
        .instrument(span)
        .await;
        let logged = std::fs::read_to_string(&path).unwrap();
        let line = logged
            .lines()
            .rfind(|l| l.contains("answered"))
            .unwrap_or_else(|| panic!("no line: {logged}"));
        assert_eq!(line.matches("org.id=").count(), 1, "{line}");
        assert_eq!(line.matches("user.id=").count(), 1, "{line}");
        assert!(line.contains(&format!("org.id={org}")), "{line}");
        assert!(line.contains(&format!("user.id={user}")), "{line}");
    }
    std::fs::remove_file(&path).unwrap();
}

/// The driver's pipeline (`Client::pipeline`, vendor/tokio-postgres/PALISADE.md), which every
/// `TenantTx` sends its first statements through: each statement's rows and count, in order;
/// one Sync, so PostgreSQL's transaction status after it; and after a failed statement, the
/// rest skipped, not run.
#[tokio::test]
async fn the_drivers_pipeline_answers_each_statement_in_order_and_skips_after_a_failure() {
    let db = TestDb::new().await;
    let client = db.app_client().await;
    let begin = client.prepare("BEGIN").await.unwrap();
    let commit = client.prepare("COMMIT").await.unwrap();
    let set = client
        .prepare("SELECT set_config('app.current_role', $1, true)")
        .await
        .unwrap();
    let read = client
        .prepare("SELECT current_setting('app.current_role') FROM generate_series(1, $1)")
        .await
        .unwrap();
    let fail = client.prepare("SELECT 1 / $1").await.unwrap();
    let (role, three, zero) = ("admin", 3i32, 0i32);

    // Every statement answered, in order; the COMMIT ended the transaction.
    let ([b, s, r, c], status) = client
        .pipeline([
            (&begin, &[]),
            (&set, &[&role]),
            (&read, &[&three]),
            (&commit, &[]),
        ])
        .await
        .unwrap();
    assert!(b.unwrap().unwrap().rows.is_empty());
    assert_eq!(s.unwrap().unwrap().rows.len(), 1);
    let r = r.unwrap().unwrap();
    let roles: Vec<String> = r.rows.iter().map(|row| row.get(0)).collect();
    assert_eq!(
        roles, ["admin"; 3],
        "the setting made before it, in the same transaction"
    );
    assert_eq!(r.rows_affected, 3);
    c.unwrap().unwrap();
    assert_eq!(status, b'I');

    // Without COMMIT the transaction stays open, and the setting with it.
    let ([b, s], status) = client
        .pipeline([(&begin, &[]), (&set, &[&role])])
        .await
        .unwrap();
    b.unwrap().unwrap();
    s.unwrap().unwrap();
    assert_eq!(status, b'T');
    let ([r, c], status) = client
        .pipeline([(&read, &[&three]), (&commit, &[])])
        .await
        .unwrap();
    assert_eq!(r.unwrap().unwrap().rows.len(), 3);
    c.unwrap().unwrap();
    assert_eq!(status, b'I');

    // A failure: its error, then nothing (the read and the COMMIT skipped), and the
    // transaction aborted until a ROLLBACK.
    let ([b, f, r, c], status) = client
        .pipeline([
            (&begin, &[]),
            (&fail, &[&zero]),
            (&read, &[&three]),
            (&commit, &[]),
        ])
        .await
        .unwrap();
    b.unwrap().unwrap();
    let code = f.unwrap().unwrap_err().code().cloned();
    assert_eq!(
        code,
        Some(tokio_postgres::error::SqlState::DIVISION_BY_ZERO)
    );
    assert!(
        r.is_none() && c.is_none(),
        "statements after the failure ran"
    );
    assert_eq!(status, b'E');
    client.batch_execute("ROLLBACK").await.unwrap();

    // A failure after some rows: its error; outside a transaction block the statements are one
    // implicit transaction, which the Sync rolls back (the session-level setting made before
    // the failure with it: on purpose, on this bare client of the test's own, never a pooled
    // connection; the assertion below is that it did not survive).
    let probe = client
        .prepare("SELECT set_config('app.probe', 'set', false)")
        .await
        .unwrap();
    let partial = client
        .prepare("SELECT 1 / (3 - g) FROM generate_series(1, $1) g")
        .await
        .unwrap();
    let five = 5i32;
    let ([s, p, r], status) = client
        .pipeline([(&probe, &[]), (&partial, &[&five]), (&read, &[&three])])
        .await
        .unwrap();
    s.unwrap().unwrap();
    let code = p.unwrap().unwrap_err().code().cloned();
    assert_eq!(
        code,
        Some(tokio_postgres::error::SqlState::DIVISION_BY_ZERO)
    );
    assert!(r.is_none());
    assert_eq!(status, b'I');
    let row = client
        .query_one("SELECT current_setting('app.probe', true)", &[])
        .await
        .unwrap();
    assert_ne!(
        row.get::<_, Option<String>>(0).as_deref(),
        Some("set"),
        "not rolled back"
    );

    // A notice in the middle (a second BEGIN warns) changes no answer.
    let ([b1, b2, r, c], status) = client
        .pipeline([
            (&begin, &[]),
            (&begin, &[]),
            (&read, &[&three]),
            (&commit, &[]),
        ])
        .await
        .unwrap();
    b1.unwrap().unwrap();
    b2.unwrap().unwrap();
    c.unwrap().unwrap();
    assert_eq!(r.unwrap().unwrap().rows.len(), 3);
    assert_eq!(status, b'I');

    // Parameters that do not fit fail the call before anything is sent; the connection goes on.
    assert!(client.pipeline([(&read, &[])]).await.is_err());
    let ([r], status) = client.pipeline([(&read, &[&three])]).await.unwrap();
    assert_eq!(r.unwrap().unwrap().rows.len(), 3);
    assert_eq!(status, b'I');

    // The setting ended with its transaction; the connection is clean.
    let row = client
        .query_one("SELECT current_setting('app.current_role', true)", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some(""));
}

/// The Rust files under `dir`, recursively.
fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A handler's transaction for the request's own credential is opened by `Tenant::begin` (which
/// checks the credential again in its opening statement, as the test above shows) or by
/// `Caller::begin`, never by `TenantTx::begin` on the context the extractor resolved: that
/// context may be stale by the time the transaction opens. `TenantTx::begin` (a context the
/// caller vouches for) is left to the two paths that act for someone who sent no credential of
/// their own, each found by a lookup of its own: accepting an invitation (as its inviter, whose
/// role the acceptance checks again: tests/api/accounts.rs) and requesting a password reset (for
/// the account of an email, whose role it does not use).
#[test]
fn the_api_opens_no_transaction_on_a_context_it_does_not_check_again() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/palisade_api/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (at, _) in text.match_indices("TenantTx::begin(") {
            let call: String = text[at..].chars().take_while(|&c| c != ')').collect();
            found.push(format!(
                "{}: {call})",
                file.strip_prefix(&src).unwrap().display()
            ));
        }
    }
    found.sort();
    assert_eq!(
        found,
        [
            "routes/accounts.rs: TenantTx::begin(&state.pool, &found.inviter)",
            "routes/accounts.rs: TenantTx::begin(&state.pool, &record.ctx)",
        ],
        "a handler opens its transaction with Tenant::begin or Caller::begin"
    );
    assert!(files.len() > 30, "the sources were found: {files:?}");
}

/// What a route any credential may use sends, as `who`, with the lookups before a transaction
/// closed: each answers as it would otherwise.
async fn write_without_lookups(
    app: &palisade_test_support::TestApp,
    who: &(impl palisade_test_support::Credential + ?Sized),
    conversation: &str,
    campaign: &str,
    idempotency_key: &str,
) {
    use serde_json::json;
    let send = |method: &'static str, path: String, body: Option<serde_json::Value>| async move {
        app.request_as(who, method, &path, body.as_ref(), &[]).await
    };
    let body = json!({"name": "Ada"});
    let headers = [("Idempotency-Key", idempotency_key)];
    let r = app
        .request_as(who, "POST", "/v1/customers", Some(&body), &headers)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let again = app
        .request_as(who, "POST", "/v1/customers", Some(&body), &headers)
        .await;
    assert_eq!((again.status, &again.json), (201, &r.json));
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
    let customer = format!("/v1/customers/{}", r.json["id"].as_str().unwrap());
    for (method, path, body, status) in [
        ("PATCH", customer.clone(), Some(json!({"name": "Eve"})), 200),
        ("DELETE", customer, None, 204),
        (
            "POST",
            "/v1/ivr/menus".into(),
            Some(json!({"name": idempotency_key, "tree": crate::engagement::menu_tree("Acme")})),
            201,
        ),
        (
            "POST",
            format!("/v1/email-campaigns/{campaign}/messages"),
            Some(json!({"to_email": format!("{}@example.com", idempotency_key.replace(' ', "-"))})),
            201,
        ),
        (
            "POST",
            format!("/v1/chat/conversations/{conversation}/messages"),
            Some(json!({"sender": "agent", "body": "Hi"})),
            201,
        ),
        (
            "POST",
            "/v1/analytics/events".into(),
            Some(json!({"type": "page.viewed"})),
            201,
        ),
        (
            "PATCH",
            "/v1/organization".into(),
            Some(json!({"name": "Acme"})),
            200,
        ),
        ("GET", "/v1/organization/export".into(), None, 200),
        ("GET", "/v1/invitations".into(), None, 200),
    ] {
        let r = send(method, path.clone(), body).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.text);
    }
}

/// A route any credential may use checks it in its transaction's opening statement, in the round
/// trip of its first statement (`Caller`, or a family's writer where no user's session is
/// needed), and looks nothing up before (the export stamps an API key's last use before its
/// long transaction, a write whose failure is logged and ignored: `TenantTx::begin_checked_long`):
/// with the functions of those lookups closed to the app
/// role (`palisade_private.member_session` and `api_key_lookup`, which `UserSession` calls),
/// creates, changes, deletes, admin-only writes, an idempotent POST and its replay, a create
/// under its parent (a campaign's message), a chat message, analytics events, the organization's rename and export and the invitations answer as
/// before, by a token and by an API key (and a number claimed and released, the chatbot's
/// settings, a batch of events and an invitation by the key), and a member's admin-only write is
/// still refused 403 by the transaction's check, and `PATCH /v1/me` (`UserCaller`: a user's token
/// only, checked by its transaction) answers by a token, while a route that looks a user's session
/// up (`UserSession`) is refused.
#[actix_web::test]
async fn a_route_any_credential_may_use_looks_nothing_up_before_its_transaction() {
    use serde_json::json;
    let (app, owner) = palisade_test_support::spawn_app_with_owner("Acme").await;
    let member = app.member_of(&owner, Role::Member).await;
    let key = app.api_key(&owner, "ci", Role::Admin).await;
    let conversation = app
        .create(&owner, "/v1/chat/conversations", json!({}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let number = palisade_test_support::unique_number();
    app.stock_numbers(&[(&number, &["sms"])]).await;
    let invitation = app.invite(&owner, "pending@example.com", "member").await;
    assert_eq!(invitation.status, 201, "{}", invitation.text);
    let invitation = format!(
        "/v1/invitations/{}",
        invitation.json["id"].as_str().unwrap()
    );
    let campaign = app
        .create(
            &owner,
            "/v1/email-campaigns",
            json!({"name": "E", "subject": "S", "body": "B"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.db
        .superuser_client()
        .await
        .batch_execute(
            "REVOKE EXECUTE ON FUNCTION palisade_private.member_session(uuid, uuid), \
                                        palisade_private.api_key_lookup(bytea) \
               FROM palisade_app",
        )
        .await
        .unwrap();
    let r = app
        .post(
            &owner,
            "/v1/api-keys",
            &json!({"name": "next", "role": "member"}),
        )
        .await;
    // Its lookup is refused, answered as the database's other refusals are.
    r.assert_error_at(403, "forbidden", "a user's session is looked up first");
    assert_eq!(
        app.get(&owner, "/v1/api-keys").await.json["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    for (who, label) in [
        (&owner as &dyn palisade_test_support::Credential, "by token"),
        (&key, "by key"),
    ] {
        write_without_lookups(&app, who, &conversation, &campaign, label).await;
    }
    // A user's own name: a route an API key may not use, whose token its transaction checks.
    let r = app
        .patch(&owner, "/v1/me", &json!({"name": "Grace Hopper"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["user"]["name"], "Grace Hopper");
    let r = app
        .request_as(
            &key,
            "POST",
            "/v1/phone-numbers",
            Some(&json!({"number": number})),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let number = format!("/v1/phone-numbers/{}", r.json["id"].as_str().unwrap());
    for (method, path, body, status) in [
        ("DELETE", number, None, 204),
        ("GET", invitation, None, 200),
        (
            "PATCH",
            "/v1/chatbot/settings".into(),
            Some(json!({"enabled": true})),
            200,
        ),
        (
            "POST",
            "/v1/analytics/events/batch".into(),
            Some(json!([{"type": "a.b"}, {"type": "c.d"}])),
            201,
        ),
    ] {
        let r = app
            .request_as(&key, method, &path, body.as_ref(), &[])
            .await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.text);
    }
    // Refused by the transaction's check for its role (not by a lookup the app role may not
    // run, which would answer 403 too, with the database's message).
    for (method, path, body) in [
        (
            "POST",
            "/v1/ivr/menus",
            Some(json!({"name": "Main", "tree": crate::engagement::menu_tree("Acme")})),
        ),
        ("PATCH", "/v1/organization", Some(json!({"name": "Mine"}))),
        ("GET", "/v1/organization/export", None),
    ] {
        let r = app
            .request_as(&member, method, path, body.as_ref(), &[])
            .await;
        r.assert_error_at(403, "forbidden", format_args!("{method} {path}"));
        assert_eq!(
            r.json["message"], "this requires the owner or admin role",
            "{method} {path}"
        );
    }
}

/// `TenantTx::commit_with_next_statement`: the statement that opens the transaction goes with
/// BEGIN, the context and COMMIT in one pipeline, so its effect is committed when its answer
/// comes back, before `commit` (which then sends nothing), and nothing more runs in that
/// transaction; a statement that fails there leaves nothing and a clean connection. On a
/// transaction already open, the next statement goes with COMMIT alone: the transaction's earlier
/// writes and its own are committed with its answer, and a failing one undoes them all.
#[tokio::test]
async fn a_transaction_committed_with_its_last_statement_takes_no_other() {
    let db = TestDb::new().await;
    // One connection, so that each check of an idle connection's context is of the one the
    // transaction used (it waits for the rollback sent on drop); counted through another pool.
    let pool = db.app_pool(1);
    let counts = db.app_pool(1);
    let org = seed(&pool, 1, 0).await[0].0;

    let mut tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
    tx.commit_with_next_statement();
    assert_eq!(tx.execute(INSERT_CUSTOMER, &[]).await.unwrap(), 1);
    // Committed already, seen from another connection before `commit`.
    assert_eq!(customer_count(&counts, org).await, 1);
    let second = tx.execute(INSERT_CUSTOMER, &[]).await.unwrap_err();
    assert!(
        second.to_string().contains("ended with its last statement"),
        "{second}"
    );
    tx.commit().await.unwrap();
    assert_eq!(customer_count(&counts, org).await, 1);

    // Declared once the transaction is open (here by a write of its own): the next statement and
    // COMMIT go together, and both writes are committed with its answer.
    let mut tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
    tx.execute(INSERT_CUSTOMER, &[]).await.unwrap();
    assert_eq!(customer_count(&counts, org).await, 1);
    tx.commit_with_next_statement();
    // A statement with rows (`query`, as an UPDATE ... RETURNING is sent).
    let returning = format!("{INSERT_CUSTOMER} RETURNING id");
    assert_eq!(tx.query(&returning, &[]).await.unwrap().len(), 1);
    assert_eq!(customer_count(&counts, org).await, 3);
    ended_with_its_last_statement(&mut tx).await;
    tx.commit().await.unwrap();
    assert_eq!(customer_count(&counts, org).await, 3);

    // A last statement that fails, opening the transaction or after a write of its own: the
    // COMMIT after it is skipped, the drop rolls back (that earlier write too), and the
    // connection goes back clean.
    for after_a_write in [false, true] {
        let mut tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
        if after_a_write {
            tx.execute(INSERT_CUSTOMER, &[]).await.unwrap();
        }
        tx.commit_with_next_statement();
        let failed = tx
            .execute(
                "INSERT INTO palisade.customers (organization_id, id, name) \
                 VALUES ((SELECT palisade_private.current_org_id()), gen_random_uuid(), NULL)",
                &[],
            )
            .await;
        match failed {
            Err(palisade_db::DbError::Server { code, .. }) => assert_eq!(code, "23502"),
            other => panic!("not the INSERT's not-null violation: {other:?}"),
        }
        drop(tx);
        assert_eq!(pool.idle_context().await.unwrap(), ["", "", ""]);
        assert_eq!(customer_count(&counts, org).await, 3);
    }

    // A one-statement read on a transaction already open (`query_once`, as a list under a parent
    // reads after the parent's check) goes with the COMMIT: it sees, and commits, the write before
    // it; failing, it rolls that write back.
    let mut tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
    tx.execute(INSERT_CUSTOMER, &[]).await.unwrap();
    let rows = tx
        .query_once("SELECT count(*) FROM palisade.customers", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 4);
    assert_eq!(customer_count(&counts, org).await, 4);
    let mut tx = TenantTx::begin(&pool, &ctx(org)).await.unwrap();
    tx.execute(INSERT_CUSTOMER, &[]).await.unwrap();
    match tx
        .query_once(
            "SELECT 1 / (count(*) - count(*)) FROM palisade.customers",
            &[],
        )
        .await
    {
        Err(palisade_db::DbError::Server { code, .. }) => assert_eq!(code, "22012"),
        other => panic!("not the read's division by zero: {other:?}"),
    }
    assert_eq!(pool.idle_context().await.unwrap(), ["", "", ""]);
    assert_eq!(customer_count(&counts, org).await, 4);
}

/// An `Idempotency-Key`'s path through the transaction, as palisade_api's `IdempotentTx` takes
/// it: the claim holds the COMMIT, so that the handler's write cannot take it; the stored
/// response takes it. A response with no claimed key left to store it in (a key that has its
/// response already, a key never claimed) fails its own statement
/// (`palisade_private.store_idempotent_response`): the COMMIT pipelined after it is skipped, and
/// the write and the claim roll back with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_stored_response_takes_the_commit_and_fails_it_without_its_key() {
    use palisade_db::idempotency::{self, Claim, StoredResponse};

    let db = TestDb::new().await;
    // As above: one connection, the transaction's; counted through another pool.
    let pool = db.app_pool(1);
    let counts = db.app_pool(1);
    let org = seed(&pool, 1, 0).await[0].0;
    let who = ctx(org);
    let request = b"POST\0/v1/customers\0";
    let body = [7u8; 32];
    let now = time::OffsetDateTime::now_utc();
    let response = |status: u16| StoredResponse {
        status,
        body: Some(format!(r#"{{"status":{status}}}"#)),
        location: Some("/v1/customers/1".to_owned()),
    };

    // A transaction that claimed `key`, new.
    let claimed = |key: &'static str| {
        let (pool, who) = (&pool, &who);
        async move {
            let mut tx = TenantTx::begin(pool, who).await.unwrap();
            let Claim::Fresh(held) = idempotency::claim(&mut tx, key, request, &body, now)
                .await
                .unwrap()
            else {
                panic!("{key}: a new key is not fresh")
            };
            (tx, held)
        }
    };

    // The key claimed, the handler's write held back, then the response stored with the COMMIT.
    let (mut tx, held) = claimed("k1").await;
    // What a handler calls before its write: held, so no effect.
    tx.commit_with_next_statement();
    tx.execute(INSERT_CUSTOMER, &[]).await.unwrap();
    assert_eq!(customer_count(&counts, org).await, 0, "the write waits");
    idempotency::complete(&mut tx, held, "k1", &response(201))
        .await
        .unwrap();
    // Committed with the stored response, before `commit`.
    assert_eq!(customer_count(&counts, org).await, 1);
    ended_with_its_last_statement(&mut tx).await;
    tx.commit().await.unwrap();

    for stored_under in ["k1", "k3"] {
        let (mut tx, held) = claimed("k2").await;
        tx.execute(INSERT_CUSTOMER, &[]).await.unwrap();
        match idempotency::complete(&mut tx, held, stored_under, &response(200)).await {
            Err(palisade_db::DbError::Server { code, .. }) => assert_eq!(code, "P0002"),
            other => panic!("{stored_under}: not the function's exception: {other:?}"),
        }
        drop(tx);
        assert_eq!(pool.idle_context().await.unwrap(), ["", "", ""]);
        assert_eq!(customer_count(&counts, org).await, 1, "{stored_under}");
        // k1 keeps its first response; the claim of k2 rolled back.
        let mut tx = TenantTx::begin(&pool, &who).await.unwrap();
        let replay = idempotency::claim(&mut tx, "k1", request, &body, now).await;
        assert_eq!(replay.unwrap(), Claim::Replay(response(201)));
        tx.commit().await.unwrap();
        let mut tx = TenantTx::begin(&pool, &who).await.unwrap();
        let again = idempotency::claim(&mut tx, "k2", request, &body, now).await;
        assert!(matches!(again.unwrap(), Claim::Fresh(_)), "{stored_under}");
    }
}
