//! Uploads from HTML forms: every file of a `multiple` input is stored, a
//! browser is sent on to a page (`303`) while a program gets JSON, the
//! form's `token` field stands in for the bearer header a form cannot
//! send, and a form that carries no file (or no `enctype`) stores nothing.

use cdn_common::wire::{Content, ContentList, ErrorBody};
use reqwest::redirect::Policy;
use reqwest::{StatusCode, header};
use testkit::fetch;
use testkit::services::Stack;

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const BOUNDARY: &str = "----formboundary7MA4YWxkTrZu0gW";

/// A part of a multipart form: a text field, or a file.
enum Part<'a> {
    Text(&'a str, &'a str),
    File(&'a str, &'a str, &'a [u8]),
}

fn form(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                );
            }
            Part::File(name, filename, bytes) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
                         Content-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(bytes);
                body.extend_from_slice(b"\r\n");
            }
        }
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A client that does not follow redirects, so the `303` itself is seen.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn post_form(
    client: &reqwest::Client,
    stack: &Stack,
    accept: &str,
    parts: &[Part],
) -> reqwest::RequestBuilder {
    client
        .post(stack.url("/content"))
        .header(header::ACCEPT, accept)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(form(parts))
}

async fn stored_count(stack: &Stack) -> u64 {
    let list: ContentList = fetch::json(stack.http.get(stack.url("/content"))).await;
    list.total
}

