//! `lab merge`: one report from the reports of several loaders that ran together (see
//! docs/multi-host.md). The merging itself is `loadgen::merge`; this is reading and printing.

use crate::load::{is_stdout, summary, write_json};
use clap::Args;
use loadgen::{Merged, Report};
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Reports written by `lab load --json` (or `lab run --json`), one per loader.
    #[arg(required = true, value_name = "REPORT.json")]
    pub files: Vec<PathBuf>,
    /// Write the merged report to FILE (`-`: standard output, the summary then on stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

pub fn merge(args: MergeArgs) -> Result<(), String> {
    let mut parts = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let report = Report::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        parts.push(report);
    }
    let total = loadgen::merge(&parts).map_err(|e| {
        // "report 2: ..." names the file instead.
        match e.strip_prefix("report ").and_then(|r| r.split_once(':')) {
            Some((n, rest)) => match n.parse::<usize>().ok().and_then(|n| args.files.get(n - 1)) {
                Some(path) => format!("{}:{rest}", path.display()),
                None => e.clone(),
            },
            None => e.clone(),
        }
    })?;
    let to_stdout = args.json.as_deref().is_some_and(is_stdout);
    let mut text = format!("{} loaders merged:\n", parts.len());
    let _ = writeln!(
        text,
        "  {:<16} {:>10} {:>12} {:>10} {:>8}",
        "loader", "requests", "req/s", "p99", "errors"
    );
    for (part, path) in parts.iter().zip(&args.files) {
        let name = part
            .tag
            .clone()
            .unwrap_or_else(|| path.display().to_string());
        let _ = writeln!(
            text,
            "  {:<16} {:>10} {:>12.0} {:>8.2}ms {:>8}",
            name,
            part.requests,
            part.throughput_rps,
            part.latency_us.p99 as f64 / 1000.0,
            part.errors.total()
        );
    }
    text.push_str("Total (latency from the loaders' histograms added together):\n");
    text.push_str(&total.summary());
    summary(&text, to_stdout);
    if let Some(path) = &args.json {
        let merged = Merged {
            total,
            loaders: parts,
        };
        let json = serde_json::to_string_pretty(&merged)
            .map_err(|e| format!("cannot encode the report: {e}"))?;
        write_json(path, &json)?;
    }
    Ok(())
}
