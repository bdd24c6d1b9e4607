//! PostgreSQL for tests and the benchmark: one server per process, a fresh
//! database per test.
//!
//! - [`shared`] gives the server of this run, started on first use: the
//!   one named by `DATABASE_URL` when that is set, else a throwaway cluster
//!   of this process's own.
//! - [`PgServer::fresh_database`] makes a new empty database on it and
//!   returns its URL.
//! - [`PgServer::start_own`] starts a throwaway cluster for one caller (a
//!   test that stops and restarts PostgreSQL, or a benchmark that wants
//!   `fsync` on); [`PgServer::stop`] and [`PgServer::start`] take it down
//!   at once, as a crash would, and bring it back.
//!
//! A throwaway cluster listens on a Unix socket in its own directory and on
//! no TCP port at all, so it can never collide with anything. Its server is
//! killed by the kernel when this process ends (see `tied`), its directory
//! is removed when it is dropped or the process exits, and directories left
//! by processes that died anyway are swept at the next start.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, Uid, User};
use sqlx::{Connection, Executor, PgConnection};

use crate::{blocking, tied};

/// Names of throwaway cluster directories: `<prefix><pid>.<random>`.
const DIR_PREFIX: &str = "cdn-testkit-pg.";
/// How long a server may take to accept connections, or to stop.
const START_DEADLINE: Duration = Duration::from_secs(30);
const STOP_DEADLINE: Duration = Duration::from_secs(10);

/// How a throwaway cluster runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct PgOptions {
    /// Flush every commit to disk, as a production server does. Off for
    /// tests, where surviving a power cut buys nothing and costs time (a
    /// crash of PostgreSQL itself loses nothing either way); on for a
    /// benchmark whose figures must include it.
    pub fsync: bool,
}

/// A PostgreSQL server: `DATABASE_URL`'s, or a throwaway cluster.
pub struct PgServer {
    kind: Kind,
}

enum Kind {
    External(reqwest::Url),
    Own(Arc<Cluster>),
}

/// The server every test of this process shares, started on first use.
pub async fn shared() -> &'static PgServer {
    static SHARED: OnceLock<PgServer> = OnceLock::new();
    if let Some(server) = SHARED.get() {
        return server;
    }
    blocking(|| {
        SHARED.get_or_init(|| match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => PgServer::external(&url),
            _ => {
                let cluster = Cluster::start(PgOptions::default());
                remove_at_exit(cluster.clone());
                PgServer {
                    kind: Kind::Own(cluster),
                }
            }
        })
    })
    .await
}

impl PgServer {
    /// A throwaway cluster of the caller's own, stopped and removed when
    /// dropped.
    pub async fn start_own(options: PgOptions) -> PgServer {
        let cluster = blocking(move || Cluster::start(options)).await;
        PgServer {
            kind: Kind::Own(cluster),
        }
    }

    fn external(url: &str) -> PgServer {
        let url = reqwest::Url::parse(url)
            .unwrap_or_else(|err| panic!("DATABASE_URL is not a URL: {err}"));
        PgServer {
            kind: Kind::External(url),
        }
    }

    /// The URL of `database` on this server, as sqlx and the distributor's
    /// `DATABASE_URL` take it.
    pub fn url(&self, database: &str) -> String {
        let mut url = match &self.kind {
            Kind::External(url) => url.clone(),
            Kind::Own(cluster) => {
                let mut url = reqwest::Url::parse("postgres://postgres@localhost/").unwrap();
                // A `host` that is a directory means the Unix socket in it.
                url.query_pairs_mut()
                    .append_pair("host", &cluster.dir.to_string_lossy());
                url
            }
        };
        url.set_path(database);
        url.to_string()
    }

    /// Creates a new, empty database and returns its URL.
    pub async fn fresh_database(&self) -> String {
        let name = format!("cdn_test_{}", uuid::Uuid::now_v7().simple());
        // DATABASE_URL as given, which may name a database other than
        // `postgres`; its password stays out of the messages.
        let (admin, which) = match &self.kind {
            Kind::External(url) => (url.to_string(), "DATABASE_URL".to_owned()),
            Kind::Own(cluster) => (self.url("postgres"), cluster.dir.display().to_string()),
        };
        let mut connection = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|err| panic!("cannot connect to PostgreSQL ({which}): {err}"));
        connection
            .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await
            .unwrap_or_else(|err| panic!("cannot create database {name}: {err}"));
        let _ = connection.close().await;
        self.url(&name)
    }

    /// Stops the server at once (PostgreSQL's immediate mode: no checkpoint,
    /// recovery at the next start), as a crash would. Only for a cluster of
    /// the caller's own.
    pub async fn stop(&self) {
        let cluster = self.own("stop");
        blocking(move || cluster.stop()).await;
    }

    /// Starts a stopped server again, on the same socket, and waits until
    /// it accepts connections. Does nothing when it is running.
    pub async fn start(&self) {
        let cluster = self.own("start");
        blocking(move || cluster.run()).await;
    }

    fn own(&self, what: &str) -> Arc<Cluster> {
        match &self.kind {
            Kind::Own(cluster) => cluster.clone(),
            Kind::External(_) => panic!("cannot {what} the server of DATABASE_URL"),
        }
    }
}

