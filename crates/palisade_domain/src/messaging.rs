//! Campaigns, messages and calls: their statuses and which changes of status are allowed,
//! call and SMS directions, provider ids, and the bounded texts they carry.
//!
//! The status sets follow the providers' own (Twilio's SMS and call statuses, SendGrid's and
//! Mailgun's email events), spelled as every Palisade enum is (snake_case, `cancelled`): the
//! provider webhooks map the providers' spellings (Twilio's `in-progress`, `no-answer`,
//! `canceled`) to these.

use crate::ParseError;
use crate::text::{Lines, text_type};

crate::str_enum! {
    /// Where a campaign (email, SMS or voice) is in its life.
    pub enum CampaignStatus {
        /// Being written; nothing goes out.
        Draft = "draft",
        /// Goes out at `scheduled_at`.
        Scheduled = "scheduled",
        /// Going out now.
        Sending = "sending",
        /// Everything went out (set by the sender, never by clients).
        Sent = "sent",
        /// Stopped for good.
        Cancelled = "cancelled",
    }
}

impl CampaignStatus {
    /// Whether the campaign's content (name, texts, schedule) may still change and recipients
    /// be added: only before anything has gone out. (A recipient still queued may be removed
    /// whatever the status: a message's own rule.)
    pub fn is_editable(self) -> bool {
        matches!(self, CampaignStatus::Draft | CampaignStatus::Scheduled)
    }

    /// Whether the campaign may be deleted (with its recipients): not while it is going out,
    /// and not once sent. A cancelled one may, with every recipient, those it went out to
    /// included: keeping that record means keeping the cancelled campaign.
    pub fn is_deletable(self) -> bool {
        matches!(
            self,
            CampaignStatus::Draft | CampaignStatus::Scheduled | CampaignStatus::Cancelled
        )
    }

    /// Whether a client may move a campaign from `self` to `to`. Staying put is always allowed.
    ///
    /// ```text
    /// draft     -> scheduled | sending | cancelled
    /// scheduled -> draft | sending | cancelled
    /// sending   -> cancelled
    /// sent, cancelled: final
    /// ```
    /// `sending -> sent` happens, but only the sender (not built yet) makes it.
    pub fn client_may_move_to(self, to: CampaignStatus) -> bool {
        use CampaignStatus::*;
        self == to
            || matches!(
                (self, to),
                (Draft, Scheduled | Sending | Cancelled)
                    | (Scheduled, Draft | Sending | Cancelled)
                    | (Sending, Cancelled)
            )
    }
}

crate::str_enum! {
    /// An email's delivery status, as the email provider reports it.
    pub enum EmailStatus {
        /// Waiting to be handed to the provider.
        Queued = "queued",
        /// Accepted by the provider.
        Sent = "sent",
        /// Accepted by the recipient's server.
        Delivered = "delivered",
        /// Opened by the recipient.
        Opened = "opened",
        /// A link in it was clicked.
        Clicked = "clicked",
        /// Refused by the recipient's server.
        Bounced = "bounced",
        /// Not sent by the provider (suppression list, invalid address).
        Dropped = "dropped",
        /// Could not be handed to the provider.
        Failed = "failed",
    }
}

impl EmailStatus {
    /// Whether the email left for the recipient's server (the denominator of the delivery
    /// rate): sent, and every status that can only follow sending, bounced included.
    pub fn counts_as_sent(self) -> bool {
        use EmailStatus::*;
        matches!(self, Sent | Delivered | Opened | Clicked | Bounced)
    }

    /// Whether the email reached the recipient's server (opened and clicked imply it).
    pub fn counts_as_delivered(self) -> bool {
        use EmailStatus::*;
        matches!(self, Delivered | Opened | Clicked)
    }
}

crate::str_enum! {
    /// An SMS's status, as Twilio reports it.
    pub enum SmsStatus {
        /// Outbound, waiting to be sent.
        Queued = "queued",
        /// Outbound, being handed to the carrier.
        Sending = "sending",
        /// Outbound, accepted by the carrier.
        Sent = "sent",
        /// Outbound, delivered to the handset.
        Delivered = "delivered",
        /// Outbound, sent but the carrier could not deliver it.
        Undelivered = "undelivered",
        /// Outbound, could not be sent at all.
        Failed = "failed",
        /// Inbound (the only status of inbound messages).
        Received = "received",
    }
}

