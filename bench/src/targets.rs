//! What the benchmark measures and what it aims for, one row per target.
//! A new figure is a new row here (and, for a new kind of load, a new
//! [`Endpoint`]); the loads to run follow from the rows.

/// What wrk loads: one URL (or, with a script, a set of URLs) of one server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET /content/{id}/data` of the 4 KiB object, through the
    /// distributor, again and again: a hot object.
    DistSmall,
    /// First reads of distinct 4 KiB objects through the distributor, each
    /// read once: the uploads of the upload phase, never read before.
    DistCold,
    /// The same 4 KiB straight from the node that holds it (the
    /// `?redirect=1` target).
    NodeSmall,
    /// nginx serving the same 4 KiB from a file.
    NginxSmall,
    /// A bare axum server answering the same 4 KiB from memory: the limit.
    LimitSmall,
    /// `GET /content/{id}/data` of the 1 MiB object.
    DistLarge,
    /// nginx serving the same 1 MiB.
    NginxLarge,
    /// The bare axum server answering the same 1 MiB.
    LimitLarge,
    /// `POST /content` of 4 KiB bodies through the distributor.
    DistUpload,
    /// The Zipf workload through the distributor.
    DistZipf,
    /// The same requests to nginx serving the same files.
    NginxZipf,
}

/// Bytes of the small and the large object.
pub const SMALL: usize = 4 * 1024;
pub const LARGE: usize = 1024 * 1024;

impl Endpoint {
    /// Names the phase and the files of its wrk report.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::DistSmall => "a-hot-dist-4k",
            Endpoint::DistCold => "a-cold-dist-4k",
            Endpoint::NodeSmall => "b-node-4k",
            Endpoint::NginxSmall => "nginx-4k",
            Endpoint::LimitSmall => "limit-4k",
            Endpoint::DistLarge => "c-hot-dist-1m",
            Endpoint::NginxLarge => "nginx-1m",
            Endpoint::LimitLarge => "limit-1m",
            Endpoint::DistUpload => "d-upload-4k",
            Endpoint::DistZipf => "zipf-dist",
            Endpoint::NginxZipf => "zipf-nginx",
        }
    }

    /// Who answers: the name shown beside a baseline figure.
    pub fn server(self) -> &'static str {
        match self {
            Endpoint::NginxSmall | Endpoint::NginxLarge | Endpoint::NginxZipf => "nginx",
            Endpoint::LimitSmall | Endpoint::LimitLarge => "limit",
            Endpoint::DistSmall
            | Endpoint::DistCold
            | Endpoint::DistLarge
            | Endpoint::DistUpload
            | Endpoint::DistZipf => "distributor",
            Endpoint::NodeSmall => "node",
        }
    }

    /// Bytes each request moves (the answer, or the upload's body); `None`
    /// when requests differ in size.
    pub fn bytes_per_request(self) -> Option<usize> {
        match self {
            Endpoint::DistLarge | Endpoint::NginxLarge | Endpoint::LimitLarge => Some(LARGE),
            Endpoint::DistZipf | Endpoint::NginxZipf => None,
            _ => Some(SMALL),
        }
    }

    /// When its load runs: hot loads first, while the hot objects are all
    /// the cache holds; the cold reads after the uploads they read; the
    /// Zipf workload, which churns the cache, last.
    fn stage(self) -> u8 {
        match self {
            Endpoint::DistUpload => 1,
            Endpoint::DistCold => 2,
            Endpoint::DistZipf | Endpoint::NginxZipf => 3,
            _ => 0,
        }
    }
}

/// One figure of the run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Figure {
    /// Requests answered per second under load.
    RequestsPerSecond(Endpoint),
    /// Megabytes (10^6 bytes) per second under load.
    MegabytesPerSecond(Endpoint),
    /// Median and 99th percentile latency under load, in milliseconds.
    Latency(Endpoint),
    /// The share of the Zipf workload's reads the hot-object cache served,
    /// in percent (the distributor's `/stats`, over that load alone).
    ZipfHitRatio,
    /// `cdn bench`'s one big upload, MB/s.
    BigUpload,
    /// Its download, MB/s.
    BigDownload,
    /// The same upload by `aws s3 cp`, MB/s.
    S3Upload,
    /// Its download, MB/s.
    S3Download,
    /// Each service's highest resident memory over the run, MiB.
    PeakRss,
}

impl Figure {
    /// The unit, as the table's "figure" column shows it.
    pub fn unit(self) -> &'static str {
        match self {
            Figure::RequestsPerSecond(Endpoint::DistUpload) => "uploads/s",
            Figure::RequestsPerSecond(_) => "req/s",
            Figure::MegabytesPerSecond(_)
            | Figure::BigUpload
            | Figure::BigDownload
            | Figure::S3Upload
            | Figure::S3Download => "MB/s",
            Figure::Latency(_) => "p50 / p99 ms",
            Figure::ZipfHitRatio => "hit %",
            Figure::PeakRss => "MiB",
        }
    }

    /// The load this figure comes from, if it comes from one.
    pub fn endpoint(self) -> Option<Endpoint> {
        match self {
            Figure::RequestsPerSecond(endpoint)
            | Figure::MegabytesPerSecond(endpoint)
            | Figure::Latency(endpoint) => Some(endpoint),
            Figure::ZipfHitRatio => Some(Endpoint::DistZipf),
            Figure::BigUpload
            | Figure::BigDownload
            | Figure::S3Upload
            | Figure::S3Download
            | Figure::PeakRss => None,
        }
    }
}

