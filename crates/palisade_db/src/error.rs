//! The database layer's error type, safe to log, and its count by SQLSTATE class.
//!
//! Every [`DbError`] made from a driver or pool error (the two `From` impls below, which every
//! `?` on a statement or a checkout goes through) is counted once, by [`DbError::class`], in
//! [`error_counter`]: the server serves it as `palisade_db_errors_total` (docs/metrics.md). The
//! errors this crate makes up itself (a row that does not decode, a URL without a user) are
//! the code's, not the database's, and are not counted.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
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
    /// A CHECK constraint refused the write (23514).
    #[error("check constraint {constraint} violated")]
    CheckViolation {
        /// The constraint's name, e.g. `reports_parameters_check`.
        constraint: String,
    },
    /// Row-level security refused the write (42501 "new row violates row-level security
    /// policy"), or a privilege is missing: the acting role may not do this.
    #[error("permission denied by row-level security or privileges (on {table})")]
    PermissionDenied {
        /// What was refused, as the server's message names it: a table's name, or `function
        /// <name>`, `schema <name>`, ...; `unknown` otherwise.
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
    /// missing column, an unexpected row count), a pipelined statement was skipped with no
    /// error before it, or a transaction was used after it ended: a bug, which trying again
    /// would repeat.
    #[error("database client error: {0}")]
    Client(String),
    /// The credential a transaction was opened with was refused by its check
    /// ([`crate::TenantTx::begin_checked`]); nothing else in the transaction ran. Also raised
    /// by a later statement whose trigger found the acting user removed or no longer an owner
    /// or admin (`outbound_webhooks_enabled_by`, sql/V0175), or whose check found, since the
    /// opening check, the token's credential version moved, its user gone or their role lowered
    /// (`palisade_private.hold_verified_self`, [`crate::accounts::hold_verified_self`]): the
    /// transaction is aborted and nothing of it is kept.
    #[error("credential refused: {}", .0.as_str())]
    Refused(crate::tenant_tx::Refusal),
    /// A row did not decode into the expected Rust type: a bug or a schema mismatch.
    #[error("database row did not decode: {0}")]
    Decode(String),
}

/// The label of `palisade_db_errors_total`: a SQLSTATE class, or what failed without one.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorClass {
    /// [`DbError::class`].
    pub class: &'static str,
}

/// Database errors since the process started, by [`DbError::class`]. Process-wide: the errors
/// are made deep in this crate, where no server is in reach; the server registers this family
/// in its registry (a clone shares the counts).
pub fn error_counter() -> Family<ErrorClass, Counter> {
    ERRORS.clone()
}

static ERRORS: LazyLock<Family<ErrorClass, Counter>> = LazyLock::new(Family::default);

/// The SQLSTATE classes (a code's first two characters) a label may name: the standard ones of
/// PostgreSQL's appendix A and Palisade's own `PA` (the credential refusals of
/// `palisade_private.enter_session`). A code of any other class counts as `other`, so the label
/// stays a short, fixed list whatever a server sends.
const SQLSTATE_CLASSES: &[&str] = &[
    "00", "01", "02", "03", "08", "09", "0A", "0B", "0F", "0L", "0P", "0Z", "20", "21", "22", "23",
    "24", "25", "26", "27", "28", "2B", "2D", "2F", "34", "38", "39", "3B", "3D", "3F", "40", "42",
    "44", "53", "54", "55", "57", "58", "72", "F0", "HV", "P0", "PA", "XX",
];

impl DbError {
    /// Its class for the error count: a server error's SQLSTATE class (`23` for a constraint,
    /// `40` for a lost race, `57` for a cancelled statement or a terminated session, `PA` for a
    /// refused credential, `other` for a class not in the standard list), else `connection` (a
    /// closed or broken connection), `unavailable` (no connection to be had in time), `client`
    /// (the driver refused a parameter or a row), `decode` (a row that did not decode).
    pub fn class(&self) -> &'static str {
        match self {
            DbError::UniqueViolation { .. }
            | DbError::ForeignKeyViolation { .. }
            | DbError::CheckViolation { .. } => "23",
            DbError::PermissionDenied { .. } => "42",
            DbError::Refused(_) => "PA",
            DbError::Server { code, .. } => code
                .get(..2)
                .and_then(|class| SQLSTATE_CLASSES.iter().find(|c| **c == class))
                .copied()
                .unwrap_or("other"),
            DbError::Connection(_) => "connection",
            DbError::Unavailable(_) => "unavailable",
            DbError::Client(_) => "client",
            DbError::Decode(_) => "decode",
        }
    }

    /// Adds this error to [`error_counter`] and returns it.
    fn counted(self) -> Self {
        ERRORS
            .get_or_create(&ErrorClass {
                class: self.class(),
            })
            .inc();
        self
    }

    /// Whether trying again later may succeed: no connection to be had, a dead one
    /// ([`DbError::is_dead_connection`]), a transaction that lost a race (serialization failure
    /// 40001, deadlock 40P01, a lock another transaction held past the `lock_timeout` 55P03:
    /// only an organization's deletion sets one), or any other operator intervention (class 57,
    /// e.g. 57014: the statement timeout, or a DBA's `pg_cancel_backend`). Constraint,
    /// permission, client and decode errors would fail again. The API answers these 503 with
    /// `Retry-After`.
    pub fn is_transient(&self) -> bool {
        self.is_dead_connection()
            || matches!(self, DbError::Unavailable(_))
            || matches!(self, DbError::Server { code, .. }
                if code == "40001" || code == "40P01" || code == "55P03" || code.starts_with("57"))
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

    /// Whether this is the given CHECK constraint's violation.
    pub fn is_check_violation_of(&self, name: &str) -> bool {
        matches!(self, DbError::CheckViolation { constraint } if constraint == name)
    }
}

