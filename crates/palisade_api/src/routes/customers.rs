//! `/v1/customers`: keyset-paginated list with filters, create, read, update, delete.
//! Another organization's customer id answers 404, exactly like a missing one: RLS makes the
//! row invisible, so the handler cannot tell the difference either.

use actix_web::{HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::customers::{self as db, Customer, CustomerFilter, CustomerPatch, NewCustomer};
use palisade_domain::{CustomerId, CustomerName, EmailAddress, PhoneNumber};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Fields, nullable, parse_id};
use crate::auth::Tenant;
use crate::endpoints::Endpoints;
use crate::etag::IfMatch;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::list::List;
use crate::{ApiError, AppState};

/// A customer as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Customer)]
pub struct CustomerJson {
    id: Uuid,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<Customer> for CustomerJson {
    fn from(c: Customer) -> Self {
        Self {
            id: c.id,
            name: c.name,
            email: c.email,
            phone: c.phone,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// List filters.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Exact email (normalised).
    #[param(format = Email)]
    email: Option<String>,
    /// Case-insensitive substring of the name.
    name: Option<String>,
}

/// Declares the customer routes: the model every resource follows (docs/adding-a-resource.md).
pub(crate) fn register(e: &mut Endpoints) {
    e.get("/v1/customers", list)
        .tag("customers")
        .summary("List customers")
        .list_query::<ListQuery>()
        .list::<CustomerJson>()
        .errors(&[422]);
    e.post("/v1/customers", create)
        .tag("customers")
        .summary("Create a customer")
        .body::<CreateBody>()
        .created::<CustomerJson>()
        .errors(&[409, 413, 415, 422]);
    e.get("/v1/customers/{id}", get)
        .tag("customers")
        .summary("Get a customer")
        .ok::<CustomerJson>()
        .errors(&[404]);
    e.patch("/v1/customers/{id}", update)
        .tag("customers")
        .summary("Update a customer")
        .body::<PatchBody>()
        .ok::<CustomerJson>()
        .errors(&[404, 409, 413, 415, 422]);
    e.delete("/v1/customers/{id}", delete)
        .tag("customers")
        .summary("Delete a customer")
        .no_content()
        .errors(&[404]);
}

/// `GET /v1/customers?limit=&cursor=&email=&name=`: newest first.
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: List<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let email = f.optional("email", q.filter.email.as_deref(), EmailAddress::parse);
    let name_contains = f.optional("name", q.filter.name.as_deref(), |s| {
        CustomerName::parse(s).map(|n| n.as_str().to_owned())
    });
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list(
        tx,
        &CustomerFilter {
            email,
            name_contains,
        },
        q.page,
    )
    .await?;
    Ok(q.respond(page, CustomerJson::from))
}

/// Create body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CustomerCreate)]
pub struct CreateBody {
    /// 1 to 200 characters.
    #[schema(required = true)]
    name: Option<String>,
    /// Unique within the organization (409 `email_taken`).
    #[schema(format = Email)]
    email: Option<String>,
    /// E.164, like `+14155550123`.
    phone: Option<String>,
}

fn email_taken() -> ApiError {
    ApiError::Conflict {
        code: crate::error::ErrorCode::EmailTaken,
        message: "another customer of this organization has this email",
    }
}

/// `POST /v1/customers` (201).
pub async fn create(
    state: web::Data<AppState>,
    tenant: Tenant,
    idem: Idempotency,
    body: crate::extract::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let name = f.required("name", body.name.as_deref(), CustomerName::parse);
    let email = f.optional("email", body.email.as_deref(), EmailAddress::parse);
    let phone = f.optional("phone", body.phone.as_deref(), PhoneNumber::parse);
    f.finish()?;
    let Some(name) = name else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    let created = db::create(&mut tx, &NewCustomer { name, email, phone }).await;
    let customer = match created {
        Err(e) if e.is_unique_violation_of(db::EMAIL_KEY) => return Err(email_taken()),
        other => other?,
    };
    tx.commit(super::created(
        "/v1/customers",
        customer.id,
        CustomerJson::from(customer),
    ))
    .await
}

/// `GET /v1/customers/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, CustomerId::parse)?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let customer = db::get(tx, id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(CustomerJson::from(customer)))
}

/// Patch body: absent fields stay, `null` clears `email` or `phone` (and is 422 on `name`).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CustomerPatch)]
pub struct PatchBody {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Email)]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    phone: Option<Option<String>>,
}

/// `PATCH /v1/customers/{id}`.
pub async fn update(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
    body: crate::extract::Json<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, CustomerId::parse)?;
    let mut f = Fields::default();
    let name = f.not_null("name", &body.name, CustomerName::parse);
    let email = f.clearable("email", &body.email, EmailAddress::parse);
    let phone = f.clearable("phone", &body.phone, PhoneNumber::parse);
    f.finish()?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock(&mut tx, id), CustomerJson::from)
        .await?;
    let updated = db::update(&mut tx, id, &CustomerPatch { name, email, phone }).await;
    let customer = match updated {
        Err(e) if e.is_unique_violation_of(db::EMAIL_KEY) => return Err(email_taken()),
        other => other?.ok_or(ApiError::NotFound)?,
    };
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(CustomerJson::from(customer)))
}

/// `DELETE /v1/customers/{id}` (204).
pub async fn delete(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, CustomerId::parse)?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock(&mut tx, id), CustomerJson::from)
        .await?;
    if !db::delete(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
