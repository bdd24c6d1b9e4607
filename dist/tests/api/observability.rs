//! What an operator sees: `/metrics` on the distributor and the nodes,
//! request ids that follow a request from the distributor to its node, and
//! one log line per request (as JSON when asked).

use std::time::{Duration, Instant};

use cdn_client::wire::Content;
use testkit::fetch;
use testkit::services::{
    Children, Mode, NODE_IDS, Program, Service, Stack, StackConfig, node_index,
};

/// Every service a child process: each has metrics and a log of its own
/// (in-process services would share this process's metrics recorder).
async fn stack_of_children() -> Stack {
    Stack::start_with(StackConfig {
        children: Children::ALL,
        ..StackConfig::default()
    })
    .await
}

/// Reads `url` until its body passes `check`, for up to 5 s: a request's
/// metrics are recorded once its response body is done, which can be a
/// moment after the client has read it.
pub(crate) async fn scrape_until(
    http: &reqwest::Client,
    url: &str,
    check: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = http.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        let body = response.text().await.unwrap();
        if check(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{url} never passed:\n{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The value of the sample whose name and labels are `series` exactly.
pub(crate) fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test]
async fn the_distributor_and_the_nodes_serve_prometheus_metrics() {
    let stack = stack_of_children().await;
    let content = stack.upload("hello.txt", b"hello, metrics").await;
    let holder = &content.replicas[0].node;
    let data_url = stack.url(&format!("/content/{}/data", content.id));
    let bytes = fetch::bytes(stack.http.get(data_url)).await;
    assert_eq!(&bytes[..], b"hello, metrics");

    let data = r#"method="GET",route="/content/{id}/data""#;
    let body = scrape_until(&stack.http, &stack.url("/metrics"), |body| {
        sample(
            body,
            &format!("cdn_http_requests_total{{{data},status=\"200\"}}"),
        ) == Some(1.0)
    })
    .await;
    let upload_series = r#"cdn_http_requests_total{method="POST",route="/content",status="201"}"#;
    assert_eq!(sample(&body, upload_series), Some(1.0), "{body}");
    assert_eq!(
        sample(
            &body,
            &format!("cdn_http_response_body_bytes_total{{{data}}}")
        ),
        Some(14.0)
    );
    assert_eq!(
        sample(
            &body,
            r#"cdn_http_request_body_bytes_total{method="POST",route="/content"}"#
        ),
        Some(14.0)
    );
    assert!(
        body.contains(&format!(
            "cdn_http_request_duration_seconds_bucket{{{data},le=\"0.01\"}}"
        )),
        "{body}"
    );
    // Routes are templates: no id ever becomes a label.
    assert!(!body.contains(&content.id.to_string()), "{body}");
    for node in NODE_IDS {
        assert_eq!(
            sample(&body, &format!("cdn_node_up{{node=\"{node}\"}}")),
            Some(1.0)
        );
        let age = sample(
            &body,
            &format!("cdn_node_last_poll_age_seconds{{node=\"{node}\"}}"),
        )
        .unwrap();
        assert!((0.0..5.0).contains(&age), "{node} polled {age}s ago");
        let placed = sample(&body, &format!("cdn_placements_total{{node=\"{node}\"}}"));
        let objects = sample(&body, &format!("cdn_node_objects{{node=\"{node}\"}}"));
        if node == holder.as_str() {
            assert_eq!((placed, objects), (Some(1.0), Some(1.0)), "{body}");
        } else {
            assert_eq!(placed, None, "{body}");
            assert_eq!(objects, Some(0.0), "{body}");
        }
    }
    assert_eq!(sample(&body, "cdn_under_replicated_objects"), Some(0.0));
    assert_eq!(
        sample(&body, r#"cdn_repairs_total{outcome="failed"}"#),
        Some(0.0)
    );
    assert!(sample(&body, "process_resident_memory_bytes").unwrap() > 0.0);

    let node = &stack.nodes[node_index(holder.as_str())];
    // The distributor always asks a node for a range, so it can resume
    // elsewhere mid-stream: the node answered 206.
    let body = scrape_until(&stack.node_http, &format!("{}/metrics", node.url), |body| {
        sample(
            body,
            r#"cdn_http_requests_total{method="GET",route="/blobs/{key}",status="206"}"#,
        ) == Some(1.0)
    })
    .await;
    assert_eq!(sample(&body, "cdn_storage_objects"), Some(1.0), "{body}");
    assert_eq!(sample(&body, "cdn_storage_used_bytes"), Some(14.0));
    assert_eq!(
        sample(&body, "cdn_storage_max_bytes"),
        Some(2.0 * 1024.0 * 1024.0 * 1024.0)
    );
    assert_eq!(
        sample(
            &body,
            r#"cdn_http_request_body_bytes_total{method="PUT",route="/blobs/{key}"}"#
        ),
        Some(14.0)
    );
}

/// Waits (up to 5 s) for the access line of a request to reach a log.
async fn wait_for_line(read: impl Fn() -> String, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = read();
        if log
            .lines()
            .any(|line| line.contains(needle) && line.contains("status"))
        {
            return log;
        }
        assert!(Instant::now() < deadline, "no line with {needle}:\n{log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for request `id`'s access line in a log, then checks that some
/// line naming `id` holds every one of `fields`.
async fn assert_logged(read: impl Fn() -> String, id: &str, fields: &[&str]) {
    let log = wait_for_line(read, id).await;
    assert!(
        log.lines()
            .any(|line| line.contains(id) && fields.iter().all(|field| line.contains(field))),
        "no line with {id} and {fields:?}:\n{log}"
    );
}

#[tokio::test]
async fn a_request_id_follows_an_upload_and_a_download_to_the_node() {
    let stack = stack_of_children().await;
    let id = format!("test-{}", uuid::Uuid::now_v7().simple());
    let response = stack
        .http
        .post(stack.url("/content?filename=traced.txt"))
        .header("x-request-id", &id)
        .body("followed across services")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-request-id"], id.as_str());
    let content: Content = response.json().await.unwrap();
    let holder = &stack.nodes[node_index(content.replicas[0].node.as_str())];

    let dist_fields = [
        "route=/content",
        "method=POST",
        "status=201",
        "bytes_in=24",
        "latency_ms=",
    ];
    assert_logged(|| stack.dist.log(), &id, &dist_fields).await;
    let node_fields = ["method=PUT", "route=/blobs/{key}"];
    assert_logged(|| holder.log(), &id, &node_fields).await;

    // A download without an id gets a fresh one, passed on the same way.
    let response = stack
        .http
        .get(stack.url(&format!("/content/{}/data", content.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let made = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::try_parse(&made).is_ok(), "{made}");
    assert_eq!(response.text().await.unwrap(), "followed across services");
    assert_logged(|| holder.log(), &made, &["method=GET", "bytes_out=24"]).await;

    // An id that could forge a log line is not taken.
    let response = stack
        .http
        .get(stack.url("/healthz"))
        .header("x-request-id", "two words")
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], "two words");
}

#[tokio::test]
async fn log_format_json_gives_one_object_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage").display().to_string();
    let node = Service::start(
        Program::Node,
        [("STORAGE_DIR", storage.as_str()), ("LOG_FORMAT", "json")],
        Mode::Child {
            log: dir.path().join("node.log"),
        },
    )
    .await;
    let response = testkit::services::node_http()
        .get(format!("{}/blobs/missing", node.url))
        .header("x-request-id", "json-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let log = wait_for_line(|| node.log(), "json-1").await;

    let access: serde_json::Value = log
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect(line))
        .find(|line| line["target"] == "access" && line["request_id"] == "json-1")
        .unwrap_or_else(|| panic!("no access line:\n{log}"));
    assert_eq!(access["method"], "GET");
    assert_eq!(access["route"], "/blobs/{key}");
    assert_eq!(access["status"], 404);
    assert!(access["latency_ms"].as_f64().is_some(), "{access}");
    assert!(access["bytes_out"].as_u64().unwrap() > 0, "{access}");
}
