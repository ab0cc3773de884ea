//! `Idempotency-Key` on tenant POSTs (docs/api.md, "Retrying a POST").
//!
//! A handler takes an [`Idempotency`] argument and opens its transaction through it:
//! ```ignore
//! // A replay returns from the handler here.
//! let mut tx = begin_or_replay!(idem, &state, caller.begin(&state).await?);
//! // ... the handler's statements on `tx` ...
//! tx.commit(super::created("/v1/things", thing.id, ThingJson::from(thing))).await
//! ```
//! Without the header, [`Idempotency::begin`] hands the transaction back as it is and
//! [`IdempotentTx::commit`] is a plain commit. With it, the transaction's first statement (after
//! its credential's check, in the same round trip) claims the key
//! ([`palisade_db::idempotency::claim`]): a concurrent request with the same key waits on it
//! until this one commits or rolls back. `commit` stores the response in the key's row and
//! commits, in one round trip, so the key and the effect exist together or not at all. A
//! request that fails (any 4xx or 5xx) rolls back and leaves no key: its retry runs again.
//!
//! The key identifies the request by a SHA-256 over its method, path, user and body (the body's
//! digest is left in the request's extensions by [`crate::extract::Json`], as [`BodyDigest`]),
//! computed by the claiming statement from the user its transaction's check found.
//! The same key for another request answers 422 `idempotency_key_reused`.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse};
use futures_util::future::{Ready, ready};
use palisade_db::TenantTx;
use palisade_db::idempotency::{self as db, Claim, Held, StoredResponse};
use sha2::{Digest, Sha256};

use crate::{ApiError, AppState};

/// The request header that carries the key.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The response header that marks a replayed response (`true`).
pub const IDEMPOTENCY_REPLAYED: HeaderName = HeaderName::from_static("idempotency-replayed");

/// The longest key accepted, in characters.
pub const MAX_KEY_LEN: usize = 255;

/// SHA-256 of the request body a handler read, left in the request's extensions by
/// [`crate::extract::Json`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyDigest(pub [u8; 32]);

/// The request's `Idempotency-Key`, if it sent one. Extracting it refuses a malformed key with
/// 400 `invalid_idempotency_key`: 1 to 255 printable ASCII characters (space to `~`), once.
pub struct Idempotency {
    key: Option<String>,
    req: HttpRequest,
}

fn invalid_key() -> ApiError {
    ApiError::BadRequest {
        code: crate::error::ErrorCode::InvalidIdempotencyKey,
        message: format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} printable ASCII characters, sent once"
        ),
    }
}

/// Parses the header's value (already trimmed of surrounding whitespace by HTTP parsing).
fn parse_key(value: &HeaderValue) -> Result<String, ApiError> {
    let bytes = value.as_bytes();
    let printable = bytes.iter().all(|b| (0x20..=0x7e).contains(b));
    if bytes.is_empty() || bytes.len() > MAX_KEY_LEN || !printable {
        return Err(invalid_key());
    }
    value.to_str().map(str::to_owned).map_err(|_| invalid_key())
}

impl FromRequest for Idempotency {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let mut values = req.headers().get_all(IDEMPOTENCY_KEY);
        let key = match (values.next(), values.next()) {
            (None, _) => Ok(None),
            (Some(v), None) => parse_key(v).map(Some),
            (Some(_), Some(_)) => Err(invalid_key()),
        };
        ready(key.map(|key| Idempotency {
            key,
            req: req.clone(),
        }))
    }
}

/// `let mut tx = begin_or_replay!(idem, &state, tx);`, `tx` the handler's transaction as
/// opened (by [`crate::auth::Caller::begin_as`] or [`crate::auth::Tenant::begin_at`]), nothing
/// sent on it yet, in a handler returning `Result<HttpResponse, ApiError>`:
/// [`Idempotency::begin`], which either goes on with the handler's [`IdempotentTx`] or, for a
/// replay, **returns from the handler** with the first response (as `?` returns an error).
macro_rules! begin_or_replay {
    ($idem:expr, $state:expr, $tx:expr) => {
        match $idem.begin($state, $tx).await? {
            $crate::idempotency::Begun::Fresh(tx) => *tx,
            $crate::idempotency::Begun::Replay(first) => return Ok(first),
        }
    };
}
pub(crate) use begin_or_replay;

/// What [`Idempotency::begin`] found.
pub enum Begun {
    /// Go ahead: the transaction (holding the key, if one was sent). Boxed: a transaction is
    /// much larger than a response.
    Fresh(Box<IdempotentTx>),
    /// This request already succeeded under its key: its first response, to answer as is.
    Replay(HttpResponse),
}

impl Idempotency {
    /// Goes on with the handler's transaction `tx`, opened with its credential's check and
    /// nothing sent yet. With a key, its first statement claims it, in the round trip of the
    /// check: a replay ends the transaction and answers the first response (with
    /// `Idempotency-Replayed: true`); a key used for another request answers 422
    /// `idempotency_key_reused`.
    pub async fn begin(self, state: &AppState, mut tx: TenantTx) -> Result<Begun, ApiError> {
        let Some(key) = self.key else {
            return Ok(Begun::Fresh(Box::new(IdempotentTx { tx, key: None })));
        };
        let body = self
            .req
            .extensions()
            .get::<BodyDigest>()
            .map_or_else(|| Sha256::digest(b"").into(), |d| d.0);
        let request = request_prefix(&self.req);
        match db::claim(&mut tx, &key, &request, &body, state.clock.now()).await? {
            // The claim holds the COMMIT until the key's response is stored (`commit_without`):
            // the handler's write cannot take it.
            Claim::Fresh(held) => Ok(Begun::Fresh(Box::new(IdempotentTx {
                tx,
                key: Some((key, held)),
            }))),
            Claim::Replay(first) => {
                tx.commit().await?;
                tracing::info!("idempotent request replayed");
                Ok(Begun::Replay(replay(first)?))
            }
            Claim::Reused => Err(ApiError::Http {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: crate::error::ErrorCode::IdempotencyKeyReused,
                message: "this Idempotency-Key was used for another request in the last 24 hours; \
                          send a new key for a new request"
                    .to_owned(),
            }),
        }
    }
}

