//! `docs/adding-a-model.md` is followed to the letter by the tree: every code block that names a
//! file (`file=PATH`, the blocks of one file concatenated in order) *is* that file; every block
//! marked `line-in=PATH` is a line of that file; and no file outside the tutorial's list names the
//! model (Markdown docs and Cargo.lock aside), so the list is all a student has to touch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const TUTORIAL: &str = "docs/adding-a-model.md";
const MODEL_NAMES: [&str; 2] = ["thread_pool", "thread-pool"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Tutorial {
    /// file -> its blocks' contents, in order
    files: BTreeMap<String, Vec<String>>,
    /// (file, line) pairs that must appear in that file
    lines: Vec<(String, String)>,
    /// the closing list of touched files
    touched: Vec<String>,
}

fn read_tutorial() -> Tutorial {
    let text = std::fs::read_to_string(root().join(TUTORIAL)).expect("tutorial");
    let mut files: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut lines = Vec::new();
    let mut current: Option<(String, bool)> = None; // (path, whole-file?)
    let mut body: Vec<&str> = Vec::new();
    for line in text.lines() {
        if let Some((path, whole)) = &current {
            if line == "```" {
                let content = body.join("\n");
                if *whole {
                    files.entry(path.clone()).or_default().push(content);
                } else {
                    for l in &body {
                        lines.push((path.clone(), l.to_string()));
                    }
                }
                current = None;
                body.clear();
            } else {
                body.push(line);
            }
        } else if let Some(info) = line.strip_prefix("```") {
            for word in info.split_whitespace() {
                if let Some(p) = word.strip_prefix("file=") {
                    current = Some((p.to_string(), true));
                } else if let Some(p) = word.strip_prefix("line-in=") {
                    current = Some((p.to_string(), false));
                }
            }
            if current.is_none() && !info.is_empty() {
                // A code block that names no file (a shell session): skip to its end.
                current = Some((String::new(), false));
            }
        }
    }
    lines.retain(|(p, _)| !p.is_empty());
    let list = text
        .split("## The files this tutorial touched")
        .nth(1)
        .expect("the tutorial ends with its list of files");
    let touched = list
        .lines()
        .filter_map(|l| l.strip_prefix("- `"))
        .filter_map(|l| l.strip_suffix('`'))
        .map(str::to_string)
        .collect();
    Tutorial {
        files,
        lines,
        touched,
    }
}

#[test]
fn every_file_block_is_the_file_in_the_tree() {
    let t = read_tutorial();
    assert!(t.files.len() >= 2, "no file blocks found in {TUTORIAL}");
    for (path, blocks) in &t.files {
        let actual =
            std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let written = blocks.join("\n\n") + "\n";
        if written != actual {
            let line = written
                .lines()
                .zip(actual.lines())
                .position(|(a, b)| a != b)
                .map_or(written.lines().count().min(actual.lines().count()), |i| i)
                + 1;
            panic!("{TUTORIAL} and {path} differ (first at line {line} of the file)");
        }
    }
    for (path, line) in &t.lines {
        let actual = std::fs::read_to_string(root().join(path)).unwrap();
        assert!(
            actual.lines().any(|l| l == line),
            "{path} has no line {line:?}, as {TUTORIAL} says"
        );
    }
}

#[test]
fn the_list_of_touched_files_is_complete() {
    let t = read_tutorial();
    let mut named: Vec<String> = t.files.keys().cloned().collect();
    named.extend(t.lines.iter().map(|(p, _)| p.clone()));
    named.sort();
    named.dedup();
    let mut listed = t.touched.clone();
    listed.sort();
    assert_eq!(
        named, listed,
        "the closing list must name exactly the files the blocks name"
    );

    let mut offenders = Vec::new();
    walk(&root(), &mut |path| {
        let rel = path
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let exempt = rel.ends_with(".md")
            || rel == "Cargo.lock"
            || rel == "tests/tutorial.rs"
            || t.touched.contains(&rel);
        if exempt {
            return;
        }
        if let Ok(text) = std::fs::read_to_string(path) {
            if MODEL_NAMES.iter().any(|n| text.contains(n)) {
                offenders.push(rel);
            }
        }
    });
    assert!(
        offenders.is_empty(),
        "these files name the model but the tutorial does not list them: {offenders:?}"
    );
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || matches!(name.as_str(), "target" | "results" | "fuzz") {
            continue;
        }
        if path.is_dir() {
            walk(&path, f);
        } else {
            f(&path);
        }
    }
}
