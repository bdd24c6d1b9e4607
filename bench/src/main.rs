//! `cdn-bench`: the mini CDN's benchmark. It starts the real stack on
//! loopback (a throwaway PostgreSQL with `fsync` on, three `cdn-node` and
//! one `cdn-dist`, the release binaries next to this one) beside nginx
//! serving the very same bytes and a bare in-memory axum server (the
//! limit), loads each with wrk, times one big
//! transfer with `cdn bench` and again with `aws s3 cp`, and prints one
//! markdown table.
//!
//! It exits non-zero when something did not work (a service did not start,
//! a request failed); missing a speed target is reported, never a failure.
//!
//! # Layout
//!
//! - `run`: the phases, in order, each timed.
//! - `targets`: the table of targets; the loads to run follow from it.
//! - `stack`: PostgreSQL, the nodes and the distributor, the objects.
//! - `nginx`, `limit`, `wrk`: the yardsticks (nginx serving files, a bare
//!   axum server answering from memory) and the load generator.
//! - `s3`: the big transfer through the S3 API with the `aws` command.
//! - `workload`: the loads over many objects (cold reads, Zipf).
//! - `report`: the figures and the table.
//! - `cpu`: each server's CPU time per request, from `/proc`.
//! - `profile`: `--profile`'s `perf record` of the servers under load.

mod cpu;
mod limit;
mod nginx;
mod profile;
mod report;
mod run;
mod s3;
mod stack;
mod targets;
mod workload;
mod wrk;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

/// The benchmark: the mini CDN beside nginx, loaded by wrk, one table.
#[derive(Debug, Parser)]
#[command(name = "cdn-bench")]
struct Args {
    /// A short run that proves everything works (CI): its figures mean little.
    #[arg(long)]
    smoke: bool,
    /// Seconds of load per phase [default: 10, smoke 2].
    #[arg(long, env = "BENCH_SECONDS")]
    seconds: Option<u64>,
    /// wrk's connections per phase.
    #[arg(long, env = "BENCH_CONNECTIONS", default_value_t = 64)]
    connections: u32,
    /// Size of the big upload and download [default: 1GiB, smoke 64MiB].
    #[arg(long, env = "BENCH_BIG")]
    big: Option<String>,
    /// Keep the working directory: logs, wrk reports, every /metrics.
    #[arg(long, env = "BENCH_KEEP", value_parser = clap::builder::FalseyValueParser::new())]
    keep: bool,
    /// Run only these loads (comma-separated names, e.g.
    /// `d-upload-4k,a-cold-dist-4k`): to look at one figure closely.
    #[arg(long, env = "BENCH_ONLY", value_delimiter = ',')]
    only: Vec<String>,
    /// Record a CPU profile (`perf record`) of the distributor or node
    /// under each of their loads, kept with a text report (implies --keep).
    #[arg(long, env = "BENCH_PROFILE", value_parser = clap::builder::FalseyValueParser::new())]
    profile: bool,
}

/// How this run goes, from the flags and their `BENCH_*` variables.
#[derive(Debug)]
pub struct Settings {
    pub smoke: bool,
    pub seconds: u64,
    pub connections: u32,
    /// As given, e.g. `64MiB`: `cdn bench --size` takes it as it is.
    pub big: String,
    pub keep: bool,
    pub profile: bool,
    /// Empty: every load.
    pub only: Vec<String>,
}

impl Settings {
    /// Whether this run loads `endpoint`.
    pub fn runs(&self, endpoint: targets::Endpoint) -> bool {
        self.only.is_empty() || self.only.iter().any(|name| name == endpoint.name())
    }
}

impl Args {
    fn settings(self) -> anyhow::Result<Settings> {
        let (seconds, big) = if self.smoke {
            (2, "64MiB")
        } else {
            (10, "1GiB")
        };
        let big = self.big.unwrap_or_else(|| big.into());
        parse_size::parse_size(&big)
            .ok()
            .filter(|&bytes| bytes > 0)
            .with_context(|| format!("BENCH_BIG: {big:?} is not a size (try 64MiB or 1GiB)"))?;
        let settings = Settings {
            smoke: self.smoke,
            seconds: self.seconds.unwrap_or(seconds).max(1),
            connections: self.connections.max(1),
            big,
            keep: self.keep || self.profile,
            profile: self.profile,
            only: self.only,
        };
        let known: Vec<&str> = targets::endpoints(targets::TARGETS)
            .into_iter()
            .map(targets::Endpoint::name)
            .collect();
        if let Some(unknown) = settings
            .only
            .iter()
            .find(|name| !known.contains(&name.as_str()))
        {
            anyhow::bail!(
                "--only: no load is named {unknown:?} (there are {})",
                known.join(", ")
            );
        }
        Ok(settings)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let outcome = match Args::parse().settings() {
        Ok(settings) => run::until_interrupted(settings).await,
        Err(err) => Err(err),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cdn-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(args: &[&str]) -> anyhow::Result<Settings> {
        Args::try_parse_from(["cdn-bench"].iter().chain(args))?.settings()
    }

    #[test]
    fn smoke_mode_is_short_and_small() {
        let smoke = settings(&["--smoke"]).unwrap();
        assert_eq!((smoke.seconds, smoke.big.as_str()), (2, "64MiB"));
        let full = settings(&[]).unwrap();
        assert_eq!((full.seconds, full.big.as_str()), (10, "1GiB"));
        let custom = settings(&["--smoke", "--seconds", "5", "--big", "8MiB"]).unwrap();
        assert!(custom.runs(targets::Endpoint::NginxZipf));
        let only = settings(&["--only", "d-upload-4k,nginx-4k"]).unwrap();
        assert!(only.runs(targets::Endpoint::DistUpload));
        assert!(!only.runs(targets::Endpoint::DistSmall));
        assert!(settings(&["--only", "e-nothing"]).is_err());
        assert_eq!((custom.seconds, custom.big.as_str()), (5, "8MiB"));
    }

    #[test]
    fn a_big_transfer_must_be_a_size() {
        assert!(settings(&["--big", "lots"]).is_err());
        assert!(settings(&["--big", "0"]).is_err());
        assert!(settings(&["--frobnicate"]).is_err());
    }
}
