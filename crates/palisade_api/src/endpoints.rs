//! The route table: every route the server answers is declared here once, with its handler and
//! its OpenAPI operation, so the routes actix serves and the document at `/openapi.json` come
//! from the same declarations and cannot drift apart (`tests/api/openapi.rs` checks both ways).
//!
//! ```text
//! e.get("/v1/customers", customers::list)
//!     .tag("customers")
//!     .summary("List customers, newest first")
//!     .list_query::<customers::ListQuery>()
//!     .list::<customers::CustomerJson>();
//! ```
//!
//! Each module of `routes/` (and `webhooks/`) has a `register(e: &mut Endpoints)`; the order of
//! registration is the order actix matches in, so a literal segment (`/phone-numbers/available`)
//! comes before a parameter (`/phone-numbers/{id}`). Paths use the same `{name}` syntax in actix
//! and in OpenAPI. Every path's other methods answer 405 with the JSON error body.

use std::borrow::Cow;
use std::collections::BTreeMap;

use actix_web::{FromRequest, Handler, Resource, Responder, web};
use utoipa::openapi::path::{
    HttpMethod, Operation, Parameter, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr,
    Required, SecurityRequirement, Tag,
};
use utoipa::{IntoParams, ToSchema};

use crate::rules::FieldRules;

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Nobody needs a credential (`/healthz`, signup, login, link redemption).
    Public,
    /// A user's bearer token or an API key ([`crate::auth::Caller`]).
    Tenant,
    /// A user's bearer token only ([`crate::auth::UserSession`], or [`crate::auth::SessionToken`]
    /// where the handler needs the token's claims, or [`crate::auth::UserCaller`] where it needs
    /// no role): routes that manage credentials or the user's own account.
    User,
    /// A provider's request signature, checked by the handler (`/webhooks/...`).
    Signature,
}

/// One route: method, path, handler, and its OpenAPI operation.
pub struct Endpoint {
    method: HttpMethod,
    path: &'static str,
    route: Option<actix_web::Route>,
    resource_setup: Vec<Box<dyn FnOnce(Resource) -> Resource>>,
    operation: Operation,
    auth: Auth,
    /// Declared query parameters (`Doc::query`, `Doc::list_query`); without them, any query
    /// string answers 400 `unknown_parameter` (not on provider webhooks, whose providers add
    /// parameters of their own).
    takes_query: bool,
    /// The handler's extractors, as Rust names them (`std::any::type_name` of its argument
    /// tuple), so a test can compare what the document says with what the handler takes.
    extractors: &'static str,
}

/// Every route, in matching order, and the schemas their operations refer to.
#[derive(Default)]
pub struct Endpoints {
    endpoints: Vec<Endpoint>,
    schemas: BTreeMap<String, RefOr<Schema>>,
    /// Names registered twice with different schemas (two types with one OpenAPI name).
    clashes: Vec<String>,
}

/// A `GET` route answers `HEAD` too (RFC 9110 §9.3.2: the same status and headers, no body; actix
/// writes no body for a HEAD request, whatever the handler returns).
fn actix_route(method: &HttpMethod) -> actix_web::Route {
    use actix_web::guard;
    match method {
        HttpMethod::Get => web::route().guard(guard::Any(guard::Get()).or(guard::Head())),
        HttpMethod::Post => web::post(),
        HttpMethod::Put => web::put(),
        HttpMethod::Patch => web::patch(),
        HttpMethod::Delete => web::delete(),
        HttpMethod::Head => web::head(),
        HttpMethod::Options => web::route().method(actix_web::http::Method::OPTIONS),
        HttpMethod::Trace => web::route().method(actix_web::http::Method::TRACE),
    }
}

/// The method as it is written in routes and docs (`GET`).
pub fn method_name(method: &HttpMethod) -> &'static str {
    match method {
        HttpMethod::Get => "GET",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Head => "HEAD",
        HttpMethod::Options => "OPTIONS",
        HttpMethod::Trace => "TRACE",
    }
}

