//! `lab compare --resume DIR`: finish a comparison that was interrupted (Ctrl-C, SIGTERM, a
//! reboot). Its compare.json is rewritten after every cell, so it always says which cells were
//! measured; a resume plans the same cells again, keeps those (and their files), and runs the
//! rest: the cells never run, and the one the interruption stopped. The searches of `--rates
//! auto` replay their measured steps and go on from there.
//!
//! The plan must be the one in DIR: `--resume DIR` alone re-reads the command first typed, and
//! flags given with it must make the same cells, or the resume is refused.

use super::CompareArgs;
use clap::{Args, FromArgMatches};
use report::Plan;
use std::path::Path;

/// The arguments to resume with, and the folder's plan.
pub fn arguments(args: CompareArgs, dir: &Path) -> Result<(CompareArgs, Plan), String> {
    let path = dir.join(report::PLAN_FILE);
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("--resume {}: {e}", dir.display()))?;
    let old: Plan =
        serde_json::from_str(&text).map_err(|e| format!("--resume {}: {e}", path.display()))?;
    let mut args = if only_resume_given() {
        // `lab compare --resume DIR`: the plan as first typed (`lab compare ...`).
        let cmd = CompareArgs::augment_args(clap::Command::new("compare"));
        let matches = cmd
            .try_get_matches_from(old.command.iter().skip(1))
            .map_err(|e| {
                format!(
                    "--resume {}: its command no longer parses: {}",
                    dir.display(),
                    e.to_string().lines().next().unwrap_or("")
                )
            })?;
        CompareArgs::from_arg_matches(&matches).map_err(|e| e.to_string())?
    } else {
        args
    };
    args.out = Some(dir.to_path_buf());
    args.resume = Some(dir.to_path_buf());
    Ok((args, old))
}

/// Whether `lab compare` was given nothing but `--resume DIR`.
fn only_resume_given() -> bool {
    let mut rest = std::env::args().skip_while(|a| a != "compare").skip(1);
    let mut others = 0;
    while let Some(a) = rest.next() {
        if a == "--resume" {
            rest.next();
        } else if !a.starts_with("--resume=") {
            others += 1;
        }
    }
    others == 0
}

/// Refuses to resume into `dir` a plan other than the one it holds, naming the first difference.
pub fn check_same(old: &Plan, new: &Plan, dir: &Path) -> Result<(), String> {
    let differs = |what: &str, there: String, here: String| {
        Err(format!(
            "--resume {}: not the same plan ({what}: {there} there, {here} here); `lab compare \
             --resume {}` alone resumes it as planned",
            dir.display(),
            dir.display()
        ))
    };
    let list = |v: &[String]| v.join(",");
    if old.duration_s != new.duration_s {
        return differs(
            "--duration",
            format!("{} s", old.duration_s),
            format!("{} s", new.duration_s),
        );
    }
    if old.repeat != new.repeat {
        return differs("--repeat", old.repeat.to_string(), new.repeat.to_string());
    }
    if old.seed != new.seed {
        return differs("--seed", old.seed.to_string(), new.seed.to_string());
    }
    if old.series != new.series {
        return differs("the series", list(&old.series), list(&new.series));
    }
    if old.conns != new.conns {
        let f = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        return differs("--conns", f(&old.conns), f(&new.conns));
    }
    if old.workloads != new.workloads {
        let f = |p: &Plan| {
            p.workloads
                .iter()
                .map(|w| w.name.clone())
                .collect::<Vec<_>>()
                .join(",")
        };
        return differs("--workloads", f(old), f(new));
    }
    if !old.experiments.is_empty() && old.experiments != new.experiments {
        return differs(
            "--experiments",
            list(&old.experiments),
            list(&new.experiments),
        );
    }
    if old.rates != new.rates {
        return differs(
            "--rates and its flags",
            "one setting".into(),
            "another".into(),
        );
    }
    if old.load != new.load {
        return differs(
            "the load flags",
            format!("{:?}", old.load),
            format!("{:?}", new.load),
        );
    }
    if old.externals != new.externals {
        return differs("--external", "one set".into(), "another".into());
    }
    let fixed = new.cells.len();
    if old.cells.len() < fixed {
        return differs(
            "cells planned",
            old.cells.len().to_string(),
            fixed.to_string(),
        );
    }
    for (a, b) in old.cells.iter().zip(&new.cells) {
        if a.id != b.id || a.command != b.command {
            return differs(
                &format!("cell {}", b.id),
                format!("`{}`", a.command.join(" ")),
                format!("`{}`", b.command.join(" ")),
            );
        }
    }
    Ok(())
}
