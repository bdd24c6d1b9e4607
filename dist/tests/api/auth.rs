//! Who may do what: refused writes change nothing, scopes are enforced,
//! tokens are managed by admins and stop at once when revoked, and the
//! admin token is made once at first start. Private content and presigned
//! links are in `private.rs`.

use std::time::{Duration, Instant};

use cdn_common::wire::{Content, CreatedToken, Scope, TokenList};
use reqwest::{Method, StatusCode};
use serde_json::json;

use testkit::raw;
use testkit::services::{Children, Service, Stack, StackConfig, bearer_http};

/// What a refused request must leave as it was: every object, and every
/// blob and temporary file on every node.
#[derive(Debug, PartialEq)]
struct Snapshot {
    objects: Vec<Content>,
    blobs: Vec<Vec<String>>,
    temp_files: Vec<Vec<String>>,
}

async fn snapshot(stack: &Stack) -> Snapshot {
    Snapshot {
        objects: stack.client.list_all().await.unwrap(),
        blobs: (0..3).map(|node| stack.blobs_on_disk(node)).collect(),
        temp_files: (0..3).map(|node| stack.temp_files_on_disk(node)).collect(),
    }
}

/// Sends one request and returns its status, `WWW-Authenticate` and error
/// code.
async fn attempt(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    body: &'static str,
) -> (StatusCode, Option<String>, String) {
    let response = http
        .request(method.clone(), url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{method} {url}: {err}"));
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned());
    let json: serde_json::Value = response.json().await.unwrap_or_default();
    let code = json["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (status, challenge, code)
}

/// Every write route, as (method, path, body).
fn writes(id: uuid::Uuid) -> Vec<(Method, String, &'static str)> {
    vec![
        (
            Method::POST,
            "/content?filename=planted.txt".into(),
            "planted",
        ),
        (Method::PUT, format!("/content/{id}"), "overwritten"),
        (
            Method::PATCH,
            format!("/content/{id}"),
            r#"{"filename":"renamed"}"#,
        ),
        (Method::DELETE, format!("/content/{id}"), ""),
        (Method::POST, format!("/content/{id}/share"), ""),
        (
            Method::POST,
            "/tokens".into(),
            r#"{"name":"x","scopes":["admin"]}"#,
        ),
    ]
}

async fn create_token(stack: &Stack, name: &str, scopes: &[Scope]) -> CreatedToken {
    stack.client.create_token(name, scopes).await.unwrap()
}

#[tokio::test]
async fn writes_without_a_valid_token_are_refused_and_change_nothing() {
    let stack = Stack::start().await;
    let kept = stack.upload("kept.txt", "the original bytes").await;
    let before = snapshot(&stack).await;

    let revoked = create_token(&stack, "gone", &[Scope::Admin]).await;
    stack.client.revoke_token(revoked.id).await.unwrap();
    let callers = [
        ("no token", reqwest::Client::new()),
        ("a wrong token", bearer_http(Some("cdn_wrong"))),
        ("a revoked token", bearer_http(Some(&revoked.token))),
    ];
    for (who, http) in &callers {
        for (method, path, body) in writes(kept.id) {
            let (status, challenge, code) =
                attempt(http, method.clone(), &stack.url(&path), body).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {who}"
            );
            assert!(
                challenge
                    .as_deref()
                    .is_some_and(|value| value.starts_with("Bearer")),
                "{method} {path} with {who}: {challenge:?}"
            );
            assert_eq!(code, "unauthorized", "{method} {path} with {who}");
        }
    }
    // Not a bearer at all.
    let basic = stack
        .http
        .post(stack.url("/content"))
        .header("authorization", "Basic YWRtaW46YWRtaW4=")
        .body("planted")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(snapshot(&stack).await, before);
}

#[tokio::test]
async fn a_token_does_only_what_its_scopes_allow() {
    let stack = Stack::start().await;
    let kept = stack.upload("kept.txt", "the original bytes").await;
    let reader = create_token(&stack, "reader", &[Scope::Read]).await;
    let before = snapshot(&stack).await;
    let http = bearer_http(Some(&reader.token));
    for (method, path, body) in writes(kept.id) {
        let (status, _, code) = attempt(&http, method.clone(), &stack.url(&path), body).await;
        let expected = match (&method, path.ends_with("/share")) {
            // Sharing is reading.
            (&Method::POST, true) => StatusCode::OK,
            _ => StatusCode::FORBIDDEN,
        };
        assert_eq!(status, expected, "{method} {path}: {code}");
        if expected == StatusCode::FORBIDDEN {
            assert_eq!(code, "forbidden");
        }
    }
    assert_eq!(snapshot(&stack).await, before);

    // A writer writes, but manages no tokens.
    let writer = create_token(&stack, "writer", &[Scope::Write]).await;
    let client = cdn_client::Client::new(&stack.dist.url)
        .unwrap()
        .with_token(&writer.token);
    let planted = client
        .upload_stream(testkit::services::body("new"), Some(3), "new.txt", None)
        .await
        .unwrap();
    client.rename(planted.id, "renamed.txt").await.unwrap();
    client.delete(planted.id).await.unwrap();
    let refused = client.tokens().await.unwrap_err();
    assert_eq!(refused.status(), Some(StatusCode::FORBIDDEN));
}

