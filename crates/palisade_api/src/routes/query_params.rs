//! Parsing shared by the chat, IVR, phone-number, knowledge-base, report, analytics and social
//! routes: time and date filters, booleans, PATCH fields that may be null, list responses, and
//! the answer for a reference to a row this organization does not have.

use actix_web::HttpResponse;
use palisade_db::Page;
use palisade_db::list::Cursor;
use palisade_domain::ParseError;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, OffsetDateTime, Time};

use super::Fields;
use crate::ApiError;
use crate::error::FieldError;
use crate::pagination::encode_cursor;

impl Fields {
    /// Records a refusal of `field`.
    pub(crate) fn refuse(&mut self, field: &'static str, reason: &'static str) {
        self.0.push(FieldError { field, reason });
    }

    /// An RFC 3339 date-time (`created_after=2024-05-01T00:00:00Z`), when present.
    pub(crate) fn time(
        &mut self,
        field: &'static str,
        raw: Option<&str>,
    ) -> Option<OffsetDateTime> {
        match OffsetDateTime::parse(raw?, &Rfc3339) {
            Ok(t) => Some(t),
            Err(_) => {
                self.refuse(
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
            Ok(d) => Some(d),
            Err(_) => {
                self.refuse(field, "must be a date, like 2024-05-01");
                None
            }
        }
    }

    /// `true` or `false`, when present.
    pub(crate) fn boolean(&mut self, field: &'static str, raw: Option<&str>) -> Option<bool> {
        match raw? {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                self.refuse(field, "must be true or false");
                None
            }
        }
    }

    /// A PATCH field that may be set or cleared: absent -> `None`, null -> `Some(None)`.
    pub(crate) fn clearable<T>(
        &mut self,
        field: &'static str,
        raw: Option<Option<&str>>,
        parse: impl FnOnce(&str) -> Result<T, ParseError>,
    ) -> Option<Option<T>> {
        match raw? {
            None => Some(None),
            Some(s) => self.optional(field, Some(s), parse).map(Some),
        }
    }

    /// A PATCH field that may be changed but not cleared: null is refused.
    pub(crate) fn not_null<T>(
        &mut self,
        field: &'static str,
        raw: Option<Option<&str>>,
        parse: impl FnOnce(&str) -> Result<T, ParseError>,
    ) -> Option<T> {
        match raw? {
            None => {
                self.refuse(field, "cannot be null");
                None
            }
            Some(s) => self.optional(field, Some(s), parse),
        }
    }

    /// An inclusive range of UTC days, `from` and `to` (dates), as the half-open range of
    /// instants `[from 00:00, to + 1 day 00:00)`. Defaults to the 30 days ending today; at most
    /// 366 days.
    pub(crate) fn day_range(
        &mut self,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Option<(Date, Date, OffsetDateTime, OffsetDateTime)> {
        let to_day = match to {
            Some(_) => self.date("to", to)?,
            None => OffsetDateTime::now_utc().date(),
        };
        let from_day = match from {
            Some(_) => self.date("from", from)?,
            None => to_day - Duration::days(29),
        };
        if from_day > to_day {
            self.refuse("from", "must not be after to");
            return None;
        }
        if (to_day - from_day).whole_days() >= 366 {
            self.refuse("from", "the range is at most 366 days");
            return None;
        }
        let start = from_day.with_time(Time::MIDNIGHT).assume_utc();
        let end = to_day.with_time(Time::MIDNIGHT).assume_utc() + Duration::days(1);
        Some((from_day, to_day, start, end))
    }
}

/// The `{"data": [...], "next_cursor": ...}` body of a list.
pub(crate) fn page_response<T, J: Serialize>(
    page: Page<T, Cursor>,
    to_json: impl Fn(T) -> J,
) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "data": page.items.into_iter().map(to_json).collect::<Vec<_>>(),
        "next_cursor": page.next.as_ref().map(encode_cursor),
    }))
}

/// A body names a row (customer, menu, account...) that this organization does not have:
/// missing or another organization's, answered the same way (a composite foreign key refused
/// it, or RLS hid it).
pub(crate) fn no_such(field: &'static str) -> ApiError {
    ApiError::invalid(field, "does not exist")
}

/// `YYYY-MM-DD`.
pub(crate) fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}
