use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    cdn_common::service::main::<cdn_dist::config::Config>().await
}
