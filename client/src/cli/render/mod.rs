//! Human-readable text for the command's output: sizes, tables and detail
//! blocks. Pure functions of the wire types, so they are tested here.
//! Tables are laid out by `comfy-table`, borderless, so they read like the
//! output of `ls -l` and cut well with `awk`.
//!
//! This file renders objects; [`cluster`] renders the nodes and the stats.

mod cluster;
mod tokens;

use cdn_client::wire::{Content, Replica, ReplicaStatus};
use chrono::{DateTime, Utc};
use comfy_table::CellAlignment::{self, Left, Right};
use comfy_table::{Table, presets};

pub use cdn_common::size::human_size;
pub use cluster::{node_table, stats_table};
pub use tokens::{access_key_table, token_table};

/// A name as sent by the server, with control characters escaped so that
/// it cannot rewrite the terminal.
pub fn display_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `node1, node3`, with any copy that is not `ok` marked: `node2 (missing)`.
pub fn replicas_summary(replicas: &[Replica]) -> String {
    if replicas.is_empty() {
        return "no node".to_owned();
    }
    let names: Vec<String> = replicas
        .iter()
        .map(|replica| match replica.status {
            ReplicaStatus::Ok => replica.node.to_string(),
            other => format!("{} ({})", replica.node, other.as_str()),
        })
        .collect();
    names.join(", ")
}

/// One line about an object that was just stored.
pub fn stored_line(content: &Content) -> String {
    format!(
        "{}  {}  {}, v{}, on {}",
        content.id,
        display_name(&content.filename),
        human_size(content.size),
        content.version,
        replicas_summary(&content.replicas)
    )
}

/// Everything about one object, one field per line.
pub fn content_details(content: &Content) -> String {
    let mut rows = vec![
        ["id".to_owned(), content.id.to_string()],
        ["filename".to_owned(), display_name(&content.filename)],
        [
            "size".to_owned(),
            format!("{} ({} bytes)", human_size(content.size), content.size),
        ],
        ["content type".to_owned(), content.content_type.clone()],
        ["sha256".to_owned(), content.sha256.to_string()],
        ["version".to_owned(), content.version.to_string()],
        ["created".to_owned(), timestamp(content.created_at)],
        ["updated".to_owned(), timestamp(content.updated_at)],
        ["uri".to_owned(), content.uri.clone()],
        ["status".to_owned(), content.status.clone()],
        ["visibility".to_owned(), content.visibility.to_string()],
    ];
    if content.replicas.is_empty() {
        rows.push(["replicas".to_owned(), "none".to_owned()]);
    }
    for (index, replica) in content.replicas.iter().enumerate() {
        let label = if index == 0 { "replicas" } else { "" };
        let line = format!(
            "{}  {}  {}",
            replica.node,
            replica.status.as_str(),
            replica.uri
        );
        rows.push([label.to_owned(), line]);
    }
    columns(None, &[Left, Left], rows)
}

/// The `cdn ls` table, names last since they vary most in width.
pub fn content_table(items: &[Content]) -> String {
    let rows = items.iter().map(|content| {
        [
            content.id.to_string(),
            human_size(content.size),
            content.version.to_string(),
            content.updated_at.format("%Y-%m-%d %H:%M").to_string(),
            replicas_summary(&content.replicas),
            display_name(&content.filename),
        ]
    });
    columns(
        Some(&["ID", "SIZE", "VER", "UPDATED (UTC)", "NODES", "NAME"]),
        &[Left, Right, Right, Left, Left, Left],
        rows,
    )
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Plain columns, as `ls -l` or `ps` print them: no borders, each column as
/// wide as its widest cell, two spaces apart, and no blanks at the end of a
/// line. `titles`, when given, head the columns.
fn columns<Row>(
    titles: Option<&[&str]>,
    alignments: &[CellAlignment],
    rows: impl IntoIterator<Item = Row>,
) -> String
where
    Row: Into<comfy_table::Row>,
{
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    if let Some(titles) = titles {
        table.set_header(titles.to_vec());
    }
    table.add_rows(rows);
    let last = alignments.len().saturating_sub(1);
    for (index, (column, &alignment)) in table.column_iter_mut().zip(alignments).enumerate() {
        column.set_cell_alignment(alignment);
        column.set_padding((0, if index == last { 0 } else { 2 }));
    }
    table.trim_fmt()
}

#[cfg(test)]
mod tests {
    use cdn_client::{NodeId, Sha256};
    use uuid::Uuid;

    use super::*;

    /// Shared with the cluster tables' tests.
    pub(super) fn node_id(text: &str) -> NodeId {
        NodeId::parse(text).unwrap()
    }

    pub(super) fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn sample_content() -> Content {
        Content {
            id: Uuid::nil(),
            filename: "café menu.txt".into(),
            size: 1536,
            content_type: "text/plain".into(),
            sha256: Sha256::parse(&"ab".repeat(32)).unwrap(),
            version: 2,
            created_at: at("2025-03-01T10:00:00Z"),
            updated_at: at("2025-03-02T11:30:00Z"),
            uri: "http://localhost:8000/content/x/data".into(),
            replicas: vec![
                Replica {
                    node: node_id("node1"),
                    uri: "http://localhost:8001/blobs/x".into(),
                    status: ReplicaStatus::Ok,
                },
                Replica {
                    node: node_id("node3"),
                    uri: "http://localhost:8003/blobs/x".into(),
                    status: ReplicaStatus::Missing,
                },
            ],
            status: "OK".into(),
            visibility: Default::default(),
        }
    }

    #[test]
    fn control_characters_in_names_are_escaped() {
        assert_eq!(display_name("a\nb\x1b[2J"), "a\\nb\\u{1b}[2J");
        assert_eq!(display_name("café menu.txt"), "café menu.txt");
    }

    #[test]
    fn replicas_show_only_unusual_statuses() {
        let content = sample_content();
        assert_eq!(
            replicas_summary(&content.replicas),
            "node1, node3 (missing)"
        );
        assert_eq!(replicas_summary(&[]), "no node");
    }

    #[test]
    fn stored_line_says_what_and_where() {
        assert_eq!(
            stored_line(&sample_content()),
            "00000000-0000-0000-0000-000000000000  café menu.txt  1.5 KiB, v2, on node1, node3 (missing)"
        );
    }

    #[test]
    fn details_list_every_replica() {
        let text = content_details(&sample_content());
        assert!(
            text.contains("size          1.5 KiB (1536 bytes)"),
            "{text}"
        );
        assert!(
            text.contains("replicas      node1  ok  http://localhost:8001/blobs/x"),
            "{text}"
        );
        assert!(
            text.contains("\n              node3  missing  http://localhost:8003/blobs/x"),
            "{text}"
        );
    }

    #[test]
    fn content_table_aligns_columns_without_trailing_blanks() {
        let text = content_table(&[sample_content()]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("ID                                       SIZE  VER  UPDATED"),
            "{text}"
        );
        assert!(
            lines[1].contains("  1.5 KiB    2  2025-03-02 11:30  "),
            "{text}"
        );
        assert!(lines.iter().all(|line| !line.ends_with(' ')), "{text}");
        assert!(lines[1].ends_with("café menu.txt"));
    }
}