impl Endpoints {
    /// Declares `method path` served by `handler`; the returned [`Doc`] describes it.
    pub fn add<F, Args>(&mut self, method: HttpMethod, path: &'static str, handler: F) -> Doc<'_>
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let route = actix_route(&method).to(handler);
        let mut operation = Operation::new();
        operation.operation_id = Some(operation_id(&method, path));
        for name in path_parameters(path) {
            let schema = ObjectBuilder::new().schema_type(Type::String);
            let schema = if name == "id" || name.ends_with("_id") {
                schema.format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
            } else {
                schema
            };
            push_parameter(
                &mut operation,
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(schema))
                    .build(),
            );
        }
        self.endpoints.push(Endpoint {
            method,
            path,
            route: Some(route),
            resource_setup: Vec::new(),
            operation,
            auth: Auth::Tenant,
            takes_query: false,
            extractors: std::any::type_name::<Args>(),
        });
        let last = self.endpoints.len() - 1;
        Doc {
            endpoints: self,
            index: last,
        }
    }

    /// `GET path`.
    pub fn get<F, Args>(&mut self, path: &'static str, handler: F) -> Doc<'_>
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(HttpMethod::Get, path, handler)
    }

    /// `POST path`.
    pub fn post<F, Args>(&mut self, path: &'static str, handler: F) -> Doc<'_>
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(HttpMethod::Post, path, handler)
    }

    /// `PATCH path`.
    pub fn patch<F, Args>(&mut self, path: &'static str, handler: F) -> Doc<'_>
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(HttpMethod::Patch, path, handler)
    }

    /// `DELETE path`.
    pub fn delete<F, Args>(&mut self, path: &'static str, handler: F) -> Doc<'_>
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(HttpMethod::Delete, path, handler)
    }

    /// Every declared `(method, path)`, in matching order.
    pub fn routes(&self) -> Vec<(&'static str, &'static str)> {
        self.endpoints
            .iter()
            .map(|e| (method_name(&e.method), e.path))
            .collect()
    }

    /// Every declared `(method, path)` with its handler's extractor types, as Rust names them
    /// (e.g. `(palisade_api::auth::Caller, palisade_api::etag::IfMatch, ...)`).
    pub fn extractors(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        self.endpoints
            .iter()
            .map(|e| (method_name(&e.method), e.path, e.extractors))
            .collect()
    }

    /// Schema names declared twice with different schemas, and rules ([`FieldRules`]) naming
    /// a property or parameter that does not exist (must be empty; a test checks).
    pub fn schema_clashes(&self) -> &[String] {
        &self.clashes
    }

    fn add_schema(&mut self, name: String, schema: RefOr<Schema>) {
        match self.schemas.get(&name) {
            Some(existing) if *existing != schema => {
                if !self.clashes.contains(&name) {
                    self.clashes.push(name);
                }
            }
            Some(_) => {}
            None => {
                self.schemas.insert(name, schema);
            }
        }
    }

    fn add_schema_of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        let mut nested = Vec::new();
        T::schemas(&mut nested);
        for (name, schema) in nested {
            self.add_schema(name, schema);
        }
        let name = T::name().into_owned();
        self.add_schema(name.clone(), T::schema());
        RefOr::Ref(Ref::from_schema_name(name))
    }

    /// Registers body `B`'s schema, and those it refers to, with their [`FieldRules`] applied
    /// to their properties.
    fn add_body_schema_of<B: ToSchema + FieldRules>(&mut self) -> RefOr<Schema> {
        let name = B::name().into_owned();
        let mut rules = vec![(name.clone(), B::field_rules())];
        B::nested_rules(&mut rules);
        let mut nested = Vec::new();
        B::schemas(&mut nested);
        nested.push((name.clone(), B::schema()));
        for (schema_name, mut schema) in nested {
            for (_, fields) in rules.iter().filter(|(n, _)| *n == schema_name) {
                for (field, rule) in fields {
                    let property = match &mut schema {
                        RefOr::T(Schema::Object(object)) => object.properties.get_mut(*field),
                        _ => None,
                    };
                    match property {
                        Some(property) => rule.apply(property),
                        None => self
                            .clashes
                            .push(format!("{schema_name}.{field}: a rule for no property")),
                    }
                }
            }
            self.add_schema(schema_name, schema);
        }
        RefOr::Ref(Ref::from_schema_name(name))
    }

    /// Registers every route on `cfg`: one actix resource per path, its methods, and a JSON 405
    /// for the others, whose `Allow` header lists the path's methods (RFC 9110).
    pub fn configure(mut self, cfg: &mut web::ServiceConfig) {
        let mut order: Vec<&'static str> = Vec::new();
        for e in &self.endpoints {
            if !order.contains(&e.path) {
                order.push(e.path);
            }
        }
        for path in order {
            let mut resource = web::resource(path);
            let mut allow: Vec<&'static str> = Vec::new();
            for e in self.endpoints.iter().filter(|e| e.path == path) {
                allow.push(method_name(&e.method));
                if matches!(e.method, HttpMethod::Get) {
                    allow.push("HEAD");
                }
            }
            let allow = allow.join(", ");
            for e in self.endpoints.iter_mut().filter(|e| e.path == path) {
                for setup in e.resource_setup.drain(..) {
                    resource = setup(resource);
                }
                if let Some(route) = e.route.take() {
                    let route = if e.takes_query || e.auth == Auth::Signature {
                        route
                    } else {
                        route.wrap(actix_web::middleware::from_fn(refuse_query))
                    };
                    resource = resource.route(route);
                }
            }
            cfg.service(resource.default_service(web::to(move || {
                std::future::ready(crate::routes::method_not_allowed(&allow))
            })));
        }
    }

    /// The OpenAPI 3.1 document of every route.
    pub fn openapi(&self) -> OpenApi {
        let mut paths = Paths::new();
        let mut tags: Vec<String> = Vec::new();
        for e in &self.endpoints {
            let mut op = e.operation.clone();
            match e.auth {
                Auth::Public | Auth::Signature => {
                    op.security = Some(vec![SecurityRequirement::default()])
                }
                Auth::Tenant => {
                    op.security = Some(vec![
                        SecurityRequirement::new("bearer", Vec::<String>::new()),
                        SecurityRequirement::new("api_key", Vec::<String>::new()),
                    ])
                }
                Auth::User => {
                    op.security = Some(vec![SecurityRequirement::new(
                        "bearer",
                        Vec::<String>::new(),
                    )])
                }
            }
            for t in op.tags.iter().flatten() {
                if !tags.contains(t) {
                    tags.push(t.clone());
                }
            }
            match paths.paths.get_mut(e.path) {
                Some(item) => item.merge_operations(PathItem::new(e.method.clone(), op)),
                None => {
                    paths
                        .paths
                        .insert(e.path.to_owned(), PathItem::new(e.method.clone(), op));
                }
            }
        }
        let components = ComponentsBuilder::new()
            .schemas_from_iter(self.schemas.clone())
            .responses_from_iter(error_responses())
            .security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .description(Some(
                            "A user's token from signup, login, invitation acceptance or a \
                             password change (`Authorization: Bearer <token>`). An API key is \
                             also accepted here.",
                        ))
                        .build(),
                ),
            )
            .security_scheme(
                "api_key",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    crate::auth::API_KEY_HEADER,
                    "An organization's API key (`pk_...`), with the role it was created with.",
                ))),
            )
            .build();
        OpenApiBuilder::new()
            .info(
                InfoBuilder::new()
                    .title("Palisade")
                    .version(env!("CARGO_PKG_VERSION"))
                    .description(Some(
                        "The multi-tenant communications API. Conventions (lists, errors, \
                         idempotency, ids, timestamps): docs/api.md in the repository.",
                    ))
                    .build(),
            )
            .paths(paths)
            .components(Some(components))
            .tags(Some(tags.into_iter().map(Tag::new).collect::<Vec<_>>()))
            .build()
    }
}

