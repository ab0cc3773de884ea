//! [`TenantTx`]: the request's transaction, scoped to one organization.
//!
//! ```text
//! BEGIN
//! SELECT set_config('app.current_org', $1, true), set_config('app.current_user', $2, true),
//!        set_config('app.current_role', $3, true)
//! ...queries with no organization filter of their own: RLS decides...
//! COMMIT
//! ```
//! The settings are transaction-local (`is_local = true`), so a pooled connection carries
//! nothing to the next request, and the design works behind PgBouncer in transaction mode.
//!
//! A request's credential is checked in the same transaction ([`TenantTx::begin_checked`]):
//! instead of the three `set_config`, the opening statement is
//! `palisade_private.enter_session(org, user, version, least role)` for a bearer token, or
//! `palisade_private.enter_api_key(sha256, least role)` for an API key
//! (`policies/023_accounts.sql`, `policies/028_api_key_resolvers.sql`). The function checks
//! that the user is still a member (or the key still valid) with the current credential version
//! and a role of at least the route's, sets the context to the role the user has *now*, and
//! returns it; or raises (SQLSTATE `PA401`/`PA403`), which aborts the transaction so that
//! nothing pipelined after it runs. The check thus costs no round trip of its own. A route
//! that needed the role before its transaction (palisade_api's `Tenant`, which looked the
//! credential up in a statement of its own) opens with the same check again
//! ([`TenantTx::begin_rechecked`]), so its transaction never acts on what that lookup saw if it
//! has changed since.
//!
//! Round trips are the cost that matters. Nothing is sent when the transaction is opened:
//! BEGIN and the context travel in the same round trip as the first query, and
//! [`TenantTx::query_once`] adds the COMMIT too, so a one-statement read is one round trip (and
//! so does [`TenantTx::commit_with_next_statement`] for a one-statement write: a family's create
//! without an `Idempotency-Key`, a change or a delete that reads nothing before its write; in a
//! longer transaction it sends its last statement and COMMIT in one round trip).
//! They go as one pipeline (`Client::pipeline`, an addition to tokio-postgres:
//! `vendor/tokio-postgres/PALISADE.md`): every statement bound, then one Sync, in one write,
//! and PostgreSQL answers them all at once, at the Sync. (tokio-postgres alone ends each
//! statement with its own Sync, which PostgreSQL answers with a flush of its own.) Every
//! statement is prepared *before* the pipeline is sent (a statement's first use costs a Parse
//! round trip of its own, with BEGIN, the context and COMMIT prepared beside it).
//!
//! A statement that fails (a refused credential, a failed query) makes PostgreSQL skip every
//! one after it up to the Sync, the COMMIT included, so nothing pipelined after a refused
//! credential runs. The pipeline's answer is its first error: a refused credential is a 401 or
//! 403, never an error of a statement after it. The transaction is then open and aborted, and
//! the drop rolls it back (a ROLLBACK, sent after the request has its answer, before the
//! connection returns to the pool).

use crate::pool::{Fixed, Object};
use futures_util::FutureExt as _;
use palisade_domain::{OrgId, Role, TenantContext, UserId};
use tokio_postgres::types::ToSql;
use tokio_postgres::{PipelineAnswer, Row, Statement};
use uuid::Uuid;

use crate::{AppPool, DbError};

/// The context a caller already knows, set transaction-locally.
pub(crate) const SET_CONTEXT: &str = "SELECT set_config('app.current_org', $1, true), \
                                  set_config('app.current_user', $2, true), \
                                  set_config('app.current_role', $3, true)";
/// The opening statement of a transaction for a bearer token's claims: checks them and sets the
/// context (see the module's documentation).
pub const ENTER_SESSION: &str = "SELECT organization_id, user_id, role \
                                   FROM palisade_private.enter_session($1, $2, $3, $4)";
/// The opening statement of a transaction for an API key (by its SHA-256).
pub const ENTER_API_KEY: &str = "SELECT organization_id, user_id, role \
                                   FROM palisade_private.enter_api_key($1, $2)";
/// [`ENTER_API_KEY`] for a transaction that may last ([`TenantTx::begin_checked_long`]): the
/// same check, without the `last_used_at` stamp whose row lock would last as long.
pub const ENTER_API_KEY_LONG: &str = "SELECT organization_id, user_id, role \
                                   FROM palisade_private.enter_api_key_long($1, $2)";

/// Query parameters, as tokio-postgres takes them.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing sent yet: the next statement carries BEGIN and the context with it.
    Fresh,
    /// BEGIN sent (it may have failed): the transaction must end before the connection is reused.
    Open,
    /// Ended by the COMMIT sent in the pipeline of its last statement
    /// ([`TenantTx::commit_with_next_statement`]): nothing more may run in it.
    Committed,
}

/// What [`TenantTx::hold_commit`] returns: the one way to lift the hold
/// ([`TenantTx::release_commit_to_next_statement`]). Neither leaves this crate: an
/// `Idempotency-Key`'s claim keeps it inside [`crate::idempotency::Held`], which only
/// [`crate::idempotency::complete`] spends, so code that reaches the transaction otherwise (a
/// handler, through `palisade_api`'s `IdempotentTx`) cannot let its own statement take the
/// COMMIT before the key's stored response.
#[must_use = "the hold is lifted only by handing this to release_commit_to_next_statement"]
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CommitHold(());

