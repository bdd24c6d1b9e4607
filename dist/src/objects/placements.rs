//! The latest writes' placements, kept in memory for the dashboard: which
//! nodes took each new version, and the figures the rule compared. Renames,
//! visibility changes and deletions are followed, so the log never shows
//! more than the catalogue would.

use std::collections::VecDeque;
use std::sync::Mutex;

use cdn_common::NodeId;
use cdn_common::wire::{ConsideredNode, PlacementEntry, Visibility};
use chrono::Utc;
use uuid::Uuid;

use crate::catalog::ContentRecord;

/// How many writes the log keeps.
pub const KEPT: usize = 20;

#[derive(Default)]
pub struct RecentPlacements {
    /// Newest first, with each object's visibility.
    entries: Mutex<VecDeque<(PlacementEntry, Visibility)>>,
}

impl RecentPlacements {
    pub fn record(
        &self,
        record: &ContentRecord,
        copies: usize,
        chosen: Vec<NodeId>,
        candidates: Vec<ConsideredNode>,
    ) {
        let entry = PlacementEntry {
            content_id: record.id,
            filename: record.filename.clone(),
            version: record.version,
            size: record.size,
            at: Utc::now(),
            copies,
            chosen,
            candidates,
        };
        let mut entries = self.lock();
        entries.push_front((entry, record.visibility));
        entries.truncate(KEPT);
    }

    /// The object's name or visibility changed.
    pub fn follow(&self, record: &ContentRecord) {
        for (entry, visibility) in self.lock().iter_mut() {
            if entry.content_id == record.id {
                entry.filename.clone_from(&record.filename);
                *visibility = record.visibility;
            }
        }
    }

    pub fn forget(&self, id: Uuid) {
        self.lock().retain(|(entry, _)| entry.content_id != id);
    }

    /// Newest first; private objects' only when `include_private`.
    pub fn latest(&self, include_private: bool) -> Vec<PlacementEntry> {
        self.lock()
            .iter()
            .filter(|(_, visibility)| include_private || *visibility == Visibility::Public)
            .map(|(entry, _)| entry.clone())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(PlacementEntry, Visibility)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
