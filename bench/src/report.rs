//! The figures of one run, and the one markdown table that shows them
//! against the targets.

use std::collections::HashMap;
use std::fmt::Write;
use std::time::Duration;

use serde::Deserialize;

use crate::targets::{Endpoint, Figure, Goal, Target};
use crate::wrk;

/// What `cdn bench --json` prints.
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct Transfer {
    pub upload_mb_per_s: f64,
    pub download_mb_per_s: f64,
}

/// Everything measured in one run.
#[derive(Debug, Default)]
pub struct Measurements {
    pub loads: HashMap<Endpoint, wrk::Report>,
    pub transfer: Option<Transfer>,
    /// The same transfer through the S3 API.
    pub s3_transfer: Option<Transfer>,
    /// MiB per service, in start order, the distributor first.
    pub peak_rss: Vec<(String, f64)>,
    /// The distributor's `CACHE_SIZE`, MiB.
    pub cache_mib: f64,
    /// The share of the Zipf load's reads served from memory, percent.
    pub zipf_hit_percent: Option<f64>,
}

/// What stands for the placeholders in the rows' names.
pub struct Labels {
    /// The big transfer's size, for `{big}`.
    pub big: String,
    /// The Zipf workload, for `{zipf}`.
    pub zipf: String,
}

/// One figure's value.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Number(f64),
    Latency { p50_ms: f64, p99_ms: f64 },
    PerService(Vec<(String, f64)>),
}

