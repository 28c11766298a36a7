//! What a model tells the lab about itself: its name, one line of summary, its own flags,
//! whether it can run on this machine, and its entry point. The `lab` binary keeps one list of
//! these (`src/models.rs`, one line per model) and learns everything else from them: `lab
//! models`, the flags of `lab serve`/`lab run`, the conformance suite, the comparison's series.
//!
//! A model crate writes, beside its `run`:
//!
//! ```ignore
//! /// The model's own flags (a clap `Args` struct the model owns).
//! #[derive(clap::Args, Debug, Clone)]
//! pub struct Options { /* #[arg(long, ...)] fields */ }
//! impl lab_core::model::ModelOptions for Options {
//!     fn validate(&self) -> Result<(), String> { Ok(()) }   // errors name the flag
//! }
//! pub const MODEL: ModelInfo = ModelInfo {
//!     name: "my_model",
//!     summary: "what it does, in one line",
//!     flags: <Options as clap::Args>::augment_args,
//!     available: lab_core::model::always_available,
//!     start: |flags| lab_core::model::start(flags, run),
//!     variants: &[],
//!     conformance: &[],
//! };
//! pub fn run(listener: Listener, handler: Arc<dyn Handler>, config: &Config,
//!            options: &Options, shutdown: Shutdown) -> io::Result<()> { ... }
//! ```
//!
//! Two models may declare the same flag (epoll and io_uring both have `--loops`; both pools
//! take the supervisor's flags): the lab registers it once, and a test checks that every
//! declaration of a shared flag is the same (name, default, help).

use crate::config::Config;
use crate::handler::Handler;
use crate::net::Listener;
use crate::shutdown::Shutdown;
use std::io;
use std::sync::Arc;

/// A model's entry point, its flags already read and checked. The listener is TCP or Unix
/// ([`Listener`]); a model serves either alike.
pub type Runner = Box<dyn FnOnce(Listener, Arc<dyn Handler>, &Config, Shutdown) -> io::Result<()>>;

/// Everything the lab knows about a model.
#[derive(Clone, Copy)]
pub struct ModelInfo {
    /// The name typed after `--model` (snake_case).
    pub name: &'static str,
    /// One line for `lab models`.
    pub summary: &'static str,
    /// Adds the model's own flags to a command: its options struct's `clap::Args::augment_args`.
    pub flags: fn(clap::Command) -> clap::Command,
    /// `Ok` if the model can run here; otherwise one line saying why not and what to do.
    pub available: fn() -> Result<(), String>,
    /// Reads the model's flags from the parsed command line, checks them (the error names the
    /// flag), and returns the entry point to call with the bound listener.
    pub start: fn(&clap::ArgMatches) -> Result<Runner, String>,
    /// Extra series the comparison runs for this model (e.g. epoll with `--offload on` for the
    /// blocking and CPU-bound workloads).
    pub variants: &'static [Variant],
    /// Flag sets the conformance suite runs besides the defaults (e.g. `["--loops", "1"]`), so
    /// that each way the model can run is held to the same HTTP behaviour.
    pub conformance: &'static [&'static [&'static str]],
}

impl std::fmt::Debug for ModelInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelInfo")
            .field("name", &self.name)
            .finish()
    }
}

/// Another way to run a model, compared beside its default.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// The series name in reports (e.g. `epoll+offload`).
    pub label: &'static str,
    /// The flags that make it (e.g. `["--offload", "on"]`).
    pub flags: &'static [&'static str],
    /// Only for workloads whose handlers block or burn CPU (`sleep`, `cpu`, `static`).
    pub only_offloadable: bool,
}

/// A model's own options: parsed from the command line, then checked as a whole.
pub trait ModelOptions: clap::FromArgMatches + Send + 'static {
    /// Checks the values together; the error names the flag (`--loops must be ...`).
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The entry point of a model whose options are `O`: `run(listener, handler, config, &options,
/// shutdown)`.
pub type RunWith<O> = fn(Listener, Arc<dyn Handler>, &Config, &O, Shutdown) -> io::Result<()>;

/// The usual [`ModelInfo::start`]: read `O` from the matches, validate it, and wrap `run`.
pub fn start<O: ModelOptions>(
    matches: &clap::ArgMatches,
    run: RunWith<O>,
) -> Result<Runner, String> {
    let options = O::from_arg_matches(matches).map_err(|e| {
        let text = e.to_string();
        text.lines()
            .next()
            .unwrap_or("invalid model flags")
            .trim_start_matches("error: ")
            .to_string()
    })?;
    options.validate()?;
    Ok(Box::new(move |listener, handler, config, shutdown| {
        run(listener, handler, config, &options, shutdown)
    }))
}

/// [`ModelInfo::available`] for a model that runs wherever the lab builds.
pub fn always_available() -> Result<(), String> {
    Ok(())
}

/// The options of a model that has no flags of its own.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct NoOptions {}

impl ModelOptions for NoOptions {}

/// `--offload on|off` and the like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

impl OnOff {
    pub fn is_on(self) -> bool {
        self == OnOff::On
    }
}

/// How connections reach a model's workers or loops (`--accept`): the pools take `shared`,
/// `reuseport` and `handoff`, epoll takes `shared`, `reuseport` and `exclusive`; each model
/// refuses the others by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AcceptMode {
    /// One listening socket that every worker (or loop) accepts on; the kernel picks who gets
    /// each connection.
    #[default]
    Shared,
    /// A SO_REUSEPORT socket per worker (or loop); the kernel spreads connections by a hash of
    /// the client's address and port. TCP only: refused with `--addr unix:PATH`.
    #[value(name = "reuseport")]
    ReusePort,
    /// The pools: the parent alone accepts and passes each connection's descriptor to a worker,
    /// round-robin among those that asked for one, over a Unix socket (SCM_RIGHTS): the
    /// Node.js cluster module's default on Linux.
    Handoff,
    /// epoll: one shared socket, registered in every loop's epoll with EPOLLEXCLUSIVE, so the
    /// kernel wakes one loop per connection instead of all of them.
    Exclusive,
}

/// The `--accept` flag, declared once for every model that takes it.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct AcceptFlag {
    /// How connections reach the workers or loops: shared (one listening socket), reuseport (a
    /// SO_REUSEPORT socket each), handoff (pools: the parent accepts and passes each connection
    /// to a worker round-robin over a Unix socket), exclusive (epoll: EPOLLEXCLUSIVE, one loop
    /// woken per connection).
    #[arg(long, value_enum, default_value_t = AcceptMode::Shared)]
    pub accept: AcceptMode,
}

impl AcceptFlag {
    /// Refuses a strategy the model does not have, naming the ones it does.
    pub fn check(&self, model: &str, allowed: &[AcceptMode]) -> Result<(), String> {
        if allowed.contains(&self.accept) {
            return Ok(());
        }
        let names: Vec<String> = allowed
            .iter()
            .filter_map(clap::ValueEnum::to_possible_value)
            .map(|v| v.get_name().to_string())
            .collect();
        let this = clap::ValueEnum::to_possible_value(&self.accept)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default();
        Err(format!(
            "--accept {this}: not a {model} strategy (it takes {})",
            names.join(", ")
        ))
    }
}
