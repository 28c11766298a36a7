//! The `lab` binary's one list of models, as a library so that the tests and benches iterate
//! the same list the CLI does (`http_lab::models::ALL`). The rest of the CLI is in `main.rs`.

#![deny(unsafe_code)]

pub mod models;