/// What identifies a request before its caller and body, as the fingerprint takes it
/// ([`palisade_db::idempotency::claim`]): its method and path, each followed by a NUL byte.
fn request_prefix(req: &HttpRequest) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(req.method().as_str().len() + req.path().len() + 2);
    for part in [req.method().as_str(), req.path()] {
        prefix.extend_from_slice(part.as_bytes());
        prefix.push(0);
    }
    prefix
}

fn replay(first: StoredResponse) -> Result<HttpResponse, ApiError> {
    let status = StatusCode::from_u16(first.status).map_err(ApiError::internal)?;
    let mut response = HttpResponse::build(status);
    response.insert_header((IDEMPOTENCY_REPLAYED, HeaderValue::from_static("true")));
    if let Some(location) = first.location {
        response.insert_header((header::LOCATION, location));
    }
    Ok(match first.body {
        Some(body) => response.content_type("application/json").body(body),
        None => response.finish(),
    })
}

/// The handler's transaction, holding the request's idempotency key if it sent one. Use it as a
/// [`TenantTx`] (it dereferences to one); end it with [`IdempotentTx::commit`], which stores the
/// response with the key. Dropped without commit, it rolls back and the key goes with it.
pub struct IdempotentTx {
    tx: TenantTx,
    /// The key this transaction claimed, and its claim, which holds the COMMIT until the
    /// response is stored.
    key: Option<(String, Held)>,
}

impl std::ops::Deref for IdempotentTx {
    type Target = TenantTx;
    fn deref(&self) -> &TenantTx {
        &self.tx
    }
}

impl std::ops::DerefMut for IdempotentTx {
    fn deref_mut(&mut self) -> &mut TenantTx {
        &mut self.tx
    }
}

impl IdempotentTx {
    /// Stores `response` with the key (if any) and commits; answers `response`.
    pub async fn commit(self, response: HttpResponse) -> Result<HttpResponse, ApiError> {
        self.commit_without(response, &[]).await
    }

    /// [`IdempotentTx::commit`] for a response that carries a secret shown once (an API key, a
    /// signing secret): the stored copy, and so a replay, lacks the top-level `secret_fields`.
    /// Palisade never keeps such a secret.
    pub async fn commit_without(
        mut self,
        response: HttpResponse,
        secret_fields: &[&str],
    ) -> Result<HttpResponse, ApiError> {
        let Some((key, held)) = self.key.take() else {
            self.tx.commit().await?;
            return Ok(response);
        };
        let (response, stored) = split(response, secret_fields)?;
        // The stored response and COMMIT in one round trip; `commit` then has nothing to send.
        db::complete(&mut self.tx, held, &key, &stored).await?;
        self.tx.commit().await?;
        Ok(response)
    }
}

/// The response, unchanged, and what to store of it.
fn split(
    response: HttpResponse,
    secret_fields: &[&str],
) -> Result<(HttpResponse, StoredResponse), ApiError> {
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (head, body) = response.into_parts();
    let bytes = body
        .try_into_bytes()
        .map_err(|_| ApiError::internal("an idempotent response must be built in memory"))?;
    let stored_body = if bytes.is_empty() {
        None
    } else if secret_fields.is_empty() {
        Some(String::from_utf8(bytes.to_vec()).map_err(ApiError::internal)?)
    } else {
        let mut value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
        if let Some(object) = value.as_object_mut() {
            for field in secret_fields {
                object.remove(*field);
            }
        }
        Some(serde_json::to_string(&value).map_err(ApiError::internal)?)
    };
    let response = head.set_body(BoxBody::new(bytes));
    Ok((
        response,
        StoredResponse {
            status,
            body: stored_body,
            location,
        },
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_1_to_255_printable_ascii_characters() {
        for ok in [
            "a",
            "order 42/retry #1",
            &"k".repeat(255),
            "~!\"#$%&'()*+,-./",
        ] {
            assert_eq!(parse_key(&HeaderValue::from_str(ok).unwrap()).unwrap(), ok);
        }
        let too_long = "k".repeat(256);
        let bad = [
            HeaderValue::from_static(""),
            HeaderValue::from_str(&too_long).unwrap(),
            HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
            HeaderValue::from_bytes(b"tab\there").unwrap(),
        ];
        for value in bad {
            assert!(parse_key(&value).is_err(), "{value:?}");
        }
    }

    #[test]
    fn a_stored_secret_is_left_out_and_the_answer_keeps_it() {
        let response = HttpResponse::Created()
            .insert_header((header::LOCATION, "/v1/api-keys/1"))
            .json(serde_json::json!({"api_key": {"id": "1"}, "key": "pk_secret"}));
        let (response, stored) = split(response, &["key"]).unwrap();
        assert_eq!(stored.status, 201);
        assert_eq!(stored.location.as_deref(), Some("/v1/api-keys/1"));
        assert_eq!(stored.body.as_deref(), Some(r#"{"api_key":{"id":"1"}}"#));
        let sent = response.into_body().try_into_bytes().unwrap();
        assert!(std::str::from_utf8(&sent).unwrap().contains("pk_secret"));
    }
}
