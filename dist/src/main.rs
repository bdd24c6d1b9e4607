use std::process::ExitCode;

use anyhow::Context;
use cdn_dist::config::Config;

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
    if std::env::args().any(|arg| arg == "--healthcheck") {
        let listen = cdn_common::env::parse_or(
            "LISTEN_ADDR",
            std::net::SocketAddr::from(([0, 0, 0, 0], 8000)),
        )?;
        let healthy = cdn_common::service::probe_health(listen);
        return Ok(if healthy {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let config = Config::from_env()?;
    cdn_common::service::init_tracing();
    let listener = tokio::net::TcpListener::bind(config.listen_addr)
        .await
        .with_context(|| format!("LISTEN_ADDR: cannot listen on {}", config.listen_addr))?;
    cdn_dist::run(listener, config, cdn_common::service::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
