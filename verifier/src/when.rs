//! Times as people read them: a date and clock time in the viewer's time zone and how long ago,
//! never bare unix seconds (a guard or a citizen cannot read `1764979200`).

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// `2026-12-06 08:26 CST` in the time zone of this device (the `TZ` variable, else the
/// system's), or the unix seconds if the time is out of range.
pub fn local(t: u64) -> String {
    local_in(t, &TimeZone::system())
}

/// [`local`] in a given time zone.
pub fn local_in(t: u64, tz: &TimeZone) -> String {
    match i64::try_from(t).ok().and_then(|s| Timestamp::from_second(s).ok()) {
        Some(ts) => ts.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string(),
        None => format!("{t} (unix seconds)"),
    }
}

/// How long before `now` time `t` was, in the largest unit that fits: `just now`, `5 min ago`,
/// `3 h ago`, `2 days ago`, or `in 4 min` for a time after `now`.
pub fn ago(t: u64, now: u64) -> String {
    let (d, future) = if t <= now { (now - t, false) } else { (t - now, true) };
    let amount = match d {
        0..=59 => return "just now".into(),
        60..=3599 => format!("{} min", d / 60),
        3600..=172_799 => format!("{} h", d / 3600),
        _ => format!("{} days", d / 86_400),
    };
    if future {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// `2026-12-06 08:26 CST (2 days ago)`.
pub fn human(t: u64, now: u64) -> String {
    format!("{} ({})", local(t), ago(t, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_the_viewers_zone_and_relative_ages() {
        let beijing = TimeZone::fixed(jiff::tz::offset(8));
        // 2026-12-06 00:00:00 UTC
        let t = 1_796_515_200;
        assert_eq!(local_in(t, &TimeZone::UTC), "2026-12-06 00:00 UTC");
        assert_eq!(local_in(t, &beijing), "2026-12-06 08:00 +08");
        assert_eq!(local_in(u64::MAX, &TimeZone::UTC), format!("{} (unix seconds)", u64::MAX));
        assert_eq!(ago(t, t + 30), "just now");
        assert_eq!(ago(t, t + 300), "5 min ago");
        assert_eq!(ago(t, t + 3 * 3600 + 5), "3 h ago");
        assert_eq!(ago(t, t + 2 * 86_400 + 7), "2 days ago");
        assert_eq!(ago(t + 240, t), "in 4 min");
    }
}
