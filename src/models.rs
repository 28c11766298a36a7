//! The models the lab knows: **the one list** (one line per model). Everything else in the CLI,
//! the conformance suite and the comparison learns about models from here: their names, flags,
//! availability and entry points come from each model crate's `MODEL` ([`ModelInfo`]).

use clap::builder::PossibleValue;
use clap::ValueEnum;
use lab_core::model::ModelInfo;
use std::collections::BTreeMap;

/// Every model, in the lecture's order (the report lists them so). Adding a model is one line
/// here, plus its crate in the workspace.
pub static ALL: &[Model] = &[
    Model(&lab_single_thread::MODEL),
    Model(&lab_fork_per_request::MODEL),
    Model(&lab_process_pool::MODEL),
    Model(&lab_thread_per_request::MODEL),
    Model(&lab_hybrid_pool::MODEL),
    Model(&lab_epoll::MODEL),
    Model(&lab_io_uring::MODEL),
    Model(&lab_thread_pool::MODEL),
];

/// A registered model, usable as a clap value (`--model epoll`).
#[derive(Debug, Clone, Copy)]
pub struct Model(pub &'static ModelInfo);

impl PartialEq for Model {
    fn eq(&self, other: &Model) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Model {}

impl Model {
    pub fn name(self) -> &'static str {
        self.0.name
    }

    pub fn summary(self) -> &'static str {
        self.0.summary
    }

    pub fn info(self) -> &'static ModelInfo {
        self.0
    }

    /// `Ok` if the model can run on this machine, else why not and what to do.
    pub fn available(self) -> Result<(), String> {
        (self.0.available)()
    }

    /// The model by name.
    pub fn find(name: &str) -> Option<Model> {
        ALL.iter().copied().find(|m| m.name() == name)
    }
}

impl ValueEnum for Model {
    fn value_variants<'a>() -> &'a [Self] {
        ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()).help(self.summary()))
    }
}

/// The models' own flags, as one clap argument set: each flag once (two models that declare
/// the same flag share it, and must declare it alike: `tests/models.rs` checks), under a help
/// heading naming the models it belongs to.
pub fn model_args() -> Vec<clap::Arg> {
    let mut owners: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    let mut args: Vec<clap::Arg> = Vec::new();
    for m in ALL {
        let cmd = (m.0.flags)(clap::Command::new(m.name()));
        for arg in cmd.get_arguments() {
            let id = arg.get_id().to_string();
            if !owners.contains_key(&id) {
                args.push(arg.clone());
            }
            owners.entry(id).or_default().push(m.name());
        }
    }
    args.into_iter()
        .map(|arg| {
            let heading = format!("{} options", owners[arg.get_id().as_str()].join(", "));
            arg.help_heading(heading)
        })
        .collect()
}

/// Refuses model flags typed on the command line that `model` does not take: `--max-children`
/// with `--model process_pool` is a mistake, not something to ignore silently.
pub fn check_flags_apply(model: Model, matches: &clap::ArgMatches) -> Result<(), String> {
    let own = (model.0.flags)(clap::Command::new(model.name()));
    let own: Vec<&str> = own.get_arguments().map(|a| a.get_id().as_str()).collect();
    for (_, arg) in declared_args() {
        let id = arg.get_id().as_str();
        let typed = matches!(
            matches
                .try_get_raw(id)
                .ok()
                .flatten()
                .map(|_| matches.value_source(id)),
            Some(Some(clap::parser::ValueSource::CommandLine))
        );
        if typed && !own.contains(&id) {
            let owners: Vec<&str> = declared_args()
                .into_iter()
                .filter(|(_, a)| a.get_id() == arg.get_id())
                .map(|(m, _)| m)
                .collect();
            return Err(format!(
                "--{}: not a {} flag (it is for {})",
                arg.get_long().unwrap_or(id),
                model.name(),
                owners.join(", ")
            ));
        }
    }
    Ok(())
}

/// Refuses model flags that cannot work over a Unix socket (`unix`), before anything is
/// bound: `--accept reuseport` spreads connections over several sockets bound to one TCP port,
/// and a Unix socket's path is bound by one socket only.
pub fn check_transport(matches: &clap::ArgMatches, unix: bool) -> Result<(), String> {
    let reuseport = matches!(
        matches.try_get_one::<lab_core::AcceptMode>("accept"),
        Ok(Some(lab_core::AcceptMode::ReusePort))
    );
    if unix && reuseport {
        return Err(lab_core::net::REUSEPORT_OVER_UNIX.to_string());
    }
    Ok(())
}

/// Every model's flag declarations, model by model (for the consistency test).
pub fn declared_args() -> Vec<(&'static str, clap::Arg)> {
    let mut out = Vec::new();
    for m in ALL {
        let cmd = (m.0.flags)(clap::Command::new(m.name()));
        for arg in cmd.get_arguments() {
            out.push((m.name(), arg.clone()));
        }
    }
    out
}

/// The models' flags inside `lab serve`/`lab run`: parsed as a set, handed to the chosen model's
/// `start`, which reads its own.
#[derive(Debug, Clone, Default)]
pub struct ModelFlags(pub clap::ArgMatches);

impl clap::FromArgMatches for ModelFlags {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        Ok(ModelFlags(matches.clone()))
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.0 = matches.clone();
        Ok(())
    }
}

impl clap::Args for ModelFlags {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.args(model_args())
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        cmd.args(model_args())
    }
}
