//! Which nodes get a new object's copies.
//!
//! The rule: among nodes that are up and have room for the object (when its
//! size is known), prefer the lowest storage use in percent, then the lowest
//! memory use, then the lowest id; take the first R.

use std::cmp::Ordering;

use cdn_common::NodeId;
use cdn_common::wire::{ConsideredNode, NodeStats, NodeStatus, PlacementOutcome};

/// A node that is up, with its last reported stats.
#[derive(Clone, Debug)]
pub struct Candidate<'a> {
    pub id: &'a NodeId,
    pub stats: &'a NodeStats,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error("{up} storage node(s) up, {needed} needed for the copies")]
    NotEnoughNodesUp { up: usize, needed: usize },
    #[error("the object ({size} bytes) is larger than any node can hold")]
    TooLarge { size: u64 },
    #[error("{fit} node(s) up have room for the object, {needed} needed")]
    NoRoom { fit: usize, needed: usize },
}

/// Picks `copies` distinct nodes for an object of `size` bytes (`None`
/// when the size is not known in advance) from the nodes that are up.
pub fn choose<'a>(
    mut up: Vec<Candidate<'a>>,
    size: Option<u64>,
    copies: usize,
) -> Result<Vec<&'a NodeId>, PlacementError> {
    if up.len() < copies {
        return Err(PlacementError::NotEnoughNodesUp {
            up: up.len(),
            needed: copies,
        });
    }
    if let Some(size) = size
        && up.iter().all(|node| node.stats.max_storage < size)
    {
        return Err(PlacementError::TooLarge { size });
    }
    up.retain(|node| has_room(node.stats, size));
    if up.len() < copies {
        return Err(PlacementError::NoRoom {
            fit: up.len(),
            needed: copies,
        });
    }
    up.sort_by(|a, b| preference(a, b));
    Ok(up.into_iter().take(copies).map(|node| node.id).collect())
}

/// A node as the rule sees it: up with stats, or not.
#[derive(Clone, Debug)]
pub struct Seen<'a> {
    pub id: &'a NodeId,
    pub up: bool,
    pub stats: Option<&'a NodeStats>,
}

/// Why each of `nodes` was or was not among `chosen`: the figures the rule
/// compared, its verdict, and the node's place in its order.
pub fn explain(nodes: &[Seen], size: Option<u64>, chosen: &[NodeId]) -> Vec<ConsideredNode> {
    let mut eligible: Vec<Candidate> = nodes
        .iter()
        .filter(|node| node.up)
        .filter_map(|node| {
            let stats = node.stats?;
            has_room(stats, size).then_some(Candidate { id: node.id, stats })
        })
        .collect();
    eligible.sort_by(preference);
    nodes
        .iter()
        .map(|node| {
            let rank = eligible
                .iter()
                .position(|candidate| candidate.id == node.id)
                .map(|index| index as u32 + 1);
            let outcome = match (node.up && node.stats.is_some(), rank) {
                (false, _) => PlacementOutcome::Down,
                (true, None) => PlacementOutcome::NoRoom,
                (true, Some(_)) if chosen.contains(node.id) => PlacementOutcome::Chosen,
                (true, Some(_)) => PlacementOutcome::NotNeeded,
            };
            ConsideredNode {
                node: node.id.clone(),
                status: if node.up {
                    NodeStatus::Up
                } else {
                    NodeStatus::Down
                },
                storagep: node.stats.map(|stats| stats.storagep),
                memory: node.stats.map(|stats| stats.memory),
                free: node
                    .stats
                    .map(|stats| stats.max_storage.saturating_sub(stats.storage)),
                outcome,
                rank,
            }
        })
        .collect()
}

fn has_room(stats: &NodeStats, size: Option<u64>) -> bool {
    let free = stats.max_storage.saturating_sub(stats.storage);
    match size {
        Some(size) => size <= free,
        None => free > 0,
    }
}