impl SmsStatus {
    /// Whether an outbound SMS left for the carrier (the denominator of the delivery rate).
    pub fn counts_as_sent(self) -> bool {
        use SmsStatus::*;
        matches!(self, Sent | Delivered | Undelivered)
    }

    /// Whether an outbound SMS reached the handset.
    pub fn counts_as_delivered(self) -> bool {
        self == SmsStatus::Delivered
    }
}

crate::str_enum! {
    /// Which way an SMS or a call went.
    pub enum Direction {
        /// To the organization.
        Inbound = "inbound",
        /// From the organization.
        Outbound = "outbound",
    }
}

crate::str_enum! {
    /// A call's status, as Twilio reports it.
    pub enum CallStatus {
        /// Waiting to be dialled.
        Queued = "queued",
        /// Ringing.
        Ringing = "ringing",
        /// Answered, under way (Twilio: `in-progress`).
        InProgress = "in_progress",
        /// Answered and ended.
        Completed = "completed",
        /// The callee was busy.
        Busy = "busy",
        /// Nobody answered (Twilio: `no-answer`).
        NoAnswer = "no_answer",
        /// Could not be placed.
        Failed = "failed",
        /// Hung up before it was answered (Twilio: `canceled`).
        Cancelled = "cancelled",
    }
}

impl CallStatus {
    /// Whether the call is over (its status can no longer change).
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            CallStatus::Queued | CallStatus::Ringing | CallStatus::InProgress
        )
    }

    /// Whether a call may move from `self` to `to`. Staying put is always allowed; otherwise a
    /// call only moves forward:
    ///
    /// ```text
    /// queued      -> ringing | in_progress | completed | busy | no_answer | failed | cancelled
    /// ringing     -> in_progress | completed | busy | no_answer | failed | cancelled
    /// in_progress -> completed | failed
    /// completed, busy, no_answer, failed, cancelled: final
    /// ```
    /// (`completed` may follow `queued` or `ringing` directly: a status callback for
    /// in_progress is not always requested.)
    pub fn may_move_to(self, to: CallStatus) -> bool {
        use CallStatus::*;
        self == to
            || match self {
                Queued => to != Queued,
                Ringing => !matches!(to, Queued | Ringing),
                InProgress => matches!(to, Completed | Failed),
                Completed | Busy | NoAnswer | Failed | Cancelled => false,
            }
    }
}

/// An identifier a provider assigned: a Twilio CallSid or MessageSid, a SendGrid
/// `sg_message_id`, a Mailgun message id (which contains `<`, `@` and `>`). Stored verbatim:
/// 1 to 255 visible ASCII characters, no spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProviderId(String);

impl ProviderId {
    /// Longest accepted id.
    pub const MAX_LEN: usize = 255;

    /// Parses an id (surrounding whitespace is dropped; nothing else is changed).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ParseError::too_short("must not be empty"));
        }
        if s.len() > Self::MAX_LEN {
            return Err(ParseError::too_long("is too long"));
        }
        if !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ParseError::new(
                "must be visible ASCII characters without spaces",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The text of an SMS a carrier delivered to one of our numbers: at most
/// [`SmsBody::MAX_CHARS`] characters, possibly empty, kept as received except for NUL, which
/// PostgreSQL text cannot hold: each NUL becomes U+FFFD (the replacement character), so the
/// rest of what the customer wrote is kept and the gap shows. (A NUL can only come from a
/// mangled encoding on the way: GSM 03.38's 0x00 is `@`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundSmsBody {
    text: String,
    replaced_nul: bool,
}

