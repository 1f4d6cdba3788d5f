//! The one parser of /proc/PID/stat the harness needs.

/// The fields after "(comm)": `[0]` state, `[1]` ppid, `[19]` start time in
/// clock ticks. comm may hold spaces and parentheses, hence the split at the
/// last ')'.
pub fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default()
}

/// A process's start time: field 22 of /proc/PID/stat, clock ticks since
/// boot. A wall-clock step cannot move it, and a reused pid has another.
pub fn start_ticks(pid: i32) -> Option<u64> {
    stat_fields(&read_stat(pid)?).get(19)?.parse().ok()
}

/// /proc/PID/stat, if the process exists.
pub fn read_stat(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_with_spaces_and_parens() {
        let f = stat_fields("42 (a b) c)) S 7 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12345 0");
        assert_eq!(f[0], "S");
        assert_eq!(f[1], "7");
        assert_eq!(f[19], "12345");
        assert!(stat_fields("garbage").is_empty());
        assert!(start_ticks(std::process::id() as i32).is_some());
        assert_eq!(start_ticks(i32::MAX), None);
    }
}
