//! Private content: read with a `read` token or a presigned link, refused
//! otherwise; and who may list what.

use std::time::Duration;

use cdn_common::wire::{Content, ContentList, Scope, Visibility};
use reqwest::StatusCode;

use testkit::services::{Stack, StackConfig, bearer_http};

/// Uploads `bytes` as private content, as the admin.
async fn upload_private(stack: &Stack, name: &str, bytes: &'static str) -> Content {
    let response = stack
        .http
        .post(stack.url(&format!("/content?filename={name}&visibility=private")))
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn status(http: &reqwest::Client, url: &str) -> StatusCode {
    http.get(url).send().await.unwrap().status()
}

#[tokio::test]
async fn private_content_needs_a_read_token() {
    let stack = Stack::start().await;
    let content = upload_private(&stack, "secret.txt", "top secret").await;
    assert_eq!(content.visibility, Visibility::Private);
    let data = stack.url(&format!("/content/{}/data", content.id));
    let info = stack.url(&format!("/content/{}", content.id));

    let anonymous = reqwest::Client::new();
    for url in [&data, &info] {
        let response = anonymous.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{url}");
        assert!(response.headers().contains_key("www-authenticate"));
        // Not even the checksum is given away.
        assert!(!response.headers().contains_key("etag"));
    }
    let head = anonymous.head(&data).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::UNAUTHORIZED);

    let writer = stack
        .client
        .create_token("w", &[Scope::Write])
        .await
        .unwrap();
    assert_eq!(
        status(&bearer_http(Some(&writer.token)), &data).await,
        StatusCode::FORBIDDEN
    );

    let reader = stack
        .client
        .create_token("r", &[Scope::Read])
        .await
        .unwrap();
    let response = bearer_http(Some(&reader.token))
        .get(&data)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "private, no-store");
    assert_eq!(response.text().await.unwrap(), "top secret");
    assert_eq!(
        status(&bearer_http(Some(&reader.token)), &info).await,
        StatusCode::OK
    );

    // Made public, anyone reads it; made private again, no one.
    let public = stack
        .client
        .set_visibility(content.id, Visibility::Public)
        .await
        .unwrap();
    assert_eq!(public.visibility, Visibility::Public);
    assert_eq!(status(&anonymous, &data).await, StatusCode::OK);
    stack
        .client
        .set_visibility(content.id, Visibility::Private)
        .await
        .unwrap();
    assert_eq!(status(&anonymous, &data).await, StatusCode::UNAUTHORIZED);

    // A replacement keeps the visibility unless it says otherwise.
    let replaced = stack
        .client
        .replace_stream(
            content.id,
            testkit::services::body("v2"),
            Some(2),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(replaced.visibility, Visibility::Private);
}

