//! Route table. Every `/v1` route except those under `/v1/auth` takes a [`crate::auth::Caller`]
//! (checked by its transaction), or a [`crate::auth::UserSession`] (a user's token, never an API
//! key, looked up before) where it manages credentials or members, deletes the organization or
//! changes the user's own account (a [`crate::auth::SessionToken`] where it needs the token's
//! claims; `PATCH /v1/me`, which relies on no role, a [`crate::auth::UserCaller`]: a user's
//! token checked by its transaction).

mod accounts;
mod analytics;
mod api_keys;
mod auth;
mod aws_connect;
mod billing;
mod chat;
mod chatbot;
mod customers;
pub mod docs_page;
mod fields;
mod health;
mod integrations;
mod ivr_menus;
mod knowledge_base;
mod members;
mod messaging;
mod organization;
mod outbound_webhooks;
mod phone_numbers;
mod query_params;
mod reports;
mod social;
mod webhook_deliveries;

use actix_web::{HttpResponse, web};

use crate::ApiError;
use crate::endpoints::{Auth, Endpoints};

/// Declares every route (see [`crate::endpoints`]), in matching order. `stripe` reaches
/// `POST /webhooks/stripe` alone.
pub fn register(e: &mut Endpoints, stripe: Option<crate::webhooks::stripe::StripeSetup>) {
    e.get("/openapi.json", openapi_json)
        .auth(Auth::Public)
        .tag("meta")
        .summary("This API's OpenAPI 3.1 document")
        .plain(200, "application/json", "The document");
    docs_page::register(e);
    e.get("/healthz", health::healthz)
        .auth(Auth::Public)
        .tag("meta")
        .summary("The process is up")
        .ok::<health::HealthJson>();
    e.get("/readyz", health::readyz)
        .auth(Auth::Public)
        .tag("meta")
        .summary("The database answers as the app role")
        .ok::<health::ReadyJson>();
    crate::webhooks::stripe::register(e, stripe);
    crate::webhooks::register(e);
    e.post("/v1/auth/signup", auth::signup)
        .auth(Auth::Public)
        .tag("auth")
        .summary("Create an organization and its owner")
        .describe("Answers a token for the owner; `Location` is `/v1/organization`.")
        .body::<auth::SignupBody>()
        .created::<auth::TokenResponse>()
        .errors(&[409, 413, 415, 422, 429]);
    e.post("/v1/auth/login", auth::login)
        .auth(Auth::Public)
        .tag("auth")
        .summary("Log in with email and password")
        .body::<auth::LoginBody>()
        .ok::<auth::TokenResponse>()
        .errors(&[401, 413, 415, 422, 429]);
    e.post("/v1/auth/accept-invitation", accounts::accept_invitation)
        .auth(Auth::Public)
        .tag("accounts")
        .summary("Accept an invitation and create your account")
        .body::<accounts::AcceptBody>()
        .created::<auth::TokenResponse>()
        .errors(&[409, 413, 415, 422, 429]);
    e.post(
        "/v1/auth/request-password-reset",
        accounts::request_password_reset,
    )
    .auth(Auth::Public)
    .tag("accounts")
    .summary("Mail a password-reset link")
    .describe("Always the same 202, whether the email has an account or not.")
    .body::<accounts::ResetRequestBody>()
    .returns::<accounts::ResetRequestedJson>(202, "Accepted")
    .errors(&[413, 415, 422, 429]);
    e.post("/v1/auth/reset-password", accounts::reset_password)
        .auth(Auth::Public)
        .tag("accounts")
        .summary("Set a new password with a reset link")
        .body::<accounts::ResetBody>()
        .no_content()
        .errors(&[413, 415, 422, 429]);
    e.get("/v1/me", auth::me)
        .tag("auth")
        .summary("The caller: user, organization and the credential's effective role")
        .ok::<auth::MeJson>();
    e.patch("/v1/me", auth::update_me)
        .auth(Auth::User)
        .tag("auth")
        .summary("Change your own name")
        .describe("Any role may; a user's session only (an API key gets 403 `requires_user_session`). Answers what `GET /v1/me` does")
        .body::<auth::MePatchBody>()
        .ok::<auth::MeJson>()
        .errors(&[403, 413, 415, 422]);
    accounts::register(e);
    customers::register(e);
    messaging::register(e);
    chat::register(e);
    ivr_menus::register(e);
    phone_numbers::register(e);
    knowledge_base::register(e);
    chatbot::register(e);
    reports::register(e);
    analytics::register(e);
    social::register(e);
    integrations::register(e);
    aws_connect::register(e);
    outbound_webhooks::register(e);
    webhook_deliveries::register(e);
    api_keys::register(e);
    members::register(e);
    organization::register(e);
    billing::register(e);
}

