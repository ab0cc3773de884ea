//! What every tenant resource's queries share: reading one row by id, locking it for
//! `If-Match`, deleting it, listing a page of it, and decoding what an insert or update
//! returns. A resource module declares its stored row once with [`table!`] (the struct, its
//! columns and its decoder), its new row with [`insert_type!`], its changes with
//! [`patch_type!`] and its list filters with [`filter_type!`]; it writes by hand only the SQL
//! that is not one of those (a write-only secret, a statement over two tables).
//!
//! The statements of [`table!`] are constant (`concat!` at compile time); an insert or update
//! is put together at run time from the declared column names (never from input), the values
//! always bound as parameters. None filters by organization: the table's policies do, inside
//! the caller's [`TenantTx`].
//!
//! [`table!`]: crate::table!
//! [`insert_type!`]: crate::insert_type!
//! [`patch_type!`]: crate::patch_type!
//! [`filter_type!`]: crate::filter_type!

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::list::{Cursor, ListQuery};
use crate::{DbError, Page, PageRequest, TenantTx};

/// A tenant table's row as the API reads it, declared with [`table!`](crate::table!).
pub trait Table: Sized + Clone {
    /// The columns every query of this table returns, comma-separated.
    const COLUMNS: &'static str;
    /// [`Table::COLUMNS`], each prefixed `t.` (a statement that joins the table as `t`).
    const QUALIFIED_COLUMNS: &'static str;
    /// `SELECT <columns> FROM <table> WHERE id = $1`.
    const GET: &'static str;
    /// [`Table::GET`] `FOR UPDATE`.
    const LOCK: &'static str;
    /// `DELETE FROM <table> WHERE id = $1`.
    const DELETE: &'static str;
    /// `SELECT <columns> FROM <table> WHERE true`, for [`ListQuery`] to extend.
    const LIST: &'static str;
    /// The table, schema-qualified.
    const TABLE: &'static str;

    /// Decodes a row holding [`Table::COLUMNS`].
    fn from_row(row: &Row) -> Result<Self, DbError>;

    /// This row's position in a newest-first list.
    fn cursor(&self) -> Cursor;
}

/// Reads a row's columns in the order a decoder expects them ([`table!`]'s `from_row`): each
/// by its position when the column there has the expected name (every statement of
/// [`Table`] selects [`Table::COLUMNS`] in order), by its name otherwise (a hand-written
/// statement that orders them its own way). Never by position alone: a statement that swapped
/// two text columns would otherwise decode silently wrong. Finding a column by name compares
/// the name with every column before it: 16% of decoding a 50-row page in a profile of the
/// `tenant_tx` bench, where this compares one name per column.
///
/// [`table!`]: crate::table!
pub struct Columns<'a> {
    row: &'a Row,
    next: usize,
}

impl<'a> Columns<'a> {
    /// Starts at `row`'s first column.
    pub fn of(row: &'a Row) -> Self {
        Self { row, next: 0 }
    }

    /// The column `name`, expected at the next position.
    pub fn next<T: tokio_postgres::types::FromSql<'a>>(
        &mut self,
        name: &str,
    ) -> Result<T, DbError> {
        let at = self.next;
        self.next += 1;
        if self.row.columns().get(at).is_some_and(|c| c.name() == name) {
            Ok(self.row.try_get(at)?)
        } else {
            Ok(self.row.try_get(name)?)
        }
    }
}

