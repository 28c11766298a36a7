//! Sections 3 and 4: memory, and processes, threads, CPU time and context switches.

use super::*;

/// What a table shows for the server of an `--external` series whose process was not known.
const NOT_MEASURED: &str = "not measured";

impl Ctx<'_> {
    /// A reading's line naming the external servers whose memory and CPU were not measured.
    fn unmeasured_line(&self) -> Option<String> {
        let names: Vec<String> = self
            .s
            .unmeasured()
            .iter()
            .map(|n| format!("`{n}`"))
            .collect();
        (!names.is_empty()).then(|| {
            format!(
                "Not measured: {} (an external server whose process the lab did not know; \
                 `--external-pid` or `--external-cmd` measures it).",
                and_list(&names)
            )
        })
    }
}

impl Ctx<'_> {
    pub(super) fn memory(&mut self) {
        self.section("memory", "3. Server memory against connections");
        self.para(
            "Peak PSS of the server's whole process tree (proportional set size: a page shared by \
             N processes counts 1/N in each, so forked workers are not charged N times for shared \
             code). The fitted memory per connection is the least-squares slope of peak PSS over \
             the connection counts measured; the intercept is the memory of the idle server.",
        );
        let mut panels = Vec::new();
        let all = self.all_series();
        let mut rows = Vec::new();
        let mut lines = Vec::new();
        for (w, _) in self.workloads() {
            let (series, unmeasured): (Vec<&str>, Vec<&str>) = self
                .s
                .series_of(&w)
                .into_iter()
                .partition(|s| self.s.server_measured(s));
            for s in &unmeasured {
                rows.push(vec![
                    w.clone(),
                    format!("`{s}`"),
                    NOT_MEASURED.into(),
                    NOT_MEASURED.into(),
                    NOT_MEASURED.into(),
                    "—".into(),
                ]);
            }
            panels.push(self.conns_panel(
                format!("{w}: peak PSS"),
                ("MiB", true, fmt::axis_ms),
                &w,
                &series,
                |r| Some(r.server.peak_pss_bytes as f64 / 1048576.0),
            ));
            let mut slopes = Vec::new();
            let mut too_small = Vec::new();
            // A model that did not hold every connection open (the rest waited in the listen
            // backlog, or failed) did not pay for them: its slope is not memory per connection.
            let mut not_held = Vec::new();
            for s in &series {
                let pss = bands(self.s, &w, s, |r| Some(r.server.peak_pss_bytes as f64));
                let pts: Vec<(f64, f64)> = pss.iter().map(|(c, v)| (*c, v.median)).collect();
                let top = pss.last();
                let fitted = fit(&pts);
                // The fit's growth over the measured range is real only if it is positive and
                // larger than the noise: the spread of repeated runs, and at least 2% of the peak
                // (a single run's scatter), whichever is more.
                let noise = pss
                    .iter()
                    .map(|(_, v)| (v.max - v.min).max(0.02 * v.median))
                    .fold(0.0, f64::max);
                let span = pts.last().map_or(0.0, |p| p.0) - pts.first().map_or(0.0, |p| p.0);
                let measurable = fitted.filter(|f| f.0 > 0.0 && f.0 * span > noise);
                rows.push(vec![
                    w.clone(),
                    format!("`{s}`"),
                    match (fitted, measurable) {
                        (None, _) => "n/a".into(),
                        (Some(_), None) => "too small to measure at this scale".into(),
                        (_, Some(f)) => fmt::bytes(f.0),
                    },
                    fitted.map_or("n/a".into(), |f| fmt::bytes(f.1.max(0.0))),
                    top.map_or("n/a".into(), |(c, v)| {
                        format!("{} at {}", fmt::spread(v, fmt::bytes), fmt::thousands(*c))
                    }),
                    pts.len().to_string(),
                ]);
                // Held every connection open *and* served each one: a connection in the listen
                // backlog is open at the TCP level but costs the server nothing.
                let held = curve(self.s, &w, s, |r| {
                    Some(f64::from(u8::from(
                        r.load.connections.peak_open >= r.load.conns as u64
                            && r.load.service.starved == 0,
                    )))
                });
                let held_all = !held.is_empty() && held.iter().all(|&(_, h)| h >= 1.0);
                match (fitted, measurable) {
                    (Some(_), Some((slope, _))) if held_all => slopes.push((s.to_string(), slope)),
                    (Some(_), None) if held_all => too_small.push(format!("`{s}`")),
                    _ => not_held.push(format!("`{s}`")),
                }
            }
            slopes.sort_by(|a, b| b.1.total_cmp(&a.1));
            if let (Some(hi), Some(lo)) = (slopes.first(), slopes.last()) {
                if slopes.len() > 1 {
                    lines.push(format!(
                        "**{w}**: `{}` cost the most per connection, {} (fitted), and `{}` the least, {}: {} as much.",
                        hi.0,
                        fmt::bytes(hi.1),
                        lo.0,
                        fmt::bytes(lo.1),
                        fmt::ratio(hi.1, lo.1)
                    ));
                } else {
                    lines.push(format!(
                        "**{w}**: `{}` cost {} per connection (fitted).",
                        hi.0,
                        fmt::bytes(hi.1)
                    ));
                }
            }
            if !too_small.is_empty() {
                lines.push(format!(
                    "**{w}**: memory per connection too small to measure at this scale (the fitted growth was negative or within the noise of peak PSS): {}.",
                    too_small.join(", ")
                ));
            }
            if !not_held.is_empty() {
                lines.push(format!(
                    "**{w}**: not compared per connection, because they did not serve every connection (the others waited in the backlog or failed, costing the server nothing): {}.",
                    not_held.join(", ")
                ));
            }
        }
        if let Some(line) = self.unmeasured_line() {
            lines.push(line);
        }
        let all: Vec<&str> = all
            .iter()
            .map(String::as_str)
            .filter(|s| self.s.server_measured(s))
            .collect();
        let legend = self.legend(&all);
        self.chart(
            "memory",
            "Peak server PSS against connections, one panel per workload".into(),
            &panels,
            2,
            &legend,
        );
        self.reading(lines);
        self.push(Block::Table {
            head: [
                "workload",
                "model",
                "per connection (fitted)",
                "idle server (intercept)",
                "peak PSS at the largest size",
                "sizes fitted",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        });
    }

    pub(super) fn costs(&mut self) {
        self.section(
            "costs",
            "4. Processes, threads, CPU time and context switches",
        );
        self.para(
            "Peaks of processes and threads in the server's tree, and its CPU time (user + \
             system) and context switches per request. CPU time is the kernel's own total for the \
             whole tree (`getrusage(RUSAGE_CHILDREN)` after `lab run` waited for the server, which \
             reaped every child it forked), exact to the microsecond. Totals cover the whole run \
             (warm-up included), so they are divided by the measured rate times the sampled time.",
        );
        let mut panels = Vec::new();
        let all = self.all_series();
        for (w, _) in self.workloads() {
            let series = self.s.series_of(&w);
            panels.push(self.conns_panel(
                format!("{w}: CPU per request"),
                ("µs", true, fmt::axis_ms),
                &w,
                &series,
                measure::cpu_us_per_request,
            ));
        }
        if let Some((w, _)) = self.workloads().first() {
            let series = self.s.series_of(w);
            let mut threads = self.conns_panel(
                format!("{w}: peak threads (solid), processes (dashed)"),
                ("count", true, fmt::thousands),
                w,
                &series,
                |r| r.server_measured().then_some(r.server.peak_threads as f64),
            );
            for s in &series {
                threads.lines.push(Line {
                    color: self.color(s),
                    points: curve(self.s, w, s, |r| {
                        r.server_measured()
                            .then_some(r.server.peak_processes as f64)
                    }),
                    bars: Vec::new(),
                    dashed: true,
                });
            }
            panels.push(threads);
        }
        let all: Vec<&str> = all
            .iter()
            .map(String::as_str)
            .filter(|s| self.s.server_measured(s))
            .collect();
        let legend = self.legend(&all);
        self.chart(
            "costs",
            "CPU time per request per workload, and threads and processes".into(),
            &panels,
            2,
            &legend,
        );
        let mut lines = Vec::new();
        for (w, _) in self.workloads() {
            let Some(top) = largest_measured(self.s, &w) else {
                continue;
            };
            let threads: Vec<_> = ranking(self.s, &w, top, |r| {
                if r.server_measured() {
                    r.server.peak_threads as f64
                } else {
                    f64::NAN
                }
            })
            .into_iter()
            .filter(|t| t.1.is_finite())
            .collect();
            if let (Some(hi), Some(lo)) = (threads.first(), threads.last()) {
                if threads.len() > 1 {
                    lines.push(format!(
                        "**{w}** at {} connections: `{}` ran {} threads, `{}` {}.",
                        fmt::thousands(top as f64),
                        hi.0,
                        fmt::thousands(hi.1),
                        lo.0,
                        fmt::thousands(lo.1)
                    ));
                }
            }
            let cpu: Vec<_> = measure::ranked(self.s, &w, top, measure::cpu_us_per_request)
                .into_iter()
                .filter(|(s, _)| measure::trouble(self.s, &w, s, top).is_none())
                .collect();
            if let (Some(hi), Some(lo)) = (cpu.first(), cpu.last()) {
                if cpu.len() > 1 {
                    lines.push(format!(
                        "CPU per request, among the models that served every connection, ranged from {} µs (`{}`) to {} µs (`{}`){}.",
                        fmt::fixed(lo.1.median, 1),
                        lo.0,
                        fmt::fixed(hi.1.median, 1),
                        hi.0,
                        if lo.1.ties(&hi.1, measure::SINGLE_RUN_NOISE) {
                            ", within the run-to-run noise"
                        } else {
                            ""
                        }
                    ));
                }
            }
            let ctx = ranking(self.s, &w, top, |r| {
                measure::ctx_per_request(r).map_or(f64::NAN, |c| c.0 + c.1)
            });
            let ctx: Vec<_> = ctx.into_iter().filter(|c| c.1.is_finite()).collect();
            if let (Some(hi), Some(lo)) = (ctx.first(), ctx.last()) {
                if ctx.len() > 1 {
                    lines.push(format!(
                        "Context switches per request: {} for `{}`, {} for `{}`.",
                        fmt::fixed(hi.1, 2),
                        hi.0,
                        fmt::fixed(lo.1, 2),
                        lo.0
                    ));
                }
            }
        }
        if let Some(line) = self.unmeasured_line() {
            lines.push(line);
        }
        self.reading(lines);
        let mut rows = Vec::new();
        for (w, _) in self.workloads() {
            for s in self.s.series_of(&w) {
                for &c in &self.sizes {
                    if self.s.ok(&w, s, c).is_none() {
                        continue;
                    }
                    if !self.s.server_measured(s) {
                        let mut row = vec![w.clone(), format!("`{s}`"), fmt::thousands(c as f64)];
                        row.resize(10, NOT_MEASURED.into());
                        rows.push(row);
                        continue;
                    }
                    let f = |value: fn(&CellRun) -> Option<f64>, f: fn(f64) -> String| {
                        self.fig(&w, s, c, value, f)
                    };
                    rows.push(vec![
                        w.clone(),
                        format!("`{s}`"),
                        fmt::thousands(c as f64),
                        f(|r| Some(r.server.peak_processes as f64), fmt::thousands),
                        f(|r| Some(r.server.peak_threads as f64), fmt::thousands),
                        format!(
                            "{} / {}",
                            f(|r| Some(r.server.cpu_user_s), |v| fmt::fixed(v, 3)),
                            f(|r| Some(r.server.cpu_sys_s), |v| fmt::fixed(v, 3))
                        ),
                        f(measure::cpu_us_per_request, |v| fmt::fixed(v, 1)),
                        f(
                            |r| measure::ctx_per_request(r).map(|c| c.0),
                            |v| fmt::fixed(v, 3),
                        ),
                        f(
                            |r| measure::ctx_per_request(r).map(|c| c.1),
                            |v| fmt::fixed(v, 3),
                        ),
                        f(|r| Some(r.server.peak_fds as f64), fmt::thousands),
                    ]);
                }
            }
        }
        self.push(Block::Table {
            head: [
                "workload",
                "model",
                "conns",
                "processes",
                "threads",
                "CPU user / sys (s)",
                "CPU µs / request",
                "voluntary ctx / request",
                "involuntary ctx / request",
                "open fds",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        });
    }
}
