//! The shared code of every tenant resource: one declaration per family ([`Resource`] and, for
//! what it supports, [`Listed`], [`Created`], [`Patched`]) gives its list, create, get, patch
//! and delete handlers *and* their OpenAPI operations, registered from the same place.
//!
//! What the handlers do, for every family alike:
//! - **list**: the route's filters parsed into domain types (422 with every bad field), then
//!   one round trip reading a page newest first ([`crate::list::List`] has the page rules);
//! - **create**: the body parsed (422 with every bad field) before any transaction; then the
//!   transaction of its `Idempotency-Key`, the insert, and a 201 with `Location` (without a key,
//!   BEGIN, the credential's check, the INSERT and COMMIT go in one round trip, after the
//!   session's lookup in the families only a user's session writes);
//! - **get**: another organization's id answers 404 like a missing one (RLS hides the row);
//! - **patch**/**delete**: `If-Match` checked against the locked row, then the write, in one
//!   transaction (when nothing is read before the write, no `If-Match`, guard or
//!   [`Patched::check`] that reads, BEGIN, the credential's check, the write and COMMIT go in one
//!   round trip, after the session's lookup in the families only a user's session writes;
//!   otherwise the write and COMMIT go in one, after what was sent before them);
//! - writes of families declared [`Resource::ADMIN_WRITES`] answer 403 to a member: checked with
//!   the credential by the write's transaction, after the body (a body invalid in itself is 422
//!   first; a malformed path id is 400 first, as everywhere); those declared
//!   [`Resource::USER_SESSION_WRITES`] look the user's session up before, answer 403
//!   `requires_user_session` to an API key, and refuse a member 403 before validating the body
//!   ([`Writer`]);
//! - every write that commits logs one line (`created`, `updated`, `deleted`, with the
//!   collection and the id; never a field's value);
//! - a constraint violation becomes the error the family's [`Resource::VIOLATIONS`] lists for
//!   it (409 for a taken unique key, 422 `not_found` for a reference outside the organization,
//!   422 `too_long` on the field for a CHECK on a JSON object's stored size);
//! - guards ([`Resource::DELETE_GUARD`], [`Patched::GUARD`], [`Patched::check`]) refuse a write
//!   the row's state does not allow, on the row locked in the write's transaction.
//!
//! What some families need beyond that is a hook with a default, not a handler of their own:
//! [`Created::prepare`] (a check on the caller, a write-only secret shown once in the 201), the
//! guards above, [`Within`] (a collection inside another family's row).
//!
//! A family's module keeps what is its own: its stored row (`palisade_db::table!`), its
//! filters, bodies and their parsing, and its SQL.

use actix_web::{HttpResponse, web};
use palisade_db::crud::{self, Table};
use palisade_db::{DbError, TenantTx};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::auth::{Caller, Tenant, UserSession};
use crate::endpoints::{Doc, Endpoints};
use crate::etag::IfMatch;
use crate::extract::Json;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::list::List;
use crate::routes::Fields;
use crate::{ApiError, AppState};

/// A tenant resource family served at [`Resource::COLLECTION`] and [`Resource::ITEM`].
pub(crate) trait Resource: 'static {
    /// The stored row.
    type Row: Table;
    /// What clients see of a row (often the row itself).
    type Json: From<Self::Row> + Serialize + utoipa::ToSchema + 'static;
    /// `/v1/<family>`.
    const COLLECTION: &'static str;
    /// `/v1/<family>/{id}`.
    const ITEM: &'static str;
    /// The OpenAPI tag.
    const TAG: &'static str;
    /// One item, with its article, for summaries: `a report`.
    const ONE: &'static str;
    /// Several, for summaries: `reports`.
    const MANY: &'static str;
    /// Whether creating, changing and deleting need the owner or admin role.
    const ADMIN_WRITES: bool = false;
    /// Whether creating, changing and deleting need a user's session, never an API key (403
    /// `requires_user_session`, see [`crate::auth::UserSession`]): families that manage
    /// credentials or people.
    const USER_SESSION_WRITES: bool = false;
    /// The constraints whose violation by a write is the client's mistake, and what it is.
    const VIOLATIONS: &'static [Violation] = &[];
    /// The rule a row's state puts on deleting it (a campaign once sent, a message gone out),
    /// checked on the row locked in the delete's transaction, after `If-Match`. `None`: any
    /// row may go.
    const DELETE_GUARD: Option<DeleteGuard<Self::Row>> = None;
    /// For families whose rows are revoked rather than deleted (credentials: API keys, Amazon
    /// Connect event credentials): the statement that revokes row `$1`, idempotently, which
    /// `DELETE <item>` runs instead of deleting (204; 404 when it matches no row). The row
    /// stays, listed with its revocation. `None`: `DELETE` deletes.
    const REVOKE: Option<&'static str> = None;
}

