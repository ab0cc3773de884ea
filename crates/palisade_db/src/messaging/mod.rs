//! Campaigns, messages and calls: the email, SMS and voice channels, and the dashboard that
//! sums them up. As everywhere in this crate, no query filters by organization: the policies
//! of `policies/200_email_campaigns.sql` to `policies/250_calls.sql` do, and `organization_id`
//! defaults to the context on insert.
//!
//! The rules about statuses (which transitions clients may make, when a campaign can still be
//! edited) live in `palisade_domain`; the handlers apply them to a row read `FOR UPDATE` in the
//! same transaction as the write ([`crate::crud::lock`]), so two concurrent requests cannot both
//! pass a check that only one of them should.

pub mod campaign;
pub mod dashboard;
pub mod email;
pub mod sms;
pub mod voice;

use palisade_domain::ParseError;
use tokio_postgres::Row;

use crate::DbError;

pub use crate::list::CreatedRange;

/// Decodes a text column into a domain enum; a value the domain does not know is a schema
/// mismatch (the CHECK constraints and the enums list the same values).
pub(crate) fn decode<T>(
    r: &Row,
    col: &str,
    parse: fn(&str) -> Result<T, ParseError>,
) -> Result<T, DbError> {
    let raw: &str = r.try_get(col)?;
    parse(raw).map_err(|_| DbError::Decode(format!("unexpected {col} value")))
}

/// A customer's contact details, to address a message to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerContact {
    /// Their email, if known.
    pub email: Option<String>,
    /// Their E.164 phone number, if known.
    pub phone: Option<String>,
}

/// The contact details of a customer of this organization; `None` when there is no such
/// customer here (another organization's customer is just as absent).
pub async fn customer_contact(
    tx: &mut crate::TenantTx,
    id: palisade_domain::CustomerId,
) -> Result<Option<CustomerContact>, DbError> {
    let row = tx
        .query_opt(
            "SELECT email, phone FROM palisade.customers WHERE id = $1",
            &[&id.as_uuid()],
        )
        .await?;
    row.map(|r| {
        Ok(CustomerContact {
            email: r.try_get("email")?,
            phone: r.try_get("phone")?,
        })
    })
    .transpose()
}
