//! Drawing a `PlotSpec` on any plotters backend (SVG string or RGB bitmap),
//! with the same layout for both: title, labelled axes with units, and a
//! legend placed where it hides no data.

use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axes::{Categories, LogAxis};
use super::font::FAMILY;
use super::spec::*;
use crate::units::{format_number, format_value};

/// Canvas size of every plot (pixels).
pub const SIZE: (u32, u32) = (960, 540);

const MARGIN: u32 = 14;
const MARGIN_RIGHT: u32 = 28;
const CAPTION_PX: u32 = 24;
const X_LABEL_AREA: u32 = 58;
const Y_LABEL_AREA: u32 = 84;
/// Approximate height of the plotting area (canvas minus caption and axes).
const PLOT_H: f64 = (SIZE.1 - 2 * MARGIN - CAPTION_PX - 16 - X_LABEL_AREA) as f64;
/// Legend geometry estimates (pixels) at the 15 px legend font.
const LEGEND_ROW_PX: f64 = 22.0;
const LEGEND_PAD_PX: f64 = 30.0;
const LEGEND_CHAR_PX: f64 = 8.6;
const LEGEND_SWATCH_PX: f64 = 60.0;

/// Distinguishable series colours (Tableau 10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Reference-line colours, distinct from the series palette's first entries.
const REF_COLORS: [RGBColor; 3] = [
    RGBColor(170, 20, 20),
    RGBColor(60, 60, 60),
    RGBColor(110, 50, 150),
];

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Draws `spec` onto `root` (which it fills first) and presents it.
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    spec: &PlotSpec,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(err)?;
    match &spec.kind {
        PlotKind::Xy(p) => draw_xy(root, &spec.title, p)?,
        PlotKind::Bars(b) => draw_bars(root, &spec.title, b)?,
    }
    root.present().map_err(err)
}

/// Tick text: the value with its own unit when the axis asks for it.
fn tick(v: f64, unit: Option<&str>) -> String {
    match unit {
        Some(u) => format_value(v, u),
        None => format_number(v),
    }
}

fn finite(v: f64) -> bool {
    v.is_finite()
}

fn legend_entries(p: &XyPlot) -> Vec<&str> {
    let mut v: Vec<&str> = Vec::new();
    if let Some(s) = p.spans.as_ref().filter(|s| !s.intervals.is_empty()) {
        v.push(&s.label);
    }
    if let Some(b) = p.band.as_ref().filter(|b| !b.points.is_empty()) {
        v.push(&b.label);
    }
    v.extend(p.series.iter().map(|s| s.label.as_str()));
    v.extend(p.hlines.iter().chain(&p.vlines).map(|l| l.label.as_str()));
    v
}

/// Fraction of the plot height a legend with `rows` entries takes.
fn legend_height_frac(rows: usize) -> f64 {
    ((rows as f64 * LEGEND_ROW_PX + LEGEND_PAD_PX) / PLOT_H).min(0.6)
}

/// Data extent of x and y over everything drawn, padded; with the legend
/// at the top, y gets enough headroom that the legend sits above the data.
fn extent(p: &XyPlot) -> ((f64, f64), (f64, f64)) {
    let mut xs: Vec<f64> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    for s in &p.series {
        for &(x, y) in &s.points {
            xs.push(x);
            ys.push(y);
        }
        for &(lo, hi) in &s.whiskers {
            ys.push(lo);
            ys.push(hi);
        }
    }
    if let Some(b) = &p.band {
        for &(x, lo, hi) in &b.points {
            xs.push(x);
            ys.push(lo);
            ys.push(hi);
        }
    }
    ys.extend(p.hlines.iter().map(|l| l.at));
    xs.extend(p.vlines.iter().map(|l| l.at));
    if let Some(s) = &p.spans {
        for &(a, b) in &s.intervals {
            xs.push(a);
            xs.push(b);
        }
    }
    let top = match p.legend {
        LegendAt::LowerRight => 0.12,
        LegendAt::UpperLeft | LegendAt::UpperRight => {
            let r = legend_height_frac(legend_entries(p).len()) + 0.03;
            (r / (1.0 - r)).max(0.12)
        }
    };
    (padded(&xs, &p.x, 0.03), padded(&ys, &p.y, top))
}