impl Measurements {
    fn value(&self, figure: Figure) -> Option<Value> {
        let load = |endpoint: Endpoint| self.loads.get(&endpoint);
        let value = match figure {
            Figure::RequestsPerSecond(endpoint) => {
                Value::Number(load(endpoint)?.requests_per_second)
            }
            Figure::MegabytesPerSecond(endpoint) => Value::Number(
                load(endpoint)?.requests_per_second * endpoint.bytes_per_request()? as f64 / 1e6,
            ),
            Figure::Latency(endpoint) => {
                let report = load(endpoint)?;
                Value::Latency {
                    p50_ms: millis(report.p50),
                    p99_ms: millis(report.p99),
                }
            }
            Figure::ZipfHitRatio => Value::Number(self.zipf_hit_percent?),
            Figure::BigUpload => Value::Number(self.transfer?.upload_mb_per_s),
            Figure::BigDownload => Value::Number(self.transfer?.download_mb_per_s),
            Figure::S3Upload => Value::Number(self.s3_transfer?.upload_mb_per_s),
            Figure::S3Download => Value::Number(self.s3_transfer?.download_mb_per_s),
            Figure::PeakRss => Value::PerService(self.peak_rss.clone()),
        };
        Some(value)
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

impl Value {
    fn show(&self) -> String {
        match self {
            Value::Number(number) => format!("{number:.0}"),
            Value::Latency { p50_ms, p99_ms } => format!("{p50_ms:.2} / {p99_ms:.2}"),
            Value::PerService(values) => values
                .iter()
                .map(|(service, value)| format!("{service} {value:.1}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Value::Number(number) => Some(*number),
            _ => None,
        }
    }
}

impl Goal {
    /// The goal as the "target" column shows it.
    fn show(self, baseline: Option<Figure>) -> String {
        let baseline_server = baseline
            .and_then(Figure::endpoint)
            .map_or("baseline", Endpoint::server);
        match self {
            Goal::None => String::new(),
            Goal::RatioAtLeast(ratio) => format!("≥ {ratio}× {baseline_server}"),
            Goal::AtLeast(least) => format!("≥ {least}"),
            Goal::P99AtMostBaseline => format!("p99 ≤ {baseline_server}'s"),
            Goal::RssAboveCacheAtMost(most) => {
                format!("dist ≤ CACHE_SIZE + {most}, nodes ≤ {most}")
            }
        }
    }

    /// Whether `value` reaches the goal; `None` when there is no goal or
    /// nothing to judge.
    fn met(
        self,
        value: &Value,
        baseline: Option<&Value>,
        ratio: Option<f64>,
        cache_mib: f64,
    ) -> Option<bool> {
        match (self, value, baseline) {
            (Goal::None, _, _) => None,
            (Goal::RatioAtLeast(least), _, _) => ratio.map(|ratio| ratio >= least),
            (Goal::AtLeast(least), Value::Number(number), _) => Some(*number >= least),
            (
                Goal::P99AtMostBaseline,
                Value::Latency { p99_ms, .. },
                Some(Value::Latency {
                    p99_ms: baseline_p99_ms,
                    ..
                }),
            ) => Some(p99_ms <= baseline_p99_ms),
            (Goal::RssAboveCacheAtMost(most), Value::PerService(values), _) => {
                Some(values.iter().all(|(service, value)| {
                    let allowed = if service == "dist" {
                        cache_mib + most
                    } else {
                        most
                    };
                    *value <= allowed
                }))
            }
            _ => None,
        }
    }
}

/// The table: one line per target, a figure against its baseline, the
/// ratio, the goal and whether it was met.
pub fn table(targets: &[Target], measured: &Measurements, labels: &Labels) -> String {
    let mut table = String::from(
        "| row | figure | mini CDN | baseline | ratio | target | met |\n\
         |---|---|---:|---:|---:|---|---|\n",
    );
    for target in targets {
        let value = measured.value(target.figure);
        let baseline = target.baseline.and_then(|figure| {
            // The one baseline without a load is the native transfer's.
            let server = figure.endpoint().map_or("native", Endpoint::server);
            measured.value(figure).map(|value| (server, value))
        });
        let ratio = match (&value, &baseline) {
            (Some(value), Some((_, baseline))) => ratio(value, baseline),
            _ => None,
        };
        let met = value
            .as_ref()
            .and_then(|value| {
                let baseline = baseline.as_ref().map(|(_, baseline)| baseline);
                target.goal.met(value, baseline, ratio, measured.cache_mib)
            })
            .map_or("", |met| if met { "yes" } else { "no" });
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} | {} | {} | {} |",
            target
                .row
                .replace("{big}", &labels.big)
                .replace("{zipf}", &labels.zipf),
            target.figure.unit(),
            value.map_or_else(|| "-".into(), |value| value.show()),
            baseline.map_or_else(String::new, |(server, value)| format!(
                "{server}: {}",
                value.show()
            )),
            ratio.map_or_else(String::new, |ratio| format!("{ratio:.2}")),
            target.goal.show(target.baseline),
            met,
        );
    }
    table
}

fn ratio(value: &Value, baseline: &Value) -> Option<f64> {
    let (value, baseline) = (value.number()?, baseline.number()?);
    (baseline > 0.0).then(|| value / baseline)
}

/// How long each phase took, as a second small table.
pub fn timings(phases: &[(String, Duration)]) -> String {
    let mut table = String::from("| phase | seconds |\n|---|---:|\n");
    for (phase, took) in phases {
        let _ = writeln!(table, "| {phase} | {:.1} |", took.as_secs_f64());
    }
    let total: Duration = phases.iter().map(|(_, took)| *took).sum();
    let _ = writeln!(table, "| total | {:.1} |", total.as_secs_f64());
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::{Endpoint::*, TARGETS};

    fn load(requests_per_second: f64, p99_ms: u64) -> wrk::Report {
        wrk::Report {
            requests: 1000,
            requests_per_second,
            p50: Duration::from_millis(1),
            p99: Duration::from_millis(p99_ms),
            error_answers: 0,
            socket_errors: wrk::SocketErrors::default(),
        }
    }

    fn measurements() -> Measurements {
        Measurements {
            loads: HashMap::from([
                (DistSmall, load(30_000.0, 12)),
                (NginxSmall, load(60_000.0, 3)),
                (LimitSmall, load(40_000.0, 2)),
                (NodeSmall, load(54_000.0, 2)),
                (DistLarge, load(1000.0, 90)),
                (NginxLarge, load(4000.0, 20)),
                (DistUpload, load(1200.0, 50)),
                (DistZipf, load(20_000.0, 9)),
            ]),
            transfer: Some(Transfer {
                upload_mb_per_s: 300.0,
                download_mb_per_s: 600.0,
            }),
            s3_transfer: Some(Transfer {
                upload_mb_per_s: 150.0,
                download_mb_per_s: 300.0,
            }),
            peak_rss: vec![("dist".into(), 70.5), ("node1".into(), 10.0)],
            cache_mib: 32.0,
            zipf_hit_percent: Some(81.25),
        }
    }

    fn labels() -> Labels {
        Labels {
            big: "64MiB".into(),
            zipf: "10 objects".into(),
        }
    }

    /// The line of the table whose row and figure start as given.
    fn line<'a>(table: &'a str, start: &str) -> &'a str {
        table
            .lines()
            .find(|line| line.starts_with(start))
            .unwrap_or_else(|| panic!("no line starts with {start:?} in\n{table}"))
    }

