//! The DBA audit from Rust: what `palisade audit` reports.
//!
//! Two parts:
//! - **Violations**, read from the audit views of schema `palisade_audit`
//!   (`policies/900_audit.sql`): the database judges itself, so a DBA with psql sees exactly what
//!   this module sees (`SELECT * FROM palisade_audit.violations`).
//! - **Drift**: whether the live policies, RLS flags, grants, functions, views, tables, indexes,
//!   constraints and the DDL guard are the ones `sql/` and `policies/` produce. Method: build a
//!   scratch database on the same server from the migrations and policies embedded in this
//!   binary (the same [`schema::migrate_with`] and DDL guard that production runs), read one
//!   normalized catalog snapshot ([`snapshot`]) from each, and report every difference; then drop
//!   the scratch database. The live database is only read (catalog queries, in one read-only
//!   transaction): no lock beyond what any catalog read takes, nothing to roll back. It needs a
//!   superuser (to create the scratch database and its event triggers). Why not re-applying
//!   `policies/` inside a rolled-back transaction on the live database instead: that takes an
//!   ACCESS EXCLUSIVE lock on every tenant table until the rollback (every request queues behind
//!   it, and behind any long transaction it waits for), and it cannot see what the files do not
//!   touch (an extra policy, a grant to another role, an extra trigger or view), while a
//!   reference database shows those as differences. docs/dba.md ("palisade audit") says the
//!   same for operators.
//!
//! Roles are cluster-wide, so both databases share them; owners that are superusers are written
//! `<superuser>` in snapshots, because a scratch database is built by whichever superuser runs
//! the audit.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use crate::schema;

/// The schema of the audit views.
pub const AUDIT_SCHEMA: &str = "palisade_audit";

/// What the drift check compares: the schemas Palisade owns.
pub const SNAPSHOT_SCHEMAS: &[&str] = &[
    "palisade",
    "palisade_private",
    "palisade_platform",
    "palisade_audit",
    "palisade_guard",
    "palisade_migrations",
];

/// Why the audit could not run (as opposed to what it found).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The database is not in a state that can be audited, or a prerequisite is missing; the
    /// message says what to do.
    #[error("{0}")]
    Setup(String),
    /// A statement failed. Messages here are about catalog objects, never tenant rows.
    #[error("{context}: {message}")]
    Query {
        /// What the audit was doing.
        context: &'static str,
        /// The server's message.
        message: String,
    },
}

impl AuditError {
    fn query(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Self {
        move |e| AuditError::Query {
            context,
            message: e
                .as_db_error()
                .map_or_else(|| e.to_string(), |db| db.message().to_owned()),
        }
    }
}

/// The severity of a notice: listed, but it does not fail the audit.
pub const NOTICE_SEVERITY: &str = "low";

/// One finding of `palisade_audit.violations`. Its severity, rank and fix come from
/// `palisade_audit.finding_kinds` (`policies/900_audit.sql`), the one place they are defined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// `critical`, `high`, `medium` or `low` (a notice: see [`Violation::is_notice`]).
    pub severity: String,
    /// The rule's stable name, e.g. `rls_disabled`, `bypassrls_role`.
    pub kind: String,
    /// `table`, `role`, `function`, `view`, `materialized view`, `policy` or `event trigger`.
    pub object_type: String,
    /// The object, e.g. `palisade.customers`.
    pub object: String,
    /// What is wrong, in words.
    pub detail: String,
    /// How to fix it, in one line.
    pub fix: String,
}

impl Violation {
    /// A low-severity finding: reported, but the audit still passes.
    pub fn is_notice(&self) -> bool {
        self.severity == NOTICE_SEVERITY
    }
}

/// One row of `palisade_audit.copies`: a table or materialized view outside Palisade's schemas
/// that looks like tenant data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CopyRow {
    /// Schema.
    pub schema_name: String,
    /// Table or materialized view.
    pub relation_name: String,
    /// `table`, `materialized view` or `foreign table`.
    pub kind: String,
    /// Owning role.
    pub owner: String,
    /// It has a column named `organization_id`.
    pub has_organization_id: bool,
    /// The tenant table it shares the most columns with (name and type), if any.
    pub copied_from: Option<String>,
    /// Those columns (generic `id`, `created_at`, `updated_at` left out).
    pub matched_columns: Vec<String>,
    /// Roles other than superusers that may read it now (`PUBLIC` included).
    pub readable_by: Vec<String>,
    /// No reasons.
    pub ok: bool,
    /// `kind: detail` per finding.
    pub reasons: Vec<String>,
}

