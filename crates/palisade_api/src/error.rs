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

palisade_domain::str_enum! {
    /// Every `error` code an answer can carry, documented in docs/api.md ("Errors"); a test
    /// keeps the two lists equal.
    pub enum ErrorCode {
        /// A call with this `call_sid` is already recorded in this organization.
        CallSidTaken = "call_sid_taken",
        /// The campaign has started sending and cannot be deleted.
        CampaignNotDeletable = "campaign_not_deletable",
        /// Only draft and scheduled campaigns can be edited.
        CampaignNotEditable = "campaign_not_editable",
        /// The webhook is disabled: enable it before asking for a redelivery.
        WebhookDisabled = "webhook_disabled",
        /// The conversation is closed; reopen it to post.
        ConversationClosed = "conversation_closed",
        /// Deleting the organization did not finish in time; nothing was deleted (the operators
        /// delete an organization that large).
        DeletionTimedOut = "deletion_timed_out",
        /// A query parameter is given more than once.
        DuplicateParameter = "duplicate_parameter",
        /// The caller's email address is verified already: there is no link to send.
        EmailAlreadyVerified = "email_already_verified",
        /// The caller's own email address is not verified yet (the link mailed at signup).
        EmailNotVerified = "email_not_verified",
        /// The email is already used (a customer of this organization, or an account).
        EmailTaken = "email_taken",
        /// The credential's role does not allow this.
        Forbidden = "forbidden",
        /// The `from_number` is not this organization's own number with that capability.
        FromNumberNotOwned = "from_number_not_owned",
        /// This organization already has that handle on that network.
        HandleTaken = "handle_taken",
        /// This organization already registered that Amazon Connect instance ARN.
        InstanceTaken = "instance_taken",
        /// The `Idempotency-Key` was used for another request.
        IdempotencyKeyReused = "idempotency_key_reused",
        /// A bug; logged with the request id, never described.
        InternalError = "internal_error",
        /// The request body could not be read.
        InvalidBody = "invalid_body",
        /// A failed login, or an Amazon Connect event without a working credential.
        InvalidCredentials = "invalid_credentials",
        /// The current password given for a change is wrong.
        InvalidCurrentPassword = "invalid_current_password",
        /// The cursor is not one this list returned with these filters.
        InvalidCursor = "invalid_cursor",
        /// A signed Stripe body that is not a readable event.
        InvalidEvent = "invalid_event",
        /// A path id that is not a UUID.
        InvalidId = "invalid_id",
        /// An `Idempotency-Key` that is not 1 to 255 printable ASCII characters.
        InvalidIdempotencyKey = "invalid_idempotency_key",
        /// The body is not JSON.
        InvalidJson = "invalid_json",
        /// An invitation, reset or email verification link that is unknown, expired or used.
        InvalidLink = "invalid_link",
        /// A path parameter that cannot be read.
        InvalidPath = "invalid_path",
        /// A signed provider payload with an unusable field.
        InvalidPayload = "invalid_payload",
        /// The query string cannot be read.
        InvalidQuery = "invalid_query",
        /// A provider webhook whose signature does not verify.
        InvalidSignature = "invalid_signature",
        /// The status cannot move that way.
        InvalidStatusTransition = "invalid_status_transition",
        /// A bearer token or API key that is not (or no longer) valid.
        InvalidToken = "invalid_token",
        /// Another request was inviting that email at the same moment (a pending invitation is
        /// replaced, or refused 403 when it is an owner's and the caller is not).
        InvitationPending = "invitation_pending",
        /// The organization's last owner cannot be demoted or removed.
        LastOwner = "last_owner",
        /// The mail server cannot be reached; nothing was changed.
        MailUnavailable = "mail_unavailable",
        /// The message has gone out (or is inbound) and cannot change.
        MessageNotQueued = "message_not_queued",
        /// The path does not take this method.
        MethodNotAllowed = "method_not_allowed",
        /// This organization already has something of that name.
        NameTaken = "name_taken",
        /// The credential names no organization.
        NoOrganization = "no_organization",
        /// A provider webhook whose secret this server was not given.
        NotConfigured = "not_configured",
        /// Nothing there for this organization (another organization's id answers the same), or no route.
        NotFound = "not_found",
        /// The phone number is used by a campaign that may still send.
        NumberInUse = "number_in_use",
        /// The phone number cannot be claimed.
        NumberUnavailable = "number_unavailable",
        /// A browser's CORS preflight from an origin the server does not allow, or asking for
        /// a method or header the API does not take from browsers.
        OriginNotAllowed = "origin_not_allowed",
        /// The password changed since this link or token was issued.
        PasswordChanged = "password_changed",
        /// The body is larger than the route accepts.
        PayloadTooLarge = "payload_too_large",
        /// `If-Match` does not match the current representation, or `If-None-Match` does.
        PreconditionFailed = "precondition_failed",
        /// Too many attempts; see `Retry-After`.
        RateLimited = "rate_limited",
        /// The recipient is already on the campaign.
        RecipientExists = "recipient_exists",
        /// The route needs a user's token, not an API key.
        RequiresUserSession = "requires_user_session",
        /// The caller's role in the organization was lowered while the request was being
        /// answered, after it was checked: nothing was done; send the request again.
        RoleChanged = "role_changed",
        /// The changes feed's `since` token does not open here: sync again from the start.
        SyncTokenExpired = "sync_token_expired",
        /// No credential.
        Unauthorized = "unauthorized",
        /// The database cannot be reached, is saturated or restarting; see `Retry-After`.
        Unavailable = "unavailable",
        /// The body has a field the route does not define.
        UnknownField = "unknown_field",
        /// The query string has a parameter the route does not define.
        UnknownParameter = "unknown_parameter",
        /// The body is not sent as JSON.
        UnsupportedMediaType = "unsupported_media_type",
        /// Some fields are invalid: see `fields`.
        ValidationFailed = "validation_failed",
    }
}

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
    /// This error, inside item `index` of a batch: `[3].type`.
    pub fn in_item(self, index: usize) -> Self {
        Self {
            field: Cow::Owned(format!("[{index}].{}", self.field)),
            ..self
        }
    }

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
    /// The value is of the right type but not acceptable (format, range, choice).
    Invalid,
    /// Longer or larger than allowed: text, a list, an object's size or number of keys.
    TooLong,
    /// Shorter than allowed: empty text (after trimming), a password under its minimum.
    TooShort,
    /// The value names a row (customer, menu, account...) this organization does not have.
    NotFound,
    /// Another record already has this value, which must be unique (on a 409: `email_taken`,
    /// `name_taken`, ...).
    Taken,
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
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
    },
    /// 401: no valid credentials.
    #[error("{message}")]
    Unauthorized {
        /// Machine-readable code.
        code: ErrorCode,
        /// Human-readable explanation.
        message: &'static str,
    },
    /// 403: authenticated, but not allowed.
    #[error("{message}")]
    Forbidden {
        /// Machine-readable code.
        code: ErrorCode,
        /// Human-readable explanation.
        message: &'static str,
    },
    /// 404: absent, or not this organization's (indistinguishable by design).
    #[error("not found")]
    NotFound,
    /// 409: a value that must be unique is another record's; the body names the field
    /// (`fields`, code `taken`), so a form can show the error where it belongs.
    #[error("{message}")]
    Taken {
        /// Machine-readable code (`email_taken`, `name_taken`, ...).
        code: ErrorCode,
        /// The field of the request's body that holds the value.
        field: &'static str,
        /// Human-readable explanation.
        message: &'static str,
    },
    /// 409: the request conflicts with existing data of this organization.
    #[error("{message}")]
    Conflict {
        /// Machine-readable code.
        code: ErrorCode,
        /// Human-readable explanation.
        message: &'static str,
    },
    /// 413 / 415 and other plain HTTP refusals.
    #[error("{message}")]
    Http {
        /// The status.
        status: StatusCode,
        /// Machine-readable code.
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
    },
    /// 429: too many attempts (see [`crate::throttle`]); `Retry-After` says when to retry.
    #[error("too many attempts; retry in {retry_after_secs} s")]
    RateLimited {
        /// Whole seconds until an attempt may succeed (rounded up, at least 1).
        retry_after_secs: u64,
    },
    /// 503: the database cannot be reached, is saturated or restarting, or the transaction was
    /// cut off in a way trying again may cure ([`DbError::is_transient`]).
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

    /// The 403 for a caller whose own email address is not verified yet, where that is required
    /// (an invitation, an API key, an outbound webhook, an Amazon Connect credential:
    /// docs/accounts.md).
    pub fn email_not_verified() -> Self {
        ApiError::Forbidden {
            code: ErrorCode::EmailNotVerified,
            message: "verify your own email address first: open the link mailed to it at signup while signed in, or ask for a new one (POST /v1/me/verify-email)",
        }
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

    /// The answer's `error` code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Validation(_) => ErrorCode::ValidationFailed,
            ApiError::BadRequest { code, .. }
            | ApiError::Unauthorized { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Taken { code, .. }
            | ApiError::Http { code, .. } => *code,
            ApiError::NotFound => ErrorCode::NotFound,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::Unavailable(_) => ErrorCode::Unavailable,
            ApiError::Internal(_) => ErrorCode::InternalError,
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            e if e.is_transient() => ApiError::Unavailable(e),
            DbError::Refused(refusal) => crate::auth::refused(refusal),
            DbError::PermissionDenied { table } => {
                // The handlers refuse a role before the database would (RLS pitfall 8): a 42501
                // that reaches here is a missing grant, a handler that skipped its role check, or
                // a policy's WITH CHECK refusing a row. Answered as a role refusal, logged as what
                // it is.
                tracing::warn!(
                    table,
                    sqlstate = "42501",
                    "the database refused the statement (a privilege, or a policy's WITH CHECK)"
                );
                ApiError::Forbidden {
                    code: crate::error::ErrorCode::Forbidden,
                    message: "your role in this organization does not allow this",
                }
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// Every error's body: `{"error": "code", "message": "...", "fields": [...]}` (docs/api.md).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// A stable snake_case code for programs (the list: docs/api.md).
    #[schema(value_type = ErrorCode)]
    error: &'static str,
    /// A sentence for people; it may change.
    message: String,
    /// On 422, one entry per refused field; on a 409 for a value another record already has
    /// (`email_taken`, `name_taken`, ...), the one field that holds it (code `taken`).
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
            ApiError::Conflict { .. } | ApiError::Taken { .. } => StatusCode::CONFLICT,
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
            ApiError::Taken { field, message, .. } => {
                Some(vec![FieldError::new(*field, FieldCode::Taken, *message)])
            }
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
            error: self.code().as_str(),
            message,
            fields,
        })
    }
}

