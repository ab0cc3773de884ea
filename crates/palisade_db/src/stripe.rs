//! [`BillingPool`]: the pool of the BYPASSRLS role `palisade_billing`, usable for the Stripe
//! webhook and nothing else.
//!
//! What one Stripe event does, in one transaction ([`BillingPool::apply_stripe_event`]):
//! 1. find the organization and lock its row (`FOR NO KEY UPDATE`, so events of one organization
//!    apply one at a time): `checkout.session.completed` by `client_reference_id` (the
//!    organization id the platform's server puts on the Checkout Sessions it creates: Palisade has
//!    no Stripe client), when the session's own
//!    `metadata.organization_id` says the same (anyone opening a Payment Link may set
//!    `client_reference_id`; only the session's creator sets its metadata), every other handled type
//!    by the Stripe customer id stored on the organization, which must match exactly one, or,
//!    when none has it yet, the organization named by the object's `metadata.organization_id`
//!    (Stripe may send a subscription or invoice event before the checkout), which then gets the
//!    customer if it has no other. Before the organizations are read, a transaction-level advisory
//!    lock on the customer id: two events linking one new customer to two organizations at
//!    once run one after the other, and the second finds the customer taken;
//! 2. record the event id in `palisade_platform.stripe_events` (`ON CONFLICT DO NOTHING`): taken
//!    means a duplicate, and nothing else is written. Concurrent duplicates queue on the primary
//!    key (and on the organization's row lock), so exactly one applies;
//! 3. apply it: store the customer id (checkout), upsert the subscription and bring the
//!    organization's `plan`/`plan_status` in step (subscriptions), or upsert the invoice.
//!
//! Out-of-order delivery: a subscription or invoice row carries `stripe_updated_at`, the `created`
//! time of the event that last wrote it. An event older than that changes nothing (outcome
//! [`StripeOutcome::Stale`]; its id is still recorded). On equal seconds the later *arrival*
//! wins, except that a row in a final status (subscription `cancelled`/`incomplete_expired`,
//! invoice `paid`/`void`) never takes another status: Stripe never leaves those, so an event
//! saying otherwise in the same second is the older one. Likewise a subscription never goes
//! back to `incomplete`, its first status: Checkout's `customer.subscription.created`
//! (`incomplete`) and `.updated` (`active`) usually share a second and may arrive reversed.
//!
//! Events that find no organization (unknown customer, a checkout without our
//! `client_reference_id`), and types Palisade does not handle, write nothing at all, not even the
//! event id.

use std::sync::Arc;

use palisade_domain::OrgId;
use palisade_domain::stripe::{
    CheckoutSession, Invoice, InvoiceStatus, PlanName, StripeCustomerId, StripeEvent,
    StripeEventKind, StripeTimestamp, Subscription, SubscriptionStatus,
};
use time::OffsetDateTime;
use tokio_postgres::Transaction;
use uuid::Uuid;

use crate::billing::ENDED_SUBSCRIPTION_STATUSES;
use crate::pool::{Credentials, Crossings, Object, Pool, Vetting, build_pool};
use crate::schema::{BILLING_ROLE, SchemaError};
use crate::{AppPool, DbError, PoolSettings};

/// `application_name` of the billing pool's connections (visible in `pg_stat_activity`).
pub const BILLING_APPLICATION_NAME: &str = "palisade-billing";

/// The columns of `palisade.subscriptions` the billing role may UPDATE: exactly the ones
/// the subscription upsert sets on a conflict (a unit test keeps the two in step), which
/// `policies/440_billing.sql` grants column by column. Not `organization_id`, `id`,
/// `stripe_subscription_id` or `created_at`: with BYPASSRLS, an UPDATE of those could move a
/// subscription to another organization. [`BillingPool::check_role`] refuses an UPDATE of any
/// other column.
pub const SUBSCRIPTION_UPDATED_COLUMNS: &[&str] = &[
    "status",
    "plan",
    "stripe_price_id",
    "quantity",
    "unit_amount_cents",
    "currency",
    "current_period_start",
    "current_period_end",
    "cancel_at_period_end",
    "cancelled_at",
    "stripe_updated_at",
    "updated_at",
];

