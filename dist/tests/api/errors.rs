//! Bad input gets a clear 4xx with a JSON body, never a 500.

use reqwest::{Method, StatusCode};

use testkit::services::Stack;

async fn error_of(stack: &Stack, method: Method, path: &str, body: &str) -> (StatusCode, String) {
    let response = stack
        .http
        .request(method, stack.url(path))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let json: serde_json::Value = response.json().await.unwrap();
    let message = json["error"]["message"].as_str().unwrap();
    assert!(!message.is_empty());
    (status, json["error"]["code"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn refuses_bad_requests_clearly() {
    let stack = Stack::start().await;
    let missing = uuid::Uuid::now_v7();
    let cases = [
        (
            Method::GET,
            "/content/not-a-uuid".to_string(),
            "",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/content/not-a-uuid/data".to_string(),
            "",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            format!("/content/{missing}"),
            "",
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            format!("/content/{missing}/data"),
            "",
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PUT,
            format!("/content/{missing}"),
            "bytes",
            StatusCode::NOT_FOUND,
        ),
        (
            Method::DELETE,
            format!("/content/{missing}"),
            "",
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PATCH,
            format!("/content/{missing}"),
            "{}",
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/content?limit=0".to_string(),
            "",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/content?limit=lots".to_string(),
            "",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/content?cursor=yesterday".to_string(),
            "",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/nowhere".to_string(),
            "",
            StatusCode::NOT_FOUND,
        ),
        (
            Method::DELETE,
            "/content".to_string(),
            "",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ];
    for (method, path, body, expected) in cases {
        let (status, _) = error_of(&stack, method.clone(), &path, body).await;
        assert_eq!(status, expected, "{method} {path}");
    }

    let content = stack.upload("x.txt", b"x").await;
    let path = format!("/content/{}", content.id);
    for body in [
        "{not json",
        r#"{"filename": ""}"#,
        r#"{"content_type": "not a type"}"#,
        r#"{"size": 5}"#,
    ] {
        let (status, code) = error_of(&stack, Method::PATCH, &path, body).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{body}"
        );
    }
    let (status, _) = error_of(&stack, Method::POST, "/content?filename=a%07b", "x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn nodes_refuse_bad_keys() {
    let stack = Stack::start().await;
    let node = &stack.nodes[0].url;
    for key in ["a%20b", "%C3%A9", "a%2Fb", &"k".repeat(129)] {
        let response = stack
            .node_http
            .put(format!("{node}/blobs/{key}"))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{key}");
        let json: serde_json::Value = response.json().await.unwrap();
        assert_eq!(json["error"]["code"], "bad_request");
    }
}
