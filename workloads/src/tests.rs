//! Unit tests of the subcommands, through their real output path.

use std::io::Read;
use std::os::fd::AsRawFd;

use crate::json::{escape, Obj};
use crate::testutil::{capture, parse, sv, Value};
use crate::{forkbomb, hog, pagecache, probe, run_with_fd, spin, sys, tick};

#[test]
fn json_escaping() {
    assert_eq!(escape("plain"), "\"plain\"");
    assert_eq!(escape(r#"a"b\c"#), r#""a\"b\\c""#);
    assert_eq!(escape("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
    assert_eq!(
        escape("\u{0}\u{1}\u{1f}\u{7f}"),
        r#""\u0000\u0001\u001f\u007f""#
    );
    assert_eq!(escape("héllo ✓ 😀"), "\"héllo ✓ 😀\"");
    assert_eq!(escape("/"), "\"/\"");
    // Round trip through the strict test parser.
    let nasty = "q\"b\\s/ctl\u{1}\u{1b}[0m\ttab\nnl é 中 😀 \u{2028}";
    assert_eq!(parse(&escape(nasty)), Ok(Value::Str(nasty.into())));
}

#[test]
fn json_object_builder() {
    let line = Obj::event("x")
        .u64("a", 1)
        .i64("b", -2)
        .f64("c", 0.5)
        .f64("d", f64::NAN)
        .str("e", "q\"")
        .u64s("f", &[1, 2])
        .u64s("g", &[])
        .strs("h", &["x".into(), "\n".into()])
        .opt_u64("i", None)
        .maybe_u64("j", None)
        .maybe_u64("k", Some(3))
        .line();
    assert_eq!(
        line,
        "{\"event\":\"x\",\"a\":1,\"b\":-2,\"c\":0.5,\"d\":null,\"e\":\"q\\\"\",\
         \"f\":[1,2],\"g\":[],\"h\":[\"x\",\"\\n\"],\"i\":null,\"k\":3}\n"
    );
    assert!(parse(&line).is_ok());
}

#[test]
fn ready_on_a_pipe_is_exact() {
    let (r, w) = sys::make_pipe().unwrap();
    let code = run_with_fd(w.as_raw_fd(), &sv(&["ready"]));
    assert_eq!(code, 0);
    drop(w);
    let mut out = String::new();
    std::fs::File::from(r).read_to_string(&mut out).unwrap();
    assert_eq!(out, "{\"event\":\"ready\"}\n");
}

fn run_captured(name: &str, args: &[&str]) -> (i32, Vec<Value>) {
    capture(name, |rep| run_with_fd(rep.fd(), &sv(args)))
}

#[test]
fn usage_errors_exit_2_with_error_event() {
    for (name, args) in [
        ("none", &[][..]),
        ("unknown", &["bogus"]),
        ("ready-extra", &["ready", "x"]),
        ("spin-flag", &["spin", "--thread", "2"]),
        ("spin-zero", &["spin", "--threads", "0"]),
        ("spin-secs", &["spin", "--seconds", "-1"]),
        ("hog-missing", &["hog", "--step", "1M"]),
        ("hog-step0", &["hog", "--step", "0", "--max", "1M"]),
        ("hog-garbage", &["hog", "--step", "1Q", "--max", "1M"]),
        ("pc-missing", &["pagecache"]),
        ("tick-missing", &["tick", "--period-ms", "10"]),
        ("fb-bad", &["forkbomb", "--report-ms", "0"]),
        ("probe-extra", &["probe", "--x", "1"]),
    ] {
        let (code, lines) = run_captured(name, args);
        assert_eq!(code, 2, "{args:?}");
        assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
        assert_eq!(lines[0].event(), "error");
        assert!(!lines[0].str("msg").is_empty());
    }
}

#[test]
fn help_exits_0_without_reporting() {
    for args in [&["--help"][..], &["-h"], &["help"], &["spin", "--help"]] {
        let (code, lines) = run_captured("help", args);
        assert_eq!(code, 0);
        assert!(lines.is_empty());
    }
}

#[test]
fn spin_reports_cpu_and_wall() {
    let (code, lines) = run_captured("spin", &["spin", "--threads", "2", "--seconds", "0.2"]);
    assert_eq!(code, 0);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].event(), "ready");
    let s = &lines[1];
    assert_eq!(s.event(), "spin");
    assert_eq!(s.num("threads"), 2.0);
    let wall = s.num("wall_ns");
    assert!(wall >= 0.2e9, "{s:?}");
    // A spinner is on a CPU or waiting for one for all of its wall time:
    // CPU time + run-queue wait ≈ wall, however busy the machine (a ratio,
    // no clock threshold). A spinner that sleeps falls far short; no thread
    // uses more CPU than its wall time.
    let per_thread = s.nums("thread_cpu_ns");
    let waits = s.nums("thread_wait_ns");
    assert_eq!(per_thread.len(), 2);
    assert_eq!(waits.len(), 2, "schedstat readable here: {s:?}");
    for (&c, &w) in per_thread.iter().zip(&waits) {
        assert!(
            c > 0.0 && c <= 1.02 * wall,
            "a thread used {c} ns of CPU in {wall} ns: {s:?}"
        );
        assert!(
            c + w >= 0.8 * wall,
            "a thread ran {c} ns and waited {w} ns in {wall} ns (it slept): {s:?}"
        );
    }
    // cpu_ns is the process's (this test binary's, here): at least the
    // spinners'.
    assert!(
        s.num("cpu_ns") >= per_thread.iter().sum::<f64>() * 0.99,
        "{s:?}"
    );
    let used = s.nums("cpus_used");
    let affinity = s.nums("affinity");
    assert!(!used.is_empty());
    assert!(used.windows(2).all(|w| w[0] < w[1]), "sorted: {used:?}");
    assert!(
        used.iter().all(|c| affinity.contains(c)),
        "{used:?} ⊄ {affinity:?}"
    );
}

#[test]
fn spin_zero_seconds_returns() {
    let line = spin::spin(1, 0.0).unwrap();
    let v = parse(&line).unwrap();
    assert_eq!(v.nums("thread_cpu_ns").len(), 1);
}

#[test]
fn hog_8m_in_1m_steps() {
    let (code, lines) = run_captured("hog", &["hog", "--step", "1M", "--max", "8M"]);
    assert_eq!(code, 0);
    assert_eq!(lines[0].event(), "ready");
    let hogs: Vec<&Value> = lines.iter().filter(|l| l.event() == "hog").collect();
    assert_eq!(hogs.len(), 8);
    for (i, h) in hogs.iter().enumerate() {
        assert_eq!(h.num("bytes"), ((i as u64 + 1) << 20) as f64);
        assert!(h.get("proc").is_none());
        let _ = h.num("t_ns");
    }
    let done = lines.last().unwrap();
    assert_eq!(done.event(), "hog_done");
    assert_eq!(done.num("bytes"), (8u64 << 20) as f64);
    assert_eq!(lines.len(), 10);
}

#[test]
fn hog_partial_last_step_and_children() {
    let params = hog::Params {
        step: 1 << 20,
        max: (5 << 20) / 2,
        procs: 3,
        hold_seconds: 0.01,
        map: None,
    };
    let (res, lines) = capture("hog-procs", |rep| hog::hog(rep, &params));
    assert!(res.is_ok(), "{res:?}");
    for proc in [None, Some(1.0), Some(2.0)] {
        let mine: Vec<&Value> = lines
            .iter()
            .filter(|l| match l.get("proc") {
                None => proc.is_none(),
                Some(Value::Num(n)) => Some(*n) == proc,
                _ => false,
            })
            .collect();
        let bytes: Vec<f64> = mine.iter().map(|l| l.num("bytes")).collect();
        assert_eq!(
            bytes,
            [1048576.0, 2097152.0, 2621440.0, 2621440.0],
            "proc {proc:?}: {lines:?}"
        );
        assert_eq!(mine.last().unwrap().event(), "hog_done");
    }
    assert_eq!(lines.len(), 12);
}

#[test]
fn pagecache_writes_reports_and_removes() {
    let dir = std::env::temp_dir().join(format!("isobench-wl-pc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = (64u64 << 20) + 12345;
    let (res, lines) = capture("pagecache", |rep| {
        pagecache::pagecache(rep, &dir, bytes, 1 << 20, 0.0)
    });
    assert!(res.is_ok(), "{res:?}");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0].event(), "pagecache");
    assert_eq!(lines[0].num("bytes"), (64u64 << 20) as f64);
    assert_eq!(lines[1].event(), "pagecache_done");
    assert_eq!(lines[1].num("bytes"), bytes as f64);
    assert!(lines[1].num("t_ns") >= lines[0].num("t_ns"));
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "file left behind: {left:?}");
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn pagecache_missing_dir_is_runtime_error() {
    let (code, lines) = run_captured(
        "pagecache-nodir",
        &[
            "pagecache",
            "--bytes",
            "1K",
            "--dir",
            "/nonexistent/isobench",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(lines[0].event(), "ready");
    assert_eq!(lines[1].event(), "error");
}

#[test]
fn tick_arrays_have_count_entries() {
    let (code, lines) = run_captured(
        "tick",
        &["tick", "--period-ms", "4", "--work-ms", "1", "--count", "5"],
    );
    assert_eq!(code, 0);
    assert_eq!(lines[0].event(), "ready");
    let t = &lines[1];
    assert_eq!(t.event(), "tick");
    assert_eq!(t.num("period_ms"), 4.0);
    assert_eq!(t.num("work_ms"), 1.0);
    assert_eq!(t.num("count"), 5.0);
    let wake = t.nums("wake_ns");
    let done = t.nums("done_ns");
    assert_eq!(wake.len(), 5);
    assert_eq!(done.len(), 5);
    for (w, d) in wake.iter().zip(&done) {
        assert!(d >= w);
        assert!(d - w >= 1e6, "1ms of CPU takes at least 1ms: {w} {d}");
    }
    let _ = t.num("missed");
}

#[test]
fn tick_overrun_counts_missed() {
    let v = parse(&tick::tick(1.0, 3.5, 3)).unwrap();
    assert_eq!(v.nums("wake_ns").len(), 3);
    // Each period's work spans >= 3 more grid slots.
    assert!(v.num("missed") >= 6.0, "{v:?}");
}

#[test]
fn probe_describes_this_process() {
    let (code, lines) = run_captured("probe", &["probe"]);
    assert_eq!(code, 0);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].event(), "ready");
    let p = &lines[1];
    assert_eq!(p.event(), "probe");
    let me = std::process::id() as f64;
    assert_eq!(p.num("pid"), me);
    assert!(p.num("ppid") >= 0.0);
    for k in ["uid", "gid", "euid", "no_new_privs"] {
        let _ = p.num(k);
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(p.str("hostname"), host.trim());
    let pids = p.nums("visible_pids");
    assert!(pids.contains(&me));
    assert!(pids.windows(2).all(|w| w[0] < w[1]));
    let ifaces = p.arr("interfaces");
    assert!(ifaces.contains(&Value::Str("lo".into())), "{ifaces:?}");
    assert!(p.arr("mounts").contains(&Value::Str("/".into())));
    assert!(!p.str("uid_map").is_empty());
    assert!(!p.str("gid_map").is_empty());
    assert!(!p.arr("cgroup").is_empty());
    assert!(u64::from_str_radix(p.str("cap_eff"), 16).is_ok());
    assert!(!p.nums("affinity").is_empty());
    // Direct call gives the same shape.
    assert!(parse(&probe::probe()).is_ok());
}

#[test]
fn mountinfo_unescape() {
    assert_eq!(probe::unescape_octal(r"/a\040b"), "/a b");
    assert_eq!(probe::unescape_octal(r"/tab\011x\134"), "/tab\tx\\");
    assert_eq!(probe::unescape_octal(r"/plain"), "/plain");
    assert_eq!(probe::unescape_octal(r"/short\04"), r"/short\04");
    assert_eq!(probe::unescape_octal(r"/big\777"), r"/big\777");
}

#[test]
fn forkbomb_leader_counts_and_reports() {
    let mut pids = Vec::new();
    let ((forked, failed), lines) = capture("forkbomb", |rep| {
        forkbomb::bomb(rep, 1_000_000, Some(4), Some(&mut pids))
    });
    for &pid in &pids {
        sys::kill_pid(pid, libc::SIGKILL);
        assert!(matches!(
            sys::wait_pid(pid),
            Ok(sys::ChildStatus::Signaled(9))
        ));
    }
    assert_eq!(forked + failed, 4);
    assert_eq!(pids.len() as u64, forked);
    let last = lines.last().unwrap();
    assert_eq!(last.event(), "forkbomb");
    assert_eq!(last.num("forked"), forked as f64);
    assert_eq!(last.num("failed"), failed as f64);
    let _ = last.num("t_ns");
}
