//! Client-supplied JSON objects stored as `jsonb`: bounded in size, key count and nesting, so
//! one row cannot grow without limit, and free of NUL (`\u0000`), which `jsonb` cannot hold
//! (PostgreSQL refuses it, SQLSTATE 22P05). Stored and returned as given.
//!
//! Size is bounded twice: as text (what the client wrote, the documented limit) and as stored,
//! by [`jsonb_size`], the bound the column's CHECK puts on `pg_column_size` (of the value as
//! written, before any compression: the CHECK runs first). The two differ: a number takes 10
//! bytes or more stored (0 takes 10 with its entry and padding, 1 to 9 take 12 to 15), so
//! `{"n": [0, 0, ...]}` is six times larger stored than written.

use serde_json::{Map, Value};

use crate::ParseError;

/// Limits of one kind of object.
struct Limits {
    max_bytes: usize,
    max_stored_bytes: usize,
    max_keys: usize,
    max_depth: usize,
}

/// The size in bytes of the `jsonb` PostgreSQL makes of the object or array `v`, before any
/// compression: what `pg_column_size` measures in a CHECK on a row being written. Computed
/// from `jsonb`'s layout (PostgreSQL's `src/backend/utils/adt/jsonb_util.c`, the on-disk
/// format, which `pg_upgrade` keeps): a 4-byte varlena header; each container aligned to 4
/// bytes, a 4-byte header and a 4-byte entry per element (two per member: key and value),
/// then the keys (sorted by length, then bytes) and the values; a string's UTF-8 bytes; a
/// number aligned to 4 bytes, then its `numeric` (see `numeric_size`); `true`, `false` and
/// `null` nothing beyond their entry. `tests/api/analytics.rs` checks it against the server.
pub fn jsonb_size(v: &Value) -> usize {
    let mut len = 4;
    add_jsonb(v, &mut len);
    len
}

fn add_jsonb(v: &Value, len: &mut usize) {
    match v {
        Value::Null | Value::Bool(_) => {}
        Value::String(s) => *len += s.len(),
        Value::Number(n) => {
            *len = len.next_multiple_of(4);
            // The text serde_json writes is the text the server parses.
            *len += numeric_size(&n.to_string());
        }
        Value::Array(items) => {
            *len = len.next_multiple_of(4) + 4 + 4 * items.len();
            for item in items {
                add_jsonb(item, len);
            }
        }
        Value::Object(map) => {
            *len = len.next_multiple_of(4) + 4 + 8 * map.len();
            let mut members: Vec<_> = map.iter().collect();
            members.sort_by(|(a, _), (b, _)| {
                a.len()
                    .cmp(&b.len())
                    .then_with(|| a.as_bytes().cmp(b.as_bytes()))
            });
            *len += members.iter().map(|(k, _)| k.len()).sum::<usize>();
            for (_, value) in members {
                add_jsonb(value, len);
            }
        }
    }
}