/// One row of `palisade_audit.tables`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableRow {
    /// Schema.
    pub schema_name: String,
    /// Table.
    pub table_name: String,
    /// In schema `palisade`.
    pub is_tenant_table: bool,
    /// `tenant`, `platform` (`palisade_platform`), `palisade internal` (`palisade_private`,
    /// `palisade_audit`, `palisade_guard`) or `other`.
    pub category: String,
    /// `organization_id` (`id` for organizations); none for other tables.
    pub tenant_column: Option<String>,
    /// Owning role.
    pub owner: String,
    /// The tenant column exists as uuid NOT NULL (tenant tables only).
    pub has_tenant_column: Option<bool>,
    /// ENABLE ROW LEVEL SECURITY.
    pub rls_enabled: bool,
    /// FORCE ROW LEVEL SECURITY.
    pub rls_forced: bool,
    /// Policies that apply to SELECT, one per line (name, roles, USING, WITH CHECK).
    pub select_policies: Option<String>,
    /// Policies that apply to INSERT.
    pub insert_policies: Option<String>,
    /// Policies that apply to UPDATE.
    pub update_policies: Option<String>,
    /// Policies that apply to DELETE.
    pub delete_policies: Option<String>,
    /// An index leading with the tenant column.
    pub tenant_index: Option<String>,
    /// Foreign keys to tenant tables that do not pair the tenant columns.
    pub foreign_keys_without_tenant: Option<Vec<String>>,
    /// Unique keys without the tenant column (allow-listed or not).
    pub unique_keys_without_tenant: Option<Vec<String>>,
    /// Privileges PUBLIC holds: on the table (`SELECT`), then on columns (`SELECT (email)`).
    pub public_privileges: Vec<String>,
    /// No reasons.
    pub ok: bool,
    /// `kind: detail` per finding.
    pub reasons: Vec<String>,
}

/// One row of `palisade_audit.roles`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleRow {
    /// Role.
    pub role_name: String,
    /// LOGIN.
    pub can_login: bool,
    /// SUPERUSER.
    pub is_superuser: bool,
    /// BYPASSRLS.
    pub bypass_rls: bool,
    /// Superuser, BYPASSRLS or REPLICATION, or can SET ROLE to a role that reads below
    /// row-level security (those, or a server-files role).
    pub can_bypass_rls: bool,
    /// Owns or is granted something here, or is a member of a role that is.
    pub in_this_database: bool,
    /// Direct memberships.
    pub member_of: Vec<String>,
    /// The roles it can SET ROLE to that read below row-level security: superusers, BYPASSRLS or
    /// REPLICATION roles, the server-files roles.
    pub can_become_bypass_roles: Vec<String>,
    /// Login roles only: `palisade_resolver` and other owners of tenant tables or SECURITY
    /// DEFINER functions it can SET ROLE to (`member_of_owner_role` when not empty).
    pub can_become_owner_roles: Vec<String>,
    /// Tables and views of this database it owns (any schema but the system ones).
    pub tables_owned: Vec<String>,
    /// Tables, views, schemas and functions of `palisade`/`palisade_private`/`palisade_platform`
    /// it owns, and SECURITY DEFINER functions anywhere (`palisade_resolver`'s functions aside:
    /// it owns Palisade's definers).
    pub tenant_objects_owned: Vec<String>,
    /// What it may do on each tenant table, e.g. `customers: SELECT INSERT; users: SELECT(some columns)`.
    pub tenant_privileges: Option<String>,
    /// What it may do on each platform table (schema `palisade_platform`), in the same form,
    /// e.g. `mailgun_tokens: SELECT INSERT DELETE`.
    pub platform_privileges: Option<String>,
    /// No reasons.
    pub ok: bool,
    /// `kind: detail` per finding.
    pub reasons: Vec<String>,
}

/// One row of `palisade_audit.functions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionRow {
    /// Schema.
    pub schema_name: String,
    /// Name.
    pub function_name: String,
    /// Identity arguments.
    pub arguments: String,
    /// Owning role (whose rights a SECURITY DEFINER function runs with).
    pub owner: String,
    /// SECURITY DEFINER.
    pub security_definer: bool,
    /// Its `SET search_path`, if any.
    pub search_path: Option<String>,
    /// Roles that may execute it (`PUBLIC` for everyone).
    pub executable_by: Vec<String>,
    /// No reasons.
    pub ok: bool,
    /// `kind: detail` per finding.
    pub reasons: Vec<String>,
}

/// One row of `palisade_audit.views`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ViewRow {
    /// Schema.
    pub schema_name: String,
    /// Name.
    pub view_name: String,
    /// `view` or `materialized view`.
    pub kind: String,
    /// Owning role.
    pub owner: String,
    /// `security_invoker = true`.
    pub security_invoker: bool,
    /// The tenant tables it reads, directly or through other views.
    pub tenant_tables: Vec<String>,
    /// No reasons.
    pub ok: bool,
    /// `kind: detail` per finding.
    pub reasons: Vec<String>,
}

