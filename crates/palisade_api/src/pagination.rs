//! Opaque keyset cursors and the `limit` parameter shared by list routes.
//!
//! A cursor is base64url of `v1:<unix micros>:<uuid>`. It is opaque to clients and not
//! secret: forging one only moves the starting point of a list the tenant may read anyway.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use palisade_db::list::Cursor;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ApiError;

/// Items per page when the client does not say.
pub const DEFAULT_LIMIT: u16 = 50;
/// Most items per page.
pub const MAX_LIMIT: u16 = 100;

/// Validates `limit` (1..=100, default 50).
pub fn parse_limit(raw: Option<&str>) -> Result<u16, ApiError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_LIMIT);
    };
    match raw.parse::<u16>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(
            "limit",
            "must be an integer from 1 to 100",
        )),
    }
}

/// Encodes a `(created_at, id)` position.
pub fn encode_cursor(c: &Cursor) -> String {
    let micros = c.created_at.unix_timestamp_nanos() / 1_000;
    URL_SAFE_NO_PAD.encode(format!("v1:{micros}:{}", c.id))
}

/// Decodes a cursor made by [`encode_cursor`]; anything else answers 400.
pub fn decode_cursor(raw: &str) -> Result<Cursor, ApiError> {
    let bad = || ApiError::BadRequest {
        code: "invalid_cursor",
        message: "the cursor is not one this API returned".into(),
    };
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| bad())?;
    let mut parts = text.splitn(3, ':');
    let (Some("v1"), Some(micros), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let micros: i128 = micros.parse().map_err(|_| bad())?;
    let nanos = micros.checked_mul(1_000).ok_or_else(bad)?;
    let created_at = OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| palisade_domain::calendar::instant(t).ok())
        .ok_or_else(bad)?;
    let id = Uuid::try_parse(id).map_err(|_| bad())?;
    Ok(Cursor { created_at, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_at_microsecond_precision() {
        let c = Cursor {
            created_at: OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            id: Uuid::now_v7(),
        };
        assert_eq!(decode_cursor(&encode_cursor(&c)).ok(), Some(c));
    }

    #[test]
    fn garbage_cursors_are_refused() {
        for bad in [
            "",
            "!!",
            "djE6eDp5",
            &URL_SAFE_NO_PAD.encode("v2:1:00000000-0000-0000-0000-000000000000"),
            // Past i128 once in nanoseconds, and past the years an answer can write.
            &URL_SAFE_NO_PAD.encode(format!(
                "v1:{}:00000000-0000-0000-0000-000000000000",
                i128::MAX
            )),
            &URL_SAFE_NO_PAD.encode("v1:-62167219200000001:00000000-0000-0000-0000-000000000000"),
        ] {
            assert!(decode_cursor(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn limit_bounds() {
        assert_eq!(parse_limit(None).ok(), Some(50));
        assert_eq!(parse_limit(Some("100")).ok(), Some(100));
        for bad in ["0", "101", "-1", "ten", ""] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad:?} accepted");
        }
    }
}
