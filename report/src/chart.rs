//! Line charts as SVG text, drawn with plotters' SVG backend (text becomes `<text>` elements: no
//! font files are read). A chart is one or more panels side by side under one legend, each series
//! in the same colour everywhere in the report. The output depends only on the input: the same
//! data gives the same bytes.

use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;
use std::ops::Range;

/// Width of every chart, in pixels.
pub const WIDTH: u32 = 960;
const PANEL_HEIGHT: u32 = 300;
const LEGEND_HEIGHT: u32 = 30;
const FONT: &str = "sans-serif";

/// Okabe-Ito colours (distinguishable with colour-blindness), then greys for anything else.
const PALETTE: [RGBColor; 10] = [
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 158, 115),
    RGBColor(213, 94, 0),
    RGBColor(204, 121, 167),
    RGBColor(0, 114, 178),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
    RGBColor(120, 120, 120),
    RGBColor(180, 180, 180),
];

/// The colour of a series: its place in the plan's series, round the palette.
pub fn color(series_index: usize) -> RGBColor {
    PALETTE[series_index % PALETTE.len()]
}

/// `#rrggbb` for HTML.
pub fn color_hex(series_index: usize) -> String {
    let RGBColor(r, g, b) = color(series_index);
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// One line of a panel.
pub struct Line {
    pub color: usize,
    pub points: Vec<(f64, f64)>,
    /// Error bars: (x, low, high), the min–max of repeated runs.
    pub bars: Vec<(f64, f64, f64)>,
    pub dashed: bool,
}

/// What the x axis is.
pub enum XAxis {
    /// Concurrent connections on a log scale, a tick at each size measured.
    Conns(Vec<u64>),
    /// HDR percentile spectrum: x = log10(1 / (1 - q)), labelled 90%, 99%, 99.9%, …
    Percentile,
}

pub struct Panel {
    pub title: String,
    pub y_desc: String,
    pub y_log: bool,
    pub y_fmt: fn(f64) -> String,
    pub x: XAxis,
    pub lines: Vec<Line>,
}

/// A legend entry: label, colour, dashed.
pub type Key = (String, usize, bool);

/// Draws `panels` in rows of `cols` under a legend and returns the SVG.
pub fn draw(panels: &[Panel], cols: usize, legend: &[Key]) -> String {
    let cols = cols.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(cols).max(1);
    let height = LEGEND_HEIGHT + PANEL_HEIGHT * rows as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        // Errors from the string backend cannot happen (it only appends to a String).
        let _ = root.fill(&WHITE);
        let (top, body) = root.split_vertically(LEGEND_HEIGHT);
        draw_legend(&top, legend);
        let areas = body.split_evenly((rows, cols));
        for (panel, area) in panels.iter().zip(areas.iter()) {
            draw_panel(area, panel);
        }
        let _ = root.present();
    }
    svg
}

fn draw_legend(area: &DrawingArea<SVGBackend, plotters::coord::Shift>, legend: &[Key]) {
    let mut x = 12i32;
    for (label, color_index, dashed) in legend {
        let style = color(*color_index).stroke_width(3);
        if *dashed {
            let _ = area.draw(&PathElement::new(vec![(x, 15), (x + 8, 15)], style));
            let _ = area.draw(&PathElement::new(vec![(x + 14, 15), (x + 22, 15)], style));
        } else {
            let _ = area.draw(&PathElement::new(vec![(x, 15), (x + 22, 15)], style));
        }
        let _ = area.draw(&Text::new(
            label.clone(),
            (x + 28, 8),
            (FONT, 13).into_font().color(&BLACK),
        ));
        x += 40 + 7 * label.len() as i32;
    }
}

/// The range of the values on an axis, padded; for a log axis only positive values count.
fn span(values: impl Iterator<Item = f64>, log: bool) -> Range<f64> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return if log { 1.0..10.0 } else { 0.0..1.0 };
    }
    if log {
        if hi <= lo * 1.01 {
            return lo / 2.0..hi * 2.0;
        }
        lo / 1.5..hi * 1.5
    } else {
        let hi = if hi <= 0.0 { 1.0 } else { hi * 1.1 };
        0.0_f64.min(lo)..hi
    }
}

