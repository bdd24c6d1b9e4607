//! The S3 API's access keys: made, listed, revoked, and looked up for a
//! signature check. An id is 20 upper-case letters and digits starting
//! `CDN`, a secret 40 random letters and digits (about 238 bits), the
//! shapes S3 clients expect.

use cdn_common::wire::{AccessKeyInfo, CreatedAccessKey, Scope};
use uuid::Uuid;

use super::{Access, Principal, check_name_and_scopes, scope_names, scopes_from};
use crate::catalog::AccessKeyRecord;
use crate::error::ApiError;

const ID_PREFIX: &str = "CDN";
const ID_LEN: usize = 20;
const SECRET_LEN: usize = 40;

/// A live access key: who signed, and the secret to check it with.
pub struct SigningKey {
    pub principal: Principal,
    pub secret: String,
}

impl Access {
    pub async fn create_access_key(
        &self,
        name: &str,
        scopes: &[Scope],
    ) -> Result<CreatedAccessKey, ApiError> {
        let (name, scopes) = check_name_and_scopes("an access key", name, scopes)?;
        let names = scope_names(&scopes);
        let upper = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let access_key_id = format!(
            "{ID_PREFIX}{}",
            random_text(upper, ID_LEN - ID_PREFIX.len())?
        );
        let secret = random_text(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            SECRET_LEN,
        )?;
        let record = self
            .catalog
            .insert_access_key(Uuid::now_v7(), &access_key_id, &secret, name, &names)
            .await?
            // 87 random bits of id do not collide; should they, nothing is stored.
            .ok_or_else(|| anyhow::anyhow!("a new access key id is taken"))?;
        tracing::info!(key = %record.access_key_id, name = %record.name, scopes = ?names, "access key created");
        Ok(CreatedAccessKey {
            id: record.id,
            name: record.name,
            scopes,
            created_at: record.created_at,
            access_key_id: record.access_key_id,
            secret_access_key: secret,
        })
    }

    pub async fn list_access_keys(&self) -> Result<Vec<AccessKeyInfo>, ApiError> {
        let records = self.catalog.list_access_keys().await?;
        Ok(records.iter().map(key_info).collect())
    }

    pub async fn revoke_access_key(&self, id: Uuid) -> Result<AccessKeyInfo, ApiError> {
        let record = self
            .catalog
            .revoke_access_key(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no access key with id {id}")))?;
        tracing::info!(key = %record.access_key_id, name = %record.name, "access key revoked");
        Ok(key_info(&record))
    }

    /// The live key `access_key_id`, asked of the catalogue on every
    /// request so a revocation holds from the next one. `None` for an
    /// unknown or revoked key alike.
    pub async fn signing_key(&self, access_key_id: &str) -> Result<Option<SigningKey>, ApiError> {
        let found = self.catalog.live_access_key(access_key_id).await?;
        Ok(found.map(|(record, secret)| {
            self.touch_key(record.id);
            let info = key_info(&record);
            SigningKey {
                principal: Principal {
                    token: cdn_common::wire::TokenInfo {
                        id: info.id,
                        name: info.name,
                        scopes: info.scopes,
                        created_at: info.created_at,
                        last_used_at: info.last_used_at,
                        revoked_at: info.revoked_at,
                    },
                },
                secret,
            }
        }))
    }
}

/// `len` characters drawn uniformly from `alphabet` (rejection sampling,
/// so no character is likelier than another).
fn random_text(alphabet: &[u8], len: usize) -> Result<String, ApiError> {
    let limit = 256 - 256 % alphabet.len();
    let mut text = String::with_capacity(len);
    // Bounded: each round keeps most of its bytes.
    for _ in 0..64 {
        let mut bytes = [0u8; 64];
        getrandom::fill(&mut bytes)
            .map_err(|err| anyhow::anyhow!("the system gave no random bytes: {err}"))?;
        for byte in bytes {
            if (byte as usize) < limit && text.len() < len {
                text.push(alphabet[byte as usize % alphabet.len()] as char);
            }
        }
        if text.len() == len {
            return Ok(text);
        }
    }
    Err(anyhow::anyhow!("the system's random bytes look broken").into())
}

fn key_info(record: &AccessKeyRecord) -> AccessKeyInfo {
    AccessKeyInfo {
        id: record.id,
        name: record.name.clone(),
        scopes: scopes_from(&record.scopes),
        access_key_id: record.access_key_id.clone(),
        created_at: record.created_at,
        last_used_at: record.last_used_at,
        revoked_at: record.revoked_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_text_has_the_length_and_alphabet_asked() {
        let text = random_text(b"AB", 40).unwrap();
        assert_eq!(text.len(), 40);
        assert!(text.bytes().all(|b| b == b'A' || b == b'B'));
        assert_ne!(random_text(b"AB", 40).unwrap(), text);
    }
}
