//! Line charts as SVG text, drawn with plotters' SVG backend (text becomes `<text>` elements: no
//! font files are read). A chart is one or more panels side by side under one legend, each series
//! in the same colour and with the same marker shape everywhere in the report. The output depends
//! only on the input: the same data gives the same bytes.
//!
//! Readability rules: lines that coincide (one process for every model, the same open
//! connections) must stay visible, so every series has its own marker shape, and on long lines
//! (timelines) its markers sit at its own phase of the points, so two coinciding series show both
//! shapes side by side. A `--against` chart overlays a baseline run: its lines dashed and lighter,
//! its markers hollow, drawn under this run's. The legend wraps onto as many rows as it needs.

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use std::ops::Range;

/// Width of every chart, in pixels.
pub const WIDTH: u32 = 960;
const PANEL_HEIGHT: u32 = 300;
/// One row of the legend.
const LEGEND_ROW: u32 = 24;
const LEGEND_PAD: u32 = 6;
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
#[derive(Clone)]
pub struct Line {
    pub color: usize,
    pub points: Vec<(f64, f64)>,
    /// Error bars: (x, low, high), the min–max of repeated runs.
    pub bars: Vec<(f64, f64, f64)>,
    pub dashed: bool,
}

/// What the x axis is.
#[derive(Clone)]
pub enum XAxis {
    /// Concurrent connections on a log scale, a tick at each size measured.
    Conns(Vec<u64>),
    /// HDR percentile spectrum: x = log10(1 / (1 - q)), labelled 90%, 99%, 99.9%, …
    Percentile,
    /// Achieved throughput, req/s, linear from 0.
    Rate,
    /// Time, seconds, linear from 0.
    Seconds,
    /// The n workers (or event loops) of a server, ranked from the one that got the fewest
    /// connections (1) to the one that got the most (n).
    Rank(usize),
}

#[derive(Clone)]
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
    draw_overlaid(panels, &[], cols, legend, None)
}

/// Which run is which on an overlaid chart: (this run, the baseline).
pub type Runs<'a> = Option<(&'a str, &'a str)>;

/// [`draw`], with `baseline[i]` (the same chart of a baseline run) drawn under `panels[i]`,
/// dashed and lighter, and a legend line saying which run is which.
pub fn draw_overlaid(
    panels: &[Panel],
    baseline: &[Vec<Line>],
    cols: usize,
    legend: &[Key],
    runs: Runs,
) -> String {
    let cols = cols.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(cols).max(1);
    let mut entries: Vec<Entry> = legend
        .iter()
        .map(|(label, color, dashed)| Entry {
            label: label.clone(),
            color: *color,
            dashed: *dashed,
            marker: !*dashed,
            faded: false,
        })
        .collect();
    if let Some((this, base)) = runs {
        entries.push(Entry {
            label: format!("this run: {this}"),
            color: RUN_KEY,
            dashed: false,
            marker: true,
            faded: false,
        });
        entries.push(Entry {
            label: format!("baseline: {base}"),
            color: RUN_KEY,
            dashed: true,
            marker: true,
            faded: true,
        });
    }
    let placed = place_legend(&entries);
    let legend_rows = placed.iter().map(|p| p.1).max().map_or(1, |r| r + 1);
    let legend_height = LEGEND_PAD + LEGEND_ROW * legend_rows;
    let height = legend_height + PANEL_HEIGHT * rows as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        // Errors from the string backend cannot happen (it only appends to a String).
        let _ = root.fill(&WHITE);
        let (top, body) = root.split_vertically(legend_height);
        draw_legend(&top, &entries, &placed);
        let areas = body.split_evenly((rows, cols));
        for (i, (panel, area)) in panels.iter().zip(areas.iter()).enumerate() {
            draw_panel(area, panel, baseline.get(i).map_or(&[][..], Vec::as_slice));
        }
        let _ = root.present();
    }
    svg
}

/// The colour of the "this run" and "baseline" legend keys: black.
const RUN_KEY: usize = 6;

