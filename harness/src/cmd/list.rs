//! `isobench list`: every scenario, its params and their defaults, as a
//! table or (`--json`) for scripts.

use std::process::ExitCode;

use isobench::scenarios;
use serde::Serialize;

use super::Outcome;

/// Prints the scenarios as text (the layout ci/list.txt pins) or JSON.
pub fn list(as_json: bool) -> Outcome {
    if as_json {
        let all = serde_json::to_string_pretty(&list_json()).map_err(super::usage)?;
        println!("{all}");
        return Ok(ExitCode::SUCCESS);
    }
    for name in scenarios::NAMES {
        if let Some((about, params)) = scenarios::describe(name) {
            if scenarios::in_quick(name) {
                println!("{name}: {about}");
            } else {
                println!("{name}: {about} (default suite only; not in quick)");
            }
            println!(
                "  {:<16} {:<22} {:<22} meaning",
                "param", "quick", "default"
            );
            for p in params {
                println!(
                    "  {:<16} {:<22} {:<22} {}",
                    p.name, p.quick, p.default, p.about
                );
            }
            println!();
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A scenario in `list --json`.
#[derive(Serialize)]
struct ScenarioJson {
    name: &'static str,
    about: &'static str,
    /// Controllers it cannot run without.
    needs: Vec<&'static str>,
    /// Whether the built-in quick suite runs it.
    quick: bool,
    params: Vec<ParamJson>,
}

/// A parameter in `list --json`: its suite-file key and both levels' values.
#[derive(Serialize)]
struct ParamJson {
    name: String,
    quick: String,
    default: String,
    meaning: &'static str,
}

/// Every scenario, in `list` order.
fn list_json() -> Vec<ScenarioJson> {
    scenarios::NAMES
        .iter()
        .filter_map(|&name| {
            let (about, params) = scenarios::describe(name)?;
            Some(ScenarioJson {
                name,
                about,
                needs: scenarios::needs(name).iter().map(|c| c.name()).collect(),
                quick: scenarios::in_quick(name),
                params: params
                    .into_iter()
                    .map(|p| ParamJson {
                        name: p.name,
                        quick: p.quick,
                        default: p.default,
                        meaning: p.about,
                    })
                    .collect(),
            })
        })
        .collect()
}
