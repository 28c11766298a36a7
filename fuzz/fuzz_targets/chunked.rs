//! Fuzzes the chunked body decoder on arbitrary bytes after a head. The properties live in
//! `lab_core::fuzzing`, shared with the corpus replay in `servers/core/tests/fuzz_corpus.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lab_core::fuzzing::check_chunked(data));
