//! How the distributor and the storage nodes trust each other: the shared
//! node secret, sent as a bearer on every internal call, and the signed
//! read URLs that let a client fetch one blob from a node for a short time.
//!
//! Both sides live here so the signer and the checker cannot disagree on a
//! byte of the signed text.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

use crate::env::{EnvError, Setting, Vars};

/// The longest a signed read URL may be valid: a node refuses any whose
/// expiry lies further ahead, so a leaked secret-free URL cannot live long.
pub const MAX_SIGNED_READ: Duration = Duration::from_secs(300);

/// The setting both services read their secret's file from.
pub const NODE_SECRET_FILE: Setting = Setting {
    name: "NODE_SECRET_FILE",
    default: None,
    about: "A file holding NODE_SECRET, read when NODE_SECRET is unset.",
};

/// Secrets shorter than this are refused: they could be guessed.
const MIN_SECRET_LEN: usize = 16;

/// The secret shared by the distributor and every node. Its `Debug` never
/// shows it, so it cannot end up in a log line.
#[derive(Clone)]
pub struct NodeSecret(Arc<str>);

impl fmt::Debug for NodeSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("NodeSecret(..)")
    }
}

impl NodeSecret {
    /// Checks that `text` is long enough and fits in an HTTP header.
    pub fn new(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.len() < MIN_SECRET_LEN {
            return Err(format!(
                "must be at least {MIN_SECRET_LEN} characters (e.g. openssl rand -hex 32)"
            ));
        }
        if !text.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err("must be visible ASCII without spaces".into());
        }
        Ok(NodeSecret(text.into()))
    }

    /// Reads `NODE_SECRET`, else the file `NODE_SECRET_FILE` names. Either
    /// way, a missing secret is an error that names `NODE_SECRET`.
    pub fn from_vars(vars: &Vars) -> Result<Self, EnvError> {
        let error = |message: String| EnvError {
            name: "NODE_SECRET",
            message,
        };
        let text = match (vars.given("NODE_SECRET"), vars.given("NODE_SECRET_FILE")) {
            (Some(text), _) => text,
            (None, Some(path)) => std::fs::read_to_string(&path).map_err(|err| {
                error(format!(
                    "not set, and NODE_SECRET_FILE {path:?} cannot be read: {err}"
                ))
            })?,
            (None, None) => {
                return Err(error(
                    "is required (or NODE_SECRET_FILE): the secret shared by the distributor and its nodes"
                        .into(),
                ));
            }
        };
        NodeSecret::new(&text).map_err(error)
    }

    /// The `Authorization` header value of an internal call.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// Whether an `Authorization` header value carries this secret, compared
    /// in constant time so its bytes cannot be found one at a time.
    pub fn accepts(&self, authorization: &[u8]) -> bool {
        let Some(presented) = authorization.strip_prefix(b"Bearer ") else {
            return false;
        };
        presented.ct_eq(self.0.as_bytes()).into()
    }

    fn mac(&self) -> Hmac<sha2::Sha256> {
        Hmac::new_from_slice(self.0.as_bytes()).expect("HMAC takes a key of any length")
    }
}

/// What a signed read URL lets its holder do: read the blob `key` until
/// `expires`, served with this type and disposition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedRead {
    pub key: String,
    /// Unix seconds.
    pub expires: u64,
    pub content_type: String,
    pub disposition: String,
}

/// Why a signed read was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignedReadError {
    #[error("the signed URL has expired")]
    Expired,
    #[error("the signed URL is valid for longer than a node accepts")]
    TooLong,
    #[error("the signature does not match")]
    BadSignature,
}

impl SignedRead {
    /// The text signed: method, path, expiry, type and disposition, one a
    /// line. Header values cannot hold a line break, so no field can pass
    /// itself off as the next.
    fn message(&self) -> String {
        format!(
            "GET\n/blobs/{}\n{}\n{}\n{}",
            self.key, self.expires, self.content_type, self.disposition
        )
    }

