//! Who may do what: bearer tokens and their scopes, the admin token made at
//! first start, and presigned links to private content. A service-layer
//! module beside `objects`: the API's extractors call it, and it keeps its
//! state in the catalogue.
//!
//! - this module: [`Access`], resolving a bearer secret to a [`Principal`]
//!   (asking PostgreSQL every time, so a revoked token stops at once), and
//!   managing tokens.
//! - `bootstrap`: the admin token and the signing key at start-up.
//! - `presign`: signing and checking links.
//! - `secret`: making and hashing secrets.
//! - `keys`: the S3 API's access keys.

mod bootstrap;
mod keys;
mod presign;
mod secret;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cdn_common::wire::{CreatedToken, Scope, TokenInfo};
use chrono::Utc;
use uuid::Uuid;

use crate::catalog::{Catalog, TokenRecord};
use crate::config::Config;
use crate::error::ApiError;

pub use presign::LinkError;
use presign::Signer;

/// `last_used_at` is written at most this often per token, so a busy token
/// does not cost a write per request.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// The longest a presigned link may live: a leaked link should not work
/// for ever.
pub const MAX_LINK_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// A caller proven by a live token.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The token, as its owner may see it (never its secret).
    pub token: TokenInfo,
}

impl Principal {
    /// `admin` implies every scope.
    pub fn allows(&self, scope: Scope) -> bool {
        self.token
            .scopes
            .iter()
            .any(|held| *held == scope || *held == Scope::Admin)
    }
}

/// Tokens, links and the settings that say what is public.
#[derive(Clone)]
pub struct Access {
    catalog: Catalog,
    signer: Signer,
    public_listing: bool,
    /// When each token's `last_used_at` was last written by this process.
    touched: Arc<Mutex<HashMap<Uuid, Instant>>>,
}

impl Access {
    /// Makes sure an admin token exists (see `bootstrap`) and loads the
    /// signing key.
    pub async fn start(catalog: Catalog, config: &Config) -> anyhow::Result<Self> {
        bootstrap::admin_token(&catalog, config).await?;
        let key = bootstrap::signing_key(&catalog, config).await?;
        Ok(Access {
            catalog,
            signer: Signer::new(&key),
            public_listing: config.public_listing,
            touched: Arc::default(),
        })
    }

    /// Whether anyone may list all public content.
    pub fn public_listing(&self) -> bool {
        self.public_listing
    }

    /// The live token whose secret is `secret`. Unknown and revoked tokens
    /// are both 401: a caller learns nothing about which it was.
    pub async fn authenticate(&self, secret: &str) -> Result<Principal, ApiError> {
        let record = self.catalog.token_by_hash(&secret::hash(secret)).await?;
        let Some(record) = record.filter(|record| record.revoked_at.is_none()) else {
            return Err(ApiError::Unauthorized(
                "the bearer token is unknown or revoked".into(),
            ));
        };
        self.touch(record.id);
        Ok(Principal {
            token: info(&record),
        })
    }

    /// Records an access key's use, as [`Access::touch`] does a token's.
    fn touch_key(&self, id: Uuid) {
        if self.due_for_touch(id) {
            let catalog = self.catalog.clone();
            tokio::spawn(async move {
                if let Err(err) = catalog.touch_access_key(id).await {
                    tracing::debug!(error = %err, "cannot record an access key's use");
                }
            });
        }
    }

    /// Whether `id`'s use should be written now: at most once a minute.
    fn due_for_touch(&self, id: Uuid) -> bool {
        let mut touched = self
            .touched
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let now = Instant::now();
        if touched
            .get(&id)
            .is_some_and(|last| now.duration_since(*last) < TOUCH_EVERY)
        {
            return false;
        }
        touched.insert(id, now);
        true
    }

    /// Records the use in the background, at most once a minute per token.
    fn touch(&self, id: Uuid) {
        if !self.due_for_touch(id) {
            return;
        }
        let catalog = self.catalog.clone();
        tokio::spawn(async move {
            if let Err(err) = catalog.touch_token(id).await {
                tracing::debug!(error = %err, "cannot record a token's use");
            }
        });
    }

    pub async fn create_token(
        &self,
        name: &str,
        scopes: &[Scope],
    ) -> Result<CreatedToken, ApiError> {
        let (name, scopes) = check_name_and_scopes("a token", name, scopes)?;
        let secret = secret::generate()?;
        let names = scope_names(&scopes);
        let record = self
            .catalog
            .insert_token(Uuid::now_v7(), name, &secret::hash(&secret), &names)
            .await?
            // 256 random bits do not collide; should they, nothing is stored.
            .ok_or_else(|| anyhow::anyhow!("a new token's hash is taken"))?;
        tracing::info!(token = %record.id, name = %record.name, scopes = ?names, "token created");
        Ok(CreatedToken {
            id: record.id,
            name: record.name,
            scopes,
            created_at: record.created_at,
            token: secret,
        })
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, ApiError> {
        let records = self.catalog.list_tokens().await?;
        Ok(records.iter().map(info).collect())
    }

    pub async fn revoke_token(&self, id: Uuid) -> Result<TokenInfo, ApiError> {
        let record = self
            .catalog
            .revoke_token(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no token with id {id}")))?;
        tracing::info!(token = %record.id, name = %record.name, "token revoked");
        Ok(info(&record))
    }

    /// A presigned link's query for `id`'s bytes, valid for `lifetime`:
    /// its expiry (Unix seconds) and signature.
    pub fn presign(&self, id: Uuid, lifetime: Duration) -> Result<(i64, String), ApiError> {
        if lifetime.is_zero() || lifetime > MAX_LINK_LIFETIME {
            return Err(ApiError::BadRequest(format!(
                "a link may live from 1s to {}",
                humantime::format_duration(MAX_LINK_LIFETIME)
            )));
        }
        let expires = Utc::now().timestamp() + lifetime.as_secs().max(1) as i64;
        Ok((expires, self.signer.sign(id, expires)))
    }

    /// Checks a presigned link to `id`'s bytes.
    pub fn check_link(&self, id: Uuid, expires: i64, signature: &str) -> Result<(), LinkError> {
        self.signer
            .verify(id, expires, signature, Utc::now().timestamp())
    }
}

fn scopes_of(record: &TokenRecord) -> Vec<Scope> {
    scopes_from(&record.scopes)
}

fn scopes_from(names: &[String]) -> Vec<Scope> {
    // The tables' CHECKs allow only known names; anything else grants nothing.
    names.iter().filter_map(|name| name.parse().ok()).collect()
}

fn scope_names(scopes: &[Scope]) -> Vec<String> {
    scopes.iter().map(|scope| scope.to_string()).collect()
}

/// A credential's name (trimmed) and its scopes (sorted, once each).
fn check_name_and_scopes<'a>(
    what: &str,
    name: &'a str,
    scopes: &[Scope],
) -> Result<(&'a str, Vec<Scope>), ApiError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "{what}'s name must be 1 to 100 bytes of text without control characters"
        )));
    }
    if scopes.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "{what} needs at least one scope: read, write or admin"
        )));
    }
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    Ok((name, scopes))
}

fn info(record: &TokenRecord) -> TokenInfo {
    TokenInfo {
        id: record.id,
        name: record.name.clone(),
        scopes: scopes_of(record),
        created_at: record.created_at,
        last_used_at: record.last_used_at,
        revoked_at: record.revoked_at,
    }
}
