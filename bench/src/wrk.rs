//! wrk, the HTTP load generator: one run bounded in time, and its
//! `--latency` report read back.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail, ensure};

/// wrk's own threads; two match the machines this runs on, and more
/// would only take CPU from the servers under test.
pub const THREADS: u32 = 2;

/// How long one request may take before wrk counts it as a timeout.
const REQUEST_TIMEOUT: &str = "5s";

/// What wrk needs beyond the URL.
pub struct Load {
    pub url: String,
    pub seconds: u64,
    pub connections: u32,
    /// A Lua script that shapes the requests (method, body, headers).
    pub script: Option<PathBuf>,
}

impl Load {
    fn args(&self) -> Vec<String> {
        let mut args = vec![
            format!("--threads={THREADS}"),
            format!("--connections={}", self.connections.max(THREADS)),
            format!("--duration={}s", self.seconds),
            format!("--timeout={REQUEST_TIMEOUT}"),
            "--latency".to_owned(),
        ];
        if let Some(script) = &self.script {
            args.push(format!("--script={}", script.display()));
        }
        args.push(self.url.clone());
        args
    }

    /// The command as a person would type it.
    pub fn command_line(&self) -> String {
        format!("wrk {}", self.args().join(" "))
    }
}

/// The figures of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub requests: u64,
    pub requests_per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Answers with a status of 400 or more (wrk's "Non-2xx or 3xx").
    pub error_answers: u64,
    pub socket_errors: SocketErrors,
}

/// wrk's "Socket errors" line; absent means all zero.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SocketErrors {
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    pub timeout: u64,
}

impl SocketErrors {
    fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout
    }
}

impl Report {
    /// Why this run does not count as working, if it does not: a request
    /// answered with an error, a socket error or nothing done at all.
    pub fn failure(&self) -> Option<String> {
        if self.requests == 0 {
            return Some("no request was answered".into());
        }
        if self.error_answers > 0 {
            return Some(format!(
                "{} of {} requests were answered with an error status",
                self.error_answers, self.requests
            ));
        }
        let errors = self.socket_errors;
        if errors.total() > 0 {
            return Some(format!(
                "socket errors: connect {}, read {}, write {}, timeout {}",
                errors.connect, errors.read, errors.write, errors.timeout
            ));
        }
        None
    }
}

