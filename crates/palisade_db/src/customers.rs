//! Customer queries. None of them filters by organization: the policies of
//! `policies/120_customers.sql` do, and `organization_id` defaults to the context on insert.

use palisade_domain::{CustomerId, CustomerName, EmailAddress, PhoneNumber};
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::list::{Cursor, ListQuery, like_literal};
use crate::{DbError, Page, PageRequest, TenantTx};

/// A customer as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    /// Its id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Email, unique within the organization.
    pub email: Option<String>,
    /// E.164 phone number.
    pub phone: Option<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// A customer to create.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    /// Name.
    pub name: CustomerName,
    /// Email, if known.
    pub email: Option<EmailAddress>,
    /// Phone, if known.
    pub phone: Option<PhoneNumber>,
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct CustomerPatch {
    /// New name.
    pub name: Option<CustomerName>,
    /// New or cleared email.
    pub email: Option<Option<EmailAddress>>,
    /// New or cleared phone.
    pub phone: Option<Option<PhoneNumber>>,
}

/// List filters.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    /// Exact (normalised) email.
    pub email: Option<EmailAddress>,
    /// Case-insensitive substring of the name.
    pub name_contains: Option<String>,
}

/// The unique constraint that keeps emails unique within an organization.
pub const EMAIL_KEY: &str = "customers_email_key";

/// Decodes a row of `id, name, email, phone, created_at, updated_at`.
pub fn from_row(r: &Row) -> Result<Customer, DbError> {
    Ok(Customer {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        email: r.try_get("email")?,
        phone: r.try_get("phone")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// One page of customers, newest first. Ends the transaction (one round trip).
pub async fn list(
    tx: TenantTx,
    filter: &CustomerFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<Customer, Cursor>, DbError> {
    let email = filter.email.as_ref().map(EmailAddress::as_str);
    let name = filter.name_contains.as_deref().map(like_literal);
    ListQuery::new(
        "SELECT id, name, email, phone, created_at, updated_at FROM palisade.customers WHERE true",
    )
    .and_opt("email = $", email.as_ref())
    .and_opt_wrapped("name ILIKE '%' || $", name.as_ref(), " || '%' ESCAPE '\\'")
    .page(&page)
    .fetch(tx, page.limit, from_row, |c| Cursor {
        created_at: c.created_at,
        id: c.id,
    })
    .await
}

/// The statement of [`get`] (and, `FOR UPDATE`, of [`lock`]).
const GET_SQL: &str =
    "SELECT id, name, email, phone, created_at, updated_at FROM palisade.customers WHERE id = $1";

/// One customer, or `None` when it does not exist in this organization.
pub async fn get(tx: TenantTx, id: CustomerId) -> Result<Option<Customer>, DbError> {
    let rows = tx.query_once(GET_SQL, &[&id.as_uuid()]).await?;
    rows.first().map(from_row).transpose()
}

/// [`get`] inside a write transaction, the row locked until it ends (for `If-Match`).
pub async fn lock(tx: &mut TenantTx, id: CustomerId) -> Result<Option<Customer>, DbError> {
    crate::lock::for_update(tx, GET_SQL, id.as_uuid(), from_row).await
}

/// Creates a customer in the acting organization.
pub async fn create(tx: &mut TenantTx, new: &NewCustomer) -> Result<Customer, DbError> {
    let id = CustomerId::new();
    let row = tx
        .query_one(
            "INSERT INTO palisade.customers (id, name, email, phone) VALUES ($1, $2, $3, $4) \
             RETURNING id, name, email, phone, created_at, updated_at",
            &[
                &id.as_uuid(),
                &new.name.as_str(),
                &new.email.as_ref().map(EmailAddress::as_str),
                &new.phone.as_ref().map(PhoneNumber::as_str),
            ],
        )
        .await?;
    from_row(&row)
}

/// Applies `patch`; `None` when the customer does not exist in this organization.
pub async fn update(
    tx: &mut TenantTx,
    id: CustomerId,
    patch: &CustomerPatch,
) -> Result<Option<Customer>, DbError> {
    let set_email = patch.email.is_some();
    let email = patch
        .email
        .as_ref()
        .and_then(|e| e.as_ref().map(EmailAddress::as_str));
    let set_phone = patch.phone.is_some();
    let phone = patch
        .phone
        .as_ref()
        .and_then(|p| p.as_ref().map(PhoneNumber::as_str));
    let row = tx
        .query_opt(
            "UPDATE palisade.customers SET \
                 name = coalesce($2, name), \
                 email = CASE WHEN $3 THEN $4 ELSE email END, \
                 phone = CASE WHEN $5 THEN $6 ELSE phone END, \
                 updated_at = now() \
             WHERE id = $1 \
             RETURNING id, name, email, phone, created_at, updated_at",
            &[
                &id.as_uuid(),
                &patch.name.as_ref().map(CustomerName::as_str),
                &set_email,
                &email,
                &set_phone,
                &phone,
            ],
        )
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

/// Deletes a customer; `false` when it does not exist in this organization.
pub async fn delete(tx: &mut TenantTx, id: CustomerId) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "DELETE FROM palisade.customers WHERE id = $1",
            &[&id.as_uuid()],
        )
        .await?
        == 1)
}