/// The statements that open a transaction: prepared with the first statement, sent with it.
struct Opening {
    begin: Statement,
    /// SET_CONTEXT, or a checked credential's ENTER_SESSION / ENTER_API_KEY.
    context: Statement,
}

/// A transaction on a pooled app-role connection, with the tenant context set
/// transaction-locally. The only way to reach tenant tables from Rust.
///
/// End it with [`TenantTx::commit`]. Dropping it without commit rolls back (unless it was
/// committed with its last statement, [`TenantTx::commit_with_next_statement`]): a cancelled
/// request leaves nothing behind (unless it was cancelled once a pipeline with its COMMIT was
/// sent: that COMMIT runs, and the ROLLBACK after it finds no transaction), and the connection
/// returns to the pool clean (or is closed, if the rollback cannot be sent).
pub struct TenantTx {
    conn: Option<Object>,
    /// Where `conn` came from: [`TenantTx::query_once`] takes another from it when `conn` was
    /// found dead.
    pool: AppPool,
    actor: Actor,
    state: State,
    /// [`TenantTx::commit_with_next_statement`] was called.
    commit_with_next: bool,
    /// [`TenantTx::hold_commit`] was called: `commit_with_next_statement` does nothing.
    commit_held: bool,
}

/// A credential a request presented, as the database checks it ([`TenantTx::begin_checked`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A bearer token whose signature and expiry were verified: its claims.
    Session {
        /// The token's organization.
        org_id: OrgId,
        /// The token's user.
        user_id: UserId,
        /// The user's credential version when the token was issued (`ver`).
        version: i32,
    },
    /// An API key, by the SHA-256 of the presented key.
    ApiKey {
        /// SHA-256 of the key.
        hash: [u8; 32],
    },
}

/// Why the opening check refused a credential (SQLSTATE `PA401` or `PA403`, with the reason as
/// the message): the transaction was aborted before anything else in it ran. A later check may
/// raise the same, or `PA409` for a role lowered since (see [`DbError::Refused`]): then the
/// transaction is aborted there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The token's user is no longer in the organization (removed, or the organization deleted).
    UserGone,
    /// The token was issued before the user's password last changed or was reset, or before
    /// the user last signed out everywhere (the credential version moved).
    CredentialsChanged,
    /// No API key has this hash, or its creator no longer exists.
    KeyUnknown,
    /// The API key is revoked.
    KeyRevoked,
    /// The API key's `expires_at` has passed (and it is not revoked).
    KeyExpired,
    /// The acting role is below the one the route needs (the least role it accepts).
    Role(Role),
    /// The acting role is below this one, which the transaction's context already had: the
    /// role was lowered since the context was resolved ([`TenantTx::begin_rechecked`]), or,
    /// found by a later check holding the user's row, since the opening check
    /// ([`crate::accounts::hold_verified_self`]). Sending the request again answers it for the
    /// role the user has now.
    RoleLowered(Role),
}

impl Refusal {
    /// Reads a refusal from a server error's SQLSTATE and message; `None` for any other error.
    pub(crate) fn from_server(code: &str, message: &str) -> Option<Self> {
        match (code, message) {
            ("PA401", "user_gone") => Some(Self::UserGone),
            ("PA401", "credentials_changed") => Some(Self::CredentialsChanged),
            ("PA401", "key_unknown") => Some(Self::KeyUnknown),
            ("PA401", "key_revoked") => Some(Self::KeyRevoked),
            ("PA401", "key_expired") => Some(Self::KeyExpired),
            ("PA403", least) => Role::parse(least).ok().map(Self::Role),
            // A later check found the role lowered below the one the request was decided for
            // (`palisade_private.hold_verified_self`).
            ("PA409", least) => Role::parse(least).ok().map(Self::RoleLowered),
            _ => None,
        }
    }

    /// A short name for logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::UserGone => "user_gone",
            Self::CredentialsChanged => "credentials_changed",
            Self::KeyUnknown => "key_unknown",
            Self::KeyRevoked => "key_revoked",
            Self::KeyExpired => "key_expired",
            Self::Role(_) => "role",
            Self::RoleLowered(_) => "role_lowered",
        }
    }
}

/// Who a transaction acts for.
#[derive(Debug, Clone)]
enum Actor {
    /// A signed-in user (bearer token or API key) of the organization.
    User(TenantContext),
    /// A carrier or email provider's verified webhook, routed to this organization. It sets
    /// only `app.current_org`: `app.current_user` and `app.current_role` stay empty, so every
    /// policy that asks for a role (owner/admin writes) fails closed for it.
    Provider(OrgId),
    /// The outbound webhook delivery worker, for a delivery of this organization: like
    /// [`Actor::Provider`] (no user), with `app.current_role` set to [`DELIVERY_WORKER_ROLE`],
    /// which no owner/admin policy accepts and which the delivery paths require
    /// (`policies/027_outbound_webhook_delivery.sql`, `415_outbound_webhook_deliveries.sql`).
    DeliveryWorker(OrgId),
    /// A request's credential, checked by the opening statement, which also sets the context:
    /// the context is known once that statement has answered.
    Checked {
        credential: Credential,
        least: Role,
        resolved: Option<TenantContext>,
        /// Where an API key's ids are recorded once its check has answered: the request's span.
        record_on: Option<tracing::Span>,
        /// Opened by [`TenantTx::begin_checked_long`]: an API key is checked without its stamp.
        long: bool,
    },
}