/// The columns of `palisade.invoices` the billing role may UPDATE: those the invoice upsert
/// sets on a conflict (as [`SUBSCRIPTION_UPDATED_COLUMNS`]). Not `organization_id`, `id`,
/// `stripe_invoice_id` or `created_at`.
pub const INVOICE_UPDATED_COLUMNS: &[&str] = &[
    "stripe_subscription_id",
    "number",
    "status",
    "currency",
    "subtotal_cents",
    "total_cents",
    "amount_due_cents",
    "amount_paid_cents",
    "period_start",
    "period_end",
    "due_at",
    "paid_at",
    "hosted_invoice_url",
    "stripe_updated_at",
    "updated_at",
];

palisade_domain::str_enum! {
    /// What [`BillingPool::apply_stripe_event`] did. Every outcome but the errors is answered
    /// 2xx: Stripe must stop retrying. Its spelling is a stable name for logs.
    pub enum StripeOutcome {
        /// Written.
        Applied = "applied",
        /// Older than what is stored: the event id was recorded, nothing else changed.
        Stale = "stale",
        /// Already applied: nothing written.
        Duplicate = "duplicate",
        /// A type Palisade does not handle, or a checkout without a customer: nothing written.
        Ignored = "ignored",
        /// No organization has this Stripe customer: nothing written.
        UnknownCustomer = "unknown_customer",
        /// `checkout.session.completed` whose `client_reference_id` names no organization:
        /// nothing written.
        UnknownOrganization = "unknown_organization",
        /// `checkout.session.completed` whose `client_reference_id` the session's own
        /// `metadata.organization_id` does not confirm (a session made from a Payment Link or a
        /// pricing table, whose visitor may set `client_reference_id`, or one created without
        /// that metadata): nothing written.
        UnconfirmedOrganization = "unconfirmed_organization",
        /// More than one organization has this Stripe customer: nothing written. A data problem
        /// an operator must fix; the handler answers 500 so that Stripe keeps retrying meanwhile.
        AmbiguousCustomer = "ambiguous_customer",
        /// The checkout's customer already belongs to another organization (it would make the
        /// customer ambiguous), or the organization already has another customer (it would take
        /// the organization's billing away from its customer): nothing written. Answered like
        /// [`Self::AmbiguousCustomer`].
        CustomerConflict = "customer_conflict",
    }
}

/// The pool of connections as `palisade_billing`, which bypasses row-level security.
///
/// **This type is the compile-time guarantee that only the Stripe path can use the billing
/// role.** Its deadpool pool is a private field, and it has no method that returns a connection,
/// a transaction or runs caller-supplied SQL: its only operations are [`Self::check_role`] and
/// [`Self::apply_stripe_event`], whose statements are fixed here. The server hands it to exactly
/// one route, `POST /webhooks/stripe` (attached to that resource alone, not to the shared
/// application state); tenant handlers and the carrier and email webhooks only ever receive
/// [`AppPool`] (`palisade_app`, no BYPASSRLS), so they cannot reach the billing role even by
/// mistake. It connects lazily: no billing connection exists before the first Stripe event.
#[derive(Clone)]
pub struct BillingPool {
    pool: Pool,
    role: String,
    /// Its connections in use on a thread other than their driver's.
    crossings: Arc<Crossings>,
}

