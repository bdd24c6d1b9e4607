//! Pages made on the server, for browsers without JavaScript: where a form
//! upload lands, and what it says when it fails. Every text is escaped by
//! `maud`.

use cdn_common::size::human_size;
use cdn_common::wire::{Content, Visibility};
use maud::{DOCTYPE, Markup, html};

/// One object: its name, figures and links (`GET /ui/content/{id}`).
pub fn content(item: &Content) -> Markup {
    let download = format!("{}{}download=1", item.uri, query_separator(&item.uri));
    layout(
        &item.filename,
        html! {
            h1 { (item.filename) }
            dl.facts {
                dt { "Size" } dd { (human_size(item.size)) " (" (item.size) " bytes)" }
                dt { "Type" } dd { (item.content_type) }
                dt { "Version" } dd { (item.version) }
                dt { "Visibility" } dd { (item.visibility) }
                dt { "SHA-256" } dd { code { (item.sha256) } }
            }
            @if item.content_type.starts_with("image/") && item.visibility == Visibility::Public {
                img.preview src=(item.uri) alt=(item.filename);
            }
            p.links {
                a href=(item.uri) { "Open" } " · " a href=(download) { "Download" }
            }
        },
    )
}

/// What a form upload stored (`GET /ui/uploads?ids=…`).
pub fn uploads(items: &[Content], hidden: usize) -> Markup {
    let count = items.len() + hidden;
    layout(
        "Uploaded",
        html! {
            h1 { "Uploaded " (count) " " (if count == 1 { "file" } else { "files" }) }
            ul.uploaded {
                @for item in items {
                    li {
                        a href={ "/ui/content/" (item.id) } { (item.filename) }
                        " — " (human_size(item.size))
                    }
                }
            }
            @if hidden > 0 {
                p { (hidden) " of them cannot be shown here: private, or gone." }
            }
        },
    )
}

/// Why an upload from a form stored nothing.
pub fn upload_failed(message: &str) -> Markup {
    layout(
        "Upload failed",
        html! {
            h1 { "Upload failed" }
            p role="alert" { (message) }
            p { "Nothing was stored." }
        },
    )
}

/// A page that cannot be shown, and why.
pub fn unavailable(message: &str) -> Markup {
    layout(
        "Not available",
        html! {
            h1 { "Not available" }
            p role="alert" { (message) }
        },
    )
}

fn layout(title: &str, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Mini CDN" }
                link rel="icon" href="/ui/favicon.svg";
                link rel="stylesheet" href="/ui/app.css";
            }
            body.server-page {
                header.site { a href="/" { "Mini CDN" } }
                main {
                    (main)
                    p { a href="/" { "Back to the dashboard" } }
                }
            }
        }
    }
}

fn query_separator(uri: &str) -> char {
    if uri.contains('?') { '&' } else { '?' }
}
