//! The long organization-wide operations running on this instance, each holding a pooled
//! connection and a transaction with locks for a long while: exports (`GET
//! /v1/organization/export`, streamed for as long as the client reads) and deletions (`DELETE
//! /v1/organization`, a cascade that may run for minutes). An instance runs at most a few of
//! each at once ([`EXPORTS_AT_ONCE`], [`DELETIONS_AT_ONCE`]) and one per organization: a caller
//! without a place is answered 429 with `Retry-After`. State is per instance (in memory), like
//! the rate limits.

use std::sync::{Arc, Mutex, PoisonError};

use palisade_domain::OrgId;

/// How many organization exports an instance sends at once.
pub const EXPORTS_AT_ONCE: usize = 2;

/// How many organization deletions an instance runs at once.
pub const DELETIONS_AT_ONCE: usize = 2;

/// The organizations for which one kind of operation is running on this instance.
#[derive(Debug)]
pub struct Places {
    at_once: usize,
    running: Mutex<Vec<OrgId>>,
}

impl Places {
    /// Room for `at_once` operations at once, one per organization.
    pub fn new(at_once: usize) -> Self {
        Self {
            at_once,
            running: Mutex::default(),
        }
    }

    /// A place for an operation on `org`: `None` when as many as this kind allows are running,
    /// or one on `org` is. Held until the [`Place`] is dropped.
    pub fn try_start(self: &Arc<Self>, org: OrgId) -> Option<Place> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.len() >= self.at_once || running.contains(&org) {
            return None;
        }
        running.push(org);
        Some(Place {
            places: Arc::clone(self),
            org,
        })
    }
}

/// A running operation's place ([`Places::try_start`]), given back when dropped.
#[derive(Debug)]
pub struct Place {
    places: Arc<Places>,
    org: OrgId,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut running = self
            .places
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
        let places = Arc::new(Places::new(2));
        let (a, b, c) = (OrgId::new(), OrgId::new(), OrgId::new());
        let first = places.try_start(a);
        assert!(first.is_some());
        assert!(
            places.try_start(a).is_none(),
            "a second of one organization"
        );
        let second = places.try_start(b);
        assert!(second.is_some());
        assert!(places.try_start(c).is_none(), "a third at once");
        drop(first);
        let third = places.try_start(c);
        assert!(third.is_some(), "a's place, given back");
        assert!(places.try_start(a).is_none(), "b's and c's run");
        drop((second, third));
        let last = places.try_start(a);
        assert!(last.is_some());
        assert_eq!(places.running.lock().map(|r| r.len()).unwrap_or(0), 1);
        drop(last);
        assert_eq!(places.running.lock().map(|r| r.len()).unwrap_or(9), 0);
    }
}