impl std::fmt::Debug for BillingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillingPool")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl BillingPool {
    /// Builds the pool (`application_name` `palisade-billing`); no connection is made until the
    /// first Stripe event. A reloading URL (`PALISADE_BILLING_DATABASE_URL_FILE`) is read again
    /// whenever the pool opens a connection (the role stays `palisade_billing`; its password may
    /// change: docs/dba.md, "Rotating passwords").
    pub fn new(settings: &PoolSettings) -> Result<Self, DbError> {
        let url = settings.url.read().map_err(DbError::Unavailable)?;
        let config = crate::DbConfig::parse(url.expose())
            .map_err(|e| e.for_url("the billing database URL"))?;
        let role = config
            .pg()
            .get_user()
            .ok_or_else(|| DbError::Unavailable("the billing database URL names no user".into()))?
            .to_owned();
        Ok(Self {
            pool: build_pool(
                settings,
                Credentials::new(settings, BILLING_APPLICATION_NAME, Vetting::None)?,
            )?,
            role,
            crossings: Arc::default(),
        })
    }

    /// A connection, counted while it is in use on a thread other than the one that drives it;
    /// once the pool settles for a stop, only one this thread drives
    /// ([`BillingPool::settle_for_stop`]).
    async fn get(&self) -> Result<Object, DbError> {
        loop {
            if let Some(conn) = self.crossings.check_out(self.pool.get().await?) {
                return Ok(conn);
            }
        }
    }

    /// [`AppPool::settle_for_stop`] for this pool, which the HTTP workers share: a Stripe event
    /// is often applied on a connection another worker opened, and drives.
    pub async fn settle_for_stop(&self, within: std::time::Duration) -> bool {
        self.crossings.settle(within).await
    }

    /// How many connections are in use now on a thread other than the one that drives them.
    pub fn in_use_across_threads(&self) -> usize {
        self.crossings.in_use()
    }

    /// The role the pool connects as (from its URL).
    pub fn role(&self) -> &str {
        &self.role
    }

    /// Re-reads a reloading URL every second until the pool is closed, closing idle connections
    /// opened with a replaced one (as [`AppPool::watch_credential`]); returns at once for a
    /// fixed URL. The server spawns it when Stripe is configured.
    pub async fn watch_credential(self) {
        crate::pool::watch_pool(std::slice::from_ref(&self.pool)).await;
    }

    /// Closes every connection; later events fail with "unavailable". Called on shutdown.
    pub fn close(&self) {
        self.pool.close();
    }

    /// The pool's connections now, for the metrics.
    pub fn status(&self) -> crate::PoolStatus {
        crate::PoolStatus::of(&self.pool)
    }

    /// Refuses to start unless the billing URL's role is a safe `palisade_billing`: that very
    /// role (the one BYPASSRLS role the audit allows), able to log in, BYPASSRLS (it writes
    /// every organization's billing rows), not a superuser or a member of one, without REPLICATION
    /// or a membership that gives it or the server's files (its grants must confine it: a base
    /// backup or a logical slot reads every table), owning no relation or schema in Palisade's schemas (functions
    /// and types are not counted here; the audit's `billing_role_beyond_billing` counts functions), and with no privilege on any tenant
    /// table beyond billing: `subscriptions`, `invoices`, and `organizations`' `id` and billing
    /// columns; nor on a platform table other than its own `stripe_events` (a BYPASSRLS role
    /// that could delete from `mailgun_tokens` could reopen Mailgun replays). On
    /// `subscriptions` and `invoices`, no UPDATE of a column its upserts do not set
    /// ([`SUBSCRIPTION_UPDATED_COLUMNS`], [`INVOICE_UPDATED_COLUMNS`]: a table-wide UPDATE
    /// could move a row to another organization), and no DELETE, TRUNCATE, REFERENCES or TRIGGER.
    ///
    /// It reads the catalogs **through the app pool** (every role may read them), so startup
    /// opens no billing connection: one exists only once a Stripe event arrived, which the tests
    /// check in `pg_stat_activity`. The billing password is therefore first used by the first
    /// event (a wrong one fails that event with a 5xx, which Stripe retries).
    pub async fn check_role(&self, via: &AppPool) -> Result<(), SchemaError> {
        if self.role != BILLING_ROLE {
            return Err(SchemaError::Refused(format!(
                "the billing database URL connects as {:?}; it must be {BILLING_ROLE} (the one \
                 BYPASSRLS role the audit allows)",
                self.role
            )));
        }
        let conn = via.get().await?;
        let row = conn
            .query_opt(
                "WITH r AS (SELECT oid, rolname, rolsuper, rolbypassrls, rolcanlogin, rolreplication
                              FROM pg_catalog.pg_roles WHERE rolname = $1),
                      tenant AS (SELECT c.oid, c.relname FROM pg_catalog.pg_class c
                                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                                  WHERE n.nspname = 'palisade' AND c.relkind IN ('r', 'p', 'v', 'm', 'f'))
                 SELECT r.rolsuper, r.rolbypassrls, r.rolcanlogin,
                        (SELECT count(*) FROM pg_catalog.pg_class c
                           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                          WHERE c.relowner = r.oid
                            AND n.nspname IN ('palisade', 'palisade_private', 'palisade_platform'))
                      + (SELECT count(*) FROM pg_catalog.pg_namespace n
                          WHERE n.nspowner = r.oid
                            AND n.nspname IN ('palisade', 'palisade_private', 'palisade_platform')) AS owned,
                        r.rolreplication
                        OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles s
                                    WHERE (s.rolsuper OR s.rolreplication
                                           OR s.rolname IN ('pg_read_server_files', 'pg_write_server_files',
                                                            'pg_execute_server_program'))
                                      AND s.oid <> r.oid
                                      AND pg_catalog.pg_has_role(r.oid, s.oid, 'MEMBER')) AS beyond_grants,
                        ARRAY(SELECT t.relname::text FROM tenant t
                               WHERE t.relname NOT IN ('subscriptions', 'invoices', 'organizations')
                                 AND (pg_catalog.has_table_privilege(r.oid, t.oid,
                                          'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                                      OR pg_catalog.has_any_column_privilege(r.oid, t.oid,
                                          'SELECT, INSERT, UPDATE, REFERENCES'))
                               ORDER BY 1)
                     || ARRAY(SELECT 'organizations.' || a.attname::text FROM pg_catalog.pg_attribute a
                               WHERE a.attrelid = 'palisade.organizations'::pg_catalog.regclass
                                 AND a.attnum > 0 AND NOT a.attisdropped
                                 AND a.attname NOT IN ('id', 'stripe_customer_id', 'plan', 'plan_status')
                                 AND pg_catalog.has_column_privilege(r.oid, a.attrelid, a.attnum,
                                         'SELECT, INSERT, UPDATE, REFERENCES')
                               ORDER BY 1)
                     || CASE WHEN pg_catalog.has_table_privilege(r.oid, 'palisade.organizations',
                                      'INSERT, DELETE, TRUNCATE, TRIGGER')
                             THEN ARRAY['organizations (insert, delete or truncate)'] ELSE '{}' END
                     || ARRAY(SELECT t.relname::text || '.' || a.attname::text || ' (update)'
                                FROM tenant t JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid
                               WHERE t.relname IN ('subscriptions', 'invoices')
                                 AND a.attnum > 0 AND NOT a.attisdropped
                                 AND a.attname::text <> ALL (CASE t.relname WHEN 'subscriptions'
                                                             THEN $2::text[] ELSE $3::text[] END)
                                 AND pg_catalog.has_column_privilege(r.oid, t.oid, a.attnum, 'UPDATE')
                               ORDER BY 1)
                     || ARRAY(SELECT t.relname::text || ' (delete, truncate, references or trigger)'
                                FROM tenant t
                               WHERE t.relname IN ('subscriptions', 'invoices')
                                 AND (pg_catalog.has_table_privilege(r.oid, t.oid,
                                          'DELETE, TRUNCATE, REFERENCES, TRIGGER')
                                      OR pg_catalog.has_any_column_privilege(r.oid, t.oid, 'REFERENCES'))
                               ORDER BY 1)
                     || ARRAY(SELECT 'palisade_platform.' || c.relname::text FROM pg_catalog.pg_class c
                                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                               WHERE n.nspname = 'palisade_platform' AND c.relname <> 'stripe_events'
                                 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                                 AND (pg_catalog.has_table_privilege(r.oid, c.oid,
                                          'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                                      OR pg_catalog.has_any_column_privilege(r.oid, c.oid,
                                          'SELECT, INSERT, UPDATE, REFERENCES'))
                               ORDER BY 1)
                        AS beyond_billing
                   FROM r",
                &[
                    &self.role,
                    &SUBSCRIPTION_UPDATED_COLUMNS,
                    &INVOICE_UPDATED_COLUMNS,
                ],
            )
            .await
            .map_err(DbError::from)?;
        let Some(row) = row else {
            return Err(SchemaError::Refused(format!(
                "the billing role {BILLING_ROLE} does not exist: run `palisade bootstrap`"
            )));
        };
        let get_bool = |i: usize| row.try_get::<_, bool>(i).map_err(DbError::from);
        let (superuser, bypass, login) = (get_bool(0)?, get_bool(1)?, get_bool(2)?);
        let owned: i64 = row.try_get(3).map_err(DbError::from)?;
        let beyond_grants = get_bool(4)?;
        let beyond: Vec<String> = row.try_get(5).map_err(DbError::from)?;
        let mut reasons = Vec::new();
        if superuser || beyond_grants {
            reasons.push(
                "is (or can become) a superuser, or has (or can become a role with) REPLICATION \
                 or the server's files, so no grant confines it"
                    .to_owned(),
            );
        }
        if !bypass {
            reasons.push("lacks BYPASSRLS, so it cannot write billing rows".to_owned());
        }
        if !login {
            reasons.push("cannot log in".to_owned());
        }
        if owned > 0 {
            reasons.push(format!("owns {owned} object(s) of Palisade's schemas"));
        }
        if !beyond.is_empty() {
            reasons.push(format!(
                "holds privileges beyond billing on {}",
                beyond.join(", ")
            ));
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(SchemaError::Refused(format!(
                "the billing role {BILLING_ROLE} {} (policies/000_roles.sql and 440_billing.sql say \
                 what it should be; `palisade bootstrap` and `palisade migrate` restore it)",
                reasons.join(", ")
            )))
        }
    }

    /// Applies one verified Stripe event in one transaction (see the module docs). Types other
    /// than the handled ones return [`StripeOutcome::Ignored`] without touching the database.
    pub async fn apply_stripe_event(&self, event: &StripeEvent) -> Result<StripeOutcome, DbError> {
        if matches!(event.kind, StripeEventKind::Other { .. }) {
            return Ok(StripeOutcome::Ignored);
        }
        if let StripeEventKind::CheckoutSessionCompleted(CheckoutSession {
            customer: None, ..
        }) = event.kind
        {
            // A session without a customer (e.g. a one-off payment): nothing to link.
            return Ok(StripeOutcome::Ignored);
        }
        let mut conn = self.get().await?;
        let tx = conn.transaction().await?;
        let outcome = apply(&tx, event).await?;
        match outcome {
            StripeOutcome::Applied | StripeOutcome::Stale => tx.commit().await?,
            // Nothing was meant to be written: make sure nothing is.
            _ => tx.rollback().await?,
        }
        Ok(outcome)
    }
}

