//! `lab compare` and `lab report` end to end: a small comparison of every built model runs, its
//! report has a chart in every section and names every model, `lab report` rewrites it byte for
//! byte, and (where Chromium is installed) the page renders without a console error.

mod common;

use common::{
    all_files, assert_report_reproduces, cell_report, compare, compare_into, lab, lab_ok, plan,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn built_models() -> Vec<String> {
    let (ok, out, _) = lab(&["models"]);
    assert!(ok);
    out.lines()
        .filter(|l| !l.contains("not built yet") && !l.contains("(unavailable"))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// One comparison shared by the tests of this file (it takes a minute or two): every built
/// model at 10 and 50 connections, `/` and `/sleep/10` (so epoll runs with offload off and on).
fn compared() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        compare(&[
            "--models",
            "all",
            "--conns",
            "10,50",
            "--workloads",
            "hello,sleep",
            "--duration",
            "1s",
            "--pause",
            "200ms",
        ])
    })
    .1
}

#[test]
fn compare_runs_every_cell_and_the_report_covers_every_section_and_model() {
    let dir = compared();
    let plan = plan(dir);
    let cells = plan["cells"].as_array().expect("cells");
    let models = built_models();
    // Per workload: every model at two sizes; on /sleep (a workload that blocks) also each
    // model's offload variant (epoll+offload, io_uring+offload) at two sizes.
    let variants: usize = http_lab::models::ALL
        .iter()
        .filter(|m| models.iter().any(|x| x == m.name()))
        .map(|m| m.info().variants.len())
        .sum();
    assert_eq!(cells.len(), models.len() * 2 * 2 + 2 * variants, "{plan:#}");
    for cell in cells {
        assert_eq!(cell["status"], "ok", "cell failed: {cell:#}");
        let file = dir.join(format!("cells/{}.json", cell["id"].as_str().unwrap()));
        assert!(file.is_file(), "{} missing", file.display());
    }
    for key in [
        "cores",
        "kernel",
        "somaxconn",
        "ip_local_port_range",
        "open_files_soft",
    ] {
        assert!(plan["environment"].get(key).is_some(), "environment.{key}");
    }

    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(!html.contains("<script"), "the page needs no script");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "the page fetches nothing"
    );
    for model in &models {
        assert!(
            html.contains(model.as_str()),
            "the report does not name {model}"
        );
    }
    assert!(html.contains("epoll+offload"));
    // Sections 1 to 6 each have at least one chart; section 7 has the commands.
    let sections: Vec<&str> = html.split("<h2 id=").skip(1).collect();
    let ids = [
        "summary",
        "models",
        "throughput",
        "latency",
        "timelines",
        "memory",
        "costs",
        "errors",
        "handlers",
        "environment",
    ];
    assert_eq!(sections.len(), ids.len());
    for (section, id) in sections.iter().zip(ids) {
        assert!(
            section.starts_with(&format!("\"{id}\"")),
            "section order: {id}"
        );
        if !matches!(id, "summary" | "models" | "environment") {
            assert!(section.contains("<svg"), "section {id} has no chart");
            assert!(
                section.contains("class=\"reading\""),
                "section {id} has no reading"
            );
        }
    }
    assert!(sections[9].contains("lab compare --models all --conns 10,50"));

    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), cells.len() + 1);
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for line in md.lines().filter(|l| l.starts_with("![")) {
        let file = line.split("](").nth(1).unwrap().trim_end_matches(')');
        assert!(dir.join(file).is_file(), "{file} missing beside report.md");
    }
}

#[test]
fn lab_report_rewrites_the_report_byte_for_byte() {
    // Only the JSON goes over: the report is made again from it alone.
    let generated = assert_report_reproduces(compared());
    assert!(generated >= 9, "{generated} files");
}

