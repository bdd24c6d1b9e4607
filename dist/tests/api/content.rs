//! The content lifecycle, as the demo runs it.

use cdn_client::NoProgress;
use cdn_common::wire::{Content, ContentPatch};
use futures::StreamExt;

use testkit::fetch;
use testkit::services::{Stack, body};

async fn download(stack: &Stack, id: uuid::Uuid) -> Vec<u8> {
    let mut stream = stack.client.download_stream(id).await.unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    bytes
}

#[tokio::test]
async fn upload_download_update_delete() {
    let stack = Stack::start().await;
    let files = tempfile::tempdir().unwrap();
    let original = files.path().join("notes.txt");
    std::fs::write(&original, "first version\n").unwrap();

    let uploaded = stack
        .client
        .upload_file(&original, None, NoProgress)
        .await
        .unwrap();
    assert_eq!(uploaded.filename, "notes.txt");
    assert_eq!(uploaded.content_type, "text/plain; charset=utf-8");
    assert_eq!(uploaded.size, 14);
    assert_eq!(uploaded.version, 1);
    assert_eq!(uploaded.status, "OK");
    assert_eq!(uploaded.replicas.len(), 1);
    // The uri names this version; a replica's leads to that copy's node.
    let data = stack.url(&format!("/content/{}/data", uploaded.id));
    assert_eq!(uploaded.uri, format!("{data}?v=1"));
    let holder = &uploaded.replicas[0];
    assert_eq!(
        holder.uri,
        format!("{data}?redirect=1&node={}", holder.node)
    );

    let copy = files.path().join("copy.txt");
    let fetched = stack
        .client
        .download_to_file(uploaded.id, &copy, NoProgress)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&copy).unwrap(), b"first version\n");
    assert_eq!(fetched.sha256, uploaded.sha256);

    let replacement = files.path().join("notes-v2.txt");
    std::fs::write(&replacement, "second version, longer\n").unwrap();
    let updated = stack
        .client
        .replace_file(uploaded.id, &replacement, None, NoProgress)
        .await
        .unwrap();
    assert_eq!(updated.id, uploaded.id);
    assert_eq!(updated.version, 2);
    assert_eq!(
        updated.filename, "notes.txt",
        "a replacement keeps the name unless told"
    );
    assert_ne!(updated.sha256, uploaded.sha256);
    assert_eq!(
        download(&stack, uploaded.id).await,
        b"second version, longer\n"
    );

    // The old version's copy is gone from every disk; the new one is there.
    let on_disk: Vec<String> = (0..3).flat_map(|node| stack.blobs_on_disk(node)).collect();
    assert_eq!(on_disk.len(), 1, "{on_disk:?}");
    let holder = testkit::services::node_index(updated.replicas[0].node.as_str());
    assert_eq!(stack.blobs_on_disk(holder), on_disk);

    stack.client.delete(uploaded.id).await.unwrap();
    let gone = stack.client.info(uploaded.id).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    assert!(
        stack
            .client
            .download_stream(uploaded.id)
            .await
            .err()
            .unwrap()
            .is_not_found()
    );
    assert!(
        stack
            .client
            .delete(uploaded.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!((0..3).all(|node| stack.blobs_on_disk(node).is_empty()));
    assert!(stack.client.list_all().await.unwrap().is_empty());
}

#[tokio::test]
async fn rename_and_retype_without_touching_the_bytes() {
    let stack = Stack::start().await;
    let uploaded = stack.upload("draft.txt", "# title").await;
    let patched = stack
        .client
        .patch(
            uploaded.id,
            &ContentPatch {
                filename: Some("café.md".into()),
                content_type: Some("text/markdown".into()),
                ..ContentPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.filename, "café.md");
    assert_eq!(patched.content_type, "text/markdown");
    assert_eq!(patched.version, 1);
    assert_eq!(patched.sha256, uploaded.sha256);
    assert!(patched.updated_at >= uploaded.updated_at);

    let renamed = stack.client.rename(uploaded.id, "final.md").await.unwrap();
    assert_eq!(renamed.filename, "final.md");
    assert_eq!(renamed.content_type, "text/markdown");
}

#[tokio::test]
async fn lists_newest_first_page_by_page() {
    let stack = Stack::start().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let content = stack
            .client
            .upload_stream(body(format!("object {n}")), None, &format!("{n}.txt"), None)
            .await
            .unwrap();
        ids.push(content.id);
    }
    ids.reverse();

    // Each page's cursor leads to the next; the last page has none.
    let mut cursor = None;
    for expected in [&ids[..2], &ids[2..4], &ids[4..]] {
        let page = stack.client.list(Some(2), cursor.as_deref()).await.unwrap();
        let listed: Vec<_> = page.items.iter().map(|c| c.id).collect();
        assert_eq!(listed, expected, "after cursor {cursor:?}");
        cursor = page.next_cursor;
    }
    assert_eq!(cursor, None);
    assert_eq!(stack.client.list_all().await.unwrap().len(), 5);

    let stats = stack.client.stats().await.unwrap();
    assert_eq!(stats.totals.objects, 5);
    assert_eq!(stats.nodes.len(), 3);
}

#[tokio::test]
async fn a_browser_form_uploads_too() {
    let stack = Stack::start().await;
    let boundary = "XyZboundary";
    let form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"page.html\"\r\n\
         Content-Type: text/html\r\n\r\n<h1>hi</h1>\r\n--{boundary}--\r\n"
    );
    let response = stack
        .http
        .post(stack.url("/content"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let content: Content = response.json().await.unwrap();
    assert_eq!(location, format!("/content/{}", content.id));
    assert_eq!(content.filename, "page.html");
    assert_eq!(content.content_type, "text/html");
    assert_eq!(download(&stack, content.id).await, b"<h1>hi</h1>");
}

#[tokio::test]
async fn raw_uploads_take_their_name_from_the_header_and_guess_the_type() {
    let stack = Stack::start().await;
    let response = stack
        .http
        .post(stack.url("/content"))
        // What curl --data-binary sends: it says nothing about the file.
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-filename", "r%C3%A9sum%C3%A9.pdf")
        .body("%PDF-1.7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let content: Content = response.json().await.unwrap();
    assert_eq!(content.filename, "résumé.pdf");
    assert_eq!(content.content_type, "application/pdf");

    let unnamed: Content = fetch::json(stack.http.post(stack.url("/content")).body("bytes")).await;
    assert_eq!(unnamed.filename, unnamed.id.to_string());
    assert_eq!(unnamed.content_type, "application/octet-stream");
}

/// Each of many concurrent replacements answers with the version it wrote
/// (its own bytes' SHA-256), never with another's, and every version number
/// is given out once.
#[tokio::test]
async fn each_concurrent_replacement_answers_with_its_own_version() {
    const WRITERS: usize = 30;
    let stack = Stack::start().await;
    let first = stack.upload("race.txt", "v0").await;
    let replacements = (0..WRITERS).map(|writer| {
        let client = stack.client.clone();
        let text = format!("written by writer {writer}");
        async move {
            let (written, len) = (cdn_common::Sha256::of(text.as_bytes()), text.len() as u64);
            let answer = client
                .replace_stream(first.id, body(text), Some(len), None, None)
                .await
                .unwrap();
            (written, answer)
        }
    });
    let answers = futures::future::join_all(replacements).await;
    let mut versions: Vec<u32> = answers
        .iter()
        .map(|(written, answer)| {
            assert_eq!(&answer.sha256, written, "an answer described another write");
            answer.version
        })
        .collect();
    versions.sort_unstable();
    let expected: Vec<u32> = (2..=WRITERS as u32 + 1).collect();
    assert_eq!(versions, expected);
}