fn at(t: StripeTimestamp) -> Result<OffsetDateTime, DbError> {
    OffsetDateTime::from_unix_timestamp(t.unix())
        .map_err(|_| DbError::Decode("a Stripe timestamp out of range".into()))
}

fn at_opt(t: Option<StripeTimestamp>) -> Result<Option<OffsetDateTime>, DbError> {
    t.map(at).transpose()
}

/// Where an event is applied, or why it is not.
enum Target {
    Org(Uuid),
    Not(StripeOutcome),
}

async fn apply(tx: &Transaction<'_>, event: &StripeEvent) -> Result<StripeOutcome, DbError> {
    let target = match &event.kind {
        StripeEventKind::CheckoutSessionCompleted(c) => checkout_target(tx, c).await?,
        StripeEventKind::SubscriptionCreated(s)
        | StripeEventKind::SubscriptionUpdated(s)
        | StripeEventKind::SubscriptionDeleted(s) => {
            customer_target(tx, &s.customer, s.organization_id).await?
        }
        StripeEventKind::InvoicePaid(i) | StripeEventKind::InvoicePaymentFailed(i) => {
            match &i.customer {
                Some(c) => customer_target(tx, c, i.organization_id).await?,
                None => Target::Not(StripeOutcome::UnknownCustomer),
            }
        }
        StripeEventKind::Other { .. } => Target::Not(StripeOutcome::Ignored),
    };
    let org = match target {
        Target::Org(org) => org,
        Target::Not(outcome) => return Ok(outcome),
    };
    let recorded = tx
        .execute(
            "INSERT INTO palisade_platform.stripe_events (event_id, event_type, event_created, organization_id) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
            &[
                &event.id.as_str(),
                &event.kind.event_type(),
                &at(event.created)?,
                &org,
            ],
        )
        .await?;
    if recorded == 0 {
        return Ok(StripeOutcome::Duplicate);
    }
    match &event.kind {
        StripeEventKind::CheckoutSessionCompleted(c) => {
            // checkout_target only returns an organization for a session with a customer.
            if let Some(customer) = &c.customer {
                tx.execute(
                    "UPDATE palisade.organizations SET stripe_customer_id = $2 \
                     WHERE id = $1 AND stripe_customer_id IS DISTINCT FROM $2",
                    &[&org, &customer.as_str()],
                )
                .await?;
            }
            Ok(StripeOutcome::Applied)
        }
        StripeEventKind::SubscriptionCreated(s)
        | StripeEventKind::SubscriptionUpdated(s)
        | StripeEventKind::SubscriptionDeleted(s) => {
            upsert_subscription(tx, org, s, event.created).await
        }
        StripeEventKind::InvoicePaid(i) | StripeEventKind::InvoicePaymentFailed(i) => {
            upsert_invoice(tx, org, i, event.created).await
        }
        StripeEventKind::Other { .. } => Ok(StripeOutcome::Ignored),
    }
}

