//! [`MailgunTokens`]: this server's memory of the Mailgun signature tokens it accepted.
//!
//! Mailgun's signature covers only `timestamp + token`, not the event beside it in the body:
//! whoever captures one signed request can, while its timestamp is fresh, send the same
//! signature with other event data, and it verifies. So a token is accepted for one body only:
//! the same token with the same body again is a retry (and the delivery record makes it
//! harmless); the same token with any other body is a replay, refused.
//!
//! The memory is per process: in a deployment of several instances, a replay sent to another
//! instance than the original is not caught. Tokens are kept for twice the signature
//! tolerance (a token can only verify while its timestamp is within the tolerance of the
//! clock, on either side), so the memory holds at most the tokens Mailgun sent in the last
//! ten minutes; only Mailgun (or whoever holds the signing key) can add to it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use sha2::{Digest, Sha256};

use super::signature::MAILGUN_TOLERANCE_SECS;

/// How long a token is remembered after it was first accepted, in seconds.
const REMEMBER_SECS: i64 = 2 * MAILGUN_TOLERANCE_SECS;

/// The Mailgun tokens accepted recently, each with a digest of the body it came with.
#[derive(Debug, Default)]
pub struct MailgunTokens {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Token -> SHA-256 of the body first accepted with it.
    bodies: HashMap<String, [u8; 32]>,
    /// (forget at, token), in the order accepted: `forget at` never decreases, so expired
    /// tokens are always at the front.
    expiry: VecDeque<(i64, String)>,
}

impl MailgunTokens {
    /// Whether `token`, whose signature has just verified at unix time `now`, may be used with
    /// `body`: yes the first time (the token is then remembered with this body) and for the
    /// same body again; no for another body.
    pub fn admit(&self, token: &str, body: &[u8], now: i64) -> bool {
        let digest: [u8; 32] = Sha256::digest(body).into();
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        while inner.expiry.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, old)) = inner.expiry.pop_front() {
                inner.bodies.remove(&old);
            }
        }
        if let Some(first) = inner.bodies.get(token) {
            return *first == digest;
        }
        inner.bodies.insert(token.to_owned(), digest);
        // Never earlier than the last entry's, so that the queue stays ordered even if the
        // clock steps back.
        let last = inner.expiry.back().map_or(i64::MIN, |(at, _)| *at);
        let forget_at = (now + REMEMBER_SECS).max(last);
        inner.expiry.push_back((forget_at, token.to_owned()));
        true
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .bodies
            .len()
    }

    /// Whether no token is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_good_for_one_body_only() {
        let tokens = MailgunTokens::default();
        assert!(tokens.admit("tok", b"{\"event-data\":1}", 1000));
        // Mailgun retrying the same request: admitted (the delivery record deduplicates it).
        assert!(tokens.admit("tok", b"{\"event-data\":1}", 1001));
        // The captured signature with other event data: refused.
        assert!(!tokens.admit("tok", b"{\"event-data\":2}", 1002));
        assert!(tokens.admit("other", b"{\"event-data\":2}", 1002));
        assert_eq!(tokens.len(), 2);
    }

    #[test]
    fn tokens_are_forgotten_once_they_could_no_longer_verify() {
        let tokens = MailgunTokens::default();
        assert!(tokens.admit("a", b"1", 1000));
        assert!(tokens.admit("b", b"1", 1300));
        assert!(!tokens.admit("a", b"2", 1000 + REMEMBER_SECS - 1));
        // By now "a" is older than any timestamp that could still verify: forgotten, "b" kept.
        assert!(tokens.admit("c", b"1", 1000 + REMEMBER_SECS));
        assert_eq!(tokens.len(), 2);
        assert!(!tokens.admit("b", b"2", 1000 + REMEMBER_SECS));
        // A clock that steps back does not make an entry expire early.
        assert!(!tokens.admit("c", b"2", 900));
    }
}