/// The `app.current_role` of the delivery worker's transactions ([`TenantTx::begin_for_delivery_worker`]).
pub const DELIVERY_WORKER_ROLE: &str = "delivery_worker";

impl TenantTx {
    /// Checks out a connection that will act for `actor`. Sends nothing yet.
    async fn open(pool: &AppPool, actor: Actor) -> Result<Self, DbError> {
        let conn = pool.get().await?;
        Ok(Self {
            conn: Some(conn),
            pool: pool.clone(),
            actor,
            state: State::Fresh,
            commit_with_next: false,
            commit_held: false,
        })
    }

    /// Checks out a connection for `ctx`. Sends nothing yet: the first statement carries BEGIN
    /// and the context in the same round trip.
    pub async fn begin(pool: &AppPool, ctx: &TenantContext) -> Result<Self, DbError> {
        Self::open(pool, Actor::User(*ctx)).await
    }

    /// Checks out a connection for a provider's webhook already routed to `org` (by a resolver
    /// function). The transaction sees and writes only `org`'s rows, with no user and no role:
    /// it can do what the table's policies allow any member of `org`, never owner/admin-only
    /// writes. Sends nothing yet, like [`TenantTx::begin`].
    pub async fn begin_for_provider(pool: &AppPool, org: OrgId) -> Result<Self, DbError> {
        Self::open(pool, Actor::Provider(org)).await
    }

    /// Checks out a connection for the outbound webhook delivery worker, acting on a delivery of
    /// `org` (found by its resolver): no user, the role [`DELIVERY_WORKER_ROLE`]. Only this kind
    /// of transaction may record a delivery attempt, read the endpoint's secret for a leased
    /// delivery, or disable a failing endpoint. Sends nothing yet, like [`TenantTx::begin`].
    pub async fn begin_for_delivery_worker(pool: &AppPool, org: OrgId) -> Result<Self, DbError> {
        Self::open(pool, Actor::DeliveryWorker(org)).await
    }

    /// Checks out a connection for a request's `credential`, whose check travels with the first
    /// statement (see the module's documentation): a credential that is no longer valid, or whose
    /// role is below `least`, fails that statement with [`DbError::Refused`], and nothing else in
    /// the transaction runs. Sends nothing yet, like [`TenantTx::begin`]; [`TenantTx::context`]
    /// is known once the first statement has answered.
    pub async fn begin_checked(
        pool: &AppPool,
        credential: Credential,
        least: Role,
    ) -> Result<Self, DbError> {
        Self::begin_checked_for(pool, credential, least, tracing::Span::current()).await
    }

    /// [`TenantTx::begin_checked`], recording an API key's organization and user ids on `span`
    /// (the request's own, which declares `org.id` and `user.id`) once its check has answered,
    /// rather than on the span current then: a handler may run in a span of its own, on which
    /// the ids would be dropped. [`tracing::Span::none`] records nothing (they are on the
    /// request's span already: recorded twice, tracing's formatter prints them twice).
    pub async fn begin_checked_for(
        pool: &AppPool,
        credential: Credential,
        least: Role,
        span: tracing::Span,
    ) -> Result<Self, DbError> {
        Self::open_checked(pool, credential, least, span, false).await
    }

    async fn open_checked(
        pool: &AppPool,
        credential: Credential,
        least: Role,
        span: tracing::Span,
        long: bool,
    ) -> Result<Self, DbError> {
        let record_on = matches!(credential, Credential::ApiKey { .. }).then_some(span);
        Self::open(
            pool,
            Actor::Checked {
                credential,
                least,
                resolved: None,
                record_on,
                long,
            },
        )
        .await
    }

    /// [`TenantTx::begin_checked_for`] for a transaction that may last minutes (the export). An
    /// API key's opening check stamps its `last_used_at` holding the key's row until the
    /// transaction ends, and that row is what revoking the key (or removing its creator) updates:
    /// they would wait for this transaction. So here the key is stamped first, in a statement
    /// of its own on another connection (committed at once; not a check: its answer is not
    /// relied on, and its failure is logged and ignored), and the opening statement checks it
    /// without a stamp (`enter_api_key_long`): the same refusals, no lock. A bearer token's
    /// check locks nothing either way.
    pub async fn begin_checked_long(
        pool: &AppPool,
        credential: Credential,
        least: Role,
        span: tracing::Span,
    ) -> Result<Self, DbError> {
        if let Credential::ApiKey { hash } = &credential
            && let Err(e) = crate::api_keys::resolve(pool, hash).await
        {
            tracing::warn!(error = %e, "could not stamp the API key's last use");
        }
        Self::open_checked(pool, credential, least, span, true).await
    }

