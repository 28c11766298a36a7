//! Sections 5 and 6: errors and timeouts, and blocking and CPU-heavy handlers.

use super::*;

impl Ctx<'_> {
    pub(super) fn errors(&mut self) {
        self.section("errors", "5. Errors and timeouts");
        self.para(
            "Errors counted by the load generator, by kind: connect (refused, timed out, out of \
             descriptors or ports), read and write errors, request timeouts (no answer within the \
             request timeout, 2 s by default), non-2xx/3xx statuses, and connections the server \
             closed with a request outstanding. The share is errors / (responses + errors). \
             *Held* is the most connections open at once against the target, counted at the TCP \
             level: a connection waiting in the server's listen backlog is open but unserved. \
             *Served* counts the connections that got at least one response, *starved* those that \
             got none; *fairness* is Jain's index over responses per connection (1: all alike). \
             A failed cell is one that produced no measurement at all: its reason is the tail of \
             `lab run`'s output. With repeated runs, the share, served, starved and fairness are \
             medians (min–max); the counts by kind are those of the run of median throughput.",
        );
        let mut panels = Vec::new();
        let all = self.all_series();
        for (w, _) in self.workloads() {
            let series = self.s.series_of(&w);
            panels.push(self.conns_panel(
                format!("{w}: errors (% of attempts)"),
                ("%", false, fmt::axis_ms),
                &w,
                &series,
                |r| Some(measure::error_share(r) * 100.0),
            ));
        }
        let all_ref: Vec<&str> = all.iter().map(String::as_str).collect();
        let legend = self.legend(&all_ref);
        self.chart(
            "errors",
            "Share of attempts that were errors, against connections".into(),
            &panels,
            2,
            &legend,
        );
        let mut lines = Vec::new();
        let mut clean = Vec::new();
        for s in &all {
            let mut first_bad: Option<(String, u64, &CellRun)> = None;
            let mut any = false;
            for (w, _) in self.workloads() {
                for &c in &self.sizes {
                    if let Some(run) = self.s.ok(&w, s, c) {
                        if run.load.errors.total() > 0 {
                            any = true;
                            if first_bad.as_ref().is_none_or(|f| c < f.1) {
                                first_bad = Some((w.clone(), c, run));
                            }
                        }
                    }
                }
            }
            let failed: Vec<_> = self
                .s
                .plan
                .cells
                .iter()
                .filter(|c| {
                    c.experiment.is_empty() && &c.series == s && c.status == CellStatus::Failed
                })
                .collect();
            if !any && failed.is_empty() {
                clean.push(format!("`{s}`"));
                continue;
            }
            if let Some((w, c, run)) = first_bad {
                let e = &run.load.errors;
                let kinds = [
                    ("connect", e.connect),
                    ("read", e.read),
                    ("write", e.write),
                    ("timeout", e.timeout),
                    ("status", e.status),
                    ("closed", e.closed),
                ];
                let (kind, n) = kinds.iter().copied().max_by_key(|k| k.1).unwrap_or(("", 0));
                lines.push(format!(
                    "`{s}` first had errors on {w} at {} connections: {} of attempts, mostly {kind} ({}), holding {} of {} connections open and serving {}.",
                    fmt::thousands(c as f64),
                    fmt::percent(measure::error_share(run)),
                    fmt::thousands(n as f64),
                    fmt::thousands(run.load.connections.peak_open as f64),
                    fmt::thousands(run.load.connections.target as f64),
                    fmt::thousands(run.load.service.served as f64)
                ));
            }
            // One line per failed cell, however many of its runs failed.
            let mut seen: Vec<(&str, u64)> = Vec::new();
            for cell in &failed {
                if seen.contains(&(cell.workload.as_str(), cell.conns)) {
                    continue;
                }
                seen.push((cell.workload.as_str(), cell.conns));
                let reason = cell.reason_line().unwrap_or("no reason recorded");
                let runs = self.s.records(&cell.workload, s, cell.conns).len();
                let bad = failed
                    .iter()
                    .filter(|c| c.workload == cell.workload && c.conns == cell.conns)
                    .count();
                let of = if runs > 1 {
                    format!(" ({bad} of {runs} runs)")
                } else {
                    String::new()
                };
                lines.push(format!(
                    "`{s}` failed on {} at {} connections{of}: {}",
                    cell.workload,
                    fmt::thousands(cell.conns as f64),
                    reason.trim()
                ));
            }
        }
        if !clean.is_empty() {
            lines.insert(0, format!("No errors at any size: {}.", and_list(&clean)));
        }
        self.reading(lines);
        let mut rows = Vec::new();
        for cell in &self.s.plan.cells {
            // One row per cell: the run `Study::cell` picks (median throughput, or a failed one).
            let picked = self.s.cell(&cell.workload, &cell.series, cell.conns);
            if !picked.is_some_and(|(c, _)| std::ptr::eq(c, cell)) {
                continue;
            }
            let run = self.s.ok(&cell.workload, &cell.series, cell.conns);
            let row_base = vec![
                cell.workload.clone(),
                format!("`{}`", cell.series),
                fmt::thousands(cell.conns as f64),
            ];
            match (cell.status, run) {
                (CellStatus::Ok, Some(run)) => {
                    let e = &run.load.errors;
                    if e.total() == 0 {
                        continue;
                    }
                    let mut row = row_base;
                    let (w, sr, c) = (&cell.workload, &cell.series, cell.conns);
                    let fig = |value: fn(&CellRun) -> Option<f64>, f: fn(f64) -> String| {
                        self.fig(w, sr, c, value, f)
                    };
                    row.extend([
                        fig(|r| Some(measure::error_share(r)), fmt::percent),
                        format!(
                            "{} ({}/{}/{}/{})",
                            e.connect,
                            e.connect_refused,
                            e.connect_timeout,
                            e.connect_fd_limit,
                            e.connect_port_limit
                        ),
                        e.read.to_string(),
                        e.write.to_string(),
                        e.timeout.to_string(),
                        format!("{} ({}/{})", e.status, e.status_4xx, e.status_5xx),
                        e.closed.to_string(),
                        format!(
                            "{} / {}",
                            run.load.connections.peak_open, run.load.connections.target
                        ),
                        format!(
                            "{} / {}",
                            fig(|r| Some(r.load.service.served as f64), fmt::thousands),
                            fig(|r| Some(r.load.service.starved as f64), fmt::thousands)
                        ),
                        fig(|r| Some(r.load.service.fairness), |v| fmt::fixed(v, 3)),
                    ]);
                    rows.push(row);
                }
                (CellStatus::Failed, _) => {
                    let mut row = row_base;
                    let reason = cell.reason_line().unwrap_or("").trim().to_string();
                    row.extend([
                        "failed".to_string(),
                        reason,
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]);
                    rows.push(row);
                }
                _ => {}
            }
        }
        if rows.is_empty() {
            self.para("Every cell ran without a single error.");
        } else {
            self.push(Block::Table {
                head: [
                    "workload",
                    "model",
                    "conns",
                    "errors",
                    "connect (refused/timeout/fd/port)",
                    "read",
                    "write",
                    "timeout",
                    "status (4xx/5xx)",
                    "closed",
                    "held",
                    "served / starved",
                    "fairness",
                ]
                .map(String::from)
                .to_vec(),
                rows,
            });
        }
    }

    pub(super) fn handlers(&mut self) {
        self.section("handlers", "6. Blocking and CPU-heavy handlers");
        self.para(
            "`/sleep/10` blocks its handler for 10 ms (a stand-in for a database call); `/cpu/<n>` \
             computes a naive Fibonacci number (about a millisecond of CPU). On `epoll` with \
             `--offload off` the handler runs on the event loop and stalls every connection of \
             that loop; with `--offload on` it runs on helper threads and the loop goes on. The \
             process and hybrid pools block one worker (or one worker thread) at a time.",
        );
        let targets: Vec<(String, String)> = self
            .workloads()
            .into_iter()
            .filter(|(w, _)| w == "sleep" || w == "cpu")
            .collect();
        if targets.is_empty() {
            self.para(
                "Not measured in this run: add `--workloads sleep,cpu` to `lab compare` to compare \
                 them.",
            );
            return;
        }
        let mut panels = Vec::new();
        let mut shown: Vec<&str> = Vec::new();
        let mut lines = Vec::new();
        for (w, path) in &targets {
            let series: Vec<&str> = self.s.series_of(w).into_iter().collect();
            for s in &series {
                if !shown.contains(s) {
                    shown.push(s);
                }
            }
            panels.push(self.conns_panel(
                format!("GET {path}: throughput"),
                ("requests/s", true, fmt::thousands),
                w,
                &series,
                |r| Some(r.load.throughput_rps),
            ));
            panels.push(self.conns_panel(
                format!("GET {path}: p99"),
                ("ms", true, fmt::axis_ms),
                w,
                &series,
                |r| measure::answered(r).map(|r| ms(r.load.latency_us.p99 as f64)),
            ));
            // A model's variant (`epoll+offload`) against the model run its default way.
            let pairs: Vec<(String, String)> = series
                .iter()
                .filter_map(|v| {
                    let (base, _) = v.split_once('+')?;
                    series
                        .contains(&base)
                        .then(|| (base.to_string(), v.to_string()))
                })
                .collect();
            for (base, variant) in &pairs {
                for &c in &self.sizes {
                    let off = self.s.ok(w, base, c);
                    let on = self.s.ok(w, variant, c);
                    if let (Some(off), Some(on)) = (off, on) {
                        let (a, b) = (off.load.throughput_rps, on.load.throughput_rps);
                        let sa =
                            measure::spread(self.s, w, base, c, |r| Some(r.load.throughput_rps));
                        let sb =
                            measure::spread(self.s, w, variant, c, |r| Some(r.load.throughput_rps));
                        let tie = matches!((&sa, &sb), (Some(x), Some(y)) if x.ties(y, measure::SINGLE_RUN_NOISE));
                        let verdict = if a <= 0.0 && b <= 0.0 {
                            "neither answered".to_string()
                        } else if a <= 0.0 {
                            format!("only `{variant}` answered")
                        } else if b <= 0.0 {
                            format!("only `{base}` answered")
                        } else if tie {
                            "a tie within the run-to-run noise".to_string()
                        } else if b > a {
                            format!("{} more throughput as `{variant}`", fmt::ratio(b, a))
                        } else {
                            format!(
                                "`{variant}` cost {} of the throughput",
                                fmt::percent(1.0 - b / a)
                            )
                        };
                        let p99 = |r: &CellRun| {
                            measure::answered(r).map_or("n/a".into(), |r| {
                                fmt::latency_us(r.load.latency_us.p99 as f64)
                            })
                        };
                        lines.push(format!(
                        "**{w}** at {} connections: `{base}` {} req/s (p99 {}), `{variant}` {} req/s (p99 {}): {verdict}.",
                        fmt::thousands(c as f64),
                        fmt::thousands(a),
                        p99(off),
                        fmt::thousands(b),
                        p99(on),
                    ));
                    }
                }
            }
            if let Some(top) = largest_measured(self.s, w) {
                let rank: Vec<_> = ranking(self.s, w, top, |r| r.load.throughput_rps)
                    .into_iter()
                    .collect();
                if rank.len() > 1 {
                    let list: Vec<String> = rank
                        .iter()
                        .map(|(s, v)| match measure::trouble(self.s, w, s, top) {
                            None => format!("`{s}` {}", fmt::thousands(*v)),
                            Some(what) => {
                                format!("`{s}` {} (but it {what})", fmt::thousands(*v))
                            }
                        })
                        .collect();
                    lines.push(format!(
                        "**{w}** at {} connections, requests/s from best to worst: {}.",
                        fmt::thousands(top as f64),
                        list.join(", ")
                    ));
                }
            }
        }
        let legend = self.legend(&shown);
        self.chart(
            "handlers",
            "Blocking and CPU-heavy routes: epoll with offload off and on against the pools".into(),
            &panels,
            2,
            &legend,
        );
        self.reading(lines);
    }
}
