//! Request-body extraction with one rule for every route (docs/api.md, "Errors"):
//!
//! - a body that cannot be parsed at all (not JSON, truncated, trailing data) or that carries a
//!   field the request does not define answers **400** (`invalid_json`, `unknown_field`);
//! - a parsed body whose values do not fit (a number where a string belongs, a number past
//!   64 bits) answers **422** `validation_failed`, the field named by its path
//!   (`recipients[3].email`) with a machine code ([`crate::error::FieldCode`]). serde stops at
//!   the first such field, so the answer names that one only. Every body field is optional to
//!   serde: missing and `null` required fields, enum values, ranges and lengths are the
//!   handlers' own checks (`crate::routes::Fields`), which report every field they refuse at
//!   once;
//! - messages are ours: serde's wording (which names Rust types) never reaches a client.
//!
//! [`Json`] replaces `actix_web::web::Json` in every handler. It also leaves the body's SHA-256
//! in the request's extensions ([`crate::idempotency::BodyDigest`]), which identifies a retried
//! request under its `Idempotency-Key`.

use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::ApiError;
use crate::error::{FieldCode, FieldError};

/// A JSON request body of type `T`, read under [`crate::MAX_JSON_BODY`]: an object, unless
/// `ARRAY` (a batch: `Json<EventBatch, true>`). serde's derive also builds a struct from an
/// array (its fields in order), so without the check `[]` would pass for `{}` where every field
/// is optional, as in a PATCH body.
#[derive(Debug)]
pub struct Json<T, const ARRAY: bool = false>(pub T);

impl<T, const ARRAY: bool> Json<T, ARRAY> {
    /// The body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T, const ARRAY: bool> Deref for Json<T, ARRAY> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// A provider webhook's raw body, up to its route's `web::PayloadConfig` limit: `web::Bytes`
/// with its refusals answered as every error is, in the JSON error body: 413
/// `payload_too_large` past the limit (declared or sent), 400 `invalid_body` when it cannot be
/// read. (`web::Bytes` alone answers those in plain text.)
pub struct RawBody(pub actix_web::web::Bytes);

impl FromRequest for RawBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bytes = actix_web::web::Bytes::from_request(req, payload);
        Box::pin(async move {
            bytes.await.map(RawBody).map_err(|e| {
                if matches!(
                    e.as_error::<actix_web::error::PayloadError>(),
                    Some(actix_web::error::PayloadError::Overflow)
                ) {
                    ApiError::Http {
                        status: StatusCode::PAYLOAD_TOO_LARGE,
                        code: crate::error::ErrorCode::PayloadTooLarge,
                        message: "the request body is larger than this route accepts".to_owned(),
                    }
                } else {
                    ApiError::BadRequest {
                        code: crate::error::ErrorCode::InvalidBody,
                        message: "the request body could not be read".to_owned(),
                    }
                }
            })
        })
    }
}

fn is_json(req: &HttpRequest) -> bool {
    let Some(ct) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(ct) = ct.to_str() else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || (essence.len() > 5
            && essence.is_char_boundary(essence.len() - 5)
            && essence[essence.len() - 5..].eq_ignore_ascii_case("+json"))
}

fn too_large() -> ApiError {
    ApiError::Http {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: crate::error::ErrorCode::PayloadTooLarge,
        message: format!(
            "request bodies are limited to {} bytes",
            crate::MAX_JSON_BODY
        ),
    }
}

impl<T: DeserializeOwned + 'static, const ARRAY: bool> FromRequest for Json<T, ARRAY> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        let req = req.clone();
        Box::pin(async move {
            if !json {
                return Err(ApiError::Http {
                    status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    code: crate::error::ErrorCode::UnsupportedMediaType,
                    message: "send the body as application/json".to_owned(),
                });
            }
            if declared.is_some_and(|n| n > crate::MAX_JSON_BODY) {
                return Err(too_large());
            }
            let mut body = Vec::with_capacity(declared.unwrap_or(256).min(crate::MAX_JSON_BODY));
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| ApiError::BadRequest {
                    code: crate::error::ErrorCode::InvalidBody,
                    message: "the request body could not be read".to_owned(),
                })?;
                if body.len() + chunk.len() > crate::MAX_JSON_BODY {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            let digest = crate::idempotency::BodyDigest(Sha256::digest(&body).into());
            req.extensions_mut().insert(digest);
            parse_body(&body, ARRAY).map(Json)
        })
    }
}

