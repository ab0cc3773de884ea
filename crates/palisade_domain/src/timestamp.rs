//! The one spelling of a point in time that clients see: RFC 3339 in UTC with exactly six
//! fractional digits, `2024-05-01T09:30:00.120000Z`.
//!
//! Six digits because PostgreSQL keeps microseconds: a timestamp read back from the database
//! prints the same as the one that was written, and every timestamp has one fixed width (a
//! client may compare them as strings). Finer digits of a value that never went through the
//! database (the clock's "now") are dropped, as the driver drops them when it stores one.
//!
//! Use it on response fields: `#[serde(with = "palisade_domain::timestamp")]`, or
//! `palisade_domain::timestamp::option` for an `Option<OffsetDateTime>` (`null` when `None`).
//! Reading stays lenient: [`deserialize`] accepts any RFC 3339 timestamp, any offset and any
//! number of fractional digits. The organization export, which PostgreSQL writes as JSON, uses
//! the same spelling (`to_char(... AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`).

use serde::{Deserializer, Serializer};
use time::{OffsetDateTime, UtcOffset};

/// The length of the spelling: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
const LEN: usize = 27;

/// `t`'s spelling as bytes, without allocating: every list response spells two timestamps per
/// row, so this is written out digit by digit rather than through a format description (which
/// was about 5% of the server's CPU on a 50-row list). `None` for a year outside 0000..=9999.
fn spell(t: OffsetDateTime) -> Option<[u8; LEN]> {
    let utc = t.checked_to_offset(UtcOffset::UTC)?;
    let year = u32::try_from(utc.year()).ok().filter(|y| *y <= 9999)?;
    let mut b = *b"0000-00-00T00:00:00.000000Z";
    digits(&mut b[0..4], year);
    digits(&mut b[5..7], u32::from(u8::from(utc.month())));
    digits(&mut b[8..10], u32::from(utc.day()));
    digits(&mut b[11..13], u32::from(utc.hour()));
    digits(&mut b[14..16], u32::from(utc.minute()));
    digits(&mut b[17..19], u32::from(utc.second()));
    digits(&mut b[20..26], utc.nanosecond() / 1_000);
    Some(b)
}