/// One row of `palisade_audit.ddl_guard`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GuardRow {
    /// The event trigger's name.
    pub event_trigger: String,
    /// Its event; none when it is not installed.
    pub event: Option<String>,
    /// Installed, and fires in a normal session (ENABLE or ENABLE ALWAYS; not DISABLE, not
    /// ENABLE REPLICA).
    pub enabled: bool,
    /// Its function.
    pub function: Option<String>,
    /// The command tags it fires for; none means every command.
    pub tags: Option<Vec<String>>,
    /// How it differs from what `policies/001_ddl_guard.sql` installs, each completing "the DDL
    /// guard is ..." (not installed, disabled, another event, function or fewer tags); empty when
    /// intact.
    #[serde(default)]
    pub problems: Vec<String>,
}

/// One row of `palisade_audit.columns`: a column `palisade_app` can reach, or a classified one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnRow {
    /// Schema.
    pub schema_name: String,
    /// Table or view.
    pub table_name: String,
    /// Column.
    pub column_name: String,
    /// `readable` or `secret`; none when unclassified.
    pub classification: Option<String>,
    /// Why (required for secrets).
    pub reason: Option<String>,
    /// `palisade_app` holds some privilege on it or its table.
    pub app_can_reach: bool,
    /// `palisade_app` may SELECT it.
    pub app_can_select: bool,
    /// What `palisade_app` may do with it (`SELECT`, `INSERT`, `UPDATE`, `REFERENCES`, and the
    /// table-wide `DELETE`, `TRUNCATE`, `TRIGGER`).
    pub app_privileges: Vec<String>,
    /// Secret columns it is computed from (`schema.table.column`).
    pub derived_from_secret: Vec<String>,
    /// No reasons.
    pub ok: bool,
    /// `kind: detail` per finding.
    pub reasons: Vec<String>,
}

/// One difference between the live database and the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftItem {
    /// What differs, e.g. `policy palisade.customers.customers_select`.
    pub object: String,
    /// Its live definition; none when the live database lacks it.
    pub live: Option<String>,
    /// What `sql/` and `policies/` produce; none when the repository has no such object.
    pub repository: Option<String>,
}

/// The drift part of a report.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Drift {
    /// Compared with a database built from the repository.
    Checked {
        /// How (one sentence).
        method: String,
        /// Every difference; empty when the live database is what the repository produces.
        differences: Vec<DriftItem>,
    },
    /// Not checked, and why (the operator asked for it).
    Skipped {
        /// Why.
        reason: String,
    },
}

/// Everything `palisade audit` prints.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// The audited database.
    pub database: String,
    /// `server_version` of the server.
    pub server_version: String,
    /// No violation and no drift.
    pub ok: bool,
    /// `palisade_audit.violations`.
    pub violations: Vec<Violation>,
    /// Drift from the repository.
    pub drift: Drift,
    /// `palisade_audit.tables`.
    pub tables: Vec<TableRow>,
    /// `palisade_audit.roles`.
    pub roles: Vec<RoleRow>,
    /// `palisade_audit.functions`.
    pub functions: Vec<FunctionRow>,
    /// `palisade_audit.views`.
    pub views: Vec<ViewRow>,
    /// `palisade_audit.ddl_guard`.
    pub ddl_guard: Vec<GuardRow>,
    /// `palisade_audit.columns`.
    pub columns: Vec<ColumnRow>,
    /// `palisade_audit.copies`.
    pub copies: Vec<CopyRow>,
}

impl AuditReport {
    /// Whether the database passes: no violation above [`NOTICE_SEVERITY`], and no drift (or
    /// drift not checked). Notices are reported all the same.
    pub fn passed(&self) -> bool {
        self.failures() == 0
            && match &self.drift {
                Drift::Checked { differences, .. } => differences.is_empty(),
                Drift::Skipped { .. } => true,
            }
    }

    /// How many violations fail the audit (every one but the notices).
    pub fn failures(&self) -> usize {
        self.violations.iter().filter(|v| !v.is_notice()).count()
    }

    /// The differences found, if drift was checked.
    pub fn drift_items(&self) -> &[DriftItem] {
        match &self.drift {
            Drift::Checked { differences, .. } => differences,
            Drift::Skipped { .. } => &[],
        }
    }
}

/// The findings and inventory of the audit views, read in one read-only snapshot.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The database's name.
    pub database: String,
    /// The server's version.
    pub server_version: String,
    /// `palisade_audit.violations`.
    pub violations: Vec<Violation>,
    /// `palisade_audit.tables`.
    pub tables: Vec<TableRow>,
    /// `palisade_audit.roles`.
    pub roles: Vec<RoleRow>,
    /// `palisade_audit.functions`.
    pub functions: Vec<FunctionRow>,
    /// `palisade_audit.views`.
    pub views: Vec<ViewRow>,
    /// `palisade_audit.ddl_guard`.
    pub ddl_guard: Vec<GuardRow>,
    /// `palisade_audit.columns`.
    pub columns: Vec<ColumnRow>,
    /// `palisade_audit.copies`.
    pub copies: Vec<CopyRow>,
}