impl From<tokio_postgres::Error> for DbError {
    /// Classifies the error and counts it ([`error_counter`]).
    fn from(e: tokio_postgres::Error) -> Self {
        DbError::classify(e).counted()
    }
}

impl DbError {
    /// The error for `e`, not counted: for an error no statement saw (a pooled connection's
    /// background task ending), which is logged but is nobody's failure.
    pub(crate) fn classify(e: tokio_postgres::Error) -> Self {
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
        } else if *code == SqlState::CHECK_VIOLATION {
            DbError::CheckViolation { constraint }
        } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
            DbError::PermissionDenied {
                table: db
                    .table()
                    .map(str::to_owned)
                    .or_else(|| denied_object(db.message()))
                    .unwrap_or_else(|| "unknown".to_owned()),
            }
        } else {
            DbError::Server {
                code: code.code().to_owned(),
                table: db.table().map(str::to_owned),
            }
        }
    }
}

/// What a 42501 refused, from its message: PostgreSQL sets no table field on one. Its two forms
/// name objects only, never a row's values: "permission denied for table x" (or function,
/// schema, sequence, ...: kept as "function x") and "new row violates row-level security policy
/// [\"p\"] for table \"x\"". Anything else (the DDL guard's own 42501s) is `None`.
fn denied_object(message: &str) -> Option<String> {
    if !message.starts_with("permission denied for ")
        && !message.starts_with("new row violates row-level security policy")
    {
        return None;
    }
    let (_, object) = message.rsplit_once(" for ")?;
    let object = object.strip_prefix("table ").unwrap_or(object);
    Some(object.chars().filter(|c| *c != '"').take(200).collect())
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
            other => DbError::Unavailable(other.to_string()).counted(),
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
    fn each_error_counts_under_its_sqlstate_class_or_a_word_for_what_failed() {
        for (e, class) in [
            (server("23514"), "23"),
            (server("40P01"), "40"),
            (server("57014"), "57"),
            (server("0A000"), "0A"),
            (server("XX000"), "XX"),
            // Not a standard class, or not a SQLSTATE at all: never a label of its own.
            (server("ZZ123"), "other"),
            (server("é"), "other"),
            (server(""), "other"),
            (
                DbError::UniqueViolation {
                    constraint: "k".into(),
                },
                "23",
            ),
            (
                DbError::CheckViolation {
                    constraint: "k".into(),
                },
                "23",
            ),
            (DbError::PermissionDenied { table: "t".into() }, "42"),
            (
                DbError::Refused(crate::tenant_tx::Refusal::KeyRevoked),
                "PA",
            ),
            (DbError::Connection("closed".into()), "connection"),
            (DbError::Unavailable("pool".into()), "unavailable"),
            (DbError::Client("x".into()), "client"),
            (DbError::Decode("x".into()), "decode"),
        ] {
            assert_eq!(e.class(), class, "{e}");
        }
    }

    #[test]
    fn an_error_from_the_pool_is_counted_once() {
        let unavailable = ErrorClass {
            class: "unavailable",
        };
        let count = || error_counter().get_or_create(&unavailable).get();
        let before = count();
        let e = DbError::from(deadpool_postgres::PoolError::Timeout(
            deadpool::managed::TimeoutType::Wait,
        ));
        assert_eq!(e.class(), "unavailable");
        // Other tests of this process may count theirs meanwhile: at least this one.
        assert!(count() > before);
    }

    #[test]
    fn a_42501_names_what_it_refused_from_its_message_and_nothing_else() {
        for (message, named) in [
            ("permission denied for table customers", Some("customers")),
            (
                "permission denied for function palisade_private.purge_expired_records",
                Some("function palisade_private.purge_expired_records"),
            ),
            (
                "new row violates row-level security policy for table \"chat_messages\"",
                Some("chat_messages"),
            ),
            (
                "new row violates row-level security policy \"p\" for table \"chat_messages\"",
                Some("chat_messages"),
            ),
            ("the DDL guard refuses this", None),
        ] {
            assert_eq!(denied_object(message).as_deref(), named, "{message}");
        }
    }

    #[test]
    fn only_errors_a_retry_can_cure_are_transient() {
        for e in [
            DbError::Unavailable("pool".into()),
            DbError::Connection("closed".into()),
            server("40001"),
            server("40P01"),
            server("55P03"),
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
            DbError::CheckViolation {
                constraint: "k".into(),
            },
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
