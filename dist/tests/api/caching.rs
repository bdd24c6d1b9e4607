//! What caches may keep: a versioned `uri` for a year, the unversioned URL
//! briefly and then revalidated, private bytes never in a shared cache;
//! types that say their charset; and a real browser that sees new bytes
//! after a `PUT`.

use std::time::{Duration, Instant};

use cdn_common::wire::Content;
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use testkit::services::{self, Stack, StackConfig};

use crate::browser::dom_in_chromium;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const UNVERSIONED: &str = "public, max-age=60, must-revalidate";

/// The status, headers and body of `method url` with `headers`.
async fn ask(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = http.request(method, url);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

fn cache_control(headers: &HeaderMap) -> &str {
    headers[header::CACHE_CONTROL].to_str().unwrap()
}

fn unversioned(stack: &Stack, content: &Content) -> String {
    stack.url(&format!("/content/{}/data", content.id))
}

#[tokio::test]
async fn a_versioned_uri_is_kept_a_year_and_the_plain_url_is_revalidated() {
    let stack = Stack::start().await;
    let anonymous = reqwest::Client::new();
    let first = stack.upload("logo.png", b"\x89PNG first").await;
    assert!(first.uri.ends_with("/data?v=1"), "{}", first.uri);
    let plain = unversioned(&stack, &first);
    let old_version = format!("{plain}?v=7");
    let etag = format!("\"{}\"", first.sha256);

    for (url, expected) in [
        (&first.uri, IMMUTABLE),
        (&plain, UNVERSIONED),
        // A version that is not the current one: served, never kept unasked.
        (&old_version, "public, no-cache"),
    ] {
        let (status, got, body) = ask(&anonymous, Method::GET, url, &[]).await;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"\x89PNG first"[..]));
        assert_eq!(cache_control(&got), expected, "{url}");
        // HEAD and 304 say the same.
        let (status, head, _) = ask(&anonymous, Method::HEAD, url, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(cache_control(&head), expected, "HEAD {url}");
        let (status, unchanged, body) = ask(
            &anonymous,
            Method::GET,
            url,
            &[(header::IF_NONE_MATCH, &etag)],
        )
        .await;
        assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0), "{url}");
        assert_eq!(cache_control(&unchanged), expected, "304 {url}");
        assert_eq!(unchanged[header::ETAG], etag.as_str());
    }

    // After a PUT, the old uri never serves the new bytes as immutable.
    let second = stack
        .client
        .replace_stream(
            first.id,
            services::body(b"\x89PNG second"),
            Some(11),
            None,
            None,
        )
        .await
        .unwrap();
    assert!(second.uri.ends_with("/data?v=2"), "{}", second.uri);
    let (_, headers, body) = ask(&anonymous, Method::GET, &first.uri, &[]).await;
    assert_eq!(&body[..], b"\x89PNG second");
    assert_eq!(cache_control(&headers), "public, no-cache");
    let (_, headers, body) = ask(&anonymous, Method::GET, &second.uri, &[]).await;
    assert_eq!(&body[..], b"\x89PNG second");
    assert_eq!(cache_control(&headers), IMMUTABLE);
    // A cache revalidating the plain URL with the old tag gets the new bytes.
    let (status, headers, body) = ask(
        &anonymous,
        Method::GET,
        &plain,
        &[(header::IF_NONE_MATCH, &etag)],
    )
    .await;
    assert_eq!(
        (status, &body[..]),
        (StatusCode::OK, &b"\x89PNG second"[..])
    );
    assert_eq!(cache_control(&headers), UNVERSIONED);
}

#[tokio::test]
async fn the_plain_urls_max_age_is_a_setting() {
    let stack = Stack::start_with(StackConfig {
        dist_env: vec![("CACHE_MAX_AGE", "5m".to_owned())],
        ..StackConfig::default()
    })
    .await;
    let content = stack.upload("a.bin", b"bytes").await;
    let (_, headers, _) = ask(
        &reqwest::Client::new(),
        Method::GET,
        &unversioned(&stack, &content),
        &[],
    )
    .await;
    assert_eq!(
        cache_control(&headers),
        "public, max-age=300, must-revalidate"
    );
}

