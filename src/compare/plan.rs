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

/// A line of the report: a model, or one of its variants (`epoll+offload`) with its flags.
pub struct Series {
    pub model: Model,
    pub name: String,
    pub flags: Vec<&'static str>,
}

/// The series of `models` on workload `w`: each model, then its variants that apply to `w`.
pub fn series_for(models: &[Model], w: WorkloadKind) -> Vec<Series> {
    let mut series = Vec::new();
    for &m in models {
        series.push(Series {
            model: m,
            name: m.name().to_string(),
            flags: vec![],
        });
        for v in m.info().variants {
            if !v.only_offloadable || w.offloadable() {
                series.push(Series {
                    model: m,
                    name: v.label.to_string(),
                    flags: v.flags.to_vec(),
                });
            }
        }
    }
    series
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

/// The `lab run` of one cell: `lab run --model M --conns C --path P --duration D [extra]
/// --quiet --json cells/<id>.json [the series' flags]`.
/// `--server-cpus`/`--load-cpus` as given to `lab compare`, passed on to every cell's `lab run`
/// (set once, before any cell is planned).
pub static PIN_ARGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

pub fn job(out: &Path, series: &Series, spec: CellSpec) -> Job {
    let json = out.join("cells").join(format!("{}.json", spec.id));
    let mut args: Vec<String> = vec![
        "run".into(),
        "--model".into(),
        series.model.name().into(),
        "--conns".into(),
        spec.conns.to_string(),
        "--path".into(),
        spec.workload.path.clone(),
        "--duration".into(),
        duration_arg(spec.duration),
    ];
    args.extend(spec.extra);
    args.extend([
        "--quiet".into(),
        "--json".into(),
        json.display().to_string(),
    ]);
    args.extend(series.flags.iter().map(|f| f.to_string()));
    args.extend(PIN_ARGS.get().into_iter().flatten().cloned());
    let record = CellRecord {
        id: spec.id,
        workload: spec.workload.name.clone(),
        series: series.name.clone(),
        model: series.model.name().into(),
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
    Job { record, args }
}

/// One cell to run.
pub struct Job {
    pub record: CellRecord,
    /// The arguments after `lab`.
    pub args: Vec<String>,
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
