//! Webhook signature schemes (the contracts: docs/webhooks.md), verified over the raw
//! bytes, comparing MACs in constant time (`Mac::verify_slice`).
//!
//! | provider | input signed | algorithm |
//! |---|---|---|
//! | Twilio | public URL (with query) + every POST parameter name and value, sorted by name | HMAC-SHA1 (auth token), base64 |
//! | Stripe | `"{t}.{raw body}"` from `Stripe-Signature: t=..,v1=..` (any v1 may match; 300 s tolerance) | HMAC-SHA256 (the whole `whsec_...` string), hex |
//! | SendGrid | timestamp header + raw body | ECDSA P-256 / SHA-256, DER signature in base64, key as base64 SPKI DER |
//! | Mailgun | timestamp + token | HMAC-SHA256 (signing key), hex |

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;

/// Why a signature was refused. Deliberately coarse: the reason is logged, never returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signature header (or field) at all.
    #[error("missing signature")]
    Missing,
    /// The header or signature could not be decoded.
    #[error("malformed signature")]
    Malformed,
    /// The timestamp is outside the tolerance window.
    #[error("stale or future timestamp")]
    Stale,
    /// Decoded fine, but does not match.
    #[error("signature mismatch")]
    Mismatch,
}

/// Whether unix time `t` is within `tolerance` seconds of `now`, either way. Overflow-free: `t`
/// comes from the request, before its MAC is checked.
pub fn within(now: i64, t: i64, tolerance: i64) -> bool {
    now.abs_diff(t) <= tolerance.unsigned_abs()
}

/// Decodes lower- or upper-case hex; `None` on anything else.
fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The URLs Twilio may have signed for a configured public `url`: Twilio's own libraries
/// accept the URL as given, without its port, and with the scheme's default port added.
pub fn twilio_url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return out;
    };
    let default_port = match scheme {
        "https" => "443",
        "http" => "80",
        _ => return out,
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    // "[::1]:8443" / "[::1]" (IPv6 literal) or "host:8443" / "host".
    let split_at = match authority.rfind(']') {
        Some(end) => authority[end..].find(':').map(|i| end + i),
        None => authority.rfind(':'),
    };
    let (host, port) = match split_at {
        Some(i) => (&authority[..i], Some(&authority[i + 1..])),
        None => (authority, None),
    };
    match port {
        Some(_) => out.push(format!("{scheme}://{host}{tail}")),
        None => out.push(format!("{scheme}://{host}:{default_port}{tail}")),
    }
    out
}

/// Twilio's MAC over one candidate URL and the parameters (sorted by name, then value).
fn twilio_mac(
    auth_token: &str,
    url: &str,
    sorted: &[&(String, String)],
) -> Result<Hmac<sha1::Sha1>, SignatureError> {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes())
        .map_err(|_| SignatureError::Malformed)?;
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    Ok(mac)
}

fn sorted_params(params: &[(String, String)]) -> Vec<&(String, String)> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted
}

