//! Suites: the built-in `quick` and `default`, or a TOML file that picks
//! scenarios and overrides their parameters. Parsed fully before anything runs.

use std::path::Path;

use serde::Deserialize;

use crate::scenarios::{self, Level, ScenarioSpec, NAMES};

/// A parsed suite, ready to run.
#[derive(Debug, Clone)]
pub struct Suite {
    pub name: String,
    pub level: Level,
    pub scenarios: Vec<ScenarioSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    name: Option<String>,
    /// Base defaults: "quick" or "default".
    level: Option<String>,
    scenarios: Option<Vec<String>>,
}

fn parse_level(s: &str) -> Result<Level, String> {
    match s {
        "quick" => Ok(Level::Quick),
        "default" => Ok(Level::Default),
        o => Err(format!("unknown level {o:?}; accepted: quick, default")),
    }
}

impl Suite {
    /// `quick`, `default`, or a path to a TOML suite file; `only` restricts
    /// to the named scenarios (in that order).
    pub fn load(arg: &str, only: &[String]) -> Result<Self, String> {
        match arg {
            "quick" | "default" => Self::builtin(parse_level(arg)?, only),
            path => {
                let p = Path::new(path);
                let text = std::fs::read_to_string(p).map_err(|e| {
                    format!("suite {path:?}: {e} (built-in suites are quick and default)")
                })?;
                Self::from_toml(&text, only).map_err(|e| format!("suite {path}: {e}"))
            }
        }
    }

    fn builtin(level: Level, only: &[String]) -> Result<Self, String> {
        let names: Vec<String> = if only.is_empty() {
            NAMES
                .iter()
                .filter(|n| level == Level::Default || scenarios::in_quick(n))
                .map(|s| s.to_string())
                .collect()
        } else {
            only.to_vec()
        };
        let scenarios = names
            .iter()
            .map(|n| ScenarioSpec::parse(n, level, None))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Suite {
            name: match level {
                Level::Quick => "quick".into(),
                Level::Default => "default".into(),
            },
            level,
            scenarios,
        })
    }

    /// Parses a suite file's text.
    pub fn from_toml(text: &str, only: &[String]) -> Result<Self, String> {
        let mut doc: toml::Table = toml::from_str(text).map_err(|e| syntax_error(text, &e))?;
        let header: Header = match doc.remove("suite") {
            Some(v) => Header::deserialize(v).map_err(|e| format!("[suite]: {}", e.message()))?,
            None => Header {
                name: None,
                level: None,
                scenarios: None,
            },
        };
        let level = parse_level(header.level.as_deref().unwrap_or("default"))?;
        let mut tables = std::collections::BTreeMap::new();
        for (k, v) in doc {
            if !NAMES.contains(&k.as_str()) {
                return Err(format!(
                    "unknown section [{k}]; accepted: [suite], {}",
                    NAMES
                        .iter()
                        .map(|n| format!("[{n}]"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            match v {
                toml::Value::Table(t) => {
                    tables.insert(k, t);
                }
                _ => return Err(format!("{k} must be a table ([{k}])")),
            }
        }
        let names: Vec<String> = if !only.is_empty() {
            only.to_vec()
        } else if let Some(s) = header.scenarios {
            s
        } else if !tables.is_empty() {
            NAMES
                .iter()
                .filter(|n| tables.contains_key(**n))
                .map(|s| s.to_string())
                .collect()
        } else {
            NAMES.iter().map(|s| s.to_string()).collect()
        };
        if names.is_empty() {
            return Err(format!(
                "[suite] scenarios = [] leaves nothing to run; name at least one of: {}",
                NAMES.join(", ")
            ));
        }
        let scenarios = names
            .iter()
            .map(|n| ScenarioSpec::parse(n, level, tables.get(n)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Suite {
            name: header.name.unwrap_or_else(|| "custom".into()),
            level,
            scenarios,
        })
    }
}

/// A TOML syntax error on one line, with where it is: "line 3
/// ([cpu-quota]): invalid table header: duplicate key `cpu-quota` …".
fn syntax_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    let Some(start) = e.span().map(|s| s.start) else {
        return msg;
    };
    let before = text.get(..start).unwrap_or(text);
    let line_no = before.matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
    let mut shown: String = line.chars().filter(|c| !c.is_control()).take(40).collect();
    if line.chars().count() > 40 {
        shown.push('…');
    }
    format!("line {line_no} ({shown}): {msg}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_and_filter() {
        // quick runs exactly the scenarios marked QUICK, default runs all,
        // and naming one runs it at either level.
        let quick: Vec<&str> = Suite::load("quick", &[])
            .unwrap()
            .scenarios
            .iter()
            .map(|s| s.name())
            .collect();
        let wanted: Vec<&str> = NAMES
            .iter()
            .copied()
            .filter(|n| scenarios::in_quick(n))
            .collect();
        assert_eq!(quick, wanted);
        assert_eq!(
            Suite::load("default", &[]).unwrap().scenarios.len(),
            NAMES.len()
        );
        for n in NAMES {
            let one = Suite::load("quick", &[n.to_string()]).unwrap();
            assert_eq!(one.scenarios[0].name(), *n);
        }
        let e = Suite::load("quick", &["nope".into()]).unwrap_err();
        assert!(e.contains("unknown scenario"), "{e}");
    }

    #[test]
    fn file_sections_and_errors() {
        let s = Suite::from_toml(
            "[suite]\nname = \"ci\"\nlevel = \"quick\"\n[cpu-quota]\nseconds = 2.5\n",
            &[],
        )
        .unwrap();
        assert_eq!(s.name, "ci");
        assert_eq!(s.scenarios.len(), 1);
        assert!(Suite::from_toml("[bogus]\nx = 1\n", &[])
            .unwrap_err()
            .contains("bogus"));
        assert!(Suite::from_toml("[suite]\nlevel = \"huge\"\n", &[]).is_err());
        assert!(Suite::from_toml("[suite]\nfoo = 1\n", &[]).is_err());
        assert!(Suite::from_toml("not toml [", &[]).is_err());
        let e = Suite::from_toml("[cpu-quota]\nseconds = 1\n[cpu-quota]\n", &[]).unwrap_err();
        assert!(e.starts_with("line 3 ([cpu-quota]): "), "{e}");
        assert!(!e.contains('\n'), "{e}");
        assert!(Suite::from_toml("[cpu-quota]\nperiods-ms = [0]\n", &[])
            .unwrap_err()
            .contains("period"));
    }

    #[test]
    fn a_suite_of_no_scenarios_is_refused() {
        let e = Suite::from_toml("[suite]\nscenarios = []\n", &[]).unwrap_err();
        assert!(
            e.contains("nothing to run") && e.contains("cpu-quota"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
        // Naming scenarios on the command line gives it some again.
        let s = Suite::from_toml("[suite]\nscenarios = []\n", &["cpuset".into()]).unwrap();
        assert_eq!(s.scenarios.len(), 1);
    }

    #[test]
    fn shipped_suite_files_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/suites");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let s = Suite::load(p.to_str().unwrap(), &[]).unwrap_or_else(|e| panic!("{e}"));
            assert!(!s.scenarios.is_empty(), "{}", p.display());
            n += 1;
        }
        assert!(n >= 3);
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let e = Suite::load("/nonexistent/suite.toml", &[]).unwrap_err();
        assert!(e.contains("/nonexistent/suite.toml"), "{e}");
    }
}
