//! Plain-text secrets that must never be printed.

use crate::ParseError;

/// A secret setting: a password, a token, a signing key, or a URL that may hold a password.
/// Its `Debug` prints `<redacted>` and it has no `Display`, so no format string, log line or
/// error message can show it; [`Secret::expose`] hands the value to what needs it. Every crate
/// keeps its secrets in it (the server's settings, the webhooks' keys, the pools' URLs).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the connection, signature or mailer that uses it; never to print.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A password as typed by a user. Its `Debug` is redacted so it cannot reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Shortest accepted password, in characters (OWASP ASVS 2.1.1 asks for at least 12).
    pub const MIN_CHARS: usize = 12;
    /// Longest accepted password, in characters (so at most 4 KiB): bounds the hashing work one
    /// request can ask for. Characters, not bytes, so the OpenAPI document can state it
    /// (`maxLength` counts characters).
    pub const MAX_CHARS: usize = 1024;

    /// Accepts a new password (signup, change). Length is the only rule, as NIST 800-63B advises.
    pub fn parse_new(s: &str) -> Result<Self, ParseError> {
        if s.chars().count() < Self::MIN_CHARS {
            return Err(ParseError::too_short("must be at least 12 characters"));
        }
        Self::parse_attempt(s)
    }

    /// Accepts a login attempt: any non-empty value up to the size bound.
    pub fn parse_attempt(s: &str) -> Result<Self, ParseError> {
        if s.is_empty() {
            return Err(ParseError::too_short("must not be empty"));
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(ParseError::too_long("is too long"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The secret itself, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_passwords_need_twelve_characters() {
        assert!(Password::parse_new("short").is_err());
        assert!(Password::parse_new("correct horse battery").is_ok());
        assert!(Password::parse_new(&"x".repeat(1025)).is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let p = Password::parse_attempt("hunter2hunter2").map(|p| format!("{p:?}"));
        assert_eq!(p.as_deref(), Ok("Password(<redacted>)"));
    }
}