/// Range of `values` padded by `top` (fraction of the span) above and a
/// little below, honouring log scale and `from_zero`.
fn padded(values: &[f64], axis: &Axis, top: f64) -> (f64, f64) {
    let log = axis.scale == Scale::Log;
    let v: Vec<f64> = values
        .iter()
        .copied()
        .filter(|&x| finite(x) && (!log || x > 0.0))
        .collect();
    if v.is_empty() {
        return if log { (0.1, 10.0) } else { (0.0, 1.0) };
    }
    let (mut lo, mut hi) = v
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    if log {
        if hi / lo < 1.5 {
            return (lo / 1.5, hi * 1.5);
        }
        let decades = (hi / lo).log10();
        let pad = 10f64.powf(decades * 0.04);
        return (lo / pad, hi * 10f64.powf(decades * top.max(0.04)));
    }
    if axis.from_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        let d = if hi == 0.0 { 1.0 } else { hi.abs() * 0.1 };
        return (lo - d, hi + d);
    }
    let span = hi - lo;
    let bottom = if axis.from_zero && lo == 0.0 {
        0.0
    } else {
        0.05
    };
    (lo - span * bottom, hi + span * top)
}

fn draw_xy<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    p: &XyPlot,
) -> Result<(), String> {
    let ((x0, x1), (y0, y1)) = extent(p);
    let mut b = ChartBuilder::on(root);
    b.caption(title, (FAMILY, CAPTION_PX))
        .margin(MARGIN)
        .margin_right(MARGIN_RIGHT)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA);
    match p.x.scale {
        Scale::Linear => {
            let mut c = b.build_cartesian_2d(x0..x1, y0..y1).map_err(err)?;
            xy_body(&mut c, p, (x0, x1), (y0, y1))
        }
        Scale::Log => {
            let mut c = b
                .build_cartesian_2d(LogAxis { lo: x0, hi: x1 }, y0..y1)
                .map_err(err)?;
            xy_body(&mut c, p, (x0, x1), (y0, y1))
        }
    }
}

