use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    cdn_common::service::main::<cdn_node::config::Config>().await
}
