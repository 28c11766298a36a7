//! Records the git commit `lab` is built from, for `lab --version` (`LAB_GIT_COMMIT`).
//!
//! Outside a git checkout (a source tarball, a container build without `.git`) the commit is
//! "unknown", unless the `LAB_GIT_COMMIT` environment variable gives it. Only a change of HEAD
//! (a commit, a checkout) reruns this script.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=LAB_GIT_COMMIT");
    let commit = std::env::var("LAB_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=LAB_GIT_COMMIT={commit}");
    // Rerun when HEAD moves: HEAD itself (a checkout), the branch it names (a commit), and
    // packed-refs. In a worktree HEAD lives in its own git dir, branches in the common one.
    let (Some(git_dir), Some(common)) = (
        git(&["rev-parse", "--absolute-git-dir"]),
        git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]),
    ) else {
        return;
    };
    let mut watch = vec![Path::new(&git_dir).join("HEAD")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch.push(Path::new(&common).join(branch));
    }
    watch.push(Path::new(&common).join("packed-refs"));
    for path in watch.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
