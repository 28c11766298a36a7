//! The JSON Schemas in docs/schema/ are generated from the serde types the lab writes and reads
//! (schemars), and every report a real run writes is valid against them, with no key they do not
//! describe.
//!
//! When a report type changes, regenerate the shipped files with
//! `UPDATE_SCHEMAS=1 cargo test --test schema` and commit them.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};

/// (file under docs/schema/, title, the schema generated from the type).
fn schemas() -> Vec<(&'static str, &'static str, Value)> {
    let gen = |s: schemars::Schema| serde_json::to_value(s).expect("schema as JSON");
    vec![
        (
            "run-report.schema.json",
            "lab run report (lab run --json; the cells/*.json of lab compare)",
            gen(schemars::schema_for!(report::CellRun)),
        ),
        (
            "load-report.schema.json",
            "lab load report (lab load --json)",
            gen(schemars::schema_for!(loadgen::Report)),
        ),
        (
            "merge-report.schema.json",
            "lab merge report (lab merge --json)",
            gen(schemars::schema_for!(loadgen::Merged)),
        ),
        (
            "compare.schema.json",
            "compare.json (lab compare --out DIR)",
            gen(schemars::schema_for!(report::Plan)),
        ),
    ]
}

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema")
}

/// The schema as shipped: the generated one with a human title.
fn shipped_form(title: &str, mut schema: Value) -> String {
    schema["title"] = Value::String(title.to_string());
    serde_json::to_string_pretty(&schema).expect("encode") + "\n"
}

#[test]
fn shipped_schemas_are_the_generated_ones() {
    let update = std::env::var("UPDATE_SCHEMAS").is_ok_and(|v| v == "1");
    for (file, title, schema) in schemas() {
        let path = schema_dir().join(file);
        let text = shipped_form(title, schema);
        if update {
            std::fs::create_dir_all(schema_dir()).expect("mkdir docs/schema");
            std::fs::write(&path, &text).expect("write schema");
            continue;
        }
        let shipped = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            shipped == text,
            "docs/schema/{file} is not what the report types generate: run \
             `UPDATE_SCHEMAS=1 cargo test --test schema` and commit it"
        );
    }
}

fn load_schema(file: &str) -> Value {
    let path = schema_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("schema JSON")
}

/// Validates `doc` against `schema` (the subset of JSON Schema 2020-12 that schemars emits) and
/// more strictly than the schema says: a key the schema does not describe is an error, so a
/// report cannot carry an undocumented field. A keyword this validator does not know is an error
/// too, so it cannot pass a schema it does not understand.
fn validate(root: &Value, schema: &Value, doc: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(map) = schema.as_object() else {
        if schema == &Value::Bool(false) {
            errors.push(format!("{at}: not allowed"));
        }
        return;
    };
    for (key, rule) in map {
        match key.as_str() {
            "$schema"
            | "title"
            | "description"
            | "default"
            | "$defs"
            | "examples"
            | "properties"
            | "required"
            | "additionalProperties" => {}
            "$ref" => {
                let name = rule
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .unwrap_or_else(|| panic!("unsupported $ref {rule}"));
                validate(root, &root["$defs"][name], doc, at, errors);
            }
            "type" => {
                let types: Vec<&str> = match rule {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                    _ => panic!("bad type {rule}"),
                };
                let ok = types.iter().any(|t| match *t {
                    "null" => doc.is_null(),
                    "boolean" => doc.is_boolean(),
                    "object" => doc.is_object(),
                    "array" => doc.is_array(),
                    "string" => doc.is_string(),
                    "number" => doc.is_number(),
                    "integer" => doc.is_u64() || doc.is_i64(),
                    other => panic!("unknown type {other}"),
                });
                if !ok {
                    errors.push(format!("{at}: {doc} is not {types:?}"));
                }
            }
            "format" => {
                let ok = match rule.as_str().unwrap_or_default() {
                    "uint" | "uint8" | "uint16" | "uint32" | "uint64" => {
                        doc.is_null() || doc.is_u64()
                    }
                    "int" | "int32" | "int64" => doc.is_null() || doc.is_i64() || doc.is_u64(),
                    "double" | "float" => doc.is_null() || doc.is_number(),
                    other => panic!("unknown format {other}"),
                };
                if !ok {
                    errors.push(format!("{at}: {doc} is not a {rule}"));
                }
            }
            "minimum" => {
                if let (Some(v), Some(min)) = (doc.as_f64(), rule.as_f64()) {
                    if v < min {
                        errors.push(format!("{at}: {v} < {min}"));
                    }
                }
            }
            "enum" => {
                if !rule.as_array().is_some_and(|vs| vs.contains(doc)) {
                    errors.push(format!("{at}: {doc} not in {rule}"));
                }
            }
            "const" => {
                if rule != doc {
                    errors.push(format!("{at}: {doc} is not {rule}"));
                }
            }
            "items" => {
                for (i, item) in doc.as_array().into_iter().flatten().enumerate() {
                    validate(root, rule, item, &format!("{at}[{i}]"), errors);
                }
            }
            "anyOf" | "oneOf" => {
                let branches = rule.as_array().expect("branches");
                let passing = branches
                    .iter()
                    .filter(|b| {
                        let mut e = Vec::new();
                        validate(root, b, doc, at, &mut e);
                        e.is_empty()
                    })
                    .count();
                let ok = if key == "anyOf" {
                    passing >= 1
                } else {
                    passing == 1
                };
                if !ok {
                    errors.push(format!("{at}: {doc} matches {passing} of {key}"));
                }
            }
            other => panic!("the validator does not know the keyword {other:?} (at {at})"),
        }
    }
    // Objects: required keys, described keys.
    if let (Some(obj), true) = (doc.as_object(), map.contains_key("properties")) {
        let props = map["properties"].as_object().expect("properties");
        for key in map
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = key.as_str().expect("required key");
            if !obj.contains_key(key) {
                errors.push(format!("{at}: missing required key {key:?}"));
            }
        }
        for (key, value) in obj {
            match props.get(key) {
                Some(rule) => validate(root, rule, value, &format!("{at}.{key}"), errors),
                None => errors.push(format!("{at}: key {key:?} is not in the schema")),
            }
        }
    }
}

