//! Mann–Whitney U test, two-sided: does NEW tend to be larger or smaller
//! than BASE? Rank-based, so one huge outlier cannot fake a regression.
//! Follows scipy.stats.mannwhitneyu (method "auto", continuity correction):
//! exact distribution when one sample has at most 8 values and there are no
//! ties, else the normal approximation with tie correction.

use statrs::distribution::{ContinuousCDF, Normal};

/// How the p-value was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Exact,
    Asymptotic,
}

/// Result of the test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U statistic of NEW (number of (new, base) pairs with new > base, ties ½).
    pub u: f64,
    /// Two-sided p-value; 1.0 when either sample is empty.
    pub p_value: f64,
    pub method: Method,
}

/// Largest sample size for which the exact distribution is computed.
const EXACT_MAX_N: usize = 10_000;

/// Two-sided Mann–Whitney U test of `new` against `base` (NaNs ignored).
pub fn mann_whitney(base: &[f64], new: &[f64]) -> MannWhitney {
    let x: Vec<f64> = new.iter().copied().filter(|v| !v.is_nan()).collect();
    let y: Vec<f64> = base.iter().copied().filter(|v| !v.is_nan()).collect();
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 {
        return MannWhitney {
            u: f64::NAN,
            p_value: 1.0,
            method: Method::Asymptotic,
        };
    }
    // Pool, sort, assign mid-ranks to ties, and collect tie group sizes.
    let mut pooled: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = pooled.len();
    let mut r1 = 0.0;
    let mut tie_term = 0.0;
    let mut any_ties = false;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && pooled[j].0 == pooled[i].0 {
            j += 1;
        }
        let t = (j - i) as f64;
        if j - i > 1 {
            any_ties = true;
            tie_term += t * t * t - t;
        }
        let mid_rank = (i + 1 + j) as f64 / 2.0;
        r1 += mid_rank * pooled[i..j].iter().filter(|p| p.1).count() as f64;
        i = j;
    }
    let (f1, f2) = (n1 as f64, n2 as f64);
    let u1 = r1 - f1 * (f1 + 1.0) / 2.0;
    let u2 = f1 * f2 - u1;
    let u = u1.max(u2);

    let exact = (n1 <= 8 || n2 <= 8) && !any_ties && n1.max(n2) <= EXACT_MAX_N;
    let p = if exact {
        2.0 * exact_sf(n1, n2, u.round() as usize)
    } else {
        let nn = f1 + f2;
        let s = (f1 * f2 / 12.0 * ((nn + 1.0) - tie_term / (nn * (nn - 1.0)))).sqrt();
        let z = (u - f1 * f2 / 2.0 - 0.5) / s;
        if z.is_nan() {
            1.0
        } else {
            2.0 * Normal::standard().sf(z)
        }
    };
    MannWhitney {
        u: u1,
        p_value: p.clamp(0.0, 1.0),
        method: if exact {
            Method::Exact
        } else {
            Method::Asymptotic
        },
    }
}

/// P(U >= u) under H0 for sample sizes m, n: the counts of U are the
/// coefficients of the Gaussian binomial [m+n choose m]_q, built as
/// prod_{i=1..k} (1 - q^(l+i)) / (1 - q^i) with k = min(m, n), l = max(m, n).
fn exact_sf(m: usize, n: usize, u: usize) -> f64 {
    let (k, l) = (m.min(n), m.max(n));
    let len = k * l + 1;
    let mut c = vec![0i128; len];
    c[0] = 1;
    for i in 1..=k {
        // Multiply by (1 - q^(l+i)), highest degree first.
        let a = l + i;
        for d in (a..len).rev() {
            c[d] -= c[d - a];
        }
        // Divide by (1 - q^i): exact, the quotient is a polynomial.
        for d in i..len {
            c[d] += c[d - i];
        }
    }
    let total: i128 = c.iter().sum();
    let tail: i128 = c.iter().skip(u).sum();
    tail as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values: scipy 1.17 `mannwhitneyu(new, base)` (two-sided, auto).
    fn check(base: &[f64], new: &[f64], u: f64, p: f64, method: Method) {
        let r = mann_whitney(base, new);
        assert_eq!(r.u, u);
        assert!(
            (r.p_value - p).abs() < 1e-9,
            "p {} vs scipy {}",
            r.p_value,
            p
        );
        assert_eq!(r.method, method);
    }

    #[test]
    fn asymptotic_with_ties_matches_scipy() {
        check(
            &[1., 2., 2., 3., 4., 5., 5., 6.],
            &[3., 4., 4., 5., 6., 7., 8., 8., 9.],
            58.0,
            0.03714012623439529,
            Method::Asymptotic,
        );
    }

    #[test]
    fn exact_matches_scipy() {
        check(
            &[1.1, 2.3, 3.5, 4.2, 5.9],
            &[2.0, 6.1, 7.7, 8.4, 9.9, 10.2],
            26.0,
            0.05194805194805195,
            Method::Exact,
        );
        let big: Vec<f64> = (1..30).map(|i| i as f64 / 7.0).collect();
        check(
            &[0.5, 0.9, 1.3],
            &big,
            69.0,
            0.11048387096774194,
            Method::Exact,
        );
    }

    #[test]
    fn asymptotic_large_matches_scipy() {
        let base: Vec<f64> = (0..40).map(|i| ((i * 37) % 101) as f64).collect();
        let new: Vec<f64> = (0..45).map(|i| ((i * 53) % 97) as f64 + 10.0).collect();
        check(&base, &new, 994.0, 0.4103362486796601, Method::Asymptotic);
    }

    #[test]
    fn identical_and_empty_samples_are_not_significant() {
        check(&[1.0; 3], &[1.0; 4], 6.0, 1.0, Method::Asymptotic);
        assert_eq!(mann_whitney(&[], &[1.0]).p_value, 1.0);
    }

    #[test]
    fn exact_distribution_sums_to_one_and_is_symmetric() {
        assert!((exact_sf(4, 6, 0) - 1.0).abs() < 1e-15);
        // P(U >= 12) = P(U <= 12) for m = 4, n = 6 (mean 12): both include 12.
        let upper = exact_sf(4, 6, 12);
        let lower = 1.0 - exact_sf(4, 6, 13);
        assert!((upper - lower).abs() < 1e-12);
    }
}
