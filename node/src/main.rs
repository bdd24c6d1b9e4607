use std::process::ExitCode;

use anyhow::Context;
use cdn_node::config::Config;

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
    let config = Config::from_env()?;
    if std::env::args().any(|arg| arg == "--healthcheck") {
        let healthy = cdn_common::service::probe_health(config.listen_addr);
        return Ok(if healthy {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    cdn_common::service::init_tracing();
    let listener = tokio::net::TcpListener::bind(config.listen_addr)
        .await
        .with_context(|| format!("LISTEN_ADDR: cannot listen on {}", config.listen_addr))?;
    cdn_node::run(listener, config, cdn_common::service::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
