//! Authentication: bearer JWTs, argon2id password hashing, and the credential extractors
//! ([`Caller`], checked by the handler's transaction; [`UserSession`], looked up before it;
//! [`UserCaller`], a user's token checked by the transaction, an API key refused).
//!
//! Tokens are HS256 with `iss`, `aud`, `sub` (user id), `iat`, `exp`, two claims of ours that
//! must be present, `org` (the organization id, or null) and `role` (or null), and two that may
//! be missing in older tokens, `ver` and `auth_time` (see [`Claims`]). A token
//! whose `org` is null authenticates a user who belongs to no organization: 403
//! `no_organization`. Anything else wrong with a token answers 401, and so does a valid token
//! whose user no longer exists, or whose `ver` (the user's credential version when it was
//! issued) is no longer the user's: a password change or reset, or signing out everywhere, ends
//! every earlier token. API keys (`pk_...`) are the other credential; see [`Caller`] and
//! [`Tenant`], and [`UserSession`] and [`UserCaller`] for the routes a key may not use.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};
use futures_util::future::LocalBoxFuture;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use palisade_domain::{OrgId, Password, Role, TenantContext, UserId};
use serde::{Deserialize, Deserializer, Serialize};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::{ApiError, AppState};

const ISSUER: &str = "palisade";
const AUDIENCE: &str = "palisade-api";

/// The claims of a Palisade bearer token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Issuer, always `palisade`.
    pub iss: String,
    /// Audience, always `palisade-api`.
    pub aud: String,
    /// The user id.
    pub sub: Uuid,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Expires at (unix seconds).
    pub exp: i64,
    /// The organization: required, may be null (403 `no_organization`).
    #[serde(deserialize_with = "required_nullable")]
    pub org: Option<Uuid>,
    /// The role in that organization: required, may be null only when `org` is.
    #[serde(deserialize_with = "required_nullable")]
    pub role: Option<Role>,
    /// The user's credential version when the token was issued. Tokens issued before this claim
    /// existed carry none and count as version 0, the version of every user who never changed
    /// their password; any change ends them too.
    #[serde(default)]
    pub ver: i32,
    /// When the user last proved who they are (unix seconds): the signup, login, invitation
    /// acceptance or password change that issued the session's first token. A renewed token
    /// keeps it, and no renewal outlives it by more than the session's maximum age. Tokens
    /// issued before this claim existed carry none and count from their `iat`. A renewal
    /// counts from no later than the token's `iat` and the renewal itself (no token Palisade
    /// issued claims later: one that does was forged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

/// Without this, serde treats a missing `Option` field as `None`; we want "missing" to be an
/// invalid token (401) and only an explicit null to mean "no organization" (403).
fn required_nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}

/// Keys and rules for bearer tokens. The secret never leaves this struct.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// A second secret's key, which verifies tokens and signs none (`PALISADE_JWT_VERIFY_SECRET`:
    /// the next or the previous secret during a rotation).
    verify_only: Option<DecodingKey>,
    validation: Arc<Validation>,
    ttl: Duration,
    session_max: Duration,
    /// The changes feed's token keys, derived from the same secrets.
    sync: crate::sync_token::SyncKeys,
}

/// A renewed token, or why there is none. Its `Debug` leaves the token out.
pub enum Renewal {
    /// A new token.
    Renewed {
        /// The token.
        token: String,
        /// The seconds it lives: the token lifetime, or less when the session's maximum age
        /// comes first.
        expires_in: u64,
    },
    /// The token has expired (verification allows 30 s of clock skew past `exp`, a renewal
    /// none): only a login continues.
    Expired,
    /// The session has reached its maximum age: only a login continues it.
    SessionEnded,
}

impl std::fmt::Debug for Renewal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Renewed { expires_in, .. } => f
                .debug_struct("Renewed")
                .field("token", &"<redacted>")
                .field("expires_in", expires_in)
                .finish(),
            Self::Expired => f.write_str("Expired"),
            Self::SessionEnded => f.write_str("SessionEnded"),
        }
    }
}

impl TokenKeys {
    /// Shortest accepted HS256 secret, in bytes (RFC 7518 3.2: at least the hash size).
    pub const MIN_SECRET_BYTES: usize = 32;

    /// The default maximum age of a session (`PALISADE_SESSION_MAX_SECS`): 30 days.
    pub const DEFAULT_SESSION_MAX: Duration = Duration::from_secs(30 * 86_400);

