//! The workload's events, typed. The workload writes one JSON object per
//! line (`{"event":"spin",…}`, built by hand to stay dependency-light); this
//! is the harness's reading of that contract. Unknown fields are ignored so
//! an older harness reads a newer workload.

use serde::Deserialize;

/// One line of the workload's event stream.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Arguments parsed; the measured part starts.
    Ready,
    /// The workload failed; it exits non-zero after this.
    Error {
        msg: String,
    },
    Spin(Spin),
    Tick(Tick),
    /// Memory hog progress: bytes touched so far.
    Hog(Progress),
    /// The hog touched everything it was asked to.
    HogDone(Progress),
    Pagecache(Progress),
    PagecacheDone(Progress),
    Forkbomb(Forkbomb),
    Probe(Box<Probe>),
    Escape(Escape),
    EscapeDone(EscapeDone),
    /// `pid1`: the workload's pid in its namespace (1: it is the init).
    Pid1(Pid1),
    /// `pid1 --term-pid1 1`: a helper is about to send `sig` to PID 1.
    Pid1Signal {
        sig: i32,
    },
    /// `pid1 --term-pid1 1`: the kill(2) returned (errno 0 = sent).
    Pid1SignalSent {
        errno: i32,
    },
    /// `pid1 --test hold`: still alive at the end of its hold.
    Pid1Alive,
    /// `pid1 --test orphans`: grandchildren forked by the middle child.
    Pid1Forked {
        forked: u64,
        failed: u64,
    },
    Pid1Orphans(Pid1Orphans),
    /// `supervisor`: the children's pids (in the workload's pid namespace).
    SupervisorStarted {
        pids: Vec<i64>,
    },
    SupervisorChild(SupervisorChild),
    /// `supervisor`: every child's exit code (128 + signal when killed).
    SupervisorDone {
        codes: Vec<i64>,
    },
    /// `io`: the requests done.
    IoDone(IoDone),
    /// `nest`: the outer sandbox's side (errno 0: the kernel allowed it).
    Nest(Nest),
    /// `nest`: the delegated child crossing the delegation boundary (v2).
    NestBoundary(NestBoundary),
    /// `nest`: the inner sandbox's pid 1: how its hog ended, its forks.
    NestInner(NestInner),
}

/// `io_done`: what the IO workload did.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct IoDone {
    /// `read`, `write` or `buffered`.
    pub op: String,
    pub bytes: u64,
    pub ios: u64,
    pub block: u64,
    pub t_ns: u64,
}

/// `pid1`: who the workload is in its pid namespace.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Pid1 {
    pub pid: i64,
    pub ppid: i64,
}

/// `pid1_orphans`: zombies left `settle_ms` after the orphans exited.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Pid1Orphans {
    pub zombies: u64,
    /// Processes still alive besides the workload and PID 1 (0 normally).
    pub live: u64,
    pub orphans_gone_ns: u64,
    pub settle_ms: u64,
}

/// `supervisor_child`: one child's task done (the fields of its task).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct SupervisorChild {
    pub index: u64,
    pub bytes: Option<u64>,
    pub forked: Option<u64>,
    pub failed: Option<u64>,
    pub cpu_ns: Option<u64>,
    pub wall_ns: Option<u64>,
}

/// `nest`, the outer side.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Nest {
    /// "v1" or "v2".
    pub cgroup: String,
    /// Writing its pid into the cgroup whose subtree_control has controllers.
    #[serde(default)]
    pub enter_parent_errno: Option<i64>,
    /// The controller enabled in `inner` that its parent did not give it.
    #[serde(default)]
    pub topdown_controller: Option<String>,
    #[serde(default)]
    pub topdown_errno: Option<i64>,
    pub child_code: i64,
    #[serde(default)]
    pub inner_peak_bytes: Option<u64>,
    #[serde(default)]
    pub outer_peak_bytes: Option<u64>,
    #[serde(default)]
    pub inner_oom_kills: Option<u64>,
}

/// `nest_boundary`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NestBoundary {
    /// Migrating to a cgroup outside its cgroup namespace (opened inside it).
    pub cgroupns_errno: i64,
    /// As the delegatee (euid 65534), migrating out of the delegated subtree.
    pub lesser_euid_errno: i64,
}

/// `nest_inner`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NestInner {
    /// Signal that ended the hog (0: it exited).
    pub hog_signal: i64,
    pub hog_code: i64,
    /// Children forked before the kernel refused.
    pub forks: u64,
    pub fork_errno: i64,
}

/// `spin`: CPU spinner totals.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Spin {
    pub threads: u64,
    pub wall_ns: u64,
    pub cpu_ns: u64,
    #[serde(default)]
    pub thread_cpu_ns: Vec<u64>,
    /// Per-thread run-queue wait (schedstat), when the kernel has it.
    #[serde(default)]
    pub thread_wait_ns: Option<Vec<u64>>,
    /// CPUs any thread was seen on (sched_getcpu sampling).
    #[serde(default)]
    pub cpus_used: Vec<u64>,
    #[serde(default)]
    pub affinity: Option<Vec<u64>>,
}

