//! `lab`: the command line of http-lab. Glue only: it parses flags, binds the port, builds the
//! application and hands both to a model crate (`servers/*`).

#![deny(unsafe_code)]

mod compare;
mod load;
mod run;
mod serve;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use http_lab::models;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "lab",
    version,
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
    /// Render the report of a `lab compare` folder again, from its JSON alone.
    Report {
        /// The folder `lab compare --out` wrote.
        #[arg(value_name = "DIR")]
        dir: std::path::PathBuf,
    },
}

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
        Command::Serve(args) => serve::serve(*args),
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
            Ok(())
        }
        Command::Compare(args) => compare::compare(*args),
        Command::Report { dir } => compare::report(&dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("lab: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Help and version print as clap formats them; a usage error becomes one line naming the flag.
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
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            eprintln!("lab: {}", first.trim_start_matches("error: "));
            ExitCode::from(2)
        }
    }
}
