//! Free-text names: trimmed, non-empty, bounded, no control characters.

use crate::ParseError;

pub(crate) fn parse_name(s: &str, max_chars: usize) -> Result<String, ParseError> {
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Err(ParseError("must not be empty"));
    }
    if trimmed.chars().count() > max_chars {
        return Err(ParseError("is too long"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ParseError("must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// The longest accepted value, in characters.
            pub const MAX_CHARS: usize = $max;

            /// Trims, then refuses empty, overlong or control-character input.
            pub fn parse(s: &str) -> Result<Self, ParseError> {
                parse_name(s, Self::MAX_CHARS).map(Self)
            }

            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

name_type!(
    /// An organization's display name.
    OrganizationName,
    200
);
name_type!(
    /// A user's display name.
    PersonName,
    200
);
name_type!(
    /// A customer's name.
    CustomerName,
    200
);
name_type!(
    /// An integration's display name (unique within its organization).
    IntegrationName,
    200
);
name_type!(
    /// An API key's display name.
    ApiKeyName,
    200
);
name_type!(
    /// A webhook endpoint's free-text description.
    WebhookDescription,
    500
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_accepts_ordinary_names() {
        assert_eq!(
            CustomerName::parse("  Ada Lovelace ").map(|n| n.0),
            Ok("Ada Lovelace".into())
        );
        assert!(PersonName::parse("Łukasz Żółć").is_ok());
    }

    #[test]
    fn refuses_empty_long_and_control() {
        assert!(CustomerName::parse("   ").is_err());
        assert!(CustomerName::parse(&"a".repeat(201)).is_err());
        assert!(CustomerName::parse(&"é".repeat(200)).is_ok());
        assert!(OrganizationName::parse("bad\u{0}name").is_err());
        assert!(OrganizationName::parse("line\nbreak").is_err());
    }
}
