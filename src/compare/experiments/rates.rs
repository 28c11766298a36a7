//! Latency against offered load (`--rates`): every series open loop (`lab run --rate R`) with a
//! fixed number of connections, at given rates or, with `--rates auto`, at the rates a bracketing
//! search picks (`report::knee`): double from `--start-rate` until p99 passes `--slo`, an error
//! appears or less than 99% of the rate is achieved, then bisect. The searches of all series
//! advance one step each per round, so that drift over the run favours no series.

use crate::compare::cell::{place, Runner};
use crate::compare::plan::{job, CellSpec, Job, Lineup, Series, WorkloadKind};
use crate::compare::CompareArgs;
use report::knee::{loader_bound, verdict, Search, Step};
use report::{CellRun, CellStatus, Plan, RatesPlan};
use std::path::Path;
use std::time::Duration;

/// What `--rates` asked for.
pub struct Setup {
    workload: WorkloadKind,
    conns: u64,
    slo: Duration,
    /// Empty for `auto`.
    rates: Vec<f64>,
    start: f64,
    max_steps: u32,
    /// `--repeat`: every rate (every step of a search) runs this many times.
    repeat: u32,
}

impl Setup {
    pub fn new(args: &CompareArgs, workloads: &[WorkloadKind]) -> Result<Setup, String> {
        let text = args.rates.as_deref().unwrap_or("auto").trim();
        let mut rates = Vec::new();
        if text != "auto" {
            for r in text.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                let rate = loadgen::parse_rate(r).map_err(|e| format!("--rates {r}: {e}"))?;
                if rate.is_nan() || rate < 1.0 {
                    return Err(format!("--rates {r}: give rates of 1 req/s or more"));
                }
                if !rates.contains(&rate) {
                    rates.push(rate);
                }
            }
            if rates.is_empty() {
                return Err("--rates: give `auto` or a list of rates, e.g. 1000,2000,5000".into());
            }
            rates.sort_by(f64::total_cmp);
        }
        if args.rate_conns == 0 {
            return Err("--rate-conns must be above 0".into());
        }
        if args.max_steps == 0 {
            return Err("--max-steps must be 1 or more".into());
        }
        if args.slo.is_zero() {
            return Err("--slo must be above 0".into());
        }
        Ok(Setup {
            workload: args
                .rate_workload
                .or(workloads.first().copied())
                .unwrap_or(WorkloadKind::Hello),
            conns: args.rate_conns,
            slo: args.slo,
            rates,
            start: args.start_rate,
            max_steps: args.max_steps,
            repeat: args.repeat,
        })
    }

    /// As compare.json records it.
    pub fn record(&self) -> RatesPlan {
        RatesPlan {
            workload: self.workload.workload().name,
            conns: self.conns,
            slo_us: self.slo.as_micros() as u64,
            auto: self.rates.is_empty(),
            asked: self.rates.clone(),
            start: if self.rates.is_empty() {
                self.start
            } else {
                0.0
            },
            max_steps: if self.rates.is_empty() {
                self.max_steps
            } else {
                0
            },
        }
    }

    pub fn series(&self, lineup: &Lineup) -> Vec<Series> {
        lineup.series_for(self.workload)
    }

    /// The most cells the searches may take (0 for a list of rates).
    pub fn searched_cells(&self, lineup: &Lineup) -> usize {
        if self.rates.is_empty() {
            self.series(lineup).len() * self.max_steps as usize * self.repeat as usize
        } else {
            0
        }
    }

    /// `try_no`: 1, or 2 for a step run again (its id gets `-2`); `run`: which of `--repeat`
    /// (its id gets `-run2` when there are several).
    fn job(
        &self,
        out: &Path,
        series: &Series,
        rate: f64,
        duration: Duration,
        (try_no, run): (u32, u32),
    ) -> Job {
        let workload = self.workload.workload();
        let mut id = format!("rates-{}-{}-r{rate:.0}", workload.name, series.slug());
        if try_no > 1 {
            id.push_str(&format!("-{try_no}"));
        }
        if self.repeat > 1 {
            id.push_str(&format!("-run{run}"));
        }
        let spec = CellSpec {
            id,
            experiment: "rates",
            workload: &workload,
            conns: self.conns,
            duration,
            extra: vec!["--rate".into(), format!("{rate:.0}")],
            run,
            rate: Some(rate),
        };
        job(out, series, spec)
    }

    /// The cells of a list of rates (none for `auto`).
    pub fn plan_fixed(&self, lineup: &Lineup, duration: Duration, out: &Path) -> Vec<Job> {
        let mut jobs = Vec::new();
        for series in self.series(lineup) {
            for &rate in &self.rates {
                for run in 1..=self.repeat {
                    jobs.push(self.job(out, &series, rate, duration, (1, run)));
                }
            }
        }
        jobs
    }

    /// `auto`: one search per series, all stepped in turn, each step `--repeat` cells added to
    /// the plan. A repeated step holds when most of its runs held (the median run's verdict, as
    /// the report takes each figure's median); one that did not, but where the load generator
    /// sent late in any run, is tried once more.
    pub fn search(
        &self,
        lineup: &Lineup,
        duration: Duration,
        runner: &mut Runner,
        plan: &mut Plan,
    ) -> Result<(), String> {
        if !self.rates.is_empty() {
            return Ok(());
        }
        let out = runner.out().to_path_buf();
        let slo_us = self.slo.as_micros() as u64;
        let mut searches: Vec<(Series, Search)> = self
            .series(lineup)
            .into_iter()
            .map(|s| (s, Search::new(self.start, self.max_steps)))
            .collect();
        let mut tried: Vec<(String, f64)> = Vec::new();
        loop {
            let mut stepped = false;
            for (series, search) in &mut searches {
                let Some(rate) = search.next() else { continue };
                if runner.stopped() {
                    return Ok(());
                }
                stepped = true;
                // Counted here, not from the plan: a resumed plan holds the earlier run's cells.
                let try_no = 1 + tried
                    .iter()
                    .filter(|(s, r)| *s == series.name && *r == rate)
                    .count() as u32;
                tried.push((series.name.clone(), rate));
                let (mut held, mut late) = (0, false);
                for run in 1..=self.repeat {
                    if runner.stopped() {
                        return Ok(());
                    }
                    let job = self.job(&out, series, rate, duration, (try_no, run));
                    let i = place(plan, job.record.clone());
                    let ran = runner.run(plan, i, &job)?;
                    // A cell that failed outright (its server did not start, or it timed out)
                    // fails the step: the search goes lower.
                    match std::fs::read_to_string(out.join(job.record.file()))
                        .ok()
                        .and_then(|t| serde_json::from_str::<CellRun>(&t).ok())
                    {
                        Some(run) if ran && plan.cells[i].status == CellStatus::Ok => {
                            match verdict(&run.load, rate, slo_us) {
                                Ok(()) => held += 1,
                                Err(_) => late |= loader_bound(&run.load, slo_us),
                            }
                        }
                        _ => {}
                    }
                }
                let step = if held * 2 > self.repeat {
                    Step::Held
                } else if late {
                    Step::LoaderBound
                } else {
                    Step::Failed
                };
                search.record(rate, step);
            }
            if !stepped {
                return Ok(());
            }
        }
    }
}