/// Writes `n`'s last `out.len()` decimal digits into `out`, zero-padded.
fn digits(out: &mut [u8], mut n: u32) {
    for slot in out.iter_mut().rev() {
        // n % 10 < 10: the cast cannot truncate.
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// `t` in UTC, as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (sub-microsecond digits dropped). `None` for a
/// year outside 0000..=9999, which RFC 3339 cannot spell.
pub fn format(t: OffsetDateTime) -> Option<String> {
    spell(t).map(|b| b.iter().map(|&c| char::from(c)).collect())
}

/// Serializes as [`format()`] does; a year RFC 3339 cannot spell is an error.
pub fn serialize<S: Serializer>(t: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    let Some(b) = spell(*t) else {
        return Err(serde::ser::Error::custom(
            "timestamp outside the years RFC 3339 can express",
        ));
    };
    match std::str::from_utf8(&b) {
        Ok(s) => serializer.serialize_str(s),
        // Not reached: spell writes ASCII digits and separators only.
        Err(_) => Err(serde::ser::Error::custom("timestamp spelling is not UTF-8")),
    }
}

/// Reads any RFC 3339 timestamp (any offset, any number of fractional digits).
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OffsetDateTime, D::Error> {
    time::serde::rfc3339::deserialize(deserializer)
}

/// The same for `Option<OffsetDateTime>`: `None` is `null`.
pub mod option {
    use serde::{Deserializer, Serializer};
    use time::OffsetDateTime;

    /// `null`, or the timestamp as [`super::format`] spells it.
    pub fn serialize<S: Serializer>(
        t: &Option<OffsetDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::serialize(t, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// `null`, or any RFC 3339 timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        time::serde::rfc3339::option::deserialize(deserializer)
    }
}

/// Whether `s` is spelled exactly as [`format()`] spells a timestamp. For tests that walk a
/// response and check every timestamp in it.
pub fn is_canonical(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == LEN
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..26)
        && b[26] == b'Z'
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn utc_with_six_digits_whatever_the_input() {
        for (t, want) in [
            (
                datetime!(2024-05-01 09:30:00 UTC),
                "2024-05-01T09:30:00.000000Z",
            ),
            (
                datetime!(2024-05-01 09:30:00.12 UTC),
                "2024-05-01T09:30:00.120000Z",
            ),
            (
                datetime!(2024-05-01 09:30:00.123456789 UTC),
                "2024-05-01T09:30:00.123456Z",
            ),
            (
                datetime!(2024-05-01 11:30:00.5 +02:00),
                "2024-05-01T09:30:00.500000Z",
            ),
            (
                datetime!(2024-12-31 23:30:00 -01:00),
                "2025-01-01T00:30:00.000000Z",
            ),
            (
                datetime!(0000-01-01 00:00:00 UTC),
                "0000-01-01T00:00:00.000000Z",
            ),
            (
                datetime!(9999-12-31 23:59:59.999999999 UTC),
                "9999-12-31T23:59:59.999999Z",
            ),
        ] {
            let s = format(t).unwrap();
            assert_eq!(s, want);
            assert!(is_canonical(&s), "{s}");
        }
        assert_eq!(format(datetime!(-0001-12-31 23:59:59 UTC)), None);
        assert_eq!(format(datetime!(0000-01-01 00:30:00 +01:00)), None);
    }

    #[test]
    fn serde_writes_the_one_spelling_and_reads_any_rfc_3339() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Row {
            #[serde(with = "crate::timestamp")]
            at: OffsetDateTime,
            #[serde(with = "crate::timestamp::option")]
            maybe: Option<OffsetDateTime>,
        }
        let row = Row {
            at: datetime!(2024-05-01 11:30:00.1 +02:00),
            maybe: None,
        };
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            r#"{"at":"2024-05-01T09:30:00.100000Z","maybe":null}"#
        );
        let read: Row = serde_json::from_str(
            r#"{"at":"2024-05-01T11:30:00.1+02:00","maybe":"2024-05-01T09:30:00Z"}"#,
        )
        .unwrap();
        assert_eq!(read.at, row.at);
        assert_eq!(read.maybe, Some(datetime!(2024-05-01 09:30:00 UTC)));
        let out_of_range = Row {
            at: datetime!(-0001-01-01 00:00:00 UTC),
            maybe: None,
        };
        assert!(serde_json::to_string(&out_of_range).is_err());
    }

    #[test]
    fn the_hand_written_spelling_is_the_format_descriptions() {
        use time::macros::format_description;
        let described = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        );
        // A deterministic spread over the whole range, every offset sign and sub-microsecond
        // digits included.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // 0000-01-01T00:00:00Z to 9999-12-31T23:59:59Z, in unix seconds.
            let secs = (x % 315_569_520_000) as i64 - 62_167_219_200;
            let nanos = ((x >> 20) % 1_000_000_000) as i64;
            let t = OffsetDateTime::from_unix_timestamp(secs).unwrap()
                + time::Duration::nanoseconds(nanos);
            let offset =
                UtcOffset::from_whole_seconds(((x >> 40) % 86_399) as i32 - 43_199).unwrap();
            let t = t.to_offset(offset);
            let utc = t.to_offset(UtcOffset::UTC);
            if !(0..=9999).contains(&utc.year()) {
                assert_eq!(format(t), None, "{t}");
                continue;
            }
            let want = utc
                .replace_nanosecond(utc.nanosecond() / 1_000 * 1_000)
                .unwrap()
                .format(described)
                .unwrap();
            assert_eq!(format(t).as_deref(), Some(want.as_str()), "{t}");
        }
    }

    #[test]
    fn canonical_means_exactly_that_shape() {
        assert!(is_canonical("2024-05-01T09:30:00.000000Z"));
        for bad in [
            "2024-05-01T09:30:00Z",
            "2024-05-01T09:30:00.12Z",
            "2024-05-01T09:30:00.123456789Z",
            "2024-05-01T09:30:00.123456+00:00",
            "2024-05-01 09:30:00.123456Z",
            "2024-05-01T09:30:00.123456z",
            "2024-05-01",
            "",
        ] {
            assert!(!is_canonical(bad), "{bad}");
        }
    }
}
