//! Units: which ones are time, how to show a value so a reader gets it at a
//! glance (1.23 ms, not 0.00123 s), and which scale a plot axis should use.

/// True for the time units the schema uses; TCG-emulated runs make these
/// meaningless when compared with real hardware.
pub fn is_time_unit(unit: &str) -> bool {
    matches!(unit, "s" | "ms" | "us" | "µs" | "ns")
}

/// Factor that converts a value in `unit` to seconds (None for non-time units).
pub fn seconds_per(unit: &str) -> Option<f64> {
    match unit {
        "s" => Some(1.0),
        "ms" => Some(1e-3),
        "us" | "µs" => Some(1e-6),
        "ns" => Some(1e-9),
        _ => None,
    }
}

/// A display scale: multiply raw values by `factor` and label them `suffix`.
#[derive(Debug, Clone, PartialEq)]
pub struct DisplayUnit {
    pub factor: f64,
    pub suffix: String,
}

impl DisplayUnit {
    /// Leaves values as they are, labelled with `unit`.
    pub fn identity(unit: &str) -> Self {
        DisplayUnit {
            factor: 1.0,
            suffix: unit.to_string(),
        }
    }

    /// Scale for values of `unit` whose typical magnitude is `typical`
    /// (seconds become ns/µs/ms/s, bytes become KiB/MiB/GiB).
    pub fn for_values(unit: &str, typical: f64) -> Self {
        let t = typical.abs();
        if let Some(per) = seconds_per(unit) {
            let secs = t * per;
            let (suffix, unit_secs) = if secs == 0.0 || !secs.is_finite() {
                ("s", 1.0)
            } else if secs < 1e-6 {
                ("ns", 1e-9)
            } else if secs < 1e-3 {
                ("µs", 1e-6)
            } else if secs < 1.0 {
                ("ms", 1e-3)
            } else {
                ("s", 1.0)
            };
            return DisplayUnit {
                factor: per / unit_secs,
                suffix: suffix.into(),
            };
        }
        if is_bytes_unit(unit) {
            let (suffix, div) = if t >= 1024.0 * 1024.0 * 1024.0 {
                ("GiB", 1024.0 * 1024.0 * 1024.0)
            } else if t >= 1024.0 * 1024.0 {
                ("MiB", 1024.0 * 1024.0)
            } else if t >= 1024.0 {
                ("KiB", 1024.0)
            } else {
                ("bytes", 1.0)
            };
            return DisplayUnit {
                factor: 1.0 / div,
                suffix: suffix.into(),
            };
        }
        DisplayUnit::identity(unit)
    }

    /// `value` converted and printed with its suffix.
    pub fn show(&self, value: f64) -> String {
        let v = format_number(value * self.factor);
        match self.suffix.as_str() {
            "" | "count" | "ratio" | "fraction" => v,
            s => format!("{v} {s}"),
        }
    }
}

/// True for units that count bytes.
pub fn is_bytes_unit(unit: &str) -> bool {
    matches!(unit, "bytes" | "B" | "byte")
}

/// A value with its unit, scaled for reading (`1.23 ms`, `512 MiB`).
pub fn format_value(value: f64, unit: &str) -> String {
    if !value.is_finite() {
        return format!("{value}");
    }
    DisplayUnit::for_values(unit, value).show(value)
}

/// A number with about four significant digits, no trailing zeros; from a
/// million up with an SI multiplier (`67.11 M`, never `6.711e7`), and
/// scientific notation only below 0.0001.
pub fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor() as i32;
    if mag >= 6 {
        let (div, prefix) = match mag {
            6..=8 => (1e6, "M"),
            9..=11 => (1e9, "G"),
            12..=14 => (1e12, "T"),
            _ => (1e15, "P"),
        };
        if mag < 18 {
            return format!("{} {prefix}", format_number(v / div));
        }
    }
    if !(-4..6).contains(&mag) {
        return format!("{v:.3e}");
    }
    let decimals = (3 - mag).max(0) as usize;
    let s = format!("{v:.decimals$}");
    trim_zeros(&s)
}

/// A number with `sig` significant digits (for ratios and p-values).
pub fn format_sig(v: f64, sig: i32) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor() as i32;
    let decimals = (sig - 1 - mag).max(0) as usize;
    format!("{v:.decimals$}")
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_values_pick_a_readable_unit() {
        assert_eq!(format_value(0.00123, "s"), "1.23 ms");
        assert_eq!(format_value(0.0000456, "s"), "45.6 µs");
        assert_eq!(format_value(2.5, "s"), "2.5 s");
        assert_eq!(format_value(1500.0, "ns"), "1.5 µs");
        assert_eq!(format_value(0.0, "s"), "0 s");
    }

    #[test]
    fn bytes_and_plain_values() {
        assert_eq!(format_value(512.0 * 1024.0 * 1024.0, "bytes"), "512 MiB");
        assert_eq!(format_value(0.98765, "ratio"), "0.9877");
        assert_eq!(format_value(1.5, "cpus"), "1.5 cpus");
        assert_eq!(format_number(123456789.0), "123.5 M");
        assert_eq!(format_number(67108864.0), "67.11 M");
        assert_eq!(format_number(999999.0), "999999");
        assert_eq!(format_number(2.5e9), "2.5 G");
        assert_eq!(format_sig(1.04567, 3), "1.05");
    }

    #[test]
    fn time_units() {
        assert!(is_time_unit("us") && is_time_unit("s") && !is_time_unit("ratio"));
        let d = DisplayUnit::for_values("s", 0.002);
        assert_eq!(d.suffix, "ms");
        assert!((d.factor - 1000.0).abs() < 1e-9);
    }
}