fn xy_body<'a, DB, X>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>,
    p: &XyPlot,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let x_unit = p.x.tick_unit.as_deref();
    let y_unit = p.y.tick_unit.as_deref();
    chart
        .configure_mesh()
        .x_desc(p.x.label.as_str())
        .y_desc(p.y.label.as_str())
        .axis_desc_style((FAMILY, 17))
        .label_style((FAMILY, 14))
        .x_label_formatter(&|v| tick(*v, x_unit))
        .y_label_formatter(&|v| tick(*v, y_unit))
        .x_labels(10)
        .y_labels(8)
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(BLACK.mix(0.04))
        .draw()
        .map_err(err)?;

    if let Some(sp) = p.spans.as_ref().filter(|s| !s.intervals.is_empty()) {
        let fill = RGBColor(214, 39, 40).mix(0.14).filled();
        chart
            .draw_series(
                sp.intervals
                    .iter()
                    .map(move |&(a, b)| Rectangle::new([(a, y0), (b, y1)], fill)),
            )
            .map_err(err)?
            .label(sp.label.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], fill));
    }
    if let Some(band) = p.band.as_ref().filter(|b| !b.points.is_empty()) {
        let fill = RGBColor(120, 120, 120).mix(0.18).filled();
        let mut poly: Vec<(f64, f64)> = band.points.iter().map(|&(x, _, hi)| (x, hi)).collect();
        poly.extend(band.points.iter().rev().map(|&(x, lo, _)| (x, lo)));
        chart
            .draw_series(std::iter::once(Polygon::new(poly, fill)))
            .map_err(err)?
            .label(band.label.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], fill));
    }
    for (i, s) in p.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|&(x, y)| finite(x) && finite(y))
            .collect();
        let line = color.stroke_width(2);
        let label = s.label.as_str();
        match s.style {
            Style::Line => {
                chart
                    .draw_series(LineSeries::new(pts, line))
                    .map_err(err)?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], line));
            }
            Style::Dashed => {
                chart
                    .draw_series(DashedLineSeries::new(pts, 9, 6, line))
                    .map_err(err)?
                    .label(label)
                    .legend(move |(x, y)| {
                        DashedPathElement::new(vec![(x, y), (x + 20, y)], 6, 3, line)
                    });
            }
            Style::Points => {
                let whiskers: Vec<PathElement<(f64, f64)>> = s
                    .points
                    .iter()
                    .zip(&s.whiskers)
                    .filter(|((x, _), (lo, hi))| finite(*x) && finite(*lo) && finite(*hi))
                    .map(|(&(x, _), &(lo, hi))| PathElement::new(vec![(x, lo), (x, hi)], line))
                    .collect();
                chart.draw_series(whiskers).map_err(err)?;
                // Hollow markers of a different shape per series, so points
                // that land on each other stay visible.
                let mark = color.stroke_width(2);
                let anno = match i % 3 {
                    0 => chart.draw_series(
                        pts.into_iter()
                            .map(|pt| EmptyElement::at(pt) + Circle::new((0, 0), 6, mark)),
                    ),
                    1 => chart.draw_series(
                        pts.into_iter()
                            .map(|pt| EmptyElement::at(pt) + TriangleMarker::new((0, 0), 8, mark)),
                    ),
                    _ => chart.draw_series(
                        pts.into_iter()
                            .map(|pt| EmptyElement::at(pt) + Cross::new((0, 0), 6, mark)),
                    ),
                };
                anno.map_err(err)?.label(label).legend(move |(x, y)| {
                    EmptyElement::at((x + 10, y))
                        + match i % 3 {
                            0 => Circle::new((0, 0), 6, mark).into_dyn(),
                            1 => TriangleMarker::new((0, 0), 8, mark).into_dyn(),
                            _ => Cross::new((0, 0), 6, mark).into_dyn(),
                        }
                });
            }
        }
    }
    let refs = p
        .hlines
        .iter()
        .map(|l| (l, vec![(x0, l.at), (x1, l.at)]))
        .chain(p.vlines.iter().map(|l| (l, vec![(l.at, y0), (l.at, y1)])));
    for (i, (l, pts)) in refs.enumerate() {
        if !finite(l.at) {
            continue;
        }
        let style = REF_COLORS[i % REF_COLORS.len()].stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(pts, 10, 6, style))
            .map_err(err)?
            .label(l.label.as_str())
            .legend(move |(x, y)| DashedPathElement::new(vec![(x, y), (x + 20, y)], 6, 3, style));
    }
    let position = match p.legend {
        LegendAt::UpperLeft => SeriesLabelPosition::UpperLeft,
        LegendAt::UpperRight => SeriesLabelPosition::UpperRight,
        LegendAt::LowerRight => SeriesLabelPosition::LowerRight,
    };
    legend(chart, position)
}

