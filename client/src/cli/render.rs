//! Human-readable text for the command's output: sizes, tables and detail
//! blocks. Pure functions of the wire types, so they are tested here.

use std::fmt::Write as _;

use cdn_client::wire::{ClusterStats, Content, NodeList, NodeStatus, Replica, ReplicaStatus};
use chrono::{DateTime, Utc};

/// Bytes in binary units with one decimal: `512 B`, `1.5 KiB`, `2.0 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    // Move up early enough that rounding never prints `1024.0 KiB`.
    while value >= 1023.95 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

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
            ReplicaStatus::Ok => replica.node.clone(),
            other => format!("{} ({})", replica.node, replica_status(other)),
        })
        .collect();
    names.join(", ")
}

fn replica_status(status: ReplicaStatus) -> &'static str {
    match status {
        ReplicaStatus::Ok => "ok",
        ReplicaStatus::Missing => "missing",
        ReplicaStatus::Corrupt => "corrupt",
    }
}

fn node_status(status: NodeStatus) -> &'static str {
    match status {
        NodeStatus::Up => "up",
        NodeStatus::Down => "down",
    }
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
        ("id", content.id.to_string()),
        ("filename", display_name(&content.filename)),
        (
            "size",
            format!("{} ({} bytes)", human_size(content.size), content.size),
        ),
        ("content type", content.content_type.clone()),
        ("sha256", content.sha256.clone()),
        ("version", content.version.to_string()),
        ("created", timestamp(content.created_at)),
        ("updated", timestamp(content.updated_at)),
        ("uri", content.uri.clone()),
        ("status", content.status.clone()),
    ];
    if content.replicas.is_empty() {
        rows.push(("replicas", "none".to_owned()));
    }
    for (index, replica) in content.replicas.iter().enumerate() {
        let label = if index == 0 { "replicas" } else { "" };
        let line = format!(
            "{}  {}  {}",
            replica.node,
            replica_status(replica.status),
            replica.uri
        );
        rows.push((label, line));
    }
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    let lines: Vec<String> = rows
        .iter()
        .map(|(label, value)| format!("{label:<width$}  {value}"))
        .collect();
    lines.join("\n")
}

/// The `cdn ls` table, names last since they vary most in width.
pub fn content_table(items: &[Content]) -> String {
    let rows = items
        .iter()
        .map(|content| {
            vec![
                content.id.to_string(),
                human_size(content.size),
                content.version.to_string(),
                content.updated_at.format("%Y-%m-%d %H:%M").to_string(),
                replicas_summary(&content.replicas),
                display_name(&content.filename),
            ]
        })
        .collect();
    table(
        &[
            ("ID", Align::Left),
            ("SIZE", Align::Right),
            ("VER", Align::Right),
            ("UPDATED (UTC)", Align::Left),
            ("NODES", Align::Left),
            ("NAME", Align::Left),
        ],
        rows,
    )
}

/// The `cdn nodes` table, followed by the last error of each node that has one.
pub fn node_table(list: &NodeList, now: DateTime<Utc>) -> String {
    let rows = list
        .nodes
        .iter()
        .map(|node| {
            let stats = node.stats.as_ref();
            vec![
                node.id.clone(),
                node_status(node.status).to_owned(),
                stats.map_or_else(dash, |s| used_of(s.storage, s.max_storage)),
                stats.map_or_else(dash, |s| format!("{:.1}%", s.storagep)),
                stats.map_or_else(dash, |s| used_of(s.memory, s.memory_total)),
                stats.map_or_else(dash, |s| s.objects.to_string()),
                node.last_seen
                    .map_or_else(|| "never".to_owned(), |seen| ago(seen, now)),
                node.public_url.clone().unwrap_or_else(dash),
            ]
        })
        .collect();
    let mut text = table(
        &[
            ("NODE", Align::Left),
            ("STATUS", Align::Left),
            ("STORAGE", Align::Right),
            ("USED", Align::Right),
            ("MEMORY", Align::Right),
            ("OBJECTS", Align::Right),
            ("LAST SEEN", Align::Left),
            ("PUBLIC URL", Align::Left),
        ],
        rows,
    );
    for node in &list.nodes {
        if let Some(error) = &node.last_error {
            let _ = write!(text, "\n{}: {}", node.id, display_name(error));
        }
    }
    text
}

