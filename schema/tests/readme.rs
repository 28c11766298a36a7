//! The README's "JSON report format" lists exactly the keys these types write.

use lab_schema::{
    Connections, Errors, FirstResponse, Host, Latency, LoadReport, RunReport, Sample, Second,
    ServerStats, Service, SCHEMA_VERSION,
};
use std::collections::BTreeSet;

/// A report with every optional part present, so that every key is serialized.
fn full_report() -> RunReport {
    let latency = Latency::default();
    RunReport {
        model: "epoll".into(),
        server_command: vec!["lab".into()],
        date: String::new(),
        load: LoadReport {
            schema_version: SCHEMA_VERSION,
            url: String::new(),
            conns: 1,
            threads: 1,
            rate: Some(1.0),
            duration_s: 1.0,
            planned_s: 1.0,
            interrupted: false,
            requests: 1,
            throughput_rps: 1.0,
            latency_us: latency,
            latency_uncorrected_us: Some(latency),
            send_lag_us: Some(latency),
            connect_us: latency,
            errors: Errors::default(),
            connections: Connections::default(),
            service: Service {
                first_response_us: FirstResponse::default(),
                ..Service::default()
            },
            timeline: vec![Second::default()],
            histogram: String::new(),
            uncorrected_histogram: Some("h".into()),
            connect_histogram: "h".into(),
            tag: Some(String::new()),
            start_at: Some(0.0),
            host: Host::default(),
            warnings: vec![String::new()],
            loader: Some(lab_schema::Loader {
                on_cpu: vec![0.5],
                waiting: vec![0.1],
            }),
        },
        server: ServerStats {
            samples: vec![Sample::default()],
            ..ServerStats::default()
        },
        leftover_processes: 0,
        server_cpus: vec![0],
        load_cpus: vec![1],
        transport: "unix".into(),
        external: Some(lab_schema::External {
            name: "nginx".into(),
            url: "http://127.0.0.1:8090/".into(),
            command: Some("nginx".into()),
            pid: Some(1),
            measured: true,
        }),
        slow_clients: Some(lab_schema::SlowClients {
            conns: 1,
            every_s: 1.0,
            answered: [("408".to_string(), 1)].into(),
            held_median_s: Some(1.0),
            ..lab_schema::SlowClients::default()
        }),
    }
}

/// Every key at any depth (array elements included).
fn keys(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                out.insert(k.clone());
                keys(v, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

fn readme_block() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let section = readme
        .split("## JSON report format")
        .nth(1)
        .expect("a JSON report format section");
    let start = section.find("```text").expect("a text block") + "```text".len();
    let end = start + section[start..].find("```").expect("its end");
    section[start..end].to_string()
}

#[test]
fn readme_json_table_matches_the_schema() {
    let value = serde_json::to_value(full_report()).unwrap();
    let mut written = BTreeSet::new();
    keys(&value, &mut written);
    let block = readme_block();
    let words: BTreeSet<String> = block
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    // Every key the types write is documented...
    let missing: Vec<&String> = written.iter().filter(|k| !words.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "keys missing from the README: {missing:?}"
    );
    // ...and every key the table names at the start of a line exists.
    let top = value.as_object().unwrap();
    for line in block
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.is_empty())
    {
        for name in line.split_whitespace().next().unwrap().split(',') {
            let name = name.trim();
            if !name.is_empty() {
                assert!(
                    top.contains_key(name),
                    "README names `{name}`, which is not written"
                );
            }
        }
    }
    // The multi-key first line: url, conns, threads, rate.
    for key in ["url", "conns", "threads", "rate"] {
        assert!(top.contains_key(key));
    }
}

#[test]
fn reports_round_trip_and_old_files_read_as_version_one() {
    let report = full_report();
    let back = RunReport::from_json(&report.to_json()).unwrap();
    assert_eq!(back, report);
    let mut v = serde_json::to_value(&report).unwrap();
    let map = v.as_object_mut().unwrap();
    for key in ["schema_version", "service", "planned_s", "interrupted"] {
        map.remove(key);
    }
    let old: RunReport = serde_json::from_value(v).unwrap();
    assert_eq!(old.load.schema_version, 1);
}
