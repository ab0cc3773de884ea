//! Connection pools. Each pool connects as exactly one database role at a time; the app pool's
//! role is checked at startup ([`crate::schema::check_app_role`]), and so is any role it is
//! given later, before it is used ([`crate::schema::check_app_role_on`]).
//!
//! Handlers never receive a raw connection: the app pool is only usable through
//! [`crate::TenantTx`] and the narrow pre-tenant functions of [`crate::auth`]. The billing
//! role's pool is [`crate::BillingPool`] (its own module): it exposes nothing but the Stripe
//! operations.
//!
//! **Credentials that change under a running server.** PostgreSQL has no dual passwords, so the
//! app's credential is rotated by switching between two login roles (`palisade_app_a`,
//! `palisade_app_b`, both members of the group `palisade_app`; docs/dba.md, "Rotating
//! passwords"). A pool's URL comes from a [`UrlSource`]: fixed, or re-read (a file, the embedded
//! cluster's `secrets.json`) whenever the pool opens a connection and on every
//! [`AppPool::reload_credential`]. deadpool-postgres's manager holds one fixed configuration, so
//! the pools use their own `CredentialManager`: it remembers which credential (a generation
//! number) opened each connection, and a connection of an older generation is closed instead of
//! handed out again, so the previous role's sessions drain without failing a request. A source
//! that cannot be read or parsed keeps the last good credential and logs an error (never the URL);
//! so does, for the app pool, a new URL that does not log in or whose role the startup check would
//! refuse (a superuser's, the owner's, a login role given BYPASSRLS or a membership), checked on
//! a connection of its own before the pool adopts it: the startup check alone would let a wrong
//! file take every request past row-level security until a restart.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use deadpool::managed::{
    self, Metrics, PoolError, RecycleError, RecycleResult, TimeoutType, Timeouts,
};
use deadpool_postgres::ClientWrapper;
use palisade_domain::Secret;
use tokio_postgres::Statement;

use crate::{DbConfig, DbError};

/// `application_name` of the app pool's connections.
pub const APP_APPLICATION_NAME: &str = "palisade";

/// How often a running server re-reads a reloading credential ([`AppPool::watch_credential`]).
pub const CREDENTIAL_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// A pool of this crate: deadpool over [`CredentialManager`].
pub(crate) type Pool = managed::Pool<CredentialManager>;
/// A pooled connection, as deadpool hands it out.
pub(crate) type Pooled = managed::Object<CredentialManager>;

/// A connection checked out of the [`AppPool`] or the [`crate::BillingPool`]: deadpool's,
/// counted while in use on a thread other than the one that drives it
/// ([`AppPool::settle_for_stop`]). Dereferences to it.
pub(crate) struct Object {
    conn: Pooled,
    /// Set while the connection is in use on a thread other than its driver's.
    _crossing: Option<Crossing>,
}

impl Object {
    /// The connection, out of the pool for good (closed when dropped): a dead one, or one left
    /// in an unknown state. No longer counted as crossing threads: drop it at once.
    pub(crate) fn take(this: Self) -> Conn {
        Pooled::take(this.conn)
    }
}

impl std::ops::Deref for Object {
    type Target = Pooled;

    fn deref(&self) -> &Pooled {
        &self.conn
    }
}

impl std::ops::DerefMut for Object {
    fn deref_mut(&mut self) -> &mut Pooled {
        &mut self.conn
    }
}

/// What the threads sharing a pool ([`AppPool`], [`crate::BillingPool`]) know of each other's
/// connections.
#[derive(Default)]
pub(crate) struct Crossings {
    /// Connections in use now on a thread other than the one that drives them.
    in_use: AtomicUsize,
    /// Set when the pool settles for a stop ([`AppPool::settle_for_stop`],
    /// [`crate::BillingPool::settle_for_stop`]): from then on a thread uses only connections it
    /// drives.
    stopping: AtomicBool,
}

impl Crossings {
    /// `conn`, checked out on this thread: counted while in use when another thread drives it;
    /// `None`, the connection closed, when that is so and the pool is settling for a stop.
    pub(crate) fn check_out(self: &Arc<Self>, conn: Pooled) -> Option<Object> {
        if conn.driver == this_thread() {
            return Some(Object {
                conn,
                _crossing: None,
            });
        }
        // Counted before the flag is read (`settle` sets the flag, then reads the count): a
        // crossing that starts as the pool begins to settle is either seen there or refused
        // here.
        self.in_use.fetch_add(1, Ordering::SeqCst);
        let crossing = Crossing(self.clone());
        if !self.stopping() {
            return Some(Object {
                conn,
                _crossing: Some(crossing),
            });
        }
        drop(crossing);
        drop(Pooled::take(conn));
        None
    }

    /// Whether the pool is settling for a stop.
    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// How many connections are in use now on a thread other than the one that drives them.
    pub(crate) fn in_use(&self) -> usize {
        self.in_use.load(Ordering::SeqCst)
    }

