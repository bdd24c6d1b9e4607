//! A service run as a child process of the real binary, for tests that
//! SIGKILL it, read its log or measure its memory.
//!
//! The child is handed its listening socket as fd 3 with `LISTEN_FDS=1`
//! (socket activation), so its address is known before it starts and stays
//! the same when it is killed and started again.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::tied;

/// The first file descriptor of socket activation.
const LISTEN_FD: i32 = 3;

/// The lines a service may start its stdout with, one per listener: the
/// one it was handed, then the distributor's S3 listener.
const ANNOUNCED_LINES: usize = 2;

pub(crate) struct ChildProcess {
    child: Child,
    /// The harness's copy of the listening socket. Dropped with the child,
    /// so that once the child is dead nothing is left listening and
    /// connections are refused rather than queued.
    _listener: TcpListener,
    /// The lines the child announced its listeners with.
    announced: mpsc::Receiver<String>,
}

impl ChildProcess {
    /// Starts `binary` with only `settings` in its environment, serving on
    /// `listener`, its stderr appended to `log`.
    pub(crate) fn spawn(
        binary: &Path,
        settings: &[(String, String)],
        listener: TcpListener,
        log: &Path,
    ) -> io::Result<ChildProcess> {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .envs(settings.iter().map(|(name, value)| (name, value)))
            .env("LISTEN_FDS", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::options().create(true).append(true).open(log)?);
        if !settings.iter().any(|(name, _)| name == "RUST_LOG") {
            command.env("RUST_LOG", "info");
        }
        let fd = listener.as_raw_fd();
        // SAFETY: runs between fork and exec and makes only dup2 and fcntl
        // calls, which are async-signal-safe.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
                // dup2 leaves the new descriptor open across exec; a socket
                // that already is fd 3 needs its close-on-exec flag cleared.
                let result = if fd == LISTEN_FD {
                    libc::fcntl(fd, libc::F_SETFD, 0)
                } else {
                    libc::dup2(fd, LISTEN_FD)
                };
                if result == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = tied::spawn(command)?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (announce, announced) = mpsc::channel();
        std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            for _ in 0..ANNOUNCED_LINES {
                let mut line = String::new();
                match stdout.read_line(&mut line) {
                    Ok(read) if read > 0 => {
                        let _ = announce.send(line.trim_end().to_owned());
                    }
                    _ => break,
                }
            }
            // Nothing else is expected there; drain it so the child can
            // never block on a full pipe.
            let _ = io::copy(&mut stdout, &mut io::sink());
        });
        Ok(ChildProcess {
            child,
            _listener: listener,
            announced,
        })
    }

    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// How the child ended, if it has.
    pub(crate) fn ended(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(err) => Some(err.to_string()),
        }
    }

    /// The next of the lines the child announced its listeners with,
    /// waiting at most `limit` for it.
    pub(crate) fn announced(&self, limit: Duration) -> Option<String> {
        self.announced.recv_timeout(limit).ok()
    }
}

impl Drop for ChildProcess {
    /// SIGKILL: the child gets no chance to tidy up.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