#[tokio::test]
async fn a_presigned_link_works_until_it_expires_and_only_as_signed() {
    let stack = Stack::start().await;
    let content = upload_private(&stack, "shared.txt", "shared bytes").await;
    let anonymous = reqwest::Client::new();

    let link = stack.client.share(content.id, "1h").await.unwrap();
    let left = link.expires_at - chrono::Utc::now();
    assert!(
        left > chrono::TimeDelta::minutes(59) && left <= chrono::TimeDelta::hours(1),
        "{left}"
    );
    let response = anonymous.get(&link.url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "shared bytes");
    assert_eq!(
        anonymous.head(&link.url).send().await.unwrap().status(),
        StatusCode::OK
    );

    // Any change to the link breaks it.
    let url = reqwest::Url::parse(&link.url).unwrap();
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    let (expires, signature) = (&query["expires"], &query["signature"]);
    let later: i64 = expires.parse::<i64>().unwrap() + 3600;
    let mut flipped = signature.clone();
    flipped.replace_range(0..1, if signature.starts_with('0') { "1" } else { "0" });
    let other = upload_private(&stack, "other.txt", "other bytes").await;
    let base = stack.url("/content");
    for altered in [
        format!(
            "{base}/{}/data?expires={later}&signature={signature}",
            content.id
        ),
        format!(
            "{base}/{}/data?expires={expires}&signature={flipped}",
            content.id
        ),
        format!(
            "{base}/{}/data?expires={expires}&signature={signature}",
            other.id
        ),
        format!("{base}/{}/data?expires={expires}&signature=zz", content.id),
        format!("{base}/{}/data?expires={expires}", content.id),
        format!(
            "{base}/{}/data?expires=soon&signature={signature}",
            content.id
        ),
    ] {
        let response = anonymous.get(&altered).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{altered}");
        let json: serde_json::Value = response.json().await.unwrap();
        assert_eq!(json["error"]["code"], "forbidden");
    }

    // A short link works, then stops.
    let short = stack.client.share(content.id, "2s").await.unwrap();
    assert_eq!(status(&anonymous, &short.url).await, StatusCode::OK);
    let wait = (short.expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(1100)).await;
    assert_eq!(status(&anonymous, &short.url).await, StatusCode::FORBIDDEN);

    // Links are for read tokens, and have bounds.
    let writer = stack
        .client
        .create_token("w", &[Scope::Write])
        .await
        .unwrap();
    let share = |http: reqwest::Client, body: &'static str| {
        let url = stack.url(&format!("/content/{}/share", content.id));
        async move { http.post(url).body(body).send().await.unwrap().status() }
    };
    assert_eq!(
        share(reqwest::Client::new(), "").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        share(bearer_http(Some(&writer.token)), "").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(share(stack.http.clone(), "").await, StatusCode::OK);
    for bad in [
        r#"{"expires_in":"30d"}"#,
        r#"{"expires_in":"never"}"#,
        r#"{"expires_in":"0s"}"#,
        "{",
    ] {
        assert_eq!(
            share(stack.http.clone(), bad).await,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    let missing = stack
        .client
        .share(uuid::Uuid::now_v7(), "1h")
        .await
        .unwrap_err();
    assert!(missing.is_not_found());
}

#[tokio::test]
async fn listing_needs_read_unless_public_listing_is_on() {
    let closed = Stack::start().await;
    closed.upload("public.txt", "p").await;
    let anonymous = reqwest::Client::new();
    assert_eq!(
        status(&anonymous, &closed.url("/content")).await,
        StatusCode::UNAUTHORIZED
    );
    let writer = closed
        .client
        .create_token("w", &[Scope::Write])
        .await
        .unwrap();
    assert_eq!(
        status(&bearer_http(Some(&writer.token)), &closed.url("/content")).await,
        StatusCode::FORBIDDEN
    );
    // Public content itself needs nothing.
    let item = &closed.client.list_all().await.unwrap()[0];
    assert_eq!(status(&anonymous, &item.uri).await, StatusCode::OK);

    let open = Stack::start_with(StackConfig {
        dist_env: vec![("PUBLIC_LISTING", "true".into())],
        ..StackConfig::default()
    })
    .await;
    let public = open.upload("public.txt", "p").await;
    let private = upload_private(&open, "private.txt", "q").await;
    let list: ContentList = testkit::fetch::json(anonymous.get(open.url("/content"))).await;
    let ids: Vec<_> = list.items.iter().map(|item| item.id).collect();
    assert_eq!(ids, [public.id]);
    let all = open.client.list_all().await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().any(|item| item.id == private.id));
}

/// `cdn upload --private` and `cdn share`, as a person would use them.
#[tokio::test]
async fn the_cdn_command_uploads_private_content_and_shares_it() {
    let stack = Stack::start().await;
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("plan.txt"), "the plan").unwrap();
    let cdn = |args: &[&str]| {
        let (url, dir, token) = (
            stack.dist.url.clone(),
            work.path().to_owned(),
            stack.admin_token().to_owned(),
        );
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let output = std::process::Command::new(testkit::services::cdn_binary())
                .args(args)
                .env("CDN_URL", url)
                .env("CDN_TOKEN", token)
                .current_dir(dir)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).unwrap()
        })
    };
    let uploaded: Content = serde_json::from_str(
        &cdn(&["--json", "upload", "--private", "plan.txt"])
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(uploaded.visibility, Visibility::Private);
    let anonymous = reqwest::Client::new();
    assert_eq!(
        status(&anonymous, &uploaded.uri).await,
        StatusCode::UNAUTHORIZED
    );

    let url = cdn(&["share", &uploaded.id.to_string(), "--expires", "10m"])
        .await
        .unwrap();
    let response = anonymous.get(url.trim()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "the plan");
}

/// A write-only token may replace and rename private content, but not make
/// it public: that would let it read what it cannot.
#[tokio::test]
async fn a_write_only_token_cannot_make_private_content_public() {
    let stack = Stack::start().await;
    let content = upload_private(&stack, "secret.txt", "top secret").await;
    let writer = stack
        .client
        .create_token("w", &[Scope::Write])
        .await
        .unwrap();
    let as_writer = bearer_http(Some(&writer.token));
    let info = stack.url(&format!("/content/{}", content.id));

    let patched = as_writer
        .patch(&info)
        .json(&serde_json::json!({"visibility": "public"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::FORBIDDEN);
    for (query, header) in [("?visibility=public", None), ("", Some("public"))] {
        let mut request = as_writer.put(format!("{info}{query}")).body("replaced");
        if let Some(value) = header {
            request = request.header("x-visibility", value);
        }
        assert_eq!(
            request.send().await.unwrap().status(),
            StatusCode::FORBIDDEN
        );
    }
    let renamed = as_writer
        .patch(&info)
        .json(&serde_json::json!({"filename": "renamed.txt"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), StatusCode::OK);

    let now = stack.client.info(content.id).await.unwrap();
    assert_eq!(now.visibility, Visibility::Private);
    assert_eq!(now.version, 1, "a refused replacement changed the bytes");
    let anonymous = reqwest::Client::new();
    let data = stack.url(&format!("/content/{}/data", content.id));
    assert_eq!(status(&anonymous, &data).await, StatusCode::UNAUTHORIZED);
}

/// A type a browser could read as HTML behind a harmless one is refused.
#[tokio::test]
async fn a_content_type_that_hides_another_is_refused() {
    let stack = Stack::start().await;
    let disguised = r#"text/plain;a="\";b=",text/html;c=""#;
    let response = stack
        .http
        .post(stack.url("/content?filename=page"))
        .header("content-type", disguised)
        .body("<script>alert(1)</script>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let listed: ContentList = stack.client.list(None, None).await.unwrap();
    assert!(listed.items.is_empty(), "{listed:?}");
}