fn legend<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .position(position)
        .margin(12)
        .label_font((FAMILY, 15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(err)
}

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    b: &BarPlot,
) -> Result<(), String> {
    let n = b.categories.len();
    let m = b.segments.len().max(1);
    let value = |s: usize, c: usize| -> f64 {
        b.segments[s]
            .1
            .get(c)
            .copied()
            .filter(|v| v.is_finite() && *v > 0.0)
            .unwrap_or(0.0)
    };
    // How far right each category's bars (and their labels) reach.
    let reach: Vec<f64> = (0..n)
        .map(|c| {
            let vals = (0..b.segments.len()).map(|s| value(s, c));
            if b.stacked {
                vals.sum()
            } else {
                vals.fold(0.0, f64::max)
            }
        })
        .collect();
    let max = reach.iter().copied().fold(0.0, f64::max);

    let longest = b
        .categories
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(1);
    let label_px = (longest as u32 * 9 + 24).clamp(70, 380);
    // Put the legend at whichever end (top or bottom categories) has the
    // shorter bars, and stretch the value axis so bars and their value labels
    // end left of it.
    let plot_w = f64::from(SIZE.0 - MARGIN - MARGIN_RIGHT - label_px);
    let legend_rows = b.segments.len();
    let legend_chars = b
        .segments
        .iter()
        .map(|s| s.0.chars().count())
        .max()
        .unwrap_or(0);
    let legend_w = (legend_chars as f64 * LEGEND_CHAR_PX + LEGEND_SWATCH_PX) / plot_w;
    let covered = ((legend_height_frac(legend_rows) * n as f64).ceil() as usize).clamp(1, n.max(1));
    let top_reach = reach.iter().take(covered).copied().fold(0.0, f64::max);
    let bottom_reach = reach
        .iter()
        .rev()
        .take(covered)
        .copied()
        .fold(0.0, f64::max);
    let (position, corner_reach) = if top_reach <= bottom_reach {
        (SeriesLabelPosition::UpperRight, top_reach)
    } else {
        (SeriesLabelPosition::LowerRight, bottom_reach)
    };
    let value_label_w = 90.0 / plot_w;
    let free = 1.0 - legend_w - value_label_w - 0.03;
    let mut hi = (max * (1.0 + value_label_w * 1.2)).max(f64::MIN_POSITIVE);
    if free > 0.25 && corner_reach > 0.0 {
        hi = hi.max(corner_reach / free);
    }
    if max <= 0.0 {
        hi = 1.0;
    }

    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, CAPTION_PX))
        .margin(MARGIN)
        .margin_right(MARGIN_RIGHT)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(label_px)
        .build_cartesian_2d(0.0..hi, Categories(n))
        .map_err(err)?;
    // Category i is drawn at y = n-1-i so the first one is on top.
    let name_at = |y: &f64| -> String {
        let r = y.round();
        if (y - r).abs() > 1e-6 || r < 0.0 || r as usize >= n {
            return String::new();
        }
        b.categories[n - 1 - r as usize].clone()
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(b.value_label.as_str())
        .axis_desc_style((FAMILY, 17))
        .label_style((FAMILY, 14))
        .x_label_formatter(&|v| format_number(*v))
        .y_label_formatter(&name_at)
        .x_labels(10)
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(BLACK.mix(0.04))
        .draw()
        .map_err(err)?;

    let thickness = 0.72;
    let label_style = TextStyle::from((FAMILY, 14).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let show = |v: f64| {
        format!("{} {}", format_number(v), b.value_unit)
            .trim()
            .to_string()
    };
    let mut labels: Vec<(String, (f64, f64))> = Vec::new();
    let mut offsets = vec![0.0; n];
    for (si, (name, _)) in b.segments.iter().enumerate() {
        let color = PALETTE[si % PALETTE.len()];
        let mut rects = Vec::new();
        for (c, offset) in offsets.iter_mut().enumerate() {
            let v = value(si, c);
            let center = (n - 1 - c) as f64;
            let (x_start, y_lo, y_hi) = if b.stacked {
                (*offset, center - thickness / 2.0, center + thickness / 2.0)
            } else {
                let h = thickness / m as f64;
                let top = center + thickness / 2.0 - si as f64 * h;
                (0.0, top - h * 0.9, top)
            };
            if v > 0.0 {
                rects.push(Rectangle::new(
                    [(x_start, y_lo), (x_start + v, y_hi)],
                    color.filled(),
                ));
            }
            if b.stacked {
                *offset += v;
            } else if b.segments[si].1.get(c).is_some_and(|v| v.is_finite()) {
                labels.push((show(v), (v + hi * 0.008, (y_lo + y_hi) / 2.0)));
            }
        }
        chart
            .draw_series(rects)
            .map_err(err)?
            .label(name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], color.filled()));
    }
    if b.stacked {
        for (c, total) in reach.iter().enumerate() {
            labels.push((show(*total), (total + hi * 0.008, (n - 1 - c) as f64)));
        }
    }
    chart
        .draw_series(
            labels
                .into_iter()
                .map(|(t, pos)| Text::new(t, pos, label_style.clone())),
        )
        .map_err(err)?;
    legend(&mut chart, position)
}
