//! `cdn`: the mini CDN's command-line client.
//!
//! Parsing, output and the demo live in `cli/`; talking to the distributor
//! is the `cdn_client` library's job. This file only turns the outcome into
//! an exit code and a one-line error.

mod cli;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        // `cdn ls | head` closing the pipe early is the reader's choice, not a failure.
        Err(error) if error.is::<cli::StdoutClosed>() => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole chain of causes on one line.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
