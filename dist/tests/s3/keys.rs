//! The admin API of S3 access keys: made by admins only, the secret shown
//! once, listed without secrets, and refused by S3 at once when revoked.

use std::time::Duration;

use cdn_common::wire::{AccessKeyList, Scope};
use reqwest::Method;
use serde_json::json;
use testkit::raw;
use testkit::services::{Stack, bearer_http};

use crate::cli::{Aws, admin_get, create_key};

#[tokio::test]
async fn keys_are_made_by_admins_listed_without_secrets_and_revocable() {
    let stack = Stack::start().await;
    let key = create_key(&stack, "laptop", &[Scope::Read, Scope::Write]).await;
    assert!(key.access_key_id.starts_with("CDN") && key.access_key_id.len() == 20);
    assert_eq!(key.secret_access_key.len(), 40);

    let anonymous = bearer_http(None)
        .post(stack.url("/keys"))
        .json(&json!({"name": "x", "scopes": ["read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let bad = bearer_http(Some(stack.admin_token()))
        .post(stack.url("/keys"))
        .json(&json!({"name": "", "scopes": ["read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let listed = bearer_http(Some(stack.admin_token()))
        .get(stack.url("/keys"))
        .send()
        .await
        .unwrap();
    let text = listed.text().await.unwrap();
    assert!(
        !text.contains(&key.secret_access_key),
        "a listing shows no secret"
    );
    let list: AccessKeyList = serde_json::from_str(&text).unwrap();
    assert_eq!(list.keys.len(), 1);
    assert_eq!(list.keys[0].access_key_id, key.access_key_id);

    let aws = Aws::new(&stack, &key.access_key_id, &key.secret_access_key);
    aws.ok(&["s3", "ls"]).await;
    let revoked = bearer_http(Some(stack.admin_token()))
        .delete(stack.url(&format!("/keys/{}", key.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    aws.fails_with(&["s3", "ls"], "InvalidAccessKeyId").await;

    let wrong = Aws::new(&stack, "CDNAAAAAAAAAAAAAAAAA", &key.secret_access_key);
    wrong.fails_with(&["s3", "ls"], "InvalidAccessKeyId").await;
}

#[tokio::test]
async fn a_wrong_secret_or_a_missing_scope_is_refused() {
    let stack = Stack::start().await;
    let key = create_key(&stack, "reader", &[Scope::Read]).await;
    let wrong_secret: String = key.secret_access_key.chars().rev().collect();
    let forger = Aws::new(&stack, &key.access_key_id, &wrong_secret);
    forger
        .fails_with(&["s3", "ls"], "SignatureDoesNotMatch")
        .await;

    let reader = Aws::new(&stack, &key.access_key_id, &key.secret_access_key);
    reader.ok(&["s3", "ls"]).await;
    reader
        .fails_with(&["s3", "mb", "s3://nope"], "AccessDenied")
        .await;

    // A copy reads its source, so a key that may only write cannot use
    // one to read what it could not GET.
    let owner = create_key(&stack, "owner", &[Scope::Read, Scope::Write]).await;
    let owner = Aws::new(&stack, &owner.access_key_id, &owner.secret_access_key);
    owner.ok(&["s3", "mb", "s3://private"]).await;
    std::fs::write(owner.dir().join("secret.txt"), b"not for writers").unwrap();
    owner
        .ok(&["s3", "cp", "secret.txt", "s3://private/secret.txt"])
        .await;
    let writer = create_key(&stack, "writer", &[Scope::Write]).await;
    let writer = Aws::new(&stack, &writer.access_key_id, &writer.secret_access_key);
    std::fs::write(writer.dir().join("mine.txt"), b"mine").unwrap();
    writer
        .ok(&["s3", "cp", "mine.txt", "s3://private/mine.txt"])
        .await;
    writer
        .fails_with(&["s3", "cp", "s3://private/secret.txt", "got.txt"], "403")
        .await;
    let copy = [
        "s3api",
        "copy-object",
        "--bucket",
        "private",
        "--key",
        "leak.txt",
        "--copy-source",
        "private/secret.txt",
    ];
    writer.fails_with(&copy, "AccessDenied").await;
    owner
        .fails_with(
            &[
                "s3api",
                "head-object",
                "--bucket",
                "private",
                "--key",
                "leak.txt",
            ],
            "404",
        )
        .await;
}

/// The native routes behind the S3 credentials: keys are an admin's, a
/// bucket's visibility a writer's. Anyone else is refused (401 without a
/// token, 403 with too few scopes) and changes nothing; a caller allowed
/// in still cannot send a JSON body past MAX_JSON_BYTES (413, before it
/// is read whole), a name that is not one (400), or a bucket that does not
/// exist (404).
#[tokio::test]
async fn key_and_bucket_routes_check_the_caller_and_cap_the_body() {
    let stack = Stack::start().await;
    let key = create_key(&stack, "kept", &[Scope::Read]).await;
    let writer = stack
        .client
        .create_token("writer", &[Scope::Read, Scope::Write])
        .await
        .unwrap();
    let reader = stack
        .client
        .create_token("reader", &[Scope::Read])
        .await
        .unwrap();
    // Public first, so a refused request asking for private would show.
    let made_public = bearer_http(Some(&writer.token))
        .patch(stack.url("/buckets/content"))
        .json(&json!({"visibility": "public"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made_public.status(), 200);
    let stolen_key = r#"{"name": "stolen", "scopes": ["write"]}"#;
    let opened = r#"{"visibility": "private"}"#;
    let routes = [
        (Method::POST, "/keys".to_owned(), stolen_key, &writer.token),
        (Method::GET, "/keys".to_owned(), "", &writer.token),
        (
            Method::DELETE,
            format!("/keys/{}", key.id),
            "",
            &writer.token,
        ),
        (
            Method::PATCH,
            "/buckets/content".to_owned(),
            opened,
            &reader.token,
        ),
    ];
    for (method, path, body, too_few_scopes) in &routes {
        for (token, expected) in [(None, 401), (Some(too_few_scopes.as_str()), 403)] {
            let refused = bearer_http(token)
                .request(method.clone(), stack.url(path))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(
                refused.status().as_u16(),
                expected,
                "{method} {path} {token:?}"
            );
        }
        if body.is_empty() {
            continue;
        }
        let allowed = if path.starts_with("/keys") {
            stack.admin_token()
        } else {
            &writer.token
        };
        let oversized = vec![b' '; 2 << 20];
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: cdn\r\nAuthorization: Bearer {allowed}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            oversized.len()
        );
        let request = [head.as_bytes(), &oversized].concat();
        let too_big = raw::send(stack.dist.addr(), &request, Duration::from_secs(10)).await;
        assert_eq!(too_big.status, Some(413), "{method} {path}: {too_big:?}");
    }

    let admin = bearer_http(Some(stack.admin_token()));
    let not_an_id = admin
        .delete(stack.url("/keys/not-a-uuid"))
        .send()
        .await
        .unwrap();
    assert_eq!(not_an_id.status(), 400);
    let too_long = admin
        .post(stack.url("/keys"))
        .json(&json!({"name": "n".repeat(10_000), "scopes": ["read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(too_long.status(), 400);
    let by_writer = bearer_http(Some(&writer.token));
    let missing = by_writer
        .patch(stack.url("/buckets/no-such-bucket"))
        .json(&json!({"visibility": "public"}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let not_a_visibility = by_writer
        .patch(stack.url("/buckets/content"))
        .json(&json!({"visibility": "everyone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_a_visibility.status(), 400);

    // Nothing the refused requests asked for happened.
    let keys: AccessKeyList = admin_get(&stack, "/keys").await;
    assert_eq!(keys.keys.len(), 1, "{keys:?}");
    assert!(
        keys.keys[0].revoked_at.is_none(),
        "a refused DELETE revoked a key"
    );
    let anonymous = Aws::new(&stack, "unused", "unused");
    anonymous
        .ok(&["s3", "ls", "s3://content/", "--no-sign-request"])
        .await;
}
