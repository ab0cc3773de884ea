//! `palisade --help` and docs/configuration.md name the same environment variables, per
//! subcommand, so neither can drift from the other (and, through the unit test
//! `every_subcommand_lists_exactly_the_variables_it_reads`, from what the code reads).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The `palisade` binary's help for `args` (which must exit 0, with nothing on stderr).
fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .output()
        .expect("run palisade");
    assert_eq!(out.status.code(), Some(0), "{args:?}");
    assert!(out.stderr.is_empty(), "{args:?}");
    String::from_utf8(out.stdout).expect("UTF-8 help")
}

/// The variables of the help's environment section: `  NAME [note]` lines after a line that
/// starts with `Environment`.
fn help_vars(help: &str) -> BTreeSet<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Environment"))
        .filter_map(|l| l.strip_prefix("  "))
        .filter_map(|l| l.split(' ').next())
        .filter(|name| is_var(name))
        .map(str::to_owned)
        .collect()
}

fn is_var(s: &str) -> bool {
    s.len() > 1
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The code spans of `text` that are variable names.
fn code_vars(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| is_var(s))
        .map(str::to_owned)
}

/// GitHub's anchor of a heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The table cells of `line` (`| a | b |`), trimmed.
fn cells(line: &str) -> Vec<&str> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(str::trim)
        .collect()
}

/// docs/configuration.md, read as the page says: per subcommand of the table "Which
/// subcommand reads what", the variables named in its row, plus those in the first column of
/// the table of each section the row links to.
fn documented() -> Vec<(String, BTreeSet<String>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let doc = std::fs::read_to_string(&path).expect("docs/configuration.md");
    let mut sections: Vec<(String, Vec<&str>)> = Vec::new();
    for line in doc.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            sections.push((slug(heading), Vec::new()));
        } else if let Some((_, lines)) = sections.last_mut() {
            lines.push(line);
        }
    }
    let section = |anchor: &str| -> BTreeSet<String> {
        let (_, lines) = sections
            .iter()
            .find(|(slug, _)| slug == anchor)
            .unwrap_or_else(|| panic!("no section #{anchor}"));
        let vars: BTreeSet<String> = lines
            .iter()
            .filter(|l| l.starts_with("| `"))
            .flat_map(|l| code_vars(cells(l)[0]))
            .collect();
        assert!(!vars.is_empty(), "section #{anchor} names no variable");
        vars
    };
    let (_, table) = sections
        .iter()
        .find(|(slug, _)| slug == "which-subcommand-reads-what")
        .expect("the section \"Which subcommand reads what\"");
    let rows: Vec<(String, BTreeSet<String>)> = table
        .iter()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells = cells(l);
            let name = cells[0].split('`').nth(1).expect("a subcommand").to_owned();
            let mut vars: BTreeSet<String> = code_vars(cells[1]).collect();
            for link in cells[1].split("](#").skip(1) {
                let anchor = link.split(')').next().expect("a link");
                vars.extend(section(anchor));
            }
            (name, vars)
        })
        .collect();
    let names: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "serve",
            "migrate",
            "bootstrap",
            "install-definers",
            "audit",
            "numbers",
            "analyst",
            "retention",
            "rotate-app-credential",
            "help"
        ]
    );
    rows
}

#[test]
fn help_lists_every_variable_the_configuration_page_gives_each_subcommand() {
    for (subcommand, vars) in documented() {
        if subcommand == "help" {
            assert!(vars.is_empty(), "help reads nothing: {vars:?}");
            continue;
        }
        let mut helps = vec![[subcommand.as_str(), "--help"].to_vec()];
        if subcommand == "serve" {
            // `serve` is the default: the top-level help lists its variables.
            helps.push(vec!["--help"]);
        }
        for args in helps {
            let listed = help_vars(&help(&args));
            let only_help: Vec<_> = listed.difference(&vars).collect();
            let only_doc: Vec<_> = vars.difference(&listed).collect();
            assert!(
                only_help.is_empty() && only_doc.is_empty(),
                "`palisade {}` lists {only_help:?}, which docs/configuration.md does not give                  `{subcommand}`; the page gives it {only_doc:?}, which the help does not list",
                args.join(" ")
            );
        }
    }
}