/// A rule a row's state puts on deleting it ([`Resource::DELETE_GUARD`]).
pub(crate) type DeleteGuard<Row> = fn(&Row) -> Result<(), ApiError>;

/// A rule a row's state puts on changing it ([`Patched::GUARD`]).
pub(crate) type PatchGuard<Patch, Row> = fn(&mut Patch, &Row) -> Result<(), ApiError>;

/// A constraint the database enforces (a unique key, a composite foreign key, a CHECK) and the
/// error a client gets when a write violates it. The same constraint can mean different things to
/// different families (an SMS campaign naming a number it does not hold; releasing a number a
/// campaign still uses), so each family lists its own.
pub(crate) struct Violation {
    constraint: &'static str,
    /// Whether deleting a row can violate it (a row of another table still refers to this
    /// one); otherwise only creating and changing one can.
    on_delete: bool,
    error: fn() -> ApiError,
}

impl Violation {
    /// A unique key (409 when taken), a reference to another row (422 `not_found` when it is
    /// not this organization's) or a CHECK (422 on its field: [`too_large_as_stored`]), violated
    /// by a create or a patch.
    pub(crate) const fn on_write(constraint: &'static str, error: fn() -> ApiError) -> Self {
        Self {
            constraint,
            on_delete: false,
            error,
        }
    }

    /// A reference *to* this family's row from another table, violated by deleting (or
    /// changing) the row while it is in use.
    pub(crate) const fn in_use(constraint: &'static str, error: fn() -> ApiError) -> Self {
        Self {
            constraint,
            on_delete: true,
            error,
        }
    }
}

/// The error for a failed write of family `R`: the one [`Resource::VIOLATIONS`] gives for the
/// violated constraint, or the database error's own.
pub(crate) fn write_error<R: Resource>(e: DbError) -> ApiError {
    R::VIOLATIONS
        .iter()
        .find(|v| {
            e.is_unique_violation_of(v.constraint)
                || e.is_foreign_key_violation_of(v.constraint)
                || e.is_check_violation_of(v.constraint)
        })
        .map_or_else(|| e.into(), |v| (v.error)())
}

/// The 422 for a JSON object whose stored form its column's CHECK refuses: `too_long` on
/// `field`, like an object over its size as sent. The database bounds some objects by their
/// `jsonb` size or by the text `jsonb` prints, which can exceed the text the client sent (a
/// number takes 10 bytes or more stored; `1e300` prints as 301 digits); the CHECK is the bound.
pub(crate) fn too_large_as_stored(field: &'static str) -> ApiError {
    ApiError::Validation(vec![crate::error::FieldError::new(
        field,
        crate::error::FieldCode::TooLong,
        "is too large as stored",
    )])
}

/// A 409 for a unique key another row of the organization holds, naming the body's `field` that
/// holds the value.
pub(crate) fn taken(
    code: crate::error::ErrorCode,
    field: &'static str,
    message: &'static str,
) -> ApiError {
    ApiError::Taken {
        code,
        field,
        message,
    }
}

/// Declares a family's [`Resource`] in one place: `family! { Type: Row => Json, "/v1/things",
/// "tag", "a thing", "things"; <any other items of the impl> }`. The item path is the
/// collection's followed by `/{id}`.
macro_rules! family {
    ($name:ty: $row:ty => $json:ty, $path:literal, $tag:literal, $one:literal, $many:literal; $($extra:tt)*) => {
        impl $crate::resource::Resource for $name {
            type Row = $row;
            type Json = $json;
            const COLLECTION: &'static str = $path;
            const ITEM: &'static str = concat!($path, "/{id}");
            const TAG: &'static str = $tag;
            const ONE: &'static str = $one;
            const MANY: &'static str = $many;
            $($extra)*
        }
    };
}
pub(crate) use family;

/// A family with a list route.
pub(crate) trait Listed: Resource {
    /// The route's own query parameters (`Option<String>` fields, `deny_unknown_fields`).
    type Query: DeserializeOwned + utoipa::IntoParams + crate::rules::FieldRules + 'static;
    /// The parsed filters.
    type Filter: crud::Filter<Row = Self::Row>;
    /// Parses the filters, recording each bad one in `f`.
    fn filter(query: &Self::Query, f: &mut Fields) -> Self::Filter;
}

/// A family with a create route.
pub(crate) trait Created: Resource {
    /// The request body.
    type Body: DeserializeOwned + utoipa::ToSchema + crate::rules::FieldRules + 'static;
    /// The parsed body.
    type New: crud::Insert<Row = Self::Row>;
    /// Parses the body, recording each bad field in `f`; `None` only when `f` has errors.
    fn parse(body: &Self::Body, f: &mut Fields) -> Option<Self::New>;

