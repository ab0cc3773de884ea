//! Integrations: which outside service, its non-secret settings, and its write-only credentials.

use serde_json::{Map, Value};

use crate::ParseError;

crate::str_enum! {
    /// The outside services Palisade connects to.
    pub enum IntegrationProvider {
        /// Salesforce (CRM).
        Salesforce = "salesforce",
        /// HubSpot (CRM).
        Hubspot = "hubspot",
        /// Zendesk (helpdesk).
        Zendesk = "zendesk",
        /// Slack (chat).
        Slack = "slack",
        /// Zapier (automation).
        Zapier = "zapier",
    }
}

/// Largest accepted `config`, serialized, in bytes.
const CONFIG_MAX_BYTES: usize = 8 * 1024;
/// Most keys in `config` (top level) and in `secrets`.
const MAX_KEYS: usize = 50;
/// Deepest nesting of objects and arrays in `config`.
const CONFIG_MAX_DEPTH: usize = 4;

/// Key names that say "credential": such values belong in `secrets`, which is write-only, not
/// in `config`, which every member of the organization can read.
const SECRET_LIKE_KEYS: [&str; 9] = [
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "private_key",
    "access_key",
    "credential",
];

/// [`KEY_PATTERN`]: keys are identifiers, not free text.
/// What a key of `config` or `secrets` is, as a regular expression.
const KEY_PATTERN: &str = "^[a-z][a-z0-9_]{0,63}$";

fn valid_key(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some('a'..='z'))
        && k.len() <= 64
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

fn secret_like(k: &str) -> bool {
    SECRET_LIKE_KEYS.iter().any(|s| k.contains(s))
}

/// An integration's settings: a JSON object of non-secret values (instance URLs, portal ids,
/// channel names...). Bounded in size and depth; keys are lower-case identifiers; keys that name
/// a credential (`password`, `token`, `api_key`, `secret`...) are refused at any depth, because
/// every member can read `config` and credentials go in [`IntegrationSecrets`].
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationConfig(Map<String, Value>);

impl IntegrationConfig {
    /// Most top-level keys.
    pub const MAX_KEYS: usize = MAX_KEYS;
    /// Deepest nesting of values: the top-level keys' values are at depth 1; an object or
    /// array at this depth must be empty.
    pub const MAX_DEPTH: usize = CONFIG_MAX_DEPTH;
    /// Largest magnitude of a number anywhere in it.
    pub const MAX_NUMBER: f64 = crate::json::MAX_NUMBER;

    /// What a key is, as a regular expression: an identifier (`KEY_PATTERN`) that names no
    /// credential (`password`, `token`...).
    pub fn key_pattern() -> String {
        format!(
            "^(?!.*(?:{})){}",
            SECRET_LIKE_KEYS.join("|"),
            &KEY_PATTERN[1..]
        )
    }

    /// Validates a JSON value as a config object.
    pub fn parse(v: &Value) -> Result<Self, ParseError> {
        let Value::Object(map) = v else {
            return Err(ParseError::new("must be a JSON object"));
        };
        if map.len() > MAX_KEYS {
            return Err(ParseError::too_long("has too many keys (at most 50)"));
        }
        check_config_value(v, 0)?;
        if !crate::json::numbers_in_range(v) {
            return Err(crate::json::NUMBER_OUT_OF_RANGE);
        }
        if v.to_string().len() > CONFIG_MAX_BYTES {
            return Err(ParseError::too_long("is too large (at most 8 KiB)"));
        }
        Ok(Self(map.clone()))
    }

    /// The settings as JSON.
    pub fn to_value(&self) -> Value {
        Value::Object(self.0.clone())
    }
}

