//! Starting the distributor and the storage nodes for a test.
//!
//! A [`Service`] runs in-process by default: its library's `run(listener,
//! config, shutdown)` on a runtime of its own, serving on a port-0 listener,
//! its config built from the same settings table as its binary's. A test
//! that must SIGKILL a service, read its log or measure its memory starts it
//! as a child process of the real binary instead ([`Mode::Child`]).
//!
//! Either way its address comes from a [`HeldPort`]: known before it starts,
//! the same after a restart, refusing connections while it is down.
//!
//! [`Stack`] starts a whole cluster: three nodes and a distributor on a
//! fresh database.

mod binary;
mod child;
mod in_process;
mod stack;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Once;
use std::time::{Duration, Instant};

use cdn_common::env::Vars;
use cdn_common::service::Service as _;

use crate::net::HeldPort;
use child::ChildProcess;
use in_process::InProcess;

pub use stack::{Children, NODE_IDS, Stack, StackConfig, bearer_http, body, node_index};

/// The node secret of every service a test starts, unless its settings
/// name one (`NODE_SECRET` or `NODE_SECRET_FILE`).
pub const NODE_SECRET: &str = "node-secret-of-the-test-services";

/// An HTTP client that shows [`NODE_SECRET`], for calling a node's sealed
/// routes as the distributor does.
pub fn node_http() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        reqwest::header::HeaderValue::from_str(&format!("Bearer {NODE_SECRET}")).unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("an HTTP client")
}

/// The calls a sealed node must refuse without its secret: reads and writes
/// of `blob`, a write elsewhere, and every other route but `/healthz`.
pub fn sealed_node_calls(node_url: &str, blob: &str) -> Vec<(reqwest::Method, String)> {
    use reqwest::Method;
    vec![
        (Method::PUT, blob.to_owned()),
        (Method::DELETE, blob.to_owned()),
        (Method::GET, blob.to_owned()),
        (Method::HEAD, blob.to_owned()),
        (Method::PUT, format!("{node_url}/blobs/planted")),
        (Method::GET, format!("{node_url}/blobs")),
        (Method::GET, format!("{node_url}/stats")),
        (Method::GET, format!("{node_url}/metrics")),
        (Method::POST, format!("{node_url}/scrub")),
        (Method::GET, format!("{node_url}/nowhere")),
    ]
}

/// How long a service may take to answer `/healthz` after it starts.
const READY_DEADLINE: Duration = Duration::from_secs(30);

/// Which service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Program {
    /// `cdn-dist`, the distributor.
    Dist,
    /// `cdn-node`, a storage node.
    Node,
}

impl Program {
    fn binary_name(self) -> &'static str {
        match self {
            Program::Dist => "cdn-dist",
            Program::Node => "cdn-node",
        }
    }

    /// The service's binary, built from the current sources. Blocks while
    /// Cargo builds it, the first time in a process.
    pub fn binary(self) -> PathBuf {
        let name = self.binary_name();
        binary::path(name, name)
    }
}

/// The `cdn` command, built from the current sources. Blocks while Cargo
/// builds it, the first time in a process.
pub fn cdn_binary() -> PathBuf {
    binary::path("cdn-client", "cdn")
}

/// How a service runs.
#[derive(Clone, Debug)]
pub enum Mode {
    /// In this process, on a runtime of its own.
    InProcess,
    /// A child process of the real binary, its log (stderr) appended to
    /// `log`.
    Child { log: PathBuf },
}

/// A running (or stopped) distributor or node.
pub struct Service {
    /// `http://127.0.0.1:PORT`; the same for the service's whole life.
    pub url: String,
    /// The distributor's S3 API, `http://127.0.0.1:PORT`. In-process it
    /// stays the same; a child takes a new port at each start, announced
    /// on its stdout.
    pub s3_url: Option<String>,
    program: Program,
    settings: Vec<(String, String)>,
    mode: Mode,
    port: HeldPort,
    s3_port: Option<HeldPort>,
    running: Option<Running>,
}

