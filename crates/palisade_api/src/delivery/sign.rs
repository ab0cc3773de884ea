//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>, "Signature scheme"): the
//! receiver's library checks `webhook-signature` against HMAC-SHA256, keyed with the
//! base64-decoded part of the endpoint's `whsec_` secret, over `{webhook-id}.{webhook-timestamp}.{body}`,
//! written `v1,` + standard base64. `scripts/verify_standard_webhooks.py` checks real deliveries
//! with the official Python library.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The prefix of every signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// Why a secret cannot sign (it is not `whsec_` + standard base64).
#[derive(Debug, thiserror::Error)]
#[error("the signing secret is not whsec_ followed by standard base64")]
pub struct BadSecret;

/// The `webhook-signature` value for one message: `v1,<base64 of the HMAC>`.
pub fn signature(
    secret: &str,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, BadSecret> {
    let key = secret
        .strip_prefix(SECRET_PREFIX)
        .and_then(|b64| STANDARD.decode(b64).ok())
        .filter(|k| !k.is_empty())
        .ok_or(BadSecret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| BadSecret)?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's own example (standard-webhooks spec, "Signature scheme", and the
    /// official libraries' tests): this secret, id, timestamp and body give this signature.
    #[test]
    fn matches_the_specification_example() {
        let sig = signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            sig.ok().as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn refuses_a_secret_that_is_not_standard_base64() {
        for bad in [
            "",
            "whsec_",
            "sk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_%%%",
        ] {
            assert!(signature(bad, "m", 1, b"{}").is_err(), "{bad}");
        }
    }
}
