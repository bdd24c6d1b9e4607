//! Presigned links to an object's bytes: `…/content/{id}/data?expires=<unix
//! seconds>&signature=<hex HMAC-SHA256>` over the method, the path and the
//! expiry. Changing the key (`SIGNING_KEY`) invalidates every link made
//! with the old one.

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use uuid::Uuid;

type HmacSha256 = Hmac<sha2::Sha256>;

/// The key links are signed with. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Signer {
    key: Arc<[u8]>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer(..)")
    }
}

/// Why a presigned link is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link expired")]
    Expired,
    #[error("the link's signature does not match")]
    BadSignature,
}

impl Signer {
    pub fn new(key: &[u8]) -> Self {
        Signer { key: key.into() }
    }

    fn mac(&self, id: Uuid, expires: i64) -> HmacSha256 {
        // HMAC takes a key of any length.
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(format!("GET\n/content/{id}/data\n{expires}").as_bytes());
        mac
    }

    /// The hex signature of a link to `id`'s bytes valid until `expires`.
    pub fn sign(&self, id: Uuid, expires: i64) -> String {
        hex::encode(self.mac(id, expires).finalize().into_bytes())
    }

    /// Checks a link's signature (in constant time) and its expiry against
    /// `now`, both in Unix seconds.
    pub fn verify(
        &self,
        id: Uuid,
        expires: i64,
        signature: &str,
        now: i64,
    ) -> Result<(), LinkError> {
        let signature = hex::decode(signature).map_err(|_| LinkError::BadSignature)?;
        self.mac(id, expires)
            .verify_slice(&signature)
            .map_err(|_| LinkError::BadSignature)?;
        if expires <= now {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_works_until_it_expires_and_only_as_signed() {
        let signer = Signer::new(b"0123456789abcdef0123456789abcdef");
        let id = Uuid::now_v7();
        let signature = signer.sign(id, 1000);
        assert_eq!(signer.verify(id, 1000, &signature, 999), Ok(()));
        assert_eq!(
            signer.verify(id, 1000, &signature, 1000),
            Err(LinkError::Expired)
        );
        assert_eq!(
            signer.verify(id, 1001, &signature, 999),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            signer.verify(Uuid::now_v7(), 1000, &signature, 999),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            signer.verify(id, 1000, "not hex", 999),
            Err(LinkError::BadSignature)
        );
        let other = Signer::new(b"another key, another set of links");
        assert_eq!(
            other.verify(id, 1000, &signature, 999),
            Err(LinkError::BadSignature)
        );
    }
}
