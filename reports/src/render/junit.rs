//! junit.xml: one testcase per check, so any CI shows isobench's verdicts
//! natively (skip → <skipped>, fail → <failure> with expected / observed).
//! A scenario that did not complete is reported on its testsuite
//! (errors count and <system-err>), keeping exactly one testcase per check.

use std::fmt::Write;

use super::escape::xml;
use crate::key::{params_text, scenario_key};
use crate::schema::{RunResults, Status};

/// The whole document.
pub fn render(r: &RunResults) -> String {
    let count = |st: Status| {
        r.scenarios
            .iter()
            .flat_map(|s| &s.checks)
            .filter(|c| c.status == st)
            .count()
    };
    let tests: usize = r.scenarios.iter().map(|s| s.checks.len()).sum();
    let errors = r.scenarios.iter().filter(|s| s.error.is_some()).count();
    let total_time: f64 = r.scenarios.iter().filter_map(|s| s.duration_s).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // The strict Jenkins xunit schema (junit-10.xsd) allows no `skipped`
    // count here: skips are counted per <testsuite>.
    let _ = writeln!(
        out,
        "<testsuites name=\"isobench {}\" tests=\"{tests}\" failures=\"{}\" errors=\"{errors}\" time=\"{}\">",
        xml(&r.run_id),
        count(Status::Fail),
        seconds(total_time)
    );
    for s in &r.scenarios {
        // The point's measured wall time (`duration_s`); its checks share
        // it equally, as verdicts on one measurement, not separately timed.
        let duration = s.duration_s.unwrap_or(0.0);
        let per_check = duration / s.checks.len().max(1) as f64;
        let failures = s.checks.iter().filter(|c| c.status == Status::Fail).count();
        let skipped = s.checks.iter().filter(|c| c.status == Status::Skip).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" errors=\"{}\" time=\"{}\" timestamp=\"{}\">",
            xml(&scenario_key(s)),
            s.checks.len(),
            usize::from(s.error.is_some()),
            seconds(duration),
            xml(&r.started_at)
        );
        out.push_str("    <properties>\n");
        let props = [
            ("launcher", s.launcher.clone()),
            ("params", params_text(&s.params)),
            ("kernel", r.environment.kernel.clone()),
            ("cgroup_mode", r.environment.cgroup_mode.clone()),
            ("virtualization", r.environment.virtualization.clone()),
        ];
        for (k, v) in props {
            let _ = writeln!(out, "      <property name=\"{k}\" value=\"{}\"/>", xml(&v));
        }
        out.push_str("    </properties>\n");
        let classname = format!("isobench.{}.{}", s.name, s.launcher);
        for c in &s.checks {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
                xml(&classname),
                xml(&format!("{} [{}]", c.name, params_text(&s.params)).replace(" []", "")),
                seconds(per_check)
            );
            let summary = format!("expected {}, observed {}", c.expected, c.observed);
            match c.status {
                Status::Pass => out.push_str("/>\n"),
                Status::Fail => {
                    let _ = write!(
                        out,
                        ">\n      <failure message=\"{}\" type=\"check\">{}</failure>\n    </testcase>\n",
                        xml(&summary),
                        xml(format!("{summary}\n{}", c.detail).trim_end())
                    );
                }
                Status::Skip => {
                    let msg = if c.detail.is_empty() {
                        summary
                    } else {
                        c.detail.clone()
                    };
                    let _ = write!(
                        out,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                        xml(&msg)
                    );
                }
                Status::Warn => {
                    let _ = write!(
                        out,
                        ">\n      <system-out>warning: {}</system-out>\n    </testcase>\n",
                        xml(format!("{summary}. {}", c.detail).trim_end())
                    );
                }
            }
        }
        if let Some(e) = &s.error {
            let _ = writeln!(
                out,
                "    <system-err>scenario did not complete: {}</system-err>",
                xml(e)
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Seconds as JUnit writes them: plain decimal, millisecond resolution.
fn seconds(t: f64) -> String {
    if t.is_finite() && t > 0.0 {
        format!("{t:.3}")
    } else {
        "0".into()
    }
}
