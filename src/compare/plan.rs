//! What `lab compare` was asked for: the models (checked, in the lecture's order), the workloads,
//! and the cells they make ([`Job`]).

use clap::ValueEnum;
use http_lab::models::{self, Model};
use report::{CellRecord, CellStatus, Workload};
use std::path::Path;
use std::time::Duration;

/// `GET /cpu/<n>`: naive Fibonacci of n. fib(29) is about 1.6 million calls, 1.2 ms of CPU on the
/// lab's 2-core VM (`cargo bench --bench core -- cpu` measures it).
const CPU_N: u32 = 29;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkloadKind {
    Hello,
    Cpu,
    Sleep,
    Static,
}

impl WorkloadKind {
    pub fn workload(self) -> Workload {
        let (name, path, about) = match self {
            WorkloadKind::Hello => ("hello", "/".to_string(), "plaintext, 13 bytes"),
            WorkloadKind::Cpu => ("cpu", format!("/cpu/{CPU_N}"), "about 1 ms of CPU"),
            WorkloadKind::Sleep => ("sleep", "/sleep/10".into(), "blocks 10 ms"),
            WorkloadKind::Static => (
                "static",
                "/static/index.html".into(),
                "a small file from disk",
            ),
        };
        Workload {
            name: name.into(),
            path,
            about: about.into(),
        }
    }

    /// Blocking or CPU-heavy: `epoll` runs it twice, with `--offload` off and on.
    pub fn offloadable(self) -> bool {
        matches!(self, WorkloadKind::Cpu | WorkloadKind::Sleep)
    }
}

/// What a series runs: a model of the lab, or a server outside it (`--external`).
#[derive(Clone)]
pub enum Target {
    Model(Model),
    External(External),
}

/// `--external NAME=URL`, with its `--external-pid` or `--external-cmd` if given.
#[derive(Clone, Debug)]
pub struct External {
    pub name: String,
    pub url: String,
    pub pid: Option<u32>,
    pub cmd: Option<String>,
}

impl External {
    /// As compare.json records it.
    pub fn record(&self) -> lab_schema::External {
        lab_schema::External {
            name: self.name.clone(),
            url: self.url.clone(),
            command: self.cmd.clone(),
            pid: self.pid,
            measured: self.pid.is_some() || self.cmd.is_some(),
        }
    }
}

/// A line of the report: a model, one of its variants (`epoll+offload`), a model with the flags
/// of a `--series` (`epoll --loops 1`), or an external server (`nginx`).
#[derive(Clone)]
pub struct Series {
    pub target: Target,
    pub name: String,
    pub flags: Vec<String>,
}

impl Series {
    fn of_model(model: Model) -> Series {
        Series {
            target: Target::Model(model),
            name: model.name().to_string(),
            flags: Vec::new(),
        }
    }

    /// The model's name, or the external server's.
    pub fn model_name(&self) -> &str {
        match &self.target {
            Target::Model(m) => m.name(),
            Target::External(e) => &e.name,
        }
    }

    /// The series' part of a cell's file name: `epoll+offload` → `epoll-offload`,
    /// `epoll --loops 1` → `epoll-loops-1`.
    pub fn slug(&self) -> String {
        slug(&self.name)
    }
}

