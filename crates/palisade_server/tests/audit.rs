//! The DBA audit and the DDL guard, against real databases: the `palisade_audit` views, the
//! library entry point the CLI uses, and the built `palisade audit` binary.
//!
//! Each test gets its own database (copied from the migrated template) and breaks it the way a
//! DBA would, as a superuser, overriding the DDL guard where it would refuse. Roles are
//! cluster-wide and tests run in parallel: the shared palisade_* roles are never altered (making
//! palisade_app the owner of a table changes the table, in this test's database only), and role
//! violations use uniquely named roles that only hold privileges in their own test's database,
//! so the role findings of other tests' databases never see them. Conditions that are findings
//! of every database of the cluster (CREATEROLE, a membership in a superuser, pg_read_all_data or
//! pg_write_all_data) are only ever created inside a transaction that is rolled back, so no other
//! test ever sees them. This file is its own test process, with its own throwaway cluster.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::process::Command;

use palisade_db::audit::{self, AuditReport, Drift};
use palisade_db::schema;
use palisade_pg_embedded::PgBinaries;
use palisade_server::audit::{EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, audit_database};
use palisade_test_support::command::{Run, audit_violations as violations, run};
use palisade_test_support::{TEST_APP_LOGIN_ROLE, TestDb, cluster};
use tokio_postgres::Client;

/// Runs the built `palisade audit` with DATABASE_URL = the owner of `db` and, unless
/// `superuser` is false, PALISADE_SUPERUSER_URL.
async fn run_binary(db: &TestDb, args: &[&str], superuser: bool) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisade"));
    cmd.arg("audit")
        .args(args)
        .env("DATABASE_URL", db.url_as(schema::OWNER_ROLE))
        .env_remove("DATABASE_URL_FILE")
        .env_remove("PALISADE_SUPERUSER_URL")
        .env_remove("PALISADE_SUPERUSER_URL_FILE");
    if superuser {
        cmd.env(
            "PALISADE_SUPERUSER_URL",
            cluster().superuser_url("postgres"),
        );
    }
    run(cmd).await
}

/// The whole audit of `db` as the CLI runs it (drift included, with the superuser).
async fn full_report(db: &TestDb) -> AuditReport {
    let superuser = cluster().superuser_url("postgres");
    audit_database(&db.url_as(schema::OWNER_ROLE), Some(&superuser), true)
        .await
        .unwrap()
}

/// The objects of the report's drift items.
fn drift_objects(report: &AuditReport) -> Vec<&str> {
    report
        .drift_items()
        .iter()
        .map(|d| d.object.as_str())
        .collect()
}

/// Asserts that the violations view reports `kind` on `object` (of `object_type`), and that
/// `palisade audit` exits 1 naming it.
async fn assert_reported(db: &TestDb, kind: &str, object_type: &str, object: &str) {
    let su = db.superuser_client().await;
    let found = violations(&su).await;
    assert!(
        found
            .iter()
            .any(|(k, t, o)| k == kind && t == object_type && o == object),
        "palisade_audit.violations lacks ({kind}, {object_type}, {object}): {found:?}"
    );
    let run = run_binary(db, &[], true).await;
    assert_eq!(
        run.code,
        i32::from(EXIT_FINDINGS),
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    let line = format!("[{kind}] {object_type} {object}:");
    assert!(
        run.stdout.contains(&line),
        "the audit output does not name {line:?}:\n{}",
        run.stdout
    );
}

/// SQL creating a tenant table the way a DBA would (as palisade_owner, in one transaction, no
/// override: the guard lets well-formed tables through), with one policy per command in
/// `commands`.
fn tenant_table(name: &str, primary_key: &str, extra_columns: &str, commands: &[&str]) -> String {
    let org = "organization_id = (SELECT palisade_private.current_org_id())";
    let mut sql = format!(
        "BEGIN;
         SET LOCAL ROLE palisade_owner;
         CREATE TABLE palisade.{name} (
             organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
             id uuid NOT NULL{extra_columns},
             PRIMARY KEY ({primary_key}));
         ALTER TABLE palisade.{name} ENABLE ROW LEVEL SECURITY;
         ALTER TABLE palisade.{name} FORCE ROW LEVEL SECURITY;
         GRANT SELECT, INSERT, UPDATE, DELETE ON palisade.{name} TO palisade_app;"
    );
    for command in commands {
        let clauses = match *command {
            "INSERT" => format!("WITH CHECK ({org})"),
            "UPDATE" => format!("USING ({org}) WITH CHECK ({org})"),
            _ => format!("USING ({org})"),
        };
        sql.push_str(&format!(
            "CREATE POLICY {name}_{} ON palisade.{name} FOR {command} TO palisade_app {clauses};",
            command.to_lowercase()
        ));
    }
    sql.push_str("COMMIT;");
    sql
}

const ALL_COMMANDS: &[&str] = &["SELECT", "INSERT", "UPDATE", "DELETE"];

/// A uniquely named role of this test's own, dropped with `db` even when the test fails
/// ([`TestDb::drop_role_with_it`]): roles are cluster-wide, and a probe role left behind (a
/// BYPASSRLS login, a member of a superuser) would outlive the test on a shared server
/// (`TEST_DATABASE_URL`). One made inside a transaction that is rolled back needs nothing, but
/// is registered all the same.
fn probe_role(db: &TestDb) -> String {
    let name = format!("palisade_audit_probe_{}", uuid::Uuid::new_v4().simple());
    db.drop_role_with_it(&name);
    name
}

/// Drops `role` before the test's end, where what follows needs it gone (its database's
/// objects and grants of it first). Cleanup alone is [`probe_role`]'s.
async fn drop_role(c: &Client, role: &str) {
    c.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_fresh_database_has_no_violation_and_no_drift() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    assert_eq!(violations(&su).await, vec![]);

    // The library entry point the CLI uses, reading as the owner, drift checked as superuser.
    let report = full_report(&db).await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    match &report.drift {
        Drift::Checked { differences, .. } => assert!(differences.is_empty(), "{differences:?}"),
        Drift::Skipped { reason } => panic!("drift skipped: {reason}"),
    }
    assert!(report.ok && report.passed());
    assert_eq!(palisade_server::audit::exit_code(&report), EXIT_OK);
    // Every tenant table is listed and protected; the guard is in place.
    for table in ["organizations", "users", "customers"] {
        let row = report
            .tables
            .iter()
            .find(|t| t.is_tenant_table && t.table_name == table)
            .unwrap_or_else(|| panic!("{table} missing from palisade_audit.tables"));
        assert!(row.ok && row.rls_enabled && row.rls_forced, "{row:?}");
        assert!(row.select_policies.is_some() && row.delete_policies.is_some());
    }
    // The Stripe dedupe table is listed, as a platform table, not a tenant one.
    let events = report
        .tables
        .iter()
        .find(|t| t.schema_name == "palisade_platform" && t.table_name == "stripe_events")
        .expect("palisade_platform.stripe_events missing from palisade_audit.tables");
    assert!(!events.is_tenant_table && events.ok && events.rls_enabled && events.rls_forced);
    assert!(events.public_privileges.is_empty(), "{events:?}");
    // Its only policies are retention's (policies/029_retention.sql): the resolver's, inside
    // purge_expired_records. The billing role bypasses RLS; nobody else has one.
    for policies in [&events.select_policies, &events.delete_policies] {
        let policies = policies.as_deref().expect("retention's policies");
        assert!(
            policies
                .lines()
                .all(|p| p.contains(" TO palisade_resolver ")),
            "{events:?}"
        );
    }
    assert!(
        events.insert_policies.is_none() && events.update_policies.is_none(),
        "{events:?}"
    );
    // So is the Mailgun replay guard, with its policies for the app role (no UPDATE).
    let tokens = report
        .tables
        .iter()
        .find(|t| t.schema_name == "palisade_platform" && t.table_name == "mailgun_tokens")
        .expect("palisade_platform.mailgun_tokens missing from palisade_audit.tables");
    assert!(!tokens.is_tenant_table && tokens.ok && tokens.rls_enabled && tokens.rls_forced);
    assert!(tokens.public_privileges.is_empty(), "{tokens:?}");
    for policies in [
        &tokens.select_policies,
        &tokens.insert_policies,
        &tokens.delete_policies,
    ] {
        assert!(
            policies.as_deref().unwrap().contains("TO palisade_app"),
            "{tokens:?}"
        );
    }
    assert!(tokens.update_policies.is_none(), "{tokens:?}");
    assert!(
        report
            .ddl_guard
            .iter()
            .all(|g| g.enabled && g.problems.is_empty())
            && report.ddl_guard.len() == 2,
        "{:?}",
        report.ddl_guard
    );
    let app = report
        .roles
        .iter()
        .find(|r| r.role_name == schema::APP_ROLE)
        .unwrap();
    assert!(app.in_this_database && !app.can_bypass_rls && app.ok);
    assert!(
        app.tenant_privileges
            .as_deref()
            .unwrap()
            .contains("customers: SELECT INSERT UPDATE DELETE"),
        "{app:?}"
    );
    // On platform tables: the Mailgun tokens only (nothing on the Stripe events); the billing
    // role the reverse.
    assert_eq!(
        app.platform_privileges.as_deref(),
        Some("mailgun_tokens: SELECT INSERT DELETE"),
        "{app:?}"
    );
    let billing = report
        .roles
        .iter()
        .find(|r| r.role_name == schema::BILLING_ROLE)
        .unwrap();
    assert_eq!(
        billing.platform_privileges.as_deref(),
        Some("stripe_events: SELECT INSERT"),
        "{billing:?}"
    );

    // The binary, text and JSON.
    let run = run_binary(&db, &[], true).await;
    assert_eq!(
        run.code,
        i32::from(EXIT_OK),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(run.stdout.contains("Violations (0)"), "{}", run.stdout);
    for platform in [
        "palisade_platform.stripe_events",
        "palisade_platform.mailgun_tokens",
        "platform tables: SELECT INSERT DELETE on mailgun_tokens",
    ] {
        assert!(run.stdout.contains(platform), "{platform}:\n{}", run.stdout);
    }
    // The roles section is readable in 100 columns (the full lists are in --json and the view).
    let roles_section = run
        .stdout
        .split("\nRoles with something in this database\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("a roles section");
    assert!(roles_section.contains("palisade_app"), "{roles_section}");
    for line in roles_section.lines() {
        assert!(
            line.chars().count() <= palisade_server::audit::TEXT_WIDTH,
            "longer than 100 columns: {line:?}"
        );
    }
    assert!(run.stdout.contains("(0 difference(s))"), "{}", run.stdout);
    assert!(run.stdout.contains("Result: OK"), "{}", run.stdout);
    let run = run_binary(&db, &["--json"], true).await;
    assert_eq!(run.code, i32::from(EXIT_OK), "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["violations"], serde_json::json!([]));
    assert_eq!(json["drift"]["status"], "checked");
    assert_eq!(json["drift"]["differences"], serde_json::json!([]));
}

#[tokio::test]
async fn the_drift_check_needs_a_superuser_or_an_explicit_no_drift() {
    let db = TestDb::new().await;
    let run = run_binary(&db, &[], false).await;
    assert_eq!(run.code, i32::from(EXIT_ERROR), "{}", run.stdout);
    assert!(
        run.stderr.contains("PALISADE_SUPERUSER_URL"),
        "{}",
        run.stderr
    );
    let run = run_binary(&db, &["--no-drift"], false).await;
    assert_eq!(
        run.code,
        i32::from(EXIT_OK),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(run.stdout.contains("Drift: not checked"), "{}", run.stdout);
    let run = run_binary(&db, &["--frobnicate"], true).await;
    assert_eq!(run.code, i32::from(EXIT_ERROR));
    // DATABASE_URL as a superuser is enough on its own.
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("audit")
        .env("DATABASE_URL", db.superuser_url())
        .env_remove("DATABASE_URL_FILE")
        .env_remove("PALISADE_SUPERUSER_URL")
        .env_remove("PALISADE_SUPERUSER_URL_FILE")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(i32::from(EXIT_OK)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How far the reported violations must be the only ones.
#[derive(Clone, Copy, PartialEq)]
enum Exactly {
    /// Others may be reported too.
    No,
    /// Nothing else is reported on the objects named.
    OnTheseObjects,
    /// Nothing else is reported at all.
    InTheDatabase,
}

/// One way a DBA breaks the database, and what the audit must say about it.
struct Breakage {
    /// The case, named in every assertion.
    case: &'static str,
    /// What the DBA runs, as the superuser.
    sql: String,
    /// The (kind, object type, object) rows `palisade_audit.violations` must hold, each named
    /// by `palisade audit` too.
    reported: &'static [(&'static str, &'static str, &'static str)],
    /// Whether those must be all the violations (of the database, or of the objects named).
    exactly: Exactly,
    /// Objects that must not be reported.
    not_reported: &'static [&'static str],
    /// Lines the drift check must print.
    drift: &'static [&'static str],
}

impl Breakage {
    fn new(
        case: &'static str,
        sql: impl Into<String>,
        reported: &'static [(&'static str, &'static str, &'static str)],
    ) -> Self {
        let sql = sql.into();
        Breakage {
            case,
            sql,
            reported,
            exactly: Exactly::No,
            not_reported: &[],
            drift: &[],
        }
    }
}

/// `ddl` run with the DDL guard overridden, as a DBA who knows what the guard refuses would.
fn overriding_the_guard(ddl: &str) -> String {
    format!("BEGIN; SET LOCAL palisade.ddl_guard_override = 'audit test'; {ddl}; COMMIT;")
}

const DEFINERS: &str = "BEGIN;
    SET LOCAL ROLE palisade_owner;
    CREATE FUNCTION palisade_private.audit_probe_path() RETURNS int
        LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
    REVOKE ALL ON FUNCTION palisade_private.audit_probe_path() FROM PUBLIC;
    CREATE FUNCTION palisade_private.audit_probe_public() RETURNS int
        LANGUAGE sql SECURITY DEFINER SET search_path = '' AS 'SELECT 1';
    COMMIT;";

const VIEWS: &str = "CREATE VIEW public.audit_all_customers AS SELECT * FROM palisade.customers;
    CREATE VIEW public.audit_safe_customers WITH (security_invoker = true)
        AS SELECT id FROM palisade.customers;
    CREATE MATERIALIZED VIEW public.audit_customer_counts
        AS SELECT organization_id, count(*) FROM palisade.customers GROUP BY 1;";

const CUSTOMERS: &str = "palisade.customers";
const NOTES: &str = "palisade.audit_notes";
const APP: &str = schema::APP_ROLE;
const BILLING: &str = schema::BILLING_ROLE;

/// What each breakage looks like to the audit: every one in a database of its own.
#[tokio::test]
async fn each_way_of_breaking_the_database_is_reported() {
    let single_column_fk = ",\n other_org_id uuid REFERENCES palisade.organizations (id)";
    // A composite foreign key, as the rules want, whose columns no index leads with.
    let unindexed_fk = ",\n customer_id uuid,
         FOREIGN KEY (organization_id, customer_id)
             REFERENCES palisade.customers (organization_id, id) ON DELETE CASCADE";
    let cases = [
        Breakage {
            drift: &["[drift] row level security palisade.customers: differs"],
            ..Breakage::new(
                "RLS disabled",
                overriding_the_guard("ALTER TABLE palisade.customers DISABLE ROW LEVEL SECURITY"),
                &[("rls_disabled", "table", CUSTOMERS)],
            )
        },
        Breakage::new(
            "RLS not forced",
            overriding_the_guard("ALTER TABLE palisade.customers NO FORCE ROW LEVEL SECURITY"),
            &[("rls_not_forced", "table", CUSTOMERS)],
        ),
        Breakage::new(
            "a tenant table without a tenant index",
            tenant_table("audit_notes", "id, organization_id", "", ALL_COMMANDS),
            &[("no_tenant_index", "table", NOTES)],
        ),
        Breakage {
            exactly: Exactly::OnTheseObjects,
            ..Breakage::new(
                "a single-column foreign key between tenant tables, and nothing else wrong",
                tenant_table(
                    "audit_notes",
                    "organization_id, id",
                    single_column_fk,
                    ALL_COMMANDS,
                ) + "CREATE INDEX ON palisade.audit_notes (other_org_id);",
                &[("fk_without_tenant", "table", NOTES)],
            )
        },
        Breakage {
            exactly: Exactly::OnTheseObjects,
            ..Breakage::new(
                "a foreign key no index leads with (one that has its columns after another's, \
                 or only as INCLUDE columns, does not count), and nothing else wrong",
                tenant_table("audit_notes", "organization_id, id", unindexed_fk, ALL_COMMANDS)
                    + "CREATE INDEX ON palisade.audit_notes (id, organization_id, customer_id);
                       CREATE INDEX ON palisade.audit_notes (organization_id) INCLUDE (customer_id);",
                &[("fk_without_index", "table", NOTES)],
            )
        },
        Breakage::new(
            "a global unique key",
            "CREATE UNIQUE INDEX customers_phone_key ON palisade.customers (phone)",
            &[("global_unique_key", "table", CUSTOMERS)],
        ),
        Breakage::new(
            "a global unique key with the tenant column only INCLUDEd",
            "ALTER TABLE palisade.customers ADD CONSTRAINT customers_phone_key UNIQUE (phone) \
             INCLUDE (organization_id)",
            &[("global_unique_key", "table", CUSTOMERS)],
        ),
        Breakage::new(
            "a global exclusion constraint (uniqueness by another name)",
            "ALTER TABLE palisade.customers ADD CONSTRAINT customers_phone_excl \
             EXCLUDE USING hash (phone WITH =)",
            &[("global_unique_key", "table", CUSTOMERS)],
        ),
        Breakage {
            exactly: Exactly::InTheDatabase,
            ..Breakage::new(
                "security definer functions with a mutable search path or public execute, \
                 owned by the owner (as a restore by the owner would leave Palisade's own)",
                DEFINERS,
                &[
                    (
                        "definer_mutable_search_path",
                        "function",
                        "palisade_private.audit_probe_path()",
                    ),
                    (
                        "definer_public_execute",
                        "function",
                        "palisade_private.audit_probe_public()",
                    ),
                    (
                        "definer_wrong_owner",
                        "function",
                        "palisade_private.audit_probe_path()",
                    ),
                    (
                        "definer_wrong_owner",
                        "function",
                        "palisade_private.audit_probe_public()",
                    ),
                ],
            )
        },
        // Changes the table (in this case's database), not the shared role.
        Breakage::new(
            "the app role made owner of a tenant table",
            "ALTER TABLE palisade.customers OWNER TO palisade_app",
            &[
                ("app_role_owns", "role", APP),
                ("foreign_owner", "table", CUSTOMERS),
            ],
        ),
        // It may read and write the Mailgun tokens; as their owner it could also disable their
        // row-level security and grant itself anything there.
        Breakage::new(
            "the app role made owner of a platform table",
            "ALTER TABLE palisade_platform.mailgun_tokens OWNER TO palisade_app",
            &[("app_role_owns", "role", APP)],
        ),
        Breakage {
            not_reported: &["public.audit_safe_customers"],
            ..Breakage::new(
                "views over a tenant table without security_invoker, and a materialized one",
                VIEWS,
                &[
                    (
                        "view_not_security_invoker",
                        "view",
                        "public.audit_all_customers",
                    ),
                    (
                        "materialized_view_over_tenant_table",
                        "materialized view",
                        "public.audit_customer_counts",
                    ),
                ],
            )
        },
        Breakage::new(
            "a public grant and a disabled guard",
            "GRANT SELECT ON palisade.customers TO PUBLIC;
             ALTER EVENT TRIGGER palisade_ddl_guard DISABLE;",
            &[
                ("public_grant", "table", CUSTOMERS),
                ("ddl_guard_missing", "event trigger", "palisade_ddl_guard"),
            ],
        ),
        Breakage {
            exactly: Exactly::InTheDatabase,
            ..Breakage::new(
                "a column granted to PUBLIC, and USAGE on the tenant schema (the billing role, \
                 PUBLIC too, then reads every organization's email addresses)",
                "GRANT SELECT (email) ON palisade.customers TO PUBLIC;
                 GRANT USAGE ON SCHEMA palisade TO PUBLIC;",
                &[
                    ("public_grant", "table", CUSTOMERS),
                    ("public_grant", "schema", "palisade"),
                    ("billing_role_beyond_billing", "role", BILLING),
                ],
            )
        },
    ];
    // Each in a database of its own, one after the other: run all at once, ten audits (each
    // building its scratch database for the drift check) lost their superuser connections.
    for b in cases {
        check(b).await;
    }
}

/// Breaks a database of its own as `b` says and checks what the audit reports.
async fn check(b: Breakage) {
    let case = b.case;
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    su.batch_execute(&b.sql)
        .await
        .unwrap_or_else(|e| panic!("{case}: {e:?}"));
    for (kind, object_type, object) in b.reported {
        assert_reported(&db, kind, object_type, object).await;
    }
    let found = violations(&su).await;
    if b.exactly != Exactly::No {
        let named = |o: &String| b.reported.iter().any(|(_, _, r)| r == o);
        let mut found: Vec<_> = found
            .iter()
            .filter(|(_, _, o)| b.exactly == Exactly::InTheDatabase || named(o))
            .cloned()
            .collect();
        let mut expected: Vec<_> = b
            .reported
            .iter()
            .map(|(k, t, o)| ((*k).to_owned(), (*t).to_owned(), (*o).to_owned()))
            .collect();
        expected.sort();
        found.sort();
        assert_eq!(found, expected, "{case}: more than reported");
    }
    for object in b.not_reported {
        assert!(
            !found.iter().any(|(_, _, o)| o == object),
            "{case}: {object} reported: {found:?}"
        );
    }
    if !b.drift.is_empty() {
        let run = run_binary(&db, &[], true).await;
        for line in b.drift {
            assert!(
                run.stdout.contains(line),
                "{case}: no {line:?}:\n{}",
                run.stdout
            );
        }
    }
}

#[tokio::test]
async fn a_public_grant_names_the_columns_it_opens() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    su.batch_execute(
        "GRANT SELECT (email, name), UPDATE (email) ON palisade.customers TO PUBLIC;
         GRANT INSERT ON palisade.customers TO PUBLIC;",
    )
    .await
    .unwrap();
    let detail: String = su
        .query_one(
            "SELECT detail FROM palisade_audit.violations
              WHERE kind = 'public_grant' AND object = 'palisade.customers'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        detail,
        "PUBLIC holds INSERT, SELECT (name, email), UPDATE (email)"
    );
    // The fix the audit gives takes the column grants too.
    su.batch_execute("REVOKE ALL ON palisade.customers FROM PUBLIC")
        .await
        .unwrap();
    assert_eq!(violations(&su).await, vec![]);
}