/// The document, built once from the same declarations as the routes.
pub struct OpenApiJson(pub std::borrow::Cow<'static, str>);

async fn openapi_json(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.to_string())
}

/// Unknown paths: a JSON 404 like every other error (its message says no route matched).
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::Http {
        status: actix_web::http::StatusCode::NOT_FOUND,
        code: crate::error::ErrorCode::NotFound,
        message: "no route matches this path".into(),
    })
}

/// 405 `method_not_allowed`, with the `Allow` header RFC 9110 requires: `allow` lists the
/// path's methods (`GET, POST`).
pub(crate) fn method_not_allowed(allow: &str) -> HttpResponse {
    // Made from the error, which the answer carries: the request's log line and metrics read
    // its code there.
    let mut response = HttpResponse::from_error(ApiError::Http {
        status: actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
        code: crate::error::ErrorCode::MethodNotAllowed,
        message: "this method is not allowed on this resource".into(),
    });
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(allow) {
        response
            .headers_mut()
            .insert(actix_web::http::header::ALLOW, value);
    }
    response
}

/// A 201 with `Location: <collection>/<id>`, the created resource's own URL.
pub(crate) fn created(
    collection: &'static str,
    id: impl std::fmt::Display,
    body: impl serde::Serialize,
) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("{collection}/{id}"),
        ))
        .json(body)
}

/// Parses a path id; a malformed one answers 400 (it cannot name any row).
pub(crate) fn parse_id<T>(
    raw: &str,
    parse: fn(&str) -> Result<T, palisade_domain::ParseError>,
) -> Result<T, ApiError> {
    parse(raw).map_err(|_| ApiError::BadRequest {
        code: crate::error::ErrorCode::InvalidId,
        message: "ids are UUIDs".into(),
    })
}

/// Collects field errors while parsing a request body into domain types.
#[derive(Default)]
pub(crate) struct Fields(Vec<crate::error::FieldError>);

impl Fields {
    /// Parses a required field.
    pub(crate) fn required<T>(
        &mut self,
        field: &'static str,
        raw: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, palisade_domain::ParseError>,
    ) -> Option<T> {
        match raw {
            None => {
                self.0.push(crate::error::FieldError::new(
                    field,
                    crate::error::FieldCode::Required,
                    "is required",
                ));
                None
            }
            Some(v) => self.optional(field, Some(v), parse),
        }
    }

    /// Parses an optional field (absent is fine).
    pub(crate) fn optional<T>(
        &mut self,
        field: &'static str,
        raw: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, palisade_domain::ParseError>,
    ) -> Option<T> {
        self.optional_value(field, raw, parse)
    }

    /// Fails with every collected error, if any; else the parsed values, unwrapped: `let (name,
    /// role) = f.finish_with((name, role))?;`. A value missing without a recorded error is a bug
    /// (500).
    pub(crate) fn finish_with<V: AllParsed>(self, values: V) -> Result<V::Parsed, ApiError> {
        self.finish()?;
        values
            .all_parsed()
            .ok_or_else(|| ApiError::internal("validated fields missing"))
    }

    /// Fails with every collected error, if any.
    pub(crate) fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

/// Parsed values, each `None` when its field was refused: see [`Fields::finish_with`].
pub(crate) trait AllParsed {
    /// The values without their `Option`s.
    type Parsed;
    /// The values, when every one is there.
    fn all_parsed(self) -> Option<Self::Parsed>;
}

impl<A> AllParsed for Option<A> {
    type Parsed = A;
    fn all_parsed(self) -> Option<A> {
        self
    }
}

macro_rules! all_parsed_tuple {
    ($($t:ident),+) => {
        impl<$($t),+> AllParsed for ($(Option<$t>,)+) {
            type Parsed = ($($t,)+);
            #[allow(non_snake_case)]
            fn all_parsed(self) -> Option<Self::Parsed> {
                let ($($t,)+) = self;
                Some(($($t?,)+))
            }
        }
    };
}
all_parsed_tuple!(A, B);
all_parsed_tuple!(A, B, C);
all_parsed_tuple!(A, B, C, D);

/// Deserializes a PATCH field that may be absent (`None`, with `#[serde(default)]`) but not
/// null: `null` fails like a wrong type, which answers 422 `required` "cannot be null" with the
/// field's path (`crate::extract`). For required fields; optional ones use [`nullable`].
pub(crate) fn not_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    match <Option<T> as serde::Deserialize>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(serde::de::Error::invalid_type(
            serde::de::Unexpected::Unit,
            &"a value",
        )),
    }
}

/// Deserializes a field that may be absent (outer `None`), null (`Some(None)`) or a value.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}
