//! `isobench env`: the machine as a run would record it.

use std::process::ExitCode;

use isobench::cgroup::CgroupSet;

use super::{usage, Outcome};

/// Prints kernel, cgroup mode, controllers and peers (JSON with `--json`).
pub fn env(json: bool) -> Outcome {
    let set = CgroupSet::discover(None);
    let env = isobench::env::snapshot(set.as_ref().ok());
    if json {
        println!("{}", serde_json::to_string_pretty(&env).map_err(usage)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("kernel:          {}", env.kernel);
    println!("cgroup mode:     {}", env.cgroup_mode);
    println!("cpus:            {} ({})", env.cpus, env.cpu_model);
    println!(
        "memory:          {:.1} GiB",
        env.memory_bytes as f64 / (1u64 << 30) as f64
    );
    println!("virtualization:  {}", env.virtualization);
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    println!("node:            {}", opt(&env.node));
    println!("init (PID 1):    {}", opt(&env.init));
    println!("cgroup manager:  {}", opt(&env.cgroup_manager));
    println!("own cgroup:      {}", opt(&env.own_cgroup));
    if let Some(line) = isobench::cgroup::systemd::plan_line() {
        println!("sandboxes:       {line}");
    }
    match &set {
        Ok(s) => {
            println!("controllers (hierarchy, this process's cgroup):");
            for (name, h, dir) in s.describe() {
                println!("  {name:<10} {h}  {}", dir.display());
            }
        }
        Err(e) => println!("controllers:     unavailable: {e}"),
    }
    println!("peers:");
    for p in isobench::env::PEERS {
        match isobench::env::which(p) {
            Some(path) => println!(
                "  {p:<20} {} ({})",
                isobench::env::peer_version(&path).unwrap_or_else(|| "version unknown".into()),
                path.display()
            ),
            None => println!("  {p:<20} not installed"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