    /// Checks out a connection for `ctx`, a context an earlier statement of the same request
    /// resolved `credential` to (palisade_api's `Tenant`, for a route that needs the role in
    /// Rust before its transaction): the opening statement checks the credential again, with
    /// `ctx.role` as the least role, as [`TenantTx::begin_checked`] does. So the transaction
    /// never acts on a context that went stale in between: a user removed, a token ended or a
    /// key revoked since answers [`DbError::Refused`], and so does a role lowered below the one
    /// the caller decided with ([`Refusal::RoleLowered`]). The context set is the role the user
    /// has now (never lower than `ctx.role`); [`TenantTx::context`] is `ctx` until the first
    /// statement has answered, then that one. A change committed after the first statement is
    /// not seen by the statements after it, as with every credential check here, except where a
    /// write checks again holding the user's row (`crate::accounts::hold_verified_self`).
    pub async fn begin_rechecked(
        pool: &AppPool,
        credential: Credential,
        ctx: &TenantContext,
    ) -> Result<Self, DbError> {
        Self::open(
            pool,
            Actor::Checked {
                credential,
                least: ctx.role,
                resolved: Some(*ctx),
                record_on: None,
                long: false,
            },
        )
        .await
    }

    /// The user context this transaction acts for; `None` for a provider's webhook, and for a
    /// checked credential before its first statement has answered (a rechecked one has the
    /// context it was resolved to until then).
    pub fn context(&self) -> Option<&TenantContext> {
        match &self.actor {
            Actor::User(ctx) => Some(ctx),
            Actor::Checked { resolved, .. } => resolved.as_ref(),
            Actor::Provider(_) | Actor::DeliveryWorker(_) => None,
        }
    }

    /// The credential version (`ver`) of the bearer token this transaction's opening statement
    /// checks; `None` for an API key's transaction and one whose context was set unchecked.
    pub fn session_version(&self) -> Option<i32> {
        match &self.actor {
            Actor::Checked {
                credential: Credential::Session { version, .. },
                ..
            } => Some(*version),
            _ => None,
        }
    }

    /// The least role this transaction's opening statement checks (the one the request was
    /// decided for); `None` for one whose context was set unchecked.
    pub fn least_role(&self) -> Option<Role> {
        match &self.actor {
            Actor::Checked { least, .. } => Some(*least),
            _ => None,
        }
    }

    /// The organization whose rows this transaction sees; `None` for an API key before the first
    /// statement has answered (a bearer token's organization is known from its claims).
    pub fn org_id(&self) -> Option<OrgId> {
        match &self.actor {
            Actor::User(ctx) => Some(ctx.org_id),
            Actor::Provider(org) | Actor::DeliveryWorker(org) => Some(*org),
            Actor::Checked {
                resolved: Some(ctx),
                ..
            } => Some(ctx.org_id),
            Actor::Checked {
                credential: Credential::Session { org_id, .. },
                ..
            } => Some(*org_id),
            Actor::Checked { .. } => None,
        }
    }

    fn conn(&self) -> Result<&Object, DbError> {
        self.conn
            .as_ref()
            .ok_or_else(|| DbError::Client("transaction already ended".into()))
    }

    /// Declares that the next statement is this transaction's last, a write whose answer the
    /// handler needs before it answers (a create's INSERT ... RETURNING, a change's UPDATE, a
    /// delete): COMMIT is sent in the same pipeline, and [`TenantTx::commit`] then has nothing
    /// to send. When that statement opens the transaction, BEGIN, the context or the
    /// credential's check, the statement and COMMIT take one round trip; after statements that
    /// opened it already (an `If-Match` lock), the statement and COMMIT take one. A statement
    /// after it fails ("ended with its last statement") rather than run outside the
    /// transaction; so the caller must know that nothing follows it (a failed one leaves the
    /// transaction aborted, rolled back on drop, as always). The statement's effect, and the
    /// transaction's, are committed once its answer is read: an error the caller finds after
    /// that, in decoding the answer, no longer undoes them.
    ///
    /// Does nothing while an `Idempotency-Key` claimed by this transaction holds its COMMIT
    /// ([`crate::idempotency::claim`]): the key's stored response takes it
    /// ([`crate::idempotency::complete`]).
    pub fn commit_with_next_statement(&mut self) {
        if !self.commit_held {
            self.commit_with_next = true;
        }
    }

    /// Declares that statements of the caller's own follow whatever the handler sends (an
    /// `Idempotency-Key`'s stored response, after the handler's write): from now on
    /// [`TenantTx::commit_with_next_statement`] does nothing, so the handler's last statement
    /// cannot commit the transaction before them. Only the holder of the returned
    /// [`CommitHold`] can lift it, with [`TenantTx::release_commit_to_next_statement`]; both are
    /// this crate's, so that no caller of [`crate::idempotency`] can lift a key's hold.
    pub(crate) fn hold_commit(&mut self) -> CommitHold {
        self.commit_held = true;
        CommitHold(())
    }

    /// Lifts [`TenantTx::hold_commit`] and declares the next statement the transaction's last,
    /// as [`TenantTx::commit_with_next_statement`] does: for the statement the hold was kept for
    /// (an `Idempotency-Key`'s stored response), which then takes the COMMIT with it.
    pub(crate) fn release_commit_to_next_statement(&mut self, hold: CommitHold) {
        let CommitHold(()) = hold;
        self.commit_held = false;
        self.commit_with_next_statement();
    }