    /// The hex HMAC-SHA256 of [`SignedRead::message`].
    pub fn signature(&self, secret: &NodeSecret) -> String {
        let mut mac = secret.mac();
        mac.update(self.message().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Checks `signature` and the expiry against `now` (Unix seconds).
    pub fn verify(
        &self,
        secret: &NodeSecret,
        signature: &str,
        now: u64,
    ) -> Result<(), SignedReadError> {
        let Ok(signature) = hex::decode(signature) else {
            return Err(SignedReadError::BadSignature);
        };
        let mut mac = secret.mac();
        mac.update(self.message().as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| SignedReadError::BadSignature)?;
        if self.expires < now {
            return Err(SignedReadError::Expired);
        }
        if self.expires > now + MAX_SIGNED_READ.as_secs() {
            return Err(SignedReadError::TooLong);
        }
        Ok(())
    }
}

/// Now, in Unix seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Setting;

    fn secret() -> NodeSecret {
        NodeSecret::new("0123456789abcdef-secret").unwrap()
    }

    fn read() -> SignedRead {
        SignedRead {
            key: "k1".into(),
            expires: 1_000,
            content_type: "text/html".into(),
            disposition: "inline; filename=\"a.html\"".into(),
        }
    }

    #[test]
    fn a_signature_holds_for_exactly_what_was_signed() {
        let signature = read().signature(&secret());
        assert_eq!(read().verify(&secret(), &signature, 900), Ok(()));
        let changes: [fn(&mut SignedRead); 4] = [
            |read| read.key = "k2".into(),
            |read| read.expires += 1,
            |read| read.content_type = "text/plain".into(),
            |read| read.disposition = "attachment".into(),
        ];
        for change in changes {
            let mut altered = read();
            change(&mut altered);
            assert_eq!(
                altered.verify(&secret(), &signature, 900),
                Err(SignedReadError::BadSignature)
            );
        }
        let other = NodeSecret::new("another-secret-of-16").unwrap();
        assert_eq!(
            read().verify(&other, &signature, 900),
            Err(SignedReadError::BadSignature)
        );
        assert_eq!(
            read().verify(&secret(), "zz", 900),
            Err(SignedReadError::BadSignature)
        );
    }

    #[test]
    fn a_signature_lasts_until_its_expiry_and_never_long() {
        let signature = read().signature(&secret());
        assert_eq!(read().verify(&secret(), &signature, 1_000), Ok(()));
        assert_eq!(
            read().verify(&secret(), &signature, 1_001),
            Err(SignedReadError::Expired)
        );
        assert_eq!(
            read().verify(&secret(), &signature, 1_000 - 301),
            Err(SignedReadError::TooLong)
        );
    }

    #[test]
    fn bearers_match_only_the_secret() {
        let secret = secret();
        assert!(secret.accepts(secret.bearer().as_bytes()));
        assert!(!secret.accepts(b"Bearer 0123456789abcdef-secreT"));
        assert!(!secret.accepts(b"Bearer "));
        assert!(!secret.accepts(b"0123456789abcdef-secret"));
        assert!(!format!("{secret:?}").contains("0123"));
    }

    const SETTINGS: &[Setting] = &[
        Setting {
            name: "NODE_SECRET",
            default: None,
            about: "",
        },
        Setting {
            name: "NODE_SECRET_FILE",
            default: None,
            about: "",
        },
    ];

    #[test]
    fn the_secret_comes_from_the_variable_or_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "from-the-file-0123456789\n").unwrap();
        let path = file.display().to_string();
        let from =
            |pairs: Vec<(&str, &str)>| NodeSecret::from_vars(&Vars::from_pairs(SETTINGS, pairs));
        let secret = from(vec![("NODE_SECRET_FILE", &path)]).unwrap();
        assert!(secret.accepts(b"Bearer from-the-file-0123456789"));
        let secret = from(vec![
            ("NODE_SECRET", "from-the-variable-0123"),
            ("NODE_SECRET_FILE", &path),
        ])
        .unwrap();
        assert!(secret.accepts(b"Bearer from-the-variable-0123"));
        for pairs in [
            vec![],
            vec![("NODE_SECRET", "short")],
            vec![("NODE_SECRET_FILE", "/nonexistent/secret")],
        ] {
            assert_eq!(from(pairs).unwrap_err().name, "NODE_SECRET");
        }
    }
}
