//! What differs between the machines two runs used: comparisons across
//! kernels and cgroup modes are the point, so differences are named, not hidden.

use serde::Serialize;

use crate::schema::Environment;

/// One environment field whose value differs between BASE and NEW.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvDifference {
    pub field: String,
    pub base: String,
    pub new: String,
}

/// True when the run's time was emulated by QEMU TCG, where time-unit
/// metrics say nothing about real hardware.
pub fn is_tcg(env: &Environment) -> bool {
    env.virtualization.trim().eq_ignore_ascii_case("tcg")
}

/// The fields shown in a comparison header, as (name, text) pairs.
pub fn fields(env: &Environment) -> Vec<(String, String)> {
    let mut controllers = env.controllers.clone();
    controllers.sort();
    let mut out = vec![
        ("kernel".to_string(), env.kernel.clone()),
        ("cgroup_mode".to_string(), env.cgroup_mode.clone()),
        ("virtualization".to_string(), env.virtualization.clone()),
        ("cpu_model".to_string(), env.cpu_model.clone()),
        ("cpus".to_string(), env.cpus.to_string()),
        (
            "memory".to_string(),
            crate::units::format_value(env.memory_bytes as f64, "bytes"),
        ),
        ("controllers".to_string(), controllers.join(",")),
        ("isobench_version".to_string(), env.isobench_version.clone()),
    ];
    // Optional host fields (results of older isobench lack them); the own
    // cgroup is left out, it names the run.
    for (name, v) in [
        ("cgroup_manager", &env.cgroup_manager),
        ("init", &env.init),
        ("node", &env.node),
    ] {
        if let Some(v) = v {
            out.push((name.to_string(), v.clone()));
        }
    }
    for (name, version) in &env.launchers {
        out.push((format!("launcher {name}"), version.clone()));
    }
    out
}

/// Every field that differs, in header order; launchers present on one side
/// only show as `(absent)` on the other.
pub fn differences(base: &Environment, new: &Environment) -> Vec<EnvDifference> {
    let b = fields(base);
    let n = fields(new);
    let mut names: Vec<&String> = b.iter().map(|f| &f.0).collect();
    for (name, _) in &n {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let get = |fs: &[(String, String)], name: &str| {
        fs.iter()
            .find(|f| f.0 == name)
            .map(|f| f.1.clone())
            .unwrap_or_else(|| "(absent)".into())
    };
    names
        .into_iter()
        .filter_map(|name| {
            let (bv, nv) = (get(&b, name), get(&n, name));
            (bv != nv).then(|| EnvDifference {
                field: name.clone(),
                base: bv,
                new: nv,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_fields_show_only_when_known() {
        let mut e = Environment::default();
        assert!(!fields(&e).iter().any(|f| f.0 == "cgroup_manager"));
        e.cgroup_manager = Some("systemd".into());
        e.own_cgroup = Some("/system.slice/isobench-p1-x.scope".into());
        let f = fields(&e);
        assert!(f.contains(&("cgroup_manager".into(), "systemd".into())));
        assert!(!f.iter().any(|f| f.0 == "own_cgroup"));
    }

    #[test]
    fn names_what_differs() {
        let mut a = Environment {
            kernel: "6.18.0".into(),
            cgroup_mode: "hybrid".into(),
            virtualization: "none".into(),
            controllers: vec!["memory".into(), "cpu".into()],
            ..Default::default()
        };
        a.launchers.insert("runc".into(), "1.1.5".into());
        let mut b = a.clone();
        b.kernel = "6.1.0".into();
        b.cgroup_mode = "v2".into();
        b.virtualization = "tcg".into();
        b.controllers = vec!["cpu".into(), "memory".into()];
        b.launchers.clear();
        b.launchers.insert("crun".into(), "1.9".into());
        let d = differences(&a, &b);
        let names: Vec<&str> = d.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            names,
            [
                "kernel",
                "cgroup_mode",
                "virtualization",
                "launcher runc",
                "launcher crun"
            ]
        );
        assert_eq!(d[3].new, "(absent)");
        assert!(is_tcg(&b) && !is_tcg(&a));
        assert!(differences(&a, &a).is_empty());
    }
}