fn slug(label: &str) -> String {
    let mut out = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Who is compared: the models asked for (each with its variants where they apply), the
/// `--series` (a model with flags of its own), and the `--external` servers.
pub struct Lineup {
    pub models: Vec<Model>,
    pub custom: Vec<Series>,
    pub externals: Vec<External>,
}

impl Lineup {
    /// Every model that runs in some series, in the lecture's order.
    pub fn all_models(&self) -> Vec<Model> {
        let mut out: Vec<Model> = self.models.clone();
        for s in &self.custom {
            if let Target::Model(m) = s.target {
                if !out.contains(&m) {
                    out.push(m);
                }
            }
        }
        out.sort_by_key(|m| models::ALL.iter().position(|x| x == m));
        out
    }

    /// The series that run workload `w`: each model, then its variants that apply to `w`; the
    /// `--series` as given; and the external servers on the plaintext workload (the one route an
    /// external server is known to have: its URL).
    pub fn series_for(&self, w: WorkloadKind) -> Vec<Series> {
        let mut series = self.models_only(w);
        series.extend(self.custom.iter().cloned());
        if w == WorkloadKind::Hello {
            series.extend(self.externals.iter().map(|e| Series {
                target: Target::External(e.clone()),
                name: e.name.clone(),
                flags: Vec::new(),
            }));
        }
        series
    }

    /// The lab's own series on `w` (no external server).
    pub fn models_only(&self, w: WorkloadKind) -> Vec<Series> {
        let mut series = Vec::new();
        for &m in &self.models {
            series.push(Series::of_model(m));
            for v in m.info().variants {
                if !v.only_offloadable || w.offloadable() {
                    series.push(Series {
                        target: Target::Model(m),
                        name: v.label.to_string(),
                        flags: v.flags.iter().map(|f| f.to_string()).collect(),
                    });
                }
            }
        }
        series
    }

    /// The lab's series without the models' built-in variants: each model plain, and the
    /// `--series` (for experiments where a variant changes nothing that is measured).
    pub fn plain(&self) -> Vec<Series> {
        let mut series: Vec<Series> = self.models.iter().map(|&m| Series::of_model(m)).collect();
        series.extend(self.custom.iter().cloned());
        series
    }

    /// Refuses two series whose cells would share file names.
    pub fn check_unique(&self) -> Result<(), String> {
        let mut seen: Vec<(String, String)> = Vec::new();
        for w in [WorkloadKind::Hello, WorkloadKind::Sleep] {
            for s in self.series_for(w) {
                let slug = s.slug();
                if let Some((other, _)) = seen.iter().find(|(n, sl)| *sl == slug && *n != s.name) {
                    return Err(format!(
                        "--series `{}`: its cells would be named like those of `{other}`; name \
                         it differently",
                        s.name
                    ));
                }
                if !seen.iter().any(|(n, _)| *n == s.name) {
                    seen.push((s.name.clone(), slug));
                }
            }
        }
        Ok(())
    }
}

/// `--series 'epoll --loops 1'`: a model and its flags, checked by the model's own flag parser
/// (so `--loopz` or `--loops 0` is refused before any cell runs, naming the flag). The label is
/// the text with its spaces made single.
pub fn parse_series(text: &str) -> Result<Series, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some((&name, flags)) = words.split_first() else {
        return Err("--series: give a model and its flags, e.g. --series 'epoll --loops 1'".into());
    };
    let model = select_models(name)
        .map_err(|e| format!("--series '{text}': {}", e.trim_start_matches("--models: ")))?[0];
    let cmd = (model.info().flags)(clap::Command::new(model.name().to_string()))
        .no_binary_name(true)
        .disable_help_flag(true);
    let matches = cmd.try_get_matches_from(flags).map_err(|e| {
        let text_e = e.to_string();
        let line = text_e
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim_start_matches("error: ")
            .to_string();
        format!("--series '{text}': {line}")
    })?;
    drop((model.info().start)(&matches).map_err(|e| format!("--series '{text}': {e}"))?);
    Ok(Series {
        target: Target::Model(model),
        name: words.join(" "),
        flags: flags.iter().map(|f| f.to_string()).collect(),
    })
}

/// What a cell is, apart from its series.
pub struct CellSpec<'a> {
    /// The file name under `cells/` (without `.json`).
    pub id: String,
    /// Empty for the matrix.
    pub experiment: &'a str,
    pub workload: &'a Workload,
    pub conns: u64,
    pub duration: Duration,
    /// `lab run` flags of the experiment (e.g. `--rate 2000`).
    pub extra: Vec<String>,
    pub run: u32,
    pub rate: Option<f64>,
}

