//! The operator's side of the platform's phone number inventory
//! (`palisade_platform.phone_number_inventory`): load the numbers the carrier account holds,
//! list them with who holds each, remove one the account no longer has. `palisade numbers`
//! runs these on a dedicated connection as the **owner** role, never as the app role (which has
//! no privilege on the table; tenants reach it through the functions of
//! `policies/022_phone_number_inventory.sql`, see [`crate::phone_numbers`]).

use palisade_domain::{Capabilities, PhoneNumber};
use time::OffsetDateTime;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::DbError;

/// A number to load, with what the carrier lets it do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryEntry {
    /// E.164.
    pub number: PhoneNumber,
    /// `sms`, `voice`.
    pub capabilities: Capabilities,
}

/// What loading did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Numbers new to the inventory.
    pub added: u64,
    /// Numbers already there, whose capabilities were set again.
    pub updated: u64,
}

/// Adds `entries` to the inventory in one transaction (all or none). A number already there
/// keeps its assignment and gets the given capabilities (so re-importing a file is harmless).
pub async fn load(client: &mut Client, entries: &[InventoryEntry]) -> Result<Loaded, DbError> {
    let tx = client.transaction().await?;
    let stmt = tx
        .prepare(
            "INSERT INTO palisade_platform.phone_number_inventory (number, capabilities) \
             VALUES ($1, $2) \
             ON CONFLICT (number) DO UPDATE SET capabilities = EXCLUDED.capabilities \
             RETURNING (xmax = 0) AS inserted",
        )
        .await?;
    let mut loaded = Loaded::default();
    for e in entries {
        let row = tx
            .query_one(&stmt, &[&e.number.as_str(), &e.capabilities.as_strs()])
            .await?;
        if row.try_get::<_, bool>("inserted")? {
            loaded.added += 1;
        } else {
            loaded.updated += 1;
        }
    }
    tx.commit().await?;
    Ok(loaded)
}

/// Where a number stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Any organization may claim it.
    Available,
    /// Assigned to this organization.
    Assigned(Uuid),
    /// Released by this organization (which alone may take it back) until then.
    Quarantined {
        /// The organization that released it.
        released_by: Uuid,
        /// When anyone may claim it again.
        until: OffsetDateTime,
    },
}

/// One number of the inventory, as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryRow {
    /// E.164.
    pub number: String,
    /// What the carrier lets it do.
    pub capabilities: Vec<String>,
    /// Available, assigned or quarantined, at the time asked.
    pub standing: Standing,
}

/// Every number of the inventory in number order, with its standing at `now` under a quarantine
/// of `quarantine`.
pub async fn list(
    client: &Client,
    now: OffsetDateTime,
    quarantine: time::Duration,
) -> Result<Vec<InventoryRow>, DbError> {
    let rows = client
        .query(
            "SELECT number, capabilities, holder_org_id, released_by_org_id, released_at \
             FROM palisade_platform.phone_number_inventory ORDER BY number",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let holder: Option<Uuid> = r.try_get("holder_org_id")?;
            let released_by: Option<Uuid> = r.try_get("released_by_org_id")?;
            let released_at: Option<OffsetDateTime> = r.try_get("released_at")?;
            let standing = match (holder, released_by, released_at) {
                (Some(org), _, _) => Standing::Assigned(org),
                (None, Some(by), Some(at)) if at + quarantine > now => Standing::Quarantined {
                    released_by: by,
                    until: at + quarantine,
                },
                _ => Standing::Available,
            };
            Ok(InventoryRow {
                number: r.try_get("number")?,
                capabilities: r.try_get("capabilities")?,
                standing,
            })
        })
        .collect()
}

/// What removing a number did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    /// Gone from the inventory.
    Removed,
    /// Not in the inventory.
    Unknown,
    /// Assigned to an organization: it must release it first (nothing changed).
    Assigned,
}

/// Removes a number the carrier account no longer holds, unless an organization holds it.
pub async fn remove(client: &Client, number: &PhoneNumber) -> Result<Removed, DbError> {
    let row = client
        .query_one(
            "WITH gone AS (DELETE FROM palisade_platform.phone_number_inventory \
                            WHERE number = $1 AND holder_org_id IS NULL RETURNING 1) \
             SELECT (SELECT count(*) FROM gone) AS removed, \
                    EXISTS (SELECT 1 FROM palisade_platform.phone_number_inventory \
                             WHERE number = $1) AS known",
            &[&number.as_str()],
        )
        .await?;
    let removed: i64 = row.try_get("removed")?;
    let known: bool = row.try_get("known")?;
    Ok(match (removed, known) {
        (1.., _) => Removed::Removed,
        (_, true) => Removed::Assigned,
        _ => Removed::Unknown,
    })
}
