//! The `palisade` binary's library half.
//!
//! - [`cli`]: the command line (clap), whose `--help` lists each subcommand's environment.
//! - [`configuration`]: each subcommand's settings, read from the environment (the only place
//!   that reads it), secrets held as [`configuration::Secret`].
//! - [`telemetry`]: the tracing subscriber (human-readable by default, JSON by a setting).
//! - [`startup`]: `serve` (the database resolved once, the application built in one place),
//!   [`startup::Application`] (`build`, `port`, `run_until_stopped`), which binds its own
//!   listener so tests can bind port 0 and refuses to start with a dangerous app role, and the
//!   installation steps `migrate`, `bootstrap`, `install-definers`, and
//!   `rotate-app-credential` (through the app's URL file or the embedded `secrets.json`).
//! - [`metrics`]: the second listener that serves Prometheus metrics on `PALISADE_METRICS_ADDR`.
//! - [`embedded`]: the default with neither `DATABASE_URL` nor `DATABASE_URL_FILE`: a private
//!   PostgreSQL cluster, bootstrapped and migrated on every start, where it keeps its generated
//!   secrets.
//! - [`audit`]: `palisade audit`, the DBA audit's command: report rendering and exit codes.
//! - [`analyst`]: `palisade analyst grant|revoke`, read-only roles for one organization.
//! - [`numbers`]: `palisade numbers`, the operator's path to the phone number inventory.

pub mod analyst;
pub mod audit;
pub mod cli;
pub mod configuration;
pub mod embedded;
pub mod metrics;
pub mod numbers;
pub mod retention;
pub mod startup;
pub mod telemetry;