struct Entry {
    label: String,
    color: usize,
    dashed: bool,
    marker: bool,
    faded: bool,
}

/// Width of a legend entry: the key, the label (about 7 px a character at 13 px) and a gap.
fn entry_width(e: &Entry) -> i32 {
    40 + 7 * e.label.chars().count() as i32
}

/// Each entry's x and row: left to right, onto a new row when the next would not fit.
fn place_legend(entries: &[Entry]) -> Vec<(i32, u32)> {
    let mut x = 12;
    let mut row = 0;
    let mut out = Vec::new();
    for e in entries {
        let w = entry_width(e);
        if x > 12 && x + w > WIDTH as i32 - 8 {
            x = 12;
            row += 1;
        }
        out.push((x, row));
        x += w;
    }
    out
}

fn draw_legend(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    entries: &[Entry],
    placed: &[(i32, u32)],
) {
    for (e, &(x, row)) in entries.iter().zip(placed) {
        let y = LEGEND_PAD as i32 + LEGEND_ROW as i32 * row as i32 + 9;
        let c = if e.faded {
            faded(e.color)
        } else {
            color(e.color).to_rgba()
        };
        let style = c.stroke_width(3);
        if e.dashed {
            let _ = area.draw(&PathElement::new(vec![(x, y), (x + 8, y)], style));
            let _ = area.draw(&PathElement::new(vec![(x + 14, y), (x + 22, y)], style));
        } else {
            let _ = area.draw(&PathElement::new(vec![(x, y), (x + 22, y)], style));
        }
        if e.marker {
            marker(area, (x + 11, y), e.color, !e.faded, 1.0);
        }
        let _ = area.draw(&Text::new(
            e.label.clone(),
            (x + 28, y - 7),
            (FONT, 13).into_font().color(&BLACK),
        ));
    }
}

/// A baseline line's colour: the series' colour, lighter.
fn faded(color_index: usize) -> RGBAColor {
    color(color_index).mix(0.55)
}

/// Marker shapes, one per series (by its colour's index): a circle, a square, a triangle, a
/// diamond, a triangle pointing down, a cross; as pixel offsets from the point.
fn shape(color_index: usize) -> &'static [(i32, i32)] {
    const SHAPES: [&[(i32, i32)]; 6] = [
        &[
            (0, -4),
            (3, -3),
            (4, 0),
            (3, 3),
            (0, 4),
            (-3, 3),
            (-4, 0),
            (-3, -3),
        ],
        &[(-3, -3), (3, -3), (3, 3), (-3, 3)],
        &[(0, -5), (4, 3), (-4, 3)],
        &[(0, -5), (4, 0), (0, 5), (-4, 0)],
        &[(0, 5), (4, -3), (-4, -3)],
        &[
            (-4, -4),
            (0, -1),
            (4, -4),
            (1, 0),
            (4, 4),
            (0, 1),
            (-4, 4),
            (-1, 0),
        ],
    ];
    SHAPES[color_index % SHAPES.len()]
}

/// One marker at pixel `at`, `scale` times its size: filled (this run) or hollow on white (a
/// baseline).
fn marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    at: (i32, i32),
    color_index: usize,
    filled: bool,
    scale: f64,
) {
    let px = |d: i32| (d as f64 * scale).round() as i32;
    let pts: Vec<(i32, i32)> = shape(color_index)
        .iter()
        .map(|(dx, dy)| (at.0 + px(*dx), at.1 + px(*dy)))
        .collect();
    if filled {
        let _ = area.draw(&Polygon::new(pts, color(color_index).filled()));
    } else {
        let _ = area.draw(&Polygon::new(pts.clone(), WHITE.filled()));
        let mut ring = pts;
        ring.push(ring[0]);
        let _ = area.draw(&PathElement::new(ring, faded(color_index).stroke_width(2)));
    }
}

