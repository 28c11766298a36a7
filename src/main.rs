//! `lab`: the command line of http-lab. Glue only: it parses flags, binds the port, builds the
//! application and hands both to a model crate (`servers/*`).

#![deny(unsafe_code)]

mod compare;
mod external;
mod faults;
mod generate;
mod knee;
mod load;
mod merge;
mod run;
mod serve;
mod slow;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use http_lab::models;
use std::process::ExitCode;

/// `lab --version`: the crate version and the git commit it was built from (see build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("LAB_GIT_COMMIT"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "lab",
    version = VERSION,
    about = "An HTTP/1.1 server architecture lab: many server models, one parser, one handler."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one server model in the foreground until SIGINT or SIGTERM.
    Serve(Box<serve::ServeArgs>),
    /// Load any HTTP/1.1 server, wrk-style: latency percentiles (HDR), throughput, errors by kind.
    Load(Box<load::LoadArgs>),
    /// Start a model as a child process, load it, and measure its memory, CPU and processes.
    Run(Box<run::RunArgs>),
    /// List the models, and say which cannot run on this machine (and why).
    Models,
    /// Run every model at several sizes and workloads (each cell a `lab run`) and write a report.
    Compare(Box<compare::CompareArgs>),
    /// One report from several loaders' reports: counts summed, HDR histograms added exactly.
    Merge(merge::MergeArgs),
    /// Render the report of a `lab compare` folder again, from its JSON alone.
    Report {
        /// The folder `lab compare --out` wrote.
        #[arg(value_name = "DIR")]
        dir: std::path::PathBuf,
        /// A baseline `lab compare` folder: overlay its run on every chart and add a table of
        /// this run's figures over its (throughput, p99, CPU per request), written to DIR/against/.
        #[arg(long, value_name = "OTHER_DIR")]
        against: Option<std::path::PathBuf>,
    },
    /// Print a shell completion script (e.g. `lab completions bash > ~/.local/share/bash-completion/completions/lab`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page lab(1), or with --out write one page per command (lab.1, lab-run.1, ...).
    Man {
        /// Folder for the pages.
        #[arg(long, value_name = "DIR")]
        out: Option<std::path::PathBuf>,
    },
}

/// The exit status of a run stopped by Ctrl-C or SIGTERM: 128 + SIGINT, as shells report it.
pub const INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return clap_error(e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    let result = match cli.command {
        Command::Serve(args) => serve::serve(*args).map(|()| ExitCode::SUCCESS),
        Command::Load(args) => load::load(*args),
        Command::Run(args) => match matches.subcommand_matches("run") {
            Some(run_matches) => run::run(*args, run_matches),
            None => Err("internal error: no matches for `run`".into()),
        },
        Command::Models => {
            for m in models::ALL {
                match m.available() {
                    Ok(()) => println!("{:<20} {}", m.name(), m.summary()),
                    Err(why) => println!(
                        "{:<20} {}  (unavailable here: {why})",
                        m.name(),
                        m.summary()
                    ),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare(args) => compare::compare(*args),
        Command::Merge(args) => merge::merge(args).map(|()| ExitCode::SUCCESS),
        Command::Report { dir, against } => {
            compare::report(&dir, against.as_deref()).map(|()| ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            generate::completions(Cli::command(), shell).map(|()| ExitCode::SUCCESS)
        }
        Command::Man { out } => {
            generate::man(Cli::command(), out.as_deref()).map(|()| ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("lab: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Help and version print as clap formats them; a usage error becomes one line (see `one_line`).
fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("lab: {}", one_line(&e.render().to_string()));
            ExitCode::from(2)
        }
    }
}

/// clap's error on one line: what is wrong and its name, the missing arguments, the valid values
/// and clap's "a similar value exists" tip are kept; the usage block and the pointer to --help
/// are dropped.
fn one_line(rendered: &str) -> String {
    let mut out = String::new();
    let mut in_usage = false;
    for line in rendered.lines() {
        let line = line.trim();
        if line.starts_with("Usage:") {
            in_usage = true;
        }
        if line.is_empty() {
            in_usage = false;
        }
        if in_usage
            || line.is_empty()
            || line.starts_with("For more information")
            || line.starts_with("tip: to pass")
        {
            continue;
        }
        let line = line.strip_prefix("error: ").unwrap_or(line);
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') || line.starts_with('[') {
                " "
            } else {
                "; "
            });
        }
        out.push_str(line);
    }
    if out.is_empty() {
        "invalid arguments (see --help)".into()
    } else {
        out
    }
}
