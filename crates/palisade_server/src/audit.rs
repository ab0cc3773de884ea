//! `palisade audit`: runs [`palisade_db::audit::run`] against a database and prints the report,
//! as a readable text or as JSON (`--json`), and decides the exit code.
//!
//! Exit codes: [`EXIT_OK`] (0) no violation and no drift; [`EXIT_FINDINGS`] (1) at least one
//! violation or one difference from the repository; [`EXIT_ERROR`] (2) the audit could not run
//! (configuration, connection, a missing prerequisite; the message says which).

use std::fmt::Write as _;

use palisade_db::DbError;
use palisade_db::audit::{self, AuditError, AuditReport, Drift};
use palisade_db::schema;

use crate::configuration::{AuditSettings, DatabaseMode, Secret};
use crate::embedded::on_embedded_cluster;

/// Healthy: no violation, no drift.
pub const EXIT_OK: u8 = 0;
/// At least one violation or one difference from the repository.
pub const EXIT_FINDINGS: u8 = 1;
/// The audit could not run.
pub const EXIT_ERROR: u8 = 2;

/// The command line of `palisade audit` (parsed in [`crate::cli`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditArgs {
    /// `--json`: print the report as one JSON document.
    pub json: bool,
    /// Check drift (the default); `--no-drift` turns it off.
    pub drift: bool,
}

/// The exit code for a finished audit.
pub fn exit_code(report: &AuditReport) -> u8 {
    if report.passed() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    }
}

/// Audits the database at `url`. With `drift`, the reference database is built through
/// `superuser_url`, or through `url` itself when its role is a superuser; without either, the
/// audit refuses to run rather than silently skip the drift check.
pub async fn audit_database(
    url: &str,
    superuser_url: Option<&str>,
    drift: bool,
) -> Result<AuditReport, AuditError> {
    let mut live = schema::connect(url).await.map_err(|e| {
        AuditError::Setup(match &e {
            DbError::Server { code, .. } if code == "3D000" => {
                "the audited database does not exist (run `palisade migrate` first)".into()
            }
            DbError::Server { code, .. } if code == "28P01" => {
                "cannot connect to the audited database: password authentication failed".into()
            }
            _ => format!("cannot connect to the audited database: {e}"),
        })
    })?;
    let reference = if !drift {
        None
    } else if let Some(su) = superuser_url {
        Some(su.to_owned())
    } else if audit::is_superuser(&live).await? {
        Some(url.to_owned())
    } else {
        return Err(AuditError::Setup(
            "the drift check builds a scratch database from the repository, which needs a superuser: \
             set PALISADE_SUPERUSER_URL or PALISADE_SUPERUSER_URL_FILE (or connect \
             DATABASE_URL as a superuser), \
             or pass --no-drift to check the live database only"
                .into(),
        ));
    };
    audit::run(&mut live, reference.as_deref()).await
}

/// Audits the database of `settings`: `DATABASE_URL`, or the embedded cluster as its owner
/// with the drift reference built as its superuser. Never migrates first: that would repair the
/// very drift it must report.
pub fn execute(settings: &AuditSettings, drift: bool) -> Result<AuditReport, String> {
    let audit = |url: &Secret, superuser_url: Option<&Secret>| {
        actix_web::rt::System::new()
            .block_on(audit_database(
                url.expose(),
                superuser_url.map(Secret::expose),
                drift,
            ))
            .map_err(|e| e.to_string())
    };
    match &settings.database {
        DatabaseMode::External(server) => audit(&server.url, server.superuser_url.as_ref()),
        DatabaseMode::Embedded(e) => on_embedded_cluster(e, |urls| {
            audit(&urls.owner, drift.then_some(&urls.superuser))
        }),
    }
}