/// Which points of a line get a marker: all of a short line (a size sweep); on a longer one
/// about eight, every other point at least, starting at the series' own phase so that
/// coinciding series put theirs at different points.
fn marked(n: usize, color_index: usize) -> Vec<usize> {
    if n <= 6 {
        return (0..n).collect();
    }
    let step = n.div_ceil(8).max(2);
    (color_index % step..n).step_by(step).collect()
}

/// A horizontal reference (two points at one height, e.g. a latency objective): no markers, and
/// not repeated from a baseline.
pub fn is_reference(line: &Line) -> bool {
    line.points.len() == 2 && line.points[0].1 == line.points[1].1
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

/// Ticks for a log axis over `range`: 1, 2, 5 of every decade over up to two decades, 1 and 3
/// over up to four, else the powers of ten.
fn log_ticks(range: &Range<f64>) -> Vec<f64> {
    let (lo, hi) = (range.start.max(f64::MIN_POSITIVE), range.end);
    let decades = (hi / lo).log10();
    let steps: &[f64] = if decades <= 2.5 {
        &[1.0, 2.0, 5.0]
    } else if decades <= 4.5 {
        &[1.0, 3.0]
    } else {
        &[1.0]
    };
    let mut out = Vec::new();
    let mut d = 10f64.powi(lo.log10().floor() as i32);
    while d <= hi {
        for m in steps {
            let v = d * m;
            if v >= lo && v <= hi {
                out.push(v);
            }
        }
        d *= 10.0;
    }
    out
}

/// A log axis only where the values span decades: over less than a factor of 30 (padded) it
/// would show one tick or none, so such a panel goes linear.
fn spans_decades(range: &Range<f64>) -> bool {
    range.end / range.start >= 30.0 * 1.5 * 1.5
}

/// What [`finish`] draws besides the axes.
struct Mesh<'a> {
    panel: &'a Panel,
    base: &'a [Line],
    y_log: bool,
    y_desc: String,
    x_desc: &'a str,
    x_fmt: fn(&f64) -> String,
    x_labels: usize,
}

fn draw_panel(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    panel: &Panel,
    base: &[Line],
) {
    let all = || panel.lines.iter().chain(base);
    let ys = || all().flat_map(|l| l.points.iter().map(|p| p.1));
    let xs = || all().flat_map(|l| l.points.iter().map(|p| p.0));
    let y_log =
        matches!(panel.x, XAxis::Percentile) || (panel.y_log && spans_decades(&span(ys(), true)));
    let y_range = span(ys(), y_log);
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(&panel.title, (FONT, 14))
        .margin(8)
        .margin_right(16)
        .x_label_area_size(34)
        .y_label_area_size(62);
    let mut mesh = Mesh {
        panel,
        base,
        y_log,
        y_desc: if y_log {
            format!("{} (log scale)", panel.y_desc)
        } else {
            panel.y_desc.clone()
        },
        x_desc: "",
        x_fmt: fmt_conns,
        x_labels: 6,
    };
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
            mesh.x_desc = "connections (log scale)";
            mesh.x_labels = 8;
            with_y(
                &mut builder,
                (lo..hi).log_scale().with_key_points(keys),
                y_range,
                &mesh,
            );
        }
        XAxis::Rate => {
            // Achieved rates that span decades (a model that held 100 req/s beside one that held
            // 10,000) on a log axis, else linear from 0.
            let positive = span(xs(), true);
            if spans_decades(&positive) {
                mesh.x_desc = "achieved req/s (log scale)";
                let ticks = log_ticks(&positive);
                with_y(
                    &mut builder,
                    positive.log_scale().with_key_points(ticks),
                    y_range,
                    &mesh,
                );
            } else {
                mesh.x_desc = "achieved req/s";
                let hi = xs().fold(0.0_f64, f64::max).max(1.0) * 1.08;
                with_y(&mut builder, 0.0..hi, y_range, &mesh);
            }
        }
        XAxis::Seconds => {
            let hi = xs().fold(0.0_f64, f64::max).max(1.0) * 1.08;
            mesh.x_desc = "seconds";
            mesh.x_fmt = fmt_seconds;
            with_y(&mut builder, 0.0..hi, y_range, &mesh);
        }
        XAxis::Rank(n) => {
            let n = (*n).max(1);
            // At most n labels on 0.5..n+0.5: plotters' step is then 1, a label per worker.
            mesh.x_desc = "ranked from fewest connections to most";
            mesh.x_fmt = fmt_seconds;
            mesh.x_labels = n;
            with_y(&mut builder, 0.5..n as f64 + 0.5, y_range, &mesh);
        }
        XAxis::Percentile => {
            let hi = xs().fold(1.0_f64, f64::max).ceil().max(2.0);
            // A plain range: with `hi + 1` labels plotters puts one on each whole number.
            mesh.x_desc = "percentile";
            mesh.x_fmt = fmt_percentile;
            mesh.x_labels = hi as usize + 1;
            with_y(&mut builder, 0.0..hi, y_range, &mesh);
        }
    }
}

