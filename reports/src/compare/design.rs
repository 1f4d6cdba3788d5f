//! How much evidence a comparison has, and the estimator that fits it.
//!
//! On a shared machine most noise is between runs (other tenants, CPU
//! frequency, cache and page state), not between the launches inside one
//! run. So the unit of replication is a run (several files per side) or a
//! round (`run --rounds N`, arms interleaved inside each round), and the
//! samples inside one unit are not independent draws of the whole noise:
//! - one run per side: the within-run interval is all there is, and the
//!   gate widens it with the calibrated run-to-run band (`[[band]]`);
//! - several runs per side: a hierarchical bootstrap (runs, then samples
//!   within the runs);
//! - interleaved arms: per-round paired ratios, a t interval over rounds.

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::bootstrap::ratio_of_medians_ci;
use super::mannwhitney::mann_whitney;
use super::rng::SplitMix64;
use crate::stats::{median, quantile_sorted};

/// The replication structure of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Design {
    /// One results file per side: only within-run noise is known.
    SingleRun,
    /// Several results files per side: runs are the replication unit.
    Replicated,
    /// Two arms of one `--rounds` run (or several): rounds pair them.
    Interleaved,
}

impl Design {
    /// One line for the report header.
    pub fn describe(self) -> &'static str {
        match self {
            Design::SingleRun => {
                "one run per side: only within-run noise is known, so each metric must also \
                 move beyond its calibrated run-to-run band (`[[band]]` in the gate), and \
                 absolute times are shown but not gated (use `run --rounds` or several files \
                 per side)"
            }
            Design::Replicated => {
                "several runs per side: hierarchical bootstrap (runs, then samples within runs)"
            }
            Design::Interleaved => {
                "interleaved arms: per-round paired ratios of medians, t interval over rounds"
            }
        }
    }
}

/// What one estimator concluded about one metric.
#[derive(Debug, Clone, Copy)]
pub struct Estimate {
    pub ratio: f64,
    pub low: f64,
    pub high: f64,
    /// NaN when the estimator has no p-value of its own.
    pub p_value: f64,
}

/// Smallest two-sided exact Mann–Whitney p-value for sizes m and n:
/// 2 / C(m+n, m). Below alpha, a within-run test can say anything at all.
pub fn min_mann_whitney_p(m: usize, n: usize) -> f64 {
    if m == 0 || n == 0 {
        return 1.0;
    }
    let (k, total) = (m.min(n), m + n);
    // log C(total, k), exact enough for the comparison with alpha.
    let log_c: f64 = (0..k)
        .map(|i| ((total - i) as f64).ln() - ((i + 1) as f64).ln())
        .sum();
    (2.0 * (-log_c).exp()).min(1.0)
}

/// Samples above which the median CI comes from order statistics instead
/// of resampling (cost O(n log n) instead of O(resamples · n)).
pub const ORDER_STAT_MIN_N: usize = 1000;

/// One run per side: ratio of medians with a bootstrap CI (order-statistic
/// CI for large samples) and a Mann–Whitney p-value.
pub fn single_run(base: &[f64], new: &[f64], resamples: usize, rng: &mut SplitMix64) -> Estimate {
    let p_value = mann_whitney(base, new).p_value;
    let (small, large) = (base.len().min(new.len()), base.len().max(new.len()));
    if large >= ORDER_STAT_MIN_N && small >= 20 {
        let (ratio, low, high) = order_statistic_ratio_ci(base, new);
        return Estimate {
            ratio,
            low,
            high,
            p_value,
        };
    }
    // Fewer resamples where n is large: the cost is resamples × n.
    let resamples = resamples.min((20_000_000 / (small + large).max(1)).max(200));
    let ci = ratio_of_medians_ci(base, new, resamples, super::CONFIDENCE, rng);
    Estimate {
        ratio: ci.ratio,
        low: ci.low,
        high: ci.high,
        p_value,
    }
}