/// A route that declares no query parameters refuses any query string, like an unknown body
/// field: `GET /v1/customers/{id}?expand=x` must not silently ignore `expand`.
async fn refuse_query(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    if req.query_string().is_empty() {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    }
    let name = form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, _)| k.into_owned())
        .find(|k| !k.is_empty())
        .unwrap_or_default();
    let error = crate::ApiError::BadRequest {
        code: crate::error::ErrorCode::UnknownParameter,
        message: format!("unknown query parameter {name}; this route takes none"),
    };
    Ok(req.error_response(error))
}

fn operation_id(method: &HttpMethod, path: &str) -> String {
    let mut id = method_name(method).to_ascii_lowercase();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        let seg = seg.trim_start_matches('{').trim_end_matches('}');
        id.extend(
            seg.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    id
}

fn path_parameters(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_owned)
        .collect()
}

fn header_parameter(name: &str, description: &str, schema: Schema) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn push_parameter(op: &mut Operation, p: Parameter) {
    op.parameters.get_or_insert_with(Vec::new).push(RefOr::T(p));
}

fn json_response(description: &str, schema: Option<RefOr<Schema>>) -> Response {
    let builder = ResponseBuilder::new().description(description);
    match schema {
        Some(s) => builder
            .content(
                "application/json",
                ContentBuilder::new().schema(Some(s)).build(),
            )
            .build(),
        None => builder.build(),
    }
}