/// Runs wrk once, keeps its report in `saved_as`, and fails when wrk did
/// or when any request failed.
pub async fn run(load: &Load, saved_as: &Path) -> anyhow::Result<Report> {
    let mut command = tokio::process::Command::new("wrk");
    command
        .args(load.args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Whatever ends this run early (an error, a panic), wrk ends too.
        .kill_on_drop(true);
    // wrk stops by itself after --duration; the margin covers its start
    // and the requests still open at the end.
    let deadline = Duration::from_secs(load.seconds + 30);
    let output = tokio::time::timeout(deadline, command.output())
        .await
        .with_context(|| format!("wrk did not end within {deadline:?}"))?
        .context("running wrk (is it installed?)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    std::fs::write(saved_as, text.as_bytes())
        .with_context(|| format!("writing {}", saved_as.display()))?;
    ensure!(
        output.status.success(),
        "wrk failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let report = parse(&text).with_context(|| format!("reading wrk's report:\n{text}"))?;
    if let Some(failure) = report.failure() {
        bail!("{} under load: {failure}\n{text}", load.url);
    }
    Ok(report)
}

/// Reads the report wrk prints with `--latency`.
pub fn parse(text: &str) -> anyhow::Result<Report> {
    let mut requests = None;
    let mut requests_per_second = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut error_answers = 0;
    let mut socket_errors = SocketErrors::default();
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", value] => p50 = Some(duration(value)?),
            ["99%", value] => p99 = Some(duration(value)?),
            [count, "requests", "in", ..] => requests = Some(count.parse()?),
            ["Requests/sec:", value] => requests_per_second = Some(value.parse()?),
            ["Non-2xx", "or", "3xx", "responses:", count] => error_answers = count.parse()?,
            ["Socket", "errors:", ..] => socket_errors = parse_socket_errors(line)?,
            _ => {}
        }
    }
    Ok(Report {
        requests: requests.context("no request count")?,
        requests_per_second: requests_per_second.context("no Requests/sec")?,
        p50: p50.context("no 50% latency")?,
        p99: p99.context("no 99% latency")?,
        error_answers,
        socket_errors,
    })
}

/// `Socket errors: connect 0, read 6605, write 0, timeout 0`.
fn parse_socket_errors(line: &str) -> anyhow::Result<SocketErrors> {
    let mut errors = SocketErrors::default();
    let counts = line.trim_start_matches("Socket errors:");
    for pair in counts.split(',') {
        let (kind, count) = pair
            .trim()
            .split_once(' ')
            .with_context(|| format!("unexpected {line:?}"))?;
        let count = count.trim().parse()?;
        match kind {
            "connect" => errors.connect = count,
            "read" => errors.read = count,
            "write" => errors.write = count,
            "timeout" => errors.timeout = count,
            _ => bail!("unexpected {line:?}"),
        }
    }
    Ok(errors)
}

/// One of wrk's durations: a number and a unit, such as `268.00us`,
/// `1.85ms`, `2.00s` or `1.50m`.
fn duration(text: &str) -> anyhow::Result<Duration> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .with_context(|| format!("{text:?} has no unit"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .with_context(|| format!("{text:?} is not a duration"))?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => bail!("{text:?} has an unknown unit"),
    };
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real reports, captured from wrk 4.1 on loopback.
    const NGINX_4K: &str = include_str!("../testdata/wrk-4k-nginx.txt");
    const NOT_FOUND: &str = include_str!("../testdata/wrk-404.txt");
    const CONNECTIONS_RESET: &str = include_str!("../testdata/wrk-reset.txt");

    #[test]
    fn a_clean_run_gives_its_figures() {
        let report = parse(NGINX_4K).unwrap();
        assert_eq!(
            report,
            Report {
                requests: 40934,
                requests_per_second: 20250.71,
                p50: Duration::from_secs_f64(1.85e-3),
                p99: Duration::from_secs_f64(11.22e-3),
                error_answers: 0,
                socket_errors: SocketErrors::default(),
            }
        );
        assert_eq!(report.failure(), None);
    }

    #[test]
    fn error_answers_fail_the_run() {
        let report = parse(NOT_FOUND).unwrap();
        assert_eq!(report.error_answers, 37608);
        assert_eq!(report.p50, Duration::from_secs_f64(268e-6));
        assert!(report.failure().unwrap().contains("37608 of 37608"));
    }

    #[test]
    fn socket_errors_fail_the_run() {
        let report = parse(CONNECTIONS_RESET).unwrap();
        assert_eq!(
            report.socket_errors,
            SocketErrors {
                read: 6605,
                ..SocketErrors::default()
            }
        );
        assert_eq!(report.requests, 0);
        assert!(report.failure().is_some());
        let answered = Report {
            requests: 10,
            ..report
        };
        assert!(answered.failure().unwrap().contains("read 6605"));
    }

    #[test]
    fn durations_take_every_unit_wrk_prints() {
        assert_eq!(duration("268.00us").unwrap(), Duration::from_micros(268));
        assert_eq!(duration("2.00s").unwrap(), Duration::from_secs(2));
        assert_eq!(duration("1.50m").unwrap(), Duration::from_secs(90));
        assert!(duration("12").is_err());
        assert!(duration("1.0xs").is_err());
    }

    #[test]
    fn a_report_without_figures_is_an_error() {
        assert!(parse("wrk: cannot connect").is_err());
        let truncated = NGINX_4K.replace("Requests/sec:", "Req:");
        assert!(parse(&truncated).is_err());
    }
}
