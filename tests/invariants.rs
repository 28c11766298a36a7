//! The architecture's invariants, checked rather than only written down (ARCHITECTURE.md lists
//! them):
//! - a model crate depends on no other model crate (only on lab-core and shared toolkits);
//! - `loadgen` and `report` depend on no server crate;
//! - `unsafe` appears only in modules named `sys`, every crate root says
//!   `#![deny(unsafe_code)]`, and the only `#[allow(unsafe_code)]` is on a `mod sys`;
//! - two models that declare the same flag declare it alike (it is registered once);
//! - every registered model has its crate under `servers/`, and every crate there that is not
//!   shared machinery is registered.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Crates under servers/ that are shared machinery, not models.
const SHARED: &[&str] = &["lab-core", "lab-evloop"];

struct Package {
    name: String,
    dir: PathBuf,
    deps: Vec<String>,
}

fn workspace() -> Vec<Package> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata json");
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| Package {
            name: p["name"].as_str().unwrap().to_string(),
            dir: Path::new(p["manifest_path"].as_str().unwrap())
                .parent()
                .unwrap()
                .to_path_buf(),
            deps: p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null()) // normal dependencies, not dev or build
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect(),
        })
        .collect()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn model_crates(packages: &[Package]) -> BTreeSet<String> {
    let servers = root().join("servers");
    packages
        .iter()
        .filter(|p| p.dir.starts_with(&servers) && !SHARED.contains(&p.name.as_str()))
        .map(|p| p.name.clone())
        .collect()
}

#[test]
fn no_model_crate_depends_on_another() {
    let packages = workspace();
    let models = model_crates(&packages);
    assert!(models.len() >= 6, "found only {models:?}");
    for p in packages.iter().filter(|p| models.contains(&p.name)) {
        for d in &p.deps {
            assert!(
                !models.contains(d),
                "{} depends on {d}: a model crate may depend on lab-core and the shared toolkits, \
                 never on another model",
                p.name
            );
        }
    }
}

#[test]
fn loadgen_and_report_depend_on_no_server_crate() {
    let packages = workspace();
    let servers = root().join("servers");
    let server_crates: BTreeSet<&str> = packages
        .iter()
        .filter(|p| p.dir.starts_with(&servers))
        .map(|p| p.name.as_str())
        .collect();
    for p in packages
        .iter()
        .filter(|p| p.name == "loadgen" || p.name == "report")
    {
        for d in &p.deps {
            assert!(
                !server_crates.contains(d.as_str()),
                "{} depends on {d}",
                p.name
            );
        }
    }
}

/// Every registered model's crate is a model crate, and every model crate is registered.
#[test]
fn the_registry_and_the_model_crates_agree() {
    let packages = workspace();
    let crates = model_crates(&packages);
    let registered: BTreeSet<String> = http_lab::models::ALL
        .iter()
        .map(|m| format!("lab-{}", m.name().replace('_', "-")))
        .collect();
    assert_eq!(
        registered, crates,
        "servers/<model> crates (named lab-<model>) and http_lab::models::ALL differ"
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | ".git" | "fuzz" | "results") {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// Code lines only: comments are stripped (the word "unsafe" in prose is fine).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_sys(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "sys.rs")
        || path.components().any(|c| c.as_os_str() == "sys")
}

#[test]
fn unsafe_only_in_sys_modules() {
    let mut files = Vec::new();
    rust_files(&root(), &mut files);
    let mut offenders = Vec::new();
    // This file names the patterns it looks for.
    let this = root().join(file!());
    for f in files.iter().filter(|f| **f != this) {
        let text = code(&std::fs::read_to_string(f).unwrap());
        let uses_unsafe = [
            "unsafe {",
            "unsafe fn",
            "unsafe impl",
            "unsafe trait",
            "unsafe extern",
        ]
        .iter()
        .any(|k| text.contains(k));
        if uses_unsafe && !is_sys(f) {
            offenders.push(f.strip_prefix(root()).unwrap().display().to_string());
        }
        for (i, line) in text.lines().enumerate() {
            if line.contains("allow(unsafe_code)") {
                let next = text.lines().nth(i + 1).unwrap_or("");
                let on_sys = line.contains("mod sys")
                    || next.trim_start().starts_with("mod sys")
                    || next.trim_start().starts_with("pub mod sys");
                assert!(
                    on_sys,
                    "{}:{}: allow(unsafe_code) is only for `mod sys`",
                    f.display(),
                    i + 1
                );
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "unsafe outside a sys module: {offenders:?}"
    );
}

#[test]
fn every_crate_root_denies_unsafe_code() {
    for p in workspace() {
        for root_file in ["src/lib.rs", "src/main.rs"] {
            let path = p.dir.join(root_file);
            if let Ok(text) = std::fs::read_to_string(&path) {
                assert!(
                    text.contains("#![deny(unsafe_code)]")
                        || text.contains("#![forbid(unsafe_code)]"),
                    "{} lacks #![deny(unsafe_code)]",
                    path.display()
                );
            }
        }
    }
}

/// lab-core's protocol layer does no I/O: it is handed bytes and answers Complete, Partial or a
/// rejection, so that every model (blocking or event-driven) and the fuzz targets drive the same
/// code.
#[test]
fn the_protocol_layer_does_no_io() {
    let dir = root().join("servers/core/src/protocol");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(files.len() >= 6, "{files:?}");
    for f in files {
        let text = code(&std::fs::read_to_string(&f).unwrap());
        for io in [
            "std::net",
            "std::fs",
            "std::os",
            "TcpStream",
            "UnixStream",
            "File",
            "io::Read",
            "io::Write",
            "crate::sys",
            "sys::",
            "libc::",
        ] {
            assert!(
                !text.contains(io),
                "{} uses {io}: the protocol layer does no I/O",
                f.display()
            );
        }
    }
}

/// A flag two models share (`--loops`, the supervisor's) is registered once, so its two
/// declarations must agree on everything a user sees.
#[test]
fn shared_model_flags_are_declared_alike() {
    let mut seen: BTreeMap<String, (&str, String)> = BTreeMap::new();
    for (model, arg) in http_lab::models::declared_args() {
        let shape = format!(
            "long={:?} short={:?} defaults={:?} help={:?} values={:?}",
            arg.get_long(),
            arg.get_short(),
            arg.get_default_values(),
            arg.get_help().map(|h| h.to_string()),
            arg.get_possible_values()
                .iter()
                .map(|v| v.get_name().to_string())
                .collect::<Vec<_>>()
        );
        let id = arg.get_id().to_string();
        if let Some((first, before)) = seen.get(&id) {
            assert_eq!(
                before, &shape,
                "--{id}: declared differently by {first} and {model}"
            );
        } else {
            seen.insert(id, (model, shape));
        }
    }
}

/// The models' flags do not collide with the lab's own (`lab serve`/`lab run` flags).
#[test]
fn model_flags_do_not_shadow_the_labs_own() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["run", "--help"])
        .output()
        .expect("lab run --help");
    assert!(
        out.status.success(),
        "lab run --help failed: a flag is declared twice?"
    );
}
