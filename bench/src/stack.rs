//! The mini CDN under test: a throwaway PostgreSQL with `fsync` on, three
//! storage nodes and one distributor, each a child process running its
//! release binary, so each has a peak memory of its own.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use cdn_common::wire::{CacheStats, ClusterStats, ContentList, CreatedAccessKey, MAX_PAGE, Scope};
use futures::{StreamExt, TryStreamExt};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use testkit::postgres::{PgOptions, PgServer};
use testkit::services::{Children, Service, StackConfig};

use crate::report::Transfer;

/// How long one request of the set-up and checks may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The slowest the big transfer may be, each way, before it counts as
/// stuck: far below any real figure, so only a hang trips it.
const SLOWEST_TRANSFER_BYTES_PER_SECOND: u64 = 10_000_000;

/// Lines of each service's log shown when the run fails.
const LOG_TAIL_LINES: usize = 20;

const MIB: f64 = 1024.0 * 1024.0;

/// Copies of each upload.
pub const REPLICATION: usize = 2;

/// Uploads in flight at once while storing many objects.
const UPLOADS_IN_FLIGHT: usize = 16;

/// The `cdn` command, after checking that every release binary the run
/// needs is there: the harness starts the services from the directory of
/// this executable too.
pub fn cdn_binary() -> anyhow::Result<PathBuf> {
    let this = std::env::current_exe().context("finding this executable")?;
    let dir = this.parent().context("this executable has no directory")?;
    for name in ["cdn-dist", "cdn-node", "cdn"] {
        ensure!(
            dir.join(name).is_file(),
            "{} is missing: build it first (cargo build --release -p cdn-dist -p cdn-node -p cdn-client -p cdn-bench)",
            dir.join(name).display()
        );
    }
    Ok(dir.join("cdn"))
}

/// The running services; dropping it stops them, then PostgreSQL.
pub struct Stack {
    // Fields drop in order: the services before the database they use.
    services: testkit::services::Stack,
    _postgres: PgServer,
    cdn: PathBuf,
    http: reqwest::Client,
}

