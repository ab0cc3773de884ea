//! The changes feed's sync tokens (docs/api.md, "Incremental sync"): where a client's copy of a
//! resource stands, sealed so that a client can neither read nor make one.
//!
//! A token holds transaction ids (`palisade_db::sync::ChangePosition`), and a transaction id
//! is a counter of the whole cluster: given as it is, two syncs a minute apart would tell any
//! tenant how many transactions every other organization ran in that minute (the shared
//! sequence of RLS pitfall 13). So a token is sealed with ChaCha20-Poly1305 under a key derived
//! (HKDF-SHA256) from the JWT signing secret, with a random nonce: it is 168 characters of
//! base64url that say nothing, and changing one character makes it a token that does not open.
//! Inside:
//! - the organization it was issued to, checked against the organization the request's
//!   credential resolved, after its one statement (the read itself is the caller's own under
//!   RLS whatever the token says); the resource it was issued for is the sealed data's
//!   associated text (the feed's path);
//! - the epoch of its ids ([`Epoch`]: the cluster's system identifier and timeline, the
//!   database's oid), checked against the database's: a restore, a point-in-time recovery or a
//!   replica's promotion may take the counter back below ids the token holds (later changes
//!   would then be given ids the sync has passed) or bring back rows the sync had passed;
//! - the sync's state ([`SyncState`]), which must also fit what the database has given out
//!   ([`SyncState::fits`]: a counter behind the token, which the epoch did not show);
//! - when its sync began ([`SyncToken::since_at`]): the deletion records are kept for a window
//!   only (`PALISADE_RETAIN_DELETION_RECORDS_DAYS`), so a token whose sync began before the
//!   window, less a day, may need records that are gone ([`SyncToken::too_old`]).
//!
//! A token that does not open (not one of ours, another organization's or resource's, of an
//! earlier format, or sealed under a JWT secret since rotated away: the verify-only secret's key
//! still opens the old ones during a rotation), whose epoch or state does not fit, or that is too
//! old, answers 410 `sync_token_expired`: the client replaces its copy with a sync from the
//! start.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use palisade_db::sync::{ChangePosition, Epoch};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf::{HKDF_SHA256, Salt};
use std::sync::Arc;
use uuid::Uuid;

use crate::ApiError;

/// Where a client's sync stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    /// A sync read to the end: the next one reads every change at or after this transaction id
    /// (0: from the start).
    Since(u64),
    /// A sync in progress: started from `since`, it reads on after `after` and below `ceiling`
    /// (its first page's), and once it has read to the end its next sync starts from
    /// `horizon`, its first page's.
    Paging {
        /// Where the sync started (0: from the start).
        since: u64,
        /// Where the next sync will start.
        horizon: u64,
        /// The sync reads changes below this id only.
        ceiling: u64,
        /// The last change read.
        after: ChangePosition,
    },
}

/// What the database said of the moment a page was read
/// (`palisade_db::sync::ChangesPage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    /// The oldest transaction still running.
    pub horizon: u64,
    /// The first transaction id not yet given out.
    pub ceiling: u64,
}

impl SyncState {
    /// The state of a sync from the start.
    pub const START: SyncState = SyncState::Since(0);

    /// Where its next page reads: (the sync's start, after which position, below which ceiling
    /// when paging).
    pub fn reads(&self) -> (u64, ChangePosition, Option<u64>) {
        match *self {
            SyncState::Since(since) => (since, ChangePosition::from_xid(since), None),
            SyncState::Paging {
                since,
                ceiling,
                after,
                ..
            } => (since, after, Some(ceiling)),
        }
    }

    /// Whether the ids it holds can still be ids of this database's history at `now`: none
    /// beyond what `now` has given out. A counter below them (a restore or recovery that the
    /// epoch did not show) would give later changes ids the sync has already passed.
    pub fn fits(&self, now: Moment) -> bool {
        match *self {
            SyncState::Since(since) => since <= now.horizon,
            SyncState::Paging {
                since,
                horizon,
                ceiling,
                after,
            } => {
                since <= horizon
                    && horizon <= now.horizon
                    && ceiling <= now.ceiling
                    && after.xid < ceiling
            }
        }
    }

