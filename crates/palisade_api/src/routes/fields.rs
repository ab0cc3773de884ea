//! More ways to fill [`Fields`]: query-string flags and times, JSON values, and PATCH fields
//! that may be absent but not null. Each records a field error instead of failing, so one 422
//! lists every problem.

use palisade_domain::ParseError;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Fields;
use crate::error::FieldError;

impl Fields {
    /// Records an error for `field`.
    pub(crate) fn invalid(&mut self, field: &'static str, reason: &'static str) {
        self.0.push(FieldError { field, reason });
    }

    /// A `true`/`false` query parameter.
    pub(crate) fn optional_bool(&mut self, field: &'static str, raw: Option<&str>) -> Option<bool> {
        match raw? {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                self.invalid(field, "must be true or false");
                None
            }
        }
    }

    /// An RFC 3339 time query parameter (`2024-05-01T00:00:00Z`).
    pub(crate) fn optional_time(
        &mut self,
        field: &'static str,
        raw: Option<&str>,
    ) -> Option<OffsetDateTime> {
        match OffsetDateTime::parse(raw?, &Rfc3339) {
            Ok(t) => Some(t),
            Err(_) => {
                self.invalid(field, "must be an RFC 3339 time, like 2024-05-01T00:00:00Z");
                None
            }
        }
    }

    /// A JSON value parsed by a domain type (absent is fine).
    pub(crate) fn optional_value<T>(
        &mut self,
        field: &'static str,
        raw: Option<&Value>,
        parse: impl FnOnce(&Value) -> Result<T, ParseError>,
    ) -> Option<T> {
        match parse(raw?) {
            Ok(v) => Some(v),
            Err(e) => {
                self.invalid(field, e.reason());
                None
            }
        }
    }

    /// A PATCH field that may be absent (unchanged) but not null.
    pub(crate) fn present_not_null<'a, R: ?Sized>(
        &mut self,
        field: &'static str,
        raw: Option<Option<&'a R>>,
    ) -> Option<&'a R> {
        match raw {
            None => None,
            Some(None) => {
                self.invalid(field, "cannot be null");
                None
            }
            Some(Some(v)) => Some(v),
        }
    }
}
