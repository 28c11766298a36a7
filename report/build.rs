//! Embeds each model's own description in the report: for every `servers/<model>/src/lib.rs`
//! (except `core` and `evloop`), the `//!` doc's title, its first prose paragraph and its `# Trade-offs` list
//! are written to `$OUT_DIR/model_docs.rs` as a static table. A model crate added later appears
//! in the report at the next build with no edit here; a missing `servers/` gives an empty table.
//! Only source text is read: the report depends on no server crate.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let servers = Path::new(env!("CARGO_MANIFEST_DIR")).join("../servers");
    println!("cargo:rerun-if-changed={}", servers.display());
    let mut dirs: Vec<_> = std::fs::read_dir(&servers)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.sort();
    let mut out = String::from("&[\n");
    for dir in dirs {
        let Some(model) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
            continue;
        };
        let lib = dir.join("src/lib.rs");
        // core and evloop are shared machinery, not models.
        if model == "core" || model == "evloop" || !lib.is_file() {
            continue;
        }
        println!("cargo:rerun-if-changed={}", lib.display());
        let text = std::fs::read_to_string(&lib).unwrap_or_default();
        let (title, paragraph, tradeoffs) = extract(&text);
        let _ = writeln!(
            out,
            "    ModelDoc {{ model: {model:?}, title: {title:?}, paragraph: {paragraph:?}, tradeoffs: &{tradeoffs:?} }},"
        );
    }
    out.push(']');
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("model_docs.rs");
    std::fs::write(dest, out).expect("write model_docs.rs");
}

/// (title, first prose paragraph, trade-off bullets) of a crate's `//!` doc.
fn extract(source: &str) -> (String, String, Vec<String>) {
    let doc: Vec<&str> = source
        .lines()
        .take_while(|l| l.trim_start().starts_with("//!"))
        .map(|l| {
            let l = l.trim_start().trim_start_matches("//!");
            l.strip_prefix(' ').unwrap_or(l)
        })
        .collect();
    let mut title = String::new();
    let mut paragraph = String::new();
    let mut tradeoffs: Vec<String> = Vec::new();
    let mut in_code = false;
    let mut in_tradeoffs = false;
    let mut block: Vec<&str> = Vec::new();
    // A trailing empty line flushes the last block.
    for line in doc.iter().copied().chain(std::iter::once("")) {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            block.clear();
            continue;
        }
        if in_code {
            continue;
        }
        if let Some(heading) = line.strip_prefix("# ") {
            if title.is_empty() {
                title = heading.trim().to_string();
            }
            in_tradeoffs = heading.trim().eq_ignore_ascii_case("trade-offs");
            block.clear();
            continue;
        }
        if in_tradeoffs {
            if let Some(item) = line.trim_start().strip_prefix("- ") {
                tradeoffs.push(item.trim().to_string());
            } else if !line.trim().is_empty() && !tradeoffs.is_empty() && line.starts_with(' ') {
                let last = tradeoffs.last_mut().expect("not empty");
                last.push(' ');
                last.push_str(line.trim());
            } else if line.trim().is_empty() && !tradeoffs.is_empty() {
                in_tradeoffs = false;
            }
            continue;
        }
        if line.trim().is_empty() {
            let text = block.join(" ");
            // The first paragraph that stands alone (one ending in ':' introduces a code block).
            if paragraph.is_empty() && !text.is_empty() && !text.ends_with(':') {
                paragraph = text;
            }
            block.clear();
        } else {
            block.push(line.trim());
        }
    }
    (title, paragraph, tradeoffs)
}
