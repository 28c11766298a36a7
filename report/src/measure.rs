//! Numbers derived from a cell's report, and small statistics over cells.

use crate::data::{CellRun, Study};
use crate::fmt;
use crate::stats::{seed_of, Spread};

/// With one run per cell there is no measured noise: results closer than this share are called
/// a tie (run-to-run differences of a few percent are common on a shared machine).
pub const SINGLE_RUN_NOISE: f64 = 0.05;
/// A cell whose errors exceed this share of attempts is never named a leader.
pub const ERROR_LIMIT: f64 = 0.01;

/// Requests the whole sampled interval saw, estimated as the measured rate times the time the
/// server was sampled (warm-up included), so that totals over that interval (CPU time, context
/// switches) can be divided per request without charging the warm-up to the measured requests.
pub fn sampled_requests(run: &CellRun) -> f64 {
    let span = run.server.samples.last().map(|s| s.t_s).unwrap_or(0.0);
    let span = if span > 0.0 {
        span
    } else {
        run.load.duration_s
    };
    run.load.throughput_rps * span
}

/// Latency figures exist only for cells that got responses.
pub fn answered(run: &CellRun) -> Option<&CellRun> {
    (run.load.requests > 0).then_some(run)
}

/// CPU time (user + system) per request, microseconds.
pub fn cpu_us_per_request(run: &CellRun) -> Option<f64> {
    let n = sampled_requests(run);
    (n >= 1.0 && run.server_measured())
        .then(|| (run.server.cpu_user_s + run.server.cpu_sys_s) * 1e6 / n)
}

/// Context switches (voluntary, involuntary) per request.
pub fn ctx_per_request(run: &CellRun) -> Option<(f64, f64)> {
    let n = sampled_requests(run);
    (n >= 1.0 && run.server_measured()).then(|| {
        (
            run.server.ctx_voluntary as f64 / n,
            run.server.ctx_involuntary as f64 / n,
        )
    })
}

/// The share of attempts that were errors: errors / (responses + errors).
pub fn error_share(run: &CellRun) -> f64 {
    let errors = run.load.errors.total() as f64;
    let all = errors + run.load.requests as f64;
    if all > 0.0 {
        errors / all
    } else {
        0.0
    }
}

/// Least-squares line through `points`: (slope, intercept). `None` with fewer than two distinct x.
pub fn fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    Some((slope, my - slope * mx))
}

/// One figure of a cell over its successful runs: median, min–max and (3 runs or more) a
/// bootstrap 95% interval. `None` when no run has the figure.
pub fn spread(
    study: &Study,
    workload: &str,
    series: &str,
    conns: u64,
    value: impl Fn(&CellRun) -> Option<f64>,
) -> Option<Spread> {
    let values: Vec<f64> = study
        .runs_of(workload, series, conns)
        .into_iter()
        .filter_map(&value)
        .collect();
    Spread::of(&values, seed_of(&format!("{workload}/{series}/{conns}")))
}

/// What a cell failed to do, in words, if it starved connections or failed more than 1% of
/// attempts (medians over its runs): such a cell is never named a leader.
pub fn trouble(study: &Study, workload: &str, series: &str, conns: u64) -> Option<String> {
    let starved = spread(study, workload, series, conns, |r| {
        Some(r.load.service.starved as f64)
    })?;
    let errors = spread(study, workload, series, conns, |r| Some(error_share(r)))?;
    let mut what = Vec::new();
    if starved.median >= 1.0 {
        what.push(format!(
            "left {} of {} connections without a response",
            fmt::thousands(starved.median),
            fmt::thousands(conns as f64)
        ));
    }
    if errors.median > ERROR_LIMIT {
        what.push(format!(
            "{} of its attempts failed",
            fmt::percent(errors.median)
        ));
    }
    (!what.is_empty()).then(|| what.join(" and "))
}

/// `(conns, median)` for every size where `series` has a successful run on `workload`, by size.
pub fn curve(
    study: &Study,
    workload: &str,
    series: &str,
    value: impl Fn(&CellRun) -> Option<f64>,
) -> Vec<(f64, f64)> {
    bands(study, workload, series, value)
        .into_iter()
        .map(|(c, s)| (c, s.median))
        .collect()
}

/// `(conns, spread)` for every size where `series` has a successful run on `workload`.
pub fn bands(
    study: &Study,
    workload: &str,
    series: &str,
    value: impl Fn(&CellRun) -> Option<f64>,
) -> Vec<(f64, Spread)> {
    study
        .plan
        .conns
        .iter()
        .filter_map(|&c| Some((c as f64, spread(study, workload, series, c, &value)?)))
        .collect()
}

/// The series ranked by the median of `value` at `conns` on `workload`, best (largest) first.
pub fn ranking(
    study: &Study,
    workload: &str,
    conns: u64,
    value: impl Fn(&CellRun) -> f64,
) -> Vec<(String, f64)> {
    ranked(study, workload, conns, |r| Some(value(r)))
        .into_iter()
        .map(|(s, v)| (s, v.median))
        .collect()
}

/// As [`ranking`], with each figure's spread.
pub fn ranked(
    study: &Study,
    workload: &str,
    conns: u64,
    value: impl Fn(&CellRun) -> Option<f64>,
) -> Vec<(String, Spread)> {
    let mut out: Vec<(String, Spread)> = study
        .series_of(workload)
        .into_iter()
        .filter_map(|s| Some((s.to_string(), spread(study, workload, s, conns, &value)?)))
        .collect();
    // Stable sort: ties keep plan order, so the text is the same on every render.
    out.sort_by(|a, b| b.1.median.total_cmp(&a.1.median));
    out
}

/// The largest size at which `workload` has at least one successful cell.
pub fn largest_measured(study: &Study, workload: &str) -> Option<u64> {
    let mut sizes = study.plan.conns.clone();
    sizes.sort_unstable();
    sizes.into_iter().rev().find(|&c| {
        study
            .series_of(workload)
            .iter()
            .any(|s| study.ok(workload, s, c).is_some())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares() {
        let (slope, icpt) = fit(&[(10.0, 120.0), (100.0, 300.0), (1000.0, 2100.0)]).unwrap();
        assert!((slope - 2.0).abs() < 1e-9, "{slope}");
        assert!((icpt - 100.0).abs() < 1e-6, "{icpt}");
        assert!(fit(&[(1.0, 1.0)]).is_none());
        assert!(fit(&[(1.0, 1.0), (1.0, 2.0)]).is_none());
    }
}
