//! How `palisade serve` stops: on Ctrl-C (SIGINT) as on SIGTERM, gracefully. It stops accepting
//! connections, lets the requests in flight finish, then stops its embedded PostgreSQL and exits
//! 0. (actix-server's own signal handling would force a stop on SIGINT, dropping them.) A second
//! signal stops it at once: the requests in flight are not carried out, and it exits 1.
//! Also what the next start on the same data says.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/embedded_server.rs"]
mod embedded_server;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use embedded_server::EmbeddedServer;

/// Bounds every wait of these tests, so that a server that never answers or never exits fails
/// them instead of hanging them. Not a timed assertion: nothing here is expected to come close.
const HANG: Duration = Duration::from_secs(120);

/// A scratch data directory for a server of its own.
fn data_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "palisade-shutdown-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A connection to `addr` whose reads give up after [`HANG`].
fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(HANG)).unwrap();
    stream
}

/// What the server sends until it closes the connection (what it sent so far if it reset it).
fn answer(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A request's head, closing its connection after the answer.
fn head(addr: &str, line: &str, token: Option<&str>, length: usize, expect: bool) -> String {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let expect = if expect {
        "Expect: 100-continue\r\n"
    } else {
        ""
    };
    format!(
        "{line} HTTP/1.1\r\nHost: {addr}\r\n{auth}{expect}Content-Type: application/json\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n"
    )
}

/// The answer to a public `POST` of `body` to `path` on `server`.
fn post(server: &EmbeddedServer, path: &str, body: &[u8]) -> String {
    let mut stream = connect(&server.addr);
    let request = head(
        &server.addr,
        &format!("POST {path}"),
        None,
        body.len(),
        false,
    );
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    answer(&mut stream)
}

/// Signs up on `server` and returns the owner's token.
fn token(server: &EmbeddedServer) -> String {
    let body = br#"{"organization_name":"Acme","name":"Ada","email":"ada@acme.example","password":"correct horse battery"}"#;
    let answer = post(server, "/v1/auth/signup", body);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let json: serde_json::Value =
        serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1).unwrap();
    json["token"].as_str().unwrap().to_owned()
}

const CUSTOMER: &[u8] = br#"{"name":"Grace","email":"grace@example.com"}"#;

/// A create of [`CUSTOMER`] whose head is sent, with `Expect: 100-continue`: once the server
/// answers `100 Continue` it is handling the request, waiting for its body.
fn create_in_flight(server: &EmbeddedServer, token: &str) -> TcpStream {
    let mut stream = connect(&server.addr);
    let create = head(
        &server.addr,
        "POST /v1/customers",
        Some(token),
        CUSTOMER.len(),
        true,
    );
    stream.write_all(create.as_bytes()).unwrap();
    let expected = b"HTTP/1.1 100 Continue\r\n\r\n";
    let mut got = vec![0; expected.len()];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(got, expected, "{}", String::from_utf8_lossy(&got));
    stream
}

