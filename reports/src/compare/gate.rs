//! Gate thresholds: how much worse a metric may get before CI fails, per
//! metric glob, from a TOML file (see ci/gate.toml for the documented format).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::glob::glob_match;

/// Why a gate file was refused; names the file and, when known, the line.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {msg}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct GateError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub msg: String,
}

/// Limits applied to one metric (the defaults, or one `[[metric]]` rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// A regression needs the whole confidence interval beyond this change (%).
    #[serde(default = "default_threshold_pct")]
    pub threshold_pct: f64,
    /// ... and a Mann–Whitney p-value below this.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// ... and the medians to differ by at least this much in absolute terms
    /// (in the metric's unit; for target metrics, in distance to the target).
    #[serde(default)]
    pub min_abs: f64,
    /// Family-wise correction of the p-values of all gated metrics of a run
    /// (defaults only; rules cannot override it).
    #[serde(default)]
    pub correction: Correction,
    /// Gate absolute times when there is one run per side (default false:
    /// most of their noise is between runs, which one run cannot show).
    #[serde(default)]
    pub single_run_times: bool,
}

/// How p-values are adjusted for comparing many metrics at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Correction {
    /// Holm–Bonferroni: controls the chance of any false regression at alpha.
    #[default]
    Holm,
    /// Each metric tested alone at alpha.
    None,
}

fn default_threshold_pct() -> f64 {
    10.0
}

fn default_alpha() -> f64 {
    0.05
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            threshold_pct: default_threshold_pct(),
            alpha: default_alpha(),
            min_abs: 0.0,
            correction: Correction::Holm,
            single_run_times: false,
        }
    }
}

/// One `[[metric]]` rule: a glob and the limits that override the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Matched against the metric key (`name[launcher]{params}/metric`) or the
    /// bare metric name; `*` and `?` are the only wildcards.
    pub pattern: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_abs: Option<f64>,
    /// Still compared and shown, but never fails the gate.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore: bool,
    /// Gated only when runs are replicated or arms interleaved: its
    /// run-to-run noise swamps what one run per side could show.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replicated_only: bool,
}

/// One `[[band]]`: the same-build run-to-run spread of the metrics its
/// pattern matches, as measured by `isobench calibrate`. With one run per
/// side a metric regresses only beyond it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    pub pattern: String,
    /// Largest same-build change of the median (%), times the margin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_to_run_pct: Option<f64>,
    /// Largest same-build absolute change of the compared median (for
    /// `better = target` metrics: of the distance), times the margin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_to_run_abs: Option<f64>,
    /// How many same-build pairs (and runs) it was measured on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<usize>,
}

/// The whole gate: defaults plus rules, first matching rule wins; bands
/// (first match) are looked up independently of the rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    #[serde(default)]
    pub defaults: Limits,
    #[serde(default, rename = "metric")]
    pub rules: Vec<Rule>,
    #[serde(default, rename = "band", skip_serializing_if = "Vec::is_empty")]
    pub bands: Vec<Band>,
}

/// The limits that apply to one metric, and which rule chose them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    pub threshold_pct: f64,
    pub alpha: f64,
    pub min_abs: f64,
    pub ignore: bool,
    pub replicated_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The calibrated run-to-run band, when a `[[band]]` matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub band_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub band_abs: Option<f64>,
}

/// The gate shipped in `ci/gate.toml`: what `compare` uses without `--gate`.
pub const SHIPPED_GATE: &str = include_str!("../../../ci/gate.toml");

impl Gate {
    /// The shipped gate (`ci/gate.toml`), tuned against the noise of real
    /// runs; falls back to the bare defaults if it ever failed to parse.
    pub fn shipped() -> Gate {
        Gate::parse(SHIPPED_GATE, Path::new("ci/gate.toml")).unwrap_or_default()
    }

    /// Parses gate TOML; errors are reported against the name `<gate>`.
    pub fn from_toml_str(text: &str) -> Result<Gate, GateError> {
        Gate::parse(text, Path::new("<gate>"))
    }

    /// Reads and parses a gate file; errors name the file.
    pub fn load(path: &Path) -> Result<Gate, GateError> {
        let text = std::fs::read_to_string(path).map_err(|e| GateError {
            path: path.to_path_buf(),
            line: None,
            msg: format!("cannot read gate file: {e}"),
        })?;
        Gate::parse(&text, path)
    }

    fn parse(text: &str, path: &Path) -> Result<Gate, GateError> {
        let gate: Gate = toml::from_str(text).map_err(|e| GateError {
            path: path.to_path_buf(),
            line: e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
            msg: e.message().trim().to_string(),
        })?;
        gate.validate().map_err(|msg| GateError {
            path: path.to_path_buf(),
            line: None,
            msg,
        })?;
        Ok(gate)
    }