    /// The state after a page read at `page`, whose last change is `last` and after which
    /// `more` follow: paging on from the first page's horizon and ceiling, or, at the end,
    /// the next sync from the first page's horizon.
    pub fn after_page(&self, page: Moment, last: Option<ChangePosition>, more: bool) -> SyncState {
        let (since, horizon, ceiling) = match *self {
            SyncState::Since(since) => (since, page.horizon, page.ceiling),
            SyncState::Paging {
                since,
                horizon,
                ceiling,
                ..
            } => (since, horizon, ceiling),
        };
        match last {
            Some(after) if more => SyncState::Paging {
                since,
                horizon,
                ceiling,
                after,
            },
            _ => SyncState::Since(horizon),
        }
    }
}

/// A token's contents: its organization, the database history its ids belong to, its state, and
/// when the positions it holds were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncToken {
    /// The organization the token was issued to.
    pub organization: Uuid,
    /// The cluster and history of its transaction ids.
    pub epoch: Epoch,
    /// Where its sync stands.
    pub state: SyncState,
    /// When the state's `since` was read (Unix seconds, by the server's clock): the first page
    /// of the sync before. 0 for a sync from the start, which needs no deletion record.
    pub since_at: i64,
    /// When a sync that is paging read its first page (its `horizon`, the next sync's `since`);
    /// 0 otherwise.
    pub horizon_at: i64,
}

impl SyncToken {
    /// Whether the token's sync began before `oldest` (Unix seconds): the deletion records it
    /// needs may be gone. A sync from the start is never too old.
    pub fn too_old(&self, oldest: i64) -> bool {
        let since = match self.state {
            SyncState::Since(since) | SyncState::Paging { since, .. } => since,
        };
        since > 0 && self.since_at < oldest
    }

    /// The times of the token after a page read at `now` (Unix seconds) whose state is `next`:
    /// a first page's time is its horizon's, which the next sync starts from.
    pub fn times_after(token: Option<&SyncToken>, now: i64, next: SyncState) -> (i64, i64) {
        let (since_at, horizon_at) = match token {
            None => (0, now),
            Some(t) => match t.state {
                SyncState::Since(_) => (t.since_at, now),
                SyncState::Paging { .. } => (t.since_at, t.horizon_at),
            },
        };
        match next {
            SyncState::Since(_) => (horizon_at, 0),
            SyncState::Paging { .. } => (since_at, horizon_at),
        }
    }
}

/// The token format's version, the first byte sealed. Version 1 (without the times) no longer
/// opens: its client syncs again from the start, once.
const VERSION: u8 = 2;
/// Version, kind, organization, the epoch's system, timeline and database, since, horizon,
/// ceiling, the position's xid and id, since_at, horizon_at.
const PLAIN_LEN: usize = 1 + 1 + 16 + 8 + 4 + 4 + 8 + 8 + 8 + 8 + 16 + 8 + 8;
/// What a token decodes to: the nonce, the sealed state and its tag.
const SEALED_LEN: usize = NONCE_LEN + PLAIN_LEN + 16;

/// The keys that seal and open sync tokens, derived from the JWT secrets.
#[derive(Clone)]
pub struct SyncKeys {
    sealing: Arc<LessSafeKey>,
    /// The verify-only JWT secret's key: opens tokens, seals none.
    opening_only: Option<Arc<LessSafeKey>>,
}

impl std::fmt::Debug for SyncKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SyncKeys(<redacted>)")
    }
}

fn derive(secret: &[u8]) -> Result<Arc<LessSafeKey>, &'static str> {
    let prk = Salt::new(HKDF_SHA256, b"palisade sync tokens").extract(secret);
    // Refused only for an output longer than 255 hashes; the key is 32 bytes.
    let okm = prk
        .expand(&[b"changes feed, version 1"], &CHACHA20_POLY1305)
        .map_err(|_| "the sync token key could not be derived")?;
    Ok(Arc::new(LessSafeKey::new(UnboundKey::from(okm))))
}

