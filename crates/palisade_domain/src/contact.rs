//! Email addresses and phone numbers, normalised so that equality means "the same inbox/line".

use crate::ParseError;

/// An email address, trimmed and lower-cased (so uniqueness is case-insensitive).
///
/// Deliberately modest: one `@`, a non-empty local part, a dotted domain, no spaces, control or
/// invisible characters, at most 254 characters. Deliverability is the provider's business.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses and normalises an address given for something new: an account, an invitation, a
    /// customer, a recipient. Besides [`EmailAddress::parse_existing`]'s rules it refuses
    /// invisible characters (format characters and default-ignorable code points, Unicode 17.0):
    /// emails are unique across the platform, and `ada\u{200b}@example.com` would otherwise be an
    /// account, or an invitation, that looks exactly like `ada@example.com` and is another.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let email = Self::parse_existing(s)?;
        if email.0.chars().any(is_invisible) {
            return Err(ParseError::new("must not contain invisible characters"));
        }
        Ok(email)
    }

    /// Parses and normalises an address to look up one already stored (a login, a password
    /// reset, the signed-in user's own). Accepts invisible characters, so that an account made
    /// before [`EmailAddress::parse`] refused them can still sign in.
    pub fn parse_existing(s: &str) -> Result<Self, ParseError> {
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

/// An address given to find one already stored (the customer list's `?email=`):
/// [`EmailAddress::parse_existing`]'s rules, so that a customer stored with an invisible
/// character can be found, and corrected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailLookup(EmailAddress);

impl EmailLookup {
    /// Parses and normalises an address to look up.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        EmailAddress::parse_existing(s).map(Self)
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// Whether `c` is invisible: a format character (general category Cf: zero-width spaces and
/// joiners, bidirectional controls, the byte-order mark, tags) or a default-ignorable code point
/// (variation selectors, Hangul fillers and the like), which renderers draw as nothing.
///
/// The union of `\p{Cf}` and `\p{Default_Ignorable_Code_Point}` as of Unicode 17.0, listed
/// here rather than taken from a crate for one table.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
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
    fn a_new_email_refuses_invisible_characters_and_a_lookup_accepts_them() {
        for invisible in [
            '\u{00AD}',  // soft hyphen
            '\u{034F}',  // combining grapheme joiner
            '\u{115F}',  // Hangul choseong filler
            '\u{200B}',  // zero-width space
            '\u{200D}',  // zero-width joiner
            '\u{202E}',  // right-to-left override
            '\u{2060}',  // word joiner
            '\u{3164}',  // Hangul filler
            '\u{FE0F}',  // variation selector 16
            '\u{FEFF}',  // byte-order mark
            '\u{E0041}', // tag latin capital letter a
        ] {
            for at in [
                "{c}ada@example.com",
                "ada{c}@example.com",
                "ada@exam{c}ple.com",
            ] {
                let email = at.replace("{c}", &invisible.to_string());
                assert_eq!(
                    EmailAddress::parse(&email),
                    Err(ParseError::new("must not contain invisible characters")),
                    "{email:?}"
                );
                assert_eq!(
                    EmailAddress::parse_existing(&email).map(|e| e.0),
                    Ok(email.clone()),
                    "{email:?}"
                );
            }
        }
        // Visible letters of other scripts, and their marks, are addresses like any other.
        for visible in [
            "jos\u{e9}@example.com",
            "jose\u{301}@example.com",
            "\u{4f60}\u{597d}@example.cn",
        ] {
            assert_eq!(
                EmailAddress::parse(visible).map(|e| e.0),
                Ok(visible.to_owned())
            );
        }
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
