//! What an email provider's event (SendGrid, Mailgun) does to the message it is about: the
//! status, which never moves backwards, and the stage timestamps.
//!
//! ```text
//! rank   queued < sent < delivered < bounced = dropped = failed < opened < clicked
//! ```
//! - The status is the highest-ranked status any event has reported. A late `delivered` after
//!   `opened` changes no status; among failures the first one reported stays.
//! - `bounced` ranks above `delivered` because a bounce can follow a delivery: the recipient's
//!   server accepts the message, then returns a non-delivery report (a delayed bounce).
//! - `opened` and `clicked` rank above every failure: an open or a click proves a person got it.
//! - Each stage timestamp (`sent_at`, `delivered_at`, `opened_at`, `clicked_at`, and
//!   `failed_at` for any failure) is when that stage was first reached: set by the first event
//!   of its kind, moved earlier by an older one arriving late, never later. It is set even when
//!   the status does not move (a late `delivered` after `opened` still says when it arrived).
//! - [`StagesReached`] says which timestamps went from unset to set: the campaign counters move
//!   exactly then, so each counter is the number of its messages that reached that stage.
//! - Deferrals (temporary failures), unsubscribes, spam complaints and resubscribes change
//!   nothing on the message; they are still analytics events.

use time::OffsetDateTime;

use crate::EmailStatus;

crate::str_enum! {
    /// An event an email provider reports about one message, in Palisade's words. Its spelling
    /// is the analytics event type it is recorded as.
    pub enum EmailEvent {
        /// The provider accepted the message (SendGrid `processed`, Mailgun `accepted`).
        Sent = "email.sent",
        /// The recipient's server accepted it.
        Delivered = "email.delivered",
        /// A temporary failure; the provider keeps trying (SendGrid `deferred`, Mailgun `failed`
        /// with severity `temporary`).
        Deferred = "email.deferred",
        /// The recipient's server refused it, possibly after accepting it (a delayed bounce).
        Bounced = "email.bounced",
        /// The provider did not send it (suppression list, earlier bounce or complaint).
        Dropped = "email.dropped",
        /// The provider refused to take it (Mailgun `rejected`).
        Failed = "email.failed",
        /// The recipient opened it.
        Opened = "email.opened",
        /// The recipient clicked a link in it.
        Clicked = "email.clicked",
        /// The recipient unsubscribed.
        Unsubscribed = "email.unsubscribed",
        /// The recipient reported it as spam.
        Complained = "email.complained",
        /// The recipient subscribed again (SendGrid `group_resubscribe`).
        Resubscribed = "email.resubscribed",
    }
}

impl EmailEvent {
    /// The status it moves a message towards, if it is about delivery at all.
    pub fn status(self) -> Option<EmailStatus> {
        match self {
            EmailEvent::Sent => Some(EmailStatus::Sent),
            EmailEvent::Delivered => Some(EmailStatus::Delivered),
            EmailEvent::Bounced => Some(EmailStatus::Bounced),
            EmailEvent::Dropped => Some(EmailStatus::Dropped),
            EmailEvent::Failed => Some(EmailStatus::Failed),
            EmailEvent::Opened => Some(EmailStatus::Opened),
            EmailEvent::Clicked => Some(EmailStatus::Clicked),
            EmailEvent::Deferred
            | EmailEvent::Unsubscribed
            | EmailEvent::Complained
            | EmailEvent::Resubscribed => None,
        }
    }
}

/// Where a status stands in a message's life (see the module documentation).
pub fn email_status_rank(status: EmailStatus) -> u8 {
    match status {
        EmailStatus::Queued => 0,
        EmailStatus::Sent => 1,
        EmailStatus::Delivered => 2,
        EmailStatus::Bounced | EmailStatus::Dropped | EmailStatus::Failed => 3,
        EmailStatus::Opened => 4,
        EmailStatus::Clicked => 5,
    }
}

/// A message's delivery status and stage timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmailTracking {
    /// Status.
    pub status: EmailStatus,
    /// When the provider accepted it.
    pub sent_at: Option<OffsetDateTime>,
    /// When the recipient's server accepted it.
    pub delivered_at: Option<OffsetDateTime>,
    /// When it was first opened.
    pub opened_at: Option<OffsetDateTime>,
    /// When a link was first clicked.
    pub clicked_at: Option<OffsetDateTime>,
    /// When it first bounced, was dropped or failed.
    pub failed_at: Option<OffsetDateTime>,
}

/// The stages a message reached for the first time through one event: which campaign counter
/// to move by one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StagesReached {
    /// `sent_count`.
    pub sent: bool,
    /// `delivered_count`.
    pub delivered: bool,
    /// `opened_count`.
    pub opened: bool,
    /// `clicked_count`.
    pub clicked: bool,
    /// `bounced_count` (the first failure was a bounce).
    pub bounced: bool,
    /// `failed_count` (the first failure was a drop or a refusal).
    pub failed: bool,
}

impl StagesReached {
    /// Whether any counter moves.
    pub fn any(&self) -> bool {
        self.sent || self.delivered || self.opened || self.clicked || self.bounced || self.failed
    }
}

