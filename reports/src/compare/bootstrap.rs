//! Percentile-bootstrap confidence interval of the ratio of medians: robust
//! to the heavy right tails latency samples have, and honest about small n.

use super::rng::SplitMix64;
use crate::stats::quantile_sorted;

/// A ratio with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioCi {
    /// median(new) / median(base) on the original samples.
    pub ratio: f64,
    pub low: f64,
    pub high: f64,
}

/// Median of one resample (n draws with replacement) of `sorted`, without
/// materialising it: count how often each order statistic is drawn, then walk
/// the counts to the middle. Same draws, same result as sorting the resample.
fn resampled_median(sorted: &[f64], counts: &mut [u32], rng: &mut SplitMix64) -> f64 {
    let n = sorted.len();
    counts.fill(0);
    for _ in 0..n {
        counts[rng.index(n)] += 1;
    }
    // k-th smallest (0-based) of the resample is sorted[j] for the first j
    // whose cumulative count exceeds k.
    let kth = |k: usize| -> f64 {
        let mut seen = 0usize;
        for (j, &c) in counts.iter().enumerate() {
            seen += c as usize;
            if seen > k {
                return sorted[j];
            }
        }
        sorted[n - 1]
    };
    let hi = kth(n / 2);
    if n % 2 == 1 {
        hi
    } else {
        let lo = kth(n / 2 - 1);
        lo + 0.5 * (hi - lo)
    }
}

/// Ratio of medians NEW/BASE and its `confidence` percentile-bootstrap
/// interval from `resamples` resamples drawn with `rng`. Empty inputs or a
/// zero base median give NaN (the caller reports "not comparable").
pub fn ratio_of_medians_ci(
    base: &[f64],
    new: &[f64],
    resamples: usize,
    confidence: f64,
    rng: &mut SplitMix64,
) -> RatioCi {
    let nan = RatioCi {
        ratio: f64::NAN,
        low: f64::NAN,
        high: f64::NAN,
    };
    let finite_sorted = |v: &[f64]| {
        let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
        s.sort_by(|a, b| a.total_cmp(b));
        s
    };
    let (base_sorted, new_sorted) = (finite_sorted(base), finite_sorted(new));
    if base_sorted.is_empty() || new_sorted.is_empty() {
        return nan;
    }
    let ratio = quantile_sorted(&new_sorted, 0.5) / quantile_sorted(&base_sorted, 0.5);
    if !ratio.is_finite() {
        return RatioCi { ratio, ..nan };
    }
    let mut counts_b = vec![0u32; base_sorted.len()];
    let mut counts_n = vec![0u32; new_sorted.len()];
    let mut ratios = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let mb = resampled_median(&base_sorted, &mut counts_b, rng);
        let mn = resampled_median(&new_sorted, &mut counts_n, rng);
        let r = mn / mb;
        if !r.is_nan() {
            ratios.push(r);
        }
    }
    if ratios.is_empty() {
        return RatioCi {
            ratio,
            low: ratio,
            high: ratio,
        };
    }
    ratios.sort_by(|a, b| a.total_cmp(b));
    let tail = (1.0 - confidence.clamp(0.0, 1.0)) / 2.0;
    RatioCi {
        ratio,
        low: quantile_with_infinities(&ratios, tail),
        high: quantile_with_infinities(&ratios, 1.0 - tail),
    }
}

