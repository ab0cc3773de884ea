//! Retention, run two ways over the owner's URL ([`palisade_db::retention`]): once by
//! `palisade retention` (for cron, or with `PALISADE_RETENTION_EVERY_MINUTES=0`), and by every
//! server on a schedule. Several servers may run it at once: a session-level advisory lock on a
//! connection of its own lets one of them work and the others skip that round.

use std::fmt::Write as _;
use std::time::Duration;

use palisade_db::retention::{self, Purged, Windows};
use palisade_db::{DbError, UrlSource, schema};

use crate::configuration::{DatabaseMode, RetentionSettings};
use crate::embedded::on_embedded_cluster;

/// The advisory lock key of a retention run ("palisade_retention" folded into an i64).
const RETENTION_LOCK_KEY: i64 = 0x7061_6c69_7265_746e;

/// Why a run did nothing, or failed.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// Another run (another server, or `palisade retention`) holds the lock.
    #[error("another retention run is under way")]
    Busy,
    /// The function is missing: `install-definers` has not run since this version's `migrate`.
    #[error(
        "palisade_private.purge_expired_records is not installed: run `palisade install-definers` \
         (docs/dba.md#installing-and-upgrading)"
    )]
    NotInstalled,
    /// The database refused or failed; never a server message (it could quote rows).
    #[error("{0}")]
    Database(#[from] DbError),
    /// The owner's URL could not be read (`DATABASE_URL_FILE` missing or empty); the message
    /// names the file, never its contents.
    #[error("{0}")]
    Url(String),
}

/// One run over a dedicated connection to `owner_url`, under the advisory lock.
pub async fn run_once(owner_url: &str, windows: &Windows) -> Result<Purged, RetentionError> {
    let client = schema::connect(owner_url).await?;
    let locked: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&RETENTION_LOCK_KEY])
        .await
        .map_err(DbError::from)?
        .get(0);
    if !locked {
        return Err(RetentionError::Busy);
    }
    // The connection closes below: that releases the lock whatever happened.
    match retention::purge(&client, windows).await {
        Ok(purged) => Ok(purged),
        Err(DbError::Server { code, .. }) if code == "42883" => Err(RetentionError::NotInstalled),
        Err(e) => Err(e.into()),
    }
}

/// The result of a run, one line per kind of record.
pub fn render(purged: &Purged) -> String {
    let mut out = String::new();
    for (record, n) in purged {
        let verb = if record == "number_quarantines" {
            "cleared"
        } else {
            "deleted"
        };
        let _ = writeln!(out, "{record}: {n} {verb}");
    }
    out
}

/// `palisade retention`: one run, on the embedded cluster or `DATABASE_URL`.
pub fn execute(settings: &RetentionSettings) -> Result<String, String> {
    let on = |owner_url: &str| {
        match actix_web::rt::System::new().block_on(run_once(owner_url, &settings.windows)) {
            Ok(purged) => Ok(render(&purged)),
            // Not a failure for a cron job: the other run does the work.
            Err(RetentionError::Busy) => {
                Ok("another retention run is under way; nothing done\n".into())
            }
            Err(e) => Err(e.to_string()),
        }
    };
    match &settings.database {
        DatabaseMode::External(owner_url) => on(owner_url.expose()),
        DatabaseMode::Embedded(e) => on_embedded_cluster(e, |urls| on(urls.owner.expose())),
    }
}

/// The server's scheduled retention: a first run a minute after start, then one every `every`,
/// until `stop` resolves. Logs what each run removed; a failure is logged and retried at the
/// next round. The owner's URL is read for each run (`DATABASE_URL_FILE` again: a changed owner
/// password is picked up without a restart).
pub async fn run_periodically(
    owner_url: UrlSource,
    windows: Windows,
    every: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    let rounds = async {
        let mut next = tokio::time::Instant::now() + Duration::from_secs(60).min(every);
        loop {
            tokio::time::sleep_until(next).await;
            next += every;
            let run = match owner_url.read() {
                Ok(url) => run_once(url.expose(), &windows).await,
                Err(e) => Err(RetentionError::Url(e)),
            };
            match run {
                Ok(purged) => {
                    let total: i64 = purged.iter().map(|(_, n)| n).sum();
                    let removed: Purged = purged.into_iter().filter(|(_, n)| *n > 0).collect();
                    let detail = render(&removed).trim_end().replace('\n', ", ");
                    if total > 0 {
                        tracing::info!(records = total, "retention: {detail}");
                    } else {
                        tracing::debug!("retention: nothing past its window");
                    }
                }
                Err(RetentionError::Busy) => {
                    tracing::debug!("retention: another run is under way; skipped this round");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "retention run failed; retrying at the next round")
                }
            }
        }
    };
    tokio::select! {
        () = rounds => {}
        () = stop => {}
    }
}
