//! Summary statistics of raw samples.

use serde::{Deserialize, Serialize};

/// Order statistics and mean of a sample set (all zero when empty).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Summary {
    /// Computes the summary; NaN samples are ignored.
    pub fn of(samples: &[f64]) -> Self {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return Summary::default();
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        Summary {
            n: v.len(),
            min: v[0],
            p50: quantile_sorted(&v, 0.50),
            p90: quantile_sorted(&v, 0.90),
            p99: quantile_sorted(&v, 0.99),
            max: v[v.len() - 1],
            mean,
        }
    }
}

/// Linear-interpolated quantile (type 7, like numpy's default) of sorted data.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
            let lo = h.floor() as usize;
            let hi = h.ceil() as usize;
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

/// Median of unsorted data.
pub fn median(samples: &[f64]) -> f64 {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    quantile_sorted(&v, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_values() {
        let s = Summary::of(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!(s.n, 5);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 5.0);
        assert_eq!(s.p50, 3.0);
        assert_eq!(s.mean, 3.0);
        assert!((s.p90 - 4.6).abs() < 1e-12);
    }

    #[test]
    fn summary_of_empty_and_nan() {
        assert_eq!(Summary::of(&[]).n, 0);
        let s = Summary::of(&[f64::NAN, 2.0]);
        assert_eq!(s.n, 1);
        assert_eq!(s.p99, 2.0);
    }

    #[test]
    fn median_even_count_interpolates() {
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
