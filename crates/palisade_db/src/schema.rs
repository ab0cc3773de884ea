//! Bootstrap, migrations, policies and the app-role startup checks.
//!
//! Order on a new server: [`bootstrap`] as a superuser (roles from `policies/000_roles.sql`,
//! their passwords, the database), then [`migrate`] as `palisade_owner` (the versioned
//! migrations in `sql/`, then every other file of `policies/`, re-applied on every start), then
//! the server checks its app role with [`check_app_role`] before it serves.

use tokio_postgres::{Client, NoTls};

use crate::{AppPool, DbError};

mod embedded {
    refinery::embed_migrations!("../../sql");
}

/// The schema that holds every tenant table.
pub const TENANT_SCHEMA: &str = "palisade";
/// The role the server's tenant pool must connect as.
pub const APP_ROLE: &str = "palisade_app";
/// The role that owns the schema and runs migrations.
pub const OWNER_ROLE: &str = "palisade_owner";
/// The BYPASSRLS role of the Stripe path.
pub const BILLING_ROLE: &str = "palisade_billing";
/// Oldest supported server: 15.3 fixed CVE-2023-2455 (RLS policies and cached plans across
/// SET ROLE).
pub const MIN_SERVER_VERSION_NUM: i32 = 150_003;

/// `policies/000_roles.sql`: run by a superuser.
pub const ROLES_SQL: &str = include_str!("../../../policies/000_roles.sql");

/// Every other file of `policies/`, in the order they are applied (by the owner role, in one
/// transaction, after migrations). A unit test checks this list against the directory.
pub const POLICY_FILES: &[(&str, &str)] = &[
    (
        "010_context_functions.sql",
        include_str!("../../../policies/010_context_functions.sql"),
    ),
    (
        "020_resolvers.sql",
        include_str!("../../../policies/020_resolvers.sql"),
    ),
    (
        "100_organizations.sql",
        include_str!("../../../policies/100_organizations.sql"),
    ),
    (
        "110_users.sql",
        include_str!("../../../policies/110_users.sql"),
    ),
    (
        "120_customers.sql",
        include_str!("../../../policies/120_customers.sql"),
    ),
];

/// Serialises concurrent `migrate` runs (two servers starting at once) on one database.
const MIGRATE_LOCK_KEY: i64 = 0x7061_6c69_7361_6465; // "palisade"

/// Why the schema could not be prepared, or why the server must not start.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A database error while bootstrapping or applying policies.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A migration failed. The message names the migration; it holds no tenant data.
    #[error("migration failed: {0}")]
    Migration(String),
    /// A policy file failed to apply.
    #[error("policy file {file} failed to apply: {message}")]
    Policy {
        /// The file in `policies/`.
        file: &'static str,
        /// The server's message (about schema objects, not tenant rows).
        message: String,
    },
    /// The server must not start, and this says why.
    #[error("refusing to start: {0}")]
    Refused(String),
}

/// Passwords for the login roles, set by [`bootstrap`].
#[derive(Clone)]
pub struct RolePasswords {
    /// For `palisade_owner`.
    pub owner: String,
    /// For `palisade_app`.
    pub app: String,
    /// For `palisade_billing`.
    pub billing: String,
}

impl std::fmt::Debug for RolePasswords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RolePasswords(<redacted>)")
    }
}

/// Connects one client (outside any pool) and drives its connection on a task.
pub async fn connect(url: &str) -> Result<Client, DbError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %DbError::from(e), "database connection ended");
        }
    });
    Ok(client)
}

/// As a superuser: creates or updates the roles, sets their passwords, and creates `database`
/// owned by `palisade_owner` if it does not exist. Safe to re-run.
pub async fn bootstrap(
    superuser_url: &str,
    database: &str,
    passwords: &RolePasswords,
) -> Result<(), SchemaError> {
    let client = connect(superuser_url).await?;
    check_server_version(&client).await?;
    client
        .batch_execute(ROLES_SQL)
        .await
        .map_err(|e| SchemaError::Policy {
            file: "000_roles.sql",
            message: e.to_string(),
        })?;
    for (role, password) in [
        (OWNER_ROLE, &passwords.owner),
        (APP_ROLE, &passwords.app),
        (BILLING_ROLE, &passwords.billing),
    ] {
        // ALTER ROLE takes no bind parameters: let the server quote the literal (format %L).
        let sql: String = client
            .query_one(
                "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)",
                &[&role, password],
            )
            .await
            .map_err(DbError::from)?
            .try_get(0)
            .map_err(DbError::from)?;
        client.batch_execute(&sql).await.map_err(DbError::from)?;
    }
    let exists = client
        .query_opt(
            "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1",
            &[&database],
        )
        .await
        .map_err(DbError::from)?
        .is_some();
    if !exists {
        let sql: String = client
            .query_one(
                "SELECT format('CREATE DATABASE %I OWNER palisade_owner', $1::text)",
                &[&database],
            )
            .await
            .map_err(DbError::from)?
            .try_get(0)
            .map_err(DbError::from)?;
        match client.batch_execute(&sql).await {
            Ok(()) => tracing::info!(db.name = database, "created database"),
            // Another process created it between our check and now: fine.
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
            Err(e) => return Err(DbError::from(e).into()),
        }
    }
    Ok(())
}

