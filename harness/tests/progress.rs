//! Progress of `isobench run` when stderr is not a terminal: the plain
//! start and end lines, no bar, no escape codes (what CI logs and the other
//! tests read).

mod common;

#[test]
fn off_a_terminal_progress_is_plain_lines() {
    if !common::root_or_skip("progress::off_a_terminal_progress_is_plain_lines") {
        return;
    }
    let suite = "[suite]\nlevel = \"quick\"\nscenarios = [\"cpuset\", \"cpu-quota\"]\n\
                 [cpuset]\nseconds = 0.3\n\
                 [cpu-quota]\nquotas-pct = [50.0]\nseconds = 0.3\nrepetitions = 2\n";
    let (out, r) = common::suite_results(suite, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains('\r') && !err.contains('\x1b'), "{err:?}");
    let steps: Vec<String> = err
        .lines()
        .filter(|l| l.starts_with("isobench: ["))
        .map(|l| match l.rsplit_once(" done in ") {
            // The time varies; its form does not.
            Some((head, t)) => {
                let secs = t.strip_suffix(" s").and_then(|s| s.parse::<f64>().ok());
                assert!(secs.is_some(), "{l}");
                format!("{head} done in * s")
            }
            None => l.to_string(),
        })
        .collect();
    assert_eq!(
        steps,
        [
            "isobench: [1/2] cpuset (native) ...",
            "isobench: [1/2] cpuset (native) done in * s",
            "isobench: [2/2] cpu-quota (native) ...",
            "isobench: [2/2] cpu-quota (native) done in * s",
        ],
        "{err}"
    );
    assert!(!r.interrupted);
}
