//! Fuzzing the two parsers that read user files: suite TOML and results
//! JSON (no root needed). Neither may panic; a suite is either valid or
//! refused with one line that names the offending section or key; a results
//! file is either read or refused with a typed error.
//!
//! proptest keeps its failures in tests/corpus/proptest-regressions/ (they
//! are replayed first on every run); hand-picked nasty inputs live in
//! tests/corpus/suite/ and tests/corpus/results/ and are all run each time.

use std::path::Path;

use isobench::scenarios::{self, ScenarioSpec, NAMES};
use isobench::suite::Suite;
use isobench_reports::load::{parse_results, ResultsError};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/corpus/proptest-regressions/fuzz_parsers.txt"
        )))),
        ..Config::default()
    }
}

/// The keys a suite file may use: [suite]'s and every scenario's parameters.
fn real_keys() -> Vec<(String, Vec<String>)> {
    let mut v = vec![(
        "suite".to_string(),
        ["name", "level", "scenarios"].map(String::from).to_vec(),
    )];
    for n in NAMES {
        let (_, params) = scenarios::describe(n).expect("every scenario is described");
        v.push((
            n.to_string(),
            params.iter().map(|p| p.name.to_string()).collect(),
        ));
    }
    v
}

/// Checks one suite text: no panic, and either a valid suite or one line
/// naming a section or key that the text contains.
fn check_suite(text: &str) -> Result<(), String> {
    let r = std::panic::catch_unwind(|| Suite::from_toml(text, &[]))
        .map_err(|_| format!("Suite::from_toml panicked on {text:?}"))?;
    match r {
        Ok(s) => {
            for sc in &s.scenarios {
                if !NAMES.contains(&sc.name()) {
                    return Err(format!("parsed an unknown scenario {:?}", sc.name()));
                }
                within_bounds(sc).map_err(|e| format!("accepted {e}\n{text}"))?;
            }
            Ok(())
        }
        Err(e) => {
            if e.trim().is_empty() {
                return Err(format!("empty error for {text:?}"));
            }
            if e.contains('\n') {
                return Err(format!("multi-line error {e:?} for {text:?}"));
            }
            Ok(())
        }
    }
}