#[tokio::test]
async fn a_table_without_a_policy_for_one_command_is_reported() {
    let db = TestDb::new().await;
    db.superuser_client()
        .await
        .batch_execute(&tenant_table(
            "audit_notes",
            "organization_id, id",
            "",
            &["SELECT", "INSERT", "UPDATE"],
        ))
        .await
        .unwrap();
    assert_reported(&db, "missing_policy", "table", "palisade.audit_notes").await;
    let su = db.superuser_client().await;
    let detail: String = su
        .query_one(
            "SELECT detail FROM palisade_audit.violations WHERE object = 'palisade.audit_notes'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(detail.contains("DELETE"), "{detail}");
}

#[tokio::test]
async fn a_dropped_policy_is_reported_and_is_drift() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    su.batch_execute("DROP POLICY customers_update ON palisade.customers")
        .await
        .unwrap();
    assert_reported(&db, "missing_policy", "table", "palisade.customers").await;
    let run = run_binary(&db, &[], true).await;
    assert!(
        run.stdout.contains(
            "[drift] policy palisade.customers.customers_update: missing from the live database"
        ),
        "{}",
        run.stdout
    );

    // A policy no rule requires (the resolver's) is still drift, and fails the audit.
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    su.batch_execute("DROP POLICY users_select_resolver ON palisade.users")
        .await
        .unwrap();
    assert_eq!(violations(&su).await, vec![]);
    let run = run_binary(&db, &[], true).await;
    assert_eq!(run.code, i32::from(EXIT_FINDINGS), "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "[drift] policy palisade.users.users_select_resolver: missing from the live database"
        ),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn a_policy_changed_to_using_true_is_reported() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    su.batch_execute("ALTER POLICY customers_select ON palisade.customers USING (true)")
        .await
        .unwrap();
    assert_reported(&db, "unscoped_policy", "table", "palisade.customers").await;
    let run = run_binary(&db, &[], true).await;
    assert!(
        run.stdout
            .contains("[drift] policy palisade.customers.customers_select: differs"),
        "{}",
        run.stdout
    );
    // An OR that widens the organization test is not scoped either.
    su.batch_execute(
        "ALTER POLICY customers_select ON palisade.customers
             USING (organization_id = (SELECT palisade_private.current_org_id()) OR name <> '')",
    )
    .await
    .unwrap();
    assert!(
        violations(&su)
            .await
            .iter()
            .any(|(k, _, o)| k == "unscoped_policy" && o == "palisade.customers")
    );
}

#[tokio::test]
async fn a_second_bypassrls_role_is_reported() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    let role = probe_role(&db);
    su.batch_execute(&format!(
        "CREATE ROLE {role} LOGIN BYPASSRLS; GRANT USAGE ON SCHEMA palisade TO {role};
         GRANT SELECT ON palisade.customers TO {role};"
    ))
    .await
    .unwrap();
    assert_reported(&db, "bypassrls_role", "role", &role).await;
    // The allow-listed billing role is not bypassrls_role; what it may reach is
    // billing_role_beyond_billing (the next test).
    let found = violations(&su).await;
    assert!(
        !found.iter().any(|(_, _, o)| o == schema::BILLING_ROLE),
        "{found:?}"
    );
}

/// The detail of the critical `billing_role_beyond_billing` finding on the billing role, which
/// must be reported (`what`: the grant or table under test, for the failure's message).
async fn billing_finding(client: &impl tokio_postgres::GenericClient, what: &str) -> String {
    let found = ranked_violations(client).await;
    found
        .iter()
        .find(|[s, k, _, o, _]| {
            s == "critical" && k == "billing_role_beyond_billing" && o == BILLING
        })
        .map(|[.., d]| d.clone())
        .unwrap_or_else(|| panic!("{what}: {found:?}"))
}