fn preference(a: &Candidate, b: &Candidate) -> Ordering {
    a.stats
        .storagep
        .total_cmp(&b.stats.storagep)
        .then(a.stats.memory.cmp(&b.stats.memory))
        .then(a.id.cmp(b.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(storage: u64, max_storage: u64, memory: u64) -> NodeStats {
        NodeStats {
            node_id: NodeId::parse("n").unwrap(),
            memory,
            memory_total: 1 << 30,
            storage,
            storagep: storage as f64 * 100.0 / max_storage as f64,
            max_storage,
            objects: 0,
            public_url: String::new(),
        }
    }

    fn ids(names: &[&str]) -> Vec<NodeId> {
        names.iter().map(|name| name.parse().unwrap()).collect()
    }

    fn pick(
        ids: &[NodeId],
        stats: &[NodeStats],
        size: Option<u64>,
        copies: usize,
    ) -> Result<Vec<String>, PlacementError> {
        let up = ids
            .iter()
            .zip(stats)
            .map(|(id, stats)| Candidate { id, stats })
            .collect();
        choose(up, size, copies).map(|chosen| chosen.iter().map(|id| id.to_string()).collect())
    }

    #[test]
    fn prefers_the_emptiest_node_in_percent() {
        let ids = ids(&["a", "b", "c"]);
        let stats = [stats(50, 100, 1), stats(100, 1000, 9), stats(30, 100, 1)];
        assert_eq!(pick(&ids, &stats, Some(1), 1).unwrap(), ["b"]);
        assert_eq!(pick(&ids, &stats, Some(1), 2).unwrap(), ["b", "c"]);
    }

    #[test]
    fn breaks_ties_by_memory_then_id() {
        let ids = ids(&["c", "b", "a"]);
        let stats = [stats(0, 100, 5), stats(0, 100, 7), stats(0, 100, 5)];
        assert_eq!(pick(&ids, &stats, None, 3).unwrap(), ["a", "c", "b"]);
    }

    #[test]
    fn skips_nodes_without_room() {
        let ids = ids(&["a", "b"]);
        let stats = [stats(0, 10, 1), stats(50, 100, 1)];
        assert_eq!(pick(&ids, &stats, Some(20), 1).unwrap(), ["b"]);
        assert_eq!(
            pick(&ids, &stats, Some(60), 1),
            Err(PlacementError::NoRoom { fit: 0, needed: 1 })
        );
        assert_eq!(
            pick(&ids, &stats, Some(101), 1),
            Err(PlacementError::TooLarge { size: 101 })
        );
    }

    #[test]
    fn a_full_node_takes_no_write_of_unknown_size() {
        let ids = ids(&["a", "b"]);
        let stats = [stats(10, 10, 1), stats(99, 100, 1)];
        assert_eq!(pick(&ids, &stats, None, 1).unwrap(), ["b"]);
        assert!(pick(&ids, &stats, None, 2).is_err());
    }

    #[test]
    fn explains_every_verdict_with_the_rule_order() {
        let ids = ids(&["a", "b", "c", "d"]);
        let stats = [
            stats(50, 100, 1),
            stats(10, 100, 1),
            stats(99, 100, 1),
            stats(0, 100, 1),
        ];
        let seen: Vec<Seen> = ids
            .iter()
            .zip(&stats)
            .enumerate()
            .map(|(index, (id, stats))| Seen {
                id,
                up: index != 3,
                stats: Some(stats),
            })
            .collect();
        let chosen = [ids[1].clone()];
        let verdicts: Vec<(PlacementOutcome, Option<u32>)> = explain(&seen, Some(5), &chosen)
            .into_iter()
            .map(|node| (node.outcome, node.rank))
            .collect();
        assert_eq!(
            verdicts,
            [
                (PlacementOutcome::NotNeeded, Some(2)),
                (PlacementOutcome::Chosen, Some(1)),
                (PlacementOutcome::NoRoom, None),
                (PlacementOutcome::Down, None),
            ]
        );
    }

    #[test]
    fn needs_enough_nodes_up() {
        let ids = ids(&["a"]);
        let stats = [stats(0, 10, 1)];
        assert_eq!(
            pick(&ids, &stats, None, 2),
            Err(PlacementError::NotEnoughNodesUp { up: 1, needed: 2 })
        );
    }
}
