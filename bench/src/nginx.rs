//! nginx serving a directory, the yardstick: a temporary configuration, a
//! listening socket bound here and handed over, stopped on drop.
//!
//! nginx takes over listening sockets named in its `NGINX` environment
//! variable (`"3;"`), as its binary upgrade does, when a `listen` line of
//! its configuration names the same address. So the port is bound here
//! (port 0) and never searched for; connections made before nginx is up
//! wait in the socket's backlog.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

/// Where nginx finds the handed-over socket.
const INHERITED_FD: RawFd = 3;

/// How long nginx may take to stop gracefully before it is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(5);

/// A running nginx; dropping it stops it and its workers.
pub struct Nginx {
    master: Child,
    pub url: String,
}

impl Nginx {
    /// The master's process id; its workers are its children.
    pub fn pid(&self) -> u32 {
        self.master.id()
    }

    /// Starts nginx serving the files under `root`, with its configuration,
    /// temporary files and error log under `dir`.
    pub fn start(dir: &Path, root: &Path) -> anyhow::Result<Nginx> {
        let binary = find_binary().context("nginx is not installed")?;
        std::fs::create_dir_all(dir)?;
        let listener = TcpListener::bind("127.0.0.1:0").context("binding nginx's socket")?;
        let addr = listener.local_addr()?;
        let config_path = dir.join("nginx.conf");
        std::fs::write(&config_path, config(dir, root, addr))?;
        let error_log = dir.join("error.log");

        let mut command = Command::new(&binary);
        command
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&config_path)
            .arg("-e")
            .arg(&error_log)
            .env("NGINX", format!("{INHERITED_FD};"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so the workers can be killed with the
            // master should it not stop by itself.
            .process_group(0);
        hand_over(&mut command, listener.as_raw_fd());
        let master = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        // nginx holds its own copy now.
        drop(listener);
        let mut nginx = Nginx {
            master,
            url: format!("http://{addr}"),
        };
        // A bad configuration ends nginx at once.
        std::thread::sleep(Duration::from_millis(100));
        let status = nginx.master.try_wait()?;
        ensure!(
            status.is_none(),
            "nginx exited ({}): {}",
            status.unwrap_or_default(),
            std::fs::read_to_string(&error_log).unwrap_or_default()
        );
        Ok(nginx)
    }

    /// `nginx -v`, e.g. `nginx/1.22.1`.
    pub fn version() -> String {
        let version = find_binary().and_then(|binary| Command::new(binary).arg("-v").output().ok());
        version
            .map(|output| String::from_utf8_lossy(&output.stderr).trim().to_owned())
            .and_then(|text| text.rsplit(' ').next().map(str::to_owned))
            .unwrap_or_else(|| "nginx (unknown version)".into())
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let pid = self.master.id() as libc::pid_t;
        // SAFETY: plain system calls on this child's own process id and
        // process group, which stay ours until it is reaped below.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let started = Instant::now();
        while started.elapsed() < STOP_DEADLINE {
            if !matches!(self.master.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: as above.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        let _ = self.master.wait();
    }
}

/// nginx from `PATH`, or where Debian puts it (`/usr/sbin` is not on
/// every user's `PATH`).
fn find_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("nginx"));
    on_path
        .chain([PathBuf::from("/usr/sbin/nginx")])
        .find(|candidate| candidate.is_file())
}

/// Makes `fd` the child's fd 3, open across `exec`.
fn hand_over(command: &mut Command, fd: RawFd) {
    // SAFETY: the closure runs between fork and exec and makes only
    // async-signal-safe system calls (dup2, fcntl); it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if fd == INHERITED_FD {
                // Already in place: only clear close-on-exec.
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, INHERITED_FD) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Static files as fast as nginx serves them: sendfile, no access log,
/// keep-alive without a request limit, one worker per core.
fn config(dir: &Path, root: &Path, addr: SocketAddr) -> String {
    let dir = dir.display();
    let root = root.display();
    format!(
        "worker_processes auto;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 10000000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    default_type application/octet-stream;
    server {{
        listen {addr};
        root {root};
    }}
}}
"
    )
}
