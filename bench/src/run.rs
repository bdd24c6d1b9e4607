//! The benchmark's phases, in order, each timed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

use bytes::Bytes;

use crate::Settings;
use crate::cpu;
use crate::limit::Limit;
use crate::nginx::Nginx;
use crate::profile;
use crate::report::{self, Labels, Measurements};
use crate::stack::{REPLICATION, Stack, cdn_binary};
use crate::targets::{self, Endpoint, LARGE, SMALL, TARGETS};
use crate::workload::{self, Zipf};
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
    phases.begin("checking tools and binaries, writing the objects");
    let cdn = cdn_binary()?;
    let wrk_version = wrk_version()?;
    let nginx_version = Nginx::version();
    let mut work = tempfile::Builder::new().prefix("cdn-bench.").tempdir()?;
    work.disable_cleanup(settings.keep);
    // nginx's workers run as an unprivileged user and must read the files.
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755))?;
    let zipf = Zipf::new(settings.smoke);
    let objects = Objects::write(work.path(), &zipf)?;
    // The Zipf workload's rule: a tenth of its data fits in the cache.
    let cache_size = objects.zipf_bytes() / 10;

    phases.begin("starting PostgreSQL (fsync on), three nodes and the distributor");
    let mut stack = Stack::start(cdn, cache_size).await?;

    phases.begin("starting nginx and the limit");
    let nginx = Nginx::start(&work.path().join("nginx"), &objects.www)?;
    let limit = Limit::start(objects.small.clone(), objects.large.clone()).await?;

    let servers = Servers {
        stack: &stack,
        nginx: &nginx,
        limit: &limit,
    };
    let measured = measure(&settings, &servers, &objects, work.path(), &mut phases).await;
    phases.end();
    if settings.keep {
        stack.keep_dir();
        eprintln!(
            "cdn-bench: kept {} (wrk reports, metrics) and {} (service logs, storage)",
            work.path().display(),
            stack.dir().display()
        );
    }
    let mut measured = match measured {
        Ok(measured) => measured,
        Err(err) => {
            stack.print_log_tails();
            return Err(err);
        }
    };
    measured.cache_mib = cache_size as f64 / (1024.0 * 1024.0);

    // The table goes to stdout, alone, so it can be pasted as it is.
    let mode = if settings.smoke {
        "smoke (figures mean little)"
    } else {
        "full"
    };
    println!(
        "\nMini CDN benchmark, {mode}: {} ({}), {} s per phase, {} connections, wrk {wrk_version}, {nginx_version}, REPLICATION={REPLICATION}, CACHE_SIZE={:.1} MiB\n",
        cores(),
        cpu_model(),
        settings.seconds,
        settings.connections,
        measured.cache_mib,
    );
    let labels = Labels {
        big: settings.big.clone(),
        zipf: zipf.label(),
    };
    println!("{}", report::table(TARGETS, &measured, &labels));
    println!("{}", report::timings(&phases.done));
    Ok(())
}

/// Everything that answers loads.
struct Servers<'a> {
    stack: &'a Stack,
    nginx: &'a Nginx,
    limit: &'a Limit,
}