/// Type-7 quantile that stays infinite (not NaN) when resamples of a base
/// with many zeros give infinite ratios.
fn quantile_with_infinities(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let (lo, hi) = (sorted[h.floor() as usize], sorted[h.ceil() as usize]);
    if hi.is_infinite() {
        if h.fract() == 0.0 {
            lo
        } else {
            hi
        }
    } else {
        crate::stats::quantile_sorted(sorted, q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Median of a scratch buffer (reordered in place), type-7 like `stats::median`.
    fn median_in_place(v: &mut [f64]) -> f64 {
        let n = v.len();
        if n == 0 {
            return f64::NAN;
        }
        let mid = n / 2;
        let (lower, m, _) = v.select_nth_unstable_by(mid, |a, b| a.total_cmp(b));
        let m = *m;
        if n % 2 == 1 {
            m
        } else {
            let below = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            below + 0.5 * (m - below)
        }
    }

    fn lognormal(seed: u64, n: usize, mu: f64, sigma: f64) -> Vec<f64> {
        crate::fixture::lognormal(&mut SplitMix64::new(seed), n, mu.exp(), sigma)
    }

    #[test]
    fn median_in_place_matches_stats_median() {
        for n in 1..20 {
            let v = lognormal(n as u64, n, 0.0, 1.0);
            assert_eq!(median_in_place(&mut v.clone()), crate::stats::median(&v));
        }
    }

    #[test]
    fn counting_median_equals_sorting_the_resample() {
        for n in 1..12 {
            let v = lognormal(n as u64 + 100, n, 0.0, 1.0);
            let mut sorted = v.clone();
            sorted.sort_by(|a, b| a.total_cmp(b));
            let mut counts = vec![0u32; n];
            for seed in 0..20 {
                let fast = resampled_median(&sorted, &mut counts, &mut SplitMix64::new(seed));
                let mut g = SplitMix64::new(seed);
                let mut resample: Vec<f64> = (0..n).map(|_| sorted[g.index(n)]).collect();
                assert_eq!(fast, median_in_place(&mut resample));
            }
        }
    }

    #[test]
    fn same_seed_same_interval_other_seed_close() {
        let a = lognormal(1, 100, 0.0, 0.5);
        let b = lognormal(2, 100, 0.1, 0.5);
        let r1 = ratio_of_medians_ci(&a, &b, 2000, 0.95, &mut SplitMix64::new(42));
        let r2 = ratio_of_medians_ci(&a, &b, 2000, 0.95, &mut SplitMix64::new(42));
        assert_eq!(r1, r2);
        let r3 = ratio_of_medians_ci(&a, &b, 2000, 0.95, &mut SplitMix64::new(43));
        assert_eq!(r1.ratio, r3.ratio);
        assert_ne!(r1.low, r3.low);
        assert!((r1.low - r3.low).abs() < 0.05 && (r1.high - r3.high).abs() < 0.05);
        assert!(r1.low < r1.ratio && r1.ratio < r1.high);
    }

    #[test]
    fn interval_covers_a_known_shift() {
        let a = lognormal(5, 400, 0.0, 0.3);
        let b: Vec<f64> = lognormal(6, 400, 0.0, 0.3)
            .iter()
            .map(|x| x * 1.2)
            .collect();
        let r = ratio_of_medians_ci(&a, &b, 2000, 0.95, &mut SplitMix64::new(1));
        assert!(r.low < 1.2 && 1.2 < r.high, "{r:?}");
        assert!(r.low > 1.1, "{r:?}");
    }

    #[test]
    fn degenerate_inputs() {
        let mut g = SplitMix64::new(1);
        assert!(ratio_of_medians_ci(&[], &[1.0], 10, 0.95, &mut g)
            .ratio
            .is_nan());
        assert!(ratio_of_medians_ci(&[0.0], &[1.0], 10, 0.95, &mut g)
            .ratio
            .is_infinite());
        let r = ratio_of_medians_ci(&[2.0, 2.0], &[3.0, 3.0], 10, 0.95, &mut g);
        assert_eq!((r.ratio, r.low, r.high), (1.5, 1.5, 1.5));
        // A base that is mostly zero makes some resampled ratios infinite:
        // the upper bound is then infinite, never NaN.
        let base = [0.0, 0.0, 1.0, 2.0, 3.0];
        let new = [2.0, 3.0, 3.0, 4.0, 5.0];
        let r = ratio_of_medians_ci(&base, &new, 1000, 0.95, &mut g);
        assert_eq!(r.ratio, 3.0);
        assert!(r.high.is_infinite() && r.low.is_finite(), "{r:?}");
    }
}