/// `tick`: a periodic task's wake-up and completion times.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Tick {
    pub period_ms: f64,
    pub work_ms: f64,
    pub count: u64,
    pub missed: u64,
    #[serde(default)]
    pub wake_ns: Vec<u64>,
    #[serde(default)]
    pub done_ns: Vec<u64>,
}

/// `hog`, `hog_done`, `pagecache`, `pagecache_done`: bytes so far.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Progress {
    pub bytes: u64,
    /// Since the workload started (absent on `hog_done`).
    #[serde(default)]
    pub t_ns: Option<u64>,
    /// Which of several hog processes (`--procs`).
    #[serde(default)]
    pub proc: Option<u64>,
}

/// `forkbomb`: forks so far.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Forkbomb {
    pub forked: u64,
    pub failed: u64,
    pub t_ns: u64,
}

/// `escape`: one escape attempt.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Escape {
    pub attempt: String,
    /// `None`: not tried (its precondition was missing).
    #[serde(default)]
    pub blocked: Option<bool>,
    pub errno: i64,
    #[serde(default)]
    pub detail: String,
}

/// `escape_done`: the attempts' totals.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EscapeDone {
    pub attempts: u64,
    pub blocked: u64,
    pub escaped: u64,
    pub untried: u64,
}

/// `probe`: what the sandbox looks like from inside. A field is `None` when
/// the workload could not read it.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct Probe {
    pub pid: i64,
    pub ppid: i64,
    pub uid: u64,
    pub gid: u64,
    pub euid: u64,
    pub hostname: Option<String>,
    pub visible_pids: Option<Vec<u64>>,
    pub interfaces: Option<Vec<String>>,
    pub mounts: Option<Vec<String>>,
    pub mount_keys: Option<Vec<String>>,
    pub uid_map: Option<String>,
    pub gid_map: Option<String>,
    pub cgroup: Option<Vec<String>>,
    pub cap_eff: Option<String>,
    pub no_new_privs: Option<u64>,
    pub affinity: Option<Vec<u64>>,
    pub sysvipc_shm: Option<Vec<u64>>,
    pub meminfo_total_bytes: Option<u64>,
    pub nprocs_online: Option<u64>,
    pub cpuinfo_processors: Option<u64>,
    pub loadavg: Option<String>,
    pub uptime_s: Option<f64>,
    /// `cpuN` lines of /proc/stat.
    #[serde(default)]
    pub stat_cpus: Option<u64>,
    /// /sys/devices/system/cpu/online as a count (None: no sysfs).
    #[serde(default)]
    pub sys_cpus_online: Option<u64>,
    /// Mount points of FUSE filesystems in /proc/self/mountinfo.
    #[serde(default)]
    pub fuse_mounts: Option<Vec<String>>,
}

/// `Event::as_spin(&e)` and the like: the payload of one kind, for
/// `Running::first(Event::as_spin)`.
macro_rules! payloads {
    ($($fn:ident => $variant:ident($ty:ty);)*) => {
        impl Event {
            $(
                pub fn $fn(&self) -> Option<&$ty> {
                    match self {
                        Event::$variant(p) => Some(p),
                        _ => None,
                    }
                }
            )*
        }
    };
}

payloads! {
    as_spin => Spin(Spin);
    as_tick => Tick(Tick);
    as_probe => Probe(Probe);
    as_forkbomb => Forkbomb(Forkbomb);
    as_pid1 => Pid1(Pid1);
    as_pid1_orphans => Pid1Orphans(Pid1Orphans);
    as_supervisor_child => SupervisorChild(SupervisorChild);
    as_io_done => IoDone(IoDone);
    as_nest => Nest(Nest);
    as_nest_boundary => NestBoundary(NestBoundary);
    as_nest_inner => NestInner(NestInner);
}

impl Event {
    /// Reads one event line's JSON; `None` for a line this harness does not
    /// know (kept raw by the caller).
    pub fn from_value(v: &serde_json::Value) -> Option<Event> {
        Event::deserialize(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_read_as_the_workload_writes_them() {
        let e = Event::from_value(&json!({"event":"ready"}));
        assert_eq!(e, Some(Event::Ready));
        let e = Event::from_value(&json!({"event":"hog","bytes":1024,"t_ns":5,"proc":2}));
        assert_eq!(
            e,
            Some(Event::Hog(Progress {
                bytes: 1024,
                t_ns: Some(5),
                proc: Some(2)
            }))
        );
        let e = Event::from_value(
            &json!({"event":"escape","attempt":"ptrace","blocked":null,"errno":0,"detail":""}),
        );
        assert!(matches!(
            e,
            Some(Event::Escape(Escape { blocked: None, .. }))
        ));
        let e = Event::from_value(&json!({"event":"probe","pid":1,"hostname":null,"extra":3}));
        match e {
            Some(Event::Probe(p)) => assert_eq!((p.pid, p.hostname), (1, None)),
            other => panic!("{other:?}"),
        }
        assert_eq!(Event::from_value(&json!({"event":"new-thing"})), None);
        assert_eq!(Event::from_value(&json!({"event":"spin"})), None);
    }
}
