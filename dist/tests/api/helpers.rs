//! Starts a real stack for one test: a fresh database on the PostgreSQL
//! server named by `DATABASE_URL`, three `cdn-node` processes and one
//! `cdn-dist` process on free loopback ports, each with its own directory.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cdn_client::Client;
use cdn_common::wire::{NodeList, NodeStatus};
use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;

pub const NODE_IDS: [&str; 3] = ["node1", "node2", "node3"];

/// A service running as a child process; killed when dropped.
pub struct Process {
    child: Child,
    pub url: String,
    log: PathBuf,
    /// How it was started, to start it again.
    binary: PathBuf,
    env: Vec<(&'static str, String)>,
}

impl Process {
    /// Peak resident memory so far (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("process status");
        let line = status
            .lines()
            .find(|line| line.starts_with("VmHWM:"))
            .expect("VmHWM line");
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }

    /// SIGKILL: the process gets no chance to tidy up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Starts the process again, as before, once the old one is gone.
    pub async fn restart(&mut self) {
        self.kill();
        let dir = self.log.parent().unwrap().to_owned();
        let name = self.log.file_stem().unwrap().to_string_lossy().into_owned();
        let fresh = spawn(&self.binary, &name, &self.env, &dir, self.url.clone()).await;
        *self = fresh;
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct StackConfig {
    pub max_storage: [&'static str; 3],
    /// Bytes of blobs already on each node's disk when it starts.
    pub prefill: [usize; 3],
    pub replication: usize,
    /// More settings for the distributor (`REPAIR_GRACE`, …).
    pub dist_env: Vec<(&'static str, String)>,
    /// A database of the test's own instead of a fresh one on `DATABASE_URL`.
    pub database_url: Option<String>,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            max_storage: ["2GiB"; 3],
            prefill: [0; 3],
            replication: 1,
            dist_env: Vec::new(),
            database_url: None,
        }
    }
}

pub struct Stack {
    pub dist: Process,
    pub nodes: Vec<Process>,
    pub client: Client,
    pub http: reqwest::Client,
    pub dir: TempDir,
}

impl Stack {
    pub async fn start() -> Stack {
        Stack::start_with(StackConfig::default()).await
    }

    pub async fn start_with(config: StackConfig) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let mut nodes = Vec::new();
        for (index, id) in NODE_IDS.iter().enumerate() {
            if config.prefill[index] > 0 {
                let blobs = dir.path().join(id).join("blobs");
                std::fs::create_dir_all(&blobs).unwrap();
                std::fs::write(blobs.join("prefill"), vec![0u8; config.prefill[index]]).unwrap();
            }
            let port = free_port();
            let url = format!("http://127.0.0.1:{port}");
            let env = vec![
                ("NODE_ID", id.to_string()),
                ("LISTEN_ADDR", format!("127.0.0.1:{port}")),
                ("STORAGE_DIR", dir.path().join(id).display().to_string()),
                ("MAX_STORAGE", config.max_storage[index].to_string()),
                ("PUBLIC_URL", url.clone()),
                ("SCRUB_INTERVAL", "off".to_string()),
            ];
            nodes.push(spawn(&node_binary(), id, &env, dir.path(), url).await);
        }
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let node_list = NODE_IDS
            .iter()
            .zip(&nodes)
            .map(|(id, node)| format!("{id}={}", node.url))
            .collect::<Vec<_>>()
            .join(",");
        let database_url = match config.database_url {
            Some(url) => url,
            None => fresh_database().await,
        };
        let mut env = vec![
            ("DATABASE_URL", database_url),
            ("LISTEN_ADDR", format!("127.0.0.1:{port}")),
            ("NODES", node_list),
            ("POLL_INTERVAL", "200ms".to_string()),
            ("REPLICATION", config.replication.to_string()),
            ("REPAIR_INTERVAL", "300ms".to_string()),
        ];
        env.extend(config.dist_env);
        let dist = spawn(
            Path::new(env!("CARGO_BIN_EXE_cdn-dist")),
            "dist",
            &env,
            dir.path(),
            url.clone(),
        )
        .await;
        Stack {
            client: Client::new(&url).unwrap(),
            http: reqwest::Client::new(),
            dist,
            nodes,
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.dist.url)
    }

    pub fn node_dir(&self, index: usize) -> PathBuf {
        self.dir.path().join(NODE_IDS[index])
    }

    /// Keys of the whole blobs on node `index`'s disk.
    pub fn blobs_on_disk(&self, index: usize) -> Vec<String> {
        list_dir(&self.dir.path().join(NODE_IDS[index]).join("blobs"))
    }

    /// Files of writes under way (or abandoned) on node `index`'s disk.
    pub fn temp_files_on_disk(&self, index: usize) -> Vec<String> {
        list_dir(&self.dir.path().join(NODE_IDS[index]).join("tmp"))
    }

    /// Waits (up to 10 s) until the distributor reports the node so.
    pub async fn wait_for_node(&self, id: &str, status: NodeStatus) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let nodes: NodeList = self.client.nodes().await.unwrap();
            if nodes
                .nodes
                .iter()
                .any(|node| node.id == id && node.status == status)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{id} never became {status:?}: {nodes:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The node binary, built beside `cdn-dist` by `cargo test --workspace`.
pub fn node_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_cdn-dist")).with_file_name("cdn-node");
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --workspace`, which builds it",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `binary` with only `env` and waits until `/healthz` answers.
async fn spawn(
    binary: &Path,
    name: &str,
    env: &[(&'static str, String)],
    dir: &Path,
    url: String,
) -> Process {
    let log = dir.join(format!("{name}.log"));
    let child = Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(key, value)| (key, value)))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut process = Process {
        child,
        url,
        log,
        binary: binary.to_owned(),
        env: env.to_vec(),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let http = reqwest::Client::new();
    loop {
        if let Ok(response) = http.get(format!("{}/healthz", process.url)).send().await
            && response.status().is_success()
        {
            return process;
        }
        if let Some(status) = process.child.try_wait().unwrap() {
            panic!("{name} exited with {status}:\n{}", process.log());
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not start:\n{}",
            process.log()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A new, empty database on the test server.
pub async fn fresh_database() -> String {
    let server = std::env::var("DATABASE_URL").expect(
        "DATABASE_URL must name a PostgreSQL server the tests may create databases on \
         (scripts/test starts a throwaway one)",
    );
    let name = format!("cdn_test_{}", uuid::Uuid::now_v7().simple());
    let mut connection = PgConnection::connect(&server)
        .await
        .expect("connect to DATABASE_URL");
    connection
        .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
        .await
        .unwrap();
    let mut url = reqwest::Url::parse(&server).unwrap();
    url.set_path(&name);
    url.to_string()
}

/// A PostgreSQL server of one test's own, for tests that stop and start it.
pub struct TestPostgres {
    bin: PathBuf,
    data: PathBuf,
    pub url: String,
    port: u16,
    _dir: TempDir,
}

impl TestPostgres {
    pub fn start() -> TestPostgres {
        let bin = postgres_bin();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let port = free_port();
        // PostgreSQL refuses to run as root: hand the directory to its user.
        if is_root() {
            run(Command::new("chown").arg("postgres").arg(dir.path()));
        }
        run(as_postgres(&bin.join("initdb"))
            .args(["-U", "postgres", "-A", "trust", "-D"])
            .arg(&data));
        let server = TestPostgres {
            bin,
            data,
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            port,
            _dir: dir,
        };
        server.start_again();
        server
    }

    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.data.display()
        );
        run(as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-l"])
            .arg(self.data.join("log"))
            .args(["-w", "-o", &options, "start"]));
    }

    /// Stops it at once, as a crash or a restart of the host would.
    pub fn stop(&self) {
        run(as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"]));
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

fn postgres_bin() -> PathBuf {
    let on_path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .find(|dir| dir.join("initdb").exists());
    let packaged = || {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .map(|entry| entry.unwrap().path().join("bin"))
            .filter(|bin| bin.join("initdb").exists())
            .collect();
        versions.sort();
        versions.pop()
    };
    on_path
        .or_else(packaged)
        .expect("PostgreSQL server binaries (initdb, pg_ctl) not found")
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|meta| std::os::unix::fs::MetadataExt::uid(&meta) == 0)
        .unwrap_or(false)
}

fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
