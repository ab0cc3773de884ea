//! A panic in a handler answers 500 with the usual JSON error body
//! (`{"error": "internal_error", ...}`) instead of dropping the connection.
//!
//! Left alone, a panic unwinds out of the request's task: the client sees its connection closed
//! with no answer at all, and a provider webhook retries. [`catch_panic`] catches it around the
//! rest of the service chain and answers like any other internal error, with the
//! `X-Request-Id` header, logged as one (`request failed`, at error level, in the request's
//! span). The server registers it innermost (see `palisade_server::startup`), inside the request
//! span.
//!
//! Where it panicked is logged by the panic hook, [`log_panic`], which the server installs with
//! its subscriber (`palisade_server::telemetry::init`): the default hook wrote the panic's
//! message raw to stderr, outside the log, without the request id. Neither line holds the panic's
//! message (its payload): it can hold values, a secret or a tenant's data among them (`unwrap` on
//! an error prints the error, `expect(&format!(..))` whatever was formatted). The location
//! (file, line, column) finds the code.
//!
//! The answer goes out as an error carrying a ready response ([`BuiltAnswer`], which keeps its
//! `internal_error` code for the request's closing log line and the metrics): building a
//! `ServiceResponse` needs the `HttpRequest`, and a clone of it kept across the call would make
//! actix's router panic (it mutates the request in place, which it may only do while it holds
//! the only reference).
//!
//! Catching is sound here: the request's own state (its transaction included, which rolls back
//! when dropped) is dropped with the panicked future; what requests share is either immutable,
//! or recovers from a poisoned lock ([`palisade_domain::ManualClock`]), or holds no lock across
//! user code (the pools, the rate limiters).

use std::panic::AssertUnwindSafe;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError};
use futures_util::FutureExt;
use tracing_actix_web::RequestId;

use crate::ApiError;
use crate::error::BuiltAnswer;
use crate::telemetry::set_request_id_header;

/// The middleware: `App::new().wrap(actix_web::middleware::from_fn(catch_panic))`.
pub async fn catch_panic<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let request_id = req.extensions().get::<RequestId>().copied();
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(answer) => answer,
        Err(_) => {
            // Not the payload (see the module doc): the hook logged where, just before.
            let error = ApiError::internal(
                "a handler panicked (where: the line `panicked` before this one)",
            );
            let mut response = error.error_response();
            set_request_id_header(response.headers_mut(), request_id);
            Err(BuiltAnswer::new(Some(error.code()), response).into())
        }
    }
}

