//! What the email, SMS and voice campaigns have in common. Each channel declares its row with
//! [`crate::table!`] (reading, locking, listing and deleting by id are [`crate::crud`]'s) and
//! implements [`Campaign`] for it with [`impl_campaign!`]; it keeps what is its own: its
//! content, the insert and update statements (their columns differ), counters and messages
//! or calls.
//!
//! A create is a [`NewCampaign`] and a PATCH a [`CampaignPatch`] of the channel's content:
//! the status and schedule are every channel's alike.

use std::marker::PhantomData;

use palisade_domain::CampaignStatus;
use time::OffsetDateTime;
use uuid::Uuid;

use super::decode;
use crate::crud::{Filter, Table};
use crate::list::ListQuery;
use crate::{DbError, TenantTx};

/// A campaign row of one channel.
pub trait Campaign: Table {
    /// `SELECT status FROM <table> WHERE id = $1 FOR SHARE`.
    const SHARE_STATUS: &'static str;
    /// Its status as stored.
    fn status_str(&self) -> &str;
    /// When it goes (or went) out, if scheduled.
    fn scheduled_at(&self) -> Option<OffsetDateTime>;

    /// Its status (the CHECK constraint and the enum list the same values).
    fn status(&self) -> Result<CampaignStatus, DbError> {
        CampaignStatus::parse(self.status_str())
            .map_err(|_| DbError::Decode("unexpected status value".into()))
    }
}

/// Implements [`Campaign`] for a channel's row (declared with [`crate::table!`], with
/// `status` and `scheduled_at` fields) stored in `$table`.
macro_rules! impl_campaign {
    ($campaign:ty, $table:literal) => {
        impl $crate::messaging::campaign::Campaign for $campaign {
            const SHARE_STATUS: &'static str =
                concat!("SELECT status FROM ", $table, " WHERE id = $1 FOR SHARE");
            fn status_str(&self) -> &str {
                &self.status
            }
            fn scheduled_at(&self) -> Option<::time::OffsetDateTime> {
                self.scheduled_at
            }
        }
    };
}
pub(crate) use impl_campaign;

/// A campaign to create: the channel's content `T`, and when it goes out.
#[derive(Debug, Clone)]
pub struct NewCampaign<T> {
    /// The channel's content.
    pub content: T,
    /// Initial status (the API allows draft or scheduled).
    pub status: CampaignStatus,
    /// When it goes out.
    pub scheduled_at: Option<OffsetDateTime>,
}

/// A partial update of a campaign: the channel's content changes `T` (`None` fields stay),
/// its status and its schedule.
#[derive(Debug, Clone, Default)]
pub struct CampaignPatch<T> {
    /// The channel's content changes.
    pub content: T,
    /// New status (already checked against the current one).
    pub status: Option<CampaignStatus>,
    /// New or cleared schedule.
    pub scheduled_at: Option<Option<OffsetDateTime>>,
}

impl<T: Default + PartialEq> CampaignPatch<T> {
    /// Whether it changes the content (texts or schedule), which only draft and scheduled
    /// campaigns allow.
    pub fn edits_content(&self) -> bool {
        self.content != T::default() || self.scheduled_at.is_some()
    }
}

/// Campaign list filters (the same for every channel `C`).
#[derive(Debug, Clone, Copy)]
pub struct CampaignFilter<C> {
    /// Only this status.
    pub status: Option<CampaignStatus>,
    row: PhantomData<fn() -> C>,
}

impl<C> CampaignFilter<C> {
    /// Campaigns with this status, or all.
    pub fn new(status: Option<CampaignStatus>) -> Self {
        Self {
            status,
            row: PhantomData,
        }
    }
}

impl<C: Campaign> Filter for CampaignFilter<C> {
    type Row = C;
    fn narrow<'a>(&'a self, query: ListQuery<'a>) -> ListQuery<'a> {
        query.and_opt_value("status = $", self.status.map(CampaignStatus::as_str))
    }
}

/// A campaign's status, share-locked until the transaction ends: recipients can be added
/// concurrently, but the status cannot change under them (a move to `sending` waits).
pub async fn share_status<C: Campaign>(
    tx: &mut TenantTx,
    id: Uuid,
) -> Result<Option<CampaignStatus>, DbError> {
    let row = tx.query_opt(C::SHARE_STATUS, &[&id]).await?;
    row.map(|r| decode(&r, "status", CampaignStatus::parse))
        .transpose()
}
