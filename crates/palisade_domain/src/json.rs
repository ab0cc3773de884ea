//! Client-supplied JSON objects stored as `jsonb`: bounded in size, key count and nesting, so
//! one row cannot grow without limit, and free of NUL (`\u0000`), which `jsonb` cannot hold
//! (PostgreSQL refuses it, SQLSTATE 22P05). Stored and returned as given.

use serde_json::{Map, Value};

use crate::ParseError;

/// Limits of one kind of object.
struct Limits {
    max_bytes: usize,
    max_keys: usize,
    max_depth: usize,
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
    Ok(map.clone())
}

macro_rules! object_type {
    ($(#[$doc:meta])* $name:ident, $bytes:expr, $keys:expr, $depth:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name(Map<String, Value>);

        impl $name {
            /// Largest serialized size, in bytes.
            pub const MAX_BYTES: usize = $bytes;
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
    32,
    4
);
object_type!(
    /// An analytics event's properties, e.g. `{"path": "/pricing", "plan": "pro"}`.
    EventProperties,
    4 * 1024,
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