/// `--server-cpus`/`--load-cpus` as given to `lab compare`, passed on to every cell's `lab run`
/// (set once, before any cell is planned).
pub static PIN: std::sync::OnceLock<crate::run::PinFlags> = std::sync::OnceLock::new();
/// The load flags of every cell (`--threads`, `--pipeline`, `--timeout`), as `lab run` takes
/// them (set once, before any cell is planned; empty where they are the defaults).
pub static LOAD_ARGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
/// `--transport unix` as given to `lab compare`, passed on to every model's cell (an external
/// server's URL says how it is reached); empty for TCP.
pub static TRANSPORT_ARGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// The `lab run` of one cell: `lab run --model M --conns C --path P --duration D [extra] [load
/// flags] --quiet --json cells/<id>.json [the series' flags] [pinning]`; for an external server
/// `--external NAME=URL [--external-pid P | --external-cmd C]` in place of the model and path.
pub fn job(out: &Path, series: &Series, spec: CellSpec) -> Job {
    let json = out.join("cells").join(format!("{}.json", spec.id));
    let mut args: Vec<String> = vec!["run".into()];
    let pin = PIN.get().cloned().unwrap_or_default();
    let pin = match &series.target {
        Target::Model(m) => {
            args.extend([
                "--model".into(),
                m.name().into(),
                "--path".into(),
                spec.workload.path.clone(),
            ]);
            pin
        }
        Target::External(e) => {
            args.extend(["--external".into(), format!("{}={}", e.name, e.url)]);
            if let Some(pid) = e.pid {
                args.extend(["--external-pid".into(), pid.to_string()]);
            }
            if let Some(cmd) = &e.cmd {
                args.extend(["--external-cmd".into(), cmd.clone()]);
            }
            // A server the lab did not start cannot be pinned.
            crate::run::PinFlags {
                server_cpus: pin.server_cpus.filter(|_| e.cmd.is_some()),
                load_cpus: pin.load_cpus,
            }
        }
    };
    args.extend([
        "--conns".into(),
        spec.conns.to_string(),
        "--duration".into(),
        duration_arg(spec.duration),
    ]);
    args.extend(spec.extra);
    args.extend(LOAD_ARGS.get().into_iter().flatten().cloned());
    args.extend([
        "--quiet".into(),
        "--json".into(),
        json.display().to_string(),
    ]);
    args.extend(series.flags.iter().cloned());
    args.extend(pin.args());
    if let Target::Model(_) = series.target {
        args.extend(TRANSPORT_ARGS.get().into_iter().flatten().cloned());
    }
    let record = CellRecord {
        id: spec.id,
        workload: spec.workload.name.clone(),
        series: series.name.clone(),
        model: series.model_name().into(),
        conns: spec.conns,
        command: std::iter::once("lab".to_string())
            .chain(args.iter().cloned())
            .collect(),
        status: CellStatus::Pending,
        reason: None,
        wall_s: 0.0,
        run: spec.run,
        experiment: spec.experiment.to_string(),
        rate: spec.rate,
        faults: None,
        accept: None,
    };
    Job {
        record,
        args,
        nothing_served_is_a_result: false,
    }
}

/// One cell to run.
pub struct Job {
    pub record: CellRecord,
    /// The arguments after `lab`.
    pub args: Vec<String>,
    /// A run in which no request succeeded (`lab run` exits 1, its report written) is the
    /// cell's result, not a failure: a server the faults killed, good clients an attack starved.
    pub nothing_served_is_a_result: bool,
}

/// `all` means every model that can run here (the others are named, with the reason, and
/// skipped); otherwise a comma-separated list of models.
pub fn select_models(text: &str) -> Result<Vec<Model>, String> {
    if text.trim() == "all" {
        let mut runnable = Vec::new();
        for &m in models::ALL {
            match m.available() {
                Ok(()) => runnable.push(m),
                Err(why) => eprintln!("skipping {}: {why}", m.name()),
            }
        }
        return Ok(runnable);
    }
    let mut models = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let model = Model::from_str(name, false).map_err(|_| {
            let names: Vec<&str> = models::ALL.iter().map(|m| m.name()).collect();
            let near = names
                .iter()
                .map(|n| (edit_distance(name, n), *n))
                .filter(|&(d, _)| d <= 2)
                .min()
                .map(|(_, n)| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            format!(
                "--models: unknown model `{name}` (expected all or some of {}){near}",
                names.join(", ")
            )
        })?;
        if let Err(why) = model.available() {
            return Err(format!("--models: `{name}` cannot run here: {why}"));
        }
        if !models.contains(&model) {
            models.push(model);
        }
    }
    if models.is_empty() {
        return Err("--models: name at least one model, or all".into());
    }
    // The lecture's order, whatever order they were typed in: the report lists them so.
    models.sort_by_key(|m| models::ALL.iter().position(|x| x == m));
    Ok(models)
}

/// Levenshtein distance, for "did you mean" (clap does this for its own value lists).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The warm-up `lab run` uses by default: every connection opens at 2,000 a second, plus 0.5 s.
pub fn warmup_s(conns: u64) -> f64 {
    conns as f64 / 2000.0 + 0.5
}

pub fn duration_arg(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
