//! Bearer secrets: how they are made and how they are stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Every token this distributor makes starts so, which makes a leaked one
/// easy to recognise (and to search for in code and logs).
const PREFIX: &str = "cdn_";

/// Secrets given by an operator (`ADMIN_TOKEN`) shorter than this are
/// refused: they could be guessed.
pub const MIN_GIVEN_LEN: usize = 20;

/// A new secret: the prefix and 32 random bytes, URL-safe base64.
pub fn generate() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|err| anyhow::anyhow!("the system gave no random bytes: {err}"))?;
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// What the catalogue keeps of a secret: its SHA-256, hex. Secrets are
/// long and random, so a plain hash is enough to make a stolen table
/// useless; no salt or slow hash is needed.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Random key material for presigned links.
pub fn random_key() -> anyhow::Result<Vec<u8>> {
    let mut key = vec![0u8; 32];
    getrandom::fill(&mut key)
        .map_err(|err| anyhow::anyhow!("the system gave no random bytes: {err}"))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_hashed() {
        let one = generate().unwrap();
        let two = generate().unwrap();
        assert_ne!(one, two);
        assert!(one.starts_with("cdn_"));
        assert_eq!(one.len(), 4 + 43);
        assert_eq!(hash(&one).len(), 64);
        assert_eq!(hash(&one), hash(&one));
        assert_ne!(hash(&one), hash(&two));
    }
}