    /// [`AppPool::settle_for_stop`].
    pub(crate) async fn settle(&self, within: Duration) -> bool {
        self.stopping.store(true, Ordering::SeqCst);
        let deadline = tokio::time::Instant::now() + within;
        while self.in_use() > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}

/// One connection in use on a thread other than its driver's (counted in [`Crossings::in_use`]
/// until dropped).
struct Crossing(Arc<Crossings>);

impl Drop for Crossing {
    fn drop(&mut self) {
        self.0.in_use.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The last thread number handed out ([`this_thread`]).
static THREADS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's number, from 1.
    static THREAD: u64 = THREADS.fetch_add(1, Ordering::Relaxed) + 1;
}

/// The calling thread's number: tells the thread that drives a connection ([`Conn::driver`])
/// from the one using it.
fn this_thread() -> u64 {
    THREAD.with(|n| *n)
}

/// What a pool holds: deadpool-postgres's client (with its statement cache), the credential
/// generation that opened it, the thread that drives it, and the statements every transaction
/// sends, kept beside it. Dereferences to the client.
pub(crate) struct Conn {
    client: ClientWrapper,
    generation: u64,
    /// The thread whose runtime runs the connection's I/O task ([`this_thread`] when it was
    /// opened): when that runtime ends, so does the connection, whoever is using it. Exact on a
    /// single-threaded runtime (each HTTP worker's, the server's main one); on a multi-threaded
    /// one (tests) the task may run on any of its threads, and uses on the others count as
    /// crossings ([`AppPool::settle_for_stop`] then waits for them too, needlessly).
    driver: u64,
    fixed: [OnceLock<Statement>; Fixed::COUNT],
}

/// The statements of [`Conn::fixed`]: those every [`crate::TenantTx`] sends (BEGIN, COMMIT, and
/// one opening of the context).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fixed {
    Begin,
    Commit,
    /// The three `set_config` of a context the caller already knows.
    SetContext,
    /// A bearer token's check ([`crate::tenant_tx::ENTER_SESSION`]).
    EnterSession,
    /// An API key's check ([`crate::tenant_tx::ENTER_API_KEY`]).
    EnterApiKey,
    /// An API key's check for a long transaction ([`crate::tenant_tx::ENTER_API_KEY_LONG`]).
    EnterApiKeyLong,
}

impl Fixed {
    /// How many there are (a connection's slots): `EnterApiKeyLong` stays the last variant.
    const COUNT: usize = Self::EnterApiKeyLong as usize + 1;

    /// The statement's SQL.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Self::Begin => "BEGIN",
            Self::Commit => "COMMIT",
            Self::SetContext => crate::tenant_tx::SET_CONTEXT,
            Self::EnterSession => crate::tenant_tx::ENTER_SESSION,
            Self::EnterApiKey => crate::tenant_tx::ENTER_API_KEY,
            Self::EnterApiKeyLong => crate::tenant_tx::ENTER_API_KEY_LONG,
        }
    }
}

impl Conn {
    /// `which`, if this connection has prepared it: a slot's read, where the statement cache
    /// hashes the SQL text under a lock. A read made four such lookups and now makes one (in the
    /// `tenant_tx` benchmark's profile, the cache's share of the client's samples fell from
    /// 0.54% to 0.23%: docs/benchmarks.md).
    pub(crate) fn fixed(&self, which: Fixed) -> Option<&Statement> {
        self.fixed[which as usize].get()
    }

    /// `which`, prepared on this connection's first use of it (through the statement cache, like
    /// any other statement) and kept.
    pub(crate) async fn prepare_fixed(&self, which: Fixed) -> Result<Statement, DbError> {
        if let Some(stmt) = self.fixed(which) {
            return Ok(stmt.clone());
        }
        let stmt = self.client.prepare_cached(which.sql()).await?;
        Ok(self.fixed[which as usize].get_or_init(|| stmt).clone())
    }
}

impl std::ops::Deref for Conn {
    type Target = ClientWrapper;

    fn deref(&self) -> &ClientWrapper {
        &self.client
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut ClientWrapper {
        &mut self.client
    }
}

/// Reads a database URL: `Err` says why it could not (never with the URL or a password in it).
pub type ReadUrl = dyn Fn() -> Result<Secret, String> + Send + Sync;

/// Where a pool finds its database URL.
#[derive(Clone)]
pub enum UrlSource {
    /// One URL for the life of the pool.
    Fixed(Secret),
    /// Read again whenever the pool opens a connection, and on every
    /// [`AppPool::reload_credential`]: a file (`PALISADE_APP_DATABASE_URL_FILE`), or the embedded
    /// cluster's `secrets.json`.
    Reloading(Arc<ReadUrl>),
}

impl UrlSource {
    /// The URL now.
    pub fn read(&self) -> Result<Secret, String> {
        match self {
            Self::Fixed(url) => Ok(url.clone()),
            Self::Reloading(read) => read(),
        }
    }
}

impl From<Secret> for UrlSource {
    fn from(url: Secret) -> Self {
        Self::Fixed(url)
    }
}

impl std::fmt::Debug for UrlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(_) => f.write_str("UrlSource::Fixed(<redacted>)"),
            Self::Reloading(_) => f.write_str("UrlSource::Reloading(<redacted>)"),
        }
    }
}

