//! The dashboard as HTTP sees it: its page and files under a strict
//! Content-Security-Policy, the routes it relies on (`/tokens/current`,
//! `/placements`), and the server-made pages' access rule.

use cdn_common::wire::{PlacementLog, PlacementOutcome, Scope, TokenInfo, Visibility};
use reqwest::{StatusCode, header};
use testkit::fetch;
use testkit::services::{Stack, StackConfig};

#[tokio::test]
async fn the_dashboard_is_served_with_a_strict_policy() {
    let stack = Stack::start().await;
    let anonymous = reqwest::Client::new();
    for (path, kind) in [
        ("/", "text/html"),
        ("/ui/app.js", "text/javascript"),
        ("/ui/app.css", "text/css"),
    ] {
        let response = anonymous.get(stack.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        let content_type = headers[header::CONTENT_TYPE].to_str().unwrap();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.contains("script-src 'self'"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        // Revalidated with one small request.
        let etag = headers[header::ETAG].clone();
        let again = anonymous
            .get(stack.url(path))
            .header(header::IF_NONE_MATCH, etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
    let html = fetch::bytes(anonymous.get(stack.url("/"))).await;
    let html = String::from_utf8_lossy(&html);
    // Nothing from elsewhere: the dashboard works offline on a LAN.
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    let missing = anonymous
        .get(stack.url("/ui/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let escape = anonymous
        .get(stack.url("/ui/..%2FCargo.toml"))
        .send()
        .await
        .unwrap();
    assert_eq!(escape.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_token_can_ask_who_it_is() {
    let stack = Stack::start().await;
    let reader = stack
        .client
        .create_token("viewer", &[Scope::Read])
        .await
        .unwrap();
    let me: TokenInfo = fetch::json(
        reqwest::Client::new()
            .get(stack.url("/tokens/current"))
            .bearer_auth(&reader.token),
    )
    .await;
    assert_eq!(
        (me.name.as_str(), me.scopes.as_slice()),
        ("viewer", &[Scope::Read][..])
    );
    for bearer in [None, Some("wrong")] {
        let mut request = reqwest::Client::new().get(stack.url("/tokens/current"));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{bearer:?}");
    }
}

#[tokio::test]
async fn placements_say_which_nodes_took_each_write_and_why() {
    let stack = Stack::start_with(StackConfig {
        replication: 2,
        prefill: [0, 4096, 0],
        ..StackConfig::default()
    })
    .await;
    let content = stack.upload("placed.txt", b"where do I go").await;
    let log: PlacementLog = fetch::json(stack.http.get(stack.url("/placements"))).await;
    let entry = &log.placements[0];
    assert_eq!(entry.content_id, content.id);
    assert_eq!(entry.copies, 2);
    let mut chosen: Vec<String> = entry.chosen.iter().map(ToString::to_string).collect();
    chosen.sort();
    // node2 started fullest: the rule prefers the other two.
    assert_eq!(chosen, ["node1", "node3"]);
    let node2 = entry
        .candidates
        .iter()
        .find(|candidate| candidate.node.as_str() == "node2")
        .unwrap();
    assert_eq!(
        (node2.outcome, node2.rank),
        (PlacementOutcome::NotNeeded, Some(3))
    );
    assert!(node2.storagep.unwrap() > 0.0);

    // Anonymous callers see it only when listing is open; renames follow.
    let anonymous = reqwest::Client::new();
    let refused = anonymous
        .get(stack.url("/placements"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    stack
        .client
        .rename(content.id, "renamed.txt")
        .await
        .unwrap();
    let log: PlacementLog = fetch::json(stack.http.get(stack.url("/placements"))).await;
    assert_eq!(log.placements[0].filename, "renamed.txt");
    // Made private by a replacement: gone from what anyone may see.
    let open = Stack::start_with(StackConfig {
        dist_env: vec![("PUBLIC_LISTING", "true".to_owned())],
        ..StackConfig::default()
    })
    .await;
    let shown = open.upload("shown.txt", b"public at first").await;
    let replaced = open
        .http
        .put(open.url(&format!("/content/{}?visibility=private", shown.id)))
        .body("private now")
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), StatusCode::OK);
    let seen: PlacementLog = fetch::json(anonymous.get(open.url("/placements"))).await;
    assert!(seen.placements.is_empty(), "{seen:?}");
    stack.client.delete(content.id).await.unwrap();
    let log: PlacementLog = fetch::json(stack.http.get(stack.url("/placements"))).await;
    assert!(log.placements.is_empty(), "{log:?}");
}

#[tokio::test]
async fn a_private_objects_page_needs_what_its_bytes_need() {
    let stack = Stack::start().await;
    let content = stack.upload("secret.txt", b"hidden").await;
    stack
        .client
        .set_visibility(content.id, Visibility::Private)
        .await
        .unwrap();
    let path = format!("/ui/content/{}", content.id);
    let anonymous = reqwest::Client::new();
    let refused = anonymous.get(stack.url(&path)).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("private") && !html.contains("secret.txt"),
        "{html}"
    );
    let shown = stack.http.get(stack.url(&path)).send().await.unwrap();
    assert_eq!(shown.status(), StatusCode::OK);
    assert!(shown.text().await.unwrap().contains("secret.txt"));
    let missing = anonymous
        .get(stack.url("/ui/content/not-an-id"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_uploads_page_takes_at_most_a_forms_worth_of_ids() {
    let stack = Stack::start().await;
    let content = stack.upload("listed.txt", b"listed").await;
    let anonymous = reqwest::Client::new();
    let page = |ids: String| {
        anonymous
            .get(stack.url(&format!("/ui/uploads?ids={ids}")))
            .send()
    };
    // The same id twice is listed (and read) once.
    let twice = page(format!("{0},{0}", content.id)).await.unwrap();
    assert_eq!(twice.status(), StatusCode::OK);
    assert!(twice.text().await.unwrap().contains("Uploaded 1 file"));
    let too_many: Vec<String> = (0..101).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    for (ids, status) in [
        (too_many.join(","), StatusCode::BAD_REQUEST),
        ("not-an-id".to_owned(), StatusCode::BAD_REQUEST),
    ] {
        let answer = page(ids).await.unwrap();
        assert_eq!(answer.status(), status);
        assert!(answer.text().await.unwrap().contains("Not available"));
    }
}