fn assert_valid(schema_file: &str, doc_path: &Path) {
    let schema = load_schema(schema_file);
    let text =
        std::fs::read_to_string(doc_path).unwrap_or_else(|e| panic!("{}: {e}", doc_path.display()));
    let doc: Value = serde_json::from_str(&text).expect("report JSON");
    let mut errors = Vec::new();
    validate(&schema, &schema, &doc, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "{} is not valid against docs/schema/{schema_file}:\n{}",
        doc_path.display(),
        errors.join("\n")
    );
}

/// The validator refuses a report with a key missing, a wrong type, a negative count or an
/// undocumented key (so that passing means something).
fn assert_validator_refuses_broken_copies_of(schema_file: &str, doc_path: &Path) {
    let schema = load_schema(schema_file);
    let check = |doc: &Value| {
        let mut errors = Vec::new();
        validate(&schema, &schema, doc, "$", &mut errors);
        errors
    };
    let text = std::fs::read_to_string(doc_path).expect("report");
    let good: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(check(&good), Vec::<String>::new());
    let mut doc = good.clone();
    doc.as_object_mut().expect("object").remove("requests");
    assert!(check(&doc).iter().any(|e| e.contains("\"requests\"")));
    doc = good.clone();
    doc["errors"]["timeout"] = Value::from(-1);
    assert!(!check(&doc).is_empty(), "a negative count passed");
    doc = good.clone();
    doc["latency_us"]["p99"] = Value::from("fast");
    assert!(!check(&doc).is_empty(), "a string latency passed");
    doc = good;
    doc["surprise"] = Value::from(1);
    assert!(check(&doc).iter().any(|e| e.contains("surprise")));
}

/// Real runs: a small `lab compare` (its compare.json and its cells, which are `lab run`
/// reports), two `lab load` reports and their `lab merge`.
#[test]
fn real_reports_are_valid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("cmp");
    let (ok, stdout, stderr) = common::lab(&[
        "compare",
        "--models",
        "epoll",
        "-c",
        "5",
        "--workloads",
        "hello",
        "-d",
        "1s",
        "--pause",
        "100ms",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(ok, "lab compare: {stdout}\n{stderr}");
    assert_valid("compare.schema.json", &out.join("compare.json"));
    assert_valid(
        "run-report.schema.json",
        &out.join("cells/hello-epoll-c5.json"),
    );

    // A run under slow clients writes their counts too.
    let slow = dir.path().join("slow.json");
    let (ok, stdout, stderr) = common::lab(&[
        "run",
        "--model",
        "epoll",
        "-c",
        "2",
        "-d",
        "1s",
        "--slow-clients",
        "5",
        "-q",
        "--json",
        slow.to_str().expect("utf-8"),
    ]);
    assert!(ok, "lab run --slow-clients: {stdout}\n{stderr}");
    assert_valid("run-report.schema.json", &slow);

    let server = common::Server::start("epoll", &["--loops", "1"]);
    let mut parts = Vec::new();
    for (i, rate) in [None, Some("500")].into_iter().enumerate() {
        let json = dir.path().join(format!("load{i}.json"));
        let mut args = vec![
            "load".to_string(),
            server.url("/"),
            "-c".into(),
            "2".into(),
            "-d".into(),
            "1s".into(),
            "-q".into(),
            "--tag".into(),
            format!("loader{i}"),
            "--json".into(),
            json.display().to_string(),
        ];
        if let Some(r) = rate {
            args.extend(["-R".to_string(), r.to_string()]);
        }
        let (ok, _, stderr) = common::lab(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(ok, "lab load: {stderr}");
        assert_valid("load-report.schema.json", &json);
        assert_validator_refuses_broken_copies_of("load-report.schema.json", &json);
        parts.push(json);
    }
    let total = dir.path().join("total.json");
    let (ok, _, stderr) = common::lab(&[
        "merge",
        parts[0].to_str().expect("utf-8"),
        parts[1].to_str().expect("utf-8"),
        "--json",
        total.to_str().expect("utf-8"),
    ]);
    assert!(ok, "lab merge: {stderr}");
    assert_valid("merge-report.schema.json", &total);
    let (status, _) = server.stop();
    assert!(status.success());
}
