//! Replays the fuzz corpus as a regression test, on the stable toolchain.
//!
//! `fuzz/` (outside the workspace) holds three libFuzzer targets; each calls one function of
//! `lab_core::fuzzing`, which runs the parser, the chunked decoder or the request reader on the
//! input and panics if a property fails (split reads change the outcome, bytes consumed that were
//! not given, a limit exceeded, a panic inside). This test feeds every committed input through the
//! same functions: the hand-made seeds (`fuzz/seeds/`: real requests from curl, wrk, ab and
//! browsers, and every case of `tests/parser.rs`), the corpus the fuzzer grew and minimized
//! (`fuzz/corpus/<target>/`) and any input that once broke a property (`fuzz/regressions/<target>/`).

use lab_core::fuzzing::{check_chunked, check_parse_head, check_reader};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Runs `check` on every file under each of `dirs` (missing directories are skipped); returns how
/// many files ran and fails naming every file whose check panicked.
fn replay(dirs: &[&str], check: fn(&[u8])) -> usize {
    let mut count = 0;
    let mut failed = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(dir)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let data = std::fs::read(&path).unwrap();
            count += 1;
            if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
                failed.push(path.display().to_string());
            }
        }
    }
    assert!(failed.is_empty(), "properties failed on {failed:#?}");
    count
}

#[test]
fn parse_head_corpus() {
    let n = replay(
        &[
            "seeds/requests",
            "corpus/parse_head",
            "regressions/parse_head",
        ],
        check_parse_head,
    );
    assert!(n >= 100, "only {n} inputs: is fuzz/ there?");
}

#[test]
fn chunked_corpus() {
    let n = replay(
        &["seeds/chunked", "corpus/chunked", "regressions/chunked"],
        check_chunked,
    );
    assert!(n >= 20, "only {n} inputs: is fuzz/ there?");
}

#[test]
fn reader_corpus() {
    let n = replay(
        &["seeds/requests", "corpus/reader", "regressions/reader"],
        check_reader,
    );
    assert!(n >= 100, "only {n} inputs: is fuzz/ there?");
}
