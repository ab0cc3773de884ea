//! The request span and its closing log line.
//!
//! Each request gets a span with its request id, method and route template (never the query
//! string, which can hold filter values), and, once the bearer token is verified, `org.id` and
//! `user.id`. One line is logged when the request ends, with status and latency; an error
//! answer adds its `error` code (`invalid_token`, `validation_failed`: the [`crate::ApiError`]'s, or a
//! panic's `internal_error`, which `crate::catch_panic` keeps in its
//! [`crate::error::BuiltAnswer`]; a `&'static str`, nothing allocated, and nothing when the
//! answer is neither's). Bodies,
//! tokens and passwords never appear. The line is a warning when the
//! response is a 5xx or took [`SlowRequest`] or longer, so a stall shows under `RUST_LOG=warn`.
//!
//! The span is at the ERROR level, not INFO: a span is on only where the filter lets its level
//! through, and every line logged inside it carries its fields. At ERROR it is on at every level
//! a filter sets (`RUST_LOG=warn`, `error`), so the lines a quiet production keeps (a 5xx's
//! cause, a refused webhook's reason, the request's own closing line) carry the request id that
//! a 500's body tells the client to quote. (A filter that names modules and leaves out this one,
//! where the span is made, leaves it out.)

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};

/// The response header that echoes the request id, so a client can quote it in a bug report.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Builds Palisade's request spans (see the module doc).
pub struct PalisadeRootSpan;

struct Started(Instant);

/// A request that takes at least this long, from its head being read to its response being
/// ready (the body's upload included), is logged as a warning: `request finished slowly`
/// (`PALISADE_SLOW_REQUEST_MS`, default 5 s). The server registers it as app data; without it,
/// the default applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowRequest(pub std::time::Duration);

impl Default for SlowRequest {
    fn default() -> Self {
        Self(std::time::Duration::from_secs(5))
    }
}

impl RootSpanBuilder for PalisadeRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request.extensions_mut().insert(Started(Instant::now()));
        let request_id = request.extensions().get::<RequestId>().copied();
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        tracing::error_span!(
            "request",
            request_id = %request_id.map(|r| r.to_string()).unwrap_or_default(),
            http.method = %request.method(),
            http.route = %route,
            http.path = %request.path(),
            http.status_code = tracing::field::Empty,
            org.id = tracing::field::Empty,
            user.id = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let _entered = span.enter();
        // The answer's `error` code (None records nothing): an `ApiError`'s, or that of an answer
        // a middleware built (a panic's 500).
        let code = |e: &Error| crate::error::error_code(e).map(|c| c.as_str());
        match outcome {
            Ok(resp) => {
                let error = resp.response().error().and_then(code);
                let status = resp.status().as_u16();
                span.record("http.status_code", status);
                let request = resp.request();
                let latency = request
                    .extensions()
                    .get::<Started>()
                    .map(|s| s.0.elapsed())
                    .unwrap_or_default();
                let slow = request
                    .app_data::<SlowRequest>()
                    .copied()
                    .unwrap_or_default();
                let latency_ms = latency.as_secs_f64() * 1000.0;
                let message = if status >= 500 {
                    "request finished"
                } else if latency >= slow.0 {
                    "request finished slowly"
                } else {
                    tracing::info!(status, latency_ms, error, "request finished");
                    return;
                };
                tracing::warn!(status, latency_ms, error, "{message}");
            }
            Err(e) => {
                let status = e.as_response_error().status_code().as_u16();
                span.record("http.status_code", status);
                let error = code(e);
                tracing::warn!(status, error, "request failed before a response was built");
            }
        }
    }
}

/// Copies the request id into the `X-Request-Id` response header.
pub fn add_request_id_header<B>(mut resp: ServiceResponse<B>) -> ServiceResponse<B> {
    let id = resp.request().extensions().get::<RequestId>().copied();
    set_request_id_header(resp.headers_mut(), id);
    resp
}

