//! Connection pools. Each pool connects as exactly one database role; the app pool's role is
//! checked at startup ([`crate::schema::check_app_role`]).
//!
//! Handlers never receive a raw connection: the app pool is only usable through
//! [`crate::TenantTx`] and the narrow pre-tenant functions of [`crate::auth`]. The billing
//! role's pool is [`crate::BillingPool`] (its own module): it exposes nothing but the Stripe
//! operations.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::DbError;

/// `application_name` of the app pool's connections.
pub const APP_APPLICATION_NAME: &str = "palisade";

/// How to build a pool.
#[derive(Clone, Debug)]
pub struct PoolSettings {
    /// `postgresql://user:password@host:port/db`. Never logged.
    pub url: palisade_domain::Secret,
    /// Most connections open at once.
    pub max_size: usize,
    /// How long to wait for a free connection (or a new one) before answering "unavailable".
    pub wait_timeout: Duration,
}

/// Builds a deadpool pool for one role. Connects lazily. `application_name` tells the pools
/// apart in `pg_stat_activity` (`palisade` for the app pool, `palisade-billing` for Stripe's).
pub(crate) fn build_pool(settings: &PoolSettings, application_name: &str) -> Result<Pool, DbError> {
    let mut config: tokio_postgres::Config = settings.url.expose().parse().map_err(|_| {
        DbError::Unavailable("the database URL is not a valid PostgreSQL URL".into())
    })?;
    config.application_name(application_name);
    config.connect_timeout(settings.wait_timeout);
    // Fast recycling only checks that the connection is open. That is enough because a
    // connection never goes back to the pool inside a transaction: TenantTx commits, or
    // rolls back (or closes the connection) when dropped.
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(settings.max_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(settings.wait_timeout))
        .create_timeout(Some(settings.wait_timeout))
        .build()
        .map_err(|e| DbError::Unavailable(e.to_string()))
}

/// The pool of connections as the app role (`palisade_app`): every tenant request and every
/// carrier/email webhook. Cheap to clone.
#[derive(Clone)]
pub struct AppPool {
    pool: Pool,
}

impl AppPool {
    /// Builds the pool; no connection is made until one is needed.
    pub fn new(settings: &PoolSettings) -> Result<Self, DbError> {
        Ok(Self {
            pool: build_pool(settings, APP_APPLICATION_NAME)?,
        })
    }

    pub(crate) async fn get(&self) -> Result<Object, DbError> {
        Ok(self.pool.get().await?)
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

    /// Connections open now and how many of them are idle, for logs and metrics.
    pub fn status(&self) -> (usize, usize) {
        let s = self.pool.status();
        (s.size, s.available)
    }

    /// Closes every connection; later checkouts fail. Called on shutdown, before PostgreSQL
    /// itself is stopped.
    pub fn close(&self) {
        self.pool.close();
    }
}