    /// Keys from a secret of at least 32 bytes; tokens live `ttl`, and renewals end
    /// [`TokenKeys::DEFAULT_SESSION_MAX`] after the login, or `ttl` when that is longer (see
    /// [`TokenKeys::with_session_max`]).
    pub fn new(secret: &[u8], ttl: Duration) -> Result<Self, &'static str> {
        if secret.len() < Self::MIN_SECRET_BYTES {
            return Err("the JWT secret must be at least 32 bytes");
        }
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 30;
        // jsonwebtoken refuses only an empty secret, which the length check already refused.
        let refused = |_| "the JWT secret was refused";
        Ok(Self {
            encoding: EncodingKey::from_secret(secret).map_err(refused)?,
            decoding: DecodingKey::from_secret(secret).map_err(refused)?,
            verify_only: None,
            validation: Arc::new(validation),
            ttl,
            session_max: Self::DEFAULT_SESSION_MAX.max(ttl),
            sync: crate::sync_token::SyncKeys::new(secret)?,
        })
    }

    /// Sets how long after a login its tokens may still be renewed: no renewed token expires
    /// later than `max` after the login. Refused when shorter than the token lifetime, which a
    /// login's first token already has.
    pub fn with_session_max(mut self, max: Duration) -> Result<Self, &'static str> {
        if max < self.ttl {
            return Err("the session's maximum age must be at least the token lifetime");
        }
        self.session_max = max;
        Ok(self)
    }

    /// Also accepts the tokens `secret` signed (at least 32 bytes), and signs none with it: a
    /// rotation's next secret, before every server signs with it, or its previous one, until the
    /// tokens it signed have expired (docs/configuration.md, "Rotating the JWT secret"). A token
    /// renewed is signed with the main secret.
    pub fn with_verify_secret(mut self, secret: &[u8]) -> Result<Self, &'static str> {
        if secret.len() < Self::MIN_SECRET_BYTES {
            return Err("the JWT verify secret must be at least 32 bytes");
        }
        self.verify_only = Some(
            DecodingKey::from_secret(secret).map_err(|_| "the JWT verify secret was refused")?,
        );
        self.sync = self.sync.with_opening_only(secret)?;
        Ok(self)
    }

    /// The keys of the changes feed's sync tokens ([`crate::sync_token`]), derived from the
    /// same secrets: the signing secret's seals and opens, the verify-only secret's opens.
    pub fn sync(&self) -> &crate::sync_token::SyncKeys {
        &self.sync
    }

    /// How long issued tokens live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How long after a login its tokens may be renewed.
    pub fn session_max(&self) -> Duration {
        self.session_max
    }

    /// Issues a token for a user acting in their organization, valid while the user's
    /// credential version is `credential_version`.
    pub fn issue(&self, ctx: &TenantContext, credential_version: i32) -> Result<String, ApiError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: ctx.user_id.as_uuid(),
            iat: now,
            exp: now.saturating_add(ttl),
            org: Some(ctx.org_id.as_uuid()),
            role: Some(ctx.role),
            ver: credential_version,
            auth_time: Some(now),
        };
        self.sign(&claims)
    }

    /// A new token for the session `claims` (verified) belongs to, for `ctx` (the user's current
    /// role, checked by the caller): the same user, organization, credential version and
    /// `auth_time`, with a new expiry, never later than the session's maximum age after
    /// `auth_time`. The token it renews keeps working until its own expiry; an expired one
    /// (which [`TokenKeys::verify`] accepts for 30 s of clock skew) renews nothing.
    pub fn renew(&self, ctx: &TenantContext, claims: &Claims) -> Result<Renewal, ApiError> {
        self.renew_at(
            time::OffsetDateTime::now_utc().unix_timestamp(),
            ctx,
            claims,
        )
    }

    /// [`TokenKeys::renew`] at `now` (unix seconds).
    fn renew_at(
        &self,
        now: i64,
        ctx: &TenantContext,
        claims: &Claims,
    ) -> Result<Renewal, ApiError> {
        if claims.exp < now {
            return Ok(Renewal::Expired);
        }
        // No token Palisade issued claims a login after its own `iat`, or an `iat` to come: a
        // token that does was forged (with a leaked secret, say), and would otherwise renew
        // forever. Counted from no later than now, its renewals end within the session's
        // maximum age, as for any other token.
        let auth_time = claims
            .auth_time
            .unwrap_or(claims.iat)
            .min(claims.iat)
            .min(now);
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2);
        let exp = now
            .saturating_add(secs(self.ttl))
            .min(auth_time.saturating_add(secs(self.session_max)));
        let Ok(expires_in @ 1..) = u64::try_from(exp.saturating_sub(now)) else {
            return Ok(Renewal::SessionEnded);
        };
        let token = self.sign(&Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: ctx.user_id.as_uuid(),
            iat: now,
            exp,
            org: Some(ctx.org_id.as_uuid()),
            role: Some(ctx.role),
            ver: claims.ver,
            auth_time: Some(auth_time),
        })?;
        Ok(Renewal::Renewed { token, expires_in })
    }

    /// Signs arbitrary claims (tests use it to mint expired or odd tokens).
    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        jsonwebtoken::encode(
            &Header::new(jsonwebtoken::Algorithm::HS256),
            claims,
            &self.encoding,
        )
        .map_err(|e| ApiError::internal(format!("could not sign a token: {}", e.kind_name())))
    }

    /// Verifies signature, algorithm, issuer, audience and expiry, and decodes the claims. A
    /// signature the main secret refuses is tried with the verify-only one, when there is one.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let decoded = match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
        {
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::InvalidSignature) => {
                match &self.verify_only {
                    Some(key) => jsonwebtoken::decode::<Claims>(token, key, &self.validation)
                        .inspect(|_| {
                            tracing::debug!("bearer token signed with the verify-only secret");
                        }),
                    None => Err(e),
                }
            }
            decoded => decoded,
        };
        decoded.map(|data| data.claims).map_err(|e| {
            tracing::debug!(reason = e.kind_name(), "bearer token refused");
            invalid_token()
        })
    }
}

trait KindName {
    fn kind_name(&self) -> &'static str;
}

impl KindName for jsonwebtoken::errors::Error {
    /// A short, secret-free name for logs.
    fn kind_name(&self) -> &'static str {
        use jsonwebtoken::errors::ErrorKind as K;
        match self.kind() {
            K::ExpiredSignature => "expired",
            K::InvalidSignature => "bad_signature",
            K::InvalidAlgorithm | K::InvalidAlgorithmName => "bad_algorithm",
            K::InvalidIssuer => "bad_issuer",
            K::InvalidAudience => "bad_audience",
            K::MissingRequiredClaim(_) => "missing_claim",
            K::ImmatureSignature => "not_yet_valid",
            K::Json(_) => "bad_claims",
            _ => "malformed",
        }
    }
}

fn invalid_token() -> ApiError {
    ApiError::Unauthorized {
        code: crate::error::ErrorCode::InvalidToken,
        message: "the bearer token is missing, malformed, expired or not ours",
    }
}

/// Argon2id hashing with OWASP's minimum parameters (m = 19 MiB, t = 2, p = 1), on threads of
/// its own, at most `concurrency` hashes at a time: a burst of logins neither stalls the async
/// workers nor allocates 19 MiB per waiting request, and each of the few threads allocates its
/// 19 MiB once and reuses it for every hash (`MEMORY`; the blocking pool's many threads each
/// kept an allocator arena with a 19 MiB block in it).
/// The server runs one hash fewer than it has cores ([`PasswordHashing::default_concurrency`]),
/// so a burst of logins always leaves a core to the other requests.
///
/// The threads keep the normal scheduling priority on purpose: a lower one (nice 10) did keep
/// the cores for requests, but a hashing thread descheduled while it held a lock a request
/// thread also takes (waking the request's task, the job queue) stalled that request for up to
/// a second (issue 13: reads' p99 5 to 10 times their p99 alone). What they change instead is
/// their time slice: each asks the kernel for [`HASHING_SLICE`] (`request_slice`; Linux
/// 6.12 and later). Under EEVDF a thread with a longer slice has a later virtual deadline at
/// the same share of the CPU, so a request's thread (the kernel's default slice: 0.7 to 2.8 ms
/// by the number of cores) that wakes while a hash runs preempts it at once instead of waiting
/// for the hash's slice to run out, and a hashing thread preempted while holding a lock is
/// still scheduled at its full weight.
#[derive(Clone)]
pub struct PasswordHashing {
    permits: Arc<Semaphore>,
    /// The hashing threads' queue; the threads end when the last clone is dropped.
    jobs: std::sync::mpsc::Sender<HashJob>,
    /// A hash of a random password: unknown emails are verified against it, so "no such user"
    /// costs the same time as "wrong password".
    dummy_hash: Arc<str>,
    /// What [`PasswordHashing::load`] reports.
    load: Arc<LoadCounts>,
    /// What the threads' [`request_slice`] gave: the slice the kernel reports for them, `None`
    /// where it reports none, or why the request failed.
    slice: Result<Option<Duration>, Arc<str>>,
}

/// The time slice each hashing thread asks the kernel for: EEVDF's longest (the kernel clamps a
/// request to 0.1-100 ms), about one hash at the server's parameters on a busy core.
pub const HASHING_SLICE: Duration = Duration::from_millis(100);