/// Reads `view` of the audit schema as JSON rows (so the structs follow the views' columns).
async fn read_view<T: DeserializeOwned>(
    client: &tokio_postgres::Transaction<'_>,
    view: &str,
    order_by: &str,
) -> Result<Vec<T>, AuditError> {
    let sql = format!(
        "SELECT coalesce(jsonb_agg(to_jsonb(v) ORDER BY {order_by}), '[]'::jsonb) FROM {AUDIT_SCHEMA}.{view} v"
    );
    let value: serde_json::Value = client
        .query_one(&sql, &[])
        .await
        .map_err(AuditError::query("reading the audit views"))?
        .try_get(0)
        .map_err(AuditError::query("reading the audit views"))?;
    serde_json::from_value(value).map_err(|e| AuditError::Query {
        context: "decoding the audit views",
        message: format!("{view}: {e}"),
    })
}

/// Opens the read-only, repeatable-read transaction the audit reads in, with a search_path that
/// makes deparsed expressions fully qualified (so two databases compare equal).
async fn read_only(client: &mut Client) -> Result<tokio_postgres::Transaction<'_>, AuditError> {
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(AuditError::query("starting the audit transaction"))?;
    tx.batch_execute("SET LOCAL search_path = pg_catalog")
        .await
        .map_err(AuditError::query("starting the audit transaction"))?;
    Ok(tx)
}

/// Reads the audit views of the database `client` is connected to. Any role that can read
/// schema `palisade_audit` will do (the owner, a superuser, a member of `palisade_auditor`).
pub async fn inspect(client: &mut Client) -> Result<Inspection, AuditError> {
    let tx = read_only(client).await?;
    let row = tx
        .query_one(
            "SELECT current_database()::text, current_setting('server_version'),
                    to_regnamespace($1) IS NOT NULL,
                    CASE WHEN to_regnamespace($1) IS NOT NULL
                         THEN has_schema_privilege(current_user, $1, 'USAGE') END",
            &[&AUDIT_SCHEMA],
        )
        .await
        .map_err(AuditError::query("reading the database"))?;
    let database: String = row.get(0);
    let server_version: String = row.get(1);
    if !row.get::<_, bool>(2) {
        return Err(AuditError::Setup(format!(
            "database {database} has no schema {AUDIT_SCHEMA}: it was not migrated by this version of Palisade (run `palisade migrate`)"
        )));
    }
    if row.get::<_, Option<bool>>(3) != Some(true) {
        return Err(AuditError::Setup(format!(
            "this role may not read schema {AUDIT_SCHEMA}: connect as palisade_owner, a superuser, or a member of {}",
            schema::AUDITOR_ROLE
        )));
    }
    let inspection = Inspection {
        violations: read_view(
            &tx,
            "violations",
            "v.rank, v.object_type, v.object, v.kind, v.detail",
        )
        .await?,
        tables: read_view(
            &tx,
            "tables",
            "v.is_tenant_table DESC, v.schema_name, v.table_name",
        )
        .await?,
        roles: read_view(&tx, "roles", "v.role_name").await?,
        functions: read_view(
            &tx,
            "functions",
            "v.schema_name, v.function_name, v.arguments",
        )
        .await?,
        views: read_view(&tx, "views", "v.schema_name, v.view_name").await?,
        ddl_guard: read_view(&tx, "ddl_guard", "v.event_trigger").await?,
        columns: read_view(&tx, "columns", "v.schema_name, v.table_name, v.column_name").await?,
        copies: read_view(&tx, "copies", "v.schema_name, v.relation_name").await?,
        database,
        server_version,
    };
    tx.commit()
        .await
        .map_err(AuditError::query("ending the audit transaction"))?;
    Ok(inspection)
}

/// A normalized description of everything in Palisade's schemas that protects tenants or that
/// `sql/`/`policies/` define: object key (e.g. `policy palisade.customers.customers_select`) to
/// its definition. Two databases built from the same repository have equal snapshots.
pub type Snapshot = BTreeMap<String, String>;

/// An ACL (`aclitem[]` expression) as sorted `grantee=PRIV,PRIV` entries (`*`: WITH GRANT
/// OPTION), `(default)` when never granted or revoked, `(none)` when everything was revoked.
fn acl_sql(acl: &str) -> String {
    format!(
        "CASE WHEN {acl} IS NULL THEN '(default)' ELSE coalesce((
             SELECT string_agg(g.entry, ' ' ORDER BY g.entry) FROM (
                 SELECT w.name || '=' || string_agg(x.privilege_type || CASE WHEN x.is_grantable THEN '*' ELSE '' END,
                                                    ',' ORDER BY x.privilege_type) AS entry
                   FROM aclexplode({acl}) x JOIN who w ON w.oid = x.grantee
                  GROUP BY w.name) g), '(none)') END"
    )
}