/// A struct read from a JSON object only. serde's derive also builds a struct from an array (its
/// fields in order): [`parse`] refuses an array body, and this refuses one where an item of the
/// body is a struct (a batch's events: `[["page.viewed", null, null, null]]` was an event). The
/// object's keys are read by `T`'s own derive, so unknown fields, renames and error paths are
/// `T`'s.
#[derive(Debug)]
pub struct ObjectOnly<T>(pub T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Object<T>(std::marker::PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Object<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(Object(std::marker::PhantomData))
            .map(ObjectOnly)
    }
}

/// Parses a JSON body by the rules of this module: an object.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    parse_body(body, false)
}

/// [`parse`], or an array too when `array`.
fn parse_body<T: DeserializeOwned>(body: &[u8], array: bool) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        classify(&path, e.into_inner())
    })?;
    de.end().map_err(|e| classify("", e))?;
    // serde's derive also builds a struct from an array (its fields in order), so `[]` would
    // pass for `{}` where every field is optional (PATCH bodies): a body is an object.
    if let Some(first) = body.iter().find(|b| !b" \t\r\n".contains(b))
        && *first != b'{'
        && !(array && *first == b'[')
    {
        return Err(ApiError::Validation(vec![FieldError::new(
            "",
            FieldCode::InvalidType,
            "has the wrong type: the body must be a JSON object",
        )]));
    }
    Ok(value)
}

/// Turns a serde_json error into our answer. serde reports data errors as text only; the
/// prefixes matched here are serde's own stable wording (`serde::de::Error`'s provided
/// methods), pinned by the tests below.
fn classify(path: &str, e: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Io | Category::Syntax | Category::Eof => ApiError::BadRequest {
            code: crate::error::ErrorCode::InvalidJson,
            message: format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        },
        Category::Data => {
            let text = e.to_string();
            let at = |name: &str| -> String {
                match (path, name) {
                    ("." | "", n) => n.to_owned(),
                    (p, "") => p.to_owned(),
                    (p, n) => format!("{p}.{n}"),
                }
            };
            if let Some((name, _)) = unknown_field(&text) {
                // serde_path_to_error's path already ends at the unknown key.
                let field = if path.is_empty() || path == "." {
                    name.to_owned()
                } else {
                    path.to_owned()
                };
                return ApiError::BadRequest {
                    code: crate::error::ErrorCode::UnknownField,
                    message: format!("the body has a field this request does not define: {field}"),
                };
            }
            let (field, code, reason) = if let Some(name) = quoted_after(&text, "missing field `") {
                (at(name), FieldCode::Required, "is required".to_owned())
            } else if let Some(rest) = text.strip_prefix("invalid type: ") {
                let found = rest.split([',', ' ']).next().unwrap_or("value");
                let found = match found {
                    "integer" | "floating" => "a number",
                    "boolean" => "a boolean",
                    "string" => "a string",
                    "sequence" => "an array",
                    "map" => "an object",
                    "null" => "null",
                    _ => "another type",
                };
                let reason = if found == "null" {
                    return ApiError::Validation(vec![FieldError::new(
                        at(""),
                        FieldCode::Required,
                        "cannot be null",
                    )]);
                } else {
                    format!("has the wrong type: got {found}")
                };
                (at(""), FieldCode::InvalidType, reason)
            } else if text.starts_with("unknown variant `") {
                let allowed = text
                    .split_once("expected one of ")
                    .or_else(|| text.split_once("expected "))
                    .map(|(_, a)| a.split(" at line ").next().unwrap_or(a).replace('`', ""))
                    .unwrap_or_default();
                let reason = if allowed.is_empty() {
                    "is not an accepted value".to_owned()
                } else {
                    format!("must be one of {allowed}")
                };
                (at(""), FieldCode::Invalid, reason)
            } else if text.starts_with("invalid length") {
                (
                    at(""),
                    FieldCode::Invalid,
                    "has the wrong number of items".to_owned(),
                )
            } else {
                // invalid value / out of range numbers / custom messages from our own types.
                (
                    at(""),
                    FieldCode::Invalid,
                    "is not an acceptable value".to_owned(),
                )
            };
            ApiError::Validation(vec![FieldError::new(field, code, reason)])
        }
    }
}