/// Builds the panel's coordinates on x axis `x` and a linear or log y axis, and draws it.
fn with_y<X>(builder: &mut ChartBuilder<SVGBackend>, x: X, y_range: Range<f64>, mesh: &Mesh)
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    if mesh.y_log {
        let ticks = log_ticks(&y_range);
        if let Ok(mut chart) =
            builder.build_cartesian_2d(x, y_range.log_scale().with_key_points(ticks))
        {
            finish(&mut chart, mesh);
        }
    } else if let Ok(mut chart) = builder.build_cartesian_2d(x, y_range) {
        finish(&mut chart, mesh);
    }
}

/// Mesh, labels and lines, for any pair of axis types: the baseline's lines first (under), then
/// this run's.
fn finish<X, Y>(chart: &mut ChartContext<SVGBackend, Cartesian2d<X, Y>>, mesh: &Mesh)
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let Mesh {
        panel,
        base,
        y_log,
        x_desc,
        x_fmt,
        x_labels,
        ..
    } = *mesh;
    let y_fmt = panel.y_fmt;
    let _ = chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .axis_style(BLACK.mix(0.5))
        .x_desc(x_desc)
        .y_desc(mesh.y_desc.as_str())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&|v: &f64| y_fmt(*v))
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 12))
        .x_labels(x_labels)
        .y_labels(6)
        .draw();
    if panel.lines.iter().chain(base).all(|l| l.points.is_empty()) {
        let _ = chart.plotting_area().strip_coord_spec().draw(&Text::new(
            "no data",
            (20, 20),
            (FONT, 14).into_font().color(&BLACK.mix(0.6)),
        ));
        return;
    }
    let ok = |v: f64| v.is_finite() && (!y_log || v > 0.0);
    let lines: Vec<(&Line, bool)> = base
        .iter()
        .map(|l| (l, true))
        .chain(panel.lines.iter().map(|l| (l, false)))
        .collect();
    let mut markers = Vec::new();
    for (i, (line, baseline)) in lines.into_iter().enumerate() {
        // Place from the last line of its run's group: this run's, or the baseline's.
        let after = if baseline {
            base.len() - 1 - i
        } else {
            panel.lines.len() - 1 - (i - base.len())
        };
        let points: Vec<(f64, f64)> = line
            .points
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && ok(p.1))
            .collect();
        let c = if baseline {
            faded(line.color)
        } else {
            color(line.color).to_rgba()
        };
        for &(x, lo, hi) in &line.bars {
            if x.is_finite() && ok(lo) && ok(hi) {
                let _ = chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, lo), (x, hi)],
                    c.mix(0.6).stroke_width(1),
                )));
            }
        }
        let style = c.stroke_width(2);
        // This run: solid, or dashed where the line means something else (processes beside
        // threads, an objective). A baseline: dashed, or dotted where this run's is dashed.
        match (baseline, line.dashed) {
            (false, false) => {
                let _ = chart.draw_series(LineSeries::new(points.clone(), style));
            }
            (false, true) | (true, false) => {
                let (dash, gap) = if baseline { (8, 5) } else { (6, 4) };
                let _ = chart.draw_series(DashedLineSeries::new(points.clone(), dash, gap, style));
            }
            (true, true) => {
                let _ = chart.draw_series(DashedLineSeries::new(points.clone(), 2, 4, style));
            }
        }
        if !is_reference(line) {
            // Lines drawn earlier get larger markers: where points coincide, the later (smaller)
            // marker sits inside the earlier one and both shapes show.
            let scale = (1.0 + 0.15 * after as f64).min(1.6);
            let at = marked(points.len(), line.color);
            markers.extend(
                at.into_iter()
                    .map(|j| (points[j], line.color, !baseline, scale)),
            );
        }
    }
    // Markers over every line, so that no line hides another's.
    // (`map_coordinate` gives pixels of the whole image; the stripped area counts from its corner.)
    let area = chart.plotting_area();
    let (x0, y0) = area.get_base_pixel();
    let pixels = area.strip_coord_spec();
    for (p, color_index, filled, scale) in markers {
        let (x, y) = area.map_coordinate(&p);
        marker(&pixels, (x - x0, y - y0), color_index, filled, scale);
    }
}