/// Asks the kernel to run the calling thread in time slices of `slice`, keeping its policy and
/// nice value: on Linux 6.12 and later, `sched_attr.sched_runtime` of a SCHED_OTHER or
/// SCHED_BATCH thread is its EEVDF slice (`se.slice` in `/proc/thread-self/sched`). Returns the
/// slice the kernel then reports for the thread, or `None` where it reports none: an older
/// kernel accepts the request and ignores it, and a thread of another policy (given by an
/// operator's `chrt`) is left alone.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn request_slice(slice: Duration) -> std::io::Result<Option<Duration>> {
    const SCHED_FLAG_RESET_ON_FORK: u64 = 0x01;
    // The first version of the struct (SCHED_ATTR_SIZE_VER0, 48 bytes): no utilization clamps.
    let size = std::mem::size_of::<libc::sched_attr>() as libc::c_uint;
    let get = || -> std::io::Result<libc::sched_attr> {
        let mut attr = libc::sched_attr {
            size: 0,
            sched_policy: 0,
            sched_flags: 0,
            sched_nice: 0,
            sched_priority: 0,
            sched_runtime: 0,
            sched_deadline: 0,
            sched_period: 0,
        };
        // SAFETY: sched_getattr(2) writes at most `size` bytes to `attr`, which is that large
        // and lives across the call; pid 0 is the calling thread, and flags must be 0.
        let done = unsafe {
            libc::syscall(
                libc::SYS_sched_getattr,
                0 as libc::pid_t,
                &mut attr as *mut libc::sched_attr,
                size,
                0 as libc::c_uint,
            )
        };
        if done == 0 {
            Ok(attr)
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    let mut attr = get()?;
    let policy = attr.sched_policy as libc::c_int;
    if policy != libc::SCHED_OTHER && policy != libc::SCHED_BATCH {
        return Ok(None);
    }
    attr.size = size;
    attr.sched_flags &= SCHED_FLAG_RESET_ON_FORK;
    attr.sched_runtime = u64::try_from(slice.as_nanos()).unwrap_or(u64::MAX);
    // SAFETY: sched_setattr(2) reads `size` bytes of `attr`, a valid, initialized sched_attr
    // that lives across the call; pid 0 is the calling thread, and flags must be 0.
    let done = unsafe {
        libc::syscall(
            libc::SYS_sched_setattr,
            0 as libc::pid_t,
            &attr as *const libc::sched_attr,
            0 as libc::c_uint,
        )
    };
    if done != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let now = get()?.sched_runtime;
    Ok((now != 0).then(|| Duration::from_nanos(now)))
}

/// No time-slice hint outside Linux.
#[cfg(not(target_os = "linux"))]
fn request_slice(_slice: Duration) -> std::io::Result<Option<Duration>> {
    Ok(None)
}

/// The hashing threads' load at one moment (`palisade_password_hashing_*` in docs/metrics.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingLoad {
    /// The hashing threads: at most this many hashes run at once.
    pub threads: usize,
    /// Hashes or verifications running on them now.
    pub running: usize,
    /// Requests waiting for their turn: a login or signup whose hash has not started yet.
    pub waiting: usize,
}

struct LoadCounts {
    threads: usize,
    running: AtomicUsize,
    waiting: AtomicUsize,
}

/// One more running hash for as long as it lives (so a panicking hash still leaves the count
/// right).
struct Running<'a>(&'a AtomicUsize);

impl<'a> Running<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One more waiting request, from its arrival until its hash starts on a thread (it travels
/// with the job), or until the request goes away first.
struct Waiting(Arc<LoadCounts>);

impl Waiting {
    fn enter(load: Arc<LoadCounts>) -> Self {
        load.waiting.fetch_add(1, Ordering::Relaxed);
        Self(load)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One hash or verification, as a hashing thread runs it (its result goes back by a channel).
type HashJob = Box<dyn FnOnce() + Send>;

thread_local! {
    /// The Argon2 memory of the thread's hashes: a hashing thread allocates it once (19 MiB at
    /// the server's parameters) and every hash it runs reuses it, rather than allocating and
    /// freeing 19 MiB per login, which an allocator may hand back to the kernel each time to be
    /// faulted in again by the next. Every hash overwrites the blocks it reads before reading
    /// them (its first pass writes each block), so what an earlier hash left there changes
    /// nothing; like freed memory before, it stays in the process until overwritten.
    static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on `blocks` Argon2 blocks: the thread's own ([`MEMORY`]) for the server's
/// parameters, a one-off allocation for another size (a hash stored with other parameters).
fn with_memory<T>(blocks: usize, f: impl FnOnce(&mut [argon2::Block]) -> T) -> T {
    let standard = PasswordHashing::argon2()
        .map(|a| a.params().block_count())
        .ok();
    if Some(blocks) != standard {
        return f(&mut vec![argon2::Block::default(); blocks]);
    }
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() != blocks {
            *memory = vec![argon2::Block::default(); blocks];
        }
        f(memory)
    })
}

impl PasswordHashing {
    /// Argon2id memory cost in KiB (OWASP Password Storage Cheat Sheet).
    pub const M_COST_KIB: u32 = 19_456;
    /// Argon2id iterations.
    pub const T_COST: u32 = 2;

    fn argon2() -> Result<Argon2<'static>, ApiError> {
        let params =
            Params::new(Self::M_COST_KIB, Self::T_COST, 1, None).map_err(ApiError::internal)?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    fn hash_blocking(password: &[u8]) -> Result<String, ApiError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(ApiError::internal)?;
        let argon2 = Self::argon2()?;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        with_memory(argon2.params().block_count(), |memory| {
            argon2.hash_password_into_with_memory(password, &salt, &mut out, memory)
        })
        .map_err(ApiError::internal)?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(argon2.params()).map_err(ApiError::internal)?,
            salt: Some(Salt::new(&salt).map_err(ApiError::internal)?),
            hash: Some(Output::new(&out).map_err(ApiError::internal)?),
        };
        Ok(hash.to_string())
    }

    /// Whether `password` is the one `stored` (a PHC string) was made from, computed in the
    /// thread's memory like [`Self::hash_blocking`] and compared in constant time. `Err` only
    /// for a stored string that does not parse; a hash that cannot be recomputed (parameters
    /// this crate refuses) does not match.
    fn verify_blocking(password: &[u8], stored: &str) -> Result<bool, ApiError> {
        let parsed = PasswordHash::new(stored)
            .map_err(|_| ApiError::internal("a stored password hash is malformed"))?;
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return Err(ApiError::internal("a stored password hash is malformed"));
        };
        let recompute = || -> Option<bool> {
            let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
            let version = match parsed.version {
                Some(v) => Version::try_from(v).ok()?,
                None => Version::default(),
            };
            let params = Params::try_from(&parsed).ok()?;
            let blocks = params.block_count();
            let argon2 = Argon2::new(algorithm, version, params);
            let mut buffer = [0u8; Output::MAX_LENGTH];
            let out = buffer.get_mut(..expected.len())?;
            with_memory(blocks, |memory| {
                argon2.hash_password_into_with_memory(password, salt.as_ref(), out, memory)
            })
            .ok()?;
            // Output's equality is constant-time.
            Some(Output::new(out).ok()? == *expected)
        };
        Ok(recompute().unwrap_or(false))
    }

    /// The server's concurrency: one hash fewer than the cores (at least one), so that a burst
    /// of logins always leaves a core to the other requests.
    pub fn default_concurrency() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
    }

    /// Starts `concurrency` hashing threads (at least one) and computes the dummy hash (on the
    /// calling thread: call it where blocking is allowed).
    pub fn new(concurrency: usize) -> Result<Self, ApiError> {
        let threads = concurrency.max(1);
        let (jobs, queue) = std::sync::mpsc::channel::<HashJob>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        let (sliced, slices) = std::sync::mpsc::channel();
        for n in 0..threads {
            let queue = queue.clone();
            let sliced = sliced.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    let _ = sliced.send(request_slice(HASHING_SLICE).map_err(|e| e.to_string()));
                    drop(sliced);
                    loop {
                        // The lock is held while waiting for a job, never while hashing.
                        let next = queue
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .recv();
                        match next {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(ApiError::internal)?;
        }
        drop(sliced);
        // Each thread asks before its first job. They are alike: a failure of any speaks for
        // all, and otherwise the first one's answer does.
        let answers: Vec<_> = slices.iter().collect();
        let slice = match answers.iter().find(|a| a.is_err()).or(answers.first()) {
            Some(Ok(slice)) => Ok(*slice),
            Some(Err(e)) => Err(Arc::from(e.as_str())),
            None => Ok(None),
        };
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(ApiError::internal)?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(threads)),
            jobs,
            dummy_hash: Self::hash_blocking(&random)?.into(),
            load: Arc::new(LoadCounts {
                threads,
                running: AtomicUsize::new(0),
                waiting: AtomicUsize::new(0),
            }),
            slice,
        })
    }

    /// The time slice the kernel reports for the hashing threads ([`HASHING_SLICE`] when it took
    /// their request), `None` where it reports none (before Linux 6.12, or outside Linux), or
    /// why asking failed.
    pub fn slice(&self) -> Result<Option<Duration>, &str> {
        self.slice.as_ref().copied().map_err(|e| &**e)
    }

    /// How busy the hashing threads are now.
    pub fn load(&self) -> HashingLoad {
        HashingLoad {
            threads: self.load.threads,
            running: self.load.running.load(Ordering::Relaxed),
            waiting: self.load.waiting.load(Ordering::Relaxed),
        }
    }

    async fn run_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let waiting = Waiting::enter(self.load.clone());
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        let span = tracing::Span::current();
        let (done, result) = tokio::sync::oneshot::channel();
        let load = self.load.clone();
        let job: HashJob = Box::new(move || {
            drop(waiting);
            let outcome = {
                // Counted while it runs, and no longer once its answer is sent.
                let _running = Running::enter(&load.running);
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| span.in_scope(f)))
                    .unwrap_or_else(|_| Err(ApiError::internal("password hashing panicked")))
            };
            // Let go of the request's span before answering, so that the request holds its last
            // reference: the span is closed (its recorded fields freed) on the request's thread,
            // after the request's log line, not on this one.
            drop(span);
            // The request may have gone (its client hung up): nobody to tell.
            let _ = done.send(outcome);
        });
        self.jobs
            .send(job)
            .map_err(|_| ApiError::internal("the password hashing threads have stopped"))?;
        result
            .await
            .map_err(|_| ApiError::internal("a password hash was lost"))?
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: &Password) -> Result<String, ApiError> {
        let pw = password.expose().as_bytes().to_vec();
        self.run_blocking(move || Self::hash_blocking(&pw)).await
    }

    /// Verifies a password against a stored hash, or against the dummy hash when there is no
    /// user (and then always answers false), so both cases take the same time.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<String>,
    ) -> Result<bool, ApiError> {
        let pw = password.expose().as_bytes().to_vec();
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        self.run_blocking(move || Ok(Self::verify_blocking(&pw, &hash)? && known))
            .await
    }
}

