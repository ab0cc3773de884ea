//! The command line of `palisade` (clap's builder API): the subcommands, their arguments, and
//! their help, which lists the environment variables each one reads with their defaults, from
//! the lists beside the code that reads them ([`crate::configuration`]).
//!
//! Settings are never command-line flags: they come from the environment only, so a secret
//! never sits in a process's arguments, where any local user can read it. That is also why the
//! variables are listed in a section of their own rather than with clap's `env` attribute,
//! which attaches a variable to a flag.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Command};
use palisade_db::phone_inventory::InventoryEntry;
use palisade_domain::{Capabilities, PhoneNumber};

use crate::analyst::{self, AnalystCommand};
use crate::audit::AuditArgs;
use crate::configuration::{
    AnalystSettings, AuditSettings, BootstrapSettings, InstallDefinersSettings, MigrateSettings,
    NumbersSettings, RetentionSettings, RotateSettings, ServeSettings, Var,
};
use crate::numbers::{self, NumbersCommand};

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cli {
    /// `palisade` or `palisade serve`.
    Serve,
    /// `palisade migrate`.
    Migrate,
    /// `palisade bootstrap`.
    Bootstrap,
    /// `palisade install-definers`.
    InstallDefiners,
    /// `palisade audit [--json] [--no-drift]`.
    Audit(AuditArgs),
    /// `palisade numbers add|import|list|remove ...`.
    Numbers(NumbersCommand),
    /// `palisade retention`.
    Retention,
    /// `palisade analyst grant|revoke ...`.
    Analyst(AnalystCommand),
    /// `palisade rotate-app-credential`.
    RotateAppCredential,
}

impl Cli {
    /// Parses `args` (the program name first, as `std::env::args_os` gives it). A request for
    /// help is an `Err` too, whose [`clap::Error::exit_code`] is 0; any other error's is 2.
    pub fn try_parse_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = command().try_get_matches_from(args)?;
        Ok(match matches.subcommand() {
            None | Some(("serve", _)) => Self::Serve,
            Some(("migrate", _)) => Self::Migrate,
            Some(("bootstrap", _)) => Self::Bootstrap,
            Some(("install-definers", _)) => Self::InstallDefiners,
            Some(("audit", m)) => Self::Audit(AuditArgs {
                json: m.get_flag("json"),
                drift: !m.get_flag("no-drift"),
            }),
            Some(("numbers", m)) => Self::Numbers(numbers_command(m)?),
            Some(("retention", _)) => Self::Retention,
            Some(("analyst", m)) => Self::Analyst(analyst_command(m)?),
            Some(("rotate-app-credential", _)) => Self::RotateAppCredential,
            Some((other, _)) => return Err(undefined(other)),
        })
    }
}

/// What clap cannot return for the command it was given (every argument read here is
/// required there); an error rather than a panic all the same.
fn undefined(what: &str) -> clap::Error {
    command().error(
        clap::error::ErrorKind::InvalidSubcommand,
        format!("undefined command line: {what}"),
    )
}

fn numbers_command(m: &ArgMatches) -> Result<NumbersCommand, clap::Error> {
    let number = |m: &ArgMatches| {
        m.get_one::<PhoneNumber>("number")
            .cloned()
            .ok_or_else(|| undefined("NUMBER"))
    };
    Ok(match m.subcommand() {
        Some(("add", m)) => NumbersCommand::Add(InventoryEntry {
            number: number(m)?,
            capabilities: m
                .get_one::<Capabilities>("capabilities")
                .cloned()
                .ok_or_else(|| undefined("--capabilities"))?,
        }),
        Some(("import", m)) => NumbersCommand::Import(
            m.get_one::<PathBuf>("file")
                .cloned()
                .ok_or_else(|| undefined("FILE"))?,
        ),
        Some(("remove", m)) => NumbersCommand::Remove(number(m)?),
        Some(("list", _)) => NumbersCommand::List,
        Some((other, _)) => return Err(undefined(other)),
        None => return Err(undefined("numbers without a subcommand")),
    })
}

fn analyst_command(m: &ArgMatches) -> Result<AnalystCommand, clap::Error> {
    let role = |m: &ArgMatches| {
        m.get_one::<palisade_db::analysts::AnalystRole>("role")
            .cloned()
            .ok_or_else(|| undefined("ROLE"))
    };
    Ok(match m.subcommand() {
        Some(("grant", m)) => AnalystCommand::Grant {
            role: role(m)?,
            organization: m
                .get_one::<palisade_domain::OrgId>("organization")
                .copied()
                .ok_or_else(|| undefined("--organization"))?,
        },
        Some(("revoke", m)) => AnalystCommand::Revoke(role(m)?),
        Some((other, _)) => return Err(undefined(other)),
        None => return Err(undefined("analyst without a subcommand")),
    })
}