fn fmt_conns(v: &f64) -> String {
    crate::fmt::thousands(*v)
}

/// Seconds: whole numbers as such, fractions (short runs) to a tenth.
fn fmt_seconds(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        crate::fmt::thousands(*v)
    } else {
        format!("{v:.1}")
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_are_one_two_five_over_two_decades_and_thinner_beyond() {
        assert_eq!(
            log_ticks(&(8.0..700.0)),
            [10.0, 20.0, 50.0, 100.0, 200.0, 500.0]
        );
        assert_eq!(
            log_ticks(&(0.5..400.0)),
            [1.0, 3.0, 10.0, 30.0, 100.0, 300.0]
        );
        assert_eq!(
            log_ticks(&(1.0..200_000.0)),
            [1.0, 10.0, 100.0, 1e3, 1e4, 1e5]
        );
    }

    #[test]
    fn coinciding_long_lines_put_their_markers_at_different_points() {
        assert_eq!(marked(4, 3), [0, 1, 2, 3]);
        let (a, b) = (marked(11, 0), marked(11, 1));
        assert!(!a.is_empty() && !b.is_empty());
        assert!(a.iter().all(|i| !b.contains(i)), "{a:?} {b:?}");
    }

    #[test]
    fn an_overlaid_chart_names_both_runs_and_draws_the_baseline_dashed() {
        let panel = Panel {
            title: "t".into(),
            y_desc: "ms".into(),
            y_log: true,
            y_fmt: crate::fmt::axis_ms,
            x: XAxis::Conns(vec![1, 10, 100]),
            lines: vec![Line {
                color: 0,
                points: vec![(1.0, 1.0), (10.0, 10.0), (100.0, 100.0)],
                bars: Vec::new(),
                dashed: false,
            }],
        };
        let mut base = panel.lines.clone();
        base[0].points[2].1 = 200.0;
        let plain = draw(std::slice::from_ref(&panel), 1, &[("a".into(), 0, false)]);
        let svg = draw_overlaid(
            std::slice::from_ref(&panel),
            &[base],
            1,
            &[("a".into(), 0, false)],
            Some(("new", "old")),
        );
        assert!(svg.contains("this run: new") && svg.contains("baseline: old"));
        assert!(
            svg.contains("ms (log scale)"),
            "a y axis over two decades is log"
        );
        assert!(svg.len() > plain.len());
        assert_eq!(
            svg,
            draw_overlaid(
                std::slice::from_ref(&panel),
                &[{
                    let mut b = panel.lines.clone();
                    b[0].points[2].1 = 200.0;
                    b
                }],
                1,
                &[("a".into(), 0, false)],
                Some(("new", "old")),
            ),
            "same input, same bytes"
        );
    }
}
