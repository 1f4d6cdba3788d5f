//! Turning a ratio, its interval and a p-value into a verdict a reviewer can
//! act on — with "no detectable change" and "real but within the threshold"
//! as answers in their own right (criterion's discipline).

use serde::Serialize;

use super::gate::Applied;
use crate::schema::Better;

/// What happened to one metric between BASE and NEW.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Better beyond the threshold, significantly.
    Improved,
    /// Worse beyond the threshold, significantly: fails the gate.
    Regressed,
    /// No statistically detectable change.
    Unchanged,
    /// A detectable change, but not provably beyond the threshold.
    WithinNoise,
    /// Cannot be compared (emulated time, no samples, zero baseline).
    NotComparable,
    /// Too few samples (or runs, or rounds) for any change to be shown.
    NotTestable,
}

impl Verdict {
    /// Stable text used in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Improved => "improved",
            Verdict::Regressed => "regressed",
            Verdict::Unchanged => "unchanged",
            Verdict::WithinNoise => "within noise",
            Verdict::NotComparable => "not comparable",
            Verdict::NotTestable => "not testable",
        }
    }
}

/// The evidence about one metric, on the "compared" scale (the value, or its
/// distance to the target for `better = target`).
#[derive(Debug, Clone, Copy)]
pub struct Evidence {
    pub ratio: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
    /// |median(NEW) - median(BASE)|.
    pub abs_change: f64,
}

/// Decides the verdict. A regression needs all of: the whole CI beyond the
/// threshold in the bad direction, p < alpha, and an absolute change of at
/// least `min_abs`; an improvement is the mirror image.
pub fn decide(better: Better, e: &Evidence, limits: &Applied) -> Verdict {
    // An infinite CI bound is fine (a resampled base median of 0); NaN is not.
    if !e.ratio.is_finite() || e.ci_low.is_nan() || e.ci_high.is_nan() {
        return Verdict::NotComparable;
    }
    let significant = e.p_value < limits.alpha && (e.ci_low > 1.0 || e.ci_high < 1.0);
    if !significant {
        return Verdict::Unchanged;
    }
    let t = limits.threshold_pct / 100.0;
    let up = e.ci_low > 1.0 + t;
    let down = e.ci_high < 1.0 - t;
    let (worse, better_) = match better {
        Better::Lower | Better::Target => (up, down),
        Better::Higher => (down, up),
    };
    let big_enough = e.abs_change >= limits.min_abs;
    if worse && big_enough {
        Verdict::Regressed
    } else if better_ && big_enough {
        Verdict::Improved
    } else {
        Verdict::WithinNoise
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Applied {
        Applied {
            threshold_pct: 10.0,
            alpha: 0.05,
            min_abs: 0.0,
            ignore: false,
            replicated_only: false,
            rule: None,
            band_pct: None,
            band_abs: None,
        }
    }

    fn ev(ratio: f64, lo: f64, hi: f64, p: f64) -> Evidence {
        Evidence {
            ratio,
            ci_low: lo,
            ci_high: hi,
            p_value: p,
            abs_change: 1.0,
        }
    }

    #[test]
    fn verdicts_follow_direction_significance_and_threshold() {
        let inf = f64::INFINITY;
        // Which way is better, (ratio, CI low, CI high, p), the verdict.
        let cases = [
            (Better::Lower, (1.3, 1.2, 1.4, 0.001), Verdict::Regressed),
            (Better::Lower, (1.3, 1.05, 1.4, 0.001), Verdict::WithinNoise),
            (Better::Lower, (1.3, 1.2, 1.4, 0.2), Verdict::Unchanged),
            (Better::Lower, (1.0, 0.95, 1.05, 0.01), Verdict::Unchanged),
            (Better::Lower, (0.7, 0.6, 0.8, 0.001), Verdict::Improved),
            (Better::Target, (1.3, 1.2, 1.4, 0.001), Verdict::Regressed),
            // Higher is better mirrors lower.
            (Better::Higher, (0.7, 0.6, 0.8, 0.001), Verdict::Regressed),
            (Better::Higher, (1.3, 1.2, 1.4, 0.001), Verdict::Improved),
            // An infinite ratio cannot be compared; an infinite bound can.
            (Better::Lower, (inf, 1.0, 2.0, 0.0), Verdict::NotComparable),
            (Better::Lower, (3.0, 1.5, inf, 0.001), Verdict::Regressed),
        ];
        for (better, (ratio, lo, hi, p), want) in cases {
            let got = decide(better, &ev(ratio, lo, hi, p), &limits());
            assert_eq!(
                got, want,
                "{better:?}: ratio {ratio} in [{lo}, {hi}], p {p}"
            );
        }
    }

    #[test]
    fn changes_below_min_abs_are_within_noise() {
        let mut l = limits();
        l.min_abs = 2.0;
        assert_eq!(
            decide(Better::Lower, &ev(1.3, 1.2, 1.4, 0.001), &l),
            Verdict::WithinNoise
        );
    }
}
