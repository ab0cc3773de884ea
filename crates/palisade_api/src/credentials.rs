//! Credentials the server generates and shows exactly once: API keys, Amazon Connect event
//! credentials, webhook signing secrets, and the tokens of emailed links (invitations, password
//! resets, email verifications). Each is 32 bytes from the operating system's CSPRNG. API keys
//! and Connect credentials are base64url (unpadded) behind a recognisable prefix (`pk_`,
//! `pcc_`), so they can be told apart from JWTs and found by secret scanners; a webhook secret
//! is standard base64, padded, behind `whsec_`, as the Standard Webhooks libraries read it; a
//! link's token is bare base64url. None is ever logged; their `Debug` is redacted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::ApiError;

/// What every API key starts with.
pub const API_KEY_PREFIX: &str = "pk_";
/// What every webhook signing secret starts with (Stripe's convention, widely recognised).
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";
/// Length of base64url (no padding) of 32 bytes.
const ENCODED_32_BYTES: usize = 43;
/// How many characters of the random part the displayed prefix keeps.
const DISPLAY_CHARS: usize = 8;

fn random_32() -> Result<[u8; 32], ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
    Ok(bytes)
}

/// What every Amazon Connect event credential starts with (the header
/// `X-Palisade-Connect-Key` of an EventBridge connection).
pub const CONNECT_CREDENTIAL_PREFIX: &str = "pcc_";

/// A freshly minted API key or Amazon Connect event credential: the key itself (to show once),
/// its displayable prefix, and the SHA-256 that is stored instead of it.
pub struct GeneratedApiKey {
    key: String,
    prefix_len: usize,
    hash: [u8; 32],
}

impl GeneratedApiKey {
    /// Mints an API key: `pk_` + base64url(32 random bytes).
    pub fn generate() -> Result<Self, ApiError> {
        Self::with_prefix(API_KEY_PREFIX)
    }

    /// Mints an Amazon Connect event credential: `pcc_` + base64url(32 random bytes).
    pub fn generate_connect_credential() -> Result<Self, ApiError> {
        Self::with_prefix(CONNECT_CREDENTIAL_PREFIX)
    }

    fn with_prefix(prefix: &'static str) -> Result<Self, ApiError> {
        let key = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random_32()?));
        let hash = sha256(&key);
        Ok(Self {
            key,
            prefix_len: prefix.len(),
            hash,
        })
    }

    /// The key, for the one response that shows it.
    pub fn expose(&self) -> &str {
        &self.key
    }

    /// The prefix (`pk_`, `pcc_`) and the first 8 characters of the random part: enough to
    /// tell keys apart in a list, far too little to guess the rest (the other 35 characters
    /// carry 210 bits).
    pub fn display_prefix(&self) -> String {
        self.key[..self.prefix_len + DISPLAY_CHARS].to_owned()
    }

    /// SHA-256 of the whole key: what the database stores and looks up.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }
}

impl std::fmt::Debug for GeneratedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GeneratedApiKey(<redacted>)")
    }
}

fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Whether a bearer value is meant as an API key rather than a JWT (JWTs start with `eyJ`).
pub fn looks_like_api_key(candidate: &str) -> bool {
    candidate.starts_with(API_KEY_PREFIX)
}

/// The SHA-256 to look a presented key up by, or `None` when it cannot be one of ours (wrong
/// prefix, length or alphabet), which spares the database a lookup that cannot match.
pub fn api_key_hash(candidate: &str) -> Option<[u8; 32]> {
    prefixed_key_hash(candidate, API_KEY_PREFIX)
}

/// The SHA-256 to look a presented Amazon Connect event credential up by, or `None` when it
/// cannot be one of ours, like [`api_key_hash`].
pub fn connect_credential_hash(candidate: &str) -> Option<[u8; 32]> {
    prefixed_key_hash(candidate, CONNECT_CREDENTIAL_PREFIX)
}

fn prefixed_key_hash(candidate: &str, prefix: &str) -> Option<[u8; 32]> {
    let random = candidate.strip_prefix(prefix)?;
    let well_formed = random.len() == ENCODED_32_BYTES
        && random
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| sha256(candidate))
}

