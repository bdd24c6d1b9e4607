//! The benchmark's phases, in order, each timed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

use crate::Settings;
use crate::nginx::Nginx;
use crate::report::{self, Measurements};
use crate::stack::{Stack, cdn_binary};
use crate::targets::{self, Endpoint, LARGE, SMALL, TARGETS};
use crate::wrk;

/// Runs the benchmark; a Ctrl-C or SIGTERM ends it early, and every
/// process it started is stopped either way (their guards are dropped).
pub async fn until_interrupted(settings: Settings) -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        outcome = run(settings) => outcome,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
        _ = terminate.recv() => bail!("terminated"),
    }
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let mut phases = Phases::default();
    phases.begin("checking tools and binaries");
    let cdn = cdn_binary()?;
    let wrk_version = wrk_version()?;
    let nginx_version = Nginx::version();
    let mut work = tempfile::Builder::new().prefix("cdn-bench.").tempdir()?;
    work.disable_cleanup(settings.keep);
    // nginx's workers run as an unprivileged user and must read the files.
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755))?;
    let objects = Objects::write(work.path())?;

    phases.begin("starting PostgreSQL (fsync on), three nodes and the distributor");
    let mut stack = Stack::start(cdn).await?;

    phases.begin("starting nginx");
    let nginx = Nginx::start(&work.path().join("nginx"), &objects.www)?;

    let measured = measure(
        &settings,
        &stack,
        &nginx,
        &objects,
        work.path(),
        &mut phases,
    )
    .await;
    phases.end();
    if settings.keep {
        stack.keep_dir();
        eprintln!(
            "cdn-bench: kept {} (wrk reports, metrics) and {} (service logs, storage)",
            work.path().display(),
            stack.dir().display()
        );
    }
    let measured = match measured {
        Ok(measured) => measured,
        Err(err) => {
            stack.print_log_tails();
            return Err(err);
        }
    };

    // The table goes to stdout, alone, so it can be pasted as it is.
    let mode = if settings.smoke {
        "smoke (figures mean little)"
    } else {
        "full"
    };
    println!(
        "\nMini CDN benchmark, {mode}: {} ({}), {} s per phase, {} connections, wrk {wrk_version}, {nginx_version}\n",
        cores(),
        cpu_model(),
        settings.seconds,
        settings.connections,
    );
    println!("{}", report::table(TARGETS, &measured, &settings.big));
    println!("{}", report::timings(&phases.done));
    Ok(())
}

/// Every phase that talks to the running servers: the objects and their
/// bytes, each load, the big transfer, the metrics and memory.
async fn measure(
    settings: &Settings,
    stack: &Stack,
    nginx: &Nginx,
    objects: &Objects,
    work: &Path,
    phases: &mut Phases,
) -> anyhow::Result<Measurements> {
    phases.begin("uploading the objects and checking every server's bytes");
    let small_id = stack.upload("small.bin", objects.small.clone()).await?;
    let large_id = stack.upload("large.bin", objects.large.clone()).await?;
    let mut urls = Urls {
        dist_small: stack.data_url(&small_id),
        node_small: stack.node_url(&small_id).await?,
        nginx_small: format!("{}/small.bin", nginx.url),
        dist_large: stack.data_url(&large_id),
        nginx_large: format!("{}/large.bin", nginx.url),
        dist_upload: format!("{}/content?filename=bench-4k.bin", stack.dist_url()),
    };
    let endpoints = targets::endpoints(TARGETS);
    for &endpoint in &endpoints {
        let expected = match endpoint {
            Endpoint::DistSmall | Endpoint::NodeSmall | Endpoint::NginxSmall => &objects.small,
            Endpoint::DistLarge | Endpoint::NginxLarge => &objects.large,
            Endpoint::DistUpload => continue,
        };
        stack.expect_bytes(urls.of(endpoint), expected).await?;
    }

    let mut measured = Measurements::default();
    let upload_script = work.join("upload.lua");
    let script = format!(
        "{UPLOAD_SCRIPT}wrk.headers[\"Authorization\"] = \"Bearer {}\"\n",
        stack.token()
    );
    std::fs::write(&upload_script, script)?;
    for endpoint in endpoints {
        if endpoint == Endpoint::NodeSmall {
            // A signed node URL lasts a minute: a fresh one for each load.
            urls.node_small = stack.node_url(&small_id).await?;
        }
        let load = wrk::Load {
            url: urls.of(endpoint).to_owned(),
            seconds: settings.seconds,
            connections: settings.connections,
            script: (endpoint == Endpoint::DistUpload).then(|| upload_script.clone()),
        };
        phases.begin(format!("load {}", endpoint.name()));
        eprintln!("    {}", load.command_line());
        let saved_as = work.join(format!("{}.wrk", endpoint.name()));
        let report = wrk::run(&load, &saved_as)
            .await
            .with_context(|| format!("load {}", endpoint.name()))?;
        measured.loads.insert(endpoint, report);
    }

    phases.begin(format!(
        "one {} upload and download (cdn bench)",
        settings.big
    ));
    measured.transfer = Some(stack.transfer(&settings.big).await?);

    phases.begin("reading every /metrics and the peak memory");
    stack.check_metrics(work).await?;
    measured.peak_rss = stack.peak_rss();
    Ok(measured)
}

