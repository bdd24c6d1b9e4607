//! Running the `aws` command line against a stack, with nothing of the
//! machine's own configuration, and a deadline on every run.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use cdn_common::wire::{CreatedAccessKey, Scope};
use serde_json::json;
use tempfile::TempDir;
use testkit::services::{Stack, bearer_http};

/// Far more than any command here takes, short of a hang.
const COMMAND_DEADLINE: Duration = Duration::from_secs(90);

/// An access key made through the admin API.
pub async fn create_key(stack: &Stack, name: &str, scopes: &[Scope]) -> CreatedAccessKey {
    let response = bearer_http(Some(stack.admin_token()))
        .post(stack.url("/keys"))
        .json(&json!({"name": name, "scopes": scopes}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// `GET path` on the native API with the admin token; its JSON answer.
pub async fn admin_get<T: serde::de::DeserializeOwned>(stack: &Stack, path: &str) -> T {
    bearer_http(Some(stack.admin_token()))
        .get(stack.url(path))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The `aws` command, signing with one key, its files in a directory of
/// its own.
pub struct Aws {
    pub endpoint: String,
    key_id: String,
    secret: String,
    home: TempDir,
}

impl Aws {
    pub fn new(stack: &Stack, key_id: &str, secret: &str) -> Aws {
        Aws {
            endpoint: stack
                .dist
                .s3_url
                .clone()
                .expect("an in-process distributor"),
            key_id: key_id.to_owned(),
            secret: secret.to_owned(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    pub fn dir(&self) -> &Path {
        self.home.path()
    }

    /// Runs `aws ARGS --endpoint-url …` and returns what it did.
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut command =
            testkit::aws::command(self.home.path(), &self.key_id, &self.secret).unwrap();
        command.args(args).args(["--endpoint-url", &self.endpoint]);
        tokio::time::timeout(COMMAND_DEADLINE, command.output())
            .await
            .unwrap_or_else(|_| panic!("aws {args:?} took over {COMMAND_DEADLINE:?}"))
            .unwrap_or_else(|err| panic!("running aws {args:?}: {err}"))
    }

    /// Runs it and insists that it succeeded; its stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "aws {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs it and insists that it failed with `code`; its stderr.
    pub async fn fails_with(&self, args: &[&str], code: &str) -> String {
        let output = self.run(args).await;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!output.status.success(), "aws {args:?} succeeded");
        assert!(
            stderr.contains(code),
            "aws {args:?}: expected {code}, got {stderr}"
        );
        stderr
    }
}
