//! Holm–Bonferroni adjustment: a suite compares dozens of metrics at once,
//! and without a family-wise correction some of them would "regress" by
//! chance on every run. Holm controls that error rate at alpha and is never
//! less powerful than plain Bonferroni.

/// Holm-adjusted p-values, in the input order (NaN stays NaN and is not
/// counted in the family).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let m = order.len();
    let mut out = vec![f64::NAN; p.len()];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        let adj = ((m - rank) as f64 * p[i]).min(1.0);
        running = running.max(adj);
        out[i] = running;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::holm;

    #[test]
    fn known_adjustment() {
        // Sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 with running max.
        let adj = holm(&[0.01, 0.04, 0.03, 0.005]);
        let want = [0.03, 0.06, 0.06, 0.02];
        for (a, w) in adj.iter().zip(want) {
            assert!((a - w).abs() < 1e-12, "{adj:?}");
        }
        assert_eq!(holm(&[0.2]), vec![0.2]);
        let with_nan = holm(&[f64::NAN, 0.5, 0.9]);
        assert!(with_nan[0].is_nan());
        assert_eq!(&with_nan[1..], &[1.0, 1.0]);
        assert!(holm(&[]).is_empty());
    }
}
