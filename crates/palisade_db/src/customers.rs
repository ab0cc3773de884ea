//! Customer queries: the row, its filters, its insert and its update; listing, reading, locking
//! and deleting are [`crate::crud`]'s. None of them filters by organization: the policies of
//! `policies/120_customers.sql` do, and `organization_id` defaults to the context on insert.

use palisade_domain::{CustomerName, EmailAddress, EmailLookup, PhoneNumber};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::list::like_literal;

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

crate::insert_type! {
    /// A customer to create.
    pub struct NewCustomer into Customer {
        /// Name.
        name: CustomerName,
        /// Email, if known.
        email: Option<EmailAddress>,
        /// Phone, if known.
        phone: Option<PhoneNumber>,
    }
}

crate::patch_type! {
    /// A partial update: `None` leaves a field alone; `Some(None)` clears an optional one.
    pub struct CustomerPatch for Customer {
        /// New name.
        name: set CustomerName,
        /// New or cleared email.
        email: clear EmailAddress,
        /// New or cleared phone.
        phone: clear PhoneNumber,
    }
}

crate::filter_type! {
    /// List filters.
    pub struct CustomerFilter for Customer {
        /// Exact (normalised) email.
        email: EmailLookup => "email = $",
        /// Case-insensitive substring of the name.
        name: CustomerName => "name ILIKE '%' || $ || '%' ESCAPE '\\'"
            with |n| like_literal(n.as_str()),
        /// Exact E.164 phone (customers_org_phone_idx serves it, newest first).
        phone: PhoneNumber => "phone = $",
    }
}

/// The unique constraint that keeps emails unique within an organization.
pub const EMAIL_KEY: &str = "customers_email_key";
