//! The report as a list of blocks, written out twice: as one self-contained HTML page (inline
//! CSS, inline SVG, no script, nothing fetched) and as Markdown with the charts as SVG files
//! beside it. Both come from the same blocks, so they hold the same tables and readings.

use crate::fmt::{html, inline_html};
use std::fmt::Write as _;

pub enum Block {
    /// A numbered section (`<h2 id=…>`).
    Section {
        id: String,
        title: String,
    },
    Subheading(String),
    /// Prose in the report's Markdown subset (`code`, **bold**).
    Para(String),
    /// What the data says: a chart's or table's reading.
    Reading(Vec<String>),
    Table {
        head: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// An SVG chart; `file` is its name under `charts/` in the Markdown version.
    Chart {
        file: String,
        alt: String,
        svg: String,
    },
    /// One model's own description, from its crate's `//!` doc, and its headline results.
    Model {
        name: String,
        color: String,
        title: String,
        paragraph: String,
        tradeoffs: Vec<String>,
        results: Vec<String>,
    },
    /// Preformatted lines (commands).
    Code(Vec<String>),
}

pub struct Document {
    pub title: String,
    pub subtitle: String,
    pub blocks: Vec<Block>,
}

const CSS: &str = "\
body{font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1d1d1f;background:#f6f7f9;line-height:1.5}
main{max-width:1000px;margin:0 auto;padding:24px 20px 60px;background:#fff}
h1{font-size:28px;margin:8px 0 0}
.sub{color:#555;margin:4px 0 20px}
h2{font-size:21px;margin:36px 0 8px;padding-top:12px;border-top:2px solid #e3e5e8}
h3{font-size:16px;margin:22px 0 6px}
nav ol{columns:2;margin:0 0 10px;padding-left:22px}
a{color:#0b62a8}
.reading{background:#eef5fb;border-left:4px solid #0072b2;padding:8px 14px;margin:10px 0}
.reading ul{margin:0;padding-left:18px}
figure{margin:12px 0}
figure svg{max-width:100%;height:auto;display:block}
table{border-collapse:collapse;margin:10px 0;font-size:13px;font-variant-numeric:tabular-nums;display:block;overflow-x:auto;max-width:100%}
th,td{border:1px solid #dcdfe3;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f0f2f4}
td:first-child,th:first-child,td.t{text-align:left}
td{white-space:nowrap}
td.t{white-space:normal}
.models{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px}
.model{border:1px solid #dcdfe3;border-radius:6px;padding:10px 14px;font-size:14px}
.model h3{margin:0 0 4px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px}
.model .t{color:#555;font-style:italic;margin:0 0 6px}
.model ul{padding-left:18px;margin:4px 0}
.res{background:#f6f7f9;padding:6px 8px;border-radius:4px;margin-top:6px}
pre{background:#f3f4f6;padding:8px 12px;overflow-x:auto;font-size:12px;white-space:pre-wrap;word-break:break-all}
code{font-size:92%}
";

impl Document {
    /// One self-contained HTML page.
    pub fn to_html(&self) -> String {
        let mut o = String::new();
        let _ = write!(
            o,
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<main>\n\
             <h1>{}</h1>\n<p class=\"sub\">{}</p>\n",
            html(&self.title),
            html(&self.title),
            inline_html(&self.subtitle)
        );
        o.push_str("<nav><ol>\n");
        for block in &self.blocks {
            if let Block::Section { id, title } = block {
                let _ = writeln!(o, "<li><a href=\"#{id}\">{}</a></li>", html(title));
            }
        }
        o.push_str("</ol></nav>\n");
        let mut in_models = false;
        for block in &self.blocks {
            let is_model = matches!(block, Block::Model { .. });
            if is_model && !in_models {
                o.push_str("<div class=\"models\">\n");
            } else if !is_model && in_models {
                o.push_str("</div>\n");
            }
            in_models = is_model;
            match block {
                Block::Section { id, title } => {
                    let _ = writeln!(o, "<h2 id=\"{id}\">{}</h2>", html(title));
                }
                Block::Subheading(t) => {
                    let _ = writeln!(o, "<h3>{}</h3>", inline_html(t));
                }
                Block::Para(t) => {
                    let _ = writeln!(o, "<p>{}</p>", inline_html(t));
                }
                Block::Reading(lines) => {
                    o.push_str("<div class=\"reading\"><strong>Reading.</strong><ul>\n");
                    for l in lines {
                        let _ = writeln!(o, "<li>{}</li>", inline_html(l));
                    }
                    o.push_str("</ul></div>\n");
                }
                Block::Table { head, rows } => {
                    o.push_str("<table>\n<tr>");
                    for h in head {
                        let _ = write!(o, "<th>{}</th>", inline_html(h));
                    }
                    o.push_str("</tr>\n");
                    for row in rows {
                        o.push_str("<tr>");
                        for (i, cell) in row.iter().enumerate() {
                            // Text columns (the first two, or anything not numeric) align left.
                            let numeric = cell
                                .chars()
                                .next()
                                .is_some_and(|c| c.is_ascii_digit() || c == '-');
                            // A two-column table is a list of names and values: all text.
                            let class = if i > 0 && (head.len() == 2 || !numeric) {
                                " class=\"t\""
                            } else {
                                ""
                            };
                            let _ = write!(o, "<td{class}>{}</td>", inline_html(cell));
                        }
                        o.push_str("</tr>\n");
                    }
                    o.push_str("</table>\n");
                }
                Block::Chart { alt, svg, .. } => {
                    let _ = writeln!(
                        o,
                        "<figure role=\"img\" aria-label=\"{}\">\n{}\n</figure>",
                        html(alt),
                        svg.trim_end()
                    );
                }
                Block::Model {
                    name,
                    color,
                    title,
                    paragraph,
                    tradeoffs,
                    results,
                } => {
                    let _ = writeln!(
                        o,
                        "<div class=\"model\"><h3><span class=\"swatch\" style=\"background:{color}\"></span>{}</h3>",
                        html(name)
                    );
                    if !title.is_empty() {
                        let _ = writeln!(o, "<p class=\"t\">{}</p>", inline_html(title));
                    }
                    if !paragraph.is_empty() {
                        let _ = writeln!(o, "<p>{}</p>", inline_html(paragraph));
                    }
                    if !tradeoffs.is_empty() {
                        o.push_str("<ul>\n");
                        for t in tradeoffs {
                            let _ = writeln!(o, "<li>{}</li>", inline_html(t));
                        }
                        o.push_str("</ul>\n");
                    }
                    if !results.is_empty() {
                        o.push_str("<div class=\"res\">");
                        let lines: Vec<String> = results.iter().map(|r| inline_html(r)).collect();
                        o.push_str(&lines.join("<br>"));
                        o.push_str("</div>\n");
                    }
                    o.push_str("</div>\n");
                }
                Block::Code(lines) => {
                    let _ = writeln!(o, "<pre>{}</pre>", html(&lines.join("\n")));
                }
            }
        }
        if in_models {
            o.push_str("</div>\n");
        }
        o.push_str("</main>\n</body>\n</html>\n");
        o
    }

    /// Markdown, with each chart as `charts/<file>` (the caller writes those files).
    pub fn to_markdown(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "# {}\n\n{}\n", self.title, self.subtitle);
        for block in &self.blocks {
            match block {
                Block::Section { title, .. } => {
                    let _ = writeln!(o, "## {title}\n");
                }
                Block::Subheading(t) => {
                    let _ = writeln!(o, "### {t}\n");
                }
                Block::Para(t) => {
                    let _ = writeln!(o, "{t}\n");
                }
                Block::Reading(lines) => {
                    o.push_str("**Reading.**\n\n");
                    for l in lines {
                        let _ = writeln!(o, "- {l}");
                    }
                    o.push('\n');
                }
                Block::Table { head, rows } => {
                    let cell = |s: &String| s.replace('|', "\\|").replace('\n', " ");
                    let _ = writeln!(
                        o,
                        "| {} |",
                        head.iter().map(cell).collect::<Vec<_>>().join(" | ")
                    );
                    let _ = writeln!(
                        o,
                        "|{}",
                        head.iter()
                            .enumerate()
                            .map(|(i, _)| if i == 0 { "---|" } else { "---:|" })
                            .collect::<String>()
                    );
                    for row in rows {
                        let _ = writeln!(
                            o,
                            "| {} |",
                            row.iter().map(cell).collect::<Vec<_>>().join(" | ")
                        );
                    }
                    o.push('\n');
                }
                Block::Chart { file, alt, .. } => {
                    let _ = writeln!(o, "![{alt}](charts/{file})\n");
                }
                Block::Model {
                    name,
                    title,
                    paragraph,
                    tradeoffs,
                    results,
                    ..
                } => {
                    let _ = writeln!(o, "### `{name}`\n");
                    if !title.is_empty() {
                        let _ = writeln!(o, "*{title}*\n");
                    }
                    if !paragraph.is_empty() {
                        let _ = writeln!(o, "{paragraph}\n");
                    }
                    for t in tradeoffs {
                        let _ = writeln!(o, "- {t}");
                    }
                    if !tradeoffs.is_empty() {
                        o.push('\n');
                    }
                    for r in results {
                        let _ = writeln!(o, "> {r}  ");
                    }
                    if !results.is_empty() {
                        o.push('\n');
                    }
                }
                Block::Code(lines) => {
                    let _ = writeln!(o, "```text\n{}\n```\n", lines.join("\n"));
                }
            }
        }
        o
    }

    /// The charts, as (file name, SVG).
    pub fn charts(&self) -> Vec<(&str, &str)> {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Chart { file, svg, .. } => Some((file.as_str(), svg.as_str())),
                _ => None,
            })
            .collect()
    }
}
