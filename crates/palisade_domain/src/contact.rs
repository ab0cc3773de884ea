//! Email addresses and phone numbers, normalised so that equality means "the same inbox/line".

use crate::ParseError;

/// An email address, trimmed and lower-cased (so uniqueness is case-insensitive).
///
/// Deliberately modest: one `@`, a non-empty local part, a dotted domain, no spaces or control
/// characters, at most 254 characters. Deliverability is the provider's business.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses and normalises an address.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim().to_lowercase();
        if s.is_empty() {
            return Err(ParseError::too_short("must not be empty"));
        }
        if s.len() > 254 {
            return Err(ParseError::too_long("is too long"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ParseError::new("must not contain spaces"));
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(ParseError::new("must be an email address"));
        };
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(ParseError::new("must be an email address"));
        }
        Ok(Self(s))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number in E.164 form: `+` then 7 to 15 digits, the first not zero.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses an E.164 number. Spaces, dashes, dots and parentheses are dropped first, since
    /// people type them; anything else is refused rather than guessed at.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let compact: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let Some(digits) = compact.strip_prefix('+') else {
            return Err(ParseError::new("must be in E.164 form, like +14155550123"));
        };
        let ok = (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if !ok {
            return Err(ParseError::new("must be in E.164 form, like +14155550123"));
        }
        Ok(Self(compact))
    }

    /// The number, `+` and digits only.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised() {
        assert_eq!(
            EmailAddress::parse("  Ada@Example.COM ").map(|e| e.0),
            Ok("ada@example.com".into())
        );
    }

    #[test]
    fn email_refuses_garbage() {
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "a b@example.com",
            "a@b@c.com",
            "ada@.com",
            "ada@example..com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(EmailAddress::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn phone_accepts_e164_with_separators() {
        assert_eq!(
            PhoneNumber::parse("+1 (415) 555-0123").map(|p| p.0),
            Ok("+14155550123".into())
        );
    }

    #[test]
    fn phone_refuses_non_e164() {
        for bad in [
            "4155550123",
            "+0123456789",
            "+1234",
            "+1234567890123456",
            "+1415555O123",
            "",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
