//! Sealed nodes: without the node secret a node changes nothing and tells
//! nothing; `?redirect=1` sends clients there with a short-lived signed URL
//! that serves the object as what it is.

use cdn_common::node_auth::{NodeSecret, SignedRead, unix_now};
use cdn_common::wire::Content;
use reqwest::{StatusCode, Url, header};
use testkit::fetch;
use testkit::services::{NODE_SECRET, Stack, node_index, sealed_node_calls};

fn no_follow() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Where `?redirect=1` (with `extra` query) sends an anonymous client.
async fn redirect_target(content: &Content, extra: &str) -> Url {
    let response = no_follow()
        .get(format!("{}&redirect=1{extra}", content.uri))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    Url::parse(response.headers()[header::LOCATION].to_str().unwrap()).unwrap()
}

/// The node URL of the blob, without any signature.
fn bare(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.into()
}

#[tokio::test]
async fn nodes_change_nothing_and_tell_nothing_without_the_secret() {
    let stack = Stack::start().await;
    let kept = b"bytes that must stay whole".repeat(10);
    let content = stack.upload("kept.bin", &kept).await;
    let node = &stack.nodes[node_index(content.replicas[0].node.as_str())];
    let blob = bare(&redirect_target(&content, "").await);

    let anonymous = reqwest::Client::new();
    let attempts = sealed_node_calls(&node.url, &blob);
    for (method, url) in &attempts {
        for bearer in [
            None,
            Some("Bearer wrong"),
            Some("Bearer node-secret-of-the-test-service"),
        ] {
            let mut request = anonymous.request(method.clone(), url).body("planted");
            if let Some(bearer) = bearer {
                request = request.header(header::AUTHORIZATION, bearer);
            }
            let status = request.send().await.unwrap().status();
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {url} {bearer:?}"
            );
        }
    }

    // The object is as it was, through the distributor and on disk.
    let bytes = fetch::bytes(anonymous.get(&content.uri)).await;
    assert_eq!(&bytes[..], &kept[..]);
    let everywhere: Vec<String> = (0..3).flat_map(|node| stack.blobs_on_disk(node)).collect();
    assert_eq!(everywhere.len(), 1, "{everywhere:?}");
    // With the secret, the node answers as before.
    let inventory: serde_json::Value =
        fetch::json(stack.node_http.get(format!("{}/blobs", node.url))).await;
    assert_eq!(inventory["blobs"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_redirect_serves_the_object_from_its_node_as_what_it_is() {
    let stack = Stack::start().await;
    let page = b"<!doctype html><title>hello</title><p>caf\xc3\xa9</p>";
    let content = stack.upload("café page.html", page).await;
    assert!(content.content_type.starts_with("text/html"));

    // A plain HTTP client follows it to the node and gets the object.
    let anonymous = reqwest::Client::new();
    let response = anonymous
        .get(format!("{}&redirect=1", content.uri))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let node = &stack.nodes[node_index(content.replicas[0].node.as_str())];
    assert!(
        response.url().as_str().starts_with(&node.url),
        "{}",
        response.url()
    );
    let headers = response.headers().clone();
    assert_eq!(
        headers[header::CONTENT_TYPE].to_str().unwrap(),
        content.content_type
    );
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "inline; filename=\"caf_ page.html\"; filename*=UTF-8''caf%C3%A9%20page.html"
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::CONTENT_SECURITY_POLICY], "sandbox");
    assert_eq!(&response.bytes().await.unwrap()[..], page);

    // `?download=1` is signed in too; a replica's `uri` leads to its copy.
    let download = redirect_target(&content, "&download=1").await;
    let response = anonymous.get(download.clone()).send().await.unwrap();
    assert!(
        response.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let via_replica = fetch::bytes(anonymous.get(&content.replicas[0].uri)).await;
    assert_eq!(&via_replica[..], page);
    let ranged = anonymous
        .get(format!("{}&redirect=1", content.uri))
        .header(header::RANGE, "bytes=2-8")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&ranged.bytes().await.unwrap()[..], b"doctype");
    let elsewhere = no_follow()
        .get(format!("{}&redirect=1&node=node9", content.uri))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);

    // Altered, stripped or expired: refused, and nothing served.
    let signed = redirect_target(&content, "").await;
    let query = signed.query().unwrap().to_owned();
    let mut refusals = vec![
        (
            signed
                .as_str()
                .replace("type=text%2Fhtml", "type=text%2Fplain"),
            StatusCode::FORBIDDEN,
        ),
        (
            signed.as_str().replace("inline", "attachment"),
            StatusCode::FORBIDDEN,
        ),
        (
            signed.as_str().replace("signature=", "signature=ff"),
            StatusCode::FORBIDDEN,
        ),
        (bare(&signed), StatusCode::UNAUTHORIZED),
        (
            format!("{}/blobs?{query}", node.url),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    let key = signed
        .path_segments()
        .unwrap()
        .next_back()
        .unwrap()
        .to_owned();
    let expired = SignedRead {
        key,
        expires: unix_now() - 1,
        content_type: content.content_type.clone(),
        disposition: "inline".into(),
    };
    let mut url = Url::parse(&bare(&signed)).unwrap();
    url.query_pairs_mut()
        .append_pair("expires", &expired.expires.to_string())
        .append_pair("type", &expired.content_type)
        .append_pair("disposition", &expired.disposition)
        .append_pair(
            "signature",
            &expired.signature(&NodeSecret::new(NODE_SECRET).unwrap()),
        );
    refusals.push((url.into(), StatusCode::FORBIDDEN));
    for (url, status) in refusals {
        let response = anonymous.get(&url).send().await.unwrap();
        assert_eq!(response.status(), status, "{url}");
        assert_ne!(&response.bytes().await.unwrap()[..], page);
    }
    // Nor may a signature do anything but read.
    let overwrite = anonymous.put(signed.clone()).body("planted").send().await;
    assert_eq!(overwrite.unwrap().status(), StatusCode::UNAUTHORIZED);
    let delete = anonymous.delete(signed.clone()).send().await;
    assert_eq!(delete.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(&fetch::bytes(anonymous.get(&content.uri)).await[..], page);
}
