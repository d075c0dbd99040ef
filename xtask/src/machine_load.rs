//! How busy the machine was around a benchmark.
//!
//! A benchmark that compares us with a baseline is only honest at rest: a
//! loaded machine once made burn look faster than PyTorch (the baseline
//! suffered more from the contention). Each benchmark therefore records the
//! load average before and after, and the CPU time that *other* processes
//! used while it ran (the machine's busy time from `/proc/stat` minus this
//! process's and its waited-for children's from `/proc/self/stat`), and
//! warns when either says the numbers are suspect.

use std::time::Instant;

/// `/proc` reports CPU times in USER_HZ ticks, which Linux fixes at 100 for
/// its user-space ABI (sysconf(_SC_CLK_TCK)).
const TICKS_PER_SECOND: f64 = 100.0;

/// A 1-minute load average above this fraction of the cores counts as busy
/// before a run starts.
const BUSY_LOAD_PER_CORE: f64 = 0.25;

/// Other processes using more than this fraction of all cores during the
/// run make its numbers suspect.
const BUSY_OTHERS_FRACTION: f64 = 0.05;

/// A snapshot taken when a benchmark starts.
pub struct Watch {
    started: Instant,
    load_before: Option<[f64; 3]>,
    machine_busy: Option<f64>,
    own: Option<f64>,
    cores: usize,
}

/// What happened on the machine while the benchmark ran.
pub struct Report {
    /// 1-, 5- and 15-minute load averages before the run.
    pub load_before: Option<[f64; 3]>,
    /// The same after the run (includes the run's own load).
    pub load_after: Option<[f64; 3]>,
    /// CPU seconds used by other processes during the run.
    pub others_cpu_seconds: Option<f64>,
    /// `others_cpu_seconds` as a fraction of all cores' time.
    pub others_fraction: Option<f64>,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
    /// Logical cores.
    pub cores: usize,
}

impl Watch {
    /// Records the state at the start and prints the load average, with a
    /// warning when the machine is not at rest.
    pub fn start() -> Watch {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let w = Watch {
            started: Instant::now(),
            load_before: load_average(),
            machine_busy: machine_busy_seconds(),
            own: own_cpu_seconds(),
            cores,
        };
        match w.load_before {
            Some(l) => {
                println!(
                    "load average before: {:.2} {:.2} {:.2} ({cores} cores)",
                    l[0], l[1], l[2]
                );
                if l[0] > BUSY_LOAD_PER_CORE * cores as f64 {
                    println!(
                        "warning: 1-minute load {:.2} on {cores} cores: something runs now or ran \
                         moments ago; the CPU time of other processes measured at the end says \
                         whether it disturbed this run",
                        l[0]
                    );
                }
            }
            None => println!("load average: not available on this system (no /proc/loadavg)"),
        }
        w
    }

    /// Measures what happened since [`Watch::start`] and prints it, with a
    /// warning when other processes competed for the CPU.
    pub fn finish(self) -> Report {
        let seconds = self.started.elapsed().as_secs_f64();
        let others = match (
            self.machine_busy,
            machine_busy_seconds(),
            self.own,
            own_cpu_seconds(),
        ) {
            (Some(b0), Some(b1), Some(o0), Some(o1)) => Some(((b1 - b0) - (o1 - o0)).max(0.0)),
            _ => None,
        };
        let report = Report {
            load_before: self.load_before,
            load_after: load_average(),
            others_fraction: others.map(|o| o / (seconds * self.cores as f64).max(1e-9)),
            others_cpu_seconds: others,
            seconds,
            cores: self.cores,
        };
        report.print();
        report
    }
}

impl Report {
    /// Whether the run's numbers should be distrusted: other processes
    /// took a noticeable share of the CPU while it ran (or, where that
    /// cannot be measured, the load was high when it started). The load
    /// average alone would also flag a build that ended just before.
    pub fn busy(&self) -> bool {
        match self.others_fraction {
            Some(f) => f > BUSY_OTHERS_FRACTION,
            None => self
                .load_before
                .is_some_and(|l| l[0] > BUSY_LOAD_PER_CORE * self.cores as f64),
        }
    }