/// Sets the `X-Request-Id` header to `id`, when there is one.
pub(crate) fn set_request_id_header(headers: &mut HeaderMap, id: Option<RequestId>) {
    if let Some(id) = id
        && let Ok(value) = HeaderValue::from_str(&id.to_string())
    {
        headers.insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use actix_web::dev::Service as _;
    use actix_web::{App, HttpResponse, test, web};
    use tracing_actix_web::TracingLogger;

    use super::*;

    /// The log lines written while it is the thread's subscriber.
    #[derive(Clone, Default)]
    pub(crate) struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        pub(crate) fn take(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
        }
    }

    async fn after(delay: web::Path<u64>) -> HttpResponse {
        actix_web::rt::time::sleep(Duration::from_millis(*delay)).await;
        HttpResponse::Ok().finish()
    }

    async fn fails() -> Result<HttpResponse, crate::ApiError> {
        tracing::warn!("about to fail");
        Err(crate::ApiError::internal("the cause"))
    }

    /// An app whose requests sleep `/after/{ms}` and count as slow from `slow` on, and whose
    /// `/fails/{n}` warns, then answers 500.
    macro_rules! app {
        ($slow:expr) => {
            test::init_service(
                App::new()
                    .app_data(SlowRequest($slow))
                    .wrap_fn(|req, srv| {
                        let fut = srv.call(req);
                        async move { fut.await.map(add_request_id_header) }
                    })
                    .wrap(TracingLogger::<PalisadeRootSpan>::new())
                    .route("/after/{ms}", web::get().to(after))
                    .route("/fails/{n}", web::get().to(fails)),
            )
            .await
        };
    }

    /// A subscriber writing to `lines` that lets through `level` and above, as `RUST_LOG` does.
    pub(crate) fn subscriber(lines: &Lines, level: tracing::Level) -> impl tracing::Subscriber {
        let writer = lines.clone();
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
    }

    /// Under `RUST_LOG=warn` or `error` (a quiet production), every line a request leaves (a
    /// warning inside its handler, a 500's cause, its closing line) carries its request id and
    /// route: the id the 500's body tells the client to quote, and the response's header.
    #[actix_web::test]
    async fn every_line_of_a_request_carries_its_id_under_a_quiet_filter() {
        for level in [tracing::Level::WARN, tracing::Level::ERROR] {
            let lines = Lines::default();
            let _guard = tracing::subscriber::set_default(subscriber(&lines, level));
            let app = app!(Duration::from_secs(3600));
            let res =
                test::call_service(&app, test::TestRequest::get().uri("/fails/1").to_request())
                    .await;
            assert_eq!(res.status(), 500);
            let id = res
                .headers()
                .get(REQUEST_ID_HEADER)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            let logged = lines.take();
            let expected: &[&str] = if level == tracing::Level::WARN {
                &["about to fail", "request failed", "request finished"]
            } else {
                &["request failed"]
            };
            assert_eq!(logged.lines().count(), expected.len(), "{level}: {logged}");
            for (line, message) in logged.lines().zip(expected) {
                assert!(line.contains(message), "{level}: {logged}");
                assert!(line.contains("http.route=/fails/{n}"), "{level}: {line}");
                assert!(
                    line.contains(&format!("request_id={id}")),
                    "{level}: {line}"
                );
            }
        }
    }

    /// Under `RUST_LOG=warn` (CI's fuzzing run, a quiet production), a request that took the
    /// configured time or longer still leaves its line; one under it does not.
    #[actix_web::test]
    async fn a_slow_request_is_logged_as_a_warning_and_a_quick_one_is_not() {
        let lines = Lines::default();
        let _guard = tracing::subscriber::set_default(subscriber(&lines, tracing::Level::WARN));

        let quick = app!(Duration::from_secs(3600));
        let res = test::call_service(
            &quick,
            test::TestRequest::get().uri("/after/0").to_request(),
        )
        .await;
        assert_eq!(res.status(), 200);
        let logged = lines.take();
        assert!(!logged.contains("request finished"), "{logged}");

        let slow = app!(Duration::from_millis(20));
        let res = test::call_service(
            &slow,
            test::TestRequest::get().uri("/after/30").to_request(),
        )
        .await;
        assert_eq!(res.status(), 200);
        let logged = lines.take();
        assert!(logged.contains("WARN"), "{logged}");
        assert!(logged.contains("request finished slowly"), "{logged}");
        assert!(logged.contains("status=200"), "{logged}");
        assert!(logged.contains("http.route=/after/{ms}"), "{logged}");
    }
}