/// The panic hook: logs a panic at error level through `tracing`, in the span current where it
/// happened (a handler's panic: inside its request's span, so the line carries the request id),
/// with the thread's name and the location, never the payload (see the module doc). Installed by
/// the server in place of the default hook, which printed the payload to stderr.
pub fn log_panic(info: &std::panic::PanicHookInfo<'_>) {
    let location = info.location().map_or_else(
        || "unknown".to_owned(),
        |l| format!("{}:{}:{}", l.file(), l.line(), l.column()),
    );
    let thread = std::thread::current();
    let thread = thread.name().unwrap_or("unnamed");
    if tracing::enabled!(tracing::Level::ERROR) {
        tracing::error!(
            panic.location = %location,
            thread,
            "panicked (the panic's message is not logged: it may hold values)"
        );
    } else {
        // A `RUST_LOG` that names other modules only would hide the panic altogether (this
        // hook replaced the default one, which printed it): the same fixed words on stderr.
        // Not `eprintln!`, which panics (here: aborts) when stderr is a closed pipe.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "panicked at {location} on thread {thread} (the panic's message is not printed: it \
             may hold values; RUST_LOG leaves out palisade_api's error lines)"
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::io::{Read, Write};

    use actix_web::http::header::HeaderMap;
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, HttpServer, test, web};
    use tracing_actix_web::TracingLogger;

    use super::*;
    use crate::telemetry::PalisadeRootSpan;

    async fn boom() -> HttpResponse {
        panic!("boom");
    }

    async fn fine() -> HttpResponse {
        HttpResponse::Ok().body("fine")
    }

    #[actix_web::test]
    async fn a_panicking_handler_answers_500_json_and_others_are_untouched() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(catch_panic))
                .route("/boom", web::get().to(boom))
                .route("/fine", web::get().to(fine)),
        )
        .await;
        let res = test::try_call_service(&app, test::TestRequest::get().uri("/boom").to_request())
            .await
            .map(|r| r.into_parts().1)
            .unwrap_or_else(|e| e.error_response());
        assert_eq!(res.status(), 500);
        let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], "internal_error");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| !m.contains("boom")),
            "the cause is logged, not sent: {body}"
        );
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/fine").to_request()).await;
        assert_eq!(res.status(), 200);
        assert_eq!(test::read_body(res).await, "fine");
    }

    /// Over a real connection, as the server stacks it (inside the request span): the panic
    /// is answered with the request id, and the same kept-alive connection answers the next
    /// request.
    #[actix_web::test]
    async fn the_connection_survives_a_panic() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = HttpServer::new(|| {
            App::new()
                .wrap(from_fn(catch_panic))
                .wrap(TracingLogger::<PalisadeRootSpan>::new())
                .route("/boom", web::get().to(boom))
                .route("/fine", web::get().to(fine))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        let answers = web::block(move || {
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            let mut answers = Vec::new();
            for path in ["/boom", "/fine"] {
                write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
                answers.push(read_response(&mut stream));
            }
            answers
        })
        .await
        .unwrap();
        handle.stop(false).await;
        assert!(answers[0].starts_with("HTTP/1.1 500"), "{}", answers[0]);
        assert!(answers[0].contains("x-request-id: "), "{}", answers[0]);
        assert!(
            answers[0].contains(r#""error":"internal_error""#),
            "{}",
            answers[0]
        );
        assert!(answers[1].starts_with("HTTP/1.1 200"), "{}", answers[1]);
        assert!(answers[1].ends_with("fine"), "{}", answers[1]);
    }

    /// What the handler `/leaks` panics with: a value that must not reach the log.
    const LEAKED: &str = "hunter2-the-password";

    async fn leaks() -> HttpResponse {
        // As `unwrap` on an error that holds a value panics.
        let result: Result<(), String> = Err(format!("bad password {LEAKED}"));
        match result {
            Ok(()) => HttpResponse::Ok().finish(),
            Err(e) => panic!("called `Result::unwrap()` on an `Err` value: {e:?}"),
        }
    }

    /// As the server stacks it, with the server's hook (chained to the previous one, so that
    /// other tests' panics still print): a panicking handler leaves a `panicked` line with its
    /// location and the request's id, and the request's `request failed`, neither with the
    /// panic's message.
    #[actix_web::test]
    async fn a_panic_is_logged_with_its_location_and_request_id_and_without_its_message() {
        static HOOK: std::sync::Once = std::sync::Once::new();
        // A second subscriber, alive for the process. With one alone, tracing-core caches a
        // callsite's interest from the subscriber of whichever thread hits it first: another
        // test's thread without one (the tests beside this one panic too, and answer `request
        // failed`) would turn these callsites off here. With two, it asks every subscriber.
        static SECOND: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
        SECOND.get_or_init(|| tracing::Dispatch::new(tracing_subscriber::registry()));
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                log_panic(info);
                previous(info);
            }));
        });
        let lines = crate::telemetry::tests::Lines::default();
        let _guard = tracing::subscriber::set_default(crate::telemetry::tests::subscriber(
            &lines,
            tracing::Level::ERROR,
        ));
        let app = test::init_service(
            App::new()
                .wrap(from_fn(catch_panic))
                .wrap(TracingLogger::<PalisadeRootSpan>::new())
                .route("/leaks", web::get().to(leaks)),
        )
        .await;
        let head = |status: actix_web::http::StatusCode, headers: &HeaderMap| {
            let id = headers.get(crate::telemetry::REQUEST_ID_HEADER).unwrap();
            (status, id.to_str().unwrap().to_owned())
        };
        let (status, id) =
            match test::try_call_service(&app, test::TestRequest::get().uri("/leaks").to_request())
                .await
            {
                Ok(r) => head(r.status(), r.headers()),
                Err(e) => {
                    let r = e.error_response();
                    head(r.status(), r.headers())
                }
            };
        assert_eq!(status, 500);
        let logged = lines.take();
        let panicked: Vec<&str> = logged.lines().filter(|l| l.contains("panicked")).collect();
        assert_eq!(panicked.len(), 2, "{logged}");
        assert!(
            panicked[0].contains("ERROR")
                && panicked[0].contains("panic.location=crates/palisade_api/src/catch_panic.rs:")
                && panicked[0].contains(&format!("request_id={id}")),
            "{logged}"
        );
        assert!(
            panicked[1].contains("request failed")
                && panicked[1].contains(&format!("request_id={id}")),
            "{logged}"
        );
        assert!(!logged.contains(LEAKED), "{logged}");
    }

    /// A panic's 500 is an error answer like any other: its request's closing line carries its
    /// code, `error="internal_error"`, with or without the CORS layer between (which carries
    /// the answer on, with its headers), as the server stacks them.
    #[actix_web::test]
    async fn a_panics_closing_line_carries_its_error_code() {
        // As in the test above: a second subscriber, so this thread's callsites stay on.
        static SECOND: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
        SECOND.get_or_init(|| tracing::Dispatch::new(tracing_subscriber::registry()));
        let lines = crate::telemetry::tests::Lines::default();
        let _guard = tracing::subscriber::set_default(crate::telemetry::tests::subscriber(
            &lines,
            tracing::Level::WARN,
        ));
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(
                    crate::cors::CorsOrigins::parse("https://app.example.com").unwrap(),
                ))
                .wrap(from_fn(catch_panic))
                .wrap(from_fn(crate::cors::cors))
                .wrap(TracingLogger::<PalisadeRootSpan>::new())
                .route("/v1/boom", web::get().to(boom)),
        )
        .await;
        for origin in [None, Some("https://app.example.com")] {
            let mut req = test::TestRequest::get().uri("/v1/boom");
            if let Some(origin) = origin {
                req = req.insert_header((actix_web::http::header::ORIGIN, origin));
            }
            let res = test::try_call_service(&app, req.to_request())
                .await
                .map(|r| r.into_parts().1.map_into_boxed_body())
                .unwrap_or_else(|e| e.error_response());
            assert_eq!(res.status(), 500, "{origin:?}");
            let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["error"], "internal_error", "{origin:?}");
            let logged = lines.take();
            let closing: Vec<&str> = logged
                .lines()
                .filter(|l| l.contains("request failed before a response was built"))
                .collect();
            assert_eq!(closing.len(), 1, "{origin:?}: {logged}");
            assert!(
                closing[0].contains("status=500")
                    && closing[0].contains(r#"error="internal_error""#),
                "{origin:?}: {logged}"
            );
        }
    }

    /// Reads one response with a `content-length` body off a kept-alive connection.
    fn read_response(stream: &mut std::net::TcpStream) -> String {
        let mut raw = Vec::new();
        let mut byte = [0u8; 1];
        while !raw.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            raw.push(byte[0]);
        }
        let head = String::from_utf8(raw).unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().unwrap())
            })
            .expect("a content-length");
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).unwrap();
        head + &String::from_utf8(body).unwrap()
    }
}