impl SyncKeys {
    /// The keys of a JWT signing secret.
    pub fn new(secret: &[u8]) -> Result<Self, &'static str> {
        Ok(Self {
            sealing: derive(secret)?,
            opening_only: None,
        })
    }

    /// Also opens the tokens of a second JWT secret (`PALISADE_JWT_VERIFY_SECRET`).
    pub fn with_opening_only(mut self, secret: &[u8]) -> Result<Self, &'static str> {
        self.opening_only = Some(derive(secret)?);
        Ok(self)
    }

    /// Seals `token` for `resource` (the feed's path, e.g. `/v1/customers/changes`).
    pub fn seal(&self, resource: &str, token: &SyncToken) -> Result<String, ApiError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(ApiError::internal)?;
        let mut in_out = Vec::with_capacity(PLAIN_LEN + 16);
        in_out.extend_from_slice(&encode(token));
        self.sealing
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(resource.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| ApiError::internal("a sync token could not be sealed"))?;
        Ok(URL_SAFE_NO_PAD.encode([&nonce[..], &in_out].concat()))
    }

    /// Opens a token sealed for `resource` by [`SyncKeys::seal`] under either key; `None` for
    /// anything else.
    pub fn open(&self, resource: &str, raw: &str) -> Option<SyncToken> {
        let sealed = URL_SAFE_NO_PAD.decode(raw).ok()?;
        if sealed.len() != SEALED_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        [Some(&*self.sealing), self.opening_only.as_deref()]
            .into_iter()
            .flatten()
            .find_map(|key| {
                let mut in_out = body.to_vec();
                let plain = key
                    .open_in_place(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(resource.as_bytes()),
                        &mut in_out,
                    )
                    .ok()?;
                decode(plain)
            })
    }
}

fn encode(token: &SyncToken) -> [u8; PLAIN_LEN] {
    let (kind, since, horizon, ceiling, after) = match token.state {
        SyncState::Since(since) => (0u8, since, 0, 0, ChangePosition::from_xid(0)),
        SyncState::Paging {
            since,
            horizon,
            ceiling,
            after,
        } => (1u8, since, horizon, ceiling, after),
    };
    let mut out = [0u8; PLAIN_LEN];
    out[0] = VERSION;
    out[1] = kind;
    out[2..18].copy_from_slice(token.organization.as_bytes());
    out[18..26].copy_from_slice(&token.epoch.system.to_be_bytes());
    out[26..30].copy_from_slice(&token.epoch.timeline.to_be_bytes());
    out[30..34].copy_from_slice(&token.epoch.database.to_be_bytes());
    out[34..42].copy_from_slice(&since.to_be_bytes());
    out[42..50].copy_from_slice(&horizon.to_be_bytes());
    out[50..58].copy_from_slice(&ceiling.to_be_bytes());
    out[58..66].copy_from_slice(&after.xid.to_be_bytes());
    out[66..82].copy_from_slice(after.id.as_bytes());
    out[82..90].copy_from_slice(&token.since_at.to_be_bytes());
    out[90..98].copy_from_slice(&token.horizon_at.to_be_bytes());
    out
}

