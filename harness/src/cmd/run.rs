//! `isobench run` and `isobench cleanup`.

use std::process::ExitCode;

use isobench::cgroup::CgroupSet;
use isobench::run::{self, RunArgs};

use super::{usage, Outcome};

/// Runs the suite; exit 1 when a check failed, the signal's code when
/// interrupted.
pub fn run(mut args: RunArgs) -> Outcome {
    let sonobuoy = super::merge::sonobuoy_prepare(&mut args)?;
    let req = args.into_request().map_err(usage)?;
    // On a systemd v2 host without a delegated cgroup: the run happens in a
    // Delegate=yes scope of its own, and ends here.
    if let Some(code) = isobench::cgroup::systemd::run_delegated(req.cgroup_parent.as_deref()) {
        return Ok(ExitCode::from(code));
    }
    let run::RunOutcome {
        results: r,
        written,
    } = run::run(&req)?;
    match &written {
        Some(o) => {
            run::summary(&r).print();
            println!("results: {}", o.display());
        }
        None => run::summary(&r).eprint(),
    }
    if let (Some(s), Some(o)) = (&sonobuoy, &written) {
        super::merge::sonobuoy_finish(s, &r, o)?;
    }
    Ok(if r.interrupted {
        let sig = isobench::interrupt::requested().unwrap_or(libc::SIGINT);
        ExitCode::from(isobench::interrupt::exit_code(sig))
    } else if r.has_failures() && sonobuoy.is_none() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Removes what dead isobench runs left behind, and says what.
pub fn cleanup(cgroup_parent: Option<&str>) -> Outcome {
    run::require_root("isobench cleanup")?;
    let set = CgroupSet::discover(cgroup_parent).map_err(usage)?;
    let stale = run::cleanup_stale(&set);
    for d in stale
        .cgroups
        .iter()
        .chain(&stale.staging)
        .chain(&stale.vms.workdirs)
    {
        println!("removed {}", d.display());
    }
    for d in &stale.loops {
        println!("detached {}", d.display());
    }
    for pid in &stale.vms.qemus {
        println!("killed qemu {pid}");
    }
    for pid in &stale.lxcfs.daemons {
        println!("killed lxcfs {pid}");
    }
    for d in &stale.lxcfs.mounts {
        println!("unmounted {}", d.display());
    }
    println!("removed {} of dead isobench runs", stale.summary());
    Ok(ExitCode::SUCCESS)
}