/// Distribution-free 95% CI of a median from order statistics (binomial,
/// normal approximation): ranks n/2 ∓ 1.96·√n/2.
fn median_ci(sorted: &[f64]) -> (f64, f64, f64) {
    let n = sorted.len();
    let half = 1.96 * (n as f64).sqrt() / 2.0;
    let lo = ((n as f64 / 2.0 - half).floor().max(0.0)) as usize;
    let hi = ((n as f64 / 2.0 + half).ceil() as usize).min(n - 1);
    (sorted[lo], quantile_sorted(sorted, 0.5), sorted[hi])
}

/// Ratio of medians and a CI combining both medians' order-statistic CIs
/// on the log scale (independent sides).
fn order_statistic_ratio_ci(base: &[f64], new: &[f64]) -> (f64, f64, f64) {
    let sorted = |v: &[f64]| {
        let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        s.sort_by(|a, b| a.total_cmp(b));
        s
    };
    let (b, n) = (sorted(base), sorted(new));
    if b.is_empty() || n.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let (bl, bm, bh) = median_ci(&b);
    let (nl, nm, nh) = median_ci(&n);
    let ratio = nm / bm;
    if !(bl > 0.0 && nl > 0.0 && ratio.is_finite()) {
        return (ratio, f64::NAN, f64::NAN);
    }
    let hw = |l: f64, h: f64| (h.ln() - l.ln()) / 2.0;
    let w = (hw(bl, bh).powi(2) + hw(nl, nh).powi(2)).sqrt();
    (ratio, ratio * (-w).exp(), ratio * w.exp())
}

/// Several runs per side: resample runs with replacement, then samples
/// within each drawn run, pool, and take the ratio of the pooled medians.
/// The p-value is the bootstrap's two-sided tail mass at ratio 1.
pub fn replicated(
    base: &[Vec<f64>],
    new: &[Vec<f64>],
    resamples: usize,
    rng: &mut SplitMix64,
) -> Estimate {
    let pooled = |g: &[Vec<f64>]| median(&g.concat());
    let ratio = pooled(new) / pooled(base);
    // Large runs get fewer resamples: the cost is resamples × samples.
    let total: usize = base.iter().chain(new).map(Vec::len).sum();
    let resamples = resamples.min((20_000_000 / total.max(1)).max(200));
    let draw = |g: &[Vec<f64>], rng: &mut SplitMix64| -> f64 {
        let mut pool = Vec::new();
        for _ in 0..g.len() {
            let run = &g[rng.index(g.len())];
            for _ in 0..run.len() {
                pool.push(run[rng.index(run.len())]);
            }
        }
        median(&pool)
    };
    let mut ratios = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let b = draw(base, rng);
        let n = draw(new, rng);
        let r = n / b;
        if !r.is_nan() {
            ratios.push(r);
        }
    }
    if ratios.is_empty() || !ratio.is_finite() {
        return Estimate {
            ratio,
            low: f64::NAN,
            high: f64::NAN,
            p_value: f64::NAN,
        };
    }
    ratios.sort_by(|a, b| a.total_cmp(b));
    let tail = (1.0 - super::CONFIDENCE) / 2.0;
    let below = ratios.iter().filter(|r| **r <= 1.0).count() as f64 / ratios.len() as f64;
    let above = ratios.iter().filter(|r| **r >= 1.0).count() as f64 / ratios.len() as f64;
    Estimate {
        ratio,
        low: quantile_sorted(&ratios, tail),
        high: quantile_sorted(&ratios, 1.0 - tail),
        p_value: (2.0 * below.min(above)).min(1.0),
    }
}

