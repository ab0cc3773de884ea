//! Analysts: read-only roles that see one organization's rows (`palisade analyst`,
//! docs/dba.md "An analyst for one organization").
//!
//! An analyst is a PostgreSQL role recorded in `palisade_audit.analysts` with the one
//! organization it may read. `policies/930_analysts.sql` turns each record into grants (SELECT on
//! the columns classified readable, USAGE on schema `palisade`) and one policy per tenant table,
//! `analyst_<role>`, pinned to the organization id as a literal: the tenant context, which any
//! session can set for itself, plays no part. That file runs as the owner on every
//! `palisade migrate`, so tables added later are covered; [`grant`] records the analyst and runs
//! it at once. Creating a role needs CREATEROLE, so both functions take a superuser's
//! connection to the Palisade database.

use tokio_postgres::Client;
use uuid::Uuid;

use crate::DbError;
use crate::schema::OWNER_ROLE;

/// The policy file that gives recorded analysts their grants and policies.
const ANALYSTS_SQL: &str = include_str!("../../../policies/930_analysts.sql");

/// Roles Palisade itself uses (or will: the backup role and the rotation pair), which can never
/// be analysts.
pub const RESERVED_ROLES: &[&str] = &[
    "palisade_owner",
    "palisade_app",
    "palisade_app_a",
    "palisade_app_b",
    "palisade_billing",
    "palisade_resolver",
    "palisade_auditor",
    "palisade_backup",
];

/// An analyst role's name: 1 to 40 characters of `a-z`, `0-9` and `_`, not starting with a
/// digit, not `pg_*`, not one of [`RESERVED_ROLES`] (the same shape as the table's CHECK, so
/// the policy name `analyst_<role>` fits PostgreSQL's 63 bytes and needs no quoting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalystRole(String);

