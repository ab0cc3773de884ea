//! The calendar Palisade keeps: instants and days of the UTC years 0000 to 9999.
//!
//! RFC 3339, the format of every timestamp the API answers with, writes no other years. An
//! instant outside them could be stored (PostgreSQL keeps 4713 BC to 294276 AD) but never
//! answered: every list holding it would fail for good. So each instant and day a client or a
//! provider sends passes here before it is stored or compared, and arithmetic near the ends
//! is checked (the `time` crate panics past ±9999).

use time::macros::date;
use time::{Date, Duration, OffsetDateTime, UtcOffset};

use crate::ParseError;

/// The first day kept: 0000-01-01.
pub const FIRST_DAY: Date = date!(0000 - 01 - 01);
/// The last day kept: 9999-12-31.
pub const LAST_DAY: Date = date!(9999 - 12 - 31);

/// `t` in UTC, when it falls within the kept years (an offset can move a written 9999-12-31
/// into 10000, or 0000-01-01 into -0001).
pub fn instant(t: OffsetDateTime) -> Result<OffsetDateTime, ParseError> {
    t.checked_to_offset(UtcOffset::UTC)
        .filter(|utc| (FIRST_DAY..=LAST_DAY).contains(&utc.date()))
        .ok_or(ParseError::new(
            "must be between 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z",
        ))
}

/// `d`, when it falls within the kept years.
pub fn day(d: Date) -> Result<Date, ParseError> {
    if (FIRST_DAY..=LAST_DAY).contains(&d) {
        Ok(d)
    } else {
        Err(ParseError::new("must be between 0000-01-01 and 9999-12-31"))
    }
}

/// `days` days before `d`, but not before the first day kept.
pub fn days_before(d: Date, days: i64) -> Date {
    d.checked_sub(Duration::days(days))
        .map_or(FIRST_DAY, |earlier| earlier.max(FIRST_DAY))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn instants_are_kept_in_utc_within_years_0000_to_9999() {
        assert_eq!(
            instant(datetime!(2024-05-01 12:00 +02:00)),
            Ok(datetime!(2024-05-01 10:00 UTC))
        );
        assert!(instant(datetime!(9999-12-31 23:59:59.999999 UTC)).is_ok());
        assert!(instant(datetime!(0000-01-01 00:00 UTC)).is_ok());
        // Written within the years, outside them in UTC.
        assert!(instant(datetime!(9999-12-31 23:00 -01:00)).is_err());
        assert!(instant(datetime!(0000-01-01 00:30 +01:00)).is_err());
        assert!(instant(datetime!(-0001-06-01 00:00 UTC)).is_err());
    }

    #[test]
    fn days_are_kept_within_years_0000_to_9999() {
        assert_eq!(day(LAST_DAY), Ok(LAST_DAY));
        assert_eq!(day(FIRST_DAY), Ok(FIRST_DAY));
        assert!(day(date!(-0001 - 12 - 31)).is_err());
    }

    #[test]
    fn the_days_before_a_day_stop_at_the_first_day_kept() {
        assert_eq!(days_before(date!(0000 - 01 - 10), 29), FIRST_DAY);
        assert_eq!(
            days_before(date!(2024 - 05 - 30), 29),
            date!(2024 - 05 - 01)
        );
    }
}
