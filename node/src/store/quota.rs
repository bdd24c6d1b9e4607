//! Space against `MAX_STORAGE`.
//!
//! Space is reserved before bytes are written, chunk by chunk, against one
//! counter shared by all writes, so two writes that each fit but together do
//! not cannot both pass: the second stops at once.

use std::sync::atomic::{AtomicU64, Ordering};

/// The store's byte counter and its limit.
pub struct Space {
    max: u64,
    /// Bytes of stored blobs plus the space reserved by writes under way.
    used: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
#[error("storage is full: {needed} more bytes would pass the limit of {max} bytes")]
pub struct Full {
    pub needed: u64,
    pub max: u64,
}

impl Space {
    pub fn new(max: u64) -> Self {
        Space {
            max,
            used: AtomicU64::new(0),
        }
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    /// Counts blobs found on disk at start-up, whatever the limit: the volume
    /// may hold more than a `MAX_STORAGE` that has since been lowered.
    pub fn count_stored(&self, bytes: u64) {
        self.used.fetch_add(bytes, Ordering::SeqCst);
    }

    /// Gives back the space of a blob deleted or replaced.
    pub fn release(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::SeqCst);
    }

    /// Starts a reservation of no bytes, for one write.
    pub fn reserve(&self) -> Reservation<'_> {
        Reservation {
            space: self,
            bytes: 0,
        }
    }
}

/// Space taken from the counter for one write; given back on drop unless the
/// write is kept.
pub struct Reservation<'a> {
    space: &'a Space,
    bytes: u64,
}

impl Reservation<'_> {
    /// Makes the reservation `total` bytes, if the limit allows.
    pub fn grow_to(&mut self, total: u64) -> Result<(), Full> {
        if total <= self.bytes {
            return Ok(());
        }
        let extra = total - self.bytes;
        let max = self.space.max;
        self.space
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(extra).filter(|&sum| sum <= max)
            })
            .map_err(|_| Full { needed: total, max })?;
        self.bytes = total;
        Ok(())
    }

    /// Gives back what is reserved beyond `total` bytes.
    pub fn shrink_to(&mut self, total: u64) {
        if total < self.bytes {
            self.space.release(self.bytes - total);
            self.bytes = total;
        }
    }

    /// The write is stored: its bytes stay counted.
    pub fn keep(mut self) {
        self.bytes = 0;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.space.release(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_the_limit_and_give_back_what_they_do_not_keep() {
        let space = Space::new(10);
        let mut first = space.reserve();
        first.grow_to(6).unwrap();
        let mut second = space.reserve();
        let full = second.grow_to(5).unwrap_err();
        assert_eq!((full.needed, full.max), (5, 10));
        second.grow_to(4).unwrap();
        assert_eq!(space.used(), 10);

        first.shrink_to(2);
        assert_eq!(space.used(), 6);
        first.keep();
        drop(second);
        assert_eq!(space.used(), 2);
    }

    #[test]
    fn growing_is_counted_once_and_never_shrinks() {
        let space = Space::new(10);
        let mut reservation = space.reserve();
        reservation.grow_to(3).unwrap();
        reservation.grow_to(3).unwrap();
        reservation.grow_to(1).unwrap();
        assert_eq!(space.used(), 3);
        drop(reservation);
        assert_eq!(space.used(), 0);
    }

    #[test]
    fn stored_bytes_count_even_past_a_lowered_limit() {
        let space = Space::new(10);
        space.count_stored(15);
        assert_eq!(space.used(), 15);
        assert!(space.reserve().grow_to(1).is_err());
        space.release(15);
        assert_eq!(space.used(), 0);
    }
}
