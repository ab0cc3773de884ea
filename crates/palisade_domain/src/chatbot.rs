//! The chatbot's settings: the texts it writes, its confidence threshold, and why a conversation
//! was handed to agents. The bot itself runs in the database (docs/chatbot.md).

use crate::ParseError;
use crate::text::{Lines, text_type};

text_type!(
    /// A text the bot writes as is: its greeting, fallback text or hand-off message (line breaks
    /// allowed, 1 to 1000 characters).
    BotText,
    1000,
    Lines::Many
);

/// The score (0 to 1) an article must reach for the bot to answer with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfidenceThreshold(f64);

impl ConfidenceThreshold {
    /// Parses a number from 0 to 1 (inclusive).
    pub fn parse(value: &f64) -> Result<Self, ParseError> {
        if value.is_finite() && (0.0..=1.0).contains(value) {
            Ok(Self(*value))
        } else {
            Err(ParseError::new("must be a number from 0 to 1"))
        }
    }

    /// The threshold.
    pub fn value(self) -> f64 {
        self.0
    }
}

crate::parse_with_inherent!(f64 => ConfidenceThreshold);

crate::str_enum! {
    /// Why the bot stopped answering in a conversation.
    pub enum HandoffReason {
        /// No published article scored the threshold: the bot wrote its hand-off message.
        LowConfidence = "low_confidence",
        /// An agent replied.
        AgentReply = "agent_reply",
    }
}

crate::str_enum! {
    /// What the bot does with a customer message (docs/chatbot.md).
    pub enum BotOutcome {
        /// The best article scored the threshold: the bot answers with it.
        Answer = "answer",
        /// No article scored the threshold: the bot hands the conversation to agents.
        Handoff = "handoff",
        /// The message has no searchable word: the bot asks for other words.
        Fallback = "fallback",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_zero_to_one() {
        for ok in [0.0, 0.3, 1.0] {
            assert_eq!(ConfidenceThreshold::parse(&ok).unwrap().value(), ok);
        }
        for bad in [-0.01, 1.01, f64::NAN, f64::INFINITY] {
            assert!(ConfidenceThreshold::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bot_texts_are_bounded() {
        assert_eq!(
            BotText::parse(" Hi!\nHow can I help? ").unwrap().as_str(),
            "Hi!\nHow can I help?"
        );
        assert!(BotText::parse("  ").is_err());
        assert!(BotText::parse(&"x".repeat(1001)).is_err());
        assert!(BotText::parse(&"x".repeat(1000)).is_ok());
    }
}
