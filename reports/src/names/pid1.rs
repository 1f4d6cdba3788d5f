//! Metric, param and check names of the pid1 scenario (PID 1 of a pid
//! namespace: signals and orphans, with and without an init shim): the one
//! spelling the scenario, the reports and the fixtures share.

/// The scenario's name in results.
pub const SCENARIO: &str = "pid1";

/// Param: the init in front of the workload (`none`, `tini`, `catatonit`).
pub const INIT: &str = "init";
/// Param: who PID 1 is (`workload`, `init shim`, `launcher's own init`).
pub const PID1_IS: &str = "pid1_is";

/// The workload's pid inside its namespace (1: it is the init).
pub const WORKLOAD_PID: &str = "workload_pid";
/// 1 when SIGTERM from a process inside (root) ended the sandbox within the wait.
pub const SIGTERM_INSIDE_KILLED: &str = "sigterm_inside_killed";
pub const SIGTERM_INSIDE_EXIT_MS: &str = "sigterm_inside_exit_ms";
/// The launcher's exit code (128 + signal when killed) after the inside SIGTERM.
pub const SIGTERM_INSIDE_EXIT_CODE: &str = "sigterm_inside_exit_code";
/// 1 when SIGTERM from the parent namespace to PID 1 ended the sandbox.
pub const SIGTERM_OUTSIDE_KILLED: &str = "sigterm_outside_killed";
pub const SIGTERM_OUTSIDE_EXIT_MS: &str = "sigterm_outside_exit_ms";
pub const SIGTERM_OUTSIDE_EXIT_CODE: &str = "sigterm_outside_exit_code";
/// 1 when an init in front of the workload passed SIGTERM on (exit 128 + 15).
pub const SIGTERM_INSIDE_FORWARDED: &str = "sigterm_inside_forwarded";
pub const SIGTERM_OUTSIDE_FORWARDED: &str = "sigterm_outside_forwarded";
/// 1 when SIGKILL from the parent namespace to PID 1 ended the sandbox.
pub const SIGKILL_OUTSIDE_KILLED: &str = "sigkill_outside_killed";
pub const SIGKILL_OUTSIDE_EXIT_MS: &str = "sigkill_outside_exit_ms";
/// Orphans the middle child left behind.
pub const ORPHANS_FORKED: &str = "orphans_forked";
/// Zombies in the sandbox's pid namespace, settle time after the orphans exited.
pub const ZOMBIES_LEFT: &str = "zombies_left";

/// Handler-less PID 1 (the workload itself): the kernel's rules.
pub const CHECK_SIGTERM_INSIDE_IGNORED: &str = "sigterm_inside_ignored";
pub const CHECK_SIGTERM_OUTSIDE_IGNORED: &str = "sigterm_outside_ignored";
pub const CHECK_ORPHANS_STAY_ZOMBIES: &str = "orphans_stay_zombies";
/// Every row: SIGKILL from an ancestor namespace is never ignored.
pub const CHECK_SIGKILL_OUTSIDE_KILLS: &str = "sigkill_outside_kills";
/// An init in front of the workload (a shim, or the launcher's own).
pub const CHECK_INIT_IS_PID1: &str = "init_is_pid1";
pub const CHECK_SIGTERM_INSIDE_FORWARDED: &str = "sigterm_inside_forwarded";
pub const CHECK_SIGTERM_OUTSIDE_FORWARDED: &str = "sigterm_outside_forwarded";
pub const CHECK_EXIT_CODE_128_PLUS_15: &str = "exit_code_128_plus_15";
pub const CHECK_ZOMBIES_REAPED: &str = "zombies_reaped";

/// Skip row: the shim's binary is not installed.
pub const SKIP_SHIM_MISSING: &str = "init_shim_installed";
/// Skip row: the launcher has no init option of its own.
pub const SKIP_RUNTIME_INIT: &str = "runtime_init_option";
