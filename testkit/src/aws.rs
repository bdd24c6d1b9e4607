//! The `aws` command line, signing with one access key against one
//! endpoint, with nothing of the machine's own AWS configuration.

use std::path::Path;

/// `aws`, its arguments still to be added, set to run in `home`, where its
/// config and credential files are written empty of profiles.
pub fn command(
    home: &Path,
    key_id: &str,
    secret: &str,
) -> std::io::Result<tokio::process::Command> {
    std::fs::write(home.join("config"), "[default]\n")?;
    std::fs::write(home.join("credentials"), "")?;
    let mut command = tokio::process::Command::new("aws");
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_ACCESS_KEY_ID", key_id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(home)
        .kill_on_drop(true);
    Ok(command)
}