    /// Whether only a user whose own email address is verified creates one (or an API key that
    /// user made): 403 `email_not_verified` otherwise, checked in the transaction before the
    /// insert, holding the user's row (`palisade_db::accounts::hold_verified_self`: a password
    /// reset or a demotion cannot slip in between), and the family's INSERT policy refuses the
    /// row too. For what keeps access, or sends the organization's data out, after the
    /// account's password is reset: an address taken by someone else, whom its mailbox's holder
    /// turns out with a reset, leaves nothing of the kind behind (docs/accounts.md, "Verifying
    /// an email address").
    const VERIFIED_CREATOR: bool = false;

    /// Runs once the body is valid, before the transaction: checks what depends on the caller
    /// (`session`: the tenant a user's session resolved, in a family only sessions write,
    /// [`Resource::USER_SESSION_WRITES`]; `None` in the others, whose credential is checked by
    /// the transaction), and generates the write-only secret of families that have one (a
    /// webhook's signing secret, an API key), storing what is kept of it in `new`. The returned
    /// [`OneTimeSecret`] is shown in the 201 only. Default: nothing to check, no secret.
    fn prepare(
        _new: &mut Self::New,
        _session: Option<&Tenant>,
    ) -> Result<Option<OneTimeSecret>, ApiError> {
        Ok(None)
    }
}

/// A write-only secret generated by a create (see [`Created::prepare`]): the 201 carries it
/// after the row's fields, with `Cache-Control: no-store`, and the idempotency record keeps the
/// answer without it (a replay answers the row alone).
pub(crate) struct OneTimeSecret {
    /// Its field in the answer.
    pub(crate) field: &'static str,
    /// The secret (its `Debug` is redacted; it is exposed only into this answer).
    pub(crate) value: palisade_domain::Secret,
}

/// An answer showing a [`OneTimeSecret`]: the row's fields, then the secret's.
#[derive(Serialize)]
struct WithSecret<'a, J: Serialize> {
    #[serde(flatten)]
    item: J,
    #[serde(flatten)]
    secret: &'a OneTimeSecret,
}

impl Serialize for OneTimeSecret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(self.field, self.value.expose())?;
        map.end()
    }
}

/// An answer showing `secret` once: `item`'s fields then the secret's, never stored
/// ([`never_stored`]). Commit it with `commit_without(response, &[secret.field])`.
pub(crate) fn with_secret(
    response: actix_web::HttpResponseBuilder,
    item: impl Serialize,
    secret: &OneTimeSecret,
) -> HttpResponse {
    never_stored(response).json(WithSecret { item, secret })
}

/// `response` with the headers of an answer carrying a secret (a one-time secret, a token):
/// `Cache-Control: no-store`, so that no cache, shared or the client's own, keeps it, and
/// `Pragma: no-cache` for HTTP/1.0 caches (RFC 6749 section 5.1 asks both of every answer
/// carrying a token). The OpenAPI document declares them on every answer whose schema has a
/// secret property (`crate::endpoints::carries_secret`). Every such answer is made through here:
/// [`with_secret`] and `TokenResponse::answer`.
pub(crate) fn never_stored(
    mut response: actix_web::HttpResponseBuilder,
) -> actix_web::HttpResponseBuilder {
    use actix_web::http::header::{CACHE_CONTROL, HeaderValue, PRAGMA};
    response
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((PRAGMA, HeaderValue::from_static("no-cache")));
    response
}

/// A family with a patch route.
pub(crate) trait Patched: Resource {
    /// The request body: absent fields stay (see [`crate::routes::nullable`]).
    type Body: DeserializeOwned + utoipa::ToSchema + crate::rules::FieldRules + 'static;
    /// The parsed changes.
    type Patch: crud::Update<Row = Self::Row>;
    /// Parses the body, recording each bad field in `f`.
    fn parse(body: &Self::Body, f: &mut Fields) -> Self::Patch;
    /// The rules the row's state puts on the changes (a status transition, an edit allowed
    /// only before something went out), checked on the row locked in the PATCH's transaction,
    /// after `If-Match`; it may complete the changes from the row. `None`: no such rules.
    const GUARD: Option<PatchGuard<Self::Patch, Self::Row>> = None;

    /// Refuses a patch that needs another read to judge, in the write transaction after
    /// [`Patched::GUARD`] and before the write (e.g. a phone number's capabilities, bounded by
    /// what the carrier gives the number).
    async fn check(_tx: &mut TenantTx, _id: Uuid, _patch: &Self::Patch) -> Result<(), ApiError> {
        Ok(())
    }
}

