//! Multipart uploads: the `aws` command's own (20 MiB, three parts) up
//! and down, ranges across part boundaries through S3 and the native API,
//! aborted uploads leaving no blob behind, repair of a part's copy, expiry
//! of unfinished uploads, and a node killed during an upload.

use std::time::{Duration, Instant};

use cdn_common::wire::{ContentList, Scope};
use md5::{Digest, Md5};
use testkit::services::{Children, NODE_IDS, Stack, StackConfig, bearer_http};

use crate::cli::{Aws, admin_get, create_key};

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 16) as u8)
        .collect()
}

fn blobs_everywhere(stack: &Stack) -> usize {
    (0..NODE_IDS.len())
        .map(|index| stack.blobs_on_disk(index).len())
        .sum()
}

/// The aws command's part size, and so where its parts meet.
const PART: usize = 8 << 20;

#[tokio::test]
async fn aws_cp_of_20_mib_goes_up_in_parts_and_reads_back_across_them() {
    let stack = Stack::start().await;
    let key = create_key(&stack, "cli", &[Scope::Read, Scope::Write]).await;
    let aws = Aws::new(&stack, &key.access_key_id, &key.secret_access_key);
    aws.ok(&["s3", "mb", "s3://big"]).await;
    let bytes = pattern(20 << 20, 3);
    std::fs::write(aws.dir().join("big.bin"), &bytes).unwrap();
    aws.ok(&["s3", "cp", "big.bin", "s3://big/dir/big.bin"])
        .await;
    aws.ok(&["s3", "cp", "s3://big/dir/big.bin", "big.back"])
        .await;
    assert!(std::fs::read(aws.dir().join("big.back")).unwrap() == bytes);

    // The ETag is the MD5 of the parts' MD5s, and their count.
    let head = aws
        .ok(&[
            "s3api",
            "head-object",
            "--bucket",
            "big",
            "--key",
            "dir/big.bin",
        ])
        .await;
    let head: serde_json::Value = serde_json::from_str(&head).unwrap();
    let mut md5s = Md5::new();
    for part in bytes.chunks(PART) {
        md5s.update(Md5::digest(part));
    }
    let expected = format!("\"{}-3\"", hex::encode(md5s.finalize()));
    assert_eq!(head["ETag"], expected);
    assert_eq!(head["ContentLength"], 20 << 20);

    // A range over the first boundary through S3 …
    let (first, last) = (PART - 100, PART + 99);
    let range = format!("bytes={first}-{last}");
    aws.ok(&[
        "s3api",
        "get-object",
        "--bucket",
        "big",
        "--key",
        "dir/big.bin",
        "--range",
        &range,
        "ranged.bin",
    ])
    .await;
    assert!(std::fs::read(aws.dir().join("ranged.bin")).unwrap() == bytes[first..=last]);

    // … and through the native API, which sees the same object.
    let admin = bearer_http(Some(stack.admin_token()));
    let list: ContentList = admin_get(&stack, "/content?q=big.bin").await;
    assert_eq!(list.items.len(), 1, "parts are never listed on their own");
    let content = &list.items[0];
    assert_eq!(content.size, 20 << 20);
    let data = stack.url(&format!("/content/{}/data", content.id));
    let (first, last) = (2 * PART - 10, 2 * PART + 10);
    let ranged = admin
        .get(&data)
        .header("Range", format!("bytes={first}-{last}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert!(ranged.bytes().await.unwrap() == bytes[first..=last]);
    let whole = admin.get(&data).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert!(whole.bytes().await.unwrap() == bytes);

    // Deleting the object removes every part's copies.
    let before = blobs_everywhere(&stack);
    assert!(before >= 3, "each part has its copies: {before}");
    aws.ok(&["s3", "rm", "s3://big/dir/big.bin"]).await;
    assert_eq!(blobs_everywhere(&stack), 0);
}

#[tokio::test]
async fn an_aborted_upload_leaves_no_part_behind() {
    let stack = Stack::start().await;
    let key = create_key(&stack, "cli", &[Scope::Read, Scope::Write]).await;
    let aws = Aws::new(&stack, &key.access_key_id, &key.secret_access_key);
    aws.ok(&["s3", "mb", "s3://half"]).await;
    let created = aws
        .ok(&[
            "s3api",
            "create-multipart-upload",
            "--bucket",
            "half",
            "--key",
            "h.bin",
        ])
        .await;
    let created: serde_json::Value = serde_json::from_str(&created).unwrap();
    let upload_id = created["UploadId"].as_str().unwrap().to_owned();
    std::fs::write(aws.dir().join("part.bin"), pattern(6 << 20, 9)).unwrap();
    for number in ["1", "2"] {
        aws.ok(&[
            "s3api",
            "upload-part",
            "--bucket",
            "half",
            "--key",
            "h.bin",
            "--upload-id",
            &upload_id,
            "--part-number",
            number,
            "--body",
            "part.bin",
        ])
        .await;
    }
    assert!(blobs_everywhere(&stack) >= 2);
    let uploads = aws
        .ok(&["s3api", "list-multipart-uploads", "--bucket", "half"])
        .await;
    assert!(uploads.contains(&upload_id), "{uploads}");
    let parts = aws
        .ok(&[
            "s3api",
            "list-parts",
            "--bucket",
            "half",
            "--key",
            "h.bin",
            "--upload-id",
            &upload_id,
        ])
        .await;
    let parts: serde_json::Value = serde_json::from_str(&parts).unwrap();
    assert_eq!(parts["Parts"].as_array().unwrap().len(), 2);
    aws.fails_with(&["s3", "rb", "s3://half"], "BucketNotEmpty")
        .await;

    aws.ok(&[
        "s3api",
        "abort-multipart-upload",
        "--bucket",
        "half",
        "--key",
        "h.bin",
        "--upload-id",
        &upload_id,
    ])
    .await;
    assert_eq!(blobs_everywhere(&stack), 0);
    aws.fails_with(
        &[
            "s3api",
            "list-parts",
            "--bucket",
            "half",
            "--key",
            "h.bin",
            "--upload-id",
            &upload_id,
        ],
        "NoSuchUpload",
    )
    .await;
    aws.fails_with(&["s3", "ls", "s3://half/h.bin"], "").await;
    aws.ok(&["s3", "rb", "s3://half"]).await;
}

#[tokio::test]
async fn repair_restores_a_lost_copy_of_a_part_and_keeps_the_parts() {
    let stack = Stack::start_with(StackConfig {
        replication: 2,
        ..StackConfig::default()
    })
    .await;
    let key = create_key(&stack, "cli", &[Scope::Read, Scope::Write]).await;
    let aws = Aws::new(&stack, &key.access_key_id, &key.secret_access_key);
    aws.ok(&["s3", "mb", "s3://kept"]).await;
    let bytes = pattern(20 << 20, 5);
    std::fs::write(aws.dir().join("big.bin"), &bytes).unwrap();
    aws.ok(&["s3", "cp", "big.bin", "s3://kept/big.bin"]).await;
    // Three parts, two copies each.
    assert_eq!(blobs_everywhere(&stack), 6);

    let (victim, lost) = (0..NODE_IDS.len())
        .find_map(|index| Some((index, stack.blobs_on_disk(index).pop()?)))
        .unwrap();
    std::fs::remove_file(stack.blob_file(victim, &lost)).unwrap();
    assert_eq!(blobs_everywhere(&stack), 5);

    // Repair rounds run every few hundred milliseconds in tests: the copy
    // is made again elsewhere, and no part is taken for an orphan.
    let deadline = Instant::now() + Duration::from_secs(30);
    while blobs_everywhere(&stack) < 6 {
        assert!(
            Instant::now() < deadline,
            "the lost copy of a part was not made again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(blobs_everywhere(&stack), 6);
    aws.ok(&["s3", "cp", "s3://kept/big.bin", "big.back"]).await;
    assert!(std::fs::read(aws.dir().join("big.back")).unwrap() == bytes);
}

#[tokio::test]
async fn an_upload_left_unfinished_expires_with_its_parts() {
    let stack = Stack::start_with(StackConfig {
        dist_env: vec![("MULTIPART_EXPIRY", "20s".to_owned())],
        ..StackConfig::default()
    })
    .await;
    let key = create_key(&stack, "cli", &[Scope::Read, Scope::Write]).await;
    let aws = Aws::new(&stack, &key.access_key_id, &key.secret_access_key);
    aws.ok(&["s3", "mb", "s3://left"]).await;
    let created = aws
        .ok(&[
            "s3api",
            "create-multipart-upload",
            "--bucket",
            "left",
            "--key",
            "l.bin",
        ])
        .await;
    let created: serde_json::Value = serde_json::from_str(&created).unwrap();
    let upload_id = created["UploadId"].as_str().unwrap().to_owned();
    std::fs::write(aws.dir().join("part.bin"), pattern(1000, 1)).unwrap();
    aws.ok(&[
        "s3api",
        "upload-part",
        "--bucket",
        "left",
        "--key",
        "l.bin",
        "--upload-id",
        &upload_id,
        "--part-number",
        "1",
        "--body",
        "part.bin",
    ])
    .await;
    assert_eq!(blobs_everywhere(&stack), 1);

    // Expiry counts from the upload's start (long enough for two slow aws
    // runs on a loaded machine); the janitor looks every poll.
    let deadline = Instant::now() + Duration::from_secs(60);
    while blobs_everywhere(&stack) > 0 {
        assert!(
            Instant::now() < deadline,
            "the abandoned upload's part stayed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let uploads = aws
        .ok(&["s3api", "list-multipart-uploads", "--bucket", "left"])
        .await;
    assert!(!uploads.contains(&upload_id), "{uploads}");
    aws.ok(&["s3", "rb", "s3://left"]).await;
}

#[tokio::test]
async fn a_node_killed_during_a_multipart_upload_does_not_stop_it() {
    let mut stack = Stack::start_with(StackConfig {
        replication: 2,
        children: Children::NODES,
        ..StackConfig::default()
    })
    .await;
    let key = create_key(&stack, "cli", &[Scope::Read, Scope::Write]).await;
    let aws = Aws::new(&stack, &key.access_key_id, &key.secret_access_key);
    aws.ok(&["s3", "mb", "s3://sturdy"]).await;
    let created = aws
        .ok(&[
            "s3api",
            "create-multipart-upload",
            "--bucket",
            "sturdy",
            "--key",
            "s.bin",
        ])
        .await;
    let created: serde_json::Value = serde_json::from_str(&created).unwrap();
    let upload_id = created["UploadId"].as_str().unwrap().to_owned();
    let parts = [pattern(5 << 20, 1), pattern(5 << 20, 2), pattern(1000, 3)];
    let mut etags = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        if index == 1 {
            // Between parts, before the distributor sees it down: the
            // next writes must place around it, and reads of the first
            // part (which may have a copy there) must do without it.
            stack.nodes[0].kill();
        }
        let file = format!("part{index}.bin");
        std::fs::write(aws.dir().join(&file), part).unwrap();
        let number = (index + 1).to_string();
        let sent = aws
            .ok(&[
                "s3api",
                "upload-part",
                "--bucket",
                "sturdy",
                "--key",
                "s.bin",
                "--upload-id",
                &upload_id,
                "--part-number",
                &number,
                "--body",
                &file,
            ])
            .await;
        let sent: serde_json::Value = serde_json::from_str(&sent).unwrap();
        etags.push(serde_json::json!({"PartNumber": index + 1, "ETag": sent["ETag"]}));
    }
    let list = serde_json::json!({ "Parts": etags }).to_string();
    std::fs::write(aws.dir().join("parts.json"), list).unwrap();
    aws.ok(&[
        "s3api",
        "complete-multipart-upload",
        "--bucket",
        "sturdy",
        "--key",
        "s.bin",
        "--upload-id",
        &upload_id,
        "--multipart-upload",
        "file://parts.json",
    ])
    .await;
    aws.ok(&["s3", "cp", "s3://sturdy/s.bin", "s.back"]).await;
    assert!(std::fs::read(aws.dir().join("s.back")).unwrap() == parts.concat());
}
