//! Phone numbers: the row, its filters, insert and update (listing, reading and locking are
//! [`crate::crud`]'s), and the inventory. No query filters by organization: the policies of
//! `policies/320_phone_numbers.sql` do (and reserve writes to owners and admins), and
//! `organization_id` defaults to the context on insert.
//!
//! A number comes from the platform's inventory (`palisade_platform.phone_number_inventory`),
//! which the app role cannot read: [`claim`], [`release`], [`available`] and
//! [`held_capabilities`] go through the SECURITY DEFINER functions of
//! `policies/022_phone_number_inventory.sql`, which act for the transaction's own organization.
//! "Now" is always the application's clock, passed in.

use palisade_domain::{
    Capabilities, Capability, IvrMenuId, PhoneLabel, PhoneNumber, PhoneNumberId,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crud;
use crate::{DbError, Page, PageRequest, TenantTx};

/// The platform-wide unique key on the number (the allow-listed exception, justified in the
/// policy file): violated when any organization, this one included, already holds the number.
pub const NUMBER_KEY: &str = "phone_numbers_number_key";

/// The foreign key to the inventory: violated when the number is not assigned to this
/// organization (a row written without [`claim`]).
pub const INVENTORY_FKEY: &str = "phone_numbers_inventory_fkey";

/// The composite foreign key from SMS campaigns that may still send: violated when releasing a
/// number, or dropping its `sms` capability, while such a campaign uses it.
pub const CAMPAIGN_FROM_FKEY: &str = "sms_campaigns_from_number_fkey";

/// The composite foreign key to the IVR menu: violated when the menu does not exist in this
/// organization (missing, or another organization's).
pub const IVR_MENU_FKEY: &str = "phone_numbers_ivr_menu_fkey";

crate::table! {
    /// A number as stored, and as clients see it.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    #[schema(as = PhoneNumber)]
    pub struct PhoneNumberRow in "palisade.phone_numbers" {
        /// Its id.
        id: Uuid,
        /// E.164, unique across the platform.
        number: String,
        /// Label.
        label: Option<String>,
        /// What this organization uses it for.
        #[schema(value_type = Vec<Capability>)]
        capabilities: Vec<String>,
        /// The IVR menu that answers its calls.
        ivr_menu_id: Option<Uuid>,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
}

/// A number to add.
#[derive(Debug, Clone)]
pub struct NewPhoneNumber {
    /// The number.
    pub number: PhoneNumber,
    /// Label.
    pub label: Option<PhoneLabel>,
    /// What it can do.
    pub capabilities: Capabilities,
    /// The IVR menu inbound calls start in.
    pub ivr_menu_id: Option<IvrMenuId>,
}

crate::patch_type! {
    /// A partial update: `None` leaves a field alone; `Some(None)` clears an optional one. The
    /// number itself never changes (release it and add another).
    pub struct PhoneNumberPatch for PhoneNumberRow {
        /// New or cleared label.
        label: clear PhoneLabel,
        /// New capabilities.
        capabilities: set Capabilities,
        /// New or cleared IVR menu.
        ivr_menu_id: clear IvrMenuId,
    }
}

crate::filter_type! {
    /// List filters.
    pub struct PhoneNumberFilter for PhoneNumberRow {
        /// Only this exact number.
        number: PhoneNumber => "number = $",
        /// Only numbers with this capability.
        capability: Capability => "capabilities @> ARRAY[$]::text[]",
        /// Only numbers pointing at this menu.
        ivr_menu_id: IvrMenuId => "ivr_menu_id = $",
    }
}

/// The number of one of this organization's rows, inside a transaction that goes on.
pub async fn number_of(tx: &mut TenantTx, id: PhoneNumberId) -> Result<Option<String>, DbError> {
    let row = tx
        .query_opt(
            "SELECT number FROM palisade.phone_numbers WHERE id = $1",
            &[&id.as_uuid()],
        )
        .await?;
    row.map(|r| r.try_get("number").map_err(DbError::from))
        .transpose()
}

/// Adds a number to the acting organization: only one the inventory assigns to it ([`claim`]
/// first, in the same transaction; [`INVENTORY_FKEY`] refuses any other).
impl crud::Insert for NewPhoneNumber {
    type Row = PhoneNumberRow;
    async fn insert(&self, tx: &mut TenantTx) -> Result<PhoneNumberRow, DbError> {
        crud::returning(
            tx,
            "INSERT INTO palisade.phone_numbers (id, number, label, capabilities, ivr_menu_id) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &PhoneNumberId::new().as_uuid(),
                &self.number.as_str(),
                &self.label.as_ref().map(PhoneLabel::as_str),
                &self.capabilities.as_strs(),
                &self.ivr_menu_id.map(|m| m.as_uuid()),
            ],
        )
        .await
    }
}

/// Removes the organization's row of a number and returns the number; `None` when it does not
/// exist in this organization. Follow with [`release`] in the same transaction.
pub async fn delete(tx: &mut TenantTx, id: PhoneNumberId) -> Result<Option<String>, DbError> {
    let row = tx
        .query_opt(
            "DELETE FROM palisade.phone_numbers WHERE id = $1 RETURNING number",
            &[&id.as_uuid()],
        )
        .await?;
    row.map(|r| r.try_get("number").map_err(DbError::from))
        .transpose()
}

/// A quarantine as whole seconds (never negative), which the SQL turns into an interval.
fn whole_seconds(d: time::Duration) -> i64 {
    d.whole_seconds().max(0)
}

/// Assigns `number` from the inventory to the acting organization, if it is available to it at
/// `now` with a quarantine of `quarantine`, and returns what the carrier lets it do; `None`
/// otherwise (unknown, held by anyone, or quarantined: the same answer). Owners and admins only.
/// Insert the organization's row ([`NewPhoneNumber`]) in the same transaction.
pub async fn claim(
    tx: &mut TenantTx,
    number: &PhoneNumber,
    now: OffsetDateTime,
    quarantine: time::Duration,
) -> Result<Option<Vec<String>>, DbError> {
    let row = tx
        .query_one(
            "SELECT palisade_private.claim_phone_number($1, $2, $3::bigint * interval '1 second') AS caps",
            &[&number.as_str(), &now, &whole_seconds(quarantine)],
        )
        .await?;
    Ok(row.try_get("caps")?)
}

/// Gives `number` back to the inventory, quarantined from `now`; `false` when it was not
/// assigned to the acting organization. After [`delete`], in the same transaction.
pub async fn release(
    tx: &mut TenantTx,
    number: &str,
    now: OffsetDateTime,
) -> Result<bool, DbError> {
    let row = tx
        .query_one(
            "SELECT palisade_private.release_phone_number($1, $2) AS released",
            &[&number, &now],
        )
        .await?;
    Ok(row.try_get("released")?)
}

/// What the carrier lets `number` do, when it is assigned to the acting organization.
pub async fn held_capabilities(
    tx: &mut TenantTx,
    number: &str,
) -> Result<Option<Vec<String>>, DbError> {
    let row = tx
        .query_one(
            "SELECT palisade_private.held_phone_number_capabilities($1) AS caps",
            &[&number],
        )
        .await?;
    Ok(row.try_get("caps")?)
}

/// A number the acting organization may claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailableNumber {
    /// E.164.
    pub number: String,
    /// What the carrier lets it do.
    pub capabilities: Vec<String>,
}

