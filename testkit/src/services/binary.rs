//! The services' binaries, for child processes.
//!
//! Cargo builds the binaries of the packages under test only: `cargo test
//! -p cdn-dist` builds `cdn-dist` but not `cdn-node`. So a binary older than
//! any source file of the workspace is built again, once per process, by
//! Cargo, into the target directory and profile of this very test
//! executable: no test runs a binary older than the code it tests.
//!
//! A binary newer than every source file is used as it is, without asking
//! Cargo: `cargo test --workspace` has just built it, and a build by
//! `cargo build -p` would resolve the dependencies' features differently
//! and compile much of the graph a second time.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A build waits for Cargo's lock while another build runs (a second copy
/// of the suite, say), so the limit is generous.
const BUILD_DEADLINE: Duration = Duration::from_secs(900);

/// The path of binary `name` of `package`, built from the current sources
/// (once per process).
pub(crate) fn path(package: &'static str, name: &'static str) -> PathBuf {
    static BUILT: OnceLock<Mutex<Vec<&'static str>>> = OnceLock::new();
    let profile_dir = profile_dir();
    let binary = profile_dir.join(name);
    let mut built = BUILT
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !built.contains(&name) {
        if !newer_than_every_source(&binary) {
            build(package, name, &profile_dir);
        }
        built.push(name);
    }
    assert!(binary.is_file(), "{} is missing", binary.display());
    binary
}

/// Whether `binary` exists and was written after every source file of the
/// workspace: `*.rs`, `*.sql`, `Cargo.toml` and `Cargo.lock`.
fn newer_than_every_source(binary: &Path) -> bool {
    let Ok(built) = binary.metadata().and_then(|meta| meta.modified()) else {
        return false;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root");
    let mut dirs = vec![root.to_owned()];
    // Bounded: a workspace has hundreds of directories, not this many.
    let mut budget = 100_000usize;
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                return false;
            }
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "node_modules" {
                    dirs.push(entry.path());
                }
                continue;
            }
            let source = name.ends_with(".rs")
                || name.ends_with(".sql")
                || name == "Cargo.toml"
                || name == "Cargo.lock";
            let newer = entry
                .metadata()
                .and_then(|meta| meta.modified())
                .is_ok_and(|modified| modified > built);
            if source && newer {
                return false;
            }
        }
    }
    true
}

/// `target/<profile>`: where Cargo puts binaries, and test executables one
/// level down, in `deps`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let dir = exe.parent().expect("the test executable's directory");
    if dir.file_name().is_some_and(|name| name == "deps") {
        dir.parent().unwrap().to_owned()
    } else {
        dir.to_owned()
    }
}

fn build(package: &str, name: &str, profile_dir: &Path) {
    // A test executable started by hand, not by Cargo: use what is there.
    let Some(cargo) = std::env::var_os("CARGO") else {
        return;
    };
    let mut command = Command::new(cargo);
    command.args(["build", "--quiet", "--package", package, "--bin", name]);
    match profile_dir.file_name().and_then(|name| name.to_str()) {
        Some("debug") => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(profile) => {
            command.args(["--profile", profile]);
        }
        None => {}
    }
    // The target directory this executable was built in, unless the build
    // was for another target triple (then one more level sits between).
    let target_dir = profile_dir.parent().expect("a target directory");
    if target_dir.join("CACHEDIR.TAG").exists() {
        command.arg("--target-dir").arg(target_dir);
    }
    // A file, not a pipe: a long error report cannot fill it and stall.
    let mut errors = tempfile::tempfile().expect("a file for cargo's errors");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(errors.try_clone().expect("a file for cargo's errors"))
        .spawn()
        .expect("running cargo build");
    let deadline = Instant::now() + BUILD_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for cargo build") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("cargo build of {name} took over {BUILD_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if !status.success() {
        let mut report = String::new();
        let _ = errors.seek(SeekFrom::Start(0));
        let _ = errors.read_to_string(&mut report);
        panic!("cargo build of {name} failed ({status}):\n{report}");
    }
}