/// The authenticated tenant of a request made with a user's session, looked up before the
/// handler's transaction: what [`UserSession`] and [`SessionToken`] yield, for the routes that
/// manage credentials and members or delete the organization, which decide by the exact role in
/// Rust (an owner's rights over other owners, a key's role capped by its minter's), and those
/// that change a user's own account, which refuse API keys. Every other route takes [`Caller`],
/// whose check travels with the handler's first statement.
///
/// How either credential is looked up:
/// - `Authorization: Bearer <jwt>`: verified, then the token's user is looked up
///   (`palisade_db::members::session`, one statement): a user who has been removed, or whose
///   organization was deleted, answers 401 `invalid_token` on every route, and so does a token
///   issued before the user's last password change or reset (its `ver` is not the user's
///   credential version); the role used is the user's role now, not the one the token was
///   issued with.
/// - an API key, as `Authorization: Bearer pk_...` or `X-API-Key: pk_...` (Authorization wins
///   when both are sent): looked up by its SHA-256 through `palisade_db::api_keys::resolve` (one
///   statement). Unknown, revoked, expired, or whose creator was removed: 401 `invalid_token`.
///   A key acts for its own organization with its own role (capped by its creator's current
///   role), as its creator (`user_id`).
///
/// [`UserSession`] refuses an API key once it is authenticated.
///
/// Either way one round trip, before the handler's own transaction. The organization and user
/// ids are recorded on the request's span, so every later log line carries them; the credential
/// itself is never logged.
///
/// The handler opens its transaction with [`Tenant::begin`], whose first statement checks the
/// credential again: what the role was checked against in Rust may have changed in between (a
/// user removed or demoted, a key revoked, by a request that committed meanwhile), and the
/// transaction must not act on it.
#[derive(Debug, Clone, Copy)]
pub struct Tenant(pub TenantContext, palisade_db::tenant_tx::Credential);

impl Tenant {
    /// Opens the request's transaction (`palisade_db::TenantTx::begin_rechecked`) for a handler
    /// whose decisions depend on the exact role the extractor found (an owner's rights over
    /// other owners, a key's role capped by its minter's). Its first statement checks the
    /// credential again, in the same round trip as the handler's query, and refuses what
    /// changed since the extractor's check, before anything else runs: a user removed, a token
    /// ended or a key revoked or expired since answers 401, as it would have at the extractor;
    /// a role lowered below that one answers 409 `role_changed` (sent again, the request is
    /// answered for the role the user has now). The context set is the role the user has now.
    pub async fn begin(&self, state: &AppState) -> Result<palisade_db::TenantTx, ApiError> {
        self.begin_at(state, self.0.role).await
    }

    /// [`Tenant::begin`] for a handler that relied on no more than `least` (the role its
    /// `require_admin` or `require_owner` asked for; [`Role::Member`] when it decided nothing
    /// by the role): the credential is checked again all the same, and only a role now below
    /// `least` answers 409 `role_changed`. Not an authorization check of its own (the least
    /// role is never above the extractor's): `require_admin`/`require_owner` are, before it.
    pub async fn begin_at(
        &self,
        state: &AppState,
        least: Role,
    ) -> Result<palisade_db::TenantTx, ApiError> {
        let ctx = TenantContext {
            role: least.min(self.0.role),
            ..self.0
        };
        Ok(palisade_db::TenantTx::begin_rechecked(&state.pool, self.1, &ctx).await?)
    }