/// Twilio: `X-Twilio-Signature` over `url` and the form parameters.
///
/// `url` is the public URL as configured (never rebuilt from the Host header) including its
/// query string; `params` are the decoded POST form fields (empty for a JSON body, whose URL
/// carries `bodySHA256` instead).
pub fn verify_twilio(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    signature_b64: Option<&str>,
) -> Result<(), SignatureError> {
    let signature_b64 = signature_b64.ok_or(SignatureError::Missing)?;
    let expected = STANDARD
        .decode(signature_b64.trim())
        .map_err(|_| SignatureError::Malformed)?;
    let sorted = sorted_params(params);
    for candidate in twilio_url_variants(url) {
        if twilio_mac(auth_token, &candidate, &sorted)?
            .verify_slice(&expected)
            .is_ok()
        {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// The `X-Twilio-Signature` Twilio would send for `url` and `params` (for development tools and
/// tests: Twilio signs, we verify).
pub fn sign_twilio(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    match twilio_mac(auth_token, url, &sorted_params(params)) {
        Ok(mac) => STANDARD.encode(mac.finalize().into_bytes()),
        // HMAC takes keys of any length, so this cannot happen; an empty signature never
        // verifies.
        Err(_) => String::new(),
    }
}

/// Stripe's default tolerance, in seconds.
pub const STRIPE_TOLERANCE_SECS: i64 = 300;

/// Stripe: the `Stripe-Signature` header over the raw body, at unix time `now`. Any `v1`
/// entry may match (Stripe sends several while a secret is being rolled).
pub fn verify_stripe(
    secret: &str,
    header: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => {
                timestamp = Some(t.parse::<i64>().map_err(|_| SignatureError::Malformed)?)
            }
            Some(("v1", sig)) => candidates.push(hex_decode(sig).ok_or(SignatureError::Malformed)?),
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Missing);
    }
    if !within(now, t, STRIPE_TOLERANCE_SECS) {
        return Err(SignatureError::Stale);
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| SignatureError::Malformed)?;
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    if candidates
        .iter()
        .any(|c| mac.clone().verify_slice(c).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// A SendGrid event-webhook verification key (base64 SPKI DER, as the console shows it).
#[derive(Clone, Debug)]
pub struct SendgridKey(VerifyingKey);

impl SendgridKey {
    /// Parses the console's base64 public key; `None` if it is not a P-256 SPKI key.
    pub fn parse(public_key_b64: &str) -> Option<Self> {
        let der = STANDARD.decode(public_key_b64.trim()).ok()?;
        VerifyingKey::from_public_key_der(&der).ok().map(Self)
    }
}

/// A SendGrid-style signing key pair for development and tests: SendGrid holds the real
/// private key. The embedded default generates one, so a developer can sign events exactly as
/// SendGrid would and the server verifies them with the public half.
#[derive(Clone)]
pub struct SendgridDevSigner(p256::ecdsa::SigningKey);

impl std::fmt::Debug for SendgridDevSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SendgridDevSigner(<redacted>)")
    }
}

impl SendgridDevSigner {
    /// A new random key pair; `None` if the OS random source fails.
    pub fn generate() -> Option<Self> {
        // A random scalar is a valid key unless it is 0 or >= the group order (probability
        // about 2^-32): draw again in that case.
        for _ in 0..8 {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).ok()?;
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&bytes) {
                return Some(Self(key));
            }
        }
        None
    }

    /// From 32 secret scalar bytes (tests use a fixed key); `None` if they are not a valid key.
    pub fn from_scalar(bytes: &[u8]) -> Option<Self> {
        p256::ecdsa::SigningKey::from_slice(bytes).ok().map(Self)
    }

    /// The secret scalar, base64 (what `webhook-secrets.json` keeps).
    pub fn scalar_b64(&self) -> String {
        STANDARD.encode(self.0.to_bytes())
    }

    /// From [`SendgridDevSigner::scalar_b64`]'s encoding.
    pub fn from_scalar_b64(s: &str) -> Option<Self> {
        Self::from_scalar(&STANDARD.decode(s.trim()).ok()?)
    }

    /// The public key as SendGrid's console shows it (base64 SPKI DER).
    pub fn public_key_b64(&self) -> Option<String> {
        use p256::pkcs8::EncodePublicKey;
        let der = self.0.verifying_key().to_public_key_der().ok()?;
        Some(STANDARD.encode(der.as_bytes()))
    }

    /// The signature header value SendGrid would send for `timestamp` and `body`.
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        use p256::ecdsa::signature::Signer;
        let mut signed = Vec::with_capacity(timestamp.len() + body.len());
        signed.extend_from_slice(timestamp.as_bytes());
        signed.extend_from_slice(body);
        let signature: Signature = self.0.sign(&signed);
        STANDARD.encode(signature.to_der().as_bytes())
    }
}

/// SendGrid: `X-Twilio-Email-Event-Webhook-Signature` (base64 DER ECDSA) over the
/// `X-Twilio-Email-Event-Webhook-Timestamp` header followed by the raw body.
pub fn verify_sendgrid(
    key: &SendgridKey,
    timestamp: Option<&str>,
    body: &[u8],
    signature_b64: Option<&str>,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature_b64)) = (timestamp, signature_b64) else {
        return Err(SignatureError::Missing);
    };
    let der = STANDARD
        .decode(signature_b64.trim())
        .map_err(|_| SignatureError::Malformed)?;
    let signature = Signature::from_der(&der).map_err(|_| SignatureError::Malformed)?;
    let mut signed = Vec::with_capacity(timestamp.len() + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.extend_from_slice(body);
    key.0
        .verify(&signed, &signature)
        .map_err(|_| SignatureError::Mismatch)
}

/// How old a Mailgun signature may be, in seconds (Mailgun leaves the window to us).
pub const MAILGUN_TOLERANCE_SECS: i64 = 300;

