//! The `aws` command line against the S3 API: buckets, uploads and
//! downloads (each with the CRC32 this botocore sends by default; over
//! plain HTTP it is a header, see `boto3_checks.py` for trailers),
//! listings by prefix, awkward keys, presigned links, public buckets read
//! unsigned, and objects shared with the native API.

use cdn_common::wire::{ContentList, Scope};
use md5::{Digest, Md5};
use testkit::services::{Stack, bearer_http};

use crate::cli::{Aws, admin_get, create_key};

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn aws_cli_puts_lists_gets_and_removes_objects() {
    let stack = Stack::start().await;
    let key = create_key(&stack, "cli", &[Scope::Read, Scope::Write]).await;
    let aws = Aws::new(&stack, &key.access_key_id, &key.secret_access_key);
    aws.ok(&["s3", "mb", "s3://photos"]).await;
    aws.fails_with(&["s3", "mb", "s3://Bad_Name"], "InvalidBucketName")
        .await;
    assert!(aws.ok(&["s3", "ls"]).await.contains("photos"));

    let small = pattern(2048, 1);
    let large = pattern(5 << 20, 2);
    std::fs::write(aws.dir().join("small.bin"), &small).unwrap();
    std::fs::write(aws.dir().join("large.bin"), &large).unwrap();
    aws.ok(&["s3", "cp", "small.bin", "s3://photos/dir/small.bin"])
        .await;
    aws.ok(&["s3", "cp", "large.bin", "s3://photos/dir/sub/large.bin"])
        .await;
    aws.ok(&["s3", "cp", "small.bin", "s3://photos/top.bin"])
        .await;
    aws.ok(&["s3", "cp", "s3://photos/dir/small.bin", "small.back"])
        .await;
    aws.ok(&["s3", "cp", "s3://photos/dir/sub/large.bin", "large.back"])
        .await;
    assert!(std::fs::read(aws.dir().join("small.back")).unwrap() == small);
    assert!(std::fs::read(aws.dir().join("large.back")).unwrap() == large);

    let head = aws
        .ok(&[
            "s3api",
            "head-object",
            "--bucket",
            "photos",
            "--key",
            "dir/small.bin",
        ])
        .await;
    let head: serde_json::Value = serde_json::from_str(&head).unwrap();
    let md5 = hex::encode(Md5::digest(&small));
    assert_eq!(head["ETag"], format!("\"{md5}\""));
    assert_eq!(head["ContentLength"], 2048);

    // A prefix lists what is under it; the delimiter folds sub/.
    let listed = aws.ok(&["s3", "ls", "s3://photos/dir/"]).await;
    assert!(
        listed.contains("small.bin") && listed.contains("PRE sub/"),
        "{listed}"
    );
    assert!(!listed.contains("top.bin"), "{listed}");
    let page = aws
        .ok(&[
            "s3api",
            "list-objects-v2",
            "--bucket",
            "photos",
            "--max-keys",
            "1",
            "--no-paginate",
        ])
        .await;
    let page: serde_json::Value = serde_json::from_str(&page).unwrap();
    assert_eq!(page["IsTruncated"], true);
    assert_eq!(page["Contents"][0]["Key"], "dir/small.bin");
    let all = aws
        .ok(&["s3api", "list-objects", "--bucket", "photos"])
        .await;
    let all: serde_json::Value = serde_json::from_str(&all).unwrap();
    assert_eq!(all["Contents"].as_array().unwrap().len(), 3);

    aws.fails_with(&["s3", "rb", "s3://photos"], "BucketNotEmpty")
        .await;
    aws.fails_with(&["s3", "cp", "s3://photos/missing", "x"], "404")
        .await;
    aws.ok(&["s3", "rm", "--recursive", "s3://photos/"]).await;
    assert_eq!(
        aws.ok(&["s3", "ls", "s3://photos/", "--recursive"])
            .await
            .trim(),
        ""
    );
    aws.ok(&["s3", "rb", "s3://photos"]).await;
}

