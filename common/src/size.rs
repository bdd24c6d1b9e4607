//! Byte sizes as people write them: `100M`, `1.5GB`, `512MiB` or plain bytes.

use std::fmt;
use std::str::FromStr;

/// A number of bytes read from human-readable text.
///
/// Decimal suffixes (`K`, `M`, `G`, `KB`, `MB`, …) are powers of 1000 and
/// binary ones (`KiB`, `MiB`, …) powers of 1024, as the SI and IEC units say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

#[derive(Debug, thiserror::Error)]
#[error("{input:?} is not a size (try 100M, 1.5GB, 512MiB or a number of bytes)")]
pub struct ParseByteSizeError {
    input: String,
}

impl ByteSize {
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = ParseByteSizeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_size::parse_size(text.trim())
            .map(ByteSize)
            .map_err(|_| ParseByteSizeError {
                input: text.to_owned(),
            })
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

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

    fn parse(text: &str) -> Option<u64> {
        text.parse::<ByteSize>().ok().map(ByteSize::bytes)
    }

    #[test]
    fn reads_the_forms_people_write() {
        assert_eq!(parse("100M"), Some(100_000_000));
        assert_eq!(parse("1.5GB"), Some(1_500_000_000));
        assert_eq!(parse("512MiB"), Some(512 * 1024 * 1024));
        assert_eq!(parse("4096"), Some(4096));
        assert_eq!(parse(" 2 KiB "), Some(2048));
    }

    #[test]
    fn refuses_what_is_not_a_size() {
        assert_eq!(parse("lots"), None);
        assert_eq!(parse("-5M"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("12XB"), None);
    }
}