/// Declares a tenant table's row: the struct (every field `pub`, named after its column),
/// and its [`Table`] implementation. The first field is `id`; one of them is `created_at`.
///
/// ```text
/// table! {
///     /// A report definition as stored.
///     pub struct Report in "palisade.reports" {
///         /// Its id.
///         id: Uuid,
///         ...
///     }
/// }
/// ```
#[macro_export]
macro_rules! table {
    (
        $(#[$meta:meta])*
        pub struct $name:ident in $table:literal {
            $(#[$id_meta:meta])* id: $id_ty:ty,
            $( $(#[$field_meta:meta])* $field:ident : $ty:ty ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $(#[$id_meta])* pub id: $id_ty,
            $( $(#[$field_meta])* pub $field: $ty, )+
        }

        impl $crate::crud::Table for $name {
            const COLUMNS: &'static str = concat!("id" $(, ", ", stringify!($field))+);
            const QUALIFIED_COLUMNS: &'static str =
                concat!("t.id" $(, ", t.", stringify!($field))+);
            const GET: &'static str = concat!(
                "SELECT id" $(, ", ", stringify!($field))+, " FROM ", $table, " WHERE id = $1"
            );
            const LOCK: &'static str = concat!(
                "SELECT id" $(, ", ", stringify!($field))+, " FROM ", $table,
                " WHERE id = $1 FOR UPDATE"
            );
            const DELETE: &'static str = concat!("DELETE FROM ", $table, " WHERE id = $1");
            const LIST: &'static str = concat!(
                "SELECT id" $(, ", ", stringify!($field))+, " FROM ", $table, " WHERE true"
            );
            const TABLE: &'static str = $table;

            fn from_row(row: &tokio_postgres::Row) -> Result<Self, $crate::DbError> {
                let mut columns = $crate::crud::Columns::of(row);
                Ok(Self {
                    id: columns.next("id")?,
                    $( $field: columns.next(stringify!($field))?, )+
                })
            }

            fn cursor(&self) -> $crate::list::Cursor {
                $crate::list::Cursor {
                    created_at: self.created_at,
                    id: self.id,
                }
            }
        }
    };
}

/// Declares a family's patch type: the struct (a `set` field is `Option<T>`, `None` leaves the
/// column alone; a `clear` field is `Option<Option<T>>`, `Some(None)` stores NULL) and its
/// [`Update`], one `UPDATE` of the row's table that writes each column named like its field,
/// stored as its [`Column`], and `updated_at`.
///
/// ```text
/// patch_type! {
///     /// A partial update.
///     pub struct ReportPatch for Report {
///         /// New name.
///         name: set ReportName,
///         /// New or cleared schedule.
///         schedule: clear ReportSchedule,
///     }
/// }
/// ```
#[macro_export]
macro_rules! patch_type {
    (
        $(#[$meta:meta])*
        pub struct $name:ident for $row:ty {
            $($(#[$field_meta:meta])* $field:ident: $mode:ident $ty:ty),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default)]
        pub struct $name {
            $($(#[$field_meta])* pub $field: $crate::patch_type!(@type $mode $ty),)+
        }

        impl $crate::crud::Update for $name {
            type Row = $row;
            async fn update(
                &self,
                tx: &mut $crate::TenantTx,
                id: ::uuid::Uuid,
            ) -> Result<Option<$row>, $crate::DbError> {
                let mut assign = $crate::crud::Assignments::new(id);
                $(assign.$mode(stringify!($field), &self.$field);)+
                assign.update(tx).await
            }
        }
    };
    (@type set $ty:ty) => { Option<$ty> };
    (@type clear $ty:ty) => { Option<Option<$ty>> };
}

/// Declares a family's list filters: the struct (every field `Option<T>`, `None` filters
/// nothing) and its [`Filter`], which adds each given field's condition, binding the value at
/// the condition's `$` as its [`Column`] or through `with`.
///
/// ```text
/// filter_type! {
///     /// Call list filters.
///     pub struct CallFilter for Call {
///         /// Only this status.
///         status: CallStatus => "status = $",
///         /// A case-insensitive substring of the name.
///         name: CustomerName => "name ILIKE '%' || $ || '%' ESCAPE '\\'"
///             with |n| like_literal(n.as_str()),
///     }
/// }
/// ```
#[macro_export]
macro_rules! filter_type {
    (
        $(#[$meta:meta])*
        pub struct $name:ident for $row:ty {
            $($(#[$field_meta:meta])* $field:ident: $ty:ty => $cond:tt $(with $with:expr)?),+
            $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default)]
        pub struct $name {
            $($(#[$field_meta])* pub $field: Option<$ty>,)+
        }

        impl $crate::crud::Filter for $name {
            type Row = $row;
            fn narrow<'a>(
                &'a self,
                query: $crate::list::ListQuery<'a>,
            ) -> $crate::list::ListQuery<'a> {
                query$(.and_opt_value(
                    $cond,
                    self.$field.as_ref().map($crate::filter_type!(@bind $($with)?)),
                ))+
            }
        }
    };
    (@bind) => {
        $crate::crud::Column::column
    };
    (@bind $with:expr) => {
        $with
    };
}

/// Declares a family's new row: the struct and its [`Insert`], one `INSERT` of a new UUIDv7
/// `id` and each column named like its field, stored as its [`Column`] (an `Option` field stores
/// NULL for `None`).
///
/// ```text
/// insert_type! {
///     /// A conversation to open.
///     pub struct NewConversation into Conversation {
///         /// The customer, if known.
///         customer_id: Option<CustomerId>,
///     }
/// }
/// ```
#[macro_export]
macro_rules! insert_type {
    (
        $(#[$meta:meta])*
        pub struct $name:ident into $row:ty {
            $($(#[$field_meta:meta])* $field:ident: $ty:ty),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty,)+
        }

        impl $crate::crud::Insert for $name {
            type Row = $row;
            async fn insert(&self, tx: &mut $crate::TenantTx) -> Result<$row, $crate::DbError> {
                let mut values = $crate::crud::Values::new();
                $(values.value(stringify!($field), &self.$field);)+
                values.insert(tx).await
            }
        }
    };
}

/// How a domain value is stored: the SQL parameter it becomes (text, a UUID, JSON...).
pub trait Column {
    /// The parameter.
    type Sql<'a>: ToSql + Sync + Send
    where
        Self: 'a;
    /// This value as the parameter.
    fn column(&self) -> Self::Sql<'_>;
}

impl<T: Column> Column for Option<T> {
    type Sql<'a>
        = Option<T::Sql<'a>>
    where
        T: 'a;
    fn column(&self) -> Self::Sql<'_> {
        self.as_ref().map(Column::column)
    }
}

/// Implements [`Column`]: `columns!(Sql => |v| expr: Type, Type)`.
macro_rules! columns {
    ($($sql:ty => |$v:ident| $e:expr; $($ty:ty),+;)+) => {
        $($(impl Column for $ty {
            type Sql<'a> = $sql;
            fn column(&self) -> Self::Sql<'_> {
                let $v = self;
                $e
            }
        })+)+
    };
}

columns! {
    &'a str => |v| v.as_str();
        palisade_domain::CustomerName, palisade_domain::EmailAddress, palisade_domain::EmailLookup,
        palisade_domain::PhoneNumber,
        palisade_domain::ConversationSubject, palisade_domain::ConversationStatus,
        palisade_domain::ReportName, palisade_domain::ReportKind, palisade_domain::ReportSchedule,
        palisade_domain::IvrMenuName, palisade_domain::ArticleTitle, palisade_domain::ArticleBody,
        palisade_domain::WebhookUrl, palisade_domain::WebhookDescription, palisade_domain::PhoneLabel,
        palisade_domain::SocialNetwork, palisade_domain::SocialHandle, palisade_domain::PostStatus,
        palisade_domain::Role, palisade_domain::WebhookEvent, palisade_domain::CallStatus,
        palisade_domain::Direction, palisade_domain::EmailStatus, palisade_domain::SmsStatus,
        palisade_domain::MessageSender, palisade_domain::IntegrationProvider,
        palisade_domain::Capability, palisade_domain::EventType, palisade_domain::SearchText,
        palisade_domain::CallNotes, palisade_domain::ProviderId, palisade_domain::CampaignName,
        palisade_domain::ConnectLabel, palisade_domain::AwsRegion,
        palisade_domain::CampaignStatus, palisade_domain::EmailSubject, palisade_domain::EmailBody,
        palisade_domain::SmsBody, palisade_domain::VoiceScript, palisade_domain::BotText,
        crate::outbound_delivery::DeliveryStatus;
    &'a str => |v| v.expose();
        palisade_domain::AccessToken, palisade_domain::Secret;
    Uuid => |v| v.as_uuid();
        palisade_domain::CustomerId, palisade_domain::IvrMenuId, palisade_domain::VoiceCampaignId,
        palisade_domain::SocialAccountId, palisade_domain::ConversationId, palisade_domain::UserId;
    &'a serde_json::Value => |v| v.as_json();
        palisade_domain::IvrMenuTree;
    serde_json::Value => |v| v.to_value();
        palisade_domain::ReportParameters;
    &'a [String] => |v| v.as_slice();
        palisade_domain::Tags;
    Vec<&'static str> => |v| v.as_strs();
        palisade_domain::Capabilities;
    Vec<&'static str> => |v| v.names();
        palisade_domain::WebhookEvents;
    &'a str => |v| v.as_str();
        String;
    f64 => |v| v.value();
        palisade_domain::ConfidenceThreshold;
    bool => |v| *v;
        bool;
    i32 => |v| *v;
        i32;
    Uuid => |v| *v;
        Uuid;
    time::OffsetDateTime => |v| *v;
        time::OffsetDateTime;
}

/// The columns and values of one [`insert_type!`](crate::insert_type!) insert, after `id`, `$1`.
pub struct Values<'a> {
    columns: String,
    params: Vec<Box<dyn ToSql + Sync + Send + 'a>>,
}

impl<'a> Values<'a> {
    /// No values yet.
    pub fn new() -> Self {
        Self {
            columns: String::new(),
            params: vec![Box::new(Uuid::now_v7())],
        }
    }

    /// `column`, stored as `value`'s [`Column`].
    pub fn value<T: Column>(&mut self, column: &str, value: &'a T) {
        self.columns += ", ";
        self.columns += column;
        self.params.push(Box::new(value.column()));
    }

    /// Inserts the row into `R`'s table and returns it.
    pub async fn insert<R: Table>(self, tx: &mut TenantTx) -> Result<R, DbError> {
        let placeholders: Vec<String> = (1..=self.params.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "INSERT INTO {} (id{}) VALUES ({})",
            R::TABLE,
            self.columns,
            placeholders.join(", ")
        );
        returning(tx, &sql, &borrowed(&self.params)).await
    }
}

impl Default for Values<'_> {
    fn default() -> Self {
        Self::new()
    }
}

/// Owned parameters as the driver takes them.
fn borrowed<'p>(params: &'p [Box<dyn ToSql + Sync + Send + '_>]) -> Vec<&'p (dyn ToSql + Sync)> {
    params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect()
}

/// The assignments of one [`patch_type!`](crate::patch_type!) update, numbered after `$1`, the
/// row's id.
pub struct Assignments<'a> {
    set: String,
    params: Vec<Box<dyn ToSql + Sync + Send + 'a>>,
}

impl<'a> Assignments<'a> {
    /// Assignments to row `id`.
    pub fn new(id: Uuid) -> Self {
        Self {
            set: String::new(),
            params: vec![Box::new(id)],
        }
    }

    fn bind(&mut self, value: impl ToSql + Sync + Send + 'a) -> usize {
        self.params.push(Box::new(value));
        self.params.len()
    }

    /// `column = coalesce($n, column)`: the value, or unchanged.
    pub fn set<T: Column>(&mut self, column: &str, value: &'a Option<T>) {
        let n = self.bind(value.as_ref().map(Column::column));
        self.set += &format!("{column} = coalesce(${n}, {column}), ");
    }

    /// `column = CASE WHEN $n THEN $n+1 ELSE column END`: the value or NULL, or unchanged.
    pub fn clear<T: Column>(&mut self, column: &str, value: &'a Option<Option<T>>) {
        let given = self.bind(value.is_some());
        let n = self.bind(value.as_ref().and_then(|v| v.as_ref().map(Column::column)));
        self.set += &format!("{column} = CASE WHEN ${given} THEN ${n} ELSE {column} END, ");
    }

    /// Runs the update of `R`'s row and returns it; `None` when it does not exist in this
    /// organization.
    pub async fn update<R: Table>(self, tx: &mut TenantTx) -> Result<Option<R>, DbError> {
        self.update_after(tx, "").await
    }

    /// [`Assignments::update`], the statement starting with `before` (a `WITH` clause over the
    /// same parameters).
    pub async fn update_after<R: Table>(
        self,
        tx: &mut TenantTx,
        before: &str,
    ) -> Result<Option<R>, DbError> {
        let sql = format!(
            "{before}UPDATE {} SET {}updated_at = now() WHERE id = $1",
            R::TABLE,
            self.set
        );
        returning_opt(tx, &sql, &borrowed(&self.params)).await
    }
}

/// A family's list filters: they narrow a list of their table (see [`ListQuery`]).
pub trait Filter {
    /// The table listed.
    type Row: Table;
    /// Adds this filter's conditions to `query`.
    fn narrow<'a>(&'a self, query: ListQuery<'a>) -> ListQuery<'a>;
}

/// A row to insert (a family's parsed create body).
// The futures are not required to be `Send`: handlers run on actix's single-threaded workers.
#[allow(async_fn_in_trait)]
pub trait Insert {
    /// The table written.
    type Row: Table;
    /// Inserts it in the acting organization and returns the stored row, in **one statement**
    /// (no lock or read before it): the API's create may send COMMIT in the pipeline of that
    /// statement ([`TenantTx::commit_with_next_statement`]), after which a second one would
    /// fail and the first would stay committed. The row is committed once its answer is read, so
    /// decoding it must not fail on a row the statement could return.
    async fn insert(&self, tx: &mut TenantTx) -> Result<Self::Row, DbError>;
}

/// Changes to a row (a family's parsed patch body): `None` fields stay.
#[allow(async_fn_in_trait)]
pub trait Update {
    /// The table written.
    type Row: Table;
    /// Applies the changes to row `id` in **one statement**; `None` when it does not exist in
    /// this organization. As with [`Insert::insert`], the API's PATCH sends COMMIT in the
    /// pipeline of that statement (with BEGIN and the check when nothing was sent before it: no
    /// `If-Match`, guard or check that reads), so a second statement would fail, and decoding the
    /// row must not fail on a row the statement could return.
    async fn update(&self, tx: &mut TenantTx, id: Uuid) -> Result<Option<Self::Row>, DbError>;
}

/// One page of `filter`'s rows, newest first. Ends the transaction (one round trip).
// Not an `async fn`, nor is `fetch`: each only hands on the read's future. An `async fn` would
// hold that future in a state of its own, and a future is copied whole into each caller's that
// takes it in: a list's future is several kilobytes, mostly the pipeline's.
pub fn list_page<'a, F: Filter>(
    tx: TenantTx,
    filter: &'a F,
    page: &'a PageRequest<Cursor>,
) -> impl Future<Output = Result<Page<F::Row, Cursor>, DbError>> {
    fetch(filter.narrow(list::<F::Row>()), tx, page)
}

/// One row, or `None` when it does not exist in this organization. Ends the transaction (one
/// round trip).
pub async fn get<T: Table>(tx: TenantTx, id: Uuid) -> Result<Option<T>, DbError> {
    let rows = tx.query_once(T::GET, &[&id]).await?;
    rows.first().map(T::from_row).transpose()
}

/// [`get`] inside a write transaction, the row locked until it ends (for `If-Match`). `None`
/// when the row is not visible to this organization (or to the acting role's UPDATE policy:
/// locking applies it too).
pub async fn lock<T: Table>(tx: &mut TenantTx, id: Uuid) -> Result<Option<T>, DbError> {
    let row = tx.query_opt(T::LOCK, &[&id]).await?;
    row.as_ref().map(T::from_row).transpose()
}

/// Whether row `id` exists in this organization, inside a longer transaction (a parent
/// checked before listing its children).
pub async fn exists<T: Table>(tx: &mut TenantTx, id: Uuid) -> Result<bool, DbError> {
    Ok(tx.query_opt(T::GET, &[&id]).await?.is_some())
}

/// Deletes one row; `false` when it does not exist in this organization.
pub async fn delete<T: Table>(tx: &mut TenantTx, id: Uuid) -> Result<bool, DbError> {
    Ok(tx.execute(T::DELETE, &[&id]).await? == 1)
}

/// A list of `T` to narrow with the resource's filters, then [`ListQuery::page`] and
/// [`fetch`].
pub fn list<'a, T: Table>() -> ListQuery<'a> {
    ListQuery::new(T::LIST)
}

/// Reads the page `page` of `query` (already narrowed by the resource's filters), newest
/// first. Ends the transaction (one round trip).
pub fn fetch<'a, T: Table>(
    query: ListQuery<'a>,
    tx: TenantTx,
    page: &'a PageRequest<Cursor>,
) -> impl Future<Output = Result<Page<T, Cursor>, DbError>> {
    query
        .page(page)
        .fetch(tx, page.limit, T::from_row, T::cursor)
}

/// Runs an `INSERT` or `UPDATE` statement `sql` (without its `RETURNING` clause, which this
/// adds) that writes exactly one row, and decodes it.
pub async fn returning<T: Table>(
    tx: &mut TenantTx,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<T, DbError> {
    let sql = [sql, " RETURNING ", T::COLUMNS].concat();
    T::from_row(&tx.query_one(&sql, params).await?)
}

/// [`returning`] for a statement that writes at most one row (an `UPDATE ... WHERE id = $1`):
/// `None` when it wrote none (the row does not exist in this organization).
pub async fn returning_opt<T: Table>(
    tx: &mut TenantTx,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<T>, DbError> {
    let sql = [sql, " RETURNING ", T::COLUMNS].concat();
    tx.query_opt(&sql, params)
        .await?
        .as_ref()
        .map(T::from_row)
        .transpose()
}