/// The report as the command prints it: JSON with `--json`, text otherwise.
pub fn render(report: &AuditReport, args: AuditArgs) -> String {
    if args.json {
        let mut s = serde_json::to_string_pretty(report).unwrap_or_else(|e| {
            serde_json::json!({"ok": false, "error": format!("cannot encode the report: {e}")})
                .to_string()
        });
        s.push('\n');
        s
    } else {
        render_text(report)
    }
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

fn ok(b: bool) -> String {
    if b { "ok" } else { "NOT OK" }.to_owned()
}

fn count_lines(s: Option<&String>) -> usize {
    s.map_or(0, |s| s.lines().count())
}

/// Appends an aligned table with a two-space indent.
fn table(out: &mut String, headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut String, cells: &[String]| {
        let mut s = String::from(" ");
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                let _ = write!(s, " {cell}");
            } else {
                let _ = write!(s, " {cell:<w$}");
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(
        out,
        &headers.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>(),
    );
    for row in rows {
        line(out, row);
    }
}

/// The width the text report's role section keeps to (the rest wraps its long lists too, but
/// a policy's or a drift item's definition is printed whole).
pub const TEXT_WIDTH: usize = 100;

/// Appends `text` word-wrapped to [`TEXT_WIDTH`], each line indented by `indent` spaces (a word
/// longer than the line stays whole).
fn wrapped(out: &mut String, indent: usize, text: &str) {
    let pad = " ".repeat(indent);
    let mut line = pad.clone();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let len = line.chars().count();
        if len > indent && len + 1 + word.chars().count() > TEXT_WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = pad.clone();
        }
        if line.chars().count() > indent {
            line.push(' ');
        }
        line.push_str(word);
    }
    if line.chars().count() > indent {
        out.push_str(&line);
        out.push('\n');
    }
}

