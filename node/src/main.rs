use std::process::ExitCode;

use anyhow::Context;
use cdn_common::{env, service};
use cdn_node::config::{Config, SETTINGS};

#[tokio::main]
async fn main() -> ExitCode {
    match start().await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("cdn-node: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn start() -> anyhow::Result<ExitCode> {
    if env::wants_help() {
        print!(
            "{}",
            env::help("cdn-node", "a storage node of the mini CDN.", SETTINGS)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let config = Config::from_env()?;
    if std::env::args().any(|arg| arg == "--healthcheck") {
        let healthy = service::probe_health(config.listen_addr);
        return Ok(if healthy {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    service::init_tracing();
    let listener = service::listener(config.listen_addr)
        .await
        .with_context(|| format!("LISTEN_ADDR: cannot listen on {}", config.listen_addr))?;
    service::announce(&listener)?;
    cdn_node::run(listener, config, service::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
