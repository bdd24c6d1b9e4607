//! Which nodes get a new object's copies.
//!
//! The rule: among nodes that are up and have room for the object (when its
//! size is known), prefer the lowest storage use in percent, then the lowest
//! memory use, then the lowest id; take the first R.

use std::cmp::Ordering;

use cdn_common::wire::NodeStats;

use cdn_common::NodeId;

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
    fn needs_enough_nodes_up() {
        let ids = ids(&["a"]);
        let stats = [stats(0, 10, 1)];
        assert_eq!(
            pick(&ids, &stats, None, 2),
            Err(PlacementError::NotEnoughNodesUp { up: 1, needed: 2 })
        );
    }
}