#[tokio::test]
async fn awkward_keys_presigned_links_and_public_buckets() {
    let stack = Stack::start().await;
    let key = create_key(&stack, "cli", &[Scope::Read, Scope::Write]).await;
    let aws = Aws::new(&stack, &key.access_key_id, &key.secret_access_key);
    aws.ok(&["s3", "mb", "s3://shared"]).await;
    let bytes = pattern(3000, 7);
    std::fs::write(aws.dir().join("f.bin"), &bytes).unwrap();
    for name in [
        "with space.bin",
        "plus+sign.bin",
        "a&b.bin",
        "grüße/日本.bin",
        "deep/er/x.bin",
    ] {
        let url = format!("s3://shared/{name}");
        aws.ok(&["s3", "cp", "f.bin", &url]).await;
        aws.ok(&["s3", "cp", &url, "back.bin"]).await;
        assert!(
            std::fs::read(aws.dir().join("back.bin")).unwrap() == bytes,
            "{name}"
        );
    }
    let listed = aws.ok(&["s3", "ls", "--recursive", "s3://shared/"]).await;
    assert!(
        listed.contains("grüße/日本.bin") && listed.contains("plus+sign.bin"),
        "{listed}"
    );

    // A presigned link works for a plain HTTP client.
    let link = aws
        .ok(&[
            "s3",
            "presign",
            "s3://shared/a&b.bin",
            "--expires-in",
            "300",
        ])
        .await;
    let got = reqwest::get(link.trim()).await.unwrap();
    assert_eq!(got.status(), 200);
    assert!(got.bytes().await.unwrap() == bytes);

    // Unsigned reads: refused while private, allowed once public-read.
    let anonymous = ["--no-sign-request"];
    let get = |target: &'static str| ["s3", "cp", "s3://shared/with space.bin", target];
    aws.fails_with(&[&get("anon.bin")[..], &anonymous[..]].concat(), "403")
        .await;
    aws.ok(&[
        "s3api",
        "put-bucket-acl",
        "--bucket",
        "shared",
        "--acl",
        "public-read",
    ])
    .await;
    aws.ok(&[&get("anon.bin")[..], &anonymous[..]].concat())
        .await;
    assert!(std::fs::read(aws.dir().join("anon.bin")).unwrap() == bytes);
    aws.ok(&["s3", "ls", "s3://shared/", "--no-sign-request"])
        .await;
    aws.fails_with(
        &["s3", "rm", "s3://shared/a&b.bin", "--no-sign-request"],
        "AccessDenied",
    )
    .await;
    aws.ok(&[
        "s3api",
        "put-bucket-acl",
        "--bucket",
        "shared",
        "--acl",
        "private",
    ])
    .await;
    aws.fails_with(&[&get("anon.bin")[..], &anonymous[..]].concat(), "403")
        .await;
}

#[tokio::test]
async fn objects_are_shared_with_the_native_api() {
    let stack = Stack::start().await;
    let key = create_key(&stack, "cli", &[Scope::Read, Scope::Write]).await;
    let aws = Aws::new(&stack, &key.access_key_id, &key.secret_access_key);

    // Native upload → the default bucket, under its id.
    let native = stack.upload("native.txt", b"from the native API").await;
    let url = format!("s3://content/{}", native.id);
    aws.ok(&["s3", "cp", &url, "native.back"]).await;
    assert_eq!(
        std::fs::read(aws.dir().join("native.back")).unwrap(),
        b"from the native API"
    );

    // S3 upload → readable natively.
    std::fs::write(aws.dir().join("s3.txt"), b"from S3").unwrap();
    aws.ok(&["s3", "cp", "s3.txt", "s3://content/notes/s3.txt"])
        .await;
    let admin = bearer_http(Some(stack.admin_token()));
    let list: ContentList = admin_get(&stack, "/content?q=s3.txt").await;
    assert_eq!(list.items.len(), 1);
    let data = admin
        .get(stack.url(&format!("/content/{}/data", list.items[0].id)))
        .send()
        .await
        .unwrap();
    assert_eq!(data.status(), 200);
    assert_eq!(data.bytes().await.unwrap().as_ref(), b"from S3");
}