fn draw_panel(area: &DrawingArea<SVGBackend, plotters::coord::Shift>, panel: &Panel) {
    let ys = || {
        panel
            .lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
    };
    // A log axis over less than a factor of 30 would show one tick or none: go linear instead.
    let positive = span(ys(), true);
    let y_log = panel.y_log && positive.end / positive.start >= 30.0 * 1.5 * 1.5;
    let y_range = span(ys(), y_log);
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(&panel.title, (FONT, 14))
        .margin(8)
        .margin_right(16)
        .x_label_area_size(34)
        .y_label_area_size(62);
    match &panel.x {
        XAxis::Conns(sizes) => {
            let lo = sizes.iter().copied().min().unwrap_or(1).max(1) as f64;
            let hi = sizes.iter().copied().max().unwrap_or(10).max(1) as f64;
            let (lo, hi) = if hi <= lo {
                (lo / 2.0, hi * 2.0)
            } else {
                (lo / 1.4, hi * 1.4)
            };
            let keys: Vec<f64> = sizes.iter().map(|&s| s as f64).collect();
            let x = (lo..hi).log_scale().with_key_points(keys);
            if y_log {
                let chart = builder.build_cartesian_2d(x, y_range.log_scale());
                if let Ok(mut chart) = chart {
                    finish(
                        &mut chart,
                        panel,
                        y_log,
                        "connections (log scale)",
                        fmt_conns,
                        8,
                    );
                }
            } else if let Ok(mut chart) = builder.build_cartesian_2d(x, y_range) {
                finish(
                    &mut chart,
                    panel,
                    y_log,
                    "connections (log scale)",
                    fmt_conns,
                    8,
                );
            }
        }
        XAxis::Percentile => {
            let xs = panel
                .lines
                .iter()
                .flat_map(|l| l.points.iter().map(|p| p.0));
            let hi = xs.fold(1.0_f64, f64::max).ceil().max(2.0);
            // A plain range: with `hi + 1` labels plotters puts one on each whole number.
            if let Ok(mut chart) = builder.build_cartesian_2d(0.0..hi, y_range.log_scale()) {
                finish(
                    &mut chart,
                    panel,
                    true,
                    "percentile",
                    fmt_percentile,
                    hi as usize + 1,
                );
            }
        }
    }
}

/// Mesh, labels and lines, for any pair of axis types.
fn finish<X, Y>(
    chart: &mut ChartContext<SVGBackend, Cartesian2d<X, Y>>,
    panel: &Panel,
    y_log: bool,
    x_desc: &str,
    x_fmt: fn(&f64) -> String,
    x_labels: usize,
) where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let y_fmt = panel.y_fmt;
    let _ = chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .axis_style(BLACK.mix(0.5))
        .x_desc(x_desc)
        .y_desc(panel.y_desc.as_str())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&|v: &f64| y_fmt(*v))
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 12))
        .x_labels(x_labels)
        .y_labels(6)
        .draw();
    if panel.lines.iter().all(|l| l.points.is_empty()) {
        let _ = chart.plotting_area().strip_coord_spec().draw(&Text::new(
            "no data",
            (20, 20),
            (FONT, 14).into_font().color(&BLACK.mix(0.6)),
        ));
        return;
    }
    for line in &panel.lines {
        let points: Vec<(f64, f64)> = line
            .points
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite() && (!y_log || p.1 > 0.0))
            .collect();
        let style = color(line.color).stroke_width(2);
        for &(x, lo, hi) in &line.bars {
            let ok = |v: f64| v.is_finite() && (!y_log || v > 0.0);
            if x.is_finite() && ok(lo) && ok(hi) {
                let _ = chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, lo), (x, hi)],
                    color(line.color).mix(0.6).stroke_width(1),
                )));
            }
        }
        if line.dashed {
            let _ = chart.draw_series(DashedLineSeries::new(points.clone(), 6, 4, style));
        } else {
            let _ = chart.draw_series(LineSeries::new(points.clone(), style));
        }
        // Markers only where points are few (a size sweep), not on a percentile spectrum.
        if points.len() <= 12 {
            let _ = chart.draw_series(
                points
                    .iter()
                    .map(|&p| Circle::new(p, 3, color(line.color).filled())),
            );
        }
    }
}

fn fmt_conns(v: &f64) -> String {
    crate::fmt::thousands(*v)
}

fn fmt_percentile(v: &f64) -> String {
    // x = log10(1 / (1 - q)): 0 → 0%, 1 → 90%, 2 → 99%, 3 → 99.9%, …
    let n = v.round() as i32;
    match n {
        0 => "0%".into(),
        1 => "90%".into(),
        n if n > 1 => format!("99.{}%", "9".repeat((n - 2) as usize)).replace("99.%", "99%"),
        _ => String::new(),
    }
}