fn decode(plain: &[u8]) -> Option<SyncToken> {
    if plain.len() != PLAIN_LEN || plain[0] != VERSION {
        return None;
    }
    let u64_at = |at: usize| plain[at..at + 8].try_into().ok().map(u64::from_be_bytes);
    let u32_at = |at: usize| plain[at..at + 4].try_into().ok().map(u32::from_be_bytes);
    let i64_at = |at: usize| plain[at..at + 8].try_into().ok().map(i64::from_be_bytes);
    let organization = Uuid::from_slice(&plain[2..18]).ok()?;
    let epoch = Epoch {
        system: u64_at(18)?,
        timeline: u32_at(26)?,
        database: u32_at(30)?,
    };
    let since = u64_at(34)?;
    let state = match plain[1] {
        0 => SyncState::Since(since),
        1 => SyncState::Paging {
            since,
            horizon: u64_at(42)?,
            ceiling: u64_at(50)?,
            after: ChangePosition {
                xid: u64_at(58)?,
                id: Uuid::from_slice(&plain[66..82]).ok()?,
            },
        },
        _ => return None,
    };
    Some(SyncToken {
        organization,
        epoch,
        state,
        since_at: i64_at(82)?,
        horizon_at: i64_at(90)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const OTHER: &[u8] = b"fedcba9876543210fedcba9876543210";

    const EPOCH: Epoch = Epoch {
        system: 7_446_112_233_445_566_778,
        timeline: 1,
        database: 16_384,
    };

    fn paging() -> SyncToken {
        SyncToken {
            organization: Uuid::now_v7(),
            epoch: EPOCH,
            state: SyncState::Paging {
                since: 41,
                horizon: 1_000_007,
                ceiling: 1_000_090,
                after: ChangePosition {
                    xid: 999_999,
                    id: Uuid::now_v7(),
                },
            },
            since_at: 1_764_000_000,
            horizon_at: 1_764_086_400,
        }
    }

    #[test]
    fn a_token_opens_to_what_was_sealed_and_shows_none_of_it() -> Result<(), ApiError> {
        let keys = SyncKeys::new(SECRET).map_err(ApiError::internal)?;
        for token in [
            paging(),
            SyncToken {
                organization: Uuid::now_v7(),
                epoch: Epoch {
                    system: u64::MAX,
                    timeline: 2,
                    database: u32::MAX,
                },
                state: SyncState::Since(123_456_789),
                since_at: -1,
                horizon_at: i64::MAX,
            },
        ] {
            let raw = keys.seal("/v1/customers", &token)?;
            assert_eq!(raw.len(), 168);
            assert_eq!(keys.open("/v1/customers", &raw), Some(token));
            // Nothing of the state in the clear, and a new nonce each time.
            let bytes = URL_SAFE_NO_PAD.decode(&raw).map_err(ApiError::internal)?;
            assert!(
                !bytes
                    .windows(16)
                    .any(|w| w == token.organization.as_bytes())
            );
            assert_ne!(keys.seal("/v1/customers", &token)?, raw);
        }
        Ok(())
    }

    #[test]
    fn a_changed_foreign_or_malformed_token_does_not_open() -> Result<(), ApiError> {
        let keys = SyncKeys::new(SECRET).map_err(ApiError::internal)?;
        let token = paging();
        let raw = keys.seal("/v1/customers", &token)?;
        // Another resource's, another secret's.
        assert_eq!(keys.open("/v1/campaigns", &raw), None);
        assert_eq!(
            SyncKeys::new(OTHER)
                .map_err(ApiError::internal)?
                .open("/v1/customers", &raw),
            None
        );
        // Every single-character change of it.
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for at in 0..raw.len() {
            let original = raw.as_bytes()[at] as char;
            let other = alphabet.chars().find(|c| *c != original).unwrap_or('A');
            let mut changed = raw.clone();
            changed.replace_range(at..=at, &other.to_string());
            assert_eq!(
                keys.open("/v1/customers", &changed),
                None,
                "changed at {at}"
            );
        }
        for junk in ["", "not a token", &raw[..raw.len() - 1], &format!("{raw}A")] {
            assert_eq!(keys.open("/v1/customers", junk), None, "{junk}");
        }
        Ok(())
    }

    #[test]
    fn during_a_rotation_the_verify_only_secret_opens_its_tokens_and_seals_none()
    -> Result<(), ApiError> {
        let old = SyncKeys::new(OTHER).map_err(ApiError::internal)?;
        let token = paging();
        let raw = old.seal("/v1/customers", &token)?;
        let rotated = SyncKeys::new(SECRET)
            .and_then(|k| k.with_opening_only(OTHER))
            .map_err(ApiError::internal)?;
        assert_eq!(rotated.open("/v1/customers", &raw), Some(token));
        let sealed_now = rotated.seal("/v1/customers", &token)?;
        assert_eq!(old.open("/v1/customers", &sealed_now), None);
        Ok(())
    }

    fn moment(horizon: u64, ceiling: u64) -> Moment {
        Moment { horizon, ceiling }
    }

    fn at(xid: u64) -> ChangePosition {
        ChangePosition {
            xid,
            id: Uuid::from_u128(u128::from(xid)),
        }
    }

    #[test]
    fn a_sync_pages_below_its_first_ceiling_and_its_next_starts_at_its_first_horizon() {
        // First page, at horizon 100 and ceiling 110, of a sync from 50: more follow.
        let first = SyncState::Since(50);
        assert_eq!(first.reads(), (50, ChangePosition::from_xid(50), None));
        let paging = first.after_page(moment(100, 110), Some(at(60)), true);
        assert_eq!(
            paging,
            SyncState::Paging {
                since: 50,
                horizon: 100,
                ceiling: 110,
                after: at(60)
            }
        );
        assert_eq!(paging.reads(), (50, at(60), Some(110)));
        // Later pages, read when the counter has moved on, keep the first page's horizon and
        // ceiling, and the last one ends the sync at the first horizon.
        let later = paging.after_page(moment(130, 150), Some(at(105)), true);
        assert_eq!(later.reads(), (50, at(105), Some(110)));
        assert_eq!(
            later.after_page(moment(140, 160), Some(at(108)), false),
            SyncState::Since(100)
        );
        // An empty first page ends the sync at once.
        assert_eq!(
            SyncState::START.after_page(moment(7, 9), None, false),
            SyncState::Since(7)
        );
    }

    #[test]
    fn a_state_beyond_what_the_database_has_given_out_does_not_fit() {
        let paging = SyncState::Since(50).after_page(moment(100, 110), Some(at(60)), true);
        assert!(SyncState::Since(100).fits(moment(100, 101)));
        assert!(!SyncState::Since(101).fits(moment(100, 120)));
        assert!(paging.fits(moment(100, 110)));
        assert!(paging.fits(moment(5_000, 6_000)));
        assert!(!paging.fits(moment(99, 110)), "a horizon gone back");
        assert!(!paging.fits(moment(100, 109)), "a ceiling gone back");
        let forged = SyncState::Paging {
            since: 50,
            horizon: 100,
            ceiling: 110,
            after: at(110),
        };
        assert!(
            !forged.fits(moment(1_000, 2_000)),
            "a position at the ceiling"
        );
    }

    #[test]
    fn a_token_is_as_old_as_its_sync_and_one_from_the_start_never_too_old() {
        let token = |state: SyncState, since_at: i64, horizon_at: i64| SyncToken {
            organization: Uuid::nil(),
            epoch: EPOCH,
            state,
            since_at,
            horizon_at,
        };
        // A sync from the start: its first page's time becomes the horizon's, then the next
        // sync's since_at, while it pages and after.
        let next = SyncState::START.after_page(moment(100, 110), Some(at(60)), true);
        assert_eq!(SyncToken::times_after(None, 1_000, next), (0, 1_000));
        let paging = token(next, 0, 1_000);
        let end = next.after_page(moment(130, 150), Some(at(105)), false);
        assert_eq!(
            SyncToken::times_after(Some(&paging), 2_000, end),
            (1_000, 0)
        );
        // A later sync: pages keep its since_at, and the next starts at its first page's time.
        let since = token(SyncState::Since(100), 1_000, 0);
        let next = since
            .state
            .after_page(moment(200, 210), Some(at(150)), true);
        assert_eq!(
            SyncToken::times_after(Some(&since), 5_000, next),
            (1_000, 5_000)
        );
        let end = next.after_page(moment(220, 230), None, false);
        assert_eq!(
            SyncToken::times_after(Some(&token(next, 1_000, 5_000)), 6_000, end),
            (5_000, 0)
        );
        // One page to the end at once.
        let end = since
            .state
            .after_page(moment(200, 210), Some(at(150)), false);
        assert_eq!(SyncToken::times_after(Some(&since), 5_000, end), (5_000, 0));
        // Too old: a sync begun before the oldest time, paging or not; never one from the start.
        assert!(since.too_old(1_001));
        assert!(!since.too_old(1_000));
        assert!(token(next, 1_000, 5_000).too_old(1_001));
        assert!(!token(SyncState::START, 0, 0).too_old(i64::MAX));
        let first_pages = SyncState::START.after_page(moment(100, 110), Some(at(60)), true);
        assert!(!token(first_pages, 0, 1_000).too_old(i64::MAX));
    }
}
