//! boto3, the Python SDK, against the S3 API: the checks are in
//! `boto3_checks.py` beside this file; this starts the stack, hands the
//! script an endpoint and a key, and bounds its run.

use std::time::Duration;

use cdn_common::wire::Scope;
use testkit::services::Stack;

use crate::cli::create_key;

/// Far more than the script takes, short of a hang.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(120);

/// Runs `script` (in this directory) with python3 against the stack.
pub async fn run_python(stack: &Stack, script: &str) {
    let key = create_key(stack, "python", &[Scope::Read, Scope::Write]).await;
    let path = format!("{}/tests/s3/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut command = tokio::process::Command::new("python3");
    command
        .arg(&path)
        .env(
            "S3_ENDPOINT",
            stack.dist.s3_url.clone().expect("an S3 listener"),
        )
        .env("S3_KEY_ID", &key.access_key_id)
        .env("S3_SECRET", &key.secret_access_key)
        // Nothing of the machine's own AWS configuration may change the run.
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .kill_on_drop(true);
    let output = tokio::time::timeout(SCRIPT_DEADLINE, command.output())
        .await
        .unwrap_or_else(|_| panic!("{script} took over {SCRIPT_DEADLINE:?}"))
        .unwrap_or_else(|err| panic!("running python3 {script}: {err}"));
    assert!(
        output.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn boto3_checks() {
    let stack = Stack::start().await;
    run_python(&stack, "boto3_checks.py").await;
}