fn check_config_value(v: &Value, depth: usize) -> Result<(), ParseError> {
    if depth > CONFIG_MAX_DEPTH {
        return Err(ParseError::new("is nested too deeply (at most 4 levels)"));
    }
    match v {
        Value::Object(map) => {
            for (k, inner) in map {
                if !valid_key(k) {
                    return Err(ParseError::new(
                        "keys must be lower-case identifiers (a-z, 0-9, _), at most 64 characters",
                    ));
                }
                if secret_like(k) {
                    return Err(ParseError::new(
                        "must not hold credentials (passwords, tokens, keys, secrets): put them in `secrets`",
                    ));
                }
                check_config_value(inner, depth + 1)?;
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .try_for_each(|i| check_config_value(i, depth + 1)),
        Value::String(s) if s.chars().any(char::is_control) => Err(ParseError::new(
            "values must not contain control characters",
        )),
        _ => Ok(()),
    }
}

/// An integration's credentials: a JSON object of non-empty strings. Write-only: it is stored
/// and never shown again; its `Debug` names the keys only.
#[derive(Clone, PartialEq)]
pub struct IntegrationSecrets(Map<String, Value>);

impl IntegrationSecrets {
    /// Most secrets per integration.
    pub const MAX_KEYS: usize = 20;
    /// Longest secret value, in characters (so at most 16 KiB).
    pub const MAX_VALUE_CHARS: usize = 4096;
    /// What a key is, as a regular expression (also `config`'s keys).
    pub const KEY_PATTERN: &str = KEY_PATTERN;

    /// Validates a JSON value as a secrets object.
    pub fn parse(v: &Value) -> Result<Self, ParseError> {
        let Value::Object(map) = v else {
            return Err(ParseError::new("must be a JSON object"));
        };
        if map.len() > Self::MAX_KEYS {
            return Err(ParseError::too_long("has too many keys (at most 20)"));
        }
        for (k, value) in map {
            if !valid_key(k) {
                return Err(ParseError::new(
                    "keys must be lower-case identifiers (a-z, 0-9, _), at most 64 characters",
                ));
            }
            let Value::String(s) = value else {
                return Err(ParseError::new("values must be strings"));
            };
            let chars = s.chars().count();
            if chars == 0 || chars > Self::MAX_VALUE_CHARS || s.chars().any(char::is_control) {
                return Err(ParseError::new(
                    "values must be 1 to 4096 characters without control characters",
                ));
            }
        }
        Ok(Self(map.clone()))
    }

    /// The names of the secrets, sorted: what a client is shown.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.0.keys().cloned().collect();
        keys.sort_unstable();
        keys
    }

    /// The secrets themselves, for storing only.
    pub fn expose(&self) -> Value {
        Value::Object(self.0.clone())
    }
}

impl std::fmt::Debug for IntegrationSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IntegrationSecrets(keys: {:?})", self.keys())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn providers_round_trip() {
        for &p in IntegrationProvider::ALL {
            assert_eq!(IntegrationProvider::parse(p.as_str()), Ok(p));
        }
        assert!(IntegrationProvider::parse("Slack").is_err());
        assert!(IntegrationProvider::parse("").is_err());
    }

    #[test]
    fn config_accepts_plain_settings() {
        let v = json!({"instance_url": "https://acme.my.salesforce.com", "sync": {"contacts": true, "objects": ["lead", "case"]}, "limit": 5});
        assert_eq!(IntegrationConfig::parse(&v).map(|c| c.to_value()), Ok(v));
        assert!(IntegrationConfig::parse(&json!({})).is_ok());
    }

    #[test]
    fn config_refuses_non_objects_credentials_and_oddities() {
        for bad in [
            json!([]),
            json!("x"),
            json!(null),
            json!({"Password": "x"}),
            json!({"password": "x"}),
            json!({"nested": {"access_token": "x"}}),
            json!({"list": [{"client_secret": "x"}]}),
            json!({"api_key": "x"}),
            json!({"bad key": 1}),
            json!({"": 1}),
            json!({"a": {"b": {"c": {"d": {"e": {}}}}}}),
            json!({"a": "line\nbreak"}),
            json!({"big": "x".repeat(9000)}),
        ] {
            assert!(IntegrationConfig::parse(&bad).is_err(), "{bad} accepted");
        }
        let many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
        assert!(IntegrationConfig::parse(&Value::Object(many)).is_err());
    }

    #[test]
    fn secrets_are_string_maps_and_never_debug_printed() {
        let s = IntegrationSecrets::parse(
            &json!({"client_secret": "s3cr3t-value", "access_token": "tok"}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.keys(), ["access_token", "client_secret"]);
        let debug = format!("{s:?}");
        assert!(!debug.contains("s3cr3t-value") && debug.contains("client_secret"));
        for bad in [
            json!([]),
            json!({"token": 5}),
            json!({"token": ""}),
            json!({"Token": "x"}),
            json!({"token": {"nested": "x"}}),
            json!({"token": "x".repeat(4097)}),
        ] {
            assert!(IntegrationSecrets::parse(&bad).is_err(), "{bad} accepted");
        }
        assert!(IntegrationSecrets::parse(&json!({})).is_ok());
    }
}