    /// Prepares `sql` (and, when the transaction is not open yet, BEGIN and the context
    /// statement, kept beside the connection with COMMIT from its first use), and marks the
    /// transaction open: from here on the connection may be inside a transaction, whatever
    /// happens next.
    async fn prepare_first(&mut self, sql: &str) -> Result<(Statement, Option<Opening>), DbError> {
        let conn = self.conn()?;
        match self.state {
            State::Open => return Ok((conn.prepare_cached(sql).await?, None)),
            State::Committed => {
                return Err(DbError::Client(
                    "the transaction ended with its last statement (committed with it)".into(),
                ));
            }
            State::Fresh => {}
        }
        let opening = match &self.actor {
            Actor::Checked {
                credential: Credential::Session { .. },
                ..
            } => Fixed::EnterSession,
            Actor::Checked {
                credential: Credential::ApiKey { .. },
                long: false,
                ..
            } => Fixed::EnterApiKey,
            Actor::Checked {
                credential: Credential::ApiKey { .. },
                long: true,
                ..
            } => Fixed::EnterApiKeyLong,
            Actor::User(_) | Actor::Provider(_) | Actor::DeliveryWorker(_) => Fixed::SetContext,
        };
        let (begin, context, stmt) = match (conn.fixed(Fixed::Begin), conn.fixed(opening)) {
            (Some(begin), Some(context)) => {
                let (begin, context) = (begin.clone(), context.clone());
                (begin, context, conn.prepare_cached(sql).await?)
            }
            // The connection's first transaction of this kind: these three and COMMIT prepared
            // in one round trip. Boxed, so that this path's futures are not inline in every
            // request's.
            _ => {
                Box::pin(async {
                    let (begin, context, stmt, _) = tokio::try_join!(
                        conn.prepare_fixed(Fixed::Begin),
                        conn.prepare_fixed(opening),
                        async { Ok(conn.prepare_cached(sql).await?) },
                        conn.prepare_fixed(Fixed::Commit),
                    )?;
                    Ok::<_, DbError>((begin, context, stmt))
                })
                .await?
            }
        };
        self.state = State::Open;
        Ok((stmt, Some(Opening { begin, context })))
    }

    /// Marks the transaction not open when PostgreSQL reported no transaction at a pipeline's
    /// Sync (`b'I'`): a one-statement read's COMMIT ended it, or BEGIN itself failed. Then the
    /// drop sends no ROLLBACK (there is nothing to roll back), and a next statement opens a
    /// transaction again, with its context.
    fn ended_if_idle(&mut self, status: u8) {
        if status == b'I' {
            self.state = State::Fresh;
        }
    }

    /// [`TenantTx::ended_if_idle`] after a pipeline that ended with COMMIT: when the COMMIT ran
    /// (`commit_ran`: PostgreSQL answered it) and left no transaction, the transaction is
    /// [`State::Committed`], whatever the COMMIT answered and whatever the caller finds after,
    /// so nothing more runs as if it were still open. When a statement before it failed,
    /// PostgreSQL skipped the COMMIT: the transaction stays open and aborted, and the drop rolls
    /// it back.
    fn ended_by_commit(&mut self, status: u8, commit_ran: bool) {
        self.ended_if_idle(status);
        if status == b'I' && commit_ran {
            self.state = State::Committed;
        }
    }

    /// A pipeline that failed as a whole (its parameters not encoded, so nothing sent; the
    /// connection failed; or an answer out of protocol): what the server did is not known, so
    /// the connection is closed rather than rolled back and reused, and the transaction is over
    /// (a next statement fails: "transaction already ended").
    fn lost(&mut self, e: tokio_postgres::Error) -> DbError {
        if let Some(conn) = self.conn.take() {
            drop(Object::take(conn));
        }
        self.state = State::Fresh;
        e.into()
    }

    /// Keeps the context a checked credential's opening statement answered with (see
    /// [`opened`]): the role the user has now, which for a rechecked context may be higher than
    /// the one it was resolved to.
    fn resolved(&mut self, ctx: Option<TenantContext>) {
        if let (Some(ctx), Actor::Checked { resolved, .. }) = (ctx, &mut self.actor) {
            *resolved = Some(ctx);
        }
    }

    /// BEGIN, the opening statement and `stmt`, as one pipeline, leaving the transaction open
    /// (or, after [`TenantTx::commit_with_next_statement`], with COMMIT, committed): `stmt`'s
    /// answer.
    async fn open_with(
        &mut self,
        opening: &Opening,
        stmt: &Statement,
        params: Params<'_>,
    ) -> Result<PipelineAnswer, DbError> {
        if self.commit_with_next {
            // Boxed: a handler's write, not in every read's future.
            return Box::pin(self.open_and_commit(opening, stmt, params)).await;
        }
        let conn = self.conn()?;
        let mut text = ContextText::new();
        let values = OpeningValues::new(&self.actor, &mut text);
        let (bound, n) = values.params();
        let answers = conn
            .pipeline([
                (&opening.begin, &[]),
                (&opening.context, &bound[..n]),
                (stmt, params),
            ])
            .await;
        let ([begin, context, answer], status) = answers.map_err(|e| self.lost(e))?;
        self.ended_if_idle(status);
        let ctx = opened(&self.actor, begin, context)?;
        let answer = answered(answer)?;
        self.resolved(ctx);
        Ok(answer)
    }

