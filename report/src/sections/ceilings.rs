//! Ceilings: for each model at the largest size, the limit it hit first, explained from the
//! data (errors by kind, starved connections, peak processes, threads and descriptors) against
//! the limits recorded in the environment section.

use super::{and_list, Ctx};
use crate::data::{CellRun, CellStatus, Environment};
use crate::doc::Block;
use crate::fmt;
use crate::measure::{self, largest_measured};
use lab_schema::LoaderLimit;

/// A peak this close to a limit counts as having reached it.
const NEAR: f64 = 0.9;

/// The first number of a limit as the environment records it (`1024`, `32768 60999`).
fn limit(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

/// Whether a server was still adding workers when the run ended: the most workers (processes or
/// threads, whichever is larger in a sample) over the second half of its samples above the most
/// over the first half. Returns (the first half's most, the second half's). A fixed pool, or one
/// that grew to its maximum early, is not growing: its workers are the limit.
fn still_growing(samples: &[lab_schema::Sample]) -> Option<(u64, u64)> {
    if samples.len() < 4 {
        return None;
    }
    let workers = |x: &lab_schema::Sample| x.processes.max(x.threads);
    let (first, second) = samples.split_at(samples.len() / 2);
    let before = first.iter().map(workers).max()?;
    let after = second.iter().map(workers).max()?;
    (after > before).then_some((before, after))
}

/// (the limit hit, where the figure comes from) for one measured cell.
fn ceiling(run: &CellRun, env: &Environment, conns: u64) -> (String, String) {
    let e = &run.load.errors;
    let s = &run.server;
    let svc = &run.load.service;
    let near =
        |peak: u64, lim: Option<f64>| lim.is_some_and(|l| l > 0.0 && peak as f64 >= NEAR * l);
    if e.connect_fd_limit > 0 {
        return (
            format!(
                "file descriptors of the load generator (RLIMIT_NOFILE {} / {})",
                env.open_files_soft, env.open_files_hard
            ),
            format!(
                "{} connects failed for want of a descriptor",
                e.connect_fd_limit
            ),
        );
    }
    if e.connect_port_limit > 0 {
        return (
            format!("local ports ({})", env.ip_local_port_range),
            format!("{} connects found no free port", e.connect_port_limit),
        );
    }
    if near(s.peak_fds, limit(&env.open_files_soft)) {
        return (
            format!(
                "the server's file descriptors (RLIMIT_NOFILE {})",
                env.open_files_soft
            ),
            format!("peak {} open descriptors", s.peak_fds),
        );
    }
    if near(s.peak_threads, limit(&env.threads_max)) {
        return (
            format!("threads (kernel.threads-max {})", env.threads_max),
            format!("peak {} threads", s.peak_threads),
        );
    }
    if near(s.peak_processes, limit(&env.pid_max)) {
        return (
            format!("processes (kernel.pid_max {})", env.pid_max),
            format!("peak {} processes", s.peak_processes),
        );
    }
    if env.memory_bytes > 0 && s.peak_pss_bytes as f64 >= 0.8 * env.memory_bytes as f64 {
        return (
            "memory".into(),
            format!(
                "peak PSS {} of {}",
                fmt::bytes(s.peak_pss_bytes as f64),
                fmt::bytes(env.memory_bytes as f64)
            ),
        );
    }
    if svc.starved > 0 {
        let served = format!(
            "{} of {} connections served, {} starved",
            fmt::thousands(svc.served as f64),
            fmt::thousands(conns as f64),
            fmt::thousands(svc.starved as f64)
        );
        if e.connect_timeout + e.connect_refused > 0 {
            return (
                format!("the listen backlog (somaxconn {})", env.somaxconn),
                format!(
                    "{served}; {} connects timed out, {} refused",
                    e.connect_timeout, e.connect_refused
                ),
            );
        }
        if !run.server_measured() {
            return (
                "its workers, probably: connections waited unserved".into(),
                format!("{served}; the server's processes and threads not measured"),
            );
        }
        if let Some((from, to)) = still_growing(&s.samples) {
            return (
                "its workers, still being added: every worker busy, the pool growing".into(),
                format!(
                    "{served}; its processes or threads rose from at most {from} in the first \
                     half of the samples to {to} in the second: the spare-worker ramp had not \
                     caught up (a longer --duration serves more)"
                ),
            );
        }
        return (
            "its workers: every worker busy with a connection".into(),
            format!(
                "{served}; peak {} processes, {} threads",
                s.peak_processes, s.peak_threads
            ),
        );
    }
    let share = measure::error_share(run);
    if share > measure::ERROR_LIMIT {
        return (
            "none of the system's limits; requests failed".into(),
            format!(
                "{} of attempts failed ({} timeouts, {} closed, {} read errors)",
                fmt::percent(share),
                e.timeout,
                e.closed,
                e.read
            ),
        );
    }
    if let Some(loader) = &run.load.loader {
        let busy = loader.describe().unwrap_or_default();
        match loader.limit() {
            Some(LoaderLimit::Generator) => {
                return (
                    "the load generator".into(),
                    format!(
                        "every connection served, but the load generator ran nearly all the \
                         time ({busy}): the server may have had more to give"
                    ),
                )
            }
            Some(LoaderLimit::SharedCpus) => {
                return (
                    "the CPUs, oversubscribed".into(),
                    format!(
                        "every connection served, but the load generator waited for a CPU much \
                         of the time ({busy}): the server and the generator (and any other work) \
                         shared too few CPUs"
                    ),
                )
            }
            None => {}
        }
    }
    if !run.server_measured() {
        return (
            "none seen by the load generator".into(),
            "every connection served; the server's processes, threads and descriptors not \
             measured (an external server whose process the lab did not know)"
                .into(),
        );
    }
    (
        "none".into(),
        format!(
            "every connection served; peak {} processes, {} threads, {} descriptors",
            s.peak_processes, s.peak_threads, s.peak_fds
        ),
    )
}

impl Ctx<'_> {
    /// A table in section 5: which limit each model hit first at the largest size.
    pub(super) fn ceilings(&mut self) {
        let env = self.s.plan.environment.clone();
        let mut rows = Vec::new();
        let mut lines = Vec::new();
        for (w, _) in self.workloads() {
            let Some(top) = self.sizes.last().copied() else {
                continue;
            };
            let mut limited: Vec<String> = Vec::new();
            for s in self.s.series_of(&w) {
                let (what, why) = match self.s.cell(&w, s, top) {
                    None => continue,
                    Some((cell, run)) => match (cell.status, run) {
                        (CellStatus::Ok, Some(_)) => {
                            // The run of median throughput, as the tables show.
                            let Some(run) = self.s.ok(&w, s, top) else {
                                continue;
                            };
                            ceiling(run, &env, top)
                        }
                        (CellStatus::Failed, _) => {
                            let reason = cell.reason_line().unwrap_or("").trim().to_string();
                            let what = if reason.contains("descriptor") || reason.contains("NOFILE")
                            {
                                format!("file descriptors (RLIMIT_NOFILE {})", env.open_files_soft)
                            } else if reason.contains("port") {
                                format!("local ports ({})", env.ip_local_port_range)
                            } else {
                                "unknown: the cell failed".into()
                            };
                            (what, reason)
                        }
                        _ => continue,
                    },
                };
                if what != "none" {
                    limited.push(format!("`{s}` ({what})"));
                }
                rows.push(vec![w.clone(), format!("`{s}`"), what, why]);
            }
            if largest_measured(self.s, &w).is_some() {
                lines.push(if limited.is_empty() {
                    format!(
                        "**{w}** at {} connections: no model hit a limit.",
                        fmt::thousands(top as f64)
                    )
                } else {
                    format!(
                        "**{w}** at {} connections: {}.",
                        fmt::thousands(top as f64),
                        and_list(&limited)
                    )
                });
            }
        }
        if rows.is_empty() {
            return;
        }
        self.push(Block::Subheading(
            "Ceilings: the limit each model hit first at the largest size".into(),
        ));
        self.para(
            "Read from the cell (first match wins): connects that failed for want of a descriptor \
             or a port; peaks of the server's descriptors, threads or processes within 10% of \
             RLIMIT_NOFILE, kernel.threads-max or kernel.pid_max; PSS above 80% of memory; \
             starved connections (with connect timeouts or refusals: the listen backlog; without: \
             every worker busy, and the pool still growing when its processes or threads kept \
             rising in the second half of the samples); more than 1% of attempts failing; a load \
             generator busy at least 90% of the measured time (on a CPU that much: the \
             generator; less, the rest waiting for a CPU: the CPUs, oversubscribed). The limits \
             are those of the environment section.",
        );
        self.push(Block::Table {
            head: ["workload", "model", "limit hit first", "from the data"]
                .map(String::from)
                .to_vec(),
            rows,
        });
        self.reading(lines);
    }
}

