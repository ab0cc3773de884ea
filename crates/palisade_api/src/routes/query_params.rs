//! Shared by the routes: the answer for a reference to a row this
//! organization does not have, and date formatting. (Parsing of query and body fields is on
//! [`super::Fields`], in `fields.rs`.)

use time::Date;

use crate::ApiError;

/// A body names a row (customer, menu, account...) that this organization does not have:
/// missing or another organization's, answered the same way (a composite foreign key refused
/// it, or RLS hid it).
pub(crate) fn no_such(field: &'static str) -> ApiError {
    ApiError::Validation(vec![crate::error::FieldError::new(
        field,
        crate::error::FieldCode::NotFound,
        "does not exist in this organization",
    )])
}

/// `YYYY-MM-DD`.
pub(crate) fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}
