//! Closed sets of values of the communication resources (statuses, kinds, networks). Each
//! spelling is the one used in JSON and in the table's CHECK constraint.

use crate::ParseError;

macro_rules! str_enum {
    ($(#[$doc:meta])* $name:ident, $refusal:literal,
     { $($(#[$vdoc:meta])* $variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling used in JSON and the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $s),+
                }
            }

            /// Parses the spelling of `as_str`.
            pub fn parse(s: &str) -> Result<Self, ParseError> {
                match s {
                    $($s => Ok($name::$variant),)+
                    _ => Err(ParseError($refusal)),
                }
            }
        }
    };
}

str_enum!(
    /// Whether a chat conversation still takes messages.
    ConversationStatus, "must be one of open, closed", {
        /// Takes messages.
        Open => "open",
        /// Closed: new messages are refused until it is reopened.
        Closed => "closed",
    }
);

str_enum!(
    /// Who wrote a chat message.
    MessageSender, "must be one of agent, customer, bot", {
        /// A user of the organization.
        Agent => "agent",
        /// The customer.
        Customer => "customer",
        /// An automated reply.
        Bot => "bot",
    }
);

str_enum!(
    /// What a saved report computes.
    ReportKind,
    "must be one of campaign_performance, call_volume, customer_growth, chat_activity, social_engagement",
    {
        /// Sends, deliveries, opens and replies per campaign.
        CampaignPerformance => "campaign_performance",
        /// Calls per day and outcome.
        CallVolume => "call_volume",
        /// New customers per period.
        CustomerGrowth => "customer_growth",
        /// Conversations and messages per period.
        ChatActivity => "chat_activity",
        /// Social posts and their engagement.
        SocialEngagement => "social_engagement",
    }
);

str_enum!(
    /// How often a saved report is run for its subscribers.
    ReportSchedule, "must be one of daily, weekly, monthly", {
        /// Every day.
        Daily => "daily",
        /// Every week.
        Weekly => "weekly",
        /// Every month.
        Monthly => "monthly",
    }
);

str_enum!(
    /// A supported social network.
    SocialNetwork, "must be one of twitter, facebook, instagram, linkedin", {
        /// Twitter / X.
        Twitter => "twitter",
        /// Facebook.
        Facebook => "facebook",
        /// Instagram.
        Instagram => "instagram",
        /// LinkedIn.
        Linkedin => "linkedin",
    }
);

str_enum!(
    /// Where a social post is in its life.
    PostStatus, "must be one of draft, scheduled, published, failed", {
        /// Being written.
        Draft => "draft",
        /// Waiting for its `scheduled_at`.
        Scheduled => "scheduled",
        /// Out, since `published_at`.
        Published => "published",
        /// The network refused it.
        Failed => "failed",
    }
);

str_enum!(
    /// What a phone number can do.
    Capability, "must be one of sms, voice", {
        /// Sends and receives SMS.
        Sms => "sms",
        /// Places and receives calls.
        Voice => "voice",
    }
);

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
            return Err(ParseError("must name at least one of sms, voice"));
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
