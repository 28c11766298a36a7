//! Sections 1 and 2: throughput and latency against connections, and the percentile spectrum.

use super::*;

impl Ctx<'_> {
    pub(super) fn throughput(&mut self) {
        self.section("throughput", "1. Throughput against concurrent connections");
        self.para(
            "Responses per second in the measured part of each run (any status), against the \
             number of keep-alive connections held open by the load generator (log scale).",
        );
        let mut panels = Vec::new();
        let mut lines = Vec::new();
        let all = self.all_series();
        for (w, path) in self.workloads() {
            let series = self.s.series_of(&w);
            panels.push(self.conns_panel(
                format!("{w} (GET {path})"),
                ("requests/s", false, fmt::thousands),
                &w,
                &series,
                |r| Some(r.load.throughput_rps),
            ));
            lines.extend(self.throughput_reading(&w));
        }
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let legend = self.legend(&all);
        self.chart(
            "throughput",
            "Throughput against connections, one panel per workload".into(),
            &panels,
            2,
            &legend,
        );
        self.reading(lines);
        let table = self.size_table("conns", |r| fmt::thousands(r.load.throughput_rps));
        self.push(table);
    }

    fn throughput_reading(&self, w: &str) -> Vec<String> {
        let mut lines = Vec::new();
        let Some(top) = largest_measured(self.s, w) else {
            return lines;
        };
        let rank = ranking(self.s, w, top, |r| r.load.throughput_rps);
        match rank.as_slice() {
            [] => {}
            [(only, v)] => lines.push(format!(
                "**{w}**: only `{only}` was measured at {} connections: {} req/s.",
                fmt::thousands(top as f64),
                fmt::thousands(*v)
            )),
            [(a, va), (b, vb), ..] => {
                let mut line = format!(
                    "**{w}**: at {} connections `{a}` led with {} req/s, {} the next, `{b}` ({} req/s)",
                    fmt::thousands(top as f64),
                    fmt::thousands(*va),
                    fmt::times(va / vb.max(1e-9)),
                    fmt::thousands(*vb)
                );
                if rank.len() > 2 {
                    let (z, vz) = &rank[rank.len() - 1];
                    line.push_str(&format!(
                        "; the slowest was `{z}` with {} req/s",
                        fmt::thousands(*vz)
                    ));
                }
                line.push('.');
                lines.push(line);
            }
        }
        if let Some(&small) = self.sizes.first() {
            if small != top {
                let r0 = ranking(self.s, w, small, |r| r.load.throughput_rps);
                if let (Some((l0, v0)), Some((l1, _))) = (r0.first(), rank.first()) {
                    if l0 != l1 {
                        lines.push(format!(
                            "At {} connections the leader was `{l0}` instead ({} req/s).",
                            fmt::thousands(small as f64),
                            fmt::thousands(*v0)
                        ));
                    }
                }
            }
        }
        for s in self.s.series_of(w) {
            let pts = curve(self.s, w, s, |r| Some(r.load.throughput_rps));
            // Where the curve broke: the largest fall from one size to the next.
            let worst = pts
                .windows(2)
                .map(|p| (p[0], p[1], p[1].1 / p[0].1.max(1e-9)))
                .min_by(|a, b| a.2.total_cmp(&b.2));
            if let Some((a, b, ratio)) = worst {
                if ratio < 0.75 {
                    lines.push(format!(
                        "`{s}` broke between {} and {} connections: {} → {} req/s ({} lower).",
                        fmt::thousands(a.0),
                        fmt::thousands(b.0),
                        fmt::thousands(a.1),
                        fmt::thousands(b.1),
                        fmt::percent(1.0 - ratio)
                    ));
                }
            }
            let failed: Vec<String> = self
                .sizes
                .iter()
                .filter(|&&c| {
                    self.s
                        .cell(w, s, c)
                        .is_some_and(|(cell, _)| cell.status == CellStatus::Failed)
                })
                .map(|&c| fmt::thousands(c as f64))
                .collect();
            if !failed.is_empty() {
                lines.push(format!(
                    "`{s}` failed at {} connections (no measurement; see section 5).",
                    and_list(&failed)
                ));
            }
        }
        lines
    }

    pub(super) fn latency(&mut self) {
        self.section("latency", "2. Latency against connections");
        self.para(
            "Latency of each response, from sending the request to the last byte of the answer \
             (closed loop: a connection sends its next request when the previous answer arrived). \
             Percentiles come from the run's HDR histogram (3 significant figures). Log scales.",
        );
        let workloads = self.workloads();
        for (w, path) in &workloads {
            let series = self.s.series_of(w);
            type Pick = fn(&CellRun) -> Option<f64>;
            let picks: [(&str, Pick); 3] = [
                ("p50", |r| Some(ms(r.load.latency_us.p50 as f64))),
                ("p99", |r| Some(ms(r.load.latency_us.p99 as f64))),
                ("p99.9", |r| Some(ms(r.load.latency_us.p999 as f64))),
            ];
            let panels: Vec<Panel> = picks
                .iter()
                .map(|(name, pick)| {
                    self.conns_panel(
                        format!("{w}: {name}"),
                        ("ms", true, fmt::axis_ms),
                        w,
                        &series,
                        *pick,
                    )
                })
                .collect();
            let legend = self.legend(&series);
            self.push(Block::Subheading(format!("{w} (`GET {path}`)")));
            self.chart(
                &format!("latency-{w}"),
                format!("Latency p50, p99 and p99.9 against connections, workload {w}"),
                &panels,
                3,
                &legend,
            );
            let lines = self.latency_reading(w);
            self.reading(lines);
        }
        let table = self.size_table("conns p50 / p99 / p99.9", |r| {
            let l = &r.load.latency_us;
            format!(
                "{} / {} / {}",
                fmt::latency_us(l.p50 as f64),
                fmt::latency_us(l.p99 as f64),
                fmt::latency_us(l.p999 as f64)
            )
        });
        self.push(table);
        self.spectrum();
    }

    fn latency_reading(&self, w: &str) -> Vec<String> {
        let mut lines = Vec::new();
        let Some(top) = largest_measured(self.s, w) else {
            return lines;
        };
        let mut rank = ranking(self.s, w, top, |r| r.load.latency_us.p99 as f64);
        // A cell with no answer has no latency to compare.
        rank.retain(|(s, _)| self.s.ok(w, s, top).is_some_and(|r| r.load.requests > 0));
        // A fast p99 over a few answered requests, with the rest timed out, is no win: say so.
        let caveat = |series: &str| {
            self.s
                .ok(w, series, top)
                .map(measure::error_share)
                .filter(|share| *share > 0.01)
                .map(|share| {
                    format!(
                        ", but {} of its attempts were errors, which are not timed",
                        fmt::percent(share)
                    )
                })
                .unwrap_or_default()
        };
        if let (Some((worst, vw)), Some((best, vb))) = (rank.first(), rank.last()) {
            if rank.len() > 1 {
                lines.push(format!(
                    "At {} connections p99 ranged from {} (`{best}`{}) to {} (`{worst}`{}), {} apart.",
                    fmt::thousands(top as f64),
                    fmt::latency_us(*vb),
                    caveat(best),
                    fmt::latency_us(*vw),
                    caveat(worst),
                    fmt::times(vw / vb.max(1.0))
                ));
            } else {
                lines.push(format!(
                    "At {} connections `{best}`'s p99 was {}.",
                    fmt::thousands(top as f64),
                    fmt::latency_us(*vb)
                ));
            }
        }
        for s in self.s.series_of(w) {
            let pts = curve(self.s, w, s, |r| Some(r.load.latency_us.p99 as f64));
            let jump = pts
                .windows(2)
                .map(|p| (p[0], p[1], p[1].1 / p[0].1.max(1.0)))
                .max_by(|a, b| a.2.total_cmp(&b.2));
            if let Some((a, b, ratio)) = jump {
                if ratio >= 5.0 {
                    lines.push(format!(
                        "`{s}`'s p99 grew {} from {} to {} connections ({} → {}).",
                        fmt::times(ratio),
                        fmt::thousands(a.0),
                        fmt::thousands(b.0),
                        fmt::latency_us(a.1),
                        fmt::latency_us(b.1)
                    ));
                }
            }
        }
        lines
    }

    fn spectrum(&mut self) {
        self.push(Block::Subheading(
            "Percentile spectrum at the largest size".into(),
        ));
        self.para(
            "The whole latency distribution of the largest measured cell of each workload, HDR \
             style: the x axis stretches the tail (90%, 99%, 99.9%, …) so that the slowest \
             requests, invisible in an average, get the room they deserve.",
        );
        let mut panels = Vec::new();
        let mut lines = Vec::new();
        let mut shown: Vec<&str> = Vec::new();
        for (w, _) in self.workloads() {
            let Some(top) = largest_measured(self.s, &w) else {
                continue;
            };
            let mut tails = Vec::new();
            let mut panel_lines = Vec::new();
            for s in self.s.series_of(&w) {
                let Some(run) = self.s.ok(&w, s, top) else {
                    continue;
                };
                let Some(h) = lab_schema::decode_histogram(&run.load.histogram) else {
                    continue;
                };
                if h.is_empty() {
                    continue;
                }
                if !shown.contains(&s) {
                    shown.push(s);
                }
                let max_x = (h.len() as f64).log10();
                let points: Vec<(f64, f64)> = h
                    .iter_quantiles(4)
                    .map(|v| (v.quantile_iterated_to(), v.value_iterated_to() as f64))
                    .filter(|(q, _)| *q < 1.0)
                    .map(|(q, v)| ((1.0 / (1.0 - q)).log10().min(max_x), v / 1000.0))
                    .collect();
                let p50 = h.value_at_quantile(0.5) as f64;
                let p999 = h.value_at_quantile(0.999) as f64;
                tails.push((s.to_string(), p999 / p50.max(1.0), p50, p999));
                panel_lines.push(Line {
                    color: self.color(s),
                    points,
                    dashed: false,
                });
            }
            tails.sort_by(|a, b| b.1.total_cmp(&a.1));
            if let (Some(steep), Some(flat)) = (tails.first(), tails.last()) {
                let mut line = format!(
                    "**{w}** at {} connections: the steepest tail was `{}`'s (p99.9 {} = {} its median {})",
                    fmt::thousands(top as f64),
                    steep.0,
                    fmt::latency_us(steep.3),
                    fmt::times(steep.1),
                    fmt::latency_us(steep.2)
                );
                if tails.len() > 1 {
                    line.push_str(&format!(
                        ", the flattest `{}`'s ({})",
                        flat.0,
                        fmt::times(flat.1)
                    ));
                }
                line.push('.');
                lines.push(line);
            }
            panels.push(Panel {
                title: format!("{w} at {} connections", fmt::thousands(top as f64)),
                y_desc: "ms".into(),
                y_log: true,
                y_fmt: fmt::axis_ms,
                x: XAxis::Percentile,
                lines: panel_lines,
            });
        }
        let legend = self.legend(&shown);
        self.chart(
            "spectrum",
            "Latency percentile spectrum at the largest size, one panel per workload".into(),
            &panels,
            2,
            &legend,
        );
        self.reading(lines);
    }
}