/// Declares a family's PATCH body once: the body struct (every field may be absent; unknown
/// fields refused) and the family's [`Patched`], which reads each field into the db patch's
/// field of the same name. A field is `set` (it may change; `null` is 422 `required`) or
/// `clear` (`null` clears it), then its [`crate::kinds`] marker, which parses it and says how it
/// is documented; attributes before a field add to its schema (`#[schema(format = Email)]`).
/// The family's own items of `Patched` (`GUARD`, `check`) follow the fields.
///
/// ```ignore
/// resource::patch! {
///     /// Patch body: absent fields stay.
///     Customers: PatchBody as CustomerPatch => CustomerPatch {
///         name: set Text<CustomerName>,
///         #[schema(format = Email)]
///         email: clear Text<EmailAddress>,
///     }
///     const GUARD: Option<PatchGuard<CustomerPatch, Customer>> = Some(merge);
/// }
/// ```
macro_rules! patch {
    ($($input:tt)*) => {
        $crate::resource::body!(@declare Patched Patch $($input)*);
    };
}
pub(crate) use patch;

/// Declares a family's create body once: the body struct (unknown fields refused) and the
/// family's [`Created`], which reads each field into the db's new row, field by field. A field
/// is `required` (absent or `null` is 422 `required`), `optional` (absent or `null` is `None`)
/// or `default(value)` (absent or `null` is the value), then its [`crate::kinds`] marker;
/// attributes before a field add to its schema. The family's own items of `Created`
/// (`prepare`) follow the fields.
///
/// ```ignore
/// resource::created! {
///     /// Create body.
///     Reports: CreateBody as ReportCreate => NewReport {
///         name: required Text<ReportName>,
///         parameters: default(ReportParameters::default()) Object<ReportParameters>,
///         schedule: optional Choice<ReportSchedule>,
///     }
/// }
/// ```
macro_rules! created {
    ($($input:tt)*) => {
        $crate::resource::body!(@declare Created New $($input)*);
    };
}
pub(crate) use created;

