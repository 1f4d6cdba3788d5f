//! The order of a multi-arm, multi-round run (ABBA…) and the folding of its
//! rounds back into one result per scenario point.

use isobench_reports::{ScenarioResult, Status};

/// The order of work: `(round, arm, scenario)`. One round keeps the
/// arm-major order (every scenario of arm 1, then arm 2, …). With several
/// rounds, each scenario runs every arm back to back, forward in odd rounds
/// and reversed in even ones (ABBA…), so a drifting machine favours no arm.
pub fn schedule(arms: usize, scenarios: usize, rounds: u32) -> Vec<(u32, usize, usize)> {
    let mut out = Vec::new();
    if rounds <= 1 {
        for a in 0..arms {
            for s in 0..scenarios {
                out.push((1, a, s));
            }
        }
        return out;
    }
    for r in 1..=rounds {
        for s in 0..scenarios {
            let order: Vec<usize> = if r % 2 == 1 {
                (0..arms).collect()
            } else {
                (0..arms).rev().collect()
            };
            for a in order {
                out.push((r, a, s));
            }
        }
    }
    out
}

/// Folds the rounds of each scenario point (same name, arm and params) into
/// one result: samples concatenated with their round recorded, each check
/// at its worst status with a per-round tally, the first round's series.
pub fn merge_rounds(per_round: Vec<(u32, ScenarioResult)>, record: bool) -> Vec<ScenarioResult> {
    if !record {
        return per_round.into_iter().map(|(_, r)| r).collect();
    }
    let mut out: Vec<ScenarioResult> = Vec::new();
    let mut tallies: Vec<Vec<(String, Vec<Status>)>> = Vec::new();
    for (round, mut r) in per_round {
        for m in &mut r.metrics {
            m.rounds = vec![round; m.samples.len()];
        }
        let key = isobench_reports::key::scenario_key(&r);
        let Some(i) = out
            .iter()
            .position(|o| isobench_reports::key::scenario_key(o) == key)
        else {
            tallies.push(
                r.checks
                    .iter()
                    .map(|c| (c.name.clone(), vec![c.status]))
                    .collect(),
            );
            out.push(r);
            continue;
        };
        let o = &mut out[i];
        if let Some(d) = r.duration_s {
            o.duration_s = Some(o.duration_s.unwrap_or(0.0) + d);
        }
        for m in r.metrics {
            match o.metrics.iter_mut().find(|x| x.name == m.name) {
                Some(x) => {
                    x.samples.extend(m.samples);
                    x.rounds.extend(m.rounds);
                    x.summary = isobench_reports::Summary::of(&x.samples);
                }
                None => o.metrics.push(m),
            }
        }
        for c in r.checks {
            match tallies[i].iter_mut().find(|t| t.0 == c.name) {
                Some(t) => t.1.push(c.status),
                None => tallies[i].push((c.name.clone(), vec![c.status])),
            }
            match o.checks.iter_mut().find(|x| x.name == c.name) {
                Some(x) if c.status > x.status => *x = c,
                Some(_) => {}
                None => o.checks.push(c),
            }
        }
        for (k, v) in r.series {
            o.series.entry(k).or_insert(v);
        }
        if o.error.is_none() {
            o.error = r.error.map(|e| format!("round {round}: {e}"));
        }
    }
    for (o, t) in out.iter_mut().zip(&tallies) {
        for c in &mut o.checks {
            let Some((_, st)) = t.iter().find(|x| x.0 == c.name) else {
                continue;
            };
            let count = |s: Status| st.iter().filter(|x| **x == s).count();
            let parts: Vec<String> = [Status::Pass, Status::Warn, Status::Skip, Status::Fail]
                .into_iter()
                .filter(|s| count(*s) > 0)
                .map(|s| format!("{} {}", s.as_str(), count(s)))
                .collect();
            let tally = format!("rounds: {} (worst shown)", parts.join(", "));
            c.detail = if c.detail.is_empty() {
                tally
            } else {
                format!("{}; {tally}", c.detail)
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use isobench_reports::{Check, Metric};

    #[test]
    fn one_round_keeps_arm_major_order() {
        assert_eq!(
            schedule(2, 2, 1),
            vec![(1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1)]
        );
    }

    #[test]
    fn rounds_alternate_arms_abba() {
        let s = schedule(2, 1, 4);
        let arms: Vec<usize> = s.iter().map(|x| x.1).collect();
        assert_eq!(arms, vec![0, 1, 1, 0, 0, 1, 1, 0]);
        // Balanced: each arm goes first equally often.
        let firsts: Vec<usize> = s.chunks(2).map(|c| c[0].1).collect();
        assert_eq!(firsts.iter().filter(|a| **a == 0).count(), 2);
        assert!(s.iter().all(|x| (1..=4).contains(&x.0)));
        assert_eq!(schedule(3, 2, 2).len(), 12);
    }

    fn point(arm: &str, samples: Vec<f64>, st: Status) -> ScenarioResult {
        let mut params = serde_json::Map::new();
        params.insert("p".into(), serde_json::json!(1));
        ScenarioResult {
            name: "startup".into(),
            launcher: arm.into(),
            launcher_spec: None,
            params,
            metrics: vec![Metric::new(
                "ready",
                "s",
                isobench_reports::Better::Lower,
                samples,
            )],
            checks: vec![Check::new("ok", st, "e", "o", "")],
            series: Default::default(),
            error: None,
            duration_s: None,
        }
    }

    #[test]
    fn rounds_merge_into_one_point_per_arm_with_rounds_recorded() {
        let per_round = vec![
            (1, point("a", vec![1.0, 2.0], Status::Pass)),
            (1, point("b", vec![3.0], Status::Pass)),
            (2, point("b", vec![4.0], Status::Fail)),
            (2, point("a", vec![5.0], Status::Pass)),
        ];
        let m = merge_rounds(per_round, true);
        assert_eq!(m.len(), 2);
        let a = &m[0];
        assert_eq!(a.launcher, "a");
        assert_eq!(a.metrics[0].samples, vec![1.0, 2.0, 5.0]);
        assert_eq!(a.metrics[0].rounds, vec![1, 1, 2]);
        assert_eq!(a.metrics[0].summary.n, 3);
        let b = &m[1];
        assert_eq!(b.checks[0].status, Status::Fail);
        assert!(
            b.checks[0].detail.contains("pass 1, fail 1"),
            "{}",
            b.checks[0].detail
        );
        // One round: untouched, no rounds recorded.
        let one = merge_rounds(vec![(1, point("a", vec![1.0], Status::Pass))], false);
        assert!(one[0].metrics[0].rounds.is_empty());
    }
}
