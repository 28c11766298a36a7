//! What `GET /_status` reports beyond pid and threads: each model may register a source of JSON
//! describing its insides (the epoll loops' counters, a process pool's scoreboard).
//!
//! The registry is process-global because the application is built before the model starts and
//! the model's insides exist only inside its `run`; a forked worker inherits its parent's
//! registration, which is what we want when the source reads shared memory.

use std::sync::{Arc, RwLock};

type Source = Arc<dyn Fn() -> String + Send + Sync>;

static SOURCE: RwLock<Option<Source>> = RwLock::new(None);

/// Registers the model's status source: a function returning one JSON value.
pub fn set_source(source: impl Fn() -> String + Send + Sync + 'static) {
    *SOURCE.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(source));
}

/// Removes the status source (a model's `run` calls this when it returns).
pub fn clear_source() {
    *SOURCE.write().unwrap_or_else(|e| e.into_inner()) = None;
}

/// The registered source's JSON, if a model registered one.
pub fn snapshot() -> Option<String> {
    let source = SOURCE.read().unwrap_or_else(|e| e.into_inner()).clone();
    source.map(|f| f())
}