/// The catalog query behind [`snapshot`]. Owners and grantees that are superusers read
/// `<superuser>`; ACLs as [`acl_sql`] writes them. View and function bodies are long, so they are
/// compared by md5 (a DBA reads them with `\d+ view` and `\sf function`).
fn snapshot_sql() -> String {
    let (ns_acl, rel_acl, col_acl, fn_acl) = (
        acl_sql("ns.nspacl"),
        acl_sql("rel.relacl"),
        acl_sql("a.attacl"),
        acl_sql("p.proacl"),
    );
    format!(
        r#"
WITH ns AS (
    SELECT n.oid, n.nspname::text AS nspname, n.nspowner, n.nspacl
      FROM pg_namespace n WHERE n.nspname = ANY ($1::text[])
), who AS (
    SELECT r.oid, CASE WHEN r.rolsuper THEN '<superuser>' ELSE r.rolname::text END AS name
      FROM pg_roles r
    UNION ALL SELECT 0::oid, 'PUBLIC'
), rel AS (
    SELECT c.oid, ns.nspname || '.' || c.relname AS name, c.relkind, c.relowner,
           c.relrowsecurity, c.relforcerowsecurity, c.relacl, c.reloptions
      FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
)
SELECT 'schema ' || ns.nspname,
       'owner ' || (SELECT w.name FROM who w WHERE w.oid = ns.nspowner) || '; grants ' || {ns_acl}
  FROM ns
UNION ALL
SELECT 'relation ' || rel.name,
       concat_ws('; ',
           'kind ' || rel.relkind::text,
           'owner ' || (SELECT w.name FROM who w WHERE w.oid = rel.relowner),
           'options ' || array_to_string(rel.reloptions, ', '))
  FROM rel
UNION ALL
SELECT 'row level security ' || rel.name,
       CASE WHEN rel.relrowsecurity THEN 'enabled' ELSE 'disabled' END
       || ', ' || CASE WHEN rel.relforcerowsecurity THEN 'forced' ELSE 'not forced' END
  FROM rel WHERE rel.relkind IN ('r', 'p')
UNION ALL
SELECT 'grants ' || rel.name, {rel_acl}
  FROM rel
UNION ALL
SELECT 'column ' || rel.name || '.' || a.attname,
       concat_ws('; ',
           format_type(a.atttypid, a.atttypmod),
           CASE WHEN a.attnotnull THEN 'NOT NULL' END,
           'DEFAULT ' || pg_get_expr(d.adbin, d.adrelid),
           CASE a.attidentity WHEN 'a' THEN 'GENERATED ALWAYS AS IDENTITY' WHEN 'd' THEN 'GENERATED BY DEFAULT AS IDENTITY' END,
           CASE WHEN a.attgenerated = 's' THEN 'GENERATED ALWAYS (stored)' END,
           CASE WHEN a.attacl IS NOT NULL THEN 'grants ' || {col_acl} END)
  FROM rel
  JOIN pg_attribute a ON a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE rel.relkind IN ('r', 'p', 'f')
UNION ALL
SELECT 'constraint ' || rel.name || '.' || k.conname,
       -- A CHECK is compared as its flattened AND operands: a restore re-parses the deparsed
       -- text, and the parser flattens '((a AND b) AND c)' into one AND, which deparses with
       -- fewer parentheses. Same constraint, so not drift.
       CASE WHEN k.contype = 'c'
            THEN 'CHECK ((' || array_to_string(palisade_audit.conjuncts(pg_get_expr(k.conbin, k.conrelid)), ') AND (') || '))'
                 || CASE WHEN k.connoinherit THEN ' NO INHERIT' ELSE '' END
                 || CASE WHEN NOT k.convalidated THEN ' NOT VALID' ELSE '' END
            ELSE pg_get_constraintdef(k.oid) END
  FROM pg_constraint k JOIN rel ON rel.oid = k.conrelid
UNION ALL
SELECT 'index ' || ns.nspname || '.' || ic.relname, pg_get_indexdef(i.indexrelid)
  FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN ns ON ns.oid = ic.relnamespace
UNION ALL
SELECT 'trigger ' || rel.name || '.' || t.tgname, pg_get_triggerdef(t.oid) || ' (enabled ' || t.tgenabled::text || ')'
  FROM pg_trigger t JOIN rel ON rel.oid = t.tgrelid
 WHERE NOT t.tgisinternal
UNION ALL
SELECT 'rule ' || rel.name || '.' || r.rulename, pg_get_ruledef(r.oid)
  FROM pg_rewrite r JOIN rel ON rel.oid = r.ev_class
 WHERE r.rulename <> '_RETURN'
UNION ALL
SELECT 'view ' || rel.name, 'definition md5 ' || md5(pg_get_viewdef(rel.oid))
  FROM rel WHERE rel.relkind IN ('v', 'm')
UNION ALL
SELECT 'policy ' || rel.name || '.' || p.polname,
       concat_ws(' ',
           'FOR ' || CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                                   WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
           CASE WHEN NOT p.polpermissive THEN 'AS RESTRICTIVE' END,
           'TO ' || (SELECT string_agg(w.name, ', ' ORDER BY w.name)
                       FROM unnest(p.polroles) AS r(oid) JOIN who w ON w.oid = r.oid),
           'USING (' || pg_get_expr(p.polqual, p.polrelid) || ')',
           'WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')')
  FROM pg_policy p JOIN rel ON rel.oid = p.polrelid
UNION ALL
SELECT 'function ' || ns.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       concat_ws('; ',
           'owner ' || (SELECT w.name FROM who w WHERE w.oid = p.proowner),
           CASE WHEN p.prosecdef THEN 'SECURITY DEFINER' END,
           'config ' || array_to_string(p.proconfig, ', '),
           'grants ' || {fn_acl},
           'definition md5 ' || md5(CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) ELSE p.prosrc END))
  FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
UNION ALL
SELECT 'type ' || ns.nspname || '.' || t.typname,
       concat_ws('; ',
           CASE t.typtype
               WHEN 'e' THEN 'enum (' || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                                           FROM pg_enum e WHERE e.enumtypid = t.oid) || ')'
               ELSE 'domain over ' || format_type(t.typbasetype, t.typtypmod)
                    || coalesce(' ' || (SELECT string_agg(pg_get_constraintdef(k.oid), ' ' ORDER BY k.conname)
                                          FROM pg_constraint k WHERE k.contypid = t.oid), '') END,
           'owner ' || (SELECT w.name FROM who w WHERE w.oid = t.typowner))
  FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
 WHERE t.typtype IN ('e', 'd')
