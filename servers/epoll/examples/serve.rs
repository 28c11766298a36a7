//! Runs the epoll model on 127.0.0.1 (port from the first argument, default 0) and prints the
//! port: for measurements when the `lab` binary is not at hand.
//!
//! `cargo run --release -p lab-epoll --example serve -- 0 [loops] [offload]`

use lab_core::{Config, LabApp, Shutdown};
use std::sync::Arc;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    let mut config = Config::default();
    let mut options = lab_epoll::Options::default();
    if let Some(loops) = args.get(2).and_then(|l| l.parse().ok()) {
        options.loops = loops;
    }
    if args.get(3).is_some_and(|o| o == "offload") {
        options.offload = lab_core::OnOff::On;
    }
    config.verbose = std::env::var_os("VERBOSE").is_some();
    let listener = lab_core::bind_listener(([127, 0, 0, 1], port).into())?;
    println!("{}", listener.local_addr()?.port());
    let docroot = std::env::current_dir()?;
    let handler = Arc::new(LabApp::new(&docroot, "epoll")?);
    lab_epoll::run(listener.into(), handler, &config, &options, Shutdown::new())
}
