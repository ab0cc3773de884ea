//! Every way to fill [`Fields`] besides `required`/`optional` (in `mod.rs`): query-string
//! booleans, times, dates and day ranges, JSON values, and PATCH fields that may be cleared or
//! may be absent but not null. Each records a field error instead of failing, so one 422 lists
//! every problem. One method per concept: add here rather than in a route module.

use palisade_domain::{ParseError, ParseKind, calendar};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use super::Fields;
use crate::error::{FieldCode, FieldError};

/// An inclusive range of UTC days and the instants it covers (see [`Fields::day_range`]).
pub(crate) struct DayRange {
    /// The first day.
    pub from: Date,
    /// The last day.
    pub to: Date,
    /// The first day's midnight.
    pub start: OffsetDateTime,
    /// The midnight after the last day; `None` after 9999-12-31 (open-ended).
    pub end: Option<OffsetDateTime>,
}

impl Fields {
    /// Records an `invalid` error for `field`.
    pub(crate) fn invalid(&mut self, field: &'static str, reason: &'static str) {
        self.0
            .push(FieldError::new(field, FieldCode::Invalid, reason));
    }

    /// Records a domain type's refusal of `field`: `too_long`, `too_short` or `invalid`, with
    /// its reason.
    pub(crate) fn refused(&mut self, field: &'static str, e: &ParseError) {
        let code = match e.kind() {
            ParseKind::Invalid => FieldCode::Invalid,
            ParseKind::TooLong => FieldCode::TooLong,
            ParseKind::TooShort => FieldCode::TooShort,
        };
        self.0.push(FieldError::new(field, code, e.reason()));
    }

    /// Records a `required` error for `field`.
    pub(crate) fn missing(&mut self, field: &'static str) {
        self.required_because(field, "is required");
    }

    /// Records a `required` error for `field` with a reason (`is required when ...`).
    pub(crate) fn required_because(&mut self, field: &'static str, reason: &'static str) {
        self.0
            .push(FieldError::new(field, FieldCode::Required, reason));
    }

    /// Records any error.
    pub(crate) fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// An RFC 3339 date-time (`created_after=2024-05-01T00:00:00Z`), when present.
    pub(crate) fn time(
        &mut self,
        field: &'static str,
        raw: Option<&str>,
    ) -> Option<OffsetDateTime> {
        // A `+` offset typed into a query string arrives as a space (form encoding); RFC 3339
        // has no spaces, so putting it back cannot change the meaning of a valid value.
        let raw = raw?.trim().replace(' ', "+");
        match OffsetDateTime::parse(&raw, &Rfc3339) {
            Ok(t) => self.optional_value(field, Some(&t), |t| calendar::instant(*t)),
            Err(_) => {
                self.invalid(
                    field,
                    "must be an RFC 3339 date-time, like 2024-05-01T00:00:00Z",
                );
                None
            }
        }
    }

    /// A calendar date (`2024-05-01`), when present.
    pub(crate) fn date(&mut self, field: &'static str, raw: Option<&str>) -> Option<Date> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        match Date::parse(raw?, &format) {
            Ok(d) => self.optional_value(field, Some(&d), |d| calendar::day(*d)),
            Err(_) => {
                self.invalid(field, "must be a date, like 2024-05-01");
                None
            }
        }
    }

    /// An inclusive range of UTC days, `from` and `to` (dates between 0000-01-01 and
    /// 9999-12-31), as the half-open range of instants from `from` 00:00 to the midnight after
    /// `to` (`None`, open-ended, after 9999-12-31: see [`calendar::day_instants`]). Defaults to
    /// the 30 days ending today (never before 0000-01-01); at most 366 days.
    pub(crate) fn day_range(&mut self, from: Option<&str>, to: Option<&str>) -> Option<DayRange> {
        let to_day = match to {
            Some(_) => self.date("to", to)?,
            None => OffsetDateTime::now_utc().date(),
        };
        let from_day = match from {
            Some(_) => self.date("from", from)?,
            None => calendar::days_before(to_day, 29),
        };
        if from_day > to_day {
            self.invalid("from", "must not be after to");
            return None;
        }
        if (to_day - from_day).whole_days() >= 366 {
            self.invalid("from", "the range is at most 366 days");
            return None;
        }
        let (start, end) = calendar::day_instants(from_day, to_day);
        Some(DayRange {
            from: from_day,
            to: to_day,
            start,
            end,
        })
    }

    /// A value parsed by a domain type (absent is fine).
    pub(crate) fn optional_value<V: ?Sized, T>(
        &mut self,
        field: &'static str,
        raw: Option<&V>,
        parse: impl FnOnce(&V) -> Result<T, ParseError>,
    ) -> Option<T> {
        match parse(raw?) {
            Ok(v) => Some(v),
            Err(e) => {
                self.refused(field, &e);
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
                self.push(FieldError::new(
                    field,
                    FieldCode::Required,
                    "cannot be null",
                ));
                None
            }
            Some(Some(v)) => Some(v),
        }
    }
}