/// A response header of type string (or integer), documented with `description`.
fn response_header(description: &str, integer: bool) -> RefOr<utoipa::openapi::header::Header> {
    let schema =
        ObjectBuilder::new().schema_type(if integer { Type::Integer } else { Type::String });
    RefOr::T(
        utoipa::openapi::HeaderBuilder::new()
            .schema(Some(schema))
            .description(Some(description))
            .build(),
    )
}

/// The OpenAPI extension that marks a response property as a secret (a token, a key, a signing
/// secret): `#[schema(extensions(("x-palisade-secret" = json!(true))))]` on the field. Not
/// `format: password`, which request bodies use for what a client types: code generators map
/// that format to masked types (datamodel-code-generator's pydantic `SecretStr`, which prints
/// and serializes as `**********`), so a generated client would send `Bearer **********` or lose
/// a key shown once (review r4, stop 64).
pub const SECRET_EXTENSION: &str = "x-palisade-secret";

/// Whether a response body's schema has a property marked as a secret ([`SECRET_EXTENSION`]),
/// which only an answer that no cache may keep carries (`crate::resource::never_stored`). Its
/// own properties and those of its `allOf` parts (a `...WithKey` is the row's schema, referred
/// to, and the secret's property), not the schemas it refers to.
pub fn carries_secret(schema: &RefOr<Schema>) -> bool {
    match schema {
        RefOr::T(Schema::Object(o)) => o.properties.values().any(|p| {
            matches!(p, RefOr::T(Schema::Object(p))
                if p.extensions.as_ref().and_then(|e| e.get(SECRET_EXTENSION))
                    == Some(&serde_json::Value::Bool(true)))
        }),
        RefOr::T(Schema::AllOf(a)) => a.items.iter().any(carries_secret),
        _ => false,
    }
}

/// The headers of an answer that carries a secret (`crate::resource::never_stored`), declared
/// on `response`: `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 section 5.1).
fn document_never_stored(response: &mut Response) {
    for (name, value, description) in [
        (
            "Cache-Control",
            "no-store",
            "`no-store`: this answer carries a secret, which no cache, shared or the client's \
             own, may keep (RFC 6749 section 5.1).",
        ),
        (
            "Pragma",
            "no-cache",
            "`no-cache`, for HTTP/1.0 caches, which know no `Cache-Control` (RFC 6749 section \
             5.1).",
        ),
    ] {
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([value]));
        response.headers.insert(
            name.to_owned(),
            RefOr::T(
                utoipa::openapi::HeaderBuilder::new()
                    .schema(Some(schema))
                    .description(Some(description))
                    .build(),
            ),
        );
    }
}

/// `X-Request-Id`, on every answer (`crate::telemetry::add_request_id_header`).
fn request_id_header() -> RefOr<utoipa::openapi::header::Header> {
    response_header(
        "This request's id, which every log line about it carries: quote it when reporting a \
         problem.",
        false,
    )
}

fn string_schema(format: Option<KnownFormat>) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(format.map(SchemaFormat::KnownFormat))
        .into()
}

/// Describes the endpoint just declared. Methods may be chained in any order.
pub struct Doc<'a> {
    endpoints: &'a mut Endpoints,
    index: usize,
}