/// The small and the large object, also as files for nginx.
struct Objects {
    small: Vec<u8>,
    large: Vec<u8>,
    /// nginx's root: `small.bin` and `large.bin`.
    www: PathBuf,
}

impl Objects {
    fn write(work: &Path) -> anyhow::Result<Objects> {
        let objects = Objects {
            small: random_bytes(SMALL),
            large: random_bytes(LARGE),
            www: work.join("www"),
        };
        std::fs::create_dir(&objects.www)?;
        std::fs::write(objects.www.join("small.bin"), &objects.small)?;
        std::fs::write(objects.www.join("large.bin"), &objects.large)?;
        Ok(objects)
    }
}

/// The same 4 KiB body for every upload of the upload phase.
const UPLOAD_SCRIPT: &str = r#"wrk.method = "POST"
wrk.body = string.rep("0123456789abcdef", 256)
wrk.headers["Content-Type"] = "application/octet-stream"
"#;

/// Where each endpoint is, once the objects are uploaded.
struct Urls {
    dist_small: String,
    node_small: String,
    nginx_small: String,
    dist_large: String,
    nginx_large: String,
    dist_upload: String,
}

impl Urls {
    fn of(&self, endpoint: Endpoint) -> &str {
        match endpoint {
            Endpoint::DistSmall => &self.dist_small,
            Endpoint::NodeSmall => &self.node_small,
            Endpoint::NginxSmall => &self.nginx_small,
            Endpoint::DistLarge => &self.dist_large,
            Endpoint::NginxLarge => &self.nginx_large,
            Endpoint::DistUpload => &self.dist_upload,
        }
    }
}

/// Phases announced on stderr as they start, with their time as they end.
#[derive(Default)]
struct Phases {
    current: Option<(String, Instant)>,
    done: Vec<(String, Duration)>,
}

impl Phases {
    fn begin(&mut self, name: impl Into<String>) {
        self.end();
        let name = name.into();
        eprintln!("==> {name}");
        self.current = Some((name, Instant::now()));
    }

    fn end(&mut self) {
        if let Some((name, started)) = self.current.take() {
            let took = started.elapsed();
            eprintln!("    took {:.1} s", took.as_secs_f64());
            self.done.push((name, took));
        }
    }
}

/// Bytes that no layer can compress.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    fastrand::fill(&mut bytes);
    bytes
}

/// `wrk -v`'s version, e.g. `debian/4.1.0-3+b2`; also proves wrk is there.
fn wrk_version() -> anyhow::Result<String> {
    let output = Command::new("wrk")
        .arg("-v")
        .output()
        .context("wrk is not installed (Debian package wrk)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text
        .split_whitespace()
        .nth(1)
        .unwrap_or("(unknown version)");
    ensure!(text.starts_with("wrk "), "`wrk -v` said {text:?}");
    Ok(version.to_owned())
}

fn cores() -> String {
    match std::thread::available_parallelism() {
        Ok(cores) if cores.get() == 1 => "1 core".into(),
        Ok(cores) => format!("{cores} cores"),
        Err(_) => "? cores".into(),
    }
}

fn cpu_model() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or_else(
            || "unknown CPU".into(),
            |(_, model)| model.trim().to_owned(),
        )
}
