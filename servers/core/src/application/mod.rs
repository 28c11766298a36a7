//! Layer 4, **the application and how a model meets the lab**: the `Handler` trait and panic
//! isolation, the lab's routes and the docroot, `/_status`, the common configuration, and the
//! model description (`ModelInfo`) the lab's registry reads.

pub mod app;
pub mod config;
pub mod handler;
pub mod model;
pub mod static_files;
pub mod status;
