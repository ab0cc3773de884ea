//! Every list route's query string and response, one rule for all (docs/api.md, "Lists"):
//!
//! - `limit` (1..=100, default 50), `cursor` (opaque), `created_after` (RFC 3339, inclusive) and
//!   `created_before` (exclusive) on every list, plus the route's own filters `F`;
//! - an unknown parameter, or one given twice, answers 400 (`unknown_parameter`,
//!   `duplicate_parameter`), like an unknown body field: `?phone=` on a list that has no phone
//!   filter must not silently return everything;
//! - a cursor is bound to the list that issued it: the path and every filter. Another list's
//!   cursor, or the same list's with other filters, answers 400 `invalid_cursor`;
//! - the answer is `{"data": [...], "next_cursor": "..." | null}` ([`ListResponse`]).
//!
//! A cursor is base64url of `v2:<unix micros>:<uuid>:<binding>`, where the binding is a
//! SHA-256 prefix of the path and the canonical filters. It is opaque, not secret: forging one
//! only moves the starting point of a list the tenant may read anyway.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::future::{Ready, ready};
use palisade_db::list::{CreatedRange, Cursor};
use palisade_db::{Page, PageRequest};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ApiError;
use crate::routes::Fields;

/// Items per page when the client does not say.
pub const DEFAULT_LIMIT: u16 = 50;
/// Most items per page.
pub const MAX_LIMIT: u16 = 100;

/// The parameters every list takes besides its own filters.
pub const COMMON_PARAMETERS: [&str; 4] = ["limit", "cursor", "created_after", "created_before"];

/// A parsed list query: the page to read and the route's filters `F` (a struct of
/// `Option<String>` fields with `#[serde(deny_unknown_fields)]`, parsed into domain types by
/// the handler).
#[derive(Debug)]
pub struct List<F> {
    /// The route's own filters, still raw.
    pub filter: F,
    /// Window, position and size.
    pub page: PageRequest<Cursor>,
    binding: [u8; 8],
}

impl<F> List<F> {
    /// The response for a page read with this query.
    pub fn respond<T, J: Serialize>(
        &self,
        page: Page<T, Cursor>,
        to_json: impl Fn(T) -> J,
    ) -> HttpResponse {
        let items = page.items.len();
        let response = self.response(page, to_json);
        // Sized for the page up front (rows are typically a few hundred bytes of JSON), instead
        // of growing from empty through a dozen reallocations.
        let mut body = Vec::with_capacity(64 + 384 * items);
        match serde_json::to_writer(&mut body, &response) {
            Ok(()) => HttpResponse::Ok()
                .content_type(actix_web::http::header::ContentType::json())
                .body(body),
            Err(e) => HttpResponse::from_error(ApiError::internal(format!(
                "a list page did not serialize: {e}"
            ))),
        }
    }

    /// The typed body for a page read with this query.
    pub fn response<T, J>(
        &self,
        page: Page<T, Cursor>,
        to_json: impl Fn(T) -> J,
    ) -> ListResponse<J> {
        ListResponse {
            data: page.items.into_iter().map(to_json).collect(),
            next_cursor: page.next.as_ref().map(|c| encode_cursor(c, &self.binding)),
        }
    }
}

/// A page of `T`: `{"data": [...], "next_cursor": "..." | null}`.
#[derive(Debug, Serialize)]
pub struct ListResponse<T> {
    /// The items, newest first.
    pub data: Vec<T>,
    /// Pass as `cursor` to read the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn bad(code: crate::error::ErrorCode, message: String) -> ApiError {
    ApiError::BadRequest { code, message }
}