enum Running {
    InProcess(InProcess),
    Child(ChildProcess),
}

impl Service {
    /// Starts `program` with `settings` (its environment variables, as
    /// `--help` lists them) and waits until it answers `/healthz`.
    /// `LISTEN_ADDR` is set by the harness.
    pub async fn start(
        program: Program,
        settings: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
        mode: Mode,
    ) -> Service {
        let port = HeldPort::new().expect("holding a loopback port");
        Service::start_on(port, program, settings, mode).await
    }

    /// [`Service::start`] on a port held already, for settings that name
    /// the service's own address (`PUBLIC_URL`).
    pub async fn start_on(
        port: HeldPort,
        program: Program,
        settings: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
        mode: Mode,
    ) -> Service {
        let mut settings: Vec<(String, String)> = settings
            .into_iter()
            .map(|(name, value)| (name.into(), value.into()))
            .filter(|(name, _)| name != "LISTEN_ADDR")
            .collect();
        settings.push(("LISTEN_ADDR".into(), port.addr().to_string()));
        if !settings
            .iter()
            .any(|(name, _)| name.starts_with("NODE_SECRET"))
        {
            settings.push(("NODE_SECRET".into(), NODE_SECRET.into()));
        }
        let s3_port = match (program, &mode) {
            (Program::Dist, Mode::InProcess) => {
                Some(HeldPort::new().expect("holding a loopback port"))
            }
            _ => None,
        };
        if program == Program::Dist && s3_port.is_none() {
            // Never the default 0.0.0.0:9000, which parallel tests share.
            settings.retain(|(name, _)| name != "S3_LISTEN_ADDR");
            settings.push(("S3_LISTEN_ADDR".into(), "127.0.0.1:0".into()));
        }
        let mut service = Service {
            url: port.url(),
            s3_url: s3_port.as_ref().map(HeldPort::url),
            s3_port,
            program,
            settings,
            mode,
            port,
            running: None,
        };
        service.run().await;
        service
    }

    pub fn addr(&self) -> SocketAddr {
        self.port.addr()
    }

    /// Stops the service (SIGKILL for a child; a graceful stop with a
    /// deadline in-process) and starts it again with the same settings, on
    /// the same address.
    pub async fn restart(&mut self) {
        self.running = None;
        self.run().await;
    }

    /// SIGKILL. Until a [`Service::restart`], connections to its address
    /// are refused.
    pub fn kill(&mut self) {
        assert!(
            matches!(self.running, None | Some(Running::Child(_))),
            "{}",
            self.only_for_children("kill")
        );
        self.running = None;
    }

    /// Stops the service gracefully (in-process) or with SIGKILL (child).
    pub fn stop(&mut self) {
        self.running = None;
    }

    /// The process id of a service running as a child process; `None`
    /// in-process or while it is stopped.
    pub fn pid(&self) -> Option<u32> {
        match &self.running {
            Some(Running::Child(child)) => Some(child.id()),
            _ => None,
        }
    }

    /// Whether it runs as a child process.
    pub fn is_child(&self) -> bool {
        matches!(self.mode, Mode::Child { .. })
    }

    /// Everything the service has logged so far (a child's only).
    pub fn log(&self) -> String {
        let Mode::Child { log } = &self.mode else {
            panic!("{}", self.only_for_children("read the log of"));
        };
        std::fs::read_to_string(log).unwrap_or_default()
    }