    /// BEGIN, the opening statement, `stmt` and COMMIT as one pipeline, on a transaction not yet
    /// open (a one-statement read's, or a write's after
    /// [`TenantTx::commit_with_next_statement`]): `stmt`'s answer, once committed.
    async fn open_and_commit(
        &mut self,
        opening: &Opening,
        stmt: &Statement,
        params: Params<'_>,
    ) -> Result<PipelineAnswer, DbError> {
        let conn = self.conn()?;
        let commit = conn.prepare_fixed(Fixed::Commit).await?;
        let mut text = ContextText::new();
        let values = OpeningValues::new(&self.actor, &mut text);
        let (bound, n) = values.params();
        let answers = conn
            .pipeline([
                (&opening.begin, &[]),
                (&opening.context, &bound[..n]),
                (stmt, params),
                (&commit, &[]),
            ])
            .await;
        let ([begin, context, answer, commit], status) = answers.map_err(|e| self.lost(e))?;
        // Idle at the Sync: the transaction is over, committed (or rolled back by a COMMIT that
        // failed), or BEGIN failed. Otherwise a statement failed and PostgreSQL skipped every one
        // after it, the COMMIT included, and the drop rolls it back (a ROLLBACK in an aborted
        // transaction, so no warning in the database's log).
        self.ended_by_commit(status, commit.is_some());
        let ctx = opened(&self.actor, begin, context)?;
        let answer = answered(answer)?;
        answered(commit)?;
        self.resolved(ctx);
        Ok(answer)
    }

    /// `stmt` and COMMIT as one pipeline, in a transaction already open (after
    /// [`TenantTx::commit_with_next_statement`]): `stmt`'s answer, once committed.
    async fn last(
        &mut self,
        stmt: &Statement,
        params: Params<'_>,
    ) -> Result<PipelineAnswer, DbError> {
        let conn = self.conn()?;
        let commit = conn.prepare_fixed(Fixed::Commit).await?;
        let answers = conn.pipeline([(stmt, params), (&commit, &[])]).await;
        let ([answer, commit], status) = answers.map_err(|e| self.lost(e))?;
        self.ended_by_commit(status, commit.is_some());
        let answer = answered(answer)?;
        answered(commit)?;
        Ok(answer)
    }

    /// Runs one statement and returns its rows.
    pub async fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, DbError> {
        let (stmt, opening) = self.prepare_first(sql).await?;
        let Some(opening) = opening else {
            if self.commit_with_next {
                return Ok(Box::pin(self.last(&stmt, params)).await?.rows);
            }
            return Ok(self.conn()?.query(&stmt, params).await?);
        };
        Ok(self.open_with(&opening, &stmt, params).await?.rows)
    }