impl InboundSmsBody {
    /// Takes a carrier's text; refuses only one longer than an SMS can be.
    pub fn from_carrier(s: &str) -> Result<Self, ParseError> {
        if s.chars().count() > SmsBody::MAX_CHARS {
            return Err(ParseError::too_long("is longer than 1600 characters"));
        }
        let replaced_nul = s.contains('\0');
        let text = if replaced_nul {
            s.replace('\0', "\u{FFFD}")
        } else {
            s.to_owned()
        };
        Ok(Self { text, replaced_nul })
    }

    /// The text to store.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether a NUL was replaced.
    pub fn replaced_nul(&self) -> bool {
        self.replaced_nul
    }
}

text_type!(
    /// A campaign's name (one line).
    CampaignName,
    200,
    Lines::One
);
text_type!(
    /// An email's subject (one line; 998 is the longest line RFC 5322 allows).
    EmailSubject,
    998,
    Lines::One
);
text_type!(
    /// An email's body (text or HTML).
    EmailBody,
    50_000,
    Lines::Many
);
text_type!(
    /// An SMS body (1600 characters is the most Twilio sends as one concatenated message).
    SmsBody,
    1600,
    Lines::Many
);
text_type!(
    /// What a voice campaign's calls say or follow (a plain-text script or an IVR reference).
    VoiceScript,
    20_000,
    Lines::Many
);
text_type!(
    /// Free-text notes on a call.
    CallNotes,
    10_000,
    Lines::Many
);

/// A call's duration in whole seconds: 0 to a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallDuration(i32);

impl CallDuration {
    /// The longest call, in seconds.
    pub const MAX_SECONDS: i32 = 86_400;

    /// Parses a number of seconds.
    pub fn parse(seconds: &i64) -> Result<Self, ParseError> {
        match i32::try_from(*seconds) {
            Ok(s) if (0..=Self::MAX_SECONDS).contains(&s) => Ok(Self(s)),
            _ => Err(ParseError::new("must be an integer from 0 to 86400")),
        }
    }

    /// The seconds.
    pub fn seconds(self) -> i32 {
        self.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for s in CampaignStatus::ALL {
            assert_eq!(CampaignStatus::parse(s.as_str()), Ok(*s));
        }
        for s in EmailStatus::ALL {
            assert_eq!(EmailStatus::parse(s.as_str()), Ok(*s));
        }
        for s in SmsStatus::ALL {
            assert_eq!(SmsStatus::parse(s.as_str()), Ok(*s));
        }
        for s in CallStatus::ALL {
            assert_eq!(CallStatus::parse(s.as_str()), Ok(*s));
        }
        for d in Direction::ALL {
            assert_eq!(Direction::parse(d.as_str()), Ok(*d));
        }
        assert!(CampaignStatus::parse("Draft").is_err());
        assert_eq!(CallStatus::parse("in_progress"), Ok(CallStatus::InProgress));
        for twilio_only in ["in-progress", "no-answer", "canceled"] {
            assert!(CallStatus::parse(twilio_only).is_err(), "{twilio_only}");
        }
        assert_eq!(
            CallStatus::parse("x").map_err(|e| e.reason()),
            Err(
                "must be one of queued, ringing, in_progress, completed, busy, no_answer, failed, cancelled"
            )
        );
        assert_eq!(
            Direction::parse("sideways").map_err(|e| e.reason()),
            Err("must be one of inbound, outbound")
        );
    }

    #[test]
    fn campaign_transitions() {
        use CampaignStatus::*;
        let allowed = [
            (Draft, Scheduled),
            (Draft, Sending),
            (Draft, Cancelled),
            (Scheduled, Draft),
            (Scheduled, Sending),
            (Scheduled, Cancelled),
            (Sending, Cancelled),
        ];
        for from in CampaignStatus::ALL {
            for to in CampaignStatus::ALL {
                let expected = from == to || allowed.contains(&(*from, *to));
                assert_eq!(from.client_may_move_to(*to), expected, "{from:?} -> {to:?}");
            }
        }
        assert!(
            !Sending.client_may_move_to(Sent),
            "only the sender marks a campaign sent"
        );
        assert!(Draft.is_editable() && Scheduled.is_editable());
        assert!(!Sending.is_editable() && !Sent.is_editable() && !Cancelled.is_editable());
        assert!(Cancelled.is_deletable() && !Sending.is_deletable() && !Sent.is_deletable());
    }

