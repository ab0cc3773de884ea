//! The organization exports running on this instance (`GET /v1/organization/export`, streamed:
//! `routes::organization`). Each holds a pooled connection, and a transaction with locks and a
//! snapshot, for as long as its client reads it, so an instance runs at most
//! [`EXPORTS_AT_ONCE`], and at most one per organization: a caller without a place is answered
//! 429 with `Retry-After`. State is per instance (in memory), like the rate limits.

use std::sync::{Arc, Mutex, PoisonError};

use palisade_domain::OrgId;

/// How many organization exports an instance sends at once.
pub const EXPORTS_AT_ONCE: usize = 2;

/// The organizations whose export is running on this instance.
#[derive(Debug, Default)]
pub struct Exports {
    running: Mutex<Vec<OrgId>>,
}

impl Exports {
    /// A place for an export of `org`: `None` when [`EXPORTS_AT_ONCE`] are running, or one of
    /// `org`'s is. Held until the [`ExportPlace`] is dropped.
    pub fn try_start(self: &Arc<Self>, org: OrgId) -> Option<ExportPlace> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.len() >= EXPORTS_AT_ONCE || running.contains(&org) {
            return None;
        }
        running.push(org);
        Some(ExportPlace {
            exports: Arc::clone(self),
            org,
        })
    }
}

/// A running export's place ([`Exports::try_start`]), given back when dropped.
#[derive(Debug)]
pub struct ExportPlace {
    exports: Arc<Exports>,
    org: OrgId,
}

impl Drop for ExportPlace {
    fn drop(&mut self) {
        let mut running = self
            .exports
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = running.iter().position(|org| *org == self.org) {
            running.swap_remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_at_once_one_per_organization_and_a_dropped_place_is_free_again() {
        let exports = Arc::new(Exports::default());
        let (a, b, c) = (OrgId::new(), OrgId::new(), OrgId::new());
        let first = exports.try_start(a);
        assert!(first.is_some());
        assert!(
            exports.try_start(a).is_none(),
            "a second of one organization"
        );
        let second = exports.try_start(b);
        assert!(second.is_some());
        assert!(exports.try_start(c).is_none(), "a third at once");
        drop(first);
        let third = exports.try_start(c);
        assert!(third.is_some(), "a's place, given back");
        assert!(exports.try_start(a).is_none(), "b's and c's run");
        drop((second, third));
        let last = exports.try_start(a);
        assert!(last.is_some());
        assert_eq!(exports.running.lock().map(|r| r.len()).unwrap_or(0), 1);
        drop(last);
        assert_eq!(exports.running.lock().map(|r| r.len()).unwrap_or(9), 0);
    }
}