    /// Refuses (403) unless the role is owner or admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.0.role.can_administer() {
            Ok(())
        } else {
            Err(admin_required())
        }
    }

    /// Refuses (403) unless the role is owner.
    pub fn require_owner(&self) -> Result<(), ApiError> {
        if self.0.role == Role::Owner {
            Ok(())
        } else {
            Err(owner_required())
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The header an API key may also be sent in.
pub const API_KEY_HEADER: &str = "x-api-key";

fn api_key_header(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(API_KEY_HEADER)?
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// What a request authenticates with.
enum Credential {
    Jwt(String),
    ApiKey(String),
}

fn credential(req: &HttpRequest) -> Result<Credential, ApiError> {
    match (bearer(req), api_key_header(req)) {
        (Some(token), _) if crate::credentials::looks_like_api_key(token) => {
            Ok(Credential::ApiKey(token.to_owned()))
        }
        (Some(token), _) => Ok(Credential::Jwt(token.to_owned())),
        (None, Some(key)) => Ok(Credential::ApiKey(key.to_owned())),
        (None, None) => Err(ApiError::Unauthorized {
            code: crate::error::ErrorCode::Unauthorized,
            message: "send Authorization: Bearer <token>, or an API key as X-API-Key: <key>",
        }),
    }
}

fn user_gone() -> ApiError {
    ApiError::Unauthorized {
        code: crate::error::ErrorCode::InvalidToken,
        message: "this token's user no longer exists",
    }
}

/// The session a verified token's claims name, checked in the database: its user still in the
/// organization, with the credential version the token carries, and the role they have now.
async fn session_of(state: &AppState, claims: &Claims) -> Result<Tenant, ApiError> {
    let (Some(org), Some(_issued_role)) = (claims.org, claims.role) else {
        return Err(no_organization());
    };
    let org_id = OrgId::from_uuid(org);
    let user_id = UserId::from_uuid(claims.sub);
    let session = palisade_db::members::session(&state.pool, org_id, user_id)
        .await?
        .ok_or_else(|| {
            tracing::debug!(reason = "user_gone", "bearer token refused");
            user_gone()
        })?;
    if session.credential_version != claims.ver {
        tracing::debug!(reason = "credentials_changed", "bearer token refused");
        return Err(credentials_changed());
    }
    Ok(Tenant(
        TenantContext {
            org_id,
            user_id,
            role: session.role,
        },
        palisade_db::tenant_tx::Credential::Session {
            org_id,
            user_id,
            version: claims.ver,
        },
    ))
}

async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    cred: Credential,
) -> Result<Tenant, ApiError> {
    match cred {
        Credential::Jwt(token) => {
            let claims = state.tokens.verify(&token)?;
            record_claims(req, &claims);
            session_of(state, &claims).await
        }
        Credential::ApiKey(key) => {
            let refused = |reason: &'static str| {
                tracing::debug!(reason, "api key refused");
                key_refused()
            };
            let hash =
                crate::credentials::api_key_hash(&key).ok_or_else(|| refused("malformed"))?;
            // The reasons the pipelined check logs for the same refusals (`refused` below), so
            // that one search finds them on either path.
            use palisade_db::tenant_tx::Refusal as R;
            let resolved = palisade_db::api_keys::resolve(&state.pool, &hash)
                .await?
                .ok_or_else(|| refused(R::KeyUnknown.as_str()))?;
            if resolved.revoked {
                return Err(refused(R::KeyRevoked.as_str()));
            }
            if resolved.expired {
                return Err(refused(R::KeyExpired.as_str()));
            }
            let ctx = TenantContext {
                org_id: resolved.org_id,
                user_id: resolved.user_id,
                role: resolved.role,
            };
            record_ids(req, &ctx);
            Ok(Tenant(
                ctx,
                palisade_db::tenant_tx::Credential::ApiKey { hash },
            ))
        }
    }
}

/// Records whom a request acts for on its span (once: recorded twice, tracing's formatter prints a
/// field twice on the request's line).
fn record_ids(req: &HttpRequest, ctx: &TenantContext) {
    if let Some(span) = req.extensions().get::<tracing_actix_web::RootSpan>() {
        span.record("org.id", tracing::field::display(ctx.org_id));
        span.record("user.id", tracing::field::display(ctx.user_id));
    }
}

/// Records a bearer token's organization and user on the request's span as soon as its
/// signature is verified, before the database checks the session: a refused token (a removed
/// user, a changed password) still logs whose it was.
fn record_claims(req: &HttpRequest, claims: &Claims) {
    if let Some(span) = req.extensions().get::<tracing_actix_web::RootSpan>() {
        if let Some(org) = claims.org {
            span.record("org.id", tracing::field::display(org));
        }
        span.record("user.id", tracing::field::display(claims.sub));
    }
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("AppState is not configured"))
}

/// Authenticates a request: its tenant, and whether a user's session or an API key did it.
fn authenticate_request(
    req: &HttpRequest,
) -> LocalBoxFuture<'static, Result<(Tenant, CredentialKind), ApiError>> {
    let req = req.clone();
    Box::pin(async move {
        let state = app_state(&req)?;
        let cred = credential(&req)?;
        let kind = match cred {
            Credential::Jwt(_) => CredentialKind::UserSession,
            Credential::ApiKey(_) => CredentialKind::ApiKey,
        };
        let tenant = authenticate(&state, &req, cred).await?;
        Ok((tenant, kind))
    })
}

/// The credential of a request, checked by the database in the same round trip as the
/// handler's first statement: extract it in the arguments of a handler that needs no role
/// before its transaction, and open the transaction with [`Caller::begin`] or
/// [`Caller::begin_as`].
///
/// What the extractor itself checks, without the database: a bearer token's signature, algorithm,
/// issuer, audience and expiry (401 `invalid_token`), its organization (a null `org` is 403
/// `no_organization`), and an API key's shape (401). The rest is the transaction's opening
/// statement (`palisade_db::TenantTx::begin_checked`): the same guarantees as [`Tenant`] (a
/// removed user, a token older than the last password change, an unknown, revoked or expired
/// key answer 401 `invalid_token`; the role used is the one the user or key has now), without a
/// round trip of its own. The organization and user ids are recorded on the request's span: a
/// token's at once (its signature is verified), an API key's once the check has answered.
#[derive(Debug, Clone)]
pub struct Caller(
    palisade_db::tenant_tx::Credential,
    /// The request's span, which an API key's ids are recorded on by the first transaction (a
    /// handler may run in a span of its own, which would drop them); taken by it, so that a
    /// second transaction of the same request does not record them again.
    std::cell::RefCell<Option<tracing::Span>>,
);

impl Caller {
    /// The user a bearer token names (verified by its signature, not yet by the database);
    /// `None` for an API key, whose user only the transaction's opening check resolves.
    pub fn session_user(&self) -> Option<palisade_domain::UserId> {
        match self.0 {
            palisade_db::tenant_tx::Credential::Session { user_id, .. } => Some(user_id),
            palisade_db::tenant_tx::Credential::ApiKey { .. } => None,
        }
    }

    /// Opens the request's transaction, for any role.
    pub async fn begin(&self, state: &AppState) -> Result<palisade_db::TenantTx, ApiError> {
        self.begin_as(state, Role::Member).await
    }

    /// Opens the request's transaction for a role of at least `least`: a lesser role is refused
    /// (403) by the first statement, before anything else runs.
    pub async fn begin_as(
        &self,
        state: &AppState,
        least: Role,
    ) -> Result<palisade_db::TenantTx, ApiError> {
        let span = self.take_span();
        Ok(palisade_db::TenantTx::begin_checked_for(&state.pool, self.0, least, span).await?)
    }

    /// The request's span, for the first transaction to record an API key's ids on (later
    /// ones get none: the ids are recorded once).
    fn take_span(&self) -> tracing::Span {
        self.1
            .borrow_mut()
            .take()
            .unwrap_or_else(tracing::Span::none)
    }

    /// [`Caller::begin_as`] for a transaction that may last minutes (the export): an API key is
    /// stamped first and checked without its stamp's row lock, so revoking it meanwhile does
    /// not wait for the transaction ([`palisade_db::TenantTx::begin_checked_long`]).
    pub async fn begin_long_as(
        &self,
        state: &AppState,
        least: Role,
    ) -> Result<palisade_db::TenantTx, ApiError> {
        let span = self.take_span();
        Ok(palisade_db::TenantTx::begin_checked_long(&state.pool, self.0, least, span).await?)
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(caller(req))
    }
}

