//! Plots: builders turn results into `PlotSpec`s (one module per scenario
//! kind, plus a generic fallback for unknown series), then each spec is drawn
//! as SVG (inlined in the HTML) and PNG (for tools that cannot show SVG).

mod axes;
mod common;
mod cpu_latency;
mod cpu_quota;
mod cpu_weight;
mod draw;
mod font;
mod generic;
mod io;
mod memory_oom;
mod memory_protection;
mod pids;
mod psi;
pub mod spec;
mod startup;

use std::collections::HashMap;

use plotters::prelude::*;

pub use spec::PlotSpec;

use crate::names::{cpu_quota as quota, pids as bomb};
use crate::schema::RunResults;

/// Series that a specific builder draws; everything else gets a generic plot.
const CONSUMED_SERIES: &[(&str, &str)] = &[
    (quota::SCENARIO, quota::SERIES_USAGE_CPUS),
    (quota::SCENARIO, quota::SERIES_THROTTLED),
    ("memory-oom", crate::names::memory_oom::MEMORY_BYTES),
    ("memory-oom", crate::names::memory_oom::USAGE_MIB),
    ("memory-oom", crate::names::memory_oom::OOM_KILL),
    (bomb::SCENARIO, bomb::SERIES_PIDS_CURRENT),
    (
        "memory-protection",
        crate::names::memory_protection::SERIES_CURRENT,
    ),
    (
        "memory-protection",
        crate::names::memory_protection::SERIES_EXPECTED,
    ),
];

/// Every plot for a run, with unique ids, empty plots dropped.
pub fn build_all(r: &RunResults) -> Vec<PlotSpec> {
    let mut specs = Vec::new();
    specs.extend(startup::plots(r));
    specs.extend(cpu_quota::plots(r));
    specs.extend(cpu_weight::plots(r));
    specs.extend(cpu_latency::plots(r));
    specs.extend(memory_oom::plots(r));
    specs.extend(memory_protection::plots(r));
    specs.extend(pids::plots(r));
    specs.extend(io::plots(r));
    specs.extend(psi::plots(r));
    specs.extend(generic::plots(r, CONSUMED_SERIES));
    specs.retain(|s| !s.is_empty());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for s in &mut specs {
        let n = seen.entry(s.id.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            s.id = format!("{}-{}", s.id, n);
        }
    }
    specs
}

/// The plot as a standalone SVG document.
pub fn render_svg(spec: &PlotSpec) -> Result<String, String> {
    font::ensure_registered()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, draw::SIZE).into_drawing_area();
        draw::draw(&root, spec)?;
    }
    Ok(svg)
}

/// The plot as PNG bytes (RGB, text rendered with the embedded font).
pub fn render_png(spec: &PlotSpec) -> Result<Vec<u8>, String> {
    font::ensure_registered()?;
    let (w, h) = draw::SIZE;
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    {
        let root =
            font::GlyphText(BitMapBackend::with_buffer(&mut rgb, (w, h))).into_drawing_area();
        draw::draw(&root, spec)?;
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(&rgb).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{demo_results, empty_run, scenario};

    #[test]
    fn demo_run_gets_every_kind_of_plot() {
        let specs = build_all(&demo_results(1));
        let ids: Vec<&str> = specs.iter().map(|s| s.id.as_str()).collect();
        for want in [
            "startup-ready-cdf-native",
            "startup-ready-cdf-runc",
            "startup-ready-cdf-ns-pid",
            "startup-phases-native",
            "startup-phases-runc",
            "cpu-quota-sweep",
            "cpu-quota-timeline-10",
            "cpu-weight-shares-native",
            "cpu-latency-wake-latency-cdf",
            "cpu-latency-done-latency-cdf",
            "memory-oom-timeline-single",
            "memory-oom-timeline-oom-group",
            "pids-timeline-native",
            "pagecache-memory-native",
            "memory-high-memory-native",
        ] {
            assert!(ids.contains(&want), "{want} missing from {ids:?}");
        }
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
    }

    #[test]
    fn odd_input_still_plots_or_skips_cleanly() {
        let mut r = empty_run("odd");
        let mut s = scenario("startup", "native", serde_json::json!({}));
        s.metrics.push(crate::schema::Metric::new(
            "ready",
            "s",
            crate::schema::Better::Lower,
            vec![f64::NAN, 0.0, -1.0],
        ));
        s.series
            .insert("weird".into(), vec![[0.0, f64::INFINITY], [1.0, 2.0]]);
        r.scenarios.push(s.clone());
        r.scenarios.push(s);
        for spec in build_all(&r) {
            render_svg(&spec).unwrap();
            render_png(&spec).unwrap();
        }
    }

    #[test]
    fn svg_and_png_are_well_formed() {
        let specs = build_all(&demo_results(1));
        let spec = specs
            .iter()
            .find(|s| s.id == "startup-phases-native")
            .unwrap();
        let svg = render_svg(spec).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("Startup phases to ready"));
        let png = render_png(spec).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
