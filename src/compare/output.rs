//! compare.json, written after every cell; and `lab report DIR [--against OTHER]`, the report again
//! from the JSON.

use report::Plan;
use std::path::Path;

pub fn write_plan(out: &Path, plan: &Plan) -> Result<(), String> {
    let path = out.join(report::PLAN_FILE);
    let text =
        serde_json::to_string_pretty(plan).map_err(|e| format!("cannot encode the plan: {e}"))?;
    std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

/// `lab report DIR`: render the report again from the folder's JSON; with `--against OTHER`, the
/// report with OTHER's run overlaid as a baseline, into `DIR/against/`.
pub fn report(dir: &Path, against: Option<&Path>) -> Result<(), String> {
    let files = match against {
        None => report::write_report(dir)?,
        Some(other) => report::against::write(dir, other)?,
    };
    for f in &files {
        println!("{}", dir.join(f).display());
    }
    Ok(())
}