/// The organization named by the session's `client_reference_id` and confirmed by its
/// `metadata.organization_id`, locked, if the session's customer can be linked to it.
async fn checkout_target(tx: &Transaction<'_>, c: &CheckoutSession) -> Result<Target, DbError> {
    let (Some(org), Some(customer)) = (c.organization_id, &c.customer) else {
        return Ok(Target::Not(match c.customer {
            None => StripeOutcome::Ignored,
            Some(_) => StripeOutcome::UnknownOrganization,
        }));
    };
    // Whoever opens a Payment Link may set `client_reference_id`: alone, it would let anyone
    // who knows an organization's id (any member, past ones included) bind an organization
    // without a customer to a Stripe customer of theirs, whose subscription and invoices would
    // then be written to it, and whose later events of its own would be refused.
    if c.metadata_organization_id != Some(org) {
        return Ok(Target::Not(StripeOutcome::UnconfirmedOrganization));
    }
    let org = org.as_uuid();
    lock_customer(tx, customer).await?;
    let found = tx
        .query_opt(
            "SELECT stripe_customer_id FROM palisade.organizations WHERE id = $1 FOR NO KEY UPDATE",
            &[&org],
        )
        .await?;
    let Some(found) = found else {
        return Ok(Target::Not(StripeOutcome::UnknownOrganization));
    };
    // An organization keeps its customer: a checkout naming it with another customer is
    // refused (an operator decides), since `client_reference_id` alone is all that names it
    // (anyone opening a Payment Link could set it). Sessions for an organization that has a
    // customer must be created with that `customer`.
    let current: Option<String> = found.try_get(0)?;
    if current.is_some_and(|c| c != customer.as_str()) {
        return Ok(Target::Not(StripeOutcome::CustomerConflict));
    }
    let taken = tx
        .query_opt(
            "SELECT 1 FROM palisade.organizations WHERE stripe_customer_id = $1 AND id <> $2 LIMIT 1",
            &[&customer.as_str(), &org],
        )
        .await?;
    Ok(match taken {
        Some(_) => Target::Not(StripeOutcome::CustomerConflict),
        None => Target::Org(org),
    })
}