/// An error answer already built, carried as an [`actix_web::Error`] by a middleware that has no
/// request left to build a `ServiceResponse` with: `crate::catch_panic`'s 500, and the CORS
/// headers `crate::cors` adds to such an answer. It keeps the answer's `error` code, which the
/// request's closing log line and the metrics read as they read an [`ApiError`]'s
/// ([`error_code`]). (actix-web's `InternalError::from_response` carries a response too, but
/// keeps nothing a reader could ask it for.)
pub struct BuiltAnswer {
    code: Option<ErrorCode>,
    status: StatusCode,
    response: std::cell::RefCell<Option<HttpResponse>>,
}

impl BuiltAnswer {
    /// `response`, answered as the error whose code is `code` (`None`: the answer has none).
    pub fn new(code: Option<ErrorCode>, response: HttpResponse) -> Self {
        Self {
            code,
            status: response.status(),
            response: std::cell::RefCell::new(Some(response)),
        }
    }

    /// The `error` code of the answer's body.
    pub fn code(&self) -> Option<ErrorCode> {
        self.code
    }
}

impl std::fmt::Debug for BuiltAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltAnswer")
            .field("code", &self.code)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Display for BuiltAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(f, "{} answered {}", self.status, code.as_str()),
            None => write!(f, "{} answered", self.status),
        }
    }
}

