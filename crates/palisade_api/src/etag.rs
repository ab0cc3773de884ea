//! `ETag` and `If-Match` (RFC 9110 §8.8.3, §13.1.1; docs/api.md, "Concurrent changes").
//!
//! - [`add_etag`], a middleware, gives every `200` JSON answer to a `GET` (or `HEAD`) or `PATCH`
//!   under `/v1` a strong `ETag`: the first 128 bits of the SHA-256 of the body, hex, quoted. The
//!   validator is the representation itself, so it changes exactly when what the client sees
//!   changes (whatever changed it: a client, a provider webhook, the clock). A `GET` (or `HEAD`)
//!   whose `If-None-Match` names that tag (weak comparison, RFC 9110 §13.1.2), or is `*`, answers
//!   `304 Not Modified` with the tag and no body instead: the request is still served (its
//!   reads run), and only the body is not sent again. Such an answer also gets
//!   `Cache-Control: private, no-cache` (no shared cache stores tenant data; a client
//!   revalidates). An answer that sets its own `Cache-Control` (`no-store`: a one-time secret,
//!   an export) is left as it is and always sent whole.
//! - [`IfMatch`], an extractor for `PATCH` and `DELETE` handlers, checks `If-Match` and
//!   `If-None-Match` against the item's current representation **inside the write
//!   transaction**, on the row locked `FOR UPDATE`, before the write: no concurrent change can
//!   slip between the check and the write. `If-Match`: `*` matches any existing item; a list
//!   matches when one of its (strong) tags does; a weak or malformed tag matches nothing.
//!   `If-None-Match` (RFC 9110 §13.1.2: "only if it changed"): `*` or a tag naming the current
//!   one (weak comparison) fails it. A failed condition: 412 `precondition_failed`, nothing
//!   changed. Without either header nothing is checked (and nothing extra is locked). Neither
//!   is evaluated on a `POST` (a create: the conditions are about an item, which does not exist
//!   yet) nor `If-Match` on a `GET`, which changes nothing (docs/api.md).
//!
//! In a handler, after opening the transaction and before the write:
//! ```ignore
//! if_match.check(db::lock(&mut tx, id), ThingJson::from).await?;
//! ```
//! where `db::lock` reads the item as its GET does, `FOR UPDATE`, and `ThingJson::from` builds
//! the body its GET answers.

use std::future::Future;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpRequest};
use futures_util::future::{Ready, ready};
use palisade_db::DbError;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::ApiError;