    /// Peak resident memory so far (`VmHWM`), in bytes (a child's only).
    pub fn peak_rss(&self) -> u64 {
        let Some(Running::Child(child)) = &self.running else {
            panic!("{}", self.only_for_children("measure the memory of"));
        };
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
            .expect("the child's /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.split_whitespace().next()?.parse().ok())
            .expect("a VmHWM line");
        kib * 1024
    }

    fn only_for_children(&self, what: &str) -> String {
        format!(
            "cannot {what} a {} running in-process: start it as a child process",
            self.program.binary_name()
        )
    }

    async fn run(&mut self) {
        let listener = self.port.listen().expect("listening on the held port");
        self.running = Some(match &self.mode {
            Mode::InProcess => {
                log_to_stderr_when_asked();
                let s3_listener = self
                    .s3_port
                    .as_ref()
                    .map(|port| port.listen().expect("listening on the held S3 port"));
                Running::InProcess(start_in_process(
                    self.program,
                    &self.settings,
                    listener,
                    s3_listener,
                ))
            }
            Mode::Child { log } => {
                let program = self.program;
                let binary = crate::blocking(move || program.binary()).await;
                let child = ChildProcess::spawn(&binary, &self.settings, listener, log)
                    .unwrap_or_else(|err| panic!("starting {}: {err}", binary.display()));
                Running::Child(child)
            }
        });
        self.wait_until_ready().await;
    }

    /// Polls `/healthz` until it answers 200, the service ends, or the
    /// deadline passes.
    async fn wait_until_ready(&mut self) {
        let name = self.program.binary_name();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let health = format!("{}/healthz", self.url);
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            let ended = match self.running.as_mut() {
                Some(Running::InProcess(service)) => service.ended(),
                Some(Running::Child(child)) => child.ended(),
                None => unreachable!("started just now"),
            };
            if let Some(why) = ended {
                panic!("{name} ended at start-up: {why}{}", self.log_if_any());
            }
            if let Ok(response) = http.get(&health).send().await
                && response.status().is_success()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not answer {health} within {READY_DEADLINE:?}{}",
                self.log_if_any()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut s3_url = None;
        if let Some(Running::Child(child)) = &self.running {
            // It printed this before serving, so it is there by now.
            let announced = child.announced(Duration::from_secs(5));
            let expected = format!("listening on {}", self.addr());
            assert_eq!(
                announced.as_deref(),
                Some(expected.as_str()),
                "{name}'s first line"
            );
            if self.program == Program::Dist {
                // It took port 0 for S3: the second line says which.
                let line = child.announced(Duration::from_secs(5));
                let addr = line
                    .as_deref()
                    .and_then(|line| line.strip_prefix("s3 listening on "))
                    .unwrap_or_else(|| panic!("{name}'s second line: {line:?}"));
                s3_url = Some(format!("http://{addr}"));
            }
        }
        if s3_url.is_some() {
            self.s3_url = s3_url;
        }
    }

    fn log_if_any(&self) -> String {
        match &self.mode {
            Mode::Child { .. } => format!(
                "\n{name}'s log:\n{}",
                self.log(),
                name = self.program.binary_name()
            ),
            Mode::InProcess => String::new(),
        }
    }
}

fn start_in_process(
    program: Program,
    settings: &[(String, String)],
    listener: std::net::TcpListener,
    s3_listener: Option<std::net::TcpListener>,
) -> InProcess {
    let name = program.binary_name();
    let bad = |err: cdn_common::env::EnvError| -> ! { panic!("{name}: {err}") };
    match program {
        Program::Node => {
            let vars = Vars::from_pairs(cdn_node::config::SETTINGS, settings.to_vec());
            let config = cdn_node::config::Config::from_vars(&vars).unwrap_or_else(|err| bad(err));
            InProcess::start(name, listener, move |listener, shutdown| {
                cdn_node::run(listener, config, shutdown)
            })
        }
        Program::Dist => {
            let vars = Vars::from_pairs(cdn_dist::config::SETTINGS, settings.to_vec());
            let config = cdn_dist::config::Config::from_vars(&vars).unwrap_or_else(|err| bad(err));
            let s3_listener = s3_listener.expect("an S3 listener for an in-process distributor");
            InProcess::start(name, listener, move |listener, shutdown| async move {
                s3_listener.set_nonblocking(true)?;
                let s3_listener = tokio::net::TcpListener::from_std(s3_listener)?;
                cdn_dist::run_with_s3(listener, s3_listener, config, shutdown).await
            })
        }
    }
}

/// In-process services log through this process's `tracing`: to stderr
/// when `RUST_LOG` asks for it, else nowhere.
fn log_to_stderr_when_asked() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .try_init();
        }
    });
}
