//! [`ApiError`]: the one error type at the HTTP edge.
//!
//! Which error goes where: domain parse failures become [`ApiError::Validation`] (422, with the
//! offending fields); malformed JSON, query strings and ids are 400; authentication failures
//! 401; role and organization problems 403; throttled attempts 429 with `Retry-After`; anything not visible to this tenant 404 (another
//! organization's row looks exactly like a missing one); [`palisade_db::DbError`] is mapped
//! here, its cause logged once at error level with the request's span, and never sent.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use palisade_db::DbError;
use serde::Serialize;

/// A field-level validation failure.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    /// The JSON field or query parameter.
    pub field: &'static str,
    /// Why it was refused.
    pub reason: &'static str,
}

/// An error as a client sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 422: well-formed input with invalid values.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 400: input that could not be read at all.
    #[error("{message}")]
    BadRequest {
        /// Machine-readable code.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// 401: no valid credentials.
    #[error("{message}")]
    Unauthorized {
        /// Machine-readable code.
        code: &'static str,
        /// Human-readable explanation.
        message: &'static str,
    },
    /// 403: authenticated, but not allowed.
    #[error("{message}")]
    Forbidden {
        /// Machine-readable code.
        code: &'static str,
        /// Human-readable explanation.
        message: &'static str,
    },
    /// 404: absent, or not this organization's (indistinguishable by design).
    #[error("not found")]
    NotFound,
    /// 409: the request conflicts with existing data of this organization.
    #[error("{message}")]
    Conflict {
        /// Machine-readable code.
        code: &'static str,
        /// Human-readable explanation.
        message: &'static str,
    },
    /// 413 / 415 and other plain HTTP refusals.
    #[error("{message}")]
    Http {
        /// The status.
        status: StatusCode,
        /// Machine-readable code.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// 429: too many attempts (see [`crate::throttle`]); `Retry-After` says when to retry.
    #[error("too many attempts; retry in {retry_after_secs} s")]
    RateLimited {
        /// Whole seconds until an attempt may succeed (rounded up, at least 1).
        retry_after_secs: u64,
    },
    /// 503: the database cannot be reached or is saturated.
    #[error("service unavailable: {0}")]
    Unavailable(#[source] DbError),
    /// 500: a bug or an unexpected database error. The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 422 for one field.
    pub fn invalid(field: &'static str, reason: &'static str) -> Self {
        ApiError::Validation(vec![FieldError { field, reason }])
    }

    /// A 500 from any error; its `Display` is logged, so it must not hold secrets.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        ApiError::Internal(e.to_string())
    }

    /// A 429 asking to wait `wait` (rounded up to whole seconds, at least one).
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError::RateLimited {
            retry_after_secs: secs.max(1),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "validation_failed",
            ApiError::BadRequest { code, .. }
            | ApiError::Unauthorized { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Http { code, .. } => code,
            ApiError::NotFound => "not_found",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(_) => ApiError::Unavailable(e),
            DbError::PermissionDenied { .. } => ApiError::Forbidden {
                code: "forbidden",
                message: "your role in this organization does not allow this",
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a [FieldError]>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Http { status, .. } => *status,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // Log the cause once, here where it is handled, inside the request's span.
        let message = match self {
            ApiError::Internal(cause) => {
                tracing::error!(error = %cause, "request failed");
                "an internal error occurred; it has been logged with this request's id".to_owned()
            }
            ApiError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                "the service is temporarily unavailable; retry shortly".to_owned()
            }
            ApiError::Validation(_) => "some fields are invalid".to_owned(),
            ApiError::NotFound => "no such resource".to_owned(),
            other => other.to_string(),
        };
        let fields = match self {
            ApiError::Validation(f) => Some(f.as_slice()),
            _ => None,
        };
        let mut resp = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::Unauthorized { .. }) {
            resp.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if matches!(self, ApiError::Unavailable(_)) {
            resp.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
        }
        if let ApiError::RateLimited { retry_after_secs } = self {
            resp.insert_header((header::RETRY_AFTER, HeaderValue::from(*retry_after_secs)));
        }
        resp.json(Body {
            error: self.code(),
            message,
            fields,
        })
    }
}

/// JSON bodies: size limit, content type, and every failure as a JSON 4xx.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(crate::MAX_JSON_BODY)
        .error_handler(|err, _req: &HttpRequest| {
            let e = match &err {
                JsonPayloadError::OverflowKnownLength { .. }
                | JsonPayloadError::Overflow { .. } => ApiError::Http {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    code: "payload_too_large",
                    message: format!(
                        "request bodies are limited to {} bytes",
                        crate::MAX_JSON_BODY
                    ),
                },
                JsonPayloadError::ContentType => ApiError::Http {
                    status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    code: "unsupported_media_type",
                    message: "send the body as application/json".to_owned(),
                },
                // serde's message says what was wrong and where (line, column); it quotes only
                // the client's own input.
                JsonPayloadError::Deserialize(e) => ApiError::BadRequest {
                    code: "invalid_json",
                    message: format!("the body is not valid JSON for this request: {e}"),
                },
                _ => ApiError::BadRequest {
                    code: "invalid_body",
                    message: "the request body could not be read".to_owned(),
                },
            };
            e.into()
        })
}

/// Path parameters that fail to parse answer 400 (ids are parsed by handlers; this is a backstop).
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err: PathError, _req| {
        ApiError::BadRequest {
            code: "invalid_path",
            message: "a path parameter is malformed".to_owned(),
        }
        .into()
    })
}

/// Query strings that fail to parse answer 400.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
        ApiError::BadRequest {
            code: "invalid_query",
            message: format!("the query string is malformed: {err}"),
        }
        .into()
    })
}