/// The bounds the README documents (and the kernel and the safety rules
/// imply), checked on what the parser accepted, independently of how the
/// scenarios validate: CFS periods 1 ms – 1 s, quotas ≥ 1 ms and ≤ the CPUs,
/// cpu.weight 1 – 10000, a memory limit on every hog and a pids limit ≥ 1 on
/// every bomb, repetitions and counts ≥ 1 (and ≤ 1000, no hours-long
/// suites), finite positive durations.
fn within_bounds(sc: &ScenarioSpec) -> Result<(), String> {
    let cpus = f64::from(isobench::env::cpus());
    let name = sc.name();
    let fail = |what: String| Err(format!("[{name}] {what}"));
    let period_ok = |p: f64| (1.0..=1000.0).contains(&p);
    let quota_ok = |period_ms: f64, pct: f64| {
        pct.is_finite() && period_ms * pct / 100.0 >= 1.0 && pct <= 100.0 * cpus
    };
    let duration_ok = |s: f64| s.is_finite() && s > 0.0 && s <= 3600.0;
    let count_ok = |n: u64| (1..=1000).contains(&n);
    match sc {
        ScenarioSpec::CpuQuota(c) => {
            if c.periods_ms.is_empty() || c.quotas_pct.is_empty() || c.threads.is_empty() {
                return fail("an empty sweep".into());
            }
            for &p in &c.periods_ms {
                if !period_ok(p) {
                    return fail(format!("period {p} ms (1 ms – 1 s)"));
                }
                for &q in &c.quotas_pct {
                    if !quota_ok(p, q) {
                        return fail(format!("quota {q}% of {p} ms (≥ 1 ms, ≤ {cpus} CPUs)"));
                    }
                }
            }
            if !count_ok(c.repetitions.into()) || !duration_ok(c.seconds) {
                return fail(format!(
                    "repetitions {} seconds {}",
                    c.repetitions, c.seconds
                ));
            }
            if !(c.tolerance_pct > 0.0 && c.tolerance_pct <= 100.0) {
                return fail(format!("tolerance-pct {}", c.tolerance_pct));
            }
        }
        ScenarioSpec::CpuLatency(c) => {
            if !period_ok(c.cfs_period_ms) || !quota_ok(c.cfs_period_ms, c.quota_pct) {
                return fail(format!("quota {}% of {} ms", c.quota_pct, c.cfs_period_ms));
            }
            let work_ok = c.work_ms > 0.0 && c.work_ms < c.tick_period_ms;
            if !work_ok || !count_ok(c.count.into()) {
                return fail(format!(
                    "work {} ms per {} ms tick, count {}",
                    c.work_ms, c.tick_period_ms, c.count
                ));
            }
        }
        ScenarioSpec::CpuWeight(c) => {
            if c.weights.len() < 2 || c.weights.iter().any(|w| !(1..=10_000).contains(w)) {
                return fail(format!("weights {:?} (1 – 10000, at least two)", c.weights));
            }
            if !count_ok(c.repetitions.into()) || !duration_ok(c.seconds) {
                return fail(format!(
                    "repetitions {} seconds {}",
                    c.repetitions, c.seconds
                ));
            }
        }
        ScenarioSpec::Cpuset(c) => {
            if !duration_ok(c.seconds) {
                return fail(format!("seconds {}", c.seconds));
            }
        }
        ScenarioSpec::MemoryOom(c) => {
            if c.variants.is_empty() || c.limit_mib == 0 || c.step_kib == 0 || c.overshoot <= 1.0 {
                return fail(format!(
                    "limit {} MiB, step {} KiB, overshoot {}",
                    c.limit_mib, c.step_kib, c.overshoot
                ));
            }
            if !count_ok(c.repetitions.into()) || !duration_ok(c.kill_within_seconds) {
                return fail(format!("repetitions {}", c.repetitions));
            }
        }
        ScenarioSpec::MemoryHigh(c) => {
            if c.high_mib == 0
                || c.max_mib <= c.high_mib + c.over_mib
                || c.over_mib == 0
                || c.step_kib == 0
            {
                return fail(format!(
                    "high {} max {} over {} MiB",
                    c.high_mib, c.max_mib, c.over_mib
                ));
            }
            if !count_ok(c.repetitions.into()) {
                return fail(format!("repetitions {}", c.repetitions));
            }
        }
        ScenarioSpec::Pagecache(c) => {
            if c.limit_mib == 0 || !(c.factor.is_finite() && c.factor > 1.0) || c.chunk_kib == 0 {
                return fail(format!("limit {} MiB × {}", c.limit_mib, c.factor));
            }
            if !count_ok(c.repetitions.into()) {
                return fail(format!("repetitions {}", c.repetitions));
            }
        }
        ScenarioSpec::MemoryVirtual(c) => {
            if c.limit_mib < 8 || c.map_factor <= 1.0 || c.touch_pct >= 100.0 {
                return fail(format!("limit {} map × {}", c.limit_mib, c.map_factor));
            }
        }
        ScenarioSpec::MemoryProtection(c) => {
            if c.modes.is_empty() || !(0.0..=60.0).contains(&c.settle_seconds) {
                return fail(format!("modes {:?} settle {}", c.modes, c.settle_seconds));
            }
        }
        ScenarioSpec::Pids(c) => {
            if c.pids_max < 1 || !count_ok(c.repetitions.into()) || !count_ok(c.spawns.into()) {
                return fail(format!(
                    "pids-max {} repetitions {}",
                    c.pids_max, c.repetitions
                ));
            }
            if !duration_ok(c.saturate_seconds) || !duration_ok(c.kill_within_seconds) {
                return fail(format!("saturate {} s", c.saturate_seconds));
            }
        }
        ScenarioSpec::Startup(c) => {
            if c.sets.is_empty() || c.launches == 0 {
                return fail(format!("launches {} sets {}", c.launches, c.sets.len()));
            }
        }
        ScenarioSpec::Isolation(c) => {
            if c.sets.is_empty() || c.memory_max_mib == 0 || !quota_ok(100.0, c.cpu_quota_pct) {
                return fail(format!(
                    "memory {} MiB, quota {}%",
                    c.memory_max_mib, c.cpu_quota_pct
                ));
            }
        }
        ScenarioSpec::Pid1(c) => {
            if c.inits.is_empty() || !count_ok(c.orphans.into()) || c.wait_ms == 0 {
                return fail(format!("orphans {} wait {} ms", c.orphans, c.wait_ms));
            }
        }
        ScenarioSpec::Supervisor(c) => {
            let each_fits = c.child_memory_pct > 0.0 && c.child_memory_pct < 100.0;
            if !each_fits
                || c.memory_limit_mib == 0
                || c.pids_max < 1
                || !duration_ok(c.spin_seconds)
            {
                return fail(format!(
                    "child memory {}%, pids.max {}, spin {} s",
                    c.child_memory_pct, c.pids_max, c.spin_seconds
                ));
            }
        }
        ScenarioSpec::Io(c) => {
            let rates_ok = c.bps_mib.iter().all(|b| b.is_finite() && *b > 0.0)
                && c.iops.iter().all(|i| *i > 0);
            if !duration_ok(c.seconds) || !rates_ok || !c.block_kib.is_multiple_of(4) {
                return fail(format!(
                    "seconds {} bps {:?} iops {:?} block {} KiB",
                    c.seconds, c.bps_mib, c.iops, c.block_kib
                ));
            }
        }
        ScenarioSpec::Nesting(c) => {
            if c.inner_memory_mib <= c.outer_memory_mib || c.inner_pids <= c.outer_pids {
                return fail(format!(
                    "inner limits {} MiB / {} pids not above the outer {} MiB / {} pids",
                    c.inner_memory_mib, c.inner_pids, c.outer_memory_mib, c.outer_pids
                ));
            }
        }
    }
    Ok(())
}