fn caller(req: &HttpRequest) -> Result<Caller, ApiError> {
    use palisade_db::tenant_tx::Credential as Checked;
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("AppState is not configured"))?;
    match credential(req)? {
        Credential::Jwt(token) => {
            let claims = state.tokens.verify(&token)?;
            let (Some(org), Some(_issued_role)) = (claims.org, claims.role) else {
                return Err(no_organization());
            };
            // The signature is verified: the ids are the token's, and a refused request (a
            // removed user, a role too low) still logs whose token it was.
            record_claims(req, &claims);
            Ok(Caller(
                Checked::Session {
                    org_id: OrgId::from_uuid(org),
                    user_id: UserId::from_uuid(claims.sub),
                    version: claims.ver,
                },
                std::cell::RefCell::new(None),
            ))
        }
        Credential::ApiKey(key) => {
            let hash = crate::credentials::api_key_hash(&key).ok_or_else(|| {
                tracing::debug!(reason = "malformed", "api key refused");
                key_refused()
            })?;
            let span = req
                .extensions()
                .get::<tracing_actix_web::RootSpan>()
                .map_or_else(tracing::Span::current, |root| (**root).clone());
            Ok(Caller(
                Checked::ApiKey { hash },
                std::cell::RefCell::new(Some(span)),
            ))
        }
    }
}

fn no_organization() -> ApiError {
    ApiError::Forbidden {
        code: crate::error::ErrorCode::NoOrganization,
        message: "this account does not belong to an organization",
    }
}

fn key_refused() -> ApiError {
    ApiError::Unauthorized {
        code: crate::error::ErrorCode::InvalidToken,
        message: "the API key is malformed, unknown, revoked or expired",
    }
}

fn credentials_changed() -> ApiError {
    ApiError::Unauthorized {
        code: crate::error::ErrorCode::InvalidToken,
        message: "this token has been ended (a password change, a reset or signing out \
                  everywhere); log in again",
    }
}

/// The answer to a credential its transaction's check refused
/// ([`palisade_db::DbError::Refused`]): the same as [`Tenant`]'s for the same cause.
pub(crate) fn refused(refusal: palisade_db::tenant_tx::Refusal) -> ApiError {
    use palisade_db::tenant_tx::Refusal as R;
    match refusal {
        R::UserGone | R::CredentialsChanged => {
            tracing::debug!(reason = refusal.as_str(), "bearer token refused");
        }
        R::KeyUnknown | R::KeyRevoked | R::KeyExpired => {
            tracing::debug!(reason = refusal.as_str(), "api key refused");
        }
        R::Role(_) => {}
        R::RoleLowered(_) => {
            tracing::info!(reason = refusal.as_str(), "role lowered during the request");
        }
    }
    match refusal {
        R::UserGone => user_gone(),
        R::CredentialsChanged => credentials_changed(),
        R::KeyUnknown | R::KeyRevoked | R::KeyExpired => key_refused(),
        R::Role(Role::Owner) => owner_required(),
        R::Role(_) => admin_required(),
        R::RoleLowered(_) => ApiError::Conflict {
            code: crate::error::ErrorCode::RoleChanged,
            message: "your role in this organization changed while this request was answered, \
                      and nothing was done; send it again",
        },
    }
}

fn admin_required() -> ApiError {
    ApiError::Forbidden {
        code: crate::error::ErrorCode::Forbidden,
        message: "this requires the owner or admin role",
    }
}

fn owner_required() -> ApiError {
    ApiError::Forbidden {
        code: crate::error::ErrorCode::Forbidden,
        message: "this requires the owner role",
    }
}

/// What authenticated a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// A bearer token issued to a user at login or signup.
    UserSession,
    /// An API key (`pk_...`).
    ApiKey,
}

/// The tenant of a request made by a person: a user's bearer token, never an API key.
///
/// Routes that manage credentials take this instead of [`Caller`], so that a leaked key cannot
/// mint its successors or lock out the people who would revoke it: creating and revoking API
/// keys, adding, changing and removing members (and inviting them), rotating a webhook's
/// signing secret, deleting the organization. (Renewing a token and signing out everywhere take
/// [`SessionToken`], which refuses keys the same way.) An API key there answers 403
/// `requires_user_session` (after it is authenticated: an unknown, revoked or expired key is
/// still 401). (A route that only refuses keys and relies on no role, `PATCH /v1/me`, takes
/// [`UserCaller`], checked by its transaction instead.)
///
/// Apply it by destructuring in the handler's arguments, so the body keeps its `tenant`:
/// ```ignore
/// pub async fn create(state: web::Data<AppState>, UserSession(tenant): UserSession, ..)
/// ```
/// and add the route to the table in `tests/api/user_session.rs` (and `docs/security.md`).
#[derive(Debug, Clone, Copy)]
pub struct UserSession(pub Tenant);

/// The refusal of an API key on a route that needs a user's session.
pub fn requires_user_session() -> ApiError {
    ApiError::Forbidden {
        code: crate::error::ErrorCode::RequiresUserSession,
        message: "API keys cannot manage credentials, members or the organization: \
                  sign in as a user to do this",
    }
}

impl FromRequest for UserSession {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let auth = authenticate_request(req);
        Box::pin(async move {
            match auth.await? {
                (tenant, CredentialKind::UserSession) => Ok(UserSession(tenant)),
                (_, CredentialKind::ApiKey) => {
                    tracing::info!("api key refused: this route needs a user session");
                    Err(requires_user_session())
                }
            }
        })
    }
}

/// A [`Caller`] that must be a user's session, for a route an API key may not use that decides
/// nothing by the role (`PATCH /v1/me`): a bearer token is checked as [`Caller`] checks it, by
/// the transaction's opening statement (no round trip of its own, so a body invalid in itself
/// is 422 before a removed user's 401); an API key is authenticated and refused as
/// [`UserSession`] refuses it (403 `requires_user_session`; an unknown, revoked or expired key,
/// 401), before the body is read. A route whose handler needs the role before its transaction
/// takes [`UserSession`].
#[derive(Debug, Clone)]
pub struct UserCaller(pub Caller);

impl FromRequest for UserCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        use palisade_db::tenant_tx::Credential as Checked;
        match caller(req) {
            Ok(session @ Caller(Checked::Session { .. }, _)) => {
                Box::pin(std::future::ready(Ok(UserCaller(session))))
            }
            // An API key: authenticated, then refused, by the extractor that refuses keys.
            Ok(Caller(Checked::ApiKey { .. }, _)) => {
                let refused = UserSession::from_request(req, payload);
                Box::pin(async move {
                    refused.await?;
                    Err(ApiError::internal(
                        "an API key was taken for a user's session",
                    ))
                })
            }
            Err(e) => Box::pin(std::future::ready(Err(e))),
        }
    }
}

/// A user's session with the claims of its bearer token: what renewing the token needs. It
/// checks what [`UserSession`] checks (the token, then the user and credential version in the
/// database; an API key is authenticated, then answered 403 `requires_user_session`), and keeps
/// the verified claims.
pub struct SessionToken {
    /// The session's tenant, with the user's current role.
    pub tenant: Tenant,
    /// The token's verified claims.
    pub claims: Claims,
}