impl<F: DeserializeOwned> List<F> {
    /// Parses a query string for the list at `path`.
    pub fn parse(path: &str, query: &str) -> Result<Self, ApiError> {
        let mut common: [Option<String>; 4] = Default::default();
        let mut own: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            if k.is_empty() && v.is_empty() {
                continue;
            }
            let slot = COMMON_PARAMETERS.iter().position(|c| *c == k);
            let seen = match slot {
                Some(i) => common[i].is_some(),
                None => own.iter().any(|(o, _)| *o == k),
            };
            if seen {
                return Err(bad(
                    crate::error::ErrorCode::DuplicateParameter,
                    format!("the query parameter {k} is given more than once"),
                ));
            }
            match slot {
                Some(i) => common[i] = Some(v.into_owned()),
                None => own.push((k.into_owned(), v.into_owned())),
            }
        }
        let own_query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(own.iter())
            .finish();
        let filter = serde_urlencoded::from_str::<F>(&own_query).map_err(|e| {
            let text = e.to_string();
            match crate::extract::unknown_field(&text) {
                Some((name, accepted)) => {
                    let mut all = COMMON_PARAMETERS.join(", ");
                    if let Some(a) = accepted {
                        all.push_str(", ");
                        all.push_str(&a);
                    }
                    bad(
                        crate::error::ErrorCode::UnknownParameter,
                        format!("unknown query parameter {name}; this list accepts {all}"),
                    )
                }
                None => bad(
                    crate::error::ErrorCode::InvalidQuery,
                    "the query string could not be read".to_owned(),
                ),
            }
        })?;
        let [limit, cursor, created_after, created_before] = common;
        let mut f = Fields::default();
        let limit = f.limit(limit.as_deref());
        let created = CreatedRange {
            after: f.time("created_after", created_after.as_deref()),
            before: f.time("created_before", created_before.as_deref()),
        };
        f.finish()?;
        own.sort();
        let mut h = Sha256::new();
        h.update(path.as_bytes());
        for (k, v) in own.iter().map(|(k, v)| (k.as_str(), v.as_str())).chain([
            ("created_after", created_after.as_deref().unwrap_or("")),
            ("created_before", created_before.as_deref().unwrap_or("")),
        ]) {
            h.update([0]);
            h.update(k.as_bytes());
            h.update([0]);
            h.update(v.as_bytes());
        }
        let mut binding = [0u8; 8];
        binding.copy_from_slice(&h.finalize()[..8]);
        let after = cursor
            .as_deref()
            .map(|c| decode_cursor(c, &binding))
            .transpose()?;
        Ok(Self {
            filter,
            page: PageRequest {
                after,
                limit: limit.unwrap_or(DEFAULT_LIMIT),
                created,
            },
            binding,
        })
    }
}

impl<F: DeserializeOwned + 'static> FromRequest for List<F> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req.path(), req.query_string()))
    }
}

impl Fields {
    /// `limit`: 1..=100 when present.
    pub(crate) fn limit(&mut self, raw: Option<&str>) -> Option<u16> {
        match raw?.parse::<u16>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Some(n),
            _ => {
                self.invalid("limit", "must be an integer from 1 to 100");
                None
            }
        }
    }
}

fn hex(binding: &[u8; 8]) -> String {
    binding.iter().map(|b| format!("{b:02x}")).collect()
}

/// Encodes a `(created_at, id)` position for the list whose binding is `binding`.
fn encode_cursor(c: &Cursor, binding: &[u8; 8]) -> String {
    let micros = c.created_at.unix_timestamp_nanos() / 1_000;
    URL_SAFE_NO_PAD.encode(format!("v2:{micros}:{}:{}", c.id, hex(binding)))
}