/// The `cdn stats` table and a totals line.
pub fn stats_table(stats: &ClusterStats) -> String {
    let rows = stats
        .nodes
        .iter()
        .map(|entry| {
            let stats = entry.stats.as_ref();
            vec![
                entry.id.clone(),
                node_status(entry.status).to_owned(),
                stats.map_or_else(dash, |s| used_of(s.storage, s.max_storage)),
                stats.map_or_else(dash, |s| format!("{:.1}%", s.storagep)),
                stats.map_or_else(dash, |s| s.objects.to_string()),
                stats.map_or_else(dash, |s| used_of(s.memory, s.memory_total)),
            ]
        })
        .collect();
    let mut text = table(
        &[
            ("NODE", Align::Left),
            ("STATUS", Align::Left),
            ("STORAGE", Align::Right),
            ("USED", Align::Right),
            ("BLOBS", Align::Right),
            ("MEMORY", Align::Right),
        ],
        rows,
    );
    let totals = &stats.totals;
    let share = if totals.max_storage == 0 {
        String::new()
    } else {
        format!(
            " ({:.1}%)",
            totals.storage as f64 * 100.0 / totals.max_storage as f64
        )
    };
    let _ = write!(
        text,
        "\n\n{} objects; {} stored of {}{share}, copies included",
        totals.objects,
        human_size(totals.storage),
        human_size(totals.max_storage),
    );
    let repair = &stats.repair;
    let _ = write!(
        text,
        "\nrepair: {} under-replicated, {} copies repaired, {} failed, {} orphans removed",
        repair.under_replicated, repair.repaired, repair.failed, repair.orphans,
    );
    text
}

fn dash() -> String {
    "-".to_owned()
}

