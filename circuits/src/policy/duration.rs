//! Durations: an integer followed by `s`, `m`, `h` or `d`, at most [`MAX_DURATION`] seconds.

use crate::time::MAX_DURATION;

/// Parses `14d`, `6h`, `5m`, `30s` into seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    if digits.is_empty() {
        return Err(format!("invalid duration `{s}`: expected digits followed by s, m, h or d"));
    }
    let scale: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "" => return Err(format!("duration `{s}` needs a unit: s, m, h or d")),
        other => return Err(format!("unknown duration unit `{other}` in `{s}`: use s, m, h or d")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|&secs| secs <= MAX_DURATION)
        .ok_or_else(|| format!("duration `{s}` is too long: the maximum is {MAX_DURATION} seconds"))
}