/// Interleaved arms: one log ratio of medians per round, a t interval over
/// the rounds (drift between rounds cancels inside each pair). Rounds where
/// BASE's median is 0 are left out. Needs at least two rounds.
pub fn paired(pairs: &[(Vec<f64>, Vec<f64>)]) -> Estimate {
    let logs: Vec<f64> = pairs
        .iter()
        .filter_map(|(b, n)| {
            let (mb, mn) = (median(b), median(n));
            if mb == 0.0 && mn == 0.0 {
                Some(0.0)
            } else {
                let l = (mn / mb).ln();
                l.is_finite().then_some(l)
            }
        })
        .collect();
    let k = logs.len();
    let nan = Estimate {
        ratio: f64::NAN,
        low: f64::NAN,
        high: f64::NAN,
        p_value: f64::NAN,
    };
    if k < 2 {
        return nan;
    }
    let mean = logs.iter().sum::<f64>() / k as f64;
    let var = logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
    let se = (var / k as f64).sqrt();
    let ratio = mean.exp();
    if se == 0.0 {
        return Estimate {
            ratio,
            low: ratio,
            high: ratio,
            p_value: if mean == 0.0 { 1.0 } else { 0.0 },
        };
    }
    let Ok(t) = StudentsT::new(0.0, 1.0, (k - 1) as f64) else {
        return nan;
    };
    let q = t.inverse_cdf(1.0 - (1.0 - super::CONFIDENCE) / 2.0);
    let p_value = 2.0 * (1.0 - t.cdf((mean / se).abs()));
    Estimate {
        ratio,
        low: (mean - q * se).exp(),
        high: (mean + q * se).exp(),
        p_value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::lognormal;

    #[test]
    fn smallest_mann_whitney_p_values() {
        // 3 vs 3: 2/20 = 0.1 — never below 0.05, so "not testable".
        assert!((min_mann_whitney_p(3, 3) - 0.1).abs() < 1e-12);
        assert!((min_mann_whitney_p(1, 1) - 1.0).abs() < 1e-12);
        assert!(min_mann_whitney_p(4, 4) < 0.05);
        assert!(min_mann_whitney_p(50, 50) < 1e-20);
    }

    #[test]
    fn order_statistic_ci_covers_a_known_shift() {
        let mut g = SplitMix64::new(3);
        let b = lognormal(&mut g, 5000, 1e-3, 0.3);
        let n: Vec<f64> = lognormal(&mut g, 5000, 1e-3, 0.3)
            .iter()
            .map(|x| x * 1.3)
            .collect();
        let e = single_run(&b, &n, 1000, &mut g);
        assert!(e.low < 1.3 && 1.3 < e.high, "{e:?}");
        assert!(e.low > 1.2 && e.high < 1.4, "{e:?}");
    }

    #[test]
    fn replicated_interval_includes_run_to_run_noise() {
        // Each run has its own level (drift ±20%), 100 samples each: the
        // hierarchical interval must be much wider than the within-run one.
        let mut g = SplitMix64::new(7);
        let mut runs = |n: usize| -> Vec<Vec<f64>> {
            (0..n)
                .map(|_| {
                    let level = 1e-3 * (1.0 + 0.4 * (g.unit() - 0.5));
                    lognormal(&mut g, 100, level, 0.1)
                })
                .collect()
        };
        let (b, n) = (runs(4), runs(4));
        let e = replicated(&b, &n, 2000, &mut SplitMix64::new(1));
        let within = single_run(&b[0], &n[0], 2000, &mut SplitMix64::new(1));
        let width = |e: &Estimate| (e.high / e.low).ln();
        assert!(width(&e) > 1.5 * width(&within), "{e:?} {within:?}");
    }

    #[test]
    fn paired_rounds_cancel_drift() {
        // The machine drifts by ×2 across rounds; NEW is 1.25 × BASE in every
        // round. The paired interval is tight around 1.25.
        let mut g = SplitMix64::new(11);
        let pairs: Vec<(Vec<f64>, Vec<f64>)> = (0..6)
            .map(|r| {
                let level = 1e-3 * (1.0 + r as f64 / 5.0);
                let b = lognormal(&mut g, 30, level, 0.1);
                let n = lognormal(&mut g, 30, level * 1.25, 0.1);
                (b, n)
            })
            .collect();
        let e = paired(&pairs);
        assert!(e.low > 1.15 && e.high < 1.35, "{e:?}");
        assert!(e.p_value < 0.001, "{e:?}");
        assert!(paired(&pairs[..1]).ratio.is_nan());
    }
}