UNION ALL
SELECT 'event trigger ' || e.evtname,
       concat_ws('; ',
           'on ' || e.evtevent,
           'tags ' || array_to_string(e.evttags, ', '),
           'function ' || e.evtfoid::regprocedure::text,
           'enabled ' || e.evtenabled::text,
           'owner ' || (SELECT w.name FROM who w WHERE w.oid = e.evtowner))
  FROM pg_event_trigger e
 WHERE e.evtname LIKE 'palisade%'
    OR e.evtfoid IN (SELECT p.oid FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace)
"#
    )
}

/// Tables of schema `palisade_audit` whose rows `policies/` writes, each with the query that
/// reads them as snapshot entries (key, definition).
const DATA_SNAPSHOTS: &[(&str, &str)] = &[
    (
        "palisade_audit.allow_list",
        "SELECT 'allow-list ' || kind || ' ' || name, reason FROM palisade_audit.allow_list",
    ),
    (
        "palisade_audit.column_classification",
        "SELECT 'column classification ' || schema_name || '.' || table_name || '.' || column_name,
                classification || coalesce(': ' || reason, '')
           FROM palisade_audit.column_classification",
    ),
];

/// Reads the [`Snapshot`] of the database `client` is connected to (read-only).
pub async fn snapshot(client: &mut Client) -> Result<Snapshot, AuditError> {
    let tx = read_only(client).await?;
    let schemas: Vec<String> = SNAPSHOT_SCHEMAS.iter().map(|s| (*s).to_owned()).collect();
    let mut out = Snapshot::new();
    for row in tx
        .query(&snapshot_sql(), &[&schemas])
        .await
        .map_err(AuditError::query("reading the catalog snapshot"))?
    {
        let key: String = row.get(0);
        let value: Option<String> = row.get(1);
        out.insert(key, value.unwrap_or_default());
    }
    // Recorded analysts (`palisade analyst grant`) are this database's own: their pinned policies
    // and column grants are not what the repository alone produces, and are not drift.
    let analysts_readable: bool = tx
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL AND has_table_privilege($1, 'SELECT')",
            &[&ANALYSTS_TABLE],
        )
        .await
        .map_err(AuditError::query("reading the recorded analysts"))?
        .get(0);
    let mut analysts = Vec::new();
    if analysts_readable {
        analysts = tx
            .query(
                &format!("SELECT role_name FROM {ANALYSTS_TABLE} ORDER BY 1"),
                &[],
            )
            .await
            .map_err(AuditError::query("reading the recorded analysts"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
    }
    forget_analysts(&mut out, &analysts);
    // The allow-list and the column classification are data that policies/ writes: a row
    // added, changed or removed by hand is drift.
    for (table, rows_sql) in DATA_SNAPSHOTS {
        let readable: bool = tx
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL AND has_table_privilege($1, 'SELECT')",
                &[table],
            )
            .await
            .map_err(AuditError::query("reading the audit's data tables"))?
            .get(0);
        if !readable {
            continue;
        }
        for row in tx
            .query(*rows_sql, &[])
            .await
            .map_err(AuditError::query("reading the audit's data tables"))?
        {
            out.insert(row.get(0), row.get(1));
        }
    }
    tx.commit()
        .await
        .map_err(AuditError::query("ending the audit transaction"))?;
    Ok(out)
}

/// The table of analyst roles (`palisade analyst`, `policies/930_analysts.sql`).
pub const ANALYSTS_TABLE: &str = "palisade_audit.analysts";