/// Every phase that talks to the running servers: the objects and their
/// bytes, each load, the big transfer, the metrics and memory.
async fn measure(
    settings: &Settings,
    servers: &Servers<'_>,
    objects: &Objects,
    work: &Path,
    phases: &mut Phases,
) -> anyhow::Result<Measurements> {
    let Servers {
        stack,
        nginx,
        limit,
    } = servers;
    phases.begin(format!(
        "uploading the objects ({} for the Zipf workload) and checking every server's bytes",
        objects.zipf.len()
    ));
    let small_id = stack.upload("small.bin", objects.small.to_vec()).await?;
    let large_id = stack.upload("large.bin", objects.large.to_vec()).await?;
    let zipf_ids = stack.upload_all("zipf", objects.zipf.clone()).await?;
    let zipf_data_paths: Vec<String> = zipf_ids.iter().map(|id| data_path(id)).collect();
    let zipf_file_paths: Vec<String> = (0..zipf_ids.len())
        .map(|rank| format!("/zipf/{rank}.bin"))
        .collect();
    let mut loads = Loads {
        dist_small: stack.data_url(&small_id),
        node_small: stack.node_url(&small_id).await?,
        nginx_small: format!("{}/small.bin", nginx.url),
        limit_small: format!("{}/small.bin", limit.url),
        dist_large: stack.data_url(&large_id),
        nginx_large: format!("{}/large.bin", nginx.url),
        limit_large: format!("{}/large.bin", limit.url),
        dist_upload: format!("{}/content?filename=bench-4k.bin", stack.dist_url()),
        dist: stack.dist_url().to_owned(),
        nginx: nginx.url.clone(),
        upload_script: workload::save(
            work,
            "upload.lua",
            &format!(
                "{UPLOAD_SCRIPT}wrk.headers[\"Authorization\"] = \"Bearer {}\"\n",
                stack.token()
            ),
        )?,
        dist_zipf_script: workload::save(
            work,
            "zipf-dist.lua",
            &objects.zipf_shape.script(&zipf_data_paths),
        )?,
        nginx_zipf_script: workload::save(
            work,
            "zipf-nginx.lua",
            &objects.zipf_shape.script(&zipf_file_paths),
        )?,
        cold_script: None,
    };
    let endpoints: Vec<Endpoint> = targets::endpoints(TARGETS)
        .into_iter()
        .filter(|endpoint| settings.runs(*endpoint))
        .collect();
    for &endpoint in &endpoints {
        let expected = match endpoint {
            Endpoint::DistSmall
            | Endpoint::NodeSmall
            | Endpoint::NginxSmall
            | Endpoint::LimitSmall => &objects.small[..],
            Endpoint::DistLarge | Endpoint::NginxLarge | Endpoint::LimitLarge => &objects.large[..],
            Endpoint::DistUpload
            | Endpoint::DistCold
            | Endpoint::DistZipf
            | Endpoint::NginxZipf => {
                continue;
            }
        };
        stack.expect_bytes(&loads.url(endpoint), expected).await?;
    }
    // The most and the least popular of the Zipf objects, from both.
    for rank in [0, zipf_ids.len() - 1] {
        let expected = &objects.zipf[rank];
        stack
            .expect_bytes(&stack.data_url(&zipf_ids[rank]), expected)
            .await?;
        let file = format!("{}{}", nginx.url, zipf_file_paths[rank]);
        stack.expect_bytes(&file, expected).await?;
    }

    let mut measured = Measurements::default();
    for endpoint in endpoints {
        match endpoint {
            // A signed node URL lasts a minute: a fresh one for each load.
            Endpoint::NodeSmall => loads.node_small = stack.node_url(&small_id).await?,
            Endpoint::DistCold => {
                // The upload phase's objects, never read so far.
                let paths: Vec<String> = stack
                    .ids_named("bench-4k")
                    .await?
                    .iter()
                    .map(|id| data_path(id))
                    .collect();
                ensure!(!paths.is_empty(), "the upload phase stored nothing to read");
                eprintln!("    {} objects to read once each", paths.len());
                let script = workload::each_once_script(&paths);
                loads.cold_script = Some(workload::save(work, "cold.lua", &script)?);
            }
            _ => {}
        }
        let load = wrk::Load {
            url: loads.url(endpoint),
            seconds: settings.seconds,
            connections: settings.connections,
            script: loads.script(endpoint),
        };
        phases.begin(format!("load {}", endpoint.name()));
        eprintln!("    {}", load.command_line());
        let before = stack.cache_stats().await?;
        let server = server_pid(servers, endpoint, &load.url);
        let cpu_before = cpu::of_process_tree(server);
        let saved_as = work.join(format!("{}.wrk", endpoint.name()));
        let recording = match stack.pid_serving(&load.url) {
            Some(pid) if settings.profile => {
                let data = work.join(format!("{}.perf", endpoint.name()));
                Some(profile::Recording::start(pid, &data)?)
            }
            _ => None,
        };
        let report = wrk::run(&load, &saved_as).await;
        if let Some(recording) = recording {
            let written = recording.finish().await?;
            eprintln!("    profile: {}", written.display());
        }
        let mut report = report.with_context(|| format!("load {}", endpoint.name()))?;
        let cpu_spent = cpu::of_process_tree(server).saturating_sub(cpu_before);
        eprintln!(
            "    {}: {:.0} µs of CPU per request",
            endpoint.server(),
            cpu_spent.as_secs_f64() * 1e6 / report.requests.max(1) as f64
        );
        if endpoint == Endpoint::DistCold {
            // The threads stop when every object was read once, long before
            // wrk's duration ends: the script's own timing counts.
            report.requests_per_second =
                workload::each_once_rate(&std::fs::read_to_string(&saved_as)?)?;
        }
        if endpoint == Endpoint::DistZipf {
            let after = stack.cache_stats().await?;
            let hits = after.hits.saturating_sub(before.hits) as f64;
            let misses = after.misses.saturating_sub(before.misses) as f64;
            if hits + misses > 0.0 {
                measured.zipf_hit_percent = Some(100.0 * hits / (hits + misses));
            }
        }
        measured.loads.insert(endpoint, report);
        print_peaks(stack);
    }

    phases.begin(format!(
        "one {} upload and download (cdn bench)",
        settings.big
    ));
    measured.transfer = Some(stack.transfer(&settings.big).await?);
    print_peaks(stack);

    phases.begin("the same through S3 (aws s3 cp up and down)");
    let big = parse_size::parse_size(&settings.big)?;
    measured.s3_transfer = Some(crate::s3::transfer(stack, big).await?);
    print_peaks(stack);

    phases.begin("reading every /metrics and the peak memory");
    stack.check_metrics(work).await?;
    measured.peak_rss = stack.peak_rss();
    Ok(measured)
}

