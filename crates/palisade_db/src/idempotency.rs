//! Idempotency keys (`palisade.idempotency_keys`, policies/490_idempotency_keys.sql): the first
//! response to each `Idempotency-Key` an organization sends, kept in the same transaction as the
//! request's effect.
//!
//! [`claim`] is the first statement of the request's transaction. Its `INSERT ... ON CONFLICT`
//! takes the key, or waits on the primary key while another transaction holds it: when that one
//! commits, the key answers [`Claim::Replay`] or [`Claim::Reused`]; when it rolls back (the
//! request failed), this one takes the key. [`complete`] stores the response as the
//! transaction's last statement, COMMIT pipelined with it; until then the claim holds the
//! COMMIT ([`Held`]), so that no statement of the request's takes it first. A row older than
//! [`RETENTION`] is ignored and taken over by the next request with its key; deleting old rows
//! is the retention command's job (issue 12).

use time::OffsetDateTime;

use crate::tenant_tx::CommitHold;
use crate::{DbError, TenantTx};

/// How long a key replays its first response.
pub const RETENTION: time::Duration = time::Duration::hours(24);

/// A response stored for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// Its status (2xx).
    pub status: u16,
    /// Its JSON body, if it had one.
    pub body: Option<String>,
    /// Its `Location` header, if it had one.
    pub location: Option<String>,
}

/// What a key says about this request.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is this transaction's: do the work, then [`complete`] it, which commits.
    Fresh(Held),
    /// The key was used for this same request, which succeeded: answer its response.
    Replay(StoredResponse),
    /// The key was used for another request (another method, path, user or body).
    Reused,
}

/// A key this transaction claimed ([`Claim::Fresh`]), for [`complete`]. From the claim until
/// `complete`, the transaction's COMMIT is held: [`TenantTx::commit_with_next_statement`] does
/// nothing, so a handler's write cannot commit the transaction before the key's response is
/// stored. Only `complete` lifts the hold (and it cannot be made or copied outside this crate).
#[derive(Debug, PartialEq, Eq)]
pub struct Held {
    hold: CommitHold,
}

/// The request's fingerprint, SHA-256 over `$2` (what identifies the request before its caller:
/// its method and path, each followed by a NUL byte), the context's user id, a NUL byte and `$3`
/// (its body's SHA-256). The statement computes it from the context its transaction's check
/// set, so a request whose credential is checked in the same round trip (an API key's user is
/// known only then) fingerprints as one checked before it. The bytes are those the API hashed in
/// Rust before the statement did: a key claimed by a server of the previous version still
/// replays. A transaction with no user (none of the API's) would get a NULL fingerprint, which
/// the column refuses, rather than one shared by every such transaction.
macro_rules! fingerprint {
    () => {
        "pg_catalog.sha256($2::bytea \
         || pg_catalog.convert_to( \
                NULLIF(pg_catalog.current_setting('app.current_user', true), ''), 'UTF8') \
         || pg_catalog.decode('00', 'hex') || $3::bytea)"
    };
}

/// Claims `key` for a request at `now`, in its caller's context: `request` is its method and
/// path, each followed by a NUL byte, and `body` its body's SHA-256 (the fingerprint above).
/// Must be the transaction's first statement: it may wait until a concurrent request holding
/// the same key commits or rolls back.
pub async fn claim(
    tx: &mut TenantTx,
    key: &str,
    request: &[u8],
    body: &[u8; 32],
    now: OffsetDateTime,
) -> Result<Claim, DbError> {
    let expired_before = now - RETENTION;
    let body = body.as_slice();
    // Two rounds at most: if the row that made the INSERT conflict is gone by the time it is
    // read (deleted by retention in between), the second INSERT takes the key.
    for _ in 0..2 {
        let taken = tx
            .query_opt(
                concat!(
                    "INSERT INTO palisade.idempotency_keys AS k (key, request_hash, created_at) \
                     VALUES ($1, ",
                    fingerprint!(),
                    ", $4) \
                     ON CONFLICT (organization_id, key) DO UPDATE \
                         SET request_hash = ",
                    fingerprint!(),
                    ", \
                             created_at = EXCLUDED.created_at, response_status = NULL, \
                             response_body = NULL, response_location = NULL \
                         WHERE k.created_at <= $5 \
                     RETURNING true"
                ),
                &[&key, &request, &body, &now, &expired_before],
            )
            .await?;
        if taken.is_some() {
            return Ok(Claim::Fresh(Held {
                hold: tx.hold_commit(),
            }));
        }
        let row = tx
            .query_opt(
                // The fingerprint is compared by a definer: palisade_app may not read it
                // (policies/024_idempotency.sql).
                "SELECT palisade_private.idempotency_request_matches($1, $2, $3) AS same, \
                        response_status, response_body, response_location \
                   FROM palisade.idempotency_keys WHERE key = $1",
                &[&key, &request, &body],
            )
            .await?;
        let Some(row) = row else { continue };
        match row.try_get::<_, Option<bool>>("same")? {
            Some(true) => {}
            Some(false) => return Ok(Claim::Reused),
            // Not expected: the function reads the row the SELECT found, in the same snapshot
            // and under the same conditions. Try the claim again rather than misreport.
            None => continue,
        }
        let status: Option<i16> = row.try_get("response_status")?;
        let status = status
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| DbError::Decode("a committed idempotency key has no response".into()))?;
        return Ok(Claim::Replay(StoredResponse {
            status,
            body: row.try_get("response_body")?,
            location: row.try_get("response_location")?,
        }));
    }
    Err(DbError::Decode(
        "an idempotency key conflicted but could not be read".into(),
    ))
}

/// Stores the response of the request whose transaction [`claim`]ed `key` (`held`, the claim's):
/// the transaction's last statement, sent with its COMMIT, so the transaction is committed when
/// this answers `Ok`. The statement (`palisade_private.store_idempotent_response`,
/// policies/490_idempotency_keys.sql) fails unless it found the key's row still without a
/// response (as this transaction's claim left it), so that the COMMIT after it is skipped and
/// the request's effect rolls back: a row count checked here would come after that COMMIT.
pub async fn complete(
    tx: &mut TenantTx,
    held: Held,
    key: &str,
    response: &StoredResponse,
) -> Result<(), DbError> {
    let status = i16::try_from(response.status)
        .map_err(|_| DbError::Decode("a status code out of range".into()))?;
    tx.release_commit_to_next_statement(held.hold);
    tx.execute(
        "SELECT palisade_private.store_idempotent_response($1, $2, $3, $4)",
        &[&key, &status, &response.body, &response.location],
    )
    .await?;
    Ok(())
}
