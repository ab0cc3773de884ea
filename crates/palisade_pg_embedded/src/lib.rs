//! Starts and stops a private PostgreSQL cluster from the server binaries installed on the
//! machine, so Palisade and its tests can run without a separately managed database.
//!
//! * [`PgBinaries::locate`] finds `initdb`, `postgres` and `pg_isready` (PostgreSQL >= 15.3).
//! * [`RunningCluster::start`] runs `initdb` when needed and starts the server on
//!   `127.0.0.1` only (no Unix socket), with SCRAM authentication everywhere.
//! * The server lives under a tiny `/bin/sh` wrapper whose stdin is a pipe held by this
//!   process: when this process exits for *any* reason (including `SIGKILL`), the pipe
//!   closes and the wrapper fast-shuts the server down (and deletes ephemeral data).
//!
//! When running as root the server runs as the `postgres` OS user, because PostgreSQL refuses
//! to run as root.

mod binaries;
mod cluster;
mod error;
mod os_user;

pub use binaries::{MIN_SERVER_VERSION, PgBinaries};
pub use cluster::{ClusterOptions, RunningCluster, ephemeral_dir, local_url};
pub use error::LaunchError;
pub use os_user::{blocked_for_server_user, give_to_server_user};