    fn validate(&self) -> Result<(), String> {
        let check = |what: &str, pct: Option<f64>, alpha: Option<f64>, abs: Option<f64>| {
            if let Some(p) = pct {
                if !(p.is_finite() && p >= 0.0) {
                    return Err(format!(
                        "{what}: threshold_pct must be a percentage >= 0, got {p}"
                    ));
                }
            }
            if let Some(a) = alpha {
                if !(a > 0.0 && a <= 1.0) {
                    return Err(format!("{what}: alpha must be in (0, 1], got {a}"));
                }
            }
            if let Some(m) = abs {
                if !(m.is_finite() && m >= 0.0) {
                    return Err(format!("{what}: min_abs must be >= 0, got {m}"));
                }
            }
            Ok(())
        };
        let d = &self.defaults;
        check(
            "[defaults]",
            Some(d.threshold_pct),
            Some(d.alpha),
            Some(d.min_abs),
        )?;
        for r in &self.rules {
            if r.pattern.is_empty() {
                return Err("[[metric]] rule with an empty pattern".into());
            }
            let what = format!("[[metric]] pattern {:?}", r.pattern);
            check(&what, r.threshold_pct, r.alpha, r.min_abs)?;
        }
        for b in &self.bands {
            if b.pattern.is_empty() {
                return Err("[[band]] with an empty pattern".into());
            }
            let what = format!("[[band]] pattern {:?}", b.pattern);
            check(&what, b.run_to_run_pct, None, b.run_to_run_abs)?;
        }
        Ok(())
    }

    /// The limits for the metric with this key and bare name.
    pub fn limits_for(&self, key: &str, metric_name: &str) -> Applied {
        let d = &self.defaults;
        let band = self
            .bands
            .iter()
            .find(|b| glob_match(&b.pattern, key) || glob_match(&b.pattern, metric_name));
        let (band_pct, band_abs) =
            band.map_or((None, None), |b| (b.run_to_run_pct, b.run_to_run_abs));
        match self
            .rules
            .iter()
            .find(|r| glob_match(&r.pattern, key) || glob_match(&r.pattern, metric_name))
        {
            Some(r) => Applied {
                threshold_pct: r.threshold_pct.unwrap_or(d.threshold_pct),
                alpha: r.alpha.unwrap_or(d.alpha),
                min_abs: r.min_abs.unwrap_or(d.min_abs),
                ignore: r.ignore,
                replicated_only: r.replicated_only,
                rule: Some(r.pattern.clone()),
                band_pct,
                band_abs,
            },
            None => Applied {
                threshold_pct: d.threshold_pct,
                alpha: d.alpha,
                min_abs: d.min_abs,
                ignore: false,
                replicated_only: false,
                rule: None,
                band_pct,
                band_abs,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_gate_has_documented_defaults() {
        let g = Gate::from_toml_str("").unwrap();
        let a = g.limits_for("x[native]/ready", "ready");
        assert_eq!(
            (a.threshold_pct, a.alpha, a.min_abs, a.ignore),
            (10.0, 0.05, 0.0, false)
        );
    }

    #[test]
    fn first_matching_rule_wins_on_key_or_name() {
        let g = Gate::from_toml_str(
            r#"
            [defaults]
            threshold_pct = 15

            [[metric]]
            pattern = "startup*/phase.*"
            threshold_pct = 25

            [[metric]]
            pattern = "phase.*"
            ignore = true

            [[metric]]
            pattern = "accuracy"
            min_abs = 0.02
            "#,
        )
        .unwrap();
        let a = g.limits_for("startup[native]/phase.clone", "phase.clone");
        assert_eq!(a.threshold_pct, 25.0);
        assert!(!a.ignore);
        let b = g.limits_for("other[native]/phase.clone", "phase.clone");
        assert!(b.ignore);
        assert_eq!(b.threshold_pct, 15.0);
        let c = g.limits_for("cpu-quota[native]{quota_pct=20}/accuracy", "accuracy");
        assert_eq!((c.min_abs, c.rule.as_deref()), (0.02, Some("accuracy")));
        assert_eq!(g.limits_for("k/ready", "ready").rule, None);
    }

    #[test]
    fn unknown_keys_are_errors_naming_key_and_line() {
        let e = Gate::from_toml_str("[defaults]\nthreshold = 5\n").unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("<gate>:2: "), "{s}");
        assert!(s.contains("threshold"), "{s}");
        assert!(!s.contains('\n'), "one line: {s}");

        let e = Gate::from_toml_str("[[metric]]\npattern = \"x\"\nthreshhold_pct = 5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("threshhold_pct"), "{e}");

        let e = Gate::from_toml_str("[limits]\n").unwrap_err().to_string();
        assert!(e.contains("limits"), "{e}");
    }

    #[test]
    fn bad_values_and_syntax_are_errors() {
        assert!(Gate::from_toml_str("[defaults]\nthreshold_pct = -1\n").is_err());
        assert!(Gate::from_toml_str("[defaults]\nalpha = 0\n").is_err());
        assert!(Gate::from_toml_str("[[metric]]\npattern = \"\"\n").is_err());
        assert!(Gate::from_toml_str("[[metric]]\nthreshold_pct = 3\n").is_err());
        assert!(Gate::from_toml_str("[defaults\n").is_err());
        assert!(Gate::from_toml_str("[defaults]\nthreshold_pct = \"ten\"\n").is_err());
    }

    #[test]
    fn load_names_the_file() {
        let e = Gate::load(Path::new("/nonexistent/gate.toml")).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("/nonexistent/gate.toml: cannot read"));
        let dir = std::env::temp_dir().join(format!("isobench-gate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("gate.toml");
        std::fs::write(&p, "[defaults]\nbogus = 1\n").unwrap();
        let e = Gate::load(&p).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:2: ", p.display())), "{e}");
        assert!(e.contains("bogus"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shipped_ci_gate_parses() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/gate.toml");
        Gate::load(&p).unwrap();
    }
}