/// Mailgun: `signature` = hex HMAC-SHA256 of `timestamp` + `token` with the signing key.
pub fn verify_mailgun(
    signing_key: &str,
    timestamp: Option<&str>,
    token: Option<&str>,
    signature_hex: Option<&str>,
    now: i64,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(token), Some(signature_hex)) = (timestamp, token, signature_hex)
    else {
        return Err(SignatureError::Missing);
    };
    let t: i64 = timestamp.parse().map_err(|_| SignatureError::Malformed)?;
    let expected = hex_decode(signature_hex).ok_or(SignatureError::Malformed)?;
    if !within(now, t, MAILGUN_TOLERANCE_SECS) {
        return Err(SignatureError::Stale);
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(signing_key.as_bytes())
        .map_err(|_| SignatureError::Malformed)?;
    mac.update(timestamp.as_bytes());
    mac.update(token.as_bytes());
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).into(), (*b).into()))
            .collect()
    }

    // Twilio's published example (webhook security documentation).
    const TWILIO_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const TWILIO_SIG: &str = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
    fn twilio_params() -> Vec<(String, String)> {
        p(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ])
    }

    #[test]
    fn twilio_published_vector_verifies() {
        assert_eq!(
            verify_twilio("12345", TWILIO_URL, &twilio_params(), Some(TWILIO_SIG)),
            Ok(())
        );
        // Our signer (used by tests and development tools) agrees with Twilio's.
        assert_eq!(
            sign_twilio("12345", TWILIO_URL, &twilio_params()),
            TWILIO_SIG
        );
        // Parameter order on the wire does not matter: they are sorted.
        let mut shuffled = twilio_params();
        shuffled.reverse();
        assert_eq!(
            verify_twilio("12345", TWILIO_URL, &shuffled, Some(TWILIO_SIG)),
            Ok(())
        );
    }

    #[test]
    fn twilio_accepts_the_url_with_or_without_the_default_port() {
        assert_eq!(
            verify_twilio(
                "12345",
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                &twilio_params(),
                Some(TWILIO_SIG)
            ),
            Ok(())
        );
        assert_eq!(
            twilio_url_variants("https://h.example/x?y=1"),
            vec![
                "https://h.example/x?y=1".to_owned(),
                "https://h.example:443/x?y=1".to_owned()
            ]
        );
        assert_eq!(twilio_url_variants("http://h:8080/x")[1], "http://h/x");
        assert_eq!(
            twilio_url_variants("https://[::1]/x")[1],
            "https://[::1]:443/x"
        );
        assert_eq!(
            twilio_url_variants("https://[::1]:8443")[1],
            "https://[::1]"
        );
    }

    #[test]
    fn twilio_refuses_tampering() {
        let mut tampered = twilio_params();
        tampered[2].1 = "9999".into();
        assert_eq!(
            verify_twilio("12345", TWILIO_URL, &tampered, Some(TWILIO_SIG)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_twilio(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=3",
                &twilio_params(),
                Some(TWILIO_SIG)
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_twilio("54321", TWILIO_URL, &twilio_params(), Some(TWILIO_SIG)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_twilio("12345", TWILIO_URL, &twilio_params(), None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_twilio("12345", TWILIO_URL, &twilio_params(), Some("%%%")),
            Err(SignatureError::Malformed)
        );
    }

    // Produced by Stripe's official Node library (stripe 23.1.0):
    // stripe.webhooks.generateTestHeaderString({payload, secret, timestamp}).
    const STRIPE_PAYLOAD: &str =
        r#"{"id":"evt_test_webhook","object":"event","type":"invoice.paid"}"#;
    const STRIPE_SECRET: &str = "whsec_test_secret_for_palisade";
    const STRIPE_T: i64 = 1_795_756_800;
    const STRIPE_HEADER: &str =
        "t=1795756800,v1=b3f3479d3b25c007a6e012917abdb894bdefbed1e047ae37514fe6537704e994";

    #[test]
    fn stripe_official_library_vector_verifies() {
        assert_eq!(
            verify_stripe(
                STRIPE_SECRET,
                Some(STRIPE_HEADER),
                STRIPE_PAYLOAD.as_bytes(),
                STRIPE_T + 10
            ),
            Ok(())
        );
        // Another v1 (an old secret's) alongside does not prevent a match.
        let two = format!(
            "t=1795756800,v1={},{}",
            "00".repeat(32),
            &STRIPE_HEADER[13..]
        );
        assert_eq!(
            verify_stripe(
                STRIPE_SECRET,
                Some(&two),
                STRIPE_PAYLOAD.as_bytes(),
                STRIPE_T
            ),
            Ok(())
        );
    }

    #[test]
    fn stripe_refuses_stale_tampered_and_foreign() {
        let body = STRIPE_PAYLOAD.as_bytes();
        assert_eq!(
            verify_stripe(STRIPE_SECRET, Some(STRIPE_HEADER), body, STRIPE_T + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_stripe(STRIPE_SECRET, Some(STRIPE_HEADER), body, STRIPE_T - 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_stripe(STRIPE_SECRET, Some(STRIPE_HEADER), b"{}", STRIPE_T),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_stripe("whsec_other", Some(STRIPE_HEADER), body, STRIPE_T),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_stripe(STRIPE_SECRET, None, body, STRIPE_T),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_stripe(STRIPE_SECRET, Some("t=1795756800"), body, STRIPE_T),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_stripe(STRIPE_SECRET, Some("v1=zz,t=x"), body, STRIPE_T),
            Err(SignatureError::Malformed)
        );
    }

    // Produced by Node's crypto (an independent ECDSA implementation): a fresh P-256 key,
    // crypto.sign("sha256", timestamp + payload), SPKI DER public key.
    const SG_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEj0aoXEcUo742k42KD6Bl9mCpo1onPlJ/kcCpYS1+0fAwsVqlguiirL9lGxZpz9nfbp8bJj5Y8Lrz23QOavGgpA==";
    const SG_TIMESTAMP: &str = "1795756800";
    const SG_PAYLOAD: &str = "[{\"email\":\"a@example.com\",\"event\":\"delivered\",\"sg_event_id\":\"sg-evt-1\",\"sg_message_id\":\"sg-msg-1\",\"timestamp\":1795756800}]\r\n";
    const SG_SIG: &str = "MEUCIAR5JZObv7DuuGivmJrKgg7g8UZJaymwINXsZoBfjdmVAiEA2mLj+povOlMK4ZNIv7cMYsYwgcwQg1M5oMh9t/NWhX4=";

    #[test]
    fn sendgrid_vector_verifies_and_tampering_is_refused() {
        let key = SendgridKey::parse(SG_KEY).unwrap();
        assert_eq!(
            verify_sendgrid(
                &key,
                Some(SG_TIMESTAMP),
                SG_PAYLOAD.as_bytes(),
                Some(SG_SIG)
            ),
            Ok(())
        );
        assert_eq!(
            verify_sendgrid(
                &key,
                Some("1795756801"),
                SG_PAYLOAD.as_bytes(),
                Some(SG_SIG)
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_sendgrid(&key, Some(SG_TIMESTAMP), b"[]", Some(SG_SIG)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_sendgrid(&key, Some(SG_TIMESTAMP), SG_PAYLOAD.as_bytes(), None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_sendgrid(
                &key,
                Some(SG_TIMESTAMP),
                SG_PAYLOAD.as_bytes(),
                Some("bm90IGRlcg==")
            ),
            Err(SignatureError::Malformed)
        );
        assert!(SendgridKey::parse("not a key").is_none());
    }

    #[test]
    fn mailgun_verifies_and_refuses() {
        // HMAC-SHA256("key-test", "1795756800" + "tok") computed independently:
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"key-test",b"1795756800tok",hashlib.sha256).hexdigest())'
        let sig = "be6ffe7189150a9bab51b379846da67da7369e710cf8be46a894a86b81680f1f";
        let ok = verify_mailgun(
            "key-test",
            Some("1795756800"),
            Some("tok"),
            Some(sig),
            1_795_756_800,
        );
        assert_eq!(ok, Ok(()));
        assert_eq!(
            verify_mailgun(
                "key-test",
                Some("1795756800"),
                Some("tok2"),
                Some(sig),
                1_795_756_800
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_mailgun(
                "key-test",
                Some("1795756800"),
                Some("tok"),
                Some(sig),
                1_795_757_200
            ),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_mailgun("key-test", None, Some("tok"), Some(sig), 0),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn a_dev_signer_signs_what_its_public_key_verifies() {
        let signer = SendgridDevSigner::generate().unwrap();
        let key = SendgridKey::parse(&signer.public_key_b64().unwrap()).unwrap();
        let body = br#"[{"event":"delivered"}]"#;
        let sig = signer.sign("1700000000", body);
        assert_eq!(
            verify_sendgrid(&key, Some("1700000000"), body, Some(&sig)),
            Ok(())
        );
        assert_eq!(
            verify_sendgrid(&key, Some("1700000001"), body, Some(&sig)),
            Err(SignatureError::Mismatch)
        );
        let again = SendgridDevSigner::from_scalar_b64(&signer.scalar_b64()).unwrap();
        assert_eq!(again.public_key_b64(), signer.public_key_b64());
    }

    #[test]
    fn extreme_timestamps_are_stale_not_a_panic() {
        assert!(!within(1_700_000_000, i64::MIN, 300));
        assert!(!within(i64::MIN, i64::MAX, 300));
        assert!(within(1_700_000_000, 1_700_000_300, 300));
        let header = format!("t={},v1=00", i64::MIN);
        assert_eq!(
            verify_stripe("whsec_x", Some(&header), b"{}", 1_700_000_000),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_mailgun(
                "k",
                Some(&i64::MIN.to_string()),
                Some("t"),
                Some("00"),
                1_700_000_000
            ),
            Err(SignatureError::Stale)
        );
    }
}
