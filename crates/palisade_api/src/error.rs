//! [`ApiError`]: the one error type at the HTTP edge.
//!
//! Which error goes where: domain parse failures become [`ApiError::Validation`] (422, with the
//! offending fields); malformed JSON, query strings and ids are 400; authentication failures
//! 401; role and organization problems 403; throttled attempts 429 with `Retry-After`; anything not visible to this tenant 404 (another
//! organization's row looks exactly like a missing one); [`palisade_db::DbError`] is mapped
//! here, its cause logged once at error level with the request's span, and never sent.

use actix_web::error::{PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError, web};
use palisade_db::DbError;
use serde::Serialize;
use std::borrow::Cow;

/// A field-level validation failure: `{"field": "recipients[2].email", "code": "invalid",
/// "reason": "..."}` inside a 422's `fields`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    /// The JSON field or query parameter; a path into nested bodies (`items[3].name`).
    #[schema(value_type = String)]
    pub field: Cow<'static, str>,
    /// What kind of problem, for programs (see [`FieldCode`]).
    pub code: FieldCode,
    /// Why it was refused, for people.
    #[schema(value_type = String)]
    pub reason: Cow<'static, str>,
}

impl FieldError {
    /// A field error.
    pub fn new(
        field: impl Into<Cow<'static, str>>,
        code: FieldCode,
        reason: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            field: field.into(),
            code,
            reason: reason.into(),
        }
    }
}

/// The machine-readable kind of a [`FieldError`], documented in docs/api.md.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldCode {
    /// The field is missing (or `null` where a value is required).
    Required,
    /// The value has the wrong JSON type (a number where a string is expected...).
    InvalidType,
    /// The value is of the right type but not acceptable (format, range, length, choice).
    Invalid,
    /// The value names a row (customer, menu, account...) this organization does not have.
    NotFound,
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
        ApiError::Validation(vec![FieldError::new(field, FieldCode::Invalid, reason)])
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

/// Every error's body: `{"error": "code", "message": "...", "fields": [...]}` (docs/api.md).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// A stable snake_case code for programs.
    #[schema(value_type = String)]
    error: &'static str,
    /// A sentence for people; it may change.
    message: String,
    /// On 422 only: one entry per refused field.
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<Vec<FieldError>>,
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
            ApiError::Validation(f) => Some(f.clone()),
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
        resp.json(ErrorBody {
            error: self.code(),
            message,
            fields,
        })
    }
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

/// Query strings that fail to parse answer 400: an unknown parameter names itself (lists use
/// [`crate::list::List`], which applies the same rule).
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
        let text = err.to_string();
        let e = match text.split_once("unknown field `") {
            Some((_, rest)) => {
                let name = rest.split('`').next().unwrap_or("");
                let accepted = rest
                    .split_once("expected one of ")
                    .or_else(|| rest.split_once("expected "))
                    .map(|(_, a)| a.replace('`', ""))
                    .unwrap_or_default();
                ApiError::BadRequest {
                    code: "unknown_parameter",
                    message: format!(
                        "unknown query parameter {name}; this route accepts {accepted}"
                    ),
                }
            }
            None if text.contains("duplicate field `") => ApiError::BadRequest {
                code: "duplicate_parameter",
                message: "a query parameter is given more than once".to_owned(),
            },
            None => ApiError::BadRequest {
                code: "invalid_query",
                message: "the query string could not be read".to_owned(),
            },
        };
        e.into()
    })
}
