//! The launcher's error type. No message ever contains a password: log and `initdb` output
//! tails are redacted, and options are reported by name only.

use std::io;
use std::path::PathBuf;

/// Why a PostgreSQL cluster could not be located, initialised, started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// No usable server binaries were found anywhere in the search order.
    #[error(
        "PostgreSQL server binaries not found: install PostgreSQL >= 15.3 server binaries \
         (e.g. Debian's postgresql-15), or set PALISADE_PG_BIN to their bin directory, \
         or set DATABASE_URL to use an existing server"
    )]
    NotFound,

    /// Server binaries were found, but none is recent enough.
    #[error(
        "PostgreSQL {}.{} in {} is too old: >= 15.3 is required (CVE-2023-2455, row security \
         policies); install a newer server or set PALISADE_PG_BIN to one",
        found.0, found.1, bindir.display()
    )]
    TooOld {
        /// The directory holding the too-old binaries.
        bindir: PathBuf,
        /// The version found, as (major, minor).
        found: (u32, u32),
    },

    /// The data directory was initialised by another major release than the binaries: a
    /// server refuses such a directory (its on-disk format differs between majors).
    #[error(
        "the data directory {} was created by PostgreSQL {data_major} (its PG_VERSION), but the \
         server binaries {} are PostgreSQL {}.{}: install PostgreSQL {data_major}'s server \
         binaries (Debian/Ubuntu: apt-get install postgresql-{data_major}) or set PALISADE_PG_BIN \
         to their bin directory; or upgrade the data directory to {} with pg_upgrade (back it up \
         first); or use another PALISADE_DATA_DIR",
        data_dir.display(), bindir.display(), found.0, found.1, found.0
    )]
    VersionMismatch {
        /// The data directory.
        data_dir: PathBuf,
        /// The major release in its `PG_VERSION`.
        data_major: u32,
        /// The binaries found (the first usable candidate).
        bindir: PathBuf,
        /// Their version, as (major, minor).
        found: (u32, u32),
    },

    /// An I/O operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the file or program involved.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// Running as root, but there is no `postgres` OS user to run the server as.
    #[error(
        "running as root, but /etc/passwd has no `postgres` user to run PostgreSQL as \
         (it refuses to run as root): create that user or run as an ordinary user"
    )]
    NoServerUser,

    /// The server OS user cannot traverse a directory on the way to the data directory.
    #[error(
        "data directory {} is unreachable for the `{user}` OS user ({} is not searchable by it): \
         choose a data directory the {user} user can reach, e.g. under /var/tmp or /srv",
        path.display(), blocked_at.display()
    )]
    DataDirUnreachable {
        /// The requested data directory.
        path: PathBuf,
        /// The OS user the server runs as.
        user: String,
        /// The first directory on the path that the user cannot search.
        blocked_at: PathBuf,
    },

    /// The [`ClusterOptions`](crate::ClusterOptions) are unusable.
    #[error("invalid cluster options: {0}")]
    InvalidOptions(String),

    /// `initdb` exited unsuccessfully.
    #[error("initdb failed for {} ({status}); last output:\n{output_tail}", data_dir.display())]
    InitdbFailed {
        /// The data directory being initialised.
        data_dir: PathBuf,
        /// How initdb exited.
        status: String,
        /// The last lines of initdb's combined stdout and stderr.
        output_tail: String,
    },

    /// The server exited, or never accepted connections, during startup.
    #[error(
        "PostgreSQL failed to start (data directory {}, port {port}): {reason}; \
         last lines of {}:\n{log_tail}",
        data_dir.display(), log_file.display()
    )]
    StartFailed {
        /// The cluster's data directory.
        data_dir: PathBuf,
        /// The port it was started on.
        port: u16,
        /// What went wrong, in a few words.
        reason: String,
        /// The server log file.
        log_file: PathBuf,
        /// The last lines this start attempt wrote to the server log.
        log_tail: String,
    },

    /// The server did not stop cleanly.
    #[error("PostgreSQL (data directory {}) did not stop cleanly: {reason}", data_dir.display())]
    StopFailed {
        /// The cluster's data directory.
        data_dir: PathBuf,
        /// What went wrong, in a few words.
        reason: String,
    },
}

/// Adapter for `map_err`: wraps an [`io::Error`] with what was being done.
pub(crate) fn io_context(context: impl Into<String>) -> impl FnOnce(io::Error) -> LaunchError {
    let context = context.into();
    move |source| LaunchError::Io { context, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_is_one_actionable_line() {
        let msg = LaunchError::NotFound.to_string();
        assert!(!msg.contains('\n'));
        for needle in ["15.3", "postgresql-15", "PALISADE_PG_BIN", "DATABASE_URL"] {
            assert!(msg.contains(needle), "{needle} missing from: {msg}");
        }
    }
}