#[test]
fn help_points_at_the_docs_and_keeps_every_subcommand_and_argument() {
    let top = help(&["--help"]);
    assert!(top.contains("docs/configuration.md"), "{top}");
    assert!(!top.contains("README"), "{top}");
    for subcommand in [
        "serve",
        "migrate",
        "bootstrap",
        "install-definers",
        "audit",
        "numbers",
        "analyst",
        "retention",
        "rotate-app-credential",
        "help",
    ] {
        assert!(
            top.contains(&format!("  {subcommand} ")),
            "{subcommand}: {top}"
        );
    }
    assert_eq!(help(&["help"]), top);
    let audit = help(&["audit", "--help"]);
    assert!(
        audit.contains("--json") && audit.contains("--no-drift"),
        "{audit}"
    );
    let numbers = help(&["numbers", "--help"]);
    for sub in ["add", "import", "list", "remove"] {
        assert!(numbers.contains(&format!("  {sub} ")), "{numbers}");
    }
}

#[test]
fn usage_errors_exit_2_on_stderr() {
    for args in [
        &["frobnicate"][..],
        &["audit", "--frobnicate"],
        &["numbers"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(args)
            .output()
            .expect("run palisade");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

/// Runs `palisade args` with exactly the variables `vars` of the configuration (the rest of the
/// environment kept, less every variable the page documents).
fn palisade(args: &[&str], vars: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisade"));
    cmd.args(args);
    for (_, documented) in documented() {
        for name in documented {
            cmd.env_remove(name);
        }
    }
    cmd.env_remove("PALISADE_SUPERUSER_URL");
    cmd.env_remove("PALISADE_SUPERUSER_URL_FILE");
    cmd.envs(vars.iter().copied());
    cmd.output().expect("run palisade")
}

#[tokio::test]
async fn migrate_needs_only_the_owner_url() {
    let db = palisade_test_support::TestDb::new().await;
    let owner_url = db.url_as(palisade_db::schema::OWNER_ROLE);
    let out = tokio::task::spawn_blocking(move || {
        palisade(&["migrate"], &[("DATABASE_URL", owner_url.as_str())])
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("migrations and policies are up to date"),
        "{stdout}"
    );
    assert!(
        !stdout.contains(palisade_test_support::test_password()),
        "{stdout}"
    );
}

#[test]
fn a_missing_required_variable_exits_2_naming_it_never_a_value() {
    let out = palisade(
        &["bootstrap"],
        &[
            (
                "PALISADE_SUPERUSER_URL",
                "postgresql://postgres:hunter2@127.0.0.1:1/postgres",
            ),
            ("PALISADE_OWNER_PASSWORD", "hunter3"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("PALISADE_APP_PASSWORD"), "{stderr}");
    assert!(!stderr.contains("hunter"), "{stderr}");
    // An empty value counts as unset.
    let out = palisade(&["install-definers"], &[("PALISADE_SUPERUSER_URL", "")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("PALISADE_SUPERUSER_URL"), "{stderr}");
    // `serve` with DATABASE_URL still needs the app role's URL and the JWT secret.
    let out = palisade(
        &["serve"],
        &[("DATABASE_URL", "postgresql://o:hunter4@127.0.0.1:1/p")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("PALISADE_APP_DATABASE_URL") && !stderr.contains("hunter"));
}

/// Metrics are never served on the API's port: `serve` refuses a metrics address that is the
/// API's, or its port on a wildcard address, with status 2 before anything starts.
#[test]
fn a_metrics_address_on_the_api_port_exits_2_naming_it() {
    for (http, metrics) in [
        ("127.0.0.1:18080", "127.0.0.1:18080"),
        ("0.0.0.0:18080", "127.0.0.1:18080"),
    ] {
        let out = palisade(
            &["serve"],
            &[
                ("PALISADE_HTTP_ADDR", http),
                ("PALISADE_METRICS_ADDR", metrics),
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{http} {metrics}: {stderr}");
        assert!(
            stderr.contains("PALISADE_METRICS_ADDR") && stderr.contains("public port"),
            "{stderr}"
        );
    }
}

/// `PALISADE_DB_SSLROOTCERT` is read at startup by every subcommand that connects: a file that
/// cannot be used stops it with status 2 naming the variable (never a URL); a good one leaves
/// an `sslmode=prefer` URL working; and the URL's `sslmode` reaches `migrate`'s connection.
#[tokio::test]
async fn the_database_ca_file_is_checked_at_startup_and_sslmode_reaches_migrate() {
    for args in [
        &["migrate"][..],
        &["audit", "--no-drift"],
        &["numbers", "list"],
    ] {
        let out = palisade(
            args,
            &[
                ("DATABASE_URL", "postgresql://o:hunter2@127.0.0.1:1/p"),
                ("PALISADE_DB_SSLROOTCERT", "/nonexistent/ca.pem"),
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("PALISADE_DB_SSLROOTCERT (/nonexistent/ca.pem): cannot be read"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }

    let db = palisade_test_support::TestDb::new().await;
    let owner_url = db.url_as(palisade_db::schema::OWNER_ROLE);
    let ca_dir = std::env::temp_dir().join(format!("palisade-cli-ca-{}", std::process::id()));
    std::fs::create_dir_all(&ca_dir).unwrap();
    let ca_file = ca_dir.join("ca.pem");
    std::fs::write(
        &ca_file,
        palisade_test_support::receiver::TestCa::new().pem(),
    )
    .unwrap();
    let ca = ca_file.display().to_string();
    // The harness's URLs keep TEST_DATABASE_URL's own parameters: add to them.
    let join = if owner_url.contains('?') { '&' } else { '?' };
    let out = tokio::task::spawn_blocking(move || {
        let require = palisade(
            &["migrate"],
            &[("DATABASE_URL", &format!("{owner_url}{join}sslmode=require"))],
        );
        let prefer = palisade(
            &["migrate"],
            &[
                ("DATABASE_URL", &format!("{owner_url}{join}sslmode=prefer")),
                ("PALISADE_DB_SSLROOTCERT", &ca),
            ],
        );
        (require, prefer)
    })
    .await
    .unwrap();
    std::fs::remove_dir_all(&ca_dir).unwrap();
    let (require, prefer) = out;
    // The test cluster has no TLS.
    let stderr = String::from_utf8_lossy(&require.stderr);
    assert_eq!(require.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("server does not support TLS"), "{stderr}");
    assert!(
        !stderr.contains(palisade_test_support::test_password()),
        "{stderr}"
    );
    assert_eq!(
        prefer.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&prefer.stderr)
    );
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

/// A newcomer's checkout under a directory only its owner can search (root's `/root`, 0700):
/// as root, PostgreSQL runs as the `postgres` OS user, which cannot reach `./.palisade` there,
/// so the embedded default moves to a per-project directory under /var/lib/palisade and says
/// where; every subcommand finds the same cluster there. As an ordinary user the server runs as
/// ourselves and the default stays.
#[test]
fn a_default_data_dir_the_server_user_cannot_reach_moves_to_one_it_can() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = palisade_pg_embedded::ephemeral_dir("palisade-cli-private").unwrap();
    let private = scratch.parent().unwrap().join("private");
    let project = private.join("checkout");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let default = project.join(".palisade");
    let expected = if running_as_root() {
        palisade_server::embedded::fallback_data_dir(&default)
    } else {
        default.clone()
    };
    let in_project = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisade"));
        cmd.args(args).current_dir(&project);
        for (_, documented) in documented() {
            for name in documented {
                cmd.env_remove(name);
            }
        }
        cmd.env_remove("PALISADE_SUPERUSER_URL");
        cmd.env_remove("PALISADE_SUPERUSER_URL_FILE");
        cmd.output().expect("run palisade")
    };

    let migrate = in_project(&["migrate"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&migrate.stdout),
        String::from_utf8_lossy(&migrate.stderr),
    );
    assert!(migrate.status.success(), "{stdout}\n{stderr}");
    assert!(
        expected.join("pgdata").join("PG_VERSION").is_file(),
        "no cluster in {}",
        expected.display()
    );
    assert!(
        !expected.join("pgdata").join("postmaster.pid").exists(),
        "migrate left the cluster running"
    );
    if running_as_root() {
        assert!(
            stdout.contains("cannot reach the default data directory")
                && stdout.contains(&expected.display().to_string())
                && stdout.contains(&private.display().to_string()),
            "the move is not said, with where and why: {stdout}"
        );
        assert!(!default.exists(), "created the unreachable default too");
    } else {
        assert!(!stdout.contains("cannot reach"), "{stdout}");
    }

    // Another subcommand, in another process, finds the same cluster and says so again.
    let numbers = in_project(&["numbers", "list"]);
    let stderr = String::from_utf8_lossy(&numbers.stderr);
    assert!(numbers.status.success(), "{stderr}");
    assert_eq!(
        running_as_root(),
        stderr.contains(&expected.display().to_string()),
        "{stderr}"
    );

    std::fs::remove_dir_all(scratch.parent().unwrap()).unwrap();
    if running_as_root() {
        std::fs::remove_dir_all(&expected).unwrap();
    }
}
