//! The database layer's error type, safe to log.

use tokio_postgres::error::SqlState;

/// A database failure, reduced to what callers act on and what an operator needs at 3 a.m.
///
/// Server messages and details are dropped on purpose: they can quote row values
/// ("Key (email)=(...) already exists"). The SQLSTATE, constraint and table names are kept.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A unique constraint refused the write.
    #[error("unique constraint {constraint} violated")]
    UniqueViolation {
        /// The constraint's name, e.g. `customers_email_key`.
        constraint: String,
    },
    /// A foreign key refused the write (with composite keys: the parent is not in this tenant).
    #[error("foreign key {constraint} violated")]
    ForeignKeyViolation {
        /// The constraint's name.
        constraint: String,
    },
    /// Row-level security refused the write (42501 "new row violates row-level security
    /// policy"), or a privilege is missing: the acting role may not do this.
    #[error("permission denied by row-level security or privileges (table {table})")]
    PermissionDenied {
        /// The table, when the server named it.
        table: String,
    },
    /// Any other error the server reported.
    #[error("database error {code}{}", table.as_deref().map(|t| format!(" on table {t}")).unwrap_or_default())]
    Server {
        /// The SQLSTATE code, e.g. `23514`.
        code: String,
        /// The table, when the server named it.
        table: Option<String>,
    },
    /// No connection could be had in time (pool exhausted or server unreachable).
    #[error("no database connection available: {0}")]
    Unavailable(String),
    /// The connection failed: closed (the server ended it, or restarted), I/O, a connect
    /// timeout, a TLS handshake, an unexpected message.
    #[error("database connection error: {0}")]
    Connection(String),
    /// The driver refused a statement's parameters or a row's columns (a type mismatch, a
    /// missing column, an unexpected row count), or a transaction was used after it ended: a
    /// bug, which trying again would repeat.
    #[error("database client error: {0}")]
    Client(String),
    /// The credential a transaction was opened with was refused by its check
    /// ([`crate::TenantTx::begin_checked`]); nothing else in the transaction ran.
    #[error("credential refused: {}", .0.as_str())]
    Refused(crate::tenant_tx::Refusal),
    /// A row did not decode into the expected Rust type: a bug or a schema mismatch.
    #[error("database row did not decode: {0}")]
    Decode(String),
}

impl DbError {
    /// Whether trying again later may succeed: no connection to be had, a dead one
    /// ([`DbError::is_dead_connection`]), a transaction that lost a race (serialization failure
    /// 40001, deadlock 40P01), or any other operator intervention (class 57, e.g. 57014: the
    /// statement timeout, or a DBA's `pg_cancel_backend`). Constraint, permission, client and
    /// decode errors would fail again. The API answers these 503 with `Retry-After`.
    pub fn is_transient(&self) -> bool {
        self.is_dead_connection()
            || matches!(self, DbError::Unavailable(_))
            || matches!(self, DbError::Server { code, .. }
                if code == "40001" || code == "40P01" || code.starts_with("57"))
    }

    /// Whether the connection itself is gone: closed or broken, or ended by the server (57P01
    /// administrator shutdown or `pg_terminate_backend`, 57P02 crash shutdown, 57P03 not
    /// accepting connections yet, 57P05 idle session timeout). A read that failed this way may
    /// be sent again on another connection ([`crate::TenantTx::query_once`] does, once).
    pub fn is_dead_connection(&self) -> bool {
        match self {
            DbError::Connection(_) => true,
            DbError::Server { code, .. } => {
                matches!(code.as_str(), "57P01" | "57P02" | "57P03" | "57P05")
            }
            _ => false,
        }
    }
}

impl DbError {
    /// Whether this is the given unique constraint's violation.
    pub fn is_unique_violation_of(&self, name: &str) -> bool {
        matches!(self, DbError::UniqueViolation { constraint } if constraint == name)
    }

    /// Whether this is the given foreign key's violation (with composite keys: the referenced
    /// row is not in this organization, missing or another's).
    pub fn is_foreign_key_violation_of(&self, name: &str) -> bool {
        matches!(self, DbError::ForeignKeyViolation { constraint } if constraint == name)
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        let Some(db) = e.as_db_error() else {
            // Not a server-reported error: a closed or broken connection, or the driver's own
            // refusal (a type mismatch while encoding or decoding, a wrong row count). These
            // messages carry no row data.
            if e.is_closed() {
                return DbError::Connection("connection closed".into());
            }
            let io = std::error::Error::source(&e)
                .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some());
            let text = e.to_string();
            // tokio-postgres's words for its connection-level kinds without an I/O source
            // (Kind::Connect, Timeout, Tls, UnexpectedMessage).
            let connection = [
                "error connecting to server",
                "timeout waiting for server",
                "error performing TLS handshake",
                "unexpected message from server",
            ];
            return if io || connection.iter().any(|p| text.starts_with(p)) {
                DbError::Connection(connection_error(&e))
            } else {
                DbError::Client(text)
            };
        };
        let code = db.code();
        if let Some(refusal) = crate::tenant_tx::Refusal::from_server(code.code(), db.message()) {
            return DbError::Refused(refusal);
        }
        let constraint = db.constraint().unwrap_or("unknown").to_owned();
        if *code == SqlState::UNIQUE_VIOLATION {
            DbError::UniqueViolation { constraint }
        } else if *code == SqlState::FOREIGN_KEY_VIOLATION {
            DbError::ForeignKeyViolation { constraint }
        } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
            DbError::PermissionDenied {
                table: db.table().unwrap_or("unknown").to_owned(),
            }
        } else {
            DbError::Server {
                code: code.code().to_owned(),
                table: db.table().map(str::to_owned),
            }
        }
    }
}

/// A client-side error in words. tokio-postgres's `Display` leaves out the cause, which for a
/// refused TLS handshake is the whole story (`crate::tls` says which check failed, never with
/// a credential) and for a failed connect is the OS's reason; other causes stay out.
fn connection_error(e: &tokio_postgres::Error) -> String {
    let message = e.to_string();
    match std::error::Error::source(e) {
        Some(cause)
            if message == "error performing TLS handshake"
                || message == "error connecting to server" =>
        {
            format!("{message}: {cause}")
        }
        _ => message,
    }
}

impl From<deadpool_postgres::PoolError> for DbError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => DbError::from(e),
            other => DbError::Unavailable(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: &str) -> DbError {
        DbError::Server {
            code: code.into(),
            table: None,
        }
    }

    #[test]
    fn only_errors_a_retry_can_cure_are_transient() {
        for e in [
            DbError::Unavailable("pool".into()),
            DbError::Connection("closed".into()),
            server("40001"),
            server("40P01"),
            server("57P01"),
            server("57P02"),
            server("57P03"),
            server("57014"),
        ] {
            assert!(e.is_transient(), "{e}");
        }
        for e in [DbError::Connection("closed".into()), server("57P01")] {
            assert!(e.is_dead_connection(), "{e}");
        }
        // A cancelled statement or a lost race ran on a live connection, and a pool that had
        // none to give would make a retry wait as long again: trying again is the client's call
        // (Retry-After), not the server's.
        for e in [
            server("57014"),
            server("40001"),
            server("40P01"),
            DbError::Unavailable("pool".into()),
        ] {
            assert!(!e.is_dead_connection(), "{e}");
        }
        for e in [
            server("23514"),
            DbError::UniqueViolation {
                constraint: "k".into(),
            },
            DbError::Decode("x".into()),
            DbError::Client("error serializing parameter 0".into()),
            DbError::PermissionDenied { table: "t".into() },
        ] {
            assert!(!e.is_transient(), "{e}");
        }
    }
}
