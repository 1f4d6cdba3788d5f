//! `isobench merge` (one results file per node into a fleet) and the
//! `run --sonobuoy DIR` outputs a node's pod leaves for collection.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use isobench::cli::MergeArgs;
use isobench::run::RunArgs;
use isobench_reports::fleet::{self, render, sonobuoy, Expect, Fleet};
use isobench_reports::load::write_atomic;
use isobench_reports::RunResults;

use super::{usage, Outcome};

/// Merges the files; exit 1 when a node is missing or a check failed on
/// any node (each named on stderr), 2 on bad input with nothing written.
pub fn merge(args: &MergeArgs) -> Outcome {
    let expect = args
        .expect_nodes
        .as_deref()
        .map(Expect::parse)
        .transpose()
        .map_err(usage)?;
    let inputs = fleet::load(&args.files).map_err(usage)?;
    let out_dir = match &args.out {
        Some(d) => d.clone(),
        None => match args.output.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
    };
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| usage(format!("{}: cannot create: {e}", out_dir.display())))?;
    let f = Fleet::build(inputs, expect);
    let json = serde_json::to_vec_pretty(&f).map_err(usage)?;
    write_atomic(&args.output, &json).map_err(usage)?;
    let html = out_dir.join("fleet.html");
    let md = out_dir.join("fleet.md");
    write_atomic(&html, render::render_html(&f).as_bytes()).map_err(usage)?;
    write_atomic(&md, render::render_markdown(&f).as_bytes()).map_err(usage)?;
    print!("{}", summary(&f));
    println!(
        "fleet: {}\nreport: {}, {}",
        args.output.display(),
        html.display(),
        md.display()
    );
    let problems = f.problems();
    for p in &problems {
        eprintln!("isobench merge: {p}");
    }
    Ok(if f.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// What `merge` prints: the verdict, the nodes, the checks that did not
/// pass everywhere and the metrics with outliers (the full tables are in
/// fleet.md / fleet.html).
fn summary(f: &Fleet) -> String {
    let mut out = format!("{}\n\n", render::verdict(f));
    out.push_str(&render::markdown(&render::nodes_table(f)));
    let checks = render::checks_table(f, true);
    if !checks.rows.is_empty() {
        out.push_str("checks not passing on every node:\n\n");
        out.push_str(&render::markdown(&checks));
    }
    let metrics = render::metrics_table(f, true);
    if !metrics.rows.is_empty() {
        out.push_str("metrics with outliers:\n\n");
        out.push_str(&render::markdown(&metrics));
    }
    out
}

/// Where `run --sonobuoy DIR` puts things.
#[derive(Debug, Clone)]
pub struct SonobuoyOut {
    /// DIR: the done file goes here.
    pub dir: PathBuf,
}

/// With `--sonobuoy DIR`: the results default to DIR/isobench/isobench.json
/// (the folder is created); `-o -` is refused (the files are the point).
pub fn sonobuoy_prepare(args: &mut RunArgs) -> Result<Option<SonobuoyOut>, super::CmdError> {
    let Some(dir) = args.sonobuoy.clone() else {
        return Ok(None);
    };
    if args.output.as_deref() == Some(Path::new("-")) {
        return Err(usage(
            "--sonobuoy writes its results as files: drop -o - (or give -o FILE)",
        ));
    }
    if args.output.is_none() {
        let folder = dir.join("isobench");
        std::fs::create_dir_all(&folder).map_err(|e| {
            usage(format!(
                "--sonobuoy {}: cannot create: {e}",
                folder.display()
            ))
        })?;
        args.output = Some(folder.join("isobench.json"));
    }
    Ok(Some(SonobuoyOut { dir }))
}

/// After the results are written: sonobuoy_results.yaml next to them,
/// then DIR/done holding their folder's path (Sonobuoy's worker waits for
/// it and collects that folder).
pub fn sonobuoy_finish(
    s: &SonobuoyOut,
    r: &RunResults,
    written: &Path,
) -> Result<(), super::CmdError> {
    let folder = match written.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let folder = std::fs::canonicalize(&folder).unwrap_or(folder);
    let node = fleet::node_of(r, written);
    let yaml = folder.join(sonobuoy::RESULTS_FILE);
    write_atomic(&yaml, sonobuoy::results_yaml(r, &node).as_bytes()).map_err(usage)?;
    write_atomic(&s.dir.join("done"), folder.to_string_lossy().as_bytes()).map_err(usage)?;
    println!(
        "sonobuoy: {} (done: {})",
        yaml.display(),
        s.dir.join("done").display()
    );
    Ok(())
}