/// Takes a transaction-level advisory lock on `customer` ([`crate::lock::XACT_LOCK`], class
/// [`crate::lock::STRIPE_CUSTOMER_CLASS`]). Every event that may link a customer takes it before
/// reading who holds it: the organizations' row locks alone do not serialise two events
/// linking one new customer to two different organizations, which then both committed, and
/// every later event of that customer was refused as ambiguous. A hash collision only makes
/// two customers' events wait for each other.
async fn lock_customer(tx: &Transaction<'_>, customer: &StripeCustomerId) -> Result<(), DbError> {
    tx.execute(
        crate::lock::XACT_LOCK,
        &[&crate::lock::STRIPE_CUSTOMER_CLASS, &customer.as_str()],
    )
    .await?;
    Ok(())
}

/// The one organization whose `stripe_customer_id` is `customer`, locked. When none has it yet
/// and the object names an organization in its metadata (`metadata.organization_id`, set by
/// the platform's server when it creates the subscription through Checkout), that organization, if it exists
/// and is linked to no other customer: the event arrived before `checkout.session.completed`
/// (Stripe does not order its events), so it links the customer itself.
async fn customer_target(
    tx: &Transaction<'_>,
    customer: &StripeCustomerId,
    named: Option<OrgId>,
) -> Result<Target, DbError> {
    lock_customer(tx, customer).await?;
    let rows = tx
        .query(
            "SELECT id FROM palisade.organizations WHERE stripe_customer_id = $1 \
             ORDER BY id LIMIT 2 FOR NO KEY UPDATE",
            &[&customer.as_str()],
        )
        .await?;
    match rows.as_slice() {
        [one] => return Ok(Target::Org(one.try_get(0)?)),
        [_, _, ..] => return Ok(Target::Not(StripeOutcome::AmbiguousCustomer)),
        [] => {}
    }
    let Some(named) = named else {
        return Ok(Target::Not(StripeOutcome::UnknownCustomer));
    };
    // Locking the row serialises this with a concurrent checkout or event for the same
    // organization; after the wait, the condition is checked again on the row as it is then.
    let linked = tx
        .query_opt(
            "UPDATE palisade.organizations SET stripe_customer_id = $2 \
             WHERE id = $1 AND (stripe_customer_id IS NULL OR stripe_customer_id = $2) \
             RETURNING id",
            &[&named.as_uuid(), &customer.as_str()],
        )
        .await?;
    Ok(match linked {
        Some(row) => Target::Org(row.try_get(0)?),
        // No such organization, or it already has another customer: metadata does not move
        // an organization to another customer; only a completed Checkout does.
        None => Target::Not(StripeOutcome::UnknownCustomer),
    })
}

