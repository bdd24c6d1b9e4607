//! `GET /content` filtered by name, type and size, sorted three ways, paged
//! by cursor, with a count of every match.

use cdn_common::wire::ContentList;
use reqwest::StatusCode;
use testkit::fetch;
use testkit::services::Stack;

async fn list(stack: &Stack, query: &str) -> ContentList {
    let response = stack
        .http
        .get(stack.url(&format!("/content?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    response.json().await.unwrap()
}

fn names(list: &ContentList) -> Vec<&str> {
    list.items
        .iter()
        .map(|item| item.filename.as_str())
        .collect()
}

/// Every page of a listing, following its cursors.
async fn all_pages(stack: &Stack, query: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    // Bounded: the test stores a handful of objects.
    for _ in 0..20 {
        let page_query = match &cursor {
            Some(cursor) => format!("{query}&limit=2&cursor={cursor}"),
            None => format!("{query}&limit=2"),
        };
        let page = list(stack, &page_query).await;
        names.extend(page.items.iter().map(|item| item.filename.clone()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return names,
        }
    }
    panic!("{query}: the cursors never ended");
}

#[tokio::test]
async fn filters_sorts_pages_and_counts() {
    let stack = Stack::start().await;
    for (name, size) in [
        ("Holiday.JPG", 3000),
        ("notes.txt", 10),
        ("b-report.pdf", 2048),
        ("a-report.txt", 500),
        ("100%_done.txt", 20),
    ] {
        stack.upload(name, vec![b'x'; size]).await;
    }

    let newest_first = list(&stack, "").await;
    assert_eq!(
        names(&newest_first),
        [
            "100%_done.txt",
            "a-report.txt",
            "b-report.pdf",
            "notes.txt",
            "Holiday.JPG"
        ]
    );
    assert_eq!(newest_first.total, 5);

    let reports = list(&stack, "q=REPORT").await;
    assert_eq!(names(&reports), ["a-report.txt", "b-report.pdf"]);
    assert_eq!(reports.total, 2);
    // Wildcards in the search text are taken literally.
    assert_eq!(names(&list(&stack, "q=%25_").await), ["100%_done.txt"]);
    assert_eq!(
        names(&list(&stack, "type=text/&sort=name").await),
        ["100%_done.txt", "a-report.txt", "notes.txt"]
    );
    assert_eq!(
        names(&list(&stack, "min_size=1KiB&sort=size&order=asc").await),
        ["b-report.pdf", "Holiday.JPG"]
    );
    assert_eq!(
        names(&list(&stack, "max_size=20&sort=size").await),
        ["100%_done.txt", "notes.txt"]
    );

    // Pages of two follow each other in every order, none lost or twice.
    assert_eq!(
        all_pages(&stack, "sort=name").await,
        [
            "100%_done.txt",
            "a-report.txt",
            "b-report.pdf",
            "Holiday.JPG",
            "notes.txt"
        ]
    );
    assert_eq!(
        all_pages(&stack, "sort=size&order=desc").await,
        [
            "Holiday.JPG",
            "b-report.pdf",
            "a-report.txt",
            "100%_done.txt",
            "notes.txt"
        ]
    );
    assert_eq!(
        all_pages(&stack, "sort=created&order=asc").await,
        [
            "Holiday.JPG",
            "notes.txt",
            "b-report.pdf",
            "a-report.txt",
            "100%_done.txt"
        ]
    );
    let first = list(&stack, "q=report&limit=1").await;
    assert_eq!(first.total, 2, "the count covers every page");
}

#[tokio::test]
async fn bad_listing_parameters_are_explained() {
    let stack = Stack::start().await;
    let by_size = {
        for name in ["a", "b"] {
            stack.upload(name, b"x").await;
        }
        list(&stack, "sort=size&limit=1").await.next_cursor.unwrap()
    };
    for (query, says) in [
        ("sort=colour", "sort must be"),
        ("order=up", "order must be"),
        ("min_size=lots", "min_size"),
        ("limit=0", "limit"),
        ("cursor=nonsense", "cursor"),
        (&format!("sort=name&cursor={by_size}"), "same sort"),
        (&format!("q={}", "x".repeat(201)), "200 bytes"),
        ("q=%00", "NUL"),
        ("type=image%00", "NUL"),
    ] {
        let response = stack
            .http
            .get(stack.url(&format!("/content?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let body: cdn_common::wire::ErrorBody = response.json().await.unwrap();
        assert!(body.error.message.contains(says), "{query}: {body:?}");
    }
    let _: ContentList = fetch::json(stack.http.get(stack.url("/content?q=&type="))).await;
}