/// A role's privileges on a group of tables (`palisade_audit.roles`: `table: PRIVS; table:
/// PRIVS`) summarised: tables with the same privileges together, the largest group first,
/// named when there are at most three of them, counted otherwise.
fn summarise_privileges(list: &str) -> String {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for entry in list.split("; ") {
        let (table, privileges) = entry.split_once(": ").unwrap_or((entry, ""));
        match groups.iter_mut().find(|(p, _)| p == privileges) {
            Some((_, tables)) => tables.push(table),
            None => groups.push((privileges.to_owned(), vec![table])),
        }
    }
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
    groups
        .iter()
        .map(|(privileges, tables)| {
            if tables.len() <= 3 {
                format!("{privileges} on {}", tables.join(", "))
            } else {
                format!("{privileges} on {} tables", tables.len())
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The readable report: the findings first, most urgent first, each with its fix; then the
/// inventory; then drift.
pub fn render_text(r: &AuditReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Palisade audit of database {} (PostgreSQL {})",
        r.database, r.server_version
    );

    let _ = writeln!(
        out,
        "\nViolations ({}), most urgent first",
        r.violations.len()
    );
    if r.violations.is_empty() {
        out.push_str("  none\n");
    }
    for v in &r.violations {
        let _ = writeln!(
            out,
            "  {:<8} [{}] {} {}: {}",
            v.severity, v.kind, v.object_type, v.object, v.detail
        );
        let _ = writeln!(out, "           fix: {}", v.fix);
    }

    out.push_str("\nTenant tables (schema palisade)\n");
    let tenant: Vec<_> = r.tables.iter().filter(|t| t.is_tenant_table).collect();
    table(
        &mut out,
        &[
            "table",
            "tenant column",
            "RLS",
            "forced",
            "policies S/I/U/D",
            "tenant index",
            "owner",
            "ok",
        ],
        &tenant
            .iter()
            .map(|t| {
                vec![
                    t.table_name.clone(),
                    t.tenant_column.clone().unwrap_or_default(),
                    yes(t.rls_enabled),
                    yes(t.rls_forced),
                    format!(
                        "{}/{}/{}/{}",
                        count_lines(t.select_policies.as_ref()),
                        count_lines(t.insert_policies.as_ref()),
                        count_lines(t.update_policies.as_ref()),
                        count_lines(t.delete_policies.as_ref())
                    ),
                    t.tenant_index.clone().unwrap_or_else(|| "-".into()),
                    t.owner.clone(),
                    ok(t.ok),
                ]
            })
            .collect::<Vec<_>>(),
    );
    let allowed: Vec<String> = tenant
        .iter()
        .flat_map(|t| {
            t.unique_keys_without_tenant
                .iter()
                .flatten()
                .filter(|k| !t.reasons.iter().any(|r| r.contains(k.as_str())))
                .map(move |k| format!("{}.{k}", t.table_name))
        })
        .collect();
    if !allowed.is_empty() {
        wrapped(
            &mut out,
            2,
            &format!(
                "Allow-listed global unique keys (palisade_audit.allow_list): {}",
                allowed.join(", ")
            ),
        );
    }
    for (category, title) in [
        ("platform", "Platform tables (no tenant rows)"),
        ("palisade internal", "Palisade's internal tables"),
        ("other", "Tables outside Palisade's schemas"),
    ] {
        let names: Vec<String> = r
            .tables
            .iter()
            .filter(|t| t.category == category)
            .map(|t| format!("{}.{}", t.schema_name, t.table_name))
            .collect();
        if !names.is_empty() {
            wrapped(&mut out, 2, &format!("{title}: {}", names.join(", ")));
        }
    }
    let copies: Vec<_> = r.copies.iter().filter(|c| !c.ok).collect();
    if !copies.is_empty() {
        out.push_str(
            "  Copies of tenant data outside row-level security (palisade_audit.copies):\n",
        );
        for c in copies {
            let what = match &c.copied_from {
                Some(table) if !c.has_organization_id => format!("columns of {table}"),
                _ => "organization_id".to_owned(),
            };
            let readers = if c.readable_by.is_empty() {
                "superusers only".to_owned()
            } else {
                c.readable_by.join(", ")
            };
            wrapped(
                &mut out,
                4,
                &format!(
                    "{} {}.{}: {what}; readable by {readers}",
                    c.kind, c.schema_name, c.relation_name
                ),
            );
        }
    }

    out.push_str("\nRoles with something in this database\n");
    let here: Vec<_> = r.roles.iter().filter(|x| x.in_this_database).collect();
    table(
        &mut out,
        &[
            "role",
            "login",
            "superuser",
            "bypassrls",
            "can bypass RLS",
            "ok",
        ],
        &here
            .iter()
            .map(|x| {
                vec![
                    x.role_name.clone(),
                    yes(x.can_login),
                    yes(x.is_superuser),
                    yes(x.bypass_rls),
                    yes(x.can_bypass_rls),
                    ok(x.ok),
                ]
            })
            .collect::<Vec<_>>(),
    );
    out.push_str(
        "  What each may do, summarised (palisade_audit.roles and --json have it table by table):\n",
    );
    for x in &here {
        let _ = writeln!(out, "  {}", x.role_name);
        for (what, list) in [
            ("tenant tables", &x.tenant_privileges),
            ("platform tables", &x.platform_privileges),
        ] {
            let summary = match list.as_deref() {
                None => "-".to_owned(),
                Some(all @ "all (superuser)") => all.to_owned(),
                Some(list) => summarise_privileges(list),
            };
            wrapped(&mut out, 6, &format!("{what}: {summary}"));
        }
    }
    let elsewhere = r.roles.len() - here.len();
    if elsewhere > 0 {
        let _ = writeln!(
            out,
            "  {elsewhere} other role(s) own and hold nothing here (palisade_audit.roles lists them)"
        );
    }

    out.push_str("\nSECURITY DEFINER functions\n");
    let definers: Vec<_> = r.functions.iter().filter(|f| f.security_definer).collect();
    if definers.is_empty() {
        out.push_str("  (none)\n");
    } else {
        table(
            &mut out,
            &["function", "owner", "search_path", "ok", "executable by"],
            &definers
                .iter()
                .map(|f| {
                    vec![
                        format!("{}.{}({})", f.schema_name, f.function_name, f.arguments),
                        f.owner.clone(),
                        f.search_path.clone().unwrap_or_else(|| "(not set)".into()),
                        ok(f.ok),
                        f.executable_by.join(", "),
                    ]
                })
                .collect::<Vec<_>>(),
        );
    }

    out.push_str("\nViews over tenant tables\n");
    if r.views.is_empty() {
        out.push_str("  (none)\n");
    } else {
        table(
            &mut out,
            &["view", "kind", "owner", "security_invoker", "ok", "reads"],
            &r.views
                .iter()
                .map(|v| {
                    vec![
                        format!("{}.{}", v.schema_name, v.view_name),
                        v.kind.clone(),
                        v.owner.clone(),
                        yes(v.security_invoker),
                        ok(v.ok),
                        v.tenant_tables.join(", "),
                    ]
                })
                .collect::<Vec<_>>(),
        );
    }

    out.push_str("\nSecret columns (policies/920_column_classification.sql)\n");
    let secrets: Vec<_> = r
        .columns
        .iter()
        .filter(|c| c.classification.as_deref() == Some("secret"))
        .collect();
    if secrets.is_empty() {
        out.push_str("  (none)\n");
    } else {
        table(
            &mut out,
            &["column", "palisade_app may", "ok"],
            &secrets
                .iter()
                .map(|c| {
                    vec![
                        format!("{}.{}.{}", c.schema_name, c.table_name, c.column_name),
                        c.app_privileges.join(" "),
                        ok(c.ok),
                    ]
                })
                .collect::<Vec<_>>(),
        );
    }
    let reachable = r.columns.iter().filter(|c| c.app_can_reach).count();
    let readable = r.columns.iter().filter(|c| c.app_can_select).count();
    let _ = writeln!(
        out,
        "  palisade_app reaches {reachable} column(s) and may read {readable} (palisade_audit.columns lists them)"
    );

    out.push_str("\nDDL guard (event triggers)\n");
    table(
        &mut out,
        &["event trigger", "event", "state"],
        &r.ddl_guard
            .iter()
            .map(|g| {
                vec![
                    g.event_trigger.clone(),
                    g.event.clone().unwrap_or_else(|| "-".into()),
                    match (&g.event, g.enabled, g.problems.is_empty()) {
                        (None, ..) => "NOT INSTALLED".into(),
                        (Some(_), true, true) => "enabled".into(),
                        (Some(_), false, _) => "DISABLED (in normal sessions)".into(),
                        (Some(_), true, false) => "ALTERED (see its violation)".into(),
                    },
                ]
            })
            .collect::<Vec<_>>(),
    );

    match &r.drift {
        Drift::Skipped { reason } => {
            let _ = writeln!(out, "\nDrift: not checked: {reason}");
        }
        Drift::Checked {
            method,
            differences,
        } => {
            let _ = writeln!(
                out,
                "\nDrift from the repository ({} difference(s))\n  Method: {method}.",
                differences.len()
            );
            if differences.is_empty() {
                out.push_str("  none\n");
            }
            for d in differences {
                let what = match (&d.live, &d.repository) {
                    (Some(_), Some(_)) => "differs",
                    (Some(_), None) => "in the live database only",
                    (None, _) => "missing from the live database",
                };
                let _ = writeln!(out, "  [drift] {}: {what}", d.object);
                if let Some(l) = &d.live {
                    let _ = writeln!(out, "      live:       {l}");
                }
                if let Some(x) = &d.repository {
                    let _ = writeln!(out, "      repository: {x}");
                }
            }
        }
    }

    let drift = r.drift_items().len();
    let notices = r.violations.len() - r.failures();
    if r.passed() && notices == 0 {
        out.push_str("\nResult: OK\n");
    } else if r.passed() {
        let _ = writeln!(
            out,
            "\nResult: OK, with {notices} low-severity notice(s), which do not fail the audit"
        );
    } else {
        let _ = writeln!(
            out,
            "\nResult: FAILED ({} violation(s), {drift} difference(s) from the repository)",
            r.failures()
        );
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use palisade_db::audit::{DriftItem, Violation};

    fn report(violations: Vec<Violation>, drift: Drift) -> AuditReport {
        let mut r = AuditReport {
            database: "palisade".into(),
            server_version: "15.18".into(),
            ok: false,
            violations,
            drift,
            tables: vec![],
            roles: vec![],
            functions: vec![],
            views: vec![],
            ddl_guard: vec![],
            columns: vec![],
            copies: vec![],
        };
        r.ok = r.passed();
        r
    }

    fn violation(severity: &str, kind: &str) -> Violation {
        Violation {
            severity: severity.into(),
            kind: kind.into(),
            object_type: "table".into(),
            object: "palisade.customers".into(),
            detail: "row-level security is not enabled".into(),
            fix: "ALTER TABLE <table> ENABLE ROW LEVEL SECURITY".into(),
        }
    }

    fn checked(differences: Vec<DriftItem>) -> Drift {
        Drift::Checked {
            method: "test".into(),
            differences,
        }
    }

    #[test]
    fn exit_code_is_zero_only_without_violations_and_drift() {
        assert_eq!(exit_code(&report(vec![], checked(vec![]))), EXIT_OK);
        let skipped = Drift::Skipped {
            reason: "--no-drift".into(),
        };
        assert_eq!(exit_code(&report(vec![], skipped)), EXIT_OK);
        let v = violation("critical", "rls_disabled");
        let r = report(vec![v], checked(vec![]));
        assert_eq!(exit_code(&r), EXIT_FINDINGS);
        let text = render_text(&r);
        assert!(
            text.contains("[rls_disabled] table palisade.customers"),
            "{text}"
        );
        assert!(text.contains("Result: FAILED"), "{text}");
        assert!(
            text.contains("critical [rls_disabled] table palisade.customers")
                && text.contains("fix: ALTER TABLE <table> ENABLE ROW LEVEL SECURITY"),
            "{text}"
        );
        let d = DriftItem {
            object: "policy palisade.customers.customers_select".into(),
            live: None,
            repository: Some("FOR SELECT".into()),
        };
        let r = report(vec![], checked(vec![d]));
        assert_eq!(exit_code(&r), EXIT_FINDINGS);
        assert!(render_text(&r).contains(
            "[drift] policy palisade.customers.customers_select: missing from the live database"
        ));
        let json: serde_json::Value = serde_json::from_str(&render(
            &r,
            AuditArgs {
                json: true,
                drift: true,
            },
        ))
        .unwrap();
        assert_eq!(json["ok"], false);
        assert_eq!(json["drift"]["status"], "checked");
    }

    #[test]
    fn a_low_severity_notice_is_reported_but_does_not_fail() {
        let r = report(
            vec![violation("low", "backup_role_can_login")],
            checked(vec![]),
        );
        assert!(r.ok && r.passed());
        assert_eq!(exit_code(&r), EXIT_OK);
        let text = render_text(&r);
        assert!(text.contains("low      [backup_role_can_login]"), "{text}");
        assert!(
            text.contains("Result: OK, with 1 low-severity notice(s)"),
            "{text}"
        );
        let both = report(
            vec![
                violation("high", "rls_not_forced"),
                violation("low", "backup_role_can_login"),
            ],
            checked(vec![]),
        );
        assert_eq!(exit_code(&both), EXIT_FINDINGS);
        assert!(render_text(&both).contains("Result: FAILED (1 violation(s), 0 difference(s)"));
        let json: serde_json::Value = serde_json::from_str(&render(
            &both,
            AuditArgs {
                json: true,
                drift: true,
            },
        ))
        .unwrap();
        assert_eq!(json["violations"][0]["severity"], "high");
        assert_eq!(
            json["violations"][1]["fix"],
            "ALTER TABLE <table> ENABLE ROW LEVEL SECURITY"
        );
    }

    #[test]
    fn privileges_are_summarised_and_wrapped_to_the_width() {
        let tables: Vec<String> = (0..40)
            .map(|i| format!("table_with_a_long_name_{i}: SELECT INSERT UPDATE DELETE"))
            .chain(["users: SELECT(some columns) INSERT".to_owned()])
            .collect();
        let summary = summarise_privileges(&tables.join("; "));
        assert_eq!(
            summary,
            "SELECT INSERT UPDATE DELETE on 40 tables; SELECT(some columns) INSERT on users"
        );
        let mut out = String::new();
        wrapped(
            &mut out,
            6,
            &format!("tenant tables: {}", "word ".repeat(60)),
        );
        assert!(out.lines().count() > 1);
        assert!(
            out.lines()
                .all(|l| l.chars().count() <= TEXT_WIDTH && l.starts_with("      "))
        );
    }
}
