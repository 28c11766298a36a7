//! The declared minimum Rust version (`rust-version` in the workspace's Cargo.toml) is the true
//! one: no locked dependency needs a newer compiler, and one of them needs exactly this one.
//!
//! This checks what the *dependencies* need, from the `rust-version` every locked package
//! declares, with the installed toolchain only (it works offline once the packages are fetched).
//! What the lab's *own code* needs is checked by clippy's `incompatible_msrv` lint (on by default,
//! an error under CI's `-D warnings`): it flags any standard-library item stabilized after the
//! declared version. `.ci/run` also builds with that exact toolchain when rustup can install it.

use std::process::Command;

/// `1.88` or `1.88.0` as (1, 88, 0).
fn version(text: &str) -> (u64, u64, u64) {
    let mut parts = text
        .trim()
        .split('.')
        .map(|p| p.parse::<u64>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

/// The workspace's `rust-version`, read from its Cargo.toml.
fn declared() -> String {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let text = std::fs::read_to_string(manifest).expect("read Cargo.toml");
    text.lines()
        .find_map(|l| l.trim().strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_string())
        .expect("[workspace.package] has a rust-version")
}

/// The host triple, so that only packages built on this platform count (a Windows-only or
/// wasm-only dependency does not raise the minimum on Linux).
fn host() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("run rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

#[test]
fn declared_minimum_rust_version_is_the_highest_a_locked_dependency_needs() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .args(["--filter-platform", &host()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata --locked failed (is Cargo.lock up to date?):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .expect("workspace_members")
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    let declared = declared();
    let mut highest: Option<((u64, u64, u64), String)> = None;
    let mut too_new = Vec::new();
    for package in meta["packages"].as_array().expect("packages") {
        let id = package["id"].as_str().unwrap_or_default();
        let Some(rv) = package["rust_version"].as_str() else {
            continue;
        };
        let name = format!("{} {}", package["name"], package["version"]).replace('"', "");
        if members.contains(&id) {
            assert_eq!(
                rv, declared,
                "{name} declares its own rust-version; use rust-version.workspace = true"
            );
            continue;
        }
        if version(rv) > version(&declared) {
            too_new.push(format!("{name} needs {rv}"));
        }
        if highest.as_ref().is_none_or(|(v, _)| version(rv) > *v) {
            highest = Some((version(rv), format!("{name} (rust-version {rv})")));
        }
    }
    assert!(
        too_new.is_empty(),
        "rust-version = {declared:?}, but locked dependencies need more: {too_new:?}. Raise \
         rust-version, or lock older versions (.cargo/config.toml makes cargo update prefer them)."
    );
    let (v, who) = highest.expect("some dependency declares a rust-version");
    assert_eq!(
        v,
        version(&declared),
        "rust-version = {declared:?} is above what any dependency needs (the highest is {who}): \
         lower it to that, unless the lab's own code needs more (then say why here)"
    );
    println!("rust-version {declared}: set by {who}");
}
