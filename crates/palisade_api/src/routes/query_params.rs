//! Shared by the list routes: the list response body, the answer for a reference to a row this
//! organization does not have, and date formatting. (Parsing of query and body fields is on
//! [`super::Fields`], in `fields.rs`.)

use actix_web::HttpResponse;
use palisade_db::Page;
use palisade_db::list::Cursor;
use serde::Serialize;
use time::Date;

use crate::ApiError;
use crate::pagination::encode_cursor;

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
