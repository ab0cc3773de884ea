//! Cross-origin requests from browser apps (CORS; docs/api.md "Browser clients").
//!
//! Off by default: with no allowed origin, no answer carries a CORS header and browsers keep
//! their same-origin rule. With `PALISADE_CORS_ALLOWED_ORIGINS`, a request to a path under
//! `/v1` whose `Origin` is on the list gets `Access-Control-Allow-Origin` (that origin, never
//! `*`) and `Access-Control-Expose-Headers` (`X-Request-Id`, `ETag`, `Location`,
//! `Retry-After`); a preflight (`OPTIONS` with `Access-Control-Request-Method`) from it is
//! answered here, 204, allowing the API's methods and the headers a client sends
//! (`Authorization`, `X-API-Key`, `Content-Type`, `Idempotency-Key`, `If-Match`,
//! `If-None-Match`, `X-Request-Id`). A preflight from another origin answers 403
//! `origin_not_allowed`; its actual requests get no CORS header (the browser then hides the
//! answer from the page; programs that are not browsers are unaffected, as CORS binds only
//! browsers). `/webhooks`, `/healthz`, `/readyz`, `/openapi.json` and `/docs` never get CORS
//! headers: providers are not browsers, and no page of another origin has business there.
//!
//! No credentials mode (`Access-Control-Allow-Credentials`): the API takes no cookie, a browser
//! app sends its token or key in a header.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};

use crate::ApiError;
use crate::error::ErrorCode;

/// The methods a preflight may ask for: those the API serves (there is no `PUT`). Method names
/// are case-sensitive.
const METHODS: &str = "GET, HEAD, POST, PATCH, DELETE";
/// The request headers a browser app may send (the preflight's list is compared
/// case-insensitively).
const REQUEST_HEADERS: &str = "Authorization, X-API-Key, Content-Type, Idempotency-Key, \
     If-Match, If-None-Match, X-Request-Id";
/// The answer headers a page may read beyond the CORS-safelisted ones.
const EXPOSED: &str = "X-Request-Id, ETag, Location, Retry-After, Idempotency-Replayed";
/// How long a browser may cache a preflight's answer (seconds).
const MAX_AGE: &str = "3600";

/// The origins browser apps may call the API from (`PALISADE_CORS_ALLOWED_ORIGINS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOrigins(Vec<String>);

impl CorsOrigins {
    /// No origin: CORS off.
    pub fn none() -> Self {
        Self::default()
    }

    /// A comma-separated list of origins, each `http(s)://host[:port]` as a browser sends it
    /// (no path, not even `/`; no user, query or fragment; no wildcard). Host names are
    /// compared in lower case and a default port is dropped, as browsers spell them. An error
    /// names the entry by its position, never its value (docs/configuration.md).
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut origins = Vec::new();
        let items = list.split(',').map(str::trim).filter(|s| !s.is_empty());
        for (n, item) in (1..).zip(items) {
            if item.contains('*') {
                return Err(format!(
                    "entry {n}: wildcards are not accepted; list each origin"
                ));
            }
            let url = url::Url::parse(item)
                .map_err(|_| format!("entry {n} is not an origin like https://app.example.com"))?;
            let plain = url.username().is_empty()
                && url.password().is_none()
                && url.query().is_none()
                && url.fragment().is_none()
                && url.path() == "/"
                && !item.ends_with('/');
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || !plain {
                return Err(format!(
                    "entry {n} is not an origin: write scheme://host[:port], e.g. https://app.example.com"
                ));
            }
            let origin = url.origin().ascii_serialization();
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(Self(origins))
    }

    /// Whether no origin is allowed (CORS off).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The allowed origins, normalized.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        origin
            .to_str()
            .is_ok_and(|o| self.0.iter().any(|allowed| allowed.eq_ignore_ascii_case(o)))
    }
}

fn under_v1(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

/// Whether every header a preflight asks for (`Access-Control-Request-Headers`) is one a
/// client may send.
fn headers_allowed(req: &ServiceRequest) -> bool {
    req.headers()
        .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .all(|v| {
            v.to_str().is_ok_and(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .all(|h| {
                        REQUEST_HEADERS
                            .split(", ")
                            .any(|a| a.eq_ignore_ascii_case(h))
                    })
            })
        })
}

fn method_allowed(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|m| METHODS.split(", ").any(|a| a == m))
}