/// One page of the numbers the acting organization may claim at `now`, in number order after
/// `after`; `next` is the last number when there may be more. Ends the transaction.
pub async fn available(
    tx: TenantTx,
    now: OffsetDateTime,
    quarantine: time::Duration,
    capability: Option<Capability>,
    page: PageRequest<String>,
) -> Result<Page<AvailableNumber, String>, DbError> {
    let limit = i32::from(page.limit);
    let rows = tx
        .query_once(
            "SELECT available_number, available_capabilities \
             FROM palisade_private.available_phone_numbers(\
                 $1, $2::bigint * interval '1 second', $3, $4, $5 + 1)",
            &[
                &now,
                &whole_seconds(quarantine),
                &capability.map(Capability::as_str),
                &page.after,
                &limit,
            ],
        )
        .await?;
    let mut items = rows
        .iter()
        .map(|r| {
            Ok(AvailableNumber {
                number: r.try_get("available_number")?,
                capabilities: r.try_get("available_capabilities")?,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    let more = items.len() > usize::from(page.limit);
    items.truncate(usize::from(page.limit));
    let next = if more {
        items.last().map(|n| n.number.clone())
    } else {
        None
    };
    Ok(Page { items, next })
}

/// After the acting organization deleted itself in this transaction: its numbers, released by
/// the cascade, are quarantined from `now` (the application's clock). Returns how many.
pub async fn quarantine_deleted_organization_numbers(
    tx: &mut TenantTx,
    now: OffsetDateTime,
) -> Result<i32, DbError> {
    let row = tx
        .query_one(
            "SELECT palisade_private.stamp_deleted_organization_releases($1) AS n",
            &[&now],
        )
        .await?;
    Ok(row.try_get("n")?)
}
