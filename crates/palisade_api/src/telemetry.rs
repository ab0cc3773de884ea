//! The request span and its closing log line.
//!
//! Each request gets a span with its request id, method and route template (never the query
//! string, which can hold filter values), and, once the bearer token is verified, `org.id` and
//! `user.id`. One line is logged when the request ends, with status and latency; errors add
//! their code. Bodies, tokens and passwords never appear.

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

impl RootSpanBuilder for PalisadeRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request.extensions_mut().insert(Started(Instant::now()));
        let request_id = request.extensions().get::<RequestId>().copied();
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        tracing::info_span!(
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
        match outcome {
            Ok(resp) => {
                let status = resp.status().as_u16();
                span.record("http.status_code", status);
                let latency_ms = resp
                    .request()
                    .extensions()
                    .get::<Started>()
                    .map(|s| s.0.elapsed().as_secs_f64() * 1000.0)
                    .unwrap_or_default();
                if status >= 500 {
                    tracing::warn!(status, latency_ms, "request finished");
                } else {
                    tracing::info!(status, latency_ms, "request finished");
                }
            }
            Err(e) => {
                let status = e.as_response_error().status_code().as_u16();
                span.record("http.status_code", status);
                tracing::warn!(status, "request failed before a response was built");
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
