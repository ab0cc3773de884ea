//! What adding and listing a campaign's recipients has in common for email and SMS: the
//! add-recipient body (a customer, an address, or both), the address taken from the customer
//! when none is given, and the campaign given by the path of a recipient list. Each channel
//! describes its address with a [`RecipientAddress`]; the handlers are
//! [`crate::resource::Within`]'s.

use palisade_db::TenantTx;
use palisade_db::messaging::campaign::Campaign;
use palisade_db::messaging::{self as shared, CustomerContact};
use palisade_domain::{CustomerId, ParseError};
use uuid::Uuid;

use super::campaign::takes_recipients;
use super::no_such_customer;
use crate::ApiError;
use crate::error::{FieldCode, FieldError};
use crate::routes::Fields;

/// How a channel addresses a recipient.
pub(super) struct RecipientAddress<A> {
    /// The body field (`to_email`, `to_number`).
    pub(super) field: &'static str,
    /// Parses it.
    pub(super) parse: fn(&str) -> Result<A, ParseError>,
    /// Parses the customer's stored address: an address already stored, not a new one (an email
    /// stored before [`palisade_domain::EmailAddress::parse`] refused invisible characters is
    /// taken as it is).
    pub(super) stored: fn(&str) -> Result<A, ParseError>,
    /// The customer's address for this channel, if known.
    pub(super) contact: fn(CustomerContact) -> Option<String>,
    /// The 422 reason when the customer has none.
    pub(super) missing: &'static str,
}

/// A parsed add-recipient body: a customer, an address, or both.
pub(crate) struct Recipient<A> {
    customer_id: Option<CustomerId>,
    address: Option<A>,
}

impl<A> RecipientAddress<A> {
    /// Parses an add-recipient body: a customer, an address, or both (422 for neither).
    pub(super) fn parse(
        &self,
        f: &mut Fields,
        customer_id: Option<&str>,
        address: Option<&str>,
    ) -> Option<Recipient<A>> {
        let customer = f.optional("customer_id", customer_id, CustomerId::parse);
        let parsed = f.optional(self.field, address, self.parse);
        if customer_id.is_none() && address.is_none() {
            f.required_because(self.field, "is required unless customer_id is given");
        }
        Some(Recipient {
            customer_id: customer,
            address: parsed,
        })
    }

    /// Before adding `recipient` to campaign `campaign` of channel `C`: the campaign takes
    /// recipients ([`takes_recipients`]), and the address is the one given, else the
    /// customer's (422 on `customer_id` when there is no such customer here, on the address
    /// field when they have no address). Returns the customer and the address.
    pub(super) async fn resolve<C: Campaign>(
        &self,
        tx: &mut TenantTx,
        campaign: Uuid,
        recipient: Recipient<A>,
    ) -> Result<(Option<CustomerId>, A), ApiError> {
        takes_recipients::<C>(tx, campaign).await?;
        let customer_id = recipient.customer_id;
        let address = match (recipient.address, customer_id) {
            (Some(a), _) => a,
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
                (self.stored)(&raw).map_err(ApiError::internal)?
            }
            (None, None) => return Err(ApiError::internal("validated fields missing")),
        };
        Ok((customer_id, address))
    }
}

/// On `/v1/{channel}-campaigns/{id}/messages`, the campaign is the path's: a `campaign_id` in
/// the query string may only repeat it (422 otherwise).
pub(super) fn campaign_from_path(filter: &mut Option<Uuid>, id: Uuid) -> Result<(), ApiError> {
    if filter.is_some_and(|c| c != id) {
        return Err(ApiError::invalid(
            "campaign_id",
            "is given by the path on this route",
        ));
    }
    *filter = Some(id);
    Ok(())
}
