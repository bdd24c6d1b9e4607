//! A node is sealed: without the node secret nothing but `/healthz` and
//! reads signed by the distributor answer, and nothing changes.

use std::path::Path;

use cdn_common::node_auth::{NodeSecret, SignedRead, unix_now};
use reqwest::{Method, StatusCode, header};
use testkit::fetch;
use testkit::services::{Mode, NODE_SECRET, Program, Service, node_http, sealed_node_calls};

async fn start(storage: &Path) -> Service {
    Service::start(
        Program::Node,
        [
            ("NODE_ID", "sealed"),
            ("STORAGE_DIR", &storage.display().to_string()),
            ("MAX_STORAGE", "1MiB"),
        ],
        Mode::InProcess,
    )
    .await
}

/// A read of `key` signed with `secret`, as the distributor makes one.
fn signed_url(node: &Service, secret: &str, read: &SignedRead) -> String {
    let signature = read.signature(&NodeSecret::new(secret).unwrap());
    let mut url = reqwest::Url::parse(&format!("{}/blobs/{}", node.url, read.key)).unwrap();
    url.query_pairs_mut()
        .append_pair("expires", &read.expires.to_string())
        .append_pair("type", &read.content_type)
        .append_pair("disposition", &read.disposition)
        .append_pair("signature", &signature);
    url.into()
}

fn page_read(expires_in: i64) -> SignedRead {
    SignedRead {
        key: "page".into(),
        expires: (unix_now() as i64 + expires_in) as u64,
        content_type: "text/html; charset=utf-8".into(),
        disposition: "inline; filename=\"page.html\"".into(),
    }
}

#[tokio::test]
async fn without_the_secret_nothing_is_read_or_changed() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let blob = format!("{}/blobs/k1", node.url);
    fetch::json::<serde_json::Value>(node_http().put(&blob).body("original")).await;

    let anonymous = reqwest::Client::new();
    let wrong = |request: reqwest::RequestBuilder| {
        request.header(
            header::AUTHORIZATION,
            "Bearer node-secret-of-the-test-serviceX",
        )
    };
    let attempts = sealed_node_calls(&node.url, &blob);
    for (method, url) in &attempts {
        for with_wrong_secret in [false, true] {
            let mut request = anonymous.request(method.clone(), url).body("planted bytes");
            if with_wrong_secret {
                request = wrong(request);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {url}"
            );
            assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        }
    }
    // The secret with anything more is not the secret.
    let padded = anonymous
        .get(&blob)
        .header(header::AUTHORIZATION, format!("Bearer {NODE_SECRET}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(padded.status(), StatusCode::UNAUTHORIZED);

    let healthz = anonymous.get(format!("{}/healthz", node.url)).send().await;
    assert_eq!(healthz.unwrap().status(), StatusCode::OK);
    let bytes = fetch::bytes(node_http().get(&blob)).await;
    assert_eq!(&bytes[..], b"original");
    assert!(!dir.path().join("blobs").join("planted").exists());
    let inventory: serde_json::Value =
        fetch::json(node_http().get(format!("{}/blobs", node.url))).await;
    assert_eq!(inventory["blobs"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_signed_read_serves_one_blob_as_the_object_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let page = b"<html><script>fetch('/blobs')</script></html>";
    fetch::json::<serde_json::Value>(
        node_http()
            .put(format!("{}/blobs/page", node.url))
            .body(&page[..]),
    )
    .await;
    let anonymous = reqwest::Client::new();

    let url = signed_url(&node, NODE_SECRET, &page_read(60));
    let response = anonymous.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "inline; filename=\"page.html\""
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::CONTENT_SECURITY_POLICY], "sandbox");
    assert_eq!(&response.bytes().await.unwrap()[..], page);

    let head = anonymous.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        head.headers()[header::CONTENT_LENGTH],
        page.len().to_string().as_str()
    );
    let part = anonymous
        .get(&url)
        .header(header::RANGE, "bytes=0-5")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&part.bytes().await.unwrap()[..], b"<html>");

    // The signature is for reading that blob, nothing more.
    for (method, target) in [
        (Method::PUT, url.clone()),
        (Method::DELETE, url.clone()),
        (Method::GET, url.replace("/blobs/page?", "/blobs?")),
        (Method::GET, url.replace("/blobs/page?", "/stats?")),
    ] {
        let response = anonymous
            .request(method.clone(), &target)
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {target}"
        );
    }
    assert_eq!(
        &std::fs::read(dir.path().join("blobs").join("page")).unwrap(),
        page
    );
}

#[tokio::test]
async fn expired_altered_or_overlong_signatures_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    fetch::json::<serde_json::Value>(
        node_http()
            .put(format!("{}/blobs/page", node.url))
            .body("<p>hi</p>"),
    )
    .await;
    let anonymous = reqwest::Client::new();
    let good = signed_url(&node, NODE_SECRET, &page_read(60));
    let refused = [
        signed_url(&node, NODE_SECRET, &page_read(-5)),
        signed_url(&node, NODE_SECRET, &page_read(3600)),
        signed_url(&node, "a-secret-that-is-not-the-node-one", &page_read(60)),
        good.replace("type=text%2Fhtml", "type=text%2Fplain"),
        good.replace("inline", "attachment"),
        good.replace("signature=", "signature=00"),
        good.replace("expires=", "expires=1"),
        good.replace("&disposition=", "&ignored="),
    ];
    for url in refused {
        assert_ne!(url, good);
        let response = anonymous.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{url}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "forbidden");
    }
    assert_eq!(
        anonymous.get(&good).send().await.unwrap().status(),
        StatusCode::OK
    );
}
