//! Sections 1 and 2: throughput and latency against connections, and the percentile spectrum.

use super::*;

impl Ctx<'_> {
    pub(super) fn throughput(&mut self) {
        self.section("throughput", "1. Throughput against concurrent connections");
        self.para(
            "Responses per second in the measured part of each run (any status), against the \
             number of keep-alive connections held open by the load generator (log scale; the \
             requests too where they span decades, as the axis says).",
        );
        let mut panels = Vec::new();
        let mut lines = Vec::new();
        let all = self.all_series();
        for (w, path) in self.workloads() {
            let series = self.s.series_of(&w);
            panels.push(self.conns_panel(
                format!("{w} (GET {path})"),
                ("requests/s", true, fmt::thousands),
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
        let table = self.size_table("conns", |w, s, c| {
            self.fig(w, s, c, |r| Some(r.load.throughput_rps), fmt::thousands)
        });
        self.push(table);
        self.intervals(
            "requests/s",
            |r| Some(r.load.throughput_rps),
            fmt::thousands,
        );
    }

    /// With 3 runs or more per cell: a table of each cell's bootstrap 95% interval of the median
    /// of `value`, the interval the readings compare to call a lead or a tie.
    fn intervals(
        &mut self,
        what: &str,
        value: impl Fn(&CellRun) -> Option<f64> + Copy,
        f: fn(f64) -> String,
    ) {
        if self.s.plan.repeat < 3 {
            return;
        }
        self.para(format!(
            "Bootstrap 95% intervals of the median {what} (2,000 resamples of the runs, seeded \
             from each cell's name): two results whose intervals overlap are a tie. With three runs \
             the interval is nearly the min–max of the runs; more runs (`--repeat`) narrow it."
        ));
        let table = self.size_table(
            "conns: median [95% interval]",
            |w, s, c| match measure::spread(self.s, w, s, c, value) {
                Some(v) => match v.ci {
                    Some((lo, hi)) => format!("{} [{}, {}]", f(v.median), f(lo), f(hi)),
                    None => format!("{} (runs: {})", f(v.median), v.n),
                },
                None => "n/a".into(),
            },
        );
        self.push(table);
    }

    fn throughput_reading(&self, w: &str) -> Vec<String> {
        let mut lines = Vec::new();
        let Some(top) = largest_measured(self.s, w) else {
            return lines;
        };
        lines.extend(self.leaders(w, top, |r| Some(r.load.throughput_rps), "req/s"));
        lines.extend(self.generator_bound(w, top));
        let rank = ranking(self.s, w, top, |r| r.load.throughput_rps);
        if let Some(&small) = self.sizes.first() {
            if small != top && !rank.is_empty() {
                lines.extend(self.leaders(w, small, |r| Some(r.load.throughput_rps), "req/s"));
                lines.extend(self.generator_bound(w, small));
            }
        }
        for s in self.s.series_of(w) {
            let pts = curve(self.s, w, s, |r| Some(r.load.throughput_rps));
            // Where the curve broke: the largest fall from one size to the next.
            let worst = pts
                .windows(2)
                .filter(|p| p[0].1 > 0.0)
                .map(|p| (p[0], p[1], p[1].1 / p[0].1))
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
            let picks = LATENCY_PICKS;
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
        let table = self.size_table("conns p50 / p99 / p99.9", |w, s, c| {
            type Pick = fn(&CellRun) -> u64;
            let picks: [Pick; 3] = [
                |r| r.load.latency_us.p50,
                |r| r.load.latency_us.p99,
                |r| r.load.latency_us.p999,
            ];
            picks
                .iter()
                .map(|pick| {
                    self.fig(
                        w,
                        s,
                        c,
                        |r| measure::answered(r).map(|r| pick(r) as f64),
                        fmt::latency_us,
                    )
                })
                .collect::<Vec<_>>()
                .join(" / ")
        });
        self.push(table);
        self.intervals(
            "p99",
            |r| measure::answered(r).map(|r| r.load.latency_us.p99 as f64),
            fmt::latency_us,
        );
        self.spectrum();
    }

    fn latency_reading(&self, w: &str) -> Vec<String> {
        let mut lines = Vec::new();
        let Some(top) = largest_measured(self.s, w) else {
            return lines;
        };
        let at = fmt::thousands(top as f64);
        let rank = measure::ranked(self.s, w, top, |r| {
            measure::answered(r).map(|r| r.load.latency_us.p99 as f64)
        });
        // A fast p99 over the few requests that were answered, with the rest starved or timed
        // out, is no win: such cells are named with what they failed to do, never as the best.
        let (ok, troubled): (Vec<_>, Vec<_>) = rank
            .into_iter()
            .partition(|(s, _)| measure::trouble(self.s, w, s, top).is_none());
        if let (Some((worst, vw)), Some((best, vb))) = (ok.first(), ok.last()) {
            if ok.len() > 1 {
                let spread = if vb.ties(vw, measure::SINGLE_RUN_NOISE) {
                    "within the run-to-run noise of each other".to_string()
                } else {
                    format!("{} apart", fmt::ratio(vw.median, vb.median))
                };
                lines.push(format!(
                    "At {at} connections, among the models that served every connection, p99 ranged from {} (`{best}`) to {} (`{worst}`), {spread}.",
                    fmt::latency_us(vb.median),
                    fmt::latency_us(vw.median),
                ));
            } else {
                lines.push(format!(
                    "At {at} connections `{best}` was the only model to serve every connection; its p99 was {}.",
                    fmt::latency_us(vb.median)
                ));
            }
        }
        for (s, v) in troubled {
            if let Some(what) = measure::trouble(self.s, w, &s, top) {
                lines.push(format!(
                    "`{s}`'s p99 at {at} connections, {}, times only the requests it answered: it {what}.",
                    fmt::latency_us(v.median)
                ));
            }
        }
        for s in self.s.series_of(w) {
            let pts = curve(self.s, w, s, |r| {
                measure::answered(r).map(|r| r.load.latency_us.p99 as f64)
            });
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
                // The flattest tail is a win only for a model that served every connection.
                if measure::trouble(self.s, &w, s, top).is_none() {
                    tails.push((s.to_string(), p999 / p50.max(1.0), p50, p999));
                }
                panel_lines.push(Line {
                    color: self.color(s),
                    points,
                    bars: Vec::new(),
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
