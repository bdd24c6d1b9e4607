//! The big transfer again through the S3 API, as a user moves a large
//! file: `aws s3 cp` up, then down, with the command's default multipart
//! settings, signed with an access key made for the run. The bytes that
//! come back are compared with those sent.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

use crate::report::Transfer;
use crate::stack::Stack;

/// The slowest either copy may be before it counts as stuck.
const SLOWEST_BYTES_PER_SECOND: u64 = 5_000_000;

const BLOCK: usize = 1 << 20;

/// Times `aws s3 cp` of `bytes` bytes up and back down.
pub async fn transfer(stack: &Stack, bytes: u64) -> anyhow::Result<Transfer> {
    let key = stack.access_key().await?;
    let dir = stack.dir().join("s3-transfer");
    std::fs::create_dir_all(&dir)?;
    let aws = Aws {
        endpoint: stack.s3_url()?.to_owned(),
        key_id: key.access_key_id,
        secret: key.secret_access_key,
        dir: dir.clone(),
        deadline: Duration::from_secs(30 + bytes / SLOWEST_BYTES_PER_SECOND),
    };
    let sent = dir.join("sent.bin");
    let back = dir.join("back.bin");
    let path = sent.clone();
    tokio::task::spawn_blocking(move || write_file(&path, bytes)).await??;

    aws.run(&["s3", "mb", "s3://bench"]).await?;
    let up = timed(stack, &aws, "up", &["sent.bin", "s3://bench/big.bin"]).await?;
    let down = timed(stack, &aws, "down", &["s3://bench/big.bin", "back.bin"]).await?;
    let same = tokio::task::spawn_blocking(move || same_bytes(&sent, &back)).await??;
    ensure!(
        same,
        "the bytes aws s3 cp brought back differ from those sent"
    );
    std::fs::remove_dir_all(&dir)?;

    let mb = bytes as f64 / 1e6;
    Ok(Transfer {
        upload_mb_per_s: mb / up.as_secs_f64(),
        download_mb_per_s: mb / down.as_secs_f64(),
    })
}

/// `aws s3 cp FROM TO`'s time, and the CPU it and each service spent on
/// it, printed: on two cores the client's share bounds the figure.
async fn timed(stack: &Stack, aws: &Aws, way: &str, from_to: &[&str]) -> anyhow::Result<Duration> {
    let services_before = stack.cpu_spent();
    let client_before = waited_children_cpu();
    let took = aws
        .run(&[&["s3", "cp", "--no-progress"], from_to].concat())
        .await?;
    let client = waited_children_cpu().saturating_sub(client_before);
    let mut spent = vec![format!("aws {:.1}", client.as_secs_f64())];
    for ((name, after), (_, before)) in stack.cpu_spent().into_iter().zip(services_before) {
        spent.push(format!(
            "{name} {:.1}",
            after.saturating_sub(before).as_secs_f64()
        ));
    }
    eprintln!(
        "    {way}: {:.1} s; CPU s: {}",
        took.as_secs_f64(),
        spent.join(", ")
    );
    Ok(took)
}

/// User plus system CPU time of the child processes this one has waited
/// for: the `aws` runs (the services are waited for only when they stop).
fn waited_children_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let seconds = |time: libc::timeval| {
        Duration::from_secs(time.tv_sec as u64) + Duration::from_micros(time.tv_usec as u64)
    };
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The `aws` command, with nothing of the machine's own configuration.
struct Aws {
    endpoint: String,
    key_id: String,
    secret: String,
    dir: PathBuf,
    deadline: Duration,
}

impl Aws {
    /// Runs `aws ARGS` in the transfer's directory; how long it took.
    async fn run(&self, args: &[&str]) -> anyhow::Result<Duration> {
        let mut command = testkit::aws::command(&self.dir, &self.key_id, &self.secret)?;
        command
            .args(args)
            .args(["--endpoint-url", &self.endpoint])
            .stdin(Stdio::null());
        let started = Instant::now();
        let output = tokio::time::timeout(self.deadline, command.output())
            .await
            .with_context(|| format!("aws {args:?} did not end within {:?}", self.deadline))?
            .context("running aws (the AWS command line; install awscli)")?;
        let took = started.elapsed();
        ensure!(
            output.status.success(),
            "aws {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(took)
    }
}

/// `bytes` bytes that do not compress: one random block, each copy of it
/// stamped with its number.
fn write_file(path: &Path, bytes: u64) -> anyhow::Result<()> {
    let mut block = vec![0u8; BLOCK];
    fastrand::fill(&mut block);
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut left = bytes;
    let mut number = 0u64;
    while left > 0 {
        block[..8].copy_from_slice(&number.to_le_bytes());
        let take = left.min(BLOCK as u64) as usize;
        file.write_all(&block[..take])?;
        left -= take as u64;
        number += 1;
    }
    file.flush()?;
    Ok(())
}

fn same_bytes(first: &Path, second: &Path) -> anyhow::Result<bool> {
    let (mut first, mut second) = (std::fs::File::open(first)?, std::fs::File::open(second)?);
    if first.metadata()?.len() != second.metadata()?.len() {
        return Ok(false);
    }
    let (mut a, mut b) = (vec![0u8; BLOCK], vec![0u8; BLOCK]);
    loop {
        let read = first.read(&mut a)?;
        if read == 0 {
            return Ok(true);
        }
        second.read_exact(&mut b[..read])?;
        if a[..read] != b[..read] {
            return Ok(false);
        }
    }
}