/// A cluster in a directory of its own, its server a tied child process.
struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    options: PgOptions,
    /// The user the server runs as, when not this process's: PostgreSQL
    /// refuses to run as root.
    run_as: Option<User>,
    postmaster: Mutex<Option<Child>>,
}

impl Cluster {
    fn start(options: PgOptions) -> Arc<Cluster> {
        static SWEEP: Once = Once::new();
        SWEEP.call_once(sweep_stale_dirs);
        let bin = server_binaries();
        let run_as = if Uid::effective().is_root() {
            let user = User::from_name("postgres").ok().flatten().expect(
                "running as root: PostgreSQL needs the `postgres` user to run as \
                 (the postgresql package creates it)",
            );
            Some(user)
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}.", std::process::id()))
            .tempdir()
            .expect("creating a directory for PostgreSQL")
            .keep();
        if let Some(user) = &run_as {
            std::os::unix::fs::chown(&dir, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                .expect("handing PostgreSQL's directory to its user");
        }
        let cluster = Arc::new(Cluster {
            dir,
            bin,
            options,
            run_as,
            postmaster: Mutex::new(None),
        });
        let mut initdb = cluster.command("initdb");
        initdb
            .arg("--pgdata")
            .arg(cluster.data())
            .args(["--username=postgres", "--auth=trust", "--no-sync"])
            // Byte order for text and UTF-8 whatever this machine's locale.
            .args(["--encoding=UTF8", "--locale=C"]);
        let output = initdb.output().expect("running initdb");
        assert!(
            output.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        cluster.run();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// A command for one of the server binaries, as the server's user.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        command.current_dir(&self.dir).stdin(Stdio::null());
        if let Some(user) = &self.run_as {
            std::os::unix::process::CommandExt::uid(&mut command, user.uid.as_raw());
            std::os::unix::process::CommandExt::gid(&mut command, user.gid.as_raw());
        }
        command
    }

    /// Starts the server unless it runs, and waits until it is ready.
    fn run(&self) {
        let mut postmaster = self.postmaster.lock().unwrap();
        if postmaster.is_some() {
            return;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("log"))
            .expect("opening PostgreSQL's log");
        let mut command = self.command("postgres");
        command
            .arg("-D")
            .arg(self.data())
            .arg("-k")
            .arg(&self.dir)
            // The Unix socket only: no TCP port to find or to collide on.
            .args(["-c", "listen_addresses="])
            // Every test's distributor keeps a pool of connections.
            .args(["-c", "max_connections=300"])
            .stdout(log.try_clone().expect("opening PostgreSQL's log"))
            .stderr(log);
        // Without fsync a commit still reaches the kernel before it is
        // acknowledged (synchronous_commit stays on), so it survives a crash
        // of PostgreSQL, as a test that stops it expects; only a crash of the
        // machine would lose it.
        if !self.options.fsync {
            command.args(["-c", "fsync=off", "-c", "full_page_writes=off"]);
        }
        let mut child = tied::spawn(command).expect("starting postgres");
        let deadline = Instant::now() + START_DEADLINE;
        while !self.ready() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("postgres exited with {status}:\n{}", self.log());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "postgres not ready after {START_DEADLINE:?}:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        *postmaster = Some(child);
    }

    /// Whether the server accepts connections: the status it writes in
    /// the eighth line of `postmaster.pid`, which is what `pg_ctl` waits for.
    fn ready(&self) -> bool {
        std::fs::read_to_string(self.data().join("postmaster.pid"))
            .is_ok_and(|pid_file| pid_file.lines().nth(7).map(str::trim) == Some("ready"))
    }

    /// Immediate shutdown (SIGQUIT), SIGKILL if that takes too long.
    fn stop(&self) {
        let Some(mut child) = self.postmaster.lock().unwrap().take() else {
            return;
        };
        let pid = Pid::from_raw(child.id() as i32);
        let _ = kill(pid, Signal::SIGQUIT);
        let deadline = Instant::now() + STOP_DEADLINE;
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    fn remove(&self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.remove();
    }
}

/// The shared cluster lives in a static, which is never dropped: remove it
/// when the process exits normally.
fn remove_at_exit(cluster: Arc<Cluster>) {
    static AT_EXIT: OnceLock<Arc<Cluster>> = OnceLock::new();
    extern "C" fn remove_shared() {
        if let Some(cluster) = AT_EXIT.get() {
            cluster.remove();
        }
    }
    if AT_EXIT.set(cluster).is_ok() {
        // SAFETY: registers a plain function with no arguments, as atexit
        // expects; it touches only the cluster, which lives in a static.
        unsafe { libc::atexit(remove_shared) };
    }
}

/// Removes the directories of clusters whose process is gone; their
/// servers died with it.
fn sweep_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(DIR_PREFIX)
            .and_then(|rest| rest.split('.').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The directory holding `initdb` and `postgres`: on `PATH`, else the
/// newest under `/usr/lib/postgresql`, where Debian puts them.
fn server_binaries() -> PathBuf {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    let on_path = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| has_both(dir)));
    let packaged = || {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .filter_map(|entry| {
                let version = entry.file_name().to_string_lossy().parse().ok()?;
                Some((version, entry.path().join("bin")))
            })
            .filter(|(_, bin)| has_both(bin))
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin)
    };
    on_path.or_else(packaged).expect(
        "PostgreSQL server binaries (initdb, postgres) not found: install the postgresql \
         package, or set DATABASE_URL to a server the tests may create databases on",
    )
}