#[tokio::test]
async fn a_browser_form_with_its_token_stores_every_file_and_lands_on_a_page() {
    let stack = Stack::start().await;
    let client = browser();
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let parts = [
        Part::Text("token", stack.admin_token()),
        Part::Text("visibility", "public"),
        Part::File("file", "one.txt", b"first file"),
        Part::File("file", "two.txt", b"second, longer file"),
        // Larger than what an anonymous form may send before its token.
        Part::File("file", "big.bin", &big),
    ];
    let response = post_form(&client, &stack, BROWSER_ACCEPT, &parts)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    let ids = location
        .strip_prefix("/ui/uploads?ids=")
        .unwrap_or_else(|| panic!("sent to {location}"));
    assert_eq!(ids.split(',').count(), 3);

    let page = client.get(stack.url(location)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Uploaded 3 files"), "{html}");
    assert!(
        html.contains("one.txt") && html.contains("two.txt"),
        "{html}"
    );

    for (id, expected) in ids
        .split(',')
        .zip([&b"first file"[..], b"second, longer file"])
    {
        let content: Content = fetch::json(client.get(stack.url(&format!("/content/{id}")))).await;
        let bytes = fetch::bytes(client.get(&content.uri)).await;
        assert_eq!(&bytes[..], expected);
    }
}

#[tokio::test]
async fn one_file_lands_on_its_own_page() {
    let stack = Stack::start().await;
    let client = browser();
    let parts = [
        Part::Text("token", stack.admin_token()),
        Part::File("file", "<b>bold</b>.txt", b"x"),
    ];
    let response = post_form(&client, &stack, BROWSER_ACCEPT, &parts)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    assert!(location.starts_with("/ui/content/"), "{location}");
    let html = fetch::bytes(client.get(stack.url(location))).await;
    let html = String::from_utf8_lossy(&html);
    // The name is text on the page, never markup.
    assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;.txt"), "{html}");
    assert!(!html.contains("<b>bold</b>"), "{html}");
}

#[tokio::test]
async fn a_program_gets_json_for_one_file_and_a_list_for_several() {
    let stack = Stack::start().await;
    let one: Content = fetch::json(post_form(
        &stack.http,
        &stack,
        "*/*",
        &[Part::File("file", "a.bin", b"aaaa")],
    ))
    .await;
    assert_eq!((one.filename.as_str(), one.size), ("a.bin", 4));

    let response = post_form(
        &stack.http,
        &stack,
        "application/json",
        &[
            Part::File("file", "b.bin", b"bb"),
            Part::File("file", "c.bin", b"ccc"),
            Part::File("file", "d.bin", b""),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let several: ContentList = response.json().await.unwrap();
    let names: Vec<(&str, u64)> = several
        .items
        .iter()
        .map(|item| (item.filename.as_str(), item.size))
        .collect();
    assert_eq!(names, [("b.bin", 2), ("c.bin", 3), ("d.bin", 0)]);
    assert_eq!(stored_count(&stack).await, 4);
}

#[tokio::test]
async fn forms_without_a_credential_or_a_file_store_nothing() {
    let stack = Stack::start().await;
    let client = browser();
    let cases: [(&[Part], StatusCode, &str); 6] = [
        (
            &[Part::File("file", "a.txt", b"a")],
            StatusCode::UNAUTHORIZED,
            "token",
        ),
        (
            // The token must come before the files it allows.
            &[
                Part::File("file", "a.txt", b"a"),
                Part::Text("token", stack.admin_token()),
            ],
            StatusCode::UNAUTHORIZED,
            "token",
        ),
        (
            // A token field left empty.
            &[Part::Text("token", " "), Part::File("file", "a.txt", b"a")],
            StatusCode::UNAUTHORIZED,
            "token field",
        ),
        (
            &[
                Part::Text("token", "not-a-token"),
                Part::File("file", "a.txt", b"a"),
            ],
            StatusCode::UNAUTHORIZED,
            "unknown or revoked",
        ),
        (
            // A file input left empty.
            &[
                Part::Text("token", stack.admin_token()),
                Part::File("file", "", b""),
            ],
            StatusCode::BAD_REQUEST,
            "no file",
        ),
        (
            &[
                Part::Text("token", stack.admin_token()),
                Part::Text("visibility", "secret"),
            ],
            StatusCode::BAD_REQUEST,
            "visibility",
        ),
    ];
    for (parts, status, says) in cases {
        let response = post_form(&client, &stack, BROWSER_ACCEPT, parts)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{says}");
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("Upload failed"), "{html}");
        assert!(html.contains(says), "{says}: {html}");
        // The same refusals reach a program as JSON.
        let response = post_form(&client, &stack, "*/*", parts)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{says}");
        let error: ErrorBody = response.json().await.unwrap();
        assert!(error.error.message.contains(says), "{says}: {error:?}");
    }
    assert_eq!(stored_count(&stack).await, 0);
}

#[tokio::test]
async fn a_form_without_enctype_is_refused_not_stored_as_its_field_text() {
    let stack = Stack::start().await;
    let response = browser()
        .post(stack.url("/content"))
        .header(header::ACCEPT, BROWSER_ACCEPT)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("token={}&file=photo.png", stack.admin_token()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert!(html.contains("enctype"), "{html}");
    assert_eq!(stored_count(&stack).await, 0);

    // A program's raw body of that type is still just bytes (`curl -d`).
    let content: Content = fetch::json(
        stack
            .http
            .post(stack.url("/content?filename=raw.txt"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("a=b"),
    )
    .await;
    assert_eq!(
        (content.size, content.content_type.as_str()),
        (3, "text/plain; charset=utf-8")
    );
}

#[tokio::test]
async fn a_form_that_fails_part_way_keeps_none_of_its_files() {
    let stack = Stack::start().await;
    let write_only = stack
        .client
        .create_token("uploader", &[cdn_common::wire::Scope::Write])
        .await
        .unwrap();
    // The second file asks for a name no object may have.
    let long_name = "n".repeat(300);
    let response = browser()
        .post(stack.url("/content"))
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", write_only.token),
        )
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(form(&[
            Part::File("file", "fine.txt", b"fine"),
            Part::File("file", &long_name, b"refused"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(stored_count(&stack).await, 0);
}

#[tokio::test]
async fn an_anonymous_form_may_send_only_a_little_before_its_token() {
    let stack = Stack::start().await;
    let padding = "x".repeat(300 * 1024);
    let response = post_form(
        &browser(),
        &stack,
        BROWSER_ACCEPT,
        &[
            Part::Text("comment", &padding),
            Part::Text("token", stack.admin_token()),
            Part::File("file", "late.txt", b"late"),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let html = response.text().await.unwrap();
    assert!(html.contains("token field first"), "{html}");
    assert_eq!(stored_count(&stack).await, 0);
}

#[tokio::test]
async fn another_sites_page_cannot_post_a_form_with_a_token_field() {
    let stack = Stack::start().await;
    let parts = [
        Part::Text("token", stack.admin_token()),
        Part::File("file", "spoof.txt", b"from elsewhere"),
    ];
    let response = post_form(&browser(), &stack, BROWSER_ACCEPT, &parts)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(stored_count(&stack).await, 0);
    let same_site = post_form(&browser(), &stack, BROWSER_ACCEPT, &parts)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(same_site.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_visibility_after_the_files_is_refused_not_ignored() {
    let stack = Stack::start().await;
    let response = post_form(
        &stack.http,
        &stack,
        "*/*",
        &[
            Part::File("file", "secret.pdf", b"%PDF"),
            Part::Text("visibility", "private"),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(stored_count(&stack).await, 0);
}

#[tokio::test]
async fn one_private_file_lands_on_the_uploads_page_a_browser_may_open() {
    let stack = Stack::start().await;
    let client = browser();
    let response = post_form(
        &client,
        &stack,
        BROWSER_ACCEPT,
        &[
            Part::Text("token", stack.admin_token()),
            Part::Text("visibility", "private"),
            Part::File("file", "mine.txt", b"mine"),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    assert!(location.starts_with("/ui/uploads?ids="), "{location}");
    let page = client.get(stack.url(location)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Uploaded 1 file") && html.contains("private"),
        "{html}"
    );
}