    fn print(&self) {
        if let Some(l) = self.load_after {
            println!(
                "load average after: {:.2} {:.2} {:.2} (includes this benchmark's own load)",
                l[0], l[1], l[2]
            );
        }
        if let (Some(s), Some(f)) = (self.others_cpu_seconds, self.others_fraction) {
            println!(
                "other processes used {s:.1} CPU-s during the {:.0} s run ({:.1}% of {} cores)",
                self.seconds,
                100.0 * f,
                self.cores
            );
        }
        if self.busy() {
            println!(
                "warning: the machine was not at rest during this benchmark; do not quote these \
                 ratios (re-run when `uptime` shows a load near 0 and nothing else runs)"
            );
        }
    }
}

fn load_average() -> Option<[f64; 3]> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    parse_loadavg(&s)
}

fn parse_loadavg(s: &str) -> Option<[f64; 3]> {
    let mut it = s.split_whitespace().map(|x| x.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// Busy CPU seconds of the whole machine since boot (all but idle and
/// iowait; steal counts as busy: the hypervisor gave the time to others).
fn machine_busy_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    parse_stat_busy(&s)
}

fn parse_stat_busy(s: &str) -> Option<f64> {
    let line = s.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest is inside user).
    if v.len() < 8 {
        return None;
    }
    let busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    Some(busy as f64 / TICKS_PER_SECOND)
}

/// CPU seconds of this process and of its children that have been waited
/// for (the Python baselines).
fn own_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_self_stat(&s)
}

fn parse_self_stat(s: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces: fields count from after
    // its closing parenthesis, which starts at field 3 (state).
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime, stime, cutime, cstime are fields 14-17, i.e. 11-14 after state.
    let ticks: u64 = f
        .get(11..15)?
        .iter()
        .map(|x| x.parse::<u64>().ok())
        .sum::<Option<u64>>()?;
    Some(ticks as f64 / TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        assert_eq!(
            parse_loadavg("0.38 0.14 0.05 1/123 4567\n"),
            Some([0.38, 0.14, 0.05])
        );
        assert_eq!(parse_loadavg("garbage"), None);
        let stat = "cpu  100 20 30 9999 50 6 7 8 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
        assert_eq!(
            parse_stat_busy(stat),
            Some((100 + 20 + 30 + 6 + 7 + 8) as f64 / 100.0)
        );
        let me = "4242 (x task (1)) R 1 2 3 4 5 6 7 8 9 10 150 50 30 20 0 0 1 0";
        assert_eq!(parse_self_stat(me), Some(2.5));
    }

    #[test]
    fn busy_means_others_took_cpu() {
        let r = |load: f64, others: Option<f64>| Report {
            load_before: Some([load, load, load]),
            load_after: None,
            others_cpu_seconds: others.map(|f| f * 20.0),
            others_fraction: others,
            seconds: 10.0,
            cores: 2,
        };
        assert!(r(0.0, Some(0.2)).busy());
        // A build that ended just before leaves a load average but took
        // no CPU from the run.
        assert!(!r(3.0, Some(0.01)).busy());
        assert!(r(3.0, None).busy());
        assert!(!r(0.1, None).busy());
    }

    #[test]
    fn reads_this_machine() {
        // Linux CI and development machines have /proc; the values must
        // parse and move forward.
        if std::path::Path::new("/proc/stat").exists() {
            let a = machine_busy_seconds().unwrap();
            let o = own_cpu_seconds().unwrap();
            let mut x = 0u64;
            for i in 0..20_000_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            std::hint::black_box(x);
            assert!(machine_busy_seconds().unwrap() >= a);
            assert!(own_cpu_seconds().unwrap() >= o);
            assert!(load_average().is_some());
        }
    }
}