/// What a figure should reach. Missing it is reported, never a failure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Goal {
    /// Only shown.
    None,
    /// At least this fraction of the baseline.
    RatioAtLeast(f64),
    /// At least this much.
    AtLeast(f64),
    /// A 99th percentile latency no higher than the baseline's.
    P99AtMostBaseline,
    /// The distributor's peak at most `CACHE_SIZE` plus this many MiB, each
    /// node's at most this many.
    RssAboveCacheAtMost(f64),
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// `{big}` stands for the size of the big transfer.
    pub row: &'static str,
    pub figure: Figure,
    /// The same figure of another server, and the ratio to it.
    pub baseline: Option<Figure>,
    pub goal: Goal,
}

use Endpoint::*;
use Figure::*;

pub const TARGETS: &[Target] = &[
    Target {
        row: "(a-hot) GET 4 KiB via distributor",
        figure: RequestsPerSecond(DistSmall),
        baseline: Some(RequestsPerSecond(NginxSmall)),
        goal: Goal::RatioAtLeast(1.0),
    },
    Target {
        row: "(a-hot)",
        figure: Latency(DistSmall),
        baseline: Some(Latency(NginxSmall)),
        goal: Goal::P99AtMostBaseline,
    },
    Target {
        row: "(a-hot) against the limit",
        figure: RequestsPerSecond(DistSmall),
        baseline: Some(RequestsPerSecond(LimitSmall)),
        goal: Goal::RatioAtLeast(0.7),
    },
    Target {
        row: "(a-cold) first reads of distinct 4 KiB",
        figure: RequestsPerSecond(DistCold),
        baseline: Some(RequestsPerSecond(NginxSmall)),
        goal: Goal::RatioAtLeast(0.3),
    },
    Target {
        row: "(a-cold)",
        figure: Latency(DistCold),
        baseline: Some(Latency(NginxSmall)),
        goal: Goal::None,
    },
    Target {
        row: "(b) GET 4 KiB from its node",
        figure: RequestsPerSecond(NodeSmall),
        baseline: Some(RequestsPerSecond(NginxSmall)),
        goal: Goal::RatioAtLeast(0.8),
    },
    Target {
        row: "(b)",
        figure: Latency(NodeSmall),
        baseline: Some(Latency(NginxSmall)),
        goal: Goal::None,
    },
    Target {
        row: "(c-hot) GET 1 MiB via distributor",
        figure: MegabytesPerSecond(DistLarge),
        baseline: Some(MegabytesPerSecond(NginxLarge)),
        goal: Goal::RatioAtLeast(1.0),
    },
    Target {
        row: "(c-hot)",
        figure: Latency(DistLarge),
        baseline: Some(Latency(NginxLarge)),
        goal: Goal::None,
    },
    Target {
        row: "(c-hot) against the limit",
        figure: MegabytesPerSecond(DistLarge),
        baseline: Some(MegabytesPerSecond(LimitLarge)),
        goal: Goal::RatioAtLeast(0.7),
    },
    Target {
        row: "(d) POST 4 KiB via distributor, R=2",
        figure: RequestsPerSecond(DistUpload),
        baseline: None,
        goal: Goal::AtLeast(1000.0),
    },
    Target {
        row: "(d)",
        figure: Latency(DistUpload),
        baseline: None,
        goal: Goal::None,
    },
    Target {
        row: "(e) {big} upload via distributor",
        figure: BigUpload,
        baseline: None,
        goal: Goal::AtLeast(500.0),
    },
    Target {
        row: "(e) {big} download via distributor",
        figure: BigDownload,
        baseline: None,
        goal: Goal::AtLeast(500.0),
    },
    Target {
        row: "(e) {big} upload via S3 (aws s3 cp)",
        figure: S3Upload,
        baseline: Some(BigUpload),
        goal: Goal::None,
    },
    Target {
        row: "(e) {big} download via S3 (aws s3 cp)",
        figure: S3Download,
        baseline: Some(BigDownload),
        goal: Goal::None,
    },
    Target {
        row: "(zipf) {zipf}",
        figure: RequestsPerSecond(DistZipf),
        baseline: Some(RequestsPerSecond(NginxZipf)),
        goal: Goal::None,
    },
    Target {
        row: "(zipf)",
        figure: Latency(DistZipf),
        baseline: Some(Latency(NginxZipf)),
        goal: Goal::None,
    },
    Target {
        row: "(zipf) cache hits, a tenth of the data cached",
        figure: ZipfHitRatio,
        baseline: None,
        goal: Goal::None,
    },
    Target {
        row: "peak RSS",
        figure: PeakRss,
        baseline: None,
        goal: Goal::RssAboveCacheAtMost(64.0),
    },
];

/// Every endpoint the targets need loaded, each once, in the order their
/// loads run: table order within each stage.
pub fn endpoints(targets: &[Target]) -> Vec<Endpoint> {
    let mut endpoints = Vec::new();
    let figures = targets
        .iter()
        .flat_map(|target| [Some(target.figure), target.baseline]);
    for endpoint in figures.flatten().filter_map(Figure::endpoint) {
        if !endpoints.contains(&endpoint) {
            endpoints.push(endpoint);
        }
    }
    endpoints.sort_by_key(|endpoint| endpoint.stage());
    endpoints
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_endpoint_is_loaded_once_hot_first_zipf_last() {
        assert_eq!(
            endpoints(TARGETS),
            [
                DistSmall, NginxSmall, LimitSmall, NodeSmall, DistLarge, NginxLarge, LimitLarge,
                DistUpload, DistCold, DistZipf, NginxZipf
            ]
        );
    }

    #[test]
    fn a_ratio_goal_has_a_baseline() {
        for target in TARGETS {
            if matches!(target.goal, Goal::RatioAtLeast(_) | Goal::P99AtMostBaseline) {
                assert!(target.baseline.is_some(), "{}", target.row);
            }
        }
    }
}
