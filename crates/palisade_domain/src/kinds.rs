//! Closed sets of values of the communication resources (statuses, kinds, networks). Each
//! spelling is the one used in JSON and in the table's CHECK constraint.

use crate::ParseError;

crate::str_enum! {
    /// Whether a chat conversation still takes messages.
    pub enum ConversationStatus {
        /// Takes messages.
        Open = "open",
        /// Closed: new messages are refused until it is reopened.
        Closed = "closed",
    }
}

crate::str_enum! {
    /// Who wrote a chat message.
    pub enum MessageSender {
        /// A user of the organization.
        Agent = "agent",
        /// The customer.
        Customer = "customer",
        /// An automated reply.
        Bot = "bot",
    }
}

crate::str_enum! {
    /// What a saved report computes.
    pub enum ReportKind {
        /// Sends, deliveries, opens and replies per campaign.
        CampaignPerformance = "campaign_performance",
        /// Calls per day and outcome.
        CallVolume = "call_volume",
        /// New customers per period.
        CustomerGrowth = "customer_growth",
        /// Conversations and messages per period.
        ChatActivity = "chat_activity",
        /// Social posts and their engagement.
        SocialEngagement = "social_engagement",
    }
}

crate::str_enum! {
    /// How often a saved report is run for its subscribers.
    pub enum ReportSchedule {
        /// Every day.
        Daily = "daily",
        /// Every week.
        Weekly = "weekly",
        /// Every month.
        Monthly = "monthly",
    }
}

crate::str_enum! {
    /// A supported social network.
    pub enum SocialNetwork {
        /// Twitter / X.
        Twitter = "twitter",
        /// Facebook.
        Facebook = "facebook",
        /// Instagram.
        Instagram = "instagram",
        /// LinkedIn.
        Linkedin = "linkedin",
    }
}

crate::str_enum! {
    /// Where a social post is in its life.
    pub enum PostStatus {
        /// Being written.
        Draft = "draft",
        /// Waiting for its `scheduled_at`.
        Scheduled = "scheduled",
        /// Out, since `published_at`.
        Published = "published",
        /// The network refused it.
        Failed = "failed",
    }
}

crate::str_enum! {
    /// What a phone number can do.
    pub enum Capability {
        /// Sends and receives SMS.
        Sms = "sms",
        /// Places and receives calls.
        Voice = "voice",
    }
}

/// A phone number's capabilities: a non-empty set, kept in the canonical order (sms, voice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities(Vec<Capability>);

impl Capabilities {
    /// Parses a list of capability names (duplicates are fine, empty is not).
    pub fn parse(items: &[String]) -> Result<Self, ParseError> {
        let mut set = Vec::new();
        for item in items {
            let c = Capability::parse(item)?;
            if !set.contains(&c) {
                set.push(c);
            }
        }
        if set.is_empty() {
            return Err(ParseError::new("must name at least one of sms, voice"));
        }
        set.sort_by_key(|c| Capability::ALL.iter().position(|x| x == c));
        Ok(Self(set))
    }

    /// The spellings, in canonical order.
    pub fn as_strs(&self) -> Vec<&'static str> {
        self.0.iter().map(|c| c.as_str()).collect()
    }

    /// Whether every capability is among `allowed` (spellings, e.g. what the carrier lets a
    /// number do).
    pub fn within(&self, allowed: &[String]) -> bool {
        self.0
            .iter()
            .all(|c| allowed.iter().any(|a| a == c.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_and_refuse_the_rest() {
        for s in PostStatus::ALL {
            assert_eq!(PostStatus::parse(s.as_str()), Ok(*s));
        }
        for s in ReportKind::ALL {
            assert_eq!(ReportKind::parse(s.as_str()), Ok(*s));
        }
        assert!(SocialNetwork::parse("myspace").is_err());
        assert!(ConversationStatus::parse("Open").is_err());
        assert_eq!(MessageSender::parse("bot"), Ok(MessageSender::Bot));
    }

    #[test]
    fn capabilities_are_a_non_empty_canonical_set() {
        let c = Capabilities::parse(&["voice".into(), "sms".into(), "voice".into()]);
        assert_eq!(c.map(|c| c.as_strs()), Ok(vec!["sms", "voice"]));
        assert!(Capabilities::parse(&[]).is_err());
        let sms = Capabilities::parse(&["sms".into()]);
        assert_eq!(
            sms.as_ref()
                .map(|s| s.within(&["sms".into(), "voice".into()])),
            Ok(true)
        );
        assert_eq!(sms.map(|s| s.within(&["voice".into()])), Ok(false));
        assert!(Capabilities::parse(&["fax".into()]).is_err());
    }
}