/// As `palisade_owner`: applies pending migrations from `sql/`, then re-applies every file of
/// `policies/` (except the roles file) in one transaction. Concurrent runs wait for each other.
pub async fn migrate(owner_url: &str) -> Result<(), SchemaError> {
    let mut client = connect(owner_url).await?;
    check_server_version(&client).await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATE_LOCK_KEY])
        .await
        .map_err(DbError::from)?;
    let result = migrate_locked(&mut client).await;
    // Unlock even after a failure; closing the connection would release it too.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK_KEY])
        .await;
    result
}

async fn migrate_locked(client: &mut Client) -> Result<(), SchemaError> {
    let report = embedded::migrations::runner()
        .run_async(client)
        .await
        .map_err(|e| SchemaError::Migration(e.to_string()))?;
    for m in report.applied_migrations() {
        tracing::info!(migration = %m, "applied migration");
    }
    apply_policies(client).await
}

/// Re-applies `policies/` (all but the roles file) in one transaction: either every policy of
/// the repository is live afterwards, or none of the changes are.
pub async fn apply_policies(client: &mut Client) -> Result<(), SchemaError> {
    let tx = client.transaction().await.map_err(DbError::from)?;
    for (file, sql) in POLICY_FILES {
        tx.batch_execute(sql)
            .await
            .map_err(|e| SchemaError::Policy {
                file,
                message: e.to_string(),
            })?;
    }
    tx.commit().await.map_err(DbError::from)?;
    tracing::info!(files = POLICY_FILES.len(), "applied policies");
    Ok(())
}

async fn check_server_version(client: &Client) -> Result<(), SchemaError> {
    let v: String = client
        .query_one("SELECT current_setting('server_version_num')", &[])
        .await
        .map_err(DbError::from)?
        .try_get(0)
        .map_err(DbError::from)?;
    let num: i32 = v.parse().unwrap_or(0);
    if num < MIN_SERVER_VERSION_NUM {
        return Err(SchemaError::Refused(format!(
            "PostgreSQL {num} is too old: Palisade needs 15.3 or newer (CVE-2023-2455)"
        )));
    }
    Ok(())
}

/// Refuses to start when the app pool's role could see past row-level security: it is a
/// superuser, has BYPASSRLS, owns anything in the tenant schemas (owners may disable RLS), or
/// is a member of a role that does. Also refuses a server older than 15.3.
pub async fn check_app_role(pool: &AppPool) -> Result<(), SchemaError> {
    let conn = pool.get().await?;
    check_server_version(&conn).await?;
    let row = conn
        .query_one(
            "SELECT r.rolname::text, r.rolsuper, r.rolbypassrls,
                    (SELECT count(*) FROM pg_catalog.pg_class c
                       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                      WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                        AND n.nspname IN ('palisade', 'palisade_private'))
                  + (SELECT count(*) FROM pg_catalog.pg_namespace n
                      WHERE n.nspowner = r.oid AND n.nspname IN ('palisade', 'palisade_private')) AS owned,
                    (SELECT string_agg(o.rolname, ', ' ORDER BY o.rolname) FROM pg_catalog.pg_roles o
                      WHERE o.oid <> r.oid AND pg_catalog.pg_has_role(r.oid, o.oid, 'MEMBER')
                        AND (o.rolsuper OR o.rolbypassrls
                             OR EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n
                                         WHERE n.nspowner = o.oid
                                           AND n.nspname IN ('palisade', 'palisade_private'))
                             OR EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                                          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                                         WHERE c.relowner = o.oid
                                           AND n.nspname IN ('palisade', 'palisade_private')))) AS risky_memberships
               FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await
        .map_err(DbError::from)?;
    let name: String = row.try_get(0).map_err(DbError::from)?;
    let superuser: bool = row.try_get(1).map_err(DbError::from)?;
    let bypass: bool = row.try_get(2).map_err(DbError::from)?;
    let owned: i64 = row.try_get(3).map_err(DbError::from)?;
    let memberships: Option<String> = row.try_get(4).map_err(DbError::from)?;
    let mut reasons = Vec::new();
    if superuser {
        reasons.push("is a superuser".to_owned());
    }
    if bypass {
        reasons.push("has BYPASSRLS".to_owned());
    }
    if owned > 0 {
        reasons.push(format!(
            "owns {owned} table(s), view(s) or schema(s) of the tenant schemas"
        ));
    }
    if let Some(m) = memberships {
        reasons.push(format!(
            "is a member of {m}, which can bypass row-level security"
        ));
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(SchemaError::Refused(format!(
            "the app database role {name} {}; row-level security would not bind it. \
             Connect the app pool as a plain role such as {APP_ROLE}",
            reasons.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_list_matches_the_directory() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".sql") && n != "000_roles.sql")
                    .collect()
            })
            .unwrap_or_default();
        on_disk.sort();
        let listed: Vec<String> = POLICY_FILES.iter().map(|(n, _)| (*n).to_owned()).collect();
        assert!(!listed.is_empty());
        assert_eq!(
            listed, on_disk,
            "policies/ and POLICY_FILES disagree: list every file, in order"
        );
    }
}