/// Inserts a subscription, or updates it (the columns of [`SUBSCRIPTION_UPDATED_COLUMNS`]) unless
/// the stored row is newer or in a status it must keep (module docs).
const UPSERT_SUBSCRIPTION: &str = "INSERT INTO palisade.subscriptions AS s (organization_id, id, stripe_subscription_id, \
         status, plan, stripe_price_id, quantity, unit_amount_cents, currency, \
         current_period_start, current_period_end, cancel_at_period_end, cancelled_at, \
         stripe_updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
     ON CONFLICT (organization_id, stripe_subscription_id) DO UPDATE SET \
         status = EXCLUDED.status, plan = EXCLUDED.plan, \
         stripe_price_id = EXCLUDED.stripe_price_id, quantity = EXCLUDED.quantity, \
         unit_amount_cents = EXCLUDED.unit_amount_cents, currency = EXCLUDED.currency, \
         current_period_start = EXCLUDED.current_period_start, \
         current_period_end = EXCLUDED.current_period_end, \
         cancel_at_period_end = EXCLUDED.cancel_at_period_end, \
         cancelled_at = EXCLUDED.cancelled_at, \
         stripe_updated_at = EXCLUDED.stripe_updated_at, updated_at = now() \
     WHERE s.stripe_updated_at <= EXCLUDED.stripe_updated_at \
       AND (s.status <> ALL ($15) OR s.status = EXCLUDED.status) \
       AND (EXCLUDED.status <> 'incomplete' OR s.status = 'incomplete') \
     RETURNING s.id";

/// Inserts an invoice, or updates it (the columns of [`INVOICE_UPDATED_COLUMNS`]) unless the
/// stored row is newer or final (module docs).
const UPSERT_INVOICE: &str = "INSERT INTO palisade.invoices AS i (organization_id, id, stripe_invoice_id, \
         stripe_subscription_id, number, status, currency, subtotal_cents, total_cents, \
         amount_due_cents, amount_paid_cents, period_start, period_end, due_at, paid_at, \
         hosted_invoice_url, stripe_updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
     ON CONFLICT (organization_id, stripe_invoice_id) DO UPDATE SET \
         stripe_subscription_id = EXCLUDED.stripe_subscription_id, \
         number = EXCLUDED.number, status = EXCLUDED.status, \
         currency = EXCLUDED.currency, subtotal_cents = EXCLUDED.subtotal_cents, \
         total_cents = EXCLUDED.total_cents, amount_due_cents = EXCLUDED.amount_due_cents, \
         amount_paid_cents = EXCLUDED.amount_paid_cents, \
         period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end, \
         due_at = EXCLUDED.due_at, paid_at = EXCLUDED.paid_at, \
         hosted_invoice_url = EXCLUDED.hosted_invoice_url, \
         stripe_updated_at = EXCLUDED.stripe_updated_at, updated_at = now() \
     WHERE i.stripe_updated_at <= EXCLUDED.stripe_updated_at \
       AND (i.status <> ALL ($18) OR i.status = EXCLUDED.status) \
     RETURNING i.id";