/// The strong entity tag of a representation: `"<32 hex digits>"`.
pub fn entity_tag(body: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(body);
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for b in &digest[..16] {
        tag.push(char::from(HEX[usize::from(b >> 4)]));
        tag.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    tag.push('"');
    tag
}

fn is_json(headers: &header::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Middleware: a strong `ETag` on every `200` JSON answer to `GET`, `HEAD` or `PATCH` under `/v1`.
/// Register it with `actix_web::middleware::from_fn(palisade_api::etag::add_etag)`.
pub async fn add_etag(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // A HEAD answers as its GET would (the handler builds the body; actix does not send it), so
    // its tag, its cache directive and its 304 are the GET's.
    let read = req.method() == Method::GET || req.method() == Method::HEAD;
    let wanted = (read || req.method() == Method::PATCH) && req.path().starts_with("/v1/");
    // Kept only when it can apply: a GET or HEAD that sent one.
    let if_none_match: Vec<HeaderValue> = if read {
        req.headers()
            .get_all(header::IF_NONE_MATCH)
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    let res = next.call(req).await?;
    if !wanted
        || res.status() != StatusCode::OK
        || !is_json(res.headers())
        || res.headers().contains_key(header::ETAG)
    {
        return Ok(res.map_into_boxed_body());
    }
    // An answer that says how it may be cached itself (`no-store`: a one-time secret, an
    // export) is left as it is, and always sent whole.
    let cacheable = !res.headers().contains_key(header::CACHE_CONTROL);
    Ok(res.map_body(|head, body| match body.try_into_bytes() {
        Ok(bytes) => {
            let tag = entity_tag(&bytes);
            if let Ok(value) = HeaderValue::from_str(&tag) {
                head.headers.insert(header::ETAG, value);
            }
            if cacheable {
                // Tenant data: no shared cache may store it (a request with X-API-Key is not
                // one RFC 9111 keeps out of shared caches by itself), and a client revalidates
                // its copy (If-None-Match) before it uses it.
                head.headers.insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, no-cache"),
                );
                if none_match(if_none_match.iter(), &tag) {
                    head.status = StatusCode::NOT_MODIFIED;
                    head.headers.remove(header::CONTENT_TYPE);
                    return BoxBody::new(actix_web::body::None::new());
                }
            }
            BoxBody::new(bytes)
        }
        Err(body) => body.boxed(),
    }))
}

/// Whether `If-None-Match` field lines name `etag` (a strong tag, quotes included), or are `*`:
/// the weak comparison RFC 9110 §13.1.2 asks for (`W/"x"` names `"x"`). No header: false.
pub fn none_match<'a>(values: impl Iterator<Item = &'a HeaderValue>, etag: &str) -> bool {
    values
        .filter_map(|v| v.to_str().ok())
        .any(|text| text.trim() == "*" || entity_tags(text).any(|(_, tag)| tag == etag))
}

/// The `If-Match` and `If-None-Match` preconditions of a write: see the module doc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfMatch {
    /// `If-Match`, strong tags only.
    matching: Option<Condition>,
    /// `If-None-Match`, every tag (compared weakly: `W/"x"` names `"x"`).
    none_match: Option<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    /// `*`: any current representation.
    Any,
    /// The strong tags listed, quotes included (weak and malformed ones are left out: they
    /// never match under the strong comparison).
    Tags(Vec<String>),
}

/// Parses every `If-Match` field line into one condition (`None`: no header).
fn parse<'a>(values: impl Iterator<Item = &'a HeaderValue>) -> Option<Condition> {
    parse_with(values, strong_tags)
}

/// Parses every `If-None-Match` field line into one condition, weak tags kept without their
/// `W/` (`None`: no header).
fn parse_none_match<'a>(values: impl Iterator<Item = &'a HeaderValue>) -> Option<Condition> {
    parse_with(values, |text| {
        entity_tags(text).map(|(_, tag)| tag).collect()
    })
}

fn parse_with<'a>(
    values: impl Iterator<Item = &'a HeaderValue>,
    tags_of: impl Fn(&str) -> Vec<String>,
) -> Option<Condition> {
    let mut tags = Vec::new();
    let mut any_header = false;
    for value in values {
        any_header = true;
        let Ok(text) = value.to_str() else { continue };
        if text.trim() == "*" {
            return Some(Condition::Any);
        }
        tags.extend(tags_of(text));
    }
    any_header.then_some(Condition::Tags(tags))
}

/// The strong entity tags of a field value (`"a", W/"b", "c"` gives `"a"` and `"c"`).
fn strong_tags(text: &str) -> Vec<String> {
    entity_tags(text)
        .filter(|(weak, _)| !weak)
        .map(|(_, tag)| tag)
        .collect()
}

/// The entity tags of a field value, in order, each as (weak, the tag without `W/`, quotes
/// included); a malformed one ends the list (nothing after it can match).
fn entity_tags(text: &str) -> impl Iterator<Item = (bool, String)> + '_ {
    let mut rest = text;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let (weak, after) = match rest.strip_prefix("W/") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let quoted = after.strip_prefix('"')?;
        let end = quoted.find('"')?;
        let tag = format!("\"{}\"", &quoted[..end]);
        rest = &quoted[end + 1..];
        Some((weak, tag))
    })
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let headers = req.headers();
        ready(Ok(IfMatch {
            matching: parse(headers.get_all(header::IF_MATCH)),
            none_match: parse_none_match(headers.get_all(header::IF_NONE_MATCH)),
        }))
    }
}

fn precondition_failed(message: &str) -> ApiError {
    ApiError::Http {
        status: StatusCode::PRECONDITION_FAILED,
        code: crate::error::ErrorCode::PreconditionFailed,
        message: message.to_owned(),
    }
}