impl Doc<'_> {
    fn op(&mut self) -> &mut Operation {
        &mut self.endpoints.endpoints[self.index].operation
    }

    fn respond(&mut self, status: &str, response: Response) -> &mut Self {
        self.op()
            .responses
            .responses
            .insert(status.to_owned(), RefOr::T(response));
        self
    }

    /// The family it belongs to (the document's tag).
    pub fn tag(&mut self, tag: &str) -> &mut Self {
        self.op().tags = Some(vec![tag.to_owned()]);
        self
    }

    /// One line for people.
    pub fn summary(&mut self, summary: &str) -> &mut Self {
        self.op().summary = Some(summary.to_owned());
        self
    }

    /// More for people (Markdown).
    pub fn describe(&mut self, description: &str) -> &mut Self {
        self.op().description = Some(description.to_owned());
        self
    }

    /// Who may call it (default [`Auth::Tenant`]).
    pub fn auth(&mut self, auth: Auth) -> &mut Self {
        self.endpoints.endpoints[self.index].auth = auth;
        self
    }

    /// Configures the actix resource of this path (app data such as a body size limit).
    pub fn resource(&mut self, setup: impl FnOnce(Resource) -> Resource + 'static) -> &mut Self {
        self.endpoints.endpoints[self.index]
            .resource_setup
            .push(Box::new(setup));
        self
    }

    /// Query parameters from `Q`'s `IntoParams`, with `Q`'s [`FieldRules`].
    pub fn query<Q: IntoParams + FieldRules>(&mut self) -> &mut Self {
        self.endpoints.endpoints[self.index].takes_query = true;
        let params = Q::into_params(|| Some(ParameterIn::Query));
        for (field, _) in Q::field_rules() {
            if !params.iter().any(|p| p.name == field) {
                let clash = format!("query {field}: a rule for no parameter");
                self.endpoints.clashes.push(clash);
            }
        }
        let rules = Q::field_rules();
        for mut p in params {
            if let (Some((_, rule)), Some(schema)) = (
                rules.iter().find(|(name, _)| *name == p.name),
                p.schema.as_mut(),
            ) {
                rule.apply(schema);
            }
            push_parameter(self.op(), p);
        }
        self
    }

    /// A list's query: the shared `limit`, `cursor`, `created_after`, `created_before`
    /// ([`crate::list`]) and `Q`'s filters.
    pub fn list_query<Q: IntoParams + FieldRules>(&mut self) -> &mut Self {
        let common: [(&str, &str, Schema); 4] = [
            (
                "limit",
                "Items per page, 1 to 100 (default 50).",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(100))
                    .into(),
            ),
            (
                "cursor",
                "The previous page's `next_cursor`, unchanged; bound to this list and its filters.",
                string_schema(None),
            ),
            (
                "created_after",
                "Only items created at or after this instant (inclusive).",
                string_schema(Some(KnownFormat::DateTime)),
            ),
            (
                "created_before",
                "Only items created before this instant (exclusive).",
                string_schema(Some(KnownFormat::DateTime)),
            ),
        ];
        for (name, description, schema) in common {
            push_parameter(
                self.op(),
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(description))
                    .schema(Some(schema))
                    .build(),
            );
        }
        self.query::<Q>()
    }

    /// A JSON request body of type `B`, with `B`'s [`FieldRules`] applied to its properties.
    pub fn body<B: ToSchema + FieldRules>(&mut self) -> &mut Self {
        let schema = self.endpoints.add_body_schema_of::<B>();
        self.op().request_body = Some(RefOr::T(
            RequestBodyBuilder::new()
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(schema)).build(),
                )
                .required(Some(Required::True))
                .build(),
        ));
        self
    }

    /// A request body that is not JSON (a provider's form post, raw bytes), described in words.
    pub fn raw_body(&mut self, content_type: &str, description: &str) -> &mut Self {
        self.op().request_body = Some(RefOr::T(
            RequestBodyBuilder::new()
                .description(Some(description))
                .content(content_type, ContentBuilder::new().build())
                .required(Some(Required::True))
                .build(),
        ));
        // Every raw body is read up to its route's limit: 413 past it (`extract::RawBody`,
        // Stripe's own reader).
        self.errors(&[413])
    }

    /// `status` with a JSON body of type `T` (documented as never stored when `T` carries a
    /// secret: [`carries_secret`]).
    pub fn returns<T: ToSchema>(&mut self, status: u16, description: &str) -> &mut Self {
        let schema = self.endpoints.add_schema_of::<T>();
        let mut response = json_response(description, Some(schema));
        if carries_secret(&T::schema()) {
            document_never_stored(&mut response);
        }
        self.respond(&status.to_string(), response)
    }

    /// 200 with `T`.
    pub fn ok<T: ToSchema>(&mut self) -> &mut Self {
        self.returns::<T>(200, "OK")
    }

    /// 201 with `T` and a `Location` header (the created resource's URL); documented as never
    /// stored when `T` carries a secret ([`carries_secret`]).
    pub fn created<T: ToSchema>(&mut self) -> &mut Self {
        let schema = self.endpoints.add_schema_of::<T>();
        let mut response = json_response("Created", Some(schema));
        if carries_secret(&T::schema()) {
            document_never_stored(&mut response);
        }
        response.headers.insert(
            "Location".to_owned(),
            RefOr::T(
                utoipa::openapi::HeaderBuilder::new()
                    .schema(Some(string_schema(None)))
                    .description(Some("The created resource's URL."))
                    .build(),
            ),
        );
        self.respond("201", response)
    }

    /// 200 with a page of `T`: `{"data": [T], "next_cursor": string | null}`.
    pub fn list<T: ToSchema>(&mut self) -> &mut Self {
        let item = self.endpoints.add_schema_of::<T>();
        let page: Schema = ObjectBuilder::new()
            .property("data", ArrayBuilder::new().items(item))
            .required("data")
            .property(
                "next_cursor",
                ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::Array(vec![
                    Type::String,
                    Type::Null,
                ])),
            )
            .required("next_cursor")
            .into();
        self.respond(
            "200",
            json_response("A page, newest first", Some(RefOr::T(page))),
        )
    }

    /// 200 with a page of a changes feed of `T` (docs/api.md, "Incremental sync"):
    /// `{"changed": [T], "deleted": [D], "next_since": string, "has_more": boolean}`, `D` being
    /// what is said of a deleted row.
    pub fn changes<T: ToSchema, D: ToSchema>(&mut self) -> &mut Self {
        let item = self.endpoints.add_schema_of::<T>();
        let deleted = self.endpoints.add_schema_of::<D>();
        let page: Schema = ObjectBuilder::new()
            .property(
                "changed",
                ArrayBuilder::new().items(item).description(Some(
                    "Created or changed since `since` (every one in a sync from the start), as \
                     they are now.",
                )),
            )
            .required("changed")
            .property(
                "deleted",
                ArrayBuilder::new().items(deleted).description(Some(
                    "Deleted since `since` (none in a sync from the start).",
                )),
            )
            .required("deleted")
            .property(
                "next_since",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(
                        "Pass as `since` for the next page while `has_more`; after the last page, \
                     keep it for the next sync. Opaque.",
                    )),
            )
            .required("next_since")
            .property(
                "has_more",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .description(Some("Whether another page follows.")),
            )
            .required("has_more")
            .into();
        self.respond(
            "200",
            json_response(
                "A page of changes, in the order they were made",
                Some(RefOr::T(page)),
            ),
        )
    }

    /// 204 with no body.
    pub fn no_content(&mut self) -> &mut Self {
        self.respond("204", json_response("Done; no body", None))
    }

    /// A response whose body is described in words only (plain text, TwiML, an empty 200).
    pub fn plain(&mut self, status: u16, content_type: &str, description: &str) -> &mut Self {
        let response = ResponseBuilder::new()
            .description(description)
            .content(content_type, ContentBuilder::new().build())
            .build();
        self.respond(&status.to_string(), response)
    }

    /// A `status` answer with no body (and no `Content-Type`).
    pub fn empty(&mut self, status: u16, description: &str) -> &mut Self {
        let response = ResponseBuilder::new().description(description).build();
        self.respond(&status.to_string(), response)
    }

    /// Error statuses this operation may answer besides the ones every operation may (400, 401
    /// where it needs a credential, 500, 503), each with the error body.
    pub fn errors(&mut self, statuses: &[u16]) -> &mut Self {
        self.endpoints.add_schema_of::<crate::error::ErrorBody>();
        for status in statuses {
            let reference = Ref::new(format!("#/components/responses/{status}"));
            self.op()
                .responses
                .responses
                .insert(status.to_string(), RefOr::Ref(reference));
        }
        self
    }
}

