//! Who may read what: content visibility, API tokens and their scopes, and
//! presigned links.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Whether reading an object's bytes and metadata needs a credential.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(
    feature = "sqlx",
    sqlx(type_name = "content_visibility", rename_all = "lowercase")
)]
pub enum Visibility {
    /// Anyone may read it, with no credential.
    #[default]
    Public,
    /// Readable with a `read` token or a presigned link.
    Private,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Visibility {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "public" => Ok(Visibility::Public),
            "private" => Ok(Visibility::Private),
            _ => Err(format!(
                "{text:?} is not a visibility: use public or private"
            )),
        }
    }
}

/// What a token allows. `admin` implies the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Reading private content and listing everything.
    Read,
    /// Uploading, replacing, renaming and deleting content.
    Write,
    /// Managing tokens.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == text.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("{text:?} is not a scope: use read, write or admin"))
    }
}

/// Body of `POST /tokens`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
    pub scopes: Vec<Scope>,
}

/// Answer to `POST /tokens`: the only time the secret is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    /// The bearer secret; the server keeps only its hash.
    pub token: String,
}

/// A token as `GET /tokens` lists it, without its secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
}

/// Body of `POST /content/{id}/share`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// How long the link works, e.g. `"1h"` or `"7d"`; one hour when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
}

/// Answer to `POST /content/{id}/share`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedLink {
    /// The presigned URL of the bytes.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_visibility_read_their_names() {
        assert_eq!("write".parse::<Scope>(), Ok(Scope::Write));
        assert_eq!(" Admin ".parse::<Scope>(), Ok(Scope::Admin));
        assert!("root".parse::<Scope>().is_err());
        assert_eq!("private".parse::<Visibility>(), Ok(Visibility::Private));
        assert!("secret".parse::<Visibility>().is_err());
        assert_eq!(
            serde_json::to_string(&Visibility::Private).unwrap(),
            "\"private\""
        );
    }
}

/// Body of `POST /keys`: a new S3 access key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccessKey {
    pub name: String,
    pub scopes: Vec<Scope>,
}

/// Answer to `POST /keys`: the only time the secret is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedAccessKey {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// An access key as `GET /keys` lists it, without its secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessKeyInfo {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub access_key_id: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessKeyList {
    pub keys: Vec<AccessKeyInfo>,
}

/// Body of `PATCH /buckets/{name}`: who may read the bucket's objects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketPatch {
    pub visibility: Visibility,
}

/// A bucket as `PATCH /buckets/{name}` answers it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BucketInfo {
    pub name: String,
    /// Public buckets are listed and read without a credential, and so are
    /// their objects.
    pub visibility: Visibility,
}