/// The `max-age` of a `private, max-age=N, …` answer.
fn private_max_age(cache_control: &str) -> u64 {
    let rest = cache_control
        .strip_prefix("private, max-age=")
        .unwrap_or_else(|| panic!("not private with a max-age: {cache_control}"));
    rest.split(',').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn private_bytes_are_kept_by_no_shared_cache() {
    let stack = Stack::start().await;
    let response = stack
        .http
        .post(stack.url("/content?filename=secret.txt&visibility=private"))
        .body("top secret")
        .send()
        .await
        .unwrap();
    let content: Content = response.json().await.unwrap();
    let plain = unversioned(&stack, &content);
    let etag = format!("\"{}\"", content.sha256);

    // Read with a token: no cache keeps it, whichever URL.
    for url in [&content.uri, &plain] {
        let (status, headers, _) = ask(&stack.http, Method::GET, url, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(cache_control(&headers), "private, no-store", "{url}");
        let (status, headers, _) = ask(
            &stack.http,
            Method::GET,
            url,
            &[(header::IF_NONE_MATCH, &etag)],
        )
        .await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert_eq!(cache_control(&headers), "private, no-store", "304 {url}");
    }

    // Read by a link: the browser alone keeps it, no longer than the link works.
    let anonymous = reqwest::Client::new();
    let link = stack.client.share(content.id, "30s").await.unwrap();
    let (status, headers, body) = ask(&anonymous, Method::GET, &link.url, &[]).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"top secret"[..]));
    let control = cache_control(&headers);
    assert!(control.ends_with(", must-revalidate"), "{control}");
    assert!((25..=30).contains(&private_max_age(control)), "{control}");
    let pinned = format!("{}&v={}", link.url, content.version);
    let (_, headers, _) = ask(&anonymous, Method::GET, &pinned, &[]).await;
    let control = cache_control(&headers);
    assert!(control.ends_with(", immutable"), "{control}");
    assert!((25..=30).contains(&private_max_age(control)), "{control}");
    let (status, headers, _) = ask(
        &anonymous,
        Method::GET,
        &link.url,
        &[(header::IF_NONE_MATCH, &etag)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(private_max_age(cache_control(&headers)) <= 30);
    // A link that lives longer than CACHE_MAX_AGE is kept no longer than that.
    let long = stack.client.share(content.id, "1h").await.unwrap();
    let (_, headers, _) = ask(&anonymous, Method::GET, &long.url, &[]).await;
    assert_eq!(
        cache_control(&headers),
        "private, max-age=60, must-revalidate"
    );
}

#[tokio::test]
async fn guessed_text_types_say_utf8_and_declared_types_stay_as_declared() {
    let stack = Stack::start().await;
    let anonymous = reqwest::Client::new();
    for (name, body, expected) in [
        ("grüße.txt", "Grüße", "text/plain; charset=utf-8"),
        ("page.html", "<p>Grüße</p>", "text/html; charset=utf-8"),
        (
            "data.json",
            "{\"a\": \"Grüße\"}",
            "application/json; charset=utf-8",
        ),
        (
            "drawing.svg",
            "<svg xmlns='http://www.w3.org/2000/svg'/>",
            "image/svg+xml; charset=utf-8",
        ),
        ("photo.png", "\u{89}PNG", "image/png"),
    ] {
        let content = stack.upload(name, body).await;
        assert_eq!(content.content_type, expected, "{name}");
        for method in [Method::GET, Method::HEAD] {
            let (_, headers, _) = ask(&anonymous, method.clone(), &content.uri, &[]).await;
            assert_eq!(headers[header::CONTENT_TYPE], expected, "{method} {name}");
        }
    }
    let script = stack.upload("app.js", "alert('Grüße')").await;
    assert!(
        script.content_type.ends_with("javascript; charset=utf-8"),
        "{}",
        script.content_type
    );

    for declared in ["text/plain", "text/plain; charset=iso-8859-1"] {
        let content = stack
            .client
            .upload_stream(
                services::body("Gr\u{fc}\u{df}e"),
                None,
                "legacy.txt",
                Some(declared),
            )
            .await
            .unwrap();
        assert_eq!(content.content_type, declared);
        let (_, headers, _) = ask(&anonymous, Method::GET, &content.uri, &[]).await;
        assert_eq!(headers[header::CONTENT_TYPE], declared);
    }
}

/// A BMP image of `width` × `height` pixels of one colour: a format simple
/// enough to write here, which every browser draws.
fn bmp(width: u32, height: u32) -> Vec<u8> {
    let row = (width * 3).div_ceil(4) * 4;
    let pixels = row * height;
    let mut image = Vec::new();
    image.extend_from_slice(b"BM");
    image.extend_from_slice(&(54 + pixels).to_le_bytes());
    image.extend_from_slice(&0u32.to_le_bytes());
    image.extend_from_slice(&54u32.to_le_bytes());
    image.extend_from_slice(&40u32.to_le_bytes());
    image.extend_from_slice(&width.to_le_bytes());
    image.extend_from_slice(&height.to_le_bytes());
    image.extend_from_slice(&1u16.to_le_bytes());
    image.extend_from_slice(&24u16.to_le_bytes());
    image.extend_from_slice(&[0; 4]);
    image.extend_from_slice(&pixels.to_le_bytes());
    image.extend_from_slice(&[0; 16]);
    image.resize(image.len() + pixels as usize, 0x80);
    image
}

/// A web site of the test's own (another port of the same host: the same
/// site for the browser's cache) whose page, never cached, shows `image`
/// twice: by its plain URL, and by the `uri` its metadata names at the time
/// of the request, as a site that embeds versioned URLs would.
async fn serve_page(stack: &Stack, image: &Content) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let info = stack.url(&format!("/content/{}", image.id));
    let plain = unversioned(stack, image);
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let (info, plain) = (info.clone(), plain.clone());
            async move {
                let now: Content = reqwest::get(&info).await.unwrap().json().await.unwrap();
                // Each image notes the size it was drawn at when it loads,
                // which is before the page's load event.
                let note = "this.dataset.size = this.naturalWidth + 'x' + this.naturalHeight";
                let page = format!(
                    "<!doctype html><html><body>\
                     <img id=\"plain\" src=\"{plain}\" onload=\"{note}\">\
                     <img id=\"pinned\" src=\"{}\" onload=\"{note}\">\
                     </body></html>",
                    now.uri
                );
                (
                    [
                        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                        (header::CACHE_CONTROL, "no-store"),
                    ],
                    page,
                )
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// The size image `id` was drawn at in the browser's DOM, e.g. `3x2`.
fn drawn<'a>(dom: &'a str, id: &str) -> &'a str {
    let tag_start = dom
        .find(&format!("<img id=\"{id}\""))
        .unwrap_or_else(|| panic!("no image {id}: {dom}"));
    let tag = &dom[tag_start..];
    let tag = &tag[..tag.find('>').unwrap()];
    let size = tag
        .split_once("data-size=\"")
        .unwrap_or_else(|| panic!("image {id} was not drawn: {dom}"))
        .1;
    &size[..size.find('"').unwrap()]
}

/// Replaces `image`'s bytes with a 5 × 7 BMP.
async fn put_new_image(stack: &Stack, image: &Content) {
    let new_image = bmp(5, 7);
    stack
        .client
        .replace_stream(
            image.id,
            services::body(&new_image),
            Some(new_image.len() as u64),
            None,
            None,
        )
        .await
        .unwrap();
}

/// What the issue saw: a browser kept showing an image after a `PUT`. The
/// page shows the image by its plain URL and by its versioned `uri`; once
/// `CACHE_MAX_AGE` has passed, a reload in the same browser profile shows
/// the new image by both.
#[tokio::test]
async fn a_browser_sees_the_new_image_after_a_put() {
    const MAX_AGE: Duration = Duration::from_secs(2);
    let stack = Stack::start_with(StackConfig {
        dist_env: vec![("CACHE_MAX_AGE", "2s".to_owned())],
        ..StackConfig::default()
    })
    .await;
    let image = stack.upload("photo.bmp", bmp(3, 2)).await;
    assert_eq!(image.content_type, "image/bmp");
    let page = serve_page(&stack, &image).await;
    let profile = tempfile::tempdir().unwrap();

    let dom = dom_in_chromium(&page, profile.path()).await;
    assert_eq!(
        (drawn(&dom, "plain"), drawn(&dom, "pinned")),
        ("3x2", "3x2")
    );
    let cached_by = Instant::now();
    put_new_image(&stack, &image).await;
    // A second of margin for the whole seconds of `Date`.
    tokio::time::sleep_until((cached_by + MAX_AGE + Duration::from_secs(1)).into()).await;
    let dom = dom_in_chromium(&page, profile.path()).await;
    assert_eq!(
        (drawn(&dom, "plain"), drawn(&dom, "pinned")),
        ("5x7", "5x7")
    );
}

/// The other half: the browser does keep the image, so the test above
/// means something. Within `CACHE_MAX_AGE` (60 s here) the plain URL still
/// shows the old image from the cache, while the versioned `uri` of the
/// new version shows the new one at once.
#[tokio::test]
async fn within_its_max_age_a_browser_keeps_the_plain_url_and_a_new_uri_shows_at_once() {
    let stack = Stack::start().await;
    let image = stack.upload("photo.bmp", bmp(3, 2)).await;
    let page = serve_page(&stack, &image).await;
    let profile = tempfile::tempdir().unwrap();

    let dom = dom_in_chromium(&page, profile.path()).await;
    assert_eq!(
        (drawn(&dom, "plain"), drawn(&dom, "pinned")),
        ("3x2", "3x2")
    );
    put_new_image(&stack, &image).await;
    let dom = dom_in_chromium(&page, profile.path()).await;
    assert_eq!(
        (drawn(&dom, "plain"), drawn(&dom, "pinned")),
        ("3x2", "5x7")
    );
}