/// The size in bytes of the `numeric` PostgreSQL's `numeric_in` makes of the JSON number
/// `text` (`src/backend/utils/adt/numeric.c`): a header of 6 bytes, or 8 when the display
/// scale is over 63 or the weight outside -64..=63, then 2 bytes per base-10000 digit from
/// the first to the last non-zero one (zero has none).
fn numeric_size(text: &str) -> usize {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().unwrap_or(0)),
        None => (unsigned, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = i64::try_from(int.len() + frac.len()).unwrap_or(i64::MAX);
    let frac_digits = i64::try_from(frac.len()).unwrap_or(i64::MAX);
    // The power of ten of the first digit written, and of each after it.
    let first = i64::try_from(int.len()).unwrap_or(i64::MAX) - 1 + exponent;
    let non_zero: Vec<i64> = int
        .bytes()
        .chain(frac.bytes())
        .zip(0..digits)
        .filter(|(d, _)| *d != b'0')
        .map(|(_, i)| first - i)
        .collect();
    let (weight, ndigits) = match (non_zero.first(), non_zero.last()) {
        (Some(high), Some(low)) => (
            high.div_euclid(4),
            high.div_euclid(4) - low.div_euclid(4) + 1,
        ),
        _ => (0, 0),
    };
    let dscale = (frac_digits - exponent).max(0);
    let header = if dscale <= 63 && (-64..=63).contains(&weight) {
        6
    } else {
        8
    };
    header + 2 * usize::try_from(ndigits).unwrap_or(usize::MAX / 4)
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Whether a string or a key anywhere in `v` holds NUL.
fn holds_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(holds_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// The largest magnitude a number in a stored JSON value may have. PostgreSQL keeps a `jsonb`
/// number as an exact decimal and gives back all its digits; near `f64::MAX` those digits read
/// back as infinity, so the row could not be decoded. 1e300 leaves room for every value a
/// client means.
pub(crate) const MAX_NUMBER: f64 = 1e300;

/// Whether every number anywhere in `v` is at most [`MAX_NUMBER`] in magnitude.
pub(crate) fn numbers_in_range(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.as_f64().is_some_and(|x| x.abs() <= MAX_NUMBER),
        Value::Array(a) => a.iter().all(numbers_in_range),
        Value::Object(o) => o.values().all(numbers_in_range),
        Value::Null | Value::Bool(_) | Value::String(_) => true,
    }
}

/// The refusal of a value with a number beyond [`MAX_NUMBER`].
pub(crate) const NUMBER_OUT_OF_RANGE: ParseError =
    ParseError::new("numbers must be between -1e300 and 1e300");

/// The refusal of a value that [`holds_nul`].
const NUL_REFUSED: ParseError =
    ParseError::new("must not contain the NUL character (\\u0000) in any key or string");

fn is_identifier(k: &str) -> bool {
    let mut chars = k.chars();
    k.len() <= 64
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_object(v: &Value, l: &Limits) -> Result<Map<String, Value>, ParseError> {
    let Value::Object(map) = v else {
        return Err(ParseError::new("must be a JSON object"));
    };
    if map.len() > l.max_keys {
        return Err(ParseError::too_long("has too many keys"));
    }
    if !map.keys().all(|k| is_identifier(k)) {
        return Err(ParseError::new(
            "keys must be identifiers: a letter or '_', then letters, digits or '_', at most 64",
        ));
    }
    if depth(v) > l.max_depth {
        return Err(ParseError::new("is nested too deeply"));
    }
    if holds_nul(v) {
        return Err(NUL_REFUSED);
    }
    if !numbers_in_range(v) {
        return Err(NUMBER_OUT_OF_RANGE);
    }
    if v.to_string().len() > l.max_bytes {
        return Err(ParseError::too_long("is too large"));
    }
    if jsonb_size(v) > l.max_stored_bytes {
        return Err(ParseError::too_long(
            "is too large as stored (each value takes 4 bytes or more, a number 10 or more)",
        ));
    }
    Ok(map.clone())
}

macro_rules! object_type {
    ($(#[$doc:meta])* $name:ident, $bytes:expr, $stored:expr, $keys:expr, $depth:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name(Map<String, Value>);

        impl $name {
            /// Largest serialized size, in bytes.
            pub const MAX_BYTES: usize = $bytes;
            /// Largest size as stored ([`jsonb_size`]), in bytes: the bound of the column's
            /// CHECK on `pg_column_size`.
            pub const MAX_STORED_BYTES: usize = $stored;
            /// Most top-level keys.
            pub const MAX_KEYS: usize = $keys;
            /// Deepest nesting (the object itself is level 1).
            pub const MAX_DEPTH: usize = $depth;

            /// Accepts a JSON object within the limits whose top-level keys are identifiers.
            pub fn parse(v: &Value) -> Result<Self, ParseError> {
                parse_object(
                    v,
                    &Limits {
                        max_bytes: Self::MAX_BYTES,
                        max_stored_bytes: Self::MAX_STORED_BYTES,
                        max_keys: Self::MAX_KEYS,
                        max_depth: Self::MAX_DEPTH,
                    },
                )
                .map(Self)
            }

            /// The object, as a JSON value.
            pub fn to_value(&self) -> Value {
                Value::Object(self.0.clone())
            }
        }

        $crate::parse_with_inherent!(Value => $name);
    };
}

object_type!(
    /// A saved report's parameters, e.g. `{"campaign_ids": [...], "group_by": "day"}`.
    ReportParameters,
    8 * 1024,
    // reports_parameters_check, sql/V0025.
    16384,
    32,
    4
);
object_type!(
    /// An analytics event's properties, e.g. `{"path": "/pricing", "plan": "pro"}`.
    EventProperties,
    4 * 1024,
    // analytics_events_properties_check, sql/V0026.
    8192,
    50,
    3
);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn objects_within_bounds_are_kept_as_given() {
        let v = json!({"group_by": "day", "campaign_ids": ["a", "b"], "filters": {"x": 1}});
        assert_eq!(ReportParameters::parse(&v).map(|p| p.to_value()), Ok(v));
        assert!(EventProperties::parse(&json!({})).is_ok());
    }

    #[test]
    fn non_objects_and_unbounded_objects_are_refused() {
        for bad in [json!([1]), json!("x"), json!(null), json!(3)] {
            assert!(ReportParameters::parse(&bad).is_err(), "{bad}");
        }
        assert!(EventProperties::parse(&json!({"a": {"b": {"c": {}}}})).is_err());
        assert!(EventProperties::parse(&json!({"a": {"b": {"c": 1}}})).is_ok());
        assert!(EventProperties::parse(&json!({"bad key": 1})).is_err());
        assert!(EventProperties::parse(&json!({"k": "x".repeat(5000)})).is_err());
        let many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
        assert!(EventProperties::parse(&Value::Object(many)).is_err());
    }

    /// docs/api.md: only the top-level keys are identifiers and counted; a nested object's are
    /// bounded by the sizes alone.
    #[test]
    fn only_top_level_keys_are_checked_and_counted() {
        let many: Map<String, Value> = (0..40).map(|i| (format!("k {i}"), json!(i))).collect();
        let nested = json!({ "filters": Value::Object(many.clone()) });
        assert!(ReportParameters::parse(&nested).is_ok());
        assert!(ReportParameters::parse(&Value::Object(many)).is_err());
    }

    #[test]
    fn the_stored_size_is_what_postgresql_15_measures() {
        // pg_column_size('<v>'::jsonb) on PostgreSQL 15.
        let zeros: Vec<u8> = vec![0; 2044];
        for (v, stored) in [
            (json!({}), 8),
            (json!({"n": zeros}), 24550),
            (json!({"a": 1e300}), 30),
            (
                json!({"a": "b", "c": [1, 2.5, 1e-300, true, null, {"x": "yy"}]}),
                103,
            ),
        ] {
            assert_eq!(jsonb_size(&v), stored, "{v}");
        }
    }

    #[test]
    fn objects_over_their_stored_size_are_refused_as_too_long() {
        // 22 + 12 bytes a zero.
        let zeros = |n: usize| json!({"n": vec![0; n]});
        assert_eq!(jsonb_size(&zeros(680)), 8182);
        assert!(EventProperties::parse(&zeros(680)).is_ok());
        let refused = EventProperties::parse(&zeros(681));
        assert_eq!(
            refused.as_ref().map_err(ParseError::kind),
            Err(crate::ParseKind::TooLong),
            "{refused:?}"
        );
        assert!(ReportParameters::parse(&zeros(1363)).is_ok());
        assert!(ReportParameters::parse(&zeros(1364)).is_err());
    }

    #[test]
    fn numbers_beyond_1e300_are_refused_at_any_depth() {
        for bad in [
            json!({"x": f64::MAX}),
            json!({"x": [1, -1.7976931348623157e308]}),
            json!({"x": {"y": 1e301}}),
        ] {
            assert_eq!(
                ReportParameters::parse(&bad),
                Err(NUMBER_OUT_OF_RANGE),
                "{bad}"
            );
            assert_eq!(
                EventProperties::parse(&bad),
                Err(NUMBER_OUT_OF_RANGE),
                "{bad}"
            );
            assert_eq!(
                crate::IntegrationConfig::parse(&bad),
                Err(NUMBER_OUT_OF_RANGE),
                "{bad}"
            );
        }
        let fine = json!({"x": 1e300, "y": -1e300, "z": 1e-320, "n": u64::MAX});
        assert!(ReportParameters::parse(&fine).is_ok());
        assert!(crate::IntegrationConfig::parse(&fine).is_ok());
    }

    #[test]
    fn nul_is_refused_in_any_string_or_key_at_any_depth() {
        for bad in [
            json!({"a": "x\u{0}y"}),
            json!({"a": ["ok", "\u{0}"]}),
            json!({"a": {"k\u{0}": 1}}),
            json!({"a": {"b": "\u{0}"}}),
        ] {
            assert_eq!(ReportParameters::parse(&bad), Err(NUL_REFUSED), "{bad}");
            assert_eq!(EventProperties::parse(&bad), Err(NUL_REFUSED), "{bad}");
        }
        // Other control characters are stored (escaped) like any text.
        assert!(EventProperties::parse(&json!({"a": "tab\there\u{1}"})).is_ok());
    }
}