    #[test]
    fn call_transitions_only_go_forward() {
        use CallStatus::*;
        assert!(Queued.may_move_to(Ringing));
        assert!(Queued.may_move_to(Completed));
        assert!(Ringing.may_move_to(NoAnswer));
        assert!(InProgress.may_move_to(Completed));
        assert!(!InProgress.may_move_to(Busy));
        assert!(!InProgress.may_move_to(Ringing));
        assert!(!Ringing.may_move_to(Queued));
        for done in [Completed, Busy, NoAnswer, Failed, Cancelled] {
            assert!(done.is_final());
            for to in CallStatus::ALL {
                assert_eq!(done.may_move_to(*to), done == *to, "{done:?} -> {to:?}");
            }
        }
        assert!(!Queued.is_final() && !InProgress.is_final());
    }

    #[test]
    fn delivery_rate_inputs() {
        use EmailStatus as E;
        let sent: Vec<_> = E::ALL.iter().filter(|s| s.counts_as_sent()).collect();
        assert_eq!(
            sent,
            [
                &E::Sent,
                &E::Delivered,
                &E::Opened,
                &E::Clicked,
                &E::Bounced
            ]
        );
        assert!(
            E::ALL
                .iter()
                .all(|s| !s.counts_as_delivered() || s.counts_as_sent())
        );
        use SmsStatus as S;
        assert!(S::Undelivered.counts_as_sent() && !S::Undelivered.counts_as_delivered());
        assert!(!S::Failed.counts_as_sent() && !S::Received.counts_as_sent());
        assert!(
            S::ALL
                .iter()
                .all(|s| !s.counts_as_delivered() || s.counts_as_sent())
        );
    }

    #[test]
    fn provider_ids() {
        assert_eq!(
            ProviderId::parse(" CA0123456789abcdef0123456789abcdef ").map(|p| p.0),
            Ok("CA0123456789abcdef0123456789abcdef".into())
        );
        assert!(ProviderId::parse("<20240101.1@mg.example.com>").is_ok());
        assert!(ProviderId::parse("14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0").is_ok());
        for bad in ["", "   ", "has space", "tab\there", "é"] {
            assert!(ProviderId::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ProviderId::parse(&"a".repeat(256)).is_err());
        assert!(ProviderId::parse(&"a".repeat(255)).is_ok());
    }

    #[test]
    fn inbound_sms_bodies_keep_the_text_but_not_nul() {
        let b = InboundSmsBody::from_carrier("  Hi\u{0}there\n\u{1} ").unwrap();
        assert_eq!(b.as_str(), "  Hi\u{FFFD}there\n\u{1} ");
        assert!(b.replaced_nul());
        let b = InboundSmsBody::from_carrier("").unwrap();
        assert!(b.as_str().is_empty() && !b.replaced_nul());
        assert!(InboundSmsBody::from_carrier(&"é".repeat(1600)).is_ok());
        assert!(InboundSmsBody::from_carrier(&"é".repeat(1601)).is_err());
    }

    #[test]
    fn texts() {
        assert_eq!(
            CampaignName::parse("  Spring sale ").map(|n| n.0),
            Ok("Spring sale".into())
        );
        assert!(CampaignName::parse("two\nlines").is_err());
        assert!(CampaignName::parse(&"x".repeat(201)).is_err());
        assert!(EmailSubject::parse(&"x".repeat(998)).is_ok());
        assert!(EmailSubject::parse(&"x".repeat(999)).is_err());
        assert_eq!(
            EmailBody::parse("Hello,\r\n\tworld\n").map(|b| b.0),
            Ok("Hello,\r\n\tworld".into())
        );
        assert!(EmailBody::parse("nul\u{0}").is_err());
        assert!(SmsBody::parse(&"é".repeat(1600)).is_ok());
        assert!(SmsBody::parse(&"é".repeat(1601)).is_err());
        assert!(VoiceScript::parse(" \n ").is_err());
        assert!(CallNotes::parse("called back\nno answer").is_ok());
    }
}