/// How to build a pool.
#[derive(Clone, Debug)]
pub struct PoolSettings {
    /// `postgresql://user:password@host:port/db[?sslmode=...&sslrootcert=...]`, fixed or
    /// re-read. Never logged.
    pub url: UrlSource,
    /// Most connections open at once.
    pub max_size: usize,
    /// How long to wait for a free connection (or a new one) before answering "unavailable".
    pub wait_timeout: Duration,
}

/// A pool's connections at one moment (`palisade_db_pool_*` in docs/metrics.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// The most it may open.
    pub max_size: usize,
    /// Open now, idle or in use.
    pub size: usize,
    /// Open and idle.
    pub idle: usize,
    /// Checkouts waiting for a connection.
    pub waiting: usize,
}

impl PoolStatus {
    pub(crate) fn of(pool: &Pool) -> Self {
        let s = pool.status();
        Self {
            max_size: s.max_size,
            size: s.size,
            idle: s.available,
            waiting: s.waiting,
        }
    }
}

/// The credential new connections use, and its generation.
struct Current {
    generation: u64,
    url: Secret,
    config: DbConfig,
}

/// What a pool checks of a changed credential before adopting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vetting {
    /// Nothing beyond its URL parsing (the billing pool: its role is checked at startup).
    None,
    /// [`crate::schema::check_app_role_on`], on a connection of the new URL: a URL file or a
    /// `secrets.json` that names a superuser, the owner, the backup role, or a login role given
    /// BYPASSRLS or a membership since startup would otherwise take every request past
    /// row-level security until a restart.
    AppRole,
}

/// `application_name` of the connection that checks a new app credential before the pool adopts
/// it ([`AppPool::reload_credential`]): not one of the pool's.
pub const CREDENTIAL_CHECK_APPLICATION_NAME: &str = "palisade-credential-check";

/// A pool's credential, shared by its shards: the source, the credential new connections use,
/// and what became of the last changes read.
pub(crate) struct Credentials {
    source: UrlSource,
    application_name: &'static str,
    connect_timeout: Duration,
    vetting: Vetting,
    current: Mutex<Current>,
    /// The last reload error logged, so a bad file is reported once, not every second.
    last_error: Mutex<Option<String>>,
    /// The last URL [`Credentials::vetting`] refused: a connection opened meanwhile does not
    /// check it again (only the watcher's reload does, in case the role was fixed).
    refused: Mutex<Option<Secret>>,
    /// Held while a changed URL is checked, so that it is checked once at a time. A connection
    /// being opened never waits for it ([`Credentials::reload`]).
    checking: tokio::sync::Mutex<()>,
}

/// deadpool's manager for Palisade's pools: connects with the current credential of a
/// [`UrlSource`], and refuses to recycle a connection opened with an older one.
pub(crate) struct CredentialManager {
    credentials: Arc<Credentials>,
}

/// The URL's configuration, its `sslmode` and CA file included ([`crate::tls`]).
fn parse(
    url: &Secret,
    application_name: &str,
    connect_timeout: Duration,
) -> Result<DbConfig, DbError> {
    let mut config = DbConfig::parse(url.expose())?;
    if config.pg().get_user().is_none() {
        return Err(DbError::Unavailable(
            "the database URL names no user".into(),
        ));
    }
    config.pg_mut().application_name(application_name);
    config.pg_mut().connect_timeout(connect_timeout);
    Ok(config)
}

