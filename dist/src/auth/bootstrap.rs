//! Credentials made or loaded at start-up.
//!
//! The admin token: `ADMIN_TOKEN` when set; else the one in
//! `ADMIN_TOKEN_FILE` when that file exists; else, when the catalogue holds
//! no live admin token, a new one, written to `ADMIN_TOKEN_FILE` (if set)
//! and logged this once. There is never a well-known default.
//!
//! The signing key: `SIGNING_KEY`, else `SIGNING_KEY_FILE`, else a random
//! key kept in the catalogue so links survive restarts.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use uuid::Uuid;

use super::secret;
use crate::catalog::Catalog;
use crate::config::Config;

const ADMIN_SCOPES: [&str; 1] = ["admin"];

pub async fn admin_token(catalog: &Catalog, config: &Config) -> anyhow::Result<()> {
    let given = match &config.admin_token {
        Some(token) => Some((token.expose().to_owned(), "ADMIN_TOKEN")),
        None => match &config.admin_token_file {
            Some(path) => {
                read_secret(path, "ADMIN_TOKEN_FILE")?.map(|token| (token, "ADMIN_TOKEN_FILE"))
            }
            None => None,
        },
    };
    if let Some((token, source)) = given {
        check_given(&token).with_context(|| format!("{source}: the token"))?;
        return keep_given(catalog, &token, source).await;
    }
    if catalog.has_live_admin_token().await? {
        return Ok(());
    }
    let token = secret::generate()?;
    // Written before it is recorded: a token in the catalogue that nobody
    // can find would lock everyone out.
    if let Some(path) = &config.admin_token_file {
        write_private(path, &token)
            .with_context(|| format!("ADMIN_TOKEN_FILE: cannot write {}", path.display()))?;
    }
    let admin = ADMIN_SCOPES.map(String::from);
    catalog
        .insert_token(
            Uuid::now_v7(),
            "admin (generated)",
            &secret::hash(&token),
            &admin,
        )
        .await?;
    let kept = match &config.admin_token_file {
        Some(path) => format!("; it is kept in {}", path.display()),
        None => "; set ADMIN_TOKEN_FILE to keep it in a file".to_owned(),
    };
    // The one time this secret is shown, as the operator's way in.
    tracing::warn!(
        admin_token = %token,
        "generated an admin token: use it as the bearer (CDN_TOKEN) to create others{kept}"
    );
    Ok(())
}

/// Records an operator's token as an admin token, unless it is there.
async fn keep_given(catalog: &Catalog, token: &str, source: &str) -> anyhow::Result<()> {
    let hash = secret::hash(token);
    let admin = ADMIN_SCOPES.map(String::from);
    let name = format!("admin ({source})");
    if catalog
        .insert_token(Uuid::now_v7(), &name, &hash, &admin)
        .await?
        .is_some()
    {
        tracing::info!("the admin token from {source} is recorded");
        return Ok(());
    }
    if let Some(record) = catalog.token_by_hash(&hash).await?
        && record.revoked_at.is_some()
    {
        // A revocation stands: restarting must not bring a token back.
        tracing::warn!(
            token = %record.id,
            "the admin token from {source} was revoked and stays so; set a new one to get in"
        );
    }
    Ok(())
}

fn check_given(token: &str) -> anyhow::Result<()> {
    if token.len() < secret::MIN_GIVEN_LEN {
        anyhow::bail!(
            "must be at least {} characters (e.g. openssl rand -hex 32)",
            secret::MIN_GIVEN_LEN
        );
    }
    if !token.bytes().all(|byte| byte.is_ascii_graphic()) {
        anyhow::bail!("must be visible ASCII without spaces");
    }
    Ok(())
}

/// The trimmed contents of a secret file; `None` when there is no file or
/// it is empty.
fn read_secret(path: &Path, setting: &str) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.trim().to_owned()).filter(|text| !text.is_empty())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("{setting}: cannot read {}", path.display())),
    }
}

/// Writes `secret` readable by this user only, whole or not at all.
fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;

    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let temp = path.with_extension("tmp");
    // A file (or link) left at the temporary path would keep its own
    // permissions, or point elsewhere: start from nothing.
    match std::fs::remove_file(&temp) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)?;
    writeln!(file, "{secret}")?;
    file.sync_all()?;
    std::fs::rename(&temp, path)
}

pub async fn signing_key(catalog: &Catalog, config: &Config) -> anyhow::Result<Vec<u8>> {
    if let Some(key) = &config.signing_key {
        return Ok(key.expose().as_bytes().to_vec());
    }
    if let Some(path) = &config.signing_key_file {
        let key = read_secret(path, "SIGNING_KEY_FILE")?
            .with_context(|| format!("SIGNING_KEY_FILE: {} is missing or empty", path.display()))?;
        if key.len() < MIN_KEY_LEN {
            anyhow::bail!("SIGNING_KEY_FILE: the key must be at least {MIN_KEY_LEN} characters");
        }
        return Ok(key.into_bytes());
    }
    Ok(catalog.signing_key(&secret::random_key()?).await?)
}

/// The shortest signing key accepted from an operator.
pub const MIN_KEY_LEN: usize = 32;
