//! Identifiers that cross the network: which node, which blob.
//!
//! Each is checked once, where it comes from outside (a setting, a URL, a
//! node's answer); past that edge an invalid one cannot be represented.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A storage node's name: `[A-Za-z0-9_-]{1,64}`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a node id (use 1 to 64 of A-Z a-z 0-9 _ -)")]
pub struct InvalidNodeId(String);

impl NodeId {
    pub fn parse(text: &str) -> Result<Self, InvalidNodeId> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if (1..=64).contains(&text.len()) && text.chars().all(allowed) {
            Ok(NodeId(text.to_owned()))
        } else {
            Err(InvalidNodeId(text.chars().take(100).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A blob's name on a node: `[A-Za-z0-9._-]{1,128}` and never `.` or `..`,
/// so it is always one plain file name inside the node's blob directory. It
/// is the only request text that ever becomes a path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid blob key {0:?}: use 1 to 128 of A-Z a-z 0-9 . _ -")]
pub struct InvalidBlobKey(String);

impl BlobKey {
    pub fn parse(text: &str) -> Result<Self, InvalidBlobKey> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        let valid = (1..=128).contains(&text.len())
            && text.chars().all(allowed)
            && text != "."
            && text != "..";
        if valid {
            Ok(BlobKey(text.to_owned()))
        } else {
            Err(InvalidBlobKey(text.chars().take(200).collect()))
        }
    }

    /// A key never used before: a time-ordered UUID.
    pub fn generate() -> Self {
        BlobKey(uuid::Uuid::now_v7().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Display, `FromStr` and serde (as a plain string, checked on the way in)
/// for an identifier with a `parse` and an `as_str`.
macro_rules! text_identifier {
    ($name:ident, $error:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = $error;

            fn from_str(text: &str) -> Result<Self, $error> {
                Self::parse(text)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }

        #[cfg(feature = "sqlx")]
        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <String as sqlx::Type<sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <String as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        #[cfg(feature = "sqlx")]
        impl sqlx::postgres::PgHasArrayType for $name {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <String as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'q> sqlx::Encode<'q, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.0.as_str(), buf)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(
                value: sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                Ok(Self::parse(text)?)
            }
        }
    };
}

text_identifier!(NodeId, InvalidNodeId);
text_identifier!(BlobKey, InvalidBlobKey);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_short_plain_names() {
        assert!(NodeId::parse("node1").is_ok());
        assert!(NodeId::parse("a_b-C").is_ok());
        for bad in ["", "no de", "a/b", "é", &"n".repeat(65)] {
            assert!(NodeId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn blob_keys_accept_plain_names() {
        for key in [
            "a",
            "0190f0c2-1b2c-7def-8abc-0123456789ab",
            "x.y_z-1",
            &"k".repeat(128),
        ] {
            assert!(BlobKey::parse(key).is_ok(), "{key}");
        }
        assert!(BlobKey::parse(BlobKey::generate().as_str()).is_ok());
    }

    #[test]
    fn blob_keys_refuse_anything_that_could_leave_the_directory() {
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

    #[test]
    fn identifiers_are_checked_when_read_from_json() {
        let key: BlobKey = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(serde_json::to_string(&key).unwrap(), "\"abc\"");
        assert!(serde_json::from_str::<BlobKey>("\"../x\"").is_err());
        assert!(serde_json::from_str::<NodeId>("\"a b\"").is_err());
    }
}
