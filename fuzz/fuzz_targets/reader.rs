//! Fuzzes `RequestReader::advance` on a connection's arbitrary bytes, whole and split. The properties live in
//! `lab_core::fuzzing`, shared with the corpus replay in `servers/core/tests/fuzz_corpus.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lab_core::fuzzing::check_reader(data));
