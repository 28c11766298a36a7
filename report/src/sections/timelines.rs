//! Timelines: what happened second by second inside the cells at the largest size, from the
//! load generator's per-second timeline and the server's 200 ms `/proc` samples, so that warm-up,
//! stalls and a pool's growth (spare workers spawned 1, 2, 4 … per tick) are seen, not assumed.

use super::{ms, Ctx};
use crate::chart::{Line, Panel, XAxis};
use crate::data::CellRun;
use crate::fmt;
use crate::measure::largest_measured;

type Points = fn(&CellRun) -> Vec<(f64, f64)>;
/// A panel: title, y unit, log y, y label format, its points from a run.
type Spec = (&'static str, &'static str, bool, fn(f64) -> String, Points);

impl Ctx<'_> {
    pub(super) fn timelines(&mut self) {
        if self.s.plan.workloads.is_empty() {
            return;
        }
        self.section("timelines", "Timelines at the largest size");
        self.para(
            "Each cell at the largest connection count measured on its workload, second by \
             second: throughput and p99 of the responses completed in each second of the \
             measured run, and the connections open at its end (from the load generator); the \
             server's processes, threads and PSS from its `/proc` samples every 200 ms, timed from \
             the server's start (the warm-up included, so these run a little longer). With \
             `--repeat`, the run of median throughput.",
        );
        let panels_of: [Spec; 6] = [
            ("throughput", "req/s", false, fmt::thousands, |r| {
                r.load
                    .timeline
                    .iter()
                    .map(|s| (s.second as f64 + 1.0, s.requests as f64))
                    .collect()
            }),
            ("p99 per second", "ms", true, fmt::axis_ms, |r| {
                r.load
                    .timeline
                    .iter()
                    .filter(|s| s.requests > 0)
                    .map(|s| (s.second as f64 + 1.0, ms(s.p99_us as f64)))
                    .collect()
            }),
            (
                "open connections",
                "connections",
                false,
                fmt::axis_count,
                |r| {
                    r.load
                        .timeline
                        .iter()
                        .map(|s| (s.second as f64 + 1.0, s.open_conns as f64))
                        .collect()
                },
            ),
            (
                "server processes",
                "processes",
                true,
                fmt::axis_count,
                |r| {
                    r.server
                        .samples
                        .iter()
                        .map(|s| (s.t_s, s.processes as f64))
                        .collect()
                },
            ),
            ("server threads", "threads", true, fmt::axis_count, |r| {
                r.server
                    .samples
                    .iter()
                    .map(|s| (s.t_s, s.threads as f64))
                    .collect()
            }),
            ("server PSS", "MiB", false, fmt::axis_ms, |r| {
                r.server
                    .samples
                    .iter()
                    .map(|s| (s.t_s, s.pss_bytes as f64 / 1048576.0))
                    .collect()
            }),
        ];
        let mut lines = Vec::new();
        for (w, _) in self.workloads() {
            let Some(top) = largest_measured(self.s, &w) else {
                continue;
            };
            let series: Vec<&str> = self
                .s
                .series_of(&w)
                .into_iter()
                .filter(|s| self.s.ok(&w, s, top).is_some())
                .collect();
            let panels: Vec<Panel> = panels_of
                .iter()
                .map(|(title, y, log, f, points)| Panel {
                    title: format!("{w}: {title}"),
                    y_desc: y.to_string(),
                    y_log: *log,
                    y_fmt: *f,
                    x: XAxis::Seconds,
                    // Lines that coincide (open connections, one process) stay visible by their
                    // markers: each series has its own shape, placed at its own points.
                    lines: series
                        .iter()
                        .filter_map(|s| self.s.ok(&w, s, top).map(|r| (s, r)))
                        .map(|(s, r)| Line {
                            color: self.color(s),
                            points: points(r),
                            bars: Vec::new(),
                            dashed: false,
                        })
                        .collect(),
                })
                .collect();
            let legend = self.legend(&series);
            self.chart(
                &format!("timeline-{w}"),
                format!(
                    "Per-second timelines of workload {w} at {} connections: throughput, p99, open connections, server processes, threads and PSS",
                    fmt::thousands(top as f64)
                ),
                &panels,
                3,
                &legend,
            );
            // Growth of the process tree during the run: where a pool spawned workers.
            for s in &series {
                let Some(r) = self.s.ok(&w, s, top) else {
                    continue;
                };
                let samples = &r.server.samples;
                let (Some(first), Some(peak)) = (
                    samples.first(),
                    samples.iter().max_by_key(|x| (x.processes, x.threads)),
                ) else {
                    continue;
                };
                let grew = |a: u64, b: u64| b >= a.saturating_mul(2) && b >= a + 3;
                if grew(first.processes, peak.processes) || grew(first.threads, peak.threads) {
                    lines.push(format!(
                        "**{w}** `{s}`: from {} processes and {} threads at t={} s to {} and {} at t={} s.",
                        first.processes,
                        first.threads,
                        fmt::fixed(first.t_s, 1),
                        peak.processes,
                        peak.threads,
                        fmt::fixed(peak.t_s, 1)
                    ));
                }
                // A stall: a second with no response in the middle of the measured run.
                let tl = &r.load.timeline;
                if let Some(gap) = tl
                    .iter()
                    .skip(1)
                    .take(tl.len().saturating_sub(2))
                    .find(|x| x.requests == 0)
                {
                    lines.push(format!(
                        "**{w}** `{s}`: no response at all in second {} of the measured run.",
                        gap.second + 1
                    ));
                }
            }
        }
        self.reading(lines);
    }
}