/// Inserts or updates the subscription unless the stored row is newer (module docs), then
/// brings the organization's plan in step. `Stale` when the row was left alone.
async fn upsert_subscription(
    tx: &Transaction<'_>,
    org: Uuid,
    s: &Subscription,
    event_created: StripeTimestamp,
) -> Result<StripeOutcome, DbError> {
    let final_statuses: Vec<&str> = SubscriptionStatus::FINAL
        .iter()
        .map(|s| s.as_str())
        .collect();
    let written = tx
        .query_opt(
            UPSERT_SUBSCRIPTION,
            &[
                &org,
                &Uuid::now_v7(),
                &s.id.as_str(),
                &s.status.as_str(),
                &s.plan.as_str(),
                &s.price_id.as_ref().map(|p| p.as_str()),
                &s.quantity,
                &s.unit_amount_cents,
                &s.currency.as_str(),
                &at_opt(s.current_period_start)?,
                &at_opt(s.current_period_end)?,
                &s.cancel_at_period_end,
                &at_opt(s.cancelled_at)?,
                &at(event_created)?,
                &final_statuses,
            ],
        )
        .await?;
    if written.is_none() {
        return Ok(StripeOutcome::Stale);
    }
    // The organization's plan is its current subscription's: the newest one that has not
    // ended, exactly what GET /v1/billing/subscription shows. With none, the plan falls back to
    // free and plan_status keeps the status of the subscription that just ended (cancelled).
    tx.execute(
        "WITH c AS (SELECT plan, status FROM palisade.subscriptions \
                     WHERE organization_id = $1 AND status <> ALL ($2) \
                     ORDER BY created_at DESC, id DESC LIMIT 1) \
         UPDATE palisade.organizations \
            SET plan = coalesce((SELECT plan FROM c), $3), \
                plan_status = coalesce((SELECT status FROM c), $4) \
          WHERE id = $1",
        &[
            &org,
            &ENDED_SUBSCRIPTION_STATUSES.as_slice(),
            &PlanName::FREE,
            &s.status.as_str(),
        ],
    )
    .await?;
    Ok(StripeOutcome::Applied)
}

/// Inserts or updates the invoice unless the stored row is newer (module docs).
async fn upsert_invoice(
    tx: &Transaction<'_>,
    org: Uuid,
    i: &Invoice,
    event_created: StripeTimestamp,
) -> Result<StripeOutcome, DbError> {
    let final_statuses: Vec<&str> = InvoiceStatus::FINAL.iter().map(|s| s.as_str()).collect();
    let written = tx
        .query_opt(
            UPSERT_INVOICE,
            &[
                &org,
                &Uuid::now_v7(),
                &i.id.as_str(),
                &i.subscription.as_ref().map(|s| s.as_str()),
                &i.number,
                &i.status.as_str(),
                &i.currency.as_str(),
                &i.subtotal_cents,
                &i.total_cents,
                &i.amount_due_cents,
                &i.amount_paid_cents,
                &at_opt(i.period_start)?,
                &at_opt(i.period_end)?,
                &at_opt(i.due_at)?,
                &at_opt(i.paid_at)?,
                &i.hosted_invoice_url,
                &at(event_created)?,
                &final_statuses,
            ],
        )
        .await?;
    Ok(if written.is_some() {
        StripeOutcome::Applied
    } else {
        StripeOutcome::Stale
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// The columns an upsert's `DO UPDATE SET` assigns, in order.
    fn set_columns(upsert: &str) -> Vec<&str> {
        let (_, set) = upsert.split_once("DO UPDATE SET").unwrap();
        let (set, _) = set.split_once(" WHERE ").unwrap();
        set.split(',')
            .map(|a| a.split_once('=').unwrap().0.trim())
            .collect()
    }

    /// What the billing role may UPDATE (policies/440_billing.sql grants, check_role holds it
    /// to) is what the upserts set: a column set but not granted would fail every such event
    /// with 42501; one granted but not set is reach the Stripe path does not need.
    #[test]
    fn the_updatable_columns_are_those_the_upserts_set() {
        assert_eq!(
            set_columns(UPSERT_SUBSCRIPTION),
            SUBSCRIPTION_UPDATED_COLUMNS
        );
        assert_eq!(set_columns(UPSERT_INVOICE), INVOICE_UPDATED_COLUMNS);
        for never in ["organization_id", "id", "created_at"] {
            assert!(!SUBSCRIPTION_UPDATED_COLUMNS.contains(&never), "{never}");
            assert!(!INVOICE_UPDATED_COLUMNS.contains(&never), "{never}");
        }
        assert!(!SUBSCRIPTION_UPDATED_COLUMNS.contains(&"stripe_subscription_id"));
        assert!(!INVOICE_UPDATED_COLUMNS.contains(&"stripe_invoice_id"));
    }
}