/// The `Environment` section of a subcommand's help.
fn environment(title: &str, vars: &[Var]) -> String {
    let mut out = format!("{title}:\n");
    for v in vars {
        let _ = match v.note {
            "" => writeln!(out, "  {}", v.name),
            note => writeln!(out, "  {} [{note}]", v.name),
        };
        let _ = writeln!(out, "          {}", v.meaning);
    }
    out.push_str(
        "\nA variable set to the empty string counts as unset. \
         Every variable, in full: docs/configuration.md.",
    );
    out
}

fn subcommand(name: &'static str, about: &'static str, vars: &[Var]) -> Command {
    Command::new(name)
        .about(about)
        .after_help(environment("Environment", vars))
}

/// The whole command line, with its help.
pub fn command() -> Command {
    let number = || {
        Arg::new("number")
            .value_name("NUMBER")
            .required(true)
            .help("an E.164 phone number, e.g. +15550001111")
            .value_parser(numbers::parse_number)
    };
    let analyst_role = || {
        Arg::new("role")
            .value_name("ROLE")
            .required(true)
            .help("the role's name: a-z, 0-9 and _, at most 40 characters")
            .value_parser(analyst::parse_role)
    };
    Command::new("palisade")
        .about(
            "Palisade: a multi-tenant API whose tenants are kept apart by PostgreSQL \
             row-level security, and its operational commands.",
        )
        .after_help(environment(
            "Environment of `serve`, the default (each command's --help lists what it reads)",
            &ServeSettings::vars(),
        ))
        .subcommand(subcommand(
            "serve",
            "Serve the HTTP API (the default). Without DATABASE_URL or DATABASE_URL_FILE, runs \
             its own PostgreSQL cluster under PALISADE_DATA_DIR",
            &ServeSettings::vars(),
        ))
        .subcommand(subcommand(
            "migrate",
            "Apply the migrations (sql/) and policies (policies/) as the owner role, then exit",
            &MigrateSettings::vars(),
        ))
        .subcommand(
            subcommand(
                "bootstrap",
                "On an existing server, as a superuser: create the roles and the database",
                &BootstrapSettings::vars(),
            )
            .long_about(
                "On an existing server, as a superuser: create the roles (with their \
                 passwords), the database and the DDL guard. Safe to re-run. Then run \
                 `migrate`, then `install-definers` (docs/dba.md).",
            ),
        )
        .subcommand(
            subcommand(
                "install-definers",
                "On an existing server, after every `migrate`, as a superuser: install the \
                 SECURITY DEFINER functions",
                &InstallDefinersSettings::vars(),
            )
            .long_about(
                "On an existing server, after every `migrate` (a new installation and every \
                 upgrade), as a superuser: re-applies the roles (not their passwords) and the \
                 DDL guard, and installs the SECURITY DEFINER functions (policies/02N_*.sql) as \
                 palisade_resolver, which the owner cannot do. The server refuses to start \
                 until they match its version. (Embedded mode does all of this on every \
                 start.)",
            ),
        )
        .subcommand(
            subcommand(
                "audit",
                "The DBA audit: violations and drift; exit 0 healthy, 1 findings, 2 error",
                &AuditSettings::vars(),
            )
            .long_about(
                "The DBA audit (docs/dba.md): every tenant table's protection, roles that can \
                 bypass row-level security, SECURITY DEFINER functions, views over tenant \
                 tables (the palisade_audit views), and drift of the live database from sql/ \
                 and policies/. Reads the embedded cluster, or DATABASE_URL or DATABASE_URL_FILE \
                 (a role that can read palisade_audit); the drift check needs a superuser: \
                 PALISADE_SUPERUSER_URL (or its _FILE), or that URL's role.\n\n\
                 Exit status: 0 healthy, 1 violations or drift, 2 the audit could not run.",
            )
            .arg(
                Arg::new("json")
                    .long("json")
                    .action(ArgAction::SetTrue)
                    .help("print the report as one JSON document"),
            )
            .arg(
                Arg::new("no-drift")
                    .long("no-drift")
                    .action(ArgAction::SetTrue)
                    .help("check the live database only (no superuser needed)"),
            ),
        )
        .subcommand(
            subcommand(
                "retention",
                "Delete the append-only records past their retention window, as the owner role",
                &RetentionSettings::vars(),
            )
            .long_about(
                "Deletes, across every organization, the append-only records past their window \
                 (webhook deliveries, Mailgun tokens, Stripe event ids, finished outbound webhook \
                 events, expired invitations and password resets, idempotency keys, the incremental \
                 sync's deletion records) and clears \
                 ended phone number quarantines, through palisade_private.purge_expired_records \
                 as the owner role, in short batches; prints what it removed. The server does \
                 the same every PALISADE_RETENTION_EVERY_MINUTES (docs/dba.md#retention).",
            ),
        )
        .subcommand(
            subcommand(
                "analyst",
                "Read-only roles that see one organization's rows, as a superuser",
                &AnalystSettings::vars(),
            )
            .long_about(
                "Read-only analyst roles (docs/dba.md, \"An analyst for one organization\"): \
                 `grant` creates the role NOLOGIN (or adopts an existing one that bypasses \
                 nothing), records it in palisade_audit.analysts, and gives it SELECT on the \
                 readable columns of every tenant table through policies pinned to that \
                 organization's id; `palisade migrate` keeps them up to date. `revoke` removes \
                 the record, the policies and the grants (not the role). Connects as a \
                 superuser: PALISADE_SUPERUSER_URL (or its _FILE), or the embedded cluster's. \
                 Exit status: 0 \
                 done, 1 refused or failed, 2 usage or configuration.",
            )
            .subcommand_required(true)
            .subcommand(
                Command::new("grant")
                    .about("Make ROLE an analyst of one organization")
                    .arg(analyst_role())
                    .arg(
                        Arg::new("organization")
                            .long("organization")
                            .value_name("UUID")
                            .required(true)
                            .help("the organization's id")
                            .value_parser(analyst::parse_organization),
                    ),
            )
            .subcommand(
                Command::new("revoke")
                    .about("End ROLE's analyst access (the role itself stays)")
                    .arg(analyst_role()),
            ),
        )
        .subcommand(
            subcommand(
                "rotate-app-credential",
                "Switch the servers to the app's other login role with a new password, without \
                 a failed request",
                &RotateSettings::vars(),
            )
            .long_about(
                "Rotates the app's database credential without a restart or a failed request \
                 (docs/dba.md, \"Rotating passwords\"): gives the idle login role \
                 (palisade_app_a or palisade_app_b) a new random password, points the servers \
                 at it (embedded mode: secrets.json, which the running server reads for each new \
                 connection; otherwise the PALISADE_APP_DATABASE_URL_FILE every server reads), \
                 waits until the old role has no session left, then disables it. Exit status: 0 \
                 done, 1 failed (the message says what state it left), 2 configuration.",
            ),
        )
        .subcommand(
            subcommand(
                "numbers",
                "The platform's phone number inventory, as the owner role",
                &NumbersSettings::vars(),
            )
            .long_about(
                "The platform's phone number inventory (docs/phone-numbers.md): the numbers \
                 the carrier account holds, which organizations claim from. Connects as the \
                 owner role (DATABASE_URL or DATABASE_URL_FILE, or the embedded cluster), \
                 never as the app role. \
                 Exit status: 0 done, 1 refused or failed, 2 usage or configuration.",
            )
            .subcommand_required(true)
            .subcommand(
                Command::new("add")
                    .about("Add a number, or set its capabilities again")
                    .arg(number())
                    .arg(
                        Arg::new("capabilities")
                            .long("capabilities")
                            .value_name("CAPABILITIES")
                            .required(true)
                            .help("sms, voice or sms,voice")
                            .value_parser(numbers::parse_capabilities),
                    ),
            )
            .subcommand(
                Command::new("import")
                    .about("Load a file of numbers, checked whole, in one transaction")
                    .arg(
                        Arg::new("file")
                            .value_name("FILE")
                            .required(true)
                            .value_parser(clap::value_parser!(PathBuf))
                            .help(
                                "one number per line, then its capabilities, e.g. \
                                 `+15550001111 sms,voice`; `#` comments",
                            ),
                    ),
            )
            .subcommand(Command::new("list").about(
                "Show each number: available, assigned (to which organization) or \
                 quarantined (until when)",
            ))
            .subcommand(
                Command::new("remove")
                    .about("Remove a number that no organization holds")
                    .arg(number()),
            ),
        )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("palisade").chain(line.split_whitespace()))
    }

    #[test]
    fn the_command_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn subcommands_parse_and_serve_is_the_default() {
        assert_eq!(parse("").unwrap(), Cli::Serve);
        assert_eq!(parse("serve").unwrap(), Cli::Serve);
        assert_eq!(parse("migrate").unwrap(), Cli::Migrate);
        assert_eq!(parse("bootstrap").unwrap(), Cli::Bootstrap);
        assert_eq!(parse("install-definers").unwrap(), Cli::InstallDefiners);
        assert_eq!(
            parse("rotate-app-credential").unwrap(),
            Cli::RotateAppCredential
        );
        for line in ["frobnicate", "serve --port 1", "migrate now"] {
            assert_eq!(parse(line).unwrap_err().exit_code(), 2, "{line}");
        }
    }

    #[test]
    fn audit_arguments() {
        assert_eq!(
            parse("audit").unwrap(),
            Cli::Audit(AuditArgs {
                json: false,
                drift: true
            })
        );
        assert_eq!(
            parse("audit --json --no-drift").unwrap(),
            Cli::Audit(AuditArgs {
                json: true,
                drift: false
            })
        );
        assert_eq!(parse("audit --jsn").unwrap_err().exit_code(), 2);
    }

    #[test]
    fn numbers_arguments() {
        let entry = |n: &str, c: &str| InventoryEntry {
            number: numbers::parse_number(n).unwrap(),
            capabilities: numbers::parse_capabilities(c).unwrap(),
        };
        let add = Cli::Numbers(NumbersCommand::Add(entry("+15550001111", "voice,sms")));
        assert_eq!(
            parse("numbers add +15550001111 --capabilities sms,voice").unwrap(),
            add
        );
        assert_eq!(
            parse("numbers add --capabilities sms,voice +15550001111").unwrap(),
            add
        );
        assert_eq!(
            parse("numbers list").unwrap(),
            Cli::Numbers(NumbersCommand::List)
        );
        assert_eq!(
            parse("numbers import numbers.txt").unwrap(),
            Cli::Numbers(NumbersCommand::Import("numbers.txt".into()))
        );
        assert_eq!(
            parse("numbers remove +15550001111").unwrap(),
            Cli::Numbers(NumbersCommand::Remove(
                numbers::parse_number("+15550001111").unwrap()
            ))
        );
        for line in [
            "numbers",
            "numbers add +15550001111",
            "numbers add 555 --capabilities sms",
            "numbers add +15550001111 --capabilities fax",
            "numbers remove",
            "numbers list all",
        ] {
            assert_eq!(parse(line).unwrap_err().exit_code(), 2, "{line}");
        }
    }

    #[test]
    fn analyst_arguments() {
        let org = "0b6f6d1e-8f0a-4b5e-9a57-0d9b5a1c2e3f";
        assert_eq!(
            parse(&format!("analyst grant reporting --organization {org}")).unwrap(),
            Cli::Analyst(AnalystCommand::Grant {
                role: analyst::parse_role("reporting").unwrap(),
                organization: analyst::parse_organization(org).unwrap(),
            })
        );
        assert_eq!(
            parse("analyst revoke reporting").unwrap(),
            Cli::Analyst(AnalystCommand::Revoke(
                analyst::parse_role("reporting").unwrap()
            ))
        );
        for line in [
            "analyst",
            "analyst grant reporting",
            "analyst grant reporting --organization acme",
            "analyst grant palisade_app --organization 0b6f6d1e-8f0a-4b5e-9a57-0d9b5a1c2e3f",
            "analyst grant Bad-Name --organization 0b6f6d1e-8f0a-4b5e-9a57-0d9b5a1c2e3f",
            "analyst revoke",
        ] {
            assert_eq!(parse(line).unwrap_err().exit_code(), 2, "{line}");
        }
    }

    #[test]
    fn help_exits_zero_and_lists_each_subcommands_variables_with_defaults() {
        let help = |line: &str| {
            let err = parse(line).unwrap_err();
            assert_eq!(err.exit_code(), 0, "{line}");
            err.render().to_string()
        };
        let top = help("--help");
        assert!(
            top.contains("PALISADE_HTTP_ADDR [default: 127.0.0.1:8080]"),
            "{top}"
        );
        assert!(top.contains("docs/configuration.md"), "{top}");
        assert!(!top.contains("README"), "{top}");
        assert_eq!(help("help"), top);
        let migrate = help("migrate --help");
        assert!(migrate.contains("DATABASE_URL"), "{migrate}");
        assert!(!migrate.contains("PALISADE_JWT_SECRET"), "{migrate}");
        let bootstrap = help("bootstrap --help");
        assert!(bootstrap.contains("PALISADE_OWNER_PASSWORD [required: this or its file]"));
        assert!(help("audit --help").contains("0 healthy, 1 violations or drift, 2"));
        assert!(help("numbers add --help").contains("--capabilities"));
    }
}
