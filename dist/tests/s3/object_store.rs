//! The `object_store` crate's S3 client, the one Rust data tools use,
//! against the S3 API: puts, whole and ranged gets, heads, listings with
//! and without a delimiter, a multipart upload read back across its
//! parts, copies, deletes, and a wrong secret refused.

use std::time::Duration;

use cdn_common::wire::Scope;
use futures::TryStreamExt;
use md5::{Digest, Md5};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse,
    HttpResponseBody, HttpService,
};
use object_store::path::Path;
use object_store::{
    ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
};
use testkit::services::Stack;

use crate::cli::{Aws, create_key};

/// The region the test distributor names itself (its default).
const REGION: &str = "us-east-1";

/// S3's smallest part but the last, so the parts here are the smallest
/// a real upload may have.
const PART: usize = 5 << 20;

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed) ^ (i >> 13) as u8)
        .collect()
}

/// `object_store`'s HTTP transport, on the workspace's own reqwest. The
/// crate's built-in one needs reqwest with TLS, which would build a TLS
/// stack into every service these tests start and change what they
/// measure; the S3 client itself (signing, XML, multipart) is the crate's.
#[derive(Debug)]
struct PlainHttp(reqwest::Client);

#[async_trait::async_trait]
impl HttpService for PlainHttp {
    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (head, body) = request.into_parts();
        let body = http_body_util::BodyExt::collect(body).await?.to_bytes();
        let answer = self
            .0
            .request(head.method, head.uri.to_string())
            .headers(head.headers)
            .body(body)
            .send()
            .await
            .map_err(|err| HttpError::new(HttpErrorKind::Request, err))?;
        let (status, headers) = (answer.status(), answer.headers().clone());
        // The objects here are small enough to hold whole.
        let bytes = answer
            .bytes()
            .await
            .map_err(|err| HttpError::new(HttpErrorKind::Decode, err))?;
        let mut response = HttpResponse::new(HttpResponseBody::from(bytes));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

#[derive(Debug)]
struct PlainConnector;

impl HttpConnector for PlainConnector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|err| object_store::Error::Generic {
                store: "S3",
                source: Box::new(err),
            })?;
        Ok(HttpClient::new(PlainHttp(client)))
    }
}

/// A client of one bucket on the stack's S3 API, path-style over plain
/// HTTP.
fn store(stack: &Stack, bucket: &str, key_id: &str, secret: &str) -> AmazonS3 {
    let endpoint = stack
        .dist
        .s3_url
        .clone()
        .expect("an in-process distributor");
    AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_virtual_hosted_style_request(false)
        .with_region(REGION)
        .with_bucket_name(bucket)
        .with_access_key_id(key_id)
        .with_secret_access_key(secret)
        // A server error must fail the test, not be retried away.
        .with_retry(RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        })
        .with_allow_http(true)
        .with_http_connector(PlainConnector)
        .build()
        .unwrap()
}

fn unquoted(etag: &Option<String>) -> &str {
    etag.as_deref().expect("an ETag").trim_matches('"')
}

/// Insists that the server refused the signature itself: a 403 with
/// S3's code for it. `object_store` gives most such refusals a kind of
/// their own, but a listing's only a generic error.
fn assert_bad_signature(error: &object_store::Error, kind_kept: bool) {
    let text = error.to_string();
    assert!(
        text.contains("403") && text.contains("SignatureDoesNotMatch"),
        "{text}"
    );
    if kind_kept {
        assert!(
            matches!(error, object_store::Error::PermissionDenied { .. }),
            "{error:?}"
        );
    }
}

async fn names_under(store: &AmazonS3, prefix: Option<&Path>) -> Vec<String> {
    let mut names: Vec<String> = store
        .list(prefix)
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap();
    names.sort();
    names
}