#[tokio::test]
async fn the_billing_role_reaching_beyond_billing_is_critical() {
    // palisade_billing is allow-listed for its BYPASSRLS, so whatever else it reaches, it reaches
    // for every organization: what BillingPool::check_role refuses at startup, the audit reports.
    let db = TestDb::new().await;
    let mut su = db.superuser_client().await;
    two_organizations(&su).await;
    // A grant here (this database only): every column of organizations, names included.
    su.batch_execute("GRANT SELECT ON palisade.organizations TO palisade_billing")
        .await
        .unwrap();
    assert_reported(&db, "billing_role_beyond_billing", "role", BILLING).await;
    let detail: String = su
        .query_one(
            "SELECT detail FROM palisade_audit.violations WHERE kind = 'billing_role_beyond_billing'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(detail.contains("palisade.organizations.name"), "{detail}");
    // Back to 440_billing.sql's column grants: nothing to report.
    su.batch_execute(
        "REVOKE SELECT ON palisade.organizations FROM palisade_billing;
         GRANT SELECT (id, stripe_customer_id, plan, plan_status) ON palisade.organizations
             TO palisade_billing;",
    )
    .await
    .unwrap();
    assert_eq!(violations(&su).await, vec![]);
    // Memberships are cluster-wide: each made in a transaction and rolled back, so the other
    // tests' databases never see them. pg_read_all_data is named in no ACL here, yet with
    // BYPASSRLS it reads every organization's customers.
    let reader = probe_role(&db);
    for (membership, reached) in [
        (
            "GRANT pg_read_all_data TO palisade_billing".to_owned(),
            "is a member of pg_read_all_data",
        ),
        // An analyst-like role: SELECT on customers, lent to billing by the membership.
        (
            format!(
                "CREATE ROLE {reader} NOLOGIN; GRANT USAGE ON SCHEMA palisade TO {reader};
                 GRANT SELECT (organization_id, id, name) ON palisade.customers TO {reader};
                 GRANT {reader} TO palisade_billing"
            ),
            "palisade.customers",
        ),
    ] {
        let tx = su.transaction().await.unwrap();
        tx.batch_execute(&membership).await.unwrap();
        let found = ranked_violations(&tx).await;
        assert!(
            found.iter().any(|[s, k, _, o, d]| s == "critical"
                && k == "billing_role_beyond_billing"
                && o == BILLING
                && d.contains(reached)),
            "{membership}: {found:?}"
        );
        // The leak it reports.
        tx.batch_execute("SET LOCAL ROLE palisade_billing")
            .await
            .unwrap();
        let seen: Vec<String> = tx
            .query("SELECT name FROM palisade.customers ORDER BY name", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(seen, ["customer of org A", "customer of org B"]);
        tx.rollback().await.unwrap();
    }
    // On its own tables, UPDATE of the columns its upserts set only (440_billing.sql): a
    // table-wide UPDATE, as that file granted before, lets it move a subscription or an invoice
    // to another organization. Each grant in a transaction, rolled back.
    for (grant, reached) in [
        (
            "GRANT UPDATE ON palisade.subscriptions TO palisade_billing",
            "palisade.subscriptions.organization_id (UPDATE)",
        ),
        (
            "GRANT UPDATE (organization_id) ON palisade.invoices TO palisade_billing",
            "palisade.invoices.organization_id (UPDATE)",
        ),
        (
            "GRANT TRUNCATE ON palisade.invoices TO palisade_billing",
            "palisade.invoices (DELETE, TRUNCATE, REFERENCES or TRIGGER)",
        ),
    ] {
        let tx = su.transaction().await.unwrap();
        tx.batch_execute(grant).await.unwrap();
        let detail = billing_finding(&tx, grant).await;
        assert!(detail.contains(reached), "{grant}: {detail}");
        // The columns the upserts set are its own: not reported.
        assert!(!detail.contains(".status"), "{grant}: {detail}");
        tx.rollback().await.unwrap();
    }
    // The audit's lists of those columns (900_audit.sql) are the server's own
    // (palisade_db::stripe's, which the startup check takes): a table-wide UPDATE is reported
    // on exactly every other column. A column dropped from the upserts but left in the audit's
    // list would go unreported here while the startup check refused it (review r4).
    for (table, updated) in [
        (
            "subscriptions",
            palisade_db::stripe::SUBSCRIPTION_UPDATED_COLUMNS,
        ),
        ("invoices", palisade_db::stripe::INVOICE_UPDATED_COLUMNS),
    ] {
        let tx = su.transaction().await.unwrap();
        tx.batch_execute(&format!(
            "GRANT UPDATE ON palisade.{table} TO palisade_billing"
        ))
        .await
        .unwrap();
        let detail = billing_finding(&tx, table).await;
        let prefix = format!("palisade.{table}.");
        let mut reported: Vec<String> = detail
            .match_indices(&prefix)
            .filter_map(|(i, _)| {
                let rest = &detail[i + prefix.len()..];
                rest.find(" (UPDATE)").map(|end| rest[..end].to_owned())
            })
            .collect();
        reported.sort();
        let mut expected: Vec<String> = tx
            .query(
                "SELECT a.attname::text FROM pg_catalog.pg_attribute a \
                  WHERE a.attrelid = ('palisade.' || $1)::regclass AND a.attnum > 0 \
                    AND NOT a.attisdropped",
                &[&table],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .filter(|c| !updated.contains(&c.as_str()))
            .collect();
        expected.sort();
        assert_eq!(reported, expected, "{table}: {detail}");
        tx.rollback().await.unwrap();
    }
    assert_eq!(violations(&su).await, vec![]);
}

#[tokio::test]
async fn a_role_that_can_become_a_bypassrls_role_is_reported() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    let (member, bypass) = (probe_role(&db), probe_role(&db));
    su.batch_execute(&format!(
        "CREATE ROLE {bypass} NOLOGIN BYPASSRLS; CREATE ROLE {member} LOGIN;
         GRANT SELECT ON palisade.customers TO {member}; GRANT {bypass} TO {member};"
    ))
    .await
    .unwrap();
    assert_reported(&db, "member_of_bypass_role", "role", &member).await;
}

#[tokio::test]
async fn a_bypassrls_role_that_reads_through_pg_read_all_data_is_reported() {
    // Named in no ACL of this database, yet it reads every table of every database. Its
    // membership makes it present in every database of the cluster, the other tests' included:
    // made in a transaction and rolled back, they never see it.
    let db = TestDb::new().await;
    let mut su = db.superuser_client().await;
    let (reader, writer, member) = (probe_role(&db), probe_role(&db), probe_role(&db));
    let tx = su.transaction().await.unwrap();
    tx.batch_execute(&format!(
        "CREATE ROLE {reader} LOGIN BYPASSRLS; GRANT pg_read_all_data TO {reader};
         CREATE ROLE {writer} NOLOGIN BYPASSRLS; GRANT pg_write_all_data TO {writer};
         CREATE ROLE {member} LOGIN; GRANT {writer} TO {member};"
    ))
    .await
    .unwrap();
    let found = ranked_violations(&tx).await;
    assert!(
        has(&found, "critical", "bypassrls_role", &reader),
        "{found:?}"
    );
    assert!(
        has(&found, "critical", "bypassrls_role", &writer),
        "{found:?}"
    );
    // A member of a member is present too, and can SET ROLE to the BYPASSRLS one.
    assert!(
        has(&found, "critical", "member_of_bypass_role", &member),
        "{found:?}"
    );
    tx.rollback().await.unwrap();
    assert_eq!(violations(&su).await, vec![]);
}

#[tokio::test]
async fn a_member_of_a_superuser_that_holds_nothing_here_is_reported() {
    // It can SET ROLE to the superuser and read every row of every database, yet it owns and
    // holds nothing in this one. Superusers count as present in every database, so it is found
    // in the other tests' databases too: made in a transaction and rolled back (both roles are
    // gone with it), they never see it.
    let db = TestDb::new().await;
    let mut su = db.superuser_client().await;
    let (superuser, member) = (probe_role(&db), probe_role(&db));
    let tx = su.transaction().await.unwrap();
    tx.batch_execute(&format!(
        "CREATE ROLE {superuser} NOLOGIN SUPERUSER;
         CREATE ROLE {member} LOGIN; GRANT {superuser} TO {member};"
    ))
    .await
    .unwrap();
    let found = ranked_violations(&tx).await;
    assert!(
        has(&found, "critical", "member_of_bypass_role", &member),
        "{found:?}"
    );
    let detail = &found.iter().find(|v| v[3] == member).unwrap()[4];
    assert!(detail.contains(&superuser), "{detail}");
    // The superuser itself is the DBA's own: listed, never flagged.
    assert!(!found.iter().any(|v| v[3] == superuser), "{found:?}");
    let listed: bool = tx
        .query_one(
            "SELECT in_this_database FROM palisade_audit.roles WHERE role_name = $1",
            &[&superuser],
        )
        .await
        .unwrap()
        .get(0);
    assert!(listed);
    tx.rollback().await.unwrap();
    assert_eq!(violations(&su).await, vec![]);
}

#[tokio::test]
async fn replication_and_the_server_files_roles_are_reported_though_they_hold_nothing_here() {
    // A REPLICATION login reads every row below row-level security (pg_basebackup, a logical
    // slot), and so does a role that may SET ROLE to one, or to a role that reads or writes the
    // server's files or runs its programs. Cluster-wide: made in a transaction and rolled back.
    let db = TestDb::new().await;
    let mut su = db.superuser_client().await;
    let (replicator, member, files, administrator, unreached) = (
        probe_role(&db),
        probe_role(&db),
        probe_role(&db),
        probe_role(&db),
        probe_role(&db),
    );
    let tx = su.transaction().await.unwrap();
    tx.batch_execute(&format!(
        "CREATE ROLE {replicator} LOGIN REPLICATION;
         CREATE ROLE {unreached} NOLOGIN REPLICATION;
         CREATE ROLE {member} LOGIN; GRANT {replicator} TO {member};
         CREATE ROLE {files} LOGIN; GRANT pg_execute_server_program TO {files};
         CREATE ROLE {administrator} LOGIN REPLICATION; GRANT pg_read_server_files TO {administrator};"
    ))
    .await
    .unwrap();
    let found = ranked_violations(&tx).await;
    assert!(
        has(&found, "critical", "replication_role", &replicator),
        "{found:?}"
    );
    for (role, via) in [
        (&member, replicator.as_str()),
        (&files, "pg_execute_server_program"),
    ] {
        assert!(
            found.iter().any(|[s, k, _, o, d]| s == "critical"
                && k == "member_of_bypass_role"
                && o == role
                && d.contains(via)),
            "{role}: {found:?}"
        );
    }
    assert!(has(&found, "critical", "replication_role", &administrator));
    assert!(has(
        &found,
        "critical",
        "member_of_bypass_role",
        &administrator
    ));
    // A NOLOGIN one that nobody is a member of reaches nothing (a managed service's own may be
    // such): not reported until a member can SET ROLE to it.
    assert!(!found.iter().any(|v| v[3] == unreached), "{found:?}");
    // A standby's or physical backup's login of the DBA's own: allow-listed as an administrator.
    tx.execute(
        "INSERT INTO palisade_audit.allow_list (kind, name, reason)
         VALUES ('administrator_role', $1, 'the standby''s login')",
        &[&administrator],
    )
    .await
    .unwrap();
    let found = ranked_violations(&tx).await;
    assert!(!found.iter().any(|v| v[3] == administrator), "{found:?}");
    assert!(has(&found, "critical", "replication_role", &replicator));
    let can_bypass: bool = tx
        .query_one(
            "SELECT can_bypass_rls FROM palisade_audit.roles WHERE role_name = $1",
            &[&replicator],
        )
        .await
        .unwrap()
        .get(0);
    assert!(can_bypass);
    tx.rollback().await.unwrap();
    assert_eq!(violations(&su).await, vec![]);
}

#[tokio::test]
async fn a_role_with_createrole_is_reported_though_it_holds_nothing_here() {
    // On PostgreSQL 15 a CREATEROLE role may grant itself any role but a superuser, from
    // anywhere: it is reported in every database of the cluster, so in the other tests'
    // databases too. Made in a transaction and rolled back, they never see it (a test binary of
    // its own would not do: each file is one, and this one's tests share its cluster).
    let db = TestDb::new().await;
    let mut su = db.superuser_client().await;
    let version: i32 = su
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .unwrap()
        .get(0);
    let admin = probe_role(&db);
    let tx = su.transaction().await.unwrap();
    tx.batch_execute(&format!("CREATE ROLE {admin} LOGIN CREATEROLE"))
        .await
        .unwrap();
    let found = ranked_violations(&tx).await;
    let on_admin = |found: &[[String; 5]]| -> Vec<String> {
        found
            .iter()
            .filter(|v| v[3] == admin)
            .map(|v| v[1].clone())
            .collect()
    };
    if version < 160000 {
        assert_eq!(on_admin(&found), ["createrole_role"], "{found:?}");
        assert!(has(&found, "high", "createrole_role", &admin), "{found:?}");
        // What it can do: grant itself the backup role, and with it BYPASSRLS.
        tx.batch_execute(&format!(
            "SET LOCAL ROLE {admin}; GRANT palisade_backup TO {admin}; RESET ROLE;"
        ))
        .await
        .unwrap();
        let found = ranked_violations(&tx).await;
        assert!(
            has(&found, "critical", "member_of_bypass_role", &admin),
            "{found:?}"
        );
    } else {
        // PostgreSQL 16 and later: only over the roles it holds ADMIN OPTION on.
        assert_eq!(on_admin(&found), Vec::<String>::new(), "{found:?}");
        tx.batch_execute(&format!(
            "GRANT palisade_backup TO {admin} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE"
        ))
        .await
        .unwrap();
        let found = ranked_violations(&tx).await;
        let detail = &found
            .iter()
            .find(|v| v[1] == "createrole_role" && v[3] == admin)
            .unwrap_or_else(|| panic!("{found:?}"))[4];
        assert!(
            detail.contains("ADMIN OPTION on palisade_backup"),
            "{detail}"
        );
    }
    // The cluster's own superuser has CREATEROLE too: it is the DBA's, never reported.
    let superuser_createrole: bool = tx
        .query_one(
            "SELECT rolcreaterole FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(superuser_createrole);
    tx.rollback().await.unwrap();
    assert_eq!(violations(&su).await, vec![]);
}

#[tokio::test]
async fn an_allow_listed_administrator_is_not_reported_for_createrole_or_a_superuser_membership() {
    // The DBA's own administrators: a CREATEROLE login (a managed service's admin login) and a
    // personal login that is a member of a superuser. Both are findings of every database of the
    // cluster: made in a transaction and rolled back (allow-list rows included).
    let db = TestDb::new().await;
    let mut su = db.superuser_client().await;
    let version: i32 = su
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .unwrap()
        .get(0);
    let (superuser, creator, member, backup_member, creator_member) = (
        probe_role(&db),
        probe_role(&db),
        probe_role(&db),
        probe_role(&db),
        probe_role(&db),
    );
    let tx = su.transaction().await.unwrap();
    tx.batch_execute(&format!(
        "CREATE ROLE {superuser} NOLOGIN SUPERUSER;
         CREATE ROLE {creator} LOGIN CREATEROLE;
         CREATE ROLE {creator_member} LOGIN; GRANT {creator} TO {creator_member};
         CREATE ROLE {member} LOGIN; GRANT {superuser} TO {member};
         CREATE ROLE {backup_member} LOGIN; GRANT {superuser} TO {backup_member};
         GRANT palisade_backup TO {backup_member};"
    ))
    .await
    .unwrap();
    if version >= 160000 {
        // PostgreSQL 16 and later: CREATEROLE is reported for the roles it holds ADMIN OPTION on.
        tx.batch_execute(&format!(
            "GRANT palisade_backup TO {creator} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE"
        ))
        .await
        .unwrap();
    }
    let kinds_on = |found: &[[String; 5]], role: &str| -> Vec<String> {
        found
            .iter()
            .filter(|v| v[3] == role)
            .map(|v| v[1].clone())
            .collect()
    };
    let detail_on = |found: &[[String; 5]], role: &str| -> String {
        found
            .iter()
            .find(|v| v[1] == "member_of_bypass_role" && v[3] == role)
            .unwrap_or_else(|| panic!("{found:?}"))[4]
            .clone()
    };
    let found = ranked_violations(&tx).await;
    let on_creator = kinds_on(&found, &creator);
    assert!(on_creator.contains(&"createrole_role".into()), "{found:?}");
    if version < 160000 {
        assert_eq!(on_creator, ["createrole_role"], "{found:?}");
    }
    assert_eq!(
        kinds_on(&found, &member),
        ["member_of_bypass_role"],
        "{found:?}"
    );
    let detail = detail_on(&found, &backup_member);
    assert!(
        detail.contains(&superuser) && detail.contains("palisade_backup"),
        "{detail}"
    );

    // Allow-listed as administrators, as policies/910_audit_allow_list.sql would list them.
    for role in [&creator, &member, &backup_member] {
        tx.execute(
            "INSERT INTO palisade_audit.allow_list (kind, name, reason)
             VALUES ('administrator_role', $1, 'audit test: the DBA''s own')",
            &[role],
        )
        .await
        .unwrap();
    }
    let found = ranked_violations(&tx).await;
    let on_creator = kinds_on(&found, &creator);
    assert!(!on_creator.contains(&"createrole_role".into()), "{found:?}");
    // The list accepts the role it names, not its members: one can still SET ROLE to it.
    let via = found
        .iter()
        .find(|v| v[1] == "createrole_role" && v[3] == creator_member)
        .unwrap_or_else(|| panic!("{found:?}"));
    assert!(
        via[4].contains(&format!("can SET ROLE to {creator}")),
        "{via:?}"
    );
    if version < 160000 {
        assert_eq!(on_creator, Vec::<String>::new(), "{found:?}");
    }
    assert_eq!(kinds_on(&found, &member), Vec::<String>::new(), "{found:?}");
    // Its membership in the superuser is accepted, not the one in the BYPASSRLS backup role.
    let detail = detail_on(&found, &backup_member);
    assert!(
        detail.contains("palisade_backup") && !detail.contains(&superuser),
        "{detail}"
    );
    // What it can do is still shown: only the finding is gone.
    let can_bypass: bool = tx
        .query_one(
            "SELECT can_bypass_rls FROM palisade_audit.roles WHERE role_name = $1",
            &[&member],
        )
        .await
        .unwrap()
        .get(0);
    assert!(can_bypass);
    // Everything else is still checked: a login member of the app group acts as the app.
    tx.batch_execute(&format!("GRANT palisade_app TO {member}"))
        .await
        .unwrap();
    let found = ranked_violations(&tx).await;
    assert!(
        has(&found, "critical", "app_login_member", &member),
        "{found:?}"
    );
    tx.rollback().await.unwrap();
    assert_eq!(violations(&su).await, vec![]);
}

/// A grant made to an app login role (`palisade_app_a`, as a DBA debugging with it might) is the
/// app's as much as one made to `palisade_app`: the column audit checks every role acting as the
/// app, and a secret column granted so is reported. (Only `palisade_app`'s grants were checked,
/// and the export, which followed the login role's, then held every user's password hash.)
#[tokio::test]
async fn a_secret_column_granted_to_an_app_login_role_is_reported() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    su.batch_execute(&format!(
        "GRANT SELECT ON palisade.users TO {TEST_APP_LOGIN_ROLE}"
    ))
    .await
    .unwrap();
    let found = violations(&su).await;
    assert!(
        found.iter().any(|(k, t, o)| k == "secret_column_readable"
            && t == "column"
            && o == "palisade.users.password_hash"),
        "{found:?}"
    );
    su.batch_execute(&format!(
        "REVOKE SELECT ON palisade.users FROM {TEST_APP_LOGIN_ROLE}"
    ))
    .await
    .unwrap();
    assert_eq!(violations(&su).await, vec![]);
}

#[tokio::test]
async fn column_secrecy_findings_are_reported_and_a_hand_made_classification_is_drift() {
    // policies/920_column_classification.sql classifies every column palisade_app can reach;
    // break each rule as a careless migration, grant or DBA would.
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    su.batch_execute(
        "ALTER TABLE palisade.customers ADD COLUMN portal_token text;
         GRANT SELECT (signing_secret) ON palisade.outbound_webhooks TO palisade_app;
         INSERT INTO palisade_audit.column_classification
             VALUES ('palisade', 'customers', 'loyalty_code', 'readable', NULL);
         CREATE VIEW public.audit_webhook_secrets AS
             SELECT id, signing_secret AS url_token FROM palisade.outbound_webhooks;
         GRANT SELECT ON public.audit_webhook_secrets TO palisade_app;
         INSERT INTO palisade_audit.column_classification VALUES
             ('public', 'audit_webhook_secrets', 'id', 'readable', NULL),
             ('public', 'audit_webhook_secrets', 'url_token', 'readable', NULL);",
    )
    .await
    .unwrap();
    let found = violations(&su).await;
    for (kind, object) in [
        ("unclassified_column", "palisade.customers.portal_token"),
        (
            "stale_column_classification",
            "palisade.customers.loyalty_code",
        ),
        (
            "secret_derived_column",
            "public.audit_webhook_secrets.url_token",
        ),
    ] {
        assert!(
            found
                .iter()
                .any(|(k, t, o)| k == kind && t == "column" && o == object),
            "({kind}, column, {object}) not in {found:?}"
        );
    }
    // The view is also reported as a view; nothing else is.
    let columns: Vec<&(String, String, String)> =
        found.iter().filter(|(_, t, _)| t == "column").collect();
    assert_eq!(columns.len(), 5, "{columns:?}");
    // `palisade audit` names them, and the rows added by hand are drift.
    assert_reported(
        &db,
        "secret_column_readable",
        "column",
        "palisade.outbound_webhooks.signing_secret",
    )
    .await;
    let report = full_report(&db).await;
    let objects = drift_objects(&report);
    assert!(
        objects.contains(&"column classification palisade.customers.loyalty_code"),
        "{objects:?}"
    );
    // The report lists every column with what the app role may do with it.
    let find = |table: &str, column: &str| {
        report
            .columns
            .iter()
            .find(|c| c.table_name == table && c.column_name == column)
            .unwrap_or_else(|| panic!("{table}.{column} missing from the report"))
    };
    let token = find("social_accounts", "access_token");
    assert_eq!(token.classification.as_deref(), Some("secret"));
    assert!(
        token.ok && token.app_can_reach && !token.app_can_select,
        "{token:?}"
    );
    let leaked = find("outbound_webhooks", "signing_secret");
    assert!(!leaked.ok && leaked.app_can_select, "{leaked:?}");
}

#[tokio::test]
async fn drift_sees_what_policies_do_not_touch() {
    // Re-applying policies/ would leave these in place; a reference database shows them.
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    let role = probe_role(&db);
    su.batch_execute(&format!(
        "CREATE ROLE {role} NOLOGIN;
         GRANT SELECT ON palisade.customers TO {role};
         GRANT SELECT ON palisade_platform.stripe_events TO {role};
         GRANT UPDATE ON palisade_platform.mailgun_tokens TO palisade_app;
         CREATE POLICY customers_extra ON palisade.customers FOR SELECT TO palisade_app
             USING (organization_id = (SELECT palisade_private.current_org_id()));
         INSERT INTO palisade_audit.allow_list VALUES ('global_unique_key', 'customers_phone_key', 'sneaked in');"
    ))
    .await
    .unwrap();
    // None of it breaks a rule by itself...
    assert_eq!(violations(&su).await, vec![]);
    // ...but it is not what the repository produces.
    let report = full_report(&db).await;
    let objects = drift_objects(&report);
    for expected in [
        "grants palisade.customers",
        "grants palisade_platform.stripe_events",
        "grants palisade_platform.mailgun_tokens",
        "policy palisade.customers.customers_extra",
        "allow-list global_unique_key customers_phone_key",
    ] {
        assert!(objects.contains(&expected), "{expected} not in {objects:?}");
    }
    assert_eq!(palisade_server::audit::exit_code(&report), EXIT_FINDINGS);
    let grants = report
        .drift_items()
        .iter()
        .find(|d| d.object == "grants palisade.customers")
        .unwrap();
    assert!(
        grants.live.as_deref().unwrap().contains(&role),
        "{grants:?}"
    );
}

#[tokio::test]
async fn the_auditor_role_reads_the_audit_and_no_tenant_row() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    su.batch_execute(
        "INSERT INTO palisade.organizations (id, name) VALUES (gen_random_uuid(), 'Acme');
         SET ROLE palisade_auditor;",
    )
    .await
    .unwrap();
    for view in [
        "violations",
        "tables",
        "policies",
        "roles",
        "functions",
        "views",
        "ddl_guard",
        "allow_list",
        "columns",
        "column_classification",
    ] {
        su.query(&format!("SELECT * FROM palisade_audit.{view}"), &[])
            .await
            .unwrap_or_else(|e| panic!("auditor cannot read {view}: {e}"));
    }
    assert_eq!(violations(&su).await, vec![]);
    let err = su
        .query("SELECT * FROM palisade.organizations", &[])
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
    // The library reads as the auditor too (the snapshot included).
    let mut live = schema::connect(&db.superuser_url()).await.unwrap();
    live.batch_execute("SET ROLE palisade_auditor")
        .await
        .unwrap();
    let report = audit::run(&mut live, Some(&cluster().superuser_url("postgres")))
        .await
        .unwrap();
    assert!(
        report.passed(),
        "{:?} {:?}",
        report.violations,
        report.drift
    );
}

fn guard_error(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| format!("{} {}", d.message(), d.hint().unwrap_or_default()))
        .unwrap_or_else(|| e.to_string())
}