impl FromRequest for SessionToken {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req)?;
            match credential(&req)? {
                Credential::Jwt(token) => {
                    let claims = state.tokens.verify(&token)?;
                    record_claims(&req, &claims);
                    let tenant = session_of(&state, &claims).await?;
                    Ok(SessionToken { tenant, claims })
                }
                key @ Credential::ApiKey(_) => {
                    authenticate(&state, &req, key).await?;
                    tracing::info!("api key refused: this route needs a user session");
                    Err(requires_user_session())
                }
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&[7u8; 32], Duration::from_secs(600)).unwrap()
    }

    fn ctx() -> TenantContext {
        TenantContext {
            org_id: OrgId::new(),
            user_id: UserId::new(),
            role: Role::Admin,
        }
    }

    /// Each refusal of a transaction's credential check answers as the same cause does at the
    /// extractor; a role lowered after the check is a 409 to send again, not a 403.
    #[test]
    fn a_refused_check_answers_by_its_cause() {
        use crate::error::ErrorCode as C;
        use actix_web::ResponseError as _;
        use palisade_db::tenant_tx::Refusal as R;
        for (refusal, status, code) in [
            (R::UserGone, 401, C::InvalidToken),
            (R::CredentialsChanged, 401, C::InvalidToken),
            (R::KeyUnknown, 401, C::InvalidToken),
            (R::KeyRevoked, 401, C::InvalidToken),
            (R::KeyExpired, 401, C::InvalidToken),
            (R::Role(Role::Admin), 403, C::Forbidden),
            (R::Role(Role::Owner), 403, C::Forbidden),
            (R::RoleLowered(Role::Admin), 409, C::RoleChanged),
            (R::RoleLowered(Role::Owner), 409, C::RoleChanged),
        ] {
            let e = refused(refusal);
            assert_eq!(e.status_code().as_u16(), status, "{refusal:?}");
            assert_eq!(e.code(), code, "{refusal:?}");
        }
    }

    #[test]
    fn round_trip() {
        let k = keys();
        let c = ctx();
        let claims = k.verify(&k.issue(&c, 3).unwrap()).unwrap();
        assert_eq!(claims.ver, 3);
        assert_eq!(claims.org, Some(c.org_id.as_uuid()));
        assert_eq!(claims.sub, c.user_id.as_uuid());
        assert_eq!(claims.role, Some(Role::Admin));
    }

    #[test]
    fn a_renewal_keeps_the_login_time_and_ends_with_the_session() {
        let k = keys().with_session_max(Duration::from_secs(3600)).unwrap();
        let c = ctx();
        let first = k.verify(&k.issue(&c, 2).unwrap()).unwrap();
        let t = first.iat;
        let renewed_at = |now: i64, claims: &Claims| match k.renew_at(now, &c, claims).unwrap() {
            Renewal::Renewed { token, expires_in } => Some((k.verify(&token).unwrap(), expires_in)),
            Renewal::Expired | Renewal::SessionEnded => None,
        };
        // A minute after the login: a full lifetime, the same login time and version.
        let (renewed, expires_in) = renewed_at(t + 60, &first).unwrap();
        assert_eq!(expires_in, 600);
        assert_eq!((renewed.iat, renewed.exp), (t + 60, t + 660));
        assert_eq!((renewed.auth_time, renewed.ver), (first.auth_time, 2));
        // A token renewed late in the session lives to its end, and so does its renewal, which
        // gains nothing; then the session ends.
        let mut valid = first.clone();
        valid.exp = t + 3450;
        let (late, expires_in) = renewed_at(t + 3400, &valid).unwrap();
        assert_eq!((expires_in, late.exp), (200, t + 3600));
        let (late, expires_in) = renewed_at(t + 3500, &late).unwrap();
        assert_eq!((expires_in, late.exp), (100, t + 3600));
        assert!(matches!(
            k.renew_at(t + 3600, &c, &late).unwrap(),
            Renewal::SessionEnded
        ));
        // An expired token renews nothing, even within verification's 30 s of leeway.
        assert!(matches!(
            k.renew_at(t + 601, &c, &first).unwrap(),
            Renewal::Expired
        ));
        assert!(renewed_at(t + 600, &first).is_some());
        // A token without auth_time counts from its iat.
        let mut old = first.clone();
        old.auth_time = None;
        old.iat = t - 3550;
        old.exp = t + 10;
        let (from_iat, expires_in) = renewed_at(t, &old).unwrap();
        assert_eq!((expires_in, from_iat.auth_time), (50, Some(t - 3550)));
        assert!(keys().with_session_max(Duration::from_secs(599)).is_err());
    }

    /// A token claiming a login after its own issue, or issued in the future (forged: no token
    /// Palisade issued does), renews as if its login were no later than both its `iat` and the
    /// renewal: the renewals end within the session's maximum age.
    #[test]
    fn a_login_time_to_come_renews_no_longer_than_a_session() {
        let k = keys().with_session_max(Duration::from_secs(3600)).unwrap();
        let c = ctx();
        let first = k.verify(&k.issue(&c, 2).unwrap()).unwrap();
        let t = first.iat;
        let century = 100 * 365 * 86_400;
        let mut later_login = first.clone();
        later_login.auth_time = Some(t + century);
        later_login.exp = t + century;
        let mut issued_later = later_login.clone();
        issued_later.auth_time = None;
        issued_later.iat = t + century;
        for (forged, login) in [(&later_login, t), (&issued_later, t + 60)] {
            let Renewal::Renewed { token, .. } = k.renew_at(t + 60, &c, forged).unwrap() else {
                panic!("not renewed");
            };
            let renewed = k.verify(&token).unwrap();
            assert_eq!(renewed.auth_time, Some(login));
            assert_eq!(renewed.exp, t + 660);
            // Renewed again and again, within its lifetime each time: the session still ends.
            let mut valid = renewed.clone();
            valid.exp = login + 3650;
            assert!(matches!(
                k.renew_at(login + 3600, &c, &valid).unwrap(),
                Renewal::SessionEnded
            ));
        }
    }

    #[test]
    fn a_verify_secret_accepts_its_tokens_and_signs_none() {
        let next = TokenKeys::new(&[8u8; 32], Duration::from_secs(600)).unwrap();
        let third = TokenKeys::new(&[9u8; 32], Duration::from_secs(600)).unwrap();
        let k = keys().with_verify_secret(&[8u8; 32]).unwrap();
        let c = ctx();
        // The other secret's tokens are accepted, the main one's too, a third's are not.
        assert_eq!(k.verify(&next.issue(&c, 1).unwrap()).unwrap().ver, 1);
        assert_eq!(k.verify(&k.issue(&c, 2).unwrap()).unwrap().ver, 2);
        assert!(k.verify(&third.issue(&c, 0).unwrap()).is_err());
        // What it issues is signed with the main secret: a server without the verify secret
        // accepts it, the verify secret alone does not.
        let issued = k.issue(&c, 3).unwrap();
        assert!(keys().verify(&issued).is_ok());
        assert!(next.verify(&issued).is_err());
        // The other checks still apply to its tokens: expiry, audience, issuer, algorithm.
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let good = k.verify(&issued).unwrap();
        let mut expired = good.clone();
        (expired.iat, expired.exp) = (now - 7200, now - 3600);
        assert!(k.verify(&next.sign(&expired).unwrap()).is_err());
        let mut audience = good.clone();
        audience.aud = "someone-else".into();
        assert!(k.verify(&next.sign(&audience).unwrap()).is_err());
        let mut issuer = good.clone();
        issuer.iss = "someone-else".into();
        assert!(k.verify(&next.sign(&issuer).unwrap()).is_err());
        // (Refused before any key is tried: the algorithm is checked first, so this holds for
        // both secrets by construction.)
        let hs512 = jsonwebtoken::encode(
            &Header::new(jsonwebtoken::Algorithm::HS512),
            &good,
            &EncodingKey::from_secret(&[8u8; 32]).unwrap(),
        )
        .unwrap();
        assert!(k.verify(&hs512).is_err());
        assert!(
            k.verify(&next.sign(&good).unwrap()).is_ok(),
            "only the changed claim refuses"
        );
        assert!(keys().with_verify_secret(b"too short").is_err());
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(TokenKeys::new(b"too short", Duration::from_secs(1)).is_err());
    }

    #[test]
    fn another_key_is_refused() {
        let other = TokenKeys::new(&[8u8; 32], Duration::from_secs(600)).unwrap();
        assert!(keys().verify(&other.issue(&ctx(), 0).unwrap()).is_err());
    }

    #[test]
    fn bearer_parsing() {
        let req = actix_web::test::TestRequest::default()
            .insert_header(("Authorization", "bearer abc"))
            .to_http_request();
        assert_eq!(bearer(&req), Some("abc"));
        let req = actix_web::test::TestRequest::default()
            .insert_header(("Authorization", "Basic abc"))
            .to_http_request();
        assert_eq!(bearer(&req), None);
        let req = actix_web::test::TestRequest::default()
            .insert_header(("Authorization", "Bearer "))
            .to_http_request();
        assert_eq!(bearer(&req), None);
    }

    #[actix_web::test]
    async fn hashing_verifies_and_equalises_unknown_users() {
        let h = PasswordHashing::new(2).unwrap();
        let pw = Password::parse_new("correct horse battery staple").unwrap();
        let hash = h.hash(&pw).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(h.verify(&pw, Some(hash.clone())).await.unwrap());
        let wrong = Password::parse_attempt("incorrect horse").unwrap();
        assert!(!h.verify(&wrong, Some(hash)).await.unwrap());
        // No user: verified against the dummy hash, and never true.
        assert!(!h.verify(&pw, None).await.unwrap());
    }

    #[actix_web::test]
    async fn the_load_counts_running_hashes_and_requests_waiting_for_a_thread() {
        let h = PasswordHashing::new(1).unwrap();
        let idle = HashingLoad {
            threads: 1,
            running: 0,
            waiting: 0,
        };
        assert_eq!(h.load(), idle);
        // A job that holds the one thread until it is released.
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (started, running) = tokio::sync::oneshot::channel::<()>();
        let first = actix_web::rt::spawn({
            let h = h.clone();
            async move {
                h.run_blocking(move || {
                    let _ = started.send(());
                    let _ = hold.recv();
                    Ok(())
                })
                .await
            }
        });
        running.await.unwrap();
        let pw = Password::parse_new("correct horse battery staple").unwrap();
        let queued: Vec<_> = (0..2)
            .map(|_| {
                let (h, pw) = (h.clone(), pw.clone());
                actix_web::rt::spawn(async move { h.hash(&pw).await })
            })
            .collect();
        // Let the two requests reach the queue (no clock involved: they run when this yields).
        for _ in 0..1_000 {
            if h.load().waiting == 2 {
                break;
            }
            actix_web::rt::task::yield_now().await;
        }
        assert_eq!(
            h.load(),
            HashingLoad {
                threads: 1,
                running: 1,
                waiting: 2,
            }
        );
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        for q in queued {
            assert!(q.await.unwrap().unwrap().starts_with("$argon2id$"));
        }
        assert_eq!(h.load(), idle);
    }

    /// The kernel's own account of a thread's time slice (`se.slice` in its `sched` file, in
    /// nanoseconds), where it gives one (Linux 6.12 and later, with the scheduler's debug files).
    fn slice_in_proc() -> Option<u64> {
        let sched = std::fs::read_to_string("/proc/thread-self/sched").ok()?;
        sched.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            (name.trim() == "se.slice").then(|| value.trim().parse().ok())?
        })
    }

    /// The hashing threads run in [`HASHING_SLICE`]s where the kernel takes the request, as the
    /// kernel itself reports for the thread a hash runs on; the other threads keep its default.
    #[actix_web::test]
    async fn hashing_threads_ask_the_kernel_for_long_time_slices() {
        let h = PasswordHashing::new(2).unwrap();
        let mut on_hashing = Vec::new();
        for _ in 0..4 {
            on_hashing.push(h.run_blocking(|| Ok(slice_in_proc())).await.unwrap());
        }
        let here = slice_in_proc();
        match here {
            // A kernel that reports slices takes slice requests.
            Some(default) => {
                assert_eq!(h.slice(), Ok(Some(HASHING_SLICE)));
                let wanted = HASHING_SLICE.as_nanos() as u64;
                assert!(
                    on_hashing.iter().all(|s| *s == Some(wanted)),
                    "{on_hashing:?}"
                );
                assert_ne!(
                    default, wanted,
                    "a request's thread keeps the default slice"
                );
            }
            // One that does not report them may still take them (without the debug files): the
            // server's answer is the kernel's, through sched_getattr.
            None => {
                assert!(on_hashing.iter().all(Option::is_none), "{on_hashing:?}");
                assert!(matches!(h.slice(), Ok(None | Some(HASHING_SLICE))));
            }
        }
    }

    /// Hashes run in the thread's reused memory, dirty from the hashes before them, and give
    /// what the argon2 crate's own allocating implementation gives, both ways.
    #[test]
    fn hashing_in_reused_memory_matches_the_crates_own_hashing() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let argon2 = PasswordHashing::argon2().unwrap();
        for (n, pw) in [b"first password".as_slice(), b"second", b"first password"]
            .into_iter()
            .enumerate()
        {
            let ours = PasswordHashing::hash_blocking(pw).unwrap();
            assert!(
                ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
                "{ours}"
            );
            let parsed = PasswordHash::new(&ours).unwrap();
            assert!(argon2.verify_password(pw, &parsed).is_ok(), "hash {n}");
            let salt = [n as u8 + 1; 16];
            let theirs = argon2
                .hash_password_with_salt(pw, &salt)
                .unwrap()
                .to_string();
            assert!(
                PasswordHashing::verify_blocking(pw, &theirs).unwrap(),
                "hash {n}"
            );
            assert!(!PasswordHashing::verify_blocking(b"other", &theirs).unwrap());
            assert!(!PasswordHashing::verify_blocking(b"other", &ours).unwrap());
        }
        assert!(PasswordHashing::verify_blocking(b"x", "not a PHC string").is_err());
    }

    #[actix_web::test]
    async fn a_hash_stored_by_another_implementation_still_verifies() {
        // The reference implementation's argon2id vector (password "password", salt "somesalt"):
        // the PHC strings already stored keep verifying across argon2 crate upgrades.
        let h = PasswordHashing::new(1).unwrap();
        let stored =
            "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";
        let pw = Password::parse_attempt("password").unwrap();
        assert!(h.verify(&pw, Some(stored.into())).await.unwrap());
        let wrong = Password::parse_attempt("passwore").unwrap();
        assert!(!h.verify(&wrong, Some(stored.into())).await.unwrap());
    }
}
