//! What the email, SMS and voice campaigns have in common: the statements that read, lock,
//! list and delete a campaign by id, whatever its channel. Each channel module implements
//! [`Campaign`] for its row type (table, columns, decoding) and keeps what is its own: the
//! create and update statements (their columns differ), counters and messages or calls.
//!
//! The statements are constants built by `campaign_sql!` from the table name and the column
//! list, so every one stays a prepared statement with bind parameters.

use palisade_domain::CampaignStatus;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{Guarded, decode};
use crate::list::{Cursor, ListQuery};
use crate::{DbError, Page, PageRequest, TenantTx};

/// Campaign list filters (the same for every channel).
#[derive(Debug, Clone, Copy, Default)]
pub struct CampaignFilter {
    /// Only this status.
    pub status: Option<CampaignStatus>,
}

/// The statements by id that every campaign table answers (`$1` is the id).
#[derive(Debug, Clone, Copy)]
pub struct CampaignSql {
    /// `SELECT <columns> FROM <table> WHERE true`, for [`ListQuery`].
    pub list: &'static str,
    /// One row.
    pub get: &'static str,
    /// One row, `FOR UPDATE`.
    pub lock: &'static str,
    /// Its status, `FOR UPDATE`.
    pub lock_status: &'static str,
    /// Its status, `FOR SHARE`.
    pub share_status: &'static str,
    /// Whether it exists.
    pub exists: &'static str,
    /// Deletes it.
    pub delete: &'static str,
}

/// The [`CampaignSql`] of `palisade.<table>`, read with the given columns (a literal or a
/// macro call expanding to one).
macro_rules! campaign_sql {
    ($table:literal, $($columns:tt)+) => {
        $crate::messaging::campaign::CampaignSql {
            list: concat!("SELECT ", $($columns)+, " FROM palisade.", $table, " WHERE true"),
            get: concat!("SELECT ", $($columns)+, " FROM palisade.", $table, " WHERE id = $1"),
            lock: concat!(
                "SELECT ", $($columns)+, " FROM palisade.", $table, " WHERE id = $1 FOR UPDATE"
            ),
            lock_status: concat!(
                "SELECT status FROM palisade.", $table, " WHERE id = $1 FOR UPDATE"
            ),
            share_status: concat!(
                "SELECT status FROM palisade.", $table, " WHERE id = $1 FOR SHARE"
            ),
            exists: concat!("SELECT 1 FROM palisade.", $table, " WHERE id = $1"),
            delete: concat!("DELETE FROM palisade.", $table, " WHERE id = $1"),
        }
    };
}
pub(crate) use campaign_sql;

/// A campaign row of one channel.
pub trait Campaign: Sized {
    /// Its id type.
    type Id: Copy;
    /// Its statements.
    const SQL: CampaignSql;
    /// The UUID of an id.
    fn uuid(id: Self::Id) -> Uuid;
    /// Decodes a row read with the channel's columns.
    fn from_row(r: &Row) -> Result<Self, DbError>;
    /// Its id.
    fn id(&self) -> Uuid;
    /// Its status.
    fn status(&self) -> CampaignStatus;
    /// When it goes (or went) out, if scheduled.
    fn scheduled_at(&self) -> Option<OffsetDateTime>;
    /// Its creation time.
    fn created_at(&self) -> OffsetDateTime;
}

fn cursor_of<C: Campaign>(c: &C) -> Cursor {
    Cursor {
        created_at: c.created_at(),
        id: c.id(),
    }
}

fn status_of(r: &Row) -> Result<CampaignStatus, DbError> {
    decode(r, "status", CampaignStatus::parse)
}

/// One page of campaigns, newest first. Ends the transaction (one round trip).
pub async fn list_campaigns<C: Campaign>(
    tx: TenantTx,
    filter: &CampaignFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<C, Cursor>, DbError> {
    let status = filter.status.map(CampaignStatus::as_str);
    ListQuery::new(C::SQL.list)
        .and_opt("status = $", status.as_ref())
        .page(&page)
        .fetch(tx, page.limit, C::from_row, cursor_of)
        .await
}

/// One campaign, or `None` when it does not exist in this organization.
pub async fn get_campaign<C: Campaign>(tx: TenantTx, id: C::Id) -> Result<Option<C>, DbError> {
    let rows = tx.query_once(C::SQL.get, &[&C::uuid(id)]).await?;
    rows.first().map(C::from_row).transpose()
}

/// One campaign, locked until the transaction ends (read it, check the rules, then update).
pub async fn lock_campaign<C: Campaign>(
    tx: &mut TenantTx,
    id: C::Id,
) -> Result<Option<C>, DbError> {
    let row = tx.query_opt(C::SQL.lock, &[&C::uuid(id)]).await?;
    row.map(|r| C::from_row(&r)).transpose()
}

/// Deletes a campaign unless its status forbids it ([`CampaignStatus::is_deletable`]). Email
/// and SMS messages go with it; calls stay, without the link (the foreign keys say so).
pub async fn delete_campaign<C: Campaign>(
    tx: &mut TenantTx,
    id: C::Id,
) -> Result<Guarded<(), CampaignStatus>, DbError> {
    let row = tx.query_opt(C::SQL.lock_status, &[&C::uuid(id)]).await?;
    let Some(row) = row else {
        return Ok(Guarded::NotFound);
    };
    let status = status_of(&row)?;
    if !status.is_deletable() {
        return Ok(Guarded::Refused(status));
    }
    tx.execute(C::SQL.delete, &[&C::uuid(id)]).await?;
    Ok(Guarded::Done(()))
}

/// A campaign's status, share-locked until the transaction ends: recipients can be added
/// concurrently, but the status cannot change under them (a move to `sending` waits).
pub async fn share_campaign_status<C: Campaign>(
    tx: &mut TenantTx,
    id: C::Id,
) -> Result<Option<CampaignStatus>, DbError> {
    let row = tx.query_opt(C::SQL.share_status, &[&C::uuid(id)]).await?;
    row.map(|r| status_of(&r)).transpose()
}

/// Whether a campaign exists in this organization.
pub async fn campaign_exists<C: Campaign>(tx: &mut TenantTx, id: C::Id) -> Result<bool, DbError> {
    Ok(tx
        .query_opt(C::SQL.exists, &[&C::uuid(id)])
        .await?
        .is_some())
}

/// Implements [`Campaign`] for a channel's row type whose fields are named as in the tables.
macro_rules! impl_campaign {
    ($campaign:ty, $id:ty, $table:literal, $($columns:tt)+) => {
        impl $crate::messaging::campaign::Campaign for $campaign {
            type Id = $id;
            const SQL: $crate::messaging::campaign::CampaignSql =
                $crate::messaging::campaign::campaign_sql!($table, $($columns)+);
            fn uuid(id: $id) -> ::uuid::Uuid {
                id.as_uuid()
            }
            fn from_row(r: &::tokio_postgres::Row) -> Result<Self, $crate::DbError> {
                campaign_from_row(r)
            }
            fn id(&self) -> ::uuid::Uuid {
                self.id
            }
            fn status(&self) -> ::palisade_domain::CampaignStatus {
                self.status
            }
            fn scheduled_at(&self) -> Option<::time::OffsetDateTime> {
                self.scheduled_at
            }
            fn created_at(&self) -> ::time::OffsetDateTime {
                self.created_at
            }
        }
    };
}
pub(crate) use impl_campaign;
