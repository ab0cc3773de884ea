//! Bounded free text of the communication resources: one-line titles and labels, multi-line
//! bodies, tags, social handles, analytics event types and write-only access tokens.

use crate::ParseError;

/// Whether a bounded text may hold line breaks and tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lines {
    /// One line: every control character is refused (names, titles, labels, subjects).
    One,
    /// Line breaks and tabs kept, other control characters refused (bodies).
    Many,
}

/// The one parser of bounded free text: trimmed at both ends, non-empty, at most `max_chars`
/// characters, no control characters (but line breaks and tabs in [`Lines::Many`] text).
pub(crate) fn parse_text(s: &str, max_chars: usize, lines: Lines) -> Result<String, ParseError> {
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Err(ParseError::too_short("must not be empty"));
    }
    if trimmed.chars().count() > max_chars {
        return Err(ParseError::too_long("is too long"));
    }
    let allowed = |c: char| lines == Lines::Many && matches!(c, '\n' | '\r' | '\t');
    if trimmed.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(ParseError::new("must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

/// Declares a bounded text type: `text_type!(/// doc
/// Name, max_chars, Lines::One)`, parsed by [`parse_text`].
macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $max:expr, $lines:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// The longest accepted value, in characters.
            pub const MAX_CHARS: usize = $max;
            /// Whether tabs and line breaks are accepted inside the text.
            pub const MULTI_LINE: bool = matches!($lines, $crate::text::Lines::Many);

            /// Trims, then refuses empty, overlong or control-character input.
            pub fn parse(s: &str) -> Result<Self, $crate::ParseError> {
                $crate::text::parse_text(s, Self::MAX_CHARS, $lines).map(Self)
            }

            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        $crate::parse_with_inherent!($name);

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}
pub(crate) use text_type;

text_type!(
    /// A chat conversation's subject (one line).
    ConversationSubject,
    200,
    Lines::One
);
text_type!(
    /// A chat message's body (line breaks allowed).
    MessageBody,
    4000,
    Lines::Many
);
text_type!(
    /// An IVR menu's name (one line).
    IvrMenuName,
    200,
    Lines::One
);
text_type!(
    /// A phone number's label, e.g. "Support line" (one line).
    PhoneLabel,
    100,
    Lines::One
);
text_type!(
    /// A knowledge-base article's title (one line).
    ArticleTitle,
    300,
    Lines::One
);
text_type!(
    /// A knowledge-base article's body (line breaks allowed).
    ArticleBody,
    50_000,
    Lines::Many
);
text_type!(
    /// A saved report's name (one line).
    ReportName,
    200,
    Lines::One
);
text_type!(
    /// A social post's text (line breaks allowed).
    PostBody,
    5000,
    Lines::Many
);

text_type!(
    /// A knowledge-base search in web-search syntax (`"exact phrase"`, `-word`, `or`; one line).
    SearchText,
    200,
    Lines::One
);

/// One article tag: trimmed and lower-cased, 1 to 50 characters, no control characters (also
/// the knowledge base's `tag` list filter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag(String);

impl Tag {
    /// The longest tag, in characters.
    pub const MAX_CHARS: usize = 50;

    /// Parses one tag.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let refused = || ParseError::new("tags are 1 to 50 characters of text");
        let t = parse_text(s, Self::MAX_CHARS, Lines::One).map_err(|_| refused())?;
        // Counted again lower-cased, as stored: some characters grow (`İ` is `i̇`, two).
        let lower = t.to_lowercase();
        if lower.chars().count() > Self::MAX_CHARS {
            return Err(refused());
        }
        Ok(Self(lower))
    }

    /// The normalised tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::parse_with_inherent!(Tag);

/// An article's tags: at most 20, each a [`Tag`], duplicates dropped (first occurrence kept).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tags(Vec<String>);

impl Tags {
    /// Most tags per article.
    pub const MAX_TAGS: usize = 20;

    /// Parses a list of tags.
    pub fn parse(tags: &[String]) -> Result<Self, ParseError> {
        if tags.len() > Self::MAX_TAGS {
            return Err(ParseError::too_long("at most 20 tags"));
        }
        let mut out: Vec<String> = Vec::with_capacity(tags.len());
        for t in tags {
            let Tag(t) = Tag::parse(t)?;
            if !out.contains(&t) {
                out.push(t);
            }
        }
        Ok(Self(out))
    }

    /// The tags, normalised.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// A handle on a social network, without the leading `@`, lower-cased (handles are
/// case-insensitive on every supported network): 1 to 100 ASCII letters, digits, `_`, `.` or
/// `-` (the networks' own handles are ASCII).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocialHandle(String);

impl SocialHandle {
    /// Parses a handle; a leading `@` is dropped.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let t = s.trim();
        let t = t.strip_prefix('@').unwrap_or(t);
        let ok = (1..=100).contains(&t.chars().count())
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !ok {
            return Err(ParseError::new(
                "must be 1 to 100 ASCII letters, digits, '_', '.' or '-'",
            ));
        }
        Ok(Self(t.to_lowercase()))
    }

    /// The handle.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An analytics event type: a lower-case identifier, `[a-z][a-z0-9_.]{0,63}`, e.g.
/// `page.viewed` or `signup_completed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventType(String);

impl EventType {
    /// Parses an event type.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let mut chars = s.chars();
        let ok = s.len() <= 64
            && chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.'));
        if !ok {
            return Err(ParseError::new(
                "must be 1 to 64 characters: a lower-case letter, then a-z, 0-9, '_' or '.'",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The type.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An access token for a third-party API. Write-only: accepted on create and update, stored,
/// never returned. Its `Debug` is redacted so it cannot reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// The longest token, in characters (ASCII, so in bytes too).
    pub const MAX_CHARS: usize = 4096;

    /// Accepts 1 to 4096 visible ASCII characters.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let ok =
            (1..=Self::MAX_CHARS).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(ParseError::new(
                "must be 1 to 4096 visible ASCII characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The secret itself, for storing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_keep_line_breaks_but_not_other_controls() {
        assert_eq!(
            MessageBody::parse("  hello\nworld\t! ").map(|b| b.0),
            Ok("hello\nworld\t!".into())
        );
        assert!(MessageBody::parse(" \n ").is_err());
        assert!(MessageBody::parse("bell\u{7}").is_err());
        assert!(MessageBody::parse(&"x".repeat(4001)).is_err());
        assert!(ArticleBody::parse(&"é".repeat(50_000)).is_ok());
    }

    #[test]
    fn titles_are_one_line() {
        assert!(ArticleTitle::parse("Reset your password").is_ok());
        assert!(ArticleTitle::parse("two\nlines").is_err());
        assert!(PhoneLabel::parse(&"a".repeat(101)).is_err());
    }

    #[test]
    fn tags_are_normalised_deduplicated_and_bounded() {
        let t = Tags::parse(&["FAQ".into(), " billing ".into(), "faq".into()]);
        assert_eq!(t.map(|t| t.0), Ok(vec!["faq".into(), "billing".into()]));
        assert!(Tags::parse(&["".into()]).is_err());
        assert!(Tags::parse(&vec!["x".to_owned(); 21]).is_err());
        assert!(Tags::parse(&["a".repeat(51)]).is_err());
        // Bounded as stored: `İ` lower-cases to two characters.
        assert!(Tags::parse(&["\u{130}".repeat(50)]).is_err());
        assert!(Tags::parse(&["\u{130}".repeat(25)]).is_ok());
    }

    #[test]
    fn handles_drop_the_at_sign_and_fold_case() {
        assert_eq!(
            SocialHandle::parse("@Acme_HQ").map(|h| h.0),
            Ok("acme_hq".into())
        );
        assert!(SocialHandle::parse("@").is_err());
        assert!(SocialHandle::parse("has space").is_err());
        // ASCII only, as the document's pattern says: not `ß`, nor the Kelvin sign (which
        // lower-cases to an ASCII `k`).
        assert!(SocialHandle::parse("ß").is_err());
        assert!(SocialHandle::parse("\u{212a}elvin").is_err());
        assert!(SocialHandle::parse(&"a".repeat(101)).is_err());
    }

    #[test]
    fn event_types_are_bounded_identifiers() {
        for ok in ["a", "page.viewed", "signup_completed2"] {
            assert!(EventType::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Page", "1st", "a b", "a-b", &"a".repeat(65)] {
            assert!(EventType::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn access_tokens_are_redacted_in_debug() {
        let t = AccessToken::parse("s3cr3t-token");
        assert!(
            t.is_ok_and(|t| !format!("{t:?}").contains("s3cr3t") && t.expose() == "s3cr3t-token")
        );
        assert!(AccessToken::parse("with space").is_err());
        assert!(AccessToken::parse("").is_err());
    }
}
