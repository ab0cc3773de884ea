//! `palisade`: the Palisade server and its operational subcommands. The command line is in
//! [`palisade_server::cli`] (`palisade --help`), each subcommand's settings in
//! [`palisade_server::configuration`], the application and the database steps in
//! [`palisade_server::startup`].
//!
//! Exit status: 0 done; 2 a usage or configuration error (before anything is done); otherwise
//! 1, except `audit` (0 healthy, 1 findings, 2 could not run).

use std::process::ExitCode;

use palisade_server::audit::{self, EXIT_ERROR};
use palisade_server::cli::Cli;
use palisade_server::configuration::{
    AnalystSettings, AuditSettings, BootstrapSettings, CommandSettings, ConfigError,
    InstallDefinersSettings, MigrateSettings, NumbersSettings, RetentionSettings, RotateSettings,
    ServeSettings,
};
use palisade_server::telemetry::{self, Output};
use palisade_server::{analyst, embedded, numbers, retention, startup};

/// Usage and configuration errors.
const EXIT_USAGE: u8 = 2;

/// mimalloc rather than glibc's malloc: a server's CPU per request fell by 12 to 16% under the HTTP
/// benchmark (see the workspace's Cargo.toml). Password hashing never hands its 19 MiB back to
/// it: each hashing thread keeps its own (palisade_api's `PasswordHashing`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => {
            // Help goes to stdout with status 0; a usage error to stderr with status 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(EXIT_USAGE));
        }
    };
    match cli {
        Cli::Serve => run(ServeSettings::from_env(), startup::serve),
        Cli::Migrate => run(MigrateSettings::from_env(), startup::migrate),
        Cli::Bootstrap => run(BootstrapSettings::from_env(), startup::bootstrap),
        Cli::InstallDefiners => run(
            InstallDefinersSettings::from_env(),
            startup::install_definers,
        ),
        Cli::RotateAppCredential => run(RotateSettings::from_env(), startup::rotate_app_credential),
        Cli::Audit(args) => {
            let Some(settings) = with_logs(AuditSettings::from_env(), Output::Stderr) else {
                return ExitCode::from(EXIT_ERROR);
            };
            match audit::execute(&settings, args.drift) {
                Ok(report) => {
                    print!("{}", audit::render(&report, args));
                    ExitCode::from(audit::exit_code(&report))
                }
                Err(e) => {
                    eprintln!("palisade audit: {e}");
                    ExitCode::from(EXIT_ERROR)
                }
            }
        }
        Cli::Retention => {
            let Some(settings) = with_logs(RetentionSettings::from_env(), Output::Stderr) else {
                return ExitCode::from(EXIT_USAGE);
            };
            match retention::execute(&settings) {
                Ok(out) => {
                    print!("{out}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("palisade retention: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Cli::Numbers(command) => {
            let Some(settings) = with_logs(NumbersSettings::from_env(), Output::Stderr) else {
                return ExitCode::from(EXIT_USAGE);
            };
            match numbers::execute(&settings, &command) {
                Ok(out) => {
                    print!("{out}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("palisade numbers: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Cli::Analyst(command) => {
            let Some(settings) = with_logs(AnalystSettings::from_env(), Output::Stderr) else {
                return ExitCode::from(EXIT_USAGE);
            };
            match analyst::execute(&settings, &command) {
                Ok(out) => {
                    print!("{out}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("palisade analyst: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The settings, with logging installed as they say and their database TLS default in place;
/// `None` (said on stderr) when they are malformed or the CA file cannot be used. Logs go
/// straight to stderr here (the command's result is on stdout).
fn with_logs<S: CommandSettings>(settings: Result<S, ConfigError>, output: Output) -> Option<S> {
    match settings.and_then(|s| s.db_tls().install().map(|()| s)) {
        Ok(mut s) => {
            // Unbuffered: nothing to flush at the end.
            drop(telemetry::init(s.log(), output));
            if let Err(e) = reachable_data_dir(&mut s) {
                eprintln!("palisade: {e}");
                return None;
            }
            Some(s)
        }
        Err(e) => {
            eprintln!("palisade: {e}");
            None
        }
    }
}

/// Runs a command that logs to stdout: exit 2 on a configuration error (a CA file that cannot
/// be used included), 1 when it fails.
fn run<S: CommandSettings>(
    settings: Result<S, ConfigError>,
    command: impl FnOnce(&S) -> Result<(), startup::BoxError>,
) -> ExitCode {
    let mut settings = match settings.and_then(|s| s.db_tls().install().map(|()| s)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("palisade: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // Queued lines are written out when the guard drops, before the exit code is returned.
    let _logs = telemetry::init(settings.log(), Output::Stdout);
    if let Err(e) = reachable_data_dir(&mut settings) {
        eprintln!("palisade: {e}");
        return ExitCode::FAILURE;
    }
    match command(&settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One clear line; the cause chain is already in it.
            eprintln!("palisade: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The embedded cluster's data directory, moved off a default the server's OS user cannot
/// reach ([`embedded::reachable_data_dir`]), before the command uses it.
fn reachable_data_dir<S: CommandSettings>(settings: &mut S) -> Result<(), embedded::EmbeddedError> {
    match settings.embedded_mut() {
        Some(e) => embedded::reachable_data_dir(e),
        None => Ok(()),
    }
}