/// Like [`check_suite`], for a text built from known sections and keys:
/// an error must name one of them (or an offending value it quotes).
fn check_structured(text: &str, sections: &[String], keys: &[String]) -> Result<(), String> {
    check_suite(text)?;
    if let Err(e) = Suite::from_toml(text, &[]) {
        let named = sections.iter().chain(keys).any(|n| e.contains(n.as_str()))
            || e.contains("level")
            || e.contains("scenario");
        if !named {
            return Err(format!(
                "error {e:?} names no section or key of {sections:?} / {keys:?}\n{text}"
            ));
        }
    }
    Ok(())
}

/// A TOML value, nasty on purpose: negative, huge, float, NaN and
/// infinity literals, number-like strings, arrays, booleans, tables.
fn toml_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (-5i64..5000).prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|x| {
            if x.is_nan() {
                "nan".to_string()
            } else if x.is_infinite() {
                if x > 0.0 { "inf" } else { "-inf" }.to_string()
            } else {
                format!("{x:?}")
            }
        }),
        prop::sample::select(vec![
            "nan",
            "+inf",
            "-inf",
            "-0",
            "0",
            "1e308",
            "-1e308",
            "0.0001",
            "1_000",
            "true",
            "false",
            "\"NaN\"",
            "\"1e999\"",
            "\"-1\"",
            "\"\"",
            "\"quick\"",
            "\"default\"",
            "\"all\"",
            "\"none\"",
            "\"pid,mnt\"",
            "\"pid,bogus\"",
            "18446744073709551615",
            "9223372036854775807",
            "-9223372036854775808",
            "{}",
            "{ a = 1 }",
            "[]",
            "1979-05-27T07:32:00Z",
        ])
        .prop_map(String::from),
        "[a-z ,-]{0,12}".prop_map(|s| format!("{s:?}")),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(|v| format!("[{}]", v.join(", ")))
    })
}

