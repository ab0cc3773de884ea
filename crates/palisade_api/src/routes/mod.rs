//! Route table. Every `/v1` route except those under `/v1/auth` takes a [`crate::auth::Tenant`],
//! or a [`crate::auth::UserSession`] (a user's token, never an API key) where it manages
//! credentials.

mod accounts;
mod analytics;
mod api_keys;
mod auth;
mod billing;
mod chat;
mod customers;
mod fields;
mod health;
mod integrations;
mod ivr_menus;
mod knowledge_base;
mod members;
mod messaging;
mod organization;
mod phone_numbers;
mod query_params;
mod reports;
mod social;
mod webhook_deliveries;
mod webhooks;

use actix_web::{HttpResponse, web};

use crate::ApiError;

/// Registers every route. `stripe` reaches `POST /webhooks/stripe` alone.
pub fn configure(
    stripe: Option<crate::webhooks::stripe::StripeSetup>,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| configure_routes(cfg, stripe)
}

fn configure_routes(
    cfg: &mut web::ServiceConfig,
    stripe: Option<crate::webhooks::stripe::StripeSetup>,
) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .configure(crate::webhooks::stripe::configure(stripe))
        .service(
            web::scope("/v1")
                .route("/auth/signup", web::post().to(auth::signup))
                .route("/auth/login", web::post().to(auth::login))
                .route(
                    "/auth/accept-invitation",
                    web::post().to(accounts::accept_invitation),
                )
                .route(
                    "/auth/request-password-reset",
                    web::post().to(accounts::request_password_reset),
                )
                .route(
                    "/auth/reset-password",
                    web::post().to(accounts::reset_password),
                )
                .route("/me", web::get().to(auth::me))
                .configure(accounts::configure)
                .service(
                    web::resource("/customers")
                        .route(web::get().to(customers::list))
                        .route(web::post().to(customers::create))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/customers/{id}")
                        .route(web::get().to(customers::get))
                        .route(web::patch().to(customers::update))
                        .route(web::delete().to(customers::delete))
                        .default_service(web::to(method_not_allowed)),
                )
                .configure(messaging::configure)
                .configure(chat::configure)
                .configure(ivr_menus::configure)
                .configure(phone_numbers::configure)
                .configure(knowledge_base::configure)
                .configure(reports::configure)
                .configure(analytics::configure)
                .configure(social::configure)
                .configure(integrations::configure)
                .configure(webhooks::configure)
                .configure(webhook_deliveries::configure)
                .configure(api_keys::configure)
                .configure(members::configure)
                .configure(organization::configure)
                .configure(billing::configure),
        );
}

/// Unknown paths: a JSON 404 like every other error.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

pub(crate) async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::Http {
        status: actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        message: "this method is not allowed on this resource".into(),
    })
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
        code: "invalid_id",
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
        match parse(raw?) {
            Ok(v) => Some(v),
            Err(e) => {
                self.invalid(field, e.reason());
                None
            }
        }
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

/// Deserializes a field that may be absent (outer `None`), null (`Some(None)`) or a value.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}