#[tokio::test]
async fn the_ddl_guard_refuses_a_tenant_table_without_organization_id_unless_overridden() {
    let db = TestDb::new().await;
    for client in [db.owner_client().await, db.superuser_client().await] {
        let err = client
            .batch_execute("CREATE TABLE palisade.audit_bad (id uuid PRIMARY KEY)")
            .await
            .unwrap_err();
        let msg = guard_error(&err);
        assert!(
            msg.contains("rule tenant_column_required") && msg.contains("palisade.audit_bad"),
            "{msg}"
        );
        assert!(msg.contains("palisade.ddl_guard_override"), "{msg}");
        let err = client
            .batch_execute("CREATE TABLE palisade.audit_bad AS SELECT 1 AS n")
            .await
            .unwrap_err();
        assert!(guard_error(&err).contains("rule tenant_column_required"));
    }
    // Other schemas are not tenant schemas.
    let owner = db.owner_client().await;
    owner
        .batch_execute("CREATE TABLE public.audit_scratch (id uuid)")
        .await
        .unwrap();
    // ...nor can a table be moved into the tenant schema without the column.
    let err = owner
        .batch_execute("ALTER TABLE public.audit_scratch SET SCHEMA palisade")
        .await
        .unwrap_err();
    assert!(guard_error(&err).contains("rule tenant_column_required"));
    // The documented override, in a transaction.
    owner
        .batch_execute(
            "BEGIN;
             SET LOCAL palisade.ddl_guard_override = 'test: a table that is not a tenant table';
             CREATE TABLE palisade.audit_bad (id uuid PRIMARY KEY);
             COMMIT;",
        )
        .await
        .unwrap();
    // SET LOCAL ended with the transaction: the next one is guarded again.
    let err = owner
        .batch_execute("CREATE TABLE palisade.audit_bad2 (id uuid PRIMARY KEY)")
        .await
        .unwrap_err();
    assert!(guard_error(&err).contains("rule tenant_column_required"));
}

#[tokio::test]
async fn the_ddl_guard_refuses_disabling_or_unforcing_rls_unless_overridden() {
    let db = TestDb::new().await;
    for client in [db.owner_client().await, db.superuser_client().await] {
        let err = client
            .batch_execute("ALTER TABLE palisade.customers DISABLE ROW LEVEL SECURITY")
            .await
            .unwrap_err();
        let msg = guard_error(&err);
        assert!(
            msg.contains("rule rls_stays_enabled") && msg.contains("palisade.customers"),
            "{msg}"
        );
        let err = client
            .batch_execute("ALTER TABLE palisade.customers NO FORCE ROW LEVEL SECURITY")
            .await
            .unwrap_err();
        assert!(guard_error(&err).contains("rule rls_stays_forced"));
    }
    let owner = db.owner_client().await;
    // Harmless DDL on tenant tables passes, and so does a new table built in the migrations'
    // style: created first, RLS enabled and forced by later statements.
    owner
        .batch_execute(
            "ALTER TABLE palisade.customers ADD COLUMN audit_note text;
             CREATE TABLE palisade.audit_new (organization_id uuid NOT NULL, id uuid NOT NULL,
                 PRIMARY KEY (organization_id, id));
             ALTER TABLE palisade.audit_new ADD COLUMN label text;
             ALTER TABLE palisade.audit_new ENABLE ROW LEVEL SECURITY;
             ALTER TABLE palisade.audit_new FORCE ROW LEVEL SECURITY;",
        )
        .await
        .unwrap();
    // The documented override.
    owner
        .batch_execute(
            "BEGIN;
             SET LOCAL palisade.ddl_guard_override = 'test: consciously, for a bulk load';
             ALTER TABLE palisade.customers DISABLE ROW LEVEL SECURITY;
             ALTER TABLE palisade.customers NO FORCE ROW LEVEL SECURITY;
             COMMIT;",
        )
        .await
        .unwrap();
    let row = owner
        .query_one(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'palisade.customers'::regclass",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, bool>(0), row.get::<_, bool>(1)),
        (false, false)
    );
}

/// Runs `sql` (one string, as `psql -c` sends it) through psql as the superuser of `db`, with
/// ON_ERROR_STOP: whether it succeeded, and psql's stderr, where the server's warnings go.
async fn psql(db: &TestDb, sql: &str) -> (bool, String) {
    let psql = PgBinaries::locate().unwrap().bindir().join("psql");
    // The password in PGPASSWORD, not in the URL: psql's arguments are world-readable.
    let (url, sql) = (
        cluster().superuser_url_without_password(&db.name),
        sql.to_owned(),
    );
    let out = tokio::task::spawn_blocking(move || {
        Command::new(psql)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(url)
            .arg("-c")
            .arg(sql)
            .env("PGPASSWORD", cluster().superuser_password())
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A foreign-data wrapper without a handler, and a server of it: enough to create foreign tables
/// (not to read them). Both belong to the database they are created in.
const DUMMY_SERVER: &str = "CREATE FOREIGN DATA WRAPPER audit_dummy_fdw;
    CREATE SERVER audit_dummy FOREIGN DATA WRAPPER audit_dummy_fdw;";

#[tokio::test]
async fn the_ddl_guard_refuses_a_foreign_table_in_the_tenant_schema_unless_overridden() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    su.batch_execute(&format!(
        "{DUMMY_SERVER}
         CREATE FOREIGN TABLE public.audit_moved (organization_id uuid NOT NULL, id uuid NOT NULL)
             SERVER audit_dummy;"
    ))
    .await
    .unwrap();
    let mut paths = vec![
        (
            "created there",
            "CREATE FOREIGN TABLE palisade.audit_remote (organization_id uuid NOT NULL,
                 id uuid NOT NULL) SERVER audit_dummy",
            "palisade.audit_remote",
        ),
        (
            "moved in with ALTER FOREIGN TABLE",
            "ALTER FOREIGN TABLE public.audit_moved SET SCHEMA palisade",
            "palisade.audit_moved",
        ),
        (
            "moved in with ALTER TABLE",
            "ALTER TABLE public.audit_moved SET SCHEMA palisade",
            "palisade.audit_moved",
        ),
    ];
    // IMPORT FOREIGN SCHEMA needs a wrapper that can list a remote schema: postgres_fdw
    // (PostgreSQL's contrib), pointed back at this database.
    let postgres_fdw: bool = su
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'postgres_fdw')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    if postgres_fdw {
        let parsed = palisade_db::DbConfig::parse(&db.superuser_url()).unwrap();
        let cfg = parsed.pg();
        let host = match &cfg.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            other => panic!("{other:?}"),
        };
        let password = String::from_utf8_lossy(cfg.get_password().unwrap()).into_owned();
        su.batch_execute(&format!(
            "CREATE EXTENSION postgres_fdw;
             CREATE SERVER audit_loopback FOREIGN DATA WRAPPER postgres_fdw
                 OPTIONS (host '{host}', port '{}', dbname '{}');
             CREATE USER MAPPING FOR CURRENT_USER SERVER audit_loopback
                 OPTIONS (user '{}', password '{password}');
             CREATE SCHEMA audit_remote_src;
             CREATE TABLE audit_remote_src.audit_imported (organization_id uuid NOT NULL,
                 id uuid NOT NULL);",
            cfg.get_ports()[0],
            db.name,
            cfg.get_user().unwrap(),
        ))
        .await
        .unwrap();
        paths.push((
            "imported",
            "IMPORT FOREIGN SCHEMA audit_remote_src FROM SERVER audit_loopback INTO palisade",
            "palisade.audit_imported",
        ));
    } else {
        eprintln!("postgres_fdw is not installed: IMPORT FOREIGN SCHEMA is not tried");
    }
    for (path, ddl, table) in &paths {
        let err = su.batch_execute(ddl).await.unwrap_err();
        let msg = guard_error(&err);
        assert!(
            msg.contains("rule no_foreign_tables") && msg.contains(table),
            "{path}: {msg}"
        );
        assert!(msg.contains("palisade.ddl_guard_override"), "{path}: {msg}");
    }
    // Outside the schema, as a child of a tenant table: a tenant table's child is a tenant table.
    let err = su
        .batch_execute(
            "CREATE FOREIGN TABLE public.audit_child () INHERITS (palisade.customers)
                 SERVER audit_dummy",
        )
        .await
        .unwrap_err();
    assert!(
        guard_error(&err).contains("rule tenant_hierarchy_closed"),
        "{}",
        guard_error(&err)
    );
    let foreign_in_palisade = "SELECT count(*) FROM pg_class
        WHERE relkind = 'f' AND relnamespace = 'palisade'::regnamespace";
    let n: i64 = su.query_one(foreign_in_palisade, &[]).await.unwrap().get(0);
    assert_eq!(n, 0);
    // Under the override each passes, with a warning naming the rule (rolled back, so that the
    // next path starts from the same state).
    for (path, ddl, table) in &paths {
        let (ok, stderr) = psql(
            &db,
            &format!(
                "BEGIN; SET LOCAL palisade.ddl_guard_override = 'audit test: {path}'; {ddl}; ROLLBACK;"
            ),
        )
        .await;
        assert!(ok, "{path}: {stderr}");
        assert!(
            stderr.contains("WARNING:  palisade DDL guard overridden by")
                && stderr.contains(&format!(
                    "rule no_foreign_tables: {table} is a foreign table"
                )),
            "{path}: {stderr}"
        );
    }
    // Moving one out is the fix, and passes.
    su.batch_execute(&overriding_the_guard(
        "ALTER FOREIGN TABLE public.audit_moved SET SCHEMA palisade",
    ))
    .await
    .unwrap();
    su.batch_execute("ALTER FOREIGN TABLE palisade.audit_moved SET SCHEMA public")
        .await
        .unwrap();
    let n: i64 = su.query_one(foreign_in_palisade, &[]).await.unwrap().get(0);
    assert_eq!(n, 0);
    // Imported into another schema, the same tables pass (the copies view is what looks there).
    if postgres_fdw {
        su.batch_execute(
            "CREATE SCHEMA audit_elsewhere;
             IMPORT FOREIGN SCHEMA audit_remote_src FROM SERVER audit_loopback INTO audit_elsewhere",
        )
        .await
        .unwrap();
        let imported: i64 = su
            .query_one(
                "SELECT count(*) FROM pg_class
                  WHERE relkind = 'f' AND relnamespace = 'audit_elsewhere'::regnamespace",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(imported, 1);
    }
}