/// The first Chromium found on this machine, if any.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// Renders a report page in headless Chromium and asserts that it logs no console error, that
/// at least `charts` charts are on it and that every one was laid out with a non-zero size (a
/// copy of the page with a small script that measures each `<svg>` and writes the counts into
/// the DOM, read back with `--dump-dom`), and that a screenshot of it is not blank. Skips (with a
/// note) where there is no Chromium.
fn assert_renders_in_chromium(page: &Path, charts: usize) {
    let Some(chromium) = chromium() else {
        eprintln!("skipped: no chromium on this machine (apt-get install chromium to run it)");
        return;
    };
    let run = |url: &str, extra: &[String]| {
        let profile = tempfile::tempdir().unwrap();
        let out = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1280,3000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(url)
            .output()
            .expect("run chromium");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let console: Vec<&str> = stderr
            .lines()
            .filter(|l| {
                l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Failed to load")
            })
            .collect();
        assert!(
            console.is_empty(),
            "{}: console messages:\n{}",
            page.display(),
            console.join("\n")
        );
        (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
    };
    let shots = tempfile::tempdir().unwrap();
    let shot = shots.path().join("report.png");
    let (_, stderr) = run(
        &format!("file://{}", page.display()),
        &[format!("--screenshot={}", shot.display())],
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    // A blank page is a few KiB; charts and tables make it hundreds.
    assert!(size > 50_000, "screenshot is {size} bytes:\n{stderr}");
    // The page itself has no script; a copy beside it measures the charts.
    let probe = page.with_file_name("chromium-probe.html");
    let html = std::fs::read_to_string(page).unwrap().replace(
        "</body>",
        "<script>const s=[...document.querySelectorAll('figure svg')];\
         const bad=s.filter(e=>{const r=e.getBoundingClientRect();return !(r.width>100&&r.height>100)});\
         document.body.setAttribute('data-charts',s.length+'/'+bad.length);</script></body>",
    );
    std::fs::write(&probe, html).unwrap();
    let (dom, _) = run(
        &format!("file://{}", probe.display()),
        &["--dump-dom".to_string()],
    );
    std::fs::remove_file(&probe).unwrap();
    let counts = dom
        .split("data-charts=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("{}: the probe did not run", page.display()));
    let (all, bad) = counts.split_once('/').unwrap();
    let (all, bad): (usize, usize) = (all.parse().unwrap(), bad.parse().unwrap());
    assert!(
        all >= charts,
        "{}: {all} charts, expected {charts}",
        page.display()
    );
    assert_eq!(
        bad,
        0,
        "{}: {bad} of {all} charts have no size",
        page.display()
    );
}

#[test]
fn the_page_renders_in_headless_chromium_without_console_errors() {
    // Throughput, latency per workload, spectrum, timelines per workload, memory, costs,
    // errors, handlers.
    assert_renders_in_chromium(&compared().join("index.html"), 10);
}

#[test]
fn compare_refuses_bad_flags_in_one_line() {
    let (ok, _, err) = lab(&["compare", "--models", "nope", "--out", "/tmp/never"]);
    assert!(!ok);
    assert!(err.contains("--models") && err.contains("nope"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (ok, _, err) = lab(&["compare", "--conns", "0", "--out", "/tmp/never"]);
    assert!(!ok && err.contains("--conns"), "{err}");
    let (ok, _, err) = lab(&["report", "/nonexistent/folder"]);
    assert!(!ok && err.contains("compare.json"), "{err}");
}

#[test]
fn compare_exits_non_zero_when_every_cell_failed() {
    // More connections than any machine has descriptors for: every cell's `lab run` refuses.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let (ok, stdout, stderr) = lab(&[
        "compare",
        "--models",
        "epoll",
        "--conns",
        "100000000",
        "--workloads",
        "hello",
        "--duration",
        "1s",
        "--pause",
        "0s",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("every cell failed"), "{stderr}");
    assert!(
        out.join("report.md").exists(),
        "the report is still written"
    );
}

#[test]
fn ctrl_c_interrupts_compare_which_says_so_and_exits_130() {
    use std::time::Duration;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let args = [
        "compare",
        "--models",
        "epoll",
        "--conns",
        "10,20",
        "--workloads",
        "hello",
        "--duration",
        "10s",
        "--out",
        out.to_str().unwrap(),
    ];
    // Once the first cell's server runs (compare → lab run → lab serve), a moment of load.
    let mut child = common::spawn_lab_job(&args, 2, Duration::from_secs(30));
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(1500));
    // A terminal's Ctrl-C: SIGINT to every process of the foreground group.
    common::terminal_ctrl_c(pid);
    let status = common::wait_exit(
        &mut child,
        Duration::from_secs(60),
        "lab compare after Ctrl-C",
    );
    let out_text = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out_text.stdout);
    assert_eq!(status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("interrupted after"), "{stdout}");
    let plan = plan(&out);
    assert_eq!(plan["interrupted"], true);
    assert!(plan["cells"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["status"] == "pending"));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("The comparison was interrupted after"), "{md}");
}

/// `--rates auto`: each series' search runs as cells of the `rates` experiment, the report has
/// the section with its chart, table and reading, and `lab report` reproduces it.
#[test]
fn rates_auto_searches_each_series_and_the_report_reproduces() {
    let (_tmp, out) = compare(&[
        "--models",
        "single_thread,process_pool",
        "--experiments",
        "rates",
        "--rates",
        "auto",
        "--workloads",
        "sleep",
        "--rate-conns",
        "1",
        "--slo",
        "100ms",
        "--start-rate",
        "40",
        "--max-steps",
        "3",
        "--duration",
        "1s",
        "--pause",
        "0s",
    ]);
    let plan = plan(&out);
    assert_eq!(plan["rates"]["auto"], true, "{plan:#}");
    let cells = plan["cells"].as_array().unwrap();
    for series in ["single_thread", "process_pool"] {
        let mine: Vec<_> = cells.iter().filter(|c| c["series"] == series).collect();
        // Three steps, each run at most once more if the load generator was late.
        assert!((3..=6).contains(&mine.len()), "{series}: {mine:#?}");
        assert_eq!(mine[0]["rate"], 40.0);
        for c in &mine {
            assert_eq!(c["experiment"], "rates");
            assert_eq!(c["status"], "ok", "{c:#}");
            assert!(c["command"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "--rate"));
        }
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let section = html
        .split("<h2 id=\"rates\"")
        .nth(1)
        .expect("a rates section")
        .split("<h2 id=")
        .next()
        .unwrap();
    assert!(section.contains("<svg"), "no chart");
    assert!(section.contains("<table"), "no table");
    assert!(section.contains("class=\"reading\""), "no reading");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("Sustained open-loop rate on sleep"), "{md}");
    assert_report_reproduces(&out);
    assert_renders_in_chromium(&out.join("index.html"), 3);
}

/// `--experiments faults` on two models whose fate differs: `process_pool` loses the aborting
/// worker and replaces it, `single_thread` is one process and dies with the first abort. The
/// death is the cell's result (status ok, "server died at"), not a harness failure, and the
/// report with its fault table is reproduced by `lab report`.
#[test]
fn faults_table_shows_who_survives_and_who_dies() {
    let (_tmp, out) = compare(&[
        "--models",
        "single_thread,process_pool",
        "--experiments",
        "faults",
        "--duration",
        "6s",
        "--pause",
        "0s",
    ]);
    let plan = plan(&out);
    let cells = plan["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2, "{plan:#}");
    let cell = |series: &str| {
        cells
            .iter()
            .find(|c| c["series"] == series)
            .unwrap_or_else(|| panic!("no {series} cell"))
    };
    let single = cell("single_thread");
    assert_eq!(single["experiment"], "faults");
    assert_eq!(single["status"], "ok", "{single:#}");
    let f = &single["faults"];
    assert!(
        f["died_at_s"].is_number(),
        "single_thread survived an abort: {f:#}"
    );
    assert_eq!(f["alive_at_end"], false);
    let crash = &f["injections"][0];
    assert_eq!(crash["kind"], "crash");
    // A panic is a 500 (a pool may close one on a worker it is retiring at that moment).
    assert!(
        crash["outcomes"]["500"].as_u64().unwrap_or(0) >= 15,
        "{f:#}"
    );
    assert!(
        !f["injections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "kill"),
        "nothing to kill once dead: {f:#}"
    );

    let pool = cell("process_pool");
    assert_eq!(pool["status"], "ok", "{pool:#}");
    let f = &pool["faults"];
    assert!(f["died_at_s"].is_null(), "process_pool died: {f:#}");
    assert_eq!(f["alive_at_end"], true);
    assert_eq!(f["probe_after"], "200");
    let kinds: Vec<&str> = f["injections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["crash", "abort", "kill"]);
    assert!(
        f["injections"][0]["outcomes"]["500"].as_u64().unwrap_or(0) >= 15,
        "{f:#}"
    );
    // Each abort takes down only the worker serving it: its own connection gets no response.
    let abort = f["injections"][1]["outcomes"].as_object().unwrap();
    assert!(!abort.contains_key("refused"), "{f:#}");
    assert_eq!(f["injections"][2]["outcomes"]["killed"], 1, "{f:#}");

    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let section = md
        .split("## Fault isolation")
        .nth(1)
        .expect("a faults section");
    assert!(
        section.contains("`single_thread` | server died at t="),
        "{section}"
    );
    assert!(section.contains("`process_pool` | survived"), "{section}");
    assert!(section.contains("**Reading.**"), "{section}");
    assert!(
        section.contains("-faults.svg"),
        "no throughput timeline: {section}"
    );
    assert_report_reproduces(&out);
    assert_renders_in_chromium(&out.join("index.html"), 1);
}

/// The median over a cell's successful runs of `pick`, read straight from the folder's JSON.
fn median_of(dir: &Path, (w, s, c): (&str, &str, u64), pick: fn(&serde_json::Value) -> f64) -> f64 {
    let plan = plan(dir);
    let mut values: Vec<f64> = plan["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["workload"] == w && x["series"] == s && x["conns"] == c)
        .filter(|x| x["status"] == "ok")
        .map(|x| pick(&cell_report(dir, x)))
        .collect();
    assert!(
        !values.is_empty(),
        "no run of {w} {s} {c} in {}",
        dir.display()
    );
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Every file under `dir`, with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    all_files(dir)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(dir.join(&f)).unwrap();
            (f, bytes)
        })
        .collect()
}

/// `lab report DIR --against OTHER` on two small real comparisons (three runs of every cell each,
/// so that the noise is measured): every chart carries both runs, the ratio table's figures are
/// the two folders' medians divided, each ratio is called a change or noise, the cells that only
/// one run has are listed, and regenerating gives the same bytes. Then against a one-run
/// baseline measured differently (a fixture made from the second run's files): the ratios are
/// not called, the reading says one run cannot separate noise, and a warning names the
/// differences.
#[test]
fn report_against_a_baseline_overlays_both_runs_and_divides_their_cells() {
    let tmp = tempfile::tempdir().unwrap();
    let this = tmp.path().join("change");
    let base = tmp.path().join("baseline");
    let common = [
        "--workloads",
        "hello",
        "--duration",
        "500ms",
        "--pause",
        "0s",
        "--repeat",
        "3",
    ];
    let mut a = vec!["--models", "single_thread,epoll", "--conns", "10,50"];
    a.extend(common);
    compare_into(&this, &a);
    let mut b = vec![
        "--models",
        "single_thread,thread_per_request",
        "--conns",
        "10",
    ];
    b.extend(common);
    compare_into(&base, &b);

    let stdout = lab_ok(&[
        "report",
        this.to_str().unwrap(),
        "--against",
        base.to_str().unwrap(),
    ]);
    let out = this.join("against");
    assert!(stdout.contains("against/index.html"), "{stdout}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.starts_with("# http-lab: change against baseline"),
        "{md}"
    );

    // Every chart overlays the baseline and says which run is which.
    let charts: Vec<PathBuf> = all_files(&out.join("charts"));
    assert!(charts.len() >= 6, "{charts:?}");
    for c in &charts {
        let svg = std::fs::read_to_string(out.join("charts").join(c)).unwrap();
        assert!(
            svg.contains("this run: change") && svg.contains("baseline: baseline"),
            "{}: no run legend",
            c.display()
        );
    }

    // The one cell both have: its ratios are the medians of the two folders divided.
    let cell = ("hello", "single_thread", 10);
    let row = md
        .lines()
        .find(|l| l.starts_with("| hello | `single_thread` | 10 |"))
        .unwrap_or_else(|| panic!("no ratio row:\n{md}"));
    let picks: [fn(&serde_json::Value) -> f64; 3] = [
        |r| r["throughput_rps"].as_f64().unwrap(),
        |r| r["latency_us"]["p99"].as_f64().unwrap(),
        |r| {
            let s = &r["server"];
            let span = s["samples"]
                .as_array()
                .and_then(|v| v.last())
                .map(|x| x["t_s"].as_f64().unwrap())
                .filter(|t| *t > 0.0)
                .unwrap_or_else(|| r["duration_s"].as_f64().unwrap());
            let n = r["throughput_rps"].as_f64().unwrap() * span;
            (s["cpu_user_s"].as_f64().unwrap() + s["cpu_sys_s"].as_f64().unwrap()) * 1e6 / n
        },
    ];
    let fields: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
    assert_eq!(fields.len(), 12, "{row}");
    for (i, pick) in picks.iter().enumerate() {
        let ratio = median_of(&this, cell, *pick) / median_of(&base, cell, *pick);
        let field = fields[5 + 3 * i];
        assert!(
            field.contains(&format!("{ratio:.2}x")),
            "figure {i}: expected {ratio:.2}x in {field:?} ({row})"
        );
        // Both runs measured the cell three times: every ratio is called one way or the other.
        assert!(
            field.ends_with("(changed)") || field.ends_with("(noise)"),
            "{field:?}"
        );
    }
    assert!(
        md.contains("ratios that both runs measured 3 times or more"),
        "{md}"
    );
    // Cells in one run only are listed, not dropped.
    for listed in [
        "| hello | `single_thread` | 50 | this run only (measured) |",
        "| hello | `epoll` | 10 | this run only (measured) |",
        "| hello | `epoll` | 50 | this run only (measured) |",
        "| hello | `thread_per_request` | 10 | baseline only (measured) |",
    ] {
        assert!(md.contains(listed), "{listed} missing:\n{md}");
    }
    assert!(
        !md.contains("**Warning**"),
        "the same machine and flags: {md}"
    );

    // Regenerated: the same bytes.
    let first = snapshot(&out);
    lab_ok(&[
        "report",
        this.to_str().unwrap(),
        "--against",
        base.to_str().unwrap(),
    ]);
    assert!(
        first == snapshot(&out),
        "--against differs when regenerated"
    );
    // The plain report is left as it was.
    let plain = std::fs::read_to_string(this.join("report.md")).unwrap();
    assert!(!plain.contains("Against the baseline"));
    assert_renders_in_chromium(&out.join("index.html"), 6);

    // A one-run baseline measured differently: the first run of each cell, on "another machine"
    // with the server pinned.
    let single = tmp.path().join("single");
    std::fs::create_dir_all(single.join("cells")).unwrap();
    let mut plan = plan(&base);
    let mut seen = Vec::new();
    let cells: Vec<serde_json::Value> = plan["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            let key = (
                c["workload"].clone(),
                c["series"].clone(),
                c["conns"].clone(),
            );
            let first = !seen.contains(&key);
            seen.push(key);
            first
        })
        .cloned()
        .collect();
    for c in &cells {
        let f = format!("cells/{}.json", c["id"].as_str().unwrap());
        std::fs::copy(base.join(&f), single.join(&f)).unwrap();
    }
    plan["cells"] = serde_json::Value::Array(cells);
    plan["repeat"] = 1.into();
    let cores = plan["environment"]["cores"].as_u64().unwrap();
    plan["environment"]["cores"] = (cores + 1).into();
    plan["command"]
        .as_array_mut()
        .unwrap()
        .extend(["--server-cpus".into(), "1".into()]);
    std::fs::write(single.join("compare.json"), plan.to_string()).unwrap();
    lab_ok(&[
        "report",
        this.to_str().unwrap(),
        "--against",
        single.to_str().unwrap(),
    ]);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("the baseline did not measure each cell 3 times or more")
            && md.contains("one run each cannot separate a change from run-to-run noise"),
        "{md}"
    );
    let row = md
        .lines()
        .find(|l| l.starts_with("| hello | `single_thread` | 10 |"))
        .unwrap();
    assert!(
        !row.contains("(changed)") && !row.contains("(noise)"),
        "{row}"
    );
    let warning = md
        .lines()
        .find(|l| l.starts_with("**Warning**"))
        .unwrap_or_else(|| panic!("no warning:\n{md}"));
    assert!(
        warning.contains("cores")
            && warning.contains("server CPU pinning: none here, `1` in the baseline"),
        "{warning}"
    );
}

/// `--transport unix`: every cell serves and loads over a Unix socket, compare.json and each
/// cell's report say so, the environment section tells the reader, and `lab report` reproduces it.
#[test]
fn compare_over_unix_sockets_records_the_transport() {
    let (_tmp, out) = compare(&[
        "--models",
        "epoll,thread_per_request",
        "--conns",
        "10",
        "--workloads",
        "hello",
        "--duration",
        "1s",
        "--pause",
        "0s",
        "--transport",
        "unix",
    ]);
    let plan = plan(&out);
    assert_eq!(plan["transport"], "unix");
    let cells = plan["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2);
    for cell in cells {
        assert_eq!(cell["status"], "ok", "{cell}");
        let command: Vec<&str> = cell["command"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(
            command.windows(2).any(|w| w == ["--transport", "unix"]),
            "{command:?}"
        );
        let run = cell_report(&out, cell);
        assert_eq!(run["transport"], "unix");
        assert!(
            run["url"].as_str().unwrap().starts_with("unix:"),
            "{}",
            run["url"]
        );
        assert!(run["requests"].as_u64().unwrap() > 0);
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("Unix domain socket"),
        "the environment section says so"
    );
    assert_report_reproduces(&out);
    // Against the shared loopback-TCP comparison: the difference in transport is named.
    lab_ok(&[
        "report",
        out.to_str().unwrap(),
        "--against",
        compared().to_str().unwrap(),
    ]);
    let md = std::fs::read_to_string(out.join("against").join("report.md")).unwrap();
    assert!(
        md.contains("transport: `unix` here, `tcp` in the baseline"),
        "{md}"
    );
}

/// `--experiments accept` at a small scale: every strategy of each model runs, the server's
/// own per-worker (per-loop) counts land in compare.json and account for every request, and
/// the report's table is reproduced by `lab report`. Counts only.
#[test]
fn accept_spread_counts_every_connection_per_worker_and_the_report_reproduces() {
    let (_tmp, out) = compare(&[
        "--models",
        "process_pool,epoll",
        "--experiments",
        "accept",
        "--accept-conns",
        "10",
        "--accept-workers",
        "2",
        "--duration",
        "1s",
        "--pause",
        "0s",
    ]);
    let plan = plan(&out);
    let cells = plan["cells"].as_array().unwrap();
    let mut seen = Vec::new();
    for cell in cells {
        assert_eq!(cell["experiment"], "accept");
        assert_eq!(cell["status"], "ok", "{cell:#}");
        let spread = &cell["accept"];
        let per_worker: Vec<u64> = spread["per_worker"]
            .as_array()
            .unwrap_or_else(|| panic!("no counts: {cell:#}"))
            .iter()
            .map(|n| n.as_u64().unwrap())
            .collect();
        assert_eq!(per_worker.len(), 2, "{cell:#}");
        let run = cell_report(&out, cell);
        let requests = run["requests"].as_u64().unwrap();
        // A new connection per request: the server counted at least one per measured request
        // (plus the warm-up's and the one `GET /_status`).
        assert!(
            per_worker.iter().sum::<u64>() > requests,
            "{per_worker:?} for {requests} requests"
        );
        let strategy = spread["strategy"].as_str().unwrap().to_string();
        if strategy == "handoff" {
            // Dealt in turn to whichever asked: both workers served.
            assert!(per_worker.iter().all(|&n| n > 0), "{per_worker:?}");
        }
        seen.push(format!("{} {strategy}", cell["model"].as_str().unwrap()));
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "epoll exclusive",
            "epoll reuseport",
            "epoll shared",
            "process_pool handoff",
            "process_pool reuseport",
            "process_pool shared",
        ]
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let section = md
        .split("## Accept spread")
        .nth(1)
        .expect("an accept section");
    assert!(
        section.contains("| `process_pool` | `handoff` | 2 workers |"),
        "{section}"
    );
    assert!(
        section.contains("| `epoll` | `exclusive` | 2 loops |"),
        "{section}"
    );
    assert!(section.contains("**Reading.**"), "{section}");
    assert!(section.contains("`handoff` took"), "{section}");
    // The chart: one panel per model, a line per strategy, beside the even share.
    let chart = section
        .split("](charts/")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no chart in the accept section:\n{section}"));
    assert!(chart.ends_with("-accept.svg"), "{chart}");
    let svg = std::fs::read_to_string(out.join("charts").join(chart)).unwrap();
    for text in [
        "process_pool: share of connections per worker",
        "epoll: share of connections per loop",
        "--accept handoff",
        "--accept exclusive",
        "even share",
    ] {
        assert!(svg.contains(text), "{text:?} not in {chart}");
    }
    assert_report_reproduces(&out);
}
