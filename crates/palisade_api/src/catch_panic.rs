//! A panic in a handler answers 500 with the usual JSON error body
//! (`{"error": "internal_error", ...}`) instead of dropping the connection.
//!
//! Left alone, a panic unwinds out of the request's task: the client sees its connection closed
//! with no answer at all, and a provider webhook retries. [`catch_panic`] catches it around the
//! rest of the service chain and answers like any other internal error, with the
//! `X-Request-Id` header; the cause is logged once, at error level, in the request's span. The
//! server registers it innermost (see `palisade_server::startup`), inside the request span.
//!
//! The answer goes out as an error carrying a ready response: building a `ServiceResponse`
//! needs the `HttpRequest`, and a clone of it kept across the call would make actix's router
//! panic (it mutates the request in place, which it may only do while it holds the only
//! reference).
//!
//! Catching is sound here: the request's own state (its transaction included, which rolls back
//! when dropped) is dropped with the panicked future; what requests share is either immutable,
//! or recovers from a poisoned lock ([`palisade_domain::ManualClock`]), or holds no lock across
//! user code (the pools, the rate limiters).

use std::panic::AssertUnwindSafe;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError};
use futures_util::FutureExt;
use tracing_actix_web::RequestId;

use crate::ApiError;
use crate::telemetry::set_request_id_header;

/// The middleware: `App::new().wrap(actix_web::middleware::from_fn(catch_panic))`.
pub async fn catch_panic<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let request_id = req.extensions().get::<RequestId>().copied();
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(answer) => answer,
        Err(panic) => {
            // A panic's message is the code's own words (a bug report), never request data.
            let cause = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            // Logs the cause, here, inside the request's span.
            let mut response =
                ApiError::internal(format!("a handler panicked: {cause}")).error_response();
            set_request_id_header(response.headers_mut(), request_id);
            Err(InternalError::from_response("a handler panicked", response).into())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::io::{Read, Write};

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