/// Locks a mutex whose data stays consistent even if a holder panicked (each critical section
/// is a plain read or assignment).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Credentials {
    /// The credential of `settings`, read now. Fails when it cannot be read or parsed (there is
    /// no previous one to keep); not checked here (at startup the server checks the pool's role
    /// itself, [`crate::schema::check_app_role`]).
    pub(crate) fn new(
        settings: &PoolSettings,
        application_name: &'static str,
        vetting: Vetting,
    ) -> Result<Arc<Self>, DbError> {
        let source = settings.url.clone();
        let connect_timeout = settings.wait_timeout;
        let url = source.read().map_err(DbError::Unavailable)?;
        let config = parse(&url, application_name, connect_timeout)?;
        Ok(Arc::new(Self {
            source,
            application_name,
            connect_timeout,
            vetting,
            current: Mutex::new(Current {
                generation: 0,
                url,
                config,
            }),
            last_error: Mutex::new(None),
            refused: Mutex::new(None),
            checking: tokio::sync::Mutex::new(()),
        }))
    }

    /// The role new connections log in as.
    fn role(&self) -> String {
        lock(&self.current)
            .config
            .pg()
            .get_user()
            .unwrap_or_default()
            .to_owned()
    }

    /// Reads a reloading source again. A changed, valid URL becomes the current credential (a
    /// new generation) once its role passes the pool's [`Vetting`]; an unreadable, unparsable
    /// or refused one is logged once and ignored. A refused URL is checked again only when
    /// `recheck` (the watcher's reloads, every second), not on every connection opened. A
    /// connection being opened (not `recheck`) never waits for a check another is making: it
    /// logs in with the current credential. One that finds no check under way makes it itself,
    /// and waits for it: a URL whose check hangs (a host that drops packets) holds that open up
    /// to the connect timeout, which is the pool's create timeout too (the checkout then answers
    /// unavailable), until the watcher's check has refused it.
    async fn reload(&self, recheck: bool) {
        let UrlSource::Reloading(read) = &self.source else {
            return;
        };
        let url = match read() {
            Ok(url) => url,
            Err(why) => return self.report(why),
        };
        if self.is_current_url(&url) {
            *lock(&self.last_error) = None;
            return;
        }
        let config = match parse(&url, self.application_name, self.connect_timeout) {
            Ok(config) => config,
            Err(e) => return self.report(e.to_string()),
        };
        if self.vetting == Vetting::AppRole {
            let refused = || {
                lock(&self.refused)
                    .as_ref()
                    .is_some_and(|r| r.expose() == url.expose())
            };
            if refused() && !recheck {
                return;
            }
            let _turn = if recheck {
                self.checking.lock().await
            } else {
                match self.checking.try_lock() {
                    Ok(turn) => turn,
                    Err(_) => return, // Being checked: the current credential meanwhile.
                }
            };
            // Adopted or refused by another meanwhile.
            if self.is_current_url(&url) || (refused() && !recheck) {
                return;
            }
            if let Err(why) = vet_app_role(&config).await {
                *lock(&self.refused) = Some(url);
                return self.report(why);
            }
            *lock(&self.refused) = None;
        }
        *lock(&self.last_error) = None;
        let role = config.pg().get_user().unwrap_or_default().to_owned();
        let mut current = lock(&self.current);
        current.generation += 1;
        current.url = url;
        current.config = config;
        drop(current);
        tracing::info!(
            db.role = %role,
            pool = self.application_name,
            "database credential changed: new connections log in as this role; connections of \
             the previous credential are closed as they come back to the pool"
        );
    }

    /// Whether `url` is the current credential's.
    fn is_current_url(&self, url: &Secret) -> bool {
        lock(&self.current).url.expose() == url.expose()
    }

    fn report(&self, why: String) {
        let mut last = lock(&self.last_error);
        if last.as_deref() != Some(why.as_str()) {
            tracing::error!(
                pool = self.application_name,
                error = %why,
                "cannot use the new database credential; keeping the previous one"
            );
            *last = Some(why);
        }
    }

    /// Whether `conn` was opened with the current credential.
    fn is_current(&self, conn: &Conn) -> bool {
        conn.generation == lock(&self.current).generation
    }
}

/// [`Vetting::AppRole`]: whether the role of `config` is one the app pool may log in as
/// ([`crate::schema::check_app_role_on`]), on a connection of its own; `Err` says why not (never
/// the URL).
async fn vet_app_role(config: &DbConfig) -> Result<(), String> {
    let mut config = config.clone();
    config
        .pg_mut()
        .application_name(CREDENTIAL_CHECK_APPLICATION_NAME);
    let client = config
        .connect_client()
        .await
        .map_err(|e| format!("the new credential does not log in: {e}"))?;
    crate::schema::check_app_role_on(&client)
        .await
        .map_err(|e| e.to_string())
}

impl CredentialManager {
    /// The role new connections log in as.
    fn role(&self) -> String {
        self.credentials.role()
    }

    /// A new connection with the current credential (`Manager::create`, boxed there), its
    /// driver spawned on this thread's runtime.
    async fn open(&self) -> Result<Conn, tokio_postgres::Error> {
        let credentials = &self.credentials;
        credentials.reload(false).await;
        let (generation, config) = {
            let current = lock(&credentials.current);
            (current.generation, current.config.clone())
        };
        let (client, connection) = config.connect().await?;
        let task = tokio::spawn(async move {
            if let Err(e) = connection.await {
                // Not counted as a database error: a request that was using the connection
                // counts its own, and an idle one ending is nobody's failure.
                tracing::debug!(error = %DbError::classify(e), "pooled database connection ended");
            }
        });
        Ok(Conn {
            client: ClientWrapper::new(client, task),
            generation,
            driver: this_thread(),
            fixed: Default::default(),
        })
    }

    /// Whether `conn` was opened with the current credential.
    fn is_current(&self, conn: &Conn) -> bool {
        self.credentials.is_current(conn)
    }
}