impl EmailTracking {
    /// The message after `event`, which happened at `at`, and the stages it reached for the
    /// first time. Unchanged (and nothing reached) when the event tells nothing new.
    pub fn apply(&self, event: EmailEvent, at: OffsetDateTime) -> (EmailTracking, StagesReached) {
        let mut next = *self;
        let mut reached = StagesReached::default();
        if let Some(target) = event.status()
            && email_status_rank(target) > email_status_rank(self.status)
        {
            next.status = target;
        }
        let (slot, flag) = match event {
            EmailEvent::Sent => (&mut next.sent_at, &mut reached.sent),
            EmailEvent::Delivered => (&mut next.delivered_at, &mut reached.delivered),
            EmailEvent::Opened => (&mut next.opened_at, &mut reached.opened),
            EmailEvent::Clicked => (&mut next.clicked_at, &mut reached.clicked),
            EmailEvent::Bounced => (&mut next.failed_at, &mut reached.bounced),
            EmailEvent::Dropped | EmailEvent::Failed => (&mut next.failed_at, &mut reached.failed),
            EmailEvent::Deferred
            | EmailEvent::Unsubscribed
            | EmailEvent::Complained
            | EmailEvent::Resubscribed => return (next, reached),
        };
        match slot {
            None => {
                *slot = Some(at);
                *flag = true;
            }
            Some(first) if at < *first => *slot = Some(at),
            Some(_) => {}
        }
        (next, reached)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EmailEvent as E;
    use EmailStatus as S;

    fn t(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    fn queued() -> EmailTracking {
        EmailTracking {
            status: S::Queued,
            sent_at: None,
            delivered_at: None,
            opened_at: None,
            clicked_at: None,
            failed_at: None,
        }
    }

    /// Applies events in order; returns the final state and every stage reached on the way.
    fn run(events: &[(EmailEvent, i64)]) -> (EmailTracking, Vec<StagesReached>) {
        let mut state = queued();
        let mut reached = Vec::new();
        for (e, at) in events {
            let (next, r) = state.apply(*e, t(*at));
            state = next;
            reached.push(r);
        }
        (state, reached)
    }

    #[test]
    fn the_usual_life_moves_forward_and_reaches_each_stage_once() {
        let (s, r) = run(&[
            (E::Sent, 0),
            (E::Delivered, 5),
            (E::Opened, 60),
            (E::Opened, 90),
            (E::Clicked, 100),
        ]);
        assert_eq!(s.status, S::Clicked);
        assert_eq!(
            (
                s.sent_at,
                s.delivered_at,
                s.opened_at,
                s.clicked_at,
                s.failed_at
            ),
            (Some(t(0)), Some(t(5)), Some(t(60)), Some(t(100)), None)
        );
        assert!(r[0].sent && r[1].delivered && r[2].opened && r[4].clicked);
        assert!(!r[3].any(), "a second open reaches nothing new");
    }

    #[test]
    fn a_status_never_moves_backwards_but_a_late_stage_is_still_dated() {
        let (s, r) = run(&[(E::Opened, 60), (E::Delivered, 5), (E::Sent, 0)]);
        assert_eq!(s.status, S::Opened);
        assert_eq!(s.delivered_at, Some(t(5)));
        assert_eq!(s.sent_at, Some(t(0)));
        assert!(r[1].delivered && r[2].sent);
        // Once clicked, nothing but a click matters to the status.
        for &e in E::ALL {
            let clicked = EmailTracking {
                status: S::Clicked,
                ..queued()
            };
            assert_eq!(clicked.apply(e, t(1)).0.status, S::Clicked, "{e:?}");
        }
    }

    #[test]
    fn a_delayed_bounce_overrides_delivered_but_not_an_open() {
        let (s, r) = run(&[(E::Sent, 0), (E::Delivered, 5), (E::Bounced, 30)]);
        assert_eq!(s.status, S::Bounced);
        assert_eq!((s.delivered_at, s.failed_at), (Some(t(5)), Some(t(30))));
        assert!(r[2].bounced && !r[2].failed);
        // The bounce reported before the delivery it followed: still bounced.
        let (s, _) = run(&[(E::Bounced, 30), (E::Delivered, 5)]);
        assert_eq!((s.status, s.delivered_at), (S::Bounced, Some(t(5))));
        // An open proves it arrived.
        let (s, _) = run(&[(E::Opened, 60), (E::Bounced, 30)]);
        assert_eq!((s.status, s.failed_at), (S::Opened, Some(t(30))));
        let (s, _) = run(&[(E::Bounced, 30), (E::Opened, 60)]);
        assert_eq!(s.status, S::Opened);
    }

    #[test]
    fn the_first_failure_reported_stays_and_counts_once() {
        let (s, r) = run(&[(E::Dropped, 10), (E::Bounced, 5), (E::Failed, 1)]);
        assert_eq!(s.status, S::Dropped);
        assert_eq!(s.failed_at, Some(t(1)), "the earliest failure dates it");
        assert!(r[0].failed && !r[1].any() && !r[2].any());
    }

    #[test]
    fn the_same_event_twice_changes_nothing_the_second_time() {
        for &e in E::ALL {
            let (once, _) = queued().apply(e, t(7));
            let (twice, r) = once.apply(e, t(7));
            assert_eq!(once, twice, "{e:?}");
            assert!(!r.any(), "{e:?}");
        }
    }

    #[test]
    fn events_without_a_status_change_nothing() {
        for e in [E::Deferred, E::Unsubscribed, E::Complained, E::Resubscribed] {
            assert_eq!(e.status(), None);
            let (s, r) = queued().apply(e, t(1));
            assert_eq!(s, queued(), "{e:?}");
            assert!(!r.any());
        }
    }

    #[test]
    fn event_types_are_analytics_types() {
        for &e in E::ALL {
            let ty = e.as_str();
            assert!(crate::EventType::parse(ty).is_ok(), "{ty}");
            assert!(ty.starts_with("email."));
        }
        // The rank covers every status, and failures share one.
        assert_eq!(email_status_rank(S::Bounced), email_status_rank(S::Dropped));
        assert!(email_status_rank(S::Delivered) < email_status_rank(S::Bounced));
        assert!(email_status_rank(S::Bounced) < email_status_rank(S::Opened));
    }
}
