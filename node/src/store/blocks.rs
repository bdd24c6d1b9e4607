//! Block sums: each blob is cut into [`BLOCK`]-byte blocks (the last may be
//! shorter) and each block's CRC32C is recorded as the blob is written, so a
//! reader can check every block it sends without reading the rest of the
//! blob.
//!
//! CRC32C rather than SHA-256: the sums guard against rot (bits flipped on
//! the disk or on its way), not against someone who can write the disk.
//! CRC32C catches every burst of errors up to 32 bits and misses a random
//! garbling once in 2^32 blocks, and in hardware (SSE4.2, ARMv8) it runs at
//! tens of GB/s, so checking a block costs far less than reading it. The
//! blob's SHA-256 still covers it whole, for the scrub and the distributor.

/// Bytes per block: the node reads, checks and sends whole blocks.
pub const BLOCK: u64 = 64 * 1024;

/// The CRC32C of each block of one blob, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockSums(Vec<u32>);

impl BlockSums {
    /// Sums for a blob of `len` bytes have this many entries.
    pub fn count_for(len: u64) -> u64 {
        len.div_ceil(BLOCK)
    }

    /// Whether these sums can describe a blob of `len` bytes.
    pub fn fit(&self, len: u64) -> bool {
        self.0.len() as u64 == Self::count_for(len)
    }

    /// Whether `bytes` are block `index` as it was written.
    pub fn check(&self, index: u64, bytes: &[u8]) -> bool {
        usize::try_from(index)
            .ok()
            .and_then(|index| self.0.get(index))
            .is_some_and(|&sum| sum == crc32c::crc32c(bytes))
    }

    /// The sums as 4 little-endian bytes each.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|sum| sum.to_le_bytes()).collect()
    }

    /// The inverse of [`BlockSums::to_bytes`]; `None` for a length that
    /// is not a whole number of sums.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let sums = bytes.chunks_exact(4);
        if !sums.remainder().is_empty() {
            return None;
        }
        Some(BlockSums(
            sums.map(|sum| u32::from_le_bytes(sum.try_into().expect("four bytes")))
                .collect(),
        ))
    }
}

/// Computes the block sums of bytes that arrive in chunks of any size.
#[derive(Default)]
pub struct BlockSummer {
    done: Vec<u32>,
    /// The sum of the block being filled, and how many bytes it has.
    current: u32,
    filled: u64,
}

impl BlockSummer {
    pub fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = (BLOCK - self.filled) as usize;
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.current = crc32c::crc32c_append(self.current, now);
            self.filled += now.len() as u64;
            if self.filled == BLOCK {
                self.done.push(std::mem::take(&mut self.current));
                self.filled = 0;
            }
            bytes = rest;
        }
    }

    pub fn finish(mut self) -> BlockSums {
        if self.filled > 0 {
            self.done.push(self.current);
        }
        BlockSums(self.done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sums_of(bytes: &[u8], chunk: usize) -> BlockSums {
        let mut summer = BlockSummer::default();
        bytes.chunks(chunk).for_each(|part| summer.update(part));
        summer.finish()
    }

    #[test]
    fn sums_do_not_depend_on_how_the_bytes_arrive() {
        let bytes: Vec<u8> = (0..3 * BLOCK as usize + 5)
            .map(|i| (i % 253) as u8)
            .collect();
        let whole = sums_of(&bytes, bytes.len());
        for chunk in [1, 7, 4096, BLOCK as usize, BLOCK as usize + 1] {
            assert_eq!(sums_of(&bytes, chunk), whole, "chunks of {chunk}");
        }
        assert!(whole.fit(bytes.len() as u64));
        assert!(!whole.fit(3 * BLOCK));
        let last = &bytes[3 * BLOCK as usize..];
        assert!(whole.check(3, last));
        assert!(whole.check(1, &bytes[BLOCK as usize..2 * BLOCK as usize]));
        assert!(!whole.check(1, &bytes[..BLOCK as usize]));
        assert!(!whole.check(4, b""));
    }

    #[test]
    fn a_flipped_bit_fails_its_block_only() {
        let mut bytes = vec![7u8; 2 * BLOCK as usize];
        let sums = sums_of(&bytes, 1000);
        bytes[BLOCK as usize + 10] ^= 0x10;
        let (first, second) = bytes.split_at(BLOCK as usize);
        assert!(sums.check(0, first));
        assert!(!sums.check(1, second));
    }

    #[test]
    fn an_empty_blob_has_no_blocks_and_sums_round_trip() {
        let empty = BlockSummer::default().finish();
        assert!(empty.fit(0));
        assert_eq!(empty.to_bytes(), b"");
        let sums = sums_of(&[1, 2, 3], 2);
        assert_eq!(BlockSums::from_bytes(&sums.to_bytes()), Some(sums));
        assert_eq!(BlockSums::from_bytes(&[1, 2, 3]), None);
    }
}