/// An integer field of a body: an `i64`, written as JSON Schema's `integer` allows it, so
/// `7` and `7.0` alike (a number whose fraction is zero; JSON has one number type). A
/// fraction, or a value outside `i64`, is refused as `i64` itself would refuse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Integer(pub i64);

impl<'de> serde::Deserialize<'de> for Integer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Integer;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Integer, E> {
                Ok(Integer(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Integer, E> {
                i64::try_from(v)
                    .map(Integer)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Integer, E> {
                // -2^63 and 2^63 are exact as f64; i64's range is [-2^63, 2^63).
                const LIMIT: f64 = 9_223_372_036_854_775_808.0;
                if v.fract() != 0.0 || !v.is_finite() {
                    return Err(E::invalid_type(serde::de::Unexpected::Float(v), &self));
                }
                if !(-LIMIT..LIMIT).contains(&v) {
                    return Err(E::invalid_value(serde::de::Unexpected::Float(v), &self));
                }
                #[allow(clippy::cast_possible_truncation)] // integral and in range
                Ok(Integer(v as i64))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Reads serde's "unknown field `x`, expected one of `a`, `b`" (wherever it stands in `text`):
/// the unknown name and the accepted ones in our words (`a, b`), the latter `None` when the
/// type takes no fields. Shared by bodies, list queries and other query strings.
pub(crate) fn unknown_field(text: &str) -> Option<(&str, Option<String>)> {
    let (_, rest) = text.split_once("unknown field `")?;
    let name = rest.split('`').next().unwrap_or("");
    let accepted = rest
        .split_once("expected one of ")
        .or_else(|| rest.split_once("expected "))
        .map(|(_, a)| a.split(" at line ").next().unwrap_or(a).replace('`', ""))
        .filter(|a| !a.starts_with("no fields") && !a.is_empty());
    Some((name, accepted))
}

fn quoted_after<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.strip_prefix(prefix)?.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        email: String,
        count: Option<u16>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        items: Option<Vec<Item>>,
        kind: Option<Kind>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Daily,
        Weekly,
    }

    fn fields(r: Result<Body, ApiError>) -> Vec<(String, FieldCode, String)> {
        fields_of(r)
    }

    fn fields_of<T: std::fmt::Debug>(r: Result<T, ApiError>) -> Vec<(String, FieldCode, String)> {
        match r {
            Err(ApiError::Validation(f)) => f
                .into_iter()
                .map(|e| (e.field.into_owned(), e.code, e.reason.into_owned()))
                .collect(),
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    fn bad_request(r: Result<Body, ApiError>) -> (&'static str, String) {
        match r {
            Err(ApiError::BadRequest { code, message }) => (code.as_str(), message),
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_are_400_in_our_words() {
        for body in [&b"{"[..], b"", b"nope", b"{\"name\": \"a\"} x"] {
            let (code, message) = bad_request(parse(body));
            assert_eq!(code, "invalid_json");
            assert!(
                message.starts_with("the body is not valid JSON"),
                "{message}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_400_and_named() {
        let (code, message) = bad_request(parse(br#"{"name": "a", "nmae": 1}"#));
        assert_eq!(code, "unknown_field");
        assert!(message.ends_with(": nmae"), "{message}");
        let (code, message) = bad_request(parse(
            br#"{"name": "a", "items": [{"email": "x", "mail": 1}]}"#,
        ));
        assert_eq!(code, "unknown_field");
        assert!(message.ends_with(": items[0].mail"), "{message}");
    }

    #[test]
    fn type_mismatches_are_422_with_the_path_and_no_rust_names() {
        assert_eq!(
            fields(parse(br#"{"name": 5}"#)),
            [(
                "name".to_owned(),
                FieldCode::InvalidType,
                "has the wrong type: got a number".to_owned()
            )]
        );
        assert_eq!(
            fields(parse(
                br#"{"name": "a", "items": [{"email": "x"}, {"email": []}]}"#
            )),
            [(
                "items[1].email".to_owned(),
                FieldCode::InvalidType,
                "has the wrong type: got an array".to_owned()
            )]
        );
        let f = fields(parse(br#"[1, 2]"#));
        assert_eq!(f[0].1, FieldCode::InvalidType);
        assert!(!f[0].2.contains("struct"), "{f:?}");
        // A struct whose fields are all optional is built from an empty array by serde's
        // derive: refused all the same, as any body that is not an object.
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Patch {
            #[allow(dead_code)]
            #[serde(default)]
            name: Option<String>,
        }
        for body in [&b"[]"[..], b" \n [ ] ", b"[null]"] {
            let f = fields_of(parse::<Patch>(body));
            assert_eq!(
                f,
                [(
                    String::new(),
                    FieldCode::InvalidType,
                    "has the wrong type: the body must be a JSON object".to_owned()
                )],
                "{body:?}"
            );
        }
        assert!(parse::<Patch>(b" {} ").is_ok());
    }

    #[test]
    fn integers_may_be_written_with_a_zero_fraction() {
        #[derive(Debug, Deserialize)]
        struct Counter {
            n: Integer,
        }
        let n = |body: &[u8]| parse::<Counter>(body).map(|c| c.n.0);
        assert_eq!(n(br#"{"n": 7}"#).ok(), Some(7));
        assert_eq!(n(br#"{"n": 7.0}"#).ok(), Some(7));
        assert_eq!(n(br#"{"n": -7e2}"#).ok(), Some(-700));
        assert_eq!(n(br#"{"n": 9223372036854775807}"#).ok(), Some(i64::MAX));
        assert_eq!(n(br#"{"n": -9223372036854775808}"#).ok(), Some(i64::MIN));
        assert_eq!(
            fields_of(parse::<Counter>(br#"{"n": 7.5}"#)),
            [(
                "n".to_owned(),
                FieldCode::InvalidType,
                "has the wrong type: got a number".to_owned()
            )]
        );
        for body in [
            &br#"{"n": 9223372036854775808}"#[..],
            br#"{"n": 9.3e18}"#,
            br#"{"n": -9.3e18}"#,
        ] {
            assert_eq!(fields_of(parse::<Counter>(body))[0].1, FieldCode::Invalid);
        }
        assert_eq!(
            fields_of(parse::<Counter>(br#"{"n": "7"}"#))[0].1,
            FieldCode::InvalidType
        );
    }

    #[test]
    fn missing_and_null_required_fields_are_required() {
        assert_eq!(
            fields(parse(br#"{}"#)),
            [(
                "name".to_owned(),
                FieldCode::Required,
                "is required".to_owned()
            )]
        );
        assert_eq!(
            fields(parse(br#"{"name": "a", "items": [{}]}"#)),
            [(
                "items[0].email".to_owned(),
                FieldCode::Required,
                "is required".to_owned()
            )]
        );
        assert_eq!(
            fields(parse(br#"{"name": null}"#)),
            [(
                "name".to_owned(),
                FieldCode::Required,
                "cannot be null".to_owned()
            )]
        );
    }

    #[test]
    fn out_of_range_numbers_and_unknown_enum_values_are_invalid() {
        let f = fields(parse(
            br#"{"name": "a", "items": [{"email": "x", "count": 70000}]}"#,
        ));
        assert_eq!(f[0].0, "items[0].count");
        assert_eq!(f[0].1, FieldCode::Invalid);
        let f = fields(parse(br#"{"name": "a", "kind": "hourly"}"#));
        assert_eq!(
            f,
            [(
                "kind".to_owned(),
                FieldCode::Invalid,
                "must be one of daily or weekly".to_owned()
            )]
        );
    }
}
