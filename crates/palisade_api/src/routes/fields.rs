//! Every way to fill [`Fields`] besides `required`/`optional` (in `mod.rs`): query-string
//! booleans, times, dates and day ranges, JSON values, and PATCH fields that may be cleared or
//! may be absent but not null. Each records a field error instead of failing, so one 422 lists
//! every problem. One method per concept: add here rather than in a route module.

use palisade_domain::{ParseError, ParseKind, calendar};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use super::Fields;
use crate::error::{FieldCode, FieldError};

/// The inclusive range of days a summary asked for (see [`Fields::day_range`]): `to` absent is
/// today in the summary's time zone, which the database resolves (`palisade_db::days`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DayRange {
    /// The first day; absent only when `to` is too (then the 29 days before today).
    pub from: Option<Date>,
    /// The last day; absent: today.
    pub to: Option<Date>,
}

impl DayRange {
    /// The days to read in `zone`.
    pub(crate) fn in_zone(self, zone: &str) -> palisade_db::days::Days<'_> {
        palisade_db::days::Days {
            from: self.from,
            to: self.to,
            zone,
        }
    }
}

/// The 422 for a range of days that is not one a summary reads: `from` after `to`, or more
/// than 366 days. [`Fields::day_range`] refuses such a range when both ends are given; the
/// database, when `to` is today in the summary's zone (`palisade_db::days::WINDOW`).
pub(crate) fn day_range_refused(from: Date, to: Date) -> crate::ApiError {
    let mut f = Fields::default();
    f.check_day_range(from, to);
    f.finish()
        .err()
        .unwrap_or_else(|| crate::ApiError::internal("a day range refused and not refusable"))
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

    /// An inclusive range of days, `from` and `to` (dates between 0000-01-01 and 9999-12-31),
    /// in the summary's time zone. Defaults to the 30 days ending today (never before
    /// 0000-01-01); at most 366 days. Without `to`, today is the zone's, which only the
    /// database knows: a `from` that is wrong whatever the zone is refused here with the other
    /// fields (today anywhere is within a day of today in UTC); one that is wrong in some zones
    /// only, by the database ([`day_range_refused`]).
    pub(crate) fn day_range(&mut self, from: Option<&str>, to: Option<&str>) -> Option<DayRange> {
        // Both read before either refusal returns, so one 422 names both.
        let to_day = to.map(|_| self.date("to", to));
        let from_given = from.map(|_| self.date("from", from));
        if matches!(to_day, Some(None)) || matches!(from_given, Some(None)) {
            return None;
        }
        let to_day = to_day.flatten();
        let from_day = match from_given {
            Some(from) => from,
            None => to_day.map(|to| calendar::days_before(to, 29)),
        };
        match (from_day, to_day) {
            (Some(from), Some(to)) => {
                if !self.check_day_range(from, to) {
                    return None;
                }
            }
            (Some(from), None) => {
                // Today in any zone is within a day of today in UTC.
                let today = OffsetDateTime::now_utc().date();
                let latest = today.next_day().unwrap_or(today);
                let earliest = today.previous_day().unwrap_or(today);
                if from > latest {
                    self.invalid("from", "must not be after to");
                    return None;
                }
                if (earliest - from).whole_days() >= 366 {
                    self.invalid("from", "the range is at most 366 days");
                    return None;
                }
            }
            (None, _) => {}
        }
        Some(DayRange {
            from: from_day,
            to: to_day,
        })
    }

    /// Whether `from`..=`to` is a range a summary reads, recording why not.
    fn check_day_range(&mut self, from: Date, to: Date) -> bool {
        if from > to {
            self.invalid("from", "must not be after to");
            return false;
        }
        if (to - from).whole_days() >= 366 {
            self.invalid("from", "the range is at most 366 days");
            return false;
        }
        true
    }

    /// The time zone `tz` names, as the database spells it
    /// ([`crate::time_zones::TimeZones::resolve`]; UTC when absent), recording a refusal when it
    /// is not one a summary may use. Fails only when the database's names cannot be read.
    pub(crate) async fn time_zone(
        &mut self,
        state: &crate::AppState,
        raw: Option<&str>,
    ) -> Result<Option<String>, crate::ApiError> {
        let resolved = state.time_zones.resolve(&state.pool, raw).await?;
        if resolved.is_none() {
            self.invalid(
                "tz",
                "must be a time zone name the database knows, like Europe/Paris or UTC",
            );
        }
        Ok(resolved)
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