    /// Runs one statement that returns at most one row.
    pub async fn query_opt(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, DbError> {
        let mut rows = self.query(sql, params).await?;
        if rows.len() > 1 {
            return Err(DbError::Decode(format!(
                "expected at most one row, got {}",
                rows.len()
            )));
        }
        Ok(rows.pop())
    }

    /// Runs one statement that returns exactly one row.
    pub async fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row, DbError> {
        self.query_opt(sql, params)
            .await?
            .ok_or_else(|| DbError::Decode("expected one row, got none".into()))
    }

    /// Runs a statement and returns how many rows it affected (a statement without
    /// `RETURNING`; rows it would return are discarded).
    pub async fn execute(&mut self, sql: &str, params: Params<'_>) -> Result<u64, DbError> {
        let (stmt, opening) = self.prepare_first(sql).await?;
        let Some(opening) = opening else {
            if self.commit_with_next {
                return Ok(Box::pin(self.last(&stmt, params)).await?.rows_affected);
            }
            return Ok(self.conn()?.execute(&stmt, params).await?);
        };
        Ok(self.open_with(&opening, &stmt, params).await?.rows_affected)
    }

    /// Commits. On an error the transaction is over too: either COMMIT ran and PostgreSQL
    /// rolled the transaction back (a deferred constraint), or it never ran (refused at its
    /// Bind: its prepared statement gone, a cancel taking effect first) and the drop rolls the
    /// transaction back before the connection goes back to the pool.
    pub async fn commit(mut self) -> Result<(), DbError> {
        if self.state != State::Open {
            // Nothing was sent (there is no transaction to end), or the transaction was
            // committed with its last statement.
            return Ok(());
        }
        let conn = self.conn()?;
        let commit = conn.prepare_fixed(Fixed::Commit).await?;
        // Sent as a pipeline of one for the transaction status PostgreSQL reports at its Sync
        // (one round trip, as `execute`): an error does not tell whether COMMIT ran. Only a
        // status of no transaction means it did; an aborted one (`E`: COMMIT refused before it
        // ran) leaves the transaction open, for the drop's ROLLBACK, so the connection does not
        // go back to the pool inside an aborted transaction block.
        let answers = conn.pipeline([(&commit, &[])]).await;
        let ([answer], status) = answers.map_err(|e| self.lost(e))?;
        self.ended_by_commit(status, answer.is_some());
        answered(answer)?;
        Ok(())
    }

    /// A one-statement read in one round trip: BEGIN, the context, the query and COMMIT are
    /// pipelined. On a transaction already open (a list under a parent after reading that the
    /// parent exists), the query and COMMIT are pipelined, as
    /// [`TenantTx::commit_with_next_statement`] sends them.
    ///
    /// A read that opens the transaction and finds its pooled connection dead (closed, broken,
    /// or ended by the server: [`DbError::is_dead_connection`]) is sent once more on a new
    /// connection: the pool's idle connections are closed first, as they are likely dead too
    /// (a restart, or backends terminated together). Only reads come here, so sending one again
    /// changes nothing, whatever the first attempt reached; the error of the second attempt is
    /// the answer.
    // Not an `async fn`: it only hands on the read's future (see `crud::list_page`).
    pub fn query_once(
        self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>, DbError>> {
        self.query_once_in_context(sql, params)
            .map(|answer| answer.map(|(rows, _)| rows))
    }

    /// [`TenantTx::query_once`], also returning the context the transaction acted in (for a
    /// checked credential, the one its check resolved).
    pub async fn query_once_in_context(
        mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<(Vec<Row>, Option<TenantContext>), DbError> {
        if self.state == State::Open {
            // Boxed, like the retry below: a rare path, not inline in every read's future.
            return Box::pin(async move {
                self.commit_with_next_statement();
                let rows = self.query(sql, params).await?;
                let ctx = self.context().copied();
                // Sends nothing once the read took the COMMIT with it.
                self.commit().await?;
                Ok((rows, ctx))
            })
            .await;
        }
        match self.pipelined_read(sql, params).await {
            Err(e) if e.is_dead_connection() => {
                tracing::warn!(error = %e, "a pooled database connection was dead; reading again on a new one");
                // Not back to the pool, and no ROLLBACK to send: the connection is gone.
                if let Some(dead) = self.conn.take() {
                    drop(Object::take(dead));
                }
                self.state = State::Fresh;
                self.pool.close_idle();
                // Boxed: a checkout and a second pipeline inline would more than double the size
                // of every read's future (which each caller copies into its own) for a path
                // taken after a restart.
                Box::pin(async move {
                    self.conn = Some(self.pool.get().await?);
                    self.pipelined_read(sql, params).await
                })
                .await
            }
            other => other,
        }
    }

    /// BEGIN, the context, `sql` and COMMIT in one round trip, on a transaction not yet open.
    async fn pipelined_read(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<(Vec<Row>, Option<TenantContext>), DbError> {
        let (stmt, opening) = self.prepare_first(sql).await?;
        let opening = opening.ok_or_else(|| DbError::Client("transaction already open".into()))?;
        let rows = self.open_and_commit(&opening, &stmt, params).await?.rows;
        Ok((rows, self.context().copied()))
    }

    /// Prepares a statement on this transaction's connection without running it (so that a
    /// caller can check its parameter types, or warm the cache).
    pub async fn prepare(&self, sql: &str) -> Result<Statement, DbError> {
        Ok(self.conn()?.prepare_cached(sql).await?)
    }
}

/// A pipelined statement's answer as a [`DbError`] when it failed. Converted one at a time, in
/// the order sent, and only up to the first error: that one becomes the request's
/// [`DbError`] (and is counted, [`crate::error_counter`]), so a refused credential counts one
/// refusal. A statement PostgreSQL skipped (`None`) follows a failed one, whose error is
/// returned first.
fn answered(
    answer: Option<Result<PipelineAnswer, tokio_postgres::Error>>,
) -> Result<PipelineAnswer, DbError> {
    match answer {
        Some(answer) => Ok(answer?),
        None => Err(DbError::Client(
            "a pipelined statement was skipped without an error before it".into(),
        )),
    }
}

/// The answers of BEGIN and of the opening statement (the context, or a credential's check):
/// the context a checked credential resolved to; `None` for a context the caller set.
fn opened(
    actor: &Actor,
    begin: Option<Result<PipelineAnswer, tokio_postgres::Error>>,
    context: Option<Result<PipelineAnswer, tokio_postgres::Error>>,
) -> Result<Option<TenantContext>, DbError> {
    answered(begin)?;
    let Actor::Checked {
        resolved,
        record_on,
        ..
    } = actor
    else {
        answered(context)?;
        return Ok(None);
    };
    let context = answered(context).map_err(|e| match (e, resolved) {
        // The context was known with this role: it was lowered since.
        (DbError::Refused(Refusal::Role(least)), Some(_)) => {
            DbError::Refused(Refusal::RoleLowered(least))
        }
        (e, _) => e,
    })?;
    let [row] = <[Row; 1]>::try_from(context.rows).map_err(|rows| {
        DbError::Decode(format!(
            "a credential's check answered {} rows, not one",
            rows.len()
        ))
    })?;
    // A rechecked context's ids are on the span already (recorded when it was first resolved).
    resolve(&row, record_on.as_ref().filter(|_| resolved.is_none()))
}

/// The context a checked credential's opening statement answered with (see
/// [`TenantTx::begin_checked`]).
fn resolve(row: &Row, record_on: Option<&tracing::Span>) -> Result<Option<TenantContext>, DbError> {
    let role: &str = row.try_get("role")?;
    let ctx = TenantContext {
        org_id: OrgId::from_uuid(row.try_get("organization_id")?),
        user_id: UserId::from_uuid(row.try_get("user_id")?),
        role: Role::parse(role).map_err(|_| DbError::Decode(format!("unknown role {role:?}")))?,
    };
    // An API key's ids are recorded as soon as the check has answered, before the query's own
    // answer: a request whose query then fails still logs who it acted for. The request's span
    // (tracing-actix-web's root span, which palisade_api's `Caller` hands over; a span without
    // these fields drops them) declares them. A session's are the token's, which the HTTP layer
    // recorded when it verified the token (`Caller`): recorded again, tracing's formatter would
    // print each twice on the request's line.
    if let Some(span) = record_on {
        span.record("org.id", tracing::field::display(ctx.org_id));
        span.record("user.id", tracing::field::display(ctx.user_id));
    }
    Ok(Some(ctx))
}

/// The values an opening statement binds, in the frame of the call that sends its pipeline
/// (`Client::pipeline` borrows its parameters).
enum OpeningValues<'a> {
    /// [`ENTER_SESSION`]'s.
    Session {
        org: Uuid,
        user: Uuid,
        version: i32,
        least: &'static str,
    },
    /// [`ENTER_API_KEY`]'s.
    ApiKey { hash: &'a [u8], least: &'static str },
    /// [`SET_CONTEXT`]'s.
    Context {
        org: &'a str,
        user: &'a str,
        role: &'static str,
    },
}

impl<'a> OpeningValues<'a> {
    fn new(actor: &'a Actor, text: &'a mut ContextText) -> Self {
        match actor {
            Actor::Checked {
                credential:
                    Credential::Session {
                        org_id,
                        user_id,
                        version,
                    },
                least,
                ..
            } => Self::Session {
                org: org_id.as_uuid(),
                user: user_id.as_uuid(),
                version: *version,
                least: least.as_str(),
            },
            Actor::Checked {
                credential: Credential::ApiKey { hash },
                least,
                ..
            } => Self::ApiKey {
                hash: hash.as_slice(),
                least: least.as_str(),
            },
            actor => {
                let (org, user, role) = text.params(actor);
                Self::Context { org, user, role }
            }
        }
    }

    /// The parameters, and how many of them the statement takes.
    fn params(&self) -> ([&(dyn ToSql + Sync); 4], usize) {
        match self {
            Self::Session {
                org,
                user,
                version,
                least,
            } => ([org, user, version, least], 4),
            Self::ApiKey { hash, least } => ([hash, least, &"", &""], 2),
            Self::Context { org, user, role } => ([org, user, role, &""], 3),
        }
    }
}

/// The text of the three context settings, formatted on the stack (no allocation on the hot
/// path).
struct ContextText {
    org: [u8; uuid::fmt::Hyphenated::LENGTH],
    user: [u8; uuid::fmt::Hyphenated::LENGTH],
}

impl ContextText {
    fn new() -> Self {
        Self {
            org: [0; uuid::fmt::Hyphenated::LENGTH],
            user: [0; uuid::fmt::Hyphenated::LENGTH],
        }
    }

    /// `(app.current_org, app.current_user, app.current_role)` for `actor`.
    fn params(&mut self, actor: &Actor) -> (&str, &str, &'static str) {
        let (org, user, role) = match actor {
            // Not reached: a checked credential's opening statement sets the context itself.
            Actor::Checked { .. } => (None, None, ""),
            Actor::User(ctx) => (
                Some(ctx.org_id.as_uuid()),
                Some(ctx.user_id.as_uuid()),
                ctx.role.as_str(),
            ),
            // '' reads back as NULL (nullif in the context helpers): no user, no role.
            Actor::Provider(org) => (Some(org.as_uuid()), None, ""),
            Actor::DeliveryWorker(org) => (Some(org.as_uuid()), None, DELIVERY_WORKER_ROLE),
        };
        let org: &str = match org {
            Some(id) => id.hyphenated().encode_lower(&mut self.org),
            None => "",
        };
        let user: &str = match user {
            Some(id) => id.hyphenated().encode_lower(&mut self.user),
            None => "",
        };
        (org, user, role)
    }
}

impl Drop for TenantTx {
    fn drop(&mut self) {
        if self.state != State::Open {
            return;
        }
        let Some(conn) = self.conn.take() else { return };
        // The connection may be inside a transaction (with this tenant's context set). It must
        // not reach the next request that way: roll back before it returns to the pool, or
        // close it (the server then rolls back) when no runtime is left to send the ROLLBACK.
        let mut unsettled = Unsettled(Some(conn));
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                // A runtime that stops (a worker ending) drops the task unrun or mid-ROLLBACK,
                // and with it `unsettled`, which closes the connection.
                handle.spawn(async move {
                    if let Some(conn) = &unsettled.0
                        && conn.batch_execute("ROLLBACK").await.is_ok()
                    {
                        // Rolled back: back to the pool.
                        drop(unsettled.0.take());
                    }
                });
            }
            Err(_) => drop(unsettled),
        }
    }
}

/// A connection that may be inside a transaction: closed when dropped (out of the pool for good,
/// and the server rolls back), unless taken out once it is known to be outside one.
struct Unsettled(Option<Object>);

impl Drop for Unsettled {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            drop(Object::take(conn));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The opening check's refusals, and a later check's role lowered (`PA409`), read from the
    /// server's SQLSTATE and message; anything else is no refusal.
    #[test]
    fn a_refusal_is_read_from_its_sqlstate_and_message() {
        let read = Refusal::from_server;
        assert_eq!(
            read("PA401", "credentials_changed"),
            Some(Refusal::CredentialsChanged)
        );
        assert_eq!(read("PA403", "admin"), Some(Refusal::Role(Role::Admin)));
        assert_eq!(
            read("PA409", "owner"),
            Some(Refusal::RoleLowered(Role::Owner))
        );
        assert_eq!(read("PA409", "nobody"), None);
        assert_eq!(read("PA401", "something_else"), None);
        assert_eq!(read("23505", "admin"), None);
    }
}