/// Takes the recorded analyst `roles` out of a snapshot, as if they had never been granted
/// anything: their policies `analyst_<role>` when they are what `policies/930_analysts.sql`
/// writes (FOR SELECT TO the role alone, USING only; anything else stays, and is drift), and
/// their entries in schema, table and column ACLs. A column's ACL left empty reads as no ACL
/// (for a column, no privilege is the default), so revoking an analyst leaves no drift either.
pub fn forget_analysts(snapshot: &mut Snapshot, roles: &[String]) {
    snapshot.retain(|key, value| {
        !roles.iter().any(|role| {
            key.starts_with("policy palisade.")
                && key.ends_with(&format!(".analyst_{role}"))
                && value.starts_with(&format!("FOR SELECT TO {role} USING ("))
                && !value.contains(" WITH CHECK (")
        })
    });
    let granted_to_analyst =
        |token: &str| roles.iter().any(|r| token.starts_with(&format!("{r}=")));
    for (key, value) in snapshot.iter_mut() {
        if key.starts_with("grants ") {
            let kept: Vec<&str> = value
                .split(' ')
                .filter(|t| !granted_to_analyst(t))
                .collect();
            if kept.len() != value.split(' ').count() {
                *value = if kept.is_empty() {
                    "(none)".to_owned()
                } else {
                    kept.join(" ")
                };
            }
        } else if key.starts_with("schema ") || key.starts_with("column ") {
            let is_column = key.starts_with("column ");
            let parts: Vec<String> = value
                .split("; ")
                .filter_map(|part| {
                    let Some(acl) = part.strip_prefix("grants ") else {
                        return Some(part.to_owned());
                    };
                    let kept: Vec<&str> =
                        acl.split(' ').filter(|t| !granted_to_analyst(t)).collect();
                    let empty = kept.is_empty() || kept == ["(none)"];
                    match (empty, is_column) {
                        (true, true) => None,
                        (true, false) => Some("grants (none)".to_owned()),
                        (false, _) => Some(format!("grants {}", kept.join(" "))),
                    }
                })
                .collect();
            *value = parts.join("; ");
        }
    }
}

/// Every difference between two snapshots, in key order.
pub fn diff(live: &Snapshot, repository: &Snapshot) -> Vec<DriftItem> {
    let mut keys: Vec<&String> = live.keys().chain(repository.keys()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (l, r) = (live.get(k), repository.get(k));
            (l != r).then(|| DriftItem {
                object: k.clone(),
                live: l.cloned(),
                repository: r.cloned(),
            })
        })
        .collect()
}

