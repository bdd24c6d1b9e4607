//! Blob keys: the only part of a request that becomes a path on disk.

use std::fmt;

/// A key matching `[A-Za-z0-9._-]{1,128}`, and never `.` or `..`, so it is
/// always one plain file name inside the blob directory.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlobKey(String);

#[derive(Debug, thiserror::Error)]
#[error("invalid blob key {0:?}: use 1 to 128 of A-Z a-z 0-9 . _ -")]
pub struct InvalidKey(String);

impl BlobKey {
    pub fn parse(text: &str) -> Result<Self, InvalidKey> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        let valid = (1..=128).contains(&text.len())
            && text.chars().all(allowed)
            && text != "."
            && text != "..";
        if valid {
            Ok(BlobKey(text.to_owned()))
        } else {
            Err(InvalidKey(text.chars().take(200).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names() {
        for key in [
            "a",
            "0190f0c2-1b2c-7def-8abc-0123456789ab",
            "x.y_z-1",
            &"k".repeat(128),
        ] {
            assert!(BlobKey::parse(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn refuses_anything_that_could_leave_the_directory() {
        for key in [
            "",
            ".",
            "..",
            "a/b",
            "../etc",
            "a b",
            "é",
            &"k".repeat(129),
            "a\0b",
        ] {
            assert!(BlobKey::parse(key).is_err(), "{key:?}");
        }
    }
}
