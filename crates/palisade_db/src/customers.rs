//! Customer queries: the row, its filters, its insert and its update; reading, locking and
//! deleting by id are [`crate::crud`]'s. None of them filters by organization: the policies of
//! `policies/120_customers.sql` do, and `organization_id` defaults to the context on insert.

use palisade_domain::{CustomerId, CustomerName, EmailAddress, PhoneNumber};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crud;
use crate::list::{Cursor, like_literal};
use crate::{DbError, Page, PageRequest, TenantTx};

crate::table! {
    /// A customer as stored, and as clients see it.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct Customer in "palisade.customers" {
        /// Its id.
        id: Uuid,
        /// Name.
        name: String,
        /// Email, unique within the organization.
        email: Option<String>,
        /// E.164 phone number.
        phone: Option<String>,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
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

/// One page of customers, newest first. Ends the transaction (one round trip).
pub async fn list(
    tx: TenantTx,
    filter: &CustomerFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<Customer, Cursor>, DbError> {
    let email = filter.email.as_ref().map(EmailAddress::as_str);
    let name = filter.name_contains.as_deref().map(like_literal);
    let query = crud::list::<Customer>()
        .and_opt("email = $", email.as_ref())
        .and_opt_wrapped("name ILIKE '%' || $", name.as_ref(), " || '%' ESCAPE '\\'");
    crud::fetch(query, tx, &page).await
}

/// Creates a customer in the acting organization.
pub async fn create(tx: &mut TenantTx, new: &NewCustomer) -> Result<Customer, DbError> {
    crud::returning(
        tx,
        "INSERT INTO palisade.customers (id, name, email, phone) VALUES ($1, $2, $3, $4)",
        &[
            &CustomerId::new().as_uuid(),
            &new.name.as_str(),
            &new.email.as_ref().map(EmailAddress::as_str),
            &new.phone.as_ref().map(PhoneNumber::as_str),
        ],
    )
    .await
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
    crud::returning_opt(
        tx,
        "UPDATE palisade.customers SET \
             name = coalesce($2, name), \
             email = CASE WHEN $3 THEN $4 ELSE email END, \
             phone = CASE WHEN $5 THEN $6 ELSE phone END, \
             updated_at = now() \
         WHERE id = $1",
        &[
            &id.as_uuid(),
            &patch.name.as_ref().map(CustomerName::as_str),
            &set_email,
            &email,
            &set_phone,
            &phone,
        ],
    )
    .await
}
