//! S3's rules for bucket names: 3 to 63 characters of lower-case letters,
//! digits, dots and hyphens, starting and ending with a letter or digit,
//! no two dots in a row, and not shaped like an IP address.

pub fn valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-';
    let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    (3..=63).contains(&bytes.len())
        && bytes.iter().all(allowed)
        && edge(bytes[0])
        && edge(bytes[bytes.len() - 1])
        && !name.contains("..")
        && !name.contains(".-")
        && !name.contains("-.")
        && name.parse::<std::net::Ipv4Addr>().is_err()
        && !name.starts_with("xn--")
        && !name.ends_with("-s3alias")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3s_rules() {
        for good in ["abc", "my-bucket.2024", "a1b", &"a".repeat(63)] {
            assert!(valid_bucket_name(good), "{good:?}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "-abc",
            "abc-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "a_b",
            "xn--abc",
            "b-s3alias",
            "ab/",
            "",
        ] {
            assert!(!valid_bucket_name(bad), "{bad:?}");
        }
    }
}
