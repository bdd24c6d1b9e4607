//! Uploaded bytes cannot act on the API's origin (`nosniff`, the CSP
//! sandbox, checked in a real browser), other origins get what CORS allows
//! them and no more, and `/metrics` is for operators.

use reqwest::{Method, StatusCode, header};
use testkit::fetch;
use testkit::services::{Stack, StackConfig};

use crate::browser::dom_in_chromium;

#[tokio::test]
async fn bytes_are_served_with_nosniff_and_active_types_sandboxed() {
    let stack = Stack::start().await;
    let anonymous = reqwest::Client::new();
    for (name, body, sandboxed) in [
        ("page.html", &b"<script>alert(1)</script>"[..], true),
        (
            "drawing.svg",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>",
            true,
        ),
        ("feed.xml", b"<?xml version='1.0'?><a/>", true),
        ("code.js", b"alert(1)", true),
        ("notes.txt", b"<script>alert(1)</script>", false),
        ("image.png", b"\x89PNG\r\n\x1a\n", false),
    ] {
        let content = stack.upload(name, body).await;
        for method in [Method::GET, Method::HEAD] {
            let response = anonymous
                .request(method.clone(), &content.uri)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{method} {name}");
            let headers = response.headers();
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{name}");
            assert_eq!(
                headers
                    .get(header::CONTENT_SECURITY_POLICY)
                    .map(|v| v.to_str().unwrap()),
                sandboxed.then_some("sandbox"),
                "{method} {name} ({})",
                content.content_type
            );
        }
        let ranged = anonymous
            .get(&content.uri)
            .header(header::RANGE, "bytes=0-0")
            .send()
            .await
            .unwrap();
        assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(ranged.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
}

const APP: &str = "https://app.example";
const STRANGER: &str = "https://elsewhere.example";

#[tokio::test]
async fn any_origin_reads_and_only_listed_origins_write() {
    let stack = Stack::start_with(StackConfig {
        dist_env: vec![("CORS_ORIGINS", APP.to_owned())],
        ..StackConfig::default()
    })
    .await;
    let content = stack.upload("shared.txt", b"for every origin").await;
    let anonymous = reqwest::Client::new();
    let allow_origin = |response: &reqwest::Response| {
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|value| value.to_str().unwrap().to_owned())
    };

    // A simple GET from a stranger: allowed, with the headers it needs.
    for url in [
        content.uri.clone(),
        stack.url(&format!("/content/{}", content.id)),
    ] {
        let response = anonymous
            .get(&url)
            .header(header::ORIGIN, STRANGER)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(allow_origin(&response).as_deref(), Some(STRANGER));
        assert!(
            !response
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
        );
        if url == content.uri {
            let exposed = response.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS]
                .to_str()
                .unwrap()
                .to_ascii_lowercase();
            for name in [
                "etag",
                "content-range",
                "content-length",
                "accept-ranges",
                "content-disposition",
            ] {
                assert!(exposed.contains(name), "{name} not in {exposed}");
            }
        }
    }

    let preflight = |origin: &'static str, method: &'static str| {
        anonymous
            .request(Method::OPTIONS, stack.url("/content"))
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, method)
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization, range",
            )
            .send()
    };
    // Reads with a range or a token: any origin.
    let read = preflight(STRANGER, "GET").await.unwrap();
    assert!(read.status().is_success());
    assert_eq!(allow_origin(&read).as_deref(), Some(STRANGER));
    let allowed_headers = read.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed_headers.contains("authorization"),
        "{allowed_headers}"
    );
    assert!(
        !read
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
    );
    // Writes: the listed origin only.
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let app = preflight(APP, method).await.unwrap();
        assert_eq!(allow_origin(&app).as_deref(), Some(APP), "{method}");
        let methods = app.headers()[header::ACCESS_CONTROL_ALLOW_METHODS]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(methods.contains(method), "{methods}");
        let stranger = preflight(STRANGER, method).await.unwrap();
        assert_eq!(allow_origin(&stranger), None, "{method}");
    }
    // A write that skips the preflight gets no allowance either.
    let write = anonymous
        .post(stack.url("/content?filename=x.txt"))
        .header(header::ORIGIN, STRANGER)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(allow_origin(&write), None);
}