/// Waits until the server, stopping, refuses new connections.
fn until_refused(server: &EmbeddedServer) {
    let start = Instant::now();
    while TcpStream::connect(&server.addr).is_ok() {
        assert!(
            start.elapsed() < HANG,
            "the server still accepts connections"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the server to exit; then for its last log lines, which may still be on their way
/// through the pipe, down to its last, "embedded PostgreSQL stopped".
fn exit_status(server: &mut EmbeddedServer) -> std::process::ExitStatus {
    let last = "embedded PostgreSQL stopped";
    let start = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > HANG {
            let _ = server.child.kill();
            panic!("the server did not exit\n{}", server.log());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    while !server.log().contains(last) && start.elapsed() < HANG {
        std::thread::sleep(Duration::from_millis(20));
    }
    status
}

/// Waits for the server to exit, and checks it exited 0.
fn exits_cleanly(server: &mut EmbeddedServer) {
    let status = exit_status(server);
    assert!(status.success(), "{status}\n{}", server.log());
}

/// Checks that `answer` is a 201 (with the server's log when it is not).
fn assert_created(answer: &str, server: &EmbeddedServer) {
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "{answer}\n{}",
        server.log()
    );
}

/// A server of its own after SIGINT, once it refuses new connections, while a create it was
/// handling when the signal came waits for its body: its data directory, the server, and that
/// create's connection.
fn stopping_with_a_create_in_flight() -> (PathBuf, EmbeddedServer, TcpStream) {
    let dir = data_dir();
    let server = EmbeddedServer::start(&dir);
    let token = token(&server);
    let in_flight = create_in_flight(&server, &token);
    server.signal("INT");
    until_refused(&server);
    (dir, server, in_flight)
}

#[test]
fn ctrl_c_lets_a_request_in_flight_finish_then_stops_postgresql() {
    let (dir, mut server, mut in_flight) = stopping_with_a_create_in_flight();
    // Stopping, it accepts no new connection, but the request in flight is answered once its
    // body is all there.
    in_flight.write_all(CUSTOMER).unwrap();
    assert_created(&answer(&mut in_flight), &server);

    exits_cleanly(&mut server);
    let log = server.log();
    assert!(log.contains("signal=\"SIGINT\""), "{log}");
    assert!(log.contains("in-flight requests finish"), "{log}");
    assert!(log.contains("embedded PostgreSQL stopped"), "{log}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_ctrl_c_stops_at_once_dropping_the_request_in_flight() {
    let (dir, mut server, mut in_flight) = stopping_with_a_create_in_flight();
    server.signal("INT");
    // The server exits without waiting for the body (a graceful stop would wait for it, for
    // 30 s, then exit 0)...
    let status = exit_status(&mut server);
    assert_eq!(status.code(), Some(1), "{}", server.log());
    // ...and the request in flight was cut off: no answer, or a 503 (seen once: its worker, not
    // yet stopped, answered after the database had stopped).
    let _ = in_flight.write_all(CUSTOMER);
    let answer = answer(&mut in_flight);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 503"),
        "{answer}"
    );
    let log = server.log();
    assert!(log.contains("second signal: stopping at once"), "{log}");
    assert!(log.contains("embedded PostgreSQL stopped"), "{log}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The embedded cluster's superuser on `server`'s data directory `dir`, with `run` on a runtime
/// of its own.
fn as_superuser<T>(
    dir: &std::path::Path,
    run: impl AsyncFnOnce(&tokio_postgres::Client) -> T,
) -> T {
    let port = std::fs::read_to_string(dir.join("pg-port")).unwrap();
    let secrets: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("secrets.json")).unwrap()).unwrap();
    let url = format!(
        "postgresql://postgres:{}@127.0.0.1:{}/palisade",
        secrets["superuser_password"].as_str().unwrap(),
        port.trim()
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            run(&client).await
        })
}

/// A table locked by the superuser (`EXCLUSIVE`: reads go on, writes wait), until released.
struct Lock {
    release: std::sync::mpsc::Sender<()>,
    holder: std::thread::JoinHandle<()>,
}

impl Lock {
    /// Locks `table` of the server on data directory `dir`.
    fn take(dir: &std::path::Path, table: &str) -> Self {
        let (locked, until_locked) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (dir, sql) = (
            dir.to_owned(),
            format!("BEGIN; LOCK TABLE {table} IN EXCLUSIVE MODE"),
        );
        let holder = std::thread::spawn(move || {
            as_superuser(&dir, async move |su| {
                su.batch_execute(&sql).await.unwrap();
                locked.send(()).unwrap();
                tokio::task::spawn_blocking(move || released.recv())
                    .await
                    .unwrap()
                    .unwrap();
                // (Fails when the server has stopped its PostgreSQL already: no lock left.)
                let _ = su.batch_execute("ROLLBACK").await;
            });
        });
        until_locked.recv().unwrap();
        Self { release, holder }
    }

    /// Waits until `n` of the app's backends wait for a lock.
    fn until_waited_on(&self, dir: &std::path::Path, n: i64) {
        as_superuser(dir, async |su| {
            let start = Instant::now();
            while waiting_on_a_lock(su).await < n {
                assert!(
                    start.elapsed() < HANG,
                    "{n} backends never waited on the lock"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }

    fn release(self) {
        self.release.send(()).unwrap();
        self.holder.join().unwrap();
    }
}

/// Waits until `server` has logged a line containing `text`.
fn until_logged(server: &EmbeddedServer, text: &str) {
    let start = Instant::now();
    while !server.log().contains(text) {
        assert!(
            start.elapsed() < HANG,
            "never logged {text:?}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How many of the app's backends wait for a lock.
async fn waiting_on_a_lock(su: &tokio_postgres::Client) -> i64 {
    su.query_one(
        "SELECT count(*) FROM pg_stat_activity \
          WHERE application_name = 'palisade' AND wait_event_type = 'Lock'",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// A graceful stop ends each worker as soon as it has no client connection left, and with its
/// runtime the database connections that thread drives, whoever is using them. A request on a
/// connection its worker borrowed from an idle worker's shard still finishes: the stop waits for
/// such connections before it stops the workers (`AppPool::settle_for_stop`); the workers then
/// use only their own.
#[test]
fn ctrl_c_lets_a_request_on_a_connection_borrowed_from_an_idle_worker_finish() {
    let dir = data_dir();
    // Two workers with one connection each, and one for the server's other threads.
    let mut server = EmbeddedServer::start_with(&dir, &[("PALISADE_DB_POOL_SIZE", "3")]);
    let token = token(&server);
    // actix-server hands connections to its workers in turn: the 1st, 3rd and 5th of these go to
    // one worker, the 2nd and 4th to the other.
    let mut streams: Vec<TcpStream> = (0..5).map(|_| connect(&server.addr)).collect();
    // The second worker reads (opening its shard's connection, idle after), and is left with no
    // client connection: idle, it would stop at once.
    let mut read = streams.remove(1);
    read.write_all(head(&server.addr, "GET /v1/customers", Some(&token), 0, false).as_bytes())
        .unwrap();
    let answer_read = answer(&mut read);
    assert!(answer_read.starts_with("HTTP/1.1 200"), "{answer_read}");
    drop(streams.remove(2));
    // Creates wait on a lock the superuser takes: the first worker's three hold its own
    // connection and the idle connections of the two other shards, the second worker's among
    // them (borrowed in an order that depends on which shard the first worker has).
    let lock = Lock::take(&dir, "palisade.customers");
    for (n, stream) in streams.iter_mut().enumerate() {
        let customer = format!(r#"{{"name":"Grace {n}","email":"grace{n}@example.com"}}"#);
        let create = head(
            &server.addr,
            "POST /v1/customers",
            Some(&token),
            customer.len(),
            false,
        );
        stream.write_all(create.as_bytes()).unwrap();
        stream.write_all(customer.as_bytes()).unwrap();
    }
    // All three: the pool's three connections, the idle worker's among them. (The shard of the
    // server's other threads has its connection from the startup checks; a create that finds it
    // in use meanwhile looks again every 20 ms.)
    lock.until_waited_on(&dir, 3);
    server.signal("INT");
    // The stop waits for the borrowed connections; the second worker keeps its runtime.
    until_logged(&server, "waiting for the database connections");
    lock.release();
    for stream in &mut streams {
        assert_created(&answer(stream), &server);
    }
    exits_cleanly(&mut server);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server of its own after SIGINT, its HTTP server stopped, waiting for the background work
/// of a password reset it answered 202 before the signal (the reset's link held on a lock the
/// superuser takes): its data directory, the server, and the lock.
fn stopping_with_a_reset_in_the_background() -> (PathBuf, EmbeddedServer, Lock) {
    let dir = data_dir();
    let server = EmbeddedServer::start(&dir);
    let _owner = token(&server);
    let lock = Lock::take(&dir, "palisade.password_resets");
    let body = br#"{"email":"ada@acme.example"}"#;
    let answer = post(&server, "/v1/auth/request-password-reset", body);
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    lock.until_waited_on(&dir, 1);
    server.signal("INT");
    // The HTTP server stops (nothing is in flight); the reset's work goes on.
    until_logged(
        &server,
        "waiting for the work requests left to run after their answers",
    );
    (dir, server, lock)
}

/// The password reset mails in the outbox of the server on data directory `dir` (the signup's
/// email verification mail is there too).
fn reset_mails(dir: &std::path::Path) -> Vec<String> {
    match std::fs::read_dir(dir.join("outbox")) {
        Ok(entries) => entries
            .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
            .filter(|mail| mail.contains("Reset your Palisade password"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("{e}"),
    }
}

/// A password reset's link and mail are made after its 202, in the background. A graceful stop
/// lets that work finish: it ran on the HTTP worker that answered, and died with it (the worker
/// stops as soon as its last client connection closes), though the answer said the link was on
/// its way.
#[test]
fn ctrl_c_lets_a_password_reset_answered_before_it_mail_its_link() {
    let (dir, mut server, lock) = stopping_with_a_reset_in_the_background();
    lock.release();
    exits_cleanly(&mut server);
    let mails = reset_mails(&dir);
    assert_eq!(mails.len(), 1, "{}", server.log());
    assert!(mails[0].contains("reset-password#"), "{}", mails[0]);
    let log = server.log();
    assert!(
        log.contains("the requests' background work is done"),
        "{log}"
    );
    assert!(!log.contains("did not finish in time"), "{log}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A second signal while the stop waits for background work stops at once, without it.
#[test]
fn a_second_ctrl_c_stops_at_once_without_the_background_work() {
    let (dir, mut server, lock) = stopping_with_a_reset_in_the_background();
    server.signal("INT");
    let status = exit_status(&mut server);
    assert_eq!(status.code(), Some(1), "{}", server.log());
    lock.release();
    let log = server.log();
    assert!(reset_mails(&dir).is_empty(), "{log}");
    assert!(log.contains("second signal: stopping at once"), "{log}");
    assert!(log.contains("background work was cut off"), "{log}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The next start on a data directory left by a version whose SECURITY DEFINER files differ
/// installs this version's, as every embedded start does, and says so: not a warning that
/// `palisade install-definers` is due (an operator's step on their own server, which embedded
/// mode has just done for them; the warning came first, in the log of every embedded upgrade).
#[test]
fn an_embedded_start_after_an_upgrade_installs_the_definers_without_asking_for_it() {
    let dir = data_dir();
    let mut server = EmbeddedServer::start(&dir);
    assert!(
        server
            .log()
            .contains("installed the SECURITY DEFINER functions"),
        "{}",
        server.log()
    );
    // As a cluster that an older version prepared.
    as_superuser(&dir, async |su| {
        su.batch_execute(palisade_test_support::DEFINERS_OF_AN_OLDER_VERSION)
            .await
            .unwrap();
    });
    server.signal("TERM");
    exits_cleanly(&mut server);
    drop(server);

    let server = EmbeddedServer::start(&dir);
    let log = server.log();
    assert!(
        log.contains("installed the SECURITY DEFINER functions"),
        "{log}"
    );
    assert!(!log.contains("install-definers"), "{log}");
    assert!(!log.contains("WARN"), "{log}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
