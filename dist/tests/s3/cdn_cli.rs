//! `cdn key …` and `cdn bucket …`: the command line makes the keys the
//! S3 clients sign with, lists and revokes them, and opens a bucket to
//! unsigned readers.

use std::process::Output;
use std::time::Duration;

use cdn_common::wire::{AccessKeyInfo, CreatedAccessKey};
use testkit::services::{Stack, cdn_binary};

use crate::cli::Aws;

const COMMAND_DEADLINE: Duration = Duration::from_secs(60);

/// Runs `cdn ARGS` as the stack's admin.
async fn cdn(stack: &Stack, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(cdn_binary());
    command
        .args(args)
        .env("CDN_URL", &stack.dist.url)
        .env("CDN_TOKEN", stack.admin_token())
        .kill_on_drop(true);
    tokio::time::timeout(COMMAND_DEADLINE, command.output())
        .await
        .unwrap_or_else(|_| panic!("cdn {args:?} took over {COMMAND_DEADLINE:?}"))
        .unwrap()
}

async fn cdn_ok(stack: &Stack, args: &[&str]) -> String {
    let output = cdn(stack, args).await;
    assert!(
        output.status.success(),
        "cdn {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn keys_from_the_command_line_sign_s3_requests_until_revoked() {
    let stack = Stack::start().await;
    let created = cdn_ok(&stack, &["key", "create", "--name", "ci", "--json"]).await;
    let key: CreatedAccessKey = serde_json::from_str(&created).unwrap();
    assert_eq!(key.name, "ci");
    let aws = Aws::new(&stack, &key.access_key_id, &key.secret_access_key);
    aws.ok(&["s3", "mb", "s3://made-by-cli"]).await;

    // Text output is ready for `export`; read-only keys cannot write.
    let text = cdn_ok(
        &stack,
        &["key", "create", "--name", "reader", "--scopes", "read"],
    )
    .await;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let id = lines[0].strip_prefix("AWS_ACCESS_KEY_ID=").unwrap();
    let secret = lines[1].strip_prefix("AWS_SECRET_ACCESS_KEY=").unwrap();
    let reader = Aws::new(&stack, id, secret);
    reader.ok(&["s3", "ls"]).await;
    reader
        .fails_with(&["s3", "mb", "s3://nope"], "AccessDenied")
        .await;

    let table = cdn_ok(&stack, &["key", "ls"]).await;
    assert!(
        table.contains(&key.access_key_id) && table.contains("reader"),
        "{table}"
    );
    assert!(!table.contains(&key.secret_access_key), "{table}");
    let listed = cdn_ok(&stack, &["--json", "key", "ls"]).await;
    let listed: Vec<AccessKeyInfo> = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.len(), 2);

    let revoked = cdn_ok(&stack, &["key", "revoke", &key.id.to_string()]).await;
    assert!(revoked.contains("revoked"), "{revoked}");
    aws.fails_with(&["s3", "ls"], "InvalidAccessKeyId").await;
    let refused = cdn(
        &stack,
        &["key", "create", "--name", "x", "--scopes", "root"],
    )
    .await;
    assert_eq!(refused.status.code(), Some(2));
}

#[tokio::test]
async fn buckets_are_made_public_and_private_from_the_command_line() {
    let stack = Stack::start().await;
    let created = cdn_ok(&stack, &["key", "create", "--name", "ci", "--json"]).await;
    let key: CreatedAccessKey = serde_json::from_str(&created).unwrap();
    let aws = Aws::new(&stack, &key.access_key_id, &key.secret_access_key);
    aws.ok(&["s3", "mb", "s3://open"]).await;
    std::fs::write(aws.dir().join("f.txt"), b"for everyone").unwrap();
    aws.ok(&["s3", "cp", "f.txt", "s3://open/f.txt"]).await;
    let anonymous = [
        "s3",
        "cp",
        "s3://open/f.txt",
        "anon.txt",
        "--no-sign-request",
    ];
    aws.fails_with(&anonymous, "403").await;

    let said = cdn_ok(&stack, &["bucket", "public", "open"]).await;
    assert!(said.contains("public"), "{said}");
    aws.ok(&anonymous).await;
    assert_eq!(
        std::fs::read(aws.dir().join("anon.txt")).unwrap(),
        b"for everyone"
    );
    let acl = aws
        .ok(&["s3api", "get-bucket-acl", "--bucket", "open"])
        .await;
    assert!(acl.contains("AllUsers"), "{acl}");

    cdn_ok(&stack, &["bucket", "private", "open"]).await;
    aws.fails_with(&anonymous, "403").await;
    let missing = cdn(&stack, &["bucket", "public", "no-such-bucket"]).await;
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no bucket \"no-such-bucket\""),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}