fn used_of(used: u64, total: u64) -> String {
    format!("{} / {}", human_size(used), human_size(total))
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `5s ago`, `3m ago`, `2h ago`, `4d ago`.
fn ago(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - then).num_seconds();
    match seconds {
        ..=0 => "just now".to_owned(),
        1..60 => format!("{seconds}s ago"),
        60..3600 => format!("{}m ago", seconds / 60),
        3600..86400 => format!("{}h ago", seconds / 3600),
        _ => format!("{}d ago", seconds / 86400),
    }
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// Columns padded to their widest cell, two spaces apart. A left-aligned
/// last column is not padded, so lines carry no trailing blanks.
fn table(columns: &[(&str, Align)], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = columns
        .iter()
        .map(|(title, _)| title.chars().count())
        .collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header = columns
        .iter()
        .map(|(title, _)| (*title).to_owned())
        .collect();
    let lines: Vec<String> = std::iter::once(header)
        .chain(rows)
        .map(|row| {
            let last = row.len().saturating_sub(1);
            let cells: Vec<String> = row
                .iter()
                .zip(columns.iter().zip(&widths))
                .enumerate()
                .map(|(index, (cell, ((_, align), &width)))| match align {
                    Align::Left if index == last => cell.clone(),
                    Align::Left => format!("{cell:<width$}"),
                    Align::Right => format!("{cell:>width$}"),
                })
                .collect();
            cells.join("  ")
        })
        .collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use cdn_client::wire::{NodeInfo, NodeStats, NodeStatsEntry, Totals};
    use uuid::Uuid;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn sample_content() -> Content {
        Content {
            id: Uuid::nil(),
            filename: "café menu.txt".into(),
            size: 1536,
            content_type: "text/plain".into(),
            sha256: "ab".repeat(32),
            version: 2,
            created_at: at("2025-03-01T10:00:00Z"),
            updated_at: at("2025-03-02T11:30:00Z"),
            uri: "http://localhost:8000/content/x/data".into(),
            replicas: vec![
                Replica {
                    node: "node1".into(),
                    uri: "http://localhost:8001/blobs/x".into(),
                    status: ReplicaStatus::Ok,
                },
                Replica {
                    node: "node3".into(),
                    uri: "http://localhost:8003/blobs/x".into(),
                    status: ReplicaStatus::Missing,
                },
            ],
            status: "OK".into(),
        }
    }

    fn sample_stats(node: &str) -> NodeStats {
        NodeStats {
            node_id: node.into(),
            memory: 64 * 1024 * 1024,
            memory_total: 1024 * 1024 * 1024,
            storage: 10 * 1024 * 1024,
            storagep: 10.0,
            max_storage: 100 * 1024 * 1024,
            objects: 3,
            public_url: "http://localhost:8001".into(),
        }
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(1024 * 1024 - 1), "1.0 MiB");
        assert_eq!(human_size(256 * 1024 * 1024), "256.0 MiB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
        assert_eq!(human_size(u64::MAX), "16.0 EiB");
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

    #[test]
    fn node_table_handles_nodes_without_stats() {
        let list = NodeList {
            nodes: vec![
                NodeInfo {
                    id: "node1".into(),
                    url: "http://node1:8080".into(),
                    public_url: Some("http://localhost:8001".into()),
                    status: NodeStatus::Up,
                    last_seen: Some(at("2025-03-02T11:59:58Z")),
                    last_error: None,
                    stats: Some(sample_stats("node1")),
                },
                NodeInfo {
                    id: "node2".into(),
                    url: "http://node2:8080".into(),
                    public_url: None,
                    status: NodeStatus::Down,
                    last_seen: None,
                    last_error: Some("connection refused".into()),
                    stats: None,
                },
            ],
        };
        let text = node_table(&list, at("2025-03-02T12:00:00Z"));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].contains("10.0 MiB / 100.0 MiB  10.0%"), "{text}");
        assert!(lines[1].contains("2s ago"), "{text}");
        assert!(lines[2].starts_with("node2  down"), "{text}");
        assert!(lines[2].contains("never"), "{text}");
        assert_eq!(lines[3], "node2: connection refused");
    }

    #[test]
    fn stats_end_with_totals() {
        let stats = ClusterStats {
            nodes: vec![
                NodeStatsEntry {
                    id: "node1".into(),
                    status: NodeStatus::Up,
                    stats: Some(sample_stats("node1")),
                },
                NodeStatsEntry {
                    id: "node2".into(),
                    status: NodeStatus::Down,
                    stats: None,
                },
            ],
            totals: Totals {
                storage: 10 * 1024 * 1024,
                max_storage: 100 * 1024 * 1024,
                objects: 2,
            },
            repair: Default::default(),
        };
        let text = stats_table(&stats);
        assert!(
            text.contains(
                "\nnode2  down                       -      -      -                   -\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("2 objects; 10.0 MiB stored of 100.0 MiB (10.0%), copies included\n")
        );
        assert!(text.ends_with(
            "repair: 0 under-replicated, 0 copies repaired, 0 failed, 0 orphans removed"
        ));
    }

    #[test]
    fn ages_are_short() {
        let now = at("2025-03-02T12:00:00Z");
        assert_eq!(ago(at("2025-03-02T12:00:05Z"), now), "just now");
        assert_eq!(ago(at("2025-03-02T11:59:00Z"), now), "1m ago");
        assert_eq!(ago(at("2025-03-02T09:00:00Z"), now), "3h ago");
        assert_eq!(ago(at("2025-02-20T12:00:00Z"), now), "10d ago");
    }
}