/// Whether the role `client` is connected as is a superuser.
pub async fn is_superuser(client: &Client) -> Result<bool, AuditError> {
    Ok(client
        .query_one(
            "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .map_err(AuditError::query("reading the current role"))?
        .get(0))
}

/// Builds a scratch database on the server of `superuser_url` exactly as a new installation is
/// built (DDL guard, migrations and policies embedded in this binary, run as `palisade_owner`,
/// then the SECURITY DEFINER files as the superuser),
/// reads its [`Snapshot`], and drops it again, whatever happened.
pub async fn repository_snapshot(superuser_url: &str) -> Result<Snapshot, AuditError> {
    let su = schema::connect(superuser_url)
        .await
        .map_err(|e| AuditError::Setup(format!("cannot connect with the superuser URL: {e}")))?;
    if !is_superuser(&su).await? {
        return Err(AuditError::Setup(
            "the drift check builds a scratch database and installs the DDL guard in it, which needs a superuser: the superuser URL's role is not one".into(),
        ));
    }
    let name = format!("palisade_audit_ref_{}", uuid::Uuid::new_v4().simple());
    su.batch_execute(&format!(
        "CREATE DATABASE \"{name}\" OWNER {} TEMPLATE template0",
        schema::OWNER_ROLE
    ))
    .await
    .map_err(AuditError::query("creating the scratch database"))?;
    let result = build_and_snapshot(superuser_url, &name).await;
    let dropped = su
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await;
    if let Err(e) = dropped {
        tracing::warn!(db.name = %name, error = %e, "could not drop the audit's scratch database; drop it by hand");
    }
    result
}

async fn build_and_snapshot(superuser_url: &str, name: &str) -> Result<Snapshot, AuditError> {
    schema::install_superuser_database_files(superuser_url, name)
        .await
        .map_err(|e| AuditError::Setup(format!("building the scratch database: {e}")))?;
    let mut owner = schema::connect_to(superuser_url, name)
        .await
        .map_err(|e| AuditError::Setup(format!("connecting to the scratch database: {e}")))?;
    // Act as the owner for the whole session, so RESET ROLE in policies/ returns to it, exactly
    // as on a connection that logged in as the owner.
    owner
        .batch_execute(&format!("SET SESSION AUTHORIZATION {}", schema::OWNER_ROLE))
        .await
        .map_err(AuditError::query(
            "acting as the owner in the scratch database",
        ))?;
    schema::migrate_with(&mut owner)
        .await
        .map_err(|e| AuditError::Setup(format!("building the scratch database: {e}")))?;
    drop(owner);
    schema::install_definers(superuser_url, name)
        .await
        .map_err(|e| AuditError::Setup(format!("building the scratch database: {e}")))?;
    let mut reader = schema::connect_to(superuser_url, name)
        .await
        .map_err(|e| AuditError::Setup(format!("connecting to the scratch database: {e}")))?;
    snapshot(&mut reader).await
}

/// One sentence for reports: how drift is checked.
pub const DRIFT_METHOD: &str = "compared with a scratch database built on the same server from the migrations (sql/) and policies (policies/) embedded in this binary, then dropped; the live database is only read";

/// The whole audit of the database `live` is connected to: the audit views, and drift against
/// the repository when `superuser_url` is given (`None`: drift is reported as skipped).
pub async fn run(
    live: &mut Client,
    superuser_url: Option<&str>,
) -> Result<AuditReport, AuditError> {
    let inspection = inspect(live).await?;
    let drift = match superuser_url {
        Some(url) => {
            let repository = repository_snapshot(url).await?;
            let current = snapshot(live).await?;
            Drift::Checked {
                method: DRIFT_METHOD.into(),
                differences: diff(&current, &repository),
            }
        }
        None => Drift::Skipped {
            reason: "drift was not checked (--no-drift)".into(),
        },
    };
    let mut report = AuditReport {
        database: inspection.database,
        server_version: inspection.server_version,
        ok: false,
        violations: inspection.violations,
        drift,
        tables: inspection.tables,
        roles: inspection.roles,
        functions: inspection.functions,
        views: inspection.views,
        ddl_guard: inspection.ddl_guard,
        columns: inspection.columns,
        copies: inspection.copies,
    };
    report.ok = report.passed();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(pairs: &[(&str, &str)]) -> Snapshot {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn diff_reports_missing_extra_and_changed_objects_in_key_order() {
        let live = snap(&[("a", "1"), ("b", "changed"), ("d", "extra")]);
        let repo = snap(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let d = diff(&live, &repo);
        assert_eq!(
            d,
            vec![
                DriftItem {
                    object: "b".into(),
                    live: Some("changed".into()),
                    repository: Some("2".into())
                },
                DriftItem {
                    object: "c".into(),
                    live: None,
                    repository: Some("3".into())
                },
                DriftItem {
                    object: "d".into(),
                    live: Some("extra".into()),
                    repository: None
                },
            ]
        );
        assert!(diff(&repo, &repo).is_empty());
    }

    #[test]
    fn recorded_analysts_policies_and_grants_are_not_drift() {
        let repo = snap(&[
            (
                "schema palisade",
                "owner palisade_owner; grants palisade_app=USAGE",
            ),
            ("column palisade.customers.email", "text; NOT NULL"),
            (
                "column palisade.users.email",
                "text; grants palisade_app=SELECT",
            ),
        ]);
        let mut live = snap(&[
            (
                "schema palisade",
                "owner palisade_owner; grants ana=USAGE palisade_app=USAGE",
            ),
            (
                "column palisade.customers.email",
                "text; NOT NULL; grants ana=SELECT",
            ),
            (
                "column palisade.users.email",
                "text; grants ana=SELECT palisade_app=SELECT",
            ),
            (
                "policy palisade.customers.analyst_ana",
                "FOR SELECT TO ana USING ((organization_id = '0b6f'::uuid))",
            ),
        ]);
        forget_analysts(&mut live, &["ana".to_owned()]);
        assert_eq!(diff(&live, &repo), vec![]);
        // Revoked: a column's emptied ACL is no ACL.
        let mut revoked = snap(&[
            (
                "schema palisade",
                "owner palisade_owner; grants palisade_app=USAGE",
            ),
            (
                "column palisade.customers.email",
                "text; NOT NULL; grants (none)",
            ),
            (
                "column palisade.users.email",
                "text; grants palisade_app=SELECT",
            ),
        ]);
        forget_analysts(&mut revoked, &[]);
        assert_eq!(diff(&revoked, &repo), vec![]);
        // An analyst policy that is not the pinned SELECT, or a role that is not recorded, is drift.
        let mut widened = snap(&[(
            "policy palisade.customers.analyst_ana",
            "FOR ALL TO ana USING (true)",
        )]);
        forget_analysts(&mut widened, &["ana".to_owned()]);
        assert_eq!(widened.len(), 1);
        let mut unrecorded =
            snap(&[("column palisade.customers.email", "text; grants bob=SELECT")]);
        forget_analysts(&mut unrecorded, &["ana".to_owned()]);
        assert_eq!(
            unrecorded["column palisade.customers.email"],
            "text; grants bob=SELECT"
        );
    }
}
