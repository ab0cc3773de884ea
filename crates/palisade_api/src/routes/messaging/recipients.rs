//! What adding and listing a campaign's recipients has in common for email and SMS: the
//! add-recipient body (a customer, an address, or both), the address taken from the customer
//! when none is given, the answers to a duplicate recipient or a foreign customer, and the
//! campaign given by the path of a recipient list. Each channel describes its address with a
//! [`RecipientAddress`].

use palisade_db::messaging::{self as shared, CustomerContact};
use palisade_db::{DbError, TenantTx};
use palisade_domain::{CustomerId, ParseError};

use super::{no_such_customer, recipient_exists};
use crate::ApiError;
use crate::error::{FieldCode, FieldError};
use crate::routes::Fields;

/// How a channel addresses a recipient.
pub(super) struct RecipientAddress<A> {
    /// The body field (`to_email`, `to_number`).
    pub(super) field: &'static str,
    /// Parses it.
    pub(super) parse: fn(&str) -> Result<A, ParseError>,
    /// The customer's address for this channel, if known.
    pub(super) contact: fn(CustomerContact) -> Option<String>,
    /// The 422 reason when the customer has none.
    pub(super) missing: &'static str,
}

impl<A> RecipientAddress<A> {
    /// Validates an add-recipient body: a customer, an address, or both (422 for neither).
    pub(super) fn fields(
        &self,
        customer_id: Option<&str>,
        address: Option<&str>,
    ) -> Result<(Option<CustomerId>, Option<A>), ApiError> {
        let mut f = Fields::default();
        let customer = f.optional("customer_id", customer_id, CustomerId::parse);
        let parsed = f.optional(self.field, address, self.parse);
        if customer_id.is_none() && address.is_none() {
            f.required_because(self.field, "is required unless customer_id is given");
        }
        f.finish()?;
        Ok((customer, parsed))
    }

    /// The address to use: the one given, else the customer's (422 on `customer_id` when
    /// there is no such customer here, on the address field when they have no address).
    pub(super) async fn resolve(
        &self,
        tx: &mut TenantTx,
        address: Option<A>,
        customer_id: Option<CustomerId>,
    ) -> Result<A, ApiError> {
        match (address, customer_id) {
            (Some(a), _) => Ok(a),
            (None, Some(customer)) => {
                let contact = shared::customer_contact(tx, customer)
                    .await?
                    .ok_or_else(no_such_customer)?;
                let raw = (self.contact)(contact).ok_or_else(|| {
                    ApiError::Validation(vec![FieldError::new(
                        self.field,
                        FieldCode::Required,
                        self.missing,
                    )])
                })?;
                (self.parse)(&raw).map_err(ApiError::internal)
            }
            (None, None) => Err(ApiError::internal("validated fields missing")),
        }
    }
}

/// Maps the insert of a recipient: the customer foreign key `customer_fkey` refused it (no
/// such customer here), or the unique key `recipient_key` did (already a recipient).
pub(super) fn recipient_created<M>(
    created: Result<M, DbError>,
    customer_fkey: &str,
    recipient_key: &str,
) -> Result<M, ApiError> {
    match created {
        Err(e) if shared::is_fk_violation_of(&e, customer_fkey) => Err(no_such_customer()),
        Err(e) if e.is_unique_violation_of(recipient_key) => Err(recipient_exists()),
        other => Ok(other?),
    }
}

/// On `/v1/{channel}-campaigns/{id}/messages`, the campaign is the path's: a `campaign_id` in
/// the query string may only repeat it (422 otherwise).
pub(super) fn campaign_from_path<I: PartialEq + Copy>(
    filter: &mut Option<I>,
    id: I,
) -> Result<(), ApiError> {
    if filter.is_some_and(|c| c != id) {
        return Err(ApiError::invalid(
            "campaign_id",
            "is given by the path on this route",
        ));
    }
    *filter = Some(id);
    Ok(())
}
