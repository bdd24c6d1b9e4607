//! `--profile`: `perf record` attached to the server under each load, so a
//! figure that misses its target comes with what its CPU time went to.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, ensure};
use tokio::process::{Child, Command};

/// Samples per second: enough for a 10 s load, little enough not to slow it.
const FREQUENCY: &str = "499";

/// How long perf may take to write its data once told to stop.
const STOP_DEADLINE: Duration = Duration::from_secs(30);

/// A `perf record` attached to one process.
pub struct Recording {
    perf: Child,
    data: PathBuf,
}

impl Recording {
    /// Starts sampling `pid` (call graphs unwound from the binaries' own
    /// unwind tables) into `data`.
    pub fn start(pid: u32, data: &Path) -> anyhow::Result<Recording> {
        let perf = Command::new("perf")
            .args([
                "record",
                "-e",
                "cpu-clock",
                "-F",
                FREQUENCY,
                "--call-graph",
                "dwarf,16384",
                "-q",
                "-o",
            ])
            .arg(data)
            .args(["-p", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting perf (Debian package linux-perf)")?;
        Ok(Recording {
            perf,
            data: data.to_owned(),
        })
    }

    /// Stops sampling and writes the report beside the data, as
    /// `….perf.txt`: where the time went, self time first.
    pub async fn finish(mut self) -> anyhow::Result<PathBuf> {
        let pid = self.perf.id().context("perf already ended")?;
        // perf writes its data when interrupted, as after a Ctrl-C.
        // SAFETY: signalling a child we started and have not reaped.
        unsafe { libc::kill(pid as i32, libc::SIGINT) };
        tokio::time::timeout(STOP_DEADLINE, self.perf.wait())
            .await
            .context("perf did not stop")??;
        let report = self.data.with_extension("txt");
        let output = Command::new("perf")
            .args([
                "report",
                "--stdio",
                "--no-children",
                "--percent-limit",
                "1",
                "-g",
                "none",
                "-i",
            ])
            .arg(&self.data)
            .stdin(Stdio::null())
            .output()
            .await?;
        ensure!(
            output.status.success(),
            "perf report failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::write(&report, &output.stdout)?;
        Ok(report)
    }
}
