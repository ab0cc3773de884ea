//! `/v1/customers`: the model every resource follows (docs/adding-a-resource.md). The handlers
//! are [`crate::resource`]'s (list with filters, create, read, update, delete; another
//! organization's id answers 404 exactly like a missing one) and [`crate::changes`]'s (the
//! changes feed); this module declares what is the family's own: its filters, its bodies and
//! their parsing, and its one constraint.

use palisade_db::customers::{self as db, Customer, CustomerFilter, CustomerPatch, NewCustomer};
use palisade_domain::{CustomerName, EmailAddress, EmailLookup, PhoneNumber};

use crate::error::ErrorCode;
use crate::resource::{self, Violation};

/// The customer family.
pub(crate) struct Customers;

resource::family! {
    Customers: Customer => Customer, "/v1/customers", "customers", "a customer", "customers";
    const VIOLATIONS: &'static [Violation] = &[Violation::on_write(db::EMAIL_KEY, || {
        resource::taken(
            ErrorCode::EmailTaken,
            "email",
            "another customer of this organization has this email",
        )
    })];
}

impl crate::changes::Synced for Customers {
    const CHANGES: &'static str = "/v1/customers/changes";
}

/// Declares the customer routes: the changes feed first, before the item routes' `{id}`
/// would take its path.
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    crate::changes::changes_route::<Customers>(e);
    resource::all_routes::<Customers>(e);
}

crate::list::filters! {
    /// List filters.
    Customers: ListQuery => CustomerFilter {
        /// Exact email (normalised).
        #[param(format = Email)]
        email: Text<EmailLookup>,
        /// Case-insensitive substring of the name.
        name: Text<CustomerName>,
        /// Exact E.164 phone number, like `+14155550123` (in a query string the `+` is `%2B`):
        /// who is calling or texting.
        phone: Text<PhoneNumber>,
    }
}

resource::created! {
    /// Create body.
    Customers: CreateBody as CustomerCreate => NewCustomer {
        /// 1 to 200 characters.
        name: required Text<CustomerName>,
        /// Unique within the organization (409 `email_taken`).
        #[schema(format = Email)]
        email: optional Text<EmailAddress>,
        /// E.164, like `+14155550123`.
        phone: optional Text<PhoneNumber>,
    }
}

resource::patch! {
    /// Patch body: absent fields stay, `null` clears `email` or `phone` (and is 422 on `name`).
    Customers: PatchBody as CustomerPatch => CustomerPatch {
        name: set Text<CustomerName>,
        #[schema(format = Email)]
        email: clear Text<EmailAddress>,
        phone: clear Text<PhoneNumber>,
    }
}