    #[test]
    fn rows_show_ratios_goals_and_whether_they_were_met() {
        let table = table(TARGETS, &measurements(), &labels());
        assert_eq!(table.lines().count(), 2 + TARGETS.len());
        assert_eq!(
            line(&table, "| (a-hot) GET 4 KiB"),
            "| (a-hot) GET 4 KiB via distributor | req/s | 30000 | nginx: 60000 | 0.50 | ≥ 1× nginx | no |"
        );
        assert_eq!(
            line(&table, "| (a-hot) | p50"),
            "| (a-hot) | p50 / p99 ms | 1.00 / 12.00 | nginx: 1.00 / 3.00 |  | p99 ≤ nginx's | no |"
        );
        assert!(
            line(&table, "| (a-hot) against")
                .contains("| limit: 40000 | 0.75 | ≥ 0.7× limit | yes |")
        );
        // 1000 and 4000 answers of 1 MiB a second; the limit was not measured.
        assert!(
            line(&table, "| (c-hot) GET")
                .contains("| MB/s | 1049 | nginx: 4194 | 0.25 | ≥ 1× nginx | no |")
        );
        assert!(line(&table, "| (c-hot) against").ends_with("| 1049 |  |  | ≥ 0.7× limit |  |"));
        assert!(line(&table, "| (d) POST").contains("| uploads/s | 1200 |"));
        assert!(line(&table, "| (e) 64MiB upload").ends_with("| ≥ 500 | no |"));
        assert!(line(&table, "| (e) 64MiB download").ends_with("| ≥ 500 | yes |"));
        assert!(line(&table, "| (zipf) 10 objects").contains("| req/s | 20000 |"));
        assert!(line(&table, "| (zipf) cache hits").contains("| hit % | 81 |"));
        let rss = line(&table, "| peak RSS");
        assert!(rss.contains("| dist 70.5, node1 10.0 |"));
        // 70.5 is within 32 + 64 for the distributor.
        assert!(rss.ends_with("| dist ≤ CACHE_SIZE + 64, nodes ≤ 64 | yes |"));
    }

    #[test]
    fn a_node_past_its_memory_budget_misses_the_goal() {
        let mut measured = measurements();
        measured.peak_rss.push(("node2".into(), 65.0));
        let table = table(TARGETS, &measured, &labels());
        assert!(line(&table, "| peak RSS").ends_with("| no |"));
    }

    #[test]
    fn a_figure_not_measured_shows_a_dash_and_no_verdict() {
        let table = table(TARGETS, &Measurements::default(), &labels());
        let first = table.lines().nth(2).unwrap();
        assert_eq!(
            first,
            "| (a-hot) GET 4 KiB via distributor | req/s | - |  |  | ≥ 1× nginx |  |"
        );
    }
}