/// A new webhook signing secret: `whsec_` + standard base64 (with its padding) of 32 random
/// bytes, as the Standard Webhooks libraries read it (sql/V0150 respelled older ones).
pub fn generate_webhook_secret() -> Result<String, ApiError> {
    Ok(format!(
        "{WEBHOOK_SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(random_32()?)
    ))
}

/// The token of an emailed single-use link (an invitation, a password reset or an email
/// verification): base64url of
/// 32 random bytes. The link carries it; the database keeps only its SHA-256.
pub struct LinkToken {
    token: String,
    hash: [u8; 32],
}

impl LinkToken {
    /// Mints a token.
    pub fn generate() -> Result<Self, ApiError> {
        let token = URL_SAFE_NO_PAD.encode(random_32()?);
        let hash = sha256(&token);
        Ok(Self { token, hash })
    }

    /// The token, for the one mail that carries it.
    pub fn expose(&self) -> &str {
        &self.token
    }

    /// SHA-256 of the token: what the database stores and looks up.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }
}

impl std::fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkToken(<redacted>)")
    }
}

/// The SHA-256 to look a presented link token up by, or `None` when it cannot be one of ours
/// (wrong length or alphabet), which spares the database a lookup that cannot match.
pub fn link_token_hash(candidate: &str) -> Option<[u8; 32]> {
    let well_formed = candidate.len() == ENCODED_32_BYTES
        && candidate
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| sha256(candidate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_tokens_round_trip_and_are_redacted() {
        let Ok(t) = LinkToken::generate() else {
            panic!("no randomness")
        };
        assert_eq!(t.expose().len(), 43);
        assert_eq!(link_token_hash(t.expose()), Some(t.hash()));
        assert_eq!(link_token_hash("short"), None);
        assert_eq!(link_token_hash(&format!("{}!", &t.expose()[1..])), None);
        assert_eq!(format!("{t:?}"), "LinkToken(<redacted>)");
    }

    #[test]
    fn api_keys_have_the_documented_shape_and_hash() {
        let Ok(k) = GeneratedApiKey::generate() else {
            panic!("no randomness")
        };
        assert!(k.expose().starts_with("pk_"));
        assert_eq!(k.expose().len(), 3 + 43);
        assert_eq!(k.display_prefix().len(), 11);
        assert!(k.expose().starts_with(&k.display_prefix()));
        assert_eq!(api_key_hash(k.expose()), Some(k.hash()));
        assert!(looks_like_api_key(k.expose()));
        assert_eq!(format!("{k:?}"), "GeneratedApiKey(<redacted>)");
        let Ok(other) = GeneratedApiKey::generate() else {
            panic!("no randomness")
        };
        assert_ne!(k.expose(), other.expose());
    }

    #[test]
    fn connect_credentials_have_their_own_prefix() {
        let Ok(k) = GeneratedApiKey::generate_connect_credential() else {
            panic!("no randomness")
        };
        assert!(k.expose().starts_with("pcc_"));
        assert_eq!(k.expose().len(), 4 + 43);
        assert_eq!(k.display_prefix().len(), 12);
        assert_eq!(connect_credential_hash(k.expose()), Some(k.hash()));
        assert_eq!(api_key_hash(k.expose()), None);
        assert_eq!(
            connect_credential_hash(&format!("pk_{}", &k.expose()[4..])),
            None
        );
    }

    #[test]
    fn malformed_keys_are_not_looked_up() {
        for bad in [
            "",
            "pk_",
            "pk_short",
            "sk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "pk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
            "pk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert_eq!(api_key_hash(bad), None, "{bad:?}");
        }
        assert!(api_key_hash("pk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").is_some());
    }

    #[test]
    fn webhook_secrets_match_the_database_check() {
        let Ok(s) = generate_webhook_secret() else {
            panic!("no randomness")
        };
        // sql/V0150: signing_secret ~ '^whsec_[A-Za-z0-9+/]{43}=$'
        let random = s.strip_prefix("whsec_").unwrap_or_default();
        assert_eq!(random.len(), 44);
        assert!(random.ends_with('='));
        assert!(
            random[..43]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        );
    }
}
