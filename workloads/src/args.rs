//! A tiny `--flag value` / `--flag=value` parser and value parsers.

/// Parsed flags of one subcommand.
#[derive(Debug)]
pub struct Flags<'a> {
    cmd: &'a str,
    vals: Vec<(&'a str, &'a str)>,
}

impl<'a> Flags<'a> {
    /// Parse `args` of subcommand `cmd`; only flags named in `allowed`
    /// (without the leading `--`) are accepted, each at most once, each
    /// with a value. Positional arguments are rejected.
    pub fn parse(cmd: &'a str, args: &'a [String], allowed: &[&str]) -> Result<Self, String> {
        let mut vals: Vec<(&'a str, &'a str)> = Vec::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let Some(body) = arg.strip_prefix("--") else {
                return Err(format!("{cmd}: unexpected argument {arg:?}"));
            };
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, v),
                None => match it.next() {
                    Some(v) if !v.starts_with("--") => (body, v.as_str()),
                    _ => return Err(format!("{cmd}: flag --{body} needs a value")),
                },
            };
            if !allowed.contains(&name) {
                return Err(format!("{cmd}: unknown flag --{name}"));
            }
            if vals.iter().any(|(n, _)| *n == name) {
                return Err(format!("{cmd}: flag --{name} given twice"));
            }
            vals.push((name, value));
        }
        Ok(Flags { cmd, vals })
    }

    /// Raw value of `--name`, if given.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.vals.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    fn bad(&self, name: &str, v: &str, what: &str) -> String {
        format!("{}: invalid value {v:?} for --{name} ({what})", self.cmd)
    }

    /// `--name` as an integer in `min..=max`, or `default`.
    pub fn u64_in(&self, name: &str, default: u64, min: u64, max: u64) -> Result<u64, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(self.bad(name, v, &format!("expected an integer in {min}..={max}"))),
            },
        }
    }

    /// `--name` as a finite number in `min..=max` (or `default`, or an
    /// error if `default` is None and the flag is missing).
    pub fn f64_in(
        &self,
        name: &str,
        default: Option<f64>,
        min: f64,
        max: f64,
    ) -> Result<f64, String> {
        match self.get(name) {
            None => default.ok_or_else(|| format!("{}: --{name} is required", self.cmd)),
            Some(v) => match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= min && x <= max => Ok(x),
                _ => Err(self.bad(name, v, &format!("expected a number in {min}..={max}"))),
            },
        }
    }

    /// `--name` as a byte size (see [`parse_bytes`]) or `default` (an error
    /// if `default` is None and the flag is missing).
    pub fn bytes(&self, name: &str, default: Option<u64>) -> Result<u64, String> {
        match self.get(name) {
            None => default.ok_or_else(|| format!("{}: --{name} is required", self.cmd)),
            Some(v) => parse_bytes(v).map_err(|e| self.bad(name, v, &e)),
        }
    }
}

/// Parse a byte size: decimal digits with an optional binary suffix
/// `K`, `M`, `G`, `T` (case-insensitive, powers of 1024), optionally
/// followed by `iB` or `B`; a bare `B` is also accepted. Overflow of u64
/// and anything else is rejected.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, suffix) = s.split_at(split);
    if digits.is_empty() {
        return Err("expected a size like 4096, 64K, 4M or 1G".into());
    }
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("unknown size suffix {suffix:?} (use K, M, G or T)")),
    };
    let n: u64 = digits.parse().map_err(|_| "size too large".to_string())?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| "size too large".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sv(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bytes_plain_and_suffixes() {
        assert_eq!(parse_bytes("0"), Ok(0));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("12B"), Ok(12));
        assert_eq!(parse_bytes("64K"), Ok(64 << 10));
        assert_eq!(parse_bytes("64k"), Ok(64 << 10));
        assert_eq!(parse_bytes("4M"), Ok(4 << 20));
        assert_eq!(parse_bytes("4MiB"), Ok(4 << 20));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("3g"), Ok(3 << 30));
        assert_eq!(parse_bytes("2T"), Ok(2 << 40));
        assert_eq!(parse_bytes("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn bytes_overflow_rejected() {
        assert!(parse_bytes("18446744073709551616").is_err());
        assert!(parse_bytes("17179869184G").is_err()); // 2^34 * 2^30 = 2^64
        assert!(parse_bytes("16777216T").is_err()); // 2^24 * 2^40 = 2^64
        assert_eq!(parse_bytes("16777215T"), Ok(16_777_215u64 << 40));
        assert!(parse_bytes("99999999999999999999999999").is_err());
    }

    #[test]
    fn bytes_garbage_rejected() {
        for s in [
            "", "M", "-1", "+1", " 1", "1 ", "1.5M", "1X", "1MM", "0x10", "1e3", "1KiBB", "١",
        ] {
            assert!(parse_bytes(s).is_err(), "{s:?} should be rejected");
        }
    }

    #[test]
    fn flags_space_and_equals() {
        let a = sv(&["--step", "4M", "--max=1G"]);
        let f = Flags::parse("hog", &a, &["step", "max", "procs"]).unwrap();
        assert_eq!(f.get("step"), Some("4M"));
        assert_eq!(f.get("max"), Some("1G"));
        assert_eq!(f.get("procs"), None);
        assert_eq!(f.bytes("step", None), Ok(4 << 20));
        assert_eq!(f.bytes("max", None), Ok(1 << 30));
        assert_eq!(f.u64_in("procs", 1, 1, 10), Ok(1));
        assert!(f.bytes("procs", None).unwrap_err().contains("required"));
    }

    #[test]
    fn flags_errors() {
        let allowed = ["threads", "seconds"];
        for bad in [
            &["--bogus", "1"][..],
            &["--threads"],
            &["--threads", "--seconds", "1"],
            &["positional"],
            &["-t", "1"],
            &["--threads", "1", "--threads", "2"],
        ] {
            let a = sv(bad);
            assert!(Flags::parse("spin", &a, &allowed).is_err(), "{bad:?}");
        }
        // Empty value with '=' parses, but fails value validation.
        let a = sv(&["--threads="]);
        let f = Flags::parse("spin", &a, &allowed).unwrap();
        assert!(f.u64_in("threads", 1, 1, 8).is_err());
    }

    #[test]
    fn flags_numbers() {
        let a = sv(&["--threads", "3", "--seconds", "0.25"]);
        let f = Flags::parse("spin", &a, &["threads", "seconds"]).unwrap();
        assert_eq!(f.u64_in("threads", 1, 1, 8), Ok(3));
        assert!(f.u64_in("threads", 1, 4, 8).is_err());
        assert_eq!(f.f64_in("seconds", Some(1.0), 0.0, 10.0), Ok(0.25));
        for v in ["nan", "inf", "-1", "x", "1e400"] {
            let a = sv(&["--seconds", v]);
            let f = Flags::parse("spin", &a, &["seconds"]).unwrap();
            assert!(f.f64_in("seconds", Some(1.0), 0.0, 1e9).is_err(), "{v}");
        }
        let a: Vec<String> = Vec::new();
        let f = Flags::parse("tick", &a, &["period-ms"]).unwrap();
        assert!(f.f64_in("period-ms", None, 0.0, 1.0).is_err());
    }
}
