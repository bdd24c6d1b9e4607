//! The `cdn nodes` and `cdn stats` tables.

use std::fmt::Write as _;

use cdn_client::NodeId;
use cdn_client::wire::{ClusterStats, NodeList, NodeStats, NodeStatus};
use chrono::{DateTime, Utc};
use comfy_table::CellAlignment::{self, Left, Right};

use super::{columns, display_name, human_size};

fn node_status(status: NodeStatus) -> &'static str {
    match status {
        NodeStatus::Up => "up",
        NodeStatus::Down => "down",
    }
}

/// The columns both node tables start with: the node, whether it is up,
/// and what its last report said.
const NODE_TITLES: [&str; 6] = ["NODE", "STATUS", "STORAGE", "USED", "MEMORY", "BLOBS"];
const NODE_ALIGNMENTS: [CellAlignment; 6] = [Left, Left, Right, Right, Right, Right];

/// The cells under [`NODE_TITLES`]; a node that never reported has dashes.
fn node_cells(id: &NodeId, status: NodeStatus, stats: Option<&NodeStats>) -> Vec<String> {
    let mut cells = vec![id.to_string(), node_status(status).to_owned()];
    match stats {
        Some(stats) => cells.extend([
            used_of(stats.storage, stats.max_storage),
            format!("{:.1}%", stats.storagep),
            used_of(stats.memory, stats.memory_total),
            stats.objects.to_string(),
        ]),
        None => cells.extend(std::iter::repeat_n("-".to_owned(), 4)),
    }
    cells
}

/// The `cdn nodes` table, followed by the last error of each node that has one.
pub fn node_table(list: &NodeList, now: DateTime<Utc>) -> String {
    let rows = list.nodes.iter().map(|node| {
        let mut cells = node_cells(&node.id, node.status, node.stats.as_ref());
        cells.push(
            node.last_seen
                .map_or_else(|| "never".to_owned(), |seen| ago(seen, now)),
        );
        cells.push(node.public_url.clone().unwrap_or_else(|| "-".to_owned()));
        cells
    });
    let titles: Vec<&str> = NODE_TITLES
        .into_iter()
        .chain(["LAST SEEN", "PUBLIC URL"])
        .collect();
    let alignments: Vec<CellAlignment> = NODE_ALIGNMENTS.into_iter().chain([Left, Left]).collect();
    let mut text = columns(Some(&titles), &alignments, rows);
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
        .map(|entry| node_cells(&entry.id, entry.status, entry.stats.as_ref()));
    let mut text = columns(Some(&NODE_TITLES), &NODE_ALIGNMENTS, rows);
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

fn used_of(used: u64, total: u64) -> String {
    format!("{} / {}", human_size(used), human_size(total))
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

#[cfg(test)]
mod tests {
    use cdn_client::wire::{NodeInfo, NodeStatsEntry, Totals};

    use super::super::tests::{at, node_id};
    use super::*;

    fn sample_stats(node: &str) -> NodeStats {
        NodeStats {
            node_id: node_id(node),
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
    fn node_table_handles_nodes_without_stats() {
        let list = NodeList {
            nodes: vec![
                NodeInfo {
                    id: node_id("node1"),
                    url: "http://node1:8080".into(),
                    public_url: Some("http://localhost:8001".into()),
                    status: NodeStatus::Up,
                    last_seen: Some(at("2025-03-02T11:59:58Z")),
                    last_error: None,
                    stats: Some(sample_stats("node1")),
                },
                NodeInfo {
                    id: node_id("node2"),
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
                    id: node_id("node1"),
                    status: NodeStatus::Up,
                    stats: Some(sample_stats("node1")),
                },
                NodeStatsEntry {
                    id: node_id("node2"),
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
            cache: Default::default(),
        };
        let text = stats_table(&stats);
        assert!(
            text.contains(
                "\nnode2  down                       -      -                   -      -\n"
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
