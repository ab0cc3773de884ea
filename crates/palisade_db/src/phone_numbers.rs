//! Phone numbers. No query filters by organization: the policies of
//! `policies/320_phone_numbers.sql` do (and reserve writes to owners and admins), and
//! `organization_id` defaults to the context on insert.

use palisade_domain::{
    Capabilities, Capability, IvrMenuId, PhoneLabel, PhoneNumber, PhoneNumberId,
};
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::list::{Cursor, ListQuery};
use crate::{DbError, Page, PageRequest, TenantTx};

/// The platform-wide unique key on the number (the allow-listed exception, justified in the
/// policy file): violated when any organization, this one included, already holds the number.
pub const NUMBER_KEY: &str = "phone_numbers_number_key";

/// The composite foreign key to the IVR menu: violated when the menu does not exist in this
/// organization (missing, or another organization's).
pub const IVR_MENU_FKEY: &str = "phone_numbers_ivr_menu_fkey";

/// A number as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct PhoneNumberRow {
    /// Its id.
    pub id: Uuid,
    /// E.164 number, unique across the platform.
    pub number: String,
    /// Label.
    pub label: Option<String>,
    /// `sms`, `voice`.
    pub capabilities: Vec<String>,
    /// The IVR menu inbound calls start in.
    pub ivr_menu_id: Option<Uuid>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
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

/// A partial update: `None` leaves a field alone; `Some(None)` clears an optional one. The
/// number itself never changes (release it and add another).
#[derive(Debug, Clone, Default)]
pub struct PhoneNumberPatch {
    /// New or cleared label.
    pub label: Option<Option<PhoneLabel>>,
    /// New capabilities.
    pub capabilities: Option<Capabilities>,
    /// New or cleared IVR menu.
    pub ivr_menu_id: Option<Option<IvrMenuId>>,
}

/// List filters.
#[derive(Debug, Clone, Default)]
pub struct PhoneNumberFilter {
    /// Only this exact number.
    pub number: Option<PhoneNumber>,
    /// Only numbers with this capability.
    pub capability: Option<Capability>,
    /// Only numbers pointing at this menu.
    pub ivr_menu_id: Option<IvrMenuId>,
    /// Created at or after.
    pub created_after: Option<OffsetDateTime>,
    /// Created before.
    pub created_before: Option<OffsetDateTime>,
}

const COLUMNS: &str = "id, number, label, capabilities, ivr_menu_id, created_at, updated_at";

fn from_row(r: &Row) -> Result<PhoneNumberRow, DbError> {
    Ok(PhoneNumberRow {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        label: r.try_get("label")?,
        capabilities: r.try_get("capabilities")?,
        ivr_menu_id: r.try_get("ivr_menu_id")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// One page of numbers, newest first. Ends the transaction (one round trip).
pub async fn list(
    tx: TenantTx,
    filter: &PhoneNumberFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<PhoneNumberRow, Cursor>, DbError> {
    let number = filter.number.as_ref().map(PhoneNumber::as_str);
    let capability = filter.capability.map(Capability::as_str);
    let menu = filter.ivr_menu_id.map(|m| m.as_uuid());
    ListQuery::new(
        "SELECT id, number, label, capabilities, ivr_menu_id, created_at, updated_at \
         FROM palisade.phone_numbers WHERE true",
    )
    .and_opt("number = $", number.as_ref())
    .and_opt_wrapped("capabilities @> ARRAY[$", capability.as_ref(), "]::text[]")
    .and_opt("ivr_menu_id = $", menu.as_ref())
    .and_opt("created_at >= $", filter.created_after.as_ref())
    .and_opt("created_at < $", filter.created_before.as_ref())
    .after(page.after.as_ref())
    .fetch(tx, page.limit, from_row, |n| Cursor {
        created_at: n.created_at,
        id: n.id,
    })
    .await
}

/// One number, or `None` when it does not exist in this organization.
pub async fn get(tx: TenantTx, id: PhoneNumberId) -> Result<Option<PhoneNumberRow>, DbError> {
    let rows = tx
        .query_once(
            "SELECT id, number, label, capabilities, ivr_menu_id, created_at, updated_at \
             FROM palisade.phone_numbers WHERE id = $1",
            &[&id.as_uuid()],
        )
        .await?;
    rows.first().map(from_row).transpose()
}

/// Adds a number to the acting organization.
pub async fn create(tx: &mut TenantTx, new: &NewPhoneNumber) -> Result<PhoneNumberRow, DbError> {
    let sql = format!(
        "INSERT INTO palisade.phone_numbers (id, number, label, capabilities, ivr_menu_id) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &PhoneNumberId::new().as_uuid(),
                &new.number.as_str(),
                &new.label.as_ref().map(PhoneLabel::as_str),
                &new.capabilities.as_strs(),
                &new.ivr_menu_id.map(|m| m.as_uuid()),
            ],
        )
        .await?;
    from_row(&row)
}

/// Applies `patch`; `None` when the number does not exist in this organization (or the acting
/// role may not change it: the policy then matches no row).
pub async fn update(
    tx: &mut TenantTx,
    id: PhoneNumberId,
    patch: &PhoneNumberPatch,
) -> Result<Option<PhoneNumberRow>, DbError> {
    let sql = format!(
        "UPDATE palisade.phone_numbers SET \
             label = CASE WHEN $2 THEN $3 ELSE label END, \
             capabilities = coalesce($4, capabilities), \
             ivr_menu_id = CASE WHEN $5 THEN $6 ELSE ivr_menu_id END, \
             updated_at = now() \
         WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row = tx
        .query_opt(
            &sql,
            &[
                &id.as_uuid(),
                &patch.label.is_some(),
                &patch
                    .label
                    .as_ref()
                    .and_then(|l| l.as_ref().map(PhoneLabel::as_str)),
                &patch.capabilities.as_ref().map(Capabilities::as_strs),
                &patch.ivr_menu_id.is_some(),
                &patch.ivr_menu_id.flatten().map(|m| m.as_uuid()),
            ],
        )
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

/// Releases a number; `false` when it does not exist in this organization.
pub async fn delete(tx: &mut TenantTx, id: PhoneNumberId) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "DELETE FROM palisade.phone_numbers WHERE id = $1",
            &[&id.as_uuid()],
        )
        .await?
        == 1)
}