/// A section name and its keys: mostly real ones, some garbage.
fn section() -> impl Strategy<Value = (String, Vec<(String, String)>)> {
    let keys = real_keys();
    let garbage_section = "[a-z-]{1,10}".prop_map(|s| (s, Vec::<String>::new()));
    prop_oneof![
        4 => prop::sample::select(keys),
        1 => garbage_section,
    ]
    .prop_flat_map(|(name, known)| {
        let key = if known.is_empty() {
            "[a-z-]{1,12}".boxed()
        } else {
            prop_oneof![
                4 => prop::sample::select(known),
                1 => "[a-z-]{1,12}",
            ]
            .boxed()
        };
        let entries = prop::collection::btree_map(key, toml_value(), 0..5)
            .prop_map(|m| m.into_iter().collect::<Vec<_>>());
        (Just(name), entries)
    })
}

/// A whole suite file of up to four distinct sections.
fn suite_text() -> impl Strategy<Value = (String, Vec<String>, Vec<String>)> {
    prop::collection::vec(section(), 0..4).prop_map(|secs| {
        let mut text = String::new();
        let mut names = Vec::new();
        let mut keys = Vec::new();
        for (name, entries) in secs {
            if names.contains(&name) {
                continue;
            }
            text += &format!("[{name}]\n");
            for (k, v) in &entries {
                text += &format!("{k} = {v}\n");
                keys.push(k.clone());
            }
            names.push(name);
        }
        (text, names, keys)
    })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn suite_from_arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check_suite(&text).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn suite_from_toml_like_text_never_panics(text in "(\\[[a-z-]{0,12}\\]\n)?([a-z-]{1,12} = [-0-9.e\\[\\]\",a-z]{0,16}\n){0,6}") {
        check_suite(&text).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn structured_suites_are_valid_or_name_what_is_wrong((text, sections, keys) in suite_text()) {
        check_structured(&text, &sections, &keys).map_err(TestCaseError::fail)?;
    }
}

/// A number near the CFS bounds, or anywhere.
fn near_cfs_bounds() -> impl Strategy<Value = f64> {
    prop_oneof![
        prop::sample::select(vec![
            0.0, 0.5, 0.999, 1.0, 1.001, 2.0, 10.0, 99.9, 100.0, 100.1, 199.9, 200.0, 200.1, 999.9,
            1000.0, 1000.1, 1e6, -1.0,
        ]),
        -10.0f64..2000.0,
    ]
}

proptest! {
    #![proptest_config(config(512))]

    /// At the edges of the documented bounds, a cpu-quota sweep is accepted
    /// exactly when it is within them.
    #[test]
    fn cpu_quota_bounds_are_the_documented_ones(p in near_cfs_bounds(), q in near_cfs_bounds()) {
        let text = format!("[cpu-quota]\nperiods-ms = [{p:?}]\nquotas-pct = [{q:?}]\n");
        check_suite(&text).map_err(TestCaseError::fail)?;
        let cpus = f64::from(isobench::env::cpus());
        let documented = (1.0..=1000.0).contains(&p) && p * q / 100.0 >= 1.0 && q <= 100.0 * cpus;
        let accepted = Suite::from_toml(&text, &[]);
        prop_assert_eq!(accepted.is_ok(), documented, "{}: {:?}", text, accepted.err());
    }
}

/// A real results file: the synthetic one covering every scenario kind.
fn real_results() -> String {
    serde_json::to_string_pretty(&isobench_reports::fixture::demo_results(7))
        .expect("fixture serialises")
}

/// Parses results text: no panic, and an error is a parse or schema error
/// (never a read or write one) that names the path.
fn check_results(text: &str) -> Result<(), String> {
    let path = Path::new("fuzzed.json");
    let r = std::panic::catch_unwind(|| parse_results(text, path))
        .map_err(|_| "parse_results panicked".to_string())?;
    match r {
        Ok(_) => Ok(()),
        Err(e @ (ResultsError::Parse { .. } | ResultsError::Schema { .. })) => {
            let msg = e.to_string();
            if msg.starts_with("fuzzed.json: ") && !msg.contains('\n') {
                Ok(())
            } else {
                Err(format!("error does not name the path on one line: {msg:?}"))
            }
        }
        Err(e) => Err(format!("unexpected error kind: {e}")),
    }
}

/// A mutation of a text: flip, insert or delete bytes at some positions.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut b = text.as_bytes().to_vec();
    for e in edits {
        let n = b.len().max(1);
        match *e {
            Edit::Flip(i, x) => {
                if let Some(c) = b.get_mut(i % n) {
                    *c ^= x;
                }
            }
            Edit::Insert(i, x) => b.insert(i % (b.len() + 1), x),
            Edit::Delete(i) => {
                if !b.is_empty() {
                    b.remove(i % n);
                }
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(i, x)| Edit::Flip(i, x)),
        (
            any::<usize>(),
            prop::sample::select(b"{}[]\",:0-9e.\\ntruelfasn\0".to_vec())
        )
            .prop_map(|(i, x)| Edit::Insert(i, x)),
        any::<usize>().prop_map(Edit::Delete),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn results_from_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check_results(&String::from_utf8_lossy(&bytes)).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn truncated_results_are_parse_errors(cut in 0.0f64..1.0) {
        let text = real_results();
        let at = (text.len() as f64 * cut) as usize;
        let mut at = at.min(text.len() - 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let r = parse_results(&text[..at], Path::new("t.json"));
        prop_assert!(matches!(r, Err(ResultsError::Parse { .. })), "cut at {}: {:?}", at, r.err());
    }

    #[test]
    fn mutated_results_never_panic(edits in prop::collection::vec(edit(), 1..8)) {
        check_results(&apply(&real_results(), &edits)).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn the_real_results_file_parses() {
    let r = parse_results(&real_results(), Path::new("r.json")).unwrap();
    assert!(!r.scenarios.is_empty());
}

fn corpus(dir: &str) -> Vec<(String, String)> {
    let d = Path::new(CORPUS).join(dir);
    let mut v: Vec<(String, String)> = std::fs::read_dir(&d)
        .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
        .flatten()
        .map(|e| {
            let b = std::fs::read(e.path()).unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                String::from_utf8_lossy(&b).into_owned(),
            )
        })
        .collect();
    v.sort();
    assert!(!v.is_empty(), "empty corpus {}", d.display());
    v
}

/// Hand-picked suite files: each must be refused (file names `bad-*`) or
/// accepted (`ok-*`) without panicking, refusals on one line naming what
/// the file name says (`bad-<needle>--<what>.toml`).
#[test]
fn suite_corpus() {
    let mut failures = Vec::new();
    for (name, text) in corpus("suite") {
        if let Err(e) = check_suite(&text) {
            failures.push(format!("{name}: {e}"));
            continue;
        }
        match (Suite::from_toml(&text, &[]), name.strip_prefix("bad-")) {
            (Ok(_), Some(_)) => failures.push(format!("{name} was accepted")),
            (Err(e), Some(rest)) => {
                let needle = rest.split("--").next().unwrap_or("");
                if !e.contains(needle) {
                    failures.push(format!("{name}: {e:?} lacks {needle:?}"));
                }
            }
            (Err(e), None) => failures.push(format!("{name} was refused: {e}")),
            (Ok(_), None) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Hand-picked results files: none panics; `ok-*` parse, the rest are
/// refused with a typed error.
#[test]
fn results_corpus() {
    for (name, text) in corpus("results") {
        check_results(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let ok = parse_results(&text, Path::new(&name)).is_ok();
        assert_eq!(ok, name.starts_with("ok-"), "{name}");
    }
}