impl ResponseError for BuiltAnswer {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    /// The answer it carries; asked again (actix asks once), its status alone.
    fn error_response(&self) -> HttpResponse {
        self.response
            .borrow_mut()
            .take()
            .unwrap_or_else(|| HttpResponse::new(self.status))
    }
}

/// The `error` code of the answer `e` makes: an [`ApiError`]'s, or a [`BuiltAnswer`]'s; `None`
/// for any other error (actix's own, which Palisade's handlers and extractors replace).
pub fn error_code(e: &actix_web::Error) -> Option<ErrorCode> {
    e.as_error::<ApiError>()
        .map(ApiError::code)
        .or_else(|| e.as_error::<BuiltAnswer>().and_then(BuiltAnswer::code))
}

/// Path parameters that fail to parse answer 400 (ids are parsed by handlers; this is a backstop).
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err: PathError, _req| {
        ApiError::BadRequest {
            code: crate::error::ErrorCode::InvalidPath,
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
        let e = match crate::extract::unknown_field(&text) {
            Some((name, accepted)) => {
                let accepted = accepted.unwrap_or_else(|| "no parameters".to_owned());
                ApiError::BadRequest {
                    code: crate::error::ErrorCode::UnknownParameter,
                    message: format!(
                        "unknown query parameter {name}; this route accepts {accepted}"
                    ),
                }
            }
            None if text.contains("duplicate field `") => ApiError::BadRequest {
                code: crate::error::ErrorCode::DuplicateParameter,
                message: "a query parameter is given more than once".to_owned(),
            },
            None => ApiError::BadRequest {
                code: crate::error::ErrorCode::InvalidQuery,
                message: "the query string could not be read".to_owned(),
            },
        };
        e.into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: &str) -> DbError {
        DbError::Server {
            code: code.into(),
            table: None,
        }
    }

    #[test]
    fn a_permission_the_database_refused_answers_403_and_is_logged_with_its_table() {
        let lines = crate::telemetry::tests::Lines::default();
        let _guard = tracing::subscriber::set_default(crate::telemetry::tests::subscriber(
            &lines,
            tracing::Level::WARN,
        ));
        let e = ApiError::from(DbError::PermissionDenied {
            table: "outbound_webhooks".into(),
        });
        assert_eq!(e.status_code(), StatusCode::FORBIDDEN);
        let logged = lines.take();
        assert!(
            logged.contains("WARN")
                && logged.contains("table=\"outbound_webhooks\"")
                && logged.contains("42501"),
            "{logged}"
        );
    }

    #[test]
    fn database_errors_a_retry_may_cure_answer_503_with_retry_after_and_the_rest_500() {
        for e in [
            DbError::Unavailable("pool timed out".into()),
            DbError::Connection("connection closed".into()),
            server("57P01"),
            server("57P03"),
            server("57014"),
            server("40001"),
        ] {
            let text = e.to_string();
            let resp = ApiError::from(e).error_response();
            assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "{text}");
            assert_eq!(
                resp.headers()
                    .get(header::RETRY_AFTER)
                    .map(|v| v.as_bytes()),
                Some(&b"1"[..]),
                "{text}"
            );
        }
        for e in [
            DbError::Client("error serializing parameter 0".into()),
            DbError::Decode("unexpected null".into()),
            server("23514"),
            // A CHECK no family maps to its field's 422 is a bug: a 500.
            DbError::CheckViolation {
                constraint: "reports_parameters_check".into(),
            },
        ] {
            let text = e.to_string();
            let resp = ApiError::from(e).error_response();
            assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR, "{text}");
            assert!(resp.headers().get(header::RETRY_AFTER).is_none(), "{text}");
        }
    }
}
