//! Free-text names: trimmed, non-empty, bounded, no control characters.

use crate::text::{Lines, text_type};

text_type!(
    /// An organization's display name.
    OrganizationName,
    200,
    Lines::One
);
text_type!(
    /// A user's display name.
    PersonName,
    200,
    Lines::One
);
text_type!(
    /// A customer's name.
    CustomerName,
    200,
    Lines::One
);
text_type!(
    /// An integration's display name (unique within its organization).
    IntegrationName,
    200,
    Lines::One
);
text_type!(
    /// An API key's display name.
    ApiKeyName,
    200,
    Lines::One
);
text_type!(
    /// A webhook endpoint's free-text description.
    WebhookDescription,
    500,
    Lines::One
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