impl managed::Manager for CredentialManager {
    type Type = Conn;
    type Error = tokio_postgres::Error;

    // Boxed (an allocation per connection opened, none per checkout): opening a connection (the
    // TLS handshake and the startup) is the largest future on a checkout's path, and deadpool
    // holds it inline in every checkout's future, which each caller's future then holds again.
    // Boxed, `TenantTx::begin`'s future is 1,928 bytes instead of 8,560. The `tenant_tx` bench
    // cannot see that (it builds that future in place and never copies it; tried and not kept
    // on 4 December for that reason), but the server moves each request's handler future onto
    // the heap, and copies about 4% fewer bytes per list request with it (docs/benchmarks.md,
    // "instruction counts and bytes copied"): no time a run can resolve, and nothing paid on a
    // request's path.
    async fn create(&self) -> Result<Conn, tokio_postgres::Error> {
        Box::pin(self.open()).await
    }

    // Fast recycling only checks that the connection is open (and still of the current
    // credential). That is enough because a connection never goes back to the pool inside a
    // transaction: TenantTx commits, or rolls back (or closes the connection) when dropped.
    async fn recycle(
        &self,
        client: &mut Conn,
        _: &Metrics,
    ) -> RecycleResult<tokio_postgres::Error> {
        if client.is_closed() {
            return Err(RecycleError::message("connection closed"));
        }
        if !self.is_current(client) {
            return Err(RecycleError::message(
                "opened with a database credential that has since been replaced",
            ));
        }
        Ok(())
    }
}

/// Builds a pool (or one shard of one) of `credentials`, at most `settings.max_size`
/// connections. Connects lazily. The credentials' `application_name` tells the pools apart in
/// `pg_stat_activity` (`palisade` for the app pool, `palisade-billing` for Stripe's).
pub(crate) fn build_pool(
    settings: &PoolSettings,
    credentials: Arc<Credentials>,
) -> Result<Pool, DbError> {
    let manager = CredentialManager { credentials };
    Pool::builder(manager)
        .max_size(settings.max_size)
        // The connection that came back last goes out first. deadpool's default (FIFO) hands
        // out every idle connection in turn, so under light load each request woke a backend
        // that had sat idle through the other connections' turns: at 1 and 4 concurrent
        // requests that cost about a third of TenantTx's throughput against the same SQL on one
        // bare connection (the `tenant_tx` benchmark, columns a and d). LIFO keeps the few
        // connections the load needs hot and leaves the rest idle.
        .queue_mode(deadpool::managed::QueueMode::Lifo)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(settings.wait_timeout))
        .create_timeout(Some(settings.wait_timeout))
        .build()
        .map_err(|e| DbError::Unavailable(e.to_string()))
}

/// Re-reads the credential of `shards` (the shards of one pool, which share it) and closes their
/// idle connections of an older one.
async fn reload_shards(shards: &[Pool]) {
    let Some(first) = shards.first() else {
        return;
    };
    first.manager().credentials.reload(true).await;
    for shard in shards {
        let manager = shard.manager();
        shard.retain(|client, _| manager.is_current(client));
    }
}

/// [`reload_shards`] every [`CREDENTIAL_RELOAD_INTERVAL`] until the pool is closed; returns at
/// once for a fixed URL.
pub(crate) async fn watch_pool(shards: &[Pool]) {
    let Some(first) = shards.first() else {
        return;
    };
    if matches!(first.manager().credentials.source, UrlSource::Fixed(_)) {
        return;
    }
    while !first.is_closed() {
        tokio::time::sleep(CREDENTIAL_RELOAD_INTERVAL).await;
        reload_shards(shards).await;
    }
}

/// The pool of connections as the app's login role (`palisade_app_a` or `palisade_app_b`, members
/// of `palisade_app`): every tenant request and every carrier/email webhook. Cheap to clone.
///
/// **Shards, one per HTTP worker.** A connection's I/O is driven by a task on the thread that
/// opened it, and each actix-web worker is a thread with a runtime of its own. From one shared
/// pool, a request on one worker often got a connection another worker had opened: each round
/// trip then crossed threads twice (the statements handed to the other thread's task, the rows
/// handed back), two wake-ups of a thread that may be asleep. [`AppPool::sharded`] gives every
/// worker a shard of its own, which the worker binds itself to when it starts
/// ([`AppPool::claim_shard`]); every other thread (startup checks, the delivery worker, a
/// password reset's background work, tests) shares one more, small shard. A checkout takes its own shard's idle connection or opens one
/// while the shard has room; when its shard is exhausted it borrows another shard's idle
/// connection (a crossing, not a wait), and only when none is idle does it wait for its own, in
/// its shard's queue (first come, first served) until the pool's wait runs out, looking at the
/// others again every 20 ms meanwhile. A graceful stop readies the pool first
/// ([`AppPool::settle_for_stop`]): a worker that ends ends the connections its thread drives.
#[derive(Clone)]
pub struct AppPool {
    /// The workers' shards, then the shard of every other thread; one pool when not sharded.
    shards: Arc<[Pool]>,
    /// How many live threads have claimed each worker shard ([`AppPool::claim_shard`]).
    claims: Arc<[AtomicUsize]>,
    /// This pool among the process's pools (a thread's claim names it).
    id: u64,
    /// Connections in use across threads, and whether the pool is readying for its workers to
    /// stop.
    crossings: Arc<Crossings>,
}

