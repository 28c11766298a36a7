//! Layer 3, **prefork machinery**, Apache style: forking and reaping children, the shared-memory
//! scoreboard, the supervisor (spare-worker regulation, recycling, respawn, reload), and the
//! `--park on` front with its descriptor hand-off between processes, and `--accept handoff`'s
//! dealer.

pub mod dealer;
pub mod handoff;
pub mod park;
pub mod process;
pub mod scoreboard;
pub mod supervisor;
