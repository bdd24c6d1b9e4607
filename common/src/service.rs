//! What every server binary does around its router.

use std::future::Future;
use std::io::{self, IsTerminal, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::FromRawFd;
use std::process::ExitCode;
use std::time::Duration;

use axum::serve::{Listener, ListenerExt};
use tracing_subscriber::EnvFilter;

use crate::env::{self, EnvError, Setting, Vars};

/// Log lines waiting for the writer thread, at most: more than a second of
/// requests at full speed. Each slot is allocated up front.
const BUFFERED_LOG_LINES: usize = 16 * 1024;

/// Logs to stderr: one human-readable line per event, or JSON when
/// `LOG_FORMAT=json` (one object per line, the event's fields at the top
/// level). `RUST_LOG` picks the level (default `info`); the per-request
/// lines have the target `access`, so `RUST_LOG=info,access=off` drops them.
///
/// Lines are written by a thread of their own, so a request never waits on
/// stderr (a slow terminal or pipe); should that thread fall behind by
/// more than its buffer of lines, new lines are dropped rather than slow
/// the requests. Keep the guard until the process ends: dropping it writes
/// out what is buffered.
pub fn init_tracing() -> tracing_appender::non_blocking::WorkerGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(BUFFERED_LOG_LINES)
        .lossy(true)
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        // Colours only for a person at a terminal, never in a log file.
        .with_ansi(std::io::stderr().is_terminal());
    if std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json")) {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
    guard
}

/// `listener`, with Nagle's algorithm off on every connection it accepts.
///
/// A response often leaves in two writes (head, then body). With Nagle on,
/// the second waits for the client to acknowledge the first, which a client
/// may delay by up to 40 ms: a small GET then takes 40 ms instead of 0.1.
pub fn no_delay(
    listener: tokio::net::TcpListener,
) -> impl Listener<Io = tokio::net::TcpStream, Addr = SocketAddr> {
    listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(error = %err, "cannot set TCP_NODELAY");
        }
    })
}

/// A service as its settings describe it: what a binary's `main` needs.
/// The whole `main` is then `service::main::<TheConfig>()`.
pub trait Service: Sized {
    /// The binary's name, at the start of its error lines.
    const NAME: &'static str;
    /// One line for `--help`.
    const ABOUT: &'static str;
    /// Every setting, read by `from_vars` and listed by `--help`.
    const SETTINGS: &'static [Setting];
    type Error: std::fmt::Display;

    fn from_vars(vars: &Vars) -> Result<Self, EnvError>;

    fn listen_addr(&self) -> SocketAddr;

    /// Serves on `listener` until `shutdown` completes.
    fn run(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = Result<(), Self::Error>>;
}

/// The whole of a service's `main`: `--help`; `--healthcheck` (probe
/// `LISTEN_ADDR`); or read the settings, start logging, take the listener
/// and serve until SIGINT or SIGTERM. Any error ends the process with one
/// line naming the program.
pub async fn main<S: Service>() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--help" || arg == "-h") {
        print!("{}", env::help(S::NAME, S::ABOUT, S::SETTINGS));
        return ExitCode::SUCCESS;
    }
    let vars = Vars::from_env(S::SETTINGS);
    if args.iter().any(|arg| arg == "--healthcheck") {
        // Only the address matters here: the rest may be unset.
        return match vars.parse("LISTEN_ADDR") {
            Ok(addr) if probe_health(addr) => ExitCode::SUCCESS,
            _ => ExitCode::FAILURE,
        };
    }
    let started = async {
        let service = S::from_vars(&vars).map_err(|err| err.to_string())?;
        let _logs = init_tracing();
        let addr = service.listen_addr();
        let listener = listener(addr)
            .await
            .map_err(|err| format!("LISTEN_ADDR: cannot listen on {addr}: {err}"))?;
        announce(&listener).map_err(|err| format!("cannot write to stdout: {err}"))?;
        // `{:#}` shows an error with its causes, on one line.
        service
            .run(listener, shutdown_signal())
            .await
            .map_err(|err| format!("{err:#}"))
    };
    match started.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{}: {message}", S::NAME);
            ExitCode::FAILURE
        }
    }
}

/// The first file descriptor handed over by socket activation.
const FIRST_INHERITED_FD: i32 = 3;

/// The socket to serve on: the listening socket this process was handed,
/// when it was started with one (`LISTEN_FDS=1`, fd 3, as systemd's socket
/// activation does, and as the test harness does to keep a node's address
/// across restarts), else a new one bound to `addr`. Port 0 takes any free
/// port: see [`announce`].
pub async fn listener(addr: SocketAddr) -> io::Result<tokio::net::TcpListener> {
    let handed_over = std::env::var("LISTEN_FDS").is_ok_and(|fds| fds.trim() == "1")
        && std::env::var("LISTEN_PID")
            .map_or(true, |pid| pid.trim() == std::process::id().to_string());
    if !handed_over {
        return tokio::net::TcpListener::bind(addr).await;
    }
    // SAFETY: under the socket-activation protocol fd 3 is a listening
    // socket given to this process alone, and nothing else here uses it.
    let std_listener = unsafe { std::net::TcpListener::from_raw_fd(FIRST_INHERITED_FD) };
    std_listener.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(std_listener)
}

/// Prints `listening on ADDR` on stdout (logs go to stderr), so whoever
/// started the service on port 0 learns the port it got.
pub fn announce(listener: &tokio::net::TcpListener) -> io::Result<SocketAddr> {
    announce_as("", listener)
}

/// [`announce`] for a second listener, after the first: `NAME listening
/// on ADDR`.
pub fn announce_as(name: &str, listener: &tokio::net::TcpListener) -> io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    let prefix = if name.is_empty() {
        String::new()
    } else {
        format!("{name} ")
    };
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{prefix}listening on {addr}")?;
    stdout.flush()?;
    Ok(addr)
}

/// Completes on SIGINT or SIGTERM, so `docker stop` and Ctrl-C both let
/// in-flight requests finish.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler cannot fail on Unix");
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate.recv() => {}
    }
}

/// The container healthcheck: `GET /healthz` on this machine's port of
/// `listen`. It is a few lines of plain HTTP/1.0 so the runtime image needs
/// no curl.
pub fn probe_health(listen: SocketAddr) -> bool {
    let target = SocketAddr::from((Ipv4Addr::LOCALHOST, listen.port()));
    let answer = || -> std::io::Result<String> {
        let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut head = [0u8; 16];
        let read = stream.read(&mut head)?;
        Ok(String::from_utf8_lossy(&head[..read]).into_owned())
    };
    answer().is_ok_and(|status_line| {
        status_line.starts_with("HTTP/1.1 200") || status_line.starts_with("HTTP/1.0 200")
    })
}
