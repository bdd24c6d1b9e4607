use std::process::ExitCode;

use anyhow::Context;
use cdn_common::{env, service};
use cdn_dist::config::{Config, SETTINGS};

#[tokio::main]
async fn main() -> ExitCode {
    match start().await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("cdn-dist: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn start() -> anyhow::Result<ExitCode> {
    if env::wants_help() {
        print!(
            "{}",
            env::help(
                "cdn-dist",
                "the distributor of the mini CDN, its public front door.",
                SETTINGS
            )
        );
        return Ok(ExitCode::SUCCESS);
    }
    if std::env::args().any(|arg| arg == "--healthcheck") {
        // Only the address matters here: the rest may be unset.
        let vars = env::Vars::from_env(SETTINGS);
        let healthy = service::probe_health(vars.parse("LISTEN_ADDR")?);
        return Ok(if healthy {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let config = Config::from_env()?;
    service::init_tracing();
    let listener = service::listener(config.listen_addr)
        .await
        .with_context(|| format!("LISTEN_ADDR: cannot listen on {}", config.listen_addr))?;
    service::announce(&listener)?;
    cdn_dist::run(listener, config, service::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