/// What [`patch!`] and [`created!`] declare: the `Patched` or `Created` impl, and the body
/// struct, one field at a time: the field's mode, then
/// its kind, add its schema attributes and its type. Every field is `Option<Option<raw>>`
/// (absent, `null`, a value), the kind's raw JSON type inside.
macro_rules! body {
    (
        @declare $trait:ident $assoc:ident
        $(#[$doc:meta])*
        $family:ty: $body:ident as $schema:ident => $target:ident {
            $($(#[$attr:meta])* $field:ident: $mode:ident $(($default:expr))?
                $kind:ident $(<$($arg:ty),+>)?),*
            $(,)?
        }
        $($extra:tt)*
    ) => {
        $crate::resource::body!(
            @struct [[$(#[$doc])*] $schema] $body []
            $($(#[$attr])* $field: $mode $kind $(<$($arg),+>)?,)*
        );

        impl $crate::rules::FieldRules for $body {
            fn field_rules() -> Vec<(&'static str, $crate::rules::Rule)> {
                vec![$((
                    stringify!($field),
                    <$crate::kinds::$kind $(<$($arg),+>)? as $crate::rules::Ruled>::rule(),
                )),*]
            }
        }

        impl $crate::resource::$trait for $family {
            type Body = $body;
            type $assoc = $target;
            $($extra)*

            fn parse(
                body: &$body,
                f: &mut $crate::routes::Fields,
            ) -> $crate::resource::body!(@parsed $trait $target) {
                $(let $field = $crate::kinds::Field::$mode::<$crate::kinds::$kind $(<$($arg),+>)?>(
                    f,
                    stringify!($field),
                    &body.$field,
                    $(|| $default)?
                );)*
                $crate::resource::body!(@finish $trait $target $($field)*)
            }
        }
    };
    // A patch is every field as read (absent fields stay); a new row needs every field parsed.
    (@parsed Patched $target:ident) => { $target };
    (@parsed Created $target:ident) => { Option<$target> };
    (@finish Patched $target:ident $($field:ident)*) => { $target { $($field),* } };
    (@finish Created $target:ident $($field:ident)*) => { Some($target { $($field: $field?),* }) };
    (@struct [[$(#[$doc:meta])*] $schema:ident] $body:ident [$($done:tt)*]) => {
        $(#[$doc])*
        #[derive(serde::Deserialize, utoipa::ToSchema)]
        #[serde(deny_unknown_fields)]
        #[schema(as = $schema)]
        pub struct $body {
            $($done)*
        }
    };
    (@struct $doc:tt $body:ident [$($done:tt)*]
        $(#[$attr:meta])* $field:ident: $mode:ident $kind:ident $(<$($arg:ty),+>)?, $($rest:tt)*
    ) => {
        $crate::resource::body!(
            @mode $mode [$doc $body [$($done)* $(#[$attr])*] $field] $kind $(<$($arg),+>)?,
            $($rest)*
        );
    };
    // `set` fields refuse null and are not required; `required` ones are; others take null.
    (@mode set $at:tt $kind:ident $(<$($arg:ty),+>)?, $($rest:tt)*) => {
        $crate::resource::body!(@kind $kind $(<$($arg),+>)? $at $($rest)*);
    };
    (@mode required [$doc:tt $body:ident [$($done:tt)*] $field:ident] $($rest:tt)*) => {
        $crate::resource::body!(
            @mode set [$doc $body [$($done)* #[schema(required = true)]] $field] $($rest)*
        );
    };
    (@mode $nullable:ident [$doc:tt $body:ident [$($done:tt)*] $field:ident] $($rest:tt)*) => {
        $crate::resource::body!(
            @mode set [$doc $body [$($done)* #[schema(nullable)]] $field] $($rest)*
        );
    };
    (@kind Choice<$t:ty> $at:tt $($rest:tt)*) => {
        $crate::resource::body!(@field $at [value_type = $t] String, $($rest)*);
    };
    (@kind Id<$t:ty> $at:tt $($rest:tt)*) => {
        $crate::resource::body!(@field $at [value_type = String, format = Uuid] String, $($rest)*);
    };
    (@kind Text<$t:ty> $at:tt $($rest:tt)*) => {
        $crate::resource::body!(@field $at [value_type = String] String, $($rest)*);
    };
    (@kind Instant $at:tt $($rest:tt)*) => {
        $crate::resource::body!(@field $at [value_type = String, format = DateTime] String, $($rest)*);
    };
    (@kind Flag $at:tt $($rest:tt)*) => {
        $crate::resource::body!(@field $at [value_type = bool] bool, $($rest)*);
    };
    (@kind Object<$t:ty> $at:tt $($rest:tt)*) => {
        $crate::resource::body!(@field $at [value_type = Object] serde_json::Value, $($rest)*);
    };
    (@kind Items<$t:ty, $e:ty> $at:tt $($rest:tt)*) => {
        $crate::resource::body!(@field $at [value_type = Vec<$e>] Vec<String>, $($rest)*);
    };
    (@kind Number<$t:ty> $at:tt $($rest:tt)*) => {
        $crate::resource::body!(@field $at [value_type = i64] $crate::extract::Integer, $($rest)*);
    };
    (@kind Real<$t:ty> $at:tt $($rest:tt)*) => {
        $crate::resource::body!(@field $at [value_type = f64] f64, $($rest)*);
    };
    (@field [$doc:tt $body:ident [$($done:tt)*] $field:ident] [$($schema:tt)*] $raw:ty,
        $($rest:tt)*
    ) => {
        $crate::resource::body!(@struct $doc $body [
            $($done)*
            #[schema($($schema)*)]
            #[serde(default, deserialize_with = "crate::routes::nullable")]
            $field: Option<Option<$raw>>,
        ] $($rest)*);
    };
}
pub(crate) use body;

/// The caller of a write of family `R`.
///
/// - A family any credential may write takes a [`Caller`]: the credential, and the role the
///   write needs (admin for [`Resource::ADMIN_WRITES`], a 403 below it), are checked by the
///   transaction's opening statement, in the round trip of the write's first statement. So a
///   body invalid in itself answers 422 before a refused role's 403 there.
/// - A family only a user's session writes ([`Resource::USER_SESSION_WRITES`]: the credentials
///   it mints) takes a [`UserSession`], looked up before the handler's transaction: an API key is
///   authenticated, then refused 403 `requires_user_session`; the role is refused (403) before
///   the body is validated; [`Created::prepare`] decides by the exact role (a key's role is
///   capped by its minter's); and the transaction checks the credential again
///   ([`Tenant::begin_at`], 409 `role_changed` for a role lowered in between).
pub(crate) struct Writer<R>(By, std::marker::PhantomData<R>);

enum By {
    Caller(Caller),
    Session(Tenant),
}

impl<R: Resource> actix_web::FromRequest for Writer<R> {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        if R::USER_SESSION_WRITES {
            let user = UserSession::from_request(req, payload);
            Box::pin(
                async move { Ok(Writer(By::Session(user.await?.0), std::marker::PhantomData)) },
            )
        } else {
            let caller = Caller::from_request(req, payload);
            Box::pin(async move { Ok(Writer(By::Caller(caller.await?), std::marker::PhantomData)) })
        }
    }
}

impl<R: Resource> Writer<R> {
    /// Refuses (403) what a user's session may not write, before the body is validated; a
    /// [`Caller`]'s role is refused by its transaction instead.
    fn may_write(&self) -> Result<(), ApiError> {
        match &self.0 {
            By::Session(tenant) if R::ADMIN_WRITES => tenant.require_admin(),
            By::Session(_) | By::Caller(_) => Ok(()),
        }
    }

    /// The tenant a user's session resolved, for [`Created::prepare`]; `None` for a [`Caller`].
    fn session(&self) -> Option<&Tenant> {
        match &self.0 {
            By::Session(tenant) => Some(tenant),
            By::Caller(_) => None,
        }
    }

    /// Opens the write's transaction; nothing is sent until its first statement. A create
    /// (`exact`) of a user's session relies on the exact role [`Created::prepare`] saw when the
    /// family is admin-only; anything else on the role the family's writes need.
    async fn begin(&self, state: &AppState, exact: bool) -> Result<TenantTx, ApiError> {
        let needed = if R::ADMIN_WRITES {
            palisade_domain::Role::Admin
        } else {
            palisade_domain::Role::Member
        };
        match &self.0 {
            By::Caller(caller) => caller.begin_as(state, needed).await,
            By::Session(tenant) => {
                let least = if exact && R::ADMIN_WRITES {
                    tenant.0.role
                } else {
                    needed
                };
                tenant.begin_at(state, least).await
            }
        }
    }
}

/// Parses a path id; a malformed one answers 400 (it cannot name any row).
pub(crate) fn path_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(raw).map_err(|_| ApiError::BadRequest {
        code: crate::error::ErrorCode::InvalidId,
        message: "ids are UUIDs".into(),
    })
}

/// What every write route documents beyond its own: 403 for families with admin writes, 409
/// when a violation it can meet answers it.
fn write_errors<R: Resource>(doc: &mut Doc<'_>, deletes: bool) {
    if R::USER_SESSION_WRITES {
        // Looked up before the transaction, which checks it again (`Writer`): 409 `role_changed`.
        doc.auth(crate::endpoints::Auth::User).errors(&[409]);
    }
    if R::ADMIN_WRITES {
        doc.describe("Owners and admins").errors(&[403]);
    }
    if R::VIOLATIONS.iter().any(|v| {
        (v.on_delete || !deletes) && actix_web::ResponseError::status_code(&(v.error)()) == 409
    }) {
        doc.errors(&[409]);
    }
}

/// Inside a write transaction, before the write: checks `If-Match` against row `id` locked
/// `FOR UPDATE`. When `read` (the family has a guard), the row is read and locked whether or
/// not the header was sent, and returned (404 when it is not this organization's).
async fn locked<R: Resource>(
    tx: &mut TenantTx,
    id: Uuid,
    if_match: &IfMatch,
    read: bool,
) -> Result<Option<R::Row>, ApiError> {
    if !read {
        if_match
            .check(crud::lock::<R::Row>(tx, id), R::Json::from)
            .await?;
        return Ok(None);
    }
    let row = crud::lock::<R::Row>(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if_match
        .check(async { Ok(Some(row.clone())) }, R::Json::from)
        .await?;
    Ok(Some(row))
}

/// `GET <collection>`: newest first, with the family's filters.
pub(crate) async fn list<R: Listed>(
    state: web::Data<AppState>,
    caller: Caller,
    q: List<R::Query>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let filter = R::filter(&q.filter, &mut f);
    f.finish()?;
    let tx = caller.begin(&state).await?;
    let page = crud::list_page(tx, &filter, &q.page).await?;
    Ok(q.respond(page, R::Json::from))
}

/// `POST <collection>` (201 with `Location`).
pub(crate) async fn create<R: Created>(
    state: web::Data<AppState>,
    writer: Writer<R>,
    idem: Idempotency,
    body: Json<R::Body>,
) -> Result<HttpResponse, ApiError> {
    writer.may_write()?;
    let mut f = Fields::default();
    let new = R::parse(&body, &mut f);
    let mut new = f.finish_with(new)?;
    let secret = R::prepare(&mut new, writer.session())?;
    let mut tx = begin_or_replay!(idem, &state, writer.begin(&state, true).await?);
    if R::VERIFIED_CREATOR && !palisade_db::accounts::hold_verified_self(&mut tx).await? {
        return Err(ApiError::email_not_verified());
    }
    // The insert is the create's one statement (crud::Insert): without a key, its COMMIT goes in
    // the same round trip; with one, the key's stored response comes after it and this changes
    // nothing (`TenantTx::hold_commit`).
    tx.commit_with_next_statement();
    let row = crud::Insert::insert(&new, &mut tx)
        .await
        .map_err(write_error::<R>)?;
    let id = Table::cursor(&row).id;
    let item = R::Json::from(row);
    let response = match &secret {
        None => {
            tx.commit(crate::routes::created(R::COLLECTION, id, item))
                .await?
        }
        Some(secret) => {
            let mut created = HttpResponse::Created();
            created.insert_header((
                actix_web::http::header::LOCATION,
                format!("{}/{id}", R::COLLECTION),
            ));
            tx.commit_without(with_secret(created, item, secret), &[secret.field])
                .await?
        }
    };
    tracing::info!(resource = R::COLLECTION, %id, "created");
    Ok(response)
}

/// `GET <item>`.
pub(crate) async fn get<R: Resource>(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let tx = caller.begin(&state).await?;
    let row = crud::get::<R::Row>(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(R::Json::from(row)))
}

/// `PATCH <item>`.
pub(crate) async fn update<R: Patched>(
    state: web::Data<AppState>,
    writer: Writer<R>,
    path: web::Path<String>,
    if_match: IfMatch,
    body: Json<R::Body>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    writer.may_write()?;
    let mut f = Fields::default();
    let mut patch = R::parse(&body, &mut f);
    f.finish()?;
    let mut tx = writer.begin(&state, false).await?;
    let current = locked::<R>(&mut tx, id, &if_match, R::GUARD.is_some()).await?;
    if let (Some(guard), Some(current)) = (R::GUARD, &current) {
        guard(&mut patch, current)?;
    }
    R::check(&mut tx, id, &patch).await?;
    // The update is one statement (crud::Update) and the last: its COMMIT goes with it, in the
    // round trip that opens the transaction when nothing above was sent (no If-Match, no guard,
    // no check that reads).
    tx.commit_with_next_statement();
    let row = crud::Update::update(&patch, &mut tx, id)
        .await
        .map_err(write_error::<R>)?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    tracing::info!(resource = R::COLLECTION, %id, "updated");
    Ok(HttpResponse::Ok().json(R::Json::from(row)))
}

/// `DELETE <item>` (204).
pub(crate) async fn delete<R: Resource>(
    state: web::Data<AppState>,
    writer: Writer<R>,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    writer.may_write()?;
    let mut tx = writer.begin(&state, false).await?;
    let current = locked::<R>(&mut tx, id, &if_match, R::DELETE_GUARD.is_some()).await?;
    if let (Some(guard), Some(current)) = (R::DELETE_GUARD, &current) {
        guard(current)?;
    }
    // One statement, the last: its COMMIT goes with it (with BEGIN and the check too when
    // nothing above was sent).
    tx.commit_with_next_statement();
    let found = match R::REVOKE {
        Some(revoke) => tx.execute(revoke, &[&id]).await? > 0,
        None => crud::delete::<R::Row>(&mut tx, id)
            .await
            .map_err(write_error::<R>)?,
    };
    if !found {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    let what = if R::REVOKE.is_some() {
        "revoked"
    } else {
        "deleted"
    };
    tracing::info!(resource = R::COLLECTION, %id, what);
    Ok(HttpResponse::NoContent().finish())
}

/// Declares `GET <collection>`; the returned [`Doc`] takes what is the family's own.
pub(crate) fn list_route<R: Listed>(e: &mut Endpoints) -> Doc<'_> {
    let mut doc = e.get(R::COLLECTION, list::<R>);
    doc.tag(R::TAG)
        .summary(&format!("List {}", R::MANY))
        .list_query::<R::Query>()
        .list::<R::Json>()
        .errors(&[422]);
    doc
}

/// Declares `POST <collection>`.
pub(crate) fn create_route<R: Created>(e: &mut Endpoints) -> Doc<'_> {
    let mut doc = e.post(R::COLLECTION, create::<R>);
    doc.tag(R::TAG)
        .summary(&format!("Create {}", R::ONE))
        .body::<R::Body>()
        .created::<R::Json>()
        .errors(&[413, 415, 422]);
    write_errors::<R>(&mut doc, false);
    if R::VERIFIED_CREATOR {
        // 403 `email_not_verified`; 409 `role_changed` from the check's hold.
        doc.errors(&[403, 409]);
    }
    doc
}

/// Declares `GET <item>`.
pub(crate) fn get_route<R: Resource>(e: &mut Endpoints) -> Doc<'_> {
    let mut doc = e.get(R::ITEM, get::<R>);
    doc.tag(R::TAG)
        .summary(&format!("Get {}", R::ONE))
        .ok::<R::Json>()
        .errors(&[404]);
    doc
}

/// Declares `PATCH <item>`.
pub(crate) fn update_route<R: Patched>(e: &mut Endpoints) -> Doc<'_> {
    let mut doc = e.patch(R::ITEM, update::<R>);
    doc.tag(R::TAG)
        .summary(&format!("Update {}", R::ONE))
        .body::<R::Body>()
        .ok::<R::Json>()
        .errors(&[404, 413, 415, 422]);
    write_errors::<R>(&mut doc, false);
    doc
}

/// Declares `DELETE <item>`.
pub(crate) fn delete_route<R: Resource>(e: &mut Endpoints) -> Doc<'_> {
    let mut doc = e.delete(R::ITEM, delete::<R>);
    doc.tag(R::TAG)
        .summary(&format!(
            "{} {}",
            if R::REVOKE.is_some() {
                "Revoke"
            } else {
                "Delete"
            },
            R::ONE
        ))
        .no_content()
        .errors(&[404]);
    write_errors::<R>(&mut doc, true);
    doc
}

/// A family whose items also live under a parent's path, `/v1/<parents>/{id}/<items>`
/// (a campaign's recipients): listed there with the family's filters narrowed to the parent,
/// and, with [`CreatedWithin`], created there. Another organization's parent answers 404
/// like a missing one.
pub(crate) trait Within: Listed {
    /// The parent's stored row.
    type Parent: Table;
    /// `/v1/<parents>/{id}/<items>`.
    const NESTED: &'static str;
    /// Narrows the filters to parent `parent`; a filter naming another parent is the
    /// client's mistake (422).
    fn within(filter: &mut Self::Filter, parent: Uuid) -> Result<(), ApiError>;
}

/// A [`Within`] family whose items are created under their parent's path (and found at
/// [`Resource::COLLECTION`]'s, which the 201's `Location` names).
// The futures are not required to be `Send`: handlers run on actix's single-threaded workers.
#[allow(async_fn_in_trait)]
pub(crate) trait CreatedWithin: Within {
    /// The request body.
    type Body: DeserializeOwned + utoipa::ToSchema + crate::rules::FieldRules + 'static;
    /// The parsed body.
    type New;
    /// Parses the body, recording each bad field in `f`; `None` only when `f` has errors.
    fn parse(body: &Self::Body, f: &mut Fields) -> Option<Self::New>;
    /// Inserts the item under parent `parent`, in the transaction of the request's
    /// `Idempotency-Key`: the parent's own rules (404 when it is not this organization's)
    /// and the constraint errors are the family's.
    async fn insert(tx: &mut TenantTx, parent: Uuid, new: Self::New)
    -> Result<Self::Row, ApiError>;
}

/// `GET <nested>`: the parent's items, newest first, with the family's filters.
pub(crate) async fn list_within<R: Within>(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    q: List<R::Query>,
) -> Result<HttpResponse, ApiError> {
    let parent = path_id(&path)?;
    let mut f = Fields::default();
    let mut filter = R::filter(&q.filter, &mut f);
    f.finish()?;
    R::within(&mut filter, parent)?;
    let mut tx = caller.begin(&state).await?;
    if !crud::exists::<R::Parent>(&mut tx, parent).await? {
        return Err(ApiError::NotFound);
    }
    let page = crud::list_page(tx, &filter, &q.page).await?;
    Ok(q.respond(page, R::Json::from))
}

/// `POST <nested>` (201 with `Location` under [`Resource::COLLECTION`]).
pub(crate) async fn create_within<R: CreatedWithin>(
    state: web::Data<AppState>,
    writer: Writer<R>,
    idem: Idempotency,
    path: web::Path<String>,
    body: Json<R::Body>,
) -> Result<HttpResponse, ApiError> {
    let parent = path_id(&path)?;
    writer.may_write()?;
    let mut f = Fields::default();
    let new = R::parse(&body, &mut f);
    let new = f.finish_with(new)?;
    let mut tx = begin_or_replay!(idem, &state, writer.begin(&state, true).await?);
    let row = R::insert(&mut tx, parent, new).await?;
    let id = Table::cursor(&row).id;
    tx.commit(crate::routes::created(
        R::COLLECTION,
        id,
        R::Json::from(row),
    ))
    .await
}

/// Declares `GET <nested>`.
pub(crate) fn list_within_route<R: Within>(e: &mut Endpoints) -> Doc<'_> {
    let mut doc = e.get(R::NESTED, list_within::<R>);
    doc.tag(R::TAG)
        .summary(&format!("List {} within their parent", R::MANY))
        .list_query::<R::Query>()
        .list::<R::Json>()
        .errors(&[404, 422]);
    doc
}

/// Declares `POST <nested>`.
pub(crate) fn create_within_route<R: CreatedWithin>(e: &mut Endpoints) -> Doc<'_> {
    let mut doc = e.post(R::NESTED, create_within::<R>);
    doc.tag(R::TAG)
        .summary(&format!("Create {} within its parent", R::ONE))
        .body::<R::Body>()
        .created::<R::Json>()
        .errors(&[404, 413, 415, 422]);
    write_errors::<R>(&mut doc, false);
    doc
}

/// Declares all five routes of a family that has them all, in the usual order.
pub(crate) fn all_routes<R: Listed + Created + Patched>(e: &mut Endpoints) {
    list_route::<R>(e);
    create_route::<R>(e);
    get_route::<R>(e);
    update_route::<R>(e);
    delete_route::<R>(e);
}
