//! Latency against offered load (`--rates`): every series open loop (`lab run --rate R`) with a
//! fixed number of connections, at given rates or, with `--rates auto`, at the rates a bracketing
//! search picks (`report::knee`): double from `--start-rate` until p99 passes `--slo`, an error
//! appears or less than 99% of the rate is achieved, then bisect. The searches of all series
//! advance one step each per round, so that drift over the run favours no series.

use crate::compare::cell::Runner;
use crate::compare::plan::{job, series_for, CellSpec, Job, Series, WorkloadKind};
use crate::compare::CompareArgs;
use http_lab::models::Model;
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

    pub fn series(&self, models: &[Model]) -> Vec<Series> {
        series_for(models, self.workload)
    }

    /// The most cells the searches may take (0 for a list of rates).
    pub fn searched_cells(&self, models: &[Model]) -> usize {
        if self.rates.is_empty() {
            self.series(models).len() * self.max_steps as usize
        } else {
            0
        }
    }

    /// `try_no`: 1, or 2 for a step run again (its id gets `-2`).
    fn job(&self, out: &Path, series: &Series, rate: f64, duration: Duration, try_no: u32) -> Job {
        let workload = self.workload.workload();
        let mut id = format!(
            "rates-{}-{}-r{rate:.0}",
            workload.name,
            series.name.replace('+', "-")
        );
        if try_no > 1 {
            id.push_str(&format!("-{try_no}"));
        }
        let spec = CellSpec {
            id,
            experiment: "rates",
            workload: &workload,
            conns: self.conns,
            duration,
            extra: vec!["--rate".into(), format!("{rate:.0}")],
            run: 1,
            rate: Some(rate),
        };
        job(out, series, spec)
    }

    /// The cells of a list of rates (none for `auto`).
    pub fn plan_fixed(&self, models: &[Model], duration: Duration, out: &Path) -> Vec<Job> {
        let mut jobs = Vec::new();
        for series in self.series(models) {
            for &rate in &self.rates {
                jobs.push(self.job(out, &series, rate, duration, 1));
            }
        }
        jobs
    }

    /// `auto`: one search per series, all stepped in turn, each step a cell added to the plan.
    pub fn search(
        &self,
        models: &[Model],
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
            .series(models)
            .into_iter()
            .map(|s| (s, Search::new(self.start, self.max_steps)))
            .collect();
        loop {
            let mut stepped = false;
            for (series, search) in &mut searches {
                let Some(rate) = search.next() else { continue };
                if runner.stopped() {
                    return Ok(());
                }
                stepped = true;
                let try_no = 1 + plan
                    .cells
                    .iter()
                    .filter(|c| {
                        c.experiment == "rates" && c.series == series.name && c.rate == Some(rate)
                    })
                    .count() as u32;
                let job = self.job(&out, series, rate, duration, try_no);
                plan.cells.push(job.record.clone());
                let i = plan.cells.len() - 1;
                let ran = runner.run(plan, i, &job)?;
                // A cell that failed outright (its server did not start, or it timed out) fails
                // the step: the search goes lower.
                let step = match std::fs::read_to_string(out.join(job.record.file()))
                    .ok()
                    .and_then(|t| serde_json::from_str::<CellRun>(&t).ok())
                {
                    Some(run) if ran && plan.cells[i].status == CellStatus::Ok => {
                        match verdict(&run.load, rate, slo_us) {
                            Ok(()) => Step::Held,
                            Err(_) if loader_bound(&run.load, slo_us) => Step::LoaderBound,
                            Err(_) => Step::Failed,
                        }
                    }
                    _ => Step::Failed,
                };
                search.record(rate, step);
            }
            if !stepped {
                return Ok(());
            }
        }
    }
}
