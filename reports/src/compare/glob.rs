//! Minimal glob matching for gate patterns: `*` is any run of characters
//! (including `/`), `?` is one character, everything else is literal — so
//! `[`, `{` and `.` in metric keys need no escaping.

/// True when `pattern` matches the whole of `text`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Position of the last `*` seen and the text index it currently covers up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            // Let the last `*` swallow one more character and retry.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn literals_stars_and_questions() {
        assert!(glob_match("ready", "ready"));
        assert!(!glob_match("ready", "ready2"));
        assert!(glob_match("phase.*", "phase.clone"));
        assert!(glob_match(
            "startup*/phase.*",
            "startup[native]{namespaces=pid}/phase.exec"
        ));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(glob_match("share.w???", "share.w100"));
        assert!(!glob_match("share.w??", "share.w100"));
        assert!(glob_match(
            "cpu-quota[*]*/accuracy",
            "cpu-quota[runc]{quota_pct=20}/accuracy"
        ));
        assert!(glob_match("**x", "abx"));
    }
}
