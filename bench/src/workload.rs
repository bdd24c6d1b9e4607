//! The loads that read many objects: the cold reads (each of many objects
//! once) and the Zipf workload (many objects, a few of them very popular),
//! as the wrk scripts that drive them.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};

use crate::wrk::THREADS;

/// The Zipf workload's shape.
#[derive(Clone, Copy, Debug)]
pub struct Zipf {
    pub objects: usize,
    pub smallest: usize,
    pub largest: usize,
    /// The exponent: the object of rank `k` is asked for in proportion to
    /// `1 / k^s`.
    pub s: f64,
}

impl Zipf {
    /// The issue's workload: 10,000 objects of 1–64 KiB, s = 1.0; a smoke
    /// run keeps the shape with a tenth of the objects.
    pub fn new(smoke: bool) -> Zipf {
        Zipf {
            objects: if smoke { 1_000 } else { 10_000 },
            smallest: 1024,
            largest: 64 * 1024,
            s: 1.0,
        }
    }

    /// Each object's size, in rank order (rank 1 first): uniform between
    /// the smallest and the largest, independent of popularity.
    pub fn sizes(&self) -> Vec<usize> {
        (0..self.objects)
            .map(|_| fastrand::usize(self.smallest..=self.largest))
            .collect()
    }

    /// How the table names it.
    pub fn label(&self) -> String {
        format!(
            "{} objects of {}–{} KiB, s = {}",
            self.objects,
            self.smallest / 1024,
            self.largest / 1024,
            self.s
        )
    }

    /// A wrk script that asks for `paths[k]` (rank `k + 1`) with Zipf
    /// probabilities. Each wrk thread draws from its own generator, seeded
    /// by its number, so two runs of the script (the distributor's and
    /// nginx's) ask for the same objects in the same order.
    pub fn script(&self, paths: &[String]) -> String {
        let mut script = lua_paths(paths);
        let _ = write!(
            script,
            r#"
local weights = {{}}
local total = 0
for rank = 1, #paths do
    total = total + 1 / rank ^ {s}
    weights[rank] = total
end

local threads_started = 0
function setup(thread)
    threads_started = threads_started + 1
    thread:set("thread_number", threads_started)
end

function init(args)
    math.randomseed(thread_number)
end

function request()
    local wanted = math.random() * total
    local low, high = 1, #paths
    while low < high do
        local middle = math.floor((low + high) / 2)
        if weights[middle] < wanted then low = middle + 1 else high = middle end
    end
    return wrk.format("GET", paths[low])
end
"#,
            s = self.s
        );
        script
    }
}

/// A wrk script that asks for each of `paths` once, the threads taking
/// turns, and stops each thread when it has asked for its share: every
/// request is a first read. (A thread may send a few more while it stops;
/// they ask for the last path again.)
///
/// wrk divides by its whole `--duration` even when every thread stopped
/// early, so the script times itself: each thread notes when it started
/// and when its last answer came, and `done` prints the answers and the
/// seconds between the first start and the last answer (see
/// [`each_once_rate`]).
pub fn each_once_script(paths: &[String]) -> String {
    let mut script = lua_paths(paths);
    let _ = write!(
        script,
        r#"
local ffi = require("ffi")
ffi.cdef[[
typedef struct {{ long tv_sec; long tv_nsec; }} bench_timespec;
int clock_gettime(int clock, bench_timespec *now);
]]
local clock = ffi.new("bench_timespec")
local function now()
    ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
    return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) / 1e9
end

local threads = {{}}
function setup(thread)
    table.insert(threads, thread)
    thread:set("thread_number", #threads)
end

local next_path
function init(args)
    next_path = thread_number
    started = now()
    answered = 0
    last_answer = started
end

function request()
    local path = paths[next_path]
    if path == nil then
        wrk.thread:stop()
        path = paths[#paths]
    end
    next_path = next_path + {THREADS}
    return wrk.format("GET", path)
end

function response(status, headers, body)
    answered = answered + 1
    last_answer = now()
end

function done(summary, latency, requests)
    local first, last, total = math.huge, 0, 0
    for _, thread in ipairs(threads) do
        first = math.min(first, thread:get("started"))
        last = math.max(last, thread:get("last_answer"))
        total = total + thread:get("answered")
    end
    io.write(string.format("{EACH_ONCE_MARK} %d answers in %.6f s\n", total, last - first))
end
"#
    );
    script
}

/// What starts the line [`each_once_script`] prints.
const EACH_ONCE_MARK: &str = "each once:";

/// Answers per second of an [`each_once_script`] run, from wrk's output.
pub fn each_once_rate(wrk_output: &str) -> anyhow::Result<f64> {
    let line = wrk_output
        .lines()
        .find_map(|line| line.strip_prefix(EACH_ONCE_MARK))
        .context("the script printed no timing")?;
    let mut words = line.split_whitespace();
    let answers: f64 = words.next().context("no answer count")?.parse()?;
    let seconds: f64 = words.nth(2).context("no seconds")?.parse()?;
    ensure!(seconds > 0.0, "no time passed: {line:?}");
    Ok(answers / seconds)
}

/// `paths` as a Lua table named `paths`.
fn lua_paths(paths: &[String]) -> String {
    let mut script = String::from("paths = {\n");
    for path in paths {
        // Paths are made here (ids, numbers): nothing to escape but quotes.
        let _ = writeln!(script, "    {:?},", path);
    }
    script.push_str("}\n");
    script
}

/// Writes a script into the working directory; returns its path.
pub fn save(work: &Path, name: &str, script: &str) -> anyhow::Result<PathBuf> {
    let path = work.join(name);
    std::fs::write(&path, script)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_stay_within_bounds() {
        let zipf = Zipf::new(true);
        let sizes = zipf.sizes();
        assert_eq!(sizes.len(), zipf.objects);
        assert!(sizes.iter().all(|&size| (1024..=64 * 1024).contains(&size)));
    }

    #[test]
    fn scripts_list_every_path_in_order() {
        let paths = vec!["/content/a/data".to_owned(), "/content/b/data".to_owned()];
        let zipf = Zipf::new(true).script(&paths);
        assert!(
            zipf.starts_with("paths = {\n    \"/content/a/data\",\n    \"/content/b/data\",\n}\n")
        );
        assert!(zipf.contains("1 / rank ^ 1"));
        let once = each_once_script(&paths);
        assert!(once.contains(&format!("next_path = next_path + {THREADS}")));
        assert!(once.contains(EACH_ONCE_MARK));
    }

    #[test]
    fn the_each_once_rate_is_read_from_the_scripts_line() {
        let output =
            "Running 2s test @ http://x\n  2 threads\neach once: 500 answers in 0.250000 s\n";
        assert_eq!(each_once_rate(output).unwrap(), 2000.0);
        assert!(each_once_rate("Requests/sec: 1.0\n").is_err());
        assert!(each_once_rate("each once: 5 answers in 0.000000 s\n").is_err());
    }
}
