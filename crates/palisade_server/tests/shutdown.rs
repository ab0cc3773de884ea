//! How `palisade serve` stops: on Ctrl-C (SIGINT) as on SIGTERM, gracefully. It stops accepting
//! connections, lets the requests in flight finish, then stops its embedded PostgreSQL and exits
//! 0. (actix-server's own signal handling would force a stop on SIGINT, dropping them.)

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/embedded_server.rs"]
mod embedded_server;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use embedded_server::EmbeddedServer;

/// Sends one request on a connection of its own and returns the whole answer.
fn call(addr: &str, head: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// A request's head, closing its connection after the answer.
fn head(addr: &str, line: &str, token: Option<&str>, length: usize) -> String {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    format!(
        "{line} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n"
    )
}

#[test]
fn ctrl_c_lets_a_request_in_flight_finish_then_stops_postgresql() {
    let dir = std::env::temp_dir().join(format!(
        "palisade-shutdown-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = EmbeddedServer::start(&dir);
    let addr = server.addr.clone();

    let signup = br#"{"organization_name":"Acme","name":"Ada","email":"ada@acme.example","password":"correct horse battery"}"#;
    let answer = call(
        &addr,
        &head(&addr, "POST /v1/auth/signup", None, signup.len()),
        signup,
    );
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let json: serde_json::Value =
        serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1).unwrap();
    let token = json["token"].as_str().unwrap().to_owned();

    // A create whose body is half sent when Ctrl-C comes: the server has its head and is reading
    // its body.
    let body = br#"{"name":"Grace","email":"grace@example.com"}"#;
    let mut in_flight = TcpStream::connect(&addr).unwrap();
    in_flight
        .write_all(head(&addr, "POST /v1/customers", Some(&token), body.len()).as_bytes())
        .unwrap();
    in_flight.write_all(&body[..10]).unwrap();
    in_flight.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.signal("INT");

    // Stopping, it accepts no new connection (waited for, 10 s at most)...
    let mut refused = false;
    for _ in 0..500 {
        if TcpStream::connect(&addr).is_err() {
            refused = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(refused, "the server still accepts connections after SIGINT");
    // ...but the request in flight is answered once its body is all there.
    in_flight.write_all(&body[10..]).unwrap();
    let mut answer = String::new();
    in_flight.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "{answer}\n{}",
        server.log()
    );

    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status}\n{}", server.log());
    // Its last lines may still be on their way through the pipe (10 s at most).
    for _ in 0..500 {
        if server.log().contains("embedded PostgreSQL stopped") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.log();
    assert!(log.contains("signal=\"SIGINT\""), "{log}");
    assert!(log.contains("in-flight requests finish"), "{log}");
    assert!(log.contains("embedded PostgreSQL stopped"), "{log}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
