//! Sections 3 and 4: memory, and processes, threads, CPU time and context switches.

use super::*;

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
            let series = self.s.series_of(&w);
            panels.push(self.conns_panel(
                format!("{w}: peak PSS"),
                ("MiB", true, fmt::axis_ms),
                &w,
                &series,
                |r| Some(r.server.peak_pss_bytes as f64 / 1048576.0),
            ));
            let mut slopes = Vec::new();
            // A model that did not hold every connection open (the rest waited in the listen
            // backlog, or failed) did not pay for them: its slope is not memory per connection.
            let mut not_held = Vec::new();
            for s in &series {
                let pts = curve(self.s, &w, s, |r| Some(r.server.peak_pss_bytes as f64));
                let top = pts.last().copied();
                let fitted = fit(&pts);
                rows.push(vec![
                    w.clone(),
                    format!("`{s}`"),
                    fitted.map_or("n/a".into(), |f| fmt::bytes(f.0)),
                    fitted.map_or("n/a".into(), |f| fmt::bytes(f.1.max(0.0))),
                    top.map_or("n/a".into(), |t| {
                        format!("{} at {}", fmt::bytes(t.1), fmt::thousands(t.0))
                    }),
                    pts.len().to_string(),
                ]);
                let held = curve(self.s, &w, s, |r| {
                    Some(f64::from(u8::from(
                        r.load.connections.peak_open >= r.load.conns as u64,
                    )))
                });
                let held_all = !held.is_empty() && held.iter().all(|&(_, h)| h >= 1.0);
                match fitted {
                    Some((slope, _)) if held_all => slopes.push((s.to_string(), slope)),
                    _ => not_held.push(format!("`{s}`")),
                }
            }
            slopes.sort_by(|a, b| b.1.total_cmp(&a.1));
            if let (Some(hi), Some(lo)) = (slopes.first(), slopes.last()) {
                if slopes.len() > 1 && lo.1 > 0.0 {
                    lines.push(format!(
                        "**{w}**: `{}` cost the most per connection, {} (fitted), and `{}` the least, {}: {} as much.",
                        hi.0,
                        fmt::bytes(hi.1),
                        lo.0,
                        fmt::bytes(lo.1),
                        fmt::times(hi.1 / lo.1)
                    ));
                } else if slopes.len() > 1 {
                    lines.push(format!(
                        "**{w}**: `{}` cost the most per connection, {} (fitted); `{}` did not grow with connections ({}).",
                        hi.0,
                        fmt::bytes(hi.1),
                        lo.0,
                        fmt::bytes(lo.1)
                    ));
                } else {
                    lines.push(format!(
                        "**{w}**: `{}` cost {} per connection (fitted).",
                        hi.0,
                        fmt::bytes(hi.1)
                    ));
                }
            }
            if !not_held.is_empty() {
                lines.push(format!(
                    "**{w}**: not compared per connection, because they did not hold every connection open (the others waited in the backlog or failed, costing the server nothing): {}.",
                    not_held.join(", ")
                ));
            }
        }
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
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
             system) and context switches per request. Totals cover the whole sampled run (warm-up \
             included), so they are divided by the measured rate times the sampled time.",
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
                |r| Some(r.server.peak_threads as f64),
            );
            for s in &series {
                threads.lines.push(Line {
                    color: self.color(s),
                    points: curve(self.s, w, s, |r| Some(r.server.peak_processes as f64)),
                    dashed: true,
                });
            }
            panels.push(threads);
        }
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
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
            let threads = ranking(self.s, &w, top, |r| r.server.peak_threads as f64);
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
            let cpu = ranking(self.s, &w, top, |r| {
                measure::cpu_us_per_request(r).unwrap_or(f64::NAN)
            });
            let cpu: Vec<_> = cpu.into_iter().filter(|c| c.1.is_finite()).collect();
            if let (Some(hi), Some(lo)) = (cpu.first(), cpu.last()) {
                if cpu.len() > 1 {
                    lines.push(format!(
                        "CPU per request ranged from {} µs (`{}`) to {} µs (`{}`).",
                        fmt::fixed(lo.1, 1),
                        lo.0,
                        fmt::fixed(hi.1, 1),
                        hi.0
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
        self.reading(lines);
        let mut rows = Vec::new();
        for (w, _) in self.workloads() {
            for s in self.s.series_of(&w) {
                for &c in &self.sizes {
                    let Some(run) = self.s.ok(&w, s, c) else {
                        continue;
                    };
                    let sv = &run.server;
                    let ctx = measure::ctx_per_request(run);
                    rows.push(vec![
                        w.clone(),
                        format!("`{s}`"),
                        fmt::thousands(c as f64),
                        sv.peak_processes.to_string(),
                        fmt::thousands(sv.peak_threads as f64),
                        format!(
                            "{} / {}",
                            fmt::fixed(sv.cpu_user_s, 2),
                            fmt::fixed(sv.cpu_sys_s, 2)
                        ),
                        measure::cpu_us_per_request(run).map_or("n/a".into(), |v| fmt::fixed(v, 1)),
                        ctx.map_or("n/a".into(), |c| fmt::fixed(c.0, 3)),
                        ctx.map_or("n/a".into(), |c| fmt::fixed(c.1, 3)),
                        fmt::thousands(sv.peak_fds as f64),
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