/// The last pool id handed out.
static POOL_IDS: AtomicU64 = AtomicU64::new(0);

/// How often a checkout waiting on its exhausted shard looks at the other shards again.
const WAIT_SLICE: Duration = Duration::from_millis(20);

/// A thread's claim on a worker shard; released when the thread ends (or claims a shard of
/// another pool).
struct Claim {
    pool: u64,
    shard: usize,
    claims: Arc<[AtomicUsize]>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.claims[self.shard].fetch_sub(1, Ordering::Relaxed);
    }
}

thread_local! {
    /// The worker shard this thread claimed.
    static CLAIMED: RefCell<Option<Claim>> = const { RefCell::new(None) };
}

impl AppPool {
    /// Builds the pool; no connection is made until one is needed. Fails when the URL cannot be
    /// read or parsed (at startup there is no previous credential to keep).
    pub fn new(settings: &PoolSettings) -> Result<Self, DbError> {
        Self::from_shards(vec![build_pool(settings, Self::credentials(settings)?)?])
    }

    /// The credential of an app pool's shards: a changed one is adopted only once its role
    /// passes [`crate::schema::check_app_role_on`].
    fn credentials(settings: &PoolSettings) -> Result<Arc<Credentials>, DbError> {
        Credentials::new(settings, APP_APPLICATION_NAME, Vetting::AppRole)
    }

    /// [`AppPool::new`] split into a shard for each of `workers` threads that will
    /// [`AppPool::claim_shard`], and one shard for every other thread: that one gets an eighth
    /// of `max_size` (at least 1), the workers' shards the rest, evenly. Not split (one pool,
    /// shared by every thread) for a single worker, or when `max_size` leaves fewer than one
    /// connection a shard.
    pub fn sharded(settings: &PoolSettings, workers: usize) -> Result<Self, DbError> {
        let others = (settings.max_size / 8).max(1);
        if workers <= 1 || settings.max_size < workers + others {
            return Self::new(settings);
        }
        let (each, extra) = (
            (settings.max_size - others) / workers,
            (settings.max_size - others) % workers,
        );
        let credentials = Self::credentials(settings)?;
        let mut shards = Vec::with_capacity(workers + 1);
        for i in 0..workers {
            let max_size = each + usize::from(i < extra);
            shards.push(build_pool(
                &PoolSettings {
                    max_size,
                    ..settings.clone()
                },
                credentials.clone(),
            )?);
        }
        shards.push(build_pool(
            &PoolSettings {
                max_size: others,
                ..settings.clone()
            },
            credentials,
        )?);
        Self::from_shards(shards)
    }

    fn from_shards(shards: Vec<Pool>) -> Result<Self, DbError> {
        let workers = shards.len().saturating_sub(1);
        Ok(Self {
            shards: shards.into(),
            claims: (0..workers).map(|_| AtomicUsize::new(0)).collect(),
            id: POOL_IDS.fetch_add(1, Ordering::Relaxed) + 1,
            crossings: Arc::default(),
        })
    }

    /// How many shards: the workers' and the other threads' one; 1 when not sharded.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Binds the calling thread to a worker shard (an HTTP worker calls this as it starts) and
    /// returns the shard's index: the one it already claimed, if it did, or else the shard the
    /// fewest live threads have claimed (the first of them), so a restarted worker takes the
    /// shard its predecessor left. A thread that never claims one uses the last shard. A no-op
    /// on a pool that is not sharded.
    pub fn claim_shard(&self) -> usize {
        if self.claims.is_empty() {
            return 0;
        }
        CLAIMED.with(|claimed| {
            let mut claimed = claimed.borrow_mut();
            if let Some(claim) = claimed.as_ref().filter(|c| c.pool == self.id) {
                return claim.shard;
            }
            let shard = (0..self.claims.len())
                .min_by_key(|i| self.claims[*i].load(Ordering::Relaxed))
                .unwrap_or(0);
            self.claims[shard].fetch_add(1, Ordering::Relaxed);
            // Replacing a claim on another pool releases it.
            *claimed = Some(Claim {
                pool: self.id,
                shard,
                claims: self.claims.clone(),
            });
            shard
        })
    }