#[tokio::test]
async fn admins_manage_tokens_and_a_revoked_token_stops_at_once() {
    let stack = Stack::start().await;
    let response = stack
        .http
        .post(stack.url("/tokens"))
        .json(&json!({"name": "ci", "scopes": ["write", "read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: CreatedToken = response.json().await.unwrap();
    assert_eq!(created.name, "ci");
    assert_eq!(created.scopes, [Scope::Read, Scope::Write]);
    assert!(created.token.starts_with("cdn_"), "{}", created.token);
    assert_eq!(created.token.len(), 4 + 43);

    let ci = cdn_client::Client::new(&stack.dist.url)
        .unwrap()
        .with_token(&created.token);
    let upload = || ci.upload_stream(testkit::services::body("x"), Some(1), "x.txt", None);
    upload().await.unwrap();

    // The list shows no secret, and records the use.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list: TokenList = testkit::fetch::json(stack.http.get(stack.url("/tokens"))).await;
        let listed = list
            .tokens
            .iter()
            .find(|token| token.id == created.id)
            .unwrap();
        assert!(listed.revoked_at.is_none());
        if listed.last_used_at.is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "last_used_at never set: {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let raw = stack.http.get(stack.url("/tokens")).send().await.unwrap();
    assert!(!raw.text().await.unwrap().contains(&created.token));

    let revoked = stack
        .http
        .delete(stack.url(&format!("/tokens/{}", created.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    // At once: no cache stands between a revocation and the next request.
    let refused = upload().await.unwrap_err();
    assert_eq!(refused.status(), Some(StatusCode::UNAUTHORIZED));
    let listed = stack.client.tokens().await.unwrap();
    let entry = listed.iter().find(|token| token.id == created.id).unwrap();
    assert!(entry.revoked_at.is_some());

    let unknown = stack
        .http
        .delete(stack.url(&format!("/tokens/{}", uuid::Uuid::now_v7())))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    for bad in [
        json!({"name": "", "scopes": ["read"]}),
        json!({"name": "x", "scopes": []}),
        json!({"name": "x", "scopes": ["root"]}),
    ] {
        let response = stack
            .http
            .post(stack.url("/tokens"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let anonymous = reqwest::Client::new()
        .get(stack.url("/tokens"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

/// The distributor's log once it holds every line of its first `starts`
/// starts: lines are written by a thread of their own, in order, so the
/// start-up lines are all there once the last start's final one is.
async fn log_after_starts(dist: &Service, starts: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = dist.log();
        if log.matches("distributor listening").count() >= starts {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "{starts} starts not logged:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// With no ADMIN_TOKEN, the first start makes one, writes it to
/// ADMIN_TOKEN_FILE and logs it once; the next start reuses it.
#[tokio::test]
async fn the_first_start_makes_an_admin_token_once() {
    let secrets = tempfile::tempdir().unwrap();
    let file = secrets.path().join("shared").join("admin-token");
    let mut stack = Stack::start_with(StackConfig {
        set_admin_token: false,
        children: Children::DIST,
        dist_env: vec![("ADMIN_TOKEN_FILE", file.display().to_string())],
        ..StackConfig::default()
    })
    .await;
    let token = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    assert!(token.starts_with("cdn_"), "{token}");
    let log = log_after_starts(&stack.dist, 1).await;
    assert_eq!(log.matches(&token).count(), 1, "{log}");
    let admin = cdn_client::Client::new(&stack.dist.url)
        .unwrap()
        .with_token(&token);
    let tokens = admin.tokens().await.unwrap();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0].scopes, [Scope::Admin]);

    stack.dist.restart().await;
    let log = log_after_starts(&stack.dist, 2).await;
    assert_eq!(log.matches(&token).count(), 1, "{log}");
    assert_eq!(log.matches("generated an admin token").count(), 1, "{log}");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), token);
    assert_eq!(admin.tokens().await.unwrap().len(), 1);
    // Writes are protected from the first start.
    let anonymous = reqwest::Client::new()
        .post(stack.url("/content"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

/// `cdn token …` against the real stack, and what `cdn` says when refused.
#[tokio::test]
async fn the_cdn_command_manages_tokens() {
    let stack = Stack::start().await;
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("a.txt"), "hello").unwrap();
    let cdn = |token: &str, args: &[&str]| {
        let (url, dir, token) = (
            stack.dist.url.clone(),
            work.path().to_owned(),
            token.to_owned(),
        );
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let output = std::process::Command::new(testkit::services::cdn_binary())
                .args(args)
                .env("CDN_URL", url)
                .env("CDN_TOKEN", token)
                // No token file of the person running the tests.
                .env("CDN_TOKEN_FILE", "/nonexistent/token")
                .current_dir(dir)
                .output()
                .unwrap();
            (
                output.status.success(),
                String::from_utf8_lossy(&output.stdout).into_owned(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        })
    };
    let admin = stack.admin_token();
    let (ok, stdout, stderr) = cdn(
        admin,
        &[
            "token", "create", "--name", "laptop", "--scope", "write", "--scope", "read",
        ],
    )
    .await
    .unwrap();
    assert!(ok, "{stderr}");
    let secret = stdout.trim().to_owned();
    assert!(secret.starts_with("cdn_"), "{stdout}");

    let (ok, stdout, stderr) = cdn(admin, &["--json", "token", "ls"]).await.unwrap();
    assert!(ok, "{stderr}");
    let listed: Vec<cdn_common::wire::TokenInfo> = serde_json::from_str(&stdout).unwrap();
    let laptop = listed.iter().find(|token| token.name == "laptop").unwrap();
    assert_eq!(laptop.scopes, [Scope::Read, Scope::Write]);
    let (ok, table, _) = cdn(admin, &["token", "ls"]).await.unwrap();
    assert!(
        ok && table.contains("laptop") && table.contains("read,write"),
        "{table}"
    );

    let (ok, _, stderr) = cdn(&secret, &["upload", "a.txt"]).await.unwrap();
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = cdn(admin, &["token", "revoke", &laptop.id.to_string()])
        .await
        .unwrap();
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = cdn(&secret, &["upload", "a.txt"]).await.unwrap();
    assert!(!ok);
    assert!(stderr.contains("401"), "{stderr}");

    let (ok, _, stderr) = cdn("", &["upload", "a.txt"]).await.unwrap();
    assert!(!ok);
    assert!(stderr.contains("401: sign in with CDN_TOKEN"), "{stderr}");
    let (ok, _, stderr) = cdn(&secret, &["token", "ls"]).await.unwrap();
    assert!(!ok && stderr.contains("401"), "{stderr}");
}

/// Each route that takes a JSON body or manages tokens: without a token it
/// is refused (401) and changes nothing; with the right token a body past
/// MAX_JSON_BYTES is refused (413) before it is read whole.
#[tokio::test]
async fn json_and_token_routes_check_the_caller_and_cap_the_body() {
    let stack = Stack::start().await;
    let content = stack.upload("kept.txt", b"kept".to_vec()).await;
    let created: CreatedToken = stack
        .client
        .create_token("victim", &[Scope::Read])
        .await
        .unwrap();
    let anonymous = reqwest::Client::new();
    let oversized = vec![b' '; 2 << 20];
    let routes = [
        (Method::PATCH, format!("/content/{}", content.id)),
        (Method::POST, format!("/content/{}/share", content.id)),
        (Method::POST, "/tokens".to_owned()),
        (Method::GET, "/tokens".to_owned()),
        (Method::DELETE, format!("/tokens/{}", created.id)),
    ];
    for (method, path) in &routes {
        let refused = anonymous
            .request(method.clone(), stack.url(path))
            .header("content-type", "application/json")
            .body(r#"{"filename": "stolen.txt", "name": "stolen", "scopes": ["admin"]}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(
            refused.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        if *method != Method::POST && *method != Method::PATCH {
            continue;
        }
        // Raw, reading while sending: the answer comes (and the connection
        // closes) before the body is read whole, which an HTTP client may
        // take for a failed request.
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: cdn\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            stack.admin_token(),
            oversized.len()
        );
        let request = [head.as_bytes(), &oversized].concat();
        let too_big = raw::send(stack.dist.addr(), &request, Duration::from_secs(10)).await;
        assert_eq!(too_big.status, Some(413), "{method} {path}: {too_big:?}");
    }
    let info = stack.client.info(content.id).await.unwrap();
    assert_eq!(info.filename, "kept.txt");
    let tokens = stack.client.tokens().await.unwrap();
    assert!(tokens.iter().all(|token| token.name != "stolen"));
    let victim = tokens.iter().find(|t| t.id == created.id).unwrap();
    assert!(
        victim.revoked_at.is_none(),
        "an anonymous DELETE revoked a token"
    );
}