impl IfMatch {
    /// Whether the request sent `If-Match` or `If-None-Match`.
    pub fn is_present(&self) -> bool {
        self.matching.is_some() || self.none_match.is_some()
    }

    /// Checks the preconditions inside the write transaction, before the write, `If-Match`
    /// first (RFC 9110 §13.2.2). `current` reads the item `FOR UPDATE` (it is only run when a
    /// header was sent); `representation` builds the body a GET of it answers. A missing item
    /// answers 404 (RFC 9110 §13.2.1: the preconditions are not evaluated when the answer would
    /// not be 2xx anyway), a failed condition 412.
    pub async fn check<T, J: Serialize>(
        &self,
        current: impl Future<Output = Result<Option<T>, DbError>>,
        representation: impl FnOnce(T) -> J,
    ) -> Result<(), ApiError> {
        if !self.is_present() {
            return Ok(());
        }
        let item = current.await?.ok_or(ApiError::NotFound)?;
        let any = |c: &Option<Condition>| matches!(c, Some(Condition::Any));
        if any(&self.none_match) {
            return Err(precondition_failed(
                "If-None-Match: * and this resource exists; nothing was changed",
            ));
        }
        let tag = match (&self.matching, &self.none_match) {
            (Some(Condition::Tags(_)), _) | (_, Some(Condition::Tags(_))) => {
                let body = serde_json::to_vec(&representation(item)).map_err(ApiError::internal)?;
                entity_tag(&body)
            }
            _ => return Ok(()),
        };
        if let Some(Condition::Tags(tags)) = &self.matching
            && !tags.contains(&tag)
        {
            return Err(precondition_failed(
                "If-Match does not match this resource's current ETag; read it again",
            ));
        }
        if let Some(Condition::Tags(tags)) = &self.none_match
            && tags.contains(&tag)
        {
            return Err(precondition_failed(
                "If-None-Match names this resource's current ETag: it has not changed; \
                 nothing was changed",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn if_match(matching: Option<Condition>) -> IfMatch {
        IfMatch {
            matching,
            none_match: None,
        }
    }

    fn status(r: Result<(), ApiError>) -> Option<StatusCode> {
        r.err().map(|e| actix_web::ResponseError::status_code(&e))
    }

    #[actix_web::test]
    async fn if_none_match_on_a_write_fails_for_the_current_tag_or_star() {
        let body = serde_json::json!({"id": 1});
        let tag = entity_tag(&serde_json::to_vec(&body).unwrap());
        let current = || async { Ok::<_, DbError>(Some(body.clone())) };
        let none_match = |values: &[&str]| {
            let values: Vec<HeaderValue> = values
                .iter()
                .map(|v| HeaderValue::from_str(v).unwrap())
                .collect();
            IfMatch {
                matching: None,
                none_match: parse_none_match(values.iter()),
            }
        };
        let weak = format!("W/{tag}");
        let failed = Some(StatusCode::PRECONDITION_FAILED);
        for values in [
            vec![tag.as_str()],
            vec![weak.as_str()],
            vec![r#""0""#, &tag],
            vec!["*"],
        ] {
            let r = none_match(&values).check(current(), |v| v).await;
            assert_eq!(status(r), failed, "{values:?}");
        }
        for values in [vec![r#""0""#], vec!["garbage"]] {
            let r = none_match(&values).check(current(), |v| v).await;
            assert_eq!(status(r), None, "{values:?}");
        }
        // A missing item answers 404 whatever the condition.
        let missing = async { Ok::<Option<serde_json::Value>, DbError>(None) };
        let r = none_match(&["*"]).check(missing, |v| v).await;
        assert_eq!(status(r), Some(StatusCode::NOT_FOUND));
        // Both headers: both must hold.
        let both = IfMatch {
            matching: Some(Condition::Tags(vec![tag.clone()])),
            none_match: Some(Condition::Tags(vec![tag.clone()])),
        };
        assert_eq!(status(both.check(current(), |v| v).await), failed);
        let both = IfMatch {
            matching: Some(Condition::Tags(vec![tag.clone()])),
            none_match: Some(Condition::Tags(vec![r#""0""#.into()])),
        };
        assert_eq!(status(both.check(current(), |v| v).await), None);
    }

    fn condition(values: &[&str]) -> Option<Condition> {
        let values: Vec<HeaderValue> = values
            .iter()
            .map(|v| HeaderValue::from_str(v).unwrap())
            .collect();
        parse(values.iter())
    }

    #[test]
    fn entity_tags_are_strong_quoted_and_follow_the_bytes() {
        let tag = entity_tag(br#"{"id":1}"#);
        assert_eq!(tag.len(), 34);
        assert!(tag.starts_with('"') && tag.ends_with('"'));
        assert_eq!(tag, entity_tag(br#"{"id":1}"#));
        assert_ne!(tag, entity_tag(br#"{"id":2}"#));
        // The first 128 bits of the body's SHA-256, lower-case hex (Python's hashlib agrees).
        assert_eq!(tag, "\"037c9214eef74cc3887f3a4f085b4e17\"");
    }

    #[test]
    fn if_none_match_compares_weakly_and_star_matches_anything() {
        let names = |values: &[&str], tag: &str| {
            let values: Vec<HeaderValue> = values
                .iter()
                .map(|v| HeaderValue::from_str(v).unwrap())
                .collect();
            none_match(values.iter(), tag)
        };
        let tag = r#""abc""#;
        assert!(!names(&[], tag));
        assert!(names(&[r#""abc""#], tag));
        assert!(names(&[r#"W/"abc""#], tag));
        assert!(names(&[r#""x", W/"abc""#], tag));
        assert!(names(&[r#""x""#, r#""abc""#], tag));
        assert!(names(&[" * "], tag));
        assert!(!names(&[r#""abcd""#, r#""ab""#], tag));
        assert!(!names(&["abc"], tag), "unquoted is malformed");
        assert!(
            !names(&[r#"bad, "abc""#], tag),
            "nothing after a malformed tag"
        );
    }

    #[test]
    fn if_match_lists_keep_strong_tags_only() {
        assert_eq!(condition(&[]), None);
        assert_eq!(condition(&["*"]), Some(Condition::Any));
        assert_eq!(
            condition(&[r#""a", W/"b",  "c,d""#, r#""e""#]),
            Some(Condition::Tags(vec![
                r#""a""#.into(),
                r#""c,d""#.into(),
                r#""e""#.into()
            ]))
        );
        // Malformed: present, but nothing can match.
        assert_eq!(condition(&["abc"]), Some(Condition::Tags(vec![])));
        assert_eq!(condition(&[r#""open"#]), Some(Condition::Tags(vec![])));
    }

    #[actix_web::test]
    async fn the_check_compares_with_the_current_representation() {
        let body = serde_json::json!({"id": 1, "name": "a"});
        let tag = entity_tag(&serde_json::to_vec(&body).unwrap());
        let current = || async { Ok::<_, DbError>(Some(body.clone())) };
        let matching = if_match(Some(Condition::Tags(vec![tag.clone()])));
        assert!(matching.check(current(), |v| v).await.is_ok());
        let stale = if_match(Some(Condition::Tags(vec![r#""0""#.into()])));
        let err = stale.check(current(), |v| v).await.unwrap_err();
        assert_eq!(
            actix_web::ResponseError::status_code(&err),
            StatusCode::PRECONDITION_FAILED
        );
        assert!(
            if_match(Some(Condition::Any))
                .check(current(), |v| v)
                .await
                .is_ok()
        );
        let missing = async { Ok::<Option<serde_json::Value>, DbError>(None) };
        assert!(matches!(
            if_match(Some(Condition::Any)).check(missing, |v| v).await,
            Err(ApiError::NotFound)
        ));
        // No header: the read is not even run.
        let never = async {
            if true {
                panic!("read without If-Match");
            }
            Ok::<Option<serde_json::Value>, DbError>(None)
        };
        assert!(if_match(None).check(never, |v| v).await.is_ok());
    }
}
