//! Customer queries. None of them filters by organization: the policies of
//! `policies/120_customers.sql` do, and `organization_id` defaults to the context on insert.

use palisade_domain::{CustomerId, CustomerName, EmailAddress, PhoneNumber};
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

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

/// Position in the newest-first customer list: the last item's `(created_at, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerCursor {
    /// The last item's creation time.
    pub created_at: OffsetDateTime,
    /// The last item's id (breaks ties between equal times).
    pub id: Uuid,
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

// The list statement is assembled from constant fragments, one per filter the request uses, so
// each combination is its own prepared statement (at most 8) with a plan that fits it: a single
// statement with `$n IS NULL OR ...` for every optional filter gets a generic plan that must
// evaluate every optional condition on every row. Values are always bind parameters.
const LIST_SELECT: &str =
    "SELECT id, name, email, phone, created_at, updated_at FROM palisade.customers WHERE true";
const LIST_BY_EMAIL: &str = " AND email = $";
const LIST_BY_NAME: &[&str] = &[" AND name ILIKE '%' || $", " || '%' ESCAPE '\\'"];
const LIST_AFTER: &[&str] = &[" AND (created_at, id) < ($", ", $", ")"];
const LIST_ORDER: &str = " ORDER BY created_at DESC, id DESC LIMIT $";

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

/// Appends the next placeholder number to `sql` and its value to `params`.
fn bind<'a>(
    sql: &mut String,
    params: &mut Vec<&'a (dyn ToSql + Sync)>,
    value: &'a (dyn ToSql + Sync),
) {
    params.push(value);
    sql.push_str(&params.len().to_string());
}

/// Escapes LIKE wildcards so a name filter matches literally.
fn like_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One page of customers, newest first. Ends the transaction (one round trip).
pub async fn list(
    tx: TenantTx,
    filter: &CustomerFilter,
    page: PageRequest<CustomerCursor>,
) -> Result<Page<Customer, CustomerCursor>, DbError> {
    let email = filter.email.as_ref().map(EmailAddress::as_str);
    let name = filter.name_contains.as_deref().map(like_literal);
    // Fetch one extra row to know whether another page exists.
    let limit = i64::from(page.limit) + 1;
    let mut sql = String::from(LIST_SELECT);
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(5);
    if let Some(email) = &email {
        sql.push_str(LIST_BY_EMAIL);
        bind(&mut sql, &mut params, email);
    }
    if let Some(name) = &name {
        sql.push_str(LIST_BY_NAME[0]);
        bind(&mut sql, &mut params, name);
        sql.push_str(LIST_BY_NAME[1]);
    }
    if let Some(after) = &page.after {
        sql.push_str(LIST_AFTER[0]);
        bind(&mut sql, &mut params, &after.created_at);
        sql.push_str(LIST_AFTER[1]);
        bind(&mut sql, &mut params, &after.id);
        sql.push_str(LIST_AFTER[2]);
    }
    sql.push_str(LIST_ORDER);
    bind(&mut sql, &mut params, &limit);
    let rows = tx.query_once(&sql, &params).await?;
    let mut items = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    let next = if items.len() > usize::from(page.limit) {
        items.truncate(usize::from(page.limit));
        items.last().map(|c| CustomerCursor {
            created_at: c.created_at,
            id: c.id,
        })
    } else {
        None
    };
    Ok(Page { items, next })
}

/// One customer, or `None` when it does not exist in this organization.
pub async fn get(tx: TenantTx, id: CustomerId) -> Result<Option<Customer>, DbError> {
    let rows = tx
        .query_once(
            "SELECT id, name, email, phone, created_at, updated_at FROM palisade.customers WHERE id = $1",
            &[&id.as_uuid()],
        )
        .await?;
    rows.first().map(from_row).transpose()
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

#[cfg(test)]
mod tests {
    use super::like_literal;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_literal("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(like_literal("Ada"), "Ada");
    }
}
