//! `lab compare --resume DIR`: finish a comparison that was interrupted (Ctrl-C, SIGTERM, a
//! reboot). Its compare.json is rewritten after every cell, so it always says which cells were
//! measured; a resume plans the same cells again, keeps those (and their files), and runs the
//! rest: the cells never run, and the one the interruption stopped. The searches of `--rates
//! auto` replay their measured steps and go on from there.
//!
//! The plan must be the one in DIR: `--resume DIR` alone re-reads the command first typed, and
//! flags given with it must make the same cells, or the resume is refused.
//!
//! One difference is allowed: an `--external` server's pid. A server already running
//! (`--external-pid`) may have been restarted since; the pid only says which process tree to
//! sample, so `--resume DIR --external-pid NEW` re-reads the command first typed with the new
//! pid, provided the server still answers at the same URL (checked before any cell, as for any
//! comparison). The cells measured before keep their commands (the old pid); the rest run with
//! the new one.

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
        // `lab compare --resume DIR [--external-pid P]…`: the plan as first typed (`lab compare
        // ...`), with the pids given, if any, in place of those typed then.
        let pids = args.external_pid.clone();
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
        let mut first = CompareArgs::from_arg_matches(&matches).map_err(|e| e.to_string())?;
        if !pids.is_empty() {
            first.external_pid = pids;
        }
        first
    } else {
        args
    };
    args.out = Some(dir.to_path_buf());
    args.resume = Some(dir.to_path_buf());
    Ok((args, old))
}

/// Whether `lab compare` was given nothing but `--resume DIR` (and `--external-pid`s).
fn only_resume_given() -> bool {
    let mut rest = std::env::args().skip_while(|a| a != "compare").skip(1);
    let mut others = 0;
    while let Some(a) = rest.next() {
        if a == "--resume" || a == "--external-pid" {
            rest.next();
        } else if !a.starts_with("--resume=") && !a.starts_with("--external-pid=") {
            others += 1;
        }
    }
    others == 0
}

/// Whether two cell commands are the same but for the pid of an `--external` server (one
/// restarted since the cell ran).
pub fn same_command(a: &[String], b: &[String]) -> bool {
    let without_pid = |cmd: &[String]| -> Vec<String> {
        let mut out = cmd.to_vec();
        for i in 1..out.len() {
            if cmd[i - 1] == "--external-pid" {
                out[i] = "PID".into();
            }
        }
        out
    };
    without_pid(a) == without_pid(b)
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
    // A pid may change (the server restarted); whether there is one may not.
    let externals = |p: &Plan| -> Vec<lab_schema::External> {
        p.externals
            .iter()
            .map(|e| lab_schema::External {
                pid: None,
                ..e.clone()
            })
            .collect()
    };
    if externals(old) != externals(new) {
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
        if a.id != b.id || !same_command(&a.command, &b.command) {
            return differs(
                &format!("cell {}", b.id),
                format!("`{}`", a.command.join(" ")),
                format!("`{}`", b.command.join(" ")),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn commands_differing_only_in_the_external_pid_are_the_same() {
        let a = words("lab run --external ng=http://127.0.0.1:8090/ --external-pid 100 --conns 4");
        let b = words("lab run --external ng=http://127.0.0.1:8090/ --external-pid 200 --conns 4");
        let c = words("lab run --external ng=http://127.0.0.1:8090/ --external-pid 200 --conns 8");
        let d = words("lab run --external ng=http://127.0.0.1:8091/ --external-pid 100 --conns 4");
        assert!(same_command(&a, &b));
        assert!(!same_command(&b, &c));
        assert!(!same_command(&a, &d));
    }
}
