//! `lab run --find-max-rate`: the highest offered rate one model sustains with p99 under
//! `--slo`, no errors and at least 99% of the offered rate achieved, found by the bracketing
//! search of `report::knee` against one server, each step an open-loop load of `--duration`.

use crate::load::run_load;
use clap::Args;
use loadgen::{parse_duration, parse_rate, Config};
use report::knee::{loader_bound, verdict, Search, Step as Outcome};
use serde::Serialize;
use std::time::Duration;

/// The flags of the search (`lab run`).
#[derive(Args, Debug, Clone)]
pub struct KneeFlags {
    /// Instead of one load, search for the highest offered rate (open loop) at which p99 stays
    /// under --slo with no errors and at least 99% of it achieved; each step runs --duration.
    #[arg(long)]
    pub find_max_rate: bool,
    /// The latency objective of --find-max-rate: p99 under this.
    #[arg(long, default_value = "10ms", value_parser = parse_duration, value_name = "DURATION")]
    pub slo: Duration,
    /// The first rate --find-max-rate tries, req/s (it doubles or halves from there).
    #[arg(long, default_value = "1000", value_parser = parse_rate, value_name = "REQ_PER_S")]
    pub start_rate: f64,
    /// The most steps --find-max-rate takes.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub max_steps: u32,
}

/// One step of the search, as `--json` writes it.
#[derive(Debug, Serialize)]
pub struct Step {
    pub offered_rps: f64,
    pub achieved_rps: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub errors: u64,
    pub passed: bool,
    /// Why the step failed, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// The search's result, as `--json` writes it.
#[derive(Debug, Serialize)]
pub struct KneeReport {
    pub model: String,
    pub url: String,
    pub conns: usize,
    pub slo_us: u64,
    /// The highest offered rate that passed, and the lowest above it that failed.
    pub sustained_rps: Option<f64>,
    pub failed_rps: Option<f64>,
    pub steps: Vec<Step>,
}

/// Runs the search against the server `config` points at.
pub fn find_max_rate(
    model: &str,
    config: &Config,
    flags: &KneeFlags,
) -> Result<KneeReport, String> {
    if flags.max_steps == 0 {
        return Err("--max-steps must be 1 or more".into());
    }
    let slo_us = flags.slo.as_micros() as u64;
    let mut search = Search::new(flags.start_rate, flags.max_steps);
    let mut steps = Vec::new();
    while let Some(rate) = search.next() {
        let mut step_config = config.clone();
        step_config.rate = Some(rate);
        step_config.quiet = true;
        let load = run_load(&step_config)?;
        if load.interrupted {
            return Err("interrupted".into());
        }
        let outcome = verdict(&load, rate, slo_us);
        println!(
            "step {:>2}: offered {:>8.0} req/s  achieved {:>8.0}  p99 {:>9.2} ms  errors {:<6} {}",
            search.steps() + 1,
            rate,
            load.throughput_rps,
            load.latency_us.p99 as f64 / 1000.0,
            load.errors.total(),
            match &outcome {
                Ok(()) => "held".to_string(),
                Err(why) => format!("failed: {why}"),
            }
        );
        search.record(
            rate,
            match &outcome {
                Ok(()) => Outcome::Held,
                Err(_) if loader_bound(&load, slo_us) => Outcome::LoaderBound,
                Err(_) => Outcome::Failed,
            },
        );
        steps.push(Step {
            offered_rps: rate,
            achieved_rps: load.throughput_rps,
            p50_us: load.latency_us.p50,
            p99_us: load.latency_us.p99,
            p999_us: load.latency_us.p999,
            errors: load.errors.total(),
            passed: outcome.is_ok(),
            why: outcome.err(),
        });
    }
    let (sustained_rps, failed_rps) = search.bracket();
    println!(
        "{model}: {}",
        match (sustained_rps, failed_rps) {
            (Some(p), Some(f)) => format!(
                "sustains {p:.0} req/s with p99 under {} ms; fails at {f:.0} req/s",
                flags.slo.as_secs_f64() * 1000.0
            ),
            (Some(p), None) => format!(
                "sustains at least {p:.0} req/s (no step failed within {} steps)",
                flags.max_steps
            ),
            (None, Some(f)) => format!("sustains no rate tried, down to {f:.0} req/s"),
            (None, None) => "no step ran".into(),
        }
    );
    Ok(KneeReport {
        model: model.to_string(),
        url: config.url(),
        conns: config.conns,
        slo_us,
        sustained_rps,
        failed_rps,
        steps,
    })
}
