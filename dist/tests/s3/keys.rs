//! The admin API of S3 access keys: made by admins only, the secret shown
//! once, listed without secrets, and refused by S3 at once when revoked.

use cdn_common::wire::{AccessKeyList, Scope};
use serde_json::json;
use testkit::services::{Stack, bearer_http};

use crate::cli::{Aws, create_key};

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
}