/// The shared error responses, by status (`#/components/responses/<status>`).
fn error_responses() -> Vec<(String, RefOr<Response>)> {
    let schema = RefOr::Ref(Ref::from_schema_name("Error"));
    [400u16, 401, 403, 404, 406, 409, 410, 412, 413, 415, 422, 429, 500, 503]
        .into_iter()
        .map(|status| {
            let description = match status {
                400 => "The request cannot be read (malformed JSON, unknown field or parameter, bad id or cursor)",
                401 => "No valid credential",
                403 => "The credential's role does not allow this",
                404 => "Not found in this organization (another organization's id answers the same)",
                406 => "A provider's signed delivery that cannot be used as it is (Mailgun does not retry a 406)",
                409 => "Conflicts with this organization's data or the resource's state; `role_changed`: the caller's role was lowered while the request was answered (nothing was done: send it again)",
                410 => "The sync token is not good here (`sync_token_expired`): replace the copy with a sync from the start",
                412 => "A precondition failed (nothing was changed): `If-Match` does not match the current representation, or `If-None-Match` does (or is `*`)",
                413 => "The body is too large",
                415 => "The body is not JSON",
                422 => "Some fields are invalid (see `fields`)",
                429 => "Too many attempts; see Retry-After",
                500 => "A bug; the cause is logged with the request id, never sent",
                503 => "Temporarily unavailable; see Retry-After",
                _ => "Error",
            };
            let mut response = json_response(description, Some(schema.clone()));
            response
                .headers
                .insert(REQUEST_ID.to_owned(), request_id_header());
            let retry_after = match status {
                429 => Some("Seconds to wait before trying again (always sent with a 429)."),
                503 => Some(
                    "Seconds to wait before trying again (sent when the database is \
                     unavailable, `unavailable`).",
                ),
                _ => None,
            };
            if let Some(description) = retry_after {
                response
                    .headers
                    .insert("Retry-After".to_owned(), response_header(description, true));
            }
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

/// The header every answer carries.
pub const REQUEST_ID: &str = "X-Request-Id";
/// The header of an answer replayed for a repeated `Idempotency-Key` (`crate::idempotency`).
pub const IDEMPOTENCY_REPLAYED: &str = "Idempotency-Replayed";

/// The tenant POSTs that take no `Idempotency-Key`: the password change (its body is a
/// password, of which nothing is kept), the token renewal (a stored answer would keep a token),
/// signing out everywhere (its retry answers 401: the first call ended the token it carries),
/// a new email verification link (a retry mails another link, which replaces the last; a stored
/// answer would mail nothing while the link it spoke of was lost), confirming one (a retry after
/// it was consumed answers 409 `email_already_verified`, which says it is done), and the
/// chatbot's `ask`, which writes nothing.
const POSTS_WITHOUT_IDEMPOTENCY: &[&str] = &[
    "/v1/me/password",
    "/v1/me/token",
    "/v1/me/revoke-tokens",
    "/v1/me/verify-email",
    "/v1/me/confirm-email",
    "/v1/chatbot/ask",
];

/// The items that are one per organization, at a path without an id: `If-Match` applies to
/// their PATCH and DELETE like an item's.
const SINGLETONS: &[&str] = &["/v1/organization", "/v1/chatbot/settings"];

/// The GETs under `/v1` whose answer is `Cache-Control: no-store`, which `crate::etag::add_etag`
/// always sends whole (no 304).
pub const NO_STORE_GETS: &[&str] = &["/v1/organization/export"];

impl Drop for Doc<'_> {
    /// Adds the responses every operation may give, and the headers of the shared contracts:
    /// `Idempotency-Key` and 422 on every tenant POST (`crate::idempotency`; not
    /// `POSTS_WITHOUT_IDEMPOTENCY`), `If-Match`, `If-None-Match` and 412 on every PATCH and DELETE of an item
    /// (or of one of the `SINGLETONS`), `ETag` on every JSON 200 of a GET (and its HEAD, which
    /// the document does not list) or PATCH under `/v1` (`crate::etag`).
    fn drop(&mut self) {
        let auth = self.endpoints.endpoints[self.index].auth;
        let (method, path) = {
            let e = &self.endpoints.endpoints[self.index];
            (e.method.clone(), e.path)
        };
        let tenant = matches!(auth, Auth::Tenant | Auth::User);
        if tenant && method == HttpMethod::Post && !POSTS_WITHOUT_IDEMPOTENCY.contains(&path) {
            let p = header_parameter(
                "Idempotency-Key",
                "1 to 255 printable ASCII characters (a space only between others: HTTP \
                 drops it at either end). The same key and request within 24 hours \
                 replay the first response (with `Idempotency-Replayed: true`); the same key \
                 with another request answers 422 `idempotency_key_reused`.",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(crate::idempotency::MAX_KEY_LEN))
                    .pattern(Some("^[!-~]([ -~]*[!-~])?$"))
                    .into(),
            );
            push_parameter(self.op(), p);
            for (status, response) in self.op().responses.responses.iter_mut() {
                if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
                    response.headers.insert(
                        IDEMPOTENCY_REPLAYED.to_owned(),
                        response_header(
                            "`true` when this is the first response to this request's \
                             `Idempotency-Key`, answered again (nothing was done this time); \
                             absent otherwise.",
                            false,
                        ),
                    );
                }
            }
            // A reused key is refused 422 `idempotency_key_reused`, even on an operation
            // whose body has no field to refuse.
            if !self.op().responses.responses.contains_key("422") {
                self.errors(&[422]);
            }
        }
        let item = path.ends_with('}') || SINGLETONS.contains(&path);
        if tenant && item && matches!(method, HttpMethod::Patch | HttpMethod::Delete) {
            let p = header_parameter(
                "If-Match",
                "An `ETag` from a GET (or `*`): the change applies only if the resource still \
                 has it, else 412 `precondition_failed` and nothing changes.",
                string_schema(None),
            );
            push_parameter(self.op(), p);
            let p = header_parameter(
                "If-None-Match",
                "`ETag`s (or `*`): the change applies only if the resource has none of them \
                 (RFC 9110 §13.1.2: only if it changed since), else 412 `precondition_failed` \
                 and nothing changes.",
                string_schema(None),
            );
            push_parameter(self.op(), p);
            if !self.op().responses.responses.contains_key("412") {
                self.errors(&[412]);
            }
        }
        if tenant
            && path.starts_with("/v1")
            && matches!(method, HttpMethod::Get | HttpMethod::Patch)
            && let Some(RefOr::T(ok)) = self.op().responses.responses.get_mut("200")
            && ok.content.keys().any(|c| c == "application/json")
        {
            let etag = utoipa::openapi::header::HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .description(Some(
                    "A strong validator of this body (`\"<32 hex digits>\"`), for `If-Match` on \
                     a later PATCH or DELETE of the item.",
                ))
                .build();
            ok.headers.insert("ETag".to_owned(), RefOr::T(etag));
            // `crate::etag::add_etag`: a GET naming the current tag gets no body again.
            if method == HttpMethod::Get && !NO_STORE_GETS.contains(&path) {
                let mut not_modified = ResponseBuilder::new()
                    .description(
                        "`If-None-Match` names the current `ETag`: the representation has not \
                         changed, and is not sent again",
                    )
                    .build();
                not_modified.headers.insert(
                    "ETag".to_owned(),
                    response_header("The current tag (the one named).", false),
                );
                self.op()
                    .responses
                    .responses
                    .insert("304".to_owned(), RefOr::T(not_modified));
                let p = header_parameter(
                    "If-None-Match",
                    "`ETag`s from earlier GETs of this URL (or `*`): when one is still current \
                     (weak comparison), the answer is 304 with no body.",
                    string_schema(None),
                );
                push_parameter(self.op(), p);
            }
        }
        let (has_input, refuses_query) = {
            let e = &self.endpoints.endpoints[self.index];
            let op = &e.operation;
            (
                op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty()),
                // `refuse_query` answers 400 to any query string on such a route.
                !e.takes_query && auth != Auth::Signature,
            )
        };
        let mut statuses = vec![500, 503];
        if has_input || refuses_query {
            statuses.push(400);
        }
        if matches!(auth, Auth::Tenant | Auth::User | Auth::Signature) {
            statuses.push(401);
        }
        // A handler that checks the role before its transaction (`UserSession`) answers 409
        // `role_changed` when the role was lowered in between (`crate::auth::Tenant::begin`).
        if checks_role_before_its_transaction(self.endpoints.endpoints[self.index].extractors) {
            statuses.push(409);
        }
        let missing: Vec<u16> = statuses
            .into_iter()
            .filter(|s| {
                !self.endpoints.endpoints[self.index]
                    .operation
                    .responses
                    .responses
                    .contains_key(&s.to_string())
            })
            .collect();
        self.errors(&missing);
        // Every answer carries its request id; the shared error responses declare it too.
        for response in self.op().responses.responses.values_mut() {
            if let RefOr::T(response) = response {
                response
                    .headers
                    .insert(REQUEST_ID.to_owned(), request_id_header());
            }
        }
    }
}

/// Whether a handler's extractors (`std::any::type_name` of its arguments) hold one that looks
/// the credential up before the handler's transaction and relies on its role there:
/// [`crate::auth::UserSession`]. (A resource family's writer takes a user's session only in the
/// families whose writes manage credentials (`USER_SESSION_WRITES`), and their routes declare
/// their 409 themselves; [`crate::auth::SessionToken`]'s routes rely on no role.)
pub fn checks_role_before_its_transaction(extractors: &str) -> bool {
    extractors
        .split(['(', ')', ',', ' ', '<', '>'])
        .any(|t| t == "palisade_api::auth::UserSession")
}

/// The served document's JSON (`GET /openapi.json`).
pub fn document_json(e: &Endpoints) -> Cow<'static, str> {
    match e.openapi().to_pretty_json() {
        Ok(s) => Cow::Owned(s),
        Err(_) => Cow::Borrowed("{}"),
    }
}