/// Decodes a cursor made by [`encode_cursor`] for the same list; anything else answers 400.
fn decode_cursor(raw: &str, binding: &[u8; 8]) -> Result<Cursor, ApiError> {
    let invalid = || {
        bad(
            crate::error::ErrorCode::InvalidCursor,
            "the cursor is not one this API returned".to_owned(),
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
    let mut parts = text.splitn(4, ':');
    let (Some("v2"), Some(micros), Some(id), Some(hex)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let micros: i128 = micros.parse().map_err(|_| invalid())?;
    // Past i128 once in nanoseconds, or past the years an answer can write: not ours.
    let created_at = micros
        .checked_mul(1_000)
        .and_then(|n| OffsetDateTime::from_unix_timestamp_nanos(n).ok())
        .and_then(|t| palisade_domain::calendar::instant(t).ok())
        .ok_or_else(invalid)?;
    let id = Uuid::try_parse(id).map_err(|_| invalid())?;
    if hex != self::hex(binding) {
        return Err(bad(
            crate::error::ErrorCode::InvalidCursor,
            "this cursor belongs to another list or to other filters; start again without it"
                .to_owned(),
        ));
    }
    Ok(Cursor { created_at, id })
}

/// Declares a family's list filters once: the query-string struct (`Option<String>` fields,
/// unknown parameters refused, each documented by its kind) and the family's
/// [`Listed`](crate::resource::Listed), which parses every parameter with its
/// [`ParamKind`](crate::kinds::ParamKind) (a [`crate::kinds`] marker) into the db filter's field
/// of the same name.
///
/// ```ignore
/// list::filters! {
///     /// Call list query string.
///     Calls: CallListQuery => CallFilter {
///         status: Choice<CallStatus>,
///         /// A description for the OpenAPI document.
///         customer_id: Id<CustomerId>,
///         event_type = "type": Text<EventType>, // a parameter named by a Rust keyword
///         ..Default::default() // the filter's other fields (set by a nested route)
///     }
/// }
/// ```
macro_rules! filters {
    (
        $(#[$doc:meta])*
        $family:ty: $query:ident => $filter:ident {
            $($(#[$attr:meta])* $field:ident $(= $wire:tt)?: $kind:ident $(<$arg:ty>)?),*
            $(,)? $(..$default:expr)?
        }
    ) => {
        $crate::list::filters!(
            @struct [$(#[$doc])*] $query []
            $($(#[$attr])* $field $(= $wire)?: $kind $(<$arg>)?,)*
        );

        impl $crate::rules::FieldRules for $query {
            fn field_rules() -> Vec<(&'static str, $crate::rules::Rule)> {
                vec![$((
                    $crate::list::filters!(@name $field $($wire)?),
                    <$crate::kinds::$kind $(<$arg>)? as $crate::rules::Ruled>::rule(),
                )),*]
            }
        }

        impl $crate::resource::Listed for $family {
            type Query = $query;
            type Filter = $filter;

            fn filter(q: &$query, f: &mut $crate::routes::Fields) -> $filter {
                $filter {
                    $($field: <$crate::kinds::$kind $(<$arg>)? as $crate::kinds::ParamKind>::read(
                        f,
                        $crate::list::filters!(@name $field $($wire)?),
                        q.$field.as_deref(),
                    ),)*
                    $(..$default)?
                }
            }
        }
    };
    // The struct, one field at a time: each kind adds its attributes for the OpenAPI document.
    (@struct [$(#[$doc:meta])*] $query:ident [$($done:tt)*]) => {
        $(#[$doc])*
        #[derive(serde::Deserialize, utoipa::IntoParams)]
        #[serde(deny_unknown_fields)]
        pub struct $query {
            $($done)*
        }
    };
    (@struct $doc:tt $query:ident [$($done:tt)*]
        $(#[$attr:meta])* $field:ident $(= $wire:tt)?: $kind:ident $(<$arg:ty>)?, $($rest:tt)*
    ) => {
        $crate::list::filters!(
            @kind $kind $(<$arg>)?
            [$doc $query [$($done)* $(#[$attr])* $(#[serde(rename = $wire)])?] $field]
            $($rest)*
        );
    };
    (@kind Choice<$t:ty> [$doc:tt $query:ident [$($done:tt)*] $field:ident] $($rest:tt)*) => {
        $crate::list::filters!(@struct $doc $query [
            $($done)* #[param(value_type = Option<$t>, inline)] $field: Option<String>,
        ] $($rest)*);
    };
    (@kind Id<$t:ty> [$doc:tt $query:ident [$($done:tt)*] $field:ident] $($rest:tt)*) => {
        $crate::list::filters!(@struct $doc $query [
            $($done)* #[param(format = Uuid)] $field: Option<String>,
        ] $($rest)*);
    };
    (@kind Text<$t:ty> [$doc:tt $query:ident [$($done:tt)*] $field:ident] $($rest:tt)*) => {
        $crate::list::filters!(@struct $doc $query [$($done)* $field: Option<String>,] $($rest)*);
    };
    (@kind Flag [$doc:tt $query:ident [$($done:tt)*] $field:ident] $($rest:tt)*) => {
        $crate::list::filters!(@struct $doc $query [
            $($done)* #[param(value_type = Option<bool>)] $field: Option<String>,
        ] $($rest)*);
    };
    (@kind Instant [$doc:tt $query:ident [$($done:tt)*] $field:ident] $($rest:tt)*) => {
        $crate::list::filters!(@struct $doc $query [
            $($done)* #[param(format = DateTime)] $field: Option<String>,
        ] $($rest)*);
    };
    (@name $field:ident) => {
        stringify!($field)
    };
    (@name $field:ident $wire:tt) => {
        $wire
    };
}
pub(crate) use filters;

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Filter {
        status: Option<String>,
    }

    fn parse(path: &str, q: &str) -> Result<List<Filter>, ApiError> {
        List::parse(path, q)
    }

    fn code(r: Result<List<Filter>, ApiError>) -> String {
        match r {
            Err(ApiError::BadRequest { code, .. }) => code.as_str().to_owned(),
            Err(ApiError::Validation(f)) => format!("422 {}", f[0].field),
            Err(e) => format!("{e:?}"),
            Ok(_) => "ok".to_owned(),
        }
    }

    fn cursor_for(list: &List<Filter>) -> String {
        let c = Cursor {
            created_at: OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            id: Uuid::now_v7(),
        };
        encode_cursor(&c, &list.binding)
    }

    #[test]
    fn shared_parameters_and_filters_parse() -> Result<(), ApiError> {
        let l = parse(
            "/v1/x",
            "limit=10&status=sent&created_after=2024-01-01T00:00:00Z&created_before=2024-02-01T00:00:00%2B01:00",
        )?;
        assert_eq!(l.page.limit, 10);
        assert_eq!(l.filter.status.as_deref(), Some("sent"));
        assert!(l.page.created.after.is_some() && l.page.created.before.is_some());
        let l = parse("/v1/x", "")?;
        assert_eq!(l.page.limit, DEFAULT_LIMIT);
        Ok(())
    }

    #[test]
    fn unknown_and_repeated_parameters_are_400() {
        assert_eq!(code(parse("/v1/x", "phone=%2B1")), "unknown_parameter");
        assert_eq!(code(parse("/v1/x", "sort=name")), "unknown_parameter");
        assert_eq!(
            code(parse("/v1/x", "status=a&status=b")),
            "duplicate_parameter"
        );
        assert_eq!(
            code(parse("/v1/x", "limit=1&limit=2")),
            "duplicate_parameter"
        );
        match parse("/v1/x", "order=asc") {
            Err(ApiError::BadRequest { message, .. }) => assert_eq!(
                message,
                "unknown query parameter order; this list accepts limit, cursor, created_after, created_before, status"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_values_are_422() {
        assert_eq!(code(parse("/v1/x", "limit=0")), "422 limit");
        assert_eq!(code(parse("/v1/x", "limit=101")), "422 limit");
        assert_eq!(
            code(parse("/v1/x", "created_after=yesterday")),
            "422 created_after"
        );
    }

    #[test]
    fn cursors_are_bound_to_their_list_and_filters() -> Result<(), ApiError> {
        let first = parse("/v1/x", "status=sent&limit=2")?;
        let c = cursor_for(&first);
        // The same list and filters, another page size: accepted.
        let next = parse("/v1/x", &format!("limit=5&status=sent&cursor={c}"))?;
        assert!(next.page.after.is_some());
        for other in [
            format!("/v1/y?status=sent&cursor={c}"),
            format!("/v1/x?status=failed&cursor={c}"),
            format!("/v1/x?cursor={c}"),
            format!("/v1/x?status=sent&created_after=2024-01-01T00:00:00Z&cursor={c}"),
        ] {
            let (path, q) = other.split_once('?').unwrap_or((&other, ""));
            assert_eq!(code(parse(path, q)), "invalid_cursor", "{other}");
        }
        let huge = URL_SAFE_NO_PAD.encode(format!(
            "v2:{}:00000000-0000-0000-0000-000000000000:{}",
            i128::MAX,
            "00".repeat(8)
        ));
        let ancient = URL_SAFE_NO_PAD
            .encode("v2:-62167219200000001:00000000-0000-0000-0000-000000000000:0000000000000000");
        for garbage in ["", "!!", "djE6eDp5", huge.as_str(), ancient.as_str()] {
            assert_eq!(
                code(parse("/v1/x", &format!("cursor={garbage}"))),
                "invalid_cursor"
            );
        }
        Ok(())
    }
}