    /// The shard the calling thread uses.
    fn own_shard(&self) -> usize {
        let last = self.shards.len() - 1;
        if last == 0 {
            return 0;
        }
        CLAIMED.with(|claimed| {
            claimed
                .borrow()
                .as_ref()
                .filter(|c| c.pool == self.id && c.shard < last)
                .map_or(last, |c| c.shard)
        })
    }

    /// A connection: [`AppPool::checkout`]'s, counted while it crosses threads; once the pool
    /// is readying for its workers to stop ([`AppPool::settle_for_stop`]), only one this thread
    /// drives (another thread's is closed, and the checkout made again).
    pub(crate) async fn get(&self) -> Result<Object, DbError> {
        loop {
            if let Some(conn) = self.crossings.check_out(self.checkout().await?) {
                return Ok(conn);
            }
        }
    }

    /// A connection of this thread's shard, or of another when this one is exhausted.
    async fn checkout(&self) -> Result<Pooled, DbError> {
        let own = self.own_shard();
        let timeouts = self.shards[own].timeouts();
        let now = Timeouts {
            wait: Some(Duration::ZERO),
            ..timeouts
        };
        if self.shards.len() == 1 {
            // An idle connection (or room for a new one) is taken without arming the wait's
            // timer (a zero wait makes deadpool try the semaphore without one); only a checkout
            // that has to wait takes a place in the queue, with the pool's wait timeout.
            return match self.shards[own].timeout_get(&now).await {
                Err(PoolError::Timeout(TimeoutType::Wait)) => Ok(self.shards[own].get().await?),
                got => Ok(got?),
            };
        }
        // This thread's shard: an idle connection, or a new one while it has room.
        match self.shards[own].timeout_get(&now).await {
            Err(PoolError::Timeout(TimeoutType::Wait)) => {}
            got => return Ok(got?),
        }
        // Exhausted. Boxed: the rare path's futures would otherwise make every checkout's
        // future about twice as large, copied as it is composed.
        Box::pin(self.borrow_or_wait(own, timeouts, now)).await
    }

    /// [`AppPool::get`] when `own` shard is exhausted: another shard's idle connection rather
    /// than a wait; when none is idle, this shard's next free connection, waiting in its queue
    /// for the whole of the pool's wait, so that checkouts waiting on a shard get its connections
    /// in the order they came; and every [`WAIT_SLICE`] meanwhile the other shards looked at
    /// again, to take one freed there (leaving the queue then). Not while this shard has fewer
    /// connections than it may: a waiter given its turn then opens one (this checkout, likely),
    /// which leaving would throw away half made.
    async fn borrow_or_wait(
        &self,
        own: usize,
        timeouts: Timeouts,
        now: Timeouts,
    ) -> Result<Pooled, DbError> {
        if let Some(got) = self.borrow_idle(own, &now).await {
            return got;
        }
        let wait = self.shards[own].timeout_get(&timeouts);
        let mut wait = std::pin::pin!(wait);
        loop {
            if let Ok(got) = tokio::time::timeout(WAIT_SLICE, wait.as_mut()).await {
                return Ok(got?);
            }
            let status = self.shards[own].status();
            if status.size < status.max_size {
                continue;
            }
            if let Some(got) = self.borrow_idle(own, &now).await {
                return got;
            }
        }
    }

    /// An idle connection of a shard other than `own`, if one has any. (The status is a
    /// snapshot: should that connection be taken meanwhile, this opens one in that shard, driven
    /// by this thread, while it has room.)
    async fn borrow_idle(&self, own: usize, now: &Timeouts) -> Option<Result<Pooled, DbError>> {
        if self.crossings.stopping() {
            // Another shard's connections are driven by other threads (AppPool::get would close
            // the one taken).
            return None;
        }
        for i in (1..self.shards.len()).map(|k| (own + k) % self.shards.len()) {
            if self.shards[i].status().available > 0 {
                match self.shards[i].timeout_get(now).await {
                    Err(PoolError::Timeout(TimeoutType::Wait)) => {}
                    got => return Some(got.map_err(DbError::from)),
                }
            }
        }
        None
    }

    /// Closes every idle connection (those in use are unaffected): after one was found dead,
    /// the others that sat idle beside it are likely dead too.
    pub(crate) fn close_idle(&self) {
        for shard in self.shards.iter() {
            shard.retain(|_, _| false);
        }
    }

    /// The login role new connections use (from the current URL).
    pub fn login_role(&self) -> String {
        self.shards[0].manager().role()
    }

    /// Re-reads a reloading credential now: a changed one whose role passes
    /// [`crate::schema::check_app_role_on`] (checked on a connection of its own,
    /// `application_name` [`CREDENTIAL_CHECK_APPLICATION_NAME`]) is used by every connection
    /// opened from now on, idle connections of the previous one are closed at once, and those in
    /// use when they come back. One that cannot be read, parsed or logged in with, or whose role
    /// is refused, is logged (never the URL) and the previous credential kept. A no-op for a
    /// fixed URL.
    pub async fn reload_credential(&self) {
        reload_shards(&self.shards).await;
    }

