//! The `palisade` binary's library half: configuration, telemetry, startup.
//!
//! - [`configuration`]: settings from the environment, and where the embedded default keeps
//!   its cluster and generated secrets.
//! - [`telemetry`]: the tracing subscriber (human-readable by default, JSON by a setting).
//! - [`startup`]: [`startup::Application`] (`build`, `port`, `run_until_stopped`), which binds its
//!   own listener so tests can bind port 0, and refuses to start with a dangerous app role.
//! - [`embedded`]: the no-`DATABASE_URL` default: a private PostgreSQL cluster, bootstrapped
//!   and migrated on every start.
//! - [`audit`]: `palisade audit`, the DBA audit's command: report rendering and exit codes.
//! - [`numbers`]: `palisade numbers`, the operator's path to the phone number inventory.

pub mod audit;
pub mod configuration;
pub mod embedded;
pub mod numbers;
pub mod startup;
pub mod telemetry;
