//! Virtual-hosted-style addressing: a request to `BUCKET.DOMAIN[:port]`,
//! for one of the `S3_DOMAIN` names, is about `BUCKET`. Every other host
//! (an IP address, `localhost:9000`, a Compose service name) is read
//! path-style, so a host name is never taken for a bucket by accident.

use std::borrow::Cow;

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

/// Most domains one distributor answers for.
const MAX_DOMAINS: usize = 16;

pub struct BucketDomains {
    domains: Vec<String>,
}

impl BucketDomains {
    pub fn new(domains: &[String]) -> Self {
        Self {
            domains: domains.to_vec(),
        }
    }
}

impl S3Host for BucketDomains {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        // `s3s` passes IP addresses by before asking, so a colon here can
        // only start a port.
        let name = host.split_once(':').map_or(host, |(name, _port)| name);
        let name = name.trim_end_matches('.');
        for domain in &self.domains {
            let bucket = strip_suffix_ignoring_case(name, domain)
                .and_then(|rest| rest.strip_suffix('.'))
                .filter(|bucket| !bucket.is_empty());
            if let Some(bucket) = bucket {
                let bucket: Cow<'a, str> = Cow::Owned(bucket.to_ascii_lowercase());
                return Ok(VirtualHost::new(domain.as_str()).with_bucket(bucket));
            }
        }
        Ok(VirtualHost::new(host))
    }
}

fn strip_suffix_ignoring_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let start = text.len().checked_sub(suffix.len())?;
    let tail = text.get(start..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &text[..start])
}

/// `S3_DOMAIN`: comma-separated DNS names, each of letters, digits,
/// dashes and dots.
pub fn parse_domains(text: &str) -> Result<Vec<String>, String> {
    let mut domains = Vec::new();
    for domain in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let labels_ok = domain.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        if domain.len() > 253 || !labels_ok {
            return Err(format!("{domain:?} is not a DNS name"));
        }
        domains.push(domain.to_ascii_lowercase());
    }
    if domains.len() > MAX_DOMAINS {
        return Err(format!("at most {MAX_DOMAINS} domains"));
    }
    Ok(domains)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket_of(host: &str) -> Option<String> {
        let domains = BucketDomains::new(&parse_domains("localhost, s3.example.com").unwrap());
        let parsed = domains.parse_host_header(host).unwrap();
        parsed.bucket().map(str::to_owned)
    }

    #[test]
    fn subdomains_of_a_configured_domain_name_buckets() {
        assert_eq!(
            bucket_of("photos.localhost:9000").as_deref(),
            Some("photos")
        );
        assert_eq!(
            bucket_of("Photos.S3.Example.com").as_deref(),
            Some("photos")
        );
        assert_eq!(
            bucket_of("my.site.s3.example.com.").as_deref(),
            Some("my.site")
        );
    }

    #[test]
    fn other_hosts_are_path_style() {
        for host in [
            "localhost:9000",
            "localhost",
            "dist:9000",
            "s3.example.com",
            "example.com",
            "notlocalhost",
        ] {
            assert_eq!(bucket_of(host), None, "{host}");
        }
    }

    #[test]
    fn domains_must_be_dns_names() {
        assert!(parse_domains("a..b").is_err());
        assert!(parse_domains("a b").is_err());
        assert!(parse_domains("x:80").is_err());
        assert_eq!(parse_domains("").unwrap(), Vec::<String>::new());
    }
}