impl Stack {
    /// Starts PostgreSQL, the nodes and the distributor, each service a
    /// child process whose log is kept in the stack's directory.
    pub async fn start(cdn: PathBuf, cache_size: u64) -> anyhow::Result<Stack> {
        // Durable as shipped: the uploads/s figure includes real commits.
        let postgres = PgServer::start_own(PgOptions { fsync: true }).await;
        let database_url = postgres.fresh_database().await;
        let config = StackConfig {
            // Room for the big transfer and every upload of the upload phase.
            max_storage: ["8GiB"; 3],
            // Every upload costs two copies, as a deployment that keeps a
            // node's loss from losing data would run.
            replication: REPLICATION,
            // The defaults of a deployment, not the test harness's quick
            // ticks, which would take CPU from the requests measured.
            dist_env: vec![
                ("POLL_INTERVAL", "1s".to_owned()),
                ("REPAIR_INTERVAL", "10s".to_owned()),
                ("CACHE_SIZE", cache_size.to_string()),
            ],
            database_url: Some(database_url),
            children: Children::ALL,
            ..StackConfig::default()
        };
        let services = testkit::services::Stack::start_with(config).await;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            // `?redirect=1` answers are read, not followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let stack = Stack {
            services,
            _postgres: postgres,
            cdn,
            http,
        };
        stack.wait_until_ready().await?;
        Ok(stack)
    }

    /// Where the services keep their storage and logs.
    pub fn dir(&self) -> &Path {
        self.services.dir.path()
    }

    /// Keeps [`Stack::dir`] after the run, for its logs.
    pub fn keep_dir(&mut self) {
        self.services.dir.disable_cleanup(true);
    }

    /// The distributor, then the nodes, each with its name.
    fn services(&self) -> impl Iterator<Item = (&str, &Service)> {
        let nodes = testkit::services::NODE_IDS
            .into_iter()
            .zip(&self.services.nodes);
        std::iter::once(("dist", &self.services.dist)).chain(nodes)
    }

    /// The CPU time each service has spent so far, the distributor first.
    pub fn cpu_spent(&self) -> Vec<(&str, Duration)> {
        self.services()
            .map(|(name, service)| {
                let spent = service
                    .pid()
                    .map_or(Duration::ZERO, crate::cpu::of_process_tree);
                (name, spent)
            })
            .collect()
    }

    /// The process of the service that answers `url`, if one of ours does.
    pub fn pid_serving(&self, url: &str) -> Option<u32> {
        self.services()
            .find(|(_, service)| url.starts_with(&service.url))
            .and_then(|(_, service)| service.pid())
    }

    pub fn dist_url(&self) -> &str {
        &self.services.dist.url
    }

    /// The distributor's S3 API, which it announced at start-up.
    pub fn s3_url(&self) -> anyhow::Result<&str> {
        self.services
            .dist
            .s3_url
            .as_deref()
            .context("the distributor announced no S3 address")
    }

    /// An S3 access key that may read and write.
    pub async fn access_key(&self) -> anyhow::Result<CreatedAccessKey> {
        let body = serde_json::json!({"name": "bench", "scopes": [Scope::Read, Scope::Write]});
        let answer = self
            .http
            .post(format!("{}/keys", self.dist_url()))
            .bearer_auth(self.token())
            .json(&body)
            .send()
            .await?
            .error_for_status()?;
        Ok(answer.json().await?)
    }

    /// The admin token the harness gave the distributor: uploads need a
    /// token, reads of public content do not.
    pub fn token(&self) -> &str {
        self.services.admin_token()
    }

    /// Where the distributor serves an object's bytes.
    pub fn data_url(&self, id: &str) -> String {
        format!("{}/content/{id}/data", self.dist_url())
    }

    /// Waits until the distributor is ready, which it is once it has
    /// heard from its nodes.
    async fn wait_until_ready(&self) -> anyhow::Result<()> {
        let url = format!("{}/readyz", self.dist_url());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let answer = self.http.get(&url).send().await;
            if answer
                .as_ref()
                .is_ok_and(|answer| answer.status().is_success())
            {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("the distributor was not ready within 30 s: {answer:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Uploads `bytes` through the distributor; returns the object's id.
    pub async fn upload(&self, filename: &str, bytes: Vec<u8>) -> anyhow::Result<String> {
        let answer = self
            .http
            .post(format!("{}/content", self.dist_url()))
            .bearer_auth(self.token())
            .query(&[("filename", filename)])
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .with_context(|| format!("uploading {filename}"))?;
        ensure!(
            answer.status() == StatusCode::CREATED,
            "uploading {filename}: {} {}",
            answer.status(),
            answer.text().await.unwrap_or_default()
        );
        let location = location(&answer)?;
        let id = location
            .strip_prefix("/content/")
            .with_context(|| format!("uploading {filename}: Location {location:?}"))?;
        Ok(id.to_owned())
    }

    /// Uploads every body, some at once; returns their ids in order.
    pub async fn upload_all(
        &self,
        name: &str,
        bodies: Vec<Vec<u8>>,
    ) -> anyhow::Result<Vec<String>> {
        let uploads = bodies
            .into_iter()
            .enumerate()
            .map(|(index, body)| self.upload_owned(format!("{name}-{index}.bin"), body));
        futures::stream::iter(uploads)
            .buffered(UPLOADS_IN_FLIGHT)
            .try_collect()
            .await
    }

    async fn upload_owned(&self, filename: String, body: Vec<u8>) -> anyhow::Result<String> {
        self.upload(&filename, body).await
    }

    /// The ids of every object whose name contains `name`, oldest first.
    pub async fn ids_named(&self, name: &str) -> anyhow::Result<Vec<String>> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        // Bounded: each page moves the cursor on, and there is an end.
        for _ in 0..10_000 {
            let mut query = vec![("q", name.to_owned()), ("limit", MAX_PAGE.to_string())];
            query.extend(cursor.take().map(|cursor| ("cursor", cursor)));
            let page: ContentList = self
                .http
                .get(format!("{}/content", self.dist_url()))
                .bearer_auth(self.token())
                .query(&query)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            ids.extend(page.items.into_iter().map(|content| content.id.to_string()));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(ids),
            }
        }
        bail!("listing {name:?} did not end")
    }

    /// What the distributor's hot-object cache has served so far.
    pub async fn cache_stats(&self) -> anyhow::Result<CacheStats> {
        let stats: ClusterStats = self
            .http
            .get(format!("{}/stats", self.dist_url()))
            .bearer_auth(self.token())
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(stats.cache)
    }

    /// The node URL a client is sent to for an object (`?redirect=1`).
    pub async fn node_url(&self, id: &str) -> anyhow::Result<String> {
        let answer = self
            .http
            .get(self.data_url(id))
            .query(&[("redirect", "1")])
            .send()
            .await?;
        ensure!(
            answer.status().is_redirection(),
            "?redirect=1 answered {}",
            answer.status()
        );
        location(&answer)
    }

    /// Fails unless `url` answers exactly `expected`.
    pub async fn expect_bytes(&self, url: &str, expected: &[u8]) -> anyhow::Result<()> {
        let answer = self.http.get(url).send().await?.error_for_status()?;
        let body = answer.bytes().await?;
        ensure!(
            body == expected,
            "{url} does not serve the bytes uploaded ({} bytes instead of {})",
            body.len(),
            expected.len()
        );
        Ok(())
    }

    /// One upload of `size` and its download, by `cdn bench`.
    pub async fn transfer(&self, size: &str) -> anyhow::Result<Transfer> {
        let bytes = parse_size::parse_size(size)?;
        let deadline = Duration::from_secs(30 + 2 * bytes / SLOWEST_TRANSFER_BYTES_PER_SECOND);
        let mut command = tokio::process::Command::new(&self.cdn);
        command
            .args(["--url", self.dist_url(), "--json", "bench", "--size", size])
            .env("CDN_TOKEN", self.token())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // Its complaints, if any, go straight to the person watching.
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let output = tokio::time::timeout(deadline, command.output())
            .await
            .with_context(|| format!("cdn bench did not end within {deadline:?}"))?
            .context("running cdn bench")?;
        ensure!(
            output.status.success(),
            "cdn bench failed ({})",
            output.status
        );
        serde_json::from_slice(&output.stdout).with_context(|| {
            format!(
                "cdn bench gave no figures: {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// Every service answers `/metrics`, and the distributor's counted
    /// the uploads; each answer is kept in `dir`.
    pub async fn check_metrics(&self, dir: &Path) -> anyhow::Result<()> {
        for (name, service) in self.services() {
            let url = format!("{}/metrics", service.url);
            // An admin token for the distributor's, the node secret for a
            // node's (see "Operator routes").
            let request = if name == "dist" {
                self.http.get(&url).bearer_auth(self.token())
            } else {
                self.services.node_http.get(&url)
            };
            let answer = request.send().await?.error_for_status()?;
            let text = answer
                .text()
                .await
                .with_context(|| format!("reading {url}"))?;
            std::fs::write(dir.join(format!("{name}.metrics")), &text)?;
            ensure!(!text.is_empty(), "{url} is empty");
        }
        let dist = std::fs::read_to_string(dir.join("dist.metrics"))?;
        let uploads = r#"cdn_http_requests_total{method="POST",route="/content",status="201"}"#;
        ensure!(
            dist.lines().any(|line| line.starts_with(uploads)),
            "the distributor's /metrics did not count the uploads"
        );
        Ok(())
    }

    /// The end of each service's log on stderr, to see why a run failed.
    pub fn print_log_tails(&self) {
        for (name, service) in self.services() {
            let log = service.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
            eprintln!("--- the last lines of {name}'s log:\n{}", tail.join("\n"));
        }
    }

    /// Each service's highest resident memory so far (`VmHWM`), in MiB.
    pub fn peak_rss(&self) -> Vec<(String, f64)> {
        self.services()
            .map(|(name, service)| (name.to_owned(), service.peak_rss() as f64 / MIB))
            .collect()
    }
}

fn location(answer: &reqwest::Response) -> anyhow::Result<String> {
    let location = answer
        .headers()
        .get(LOCATION)
        .context("no Location in the answer")?;
    Ok(location.to_str()?.to_owned())
}