#[cfg(test)]
mod tests {
    use super::still_growing;
    use lab_schema::Sample;

    fn samples(workers: &[(u64, u64)]) -> Vec<Sample> {
        workers
            .iter()
            .enumerate()
            .map(|(i, &(processes, threads))| Sample {
                t_s: i as f64 * 0.2,
                processes,
                threads,
                ..Sample::default()
            })
            .collect()
    }

    #[test]
    fn a_pool_still_adding_workers_is_growing_and_a_fixed_one_is_not() {
        // process_pool's ramp: 5 workers, then 6, 8, 10 in the second half.
        let ramp = samples(&[(5, 5), (5, 5), (6, 6), (6, 6), (8, 8), (10, 10)]);
        assert_eq!(still_growing(&ramp), Some((6, 10)));
        // A fixed pool: 65 threads from the start.
        let fixed = samples(&[(1, 65); 8]);
        assert_eq!(still_growing(&fixed), None);
        // Grew early, then held: the maximum is the limit.
        let early = samples(&[(1, 1), (1, 150), (1, 150), (1, 150), (1, 150), (1, 150)]);
        assert_eq!(still_growing(&early), None);
        // Too few samples to tell.
        assert_eq!(still_growing(&samples(&[(1, 1), (2, 2)])), None);
    }
}