impl AnalystRole {
    /// Checks `name`; the error says why it is not acceptable.
    pub fn parse(name: &str) -> Result<Self, String> {
        let mut chars = name.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !(first_ok && rest_ok && name.len() <= 40) {
            return Err(format!(
                "{name:?} is not an analyst role name: 1 to 40 characters of a-z, 0-9 and _, not starting with a digit"
            ));
        }
        if name.starts_with("pg_") || RESERVED_ROLES.contains(&name) {
            return Err(format!(
                "{name} is a role of PostgreSQL or of Palisade, which cannot be an analyst"
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why an analyst could not be granted or revoked.
#[derive(Debug, thiserror::Error)]
pub enum AnalystError {
    /// Refused, and why (nothing was changed).
    #[error("{0}")]
    Refused(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What [`grant`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// The role was created (NOLOGIN), rather than an existing one adopted.
    pub created: bool,
    /// It was already an analyst of this organization (nothing new recorded; grants re-applied).
    pub already: bool,
    /// The tenant tables it now has a pinned policy on.
    pub tables: i64,
}

fn db(e: tokio_postgres::Error) -> AnalystError {
    AnalystError::Db(DbError::from(e))
}

/// The role names `sql` (one `$1`: `role`'s name) answers, in its order.
async fn role_names(
    tx: &tokio_postgres::Transaction<'_>,
    sql: &str,
    role: &AnalystRole,
) -> Result<Vec<String>, AnalystError> {
    Ok(tx
        .query(sql, &[&role.as_str()])
        .await
        .map_err(db)?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Makes `role` an analyst of `organization`, on the database `superuser` is connected to (as a
/// superuser): creates the role NOLOGIN if it does not exist, or adopts an existing one that is
/// no superuser, holds no BYPASSRLS, CREATEROLE, CREATEDB or REPLICATION, is a member of no role,
/// and has no member that is also the app or another analyst (its policies would apply to that
/// member beside the member's own) or bypasses row-level security (its grants would show that
/// member every organization's rows); records it; applies
/// `policies/930_analysts.sql` as the owner. One transaction: all of it, or nothing. Refuses a
/// role that is already the analyst of another organization (revoke it first).
pub async fn grant(
    superuser: &mut Client,
    role: &AnalystRole,
    organization: Uuid,
) -> Result<Granted, AnalystError> {
    let tx = superuser.transaction().await.map_err(db)?;
    let known: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM palisade.organizations WHERE id = $1)",
            &[&organization],
        )
        .await
        .map_err(db)?
        .get(0);
    if !known {
        return Err(AnalystError::Refused(format!(
            "there is no organization {organization} in this database"
        )));
    }
    let recorded: Option<Uuid> = tx
        .query_opt(
            "SELECT organization_id FROM palisade_audit.analysts WHERE role_name = $1",
            &[&role.as_str()],
        )
        .await
        .map_err(db)?
        .map(|r| r.get(0));
    if let Some(other) = recorded.filter(|o| *o != organization) {
        return Err(AnalystError::Refused(format!(
            "{} is already the analyst of organization {other}: run `palisade analyst revoke {}` first",
            role.as_str(),
            role.as_str()
        )));
    }
    let existing = tx
        .query_opt(
            "SELECT rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb OR rolreplication
               FROM pg_catalog.pg_roles WHERE rolname = $1",
            &[&role.as_str()],
        )
        .await
        .map_err(db)?
        .map(|r| r.get::<_, bool>(0));
    if existing == Some(true) {
        return Err(AnalystError::Refused(format!(
            "{} is a superuser or has BYPASSRLS, CREATEROLE, CREATEDB or REPLICATION: an analyst must bypass nothing",
            role.as_str()
        )));
    }
    // A membership would lend it another role's privileges (pg_read_all_data reads every
    // organization's rows past no policy of its own; palisade_app picks any organization), which
    // the audit reports as analyst_beyond_read: refused here, before anything is granted.
    let groups = role_names(
        &tx,
        "SELECT g.rolname::text FROM pg_catalog.pg_auth_members m
           JOIN pg_catalog.pg_roles r ON r.oid = m.member
           JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
          WHERE r.rolname = $1 ORDER BY 1",
        role,
    )
    .await?;
    if !groups.is_empty() {
        return Err(AnalystError::Refused(format!(
            "{} is a member of {}: an analyst may hold only what `palisade analyst grant` gives it; \
             revoke the memberships (REVOKE <role> FROM {}) or choose another role",
            role.as_str(),
            groups.join(", "),
            role.as_str()
        )));
    }
    // Its policies will apply to its members too, and permissive policies add up: a member that
    // is also the app (palisade_app, a login member of it) or another analyst would read this
    // organization beside its own (every request would). The audit reports it as
    // policies_add_up. A member that bypasses row-level security (palisade_billing,
    // palisade_backup) would read, through the grants made here, every organization's rows of
    // those tables (the audit: billing_role_beyond_billing, backup_role_can_write). Superusers
    // are left out: every role counts them as members, and they read every row anyway. Refused
    // here, before anything is granted.
    let joined = role_names(
        &tx,
        "SELECT m.rolname::text FROM pg_catalog.pg_roles m, pg_catalog.pg_roles a
          WHERE a.rolname = $1 AND m.oid <> a.oid AND NOT m.rolsuper
            AND pg_catalog.pg_has_role(m.oid, a.oid, 'MEMBER')
            AND (m.rolbypassrls
                 OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles o
                             WHERE o.oid <> a.oid
                               AND (o.rolname = 'palisade_app'
                                    OR o.rolname IN (SELECT x.role_name FROM palisade_audit.analysts x))
                               AND pg_catalog.pg_has_role(m.oid, o.oid, 'MEMBER')))
          ORDER BY 1",
        role,
    )
    .await?;
    if !joined.is_empty() {
        return Err(AnalystError::Refused(format!(
            "{} has member(s) {} that are also the app or another analyst, or bypass row-level \
             security: its policies and grants would apply to them too, beside their own \
             (permissive policies add up; BYPASSRLS reads every organization's rows); revoke {} \
             from them or choose another role",
            role.as_str(),
            joined.join(", "),
            role.as_str()
        )));
    }
    if existing.is_none() {
        let create: String = tx
            .query_one(
                "SELECT format('CREATE ROLE %I NOLOGIN', $1::text)",
                &[&role.as_str()],
            )
            .await
            .map_err(db)?
            .get(0);
        tx.batch_execute(&create).await.map_err(db)?;
    }
    tx.execute(
        "INSERT INTO palisade_audit.analysts (role_name, organization_id) VALUES ($1, $2)
         ON CONFLICT (role_name) DO NOTHING",
        &[&role.as_str(), &organization],
    )
    .await
    .map_err(db)?;
    // As the owner, exactly as `palisade migrate` applies it.
    tx.batch_execute(&format!("SET LOCAL ROLE {OWNER_ROLE}"))
        .await
        .map_err(db)?;
    tx.batch_execute(ANALYSTS_SQL).await.map_err(db)?;
    tx.batch_execute("RESET ROLE").await.map_err(db)?;
    let tables: i64 = tx
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_policy p
               JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'palisade' AND p.polname = 'analyst_' || $1::text",
            &[&role.as_str()],
        )
        .await
        .map_err(db)?
        .get(0);
    tx.commit().await.map_err(db)?;
    Ok(Granted {
        created: existing.is_none(),
        already: recorded.is_some(),
        tables,
    })
}

/// Ends `role`'s analyst access: removes its record, its `analyst_<role>` policies, its
/// privileges on tenant tables and its USAGE on schema `palisade`, in one transaction. The role
/// itself stays (the DBA may use it elsewhere, or DROP ROLE it). Refuses a role that is not a
/// recorded analyst.
pub async fn revoke(superuser: &mut Client, role: &AnalystRole) -> Result<(), AnalystError> {
    let tx = superuser.transaction().await.map_err(db)?;
    let removed = tx
        .execute(
            "DELETE FROM palisade_audit.analysts WHERE role_name = $1",
            &[&role.as_str()],
        )
        .await
        .map_err(db)?;
    if removed == 0 {
        return Err(AnalystError::Refused(format!(
            "{} is not a recorded analyst (palisade_audit.analysts)",
            role.as_str()
        )));
    }
    tx.execute(
        "SELECT set_config('palisade_analyst.revoke', $1, true)",
        &[&role.as_str()],
    )
    .await
    .map_err(db)?;
    tx.batch_execute(&format!("SET LOCAL ROLE {OWNER_ROLE}"))
        .await
        .map_err(db)?;
    tx.batch_execute(REVOKE_SQL).await.map_err(db)?;
    tx.batch_execute("RESET ROLE").await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(())
}

/// Undoes what `policies/930_analysts.sql` gave the role named by the transaction's setting
/// `palisade_analyst.revoke`. A REVOKE is issued only where the role holds something: on a
/// never-granted table it would write out the default ACL (and show as drift).
const REVOKE_SQL: &str = "DO $revoke$
DECLARE
    r text := pg_catalog.current_setting('palisade_analyst.revoke');
    r_oid oid := (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = r);
    t record;
BEGIN
    FOR t IN
        SELECT c.oid, c.relname, c.relacl FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'palisade' AND c.relkind IN ('r', 'p')
    LOOP
        EXECUTE pg_catalog.format('DROP POLICY IF EXISTS %I ON palisade.%I', 'analyst_' || r, t.relname);
        IF r_oid IS NOT NULL AND (
               EXISTS (SELECT 1 FROM pg_catalog.aclexplode(t.relacl) x WHERE x.grantee = r_oid)
               OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a, pg_catalog.aclexplode(a.attacl) x
                           WHERE a.attrelid = t.oid AND x.grantee = r_oid)) THEN
            EXECUTE pg_catalog.format('REVOKE ALL ON palisade.%I FROM %I', t.relname, r);
        END IF;
    END LOOP;
    IF r_oid IS NOT NULL THEN
        EXECUTE pg_catalog.format('REVOKE ALL ON SCHEMA palisade FROM %I', r);
    END IF;
END
$revoke$";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_checked() {
        for ok in ["reporting", "acme_analyst", "_x", "a1"] {
            assert_eq!(AnalystRole::parse(ok).map(|r| r.0), Ok(ok.to_owned()));
        }
        for bad in [
            "",
            "Reporting",
            "1st",
            "a-b",
            "a b",
            "pg_read_all_data",
            "palisade_app",
            "palisade_backup",
            &"a".repeat(41),
        ] {
            assert!(AnalystRole::parse(bad).is_err(), "{bad:?}");
        }
    }
}
