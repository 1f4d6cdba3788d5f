//! Custom axes for plotters: a logarithmic axis with 1-2-5 ticks that always
//! labels at least a few points (plotters' own log axis can leave a decade
//! unlabelled), and a category axis for horizontal bars.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, KeyPointWeight, Ranged};

/// Logarithmic axis over `lo..hi` (both > 0).
pub struct LogAxis {
    pub lo: f64,
    pub hi: f64,
}

/// Ticks m × 10^k within `lo..=hi` for each multiplier m.
fn ticks_with(lo: f64, hi: f64, mults: &[f64]) -> Vec<f64> {
    let mut out = Vec::new();
    let mut decade = 10f64.powi(lo.log10().floor() as i32);
    while decade <= hi {
        for m in mults {
            let v = m * decade;
            // Relative tolerance so 3e-3 built as 3 * 1e-3 is not lost to rounding.
            if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                out.push(v);
            }
        }
        decade *= 10.0;
    }
    out
}

/// Evenly spaced "nice" ticks (step 1, 2, 2.5 or 5 × 10^k), about `target` of them.
fn linear_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powi(raw.log10().floor() as i32);
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last)
        .map(|k| k as f64 * step)
        .filter(|v| *v > 0.0)
        .collect()
}

/// Tick positions for a log axis over `lo..hi`: within one decade, evenly
/// spaced nice values; across decades, the densest of the usual 1-2-5 style
/// sets that fits in `max` ticks.
pub fn log_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && lo.is_finite() && hi.is_finite()) {
        return vec![];
    }
    if hi / lo < 10.0 {
        let t = linear_ticks(lo, hi, max.clamp(2, 7));
        if t.len() >= 3 {
            return t;
        }
    }
    // (multipliers, most ticks allowed): every integer only within about a
    // decade, where labels still have room.
    let max = max.max(2);
    let sets: [(&[f64], usize); 5] = [
        (&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], max.min(7)),
        (&[1.0, 2.0, 3.0, 5.0], max),
        (&[1.0, 2.0, 5.0], max),
        (&[1.0, 3.0], max),
        (&[1.0], max),
    ];
    let mut last = Vec::new();
    for (set, limit) in sets {
        let t = ticks_with(lo, hi, set);
        if t.len() <= limit {
            return t;
        }
        last = t;
    }
    // Very wide ranges: every n-th decade.
    let step = last.len().div_ceil(max);
    last.into_iter().step_by(step.max(1)).collect()
}

impl Ranged for LogAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let v = v.max(self.lo * 1e-3);
        let f = (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln());
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        let max = hint.max_num_points();
        match hint.weight() {
            KeyPointWeight::Bold => log_ticks(self.lo, self.hi, max.min(10)),
            KeyPointWeight::Any => {
                let dense = ticks_with(
                    self.lo,
                    self.hi,
                    &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
                );
                if dense.len() <= max {
                    dense
                } else {
                    log_ticks(self.lo, self.hi, max)
                }
            }
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// Category axis: values 0..n at equal spacing, one tick per category.
pub struct Categories(pub usize);

impl Ranged for Categories {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let (lo, hi) = (-0.5, self.0 as f64 - 0.5);
        let f = (v - lo) / (hi - lo);
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, _hint: H) -> Vec<f64> {
        (0..self.0).map(|i| i as f64).collect()
    }

    fn range(&self) -> Range<f64> {
        -0.5..self.0 as f64 - 0.5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_label_every_range() {
        assert_eq!(
            log_ticks(2.5e-3, 4.5e-2, 10),
            vec![3e-3, 5e-3, 1e-2, 2e-2, 3e-2]
        );
        assert_eq!(log_ticks(0.9e-3, 6e-3, 10).len(), 6);
        assert_eq!(
            log_ticks(14.0, 45.0, 10),
            vec![15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0]
        );
        let wide = log_ticks(1e-6, 1.0, 10);
        assert!(wide.len() <= 10 && wide.len() >= 4, "{wide:?}");
        assert_eq!(log_ticks(20.0, 50.0, 10).len(), 7);
        assert!(log_ticks(0.0, 1.0, 10).is_empty());
    }
}
