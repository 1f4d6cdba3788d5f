//! Shared config plumbing: suite-file tables merged over level defaults
//! (unknown keys rejected, the bad key named), and range checks that spell
//! their bounds the same way in every scenario.

use std::fmt::Display;

/// A suite-file value a scenario cannot run with. Bad input: the CLI prints
/// it on one line and exits 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(msg: impl Into<String>) -> Self {
        ConfigError(msg.into())
    }

    /// Prefixes the scenario's table name: `[cpu-quota]: …`.
    pub fn in_scenario(self, name: &str) -> Self {
        ConfigError(format!("[{name}]: {}", self.0))
    }
}

impl From<ConfigError> for String {
    fn from(e: ConfigError) -> String {
        e.0
    }
}

/// `key must be LO – HI` unless `lo ≤ value ≤ hi`.
pub fn check_range<T: PartialOrd + Display>(
    key: &str,
    value: T,
    lo: T,
    hi: T,
) -> Result<(), ConfigError> {
    if value >= lo && value <= hi {
        Ok(())
    } else {
        Err(ConfigError(format!("{key} must be {lo} – {hi}")))
    }
}

/// `Err(msg)` when `bad` holds: for rules a range cannot say.
pub fn reject_if(bad: bool, msg: impl FnOnce() -> String) -> Result<(), ConfigError> {
    if bad {
        Err(ConfigError(msg()))
    } else {
        Ok(())
    }
}

/// Deserialises a suite-file table into a config (unknown keys rejected).
pub fn from_table<T: serde::de::DeserializeOwned>(table: &toml::Table) -> Result<T, ConfigError> {
    T::deserialize(toml::Value::Table(table.clone())).map_err(|e| ConfigError(e.message().into()))
}

/// Merges a suite-file table over a config's defaults; an unknown or
/// ill-typed key is named in the error.
pub fn merge_over<T>(defaults: &T, table: Option<&toml::Table>) -> Result<T, ConfigError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut base =
        toml::Table::try_from(defaults).map_err(|e| ConfigError(format!("defaults: {e}")))?;
    let Some(t) = table else {
        return from_table(&base);
    };
    let pristine = base.clone();
    for (k, v) in t {
        if !base.contains_key(k) {
            let known: Vec<&str> = base.keys().map(String::as_str).collect();
            return Err(ConfigError(format!(
                "unknown key {k:?}; accepted: {}",
                known.join(", ")
            )));
        }
        // Try each key alone over the defaults so the error names it.
        let mut one = pristine.clone();
        one.insert(k.clone(), v.clone());
        from_table::<T>(&one).map_err(|e| ConfigError(format!("{} (key {k:?})", e.0)))?;
        base.insert(k.clone(), v.clone());
    }
    from_table(&base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    struct C {
        seconds: f64,
        repetitions: u32,
    }

    #[test]
    fn ranges_spell_their_bounds() {
        assert!(check_range("seconds", 0.5, 0.2, 600.0).is_ok());
        let e = check_range("seconds", 0.1, 0.2, 600.0).unwrap_err();
        assert_eq!(e.to_string(), "seconds must be 0.2 – 600");
        let e = check_range("repetitions", 0u32, 1, 100).unwrap_err();
        assert_eq!(
            e.in_scenario("pids").to_string(),
            "[pids]: repetitions must be 1 – 100"
        );
    }

    #[test]
    fn merge_names_the_bad_key() {
        let d = C {
            seconds: 1.0,
            repetitions: 3,
        };
        let t: toml::Table = toml::from_str("repetitions = 5").unwrap();
        assert_eq!(merge_over(&d, Some(&t)).unwrap().repetitions, 5);
        let t: toml::Table = toml::from_str("repetition = 5").unwrap();
        let e = merge_over(&d, Some(&t)).unwrap_err().to_string();
        assert!(
            e.starts_with("unknown key \"repetition\"; accepted: "),
            "{e}"
        );
        let t: toml::Table = toml::from_str("seconds = \"x\"").unwrap();
        let e = merge_over(&d, Some(&t)).unwrap_err().to_string();
        assert!(e.ends_with("(key \"seconds\")"), "{e}");
        assert_eq!(merge_over(&d, None).unwrap(), d);
    }
}
