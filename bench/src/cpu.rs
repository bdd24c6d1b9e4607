//! CPU time a server spends, read from `/proc`, so each load can say how
//! much CPU one request cost: the figure that decides how far a server can
//! go on a machine, whatever else shares it.

use std::time::Duration;

/// User plus system CPU time of `pid` and of its child processes that are
/// still running (nginx's workers), from `/proc/PID/stat`.
pub fn of_process_tree(pid: u32) -> Duration {
    let mut total = of_process(pid);
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    for child in children
        .split_whitespace()
        .filter_map(|pid| pid.parse().ok())
    {
        total += of_process(child);
    }
    total
}

/// User plus system CPU time of `pid` (all its threads); zero when it
/// cannot be read.
fn of_process(pid: u32) -> Duration {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| parse_stat(&stat))
        .unwrap_or_default()
}

/// `utime + stime` of a `/proc/PID/stat` line, in clock ticks of 1/100 s
/// (Linux's `USER_HZ` on every architecture it runs on).
fn parse_stat(stat: &str) -> Option<Duration> {
    // The command name is in parentheses and may hold spaces: count the
    // fields after its closing one. utime and stime are fields 14 and 15.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utime_and_stime_are_summed() {
        let stat = "1234 (tokio rt) S 1 1234 1234 0 -1 4194560 500 0 0 0 150 25 0 0 20 0 4 0";
        assert_eq!(parse_stat(stat), Some(Duration::from_millis(1750)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_has_spent_some_cpu() {
        let busy: u64 = (0..5_000_000u64).map(|n| n ^ (n >> 3)).sum();
        assert!(busy > 0);
        assert!(of_process_tree(std::process::id()) > Duration::ZERO);
    }
}