    /// [`AppPool::reload_credential`] every [`CREDENTIAL_RELOAD_INTERVAL`] until the pool is
    /// closed, so the previous role's idle sessions end even when no new connection is needed,
    /// and a refused credential is checked again (its role may have been fixed). Returns at once
    /// for a fixed URL. The server spawns it next to the HTTP server.
    pub async fn watch_credential(self) {
        watch_pool(&self.shards).await;
    }

    /// The tenant settings a pooled connection carries between transactions, as
    /// `[app.current_org, app.current_user, app.current_role]`. All three must be empty: a
    /// value here would mean a tenant context leaked out of its transaction. Used by `/readyz`
    /// (which also proves the database answers) and by the pool-safety tests.
    pub async fn idle_context(&self) -> Result<[String; 3], DbError> {
        let conn = self.get().await?;
        let stmt = conn
            .prepare_cached(
                "SELECT coalesce(current_setting('app.current_org', true), ''), \
                        coalesce(current_setting('app.current_user', true), ''), \
                        coalesce(current_setting('app.current_role', true), '')",
            )
            .await?;
        let row = conn.query_one(&stmt, &[]).await?;
        Ok([row.try_get(0)?, row.try_get(1)?, row.try_get(2)?])
    }

    /// The pool's connections now (every shard's together), for the metrics.
    pub fn status(&self) -> PoolStatus {
        self.shards
            .iter()
            .map(PoolStatus::of)
            .fold(PoolStatus::default(), |all, shard| PoolStatus {
                max_size: all.max_size + shard.max_size,
                size: all.size + shard.size,
                idle: all.idle + shard.idle,
                waiting: all.waiting + shard.waiting,
            })
    }

    /// Each shard's connections now (one entry when the pool is not sharded).
    pub fn shard_status(&self) -> Vec<PoolStatus> {
        self.shards.iter().map(PoolStatus::of).collect()
    }

    /// Readies the pool for its threads to end one by one, as a graceful stop ends the HTTP
    /// workers, and waits until it is ready, at most `within`: returns whether it is.
    ///
    /// A connection's I/O is driven by a task on the thread that opened it, so a worker that ends
    /// (its runtime dropped) ends its connections, also one in use on another thread: a connection
    /// another worker borrowed from its shard (the other's request failing then, a write with a
    /// 503), or one of the shard the other threads share. A graceful stop ends each worker as soon
    /// as it has no client connection left, so an idle worker would end before a busy one. From
    /// this call on, every checkout takes a connection its own thread drives: it borrows none from
    /// another shard, and closes an idle one of its shard that another thread opened (opening its
    /// own instead). This waits for the connections already in use across threads to come back; the
    /// server stops its workers after it. (It also waits for those the server's main thread drives,
    /// which outlives the workers: needless, and brief.)
    pub async fn settle_for_stop(&self, within: Duration) -> bool {
        self.crossings.settle(within).await
    }

    /// How many connections are in use now on a thread other than the one that drives them
    /// ([`AppPool::settle_for_stop`]).
    pub fn in_use_across_threads(&self) -> usize {
        self.crossings.in_use()
    }

    /// Closes every connection; later checkouts fail. Called on shutdown, before PostgreSQL
    /// itself is stopped.
    pub fn close(&self) {
        for shard in self.shards.iter() {
            shard.close();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use futures_util::FutureExt as _;

    /// A connection being opened does not wait for the check of a changed URL that another
    /// (the watcher) is making: with that check hanging (a server that never answers the
    /// startup message), the open's reload returns at once, and the credential is unchanged.
    #[tokio::test]
    async fn an_open_never_waits_for_a_check_under_way() {
        // Accepts (the kernel's backlog) and never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let first = Secret::new("postgresql://palisade_app_a:pw@127.0.0.1:1/palisade");
        let changed = Secret::new(format!(
            "postgresql://palisade_app_b:pw@127.0.0.1:{port}/palisade"
        ));
        let now = Arc::new(Mutex::new(first.clone()));
        let read = {
            let now = Arc::clone(&now);
            move || Ok(lock(&now).clone())
        };
        let settings = PoolSettings {
            url: UrlSource::Reloading(Arc::new(read)),
            max_size: 1,
            wait_timeout: Duration::from_secs(3600),
        };
        let credentials = Credentials::new(&settings, "test", Vetting::AppRole).unwrap();
        *lock(&now) = changed;
        let watcher = credentials.reload(true);
        futures_util::pin_mut!(watcher);
        assert!(
            watcher.as_mut().now_or_never().is_none(),
            "the watcher's check waits on the silent server"
        );
        assert_eq!(
            credentials.reload(false).now_or_never(),
            Some(()),
            "an open's reload waited for the check"
        );
        assert_eq!(credentials.role(), "palisade_app_a");
        drop(silent);
    }
}