#[tokio::test]
async fn a_foreign_table_in_the_tenant_schema_is_critical() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    const REMOTE: &str = "palisade.audit_remote";
    su.batch_execute(&format!(
        "{DUMMY_SERVER} {}",
        overriding_the_guard(&format!(
            "CREATE FOREIGN TABLE {REMOTE} (organization_id uuid NOT NULL, id uuid NOT NULL)
                 SERVER audit_dummy"
        ))
    ))
    .await
    .unwrap();
    // Why it cannot be fixed in place: PostgreSQL refuses row-level security on it.
    let err = su
        .batch_execute(&format!("ALTER TABLE {REMOTE} ENABLE ROW LEVEL SECURITY"))
        .await
        .unwrap_err();
    let refusal = err.as_db_error().map(|e| e.detail().unwrap_or_default());
    assert_eq!(
        refusal,
        Some("This operation is not supported for foreign tables."),
        "{err:?}"
    );
    assert_reported(&db, "foreign_table_in_tenant_schema", "table", REMOTE).await;
    let found = ranked_violations(&su).await;
    // Its one finding: RLS, policies and indexes cannot apply to a foreign table.
    let on_it: Vec<_> = found.iter().filter(|v| v[3] == REMOTE).collect();
    assert_eq!(on_it.len(), 1, "{found:?}");
    assert_eq!(on_it[0][0], "critical", "{found:?}");
    assert!(
        on_it[0][4].contains("server audit_dummy")
            && on_it[0][4].contains("superusers only for now"),
        "{found:?}"
    );
    // Whoever may read it is named.
    su.batch_execute(&format!("GRANT SELECT ON {REMOTE} TO palisade_app"))
        .await
        .unwrap();
    let found = ranked_violations(&su).await;
    let detail = &found
        .iter()
        .find(|v| v[1] == "foreign_table_in_tenant_schema")
        .unwrap_or_else(|| panic!("{found:?}"))[4];
    assert!(detail.contains("readable by palisade_app"), "{detail}");
    // PUBLIC is named only once it may reach the table: SELECT on it and USAGE on the schema.
    su.batch_execute(&format!("GRANT SELECT ON {REMOTE} TO PUBLIC"))
        .await
        .unwrap();
    let found = ranked_violations(&su).await;
    let detail = &found
        .iter()
        .find(|v| v[1] == "foreign_table_in_tenant_schema")
        .unwrap_or_else(|| panic!("{found:?}"))[4];
    assert!(
        detail.contains("palisade_app") && !detail.contains("PUBLIC"),
        "{detail}"
    );
    su.batch_execute("GRANT USAGE ON SCHEMA palisade TO PUBLIC")
        .await
        .unwrap();
    // SELECT on the table, or on one of its columns.
    let to_a_column =
        format!("REVOKE SELECT ON {REMOTE} FROM PUBLIC; GRANT SELECT (id) ON {REMOTE} TO PUBLIC");
    for grant in ["", to_a_column.as_str()] {
        su.batch_execute(grant).await.unwrap();
        let found = ranked_violations(&su).await;
        let detail = &found
            .iter()
            .find(|v| v[1] == "foreign_table_in_tenant_schema")
            .unwrap_or_else(|| panic!("{found:?}"))[4];
        assert!(detail.contains("PUBLIC"), "{grant}: {detail}");
    }
}

/// The detail of the one `ddl_guard_missing` finding on `trigger`.
async fn guard_finding(c: &Client, trigger: &str) -> String {
    let found = ranked_violations(c).await;
    let mine: Vec<_> = found
        .iter()
        .filter(|v| v[1] == "ddl_guard_missing" && v[3] == trigger)
        .collect();
    assert_eq!(mine.len(), 1, "{found:?}");
    assert_eq!(mine[0][..3], ["high", "ddl_guard_missing", "event trigger"]);
    mine[0][4].clone()
}

