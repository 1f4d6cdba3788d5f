//! Renders the synthetic demo run (every scenario kind) so the plots can be
//! looked at: `cargo run -p isobench-reports --example render_fixture [DIR]`.
//! Also writes the demo results JSON and a comparison against a second demo
//! run (and against a copy whose startup is 1.5x slower).

use std::path::PathBuf;

use isobench_reports::fixture::demo_results;
use isobench_reports::{compare, render_report, write_results, Gate, DEFAULT_RESAMPLES};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/isobench-report-demo"));
    let base = demo_results(1);
    let t = std::time::Instant::now();
    let files = render_report(&base, &dir)?;
    eprintln!("report rendered in {:.2?}", t.elapsed());
    write_results(&dir.join("results.json"), &base)?;

    let mut slow = demo_results(2);
    for s in slow.scenarios.iter_mut().filter(|s| s.name == "startup") {
        for m in &mut s.metrics {
            m.samples.iter_mut().for_each(|x| *x *= 1.5);
        }
    }
    let gate_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ci/gate.toml");
    let gate = Gate::load(&gate_path)?;
    let t = std::time::Instant::now();
    let mut c = compare(&base, &[demo_results(2), slow], &gate, 1, DEFAULT_RESAMPLES);
    eprintln!("compared in {:.2?}", t.elapsed());
    c.set_labels("demo-1.json", &["demo-2.json", "demo-2-startup-x1.5.json"]);
    std::fs::write(dir.join("compare.md"), c.to_markdown())?;
    std::fs::write(dir.join("compare.json"), c.to_json())?;

    for f in &files {
        println!("{}", f.display());
    }
    println!("{}", dir.join("compare.md").display());
    Ok(())
}
