//! What a plot shows, as plain data: builders decide this from results
//! (testable without pixels), `draw` turns it into SVG / PNG.

/// Scale of an axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    Log,
}

/// An axis: its label (with the unit) and scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub label: String,
    pub scale: Scale,
    /// Force the axis to include zero (quantities that start at nothing).
    pub from_zero: bool,
    /// Unit of the plotted values when each tick should carry its own scaled
    /// unit (`"s"`: ticks read 500 µs, 1 ms, 20 ms); None for plain numbers.
    pub tick_unit: Option<String>,
}

impl Axis {
    /// A linear axis starting at zero.
    pub fn linear(label: impl Into<String>) -> Self {
        Axis {
            label: label.into(),
            scale: Scale::Linear,
            from_zero: true,
            tick_unit: None,
        }
    }

    /// A logarithmic axis (for latencies spanning decades).
    pub fn log(label: impl Into<String>) -> Self {
        Axis {
            label: label.into(),
            scale: Scale::Log,
            from_zero: false,
            tick_unit: None,
        }
    }

    /// Ticks labelled with their own unit (values are in `unit`).
    pub fn ticks_in(mut self, unit: &str) -> Self {
        self.tick_unit = Some(unit.to_string());
        self
    }
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Line,
    /// A dashed reference line (e.g. y = x).
    Dashed,
    /// Markers, with optional vertical whiskers (`Series::whiskers`).
    Points,
}

/// One labelled series of (x, y) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
    /// Per point (y_low, y_high) for `Points`; empty for none.
    pub whiskers: Vec<(f64, f64)>,
}

impl Series {
    /// A solid line.
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            points,
            style: Style::Line,
            whiskers: vec![],
        }
    }
}

/// A horizontal or vertical reference line.
#[derive(Debug, Clone, PartialEq)]
pub struct RefLine {
    pub label: String,
    pub at: f64,
}

/// A shaded band between two curves over x (e.g. a tolerance).
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub label: String,
    /// (x, y_low, y_high), sorted by x.
    pub points: Vec<(f64, f64, f64)>,
}

/// Shaded x intervals (e.g. throttled periods).
#[derive(Debug, Clone, PartialEq)]
pub struct Spans {
    pub label: String,
    pub intervals: Vec<(f64, f64)>,
}

/// Where the legend goes so it hides the least data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegendAt {
    UpperLeft,
    UpperRight,
    LowerRight,
}

/// A chart with numeric x and y axes.
#[derive(Debug, Clone, PartialEq)]
pub struct XyPlot {
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub band: Option<Band>,
    pub hlines: Vec<RefLine>,
    pub vlines: Vec<RefLine>,
    pub spans: Option<Spans>,
    pub legend: LegendAt,
}

impl XyPlot {
    /// An empty chart with these axes.
    pub fn new(x: Axis, y: Axis) -> Self {
        XyPlot {
            x,
            y,
            series: vec![],
            band: None,
            hlines: vec![],
            vlines: vec![],
            spans: None,
            legend: LegendAt::UpperRight,
        }
    }
}

/// Horizontal bars per category: grouped side by side, or stacked.
#[derive(Debug, Clone, PartialEq)]
pub struct BarPlot {
    /// Label of the value axis, with the unit.
    pub value_label: String,
    /// Suffix printed after bar values (the display unit).
    pub value_unit: String,
    /// Category names, drawn top to bottom.
    pub categories: Vec<String>,
    /// One segment per series: its label and a value per category.
    pub segments: Vec<(String, Vec<f64>)>,
    pub stacked: bool,
}

/// The kinds of plot.
#[derive(Debug, Clone, PartialEq)]
pub enum PlotKind {
    Xy(XyPlot),
    Bars(BarPlot),
}

/// One plot: where it goes and what it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotSpec {
    /// File stem (unique within a report), e.g. `startup-ready-cdf-native`.
    pub id: String,
    /// Scenario name whose report section shows it.
    pub group: String,
    pub title: String,
    /// One sentence on how to read it, shown under the plot.
    pub caption: String,
    pub kind: PlotKind,
}

impl PlotSpec {
    /// True when there is nothing to draw.
    pub fn is_empty(&self) -> bool {
        match &self.kind {
            PlotKind::Xy(p) => p.series.iter().all(|s| s.points.is_empty()),
            PlotKind::Bars(b) => b.categories.is_empty() || b.segments.is_empty(),
        }
    }
}