#[tokio::test]
async fn a_ddl_guard_that_never_fires_or_was_re_created_differently_is_reported() {
    // Event triggers belong to one database: this test's own.
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    const GUARD: &str = "palisade_ddl_guard";
    // ENABLE REPLICA: it fires only while session_replication_role = replica, so never here.
    su.batch_execute(&format!("ALTER EVENT TRIGGER {GUARD} ENABLE REPLICA"))
        .await
        .unwrap();
    assert_reported(&db, "ddl_guard_missing", "event trigger", GUARD).await;
    let detail = guard_finding(&su, GUARD).await;
    assert!(
        detail.contains("enabled for replica sessions only")
            && detail.contains(&format!("ALTER EVENT TRIGGER {GUARD} ENABLE)")),
        "{detail}"
    );
    let run = run_binary(&db, &["--no-drift"], false).await;
    assert!(
        run.stdout.contains("DISABLED (in normal sessions)"),
        "{}",
        run.stdout
    );
    // Indeed: a table the guard refuses passes.
    su.batch_execute(
        "CREATE TABLE palisade.audit_unguarded (id uuid); DROP TABLE palisade.audit_unguarded",
    )
    .await
    .unwrap();
    // ENABLE ALWAYS fires in every session: intact.
    su.batch_execute(&format!("ALTER EVENT TRIGGER {GUARD} ENABLE ALWAYS"))
        .await
        .unwrap();
    assert_eq!(violations(&su).await, vec![]);

    // Re-created by hand with one tag fewer, or with another function.
    let tags: Vec<String> = su
        .query_one(
            "SELECT expected_tags FROM palisade_audit.ddl_guard WHERE event_trigger = $1",
            &[&GUARD],
        )
        .await
        .unwrap()
        .get(0);
    let quoted = |tags: &[String]| {
        tags.iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (dropped, kept) = tags.split_last().unwrap();
    su.batch_execute(&format!(
        "DROP EVENT TRIGGER {GUARD};
         CREATE EVENT TRIGGER {GUARD} ON ddl_command_end WHEN TAG IN ({})
             EXECUTE FUNCTION palisade_guard.check_tenant_ddl();",
        quoted(kept)
    ))
    .await
    .unwrap();
    assert_reported(&db, "ddl_guard_missing", "event trigger", GUARD).await;
    let detail = guard_finding(&su, GUARD).await;
    assert!(
        detail.contains(&format!("missing the command tag(s) {dropped},"))
            && detail.contains("policies/001_ddl_guard.sql"),
        "{detail}"
    );
    let run = run_binary(&db, &["--no-drift"], false).await;
    assert!(run.stdout.contains("ALTERED"), "{}", run.stdout);
    su.batch_execute(&format!(
        "DROP EVENT TRIGGER {GUARD};
         CREATE EVENT TRIGGER {GUARD} ON ddl_command_end WHEN TAG IN ({})
             EXECUTE FUNCTION palisade_guard.remember_rls();",
        quoted(&tags)
    ))
    .await
    .unwrap();
    let detail = guard_finding(&su, GUARD).await;
    assert!(
        detail.contains(
            "running palisade_guard.remember_rls() instead of palisade_guard.check_tenant_ddl()"
        ) && !detail.contains("missing"),
        "{detail}"
    );
}

/// The event triggers `policies/001_ddl_guard.sql` creates: (name, event, tags, function).
fn guard_triggers_in_001() -> Vec<(String, String, Vec<String>, String)> {
    let sql = include_str!("../../../policies/001_ddl_guard.sql");
    sql.split("CREATE EVENT TRIGGER ")
        .skip(1)
        .map(|stmt| {
            let stmt = &stmt[..stmt.find(';').unwrap()];
            let words: Vec<&str> = stmt.split_whitespace().collect();
            let tags = stmt
                .split_once("WHEN TAG IN (")
                .and_then(|(_, rest)| rest.split_once(')'))
                .unwrap()
                .0
                .split(',')
                .map(|t| t.trim().trim_matches('\'').to_owned())
                .collect();
            let function = stmt.split_once("EXECUTE FUNCTION ").unwrap().1.trim();
            (
                words[0].to_owned(),
                words[2].to_owned(),
                tags,
                function.to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_audit_expects_the_ddl_guard_that_policies_001_installs() {
    // The audit's expectations are written apart from the file that installs the guard (which
    // runs first, as a superuser, before schema palisade_audit exists): they must be the same.
    let installed = guard_triggers_in_001();
    assert_eq!(installed.len(), 2, "{installed:?}");
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    let mut expected: Vec<(String, String, Vec<String>, String)> = su
        .query(
            "SELECT event_trigger, expected_event, expected_tags, expected_function
               FROM palisade_audit.ddl_guard",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let mut installed = installed;
    installed.sort();
    expected.sort();
    assert_eq!(expected, installed);
}

#[tokio::test]
async fn the_migration_path_passes_the_guard_on_its_own_connection_only() {
    let db = TestDb::new().await;
    let mut migrating = db.owner_client().await;
    schema::migrate_with(&mut migrating).await.unwrap();
    let setting: String = migrating
        .query_one("SELECT current_setting('palisade.ddl_guard_override')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(setting, "palisade migrate");
    migrating
        .batch_execute("CREATE TABLE palisade.audit_migrated (id uuid)")
        .await
        .unwrap();
    // Any other connection (a pooled app connection included) is guarded.
    let other = db.owner_client().await;
    let err = other
        .batch_execute("CREATE TABLE palisade.audit_other (id uuid)")
        .await
        .unwrap_err();
    assert!(guard_error(&err).contains("rule tenant_column_required"));
    let app = db.app_client().await;
    let seen: Option<String> = app
        .query_one(
            "SELECT current_setting('palisade.ddl_guard_override', true)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(seen.unwrap_or_default().is_empty());
}

/// The ```sql blocks of docs/dba.md, in order.
fn dba_recipes() -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/dba.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sql") => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    assert!(blocks.len() >= 4, "docs/dba.md has too few sql recipes");
    blocks
}

#[tokio::test]
async fn the_psql_recipes_of_the_dba_guide_work_as_written() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    let (a, _) = two_organizations(&su).await;
    // A role with settings for every database (palisade_billing: row_security, from
    // policies/000_roles.sql) and for this one too, as the guide allows: the monitoring recipe
    // aggregated the two rows' arrays and failed ("cannot accumulate arrays of different
    // dimensionality"). This database's own, dropped with it.
    let cluster_wide: i64 = su
        .query_one(
            "SELECT count(*) FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
              WHERE r.rolname = 'palisade_billing' AND s.setdatabase = 0",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        cluster_wide, 1,
        "palisade_billing has no setting for every database"
    );
    su.batch_execute(&format!(
        "ALTER ROLE palisade_billing IN DATABASE \"{}\" SET statement_timeout = '10s'",
        db.name
    ))
    .await
    .unwrap();
    let psql = PgBinaries::locate().unwrap().bindir().join("psql");
    // Runs `sql` through psql as docs/dba.md's recipes are run, with `:org` org A and
    // `:org_name` `org_name`: its success and what it printed.
    let run = async |sql: &str, org_name: &str| {
        let (url, org, psql) = (
            cluster().superuser_url_without_password(&db.name),
            a.to_string(),
            psql.clone(),
        );
        let org_name = org_name.to_owned();
        let file = std::env::temp_dir().join(format!(
            "palisade-dba-recipe-{}.sql",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&file, sql).unwrap();
        let script = file.clone();
        let out = tokio::task::spawn_blocking(move || {
            Command::new(psql)
                .args(["-X", "-v", "ON_ERROR_STOP=1", "-v"])
                .arg(format!("org={org}"))
                .arg("-v")
                .arg(format!("org_name={org_name}"))
                .arg("-d")
                .arg(url)
                .arg("-f")
                .arg(&script)
                .env("PGPASSWORD", cluster().superuser_password())
                .output()
        })
        .await
        .unwrap()
        .unwrap();
        let _ = std::fs::remove_file(&file);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let mut as_org_block_seen = false;
    let mut settings_block_seen = false;
    let mut deletion_block_seen = false;
    for block in dba_recipes() {
        if block.contains("DELETE FROM palisade.organizations WHERE id = :'org'") {
            // The name guards the id: with another organization's name, nothing is deleted.
            let (ok, stdout, stderr) = run(&block, "Org B").await;
            assert!(ok, "{block}\n{stdout}\n{stderr}");
            assert!(stdout.contains("DELETE 0"), "{block}\n{stdout}");
        }
        let (ok, stdout, stderr) = run(&block, "Org A").await;
        assert!(
            ok,
            "recipe failed:\n{block}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        if block.contains("pg_db_role_setting") {
            settings_block_seen = true;
            assert!(
                stdout.contains("statement_timeout=10s (this database)"),
                "{block}\n{stdout}"
            );
        }
        if block.contains("SET LOCAL ROLE palisade_app") {
            as_org_block_seen = true;
            assert!(stdout.contains("customer of org A"), "{block}\n{stdout}");
            assert!(!stdout.contains("customer of org B"), "{block}\n{stdout}");
        }
        if block.contains("DELETE FROM palisade.organizations WHERE id = :'org'") {
            deletion_block_seen = true;
            assert!(stdout.contains("Org A"), "{block}\n{stdout}");
            assert!(stdout.contains("DELETE 1"), "{block}\n{stdout}");
            let left: Vec<String> = su
                .query("SELECT name FROM palisade.customers ORDER BY name", &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            assert_eq!(left, ["customer of org B"], "org A deleted, and only it");
        }
    }
    assert!(
        settings_block_seen,
        "docs/dba.md lost its recipe for the roles' settings"
    );
    assert!(
        as_org_block_seen,
        "docs/dba.md lost its act-as-an-organization recipe"
    );
    assert!(
        deletion_block_seen,
        "docs/dba.md lost its recipe for deleting a large organization"
    );
    // The session-scoped recipes left nothing behind (ROLLBACK); the deletion's took org A's
    // customer, and no recipe after it wrote one.
    let n: i64 = su
        .query_one("SELECT count(*) FROM palisade.customers", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

/// The policy file of the audit views, as this binary embeds it.
const AUDIT_SQL: &str = include_str!("../../../policies/900_audit.sql");

/// Every kind the audit views can put in palisade_audit.violations, read from the views' text:
/// the `'<kind>: ...'` reasons of the views whose reasons feed it, and the literal kinds of the
/// violations view itself.
fn kinds_the_views_can_produce() -> std::collections::BTreeSet<String> {
    let mut kinds = std::collections::BTreeSet::new();
    let snake = |s: &str| -> Option<String> {
        let word: String = s
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        (!word.is_empty()).then_some(word)
    };
    for section in AUDIT_SQL.split("CREATE VIEW palisade_audit.").skip(1) {
        let name = snake(section).unwrap_or_default();
        // A literal kind in violations is named like every column there: `SELECT 'x' AS kind`.
        let (marker, end) = match name.as_str() {
            "tables" | "roles" | "functions" | "views" | "columns" | "copies" => ("'", ": "),
            "violations" => ("SELECT '", "' AS kind"),
            _ => continue,
        };
        for piece in section.split(marker).skip(1) {
            if let Some(kind) = snake(piece)
                && piece[kind.len()..].starts_with(end)
            {
                kinds.insert(kind);
            }
        }
    }
    kinds
}

/// Organizations A and B, with one customer each ("customer of org A", "customer of org B"),
/// written as `su`: (A, B).
async fn two_organizations(su: &Client) -> (uuid::Uuid, uuid::Uuid) {
    let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    su.execute(
        "INSERT INTO palisade.organizations (id, name) VALUES ($1, 'Org A'), ($2, 'Org B')",
        &[&a, &b],
    )
    .await
    .unwrap();
    su.execute(
        "INSERT INTO palisade.customers (organization_id, id, name) VALUES
             ($1, gen_random_uuid(), 'customer of org A'), ($2, gen_random_uuid(), 'customer of org B')",
        &[&a, &b],
    )
    .await
    .unwrap();
    (a, b)
}

/// (severity, kind, object_type, object, detail) of every violation, most urgent first.
async fn ranked_violations(c: &impl tokio_postgres::GenericClient) -> Vec<[String; 5]> {
    c.query(
        "SELECT severity, kind, object_type, object, detail FROM palisade_audit.violations",
        &[],
    )
    .await
    .expect("read palisade_audit.violations")
    .iter()
    .map(|r| [r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)])
    .collect()
}

/// Whether `found` holds `kind` on `object` with `severity`.
fn has(found: &[[String; 5]], severity: &str, kind: &str, object: &str) -> bool {
    found
        .iter()
        .any(|[s, k, _, o, _]| s == severity && k == kind && o == object)
}

#[tokio::test]
async fn every_kind_the_views_can_produce_has_a_severity_and_a_fix() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    let produced = kinds_the_views_can_produce();
    // The parse found the kinds it must (the old ones, the new ones, the literal ones).
    for kind in [
        "rls_disabled",
        "member_of_owner_role",
        "secret_column_readable",
        "tenant_data_outside_rls",
        "context_policy_for_other_role",
        "ddl_guard_missing",
        "backup_role_can_login",
    ] {
        assert!(
            produced.contains(kind),
            "{kind} not found in 900_audit.sql: {produced:?}"
        );
    }
    let rows = su
        .query(
            "SELECT kind, severity, rank, fix FROM palisade_audit.finding_kinds ORDER BY rank",
            &[],
        )
        .await
        .unwrap();
    let ranked: std::collections::BTreeSet<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(rows.len(), ranked.len(), "a kind is listed twice");
    let unranked: Vec<_> = produced.difference(&ranked).collect();
    let stale: Vec<_> = ranked.difference(&produced).collect();
    assert!(
        unranked.is_empty(),
        "kinds without a severity and a fix: {unranked:?}"
    );
    assert!(
        stale.is_empty(),
        "finding_kinds lists kinds no view produces: {stale:?}"
    );
    // Ranks are unique and follow the severities; every fix is one non-empty line.
    let order = ["critical", "high", "medium", "low"];
    let mut last = (0, i32::MIN);
    for r in &rows {
        let (kind, severity, rank, fix): (String, String, i32, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        let level = order
            .iter()
            .position(|s| *s == severity)
            .unwrap_or_else(|| panic!("{kind}: unknown severity {severity}"));
        assert!(
            (level, rank) > last && rank > last.1,
            "{kind}: rank {rank} out of order"
        );
        last = (level, rank);
        assert!(
            !fix.trim().is_empty() && !fix.contains('\n'),
            "{kind}: fix {fix:?}"
        );
    }
    // docs/dba.md's table of severities is this one.
    let documented: Vec<(String, String, i32, String)> = include_str!("../../../docs/dba.md")
        .split("### Severities")
        .nth(1)
        .expect("docs/dba.md has a section Severities")
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| rank"))
        .map_while(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            Some((
                cells.get(2)?.trim_matches('`').to_owned(),
                (*cells.get(1)?).to_owned(),
                cells.first()?.parse().ok()?,
                cells
                    .get(3..)?
                    .join(" | ")
                    .replace("\\|", "|")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">"),
            ))
        })
        .collect();
    let in_db: Vec<(String, String, i32, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        documented, in_db,
        "docs/dba.md's Severities table differs from finding_kinds"
    );
    // The psql user sees the same severity and fix in the violations view.
    su.batch_execute(&overriding_the_guard(
        "ALTER TABLE palisade.customers DISABLE ROW LEVEL SECURITY",
    ))
    .await
    .unwrap();
    let row = su
        .query_one(
            "SELECT v.severity, v.fix = k.fix FROM palisade_audit.violations v
               JOIN palisade_audit.finding_kinds k USING (kind) WHERE v.kind = 'rls_disabled'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "critical");
    assert!(row.get::<_, bool>(1));
}

#[tokio::test]
async fn a_copy_of_tenant_rows_outside_rls_is_the_top_finding() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    let org = uuid::Uuid::now_v7();
    su.execute(
        "INSERT INTO palisade.organizations (id, name) VALUES ($1, 'Org A')",
        &[&org],
    )
    .await
    .unwrap();
    // Two lesser findings first, so that ranking, not order of creation, puts the copy on top.
    su.batch_execute(
        "CREATE UNIQUE INDEX customers_phone_key ON palisade.customers (phone);
         CREATE SCHEMA reporting;
         CREATE TABLE reporting.customers_copy AS SELECT * FROM palisade.customers;",
    )
    .await
    .unwrap();
    let found = ranked_violations(&su).await;
    assert_eq!(
        found[0][..4],
        [
            "critical",
            "tenant_data_outside_rls",
            "table",
            "reporting.customers_copy"
        ],
        "{found:?}"
    );
    assert!(found[0][4].contains("superusers only for now"), "{found:?}");
    assert!(
        has(&found, "medium", "global_unique_key", CUSTOMERS),
        "{found:?}"
    );
    assert_reported(
        &db,
        "tenant_data_outside_rls",
        "table",
        "reporting.customers_copy",
    )
    .await;
    // The command lists it first too, with its severity and fix (text and JSON).
    let run = run_binary(&db, &["--no-drift"], false).await;
    let first = run
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Violations ("))
        .nth(1)
        .unwrap_or_default();
    assert!(
        first.contains("critical [tenant_data_outside_rls] table reporting.customers_copy:"),
        "{}",
        run.stdout
    );
    let run = run_binary(&db, &["--json", "--no-drift"], false).await;
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["violations"][0]["kind"], "tenant_data_outside_rls");
    assert_eq!(json["violations"][0]["severity"], "critical");
    assert!(
        json["violations"][0]["fix"]
            .as_str()
            .unwrap()
            .contains("Drop the copy")
    );

    // A partial copy (no organization_id, three tenant columns), readable by a role: reported,
    // naming the reader. A table that only shares the generic columns is not.
    let reader = probe_role(&db);
    su.batch_execute(&format!(
        "CREATE TABLE reporting.contacts AS SELECT name, email, phone FROM palisade.customers;
         CREATE TABLE reporting.notes (id uuid, created_at timestamptz, body text);
         CREATE ROLE {reader};
         GRANT USAGE ON SCHEMA reporting TO {reader};
         GRANT SELECT ON reporting.contacts, reporting.notes TO {reader};"
    ))
    .await
    .unwrap();
    let found = ranked_violations(&su).await;
    let contacts = found
        .iter()
        .find(|v| v[1] == "tenant_data_outside_rls" && v[3] == "reporting.contacts")
        .unwrap_or_else(|| panic!("{found:?}"));
    assert!(
        contacts[4].contains("copies 3 columns of palisade.customers (name, email, phone)")
            && contacts[4].contains(&reader),
        "{contacts:?}"
    );
    assert!(
        !found.iter().any(|v| v[3] == "reporting.notes"),
        "{found:?}"
    );
    // Palisade's own schemas are classified, never listed as copies.
    let listed: Vec<String> = su
        .query("SELECT schema_name FROM palisade_audit.copies", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        listed.iter().all(|s| !s.starts_with("palisade")),
        "{listed:?}"
    );
    let platform: String = su
        .query_one(
            "SELECT category FROM palisade_audit.tables
              WHERE schema_name = 'palisade_platform' AND table_name = 'mailgun_tokens'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(platform, "platform");
    // PUBLIC reads it once it has SELECT on it and USAGE on its schema, not before.
    let readers = || async {
        su.query_one(
            "SELECT readable_by FROM palisade_audit.copies
              WHERE schema_name = 'reporting' AND relation_name = 'contacts'",
            &[],
        )
        .await
        .unwrap()
        .get::<_, Vec<String>>(0)
    };
    su.batch_execute("GRANT SELECT ON reporting.contacts TO PUBLIC")
        .await
        .unwrap();
    let before = readers().await;
    assert!(!before.contains(&"PUBLIC".into()), "{before:?}");
    su.batch_execute("GRANT USAGE ON SCHEMA reporting TO PUBLIC")
        .await
        .unwrap();
    let after = readers().await;
    assert!(after.contains(&"PUBLIC".into()), "{after:?}");
}

/// Role changes are cluster-wide: made inside a transaction of the superuser's and rolled back,
/// the other tests' databases never see them.
async fn create_app_login_pair(tx: &tokio_postgres::Transaction<'_>) {
    tx.batch_execute(
        "DO $pair$
         BEGIN
             IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'palisade_app_a') THEN
                 CREATE ROLE palisade_app_a LOGIN;
             END IF;
             IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'palisade_app_b') THEN
                 CREATE ROLE palisade_app_b LOGIN;
             END IF;
         END
         $pair$;
         GRANT palisade_app TO palisade_app_a, palisade_app_b;",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_login_member_of_the_app_role_is_critical_unless_it_is_the_documented_pair() {
    let db = TestDb::new().await;
    let mut su = db.superuser_client().await;
    let (person, group) = (probe_role(&db), probe_role(&db));
    let tx = su.transaction().await.unwrap();
    create_app_login_pair(&tx).await;
    tx.batch_execute(&format!(
        "CREATE ROLE {group} NOLOGIN; GRANT palisade_app TO {group};
         CREATE ROLE {person} LOGIN; GRANT {group} TO {person};"
    ))
    .await
    .unwrap();
    let found = ranked_violations(&tx).await;
    assert!(
        has(&found, "critical", "app_login_member", &person),
        "{found:?}"
    );
    for documented in ["palisade_app_a", "palisade_app_b", APP, &group] {
        assert!(
            !found
                .iter()
                .any(|v| v[1] == "app_login_member" && v[3] == documented),
            "{documented}: {found:?}"
        );
    }
    // It acts as the app, so it needs the app's guardrails too.
    assert!(
        has(&found, "medium", "app_login_without_guardrails", &person),
        "{found:?}"
    );
    tx.rollback().await.unwrap();
    assert_eq!(violations(&su).await, vec![]);
}

#[tokio::test]
async fn the_app_group_able_to_log_in_is_critical() {
    // palisade_app holds every grant of the app and every tenant policy names it; a session as
    // it sets any organization's context. The role is shared: altered in a transaction that is
    // rolled back, the other tests never see it.
    let db = TestDb::new().await;
    let mut su = db.superuser_client().await;
    let tx = su.transaction().await.unwrap();
    // Roles first, in the same order as the other tests that create them (no lock cycle).
    create_app_login_pair(&tx).await;
    tx.batch_execute("ALTER ROLE palisade_app LOGIN PASSWORD 'audit-probe'")
        .await
        .unwrap();
    let found = ranked_violations(&tx).await;
    assert!(
        has(&found, "critical", "app_role_can_login", APP),
        "{found:?}"
    );
    // The one urgent finding: its missing guardrails are the medium one they always were.
    assert!(
        !found
            .iter()
            .any(|v| v[0] == "critical" && v[1] != "app_role_can_login"),
        "{found:?}"
    );
    tx.rollback().await.unwrap();
    assert_eq!(violations(&su).await, vec![]);
}

#[tokio::test]
async fn an_app_login_role_without_timeouts_or_a_connection_limit_is_reported() {
    let db = TestDb::new().await;
    let mut su = db.superuser_client().await;
    let tx = su.transaction().await.unwrap();
    // palisade_app is a NOLOGIN group (its settings would not reach its members): the login
    // role the server connects as is what needs the guardrails.
    const LOGIN: &str = "palisade_app_a";
    // Roles first, in the same order as the other tests that create them (no lock cycle).
    create_app_login_pair(&tx).await;
    let reset = |what: &str| {
        format!(
            "ALTER ROLE palisade_app_a RESET {what}; ALTER ROLE palisade_app_a IN DATABASE \"{}\" RESET {what};",
            db.name
        )
    };
    tx.batch_execute(&format!(
        "{} ALTER ROLE palisade_app_a CONNECTION LIMIT -1;",
        reset("statement_timeout")
    ))
    .await
    .unwrap();
    let found = ranked_violations(&tx).await;
    let app = found
        .iter()
        .find(|v| v[1] == "app_login_without_guardrails" && v[3] == LOGIN)
        .unwrap_or_else(|| panic!("{found:?}"));
    assert_eq!(app[0], "medium");
    assert!(
        app[4].contains("statement_timeout, a connection limit")
            && !app[4].contains("idle_in_transaction_session_timeout"),
        "{app:?}"
    );
    // A database-wide setting counts; a role's own setting of 0 overrides it, as in PostgreSQL.
    tx.batch_execute(&format!(
        "ALTER DATABASE \"{}\" SET statement_timeout = '30s'; ALTER ROLE palisade_app_a CONNECTION LIMIT 50;",
        db.name
    ))
    .await
    .unwrap();
    let found = ranked_violations(&tx).await;
    assert!(!found.iter().any(|v| v[3] == LOGIN), "{found:?}");
    tx.batch_execute("ALTER ROLE palisade_app_a SET statement_timeout = 0")
        .await
        .unwrap();
    assert!(has(
        &ranked_violations(&tx).await,
        "medium",
        "app_login_without_guardrails",
        LOGIN
    ));
    // The other login role of the pair is checked the same way while it can log in; a NOLOGIN
    // one (the idle role after a rotation, or the group palisade_app) is not.
    tx.batch_execute(
        "ALTER ROLE palisade_app_b LOGIN; ALTER ROLE palisade_app_b RESET ALL;
         ALTER ROLE palisade_app_b CONNECTION LIMIT -1;
         ALTER ROLE palisade_app_a NOLOGIN;",
    )
    .await
    .unwrap();
    let found = ranked_violations(&tx).await;
    assert!(
        has(
            &found,
            "medium",
            "app_login_without_guardrails",
            "palisade_app_b"
        ),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|v| v[3] == LOGIN || v[3] == APP),
        "{found:?}"
    );
    // palisade_billing, the Stripe path's login role (a member of no app role), is held to the
    // same guardrails, which bootstrap sets on it (no finding above).
    assert!(!found.iter().any(|v| v[3] == BILLING), "{found:?}");
    tx.batch_execute(&format!(
        "ALTER ROLE palisade_billing RESET idle_in_transaction_session_timeout; \
         ALTER ROLE palisade_billing IN DATABASE \"{}\" RESET idle_in_transaction_session_timeout;",
        db.name
    ))
    .await
    .unwrap();
    let found = ranked_violations(&tx).await;
    let billing = found
        .iter()
        .find(|v| v[1] == "app_login_without_guardrails" && v[3] == BILLING)
        .unwrap_or_else(|| panic!("{found:?}"));
    assert_eq!(billing[0], "medium");
    assert!(
        billing[4]
            .contains("logs in for the Stripe path without idle_in_transaction_session_timeout")
            && !billing[4].contains("statement_timeout,"),
        "{billing:?}"
    );
    tx.rollback().await.unwrap();
    assert_eq!(violations(&su).await, vec![]);
}

#[tokio::test]
async fn a_policy_that_lets_another_role_pick_its_organization_is_critical() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    // Short enough to be recorded as an analyst (40 characters at most).
    let reporting = format!(
        "reporting_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    );
    db.drop_role_with_it(&reporting);
    su.batch_execute(&format!(
        "CREATE ROLE {reporting};
         GRANT USAGE ON SCHEMA palisade, palisade_private TO {reporting};
         GRANT SELECT ON palisade.customers TO {reporting};
         CREATE POLICY audit_probe_context ON palisade.customers FOR SELECT TO {reporting}
             USING (organization_id = (SELECT palisade_private.current_org_id()));"
    ))
    .await
    .unwrap();
    let policy = "palisade.customers.audit_probe_context";
    assert_reported(&db, "context_policy_for_other_role", "policy", policy).await;
    let found = ranked_violations(&su).await;
    assert!(
        has(&found, "critical", "context_policy_for_other_role", policy),
        "{found:?}"
    );
    // It is scoped to "the acting organization" on its face, so not unscoped: the finding is
    // that the role sets that organization itself.
    assert!(
        !found.iter().any(|v| v[1] == "unscoped_policy"),
        "{found:?}"
    );

    // The safe shape, one organization's id as a literal, is unscoped while the role is not a
    // recorded analyst, and safe once it is.
    let org = uuid::Uuid::now_v7();
    su.batch_execute(&format!(
        "DROP POLICY audit_probe_context ON palisade.customers;
         CREATE POLICY audit_probe_pinned ON palisade.customers FOR SELECT TO {reporting}
             USING (organization_id = '{org}'::uuid);"
    ))
    .await
    .unwrap();
    let pinned = "audit_probe_pinned";
    let unscoped = |found: &[[String; 5]]| {
        found
            .iter()
            .any(|v| v[1] == "unscoped_policy" && v[4].contains(pinned))
    };
    assert!(unscoped(&ranked_violations(&su).await));
    su.execute(
        "INSERT INTO palisade_audit.analysts (role_name, organization_id) VALUES ($1, $2)",
        &[&reporting, &org],
    )
    .await
    .unwrap();
    let found = ranked_violations(&su).await;
    assert!(!unscoped(&found), "{found:?}");
    let restricts: String = su
        .query_one(
            "SELECT restricts_to FROM palisade_audit.policies WHERE policy_name = $1",
            &[&pinned],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(restricts, "one organization (analyst)");
    // Pinned to another organization than the recorded one: unscoped again.
    su.execute(
        "UPDATE palisade_audit.analysts SET organization_id = $2 WHERE role_name = $1",
        &[&reporting, &uuid::Uuid::now_v7()],
    )
    .await
    .unwrap();
    assert!(unscoped(&ranked_violations(&su).await));
    su.batch_execute("DROP POLICY audit_probe_pinned ON palisade.customers")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_resolver_form_policy_for_a_role_with_members_is_unscoped() {
    // USING (current_user = '<role>') holds in that role's SECURITY DEFINER functions, and for
    // anyone who may SET ROLE to it: a member reads every organization's customers.
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    let (support, alice) = (probe_role(&db), probe_role(&db));
    su.batch_execute(&format!(
        "CREATE ROLE {support} NOLOGIN;
         GRANT USAGE ON SCHEMA palisade, palisade_private TO {support};
         GRANT SELECT ON palisade.customers TO {support};
         CREATE POLICY audit_probe_support ON palisade.customers FOR SELECT TO {support}
             USING (current_user = '{support}');
         CREATE POLICY audit_probe_support_context ON palisade.customers FOR SELECT TO {support}
             USING (current_user = '{support}'
                    AND organization_id = (SELECT palisade_private.current_org_id()));
         CREATE ROLE {alice} LOGIN; GRANT {support} TO {alice};"
    ))
    .await
    .unwrap();
    assert_reported(&db, "unscoped_policy", "table", CUSTOMERS).await;
    let found = ranked_violations(&su).await;
    let unscoped = found
        .iter()
        .find(|v| v[1] == "unscoped_policy" && v[3] == CUSTOMERS)
        .unwrap_or_else(|| panic!("{found:?}"));
    assert_eq!(unscoped[0], "critical");
    assert!(
        unscoped[4].contains("audit_probe_support (SELECT"),
        "{unscoped:?}"
    );
    // Scoped to the organization on its face, but its members set that organization themselves.
    let context = "palisade.customers.audit_probe_support_context";
    assert!(
        has(&found, "critical", "context_policy_for_other_role", context),
        "{found:?}"
    );

    // Without members, owning a SECURITY DEFINER function of its own, it is still no resolver:
    // that function runs for whoever may execute it, and nothing checks who may outside
    // Palisade's schemas (a review found this exemption reopened the hole).
    su.batch_execute(&format!(
        "REVOKE {support} FROM {alice};
         CREATE FUNCTION public.audit_probe_support_count() RETURNS bigint
             LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
             AS 'SELECT count(*) FROM palisade.customers';
         REVOKE ALL ON FUNCTION public.audit_probe_support_count() FROM PUBLIC;
         ALTER FUNCTION public.audit_probe_support_count() OWNER TO {support};
         GRANT EXECUTE ON FUNCTION public.audit_probe_support_count() TO {alice};"
    ))
    .await
    .unwrap();
    let found = ranked_violations(&su).await;
    assert!(
        has(&found, "critical", "unscoped_policy", CUSTOMERS),
        "{found:?}"
    );
    let restricts: Option<String> = su
        .query_one(
            "SELECT restricts_to FROM palisade_audit.policies WHERE policy_name = $1",
            &[&"audit_probe_support"],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(restricts, None);
    su.batch_execute(
        "DROP POLICY audit_probe_support ON palisade.customers;
         DROP POLICY audit_probe_support_context ON palisade.customers;
         DROP FUNCTION public.audit_probe_support_count();",
    )
    .await
    .unwrap();
    // palisade_resolver's own definer functions are checked wherever they are: one in public
    // that another role may run is critical like one in palisade_private, and outside
    // palisade_private no role is excepted, the app's included.
    su.batch_execute(
        "CREATE FUNCTION public.audit_probe_resolver_count() RETURNS bigint
             LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
             AS 'SELECT 1::bigint';
         REVOKE ALL ON FUNCTION public.audit_probe_resolver_count() FROM PUBLIC;
         ALTER FUNCTION public.audit_probe_resolver_count() OWNER TO palisade_resolver;
         GRANT EXECUTE ON FUNCTION public.audit_probe_resolver_count() TO palisade_app;",
    )
    .await
    .unwrap();
    let found = ranked_violations(&su).await;
    assert!(
        found.iter().any(|[s, k, _, o, _]| s == "critical"
            && k == "definer_executable_by_other_role"
            && o.starts_with("public.audit_probe_resolver_count(")),
        "{found:?}"
    );
    su.batch_execute("DROP FUNCTION public.audit_probe_resolver_count()")
        .await
        .unwrap();
}

#[tokio::test]
async fn execute_on_a_definer_beyond_the_role_palisade_grants_it_to_is_critical() {
    // Each of Palisade's SECURITY DEFINER functions reads across organizations with the
    // resolver's rights; the 02N_*.sql files grant each to one role. Function privileges are
    // this database's own: the probe roles are present in no other test's database.
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    let (alice, group, bob) = (probe_role(&db), probe_role(&db), probe_role(&db));
    su.batch_execute(&format!(
        "CREATE ROLE {alice} LOGIN;
         GRANT USAGE ON SCHEMA palisade_private TO {alice};
         GRANT EXECUTE ON FUNCTION palisade_private.login_lookup(text) TO {alice};
         CREATE ROLE {group} NOLOGIN; CREATE ROLE {bob} LOGIN; GRANT {group} TO {bob};
         GRANT EXECUTE ON FUNCTION palisade_private.emit_invoice_paid(uuid, uuid) TO {group};
         GRANT EXECUTE ON FUNCTION palisade_private.purge_expired_records(
             interval, interval, interval, interval, interval, interval, interval, interval, integer)
             TO palisade_app;"
    ))
    .await
    .unwrap();
    const KIND: &str = "definer_executable_by_other_role";
    let login_lookup = "palisade_private.login_lookup(p_email text)";
    assert_reported(&db, KIND, "function", login_lookup).await;
    let found = ranked_violations(&su).await;
    let detail = |object: &str| {
        let v = found
            .iter()
            .find(|v| v[1] == KIND && v[3].starts_with(object))
            .unwrap_or_else(|| panic!("{object}: {found:?}"));
        assert_eq!(v[0], "critical", "{v:?}");
        v[4].clone()
    };
    // Who may run it, and the role Palisade grants it to.
    let holders = |detail: &str, beyond: &str| -> Vec<String> {
        let list = detail
            .split_once("executable by ")
            .and_then(|(_, rest)| rest.split_once(&format!(", beyond {beyond}, ")))
            .unwrap_or_else(|| panic!("{detail}"))
            .0;
        list.split(", ").map(str::to_owned).collect()
    };
    // Granted directly.
    assert_eq!(
        holders(&detail(login_lookup), "palisade_app"),
        std::slice::from_ref(&alice)
    );
    // Through a membership: the group granted it and its member.
    let mut expected = vec![group.clone(), format!("{bob} (member of {group})")];
    expected.sort();
    assert_eq!(
        holders(
            &detail("palisade_private.emit_invoice_paid(p_org uuid, p_invoice_id uuid)"),
            "palisade_billing"
        ),
        expected
    );
    // One of Palisade's own roles, on a function Palisade grants to another: the app's login
    // roles would run retention, deleting every organization's records.
    let purge = holders(
        &detail("palisade_private.purge_expired_records("),
        "palisade_owner",
    );
    assert!(purge.contains(&APP.to_owned()), "{purge:?}");
    // Only those three functions.
    assert_eq!(
        found.iter().filter(|v| v[1] == KIND).count(),
        3,
        "{found:?}"
    );
    assert_eq!(found.len(), 3, "{found:?}");

    su.batch_execute(
        "REVOKE EXECUTE ON FUNCTION palisade_private.purge_expired_records(
             interval, interval, interval, interval, interval, interval, interval, interval, integer)
             FROM palisade_app;",
    )
    .await
    .unwrap();
    drop_role(&su, &bob).await;
    drop_role(&su, &group).await;
    drop_role(&su, &alice).await;
    assert_eq!(violations(&su).await, vec![]);
}

/// `reporting.customer_names()`: a SECURITY DEFINER function outside Palisade's schemas that
/// lists the customers its owner may read, owned by `owner`, and executable by a new role `bob`
/// (and no one else).
async fn customer_names_definer(su: &Client, owner: &str, bob: &str) {
    su.batch_execute(&format!(
        "CREATE ROLE {bob} NOLOGIN;
         CREATE SCHEMA reporting;
         CREATE FUNCTION reporting.customer_names() RETURNS SETOF text
             LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
             AS 'SELECT name FROM palisade.customers ORDER BY name';
         REVOKE ALL ON FUNCTION reporting.customer_names() FROM PUBLIC;
         ALTER FUNCTION reporting.customer_names() OWNER TO {owner};
         GRANT USAGE ON SCHEMA reporting TO {bob};
         GRANT EXECUTE ON FUNCTION reporting.customer_names() TO {bob};"
    ))
    .await
    .unwrap();
}

/// The critical `definer_executable_by_other_role` finding on `function`, which the built
/// `palisade audit` reports too, and every finding (ranked) beside it.
async fn critical_definer_finding(
    db: &TestDb,
    su: &Client,
    function: &str,
) -> (Vec<[String; 5]>, [String; 5]) {
    assert_reported(db, "definer_executable_by_other_role", "function", function).await;
    let found = ranked_violations(su).await;
    let v = found
        .iter()
        .find(|v| v[1] == "definer_executable_by_other_role" && v[3] == function)
        .unwrap_or_else(|| panic!("{found:?}"))
        .clone();
    assert_eq!(v[0], "critical", "{v:?}");
    (found, v)
}

/// What `reporting.customer_names()` answers `role` with `org` as its organization.
async fn customer_names_as(su: &mut Client, role: &str, org: uuid::Uuid) -> Vec<String> {
    let tx = su.transaction().await.unwrap();
    tx.batch_execute(&format!("SET LOCAL ROLE {role}"))
        .await
        .unwrap();
    tx.execute(
        "SELECT set_config('app.current_org', $1, true)",
        &[&org.to_string()],
    )
    .await
    .unwrap();
    let seen = tx
        .query("SELECT reporting.customer_names()", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.rollback().await.unwrap();
    seen
}

#[tokio::test]
async fn a_definer_owned_by_the_app_is_critical_in_any_schema() {
    // A SECURITY DEFINER function outside Palisade's schemas, owned by an app login role: it runs
    // under the app's policies, which trust the organization the caller sets, so whoever may
    // execute it reads any organization. Ownership and function privileges are this database's
    // own; the probe role is present in no other test's database.
    let db = TestDb::new().await;
    let mut su = db.superuser_client().await;
    let (a, b) = two_organizations(&su).await;
    let bob = probe_role(&db);
    let login = schema::APP_LOGIN_ROLES[0];
    customer_names_definer(&su, login, &bob).await;
    // The leak: bob picks organization B, then A.
    for (org, name) in [(b, "customer of org B"), (a, "customer of org A")] {
        assert_eq!(customer_names_as(&mut su, &bob, org).await, [name]);
    }
    let function = "reporting.customer_names()";
    let (found, v) = critical_definer_finding(&db, &su, function).await;
    assert!(
        v[4].contains(&format!("executable by {bob}:")) && v[4].contains("palisade_app"),
        "{v:?}"
    );
    // Its owner owns it as the app.
    assert!(has(&found, "critical", "app_role_owns", login), "{found:?}");
    // Owned by palisade_app itself and left executable by PUBLIC (the default): PUBLIC is named.
    su.batch_execute(
        "CREATE FUNCTION reporting.customer_count() RETURNS bigint
             LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
             AS 'SELECT count(*) FROM palisade.customers';
         ALTER FUNCTION reporting.customer_count() OWNER TO palisade_app;",
    )
    .await
    .unwrap();
    let found = ranked_violations(&su).await;
    assert!(
        found.iter().any(|[s, k, _, o, d]| s == "critical"
            && k == "definer_executable_by_other_role"
            && o == "reporting.customer_count()"
            && d.contains("executable by PUBLIC")),
        "{found:?}"
    );
    assert!(has(&found, "critical", "app_role_owns", APP), "{found:?}");
    // Executable by its owner alone: nothing but the ownership.
    su.batch_execute(
        "DROP FUNCTION reporting.customer_count();
         REVOKE EXECUTE ON FUNCTION reporting.customer_names() FROM {bob};"
            .replace("{bob}", &bob)
            .as_str(),
    )
    .await
    .unwrap();
    let found = violations(&su).await;
    assert_eq!(
        found,
        [(
            "app_role_owns".to_owned(),
            "role".to_owned(),
            login.to_owned()
        )]
    );
    su.batch_execute("DROP SCHEMA reporting CASCADE")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_definer_owned_by_the_owner_is_critical_in_any_schema_when_others_may_run_it() {
    // The owner owns every tenant table: a definer of its own, with a dynamic statement, lets its
    // caller change their policies and grants (the DDL guard covers neither). Outside Palisade's
    // schemas too. The probe role is present in no other test's database.
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    let bob = probe_role(&db);
    let owner = schema::OWNER_ROLE;
    su.batch_execute(&format!(
        "CREATE ROLE {bob} NOLOGIN;
         CREATE SCHEMA reporting;
         CREATE FUNCTION reporting.run_as_owner(statement text) RETURNS void
             LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
             AS 'BEGIN EXECUTE statement; END';
         REVOKE ALL ON FUNCTION reporting.run_as_owner(text) FROM PUBLIC;
         ALTER FUNCTION reporting.run_as_owner(text) OWNER TO {owner};
         GRANT USAGE ON SCHEMA reporting TO {bob};
         GRANT EXECUTE ON FUNCTION reporting.run_as_owner(text) TO {bob};"
    ))
    .await
    .unwrap();
    let function = "reporting.run_as_owner(statement text)";
    let found = ranked_violations(&su).await;
    let v = found
        .iter()
        .find(|v| v[1] == "definer_executable_by_other_role" && v[3] == function)
        .unwrap_or_else(|| panic!("{found:?}"));
    assert_eq!(v[0], "critical", "{v:?}");
    assert!(
        v[4].contains(&format!("executable by {bob}")) && v[4].contains("own every tenant table"),
        "{v:?}"
    );
    // Left executable by PUBLIC (the default): PUBLIC is named.
    su.batch_execute(&format!(
        "REVOKE EXECUTE ON FUNCTION reporting.run_as_owner(text) FROM {bob};
         GRANT EXECUTE ON FUNCTION reporting.run_as_owner(text) TO PUBLIC;"
    ))
    .await
    .unwrap();
    let found = ranked_violations(&su).await;
    assert!(
        found.iter().any(|[s, k, _, o, d]| s == "critical"
            && k == "definer_executable_by_other_role"
            && o == function
            && d.contains("executable by PUBLIC")),
        "{found:?}"
    );
    // Executable by the owner alone: nothing.
    su.batch_execute("REVOKE EXECUTE ON FUNCTION reporting.run_as_owner(text) FROM PUBLIC")
        .await
        .unwrap();
    assert_eq!(
        violations(&su).await,
        Vec::<(String, String, String)>::new()
    );
    su.batch_execute("DROP SCHEMA reporting CASCADE")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_definer_owned_by_an_analyst_is_critical_in_any_schema() {
    // A SECURITY DEFINER function outside Palisade's schemas, owned by a recorded analyst role (or
    // by a role granted it): it runs under the analyst's grants and policies, so whoever may
    // execute it reads the analyst's organization, with no grant of their own. Ownership and
    // function privileges are this database's own; the probe roles hold nothing in any other.
    let db = TestDb::new().await;
    let mut su = db.superuser_client().await;
    let (a, b) = two_organizations(&su).await;
    let analyst = format!(
        "analyst_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    );
    db.drop_role_with_it(&analyst);
    // As `palisade analyst grant` makes it.
    palisade_db::analysts::grant(
        &mut su,
        &palisade_db::analysts::AnalystRole::parse(&analyst).unwrap(),
        a,
    )
    .await
    .unwrap();
    let (bob, carol) = (probe_role(&db), probe_role(&db));
    customer_names_definer(&su, &analyst, &bob).await;
    // The leak: bob, who may read no customer, reads organization A's through it, whatever
    // organization it sets.
    for org in [a, b] {
        assert_eq!(
            customer_names_as(&mut su, &bob, org).await,
            ["customer of org A"]
        );
    }
    let function = "reporting.customer_names()";
    let (_, v) = critical_definer_finding(&db, &su, function).await;
    assert!(
        v[4].contains(&format!("executable by {bob}:"))
            && v[4].contains(&format!("under {analyst}'s policies"))
            && v[4].contains("that analyst's organization"),
        "{v:?}"
    );
    // Owned by a role granted the analyst role instead: it has the analyst's privileges, and so
    // does the function.
    su.batch_execute(&format!(
        "CREATE ROLE {carol} NOLOGIN; GRANT {analyst} TO {carol};
         ALTER FUNCTION reporting.customer_names() OWNER TO {carol};"
    ))
    .await
    .unwrap();
    let found = ranked_violations(&su).await;
    assert!(
        found.iter().any(|[s, k, _, o, d]| s == "critical"
            && k == "definer_executable_by_other_role"
            && o == function
            && d.contains(&format!(
                "owned by {carol}, which has the privileges of {analyst}"
            ))),
        "{found:?}"
    );
    // Executable by its owner alone: no finding on the function.
    su.batch_execute(&format!(
        "REVOKE EXECUTE ON FUNCTION reporting.customer_names() FROM {bob}"
    ))
    .await
    .unwrap();
    let found = ranked_violations(&su).await;
    assert!(!found.iter().any(|v| v[3] == function), "{found:?}");
    su.batch_execute(&format!(
        "DROP SCHEMA reporting CASCADE; REVOKE {analyst} FROM {carol}"
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn the_backup_role_may_only_read_and_is_noticed_when_it_can_log_in() {
    let db = TestDb::new().await;
    let mut su = db.superuser_client().await;
    let tx = su.transaction().await.unwrap();
    // As policies/000_roles.sql makes it (created here if that file does not yet): NOLOGIN,
    // BYPASSRLS, reading Palisade's schemas.
    tx.batch_execute(
        "DO $backup$
         BEGIN
             IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'palisade_backup') THEN
                 CREATE ROLE palisade_backup;
             END IF;
         END
         $backup$;
         ALTER ROLE palisade_backup NOLOGIN BYPASSRLS;
         GRANT USAGE ON SCHEMA palisade, palisade_private, palisade_platform TO palisade_backup;
         GRANT SELECT ON ALL TABLES IN SCHEMA palisade, palisade_private, palisade_platform
             TO palisade_backup;
         GRANT SELECT ON ALL SEQUENCES IN SCHEMA palisade, palisade_private, palisade_platform
             TO palisade_backup;",
    )
    .await
    .unwrap();
    assert_eq!(ranked_violations(&tx).await, Vec::<[String; 5]>::new());
    tx.batch_execute(
        "GRANT INSERT ON palisade.customers TO palisade_backup;
         GRANT palisade_auditor TO palisade_backup;
         ALTER ROLE palisade_backup REPLICATION;",
    )
    .await
    .unwrap();
    let found = ranked_violations(&tx).await;
    let write = found
        .iter()
        .find(|v| v[1] == "backup_role_can_write")
        .unwrap_or_else(|| panic!("{found:?}"));
    assert_eq!(
        write[..4],
        [
            "critical",
            "backup_role_can_write",
            "role",
            "palisade_backup"
        ]
    );
    assert!(
        write[4].contains("member of palisade_auditor")
            && write[4].contains("INSERT on palisade.customers")
            && write[4].contains("REPLICATION"),
        "{write:?}"
    );
    tx.batch_execute(
        "REVOKE INSERT ON palisade.customers FROM palisade_backup;
         REVOKE palisade_auditor FROM palisade_backup;
         ALTER ROLE palisade_backup LOGIN NOREPLICATION;",
    )
    .await
    .unwrap();
    let found = ranked_violations(&tx).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0][..4],
        ["low", "backup_role_can_login", "role", "palisade_backup"]
    );
    tx.rollback().await.unwrap();
}

/// RLS pitfall 13 and pitfall 9 on a live database: a sequence every organization draws from,
/// and triggers that write as their owner, move a row to another organization, or cannot be read.
/// A trigger that fills its own key and refuses a move, with the assignment of
/// organization_id in comments, is not reported, nor is PostgreSQL's own trigger function, nor a
/// sequence the app cannot use.
#[tokio::test]
async fn shared_sequences_and_triggers_that_may_move_rows_are_reported() {
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    let sql = format!(
        "{}{}
         CREATE FUNCTION palisade.audit_notes_as_owner() RETURNS trigger LANGUAGE plpgsql
             SECURITY DEFINER SET search_path = '' AS $$BEGIN RETURN NEW; END$$;
         CREATE TRIGGER audit_notes_as_owner BEFORE INSERT ON palisade.audit_notes
             FOR EACH ROW EXECUTE FUNCTION palisade.audit_notes_as_owner();
         CREATE FUNCTION palisade.audit_notes_move() RETURNS trigger LANGUAGE plpgsql AS
             $$BEGIN IF true THEN NEW.organization_id = gen_random_uuid(); END IF; RETURN NEW; END$$;
         CREATE TRIGGER audit_notes_move BEFORE INSERT ON palisade.audit_notes
             FOR EACH ROW EXECUTE FUNCTION palisade.audit_notes_move();
         CREATE FUNCTION palisade.audit_notes_unread() RETURNS trigger LANGUAGE internal
             AS 'suppress_redundant_updates_trigger';
         CREATE TRIGGER audit_notes_unread BEFORE UPDATE ON palisade.audit_notes
             FOR EACH ROW EXECUTE FUNCTION palisade.audit_notes_unread();
         ALTER TABLE palisade.audit_notes DISABLE TRIGGER audit_notes_unread;
         CREATE TRIGGER audit_fine_builtin BEFORE UPDATE ON palisade.audit_fine
             FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
         CREATE FUNCTION palisade.audit_fine_keys() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN
             -- NEW.organization_id := gen_random_uuid(); was the bug
             /* and so was
                NEW.organization_id := OLD.organization_id; */
             IF NEW.id IS NULL THEN SELECT gen_random_uuid() INTO NEW.id; END IF;
             IF TG_OP = 'UPDATE' AND NEW.organization_id IS DISTINCT FROM OLD.organization_id THEN
                 RAISE EXCEPTION 'a row stays in its organization';
             END IF;
             RETURN NEW; END$$;
         CREATE TRIGGER audit_fine_keys BEFORE INSERT OR UPDATE ON palisade.audit_fine
             FOR EACH ROW EXECUTE FUNCTION palisade.audit_fine_keys();
         CREATE SEQUENCE public.audit_app_counter;
         GRANT USAGE ON SEQUENCE public.audit_app_counter TO palisade_app;
         CREATE SEQUENCE public.audit_member_counter;
         GRANT SELECT ON SEQUENCE public.audit_member_counter TO palisade_app_a;
         CREATE SEQUENCE palisade_private.audit_private_counter;
         CREATE SEQUENCE public.audit_other_counter;",
        tenant_table(
            "audit_notes",
            "organization_id, id",
            ",\n ticket bigserial,\n counted bigint GENERATED ALWAYS AS IDENTITY",
            ALL_COMMANDS,
        ),
        tenant_table("audit_fine", "organization_id, id", "", ALL_COMMANDS),
    );
    su.batch_execute(&sql).await.unwrap();
    let found = ranked_violations(&su).await;
    let on = |object: &str| -> Vec<[&str; 4]> {
        found
            .iter()
            .filter(|[_, _, _, o, _]| o == object)
            .map(|[s, k, t, _, d]| [s.as_str(), k.as_str(), t.as_str(), d.as_str()])
            .collect()
    };
    let notes = on(NOTES);
    let expected_notes: [(&str, &str, &str); 5] = [
        (
            "high",
            "definer_trigger",
            "trigger audit_notes_as_owner runs palisade.audit_notes_as_owner, SECURITY DEFINER: it reads and writes as ",
        ),
        (
            "high",
            "trigger_assigns_tenant_column",
            "trigger audit_notes_move runs palisade.audit_notes_move, whose source assigns NEW.organization_id",
        ),
        ("medium", "shared_sequence", "column ticket ("),
        ("medium", "shared_sequence", "column counted ("),
        (
            "medium",
            "trigger_source_unread",
            "trigger audit_notes_unread (disabled now) runs palisade.audit_notes_unread, in internal",
        ),
    ];
    assert_eq!(notes.len(), expected_notes.len(), "{notes:#?}");
    for (severity, kind, detail) in expected_notes {
        assert!(
            notes.iter().any(|[s, k, t, d]| *s == severity
                && *k == kind
                && *t == "table"
                && d.contains(detail)),
            "no {severity} {kind} {detail:?} on {NOTES}: {notes:#?}"
        );
    }
    assert!(
        notes.iter().any(|[_, _, _, d]| d.contains("column ticket")
            && d.contains("DEFAULT nextval('palisade.audit_notes_ticket_seq'::regclass)")),
        "{notes:#?}"
    );
    assert!(
        notes.iter().any(|[_, _, _, d]| d
            .contains("counted (an identity column, sequence palisade.audit_notes_counted_seq)")),
        "{notes:#?}"
    );
    for sequence in [
        "palisade.audit_notes_ticket_seq",
        "palisade.audit_notes_counted_seq",
        "public.audit_app_counter",
        "public.audit_member_counter",
        "palisade_private.audit_private_counter",
    ] {
        assert_eq!(
            on(sequence).iter().map(|v| &v[..3]).collect::<Vec<_>>(),
            [&["medium", "shared_sequence", "sequence"][..]],
            "{sequence}: {found:#?}"
        );
    }
    assert_eq!(on("palisade.audit_fine"), Vec::<[&str; 4]>::new());
    assert_eq!(on("public.audit_other_counter"), Vec::<[&str; 4]>::new());
    let detail = |sequence: &str| on(sequence)[0][3].to_owned();
    assert!(
        detail("public.audit_member_counter")
            .starts_with("usable (USAGE, SELECT or UPDATE) by palisade_app_a,"),
        "{found:#?}"
    );
    assert!(
        detail("palisade_private.audit_private_counter")
            .starts_with("a sequence in Palisade's schema palisade_private:"),
        "{found:#?}"
    );
    // The command names them.
    let run = run_binary(&db, &["--no-drift"], true).await;
    assert_eq!(run.code, i32::from(EXIT_FINDINGS), "{}", run.stderr);
    for line in [
        "[definer_trigger] table palisade.audit_notes:",
        "[trigger_assigns_tenant_column] table palisade.audit_notes:",
        "[shared_sequence] sequence public.audit_app_counter:",
        "[trigger_source_unread] table palisade.audit_notes:",
    ] {
        assert!(run.stdout.contains(line), "no {line:?}:\n{}", run.stdout);
    }
    // Reviewed by the DBA and allow-listed (as policies/910_audit_allow_list.sql would list
    // them): the source findings go, the definer stays, being what the trigger does.
    su.batch_execute(
        "INSERT INTO palisade_audit.allow_list (kind, name, reason) VALUES
             ('reviewed_trigger', 'palisade.audit_notes.audit_notes_move', 'audit test'),
             ('reviewed_trigger', 'palisade.audit_notes.audit_notes_unread', 'audit test'),
             ('reviewed_trigger', 'palisade.audit_notes.audit_notes_as_owner', 'audit test'),
             -- Longer than one identifier (V0164), as a real name may be.
             ('reviewed_trigger', 'palisade.aws_connect_credentials.aws_connect_credentials_stay_revoked', 'audit test')",
    )
    .await
    .unwrap();
    let found = ranked_violations(&su).await;
    let kinds: Vec<&str> = found
        .iter()
        .filter(|[_, _, t, o, _]| t == "table" && o == NOTES)
        .map(|[_, k, _, _, _]| k.as_str())
        .collect();
    assert_eq!(
        kinds,
        ["definer_trigger", "shared_sequence", "shared_sequence"],
        "{found:#?}"
    );
}
