//! Where `cdn` finds its token: `CDN_TOKEN`, else the file `CDN_TOKEN_FILE`
//! names, else `$XDG_CONFIG_HOME/cdn/token` (`~/.config/cdn/token`).

use std::path::PathBuf;

use anyhow::Context;

/// The token to send, if any. A missing file is no error: public reads
/// need no token, and a refused write says how to give one.
pub fn token() -> anyhow::Result<Option<String>> {
    if let Some(token) = non_empty_var("CDN_TOKEN") {
        return Ok(Some(token));
    }
    let Some(path) = token_file() else {
        return Ok(None);
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.trim().to_owned()).filter(|token| !token.is_empty())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| {
            format!(
                "cannot read the token file {} (CDN_TOKEN_FILE)",
                path.display()
            )
        }),
    }
}

/// Where the token file is looked for.
pub fn token_file() -> Option<PathBuf> {
    if let Some(path) = non_empty_var("CDN_TOKEN_FILE") {
        return Some(PathBuf::from(path));
    }
    let config = match non_empty_var("XDG_CONFIG_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(non_empty_var("HOME")?).join(".config"),
    };
    Some(config.join("cdn").join("token"))
}

fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}
