//! What the email, SMS and voice campaigns have in common. Each channel declares its row with
//! [`crate::table!`] (reading, locking, listing and deleting by id are [`crate::crud`]'s) and
//! implements [`Campaign`] for it with `impl_campaign!`, and declares its content and the
//! changes to it with `content_types!` (the insert and update are written once, here); it
//! keeps what is its own: counters and messages or calls.
//!
//! A create is a [`NewCampaign`] and a PATCH a [`CampaignPatch`] of the channel's content:
//! the status and schedule are every channel's alike.

use std::marker::PhantomData;

use palisade_domain::CampaignStatus;
use time::OffsetDateTime;
use uuid::Uuid;

use super::decode;
use crate::crud::{Assignments, Filter, Insert, Table, Update, Values};
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

/// A channel's campaign content, declared with `content_types!`: the columns a create writes.
pub trait Content {
    /// The channel's campaign row.
    type Row: Campaign;
    /// Adds the content's columns to an insert.
    fn values<'a>(&'a self, values: &mut Values<'a>);
}

/// Changes to a channel's campaign content, declared with `content_types!`: the columns a
/// PATCH writes.
pub trait Edit {
    /// The channel's campaign row.
    type Row: Campaign;
    /// What the same statement does first (a `WITH` clause), using the update's parameters:
    /// `$1` the id, then each content field's in declaration order (a `set` field binds one, its
    /// value; a `clear` field two, whether it is given and then its value). Default: nothing.
    const BEFORE: &'static str = "";
    /// Adds the changed columns to an update.
    fn assign<'a>(&'a self, assignments: &mut Assignments<'a>);
}

/// Declares a channel's content and its changes from one field list: `set` fields are required
/// in the content and `Option` in the changes, `clear` fields `Option` in the content and
/// clearable in the changes (`Option<Option<T>>`); each is the column of the same name.
/// `before: SQL;` is the changes' [`Edit::BEFORE`].
macro_rules! content_types {
    (
        $(#[$meta:meta])*
        $row:ty: $content:ident, $edit:ident {
            $($(#[$field_meta:meta])* $field:ident: $mode:ident $ty:ty),+ $(,)?
        }
        $(before: $before:expr;)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $content {
            $($(#[$field_meta])* pub $field: $crate::messaging::campaign::content_types!(@content $mode $ty),)+
        }

        /// Changes to the content: `None` fields stay.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $edit {
            $($(#[$field_meta])* pub $field: $crate::patch_type!(@type $mode $ty),)+
        }

        impl $crate::messaging::campaign::Content for $content {
            type Row = $row;
            fn values<'a>(&'a self, values: &mut $crate::crud::Values<'a>) {
                $(values.value(stringify!($field), &self.$field);)+
            }
        }

        impl $crate::messaging::campaign::Edit for $edit {
            type Row = $row;
            $(const BEFORE: &'static str = $before;)?
            fn assign<'a>(&'a self, assignments: &mut $crate::crud::Assignments<'a>) {
                $(assignments.$mode(stringify!($field), &self.$field);)+
            }
        }
    };
    (@content set $ty:ty) => { $ty };
    (@content clear $ty:ty) => { Option<$ty> };
}
pub(crate) use content_types;

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

impl<T: Content> Insert for NewCampaign<T> {
    type Row = T::Row;
    async fn insert(&self, tx: &mut TenantTx) -> Result<T::Row, DbError> {
        let mut values = Values::new();
        self.content.values(&mut values);
        values.value("status", &self.status);
        values.value("scheduled_at", &self.scheduled_at);
        values.insert(tx).await
    }
}

impl<E: Edit> Update for CampaignPatch<E> {
    type Row = E::Row;
    async fn update(&self, tx: &mut TenantTx, id: Uuid) -> Result<Option<E::Row>, DbError> {
        let mut assignments = Assignments::new(id);
        self.content.assign(&mut assignments);
        assignments.set("status", &self.status);
        assignments.clear("scheduled_at", &self.scheduled_at);
        assignments.update_after(tx, E::BEFORE).await
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