#[tokio::test]
async fn metrics_need_an_admin_token_unless_made_public() {
    let stack = Stack::start().await;
    let anonymous = reqwest::Client::new();
    let status = anonymous
        .get(stack.url("/metrics"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let body = fetch::bytes(stack.http.get(stack.url("/metrics"))).await;
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("cdn_http_requests_total"), "{body}");

    let open = Stack::start_with(StackConfig {
        dist_env: vec![("PUBLIC_METRICS", "true".to_owned())],
        ..StackConfig::default()
    })
    .await;
    let status = anonymous
        .get(open.url("/metrics"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_uploaded_page_cannot_call_the_api_from_a_browser() {
    let stack = Stack::start().await;
    let victim = stack.upload("victim.txt", b"still here").await;
    let page = format!(
        r#"<!doctype html><html><body><p id="out">inert</p><script>
document.getElementById("out").textContent = "script ran";
fetch("/content/{id}", {{method: "DELETE"}})
  .then(r => document.body.setAttribute("data-delete", String(r.status)));
fetch("/content")
  .then(r => r.text())
  .then(t => document.body.setAttribute("data-list", t));
fetch("/content/{id}")
  .then(r => r.text())
  .then(t => document.body.setAttribute("data-read", t));
</script></body></html>"#,
        id = victim.id
    );
    let attack = stack.upload("attack.html", page.as_bytes()).await;
    assert!(attack.content_type.starts_with("text/html"));

    // Served by the distributor, and by its node through a redirect.
    for url in [attack.uri.clone(), format!("{}&redirect=1", attack.uri)] {
        let profile = tempfile::tempdir().unwrap();
        let dom = dom_in_chromium(&url, profile.path()).await;
        assert!(dom.contains("<p id=\"out\">inert</p>"), "{url}: {dom}");
        // Any answer the page got would sit on its body as an attribute.
        assert!(
            dom.contains("<body><p"),
            "{url}: the page reached the API: {dom}"
        );
        let victim_now = reqwest::Client::new()
            .get(stack.url(&format!("/content/{}", victim.id)))
            .send()
            .await
            .unwrap();
        assert_eq!(victim_now.status(), StatusCode::OK, "{url}");
    }
    assert_eq!(
        &fetch::bytes(reqwest::Client::new().get(&victim.uri)).await[..],
        b"still here"
    );
}

/// JSON answers, errors that echo what was asked included, carry `nosniff`
/// too.
#[tokio::test]
async fn every_answer_says_nosniff() {
    let stack = Stack::start().await;
    for path in ["/content/not-an-id", "/no/such/route", "/nodes"] {
        let response = stack.http.get(stack.url(path)).send().await.unwrap();
        assert_eq!(
            response.headers()[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff",
            "{path}"
        );
    }
}

#[tokio::test]
async fn this_origins_pages_cannot_load_content_as_code() {
    let stack = Stack::start().await;
    let script = stack.upload("evil.js", b"alert(1)").await;
    let anonymous = reqwest::Client::new();
    let load = |site: &'static str, dest: &'static str| {
        anonymous
            .get(&script.uri)
            .header("sec-fetch-site", site)
            .header("sec-fetch-dest", dest)
            .send()
    };
    for dest in ["script", "style", "worker"] {
        let refused = load("same-origin", dest).await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{dest}");
    }
    // Other sites may use the CDN for their scripts; a download is fine.
    assert_eq!(
        load("cross-site", "script").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        load("same-origin", "document").await.unwrap().status(),
        StatusCode::OK
    );
}
