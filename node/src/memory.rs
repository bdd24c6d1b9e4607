//! Memory figures for `/stats`.

use std::sync::Mutex;

use sysinfo::{MemoryRefreshKind, RefreshKind, System};

/// Reads memory use, preferring the container's (cgroup) limit and usage
/// over the host's when the node runs inside one.
pub struct MemoryProbe {
    system: Mutex<System>,
}

/// Bytes in use and bytes available in all.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    pub used: u64,
    pub total: u64,
}

impl MemoryProbe {
    pub fn new() -> Result<Self, sysinfo::Error> {
        let system = System::new_with_specifics(
            RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram()),
        )?;
        Ok(MemoryProbe {
            system: Mutex::new(system),
        })
    }

    pub fn read(&self) -> Memory {
        let mut system = self
            .system
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        system.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        match system.cgroup_limits() {
            Some(cgroup) => Memory {
                used: cgroup.total_memory.saturating_sub(cgroup.free_memory),
                total: cgroup.total_memory,
            },
            None => Memory {
                used: system.used_memory(),
                total: system.total_memory(),
            },
        }
    }
}