#[tokio::test]
async fn object_store_puts_gets_lists_copies_and_deletes() {
    let stack = Stack::start().await;
    let key = create_key(&stack, "rust", &[Scope::Read, Scope::Write]).await;
    // `object_store` has no call that makes a bucket.
    Aws::new(&stack, &key.access_key_id, &key.secret_access_key)
        .ok(&["s3", "mb", "s3://rusty"])
        .await;
    let store = store(&stack, "rusty", &key.access_key_id, &key.secret_access_key);

    // A put, read back whole: the same bytes, and its MD5 as ETag.
    let small = pattern(3000, 1);
    let small_path = Path::from("dir/small.bin");
    let put = store
        .put(&small_path, PutPayload::from(small.clone()))
        .await
        .unwrap();
    let md5 = hex::encode(Md5::digest(&small));
    assert_eq!(unquoted(&put.e_tag), md5);
    let got = store.get(&small_path).await.unwrap();
    assert_eq!(got.meta.size, 3000);
    assert_eq!(got.meta.e_tag, put.e_tag);
    assert!(got.bytes().await.unwrap() == small);

    // Ranges: one inside, several at once, and the last bytes.
    let inside = store.get_range(&small_path, 100..1100).await.unwrap();
    assert!(inside == small[100..1100]);
    let several = store
        .get_ranges(&small_path, &[0..1, 2990..3000, 1500..1501])
        .await
        .unwrap();
    assert!(several[0] == small[0..1]);
    assert!(several[1] == small[2990..3000]);
    assert!(several[2] == small[1500..1501]);
    let tail = store
        .get_opts(
            &small_path,
            GetOptions {
                range: Some(GetRange::Suffix(10)),
                ..GetOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(tail.range, 2990..3000);
    assert!(tail.bytes().await.unwrap() == small[2990..]);

    let head = store.head(&small_path).await.unwrap();
    assert_eq!(head.size, 3000);
    assert_eq!(unquoted(&head.e_tag), md5);
    assert_eq!(head.location, small_path);

    // Listings: one level with a delimiter, then everything under it.
    for name in [
        "dir/sub/a.bin",
        "dir/sub/deeper/b.bin",
        "dir/other/c.bin",
        "top.bin",
    ] {
        store
            .put(&Path::from(name), PutPayload::from_static(b"x"))
            .await
            .unwrap();
    }
    let level = store
        .list_with_delimiter(Some(&Path::from("dir")))
        .await
        .unwrap();
    let mut prefixes: Vec<String> = level.common_prefixes.iter().map(Path::to_string).collect();
    prefixes.sort();
    assert_eq!(prefixes, ["dir/other", "dir/sub"]);
    let objects: Vec<(String, u64)> = level
        .objects
        .iter()
        .map(|meta| (meta.location.to_string(), meta.size))
        .collect();
    assert_eq!(objects, [("dir/small.bin".to_owned(), 3000)]);
    let root = store.list_with_delimiter(None).await.unwrap();
    assert_eq!(root.common_prefixes, [Path::from("dir")]);
    assert_eq!(root.objects.len(), 1);
    assert_eq!(root.objects[0].location, Path::from("top.bin"));
    assert_eq!(
        names_under(&store, Some(&Path::from("dir/sub"))).await,
        ["dir/sub/a.bin", "dir/sub/deeper/b.bin"]
    );
    assert_eq!(
        names_under(&store, Some(&Path::from("dir"))).await,
        [
            "dir/other/c.bin",
            "dir/small.bin",
            "dir/sub/a.bin",
            "dir/sub/deeper/b.bin"
        ]
    );

    // A multipart upload of three parts, the last one short.
    let big = pattern(2 * PART + 123_457, 2);
    let big_path = Path::from("dir/big.bin");
    let mut upload = store.put_multipart(&big_path).await.unwrap();
    for part in big.chunks(PART) {
        upload
            .put_part(PutPayload::from(part.to_vec()))
            .await
            .unwrap();
    }
    let done = upload.complete().await.unwrap();
    let mut md5s = Md5::new();
    for part in big.chunks(PART) {
        md5s.update(Md5::digest(part));
    }
    let multipart_etag = format!("{}-3", hex::encode(md5s.finalize()));
    assert_eq!(unquoted(&done.e_tag), multipart_etag);
    let head = store.head(&big_path).await.unwrap();
    assert_eq!(head.size, big.len() as u64);
    assert_eq!(unquoted(&head.e_tag), multipart_etag);
    assert!(store.get(&big_path).await.unwrap().bytes().await.unwrap() == big);
    for boundary in [PART, 2 * PART] {
        let range = (boundary - 1000) as u64..(boundary + 1000) as u64;
        let across = store.get_range(&big_path, range).await.unwrap();
        assert!(
            across == big[boundary - 1000..boundary + 1000],
            "at {boundary}"
        );
    }

    // A copy is a second object with the same bytes.
    let copy_path = Path::from("copies/small.bin");
    store.copy(&small_path, &copy_path).await.unwrap();
    assert!(store.get(&copy_path).await.unwrap().bytes().await.unwrap() == small);
    assert_eq!(unquoted(&store.head(&copy_path).await.unwrap().e_tag), md5);

    // A delete: gone for get and head, gone from the listing, the copy kept.
    store.delete(&small_path).await.unwrap();
    let missing = store.get(&small_path).await.unwrap_err();
    assert!(
        matches!(missing, object_store::Error::NotFound { .. }),
        "{missing}"
    );
    let missing = store.head(&small_path).await.unwrap_err();
    assert!(
        matches!(missing, object_store::Error::NotFound { .. }),
        "{missing}"
    );
    assert!(
        !names_under(&store, None)
            .await
            .contains(&small_path.to_string())
    );
    assert!(store.get(&copy_path).await.unwrap().bytes().await.unwrap() == small);
}

#[tokio::test]
async fn object_store_with_a_wrong_secret_is_refused_and_stores_nothing() {
    let stack = Stack::start().await;
    let key = create_key(&stack, "rust", &[Scope::Read, Scope::Write]).await;
    Aws::new(&stack, &key.access_key_id, &key.secret_access_key)
        .ok(&["s3", "mb", "s3://guarded"])
        .await;
    let good = store(
        &stack,
        "guarded",
        &key.access_key_id,
        &key.secret_access_key,
    );
    let wrong_secret = format!("{}x", key.secret_access_key);
    let bad = store(&stack, "guarded", &key.access_key_id, &wrong_secret);
    let path = Path::from("intruder.bin");

    let refused = bad
        .put(&path, PutPayload::from_static(b"should not land"))
        .await
        .unwrap_err();
    assert_bad_signature(&refused, true);
    let refused = bad.put_multipart(&path).await.expect_err("refused");
    assert_bad_signature(&refused, true);
    let missing = good.head(&path).await.unwrap_err();
    assert!(
        matches!(missing, object_store::Error::NotFound { .. }),
        "{missing}"
    );
    assert!(names_under(&good, None).await.is_empty());

    // Nor may it read what the right secret put.
    good.put(&path, PutPayload::from_static(b"mine"))
        .await
        .unwrap();
    let refused = bad.get(&path).await.unwrap_err();
    assert_bad_signature(&refused, true);
    let refused = bad.list_with_delimiter(None).await.unwrap_err();
    assert_bad_signature(&refused, false);
    assert_eq!(
        good.get(&path)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        b"mine"
    );
}