/// Middleware: the CORS headers of the module's documentation. It reads the allowed origins
/// from the app data (`web::Data<CorsOrigins>`, registered by [`crate::configure`]). Register it
/// with `actix_web::middleware::from_fn(palisade_api::cors::cors)`.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let origin = match (
        req.app_data::<web::Data<CorsOrigins>>(),
        req.headers().get(header::ORIGIN),
    ) {
        (Some(origins), Some(origin)) if !origins.is_empty() && under_v1(req.path()) => {
            Some((origins.allows(origin), origin.clone()))
        }
        _ => None,
    };
    let Some((allowed, origin)) = origin else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let vary = HeaderValue::from_static("Origin");
    if req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        // A preflight: answered here, never by a route.
        // A refusal is made from the error, which the answer carries: the request's log line and
        // metrics read its code there.
        let mut resp = if !allowed {
            tracing::info!(origin = ?origin, "CORS preflight from an origin not allowed");
            HttpResponse::from_error(ApiError::Forbidden {
                code: ErrorCode::OriginNotAllowed,
                message: "this origin may not call the API from a browser; the operator lists \
                          the allowed ones in PALISADE_CORS_ALLOWED_ORIGINS",
            })
        } else if !method_allowed(&req) || !headers_allowed(&req) {
            HttpResponse::from_error(ApiError::Forbidden {
                code: ErrorCode::OriginNotAllowed,
                message: "the preflight asks for a method or a header the API does not accept \
                          from browsers",
            })
        } else {
            let mut ok = HttpResponse::NoContent();
            ok.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static(METHODS),
                ))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static(REQUEST_HEADERS),
                ))
                .insert_header((
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static(MAX_AGE),
                ));
            ok.finish()
        };
        resp.headers_mut().append(header::VARY, vary);
        // Not `req.into_response`, which converts the answer and drops the error it carries.
        return Ok(ServiceResponse::new(req.into_parts().0, resp));
    }
    match next.call(req).await {
        Ok(res) => {
            let mut res = res.map_into_boxed_body();
            add_cors_headers(res.headers_mut(), allowed, origin, vary);
            Ok(res)
        }
        // An answer inner layers give as an error (catch_panic's 500, which holds no request to
        // answer with): it gets the headers too, or a browser page could not read it, nor the
        // request id it says to quote. Its code goes with it, for the log line and the metrics.
        Err(e) => {
            let code = crate::error::error_code(&e);
            let mut resp = e.error_response();
            add_cors_headers(resp.headers_mut(), allowed, origin, vary);
            Err(crate::error::BuiltAnswer::new(code, resp).into())
        }
    }
}

/// What an answer to an allowed origin carries (`Access-Control-Allow-Origin`, the exposed
/// headers), and what every answer to a cross-origin request carries (`Vary: Origin`).
fn add_cors_headers(
    headers: &mut actix_web::http::header::HeaderMap,
    allowed: bool,
    origin: HeaderValue,
    vary: HeaderValue,
) {
    if allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
    }
    headers.append(header::VARY, vary);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_parsed_strictly_and_normalized() {
        let o = CorsOrigins::parse(
            " https://App.Example.com , http://localhost:3000,https://app.example.com:443",
        )
        .unwrap();
        assert_eq!(
            o.as_slice(),
            ["https://app.example.com", "http://localhost:3000"]
        );
        assert!(CorsOrigins::parse("").unwrap().is_empty());
        for bad in [
            "*",
            "https://*.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://user@app.example.com",
            "https://app.example.com?x=1",
            "ftp://app.example.com",
            "app.example.com",
            "null",
        ] {
            assert!(CorsOrigins::parse(bad).is_err(), "{bad}");
            // Named by its position, not its value (another host than the message's example).
            let bad = bad.replace("app.example.com", "shop.example.net");
            let err = CorsOrigins::parse(&format!("https://ok.example.com, {bad}")).unwrap_err();
            assert!(err.starts_with("entry 2"), "{bad}: {err}");
            assert!(!err.contains(&bad), "{bad}: {err}");
        }
    }

    #[test]
    fn an_origin_matches_only_exactly() {
        let o = CorsOrigins::parse("https://app.example.com").unwrap();
        assert!(o.allows(&HeaderValue::from_static("https://app.example.com")));
        for other in [
            "https://app.example.com.evil.example",
            "http://app.example.com",
            "https://app.example.com:8443",
            "null",
        ] {
            assert!(!o.allows(&HeaderValue::from_static(other)), "{other}");
        }
    }

    async fn boom() -> HttpResponse {
        panic!("boom");
    }

    /// A panicking handler's 500 (an error, not a response, out of catch_panic) carries the
    /// CORS headers too, so a page of an allowed origin can read it and its request id.
    #[actix_web::test]
    async fn a_panics_500_carries_the_cors_headers() {
        use actix_web::middleware::from_fn;
        use actix_web::{App, test};
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(
                    CorsOrigins::parse("https://app.example.com").unwrap(),
                ))
                .wrap(from_fn(crate::catch_panic::catch_panic))
                .wrap(from_fn(cors))
                .route("/v1/boom", web::get().to(boom)),
        )
        .await;
        let req = test::TestRequest::get()
            .uri("/v1/boom")
            .insert_header((header::ORIGIN, "https://app.example.com"))
            .to_request();
        let res = test::try_call_service(&app, req)
            .await
            .map(|r| r.into_parts().1)
            .unwrap_or_else(|e| e.error_response());
        assert_eq!(res.status(), 500);
        assert_eq!(
            res.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN),
            Some(&HeaderValue::from_static("https://app.example.com"))
        );
        assert!(
            res.headers()
                .contains_key(header::ACCESS_CONTROL_EXPOSE_HEADERS)
        );
        assert_eq!(
            res.headers().get(header::VARY),
            Some(&HeaderValue::from_static("Origin"))
        );
    }
}
