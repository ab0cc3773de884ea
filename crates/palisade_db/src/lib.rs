//! Palisade's database layer: the only crate that talks to PostgreSQL.
//!
//! What it owns:
//! - [`pool`]: the connection pools, one per database role: [`AppPool`] (`palisade_app`) for
//!   tenants and carrier/email webhooks; [`stripe`]'s [`BillingPool`] (`palisade_billing`,
//!   BYPASSRLS), whose only operations are the Stripe webhook's.
//! - [`tenant_tx`]: [`TenantTx`], the only way to reach tenant tables. It sets the request's
//!   organization transaction-locally; PostgreSQL row-level security does the filtering.
//! - [`schema`]: bootstrap (roles, database), migrations (`sql/`), policies (`policies/`, sorted
//!   by [`policy_kind`]: superuser, SECURITY DEFINER and owner files) and
//!   the startup checks that refuse a dangerous app role.
//! - [`audit`]: the DBA audit (the `palisade_audit` views, and drift from the repository).
//! - [`analysts`]: read-only analyst roles pinned to one organization (`palisade analyst`).
//! - [`auth`], [`customers`], [`messaging`], [`chat`], [`chatbot`], [`ivr_menus`], [`phone_numbers`],
//!   [`knowledge_base`], [`reports`], [`analytics`], [`social`]: the queries, which never filter
//!   by organization themselves.
//! - [`webhooks`] and [`email_events`]: carrier and email-provider deliveries, routed by
//!   resolver functions and applied in provider transactions.
//! - [`integrations`], [`outbound_webhooks`], [`api_keys`], [`members`], [`organization`],
//!   [`billing`]: the tenant domain's configuration, people and billing, likewise.
//! - [`idempotency`]: the first response to each `Idempotency-Key`, in the request's own
//!   transaction.
//! - [`twilio_status`]: Twilio's SMS and call status callbacks, applied forward only.
//! - [`retention`]: deleting append-only records past their window, through the owner-only
//!   definer of `policies/029_retention.sql`.
//! - [`phone_inventory`]: the platform's phone number inventory, for the operator (`palisade
//!   numbers`, as the owner role); tenants claim from it through [`phone_numbers`].
//!
//! - [`tls`]: [`DbConfig`], the one way from a database URL to a connection: libpq's `sslmode`
//!   (disable, prefer, require, verify-ca, verify-full) and `sslrootcert` over rustls.
//!
//! Errors are [`DbError`]: its `Display` never includes a server message or a parameter value,
//! so it is safe to log (server messages can quote row data).

pub mod accounts;
pub mod analysts;
pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod aws_connect;
pub mod billing;
pub mod chat;
pub mod chatbot;
pub mod crud;
pub mod customers;
pub mod days;
pub mod email_events;
mod error;
pub mod idempotency;
pub mod integrations;
pub mod ivr_menus;
pub mod knowledge_base;
pub mod list;
pub mod lock;
pub mod members;
pub mod messaging;
pub mod organization;
pub mod outbound_delivery;
pub mod outbound_webhooks;
pub mod phone_inventory;
pub mod phone_numbers;
pub mod policy_kind;
pub mod pool;
pub mod reports;
pub mod retention;
pub mod rotation;
pub mod schema;
pub mod social;
pub mod stripe;
pub mod sync;
pub mod tenant_tx;
pub mod tls;
pub mod twilio_status;
pub mod webhooks;

pub use error::{DbError, ErrorClass, error_counter};
pub use pool::{AppPool, PoolSettings, PoolStatus, UrlSource};
pub use stripe::{BillingPool, StripeOutcome};
pub use tenant_tx::TenantTx;
pub use tls::DbConfig;

/// Keyset pagination input shared by list queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest<C> {
    /// Continue after this position (exclusive); `None` starts at the beginning.
    pub after: Option<C>,
    /// How many items at most (the API bounds it to 1..=100).
    pub limit: u16,
    /// Only rows created in this window (every list has it: `created_after` inclusive,
    /// `created_before` exclusive).
    pub created: list::CreatedRange,
}

/// One page of a keyset-paginated list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, C> {
    /// The items, in list order.
    pub items: Vec<T>,
    /// Where the next page starts, when there may be one.
    pub next: Option<C>,
}