/// The process that answers `endpoint`'s load: the limit runs in this one.
fn server_pid(servers: &Servers<'_>, endpoint: Endpoint, url: &str) -> u32 {
    match endpoint.server() {
        "nginx" => servers.nginx.pid(),
        "limit" => std::process::id(),
        _ => servers
            .stack
            .pid_serving(url)
            .unwrap_or_else(std::process::id),
    }
}

/// Each service's peak memory so far, to see which phase set it.
fn print_peaks(stack: &Stack) {
    let peaks: Vec<String> = stack
        .peak_rss()
        .iter()
        .map(|(service, mib)| format!("{service} {mib:.1}"))
        .collect();
    eprintln!("    peak RSS so far, MiB: {}", peaks.join(", "));
}

fn data_path(id: &str) -> String {
    format!("/content/{id}/data")
}

/// The objects the loads read, also as files for nginx.
struct Objects {
    small: Bytes,
    large: Bytes,
    zipf_shape: Zipf,
    /// The Zipf workload's objects, most popular first.
    zipf: Vec<Vec<u8>>,
    /// nginx's root: `small.bin`, `large.bin` and `zipf/{rank}.bin`.
    www: PathBuf,
}

impl Objects {
    fn write(work: &Path, zipf_shape: &Zipf) -> anyhow::Result<Objects> {
        let objects = Objects {
            small: random_bytes(SMALL).into(),
            large: random_bytes(LARGE).into(),
            zipf_shape: *zipf_shape,
            zipf: zipf_shape.sizes().into_iter().map(random_bytes).collect(),
            www: work.join("www"),
        };
        std::fs::create_dir_all(objects.www.join("zipf"))?;
        std::fs::write(objects.www.join("small.bin"), &objects.small)?;
        std::fs::write(objects.www.join("large.bin"), &objects.large)?;
        for (rank, bytes) in objects.zipf.iter().enumerate() {
            std::fs::write(objects.www.join(format!("zipf/{rank}.bin")), bytes)?;
        }
        Ok(objects)
    }

    fn zipf_bytes(&self) -> u64 {
        self.zipf.iter().map(|bytes| bytes.len() as u64).sum()
    }
}

/// The same 4 KiB body for every upload of the upload phase.
const UPLOAD_SCRIPT: &str = r#"wrk.method = "POST"
wrk.body = string.rep("0123456789abcdef", 256)
wrk.headers["Content-Type"] = "application/octet-stream"
"#;

/// Where each load goes, and the scripts that shape the scripted ones.
struct Loads {
    dist_small: String,
    node_small: String,
    nginx_small: String,
    limit_small: String,
    dist_large: String,
    nginx_large: String,
    limit_large: String,
    dist_upload: String,
    /// The servers whose scripts name the paths.
    dist: String,
    nginx: String,
    upload_script: PathBuf,
    dist_zipf_script: PathBuf,
    nginx_zipf_script: PathBuf,
    /// Written once the uploads it reads exist.
    cold_script: Option<PathBuf>,
}

impl Loads {
    fn url(&self, endpoint: Endpoint) -> String {
        let url = match endpoint {
            Endpoint::DistSmall => &self.dist_small,
            Endpoint::NodeSmall => &self.node_small,
            Endpoint::NginxSmall => &self.nginx_small,
            Endpoint::LimitSmall => &self.limit_small,
            Endpoint::DistLarge => &self.dist_large,
            Endpoint::NginxLarge => &self.nginx_large,
            Endpoint::LimitLarge => &self.limit_large,
            Endpoint::DistUpload => &self.dist_upload,
            Endpoint::DistCold | Endpoint::DistZipf => &self.dist,
            Endpoint::NginxZipf => &self.nginx,
        };
        url.clone()
    }

    fn script(&self, endpoint: Endpoint) -> Option<PathBuf> {
        match endpoint {
            Endpoint::DistUpload => Some(self.upload_script.clone()),
            Endpoint::DistCold => self.cold_script.clone(),
            Endpoint::DistZipf => Some(self.dist_zipf_script.clone()),
            Endpoint::NginxZipf => Some(self.nginx_zipf_script.clone()),
            _ => None,
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
